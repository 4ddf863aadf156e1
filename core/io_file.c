/*
 * io_file.c -- the real-file implementation of struct io (see io.h).
 *
 * What: a container file reached only through positional system calls:
 * pread/pwrite (looped until the whole length moved, EINTR retried),
 * fdatasync, sync_file_range(2) for writeback, ftruncate, fallocate(2) and
 * fstat for the size.  Every function
 * returns 0 or -errno.
 *
 * Why a separate file: io.h is the seam that lets tests interpose on every
 * write and sync; this is the one place core issues those system calls on a
 * container, so the rules below hold for all of core.
 *
 * Invariants:
 *   1. pread returns 0 only with all `len` bytes filled: bytes past end of
 *      file read as zeros (io.h explains why).
 *   2. pwrite returns 0 only after all `len` bytes were accepted; a write
 *      that makes no progress (returns 0) is -EIO rather than a spin.
 *   3. Offsets are checked against off_t before any call: an offset or
 *      offset + len beyond INT64_MAX is -EINVAL (-EFBIG for sizes), never a
 *      wrapped negative off_t.
 *   4. A failed fdatasync (or writeback) latches: every later fdatasync on
 *      this io returns the first error.  Linux may drop dirty pages and clear the error
 *      after reporting it once, so a later "successful" sync would lie.
 *      The only way out is to close and reopen.
 *   5. Only a regular file is ever opened, and never through a symbolic
 *      link in the last component (O_NOFOLLOW: -ELOOP; a FIFO, device,
 *      socket or directory: -EMEDIUMTYPE, checked with fstat on the opened
 *      descriptor, which was opened O_NONBLOCK so a FIFO cannot hang us).
 *      A container file is cut back and written: following a link planted
 *      in a store would do that to someone else's file.
 *   6. The lease check (io_file_set_lease_check: a read-write container
 *      on a filesystem several hosts share, docs/multihost.md section 4):
 *      after every fdatasync that returned 0 (except one that a later sync
 *      of the same commit follows: io_fdatasync_not_last, FORMAT.md
 *      section 5 step 4, whose proof the last sync's covers), the
 *      exclusive flock the store holds on the descriptor is taken again,
 *      and only if that succeeds does the sync return 0.  A client the cluster evicted may
 *      return 0 from a sync of data it then drops (measured on ceph-fuse);
 *      it does so once it has processed its eviction, and then its re-lock
 *      fails (EIO); before that, the OSDs refuse its data and the sync
 *      itself fails (docs/multihost.md section 4).  If the re-lock fails, the sync fails -ENOLCK (latched, as
 *      invariant 4), and so does a failed sync whose lock no longer holds,
 *      so the container says why.
 *   7. The holder record (io_file_set_holder_record, lockinfo.h): the
 *      close of an io that carries one removes it before close(2) drops
 *      the flock, so no record outlives an orderly release to name a host
 *      that no longer holds the file.  Not after a failed sync (latched,
 *      invariant 4): that includes a lost lease (-ENOLCK), where the lock
 *      may already be another host's and so may the record.
 *
 * Counting: the pwrite/fdatasync counters of struct io (io.h) are kept by
 * io.h's wrappers for every implementation, not here; io_file_openat's
 * calloc starts them at zero.
 *
 * THREAD MODEL: the descriptor never changes after io_file_open; every call
 * is positional, so any number of threads may use one io at once.  The only
 * mutable field, sync_error, is atomic.
 */
#include "io.h"
#include "lockinfo.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct io_file {
	struct io io;		/* first: a struct io * is a struct io_file * */
	int fd;			/* owned; immutable after open */
	_Atomic int sync_error; /* 0 or the first fdatasync -errno (inv. 4) */
	bool lease_check;	/* invariant 6; set before the io is shared */
	bool holder_record;	/* invariant 7; set before the io is shared */
};

static const struct io_ops io_file_ops;

static struct io_file *io_file_from_io(struct io *io)
{
	return (struct io_file *)io;
}

