/*
 * passphrase.c -- the secrets of the hangar command, and what it says when
 * it cannot get one: a key file (--keyfile, --new-keyfile), a passphrase
 * descriptor (--passphrase-fd, --new-passphrase-fd), or a passphrase asked
 * on the terminal: twice for `hangar init --encrypt` and `hangar key add`
 * without a key option, once for any command that opens an encrypted store
 * without one (open.c).
 *
 * The reading itself, the key-file check and the no-echo prompt (which
 * restores the terminal before a ^C, SIGTERM or hangup ends the command)
 * are common/secret.c's, shared with hangarfs; this file is the policy and
 * the messages.
 *
 * THREAD MODEL: main thread only.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>

#include "cli.h"

int cli_secret_read(const char *keyfile, int fd, struct secret *out)
{
	struct keyfile_check why;
	char text[2 * PATH_MAX + 200];
	int rc;

	if (!keyfile)
		return secret_read_line(fd, out);
	rc = secret_read_keyfile(keyfile, cli_key.keyfile_insecure, out, &why);
	if (rc == -EPERM && why.problem != KEYFILE_PRIVATE) {
		secret_keyfile_refusal_text(&why, keyfile, "--keyfile-insecure",
					    text, sizeof(text));
		cli_error("%s", text);
	}
	return rc;
}

void cli_secret_read_error(const char *keyfile, const char *fd_option, int fd,
			   int rc, const char *what)
{
	if (keyfile)
		cli_error("%s: cannot read the %s: %s", keyfile, what,
			  rc == -EINVAL ? "empty or too long"
					: cli_strerror(rc));
	else if (rc == -EBADF)
		/* The descriptor is the caller's redirection, and strerror's
		 * "Bad file descriptor" does not say which one. */
		cli_error("%s %d: descriptor %d is not open (give the "
			  "passphrase on it, e.g. %d<FILE)",
			  fd_option, fd, fd, fd);
	else if (rc == -EINVAL)
		cli_error("%s %d: the passphrase read from descriptor %d is "
			  "empty or too long",
			  fd_option, fd, fd);
	else
		cli_error("%s %d: cannot read the passphrase from descriptor "
			  "%d: %s",
			  fd_option, fd, fd, cli_strerror(rc));
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
		   const char *no_terminal, struct secret *out)
{
	const char *what = adding ? "new key" : "key";
	const char *pass = adding ? "new passphrase" : "passphrase";
	char prompt[PATH_MAX + 64], repeat[64];
	int rc;

	if (keyfile || fd >= 0) {
		rc = cli_secret_read(keyfile, fd, out);
		if (rc)
			cli_secret_read_error(keyfile,
					      adding ? "--new-passphrase-fd"
						     : "--passphrase-fd",
					      fd, rc, what);
		return rc;
	}
	snprintf(prompt, sizeof(prompt), "New passphrase for %s: ", dir);
	snprintf(repeat, sizeof(repeat), "Repeat the %s: ", pass);
	rc = secret_prompt(prompt, repeat, out);
	if (rc)
		cli_passphrase_error(dir, rc, no_terminal);
	return rc;
}
