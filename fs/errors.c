/*
 * errors.c -- the one place where core's results become FUSE errors.
 *
 * Core returns 0 or a negative errno with one vocabulary (docs/style.md).  Most codes mean to a caller exactly what they mean to core and pass
 * through unchanged (ENOSPC, EBUSY, EROFS, ENOENT, EEXIST, ENOTEMPTY, ...).
 * The corrupt-metadata codes do not: an application reading a disk image
 * knows what to do with EIO, not with EUCLEAN or EBADMSG, so those become
 * EIO (the daemon logs the real cause), and so do the other reasons a
 * container cannot be opened (EPROTONOSUPPORT: written by a newer hangar;
 * ENOKEY/EKEYREJECTED: a guest the store's key does not open; ENOLCK: a
 * container that lost its lease, and ESHUTDOWN, what an evicted ceph-fuse
 * client answers: docs/multihost.md).  Lesson from squashfuse: never
 * collapse everything else to EIO.
 */
#include <errno.h>
#include <string.h>

#include "hangarfs.h"

int hfs_errno(int err)
{
	int e = err < 0 ? -err : err;

	switch (e) {
	case 0:
		return EIO; /* a caller bug: never reply "error 0" */
	case EUCLEAN:
	case EBADMSG:
	case EPROTONOSUPPORT:
	case ENOKEY:	   /* a container whose key we do not have */
	case EKEYREJECTED: /* ... or that our key does not open */
	case ELOOP:	   /* a guest file that is a symbolic link */
	case EMEDIUMTYPE:  /* ... or not a regular file */
	case EMLINK:	   /* ... or hard-linked: never opened to write */
	case ENOLCK:	   /* lost the lease (io_file.c): a sync not proven */
	case ESHUTDOWN:	   /* a CephFS client evicted from its cluster */
		return EIO;
	default:
		return e;
	}
}

const char *hfs_strerror(int err)
{
	/* strerrordesc_np is glibc >= 2.32 and thread-safe (no buffer). */
	const char *s = strerrordesc_np(err < 0 ? -err : err);

	return s ? s : "unknown error";
}
