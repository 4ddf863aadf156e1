/*
 * daemon.c -- become a daemon without lying about startup.
 *
 * fuse_daemonize() forks after the caller has set everything up and lets
 * the parent exit 0 at once.  That does not fit: core's store starts a
 * background commit thread and records the lock holder's PID at
 * store_open(), and threads do not survive fork(), so the store must be
 * opened in the final daemon process; and a failed open (not a store, store
 * already mounted by PID n) must reach the terminal and the exit status of
 * `hangarfs`/`mount`.  So we fork first, before any thread exists; the
 * parent waits on a pipe until the child reports how startup went and
 * exits with that status.
 *
 * Detaching sends stdin and stdout to /dev/null, and stderr too unless
 * the log writes there (a host without journal or syslog socket, and no
 * -o log_file: log.c), so that a refusal never vanishes.
 *
 * THREAD MODEL: called from main() only, before and right after the
 * session is mounted; single-threaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hangarfs.h"

static int ready_fd = -1; /* child: write end of the startup pipe */

int daemon_start(void)
{
	int fds[2];
	pid_t pid;
	int status = 1;
	ssize_t got;

	if (pipe2(fds, O_CLOEXEC) != 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = errno;

		close(fds[0]);
		close(fds[1]);
		return -err;
	}
	if (pid > 0) {
		/* Parent: wait for the child's word, or its death. */
		close(fds[1]);
		do {
			got = read(fds[0], &status, sizeof(status));
		} while (got < 0 && errno == EINTR);
		if (got != (ssize_t)sizeof(status)) {
			int wstatus = 0;

			status = 1;
			if (waitpid(pid, &wstatus, 0) == pid &&
			    WIFEXITED(wstatus) && WEXITSTATUS(wstatus) != 0)
				status = WEXITSTATUS(wstatus);
		}
		_exit(status);
	}
	close(fds[0]);
	ready_fd = fds[1];
	if (setsid() < 0)
		return -errno;
	return 0;
}

void daemon_ready(int status)
{
	int null_fd;

	if (ready_fd < 0)
		return;
	if (write(ready_fd, &status, sizeof(status)) != sizeof(status)) {
		/* The parent is gone; nothing to tell. */
	}
	close(ready_fd);
	ready_fd = -1;
	if (status != 0)
		return;
	if (chdir("/") != 0) {
		/* Not fatal: every path we use is absolute or a dir fd. */
	}
	log_detach();
	null_fd = open("/dev/null", O_RDWR);
	if (null_fd >= 0) {
		dup2(null_fd, STDIN_FILENO);
		dup2(null_fd, STDOUT_FILENO);
		if (!log_keeps_stderr())
			dup2(null_fd, STDERR_FILENO);
		if (null_fd > STDERR_FILENO)
			close(null_fd);
	}
}
