/*
 * secret.c -- the key of an encrypted store: read from a keyfile, from a
 * descriptor (-o passphrase_fd=N, one line), or asked on the terminal
 * without echo (foreground only).  The buffer is malloc'd with room for
 * CRYPTO_SCRYPT_SECRET_MAX + 1 bytes and wiped by secret_free.
 *
 * The prompt turns echo off, so a signal that ends the process while it
 * waits (^C, ^\, a hangup, kill) would leave the terminal without echo.
 * As OpenBSD's readpassphrase(3) does, the prompt catches those signals
 * (without SA_RESTART, so the read returns EINTR), restores the terminal
 * and the previous dispositions, and only then sends itself the signal
 * again: the process still dies of it, with the terminal as it was.
 *
 * THREAD MODEL: main() only, before the session starts (and before any
 * signal handler of libfuse is installed).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "hangarfs.h"

#define SECRET_CAP (CRYPTO_SCRYPT_SECRET_MAX + 1)

/* The signals that end the process while the prompt waits. */
static const int prompt_signals[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP};
#define PROMPT_SIGNALS (sizeof(prompt_signals) / sizeof(prompt_signals[0]))

/* The signal caught during the prompt, 0 if none (main thread only). */
static volatile sig_atomic_t prompt_caught;

static void prompt_on_signal(int sig)
{
	prompt_caught = sig;
}

void secret_free(struct hfs_secret *sec)
{
	if (sec->buf) {
		explicit_bzero(sec->buf, SECRET_CAP);
		free(sec->buf);
	}
	sec->buf = NULL;
	sec->len = 0;
}

/* Read up to SECRET_CAP bytes (a line when `line`) from fd into sec.  An
 * interrupted read is retried unless a prompt signal was caught (-EINTR). */
static int secret_read_fd(int fd, bool line, struct hfs_secret *sec)
{
	size_t len = 0;

	while (len < SECRET_CAP) {
		ssize_t n;

		if (prompt_caught)
			return -EINTR;
		n = read(fd, sec->buf + len, SECRET_CAP - len);
		if (n < 0 && errno == EINTR && !prompt_caught)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
		if (line && memchr(sec->buf, '\n', len))
			break;
	}
	if (line) {
		uint8_t *nl = memchr(sec->buf, '\n', len);

		if (nl)
			len = (size_t)(nl - sec->buf);
	}
	if (len == 0 || len > CRYPTO_SCRYPT_SECRET_MAX)
		return -EINVAL;
	sec->len = len;
	return 0;
}

/* Catch the prompt signals (saving the old actions) or put them back. */
static void prompt_catch(struct sigaction old[PROMPT_SIGNALS])
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = prompt_on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: the read must return EINTR */
	prompt_caught = 0;
	for (size_t i = 0; i < PROMPT_SIGNALS; i++)
		sigaction(prompt_signals[i], &sa, &old[i]);
}

static void prompt_uncatch(const struct sigaction old[PROMPT_SIGNALS])
{
	for (size_t i = 0; i < PROMPT_SIGNALS; i++)
		sigaction(prompt_signals[i], &old[i], NULL);
}

/* Ask on /dev/tty with echo off; the terminal is restored on every path,
 * also when a signal ends the prompt (top of file). */
static int secret_prompt(const char *store, struct hfs_secret *sec)
{
	struct sigaction old_actions[PROMPT_SIGNALS];
	struct termios old, quiet;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	int caught;
	int err;

	if (fd < 0)
		return -errno;
	if (tcgetattr(fd, &old) != 0) {
		err = -errno;
		close(fd);
		return err;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	/* Catch first, then echo off before the prompt, so nothing typed
	 * after it shows and no signal can leave echo off. */
	prompt_catch(old_actions);
	if (tcsetattr(fd, TCSADRAIN, &quiet) != 0) {
		err = -errno;
		prompt_uncatch(old_actions);
		close(fd);
		return err;
	}
	dprintf(fd, "Passphrase for %s: ", store);
	err = secret_read_fd(fd, true, sec);
	tcsetattr(fd, TCSAFLUSH, &old);
	dprintf(fd, "\n");
	close(fd);
	caught = prompt_caught;
	prompt_uncatch(old_actions);
	if (caught) {
		/* The terminal is back: now die of the signal as asked
		 * (or run the handler that was there before). */
		explicit_bzero(sec->buf, SECRET_CAP);
		raise(caught);
		return -EINTR;
	}
	return err;
}

/* A key file nobody else could have read or planted (hangarfs.h). */
static int keyfile_check(const char *path, int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return -errno;
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		fprintf(stderr,
			"hangarfs: %s: key file is owned by uid %ld, not by "
			"you or root: refusing it as a key (-o "
			"keyfile_insecure to use it anyway)\n",
			path, (long)st.st_uid);
		return -EPERM;
	}
	if (st.st_mode & 077) {
		fprintf(stderr,
			"hangarfs: %s: key file is accessible by group or "
			"others (mode %04o): refusing it as a key (chmod 600 "
			"%s, or -o keyfile_insecure to use it anyway)\n",
			path, (unsigned)(st.st_mode & 07777), path);
		return -EPERM;
	}
	return 0;
}

int secret_load(const char *store, const char *keyfile, int pass_fd,
		bool keyfile_insecure, bool may_prompt, struct hfs_secret *sec)
{
	char path[4200];
	int err;

	memset(sec, 0, sizeof(*sec));
	if (!keyfile && pass_fd < 0) {
		/* Nothing given: ask only for an encrypted store. */
		snprintf(path, sizeof(path), "%s/%s", store, STORE_KEYS_NAME);
		if (!may_prompt || access(path, F_OK) != 0)
			return 0;
	}
	sec->buf = malloc(SECRET_CAP);
	if (!sec->buf)
		return -ENOMEM;
	if (keyfile) {
		int fd = open(keyfile, O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			err = -errno;
		} else {
			err = keyfile_insecure ? 0 : keyfile_check(keyfile, fd);
			if (!err)
				err = secret_read_fd(fd, false, sec);
			close(fd);
		}
		sec->kind = KEYSLOT_KIND_KEYFILE;
	} else if (pass_fd >= 0) {
		err = secret_read_fd(pass_fd, true, sec);
		sec->kind = KEYSLOT_KIND_PASSPHRASE;
	} else {
		err = secret_prompt(store, sec);
		sec->kind = KEYSLOT_KIND_PASSPHRASE;
	}
	if (err)
		secret_free(sec);
	return err;
}
