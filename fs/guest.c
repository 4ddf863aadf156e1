/*
 * guest.c -- from a guest node to its container, for one operation.
 *
 * Guests are looked up by name in the store.  A guest node caches only the
 * name and the host inode of its container file; the container itself is
 * borrowed from the store's cache for the duration of one operation (or of
 * one open file), so that the kernel's dentry cache never pins a guest.
 *
 * A guest whose container cannot be opened because it is corrupt answers
 * EIO to every operation and is logged once per node; every other guest
 * keeps working (DESIGN.md invariant 6).
 *
 * THREAD MODEL: no state of its own; see nodes.c and store.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "hangarfs.h"
#include "names.h"

int guest_acquire(struct hfs *fs, struct node *guest,
		  char out_name[HFS_GUEST_NAME_MAX], struct container **out_c)
{
	int err;

	if (guest->kind != NODE_GUEST)
		return -ENOTDIR;
	nodes_guest_name(guest, out_name);
	err = store_guest_get(fs->store, out_name, out_c);
	if (err == -EUCLEAN || err == -EBADMSG || err == -EPROTONOSUPPORT) {
		if (nodes_guest_corrupt_once(guest))
			log_msg(LOG_ERR,
				"%s: container %s/%s%s cannot be opened: %s; "
				"this guest answers EIO, the rest of the store "
				"keeps working",
				out_name, fs->store_path, out_name,
				STORE_GUEST_SUFFIX, hfs_strerror(err));
		return -EIO;
	}
	if (err == 0)
		log_set_guest(out_name);
	return err;
}

void guest_release(struct hfs *fs, struct container *c)
{
	log_set_guest(NULL);
	store_guest_put(fs->store, c);
}

int guest_host_stat(struct hfs *fs, const char *name, struct stat *out_st)
{
	char file[HFS_GUEST_NAME_MAX + sizeof(STORE_GUEST_SUFFIX)];

	if (!name_guest_valid(name))
		return -ENOENT;
	snprintf(file, sizeof(file), "%s%s", name, STORE_GUEST_SUFFIX);
	if (fstatat(fs->store_fd, file, out_st, AT_SYMLINK_NOFOLLOW) != 0)
		return -errno;
	if (!S_ISREG(out_st->st_mode))
		return -ENOENT;
	return 0;
}
