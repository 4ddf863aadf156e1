/*
 * passthrough.c -- the FUSE ceiling for hangar's benchmarks: a minimal,
 * multi-threaded, low-level libfuse3 passthrough of ONE host file.
 *
 *   cc -O2 -Wall -o passthrough passthrough.c $(pkg-config --cflags --libs fuse3)
 *   ./passthrough BACKING_FILE MOUNTPOINT [-f] [-s] [-o OPTIONS]
 *
 * MOUNTPOINT (a directory) then holds one regular file, `disk.raw`, whose
 * bytes are BACKING_FILE's.  Everything is forwarded to the host file with
 * the least work FUSE allows; nothing is cached by the daemon.
 *
 * It negotiates exactly what hangarfs does (fs/ops.c, fs/ops_file.c), so the
 * difference between the two is hangar's own work, not FUSE settings:
 *   - max_write: libfuse's default (1 MiB with libfuse 3.14);
 *   - splice read/write/move: OFF (hangarfs turns them off);
 *   - writeback_cache: OFF; atomic_o_trunc: ON;
 *   - keep_cache = 0 at every open; direct_io (FOPEN_DIRECT_IO) for O_DIRECT
 *     opens, as hangarfs does for QEMU cache=none-style clients;
 *   - multi-threaded session loop (fuse_session_loop_mt, libfuse's default
 *     max_threads = 10; -o max_threads=N and -o clone_fd pass through);
 *   - attr/entry timeout 1 s.
 * The backing file is opened WITHOUT O_DIRECT (buffered), as hangar's core
 * opens its container files; fsync/fdatasync from the client become
 * fdatasync on the backing file (hangar commits, i.e. fdatasync, too).
 *
 * Requests: lookup, getattr, setattr (size/times), open, read, write_buf,
 * flush, release, fsync, fallocate, lseek (SEEK_DATA/SEEK_HOLE), opendir,
 * readdir, releasedir, statfs.  contrib/ code: compact, not core style.
 */
#define FUSE_USE_VERSION 314
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define FILE_NAME "disk.raw"
#define FILE_INO 2

static struct {
	char *backing;  /* absolute path of the host file */
	int fd;         /* O_RDWR, buffered, for getattr/setattr/statfs */
	double timeout; /* attr and entry timeout */
} pt = { .fd = -1, .timeout = 1.0 };

static int file_stat(struct stat *st)
{
	if (fstat(pt.fd, st) != 0)
		return errno;
	st->st_ino = FILE_INO;
	st->st_nlink = 1;
	return 0;
}

static void root_stat(struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = FUSE_ROOT_ID;
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
}

static void pt_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* Same choices as hangarfs (fs/ops.c). */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	conn->want &= ~(unsigned)(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
				  FUSE_CAP_SPLICE_MOVE);
}

static void pt_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int err;

	if (parent != FUSE_ROOT_ID || strcmp(name, FILE_NAME) != 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	memset(&e, 0, sizeof(e));
	err = file_stat(&e.attr);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	e.ino = FILE_INO;
	e.attr_timeout = pt.timeout;
	e.entry_timeout = pt.timeout;
	fuse_reply_entry(req, &e);
}

static void pt_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat st;
	int err = 0;

	(void)fi;
	if (ino == FUSE_ROOT_ID)
		root_stat(&st);
	else if (ino == FILE_INO)
		err = file_stat(&st);
	else
		err = ENOENT;
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, pt.timeout);
}

static void pt_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT },
				  { .tv_nsec = UTIME_OMIT } };
	struct stat st;
	int fd = fi ? (int)fi->fh : pt.fd;

	if (ino != FILE_INO) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if ((to_set & FUSE_SET_ATTR_SIZE) && ftruncate(fd, attr->st_size) != 0)
		goto fail;
	if (to_set & FUSE_SET_ATTR_MODE && fchmod(fd, attr->st_mode & 07777))
		goto fail;
	if (to_set & FUSE_SET_ATTR_ATIME)
		ts[0] = attr->st_atim;
	if (to_set & FUSE_SET_ATTR_MTIME)
		ts[1] = attr->st_mtim;
	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	if ((to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
		       FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)) &&
	    futimens(fd, ts) != 0)
		goto fail;
	pt_getattr(req, ino, NULL);
	(void)st;
	return;
fail:
	fuse_reply_err(req, errno);
}

static void pt_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int flags = fi->flags & ~(O_DIRECT | O_CREAT | O_EXCL | O_NOCTTY);
	int fd;

	if (ino != FILE_INO) {
		fuse_reply_err(req, ino == FUSE_ROOT_ID ? EISDIR : ENOENT);
		return;
	}
	/* O_APPEND is the kernel's business (no writeback cache: it sends the
	 * right offsets); strip it so pwrite honours the offset. */
	flags &= ~O_APPEND;
	fd = open(pt.backing, flags | O_CLOEXEC);
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	fi->fh = (uint64_t)fd;
	fi->keep_cache = 0;
	fi->direct_io = (fi->flags & O_DIRECT) != 0;
	if (fuse_reply_open(req, fi) != 0)
		close(fd);
}

