/*
 * mounts.h -- the host's mount table, read and changed the way both
 * programs need it: libmount (util-linux) reads /proc/self/mountinfo and
 * does the unmount, so neither program parses mountinfo's escapes or
 * relays a raw fusermount3 error.  Shared by fs/ (hangarfs: a dead mount
 * point in its way) and cli/ (hangar: umount, and checking the mount a
 * daemon reports).
 *
 * Policy stays with the callers: which mounts they may touch (only
 * fuse.hangarfs ones), what a person reads.  Nothing here prints.
 *
 * Paths: the mount table names a mount point by its canonical path.  A dead
 * FUSE mount point (its daemon killed: every stat of it fails with
 * ENOTCONN) cannot be canonicalized, so mounts_path_absolute resolves
 * everything but the last component, which is what the table holds for it.
 *
 * Ownership: results are copied into the caller's struct; no state is kept
 * between calls.
 *
 * THREAD MODEL: every function is thread-safe (each call has its own
 * libmount table or context).  mounts_detach forks fusermount3 when not
 * root: call it where a fork is safe (hangarfs: before its session loop).
 */
#ifndef HANGAR_COMMON_MOUNTS_H
#define HANGAR_COMMON_MOUNTS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The type hangarfs mounts carry ("fuse." + its subtype=hangarfs). */
#define MOUNTS_HANGARFS_TYPE "fuse.hangarfs"

/* One mount, as the mount table lists it. */
struct mount_entry {
	char target[PATH_MAX]; /* mount point */
	char source[PATH_MAX]; /* hangarfs: the store directory */
	char fstype[64];       /* "fuse.hangarfs", "ext4", ... */
	dev_t dev;	       /* the mounted file system's st_dev */
	long owner; /* FUSE: the uid that mounted it (user_id=); else -1 */
};

/*
 * mounts_path_absolute - `path` as the mount table would name it: its
 * realpath when it has one, else (a dead mount point: ENOTCONN, or a path
 * that does not exist) its parent's realpath and its own last component.
 * 0, -ENAMETOOLONG, or the parent's realpath error (-ENOENT ...).
 */
int mounts_path_absolute(const char *path, char *out, size_t out_len);

/*
 * mounts_find_target - the topmost mount at `path` (absolute, from
 * mounts_path_absolute).  0 with *out filled, -ENOENT when nothing is
 * mounted there, -ENOMEM, or -errno reading the table.
 */
int mounts_find_target(const char *path, struct mount_entry *out);

/* mounts_has_fuse - whether the table lists a FUSE mount (type fuse or
 * fuse.*) of device `dev` at `path`. */
bool mounts_has_fuse(dev_t dev, const char *path);

/*
 * mounts_detach - unmount the mount at `path` (absolute), lazily (detach
 * now, the file system goes when its last user does) when `lazy`.  As
 * root through libmount; otherwise through fusermount3 (setuid: an
 * unprivileged user may unmount only the FUSE mounts they made).  Works on
 * a dead FUSE mount point.  0; -EBUSY (in use, and not lazy); -EPERM (not
 * allowed: another user's mount); -ENOENT (nothing mounted there); -ENOEXEC
 * (no fusermount3); -EIO (fusermount3 failed otherwise); -errno.
 */
int mounts_detach(const char *path, bool lazy);

#endif /* HANGAR_COMMON_MOUNTS_H */
