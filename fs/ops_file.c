/*
 * ops_file.c -- the data path: open, read, write, flush, fsync, release,
 * fallocate, lseek and copy_file_range on objects.
 *
 * Notes on the design
 * -------------------
 *  - A handle (struct handle) is one open file.  It holds a container
 *    reference (store_guest_get) and an object pin (object_open) from open
 *    to release, so an unlinked object stays readable and writable through
 *    it, and core can tell writers apart for the save lock.
 *  - The save lock: a read-write open, an O_TRUNC open, truncate and
 *    fallocate ask save_lock_check_write first and are refused with EBUSY
 *    (logged with core's reason) while a sealed image pins the disk.
 *    Writes through handles opened before the save are core's business
 *    (object_write invalidates the image first).
 *  - Sealing: when the last write handle of the object named memory.save
 *    is closed, the image is sealed (save_lock_seal).  The kernel sends
 *    RELEASE asynchronously after close(2) returns, but FLUSH synchronously,
 *    so the seal is done at the last writer's FLUSH if the handle wrote
 *    since the last seal, and always at its RELEASE (a no-op if nothing
 *    changed): a program that closes memory.save and then opens a disk sees
 *    the lock, with no window.  FLUSH also comes from closing a dup'd
 *    descriptor (dd opens, dup2s and closes before writing), hence the
 *    "wrote" test: an image is not sealed before its first byte.
 *  - Durability: fsync and fdatasync commit the container (never ENOSYS:
 *    the kernel would then fake success for every later fsync).  Handles
 *    opened with O_SYNC commit before replying to each write; O_DSYNC
 *    ones sync the data (container_sync_data: one fdatasync and no commit
 *    when only data in place changed), as fdatasync does.
 *    Everything else is committed by core's background committer or at
 *    unmount.
 *  - No writeback cache: every write reaches us before write(2) returns,
 *    so no dirty page can reach a pinned disk after its image was sealed.
 *  - A file of a snapshot (GUEST/.snapshots/NAME/FILE, snapdir.c) opens
 *    read-only only (EROFS otherwise).  Its handle holds the guest's
 *    container AND the snapshot's view (container_snapshot_open) from open
 *    to release, closing the view before the container goes back to the
 *    store: reads, lseek and copy_file_range's source go to the view, and
 *    the snapshot cannot be deleted meanwhile (rmdir: EBUSY).
 *
 * Requests on a handle begin with handle_begin (hfs_req_begin_file: the
 * log context names the handle's guest) and end with hfs_req_end, which
 * replies the error (req.c has the reply rule).
 *
 * THREAD MODEL: a handle's fields are set at open and read-only until
 * release; libfuse never runs release concurrently with another request on
 * the same handle.  Concurrent reads and writes on one handle are allowed
 * (core serialises what must be).  Node counters are under the node table
 * mutex (nodes.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "hangarfs.h"
#include "hangar/savelock.h"

#define COPY_CHUNK (1u << 20)

struct handle {
	const struct hfs *fs;
	struct node *node;   /* object or snapshot file node; a ref is held */
	struct container *c; /* guest reference held */
	/* a snapshot file: the snapshot's view of `c`, held until release
	 * (closed before `c` is put back); NULL for a live object */
	struct container *view;
	uint64_t id;
	char guest[HFS_GUEST_NAME_MAX]; /* guest name at open, for logs */
	bool for_write;
	bool sync;	   /* O_SYNC/O_DSYNC: sync each write (handle_sync) */
	bool sync_data;	   /* O_DSYNC without O_SYNC: data only */
	bool disk;	   /* counted in the guest's disk writers */
	atomic_bool wrote; /* data changed since the last seal */
};

static struct handle *handle_of(const struct fuse_file_info *fi)
{
	return (struct handle *)(uintptr_t)fi->fh;
}

/* Where `h`'s object is read: the snapshot's view, or the live guest. */
static struct container *handle_data(const struct handle *h)
{
	return h->view ? h->view : h->c;
}

/* Begin request `req` on the open file `fi`. */
static struct handle *handle_begin(struct hfs_req *r, fuse_req_t req,
				   const struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);

	hfs_req_begin_file(r, req, h->guest);
	return h;
}

/* Log a failed data operation (I/O errors only; ENOSPC etc. are the
 * caller's to report). */
