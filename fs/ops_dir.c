/*
 * ops_dir.c -- the namespace: the root's guest directories and the objects
 * inside them.
 *
 *   root        mkdir = new guest, rmdir = remove an empty guest, rename =
 *               rename a guest; no files, links or devices (EPERM).
 *   guest dir   regular files only: each is an object of the container.
 *               mknod(S_IFREG)/create make one; unlink and rename (also
 *               RENAME_NOREPLACE) change names atomically; subdirectories,
 *               symlinks, hard links, devices and fifos are EPERM with no
 *               side effect.  The one name that is not a file is
 *               `.snapshots` (snapdir.c): looked up but never listed, and
 *               no file may take its name (EEXIST; EPERM to rename it).
 *   .snapshots  its nodes' lookups, listings, mkdir and rmdir are
 *               snapdir.c's; every other change there is EROFS.
 *
 * Each op is one request (req.c: begin; work; end; reply), so it replies
 * exactly once, after the container reference is dropped.  Errors from core
 * go through hfs_errno().
 *
 * THREAD MODEL: no state of its own.  Directory handles (struct dir_handle)
 * belong to one open directory; libfuse does not run readdir and releasedir
 * on the same handle concurrently.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "hangarfs.h"
#include "hangar/names.h"
#include "hangar/savelock.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

/* ---- names --------------------------------------------------------------- */

int hfs_name_check(const struct node *dir, const char *name)
{
	/* snapshot names are 1..64 bytes, like guest names */
	const size_t max = dir->kind == NODE_ROOT || dir->kind == NODE_SNAPDIR
				   ? NAME_GUEST_MAX
				   : NAME_OBJECT_MAX;

	return strnlen(name, max + 1) > max ? -ENAMETOOLONG : 0;
}

/* ---- lookup and forget --------------------------------------------------- */

int dir_make_entry(struct hfs *fs, struct node *guest, struct container *c,
		   const char *name, uint64_t id,
		   struct fuse_entry_param *out_e, struct node **out_node)
{
	struct object_attr oa;
	struct node *n;
	int err;

	err = object_getattr(c, id, &oa);
	if (err)
		return err;
	n = nodes_lookup_object(guest, id);
	if (!n)
		return -ENOMEM;
	memset(out_e, 0, sizeof(*out_e));
	out_e->ino = n->nodeid;
	out_e->attr_timeout = fs->attr_timeout;
	out_e->entry_timeout = attr_entry_timeout(fs, name);
	attr_fill_object(fs, guest->host_ino, &oa, 1, &out_e->attr);
	*out_node = n;
	return 0;
}

/* Entry for guest `name` in the root; counts one lookup on success. */
static int root_make_entry(struct hfs *fs, const char *name,
			   struct fuse_entry_param *out_e,
			   struct node **out_node)
{
	struct stat host;
	struct node *n;
	int err;

	err = guest_host_stat(fs, name, &host);
	if (err)
		return err;
	n = nodes_lookup_guest(name, host.st_ino);
	if (!n)
		return -ENOMEM;
	memset(out_e, 0, sizeof(*out_e));
	err = attr_guest_stat(fs, name, &out_e->attr);
	if (err) {
		nodes_forget(n, 1);
		return err;
	}
	out_e->ino = n->nodeid;
	out_e->attr_timeout = fs->attr_timeout;
	out_e->entry_timeout = fs->entry_timeout;
	*out_node = n;
	return 0;
}

void dir_reply_entry(fuse_req_t req, const struct fuse_entry_param *e,
		     struct node *n)
{
	if (fuse_reply_entry(req, e) != 0)
		nodes_forget(n, 1);
}

void hfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	struct hfs_req r;
	struct node *n = NULL;
	uint64_t id;
	int err;

	if (!hfs_req_begin(&r, req, parent,
			   HFS_REQ_ROOT | HFS_REQ_GUEST | HFS_REQ_SNAPDIR |
				   HFS_REQ_CONTAINER))
		return;
	err = hfs_name_check(r.node, name);
	if (err) {
		/* too long for this directory */
	} else if (r.node->kind == NODE_ROOT) {
		err = root_make_entry(r.fs, name, &e, &n);
	} else if (r.node->kind != NODE_GUEST ||
		   strcmp(name, HFS_SNAPSHOTS_DIR) == 0) {
		err = snap_lookup(&r, name, &e, &n);
	} else {
		err = object_lookup(r.c, name, &id);
		if (!err)
			err = dir_make_entry(r.fs, r.node, r.c, name, id, &e,
					     &n);
	}
	if (hfs_req_end(&r, err))
		dir_reply_entry(req, &e, n);
}

void hfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct node *n = nodes_get(ino);

	if (n)
		nodes_forget(n, nlookup);
	fuse_reply_none(req);
}

void hfs_forget_multi(fuse_req_t req, size_t count,
		      struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++) {
		struct node *n = nodes_get(forgets[i].ino);

		if (n)
			nodes_forget(n, forgets[i].nlookup);
	}
	fuse_reply_none(req);
}

/* ---- readdir ------------------------------------------------------------- */

struct dir_handle *dir_new(size_t cap)
{
	struct dir_handle *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->entries = calloc(cap ? cap : 1, sizeof(*d->entries));
	if (!d->entries) {
		free(d);
		return NULL;
	}
	d->cap = cap;
	return d;
}

void dir_free(struct dir_handle *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->num; i++)
		free(d->entries[i].name);
	free(d->entries);
	free(d);
}

int dir_add(struct dir_handle *d, uint64_t ino, mode_t type, const char *name)
{
	char *copy;

	if (d->num >= d->cap)
		return -EOVERFLOW;
	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	d->entries[d->num].ino = ino;
	d->entries[d->num].type = type;
	d->entries[d->num].name = copy;
	d->num++;
	return 0;
}

static int list_root(struct hfs *fs, struct dir_handle **out_d)
{
	struct dir_handle *d;
	struct stat host;
	char **names = NULL;
	size_t num = 0;
	int err;

	err = store_guest_list(fs->store, &names, &num);
	if (err)
		return err;
	err = -ENOMEM;
	d = dir_new(num + 2);
	if (!d)
		goto out_free_names;
	err = dir_add(d, FUSE_ROOT_ID, S_IFDIR, ".");
	if (!err)
		err = dir_add(d, FUSE_ROOT_ID, S_IFDIR, "..");
	for (size_t i = 0; !err && i < num; i++) {
		if (guest_host_stat(fs, names[i], &host) != 0)
			continue; /* removed since the listing */
		err = dir_add(d, attr_ino_guest(host.st_ino), S_IFDIR,
			      names[i]);
	}
	if (err)
		goto out_free_dir;
	store_names_free(names, num);
	*out_d = d;
	return 0;

out_free_dir:
	dir_free(d);
out_free_names:
	store_names_free(names, num);
	return err;
}

/* The listing of request `r`'s guest node, through its container.
 * `.snapshots` is not listed (snapdir.c says why). */
static int list_guest(struct hfs_req *r, struct dir_handle **out_d)
{
	const struct node *guest = r->node;
	struct object_name *objs = NULL;
	struct dir_handle *d = NULL;
	size_t num = 0;
	int err;

	err = object_list(r->c, &objs, &num);
	if (err)
		return err;
	err = -ENOMEM;
	d = dir_new(num + 2);
	if (!d)
		goto out_free_objs;
	err = dir_add(d, attr_ino_guest(guest->host_ino), S_IFDIR, ".");
	if (!err)
		err = dir_add(d, FUSE_ROOT_ID, S_IFDIR, "..");
	for (size_t i = 0; !err && i < num; i++) {
		if (strcmp(objs[i].name, HFS_SNAPSHOTS_DIR) == 0)
			continue; /* a file made before; the directory hides it */
		err = dir_add(d, attr_ino_object(guest->host_ino, objs[i].id),
			      S_IFREG, objs[i].name);
	}
	if (err)
		goto out_free_dir;
	free(objs);
	*out_d = d;
	return 0;

out_free_dir:
	dir_free(d);
out_free_objs:
	free(objs);
	return err;
}

void hfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dir_handle *d = NULL;
	struct hfs_req r;
	int err;

	if (!hfs_req_begin(&r, req, ino,
			   HFS_REQ_ROOT | HFS_REQ_GUEST | HFS_REQ_SNAPDIR |
				   HFS_REQ_CONTAINER))
		return;
	if (r.node->kind == NODE_ROOT)
		err = list_root(r.fs, &d);
	else if (r.node->kind == NODE_GUEST)
		err = list_guest(&r, &d);
	else
		err = snap_list(&r, &d);
	if (!hfs_req_end(&r, err))
		return;
	fi->fh = (uint64_t)(uintptr_t)d;
	if (fuse_reply_open(req, fi) != 0)
		dir_free(d);
}

void hfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi)
{
	struct dir_handle *d = (struct dir_handle *)(uintptr_t)fi->fh;
	size_t used = 0;
	char *buf;

	(void)ino;
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t i = off < 0 ? 0 : (size_t)off; i < d->num; i++) {
		struct stat st = {.st_ino = d->entries[i].ino,
				  .st_mode = d->entries[i].type};
		size_t len = fuse_add_direntry(req, buf + used, size - used,
					       d->entries[i].name, &st,
					       (off_t)(i + 1));

		if (len > size - used)
			break;
		used += len;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

/*
 * readdirplus: the root's entries come with their guest's attributes and a
 * lookup counted on their node (as hfs_lookup would), so `ls -l` of the
 * mount needs no lookup per guest.  Every other entry ("." and "..", the
 * objects inside a guest) goes without (node id 0: the kernel then treats
 * it as a plain readdir entry and looks it up when it is used).  A counted
 * lookup whose entry did not fit, or whose reply the kernel did not take,
 * is dropped again.
 */
void hfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct dir_handle *d = (struct dir_handle *)(uintptr_t)fi->fh;
	struct hfs *fs = fuse_req_userdata(req);
	/* each entry takes at least a fuse_direntplus: 152 bytes */
	const size_t max_entries = size / 152 + 1;
	struct node **counted = calloc(max_entries, sizeof(*counted));
	char *buf = malloc(size ? size : 1);
	size_t used = 0, num_counted = 0;

	if (!buf || !counted) {
		free(buf);
		free(counted);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t i = off < 0 ? 0 : (size_t)off; i < d->num; i++) {
		const struct dir_entry *de = &d->entries[i];
		struct fuse_entry_param e;
		struct node *n = NULL;

		memset(&e, 0, sizeof(e));
		e.attr.st_ino = de->ino;
		e.attr.st_mode = de->type;
		if (ino == FUSE_ROOT_ID && de->ino != FUSE_ROOT_ID &&
		    root_make_entry(fs, de->name, &e, &n) != 0) {
			/* gone since opendir: as a plain entry */
			memset(&e, 0, sizeof(e));
			e.attr.st_ino = de->ino;
			e.attr.st_mode = de->type;
			n = NULL;
		}
		size_t len =
			fuse_add_direntry_plus(req, buf + used, size - used,
					       de->name, &e, (off_t)(i + 1));
		if (len > size - used || num_counted == max_entries) {
			if (n)
				nodes_forget(n, 1);
			break;
		}
		used += len;
		if (n)
			counted[num_counted++] = n;
	}
	if (fuse_reply_buf(req, buf, used) != 0)
		for (size_t i = 0; i < num_counted; i++)
			nodes_forget(counted[i], 1);
	free(counted);
	free(buf);
}

void hfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	dir_free((struct dir_handle *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

void hfs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		  struct fuse_file_info *fi)
{
	struct hfs_req r;
	int err = 0;

	(void)datasync;
	(void)fi;
	if (!hfs_req_begin(&r, req, ino, 0))
		return;
	/* Nothing to commit on a read-only mount, nor for an object or a
	 * snapshot (each was committed when it was taken). */
	if (r.fs->read_only || r.node->kind == NODE_OBJECT ||
	    nodes_in_snapshots(r.node)) {
		err = 0;
	} else if (r.node->kind == NODE_ROOT) {
		err = store_commit_all(r.fs->store);
	} else {
		err = hfs_req_need(&r, HFS_REQ_CONTAINER);
		if (!err)
			err = container_commit(r.c);
	}
	hfs_req_end_status(&r, err);
}

/* ---- creating and removing names ---------------------------------------- */

/* After mkdir: the guest directory's attributes from birth (attr.c): the
 * mode asked for (umask applied by the kernel) without the bits for
 * others -- a guest holds its RAM image, so it is never world-readable
 * unless someone chmods it so -- and the caller's ids. */
static void guest_apply_creator(struct hfs *fs, fuse_req_t req,
				const char *name, mode_t mode)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct object_attr dir = {0};
	struct container *c;
	int err;

	dir.mode = S_IFDIR | (mode & 07770);
	dir.uid = ctx->uid;
	dir.gid = ctx->gid;
	clock_gettime(CLOCK_REALTIME, &dir.mtime);
	dir.ctime = dir.mtime;
	err = store_guest_get(fs->store, name, &c);
	if (!err) {
		err = container_dir_setattr(c, &dir,
					    OBJECT_SET_MODE | OBJECT_SET_UID |
						    OBJECT_SET_GID |
						    OBJECT_SET_MTIME,
					    &dir);
		store_guest_put(fs->store, c);
	}
	if (err)
		log_msg(LOG_WARNING,
			"%s: cannot set the directory's mode and owner: %s",
			name, hfs_strerror(err));
}

void hfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct guest_create_options opts = {.compress_disks = false};
	struct fuse_entry_param e;
	struct hfs_req r;
	struct node *n = NULL;
	int err;

	/* No subdirectories inside a guest; in .snapshots, a snapshot. */
	if (!hfs_req_begin(&r, req, parent,
			   HFS_REQ_ROOT | HFS_REQ_SNAPDIR |
				   HFS_REQ_OTHER_KIND(EPERM) | HFS_REQ_WRITE))
		return;
	err = hfs_name_check(r.node, name);
	if (err) {
		/* too long for this directory */
	} else if (r.node->kind != NODE_ROOT) {
		/* a snapshot's directory shows the guest's mode (snapdir.c) */
		err = snap_mkdir(&r, name, &e, &n);
	} else if (!name_guest_valid(name)) {
		err = -EINVAL;
	} else {
		err = store_guest_create(r.fs->store, name, &opts);
		if (!err) {
			guest_apply_creator(r.fs, req, name, mode);
			err = root_make_entry(r.fs, name, &e, &n);
		}
	}
	if (hfs_req_end(&r, err))
		dir_reply_entry(req, &e, n);
}

/* rmdir of guest `name` was refused as not empty: if it is because of
 * snapshots (hidden from its listing), say so. */
static void log_snapshots_left(struct hfs *fs, const char *name)
{
	struct snapshot_info *list = NULL;
	struct container *c;
	size_t num = 0;

	if (store_guest_get(fs->store, name, &c) != 0)
		return;
	if (container_snapshot_list(c, &list, &num) == 0 && num > 0)
		log_msg(LOG_NOTICE,
			"%s: rmdir refused: the guest has %zu snapshot%s (in "
			"%s/" HFS_SNAPSHOTS_DIR "); rmdir them first",
			name, num, num == 1 ? "" : "s", name);
	free(list);
	store_guest_put(fs->store, c);
}

/* rmdir of guest `name` in the root. */
static int rmdir_guest(struct hfs *fs, const char *name)
{
	int err;

	if (!name_guest_valid(name))
		return -ENOENT;
	err = store_guest_delete(fs->store, name, 0);
	if (!err) {
		nodes_guest_removed(name);
		log_msg(LOG_INFO, "%s: guest removed", name);
	} else if (err == -ENOTEMPTY) {
		log_snapshots_left(fs, name);
	}
	return err;
}

void hfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct hfs_req r;
	int err;

	if (!hfs_req_begin(&r, req, parent, 0))
		return;
	err = hfs_name_check(r.node, name);
	if (!err) {
		switch (r.node->kind) {
		case NODE_GUEST:
			/* Everything inside a guest is a file (ENOTDIR) but
			 * .snapshots, which stays (EPERM). */
			err = strcmp(name, HFS_SNAPSHOTS_DIR) == 0 ? -EPERM
								   : -ENOTDIR;
			break;
		case NODE_ROOT:
			err = hfs_req_need(&r, HFS_REQ_WRITE);
			if (!err)
				err = rmdir_guest(r.fs, name);
			break;
		case NODE_SNAPDIR:
		case NODE_SNAPSHOT:
			/* in .snapshots, a snapshot goes */
			err = hfs_req_need(&r, HFS_REQ_WRITE);
			if (!err)
				err = snap_rmdir(&r, name);
			break;
		default:
			err = -ENOTDIR;
			break;
		}
	}
	hfs_req_end_status(&r, err);
}

/* If object `name` of `c` is refused by the save lock, log why. */
static void log_pinned(const struct hfs *fs, struct container *c,
		       const char *guest, const char *name, const char *action)
{
	uint64_t id;

	if (object_lookup(c, name, &id) == 0)
		savelog_check_write(fs, c, guest, id, action);
}

void hfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct hfs_req r;
	int err;

	if (!hfs_req_begin(&r, req, parent, 0))
		return;
	/* The root's entries are guests, i.e. directories, and so is
	 * .snapshots; snapshots are read-only. */
	err = hfs_name_check(r.node, name);
	if (err)
		;
	else if (r.node->kind == NODE_ROOT ||
		 (r.node->kind == NODE_GUEST &&
		  strcmp(name, HFS_SNAPSHOTS_DIR) == 0))
		err = -EISDIR;
	else if (nodes_in_snapshots(r.node))
		err = -EROFS;
	else
		err = hfs_req_need(&r, HFS_REQ_GUEST | HFS_REQ_WRITE |
					       HFS_REQ_CONTAINER);
	if (!err) {
		err = object_unlink(r.c, name);
		if (err == -EBUSY)
			log_pinned(r.fs, r.c, r.guest, name, "unlink");
		else if (!err && strcmp(name, SAVE_IMAGE_NAME) == 0)
			log_msg(LOG_NOTICE,
				"%s/%s: removed; saved state discarded, disks "
				"writable",
				r.guest, name);
	}
	hfs_req_end_status(&r, err);
}

/* A guest onto an existing guest is refused (-EEXIST), even an empty one,
 * where rename(2) of directories would replace it: core renames guest
 * files with RENAME_NOREPLACE (its crash argument, guestfile.h invariant
 * 3).  README "Limits" says so; rmdir the empty target first. */
static int rename_guest(struct hfs *fs, const char *from, const char *to)
{
	int err;

	if (!name_guest_valid(from))
		return -ENOENT;
	if (!name_guest_valid(to))
		return -EINVAL;
	if (strcmp(from, to) == 0)
		return 0;
	err = store_guest_rename(fs->store, from, to);
	if (!err) {
		nodes_guest_renamed(from, to);
		log_msg(LOG_INFO, "%s: guest renamed to %s", from, to);
	}
	return err;
}

/* Rename within request `r`'s guest node. */
static int rename_object(struct hfs_req *r, const char *from, const char *to,
			 bool noreplace)
{
	char how[HFS_OBJECT_NAME_MAX + 32];
	const struct hfs *fs = r->fs;
	const char *guest = r->guest;
	struct container *c;
	int err;

	err = hfs_req_need(r, HFS_REQ_CONTAINER);
	if (err)
		return err;
	c = r->c;
	err = object_rename(c, from, to, noreplace);
	if (err == -EBUSY) {
		log_pinned(fs, c, guest, from, "rename");
		log_pinned(fs, c, guest, to, "rename over");
	} else if (!err && strcmp(to, SAVE_IMAGE_NAME) == 0 &&
		   strcmp(from, SAVE_IMAGE_NAME) != 0) {
		snprintf(how, sizeof(how), "renamed from %s", from);
		savelog_sealed(c, guest, how);
	} else if (!err && strcmp(from, SAVE_IMAGE_NAME) == 0 &&
		   strcmp(to, SAVE_IMAGE_NAME) != 0) {
		log_msg(LOG_NOTICE,
			"%s/%s: renamed to %s; its seal goes with it (renamed "
			"back, it resumes only if no pinned file changed); "
			"files writable",
			guest, from, to);
	}
	return err;
}

