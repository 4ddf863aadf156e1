/*
 * snapdir.c -- GUEST/.snapshots: a guest's snapshots as read-only
 * directories (core: container.h, "snapshots").
 *
 *   GUEST/.snapshots            one directory per snapshot, oldest first;
 *                               mkdir NAME takes one (container_snapshot_
 *                               create: EINVAL bad name, EEXIST, EMLINK
 *                               past the limit), rmdir NAME deletes it
 *                               (EBUSY while a file of it is open)
 *   GUEST/.snapshots/NAME       every file of the guest as of that one
 *                               commit; mtime = when it was taken
 *   GUEST/.snapshots/NAME/FILE  read-only (EROFS for any change), with the
 *                               size, st_blocks, mode, owner and mtime it
 *                               had, SEEK_DATA/SEEK_HOLE from its map
 *
 * Notes on the design
 * -------------------
 *  - Hidden like ZFS's `.zfs`: a lookup of `.snapshots` in a guest works,
 *    the guest's readdir does not list it.  So `ls -a`, `rsync -a`, `cp -a`
 *    and `du` of a guest see its files only (a backup of a guest is not
 *    its snapshots over again), while `ls GUEST/.snapshots` and `rsync -a
 *    GUEST/.snapshots/nightly/ DEST/` work by name.  A file a guest holds
 *    under the name `.snapshots` (made before snapshots existed) is hidden
 *    by the directory; no file may be created or renamed to that name.
 *  - Views.  A file of a snapshot is read through the snapshot's view
 *    (container_snapshot_open), which must be closed before the guest's
 *    container goes back to the store (store_guest_put), and which keeps
 *    the snapshot from being deleted while it is open.  So a view is held
 *    only while something uses it: for one request (a lookup, a stat, a
 *    listing: taken and closed between the request's begin and end, which
 *    hold the guest) or for an open file (its handle holds the guest and
 *    the view until release, ops_file.c).  A kernel's cached dentry never
 *    holds one, so `rmdir .snapshots/NAME` is refused only while a file of
 *    it is open (or a request is running on it: rmdir retries for ~60 ms).
 *    Views are shared (core opens one per snapshot, loading its map once),
 *    so while a file of a snapshot is open, other requests on it are cheap.
 *  - Names.  A node of a snapshot keeps the snapshot's id and name
 *    (nodes.c); a view is opened by name and then checked to be that id
 *    (snap_view_open), so a snapshot deleted and taken again under the same
 *    name never answers for the old one's nodes (ENOENT).
 *  - Caching.  A snapshot's files never change, so the kernel may keep
 *    their names and attributes for SNAP_FILE_TIMEOUT; the names in
 *    .snapshots come and go, so they get the mount's usual timeouts.
 *  - Inode numbers: attr.c ("Inode numbers").
 *  - Permissions.  `.snapshots` and every snapshot directory show the
 *    guest directory's mode, owner and group (whoever may write the guest
 *    may take snapshots of it; rsync -a copies the guest's mode).  Files
 *    keep the mode and owner they had.
 *
 * THREAD MODEL: no state of its own; core serialises snapshot operations
 * on the guest's container (container.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "hangarfs.h"

/* Seconds the kernel may cache a snapshot file's name and attributes. */
#define SNAP_FILE_TIMEOUT 3600.0

/* rmdir of a snapshot that a request is reading: tries and first sleep. */
#define SNAP_RMDIR_TRIES    5
#define SNAP_RMDIR_SLEEP_MS 2

/* The snapshot called `name` of `c`; -ENOENT if none. */
static int snap_find(struct container *c, const char *name,
		     struct snapshot_info *out)
{
	struct snapshot_info *list = NULL;
	size_t num = 0;
	int err;

	err = container_snapshot_list(c, &list, &num);
	if (err)
		return err;
	err = -ENOENT;
	for (size_t i = 0; i < num; i++)
		if (strcmp(list[i].name, name) == 0) {
			*out = list[i];
			err = 0;
			break;
		}
	free(list);
	return err;
}

