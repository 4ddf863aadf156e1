/*
 * secret.c -- reading a store's secret: key file, descriptor line, and the
 * no-echo prompt (rules in secret.h).
 *
 * The prompt's signal handling, in detail: the terminal descriptor and its
 * settings before the prompt are written to `prompt_tty` before the
 * handler is installed and read by it.  The handler restores the terminal
 * (tcsetattr and write are async-signal-safe), puts the default action
 * back and raises the signal again; the signal is blocked while the handler
 * runs, so it is delivered, with the default action, when the handler
 * returns.  There is no window where a signal is seen but the process goes
 * on reading (as there would be with a flag checked around read()).
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

#include "secret.h"

static const int prompt_signals[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM};
#define PROMPT_NUM_SIGNALS (sizeof(prompt_signals) / sizeof(prompt_signals[0]))

/* The terminal asked on and its settings before (top of file). */
static struct {
	int fd;
	struct termios saved;
} prompt_tty = {.fd = -1};

void secret_free(struct secret *sec)
{
	if (sec->buf) {
		explicit_bzero(sec->buf, SECRET_CAP);
		free(sec->buf);
	}
	sec->buf = NULL;
	sec->len = 0;
}

/* Read from `fd` into a new buffer: everything up to SECRET_CAP bytes, or
 * (`line`) one line, a byte at a time, without its newline. */
static int secret_read(int fd, bool line, struct secret *out)
{
	struct secret sec = {.buf = malloc(SECRET_CAP), .len = 0};
	int ret = 0;

	if (!sec.buf)
		return -ENOMEM;
	while (sec.len < SECRET_CAP) {
		ssize_t n = read(fd, sec.buf + sec.len,
				 line ? 1 : SECRET_CAP - sec.len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (n == 0)
			break;
		if (line && sec.buf[sec.len] == '\n')
			break;
		sec.len += (size_t)n;
	}
	if (!ret && (sec.len == 0 || sec.len > CRYPTO_SCRYPT_SECRET_MAX))
		ret = -EINVAL;
	if (ret) {
		secret_free(&sec);
		return ret;
	}
	*out = sec;
	return 0;
}

int secret_read_line(int fd, struct secret *out)
{
	return secret_read(fd, true, out);
}

/* Whether the key file open as `fd` is private (secret.h). */
static int keyfile_check(int fd, struct keyfile_check *why)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return -errno;
	why->owner = st.st_uid;
	why->mode = st.st_mode & 07777;
	if (st.st_uid != geteuid() && st.st_uid != 0)
		why->problem = KEYFILE_FOREIGN_OWNER;
	else if (st.st_mode & 077)
		why->problem = KEYFILE_SHARED_MODE;
	else
		why->problem = KEYFILE_PRIVATE;
	return why->problem == KEYFILE_PRIVATE ? 0 : -EPERM;
}

int secret_read_keyfile(const char *path, bool insecure, struct secret *out,
			struct keyfile_check *why)
{
	struct keyfile_check scratch;
	int fd, ret;

	if (!why)
		why = &scratch;
	memset(why, 0, sizeof(*why));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = insecure ? 0 : keyfile_check(fd, why);
	if (!ret)
		ret = secret_read(fd, false, out);
	close(fd);
	return ret;
}

void secret_keyfile_refusal_text(const struct keyfile_check *why,
				 const char *path, const char *insecure_option,
				 char *buf, size_t len)
{
	if (why->problem == KEYFILE_FOREIGN_OWNER)
		snprintf(buf, len,
			 "%s: key file is owned by uid %ld, not by you or "
			 "root: refusing it as a key (%s to use it anyway)",
			 path, (long)why->owner, insecure_option);
	else
		snprintf(buf, len,
			 "%s: key file is accessible by group or others (mode "
			 "%04o): refusing it as a key (chmod 600 %s, or %s to "
			 "use it anyway)",
			 path, (unsigned)why->mode, path, insecure_option);
}

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

/* Catch the prompt signals whose action is the default (saving every
 * action in `saved`), or put them back. */
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
static int prompt_line(int fd, const char *prompt, struct secret *out)
{
	int ret;

	dprintf(fd, "%s", prompt);
	ret = secret_read_line(fd, out);
	/* The Enter was not echoed either. */
	dprintf(fd, "\n");
	return ret;
}

int secret_prompt(const char *prompt, const char *repeat, struct secret *out)
{
	struct sigaction saved_actions[PROMPT_NUM_SIGNALS];
	struct secret first = {0}, second = {0};
	struct termios quiet;
	int fd, ret;

	fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -ENOTTY;
	if (tcgetattr(fd, &prompt_tty.saved) != 0) {
		ret = -ENOTTY;
		goto out_close;
	}
	quiet = prompt_tty.saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	/* Catch first, then echo off before the prompt, so nothing typed
	 * after it shows and no signal can leave echo off. */
	prompt_tty.fd = fd;
	prompt_signals_catch(saved_actions);
	if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
		ret = -errno;
		goto out_release_signals;
	}
	ret = prompt_line(fd, prompt, &first);
	if (ret == 0 && repeat) {
		ret = prompt_line(fd, repeat, &second);
		if (ret == 0 && (second.len != first.len ||
				 memcmp(first.buf, second.buf, first.len) != 0))
			ret = -EKEYREJECTED;
	}
	tcsetattr(fd, TCSAFLUSH, &prompt_tty.saved);
out_release_signals:
	prompt_signals_release(saved_actions);
	prompt_tty.fd = -1;
out_close:
	close(fd);
	secret_free(&second);
	if (ret) {
		secret_free(&first);
		return ret;
	}
	*out = first;
	return 0;
}
