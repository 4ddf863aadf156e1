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
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "hangarfs.h"
#include "hangar/names.h"

/* Into buf: the holder named by the guest's holder record, for a lock
 * /proc/locks does not show (taken on another host).  -ENODATA when there
 * is no record. */
static int guest_holder_record_text(struct store *s, const char *name,
				    char *buf, size_t len)
{
	struct store_holder_record rec;
	char when[64];
	struct tm tm;
	time_t t;

	int err = store_guest_holder_record(s, name, &rec);
	if (err)
		return err;
	t = (time_t)rec.since;
	if (!gmtime_r(&t, &tm) ||
	    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(when, sizeof(when), "@%lld", rec.since);
	snprintf(buf, len,
		 "guest is open read-write on host %s by PID %ld since %s "
		 "(its container lock is held there; from its holder "
		 "record)",
		 rec.host, rec.pid, when);
	return 0;
}

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
		else if (guest_holder_record_text(fs->store, name, why,
						  sizeof(why)) != 0)
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

int guest_acquire(struct hfs *fs, struct node *guest, bool fresh,
		  char out_name[HFS_GUEST_NAME_MAX], struct container **out_c)
{
	struct container_refusal refusal;
	char why[512];
	int err, pin_err;

	if (guest->kind != NODE_GUEST)
		return -ENOTDIR;
	nodes_guest_name(guest, out_name);
	err = store_guest_get_why(fs->store, out_name, out_c, &refusal);
	if (err == 0)
		return 0;
	if (err == -EBUSY && fs->read_only &&
	    refusal.code == CONTAINER_REFUSAL_LOCKED) {
		/* the writer has it: its state as of a pin (pin.c) */
		pin_err = pin_acquire(fs, out_name, fresh, out_c, why,
				      sizeof(why));
		if (pin_err == 0)
			return 0;
		if (why[0] && nodes_guest_corrupt_once(guest)) {
			guest_log_refused(fs, out_name, err, &refusal);
			log_object(LOG_ERR, out_name, NULL,
				   "%s: no stable view of it either: %s",
				   out_name, why);
		}
		return err;
	}
	if (refusal.code != CONTAINER_REFUSAL_NONE &&
	    nodes_guest_corrupt_once(guest))
		guest_log_refused(fs, out_name, err, &refusal);
	return err;
}

void guest_release(struct hfs *fs, struct container *c)
{
	if (!pin_release(fs, c))
		store_guest_put(fs->store, c);
}

void guest_changed_elsewhere(void *arg, enum control_op op, const char *guest,
			     const char *name)
{
	struct hfs *fs = arg;
	fuse_ino_t *ids = NULL, snapdir = 0;
	size_t num = 0;

	/* Only what the kernel may have cached needs dropping: nodes exist
	 * only for what it looked up. */
	if (nodes_of_guest(guest, &ids, &num, &snapdir) != 0)
		num = 0;
	switch (op) {
	case CONTROL_OP_ROLLBACK:
		/* every file may have another size, mode or content now */
		for (size_t i = 0; i < num; i++)
			(void)fuse_lowlevel_notify_inval_inode(fs->se, ids[i],
							       0, 0);
		log_msg(LOG_NOTICE,
			"%s: rolled back to snapshot %s (hangar, through the "
			"control socket)",
			guest, name ? name : "?");
		break;
	case CONTROL_OP_SNAPSHOT_CREATE:
	case CONTROL_OP_SNAPSHOT_DELETE:
		if (snapdir) {
			(void)fuse_lowlevel_notify_inval_inode(fs->se, snapdir,
							       0, 0);
			if (op == CONTROL_OP_SNAPSHOT_DELETE && name)
				(void)fuse_lowlevel_notify_inval_entry(
					fs->se, snapdir, name, strlen(name));
		}
		log_msg(LOG_INFO,
			"%s: snapshot %s %s (hangar, through the control "
			"socket)",
			guest, name ? name : "?",
			op == CONTROL_OP_SNAPSHOT_CREATE ? "taken" : "deleted");
		break;
	case CONTROL_OP_PIN:
	case CONTROL_OP_UNPIN:
		/* a reader's pin (pin.c) comes or goes: the listing of
		 * .snapshots changes, nothing a person needs to read */
		if (snapdir)
			(void)fuse_lowlevel_notify_inval_inode(fs->se, snapdir,
							       0, 0);
		break;
	case CONTROL_OP_DELETE:
		nodes_guest_removed(guest);
		(void)fuse_lowlevel_notify_inval_entry(fs->se, FUSE_ROOT_ID,
						       guest, strlen(guest));
		log_msg(LOG_INFO,
			"%s: guest removed (hangar, through the control "
			"socket)",
			guest);
		break;
	default:
		break;
	}
	free(ids);
}

int guest_host_stat(struct hfs *fs, const char *name, struct stat *out_st)
{
	return store_guest_stat(fs->store, name, out_st);
}
