/*
 * guest.c -- from a guest node to its container, for one operation.
 *
 * Guests are looked up by name in the store.  A guest node caches only the
 * name and the host inode of its container file; the container itself is
 * borrowed from the store's cache for the duration of one operation (or of
 * one open file), so that the kernel's dentry cache never pins a guest.
 *
 * A guest whose container cannot be opened (corrupt, truncated, unreadable,
 * written by a newer hangar, hard-linked, or open by another process:
 * EBUSY, store.h's container lock) answers EIO (EBUSY for the lock) to every operation (EROFS for an
 * unknown read-only-compatible feature on a read-write mount) and is logged
 * once per node, with core's reason (log.c keeps it from the container's
 * OPEN_REFUSED event); every other guest keeps working (DESIGN.md
 * invariant 6).
 *
 * THREAD MODEL: no state of its own; see nodes.c and store.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "hangarfs.h"
#include "hangar/names.h"

/* Whether store_guest_get's `err` means the container cannot be opened (as
 * opposed to no such guest, or no memory): logged once, per guest node. */
static bool guest_refused(int err)
{
	switch (-err) {
	case EUCLEAN:
	case EBADMSG:
	case EPROTONOSUPPORT:
	case EIO:
	case EROFS:
	case ENOKEY:
	case EKEYREJECTED:
	case EBUSY:	  /* another process has it open (container lock) */
	case ELOOP:	  /* a symbolic link named like a guest */
	case EMEDIUMTYPE: /* not a regular file */
	case EMLINK:	  /* hard-linked: refused for writing */
		return true;
	default:
		return false;
	}
}

/* The one line for a guest whose container cannot be opened: the guest,
 * the file, the errno and core's reason (or ours, if core gave none). */
static void guest_log_refused(struct hfs *fs, const char *name, int err)
{
	char why[512];
	bool have = log_take_refusal(why, sizeof(why));

	if (!have && err == -EPROTONOSUPPORT)
		snprintf(why, sizeof(why),
			 "unknown format version or incompatible feature "
			 "(written by a newer hangar?)");
	if (!have && err == -EBUSY) {
		bool exclusive = false;
		pid_t pid = 0;

		if (store_guest_holder(fs->store, name, &pid, &exclusive) ==
			    0 &&
		    pid > 0)
			snprintf(why, sizeof(why),
				 "guest is open %s by PID %ld (another "
				 "hangarfs or hangar); %s",
				 exclusive ? "read-write" : "read-only",
				 (long)pid,
				 exclusive ? "read it through its mount"
					   : "try again once it is closed");
		else
			snprintf(why, sizeof(why),
				 "guest is open by another process (container "
				 "lock)");
	}
	if (!have && err == -EMLINK)
		snprintf(why, sizeof(why),
			 "the container file has other names (hard links), "
			 "possibly in another store; it is never opened for "
			 "writing");
	log_msg(LOG_ERR,
		"%s: container %s/%s%s cannot be opened: %s%s%s; every "
		"operation on this guest fails with %s, the rest of the store "
		"keeps working",
		name, fs->store_path, name, STORE_GUEST_SUFFIX,
		hfs_strerror(err), why[0] ? ": " : "", why,
		hfs_strerror(hfs_errno(err)));
}

int guest_acquire(struct hfs *fs, struct node *guest,
		  char out_name[HFS_GUEST_NAME_MAX], struct container **out_c)
{
	int err;

	if (guest->kind != NODE_GUEST)
		return -ENOTDIR;
	nodes_guest_name(guest, out_name);
	log_clear_refusal();
	err = store_guest_get(fs->store, out_name, out_c);
	if (err == 0) {
		log_set_guest(out_name);
		return 0;
	}
	if (guest_refused(err) && nodes_guest_corrupt_once(guest))
		guest_log_refused(fs, out_name, err);
	log_clear_refusal();
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
