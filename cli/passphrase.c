/*
 * passphrase.c -- asking for a passphrase on the terminal: `hangar init
 * --encrypt` and `hangar key add` without a key option (asked twice), and
 * any command that opens an encrypted store without --keyfile or
 * --passphrase-fd (asked once, open.c).
 *
 * Notes on the design:
 *   - The terminal is /dev/tty, not stdin: stdin may carry something
 *     else, and a command with no controlling terminal (cron, a unit, a
 *     test) fails at once with -ENOTTY instead of waiting for input that
 *     never comes.
 *   - Echo goes off before the prompt is printed, so nothing typed after
 *     the prompt appears shows.  TCSAFLUSH drops what was typed before
 *     the prompt (it was echoed), and on the way out anything unread.
 *   - A signal that would kill us while echo is off (^C, ^\, a hangup, a
 *     kill) first restores the terminal, then kills us as it would have.
 *     Only signals left at their default action are caught.
 *   - fs/secret.c does the same for hangarfs; cli/ never uses fs/
 *     (STYLE.md practice 1), hence these few lines twice.
 *
 * THREAD MODEL: main thread only; the terminal state below is shared
 * with the signal handler only.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

static const int prompt_signals[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM};
#define PROMPT_NUM_SIGNALS (sizeof(prompt_signals) / sizeof(prompt_signals[0]))

/* The terminal asked on and its settings before: written before the
 * handler is installed, read by it. */
static struct {
	int fd;
	struct termios saved;
} prompt_tty = {.fd = -1};

/* Restore the terminal, then die of `sig` as if it had not been caught.
 * Async-signal-safe calls only. */
static void prompt_signal_restore(int sig)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	ssize_t n;

	tcsetattr(prompt_tty.fd, TCSAFLUSH, &prompt_tty.saved);
	n = write(prompt_tty.fd, "\n", 1);
	(void)n;
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
	/* Blocked while we run: delivered, with the default action, when
	 * this handler returns. */
	raise(sig);
}

static void prompt_signals_catch(struct sigaction *saved)
{
	struct sigaction restore = {.sa_handler = prompt_signal_restore};

	sigemptyset(&restore.sa_mask);
	for (size_t i = 0; i < PROMPT_NUM_SIGNALS; i++)
		sigaddset(&restore.sa_mask, prompt_signals[i]);
	for (size_t i = 0; i < PROMPT_NUM_SIGNALS; i++) {
		sigaction(prompt_signals[i], NULL, &saved[i]);
		if (saved[i].sa_handler == SIG_DFL)
			sigaction(prompt_signals[i], &restore, NULL);
	}
}

static void prompt_signals_release(const struct sigaction *saved)
{
	for (size_t i = 0; i < PROMPT_NUM_SIGNALS; i++)
		sigaction(prompt_signals[i], &saved[i], NULL);
}

/* Print `prompt` on the terminal `fd` (echo off) and read one line. */
static int prompt_line(int fd, const char *prompt, uint8_t **out,
		       size_t *out_len)
{
	int rc;

	dprintf(fd, "%s", prompt);
	rc = cli_secret_read(NULL, fd, out, out_len);
	/* The Enter was not echoed either. */
	dprintf(fd, "\n");
	return rc;
}

int cli_passphrase_prompt(const char *prompt, const char *repeat, uint8_t **out,
			  size_t *out_len)
{
	struct sigaction saved_actions[PROMPT_NUM_SIGNALS];
	struct termios quiet;
	uint8_t *first = NULL, *second = NULL;
	size_t first_len = 0, second_len = 0;
	int fd, rc;

	fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -ENOTTY;
	if (tcgetattr(fd, &prompt_tty.saved) != 0) {
		rc = -ENOTTY;
		goto out_close;
	}
	quiet = prompt_tty.saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	prompt_tty.fd = fd;
	prompt_signals_catch(saved_actions);
	if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
		rc = -errno;
		goto out_release_signals;
	}
	rc = prompt_line(fd, prompt, &first, &first_len);
	if (rc == 0 && repeat) {
		rc = prompt_line(fd, repeat, &second, &second_len);
		if (rc == 0 && (second_len != first_len ||
				memcmp(first, second, first_len) != 0))
			rc = -EKEYREJECTED;
	}
	tcsetattr(fd, TCSAFLUSH, &prompt_tty.saved);
out_release_signals:
	prompt_signals_release(saved_actions);
	prompt_tty.fd = -1;
out_close:
	close(fd);
	cli_secret_free(second);
	if (rc) {
		cli_secret_free(first);
		return rc;
	}
	*out = first;
	*out_len = first_len;
	return 0;
}

void cli_passphrase_error(const char *dir, int rc, const char *no_terminal)
{
	if (rc == -ENOTTY)
		cli_error("%s: %s", dir, no_terminal);
	else if (rc == -EKEYREJECTED)
		cli_error("%s: passphrases do not match", dir);
	else if (rc == -EINVAL)
		/* A terminal line is at most 4095 bytes, far below
		 * CRYPTO_SCRYPT_SECRET_MAX: the line was empty. */
		cli_error("%s: empty passphrase refused", dir);
	else
		cli_error("%s: cannot read the passphrase from the terminal: "
			  "%s",
			  dir, cli_strerror(rc));
}

int cli_secret_new(const char *dir, const char *keyfile, int fd, bool adding,
		   const char *no_terminal, uint8_t **out, size_t *out_len)
{
	const char *what = adding ? "new key" : "key";
	const char *pass = adding ? "new passphrase" : "passphrase";
	char prompt[PATH_MAX + 64], repeat[64];
	int rc;

	if (keyfile || fd >= 0) {
		rc = cli_secret_read(keyfile, fd, out, out_len);
		if (rc)
			cli_error("%s: cannot read the %s: %s",
				  keyfile ? keyfile : pass, what,
				  rc == -EINVAL ? "empty or too long"
						: cli_strerror(rc));
		return rc;
	}
	snprintf(prompt, sizeof(prompt), "New passphrase for %s: ", dir);
	snprintf(repeat, sizeof(repeat), "Repeat the %s: ", pass);
	rc = cli_passphrase_prompt(prompt, repeat, out, out_len);
	if (rc)
		cli_passphrase_error(dir, rc, no_terminal);
	return rc;
}
