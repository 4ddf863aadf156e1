/*
 * secret.h -- the secret that unlocks an encrypted store, read the way both
 * programs read it: a key file's bytes, one line from a descriptor, or a
 * passphrase typed on the terminal without echo.  Shared by fs/ (hangarfs)
 * and cli/ (hangar); neither depends on the other, both on this.
 *
 * Policy stays with the callers: which source to use, when to ask (core's
 * store_probe says whether a store is encrypted), and every message a
 * person reads (each program prints with its own prefix and option names;
 * secret_keyfile_refusal_text words the one refusal they share).  Nothing
 * here prints, except the prompt itself on the terminal.
 *
 * Ownership: a struct secret owns `buf` (malloc'd, SECRET_CAP bytes, so a
 * caller may append a newline); secret_free wipes and frees it.
 *
 * The prompt turns echo off, so a signal that ends the process while it
 * waits (^C, ^\, a hangup, a kill) would leave the terminal without echo.
 * While it asks, such a signal, if its action is the default one, first
 * restores the terminal and then kills the process as it would have
 * (exit status 128 + signal for the shell).  A signal the process handles
 * or ignores is left alone.
 *
 * THREAD MODEL: secret_prompt uses process-wide state (the terminal and its
 * saved settings, for the signal handler): call it from the main thread,
 * before other threads or signal handlers of libraries are set up.  The
 * other functions are thread-safe.
 */
#ifndef HANGAR_COMMON_SECRET_H
#define HANGAR_COMMON_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hangar/crypto.h"

/* Room for the longest secret, plus one byte (a newline, or "too long"). */
#define SECRET_CAP (CRYPTO_SCRYPT_SECRET_MAX + 1)

struct secret {
	uint8_t *buf; /* NULL: no secret */
	size_t len;   /* 1..CRYPTO_SCRYPT_SECRET_MAX when buf is set */
};

/* Why a key file is refused as a key (secret_read_keyfile). */
enum keyfile_problem {
	KEYFILE_PRIVATE = 0,	   /* fine: owned by the caller or root, 0600 */
	KEYFILE_FOREIGN_OWNER = 1, /* owned by another user */
	KEYFILE_SHARED_MODE = 2,   /* group or others have permissions */
};

struct keyfile_check {
	enum keyfile_problem problem;
	uid_t owner;
	mode_t mode; /* permission bits (07777) */
};

/*
 * secret_read_keyfile - the whole content of key file `path`.  Unless
 * `insecure`, the file must be private (owned by the caller or root, no
 * permission bits for group or others, as ssh's private keys), so nobody
 * else could have read or planted it: else -EPERM with `why` filled (may
 * be NULL).  -EINVAL when empty or longer than CRYPTO_SCRYPT_SECRET_MAX,
 * -errno when it cannot be opened or read.
 */
int secret_read_keyfile(const char *path, bool insecure, struct secret *out,
			struct keyfile_check *why);

/*
 * secret_keyfile_refusal_text - the sentence for a refused key file:
 * "PATH: key file is owned by uid 65534, not by you or root: refusing it
 * as a key (INSECURE_OPTION to use it anyway)" or "... is accessible by
 * group or others (mode 0644) ...".  `insecure_option` is how the program
 * spells the override ("--keyfile-insecure", "-o keyfile_insecure").
 */
void secret_keyfile_refusal_text(const struct keyfile_check *why,
				 const char *path, const char *insecure_option,
				 char *buf, size_t len);

/*
 * secret_read_line - one line from descriptor `fd` (a pipe, a file, a
 * terminal), without its newline.  Read a byte at a time, so whatever
 * follows the line stays unread for the next reader.  -EINVAL when empty
 * or too long.
 */
int secret_read_line(int fd, struct secret *out);

/*
 * secret_prompt - print `prompt` on the terminal (/dev/tty, never stdin:
 * stdin may carry something else) and read one line with echo off; when
 * `repeat` is not NULL, print it and read the passphrase again.  Echo goes
 * off before the prompt is printed (TCSAFLUSH drops what was typed before,
 * which was echoed) and comes back on every path.  0; -ENOTTY when there is
 * no terminal (no controlling one, or /dev/tty cannot be used: a command
 * run by cron or a unit fails at once instead of waiting); -EINVAL for an
 * empty line; -EKEYREJECTED when the two entries differ; another -errno
 * when reading fails.  Nothing is returned on failure.
 */
int secret_prompt(const char *prompt, const char *repeat, struct secret *out);

/* secret_free - wipe and free the buffer; the secret is empty after.
 * Accepts an empty secret. */
void secret_free(struct secret *sec);

#endif /* HANGAR_COMMON_SECRET_H */
