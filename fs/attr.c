/*
 * attr.c -- attributes: what stat(2) shows, and what chmod, chown, utimensat
 * and truncate change.
 *
 * Inode numbers
 * -------------
 * st_ino must be stable across remounts (rsync, tar and backup tools key on
 * it) and unique within the mount.  It is derived from two numbers that do
 * not change while a guest exists: the host inode number of the guest's
 * container file (kept by rename, so a renamed guest keeps its numbers) and
 * the object id (never reused within a container, container.h):
 *
 *     root                 1
 *     guest directory      G << 24
 *     object               (G << 24) | (1 + id mod (2^24 - 1))
 *
 * where G is the host inode if it fits in 40 bits, else a 40-bit hash of
 * it.  Objects are unique per guest until a container has used 2^24 - 1
 * object ids; past that, numbers may repeat (never for the directory).  The
 * FUSE node id is unrelated (nodes.c).
 *
 * The snapshot area (snapdir.c) needs numbers of its own: a file of a
 * snapshot is not the live file (cp would refuse to copy one over the
 * other as "the same file", and rsync -H, tar and backup tools would merge
 * them), and there are no bits left in the scheme above.  So
 *
 *     GUEST/.snapshots            2^63 | H(G, 0, 0)
 *     GUEST/.snapshots/NAME       2^63 | H(G, snapshot id, 0)
 *     GUEST/.snapshots/NAME/FILE  2^63 | H(G, snapshot id, object id)
 *
 * with H a 63-bit mix of the three numbers, which never change for one
 * snapshot (ids are never reused within a container, and ids are never 0).
 * They are stable across remounts, distinct from every live number while
 * G < 2^39 (every ext4 and XFS inode in practice), and distinct among
 * themselves with the probability of a 63-bit hash.
 *
 * Guest directories
 * -----------------
 * A guest directory's mode, owner, group, mtime and ctime live in its
 * container (container_dir_getattr/setattr), so chmod, chown and utimensat
 * persist and move with the guest; core moves the mtime at every create,
 * unlink and rename inside.  mkdir sets them from birth (the mode asked for,
 * the caller's uid/gid).  A guest that never had them set (made by `hangar
 * create`, or by an older hangarfs) shows defaults until the first chmod,
 * chown or utimensat: mode 0750, owner, group and times of its container
 * file.  So does a guest whose container cannot be opened, so that it can
 * still be looked up and removed.  No atime is kept (it shows the mtime).
 *
 * THREAD MODEL: no state of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "hangarfs.h"
#include "hangar/savelock.h"

#define INO_OBJECT_BITS 24
#define INO_OBJECT_MASK ((UINT64_C(1) << INO_OBJECT_BITS) - 1)
#define INO_HOST_LIMIT	(UINT64_C(1) << (64 - INO_OBJECT_BITS))

static uint64_t ino_host_part(uint64_t host_ino)
{
	if (host_ino < INO_HOST_LIMIT)
		return host_ino;
	host_ino ^= host_ino >> 33;
	host_ino *= UINT64_C(0xff51afd7ed558ccd);
	host_ino ^= host_ino >> 33;
	return host_ino % INO_HOST_LIMIT;
}

uint64_t attr_ino_guest(uint64_t host_ino)
{
	return ino_host_part(host_ino) << INO_OBJECT_BITS;
}

uint64_t attr_ino_object(uint64_t host_ino, uint64_t object_id)
{
	return attr_ino_guest(host_ino) | (1 + object_id % INO_OBJECT_MASK);
}

static uint64_t ino_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

uint64_t attr_ino_snap(uint64_t host_ino, uint64_t snap_id, uint64_t object_id)
{
	uint64_t h =
		ino_mix(ino_host_part(host_ino) + UINT64_C(0x9e3779b97f4a7c15));

	h = ino_mix(h ^ snap_id);
	h = ino_mix(h ^ object_id);
	return (UINT64_C(1) << 63) | (h >> 1);
}

int attr_fill_root(struct hfs *fs, struct stat *out_st)
{
	struct stat host;

	if (fstat(fs->store_fd, &host) != 0)
		return -errno;
	memset(out_st, 0, sizeof(*out_st));
	out_st->st_ino = FUSE_ROOT_ID;
	out_st->st_mode = S_IFDIR | (host.st_mode & 07777);
	out_st->st_nlink = 2;
	out_st->st_uid = host.st_uid;
	out_st->st_gid = host.st_gid;
	out_st->st_blksize = fs->cluster_size;
	out_st->st_atim = host.st_atim;
	out_st->st_mtim = host.st_mtim;
	out_st->st_ctim = host.st_ctim;
	return 0;
}

/* What a guest directory shows while its container has no attributes. */
static void guest_defaults(const struct stat *host, struct object_attr *out)
{
	memset(out, 0, sizeof(*out));
	out->mode = S_IFDIR | 0750; /* never world-readable by default */
	out->uid = host->st_uid;
	out->gid = host->st_gid;
	out->mtime = host->st_mtim;
	out->ctime = host->st_ctim;
}

