/*
 * req.c -- one request, from the node it names to its reply.
 *
 * Every low-level op that works on a node reads the same way:
 *
 *     struct hfs_req r;
 *
 *     if (!hfs_req_begin(&r, req, ino, HFS_REQ_GUEST | HFS_REQ_WRITE |
 *                                      HFS_REQ_CONTAINER))
 *             return;                      (begin has replied)
 *     err = ...work on r.node, r.c, r.guest...;
 *     if (hfs_req_end(&r, err))            (an error is replied here)
 *             fuse_reply_entry(req, &e);   (the one success reply)
 *
 * or, for ops whose only reply is a status, hfs_req_end_status(&r, err).
 *
 * The reply rule: every request is replied exactly once, by exactly one of
 *   - hfs_req_begin, when it returns false: ESTALE (the node is gone), the
 *     kind errno, EROFS, or the guest's open error (through hfs_errno);
 *     nothing is held and the op returns at once;
 *   - hfs_req_end, when `err` is non-zero: hfs_errno(err);
 *   - the op itself, right after hfs_req_end returned true, with its success
 *     reply: entry (lookup, mkdir, mknod), create (create), attr (getattr,
 *     setattr), open (open, opendir), buf (read), write (write_buf,
 *     copy_file_range), lseek (lseek), xattr size, buf or ERANGE (getxattr,
 *     listxattr); hfs_req_end_status replies 0 for unlink, rmdir, rename,
 *     fsyncdir, setxattr, flush, release, fsync and fallocate.
 * Ops that name no node and take nothing (forget, forget_multi, readdir,
 * releasedir, statfs, symlink, link, removexattr) reply directly.
 *
 * The reply comes after hfs_req_end, never before: the end drops the
 * guest's container reference, and the kernel may send its next request
 * (an rmdir of that guest) as soon as it has the reply; store_guest_delete
 * would find the guest still in use (hangarfs.h).
 *
 * What begin checks, in this order (later checks an op needs after its own
 * validation are asked for with hfs_req_need, which replies nothing):
 *   1. the node exists (nodes_get), else ESTALE;
 *   2. its kind is one of HFS_REQ_ROOT/GUEST/OBJECT/SNAPDIR/SNAPFILE (none:
 *      any), else the
 *      errno given with HFS_REQ_OTHER_KIND, by default ENOTDIR where a
 *      directory was needed and EISDIR where a file was;
 *   3. HFS_REQ_WRITE: the mount is not read-only, else EROFS;
 *   4. HFS_REQ_CONTAINER: the container of the node's guest is taken
 *      (guest_acquire; nothing for the root), else its error.
 *
 * The log context (log_set_guest: the guest named by container events that
 * do not carry one) is set here only, to r->guest, when a container is
 * taken or a file request begins, and cleared by hfs_req_end.  It points
 * into the request, which lives on the op's stack until the end.
 *
 * THREAD MODEL: a request belongs to the worker thread running its op; no
 * state of its own.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hangarfs.h"

/* The errno for a node of a kind the op does not take. */
static int req_wrong_kind(unsigned need)
{
	unsigned given = need >> HFS_REQ_ERRNO_SHIFT;

	if (given)
		return -(int)given;
	if (need & (HFS_REQ_ROOT | HFS_REQ_GUEST | HFS_REQ_SNAPDIR))
		return -ENOTDIR;
	return -EISDIR;
}

static bool req_kind_ok(const struct node *n, unsigned need)
{
	switch (n->kind) {
	case NODE_ROOT:
		return need & HFS_REQ_ROOT;
	case NODE_GUEST:
		return need & HFS_REQ_GUEST;
	case NODE_OBJECT:
		return need & HFS_REQ_OBJECT;
	case NODE_SNAPDIR:
	case NODE_SNAPSHOT:
		return need & HFS_REQ_SNAPDIR;
	case NODE_SNAPFILE:
		return need & HFS_REQ_SNAPFILE;
	}
	return false;
}

int hfs_req_need(struct hfs_req *r, unsigned need)
{
	struct node *guest;
	int err;

	if ((need & HFS_REQ_ANY_KIND) && !req_kind_ok(r->node, need))
		return req_wrong_kind(need);
	if ((need & HFS_REQ_WRITE) && r->fs->read_only)
		return -EROFS;
	if (!(need & HFS_REQ_CONTAINER) || r->c || r->node->kind == NODE_ROOT)
		return 0;
	guest = r->node->kind == NODE_GUEST ? r->node : r->node->guest;
	err = guest_acquire(r->fs, guest, need & HFS_REQ_FRESH, r->guest,
			    &r->c);
	if (err) {
		r->c = NULL;
		return err;
	}
	log_set_guest(r->guest);
	return 0;
}

bool hfs_req_begin(struct hfs_req *r, fuse_req_t req, fuse_ino_t ino,
		   unsigned need)
{
	int err;

	memset(r, 0, sizeof(*r));
	r->req = req;
	r->fs = fuse_req_userdata(req);
	r->node = nodes_get(ino);
	err = r->node ? hfs_req_need(r, need) : -ESTALE;
	if (err) {
		fuse_reply_err(req, hfs_errno(err));
		return false;
	}
	return true;
}

void hfs_req_begin_file(struct hfs_req *r, fuse_req_t req, const char *guest)
{
	memset(r, 0, sizeof(*r));
	r->req = req;
	r->fs = fuse_req_userdata(req);
	snprintf(r->guest, sizeof(r->guest), "%s", guest);
	log_set_guest(r->guest);
}

struct container *hfs_req_keep_container(struct hfs_req *r)
{
	struct container *c = r->c;

	r->c = NULL;
	return c;
}

bool hfs_req_end(struct hfs_req *r, int err)
{
	log_set_guest(NULL);
	if (r->c)
		guest_release(r->fs, r->c);
	r->c = NULL;
	if (err) {
		fuse_reply_err(r->req, hfs_errno(err));
		return false;
	}
	return true;
}

void hfs_req_end_status(struct hfs_req *r, int err)
{
	if (hfs_req_end(r, err))
		fuse_reply_err(r->req, 0);
}