int snap_view_open(struct container *c, const struct node *n,
		   struct container **out_view)
{
	struct snapshot_info si;
	struct container *view;
	int err;

	err = container_snapshot_open(c, n->snap_name, &view);
	if (err)
		return err;
	/* The open view pins the snapshot it found under that name, so if
	 * the name names our id now, the view is ours. */
	err = snap_find(c, n->snap_name, &si);
	if (!err && si.id != n->snap_id)
		err = -ENOENT;
	if (err) {
		container_snapshot_close(c, view);
		return err;
	}
	*out_view = view;
	return 0;
}

/* The guest node of request `r` (a guest or a node of its snapshots). */
static struct node *req_guest(const struct hfs_req *r)
{
	return r->node->kind == NODE_GUEST ? r->node : r->node->guest;
}

/* .snapshots: the guest directory's attributes, mtime = newest snapshot. */
static int snapdir_stat(struct hfs_req *r, struct stat *out_st)
{
	struct snapshot_info *list = NULL;
	size_t num = 0;
	int err;

	err = attr_guest_stat(r->fs, r->guest, out_st);
	if (!err)
		err = container_snapshot_list(r->c, &list, &num);
	if (err)
		return err;
	out_st->st_ino = attr_ino_snap(req_guest(r)->host_ino, 0, 0);
	for (size_t i = 0; i < num; i++)
		if (list[i].created.tv_sec > out_st->st_mtim.tv_sec ||
		    (list[i].created.tv_sec == out_st->st_mtim.tv_sec &&
		     list[i].created.tv_nsec > out_st->st_mtim.tv_nsec))
			out_st->st_mtim = list[i].created;
	out_st->st_atim = out_st->st_mtim;
	free(list);
	return 0;
}

/* .snapshots/NAME: the guest directory's mode and owner, times = taken. */
static int snapshot_stat(struct hfs_req *r, const struct snapshot_info *si,
			 struct stat *out_st)
{
	int err = attr_guest_stat(r->fs, r->guest, out_st);

	if (err)
		return err;
	out_st->st_ino = attr_ino_snap(req_guest(r)->host_ino, si->id, 0);
	out_st->st_atim = si->created;
	out_st->st_mtim = si->created;
	out_st->st_ctim = si->created;
	return 0;
}

/* FILE of a snapshot, through its view. */
static int snapfile_stat(struct hfs_req *r, struct container *view,
			 uint64_t snap_id, uint64_t id, struct stat *out_st)
{
	const uint64_t host_ino = req_guest(r)->host_ino;
	struct object_attr oa;
	int err;

	err = object_getattr(view, id, &oa);
	if (err)
		return err;
	attr_fill_object(r->fs, host_ino, &oa, 1, out_st);
	out_st->st_ino = attr_ino_snap(host_ino, snap_id, id);
	return 0;
}

int snap_stat(struct hfs_req *r, struct stat *out_st)
{
	struct snapshot_info si;
	struct container *view;
	int err;

	err = hfs_req_need(r, HFS_REQ_CONTAINER);
	if (err)
		return err;
	switch (r->node->kind) {
	case NODE_SNAPDIR:
		return snapdir_stat(r, out_st);
	case NODE_SNAPSHOT:
		err = snap_find(r->c, r->node->snap_name, &si);
		if (!err && si.id != r->node->snap_id)
			err = -ENOENT;
		if (!err)
			err = snapshot_stat(r, &si, out_st);
		return err;
	case NODE_SNAPFILE:
		err = snap_view_open(r->c, r->node, &view);
		if (err)
			return err;
		err = snapfile_stat(r, view, r->node->snap_id,
				    r->node->object_id, out_st);
		container_snapshot_close(r->c, view);
		return err;
	default:
		return -EIO;
	}
}