/* True if [offset, offset + len) is representable as off_t. */
static bool io_file_range_valid(size_t len, uint64_t offset)
{
	return offset <= (uint64_t)INT64_MAX &&
	       (uint64_t)len <= (uint64_t)INT64_MAX - offset;
}

static int io_file_pread(struct io *io, void *buf, size_t len, uint64_t offset)
{
	const struct io_file *f = io_file_from_io(io);
	unsigned char *p = buf;

	if (!io_file_range_valid(len, offset))
		return -EINVAL;
	while (len > 0) {
		const ssize_t n = pread(f->fd, p, len, (off_t)offset);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) { /* end of file: the rest reads as zeros */
			memset(p, 0, len);
			break;
		}
		p += n;
		len -= (size_t)n;
		offset += (uint64_t)n;
	}
	return 0;
}

static int io_file_pwrite(struct io *io, const void *buf, size_t len,
			  uint64_t offset)
{
	const struct io_file *f = io_file_from_io(io);
	const unsigned char *p = buf;

	if (!io_file_range_valid(len, offset))
		return -EINVAL;
	while (len > 0) {
		const ssize_t n = pwrite(f->fd, p, len, (off_t)offset);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		offset += (uint64_t)n;
	}
	return 0;
}

/*
 * Invariant 6: whether this process still holds the exclusive flock the
 * store took on the descriptor.  Taking a lock already held is a no-op for
 * the lock; on CephFS it fails once the client has processed an eviction
 * (ceph-fuse: EIO).  -ENOLCK when it does not hold.
 */
static int io_file_lease_holds(const struct io_file *f)
{
	while (flock(f->fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EINTR)
			return -ENOLCK;
	}
	return 0;
}

/* fdatasync; with the lease check and `prove`, then the proof. */
static int io_file_sync(struct io *io, bool prove)
{
	struct io_file *f = io_file_from_io(io);
	int expected = 0;
	int err;

	err = atomic_load(&f->sync_error);
	if (err != 0)
		return err;
	for (;;) {
		if (fdatasync(f->fd) == 0) {
			err = f->lease_check && prove ? io_file_lease_holds(f)
						      : 0;
			break;
		}
		if (errno == EINTR)
			continue;
		err = -errno;
		/* a failed sync on a lost lease: say so (the lease) */
		if (f->lease_check && io_file_lease_holds(f) != 0)
			err = -ENOLCK;
		break;
	}
	if (err) {
		/* Keep the first error if two threads fail at once. */
		if (!atomic_compare_exchange_strong(&f->sync_error, &expected,
						    err))
			err = expected;
		return err;
	}
	/* A concurrent failure may have latched while we synced. */
	return atomic_load(&f->sync_error);
}

static int io_file_fdatasync(struct io *io)
{
	return io_file_sync(io, true);
}

/* A sync a later one of the same commit follows: that one proves. */
static int io_file_fdatasync_not_last(struct io *io)
{
	return io_file_sync(io, false);
}

/*
 * Write back every dirty page of the file and wait for it (no device
 * flush, no metadata: not a sync).  The kernel reports a writeback error
 * to one caller only, so a failure here is latched like a failed
 * fdatasync's (invariant 4): the commit's sync that follows fails with
 * it.  A filesystem without sync_file_range(2) just leaves all the work
 * to fdatasync, and so does a file under the lease check.
 */
static int io_file_writeback(struct io *io)
{
	struct io_file *f = io_file_from_io(io);
	int expected = 0;
	int err;

	/* A shared filesystem's client (the lease check) keeps exactly the
	 * behaviour its multi-host argument was made and tested with: the
	 * commit's own syncs do all the work. */
	if (f->lease_check)
		return 0;
	for (;;) {
		if (sync_file_range(f->fd, 0, 0,
				    SYNC_FILE_RANGE_WAIT_BEFORE |
					    SYNC_FILE_RANGE_WRITE |
					    SYNC_FILE_RANGE_WAIT_AFTER) == 0)
			return atomic_load(&f->sync_error);
		if (errno != EINTR)
			break;
	}
	err = -errno;
	if (err == -EINVAL || err == -ENOSYS || err == -EOPNOTSUPP ||
	    err == -ESPIPE)
		return 0;
	if (!atomic_compare_exchange_strong(&f->sync_error, &expected, err))
		err = expected;
	return err;
}

