/*
 * lockinfo.c -- flock holders from /proc/locks (lockinfo.h).
 *
 * A line of /proc/locks reads
 *   "12: FLOCK  ADVISORY  WRITE 4242 08:02:1311 0 EOF"
 * (blocked waiters have "->" after the number and are skipped).  The device
 * is "major:minor" in hex, as the kernel's superblock sees it; on some
 * filesystems (btrfs subvolumes) stat(2)'s st_dev differs from it, so a
 * file whose device never matches is looked up by inode alone as a second
 * pass.  That can only name the wrong PID in a message, never take or
 * break a lock.
 */
#include "lockinfo.h"
#include "netfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

struct lock_match {
	bool found_write, found_read;
	pid_t write_pid, read_pid;
};

static void lock_line(const char *line, const struct stat *st, bool by_dev,
		      struct lock_match *m)
{
	char kind[16], mode[16], access[16];
	unsigned maj, min;
	unsigned long long ino;
	long pid;
	const char *p = strchr(line, ':');

	if (!p)
		return;
	p++;
	while (*p == ' ')
		p++;
	if (strncmp(p, "->", 2) == 0)
		return; /* waiting, not holding */
	if (sscanf(p, "%15s %15s %15s %ld %x:%x:%llu", kind, mode, access, &pid,
		   &maj, &min, &ino) != 7)
		return;
	if (strcmp(kind, "FLOCK") != 0 || ino != (unsigned long long)st->st_ino)
		return;
	if (by_dev && (maj != major(st->st_dev) || min != minor(st->st_dev)))
		return;
	if (strcmp(access, "WRITE") == 0 && !m->found_write) {
		m->found_write = true;
		m->write_pid = (pid_t)pid;
	} else if (strcmp(access, "READ") == 0 && !m->found_read) {
		m->found_read = true;
		m->read_pid = (pid_t)pid;
	}
}

static int lock_scan(const struct stat *st, bool by_dev, struct lock_match *m)
{
	char line[256];
	FILE *f = fopen("/proc/locks", "re");

	if (!f)
		return errno ? -errno : -EIO;
	memset(m, 0, sizeof(*m));
	while (fgets(line, sizeof(line), f))
		lock_line(line, st, by_dev, m);
	fclose(f);
	return 0;
}

int lockinfo_flock_holder(const struct stat *st, pid_t *out_pid,
			  bool *out_exclusive)
{
	struct lock_match m;
	int ret = lock_scan(st, true, &m);

	if (!ret && !m.found_write && !m.found_read)
		ret = lock_scan(st, false, &m);
	if (ret)
		return ret;
	if (m.found_write) {
		*out_pid = m.write_pid;
		*out_exclusive = true;
		return 0;
	}
	if (m.found_read) {
		*out_pid = m.read_pid;
		*out_exclusive = false;
		return 0;
	}
	return -ENOENT;
}

int lockinfo_record_set(int fd)
{
	char host[256], record[512];
	netfs_host_name(host, sizeof(host)); /* no spaces: it parses */
	const int n =
		snprintf(record, sizeof(record), "host=%s pid=%ld since=%lld",
			 host, (long)getpid(), (long long)time(NULL));
	if (fsetxattr(fd, LOCKINFO_HOLDER_XATTR, record, (size_t)n, 0) != 0)
		return errno ? -errno : -EIO;
	return 0;
}

int lockinfo_record_clear(int fd)
{
	if (fremovexattr(fd, LOCKINFO_HOLDER_XATTR) == 0 || errno == ENODATA)
		return 0;
	return errno ? -errno : -EIO;
}

int lockinfo_record_get(int fd, char *host, size_t host_len, long *out_pid,
			long long *out_since)
{
	char record[512], name[256];
	long pid;
	long long since;
	const ssize_t n = fgetxattr(fd, LOCKINFO_HOLDER_XATTR, record,
				    sizeof(record) - 1);
	if (n < 0)
		return errno == ENOTSUP ? -ENODATA : errno ? -errno : -EIO;
	record[n] = '\0';
	if (sscanf(record, "host=%255s pid=%ld since=%lld", name, &pid,
		   &since) != 3 ||
	    pid <= 0)
		return -EINVAL;
	snprintf(host, host_len, "%s", name);
	*out_pid = pid;
	*out_since = since;
	return 0;
}