/* Fill `out_e` for node `n` with attributes `st`, timeouts by kind. */
static void snap_entry(struct hfs_req *r, struct node *n, const struct stat *st,
		       struct fuse_entry_param *out_e)
{
	memset(out_e, 0, sizeof(*out_e));
	out_e->ino = n->nodeid;
	out_e->attr = *st;
	if (n->kind == NODE_SNAPFILE) {
		out_e->attr_timeout = SNAP_FILE_TIMEOUT;
		out_e->entry_timeout = SNAP_FILE_TIMEOUT;
	} else {
		out_e->attr_timeout = r->fs->attr_timeout;
		out_e->entry_timeout = r->fs->entry_timeout;
	}
}

/* Entry for snapshot `name` of request `r`'s SNAPDIR. */
static int lookup_snapshot(struct hfs_req *r, const char *name,
			   struct fuse_entry_param *out_e,
			   struct node **out_node)
{
	struct snapshot_info si;
	struct stat st;
	struct node *n;
	int err;

	err = snap_find(r->c, name, &si);
	if (!err)
		err = snapshot_stat(r, &si, &st);
	if (err)
		return err;
	n = nodes_lookup_snap(req_guest(r), NODE_SNAPSHOT, si.id, si.name, 0);
	if (!n)
		return -ENOMEM;
	snap_entry(r, n, &st, out_e);
	*out_node = n;
	return 0;
}

/* Entry for file `name` of request `r`'s SNAPSHOT. */
static int lookup_file(struct hfs_req *r, const char *name,
		       struct fuse_entry_param *out_e, struct node **out_node)
{
	const struct node *snap = r->node;
	struct container *view;
	struct stat st;
	struct node *n;
	uint64_t id;
	int err;

	err = snap_view_open(r->c, snap, &view);
	if (err)
		return err;
	err = object_lookup(view, name, &id);
	if (!err)
		err = snapfile_stat(r, view, snap->snap_id, id, &st);
	container_snapshot_close(r->c, view);
	if (err)
		return err;
	n = nodes_lookup_snap(req_guest(r), NODE_SNAPFILE, snap->snap_id,
			      snap->snap_name, id);
	if (!n)
		return -ENOMEM;
	snap_entry(r, n, &st, out_e);
	*out_node = n;
	return 0;
}

int snap_lookup(struct hfs_req *r, const char *name,
		struct fuse_entry_param *out_e, struct node **out_node)
{
	struct stat st;
	struct node *n;
	int err;

	err = hfs_req_need(r, HFS_REQ_CONTAINER);
	if (err)
		return err;
	switch (r->node->kind) {
	case NODE_GUEST: /* name is .snapshots */
		n = nodes_lookup_snap(r->node, NODE_SNAPDIR, 0, "", 0);
		if (!n)
			return -ENOMEM;
		err = snapdir_stat(r, &st);
		if (err) {
			nodes_forget(n, 1);
			return err;
		}
		snap_entry(r, n, &st, out_e);
		*out_node = n;
		return 0;
	case NODE_SNAPDIR:
		return lookup_snapshot(r, name, out_e, out_node);
	case NODE_SNAPSHOT:
		return lookup_file(r, name, out_e, out_node);
	default:
		return -ENOTDIR;
	}
}

/* The listing of .snapshots. */
static int list_snapdir(struct hfs_req *r, struct dir_handle **out_d)
{
	const uint64_t host_ino = req_guest(r)->host_ino;
	struct snapshot_info *list = NULL;
	struct dir_handle *d;
	size_t num = 0;
	int err;

	err = container_snapshot_list(r->c, &list, &num);
	if (err)
		return err;
	err = -ENOMEM;
	d = dir_new(num + 2);
	if (!d)
		goto out_free;
	err = dir_add(d, attr_ino_snap(host_ino, 0, 0), S_IFDIR, ".");
	if (!err)
		err = dir_add(d, attr_ino_guest(host_ino), S_IFDIR, "..");
	for (size_t i = 0; !err && i < num; i++)
		err = dir_add(d, attr_ino_snap(host_ino, list[i].id, 0),
			      S_IFDIR, list[i].name);
	if (err) {
		dir_free(d);
		goto out_free;
	}
	*out_d = d;
out_free:
	free(list);
	return err;
}

