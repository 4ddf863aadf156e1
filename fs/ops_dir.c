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
 *               side effect.
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
	const size_t max =
		dir->kind == NODE_ROOT ? NAME_GUEST_MAX : NAME_OBJECT_MAX;

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

/* Reply with `e`; if the kernel did not take it, undo the lookup. */
static void reply_entry(fuse_req_t req, const struct fuse_entry_param *e,
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
			   HFS_REQ_ROOT | HFS_REQ_GUEST | HFS_REQ_CONTAINER))
		return;
	err = hfs_name_check(r.node, name);
	if (err) {
		/* too long for this directory */
	} else if (r.node->kind == NODE_ROOT) {
		err = root_make_entry(r.fs, name, &e, &n);
	} else {
		err = object_lookup(r.c, name, &id);
		if (!err)
			err = dir_make_entry(r.fs, r.node, r.c, name, id, &e,
					     &n);
	}
	if (hfs_req_end(&r, err))
		reply_entry(req, &e, n);
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

/* A directory listing, snapshotted at opendir so offsets are stable. */
struct dir_entry {
	uint64_t ino;
	mode_t type;
	char *name;
};

struct dir_handle {
	size_t num;
	struct dir_entry *entries;
};

static void dir_handle_free(struct dir_handle *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->num; i++)
		free(d->entries[i].name);
	free(d->entries);
	free(d);
}

static int dir_handle_add(struct dir_handle *d, size_t cap, uint64_t ino,
			  mode_t type, const char *name)
{
	char *copy;

	if (d->num >= cap)
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
	d = calloc(1, sizeof(*d));
	if (!d)
		goto out_free_names;
	d->entries = calloc(num + 2, sizeof(*d->entries));
	if (!d->entries)
		goto out_free_dir;
	err = dir_handle_add(d, num + 2, FUSE_ROOT_ID, S_IFDIR, ".");
	if (!err)
		err = dir_handle_add(d, num + 2, FUSE_ROOT_ID, S_IFDIR, "..");
	for (size_t i = 0; !err && i < num; i++) {
		if (guest_host_stat(fs, names[i], &host) != 0)
			continue; /* removed since the listing */
		err = dir_handle_add(d, num + 2, attr_ino_guest(host.st_ino),
				     S_IFDIR, names[i]);
	}
	if (err)
		goto out_free_dir;
	store_names_free(names, num);
	*out_d = d;
	return 0;

out_free_dir:
	dir_handle_free(d);
out_free_names:
	store_names_free(names, num);
	return err;
}

/* The listing of request `r`'s guest node, through its container. */
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
	d = calloc(1, sizeof(*d));
	if (!d)
		goto out_free_objs;
	d->entries = calloc(num + 2, sizeof(*d->entries));
	if (!d->entries)
		goto out_free_dir;
	err = dir_handle_add(d, num + 2, attr_ino_guest(guest->host_ino),
			     S_IFDIR, ".");
	if (!err)
		err = dir_handle_add(d, num + 2, FUSE_ROOT_ID, S_IFDIR, "..");
	for (size_t i = 0; !err && i < num; i++)
		err = dir_handle_add(
			d, num + 2,
			attr_ino_object(guest->host_ino, objs[i].id), S_IFREG,
			objs[i].name);
	if (err)
		goto out_free_dir;
	free(objs);
	*out_d = d;
	return 0;

out_free_dir:
	dir_handle_free(d);
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
			   HFS_REQ_ROOT | HFS_REQ_GUEST | HFS_REQ_CONTAINER))
		return;
	if (r.node->kind == NODE_ROOT)
		err = list_root(r.fs, &d);
	else
		err = list_guest(&r, &d);
	if (!hfs_req_end(&r, err))
		return;
	fi->fh = (uint64_t)(uintptr_t)d;
	if (fuse_reply_open(req, fi) != 0)
		dir_handle_free(d);
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

void hfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	dir_handle_free((struct dir_handle *)(uintptr_t)fi->fh);
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
	/* Nothing to commit on a read-only mount, nor for an object. */
	if (r.fs->read_only || r.node->kind == NODE_OBJECT) {
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

	/* No subdirectories inside a guest. */
	if (!hfs_req_begin(&r, req, parent,
			   HFS_REQ_ROOT | HFS_REQ_OTHER_KIND(EPERM) |
				   HFS_REQ_WRITE))
		return;
	err = hfs_name_check(r.node, name);
	if (!err && !name_guest_valid(name))
		err = -EINVAL;
	if (!err)
		err = store_guest_create(r.fs->store, name, &opts);
	if (!err) {
		guest_apply_creator(r.fs, req, name, mode);
		err = root_make_entry(r.fs, name, &e, &n);
	}
	if (hfs_req_end(&r, err))
		reply_entry(req, &e, n);
}

void hfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct hfs_req r;
	struct hfs *fs;
	int err;

	/* Everything inside a guest is a file: ENOTDIR. */
	if (!hfs_req_begin(&r, req, parent, HFS_REQ_ROOT | HFS_REQ_WRITE))
		return;
	fs = r.fs;
	err = hfs_name_check(r.node, name);
	if (!err && !name_guest_valid(name))
		err = -ENOENT;
	if (!err)
		err = store_guest_delete(fs->store, name, 0);
	if (!err) {
		nodes_guest_removed(name);
		log_msg(LOG_INFO, "%s: guest removed", name);
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
	/* The root's entries are guests, i.e. directories. */
	err = hfs_name_check(r.node, name);
	if (!err)
		err = r.node->kind == NODE_ROOT
			      ? -EISDIR
			      : hfs_req_need(&r, HFS_REQ_GUEST | HFS_REQ_WRITE |
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
	/* Regular files in guests only. */
	err = hfs_name_check(r.node, name);
	if (!err)
		err = !S_ISREG(mode)
			      ? -EPERM
			      : hfs_req_need(&r,
					     HFS_REQ_GUEST |
						     HFS_REQ_OTHER_KIND(EPERM) |
						     HFS_REQ_WRITE |
						     HFS_REQ_CONTAINER);
	if (!err)
		err = object_create(r.c, name, S_IFREG | (mode & 07777),
				    ctx->uid, ctx->gid, &id);
	if (!err)
		err = dir_make_entry(r.fs, r.node, r.c, name, id, &e, &n);
	if (hfs_req_end(&r, err))
		reply_entry(req, &e, n);
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
