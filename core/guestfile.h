/*
 * guestfile.h -- adding, opening, renaming and removing a guest's container
 * file in a store directory, crash-safely.
 *
 * A guest `g` is the file `g.hangar` (GUESTFILE_SUFFIX) of the store
 * directory.  These are the only functions that change which guest files
 * exist; they work on any `struct dirio` (dirio.h), so the crash replay
 * (tests/crash/test_crash_store.c, crash replay and fault injection)
 * runs this very code on a recording directory.
 * Policy (who may delete a guest in use or with a saved image) is the
 * store's (store.c); this module is the on-disk protocol only.
 *
 * Invariants, each one a crash argument (core/FORMAT.md section 11):
 *   1. A guest file is never visible incomplete: guestfile_create writes and
 *      commits the container under `.g.hangar.tmp` (a name no guest can
 *      have: guest names never start with a dot), and only after the commit
 *      synced does it rename the file into place, then sync the directory.
 *      A crash leaves no guest or a complete empty one, plus at worst a
 *      temporary file that the next create of that name removes.
 *   2. A call that returned 0 is durable: each one ends with a directory
 *      sync, so a created guest exists, a deleted one is gone and a renamed
 *      one has its new name after any later crash.
 *   3. Rename never replaces (RENAME_NOREPLACE): a guest file is never lost
 *      to a rename onto it.  Where the filesystem has no RENAME_NOREPLACE
 *      (CephFS through ceph-fuse), dirio renames by link then unlink, which
 *      refuses an existing name as atomically; a crash between the two
 *      leaves the file under both names.  After a create that is the
 *      temporary name too: guestfile_open removes it when the read-write
 *      open finds the guest file with two names (-EMLINK).  After a guest
 *      rename it is two guest names: both are refused read-write (-EMLINK)
 *      until a person removes one (FORMAT.md section 11).
 *
 * THREAD MODEL: none of its own; the store never runs two of these on the
 * same guest name at once (store.c reserves names in its guest cache).
 */
#ifndef HANGAR_GUESTFILE_H
#define HANGAR_GUESTFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "container_open.h"
#include "dirio.h"
#include "format.h"
#include "hangar/store.h"

#define GUESTFILE_SUFFIX STORE_GUEST_SUFFIX
/* enough for "." + name + GUESTFILE_SUFFIX + ".tmp" + NUL */
#define GUESTFILE_NAME_MAX (FORMAT_GUEST_NAME_MAX + 16)

/* guestfile_name - "<guest>.hangar" into out[GUESTFILE_NAME_MAX]. */
void guestfile_name(const char *guest, char *out);

/* guestfile_temp_name - ".<guest>.hangar.tmp" into out[GUESTFILE_NAME_MAX]. */
void guestfile_temp_name(const char *guest, char *out);

/*
 * guestfile_create - create guest `guest` as a new empty container with
 * `copts` (cluster size, compression, master key).  -EEXIST if it exists.
 * On failure no guest file was made (a temporary one may be left, harmless).
 */
int guestfile_create(struct dirio *d, const char *guest,
		     const struct container_options *copts);

/*
 * guestfile_clone - create guest `guest` from a copy of the container file
 * behind `src` that shares its extents with it (the FICLONE ioctl: XFS with
 * reflink, btrfs; O(1) in the data), then `prepare` (may be NULL) on the
 * copy opened read-write with `copts`, all under `.g.hangar.tmp`, then the
 * same rename and directory sync as guestfile_create: invariants 1 and 2
 * hold as for a create (the copy is invisible until complete and synced by
 * its container's commits).  The copy is made on the files' descriptors,
 * outside the io seam: -EOPNOTSUPP when either io is no file, and when the
 * filesystem cannot share extents (FICLONE's EOPNOTSUPP, EINVAL, ENOTTY,
 * ENOSYS); -EXDEV when `src` is on another filesystem.  Nothing is ever
 * copied byte by byte here.  -EEXIST if the guest exists.  On failure no
 * guest file was made and the temporary is removed.
 */
int guestfile_clone(struct dirio *d, struct io *src, const char *guest,
		    const struct container_options *copts,
		    int (*prepare)(struct container *c, void *arg), void *arg);

/* guestfile_open - open the container file of `guest` (O_RDONLY / O_RDWR). */
int guestfile_open(struct dirio *d, const char *guest, int flags,
		   struct io **out_io);

/* guestfile_delete - remove the guest file; -ENOENT if there is none. */
int guestfile_delete(struct dirio *d, const char *guest);

/* guestfile_rename - rename guest `from` to `to`; -EEXIST if `to` exists. */
int guestfile_rename(struct dirio *d, const char *from, const char *to);

#endif /* HANGAR_GUESTFILE_H */