/* The listing of one snapshot, through its view. */
static int list_snapshot(struct hfs_req *r, struct dir_handle **out_d)
{
	const uint64_t host_ino = req_guest(r)->host_ino;
	const uint64_t snap_id = r->node->snap_id;
	struct object_name *objs = NULL;
	struct container *view;
	struct dir_handle *d = NULL;
	size_t num = 0;
	int err;

	err = snap_view_open(r->c, r->node, &view);
	if (err)
		return err;
	err = object_list(view, &objs, &num);
	container_snapshot_close(r->c, view);
	if (err)
		return err;
	err = -ENOMEM;
	d = dir_new(num + 2);
	if (!d)
		goto out_free;
	err = dir_add(d, attr_ino_snap(host_ino, snap_id, 0), S_IFDIR, ".");
	if (!err)
		err = dir_add(d, attr_ino_snap(host_ino, 0, 0), S_IFDIR, "..");
	for (size_t i = 0; !err && i < num; i++)
		err = dir_add(d, attr_ino_snap(host_ino, snap_id, objs[i].id),
			      S_IFREG, objs[i].name);
	if (err) {
		dir_free(d);
		goto out_free;
	}
	*out_d = d;
out_free:
	free(objs);
	return err;
}

int snap_list(struct hfs_req *r, struct dir_handle **out_d)
{
	int err = hfs_req_need(r, HFS_REQ_CONTAINER);

	if (err)
		return err;
	if (r->node->kind == NODE_SNAPDIR)
		return list_snapdir(r, out_d);
	if (r->node->kind == NODE_SNAPSHOT)
		return list_snapshot(r, out_d);
	return -ENOTDIR;
}

int snap_mkdir(struct hfs_req *r, const char *name,
	       struct fuse_entry_param *out_e, struct node **out_node)
{
	int err;

	if (r->node->kind != NODE_SNAPDIR)
		return -EROFS; /* inside a snapshot */
	err = hfs_req_need(r, HFS_REQ_CONTAINER);
	if (err)
		return err;
	err = container_snapshot_create(r->c, name);
	if (err) {
		if (err != -EEXIST && err != -EINVAL)
			log_msg(LOG_WARNING, "%s: snapshot %s not taken: %s",
				r->guest, name, hfs_strerror(err));
		return err;
	}
	log_msg(LOG_INFO, "%s: snapshot %s taken", r->guest, name);
	return lookup_snapshot(r, name, out_e, out_node);
}

int snap_rmdir(struct hfs_req *r, const char *name)
{
	struct timespec pause = {0, SNAP_RMDIR_SLEEP_MS * 1000000L};
	int err;

	if (r->node->kind != NODE_SNAPDIR)
		return -EROFS; /* inside a snapshot */
	err = hfs_req_need(r, HFS_REQ_CONTAINER);
	if (err)
		return err;
	/* -EBUSY: a view is open.  An open file holds one until it is
	 * closed; a request on the snapshot (a stat, a listing) only for a
	 * moment, which is waited out here (~60 ms in all). */
	for (int i = 0; i < SNAP_RMDIR_TRIES; i++) {
		err = container_snapshot_delete(r->c, name);
		if (err != -EBUSY || i + 1 == SNAP_RMDIR_TRIES)
			break;
		nanosleep(&pause, NULL);
		pause.tv_nsec *= 2;
	}
	if (!err)
		log_msg(LOG_INFO, "%s: snapshot %s deleted", r->guest, name);
	else if (err == -EBUSY)
		log_msg(LOG_NOTICE,
			"%s: snapshot %s not deleted: a file of it is open",
			r->guest, name);
	return err;
}