void attr_fill_guest(const struct stat *host, const struct object_attr *dir,
		     struct stat *out_st)
{
	memset(out_st, 0, sizeof(*out_st));
	out_st->st_ino = attr_ino_guest(host->st_ino);
	out_st->st_mode = S_IFDIR | (dir->mode & 07777);
	out_st->st_nlink = 2;
	out_st->st_uid = dir->uid;
	out_st->st_gid = dir->gid;
	out_st->st_blksize = host->st_blksize;
	out_st->st_atim = dir->mtime;
	out_st->st_mtim = dir->mtime;
	out_st->st_ctim = dir->ctime;
}

int attr_guest_stat(struct hfs *fs, const char *name, struct stat *out_st)
{
	struct object_attr dir;
	struct stat host;
	int err;

	err = guest_host_stat(fs, name, &host);
	if (err)
		return err;
	/* Without opening the container: listing thousands of guests must
	 * not open them all (store.h). */
	err = store_guest_dir_getattr(fs->store, name, &dir);
	/* -ENODATA: never set.  Any other error (a corrupt container) is
	 * reported by the operations inside the guest, not by stat. */
	if (err)
		guest_defaults(&host, &dir);
	attr_fill_guest(&host, &dir, out_st);
	return 0;
}

void attr_fill_object(struct hfs *fs, uint64_t host_ino,
		      const struct object_attr *oa, unsigned nlink,
		      struct stat *out_st)
{
	memset(out_st, 0, sizeof(*out_st));
	out_st->st_ino = attr_ino_object(host_ino, oa->id);
	out_st->st_mode = S_IFREG | (oa->mode & 07777);
	out_st->st_nlink = nlink;
	out_st->st_uid = oa->uid;
	out_st->st_gid = oa->gid;
	out_st->st_size = (off_t)oa->size;
	out_st->st_blocks = (blkcnt_t)((oa->stored_bytes + 511) / 512);
	out_st->st_blksize = fs->cluster_size;
	/* No atime is kept: reading a disk must not cost a metadata write. */
	out_st->st_atim = oa->mtime;
	out_st->st_mtim = oa->mtime;
	out_st->st_ctim = oa->ctime;
}

double attr_entry_timeout(struct hfs *fs, const char *name)
{
	/* The save image can vanish without a request naming it (retired at
	 * the guest's first disk write), so its name is never cached. */
	if (strncmp(name, SAVE_IMAGE_NAME, strlen(SAVE_IMAGE_NAME)) == 0)
		return 0.0;
	return fs->entry_timeout;
}

/* Attributes of object node `n`, through its guest's container `c`. */
static int object_stat(struct hfs *fs, struct container *c, struct node *n,
		       struct stat *out_st)
{
	struct object_attr oa;
	char name[HFS_OBJECT_NAME_MAX];
	int err;

	err = object_getattr(c, n->object_id, &oa);
	if (err)
		return err;
	if (object_name_of(c, n->object_id, name, sizeof(name)) != 0)
		name[0] = '\0';
	attr_fill_object(fs, n->guest->host_ino, &oa, name[0] ? 1 : 0, out_st);
	return 0;
}

/* Attributes of request `r`'s node; 0 or a negative errno.  A guest
 * directory's come without guest_acquire (attr_guest_stat: a guest whose
 * container cannot be opened still stats, top of file). */
static int node_stat(struct hfs_req *r, struct stat *out_st)
{
	char guest[HFS_GUEST_NAME_MAX];
	int err;

	switch (r->node->kind) {
	case NODE_ROOT:
		return attr_fill_root(r->fs, out_st);
	case NODE_GUEST:
		nodes_guest_name(r->node, guest);
		return attr_guest_stat(r->fs, guest, out_st);
	case NODE_OBJECT:
		err = hfs_req_need(r, HFS_REQ_CONTAINER);
		if (err)
			return err;
		return object_stat(r->fs, r->c, r->node, out_st);
	case NODE_SNAPDIR:
	case NODE_SNAPSHOT:
	case NODE_SNAPFILE:
		return snap_stat(r, out_st);
	}
	return -EIO;
}

void hfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct hfs_req r;
	struct stat st;
	int err;

	(void)fi;
	if (!hfs_req_begin(&r, req, ino, 0))
		return;
	err = node_stat(&r, &st);
	if (hfs_req_end(&r, err))
		fuse_reply_attr(req, &st, r.fs->attr_timeout);
}

static struct timespec now_realtime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

/* chmod/chown/utimensat on request `r`'s guest directory: stored in its
 * container. */
static int guest_setattr(struct hfs_req *r, const struct stat *attr, int to_set)
{
	struct object_attr dir = {0}, defaults;
	struct stat host;
	unsigned mask = 0;
	int err;

	if (to_set & FUSE_SET_ATTR_SIZE)
		return -EISDIR;
	if (to_set & FUSE_SET_ATTR_MODE) {
		dir.mode = S_IFDIR | (attr->st_mode & 07777);
		mask |= OBJECT_SET_MODE;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		dir.uid = attr->st_uid;
		mask |= OBJECT_SET_UID;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		dir.gid = attr->st_gid;
		mask |= OBJECT_SET_GID;
	}
	if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
		dir.mtime = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? now_realtime()
							       : attr->st_mtim;
		mask |= OBJECT_SET_MTIME;
	}
	if (!mask)
		return 0; /* atime alone: not stored (top of file) */
	err = hfs_req_need(r, HFS_REQ_CONTAINER);
	if (err)
		return err;
	/* The first set starts from what stat showed until now. */
	err = guest_host_stat(r->fs, r->guest, &host);
	if (!err) {
		guest_defaults(&host, &defaults);
		err = container_dir_setattr(r->c, &dir, mask, &defaults);
	}
	return err;
}

/* truncate, chmod, chown, utimensat on an object. */
static int object_setattr_all(const struct hfs *fs, struct container *c,
			      const char *guest, struct node *n,
			      const struct stat *attr, int to_set)
{
	struct object_attr oa = {0};
	unsigned mask = 0;
	int err;

	if (to_set & FUSE_SET_ATTR_SIZE) {
		err = savelog_check_write(fs, c, guest, n->object_id,
					  "truncate");
		if (err)
			return err;
		err = object_truncate(c, n->object_id, (uint64_t)attr->st_size);
		if (err)
			return err;
	}
	if (to_set & FUSE_SET_ATTR_MODE) {
		oa.mode = S_IFREG | (attr->st_mode & 07777);
		mask |= OBJECT_SET_MODE;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		oa.uid = attr->st_uid;
		mask |= OBJECT_SET_UID;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		oa.gid = attr->st_gid;
		mask |= OBJECT_SET_GID;
	}
	if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
		oa.mtime = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? now_realtime()
							      : attr->st_mtim;
		mask |= OBJECT_SET_MTIME;
	}
	/* atime alone (touch -a) is accepted and not stored (attr.c top). */
	if (mask)
		return object_setattr(c, n->object_id, &oa, mask);
	return 0;
}

void hfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		 struct fuse_file_info *fi)
{
	struct hfs_req r;
	struct stat st;
	int err;

	(void)fi;
	if (!hfs_req_begin(&r, req, ino, HFS_REQ_WRITE))
		return;
	switch (r.node->kind) {
	case NODE_ROOT:
		err = -EPERM;
		break;
	case NODE_GUEST:
		err = guest_setattr(&r, attr, to_set);
		break;
	case NODE_OBJECT:
		err = hfs_req_need(&r, HFS_REQ_CONTAINER);
		if (!err)
			err = object_setattr_all(r.fs, r.c, r.guest, r.node,
						 attr, to_set);
		break;
	case NODE_SNAPDIR:
	case NODE_SNAPSHOT:
	case NODE_SNAPFILE:
		err = -EROFS; /* snapshots are read-only (snapdir.c) */
		break;
	default:
		err = -EIO;
		break;
	}
	if (!err)
		err = node_stat(&r, &st);
	if (hfs_req_end(&r, err))
		fuse_reply_attr(req, &st, r.fs->attr_timeout);
}
