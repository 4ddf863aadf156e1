/*
 * dirio_file.c -- the real-directory implementation of struct dirio.
 *
 * Every call is relative to the borrowed directory descriptor
 * (openat/faccessat/renameat2 or linkat/unlinkat), so a store never resolves a path
 * outside its directory, and the directory sync is fsync(2) of that
 * descriptor.  Files are opened by io_file_openat: never through a symbolic
 * link, only regular files.
 *
 * The container lock (store.h): every file opened here carries an flock
 * on its open file description for as long as it is open: exclusive for a
 * read-write open, shared for a read-only one, both non-blocking (-EBUSY
 * when another open holds a conflicting one).  flock locks the inode, so
 * no second writer can get at a container through another store, a hard
 * link, a symbolic link or a bind mount, and no reader can read blocks a
 * writer is recycling.  A read-write open of a file with more than one
 * name (st_nlink > 1: a hard link, possibly into another store) is refused
 * with -EMLINK: its other name is outside this store's control.
 * With DIRIO_FILE_HOLDER_RECORD (the store sets it on a filesystem hosts
 * may share), a read-write open then sets the holder record (lockinfo.h)
 * on the file, before anything is written to it: there the lock lives at
 * the server and the record is how another host names the holder.  The
 * io's orderly close removes it again (io.h, io_file_set_holder_record).  Not on
 * a local filesystem, where /proc/locks names the holder and the record's
 * ctime change would only void the store's cached attributes.
 * DIRIO_FILE_READ_BESIDE_WRITER lets a read-only open proceed without its
 * shared lock when a writer holds the file (dirio.h says for whom).
 *
 * Rename: renameat2(RENAME_NOREPLACE) where the filesystem has it; where it
 * fails EINVAL or ENOSYS (ceph-fuse implements no rename flags), linkat(2)
 * then unlinkat(2), which refuses an existing target just as atomically
 * (DIRIO_FILE_RENAME_BY_LINK forces that path, for its tests).
 *
 * Like io_file.c's fdatasync, a failed directory fsync latches:
 * Linux may clear the error after reporting it once, and a later "success"
 * would claim namespace changes that were lost.
 *
 * THREAD MODEL: the descriptor never changes; sync_error is atomic.
 */
#include "dirio.h"
#include "io.h"
#include "lockinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct dirio_file {
	struct dirio d; /* first: a struct dirio * is a struct dirio_file * */
	int dir_fd;	/* borrowed */
	unsigned flags; /* DIRIO_FILE_*, immutable */
	_Atomic int sync_error;
};

static struct dirio_file *dirio_file_from(struct dirio *d)
{
	return (struct dirio_file *)d;
}

static int errno_or_eio(void)
{
	return errno ? -errno : -EIO;
}

static int dirio_file_open_file(struct dirio *d, const char *name, int flags,
				struct io **out_io)
{
	const struct dirio_file *f = dirio_file_from(d);
	const bool write = (flags & O_ACCMODE) == O_RDWR;
	struct io *io = NULL;
	struct stat st;
	int ret = io_file_openat(f->dir_fd, name, flags, &io);
	if (ret)
		return ret;
	const int fd = io_file_fd(io);
	if (flock(fd, (write ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
		ret = errno == EWOULDBLOCK ? -EBUSY : errno_or_eio();
		if (ret == -EBUSY && !write &&
		    (f->flags & DIRIO_FILE_READ_BESIDE_WRITER))
			ret = 0; /* unlocked, as the caller asked */
		if (ret)
			goto out_close;
	}
	if (write) {
		if (fstat(fd, &st) != 0) {
			ret = errno_or_eio();
			goto out_close;
		}
		if (st.st_nlink > 1) {
			ret = -EMLINK;
			goto out_close;
		}
		/* who holds it, for hosts that cannot read our lock table;
		 * information only (lockinfo.h), so a failure is no refusal */
		if ((f->flags & DIRIO_FILE_HOLDER_RECORD) &&
		    lockinfo_record_set(fd) == 0)
			io_file_set_holder_record(io); /* removed at close */
		if (f->flags & DIRIO_FILE_LEASE_CHECK)
			io_file_set_lease_check(io);
	}
	*out_io = io;
	return 0;
out_close:
	io_close(io); /* releases the flock with the descriptor */
	return ret;
}

static int dirio_file_exists(struct dirio *d, const char *name)
{
	if (faccessat(dirio_file_from(d)->dir_fd, name, F_OK,
		      AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	return errno_or_eio();
}

/*
 * A rename that never replaces, by link and unlink: linkat(2) fails
 * EEXIST atomically when `to` exists, so nothing is ever replaced; a crash
 * between the two calls leaves the file under both names (guestfile.h says
 * what happens to such a pair).  If `from` cannot be unlinked, `to` goes
 * again, so a failed call changes nothing.
 */
static int rename_by_link(int fd, const char *from, const char *to)
{
	if (linkat(fd, from, fd, to, 0) != 0)
		return errno_or_eio();
	if (unlinkat(fd, from, 0) != 0) {
		const int ret = errno_or_eio();
		(void)unlinkat(fd, to, 0);
		return ret;
	}
	return 0;
}

static int dirio_file_rename(struct dirio *d, const char *from, const char *to)
{
	const struct dirio_file *f = dirio_file_from(d);
	if (f->flags & DIRIO_FILE_RENAME_BY_LINK)
		return rename_by_link(f->dir_fd, from, to);
	if (renameat2(f->dir_fd, from, f->dir_fd, to, RENAME_NOREPLACE) == 0)
		return 0;
	/* No rename flags here (ceph-fuse: EINVAL; old kernels: ENOSYS). */
	if (errno == EINVAL || errno == ENOSYS)
		return rename_by_link(f->dir_fd, from, to);
	return errno_or_eio();
}

static int dirio_file_unlink(struct dirio *d, const char *name)
{
	if (unlinkat(dirio_file_from(d)->dir_fd, name, 0) != 0)
		return errno_or_eio();
	return 0;
}

static int dirio_file_sync(struct dirio *d)
{
	struct dirio_file *f = dirio_file_from(d);
	int err = atomic_load(&f->sync_error);
	if (err)
		return err;
	if (fsync(f->dir_fd) == 0)
		return 0;
	err = errno_or_eio();
	int expected = 0;
	atomic_compare_exchange_strong(&f->sync_error, &expected, err);
	return err;
}

static void dirio_file_close(struct dirio *d)
{
	free(dirio_file_from(d));
}

static const struct dirio_ops dirio_file_ops = {
	.open = dirio_file_open_file,
	.exists = dirio_file_exists,
	.rename = dirio_file_rename,
	.unlink = dirio_file_unlink,
	.sync = dirio_file_sync,
	.close = dirio_file_close,
};

int dirio_file_open(int dir_fd, unsigned flags, struct dirio **out)
{
	struct dirio_file *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->d.ops = &dirio_file_ops;
	f->dir_fd = dir_fd;
	f->flags = flags;
	atomic_init(&f->sync_error, 0);
	*out = &f->d;
	return 0;
}

void dirio_close(struct dirio *d)
{
	if (d)
		d->ops->close(d);
}
