/*
 * dirio.h -- the narrow seam through which core changes a store's guest files.
 *
 * Which guest files a store directory holds, under which names, changes only
 * through a `struct dirio`: open a file in it (as a `struct io`, io.h), test
 * a name, rename without replacing, unlink, and sync the directory.  Guest
 * files are reached only through guestfile.h on a dirio; store.c still
 * handles its own small files (.hangar-store, .hangar-lock, .hangar-keys)
 * on the directory descriptor directly.  That is what lets
 * tests/crash/test_crash_store record every namespace change next to every
 * write and sync of the files, replay the crash states, and fail the Nth
 * call, exactly as io.h does for one file.
 *
 * Names are single path components, already validated by the caller
 * (names.h); a dirio never resolves `/` or `..`.
 *
 * Contract of every operation: 0 or a negative errno.  rename never
 * replaces (-EEXIST if `to` exists) and is atomic: after a crash the file
 * is under exactly one of the two names -- except on a filesystem without
 * RENAME_NOREPLACE (CephFS through ceph-fuse), where the file rename links
 * the new name and then unlinks the old one, and a crash in between leaves
 * both (guestfile.h, invariant 3).  A namespace change is durable
 * only once a later sync of the directory returned 0; until then a crash may
 * keep any prefix of the changes made since the last sync (journalled
 * filesystems commit directory changes in order).
 *
 * Ownership: the dirio belongs to whoever opened it; files opened through it
 * are owned by the caller (io_close) and stay valid after the dirio is
 * closed.  THREAD MODEL: the file implementation is safe from any number of
 * threads; the store serialises namespace changes
 * per guest name (store.c).
 */
#ifndef HANGAR_DIRIO_H
#define HANGAR_DIRIO_H

#include "io.h"

struct dirio;

struct dirio_ops {
	/* flags as io_file_open: O_RDONLY or O_RDWR, | O_CREAT | O_EXCL;
	 * -EBUSY when another open's lock conflicts (dirio_file_open) */
	int (*open)(struct dirio *d, const char *name, int flags,
		    struct io **out_io);
	int (*exists)(struct dirio *d, const char *name); /* 0 or -ENOENT */
	int (*rename)(struct dirio *d, const char *from, const char *to);
	int (*unlink)(struct dirio *d, const char *name);
	int (*sync)(struct dirio *d);
	void (*close)(struct dirio *d);
};

struct dirio {
	const struct dirio_ops *ops;
};

static inline int dirio_open(struct dirio *d, const char *name, int flags,
			     struct io **out_io)
{
	return d->ops->open(d, name, flags, out_io);
}

static inline int dirio_exists(struct dirio *d, const char *name)
{
	return d->ops->exists(d, name);
}

static inline int dirio_rename(struct dirio *d, const char *from,
			       const char *to)
{
	return d->ops->rename(d, from, to);
}

static inline int dirio_unlink(struct dirio *d, const char *name)
{
	return d->ops->unlink(d, name);
}

static inline int dirio_sync(struct dirio *d)
{
	return d->ops->sync(d);
}

/* dirio_close - free a dirio.  Accepts NULL. */
void dirio_close(struct dirio *d);

/*
 * dirio_file_open - the real-directory dirio over `dir_fd` (borrowed: it
 * must stay open while the dirio is used; the dirio never closes it).
 * Returns 0 and sets *out, or -ENOMEM.
 *
 * Its open() never follows a symbolic link (-ELOOP), opens only regular
 * files (-EMEDIUMTYPE), and holds an flock on every file it opens until
 * io_close: exclusive for O_RDWR, shared for O_RDONLY; -EBUSY when another
 * open holds a conflicting one.  O_RDWR of a file with several names
 * (st_nlink > 1) is -EMLINK.  With DIRIO_FILE_READ_BESIDE_WRITER in
 * `flags`, an O_RDONLY open that a writer's lock refuses proceeds without
 * a lock: only for callers that read nothing but checksummed metadata and
 * treat a checksum failure as "changed under me" (store.h).
 */
#define DIRIO_FILE_READ_BESIDE_WRITER 1u
/* rename by linkat + unlinkat always, as where the filesystem has no
 * RENAME_NOREPLACE (it is used there by itself): for the tests of that
 * path on a filesystem that has it */
#define DIRIO_FILE_RENAME_BY_LINK 2u
/* every file opened read-write gets io_file_set_lease_check (io.h): its
 * syncs prove the container lock still holds (store.h, lease_check) */
#define DIRIO_FILE_LEASE_CHECK 4u
/* every file opened read-write gets the holder record (lockinfo.h): for a
 * filesystem hosts share, whose locks /proc/locks does not show */
#define DIRIO_FILE_HOLDER_RECORD 8u
int dirio_file_open(int dir_fd, unsigned flags, struct dirio **out);

#endif /* HANGAR_DIRIO_H */