static void handle_log_error(struct handle *h, const char *what,
			     uint64_t offset, int err)
{
	char name[HFS_OBJECT_NAME_MAX];

	if (hfs_errno(err) != EIO)
		return;
	if (object_name_of(handle_data(h), h->id, name, sizeof(name)) != 0 ||
	    !name[0])
		snprintf(name, sizeof(name), "(object %llu)",
			 (unsigned long long)h->id);
	if (h->view)
		log_object(LOG_ERR, h->guest, name,
			   "%s/" HFS_SNAPSHOTS_DIR "/%s/%s: %s at offset %llu "
			   "failed: %s",
			   h->guest, h->node->snap_name, name, what,
			   (unsigned long long)offset, hfs_strerror(err));
	else
		log_object(LOG_ERR, h->guest, name,
			   "%s/%s: %s at offset %llu failed: %s", h->guest,
			   name, what, (unsigned long long)offset,
			   hfs_strerror(err));
}

/*
 * Seal the image if `h` writes the object currently named memory.save and
 * is its last writer.  Logs the seal once (not again on the no-op repeat).
 * Returns the seal's error, for the writer's close(2): a failed seal must
 * fail `xl save` / `virsh save`, never leave them believing it worked.
 */
static int handle_seal_if_image(struct handle *h)
{
	char name[HFS_OBJECT_NAME_MAX];
	char reason[512] = "";
	struct save_status *before;
	bool was_judged;
	int err;

	if (object_name_of(h->c, h->id, name, sizeof(name)) != 0 ||
	    strcmp(name, SAVE_IMAGE_NAME) != 0)
		return 0;
	before = malloc(sizeof(*before));
	if (!before)
		return -ENOMEM;
	was_judged = save_lock_status(h->c, before) == 0 &&
		     before->state != SAVE_STATE_NONE &&
		     before->image_id == h->id && !before->image_unsealed;
	free(before);
	err = save_lock_seal_why(h->c, reason, sizeof(reason));
	if (err)
		log_object(LOG_ERR, h->guest, name,
			   "%s/%s: cannot seal the save image: %s%s%s; it is "
			   "not resumable",
			   h->guest, name, hfs_strerror(err),
			   reason[0] ? ": " : "", reason);
	else if (!was_judged)
		savelog_sealed(h->c, h->guest, "closed after writing");
	return err;
}

/* Undo file_open_object. */
static void handle_close(struct hfs *fs, struct handle *h, bool seal)
{
	if (h->for_write && nodes_writer_drop(h->node, h->disk) == 0 && seal)
		(void)handle_seal_if_image(h); /* RELEASE cannot report it */
	if (h->view)
		container_snapshot_close(h->c, h->view); /* before the guest */
	else
		object_release(h->c, h->id, h->for_write);
	pin_handle(fs, h->c, false);
	guest_release(fs, h->c);
	nodes_unref(h->node);
	free(h);
}

/* The handle is ready: the request's container becomes the handle's, and
 * the kernel gets its cache choices. */
static void handle_publish(struct hfs_req *r, struct handle *h,
			   struct fuse_file_info *fi)
{
	h->c = hfs_req_keep_container(r); /* the handle's until release */
	pin_handle(r->fs, h->c, true);
	nodes_ref(h->node);
	if (h->for_write)
		nodes_writer_add(h->node, h->disk);
	/* The page cache is dropped at each open (keep_cache = 0): cheap for
	 * disks opened O_DIRECT, and always coherent with other handles.
	 * O_DIRECT opens (QEMU cache=none) get FOPEN_DIRECT_IO: the kernel
	 * then skips its per-write security.capability GETXATTR round trip
	 * (file_remove_privs), which otherwise doubles the requests per
	 * write; the caller asked to bypass the page cache anyway. */
	fi->keep_cache = 0;
	fi->direct_io = (fi->flags & O_DIRECT) != 0;
	fi->fh = (uint64_t)(uintptr_t)h;
}

/* file_open_object for a file of a snapshot: read-only, through a view
 * the handle holds until release (top of file).  Frees `h` on error. */
static int file_open_snapshot(struct hfs_req *r, struct handle *h,
			      struct fuse_file_info *fi)
{
	struct object_attr oa;
	int err;

	if (h->for_write || (fi->flags & O_TRUNC)) {
		err = -EROFS;
		goto out_free;
	}
	err = snap_view_open(h->c, h->node, &h->view);
	if (err)
		goto out_free;
	err = object_getattr(h->view, h->id, &oa);
	if (err)
		goto out_close;
	handle_publish(r, h, fi);
	return 0;

out_close:
	container_snapshot_close(h->c, h->view);
out_free:
	free(h);
	return err;
}

