/*
 * secret.c -- the key of an encrypted store: read from a keyfile, from a
 * descriptor (-o passphrase_fd=N, one line), or asked on the terminal
 * without echo (foreground only).  The buffer is malloc'd with room for
 * CRYPTO_SCRYPT_SECRET_MAX + 1 bytes and wiped by secret_free.
 *
 * THREAD MODEL: main() only, before the session starts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "hangarfs.h"

#define SECRET_CAP (CRYPTO_SCRYPT_SECRET_MAX + 1)

void secret_free(struct hfs_secret *sec)
{
	if (sec->buf) {
		explicit_bzero(sec->buf, SECRET_CAP);
		free(sec->buf);
	}
	sec->buf = NULL;
	sec->len = 0;
}

/* Read up to SECRET_CAP bytes (a line when `line`) from fd into sec. */
static int secret_read_fd(int fd, bool line, struct hfs_secret *sec)
{
	size_t len = 0;

	while (len < SECRET_CAP) {
		ssize_t n = read(fd, sec->buf + len, SECRET_CAP - len);

		if (n < 0 && errno == EINTR)
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

/* Ask on /dev/tty with echo off. */
static int secret_prompt(const char *store, struct hfs_secret *sec)
{
	struct termios old, quiet;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
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
	/* Echo off before the prompt, so nothing typed after it shows. */
	if (tcsetattr(fd, TCSADRAIN, &quiet) != 0) {
		err = -errno;
		close(fd);
		return err;
	}
	dprintf(fd, "Passphrase for %s: ", store);
	err = secret_read_fd(fd, true, sec);
	tcsetattr(fd, TCSADRAIN, &old);
	dprintf(fd, "\n");
	close(fd);
	return err;
}

int secret_load(const char *store, const char *keyfile, int pass_fd,
		bool may_prompt, struct hfs_secret *sec)
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
