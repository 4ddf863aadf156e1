/*
 * io.h -- the one narrow seam through which core touches a container file.
 * Private: outside core an io is opaque (hangar/io.h: struct io, io_close).
 *
 * Every byte the store library reads from or writes to a container goes
 * through a `struct io`: pread, pwrite, fdatasync, ftruncate, fallocate,
 * size, and writeback (the work of a coming fdatasync done early, with no
 * durability of its own).  Nothing in core calls the corresponding system
 * calls on a container directly.  That is what lets tests record every write and sync, fail the
 * Nth call, shorten a write, or stop the world before a sync and replay the
 * crash states (tests/crash/).
 *
 * Contract of every operation: returns 0 on success or a negative errno.
 * pread/pwrite transfer the whole length or fail: a short transfer is retried
 * inside the file implementation and reported as -EIO only if no progress is
 * possible; a read past end of file fills the remainder with zeros (the
 * container never relies on reading beyond what it wrote, but a crash may
 * leave a file shorter than a committed offset only if the disk lied, and that
 * must read as zeros rather than crash).
 *
 * Counters: the io_* wrappers below count every pwrite (calls and bytes)
 * and every fdatasync on the io they are called on (struct io_counters),
 * whatever the implementation, so a test on an in-memory io and hangarfs on
 * a file see the same figures.  They count calls, successful or not (a
 * failed write or sync poisons the container anyway), and cost one relaxed
 * atomic add each beside a system call.  An io belongs to one open
 * container, so these are that container's since its open; the commit adds
 * which of those bytes were metadata (container_io_stats, hangar/container.h).
 *
 * Ownership: the io belongs to whoever opened it; a container borrows it for
 * its lifetime and never closes it.  THREAD MODEL: the file implementation is
 * safe to call from any number of threads at once (positional I/O only);
 * wrappers used by tests must be too, or be used single-threaded.  The
 * counters are atomic: any thread may read them at any time (a reader sees
 * each counter exact, not the three as one snapshot).
 */
#ifndef HANGAR_CORE_IO_H
#define HANGAR_CORE_IO_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "hangar/io.h" /* struct io, io_close */

struct io_ops {
	int (*pread)(struct io *io, void *buf, size_t len, uint64_t offset);
	int (*pwrite)(struct io *io, const void *buf, size_t len,
		      uint64_t offset);
	int (*fdatasync)(struct io *io);
	int (*ftruncate)(struct io *io, uint64_t size);
	/* mode is a Linux fallocate mode (0, FALLOC_FL_PUNCH_HOLE |
	 * FALLOC_FL_KEEP_SIZE); -EOPNOTSUPP is a legal answer for punch. */
	int (*fallocate)(struct io *io, int mode, uint64_t offset,
			 uint64_t len);
	int (*size)(struct io *io, uint64_t *out_size);
	void (*close)(struct io *io); /* frees the io; NULL-safe callers */
	/* Optional (NULL: fdatasync): a sync that a later sync of the same
	 * commit follows (FORMAT.md section 5, step 4 before step 5), so a
	 * check that only the last sync needs may be left out here: the
	 * file io's lease check (io_file.c, invariant 6). */
	int (*fdatasync_not_last)(struct io *io);
	/* Optional (NULL: nothing to do): write the file's dirty pages out
	 * and wait for them, without making anything durable (no device
	 * flush, no metadata): not a sync, and not counted as one.  A commit
	 * calls it with no container lock held, so that the fdatasync it
	 * makes under the lock finds little left to write.  An error is a
	 * sync error (the kernel reports a writeback error once): the file
	 * io latches it for the next fdatasync (io_file.c, invariant 4). */
	int (*writeback)(struct io *io);
};

/* What went through an io since it was opened (zero-initialised with the
 * io: every implementation callocs or zero-initialises its struct). */
struct io_counters {
	_Atomic uint64_t writes;      /* io_pwrite calls */
	_Atomic uint64_t write_bytes; /* bytes they were asked to write */
	_Atomic uint64_t syncs;	      /* io_fdatasync(_not_last) calls */
};

struct io {
	const struct io_ops *ops;
	struct io_counters counters;
};

static inline int io_pread(struct io *io, void *buf, size_t len, uint64_t off)
{
	return io->ops->pread(io, buf, len, off);
}

static inline int io_pwrite(struct io *io, const void *buf, size_t len,
			    uint64_t off)
{
	atomic_fetch_add_explicit(&io->counters.writes, 1,
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&io->counters.write_bytes, len,
				  memory_order_relaxed);
	return io->ops->pwrite(io, buf, len, off);
}

static inline int io_fdatasync(struct io *io)
{
	atomic_fetch_add_explicit(&io->counters.syncs, 1, memory_order_relaxed);
	return io->ops->fdatasync(io);
}

static inline int io_fdatasync_not_last(struct io *io)
{
	atomic_fetch_add_explicit(&io->counters.syncs, 1, memory_order_relaxed);
	return io->ops->fdatasync_not_last ? io->ops->fdatasync_not_last(io)
					   : io->ops->fdatasync(io);
}

static inline int io_writeback(struct io *io)
{
	return io->ops->writeback ? io->ops->writeback(io) : 0;
}

static inline int io_ftruncate(struct io *io, uint64_t size)
{
	return io->ops->ftruncate(io, size);
}

static inline int io_fallocate(struct io *io, int mode, uint64_t off,
			       uint64_t len)
{
	return io->ops->fallocate(io, mode, off, len);
}

static inline int io_size(struct io *io, uint64_t *out_size)
{
	return io->ops->size(io, out_size);
}

/*
 * io_file_open - open `path` as a container io.
 * flags: O_RDONLY or O_RDWR, optionally | O_CREAT | O_EXCL (mode 0600).
 * The last component is never followed if it is a symbolic link (-ELOOP)
 * and only a regular file is opened (-EMEDIUMTYPE for a FIFO, device,
 * socket or directory; a FIFO never blocks the call).
 * Returns 0 and sets *out_io, or -errno (the open(2) error).
 */
int io_file_open(const char *path, int flags, struct io **out_io);

/* io_file_openat - as io_file_open, `path` relative to directory `dir_fd`
 * (AT_FDCWD: the working directory). */
int io_file_openat(int dir_fd, const char *path, int flags, struct io **out_io);

/* io_file_set_lease_check - from now on, every fdatasync of this file io
 * proves that the process still holds the exclusive flock on it before it
 * returns 0, and fails -ENOLCK when it does not (io_file.c, invariant 6).
 * For a read-write container on a shared filesystem; call before the io is
 * used by other threads.  Ignored for other ios. */
void io_file_set_lease_check(struct io *io);

/* io_file_set_holder_record - this file io carries the holder record
 * (lockinfo.h, set by its opener under the exclusive flock): closing it
 * removes the record first, while the lock still holds, unless a sync
 * failed (a container that lost its lease, or whose data may be lost,
 * keeps the record naming its last holder).  Ignored for other ios. */
void io_file_set_holder_record(struct io *io);

/* io_file_fd - the descriptor behind a file io (for the store's own flock);
 * -1 if `io` is not a file io. */
int io_file_fd(const struct io *io);

#endif /* HANGAR_CORE_IO_H */
