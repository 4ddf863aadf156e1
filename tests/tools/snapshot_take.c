/*
 * snapshot_take.c -- `hangar_test_snapshot STORE GUEST NAME [KEYFILE]`: take
 * snapshot NAME of GUEST through core's public API (store.h, container.h),
 * for the shell tests of the commands that read snapshots (diff, export
 * --snapshot, clone), so they do not depend on how a person takes one.
 * The store must not be mounted (it takes the store's write lock).
 * Exit 0, or 1 with the errno's text on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hangar/store.h"

int main(int argc, char **argv)
{
	struct store_options opts = {.read_only = false};
	struct store *s = NULL;
	struct container *c = NULL;
	char key[4096];
	ssize_t key_len = 0;
	int rc, fd;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: %s STORE GUEST NAME [KEYFILE]\n",
			argv[0]);
		return 2;
	}
	if (argc == 5) {
		fd = open(argv[4], O_RDONLY | O_CLOEXEC);
		key_len = fd < 0 ? -1 : read(fd, key, sizeof(key));
		if (fd >= 0)
			close(fd);
		if (key_len <= 0) {
			fprintf(stderr, "%s: cannot read\n", argv[4]);
			return 1;
		}
		opts.key_kind = KEYSLOT_KIND_KEYFILE;
		opts.key_secret = key;
		opts.key_secret_len = (size_t)key_len;
	}
	rc = store_open(argv[1], &opts, &s);
	if (rc == 0)
		rc = store_guest_get(s, argv[2], &c);
	if (rc == 0) {
		rc = container_snapshot_create(c, argv[3]);
		store_guest_put(s, c);
	}
	if (s) {
		int close_rc = store_close(s);
		rc = rc ? rc : close_rc;
	}
	if (rc) {
		fprintf(stderr, "snapshot %s of %s: %s\n", argv[3], argv[2],
			strerror(-rc));
		return 1;
	}
	return 0;
}
