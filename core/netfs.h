/*
 * netfs.h -- whether a store sits on a filesystem that several hosts share
 * (CephFS, through the kernel client or ceph-fuse; NFS; SMB), for the few
 * rules that differ there (docs/multihost.md):
 *
 *   - the control socket gets a per-host name, since a socket is a local
 *     object and every host's daemon would otherwise bind the same name in
 *     the shared directory (control.c);
 *   - a commit proves its container lock still holds after its syncs,
 *     before it is acknowledged (io_file.c's lease check), since a client
 *     the cluster evicted may report a sync of data it then dropped.
 *
 * Detected from statfs(2)'s f_type of an open descriptor.  Any FUSE
 * filesystem counts as shared: ceph-fuse is one, and one cannot tell it
 * from sshfs or a local FUSE filesystem by f_type; the cost of being wrong
 * is a second socket name and one lock call per sync.
 *
 * THREAD MODEL: no state; safe from any thread.
 */
#ifndef HANGAR_NETFS_H
#define HANGAR_NETFS_H

#include <stdbool.h>
#include <stddef.h>

/* netfs_shared - whether the filesystem of `fd` may be shared by hosts;
 * false also when it cannot be told (fstatfs failed). */
bool netfs_shared(int fd);

/* netfs_host_name - this host's name (gethostname), with anything but
 * [A-Za-z0-9._-] replaced by '_' so it fits a file name and a
 * space-separated record; "localhost" when it cannot be read. */
void netfs_host_name(char *out, size_t len);

#endif /* HANGAR_NETFS_H */
