/*
 * store.c -- a store directory of guest containers.
 *
 * Design notes.
 *   - Paths: a guest name is validated (name_guest_valid) before any path is
 *     built, and every file is opened relative to the store's directory fd
 *     (openat/renameat2/unlinkat), so nothing can reach outside the store.
 *   - Guest files are created, opened, renamed and removed only through
 *     guestfile.h on the store's dirio (`s->ns`, dirio.h), the seam the
 *     crash replay records: create commits the container under a temporary
 *     name and renames it into place, every change ends with a directory
 *     sync (guestfile.h gives the crash arguments).  This file decides
 *     policy: names, read-only, in use, saved image, contents.
 *   - A clone with shared extents (store_guest_clone_shared) is a create
 *     whose temporary file starts as a FICLONE of the source's file
 *     (guestfile_clone): the new name is reserved like a create's, and the
 *     source is held still meanwhile (its open container, committed first,
 *     or a RESERVED entry and the shared container lock).  Plain stores
 *     only: an encrypted container's uuid salts its keys (FORMAT.md 9.4).
 *   - One writer: an exclusive flock on the store directory itself (a
 *     descriptor opened O_RDONLY | O_DIRECTORY), held from store_open to
 *     store_close; readers hold a shared one when they can.  A writer also
 *     holds the per-host store lock, `<host lock dir>/<uuid>.lock`
 *     (store.h, LOCKS), because a network filesystem's client may keep
 *     directory flocks per mount (ceph-fuse does): that file is local, so
 *     two mounts of one host meet there.  It is taken after the directory
 *     flock, so a local second writer is still refused by the directory
 *     first (and named from it), and removed before it is unlocked.  A directory
 *     cannot be deleted or replaced under its holder the way a lock file
 *     could, and nothing is written to take it.  Who holds it is read from
 *     the kernel's lock table (store_lock_holder, lockinfo.h).  Each open
 *     container carries its own flock as well (dirio_file.c), so the store
 *     lock is about the namespace and the settings, the container lock
 *     about the bytes.
 *   - Every file the store opens is opened relative to the directory
 *     descriptor, never through a symbolic link (O_NOFOLLOW), and is
 *     checked to be a regular file; files it creates are created with
 *     O_EXCL after removing a leftover, so a planted link is never written
 *     through.
 *   - A background thread commits every open container every
 *     commit_interval_ms, so unflushed data never piles up for long.
 *   - Encrypted stores: `.hangar-store` says "encryption aes-256-gcm" and
 *     `.hangar-keys` holds the key-slot area (keyslot.h), always replaced
 *     whole: `.hangar-keys.tmp` written and fsynced, renamed over, the
 *     directory fsynced.  A crash leaves the old area or the new one; both
 *     wrap the same master key.  The master key is unlocked by store_open
 *     before anything is written and wiped by store_close.
 *
 *   - The guest cache holds one entry per guest that is open, being opened
 *     or closed, or whose name a create, delete or rename is changing.  No
 *     I/O happens under the store-wide `s->lock` (a
 *     large or hostile container must not stall the other guests): an
 *     open inserts an OPENING placeholder under the lock, opens outside it
 *     and publishes the result; create, delete and rename reserve their
 *     names (a RESERVED entry, or `ns_busy` on an open one) and do their
 *     file work and syncs outside it.  Whoever needs a name that is in
 *     flight waits on `s->guest_cond` and looks again.
 *   - Descriptors are bounded: at most guest_open_cap()
 *     containers stay open (a quarter of RLIMIT_NOFILE, 16..4096).  Opening
 *     one more first closes the least recently used container nobody holds,
 *     after committing it; one whose commit fails stays open (a poisoned
 *     container must keep failing until the store is reopened).  The
 *     committer also closes containers idle for STORE_GUEST_IDLE_MS, and
 *     walks the trees of each container it opened lazily right after the
 *     open (store_walk_opened: the open reads the table only), and
 *     commits at once a guest whose rewrites freed more than its
 *     copy-on-write slack (store_commit_wanted; core/alloc.c invariant
 *     11), woken by the writer that crossed it.
 *   - Listing is not using: a guest directory's attributes (`ls -l` of the
 *     mount stats every guest) come from the open container when there is
 *     one, else from the attribute cache, else from a peek at the committed
 *     table (container_peek_dir: superblocks and table only, read-only, no
 *     write) whose answer the cache keeps.  So thousands of guests list
 *     without opening a container (measured, 10,000 guests: ls -l 18 s
 *     and 4,096 containers left open before; 1.5 s on a loaded machine,
 *     0.33 s of the daemon's CPU, none left open after;
 *     contrib/bench/RESULTS.md).  A peek holds
 *     a PEEKING entry for its name, so no open, commit or namespace change
 *     of that guest runs while it reads (its shared container lock would
 *     also make our own read-write open fail with -EBUSY).  The cache
 *     entry of a name is dropped when its container is opened (it may
 *     change them; while open the container answers) and by every create,
 *     delete and rename of the name, and refilled from the container when
 *     an idle one is committed and closed, and it is used only while the
 *     container file's inode, size, mtime and ctime are what they were
 *     when it was read (a read-only store has other writers).
 *
 * THREAD MODEL: `s->lock` protects the guest cache (`guests`, every entry's
 * fields, `open_num`) and `stopping`.  Container calls that may block
 * (opens, commits, closes) and guest-file changes are made outside it: an
 * entry's state keeps others away (OPENING, CLOSING, RESERVED, ns_busy),
 * and a cache reference keeps an OPEN container from being closed
 * underneath its holder.  `s->cond` wakes the committer for shutdown, for
 * a walk (`walk_wanted`) and for a wanted commit (`commit_wanted`, and
 * the entry's), all under `s->lock`;
 * `s->guest_cond` wakes waiters for an entry in flight.  `s->name_lock` (a
 * leaf) also guards each entry's name, for guest_event, which runs under a
 * container's lock and so may not take `s->lock`.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "dirio.h"
#include "format.h"
#include "guestfile.h"
#include "keyslot.h"
#include "io.h"
#include "lockinfo.h"
#include "netfs.h"
#include "hangar/names.h"
#include "hangar/savelock.h"
#include "hangar/store.h"

/* Containers idle (no reference) this long are committed and closed. */
#define STORE_GUEST_IDLE_MS 60000u
/* How long a delete waits for other references to a guest to go. */
#define STORE_BUSY_WAIT_MS 100u
/* The attribute cache: hash buckets, and a bound on its entries (about
 * 200 bytes each; past it, guests are peeked at every stat). */
#define STORE_ATTR_BUCKETS 4096u
#define STORE_ATTR_MAX	   262144u
/* A store uuid, as `.hangar-store` writes it: 8-4-4-4-12 lowercase hex. */
#define STORE_UUID_LEN 36

enum guest_state {
	GUEST_OPENING,	/* its container is being opened outside s->lock */
	GUEST_OPEN,	/* `c` is open and usable */
	GUEST_CLOSING,	/* `c` is being committed and closed (evicted or
			   deleted) outside s->lock; then the entry goes */
	GUEST_RESERVED, /* no container: a create, delete or rename of this
			   name is changing guest files outside s->lock */
	GUEST_PEEKING,	/* no container: its directory attributes are being
			   read from the file outside s->lock */
};

struct guest_entry {
	struct store *store;
	char name[FORMAT_GUEST_NAME_MAX + 1];
	struct container *c; /* OPEN, CLOSING: the container; else NULL */
	unsigned refs;	     /* OPEN: store_guest_get references */
	enum guest_state state;
	bool ns_busy;  /* OPEN: a delete or rename of it is running */
	bool acquired; /* OPEN: store_guest_acquire holds one of the refs */
	uint64_t last_used_ms; /* CLOCK_MONOTONIC of the last put */
	bool commit_wanted;    /* its slack is over: commit it now */
};

/* A guest directory's attributes as the committed table of its file
 * recorded them, while the file is unchanged (the design notes). */
struct guest_attr {
	struct guest_attr *next; /* in its hash bucket */
	char name[FORMAT_GUEST_NAME_MAX + 1];
	dev_t dev; /* the container file when it was read */
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	bool set; /* false: never set (-ENODATA) */
	struct object_attr attr;
};

struct store {
	char *dir;
	int dir_fd;
	struct dirio *ns; /* over dir_fd: every guest-file change */
	bool read_only;
	unsigned cluster_shift;
	unsigned commit_interval_ms;
	uint64_t cow_slack_bytes; /* store_options' */
	container_event_fn event;
	void *event_arg;
	bool encrypted;
	struct crypto_key *master; /* immutable while open; NULL when plain */
	/* the per-host store lock (a writer's; -1/NULL: none), immutable */
	int host_lock_fd;
	char *host_lock_path;

	pthread_mutex_t lock;
	/* a leaf lock: a guest's name is rewritten by a rename (under `lock`
	 * too) while guest_event, called by a container with its own lock
	 * held (so it may not take `lock`), reads it */
	pthread_mutex_t name_lock;
	pthread_cond_t cond;
	pthread_cond_t guest_cond; /* an entry changed state or went away */
	size_t open_num;	   /* entries holding a container */
	bool stopping;
	/* a guest was opened lazily: the committer walks it now rather than
	 * at its next tick (store_walk_opened) */
	bool walk_wanted;
	/* a guest's writes stranded more freed space than its slack limit
	 * (core/alloc.c invariant 11): the committer commits the guests
	 * flagged commit_wanted now (store_commit_wanted) */
	bool commit_wanted;
	bool committer_running;
	pthread_t committer;
	struct guest_entry **guests;
	size_t guest_num, guest_cap;
	struct guest_attr **attrs; /* STORE_ATTR_BUCKETS chains */
	size_t attr_num;
	/* the map cache budget every guest's container shares (map.c,
	 * "Cache"); freed after the last container is closed */
	struct map_budget *map_budget;
};

