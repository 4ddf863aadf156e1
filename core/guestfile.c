/*
 * guestfile.c -- the guest-file protocols of guestfile.h.
 *
 * Every step goes through the dirio, in the order the crash arguments of
 * guestfile.h need: the container is committed (its io synced) before the
 * rename that makes it visible, and every call ends with a directory sync.
 *
 * HANGAR_TEETH_GUEST_RENAME_FIRST is for tests/crash only: it renames the
 * temporary file into place before the container is written, the ordering
 * bug invariant 1 rules out, so that test_crash_store can show it catches it.
 */
#include "guestfile.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h> /* FICLONE */
#include <stdio.h>
#include <sys/ioctl.h>

void guestfile_name(const char *guest, char *out)
{
	snprintf(out, GUESTFILE_NAME_MAX, "%s%s", guest, GUESTFILE_SUFFIX);
}

void guestfile_temp_name(const char *guest, char *out)
{
	snprintf(out, GUESTFILE_NAME_MAX, ".%s%s.tmp", guest, GUESTFILE_SUFFIX);
}

/* The first steps of a new guest file: its name and temporary name, the
 * name still free, a crashed attempt's temporary file gone, the temporary
 * file created empty (*out_io). */
static int temp_begin(struct dirio *d, const char *guest, char *file, char *tmp,
		      struct io **out_io)
{
	int ret;

	guestfile_name(guest, file);
	guestfile_temp_name(guest, tmp);
	ret = dirio_exists(d, file);
	if (ret == 0)
		return -EEXIST;
	if (ret != -ENOENT)
		return ret;
	ret = dirio_unlink(d, tmp); /* a crashed create's leftover */
	if (ret && ret != -ENOENT)
		return ret;
	return dirio_open(d, tmp, O_RDWR | O_CREAT | O_EXCL, out_io);
}

int guestfile_create(struct dirio *d, const char *guest,
		     const struct container_options *copts)
{
	char file[GUESTFILE_NAME_MAX], tmp[GUESTFILE_NAME_MAX];
	struct io *io = NULL;
	struct container *c = NULL;
	int ret;

	ret = temp_begin(d, guest, file, tmp, &io);
	if (ret)
		return ret;
#ifdef HANGAR_TEETH_GUEST_RENAME_FIRST
	ret = dirio_rename(d, tmp, file);
	if (ret) {
		io_close(io);
		goto out_unlink;
	}
#endif
	ret = container_create(io, copts, &c);
	if (ret) {
		io_close(io);
		goto out_unlink;
	}
	ret = container_close(c); /* commits and syncs; closes the io */
	if (ret)
		goto out_unlink;
#ifndef HANGAR_TEETH_GUEST_RENAME_FIRST
	ret = dirio_rename(d, tmp, file);
	if (ret)
		goto out_unlink;
#endif
	return dirio_sync(d);
out_unlink:
	(void)dirio_unlink(d, tmp);
	return ret;
}

/* Share every extent of `src` into `dst` (same filesystem), or say why
 * not: what the caller falls back on is one code. */
static int share_extents(struct io *dst, struct io *src)
{
	const int dst_fd = io_file_fd(dst), src_fd = io_file_fd(src);
	if (dst_fd < 0 || src_fd < 0)
		return -EOPNOTSUPP;
	if (ioctl(dst_fd, FICLONE, src_fd) == 0)
		return 0;
	switch (errno) {
	case EOPNOTSUPP:
	case EINVAL: /* btrfs, older kernels: no sharing between these */
	case ENOTTY:
	case ENOSYS:
		return -EOPNOTSUPP;
	default:
		return errno ? -errno : -EIO;
	}
}

int guestfile_clone(struct dirio *d, struct io *src, const char *guest,
		    const struct container_options *copts,
		    int (*prepare)(struct container *c, void *arg), void *arg)
{
	char file[GUESTFILE_NAME_MAX], tmp[GUESTFILE_NAME_MAX];
	struct io *io = NULL;
	struct container *c = NULL;
	int ret;

	ret = temp_begin(d, guest, file, tmp, &io);
	if (ret)
		return ret;
	ret = share_extents(io, src);
	if (!ret)
		ret = container_open(io, copts, &c);
	if (ret) {
		io_close(io);
		goto out_unlink;
	}
	ret = prepare ? prepare(c, arg) : 0;
	int close_ret = container_close(c); /* commits and syncs; closes io */
	if (!ret)
		ret = close_ret;
	if (ret)
		goto out_unlink;
	ret = dirio_rename(d, tmp, file);
	if (ret)
		goto out_unlink;
	return dirio_sync(d);
out_unlink:
	(void)dirio_unlink(d, tmp);
	return ret;
}

int guestfile_open(struct dirio *d, const char *guest, int flags,
		   struct io **out_io)
{
	char file[GUESTFILE_NAME_MAX], tmp[GUESTFILE_NAME_MAX];
	guestfile_name(guest, file);
	int ret = dirio_open(d, file, flags, out_io);
	if (ret != -EMLINK)
		return ret;
	/* Invariant 3: a create renamed by link that crashed before it
	 * unlinked the temporary name.  That name is ours; without it the
	 * file has one name again. */
	guestfile_temp_name(guest, tmp);
	if (dirio_unlink(d, tmp) != 0)
		return -EMLINK;
	return dirio_open(d, file, flags, out_io);
}

int guestfile_delete(struct dirio *d, const char *guest)
{
	char file[GUESTFILE_NAME_MAX];
	guestfile_name(guest, file);
	int ret = dirio_unlink(d, file);
	return ret ? ret : dirio_sync(d);
}

int guestfile_rename(struct dirio *d, const char *from, const char *to)
{
	char ffile[GUESTFILE_NAME_MAX], tfile[GUESTFILE_NAME_MAX];
	guestfile_name(from, ffile);
	guestfile_name(to, tfile);
	int ret = dirio_rename(d, ffile, tfile);
	return ret ? ret : dirio_sync(d);
}
