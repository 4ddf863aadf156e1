/*
 * secret.c -- which secret hangarfs opens an encrypted store with, and what
 * it says when it cannot: -o keyfile=FILE, -o passphrase_fd=N, or (neither,
 * in the foreground, on a store core's store_probe says is encrypted) a
 * passphrase asked on the terminal.  The reading itself, the key-file
 * check and the no-echo prompt (which restores the terminal on ^C, SIGTERM
 * or a hangup before the signal ends hangarfs) are common/secret.c's,
 * shared with the hangar command.
 *
 * THREAD MODEL: main() only, before the session starts (and before any
 * signal handler of libfuse is installed).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>

#include "hangarfs.h"

int fs_secret_load(const char *store, const char *keyfile, int pass_fd,
		   bool keyfile_insecure, bool may_prompt, struct secret *sec,
		   enum keyslot_kind *out_kind)
{
	struct keyfile_check why;
	struct store_probe probe;
	char prompt[PATH_MAX + 32];
	int err;

	sec->buf = NULL;
	sec->len = 0;
	if (keyfile) {
		*out_kind = KEYSLOT_KIND_KEYFILE;
		err = secret_read_keyfile(keyfile, keyfile_insecure, sec, &why);
		if (err == -EPERM && why.problem != KEYFILE_PRIVATE) {
			char text[2 * PATH_MAX + 200];

			secret_keyfile_refusal_text(&why, keyfile,
						    "-o keyfile_insecure", text,
						    sizeof(text));
			fprintf(stderr, "hangarfs: %s\n", text);
		}
		return err;
	}
	*out_kind = KEYSLOT_KIND_PASSPHRASE;
	if (pass_fd >= 0)
		return secret_read_line(pass_fd, sec);
	/* Nothing given: ask only for an encrypted store. */
	if (!may_prompt || store_probe(store, &probe) != 0 || !probe.encrypted)
		return 0;
	snprintf(prompt, sizeof(prompt), "Passphrase for %s: ", store);
	return secret_prompt(prompt, NULL, sec);
}