/*
 * Open object node `obj` of request `r` (its own node for open, the
 * directory's new or existing file for create) for a handle: EROFS for a
 * write open on a read-only mount, then the request's container, which the
 * handle keeps until release.  On success stores the handle in fi->fh and
 * returns 0; else a negative errno, and the request still holds (and its
 * end drops) whatever it took.  Does not reply.
 */
static int file_open_object(struct hfs_req *r, struct node *obj,
			    struct fuse_file_info *fi)
{
	struct object_attr oa;
	struct handle *h;
	int acc = fi->flags & O_ACCMODE;
	bool for_write = acc == O_WRONLY || acc == O_RDWR;
	int err;

	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->fs = r->fs;
	h->node = obj;
	h->id = obj->object_id;
	h->for_write = for_write;
	h->sync = (fi->flags & (O_SYNC | O_DSYNC)) != 0;
	/* O_SYNC includes O_DSYNC's bit on Linux */
	h->sync_data = (fi->flags & O_SYNC) != O_SYNC;
	atomic_init(&h->wrote, false);
	err = hfs_req_need(r, HFS_REQ_CONTAINER | HFS_REQ_FRESH |
				      (for_write ? HFS_REQ_WRITE : 0));
	if (err)
		goto out_free;
	h->c = r->c; /* the request's until the handle keeps it, below */
	snprintf(h->guest, sizeof(h->guest), "%s", r->guest);
	if (obj->kind == NODE_SNAPFILE)
		return file_open_snapshot(r, h, fi);
	err = object_getattr(h->c, h->id, &oa);
	if (err)
		goto out_free;
	h->disk = oa.role == OBJECT_ROLE_DISK;
	if (h->for_write) {
		err = savelog_check_write(r->fs, h->c, h->guest, h->id,
					  (fi->flags & O_TRUNC)
						  ? "truncating open"
						  : "read-write open");
		if (err)
			goto out_free;
	}
	err = object_open(h->c, h->id, h->for_write);
	if (err)
		goto out_free;
	/* Even an empty file: O_TRUNC marks mtime and ctime for update
	 * (POSIX open(); object_truncate touches them). */
	if (h->for_write && (fi->flags & O_TRUNC)) {
		err = object_truncate(h->c, h->id, 0);
		if (err)
			goto out_release;
	}
	handle_publish(r, h, fi);
	return 0;

out_release:
	object_release(h->c, h->id, h->for_write);
out_free:
	free(h);
	return err;
}

void hfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct hfs_req r;
	int err;

	if (!hfs_req_begin(&r, req, ino, HFS_REQ_OBJECT | HFS_REQ_SNAPFILE))
		return;
	err = file_open_object(&r, r.node, fi);
	if (hfs_req_end(&r, err) && fuse_reply_open(req, fi) != 0)
		handle_close(r.fs, handle_of(fi), false);
}

void hfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		mode_t mode, struct fuse_file_info *fi)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fuse_entry_param e;
	struct hfs_req r;
	struct node *n = NULL;
	uint64_t id;
	int err;

	/* No files in the root; snapshots are read-only. */
	if (!hfs_req_begin(&r, req, parent,
			   HFS_REQ_GUEST | HFS_REQ_SNAPDIR |
				   HFS_REQ_OTHER_KIND(EPERM) | HFS_REQ_WRITE |
				   HFS_REQ_CONTAINER))
		return;
	err = hfs_name_check(r.node, name);
	if (err)
		;
	else if (r.node->kind != NODE_GUEST)
		err = -EROFS;
	else if (strcmp(name, HFS_SNAPSHOTS_DIR) == 0)
		err = -EEXIST; /* the directory of snapshots has the name */
	else
		err = object_create(r.c, name, S_IFREG | (mode & 07777),
				    ctx->uid, ctx->gid, &id);
	if (err == -EEXIST && !(fi->flags & O_EXCL) &&
	    r.node->kind == NODE_GUEST && strcmp(name, HFS_SNAPSHOTS_DIR) != 0)
		err = object_lookup(r.c, name, &id);
	if (!err)
		err = dir_make_entry(r.fs, r.node, r.c, name, id, &e, &n);
	if (!err) {
		err = file_open_object(&r, n, fi);
		if (err)
			nodes_forget(n, 1);
	}
	if (hfs_req_end(&r, err) && fuse_reply_create(req, &e, fi) != 0) {
		handle_close(r.fs, handle_of(fi), false);
		nodes_forget(n, 1);
	}
}

void hfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	      struct fuse_file_info *fi)
{
	struct hfs_req r;
	struct handle *h = handle_begin(&r, req, fi);
	size_t got = 0;
	char *buf;
	int err;

	(void)ino;
	buf = malloc(size ? size : 1);
	if (!buf) {
		err = -ENOMEM;
	} else {
		err = object_read(handle_data(h), h->id, buf, size,
				  (uint64_t)off, &got);
		if (err)
			handle_log_error(h, "read", (uint64_t)off, err);
	}
	if (hfs_req_end(&r, err))
		fuse_reply_buf(req, buf, got);
	free(buf);
}

/* What an O_SYNC (commit) or O_DSYNC (container_sync_data: data rewritten
 * in place needs one fdatasync and no commit; QEMU's cache=writethrough
 * opens disks so) handle does after each change. */
static int handle_sync(const struct handle *h)
{
	return h->sync_data ? container_sync_data(h->c)
			    : container_commit(h->c);
}

/* Write `len` bytes at `off` through `h`, synced for O_SYNC/O_DSYNC. */
static int handle_write(struct handle *h, const void *data, size_t len,
			uint64_t off)
{
	int err;

	atomic_store(&h->wrote, true);
	err = object_write(h->c, h->id, data, len, off);
	if (!err && h->sync)
		err = handle_sync(h);
	if (err)
		handle_log_error(h, "write", off, err);
	return err;
}

void hfs_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv,
		   off_t off, struct fuse_file_info *fi)
{
	struct hfs_req r;
	struct handle *h = handle_begin(&r, req, fi);
	size_t len = fuse_buf_size(bufv);
	const struct fuse_buf *b = &bufv->buf[bufv->idx];
	struct fuse_bufvec mem = FUSE_BUFVEC_INIT(len);
	void *copy = NULL;
	const void *data;
	ssize_t copied;
	int err;

	(void)ino;
	if (bufv->count - bufv->idx == 1 && !(b->flags & FUSE_BUF_IS_FD)) {
		/* The usual case: one buffer in memory, written in place. */
		data = (const char *)b->mem + bufv->off;
		len = b->size - bufv->off;
	} else {
		/* Spliced or scattered: gather into one buffer. */
		copy = malloc(len ? len : 1);
		if (!copy) {
			err = -ENOMEM;
			goto out_reply;
		}
		mem.buf[0].mem = copy;
		copied = fuse_buf_copy(&mem, bufv, 0);
		if (copied < 0) {
			err = (int)copied;
			goto out_reply;
		}
		len = (size_t)copied;
		data = copy;
	}
	err = handle_write(h, data, len, (uint64_t)off);
out_reply:
	if (hfs_req_end(&r, err))
		fuse_reply_write(req, len);
	free(copy);
}

void hfs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct hfs_req r;
	struct handle *h = handle_begin(&r, req, fi);
	int err = 0;

	(void)ino;
	if (h->for_write && nodes_writers(h->node) == 1 &&
	    atomic_exchange(&h->wrote, false))
		err = handle_seal_if_image(h);
	hfs_req_end_status(&r, err);
}

void hfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct hfs_req r;
	struct handle *h = handle_begin(&r, req, fi);

	(void)ino;
	handle_close(r.fs, h, true); /* frees h; the request kept its name */
	hfs_req_end_status(&r, 0);
}

void hfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
	       struct fuse_file_info *fi)
{
	struct hfs_req r;
	struct handle *h = handle_begin(&r, req, fi);
	int err;

	(void)ino;
	/* a snapshot is durable since the commit that took it; fdatasync
	 * after overwrites in place is one sync, no commit
	 * (container_sync_data); everything else is a commit */
	if (h->view)
		err = 0;
	else if (datasync)
		err = container_sync_data(h->c);
	else
		err = container_commit(h->c);
	if (err)
		handle_log_error(h, "fsync", 0, err);
	hfs_req_end_status(&r, err);
}

