/*
 * test_dirio.c -- the real-directory dirio's rename where the filesystem
 * has no RENAME_NOREPLACE (CephFS through ceph-fuse fails it EINVAL): the
 * link-then-unlink path, forced here with DIRIO_FILE_RENAME_BY_LINK on a
 * filesystem that has the flag.
 *
 *   - it renames (the old name gone, the new one the same file);
 *   - it never replaces: onto an existing name it fails -EEXIST and both
 *     files keep their names and bytes;
 *   - a guest created through it is a whole guest with one name;
 *   - the crash state between its link and its unlink after a create (the
 *     guest file and the temporary name on one inode) is repaired by the
 *     first read-write open of the guest, which would otherwise be refused
 *     -EMLINK.
 * And the lease check (DIRIO_FILE_LEASE_CHECK, io_file.c invariant 6),
 * forced on: a sync that ends a commit fails -ENOLCK, latched, once the
 * container lock no longer holds, and the container is poisoned.
 */
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirio.h"
#include "guestfile.h"
#include "hangar/container.h"
#include "harness.h"
#include "io.h"

static void write_file(int dir_fd, const char *name, const char *text)
{
	int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	CHECK_OK(close(fd));
}

static void check_file(int dir_fd, const char *name, const char *text)
{
	char buf[64] = "";
	int fd = openat(dir_fd, name, O_RDONLY);
	CHECK(fd >= 0);
	CHECK_EQ(read(fd, buf, sizeof(buf) - 1), (ssize_t)strlen(text));
	CHECK(strcmp(buf, text) == 0);
	CHECK_OK(close(fd));
}

static void test_rename_by_link(int dir_fd)
{
	struct dirio *d = NULL;
	CHECK_OK(dirio_file_open(dir_fd, DIRIO_FILE_RENAME_BY_LINK, &d));

	write_file(dir_fd, "a", "first");
	write_file(dir_fd, "b", "second");
	CHECK_ERR(dirio_rename(d, "a", "b"), -EEXIST);
	check_file(dir_fd, "a", "first");
	check_file(dir_fd, "b", "second");

	CHECK_OK(dirio_rename(d, "a", "c"));
	CHECK_ERR(dirio_exists(d, "a"), -ENOENT);
	check_file(dir_fd, "c", "first");
	struct stat st;
	CHECK_OK(fstatat(dir_fd, "c", &st, 0));
	CHECK_EQ(st.st_nlink, 1);
	CHECK_ERR(dirio_rename(d, "missing", "d"), -ENOENT);
	CHECK_OK(dirio_sync(d));
	dirio_close(d);
}

static void test_guest_by_link(int dir_fd)
{
	struct container_options copts = {0};
	struct dirio *d = NULL;
	struct io *io = NULL;
	struct stat st;

	CHECK_OK(dirio_file_open(dir_fd, DIRIO_FILE_RENAME_BY_LINK, &d));
	CHECK_OK(guestfile_create(d, "g", &copts));
	CHECK_ERR(guestfile_create(d, "g", &copts), -EEXIST);
	CHECK_OK(fstatat(dir_fd, "g.hangar", &st, 0));
	CHECK_EQ(st.st_nlink, 1);
	CHECK_ERR(dirio_exists(d, ".g.hangar.tmp"), -ENOENT);
	CHECK_OK(guestfile_rename(d, "g", "h"));
	CHECK_ERR(dirio_exists(d, "g.hangar"), -ENOENT);

	/* the crash between link and unlink of a create: two names */
	CHECK_OK(linkat(dir_fd, "h.hangar", dir_fd, ".h.hangar.tmp", 0));
	CHECK_OK(guestfile_open(d, "h", O_RDWR, &io));
	io_close(io);
	CHECK_ERR(dirio_exists(d, ".h.hangar.tmp"), -ENOENT);
	CHECK_OK(fstatat(dir_fd, "h.hangar", &st, 0));
	CHECK_EQ(st.st_nlink, 1);

	/* ...but two guest names (a crashed rename) stay refused */
	CHECK_OK(linkat(dir_fd, "h.hangar", dir_fd, "i.hangar", 0));
	CHECK_ERR(guestfile_open(d, "h", O_RDWR, &io), -EMLINK);
	CHECK_OK(guestfile_open(d, "h", O_RDONLY, &io));
	io_close(io);
	dirio_close(d);
}

