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
 * once per node, with core's reason: store_guest_get_why hands it to the
 * caller, a code to branch on next to core's sentence (no side channel:
 * the reason is on this operation's stack); every other guest keeps
 * working (docs/design.md, invariant 6).
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

/* The one line for a guest whose container cannot be opened: the guest,
 * the file, the errno and core's reason, completed by ours by its code. */
static void guest_log_refused(struct hfs *fs, const char *name, int err,
			      const struct container_refusal *refusal)
{
	char why[512];

	snprintf(why, sizeof(why), "%s", refusal->text);
	switch (refusal->code) {
	case CONTAINER_REFUSAL_NEWER_FORMAT:
		if (!why[0])
			snprintf(why, sizeof(why),
				 "unknown format version or incompatible "
				 "feature (written by a newer hangar?)");
		break;
	case CONTAINER_REFUSAL_LOCKED: {
		/* who holds it, and what to do, instead of core's words */
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
		break;
	}
	default:
		break;
	}
	log_object(
		LOG_ERR, name, NULL,
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
	struct container_refusal refusal;
	int err;

	if (guest->kind != NODE_GUEST)
		return -ENOTDIR;
	nodes_guest_name(guest, out_name);
	err = store_guest_get_why(fs->store, out_name, out_c, &refusal);
	if (err == 0)
		return 0;
	if (refusal.code != CONTAINER_REFUSAL_NONE &&
	    nodes_guest_corrupt_once(guest))
		guest_log_refused(fs, out_name, err, &refusal);
	return err;
}

void guest_release(struct hfs *fs, struct container *c)
{
	store_guest_put(fs->store, c);
}

int guest_host_stat(struct hfs *fs, const char *name, struct stat *out_st)
{
	return store_guest_stat(fs->store, name, out_st);
}
