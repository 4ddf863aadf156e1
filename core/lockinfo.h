/*
 * lockinfo.h -- who holds an flock(2) on a file: the PID for a message.
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

#endif /* HANGAR_LOCKINFO_H */