/*
 * The lease check (io_file.c invariant 6), forced on a local filesystem:
 * a sync counts only while the container lock still holds.  "Lost" here
 * by unlocking the io's descriptor and letting another descriptor take the
 * lock, which is what an eviction does to a CephFS client's lock.
 */
static void test_lease_check(int dir_fd)
{
	struct container_options copts = {0};
	struct dirio *d = NULL;
	struct container *c = NULL;
	struct io *io = NULL;

	CHECK_OK(dirio_file_open(dir_fd, DIRIO_FILE_LEASE_CHECK, &d));
	CHECK_OK(guestfile_create(d, "lease", &copts));
	CHECK_OK(guestfile_open(d, "lease", O_RDWR, &io));
	const int fd = io_file_fd(io);
	CHECK_OK(io_pwrite(io, "x", 1, 1 << 20));
	CHECK_OK(io_fdatasync(io));
	CHECK_OK(io_fdatasync_not_last(io));

	/* the lease goes elsewhere */
	CHECK_OK(flock(fd, LOCK_UN));
	int other = openat(dir_fd, "lease.hangar", O_RDONLY);
	CHECK(other >= 0);
	CHECK_OK(flock(other, LOCK_EX | LOCK_NB));
	/* a sync another one follows is not proven by itself... */
	CHECK_OK(io_fdatasync_not_last(io));
	/* ...the last one is, and it fails, latched */
	CHECK_ERR(io_fdatasync(io), -ENOLCK);
	CHECK_OK(close(other)); /* even with the lock free again */
	CHECK_ERR(io_fdatasync(io), -ENOLCK);
	io_close(io);

	/* a container on such a file: its commit is never acknowledged */
	CHECK_OK(guestfile_open(d, "lease", O_RDWR, &io));
	CHECK_OK(container_open(io, &copts, &c));
	CHECK_OK(container_commit(c));
	CHECK_OK(flock(io_file_fd(io), LOCK_UN));
	other = openat(dir_fd, "lease.hangar", O_RDONLY);
	CHECK(other >= 0);
	CHECK_OK(flock(other, LOCK_EX | LOCK_NB));
	/* a snapshot is one commit: refused, never acknowledged */
	CHECK_ERR(container_snapshot_create(c, "s1"), -EIO);
	CHECK_ERR(container_commit(c), -EIO);
	struct container_info info;
	container_info(c, &info);
	CHECK(info.poisoned);
	(void)container_close(c);
	CHECK_OK(close(other));

	/* without the check, the same loss goes unnoticed (why it exists) */
	dirio_close(d);
	CHECK_OK(dirio_file_open(dir_fd, 0, &d));
	CHECK_OK(guestfile_open(d, "lease", O_RDWR, &io));
	CHECK_OK(flock(io_file_fd(io), LOCK_UN));
	other = openat(dir_fd, "lease.hangar", O_RDONLY);
	CHECK(other >= 0);
	CHECK_OK(flock(other, LOCK_EX | LOCK_NB));
	CHECK_OK(io_fdatasync(io));
	CHECK_OK(close(other));
	io_close(io);
	dirio_close(d);
}

int main(void)
{
	char *dir = test_tmpdir_new();
	int dir_fd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(dir_fd >= 0);
	test_rename_by_link(dir_fd);
	test_guest_by_link(dir_fd);
	test_lease_check(dir_fd);
	close(dir_fd);
	test_tmpdir_remove(dir);
	printf("test_dirio: ok\n");
	return 0;
}
