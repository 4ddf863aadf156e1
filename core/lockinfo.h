/*
 * lockinfo.h -- who holds an flock(2) on a file: the PID for a message,
 * from the kernel's lock table or, across hosts, from a holder record.
 *
 * The store's locks are flocks (store.h: the store directory, each open
 * container file).  A lock says nothing about its owner, so a person who
 * is refused needs the PID from somewhere that cannot be forged or left
 * stale: the kernel's own table, /proc/locks, looked up by the file's
 * device and inode.  Nothing here takes or tests a lock: reading the table
 * never disturbs the holder (a probing flock would, for an instant).
 *
 * THREAD MODEL: no state; safe from any thread.
 */
#ifndef HANGAR_LOCKINFO_H
#define HANGAR_LOCKINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/*
 * lockinfo_flock_holder - the holder of an flock on the file `st` describes
 * (its st_dev and st_ino).  An exclusive (WRITE) lock wins: *out_pid is its
 * holder and *out_exclusive true.  Otherwise, when only shared (READ) locks
 * are held, *out_pid is one of their holders and *out_exclusive false.
 * Returns 0, -ENOENT when nobody holds one, or -errno when /proc/locks
 * cannot be read.  A PID may be 0 when the holder is in a PID namespace we
 * cannot see.
 */
int lockinfo_flock_holder(const struct stat *st, pid_t *out_pid,
			  bool *out_exclusive);

/*
 * The holder record: who holds a container lock where /proc/locks cannot
 * say (a lock taken through a network filesystem's client lives at its
 * server, not in this kernel's table: CephFS, docs/multihost.md).  The
 * read-write opener sets the extended attribute LOCKINFO_HOLDER_XATTR on
 * the locked file right after its lock is granted and before it writes
 * anything: "host=<hostname> pid=<pid> since=<unix seconds>".  It is
 * information, never authority: the lock decides; a stale record (its
 * holder died) is overwritten by the next holder and, until then, names
 * somebody who no longer holds the lock -- so it is shown only beside a
 * refusal by the lock itself.  An orderly close removes it while the lock
 * is still held (lockinfo_record_clear, io.h's io_file_set_holder_record),
 * so only a holder that crashed or lost its lease leaves one behind.
 */
#define LOCKINFO_HOLDER_XATTR "user.hangar.holder"

/* lockinfo_record_set - write this process's record on `fd` (locked by the
 * caller).  0, or -errno (a filesystem without user xattrs: -ENOTSUP);
 * callers ignore a failure, the record only names. */
int lockinfo_record_set(int fd);

/* lockinfo_record_clear - remove the record from `fd`, whose lock the
 * caller still holds (so the record is its own: nobody else can have set
 * one meanwhile).  0 also when there is none; else -errno, which callers
 * ignore as they ignore lockinfo_record_set's. */
int lockinfo_record_clear(int fd);

/* lockinfo_record_get - read and parse the record of the file `fd`: host
 * into host[host_len], pid and since.  -ENODATA when there is none,
 * -EINVAL when it does not parse, -errno. */
int lockinfo_record_get(int fd, char *host, size_t host_len, long *out_pid,
			long long *out_since);

#endif /* HANGAR_LOCKINFO_H */