static int errno_neg(void)
{
	return errno ? -errno : -EIO;
}

static int dir_sync(int dir_fd)
{
	return fsync(dir_fd) ? errno_neg() : 0;
}

/*
 * Open one of the store's own small files for reading: never through a
 * symbolic link, never anything but a regular file (a FIFO would hang the
 * read; O_NONBLOCK keeps the open itself from hanging).  Returns the
 * descriptor or a negative errno (-EMEDIUMTYPE: not a regular file).
 */
static int small_file_open(int dir_fd, const char *name)
{
	struct stat st;
	int fd = openat(dir_fd, name,
			O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno_neg();
	if (fstat(fd, &st) != 0) {
		int ret = errno_neg();
		close(fd);
		return ret;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -EMEDIUMTYPE;
	}
	return fd;
}

/*
 * Create `name` afresh for writing: a leftover (or a planted link) is
 * removed first and the file is created O_EXCL | O_NOFOLLOW, so nothing
 * outside the store is ever truncated or written through it.
 */
static int small_file_create(int dir_fd, const char *name)
{
	if (unlinkat(dir_fd, name, 0) != 0 && errno != ENOENT)
		return errno_neg();
	int fd = openat(dir_fd, name,
			O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			0600);
	return fd < 0 ? errno_neg() : fd;
}

/* Whether `u` starts with a store uuid (STORE_UUID_LEN characters): only
 * that may become part of the per-host lock's path, whatever a person
 * wrote into `.hangar-store`. */
static bool uuid_valid(const char *u)
{
	for (int i = 0; i < STORE_UUID_LEN; i++) {
		const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		const char ch = u[i];
		if (dash ? ch != '-'
			 : !((ch >= '0' && ch <= '9') ||
			     (ch >= 'a' && ch <= 'f')))
			return false;
	}
	return true;
}

/* A random (version 4) uuid into out[STORE_UUID_LEN + 1]. */
static int uuid_generate(char *out)
{
	uint8_t b[16];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return errno_neg();
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(out, STORE_UUID_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

/* The settings in `buf` (NUL-terminated): cluster shift, encryption, and
 * the uuid into out_uuid[STORE_UUID_LEN + 1] ("" when there is none or it
 * does not parse: such a store gets one at its next read-write open).  The
 * last `uuid` line counts, so a damaged one is replaced by the line
 * config_add_uuid appends, not re-appended at every open. */
static int config_parse(const char *buf, unsigned *out_shift,
			bool *out_encrypted, char *out_uuid)
{
	unsigned version = 0, shift = 0;
	if (sscanf(buf, "hangar-store %u\ncluster_shift %u", &version,
		   &shift) != 2 ||
	    version != 1 || shift < FORMAT_CLUSTER_SHIFT_MIN ||
	    shift > FORMAT_CLUSTER_SHIFT_MAX)
		return -EINVAL;
	*out_shift = shift;
	*out_encrypted = strstr(buf, "\nencryption aes-256-gcm\n") != NULL;
	const char *u = NULL;
	for (const char *p = strstr(buf, "\nuuid "); p;
	     p = strstr(p + 1, "\nuuid "))
		u = p;
	out_uuid[0] = '\0';
	if (u && uuid_valid(u + 6) &&
	    (u[6 + STORE_UUID_LEN] == '\n' || u[6 + STORE_UUID_LEN] == '\0'))
		snprintf(out_uuid, STORE_UUID_LEN + 1, "%.36s", u + 6);
	return 0;
}

/* Read the settings file from `fd` into buf[len] (NUL-terminated). */
static int config_read_fd(int fd, char *buf, size_t len)
{
	const ssize_t n = pread(fd, buf, len - 1, 0);
	if (n < 0)
		return errno_neg();
	buf[n] = '\0';
	return 0;
}

static int config_read(int dir_fd, unsigned *out_shift, bool *out_encrypted,
		       char *out_uuid)
{
	char buf[256];
	int fd = small_file_open(dir_fd, STORE_CONFIG_NAME);
	if (fd < 0)
		return fd == -ENOENT ? -ENOENT : fd == -ELOOP ? -EINVAL : fd;
	int ret = config_read_fd(fd, buf, sizeof(buf));
	close(fd);
	return ret ? ret
		   : config_parse(buf, out_shift, out_encrypted, out_uuid);
}

/* Replace the store's small file `name` by `len` bytes of `buf`:
 * `name.tmp` (small_file_create), fsync, rename over, directory fsync, so
 * a crash leaves the old file or the new one.  `.hangar-store` and the
 * key-slot area are both written so. */
static int small_file_replace(int dir_fd, const char *name, const void *buf,
			      size_t len)
{
	char tmp[64];
	int ret = 0;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", name) >= sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = small_file_create(dir_fd, tmp);
	if (fd < 0)
		return fd;
	if (pwrite(fd, buf, len, 0) != (ssize_t)len || fsync(fd) != 0)
		ret = errno_neg();
	close(fd);
	if (!ret && renameat(dir_fd, tmp, dir_fd, name) != 0)
		ret = errno_neg();
	if (ret)
		(void)unlinkat(dir_fd, tmp, 0);
	else
		ret = dir_sync(dir_fd);
	return ret;
}

/* Write `len` bytes of settings as `.hangar-store`. */
static int config_write(int dir_fd, const char *buf, size_t len)
{
	return small_file_replace(dir_fd, STORE_CONFIG_NAME, buf, len);
}

/*
 * A store made before the uuid: give it one (store.h, LOCKS), into
 * uuid[STORE_UUID_LEN + 1].  Under an exclusive flock on `.hangar-store`
 * itself, which hosts sharing the store share too (a regular file), and
 * re-read under it: of two writers only the first writes, the second finds
 * its uuid.  The file is replaced by rename, so a lock may be on a file no
 * longer named so: then it is opened again (as keys_edit_begin).  A
 * settings file of 256 bytes or more (more than config_read reads) is not
 * rewritten: *uuid stays "" and the store goes without the per-host lock.
 */
static int config_add_uuid(int dir_fd, char *uuid)
{
	char buf[256 + sizeof("uuid \n") + STORE_UUID_LEN];
	unsigned shift;
	bool encrypted;
	for (;;) {
		struct stat held, now;
		int ret = 0;
		int fd = small_file_open(dir_fd, STORE_CONFIG_NAME);
		if (fd < 0)
			return fd;
		while (!ret && flock(fd, LOCK_EX) != 0)
			ret = errno == EINTR ? 0 : errno_neg();
		if (!ret && fstat(fd, &held) != 0)
			ret = errno_neg();
		if (ret) {
			close(fd);
			return ret;
		}
		if (fstatat(dir_fd, STORE_CONFIG_NAME, &now,
			    AT_SYMLINK_NOFOLLOW) != 0 ||
		    now.st_dev != held.st_dev || now.st_ino != held.st_ino) {
			close(fd); /* replaced meanwhile: lock the new one */
			continue;
		}
		ret = config_read_fd(fd, buf, 256);
		if (!ret)
			ret = config_parse(buf, &shift, &encrypted, uuid);
		/* more than is read cannot be rewritten whole: left as it
		 * is, without a uuid (and so without the per-host lock) */
		if (!ret && !uuid[0] && held.st_size < 256) {
			size_t len = strlen(buf);
			if (len > 0 && buf[len - 1] != '\n')
				buf[len++] = '\n';
			ret = uuid_generate(uuid);
			if (!ret) {
				len += (size_t)snprintf(buf + len,
							sizeof(buf) - len,
							"uuid %s\n", uuid);
				ret = config_write(dir_fd, buf, len);
			}
			if (ret)
				uuid[0] = '\0';
		}
		close(fd); /* unlocks */
		return ret;
	}
}

/* The per-host lock's path for the store `uuid` whose directory is inode
 * `dir_ino` into out[len].  The inode tells a copy of the store directory
 * (same uuid, a new directory) apart from the store itself; two mounts of
 * one CephFS show a directory under one inode number (Ceph's own). */
static int host_lock_path(const char *lock_dir, const char *uuid,
			  uint64_t dir_ino, char *out, size_t len)
{
	const int n = snprintf(out, len, "%s/%s-%" PRIx64 ".lock",
			       lock_dir ? lock_dir : STORE_HOST_LOCK_DIR, uuid,
			       dir_ino);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * Take the per-host store lock (store.h, LOCKS) at `path`: *out_fd is the
 * locked descriptor, or -1 when this host's lock directory cannot be used
 * by us (not there and not creatable, not ours): then the directory flock
 * is the only store lock.  -EWOULDBLOCK when another process holds it.
 * The file is created 0600 (another user could otherwise open it and hold
 * the lock against us) and never written; after locking it must still be
 * the file of that name, since a holder removes it before unlocking.
 */
static int host_lock_take(const char *lock_dir, const char *path, int *out_fd)
{
	*out_fd = -1;
	if (mkdir(lock_dir ? lock_dir : STORE_HOST_LOCK_DIR, 0755) != 0 &&
	    errno != EEXIST)
		return 0; /* no /run, or not ours to make */
	for (;;) {
		struct stat held, now;
		int fd = open(path,
			      O_RDONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
				      O_CLOEXEC,
			      0600);
		if (fd < 0)
			return errno == EACCES || errno == EPERM ||
					       errno == EROFS || errno == ENOENT
				       ? 0
				       : errno_neg();
		if (fstat(fd, &held) != 0) {
			const int ret = errno_neg();
			close(fd);
			return ret;
		}
		if (!S_ISREG(held.st_mode)) { /* O_NONBLOCK: a FIFO opened */
			close(fd);
			return -EMEDIUMTYPE;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			const int ret = errno == EWOULDBLOCK ? -EWOULDBLOCK
							     : errno_neg();
			close(fd);
			return ret;
		}
		if (stat(path, &now) == 0 && now.st_dev == held.st_dev &&
		    now.st_ino == held.st_ino) {
			*out_fd = fd;
			return 0;
		}
		close(fd); /* its holder removed it: take the new one */
	}
}

/* Drop the per-host store lock: the file goes first, while still locked
 * (host_lock_take's check makes that safe), then the lock with the
 * descriptor. */
static void host_lock_drop(struct store *s)
{
	if (s->host_lock_fd < 0)
		return;
	(void)unlink(s->host_lock_path);
	close(s->host_lock_fd);
	s->host_lock_fd = -1;
}

/* Open the key-slot area for reading (small_file_open); a missing or
 * odd one is a damaged store, -EUCLEAN. */
static int keys_open(int dir_fd)
{
	int fd = small_file_open(dir_fd, STORE_KEYS_NAME);
	if (fd == -ENOENT || fd == -ELOOP || fd == -EMEDIUMTYPE)
		return -EUCLEAN;
	return fd;
}

/* Read the key-slot area (exactly KEYSLOT_AREA_SIZE bytes) from `fd`. */
static int keys_read_fd(int fd, uint8_t *area)
{
	/* one byte more than the area tells a longer file apart */
	uint8_t buf[KEYSLOT_AREA_SIZE + 1];
	ssize_t n = pread(fd, buf, sizeof(buf), 0);
	int ret = n < 0 ? errno_neg() : 0;
	if (!ret && n != KEYSLOT_AREA_SIZE)
		ret = -EUCLEAN;
	if (!ret)
		memcpy(area, buf, KEYSLOT_AREA_SIZE);
	explicit_bzero(buf, sizeof(buf));
	return ret;
}

static int keys_read(int dir_fd, uint8_t *area)
{
	int fd = keys_open(dir_fd);
	if (fd < 0)
		return fd;
	int ret = keys_read_fd(fd, area);
	close(fd);
	return ret;
}

/* Replace the key-slot area atomically (see the design notes). */
static int keys_write(int dir_fd, const uint8_t *area)
{
	return small_file_replace(dir_fd, STORE_KEYS_NAME, area,
				  KEYSLOT_AREA_SIZE);
}

/*
 * An encrypted guest seals whole clusters: a 4 KiB write opens, reseals and
 * writes its whole cluster elsewhere.  16 KiB clusters quarter that, and
 * were the one size at which hangar-enc beat qcow2 with LUKS on every fio
 * job of the bench suite (4 KiB lost the 1 MiB sequential write, 64 KiB
 * the 4 KiB random and 1 MiB sequential writes; contrib/bench/RESULTS.md,
 * "Encrypted guests: 16 KiB clusters by default").
 */
#define STORE_CLUSTER_SHIFT_ENCRYPTED 14u

unsigned store_default_cluster_shift(bool encrypt)
{
	return encrypt ? STORE_CLUSTER_SHIFT_ENCRYPTED
		       : FORMAT_CLUSTER_SHIFT_DEFAULT;
}

int store_init(const char *dir, const struct store_init_options *opts)
{
	unsigned shift =
		opts && opts->cluster_shift
			? opts->cluster_shift
			: store_default_cluster_shift(opts && opts->encrypt);
	char buf[160], uuid[STORE_UUID_LEN + 1];
	uint8_t area[KEYSLOT_AREA_SIZE];
	struct crypto_key *master = NULL;
	const bool encrypt = opts && opts->encrypt;
	int dir_fd, ret = 0;

	if (shift < FORMAT_CLUSTER_SHIFT_MIN ||
	    shift > FORMAT_CLUSTER_SHIFT_MAX)
		return -EINVAL;
	if (encrypt && (!opts->key_secret || opts->key_secret_len == 0))
		return -EINVAL;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return errno_neg();
	dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return errno_neg();
	if (faccessat(dir_fd, STORE_CONFIG_NAME, F_OK, AT_SYMLINK_NOFOLLOW) ==
	    0) {
		ret = -EEXIST;
		goto out_close;
	}
	if (encrypt) {
		/* The key area first: the settings file is what makes the
		 * directory a store. */
		ret = keyslot_area_init(area, &master, opts->key_kind,
					opts->kdf, opts->key_secret,
					opts->key_secret_len);
		crypto_key_free(master); /* guests are created by store_open */
		if (!ret)
			ret = keys_write(dir_fd, area);
		if (ret)
			goto out_close;
	}
	ret = uuid_generate(uuid);
	if (ret)
		goto out_close;
	int len =
		snprintf(buf, sizeof(buf),
			 "hangar-store 1\ncluster_shift %u\n%suuid %s\n", shift,
			 encrypt ? "encryption aes-256-gcm\n" : "", uuid);
	ret = config_write(dir_fd, buf, (size_t)len);
out_close:
	close(dir_fd);
	return ret;
}

int store_probe(const char *dir, struct store_probe *out)
{
	int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return errno_neg();
	char uuid[STORE_UUID_LEN + 1];
	memset(out, 0, sizeof(*out));
	int ret =
		config_read(dir_fd, &out->cluster_shift, &out->encrypted, uuid);
	close(dir_fd);
	return ret;
}

static void *committer_main(void *arg);

int store_open(const char *dir, const struct store_options *opts,
	       struct store **out_store)
{
	struct store *s = calloc(1, sizeof(*s));
	char uuid[STORE_UUID_LEN + 1];
	int ret;

	if (!s)
		return -ENOMEM;
	s->host_lock_fd = -1;
	s->read_only = opts && opts->read_only;
	s->commit_interval_ms = opts ? opts->commit_interval_ms : 0;
	s->cow_slack_bytes = opts ? opts->cow_slack_bytes : 0;
	s->event = opts ? opts->event : NULL;
	s->event_arg = opts ? opts->event_arg : NULL;
	s->map_budget = map_budget_new(opts ? opts->map_cache_bytes : 0);
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->name_lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	/* timed waits on it (guest_wait_refs) use the monotonic clock */
	pthread_condattr_t cattr;
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&s->guest_cond, &cattr);
	pthread_condattr_destroy(&cattr);
	s->dir = strdup(dir);
	s->attrs = calloc(STORE_ATTR_BUCKETS, sizeof(*s->attrs));
	if (!s->dir || !s->attrs || !s->map_budget) {
		ret = -ENOMEM;
		goto out_free;
	}
	s->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dir_fd < 0) {
		ret = errno_neg();
		goto out_free;
	}
	const enum store_lease_check lease =
		opts ? opts->lease_check : STORE_LEASE_CHECK_AUTO;
	unsigned dflags = s->read_only && opts && opts->read_beside_writer
				  ? DIRIO_FILE_READ_BESIDE_WRITER
				  : 0;
	const bool shared = netfs_shared(s->dir_fd);
	if (shared)
		dflags |= DIRIO_FILE_HOLDER_RECORD;
	if (lease == STORE_LEASE_CHECK_ON ||
	    (lease == STORE_LEASE_CHECK_AUTO && shared))
		dflags |= DIRIO_FILE_LEASE_CHECK;
	ret = dirio_file_open(s->dir_fd, dflags, &s->ns);
	if (ret)
		goto out_close_dir;
	ret = config_read(s->dir_fd, &s->cluster_shift, &s->encrypted, uuid);
	if (ret)
		goto out_close_dir;
	if (s->encrypted) {
		/* Unlock before anything is written: a wrong key touches
		 * nothing. */
		uint8_t area[KEYSLOT_AREA_SIZE];
		if (!opts || !opts->key_secret) {
			ret = -ENOKEY;
			goto out_close_dir;
		}
		ret = keys_read(s->dir_fd, area);
		if (!ret)
			ret = keyslot_unlock(&s->master, NULL, area,
					     sizeof(area), opts->key_kind,
					     opts->key_secret,
					     opts->key_secret_len);
		if (ret)
			goto out_close_dir;
	}
	if (s->read_only) {
		/* A reader takes a shared lock when it can, so no writer
		 * starts underneath a read-only mount; when a writer already
		 * holds the store, the reader proceeds without (each guest it
		 * opens is then guarded by the container lock). */
		(void)flock(s->dir_fd, LOCK_SH | LOCK_NB);
	} else {
		struct statvfs vfs;
		if (fstatvfs(s->dir_fd, &vfs) == 0 &&
		    (vfs.f_flag & ST_RDONLY)) {
			ret = -EROFS;
			goto out_close_dir;
		}
		if (faccessat(s->dir_fd, ".", W_OK, AT_EACCESS) != 0) {
			ret = errno_neg();
			goto out_close_dir;
		}
		if (flock(s->dir_fd, LOCK_EX | LOCK_NB) != 0) {
			ret = errno == EWOULDBLOCK ? -EWOULDBLOCK : errno_neg();
			goto out_close_dir;
		}
		if (!uuid[0])
			ret = config_add_uuid(s->dir_fd, uuid);
		if (ret)
			goto out_close_dir;
		char path[PATH_MAX];
		const char *lock_dir = opts ? opts->host_lock_dir : NULL;
		struct stat dir_st;
		if (fstat(s->dir_fd, &dir_st) != 0) {
			ret = errno_neg();
			goto out_close_dir;
		}
		if (uuid[0]) /* else a settings file too long to add one to */
			ret = host_lock_path(lock_dir, uuid,
					     (uint64_t)dir_st.st_ino, path,
					     sizeof(path));
		if (uuid[0] && !ret)
			ret = host_lock_take(lock_dir, path, &s->host_lock_fd);
		if (ret)
			goto out_close_dir;
		if (s->host_lock_fd >= 0) {
			s->host_lock_path = strdup(path);
			if (!s->host_lock_path) {
				ret = -ENOMEM;
				goto out_close_dir;
			}
		}
		if (s->commit_interval_ms) {
			ret = -pthread_create(&s->committer, NULL,
					      committer_main, s);
			if (ret)
				goto out_close_dir;
			s->committer_running = true;
		}
	}
	*out_store = s;
	return 0;
out_close_dir:
	if (s->host_lock_path)
		host_lock_drop(s);
	else if (s->host_lock_fd >= 0)
		close(s->host_lock_fd); /* not ours to remove: no path kept */
	dirio_close(s->ns);
	close(s->dir_fd);
out_free:
	free(s->host_lock_path);
	crypto_key_free(s->master);
	free(s->attrs);
	free(s->dir);
	map_budget_free(s->map_budget);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->name_lock);
	pthread_cond_destroy(&s->cond);
	pthread_cond_destroy(&s->guest_cond);
	free(s);
	return ret;
}

int store_close(struct store *s)
{
	int first = 0;
	if (!s)
		return 0;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (s->committer_running)
		pthread_join(s->committer, NULL);
	for (size_t i = 0; i < s->guest_num; i++) {
		int ret = container_close(s->guests[i]->c);
		if (ret && !first)
			first = ret;
		free(s->guests[i]);
	}
	free(s->guests);
	for (size_t i = 0; i < STORE_ATTR_BUCKETS; i++) {
		while (s->attrs[i]) {
			struct guest_attr *a = s->attrs[i];
			s->attrs[i] = a->next;
			free(a);
		}
	}
	free(s->attrs);
	dirio_close(s->ns);
	host_lock_drop(s);
	free(s->host_lock_path);
	close(s->dir_fd);	    /* releases the store lock */
	crypto_key_free(s->master); /* wiped */
	free(s->dir);
	map_budget_free(s->map_budget);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->name_lock);
	pthread_cond_destroy(&s->cond);
	pthread_cond_destroy(&s->guest_cond);
	free(s);
	return first;
}