static void pt_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	char *buf = malloc(size ? size : 1);
	size_t got = 0;
	ssize_t n;

	(void)ino;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* pread into a heap buffer and fuse_reply_buf, as hangarfs does
	 * (fs/ops_file.c); libfuse's fd-buffer reply (fuse_reply_data) takes
	 * a fresh posix_memalign buffer per request and measured slower. */
	while (got < size) {
		n = pread((int)fi->fh, buf + got, size - got, off + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fuse_reply_err(req, errno);
			free(buf);
			return;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	fuse_reply_buf(req, buf, got);
	free(buf);
}

static void pt_write_buf(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_bufvec *in, off_t off,
			 struct fuse_file_info *fi)
{
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
	ssize_t n;

	(void)ino;
	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = (int)fi->fh;
	out.buf[0].pos = off;
	n = fuse_buf_copy(&out, in, 0);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void pt_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void pt_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	(void)ino;
	close((int)fi->fh);
	fuse_reply_err(req, 0);
}

static void pt_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	fuse_reply_err(req, fdatasync((int)fi->fh) == 0 ? 0 : errno);
}

static void pt_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			 off_t offset, off_t length, struct fuse_file_info *fi)
{
	(void)ino;
	fuse_reply_err(req, fallocate((int)fi->fh, mode, offset, length) == 0
				    ? 0
				    : errno);
}

static void pt_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	off_t r;

	(void)ino;
	r = lseek((int)fi->fh, off, whence);
	if (r < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_lseek(req, r);
}

static void pt_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	fuse_reply_open(req, fi);
}

static void pt_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	static const char *names[] = { ".", "..", FILE_NAME };
	char buf[512];
	size_t used = 0;
	struct stat st;

	(void)ino;
	(void)fi;
	if (size > sizeof(buf))
		size = sizeof(buf);
	for (off_t i = off; i < 3; i++) {
		size_t n;

		memset(&st, 0, sizeof(st));
		st.st_ino = i == 2 ? FILE_INO : FUSE_ROOT_ID;
		st.st_mode = i == 2 ? S_IFREG : S_IFDIR;
		n = fuse_add_direntry(req, buf + used, size - used, names[i],
				      &st, i + 1);
		if (n > size - used)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
}

static void pt_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void pt_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	(void)ino;
	if (fstatvfs(pt.fd, &sv) != 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops pt_ops = {
	.init = pt_init,
	.lookup = pt_lookup,
	.getattr = pt_getattr,
	.setattr = pt_setattr,
	.open = pt_open,
	.read = pt_read,
	.write_buf = pt_write_buf,
	.flush = pt_flush,
	.release = pt_release,
	.fsync = pt_fsync,
	.fallocate = pt_fallocate,
	.lseek = pt_lseek,
	.opendir = pt_opendir,
	.readdir = pt_readdir,
	.releasedir = pt_releasedir,
	.statfs = pt_statfs,
};

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_cmdline_opts opts = { 0 };
	struct fuse_loop_config *cfg;
	struct fuse_session *se;
	char path[PATH_MAX];
	int ret = 1;

	if (argc < 3 || argv[1][0] == '-') {
		fprintf(stderr,
			"usage: %s BACKING_FILE MOUNTPOINT [-f] [-s] [-o OPTS]\n",
			argv[0]);
		return 2;
	}
	if (!realpath(argv[1], path)) {
		perror(argv[1]);
		return 1;
	}
	pt.backing = path;
	pt.fd = open(path, O_RDWR | O_CLOEXEC);
	if (pt.fd < 0) {
		perror(path);
		return 1;
	}
	/* argv without the backing file, for libfuse's parser */
	if (fuse_opt_add_arg(&args, argv[0]) != 0)
		return 1;
	for (int i = 2; i < argc; i++)
		if (fuse_opt_add_arg(&args, argv[i]) != 0)
			return 1;
	if (fuse_opt_add_arg(&args, "-o") != 0 ||
	    fuse_opt_add_arg(&args, "fsname=bench-passthrough,subtype=passthrough,default_permissions") != 0)
		return 1;
	if (fuse_parse_cmdline(&args, &opts) != 0 || !opts.mountpoint) {
		fprintf(stderr, "%s: no mount point given\n", argv[0]);
		goto out_args;
	}
	se = fuse_session_new(&args, &pt_ops, sizeof(pt_ops), NULL);
	if (!se)
		goto out_opts;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, opts.mountpoint) != 0)
		goto out_signals;
	if (fuse_daemonize(opts.foreground) != 0)
		goto out_unmount;
	if (opts.singlethread) {
		ret = fuse_session_loop(se) != 0;
	} else {
		cfg = fuse_loop_cfg_create();
		if (!cfg)
			goto out_unmount;
		fuse_loop_cfg_set_clone_fd(cfg, (unsigned)opts.clone_fd);
		fuse_loop_cfg_set_max_threads(cfg, opts.max_threads);
		ret = fuse_session_loop_mt(se, cfg) != 0;
		fuse_loop_cfg_destroy(cfg);
	}
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_opts:
	free(opts.mountpoint);
out_args:
	fuse_opt_free_args(&args);
	close(pt.fd);
	return ret;
}