/* Rename `name` in request `r`'s node to `newname` in `to`, by their kinds. */
static int rename_from_to(struct hfs_req *r, const struct node *to,
			  const char *name, const char *newname, bool noreplace)
{
	const struct node *from = r->node;

	if (nodes_in_snapshots(from) || nodes_in_snapshots(to))
		return -EROFS; /* snapshots are read-only, .snapshots stays */
	if ((from->kind == NODE_GUEST &&
	     strcmp(name, HFS_SNAPSHOTS_DIR) == 0) ||
	    (to->kind == NODE_GUEST && strcmp(newname, HFS_SNAPSHOTS_DIR) == 0))
		return -EPERM;
	if (from->kind == NODE_ROOT && to->kind == NODE_ROOT)
		return rename_guest(r->fs, name, newname);
	if (from->kind == NODE_GUEST && from == to)
		return rename_object(r, name, newname, noreplace);
	if (from->kind == NODE_GUEST && to->kind == NODE_GUEST)
		return -EXDEV; /* objects live in one container each */
	return -EPERM;	       /* a guest into a guest, a file into the root */
}

void hfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct hfs_req r;
	struct node *to;
	int err;

	if (!hfs_req_begin(&r, req, parent, 0))
		return;
	to = nodes_get(newparent); /* the one op naming a second node */
	if (!to)
		err = -ESTALE;
	else if (flags & ~(unsigned)RENAME_NOREPLACE)
		err = -EINVAL; /* RENAME_EXCHANGE, RENAME_WHITEOUT */
	else if (hfs_name_check(r.node, name) || hfs_name_check(to, newname))
		err = -ENAMETOOLONG;
	else
		err = hfs_req_need(&r, HFS_REQ_WRITE);
	if (!err)
		err = rename_from_to(&r, to, name, newname,
				     flags & RENAME_NOREPLACE);
	hfs_req_end_status(&r, err);
}

void hfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       dev_t rdev)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fuse_entry_param e;
	struct hfs_req r;
	struct node *n = NULL;
	uint64_t id;
	int err;

	(void)rdev;
	if (!hfs_req_begin(&r, req, parent, 0))
		return;
	/* Regular files in guests only; snapshots are read-only. */
	err = hfs_name_check(r.node, name);
	if (err)
		;
	else if (nodes_in_snapshots(r.node))
		err = -EROFS;
	else if (!S_ISREG(mode))
		err = -EPERM;
	else
		err = hfs_req_need(&r,
				   HFS_REQ_GUEST | HFS_REQ_OTHER_KIND(EPERM) |
					   HFS_REQ_WRITE | HFS_REQ_CONTAINER);
	if (!err && strcmp(name, HFS_SNAPSHOTS_DIR) == 0)
		err = -EEXIST; /* the directory of snapshots has the name */
	if (!err)
		err = object_create(r.c, name, S_IFREG | (mode & 07777),
				    ctx->uid, ctx->gid, &id);
	if (!err)
		err = dir_make_entry(r.fs, r.node, r.c, name, id, &e, &n);
	if (hfs_req_end(&r, err))
		dir_reply_entry(req, &e, n);
}

void hfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		 const char *name)
{
	(void)link;
	(void)parent;
	(void)name;
	fuse_reply_err(req, EPERM);
}

void hfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
	      const char *newname)
{
	(void)ino;
	(void)newparent;
	(void)newname;
	fuse_reply_err(req, EPERM);
}

/* The store's filesystem's figures; f_namemax is the directory's own (the
 * kernel names the inode statfs/pathconf was asked about): guest names in
 * the root, object names in a guest. */
void hfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct hfs *fs = fuse_req_userdata(req);
	struct statvfs sv;

	if (fstatvfs(fs->store_fd, &sv) != 0) {
		fuse_reply_err(req, errno);
		return;
	}
	sv.f_namemax = ino == FUSE_ROOT_ID ? NAME_GUEST_MAX : NAME_OBJECT_MAX;
	fuse_reply_statfs(req, &sv);
}
