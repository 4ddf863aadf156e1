/*
 * xattr.c -- the save state of a guest as extended attributes of its
 * directory, so it can be seen and changed without the CLI:
 *
 *   user.hangar.state    stopped | open-rw | saved | resuming | invalidated
 *                        | incomplete (an import was interrupted: names.h)
 *                        (open-rw: no save state and a disk is open for
 *                        writing through this mount)
 *   user.hangar.saved    present while a save state exists:
 *                        "time=2026-11-22 01:00:03 UTC; disks=disk.raw,...;
 *                        config=unchanged|changed|none[; invalidated=TIME
 *                        by DISK]" (none: the guest had no `config` at the
 *                        save and has none now)
 *   user.hangar.holder   the guest's holder record, read from its container
 *                        file: "host=H pid=N since=UNIX-SECONDS" of the
 *                        last read-write open, on whichever host
 *                        (store.h); ENODATA when none.  Answered without
 *                        opening the container, so it names a holder on
 *                        another host whose lock refuses this one.
 *                        Information, not authority: removed at an
 *                        orderly close, it stays after a holder that
 *                        crashed.  Not listed by listxattr.  Set
 *                        only on a filesystem hosts may share (store.h).
 *   user.hangar.resume   write-only: `setfattr -n user.hangar.resume -v 1 DIR`
 *                        runs save_lock_resume; a refusal is ESTALE (logged
 *                        with core's reason), nothing saved is ENODATA.
 *   user.hangar.io       read-only, what this mount's open of the guest's
 *                        container wrote (container_io_stats, since the
 *                        open): "writes=N; write_bytes=N; data_bytes=N;
 *                        meta_bytes=N; syncs=N; commits=N; flushes=N".
 *                        Not in listxattr: a measurement, not state, so
 *                        `cp -a` / `rsync -X` do not copy it; reading it
 *                        opens the container if it was not open (and so
 *                        counts that open's commit).
 *
 * No other extended attributes are stored: getxattr, setxattr and
 * removexattr of any name outside user.hangar.* are ENOTSUP (cp -a then
 * copies without them, silently, and libvirt's owner-remembering sees a
 * filesystem without xattr support instead of failing the start).
 *
 * THREAD MODEL: no state of its own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "hangarfs.h"
#include "hangar/names.h"
#include "hangar/savelock.h"

#define XATTR_STATE  "user.hangar.state"
#define XATTR_SAVED  "user.hangar.saved"
#define XATTR_RESUME "user.hangar.resume"
#define XATTR_HOLDER "user.hangar.holder"
#define XATTR_IO     "user.hangar.io"
#define XATTR_PREFIX "user.hangar."

static void format_utc(const struct timespec *ts, char *out, size_t out_len)
{
	struct tm tm;
	time_t t = ts->tv_sec;

	if (!gmtime_r(&t, &tm) ||
	    strftime(out, out_len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(out, out_len, "@%lld", (long long)ts->tv_sec);
}

/* The value of the user.hangar.saved attribute; -ENODATA if none.
 * `has_config`: the guest has a `config` now. */
static int format_saved(const struct save_status *st, bool has_config,
			char *out, size_t out_len)
{
	char when[64];
	size_t used;
	int n;

	if (st->state == SAVE_STATE_NONE)
		return -ENODATA;
	format_utc(&st->saved_time, when, sizeof(when));
	n = snprintf(out, out_len, "time=%s; disks=", when);
	used = n > 0 ? (size_t)n : 0;
	for (size_t i = 0; i < st->pin_count && used < out_len; i++) {
		n = snprintf(out + used, out_len - used, "%s%s%s", i ? "," : "",
			     st->pins[i].name[0] ? st->pins[i].name
						 : "(removed)",
			     st->pins[i].changed ? "(changed)" : "");
		used += n > 0 ? (size_t)n : 0;
	}
	if (used < out_len) {
		/* Not changed and absent now: it was absent at the save
		 * too (save_lock_status), so there is nothing to be
		 * "unchanged". */
		n = snprintf(out + used, out_len - used, "; config=%s",
			     st->config_changed ? "changed"
			     : has_config	? "unchanged"
						: "none");
		used += n > 0 ? (size_t)n : 0;
	}
	if (st->state == SAVE_STATE_INVALIDATED && used < out_len) {
		format_utc(&st->event_time, when, sizeof(when));
		snprintf(out + used, out_len - used,
			 "; invalidated=%s by %s; stale: %s", when,
			 st->event_object[0] ? st->event_object : "-",
			 st->reason);
	}
	return 0;
}

/* The value of user.hangar.io on request `r`'s guest node. */
static int guest_io_stats(struct hfs_req *r, char *out, size_t out_len)
{
	struct container_io_stats io;
	int err;

	err = hfs_req_need(r, HFS_REQ_CONTAINER);
	if (err)
		return err;
	container_io_stats(r->c, &io);
	snprintf(out, out_len,
		 "writes=%llu; write_bytes=%llu; data_bytes=%llu; "
		 "meta_bytes=%llu; syncs=%llu; commits=%llu; flushes=%llu",
		 (unsigned long long)io.writes,
		 (unsigned long long)io.write_bytes,
		 (unsigned long long)io.data_bytes,
		 (unsigned long long)io.meta_bytes,
		 (unsigned long long)io.syncs, (unsigned long long)io.commits,
		 (unsigned long long)io.flushes);
	return 0;
}