/* The holder of the per-host store lock of the store at `dir_fd`, as
 * lockinfo_flock_holder; -ENOENT when there is none (or no uuid). */
static int host_lock_holder(int dir_fd, const char *lock_dir, pid_t *out_pid,
			    bool *out_exclusive)
{
	char uuid[STORE_UUID_LEN + 1], path[PATH_MAX];
	unsigned shift;
	bool encrypted;
	struct stat st;
	if (config_read(dir_fd, &shift, &encrypted, uuid) != 0 || !uuid[0] ||
	    fstat(dir_fd, &st) != 0 ||
	    host_lock_path(lock_dir, uuid, (uint64_t)st.st_ino, path,
			   sizeof(path)) != 0 ||
	    stat(path, &st) != 0)
		return -ENOENT;
	return lockinfo_flock_holder(&st, out_pid, out_exclusive);
}

int store_lock_holder(const char *dir, pid_t *out_pid)
{
	return store_lock_holder_at(dir, NULL, out_pid);
}

int store_lock_holder_at(const char *dir, const char *host_lock_dir,
			 pid_t *out_pid)
{
	struct stat st;
	bool exclusive = false;
	pid_t pid = 0;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	int ret = fstat(fd, &st) == 0
			  ? lockinfo_flock_holder(&st, &pid, &exclusive)
			  : errno_neg();
	if (ret && ret != -ENOENT) {
		/* No lock table to read (no /proc): whether it is held can
		 * still be told, not by whom. */
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			ret = -ENOENT;
		} else {
			ret = 0;
			exclusive = false;
		}
	}
	/* nobody through this mount: a writer through another mount of the
	 * same store on this host holds the per-host lock */
	if (ret == -ENOENT)
		ret = host_lock_holder(fd, host_lock_dir, &pid, &exclusive);
	close(fd);
	if (ret)
		return -ENOENT;
	*out_pid = exclusive ? pid : 0;
	return 0;
}