void io_file_set_lease_check(struct io *io)
{
	if (io->ops == &io_file_ops)
		io_file_from_io(io)->lease_check = true;
}

void io_file_set_holder_record(struct io *io)
{
	if (io->ops == &io_file_ops)
		io_file_from_io(io)->holder_record = true;
}

static int io_file_ftruncate(struct io *io, uint64_t size)
{
	const struct io_file *f = io_file_from_io(io);

	if (size > (uint64_t)INT64_MAX)
		return -EFBIG;
	while (ftruncate(f->fd, (off_t)size) != 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

static int io_file_fallocate(struct io *io, int mode, uint64_t offset,
			     uint64_t len)
{
	const struct io_file *f = io_file_from_io(io);

	if (offset > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - offset)
		return -EFBIG;
	while (fallocate(f->fd, mode, (off_t)offset, (off_t)len) != 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

static int io_file_size(struct io *io, uint64_t *out_size)
{
	const struct io_file *f = io_file_from_io(io);
	struct stat st;

	*out_size = 0;
	if (fstat(f->fd, &st) != 0)
		return -errno;
	assert(st.st_size >= 0);
	*out_size = (uint64_t)st.st_size;
	return 0;
}

static void io_file_close(struct io *io)
{
	struct io_file *f = io_file_from_io(io);

	/* invariant 7: the lock still holds until close(2); a failure only
	 * leaves a stale record, which names and never decides */
	if (f->holder_record && atomic_load(&f->sync_error) == 0)
		(void)lockinfo_record_clear(f->fd);
	/* close(2) errors are not actionable here: durability comes from
	 * fdatasync, and Linux releases the descriptor even on error. */
	close(f->fd);
	free(f);
}

static const struct io_ops io_file_ops = {
	.pread = io_file_pread,
	.pwrite = io_file_pwrite,
	.fdatasync = io_file_fdatasync,
	.fdatasync_not_last = io_file_fdatasync_not_last,
	.writeback = io_file_writeback,
	.ftruncate = io_file_ftruncate,
	.fallocate = io_file_fallocate,
	.size = io_file_size,
	.close = io_file_close,
};

void io_close(struct io *io)
{
	if (io == NULL)
		return;
	io->ops->close(io);
}

int io_file_open(const char *path, int flags, struct io **out_io)
{
	return io_file_openat(AT_FDCWD, path, flags, out_io);
}

int io_file_openat(int dir_fd, const char *path, int flags, struct io **out_io)
{
	const int accmode = flags & O_ACCMODE;
	struct io_file *f;
	struct stat st;
	int fd, fl;
	int err;

	*out_io = NULL;
	if (accmode != O_RDONLY && accmode != O_RDWR)
		return -EINVAL;
	if ((flags & ~(O_ACCMODE | O_CREAT | O_EXCL | O_CLOEXEC)) != 0)
		return -EINVAL;

	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	/* Invariant 5: never through a symbolic link, never anything but a
	 * regular file.  O_NONBLOCK keeps a FIFO from blocking the open; it
	 * is cleared once the file is known to be regular. */
	do {
		fd = openat(dir_fd, path,
			    flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		err = -errno;
		goto out_free;
	}
	if (fstat(fd, &st) != 0) {
		err = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EMEDIUMTYPE;
		goto out_close;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
		err = -errno;
		goto out_close;
	}
	f->io.ops = &io_file_ops;
	f->fd = fd;
	atomic_init(&f->sync_error, 0);
	*out_io = &f->io;
	return 0;

out_close:
	close(fd);
out_free:
	free(f);
	return err;
}

int io_file_fd(const struct io *io)
{
	if (io == NULL || io->ops != &io_file_ops)
		return -1;
	return ((const struct io_file *)io)->fd;
}
