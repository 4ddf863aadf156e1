/*
 * stop.c -- a long command that must not leave half-done work behind
 * (import) holds SIGINT, SIGTERM and SIGHUP blocked and looks for them
 * between chunks of work, so it can undo what it did and then die of the
 * signal as the user asked.  SIGKILL cannot be held: what it leaves is
 * marked incomplete on disk instead (names.h, GUEST_INCOMPLETE_MARKER).
 *
 * No state of its own: the blocked mask and the pending set are the
 * kernel's.
 */
#include <signal.h>
#include <stdbool.h>
#include <time.h>

#include "cli.h"

static void stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
}

void cli_stop_hold(void)
{
	sigset_t set;
	stop_signals(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

bool cli_stop_requested(void)
{
	sigset_t pending, set;
	stop_signals(&set);
	if (sigpending(&pending) != 0)
		return false;
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&set, sig) && sigismember(&pending, sig))
			return true;
	return false;
}

void cli_stop_release(void)
{
	sigset_t set;
	stop_signals(&set);
	/* a signal that came in meanwhile is delivered now, with its
	 * default action: the command dies of it, after its cleanup */
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

void cli_stop_forget(void)
{
	const struct timespec now = {0, 0};
	sigset_t set;
	stop_signals(&set);
	while (sigtimedwait(&set, NULL, &now) > 0)
		;
}