static int handle_fallocate(struct handle *h, int mode, uint64_t offset,
			    uint64_t length)
{
	const int known = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE |
			  FALLOC_FL_ZERO_RANGE;
	bool keep_size = mode & FALLOC_FL_KEEP_SIZE;
	struct object_attr oa;
	int err;

	if (mode & ~known)
		return -EOPNOTSUPP; /* collapse, insert, unshare */
	if (!h->for_write)
		return -EBADF;
	err = savelog_check_write(h->fs, h->c, h->guest, h->id, "fallocate");
	if (err)
		return err;
	atomic_store(&h->wrote, true);
	if (mode & FALLOC_FL_PUNCH_HOLE) {
		if (!keep_size)
			return -EOPNOTSUPP; /* fallocate(2) requires it */
		err = object_punch(h->c, h->id, offset, length);
	} else if (mode & FALLOC_FL_ZERO_RANGE) {
		err = object_zero(h->c, h->id, offset, length, keep_size);
	} else if (!keep_size) {
		/* Plain allocation: space is taken at write time (clusters
		 * are copy-on-write), so only the size can change here. */
		err = object_getattr(h->c, h->id, &oa);
		if (!err && offset + length > oa.size)
			err = object_truncate(h->c, h->id, offset + length);
	}
	if (!err && h->sync)
		err = handle_sync(h);
	if (err)
		handle_log_error(h, "fallocate", offset, err);
	return err;
}

void hfs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
		   off_t length, struct fuse_file_info *fi)
{
	struct hfs_req r;
	struct handle *h = handle_begin(&r, req, fi);
	int err;

	(void)ino;
	if (offset < 0 || length <= 0)
		err = -EINVAL;
	else
		err = handle_fallocate(h, mode, (uint64_t)offset,
				       (uint64_t)length);
	hfs_req_end_status(&r, err);
}

void hfs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
	       struct fuse_file_info *fi)
{
	struct hfs_req r;
	struct handle *h = handle_begin(&r, req, fi);
	uint64_t out = 0;
	int err;

	(void)ino;
	if (off < 0)
		err = -ENXIO;
	else if (whence != SEEK_DATA && whence != SEEK_HOLE)
		err = -EINVAL; /* the kernel answers the others itself */
	else
		err = object_seek(handle_data(h), h->id, (uint64_t)off, whence,
				  &out);
	if (hfs_req_end(&r, err))
		fuse_reply_lseek(req, (off_t)out);
}

void hfs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			 struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			 off_t off_out, struct fuse_file_info *fi_out,
			 size_t len, int flags)
{
	struct hfs_req r;
	struct handle *in = handle_of(fi_in);
	struct handle *out = handle_begin(&r, req, fi_out);
	size_t done = 0;
	char *buf = NULL;
	int err = 0;

	(void)ino_in;
	(void)ino_out;
	if (flags != 0 || off_in < 0 || off_out < 0) {
		err = -EINVAL;
		goto out_reply;
	}
	if (!out->for_write) {
		err = -EBADF;
		goto out_reply;
	}
	if (in->c == out->c) {
		/* two files of one guest, or a file of one of its snapshots
		 * into the guest: whole clusters are shared */
		uint64_t got = 0;
		atomic_store(&out->wrote, true);
		err = object_copy_range(out->c, handle_data(in), in->id,
					(uint64_t)off_in, out->id,
					(uint64_t)off_out, len, &got);
		done = (size_t)got;
		if (err)
			handle_log_error(out, "copy_file_range",
					 (uint64_t)off_out, err);
		goto out_synced;
	}
	buf = malloc(len < COPY_CHUNK ? (len ? len : 1) : COPY_CHUNK);
	if (!buf) {
		err = -ENOMEM;
		goto out_reply;
	}
	while (done < len) {
		size_t want = len - done < COPY_CHUNK ? len - done : COPY_CHUNK;
		size_t got = 0;

		err = object_read(handle_data(in), in->id, buf, want,
				  (uint64_t)off_in + done, &got);
		if (err || got == 0)
			break;
		atomic_store(&out->wrote, true);
		err = object_write(out->c, out->id, buf, got,
				   (uint64_t)off_out + done);
		if (err)
			break;
		done += got;
	}
	if (err)
		handle_log_error(out, "copy_file_range",
				 (uint64_t)off_out + done, err);
	/* A partial copy is a short count, as for write(2)... */
	if (done)
		err = 0;
out_synced:
	/* ...but what was copied must be durable for an O_SYNC target. */
	if (done && out->sync)
		err = handle_sync(out);
out_reply:
	if (hfs_req_end(&r, err))
		fuse_reply_write(req, done);
	free(buf);
}