unsigned store_cluster_shift(const struct store *s)
{
	return s->cluster_shift;
}

const char *store_dir(const struct store *s)
{
	return s->dir;
}

int store_guest_open_io(struct store *s, const char *name, struct io **out_io)
{
	if (!name_guest_valid(name))
		return -EINVAL;
	int ret = guestfile_open(s->ns, name, O_RDONLY, out_io);
	if (ret)
		return ret;
	/* read_beside_writer may have opened it unlocked: a whole-file
	 * reader needs the lock (again: a no-op when it is held). */
	const int fd = io_file_fd(*out_io);
	if (fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) != 0) {
		ret = errno == EWOULDBLOCK ? -EBUSY : errno_neg();
		io_close(*out_io);
		*out_io = NULL;
	}
	return ret;
}

int store_guest_stat(struct store *s, const char *name, struct stat *out_st)
{
	char file[GUESTFILE_NAME_MAX];

	if (!name_guest_valid(name))
		return -ENOENT;
	guestfile_name(name, file);
	if (fstatat(s->dir_fd, file, out_st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno_neg();
	/* what is not listed is no guest (a link, a FIFO, a directory) */
	return S_ISREG(out_st->st_mode) ? 0 : -ENOENT;
}

int store_guest_holder(struct store *s, const char *name, pid_t *out_pid,
		       bool *out_exclusive)
{
	char file[GUESTFILE_NAME_MAX];
	struct stat st;

	if (!name_guest_valid(name))
		return -EINVAL;
	guestfile_name(name, file);
	if (fstatat(s->dir_fd, file, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno_neg();
	return lockinfo_flock_holder(&st, out_pid, out_exclusive);
}

int store_guest_holder_record(struct store *s, const char *name,
			      struct store_holder_record *out)
{
	char file[GUESTFILE_NAME_MAX];

	if (!name_guest_valid(name))
		return -EINVAL;
	guestfile_name(name, file);
	const int fd = openat(s->dir_fd, file,
			      O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno_neg();
	memset(out, 0, sizeof(*out));
	const int ret = lockinfo_record_get(fd, out->host, sizeof(out->host),
					    &out->pid, &out->since);
	close(fd);
	return ret;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void store_names_free(char **names, size_t num)
{
	for (size_t i = 0; names && i < num; i++)
		free(names[i]);
	free(names);
}

int store_guest_list(struct store *s, char ***out_names, size_t *out_num)
{
	char **names = NULL;
	size_t num = 0, cap = 0;
	int ret = 0;
	int fd = dup(s->dir_fd);
	if (fd < 0)
		return errno_neg();
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return errno_neg();
	}
	rewinddir(d);
	struct dirent *de;
	const size_t suffix = strlen(STORE_GUEST_SUFFIX);
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len <= suffix ||
		    strcmp(de->d_name + len - suffix, STORE_GUEST_SUFFIX) != 0)
			continue;
		/* Only regular files are guests: a link, FIFO or directory
		 * named like one is not listed (and would not open). */
		if (de->d_type != DT_REG) {
			struct stat st;
			if (de->d_type != DT_UNKNOWN ||
			    fstatat(s->dir_fd, de->d_name, &st,
				    AT_SYMLINK_NOFOLLOW) != 0 ||
			    !S_ISREG(st.st_mode))
				continue;
		}
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)(len - suffix),
			 de->d_name);
		if (!name_guest_valid(name))
			continue;
		if (num == cap) {
			cap = cap ? cap * 2 : 16;
			char **n = realloc(names, cap * sizeof(*n));
			if (!n) {
				ret = -ENOMEM;
				break;
			}
			names = n;
		}
		names[num] = strdup(name);
		if (!names[num]) {
			ret = -ENOMEM;
			break;
		}
		num++;
	}
	closedir(d);
	if (ret) {
		store_names_free(names, num);
		return ret;
	}
	if (num)
		qsort(names, num, sizeof(*names), str_cmp);
	*out_names = names;
	*out_num = num;
	return 0;
}

static void guest_event(void *arg, const struct container_event *ev)
{
	struct guest_entry *g = arg;
	struct container_event copy = *ev;
	char name[sizeof(g->name)];
	pthread_mutex_lock(&g->store->name_lock);
	memcpy(name, g->name, sizeof(name));
	pthread_mutex_unlock(&g->store->name_lock);
	copy.guest = name;
	if (g->store->event)
		g->store->event(g->store->event_arg, &copy);
}

/* A guest's writer crossed its slack limit (container_options
 * .commit_wanted): wake the committer for it.  The writer holds no
 * container lock, so taking s->lock is in order; the entry is OPEN (its
 * container is writing). */
static void guest_commit_wanted(void *arg)
{
	struct guest_entry *g = arg;
	struct store *s = g->store;
	pthread_mutex_lock(&s->lock);
	g->commit_wanted = true;
	s->commit_wanted = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* How many containers may stay open: a quarter of the descriptors this
 * process may have (the rest serve files, sockets, FUSE), 16..4096. */
static size_t guest_open_cap(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return 4096;
	size_t cap = (size_t)(rl.rlim_cur / 4);
	return cap < 16 ? 16 : cap > 4096 ? 4096 : cap;
}

/* Caller holds s->lock. */
static struct guest_entry *guest_find(struct store *s, const char *name)
{
	for (size_t i = 0; i < s->guest_num; i++)
		if (strcmp(s->guests[i]->name, name) == 0)
			return s->guests[i];
	return NULL;
}

/* Caller holds s->lock. */
static struct guest_entry *guest_find_container(struct store *s,
						const struct container *c)
{
	for (size_t i = 0; i < s->guest_num; i++)
		if (s->guests[i]->c == c)
			return s->guests[i];
	return NULL;
}

/* Caller holds s->lock: a new entry for `name` in `state`, or NULL. */
static struct guest_entry *guest_add(struct store *s, const char *name,
				     enum guest_state state)
{
	if (s->guest_num == s->guest_cap) {
		size_t cap = s->guest_cap ? s->guest_cap * 2 : 16;
		struct guest_entry **n = realloc(s->guests, cap * sizeof(*n));
		if (!n)
			return NULL;
		s->guests = n;
		s->guest_cap = cap;
	}
	struct guest_entry *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->store = s;
	g->state = state;
	snprintf(g->name, sizeof(g->name), "%s", name);
	s->guests[s->guest_num++] = g;
	return g;
}

/* Caller holds s->lock: drop entry `g` (its container already closed or
 * never opened) and wake whoever waits for its name. */
static void guest_forget(struct store *s, struct guest_entry *g)
{
	for (size_t i = 0; i < s->guest_num; i++) {
		if (s->guests[i] != g)
			continue;
		s->guests[i] = s->guests[--s->guest_num];
		break;
	}
	free(g);
	pthread_cond_broadcast(&s->guest_cond);
}

/* ---- the attribute cache (caller holds s->lock) ---- */

static size_t attr_bucket(const char *name)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % STORE_ATTR_BUCKETS;
}

static struct guest_attr **attr_slot(struct store *s, const char *name)
{
	struct guest_attr **pa = &s->attrs[attr_bucket(name)];
	while (*pa && strcmp((*pa)->name, name) != 0)
		pa = &(*pa)->next;
	return pa;
}

static bool attr_current(const struct guest_attr *a, const struct stat *host)
{
	return a->dev == host->st_dev && a->ino == host->st_ino &&
	       a->size == host->st_size &&
	       a->mtime.tv_sec == host->st_mtim.tv_sec &&
	       a->mtime.tv_nsec == host->st_mtim.tv_nsec &&
	       a->ctime.tv_sec == host->st_ctim.tv_sec &&
	       a->ctime.tv_nsec == host->st_ctim.tv_nsec;
}

/* Forget what the cache knows of `name`: its container is being opened
 * (and may change them), or the name is being created, removed or
 * renamed. */
static void attr_forget(struct store *s, const char *name)
{
	struct guest_attr **pa = attr_slot(s, name);
	struct guest_attr *a = *pa;
	if (!a)
		return;
	*pa = a->next;
	free(a);
	s->attr_num--;
}

/* Remember `dir` (NULL: never set) as what file `host` of `name` records.
 * Out of memory or past STORE_ATTR_MAX it is simply not kept. */
static void attr_keep(struct store *s, const char *name,
		      const struct stat *host, const struct object_attr *dir)
{
	struct guest_attr **pa = attr_slot(s, name);
	struct guest_attr *a = *pa;
	if (!a) {
		if (s->attr_num >= STORE_ATTR_MAX ||
		    !(a = calloc(1, sizeof(*a))))
			return;
		snprintf(a->name, sizeof(a->name), "%s", name);
		*pa = a;
		s->attr_num++;
	}
	a->dev = host->st_dev;
	a->ino = host->st_ino;
	a->size = host->st_size;
	a->mtime = host->st_mtim;
	a->ctime = host->st_ctim;
	a->set = dir != NULL;
	if (dir)
		a->attr = *dir;
}

/* Whether a namespace change (create, delete, rename) of `g`'s name must
 * wait: something else is in flight on it. */
static bool guest_unsettled(const struct guest_entry *g)
{
	return g && (g->state != GUEST_OPEN || g->ns_busy);
}

/*
 * Caller holds s->lock: pick the least recently used container nobody
 * holds and mark it CLOSING (the caller then calls guest_evict outside the
 * lock).  With `idle_before_ms`, only one idle since then; otherwise only
 * when the cache is at its cap.  NULL when there is none.
 */
static struct guest_entry *guest_pick_victim(struct store *s,
					     uint64_t idle_before_ms)
{
	struct guest_entry *victim = NULL;
	if (!idle_before_ms && s->open_num < guest_open_cap())
		return NULL;
	for (size_t i = 0; i < s->guest_num; i++) {
		struct guest_entry *g = s->guests[i];
		if (g->state != GUEST_OPEN || g->refs || g->ns_busy)
			continue;
		if (idle_before_ms && g->last_used_ms >= idle_before_ms)
			continue;
		if (!victim || g->last_used_ms < victim->last_used_ms)
			victim = g;
	}
	if (victim)
		victim->state = GUEST_CLOSING;
	return victim;
}

/* Wait until `name` is settled, then reserve it (a GUEST_RESERVED entry,
 * *out_g) for a namespace change done outside the store lock; `taken` if an
 * entry holds the name, -ENOMEM. */
static int guest_reserve(struct store *s, const char *name, int taken,
			 struct guest_entry **out_g)
{
	struct guest_entry *g;
	int ret;

	pthread_mutex_lock(&s->lock);
	while (guest_unsettled(g = guest_find(s, name)))
		pthread_cond_wait(&s->guest_cond, &s->lock);
	g = g ? NULL : guest_add(s, name, GUEST_RESERVED);
	ret = g ? 0 : guest_find(s, name) ? taken : -ENOMEM;
	if (!ret)
		attr_forget(s, name);
	pthread_mutex_unlock(&s->lock);
	*out_g = g;
	return ret;
}

/*
 * Commit and close the container of CLOSING entry `g` (without s->lock).
 * A container whose commit fails stays open: its error must keep being
 * reported, and closing would forget it.
 */
static void guest_evict(struct store *s, struct guest_entry *g)
{
	struct object_attr dir;
	struct stat host;
	int dir_ret = -EIO;
	int ret = s->read_only ? 0 : container_commit(g->c);
	if (ret == 0) {
		/* Committed: the attributes a peek would read from now on,
		 * kept so that the next stat of this guest reads nothing.  (A
		 * CLOSING entry is never renamed: its name is stable here.) */
		dir_ret = container_dir_getattr(g->c, &dir);
		(void)container_close(g->c); /* nothing left to commit */
		if (store_guest_stat(s, g->name, &host) != 0)
			dir_ret = -EIO;
	}
	pthread_mutex_lock(&s->lock);
	if (ret == 0) {
		if (dir_ret == 0 || dir_ret == -ENODATA)
			attr_keep(s, g->name, &host,
				  dir_ret == 0 ? &dir : NULL);
		s->open_num--;
		guest_forget(s, g);
	} else {
		g->state = GUEST_OPEN;
		g->last_used_ms = now_ms();
		pthread_cond_broadcast(&s->guest_cond);
	}
	pthread_mutex_unlock(&s->lock);
}

int store_guest_create(struct store *s, const char *name,
		       const struct guest_create_options *opts)
{
	if (!name_guest_valid(name))
		return -EINVAL;
	if (s->read_only)
		return -EROFS;
	const struct container_options copts = {
		.cluster_shift = s->cluster_shift,
		.compress_disks = opts && opts->compress_disks,
		.master = s->master,
		.map_budget = s->map_budget,
	};
	struct guest_entry *g;
	int ret;

	/* Reserve the name, then write and sync outside the store lock. */
	ret = guest_reserve(s, name, -EEXIST, &g);
	if (ret)
		return ret;
	ret = guestfile_create(s->ns, name, &copts);
	pthread_mutex_lock(&s->lock);
	guest_forget(s, g);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/* store_guest_clone_shared's work on the copy, before it is renamed. */
static int clone_prepare(struct container *c, void *arg)
{
	const struct store_clone_options *opts = arg;
	struct snapshot_info *snaps = NULL;
	size_t num = 0;
	int ret = 0;

	if (opts->snapshot)
		ret = container_snapshot_rollback(c, opts->snapshot);
	if (!ret)
		ret = container_snapshot_list(c, &snaps, &num);
	for (size_t i = 0; i < num && !ret; i++)
		ret = container_snapshot_delete(c, snaps[i].name);
	free(snaps);
	return ret ? ret : container_make_clone(c, opts->drop, opts->drop_arg);
}

int store_guest_clone_shared(struct store *s, const char *from, const char *to,
			     const struct store_clone_options *opts)
{
	const struct store_clone_options none = {0};
	const struct container_options copts = {.master = s->master};
	struct guest_entry *g_to = NULL, *g_from = NULL, *g;
	struct container *open_src = NULL;
	struct io *src_io = NULL;
	int ret = 0;

	if (!name_guest_valid(from) || !name_guest_valid(to) ||
	    strcmp(from, to) == 0)
		return -EINVAL;
	if (s->read_only)
		return -EROFS;
	if (s->encrypted)
		return -EOPNOTSUPP;
	if (!opts)
		opts = &none;
	/* Both names at once (as a rename does: two callers taking them in
	 * opposite orders must not wait for each other): `to` reserved, the
	 * source's open container held, or its name reserved so that nothing
	 * opens, renames or deletes it while its file is cloned. */
	pthread_mutex_lock(&s->lock);
	for (;;) {
		g = guest_find(s, from);
		g_to = guest_find(s, to);
		if (!guest_unsettled(g) && !guest_unsettled(g_to))
			break;
		pthread_cond_wait(&s->guest_cond, &s->lock);
	}
	if (g_to) {
		pthread_mutex_unlock(&s->lock);
		return -EEXIST; /* open, so its file exists */
	}
	g_to = guest_add(s, to, GUEST_RESERVED);
	if (g_to && !g) {
		g_from = guest_add(s, from, GUEST_RESERVED);
		if (!g_from) {
			guest_forget(s, g_to);
			g_to = NULL;
		}
	}
	if (!g_to) {
		pthread_mutex_unlock(&s->lock);
		return -ENOMEM;
	}
	attr_forget(s, to);
	if (g) {
		g->refs++;
		open_src = g->c;
	}
	pthread_mutex_unlock(&s->lock);
	if (!ret && open_src)
		ret = container_commit(open_src);
	if (!ret && !open_src)
		ret = guestfile_open(s->ns, from, O_RDONLY, &src_io);
	if (!ret)
		ret = guestfile_clone(
			s->ns, open_src ? container_file_io(open_src) : src_io,
			to, &copts, clone_prepare, (void *)opts);
	io_close(src_io);
	if (open_src)
		store_guest_put(s, open_src);
	pthread_mutex_lock(&s->lock);
	if (g_from)
		guest_forget(s, g_from);
	guest_forget(s, g_to);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/* The store's own refusals of a guest file, found before its container is
 * read (guestfile_open's errors); NONE for no guest and no memory. */
static void guest_refusal_of_file(int ret, struct container_refusal *why)
{
	const char *text = "";

	switch (-ret) {
	case EBUSY:
		why->code = CONTAINER_REFUSAL_LOCKED;
		text = "another process has the container open (container "
		       "lock)";
		break;
	case EMLINK:
		why->code = CONTAINER_REFUSAL_HARD_LINKED;
		text = "the container file has other names (hard links), "
		       "possibly in another store; it is never opened for "
		       "writing";
		break;
	case ELOOP:
	case EMEDIUMTYPE:
		why->code = CONTAINER_REFUSAL_NOT_A_FILE;
		text = "not a regular file (a symbolic link, a FIFO, a "
		       "directory): never opened";
		break;
	case ENOENT: /* no guest */
	case EINVAL: /* no guest name */
	case ENOMEM:
		return;
	default:
		why->code = CONTAINER_REFUSAL_IO;
		break;
	}
	snprintf(why->text, sizeof(why->text), "%s", text);
}

int store_guest_get(struct store *s, const char *name,
		    struct container **out_container)
{
	return store_guest_get_why(s, name, out_container, NULL);
}

int store_guest_get_why(struct store *s, const char *name,
			struct container **out_container,
			struct container_refusal *why)
{
	struct container_refusal scratch;
	struct guest_entry *g, *victim;
	struct io *io = NULL;
	struct container *c = NULL;
	int ret;

	if (!why)
		why = &scratch;
	why->code = CONTAINER_REFUSAL_NONE;
	why->text[0] = '\0';
	if (!name_guest_valid(name))
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	while ((g = guest_find(s, name)) && g->state != GUEST_OPEN)
		pthread_cond_wait(&s->guest_cond, &s->lock);
	if (g) {
		g->refs++;
		*out_container = g->c;
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	/* Not open: a placeholder keeps other openers of this name waiting
	 * while we open it outside the store lock. */
	g = guest_add(s, name, GUEST_OPENING);
	victim = g ? guest_pick_victim(s, 0) : NULL;
	pthread_mutex_unlock(&s->lock);
	if (!g)
		return -ENOMEM;
	if (victim)
		guest_evict(s, victim);
	ret = guestfile_open(s->ns, name, s->read_only ? O_RDONLY : O_RDWR,
			     &io);
	if (!ret) {
		/* lazy: the trees are walked when the guest first writes
		 * (container.c, "Lazy open"), so opening a guest costs its
		 * table, not its disks' metadata */
		struct container_options copts = {.read_only = s->read_only,
						  .event = guest_event,
						  .event_arg = g,
						  .master = s->master,
						  .map_budget = s->map_budget,
						  .slack_bytes =
							  s->cow_slack_bytes,
						  .lazy_maps = true};
		if (s->committer_running)
			copts.commit_wanted = guest_commit_wanted;
		ret = container_open_why(io, &copts, &c, why);
		if (ret)
			io_close(io);
	} else {
		guest_refusal_of_file(ret, why);
	}
	/* Pins whose readers died (a killed hangarfs -o ro, a killed export)
	 * go at the first read-write open: container.h, "Pins". */
	if (!ret && !s->read_only)
		(void)container_pin_reap(c, NULL);
	pthread_mutex_lock(&s->lock);
	if (ret) {
		guest_forget(s, g);
	} else {
		g->c = c;
		g->refs = 1;
		g->state = GUEST_OPEN;
		s->open_num++;
		if (!container_walked(c)) {
			s->walk_wanted = true;
			pthread_cond_broadcast(&s->cond);
		}
		attr_forget(s, name); /* the container answers, and may change
					 them */
		*out_container = c;
		pthread_cond_broadcast(&s->guest_cond);
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

void store_guest_put(struct store *s, struct container *c)
{
	pthread_mutex_lock(&s->lock);
	struct guest_entry *g = guest_find_container(s, c);
	if (g && g->refs > 0 && --g->refs == 0)
		g->last_used_ms = now_ms();
	/* a delete may be waiting for the references to go */
	if (g && g->ns_busy)
		pthread_cond_broadcast(&s->guest_cond);
	pthread_mutex_unlock(&s->lock);
}

/* How often store_snapshot_open_beside tries again when the writer
 * recycled a block of the state it was reading. */
#define STORE_BESIDE_TRIES 8

int store_snapshot_open_beside(struct store *s, const char *name,
			       const char *snap, struct container **out_guest,
			       struct container **out_view)
{
	char file[GUESTFILE_NAME_MAX];
	struct container_options copts = {.read_only = true,
					  .master = s->master};
	struct container *c = NULL;
	struct io *io = NULL;
	int ret = -EINVAL;

	if (!name_guest_valid(name))
		return -EINVAL;
	guestfile_name(name, file);
	for (int i = 0; i < STORE_BESIDE_TRIES; i++) {
		/* No container lock: the writer holds it.  The newest
		 * committed superblock names the snapshot; a block the writer
		 * recycled since fails its checksum and we read again. */
		ret = io_file_openat(s->dir_fd, file, O_RDONLY, &io);
		if (ret)
			return ret == -ELOOP ? -ENOENT : ret;
		ret = container_open_why(io, &copts, &c, NULL);
		if (ret) {
			io_close(io);
			if (ret == -EBADMSG || ret == -EUCLEAN)
				continue;
			return ret;
		}
		ret = container_snapshot_open(c, snap, out_view);
		if (ret == 0) {
			*out_guest = c;
			return 0;
		}
		(void)container_close(c);
		if (ret != -EBADMSG && ret != -EUCLEAN)
			return ret;
	}
	return ret;
}

void store_snapshot_close_beside(struct container *guest,
				 struct container *view)
{
	if (!guest)
		return;
	container_snapshot_close(guest, view);
	(void)container_close(guest); /* read-only: nothing to commit */
}

/* Read guest `name`'s directory attributes from its file's committed
 * table (container_peek_dir), without s->lock. */
static int guest_peek_dir(struct store *s, const char *name,
			  struct object_attr *out_attr)
{
	const struct container_options copts = {.read_only = true,
						.master = s->master};
	struct io *io = NULL;
	int ret = guestfile_open(s->ns, name, O_RDONLY, &io);
	if (ret)
		return ret;
	ret = container_peek_dir(io, &copts, out_attr);
	io_close(io);
	return ret;
}

int store_guest_acquire(struct store *s, const char *name)
{
	struct container *c = NULL;

	if (s->read_only)
		return -EROFS;
	int ret = store_guest_get(s, name, &c);
	if (ret)
		return ret;
	pthread_mutex_lock(&s->lock);
	struct guest_entry *g = guest_find_container(s, c);
	const bool keep = g && !g->acquired;
	if (keep)
		g->acquired = true; /* the reference of this get stays */
	pthread_mutex_unlock(&s->lock);
	if (!keep)
		store_guest_put(s, c);
	return 0;
}

int store_guest_release(struct store *s, const char *name)
{
	if (!name_guest_valid(name))
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	struct guest_entry *g;
	while (guest_unsettled(g = guest_find(s, name)))
		pthread_cond_wait(&s->guest_cond, &s->lock);
	if (!g || g->state != GUEST_OPEN) {
		pthread_mutex_unlock(&s->lock);
		return 0; /* not open here: nothing held */
	}
	if (g->ns_busy || g->refs > (g->acquired ? 1u : 0u)) {
		pthread_mutex_unlock(&s->lock);
		return -EBUSY; /* files of it are open (or a request runs) */
	}
	if (g->acquired) {
		g->acquired = false;
		g->refs--;
	}
	g->state = GUEST_CLOSING;
	pthread_mutex_unlock(&s->lock);
	guest_evict(s, g);
	/* a failed commit keeps it open (guest_evict): say so */
	pthread_mutex_lock(&s->lock);
	g = guest_find(s, name);
	const int ret = g && g->state == GUEST_OPEN ? -EIO : 0;
	pthread_mutex_unlock(&s->lock);
	return ret;
}

int store_guest_dir_getattr(struct store *s, const char *name,
			    struct object_attr *out_attr)
{
	struct container *c = NULL;
	struct guest_entry *g;
	struct stat host;
	int ret;

	memset(out_attr, 0, sizeof(*out_attr));
	if (!name_guest_valid(name))
		return -EINVAL;
	ret = store_guest_stat(s, name, &host);
	if (ret)
		return ret;
	pthread_mutex_lock(&s->lock);
	struct guest_attr *a = NULL;
	for (;;) {
		a = *attr_slot(s, name);
		if (a && !attr_current(a, &host))
			a = NULL;
		g = guest_find(s, name);
		/* A guest being opened still has its committed attributes:
		 * a listing does not wait for a slow open. */
		if (!g || g->state == GUEST_OPEN ||
		    (g->state == GUEST_OPENING && a))
			break;
		pthread_cond_wait(&s->guest_cond, &s->lock);
	}
	if (g && g->state == GUEST_OPEN) {
		/* open: it knows best, changes not yet committed too */
		g->refs++;
		c = g->c;
		pthread_mutex_unlock(&s->lock);
		ret = container_dir_getattr(c, out_attr);
		store_guest_put(s, c);
		return ret;
	}
	if (a) {
		if (a->set)
			*out_attr = a->attr;
		pthread_mutex_unlock(&s->lock);
		return a->set ? 0 : -ENODATA;
	}
	g = guest_add(s, name, GUEST_PEEKING);
	pthread_mutex_unlock(&s->lock);
	if (!g)
		return -ENOMEM;
	ret = guest_peek_dir(s, name, out_attr);
	pthread_mutex_lock(&s->lock);
	if (ret == 0 || ret == -ENODATA)
		attr_keep(s, name, &host, ret == 0 ? out_attr : NULL);
	guest_forget(s, g);
	pthread_mutex_unlock(&s->lock);
	if (ret == 0 || ret == -ENODATA || ret == -ENOENT || ret == -ENOMEM)
		return ret;
	/* Not readable that way (damaged, held by another process): what a
	 * real open says, as before there was a cache. */
	ret = store_guest_get(s, name, &c);
	if (!ret) {
		ret = container_dir_getattr(c, out_attr);
		store_guest_put(s, c);
	}
	return ret;
}

/*
 * Caller holds s->lock and a reference to OPEN entry `g`: wait until only
 * `refs` references are left, at most STORE_BUSY_WAIT_MS.  0, or -EBUSY
 * when they stayed (the guest is really in use).
 */
static int guest_wait_refs(struct store *s, struct guest_entry *g,
			   unsigned refs)
{
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_nsec += (long)STORE_BUSY_WAIT_MS * 1000000L;
	deadline.tv_sec += deadline.tv_nsec / 1000000000L;
	deadline.tv_nsec %= 1000000000L;
	while (g->refs > refs)
		if (pthread_cond_timedwait(&s->guest_cond, &s->lock,
					   &deadline) == ETIMEDOUT)
			return g->refs > refs ? -EBUSY : 0;
	return 0;
}

/* store_guest_delete of a guest whose container cannot be opened (forced):
 * reserve the name, remove the file outside the store lock. */
static int guest_delete_unopened(struct store *s, const char *name)
{
	struct guest_entry *g;
	int ret;

	/* Opened by someone meanwhile (the file changed?): in use. */
	ret = guest_reserve(s, name, -EBUSY, &g);
	if (ret)
		return ret;
	ret = guestfile_delete(s->ns, name);
	pthread_mutex_lock(&s->lock);
	guest_forget(s, g);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

int store_guest_delete(struct store *s, const char *name, unsigned flags)
{
	struct container *c = NULL;
	const bool ignore_lock = flags & STORE_DELETE_IGNORE_SAVE_LOCK;
	int ret;

	if (!name_guest_valid(name))
		return -EINVAL;
	if (s->read_only)
		return -EROFS;
	ret = store_guest_get(s, name, &c);
	if (ret && !(ignore_lock && ret != -ENOENT))
		return ret;
	if (ret)
		return guest_delete_unopened(s, name);
	pthread_mutex_lock(&s->lock);
	struct guest_entry *g = guest_find_container(s, c);
	/* A rename or delete of this guest is running: let it finish. */
	while (g->ns_busy)
		pthread_cond_wait(&s->guest_cond, &s->lock);
	if (strcmp(g->name, name) != 0) {
		g->refs--;     /* ours */
		ret = -ENOENT; /* renamed away meanwhile */
		goto out_unlock;
	}
	/* Other references may be transient (another thread's stat, the
	 * release of a file closed a moment ago): wait a little for them,
	 * holding ours and the name (ns_busy) so the entry stays. */
	g->ns_busy = true;
	ret = guest_wait_refs(s, g, 1);
	g->ns_busy = false;
	pthread_cond_broadcast(&s->guest_cond);
	g->refs--; /* ours */
	if (ret)
		goto out_unlock;
	struct container_info info;
	struct save_status st;
	container_info(c, &info);
	save_lock_status(c, &st);
	if (!ignore_lock &&
	    (st.state == SAVE_STATE_SAVED || st.state == SAVE_STATE_RESUMING)) {
		ret = -EBUSY;
		goto out_unlock;
	}
	/* Snapshots count as contents: an rmdir of a guest whose files are
	 * gone must not take its snapshots with it. */
	struct snapshot_info *snaps = NULL;
	size_t snap_num = 0;
	if (!(flags & STORE_DELETE_CONTENTS) &&
	    container_snapshot_list(c, &snaps, &snap_num) == 0)
		free(snaps);
	if (!(flags & STORE_DELETE_CONTENTS) &&
	    (info.object_count > 0 || snap_num > 0)) {
		ret = -ENOTEMPTY;
		goto out_unlock;
	}
	/* Nobody holds it: close it and remove the file outside the lock,
	 * the entry keeping the name reserved until the file is gone. */
	g->state = GUEST_CLOSING;
	g->c = NULL;
	s->open_num--;
	attr_forget(s, name);
	pthread_mutex_unlock(&s->lock);
	(void)container_close(c);
	ret = guestfile_delete(s->ns, name);
	pthread_mutex_lock(&s->lock);
	guest_forget(s, g);
out_unlock:
	pthread_mutex_unlock(&s->lock);
	return ret;
}

int store_guest_rename(struct store *s, const char *from, const char *to)
{
	struct guest_entry *gf, *gt, *reserved_from = NULL, *reserved_to;
	int ret;

	if (!name_guest_valid(from) || !name_guest_valid(to))
		return -EINVAL;
	if (s->read_only)
		return -EROFS;
	if (strcmp(from, to) == 0)
		return 0;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		gf = guest_find(s, from);
		gt = guest_find(s, to);
		if (!guest_unsettled(gf) && !guest_unsettled(gt))
			break;
		pthread_cond_wait(&s->guest_cond, &s->lock);
	}
	if (gt) {
		ret = -EEXIST; /* open, so its file exists */
		goto out_unlock;
	}
	/* Reserve both names: `to` with a placeholder, `from` by marking its
	 * open entry busy (its holders keep using it) or a placeholder. */
	reserved_to = guest_add(s, to, GUEST_RESERVED);
	if (reserved_to && !gf) {
		reserved_from = guest_add(s, from, GUEST_RESERVED);
		if (!reserved_from)
			guest_forget(s, reserved_to);
	}
	if (!reserved_to || (!gf && !reserved_from)) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	if (gf)
		gf->ns_busy = true;
	attr_forget(s, from);
	attr_forget(s, to);
	pthread_mutex_unlock(&s->lock);
	ret = guestfile_rename(s->ns, from, to);
	char ffile[GUESTFILE_NAME_MAX];
	guestfile_name(from, ffile);
	/* A failed directory sync comes after the rename itself: the cache
	 * follows the file whenever it moved. */
	const bool moved = ret == 0 || dirio_exists(s->ns, ffile) == -ENOENT;
	pthread_mutex_lock(&s->lock);
	guest_forget(s, reserved_to);
	if (reserved_from)
		guest_forget(s, reserved_from);
	if (gf) {
		if (moved) {
			pthread_mutex_lock(&s->name_lock);
			snprintf(gf->name, sizeof(gf->name), "%s", to);
			pthread_mutex_unlock(&s->name_lock);
		}
		gf->ns_busy = false;
		pthread_cond_broadcast(&s->guest_cond);
	}
out_unlock:
	pthread_mutex_unlock(&s->lock);
	return ret;
}

int store_commit_all(struct store *s)
{
	struct container **list = NULL;
	size_t num = 0;
	int first = 0;

	pthread_mutex_lock(&s->lock);
	list = calloc(s->guest_num ? s->guest_num : 1, sizeof(*list));
	if (!list) {
		pthread_mutex_unlock(&s->lock);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->guest_num; i++) {
		if (s->guests[i]->state != GUEST_OPEN)
			continue; /* being opened, closed (committed), or none */
		s->guests[i]->refs++;
		list[num++] = s->guests[i]->c;
	}
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < num; i++) {
		int ret = container_commit(list[i]);
		if (ret && !first)
			first = ret;
		store_guest_put(s, list[i]);
	}
	free(list);
	return first;
}

/* Commit the guests whose slack is over (guest_commit_wanted), and only
 * them: the others wait for the tick. */
static void store_commit_wanted(struct store *s)
{
	struct container **list = NULL;
	size_t num = 0;

	pthread_mutex_lock(&s->lock);
	s->commit_wanted = false;
	list = calloc(s->guest_num ? s->guest_num : 1, sizeof(*list));
	for (size_t i = 0; list && i < s->guest_num; i++) {
		struct guest_entry *g = s->guests[i];
		if (!g->commit_wanted)
			continue;
		g->commit_wanted = false;
		if (g->state != GUEST_OPEN)
			continue; /* closing: the close commits it */
		g->refs++;
		list[num++] = g->c;
	}
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < num; i++) {
		(void)container_commit(list[i]); /* a failure is reported */
		store_guest_put(s, list[i]);
	}
	free(list);
}

/* Close every container nobody has used for STORE_GUEST_IDLE_MS. */
static void store_close_idle(struct store *s)
{
	const uint64_t now = now_ms();
	if (now <= STORE_GUEST_IDLE_MS)
		return;
	for (;;) {
		pthread_mutex_lock(&s->lock);
		struct guest_entry *g =
			s->stopping ? NULL
				    : guest_pick_victim(
					      s, now - STORE_GUEST_IDLE_MS);
		pthread_mutex_unlock(&s->lock);
		if (!g)
			break;
		guest_evict(s, g);
	}
}

/* Compress staged clusters of the open guests again (data.c, "Staged
 * clusters"), in batches that hold a guest's write lock briefly, for at
 * most STORE_COMPACT_BUDGET_MS a tick, once the guest paused its writes
 * (or staged a lot): a bounded share of the time. */
#define STORE_COMPACT_BATCH	32
#define STORE_COMPACT_BUDGET_MS 200

static void store_compact_some(struct store *s)
{
	struct container **list = NULL;
	size_t num = 0;
	const uint64_t until = now_ms() + STORE_COMPACT_BUDGET_MS;

	pthread_mutex_lock(&s->lock);
	list = calloc(s->guest_num ? s->guest_num : 1, sizeof(*list));
	for (size_t i = 0; list && i < s->guest_num; i++) {
		if (s->guests[i]->state != GUEST_OPEN)
			continue;
		s->guests[i]->refs++;
		list[num++] = s->guests[i]->c;
	}
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < num; i++) {
		size_t left = 1;
		while (left && now_ms() < until &&
		       container_compact_idle(list[i], STORE_COMPACT_BATCH,
					      &left) == 0)
			;
		store_guest_put(s, list[i]);
	}
	free(list);
}

/* Walk the trees of the guests opened lazily (container.c, "Lazy open")
 * on this thread, right after their open, so a guest's first write finds
 * them walked instead of walking them itself, and its reads move from the
 * lookups through the disk to the map cache: the open stays the table's
 * cost, and the walk overlaps the guest's first reads (it holds no lock
 * of the guest).  Other guests are not held up: their requests never wait
 * for this thread. */
static void store_walk_opened(struct store *s)
{
	struct container **list = NULL;
	size_t num = 0;

	pthread_mutex_lock(&s->lock);
	s->walk_wanted = false;
	list = calloc(s->guest_num ? s->guest_num : 1, sizeof(*list));
	for (size_t i = 0; list && i < s->guest_num; i++) {
		if (s->guests[i]->state != GUEST_OPEN ||
		    container_walked(s->guests[i]->c))
			continue;
		s->guests[i]->refs++;
		list[num++] = s->guests[i]->c;
	}
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < num; i++) {
		(void)container_walk(list[i]); /* a failure is reported */
		store_guest_put(s, list[i]);
	}
	free(list);
}

/* `t` plus the commit interval, and whether the time `t` has come. */
static struct timespec commit_tick_after(const struct store *s,
					 struct timespec t)
{
	t.tv_sec += s->commit_interval_ms / 1000;
	t.tv_nsec += (long)(s->commit_interval_ms % 1000) * 1000000;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	return t;
}

static bool time_reached(struct timespec t)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	return now.tv_sec > t.tv_sec ||
	       (now.tv_sec == t.tv_sec && now.tv_nsec >= t.tv_nsec);
}

static void *committer_main(void *arg)
{
	struct store *s = arg;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until = commit_tick_after(s, until);
	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		if (!s->walk_wanted && !s->commit_wanted &&
		    !time_reached(until))
			pthread_cond_timedwait(&s->cond, &s->lock, &until);
		if (s->stopping)
			break;
		const bool walk = s->walk_wanted;
		const bool wanted = s->commit_wanted;
		pthread_mutex_unlock(&s->lock);
		if (walk)
			store_walk_opened(s);
		if (wanted)
			store_commit_wanted(s);
		/* a wake for a walk or a wanted commit leaves the tick to its
		 * time */
		if ((!walk && !wanted) || time_reached(until)) {
			store_compact_some(s);
			(void)store_commit_all(s);
			store_close_idle(s);
			clock_gettime(CLOCK_REALTIME, &until);
			until = commit_tick_after(s, until);
		}
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* ---- encryption --------------------------------------------------------- */

bool store_is_encrypted(const struct store *s)
{
	return s->encrypted;
}

const struct crypto_key *store_master_key(const struct store *s)
{
	return s->master;
}

/*
 * Read-modify-write of the key area under an exclusive flock on
 * `.hangar-keys` itself (the store directory's flock is the store lock).
 * The area is replaced by rename, so a lock on the file we opened may be
 * on a file that is no longer `.hangar-keys` by the time we hold it: then
 * it is opened again, until the locked file is the current one.
 * Returns the locked descriptor (close it to unlock) or a negative errno.
 */
static int keys_edit_begin(struct store *s, uint8_t *area)
{
	if (!s->encrypted)
		return -ENOTSUP;
	for (;;) {
		struct stat held, now;
		int fd = keys_open(s->dir_fd);
		if (fd < 0)
			return fd;
		if (flock(fd, LOCK_EX) != 0 || fstat(fd, &held) != 0) {
			int ret = errno_neg();
			close(fd);
			return ret;
		}
		if (fstatat(s->dir_fd, STORE_KEYS_NAME, &now,
			    AT_SYMLINK_NOFOLLOW) == 0 &&
		    now.st_dev == held.st_dev && now.st_ino == held.st_ino) {
			int ret = keys_read_fd(fd, area);
			if (ret) {
				close(fd);
				return ret;
			}
			return fd;
		}
		close(fd); /* replaced meanwhile: lock the new one */
	}
}

int store_key_add(struct store *s, enum keyslot_kind kind, const void *secret,
		  size_t secret_len, const struct crypto_scrypt_params *kdf,
		  unsigned *out_slot)
{
	uint8_t area[KEYSLOT_AREA_SIZE];
	unsigned slot = 0;
	int ret, fd = keys_edit_begin(s, area);
	if (fd < 0)
		return fd;
	ret = keyslot_add(area, sizeof(area), &slot, s->master, kind, kdf,
			  secret, secret_len);
	if (!ret)
		ret = keys_write(s->dir_fd, area);
	close(fd);
	if (!ret && out_slot)
		*out_slot = slot;
	return ret;
}

int store_key_remove(struct store *s, unsigned index)
{
	uint8_t area[KEYSLOT_AREA_SIZE];
	int ret, fd = keys_edit_begin(s, area);
	if (fd < 0)
		return fd;
	ret = keyslot_remove(area, sizeof(area), s->master, index);
	if (!ret)
		ret = keys_write(s->dir_fd, area);
	close(fd);
	return ret;
}

int store_key_list(struct store *s, struct keyslot_info *out_info,
		   unsigned *out_count)
{
	uint8_t area[KEYSLOT_AREA_SIZE];
	int ret;

	if (!s->encrypted)
		return -ENOTSUP;
	ret = keys_read(s->dir_fd, area);
	if (ret)
		return ret;
	return keyslot_list(area, sizeof(area), out_info, out_count);
}
