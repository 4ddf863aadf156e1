/*
 * netfs.c -- shared-filesystem detection and the host name (netfs.h).
 *
 * The magic numbers are the kernel's (include/uapi/linux/magic.h and the
 * filesystems' own headers); they are spelled here rather than included
 * because not every one is in the uapi headers of older distributions.
 */
#include "netfs.h"

#include <stdio.h>
#include <sys/vfs.h>
#include <unistd.h>

#define NETFS_CEPH_MAGIC 0x00c36400L
#define NETFS_FUSE_MAGIC 0x65735546L
#define NETFS_NFS_MAGIC	 0x6969L
#define NETFS_SMB2_MAGIC 0xfe534d42L
#define NETFS_CIFS_MAGIC 0xff534d42L

bool netfs_shared(int fd)
{
	struct statfs st;
	if (fstatfs(fd, &st) != 0)
		return false;
	switch ((long)st.f_type) {
	case NETFS_CEPH_MAGIC:
	case NETFS_FUSE_MAGIC:
	case NETFS_NFS_MAGIC:
	case NETFS_SMB2_MAGIC:
	case NETFS_CIFS_MAGIC:
		return true;
	default:
		return false;
	}
}

void netfs_host_name(char *out, size_t len)
{
	if (len == 0)
		return;
	if (gethostname(out, len) != 0 || !out[0]) {
		snprintf(out, len, "localhost");
		return;
	}
	out[len - 1] = '\0';
	for (char *p = out; *p; p++) {
		const char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			*p = '_';
	}
}
