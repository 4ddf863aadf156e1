/*
 * ops.c -- the low-level operations table and the session's init hook.
 *
 * Kernel cache choices (see the README for the measurements):
 *   - writeback_cache is left OFF: with it the kernel owns dirty pages and
 *     may deliver them after close(2), i.e. after a save image was sealed,
 *     and st_size/mtime would be the kernel's guess for a while.
 *   - atomic_o_trunc is ON, so an O_TRUNC open is refused by the save lock
 *     in one step instead of arriving as a separate truncate.
 *   - max_write is libfuse's default (1 MiB); splice is not used.
 *   - readdirplus (libfuse asks for it, adaptive, when the op exists): a
 *     listing of the root carries every guest's attributes, so `ls -l` of
 *     10,000 guests sends no lookup per guest (ls made 26 getdents calls
 *     for them) (ops_dir.c).
 *
 * THREAD MODEL: init runs once, before any other request.
 */
#include "hangarfs.h"

static void hfs_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	conn->want &= ~(unsigned)(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
				  FUSE_CAP_SPLICE_MOVE);
}

const struct fuse_lowlevel_ops hfs_ops = {
	.init = hfs_init,
	.lookup = hfs_lookup,
	.forget = hfs_forget,
	.forget_multi = hfs_forget_multi,
	.getattr = hfs_getattr,
	.setattr = hfs_setattr,
	.mknod = hfs_mknod,
	.mkdir = hfs_mkdir,
	.unlink = hfs_unlink,
	.rmdir = hfs_rmdir,
	.symlink = hfs_symlink,
	.rename = hfs_rename,
	.link = hfs_link,
	.open = hfs_open,
	.read = hfs_read,
	.write_buf = hfs_write_buf,
	.flush = hfs_flush,
	.release = hfs_release,
	.fsync = hfs_fsync,
	.opendir = hfs_opendir,
	.readdir = hfs_readdir,
	.readdirplus = hfs_readdirplus,
	.releasedir = hfs_releasedir,
	.fsyncdir = hfs_fsyncdir,
	.statfs = hfs_statfs,
	.setxattr = hfs_setxattr,
	.getxattr = hfs_getxattr,
	.listxattr = hfs_listxattr,
	.removexattr = hfs_removexattr,
	.create = hfs_create,
	.fallocate = hfs_fallocate,
	.copy_file_range = hfs_copy_file_range,
	.lseek = hfs_lseek,
};