/* Compute the value of `name` on request `r`'s guest node into out
 * (NUL-ended). */
static int guest_xattr(struct hfs_req *r, const char *name, char *out,
		       size_t out_len)
{
	struct save_status *st;
	uint64_t marker, config_id;
	bool incomplete;
	int err;

	if (strcmp(name, XATTR_IO) == 0)
		return guest_io_stats(r, out, out_len);
	if (strcmp(name, XATTR_STATE) != 0 && strcmp(name, XATTR_SAVED) != 0)
		return -ENODATA;
	st = malloc(sizeof(*st));
	if (!st)
		return -ENOMEM;
	err = hfs_req_need(r, HFS_REQ_CONTAINER);
	if (err)
		goto out_free;
	incomplete = object_lookup(r->c, GUEST_INCOMPLETE_MARKER, &marker) == 0;
	err = save_lock_status(r->c, st);
	if (err)
		goto out_free;
	if (strcmp(name, XATTR_SAVED) == 0) {
		err = format_saved(
			st, object_lookup(r->c, "config", &config_id) == 0, out,
			out_len);
	} else if (incomplete) {
		snprintf(out, out_len, "incomplete");
	} else if (st->state == SAVE_STATE_NONE) {
		snprintf(out, out_len, "%s",
			 nodes_disk_writers(r->node) ? "open-rw" : "stopped");
	} else {
		snprintf(out, out_len, "%s", save_state_name(st->state));
	}
out_free:
	free(st);
	return err;
}

/* Reply with `value` per the getxattr/listxattr size protocol. */
static void reply_value(fuse_req_t req, const char *value, size_t len,
			size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, value, len);
}

void hfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct hfs_req r;
	char value[4096];
	int err;

	if (!hfs_req_begin(&r, req, ino, 0))
		return;
	if (strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX)) != 0)
		err = -ENOTSUP;
	else
		err = hfs_req_need(&r,
				   HFS_REQ_GUEST | HFS_REQ_OTHER_KIND(ENODATA));
	if (!err && strcmp(name, XATTR_HOLDER) == 0) {
		struct store_holder_record rec;
		char guest[HFS_GUEST_NAME_MAX];

		nodes_guest_name(r.node, guest);
		err = store_guest_holder_record(r.fs->store, guest, &rec);
		if (!err)
			snprintf(value, sizeof(value),
				 "host=%s pid=%ld since=%lld", rec.host,
				 rec.pid, rec.since);
	} else if (!err) {
		err = guest_xattr(&r, name, value, sizeof(value));
	}
	if (hfs_req_end(&r, err))
		reply_value(req, value, strlen(value), size);
}

void hfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	static const char with_saved[] = XATTR_STATE "\0" XATTR_SAVED;
	struct hfs_req r;
	char value[4096];
	size_t len = 0;

	if (!hfs_req_begin(&r, req, ino, 0))
		return;
	if (r.node->kind == NODE_GUEST) {
		/* Both names, NUL-terminated; "saved" only when it exists. */
		len = sizeof(with_saved);
		if (guest_xattr(&r, XATTR_SAVED, value, sizeof(value)) != 0)
			len = sizeof(XATTR_STATE);
	}
	if (hfs_req_end(&r, 0))
		reply_value(req, with_saved, len, size);
}

/* user.hangar.resume on request `r`'s guest node. */
static int guest_resume(struct hfs_req *r, const char *value, size_t size)
{
	const char *guest = r->guest;
	char reason[512] = "";
	int err;

	if (!(size >= 1 && value[0] == '1' &&
	      (size == 1 || (size == 2 && (value[1] == '\n' || !value[1])))))
		return -EINVAL;
	err = hfs_req_need(r, HFS_REQ_WRITE | HFS_REQ_CONTAINER);
	if (err)
		return err;
	err = save_lock_resume(r->c, reason, sizeof(reason));
	if (err == 0)
		log_msg(LOG_NOTICE,
			"%s: resume: save lock released for the restore; "
			"memory.save is retired at the guest's first disk "
			"write",
			guest);
	else
		log_msg(LOG_WARNING, "%s: resume refused: %s", guest,
			reason[0] ? reason : hfs_strerror(err));
	if (err == -ENOENT)
		err = -ENODATA; /* nothing saved: not "no such file" */
	return err;
}

void hfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		  const char *value, size_t size, int flags)
{
	struct hfs_req r;
	int err;

	(void)flags;
	if (!hfs_req_begin(&r, req, ino, 0))
		return;
	if (r.node->kind == NODE_GUEST && strcmp(name, XATTR_RESUME) == 0)
		err = guest_resume(&r, value, size);
	else if (strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX)) == 0)
		err = -EPERM; /* the state attributes are read-only */
	else
		err = -ENOTSUP;
	hfs_req_end_status(&r, err);
}

void hfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino;
	if (strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX)) == 0)
		fuse_reply_err(req, EPERM);
	else
		fuse_reply_err(req, ENOTSUP);
}
