/*
 * hangar/store.h -- a store: a host directory of guest containers.  The
 * front door of core: fs/ and cli/ reach every container through it.
 *
 * A store is a directory holding `.hangar-store` (its settings, written at
 * init), for an encrypted store `.hangar-keys`, and one container file
 * `<guest>.hangar` per guest.  Guest names are validated (name_guest_valid)
 * before any path is built, and every file is opened relative to the
 * directory's descriptor with O_NOFOLLOW and checked to be a regular file,
 * so neither a name nor a planted link can reach outside the directory;
 * anything else named like a guest (a link, a FIFO, a directory) is not
 * listed and does not open (-ELOOP, -EMEDIUMTYPE).  Guest files are created
 * under a temporary name, synced and renamed into place, then the directory
 * is synced, so a crash leaves either no guest or a complete empty one.
 *
 * LOCKS (all flock(2), all released by the kernel when the holder dies):
 *   - The store lock is on the store DIRECTORY itself (a descriptor opened
 *     O_RDONLY | O_DIRECTORY), not on a file in it: a file could be
 *     deleted or replaced under its holder, a directory cannot.
 *     store_open() for writing takes it exclusively and fails with
 *     -EWOULDBLOCK if another process holds it (store_lock_holder() says
 *     which PID, from /proc/locks).  A read-only open never writes; it
 *     holds a shared store lock when it can get one (so no writer starts
 *     under it) and proceeds without one when a writer holds the store.
 *     (Stores made by older versions have a `.hangar-lock` file: it is no
 *     longer opened and may be removed.)
 *   - The per-host store lock (docs/multihost.md section 3): a writer also
 *     holds an exclusive flock on `<host lock dir>/<uuid>-<ino>.lock`, a
 *     file local to this host (STORE_HOST_LOCK_DIR, /run/hangar, unless
 *     store_options.host_lock_dir says otherwise), so two writers of one
 *     host are refused even where the directory flock is kept per mount
 *     (two ceph-fuse mounts of one CephFS) and two hosts never refuse
 *     each other by it.  The uuid is the `uuid` line of `.hangar-store`,
 *     written at init; a store without one (made by an older version) gets
 *     one at its first read-write open (rewritten under an flock on
 *     `.hangar-store`, which CephFS shares, by temporary file and rename).
 *     The lock file is created 0600 and removed by its holder at close; it
 *     is checked after locking to still be the file of that name (a
 *     holder may have removed it meanwhile).  A holder that dies leaves
 *     the empty file, unlocked: the next writer locks it as it is.  Where the directory cannot
 *     be used (not root: it is root's; no /run) the writer goes without
 *     it, and the directory flock is the only store lock, as before.  The
 *     name carries the store directory's inode number (hex) beside the
 *     uuid: a copy of the store directory keeps the uuid but is another
 *     directory, so it is another store to this lock, while two mounts of
 *     one CephFS show the directory under its one Ceph inode number.
 *   - The container lock is on each guest file while it is open: exclusive
 *     while open read-write, shared while open read-only (dirio_file.c).
 *     It locks the inode, so no second writer, from any store or path
 *     (hard link, symbolic link, bind mount), opens a container another
 *     process is writing, and no reader reads a container while a writer
 *     recycles its blocks: such opens fail with -EBUSY
 *     (store_guest_holder() says who).  A read-write open of a guest file
 *     with several names (a hard link) is refused with -EMLINK.
 *   - Key edits (store_key_add/remove) hold an exclusive flock on
 *     `.hangar-keys` while they rewrite it.
 *
 * Readers beside a writer.  A read-only store never serves live bytes of
 * a guest that another process has open read-write (-EBUSY); a reader gets
 * a stable view of such a guest through a pin (container.h, "Pins"), read
 * with store_snapshot_open_beside.  The one exception is opt-in,
 * store_options.read_beside_writer: the guest is opened without a lock, for
 * its metadata only (what `hangar ls` and `status` show).  That is safe
 * because a container open reads only the committed superblock and
 * metadata blocks, each verified against the checksum its parent recorded
 * (FORMAT.md section 3): a block the writer recycled meanwhile fails
 * (-EBADMSG/-EUCLEAN) instead of being used, and the caller retries or
 * reports the guest as busy.  Live object data must not be read through
 * such a store: data clusters are recycled too.  A snapshot's may
 * (container_snapshot_open on such a guest): nothing a snapshot maps is
 * freed or rewritten while it exists, and the clusters its deletion frees
 * become allocatable only once the deleting commit's superblock is
 * durable, so a reader that finds the snapshot (same id) in the writer's
 * newest committed state AFTER reading knows every byte it read was the
 * snapshot's (a fresh read-only open shows that state).
 *
 * A store on a read-only filesystem opens read-only only: store_open for
 * writing fails with -EROFS (and -EACCES without write permission on the
 * directory) before anything is locked or opened.
 *
 * Ownership: containers returned by store_guest_get() are borrowed from the
 * store's cache and stay valid until the matching store_guest_put().  The
 * store commits every open container every `commit_interval_ms` in a
 * background thread (0 disables it) and on store_close().
 *
 * store_open() takes the store lock in the caller's process (the PID the
 * kernel records, and store_lock_holder reports, is that process's) and,
 * when commit_interval_ms > 0 (never for a read-only store), starts the
 * committer thread: open the store in the process that will use it, after
 * any fork(), and never use one store across fork().  With
 * commit_interval_ms = 0 no thread is started.
 *
 * The guest cache keeps at most a quarter of RLIMIT_NOFILE containers open
 * (16..4096): opening one more commits and closes the least recently used
 * one nobody holds, and the committer closes containers idle for a minute.
 * A container whose commit fails is never closed that way.  Listing and
 * stat'ing guests opens no container (store_guest_dir_getattr): a store of
 * 10,000 guests lists with none open, and an idle guest costs no
 * descriptor and no map memory, only its cached directory attributes
 * (about 200 bytes).
 *
 * THREAD MODEL: all functions are thread-safe.  `store.lock` (a mutex)
 * protects the guest cache and reserves names for the namespace operations;
 * no I/O is done under it: opens, commits, closes and guest-file changes run
 * outside it, so one slow guest never stalls another (store.c).  Container
 * calls are made under the container's own locks.
 */
#ifndef HANGAR_STORE_H
#define HANGAR_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/stat.h>

#include "hangar/container.h"
#include "hangar/keyslot.h" /* enum keyslot_kind, struct keyslot_info */

struct store;
struct io;

#define STORE_CONFIG_NAME  ".hangar-store"
#define STORE_KEYS_NAME	   ".hangar-keys"
#define STORE_GUEST_SUFFIX ".hangar" /* guest `g` is the file g.hangar */
/* where the per-host store locks live (LOCKS above) */
#define STORE_HOST_LOCK_DIR "/run/hangar"

/*
 * Encryption at rest (FORMAT.md section 9).  An encrypted store
 * has a random master key, wrapped in the key slots of STORE/.hangar-keys
 * (keyslot.h) under keys derived with scrypt from a passphrase or a
 * keyfile's bytes.  store_open unlocks it once and keeps it (locked memory)
 * until store_close wipes it; every guest of the store is an encrypted
 * container under it.  The secret itself is only read, never kept.
 */
struct store_init_options {
	/* 12..21, 0 = store_default_cluster_shift: 16 (64 KiB), 14 (16 KiB)
	 * for an encrypted store */
	unsigned cluster_shift;
	bool encrypt;		    /* an encrypted store: the fields below */
	enum keyslot_kind key_kind; /* PASSPHRASE or KEYFILE */
	const void *key_secret;	    /* borrowed: 1..CRYPTO_SCRYPT_SECRET_MAX */
	size_t key_secret_len;
	const struct crypto_scrypt_params *kdf; /* NULL: the defaults */
};

/* The lease check (docs/multihost.md section 4): after a sync, a read-write
 * container proves its container lock still holds before the sync counts
 * (the lock re-taken on its descriptor, which a CephFS client that has
 * processed its eviction refuses -- ceph-fuse may answer it from its own
 * lock state until then, when the OSDs already refuse its syncs); when
 * it does not, the container is poisoned (-ENOLCK, reported as lost lease)
 * and the commit is never acknowledged.  AUTO: on where the store's
 * filesystem may be shared by hosts (CephFS, NFS, SMB, FUSE by statfs's
 * f_type), off elsewhere (a local lock cannot be lost; it costs nothing). */
enum store_lease_check {
	STORE_LEASE_CHECK_AUTO = 0,
	STORE_LEASE_CHECK_ON = 1,
	STORE_LEASE_CHECK_OFF = 2,
};

struct store_options {
	bool read_only;
	enum store_lease_check lease_check;
	/* read_only only: open guests another process has open read-write
	 * too, unlocked, for metadata only (see "Readers beside a writer"
	 * above); without it such guests fail with -EBUSY. */
	bool read_beside_writer;
	unsigned commit_interval_ms; /* background commit period, 0 = none */
	container_event_fn event; /* passed to every container; may be NULL */
	void *event_arg;
	/* Encrypted stores: the secret of one key slot (borrowed for the
	 * call).  Ignored by a plain store. */
	enum keyslot_kind key_kind;
	const void *key_secret;
	size_t key_secret_len;
	/* The map cache of all the store's open guests together: the bytes
	 * of map leaves they keep loaded (clean ones are evicted least
	 * recently used first, dirty ones force a commit).  0 = 64 MiB;
	 * 1 keeps about one leaf per guest loaded. */
	uint64_t map_cache_bytes;
	/* Copy-on-write slack of each guest (container_options.slack_bytes,
	 * core/alloc.c invariant 11): a commit is due each time a guest's
	 * rewrites freed this much that its committed tree still maps.  0 =
	 * 1 GiB; UINT64_MAX = no limit. */
	uint64_t cow_slack_bytes;
	/* The per-host store lock's directory (LOCKS above); NULL:
	 * STORE_HOST_LOCK_DIR.  Borrowed for the call. */
	const char *host_lock_dir;
};

struct guest_create_options {
	bool compress_disks;
};

/*
 * store_init - create a store at `dir` (created if missing; must be empty
 * of guests).  -EEXIST if it already is a store, -ENOTDIR, -EINVAL.  With
 * opts->encrypt, the key-slot area is written first (temp file, fsync,
 * rename, directory fsync) and then the settings, so a crash leaves no
 * store or a complete one.
 */
int store_init(const char *dir, const struct store_init_options *opts);

/*
 * store_open - open the store at `dir`.  -ENOENT/-EINVAL if it is not a
 * store, -EWOULDBLOCK if another process holds its write lock; for
 * writing, -EROFS on a read-only filesystem and -EACCES without write
 * permission on the directory.  Encrypted
 * store: -ENOKEY without a secret, -EKEYREJECTED for a wrong one (both
 * before the lock is taken or anything is written), -EUCLEAN/-EBADMSG for
 * a damaged or missing key-slot area.
 */
int store_open(const char *dir, const struct store_options *opts,
	       struct store **out_store);

/* What a store directory is, read without opening or unlocking it. */
struct store_probe {
	unsigned cluster_shift;
	bool encrypted; /* opening it needs a key (store_options.key_*) */
};

/*
 * store_probe - whether `dir` is a store and whether it is encrypted, from
 * its settings file alone: no lock is taken, no key is needed, nothing is
 * written.  For callers deciding whether to ask for a passphrase before
 * store_open.  -ENOENT/-EINVAL if it is not a store (as store_open).
 */
int store_probe(const char *dir, struct store_probe *out);

/* store_close - commit and close every container, stop the background
 * committer, release the lock.  Accepts NULL.  Returns the first error. */
int store_close(struct store *s);

/* store_lock_holder - the PID of the process holding the store lock of
 * `dir` for writing (from the kernel's lock table, /proc/locks); *out_pid
 * is 0 when only readers hold it (or the holder cannot be named).
 * -ENOENT if nobody holds it.  Takes no lock itself.  Looks at the
 * per-host store lock in STORE_HOST_LOCK_DIR too (store_lock_holder_at). */
int store_lock_holder(const char *dir, pid_t *out_pid);

/* store_lock_holder_at - as store_lock_holder; when nobody holds the
 * directory's flock (a writer through another mount of a shared
 * filesystem), the holder of the per-host store lock in `host_lock_dir`
 * (NULL: STORE_HOST_LOCK_DIR), from /proc/locks too. */
int store_lock_holder_at(const char *dir, const char *host_lock_dir,
			 pid_t *out_pid);

/*
 * store_guest_holder - who holds the container lock of guest `name`:
 * *out_pid and whether it is exclusive (open read-write).  -ENOENT when
 * nobody has it open, -errno when it cannot be told.  For messages only:
 * the answer may be stale by the time it is read.
 */
int store_guest_holder(struct store *s, const char *name, pid_t *out_pid,
		       bool *out_exclusive);

/*
 * The holder record of a guest: who opened it read-write last, as that
 * opener wrote it on the container file (the extended attribute
 * user.hangar.holder, "host=H pid=N since=UNIX-SECONDS"), right after its
 * container lock was granted -- on a filesystem hosts may share only
 * (CephFS, NFS, SMB, FUSE); a local one has /proc/locks.  It names a holder the kernel's lock table
 * cannot (the lock taken on another host, through a network filesystem)
 * and is never authority: show it beside a refusal by the lock, as "held
 * by", not as proof that anybody holds the guest now.  An orderly close
 * (a release, an idle close, unmount, a command's own close) removes it
 * while the lock still holds; a holder that crashed or lost its lease
 * leaves its record until the next holder's open replaces it.
 */
struct store_holder_record {
	char host[256];
	long pid;
	long long since; /* unix seconds, the holder's clock */
};

/* store_guest_holder_record - read guest `name`'s record.  -ENODATA when
 * there is none (or the filesystem keeps no user xattrs), -ENOENT, -errno.
 * Opens the file read-only without a lock and reads nothing else. */
/*
 * The lease of a guest (docs/multihost.md).  On a store several hosts
 * share, whoever holds a guest's container open read-write holds its
 * container lock, and so the guest, against every other host.  The store
 * closes a container nobody uses after a while (the committer) or to make
 * room: store_guest_acquire keeps it open until store_guest_release.
 *
 * store_guest_acquire - open guest `name` read-write (as store_guest_get)
 * and keep it open: a reference the store holds until store_guest_release
 * or store_close.  0 also when it is already acquired.  -EBUSY when
 * another process (on any host) holds it; -EROFS on a read-only store.
 *
 * store_guest_release - drop what store_guest_acquire kept, commit and
 * close the container now (its container lock goes with it), so another
 * host may take the guest.  -EBUSY while anything else uses it (a file of
 * it open through hangarfs), -EIO when the commit failed (the container
 * stays open, its error reported as always).  0 when the guest was not
 * open here at all.
 */
int store_guest_acquire(struct store *s, const char *name);
int store_guest_release(struct store *s, const char *name);

int store_guest_holder_record(struct store *s, const char *name,
			      struct store_holder_record *out);

/*
 * store_guest_open_io - open guest `name`'s container file read-only, as
 * the store does (no links, regular files only, a shared container lock
 * held until io_close: -EBUSY while another process has it open
 * read-write, even with read_beside_writer).  For tools that read the
 * file whole (check_container).  The io is the caller's (io_close).
 */
int store_guest_open_io(struct store *s, const char *name, struct io **out_io);

/*
 * store_guest_stat - stat(2) of guest `name`'s container file (never
 * following a link).  -ENOENT when there is no such guest: a bad name, no
 * file, or a file that is not listed as a guest (a symbolic link, a FIFO,
 * a directory named like one).  Takes no lock.
 */
int store_guest_stat(struct store *s, const char *name, struct stat *out_st);

/* store_default_cluster_shift - the cluster size store_init gives a store
 * when none is asked for, as a shift. */
unsigned store_default_cluster_shift(bool encrypt);
/* store_cluster_shift - the store's cluster size, as a shift. */
unsigned store_cluster_shift(const struct store *s);

/* store_dir - the store's directory path (borrowed). */
const char *store_dir(const struct store *s);

/*
 * store_guest_list - every guest, sorted.  *out_names is an array of
 * *out_num malloc'd strings; free with store_names_free().
 */
int store_guest_list(struct store *s, char ***out_names, size_t *out_num);
void store_names_free(char **names, size_t num);

/* store_guest_create - new empty guest.  -EEXIST, -EINVAL (bad name). */
int store_guest_create(struct store *s, const char *name,
		       const struct guest_create_options *opts);

/*
 * store_guest_clone_shared - create guest `to` from guest `from`'s
 * container file without copying its data: the file is cloned with
 * FICLONE (its extents shared by both files, copy-on-write in the host
 * filesystem: XFS with reflink, btrfs) under `to`'s temporary name, opened,
 * rolled back to snapshot `opts->snapshot` when given, stripped of every
 * snapshot, of the objects `opts->drop` names and of every image seal, and
 * given a fresh uuid (container_make_clone, core/container_open.h); only
 * then is it renamed into place and the directory synced, so `to` appears
 * complete or not at all (the create protocol, FORMAT.md section 11).  The
 * cost does not grow with the data: a few commits, and the deletion of the
 * snapshots (what only they hold).
 *
 * Consistency: the copy is taken from `from`'s file at one instant while
 * nobody else may change it: the store lock is ours (a read-write store),
 * and a source this store has open is committed first and cloned through
 * its own descriptor; otherwise the file is opened with the shared
 * container lock (-EBUSY while another process has it open read-write).
 *
 * -EOPNOTSUPP: an encrypted store (a copy would keep the source's uuid,
 * hence its keys, and continue from its nonce counter: FORMAT.md 9.4), or
 * a filesystem that cannot share extents; -EXDEV: not on one filesystem.
 * For both the caller copies through core instead.  -EEXIST, -ENOENT (no
 * guest `from`, or no such snapshot), -EINVAL (bad names, from == to),
 * -EROFS, or the errors of the open and commits.  On failure no guest `to`
 * exists.
 */
struct store_clone_options {
	const char *snapshot; /* NULL: the source's committed state */
	/* objects the clone does not get (a memory image); may be NULL */
	bool (*drop)(void *arg, const char *name);
	void *drop_arg;
};
int store_guest_clone_shared(struct store *s, const char *from, const char *to,
			     const struct store_clone_options *opts);

/*
 * store_guest_get - the open container of guest `name`, opening it on first
 * use.  -ENOENT if no such guest, -EINVAL (bad name), or the container's
 * open error (-EUCLEAN, -EBADMSG, ...) for a corrupt guest; other guests are
 * unaffected.
 */
int store_guest_get(struct store *s, const char *name,
		    struct container **out_container);

/*
 * store_guest_get_why - store_guest_get that also says why a guest could
 * not be opened: `why` (may be NULL) gets the refusal's code and core's
 * sentence (container.h): the container's own (corrupt, newer format,
 * key) or the store's, found before it is read (LOCKED: another process
 * has it open, -EBUSY; HARD_LINKED, -EMLINK; NOT_A_FILE, -ELOOP or
 * -EMEDIUMTYPE).  CONTAINER_REFUSAL_NONE for success and for errors that
 * are no refusal (-ENOENT, -EINVAL, -ENOMEM).  The reason is the caller's,
 * on its own stack: two threads opening one guest each get their own.
 */
int store_guest_get_why(struct store *s, const char *name,
			struct container **out_container,
			struct container_refusal *why);

/*
 * store_snapshot_open_beside - read snapshot `snap` of guest `name` beside
 * the process that has the guest open read-write (a pin: container.h,
 * "Pins"): the guest file's newest committed state is opened read-only and
 * without the container lock, outside the store's cache (so it sees
 * snapshots taken a moment ago), and the snapshot's view is opened in it.
 * Safe for data too, unlike read_beside_writer: nothing a snapshot maps is
 * freed or rewritten while it exists, and a block of the live state that
 * the writer recycles while it loads fails its checksum and the open is
 * tried again.  The caller must know the snapshot outlives its reading
 * (its own pin).  Close with store_snapshot_close_beside.  -ENOENT (no
 * guest or no snapshot), container_open's errors.
 */
int store_snapshot_open_beside(struct store *s, const char *name,
			       const char *snap, struct container **out_guest,
			       struct container **out_view);
void store_snapshot_close_beside(struct container *guest,
				 struct container *view);

/* store_guest_put - drop a reference taken by store_guest_get. */
void store_guest_put(struct store *s, struct container *c);

/*
 * store_guest_dir_getattr - guest `name`'s directory attributes, as
 * container_dir_getattr gives them, without opening its container: from
 * the container when it is open, else from what its file's committed
 * table records (read once, superblocks and table only, and kept while the
 * file is unchanged).  What `ls -l` of a mounted store needs for every
 * guest.  0; -ENODATA when they were never set (show defaults); -ENOENT,
 * -EINVAL as store_guest_get; for a guest whose table cannot be read
 * (damaged, another process has it open read-write) the error of
 * store_guest_get, which is tried then.  Waits while the guest is being
 * opened, closed or renamed (that guest only).
 */
int store_guest_dir_getattr(struct store *s, const char *name,
			    struct object_attr *out_attr);

/* Flags for store_guest_delete. */
#define STORE_DELETE_CONTENTS 1u /* a guest with objects too */
#define STORE_DELETE_IGNORE_SAVE_LOCK                                          \
	2u /* even while saved/resuming, and
					     even a guest that cannot be
					     opened (corrupt) */
#define STORE_DELETE_FORCE                                                     \
	(STORE_DELETE_CONTENTS | STORE_DELETE_IGNORE_SAVE_LOCK)

/*
 * store_guest_delete - remove guest `name`, checking and deleting in one
 * step under the store lock.  Without STORE_DELETE_CONTENTS: -ENOTEMPTY if
 * it still has objects or snapshots (rmdir).  Without STORE_DELETE_IGNORE_SAVE_LOCK:
 * -EBUSY if a save image pins its disks (SAVED or RESUMING), and a guest
 * that cannot be opened is not deleted (its open error is returned).
 * While another caller holds a reference from store_guest_get, it waits
 * for up to STORE_BUSY_WAIT_MS (100 ms: another thread's stat, the release
 * of a file closed a moment ago) and then fails with -EBUSY: callers need
 * no retry loop of their own.
 */
int store_guest_delete(struct store *s, const char *name, unsigned flags);

/* store_guest_rename - rename a guest; -EEXIST if `to` exists.  A guest in
 * use is renamed all the same: its holders keep their container, which
 * goes by the new name from then on (no -EBUSY to retry). */
int store_guest_rename(struct store *s, const char *from, const char *to);

/* store_commit_all - commit every open container now. */
int store_commit_all(struct store *s);

/* ---- encryption ------------------------------------------------------------ */

/* store_is_encrypted - whether the store's guests are encrypted
 * (AES-256-GCM, the only cipher). */
bool store_is_encrypted(const struct store *s);

/* store_master_key - the unlocked master key of an encrypted store
 * (borrowed until store_close), NULL for a plain store.  For tools that
 * open container files themselves (check_container_key). */
const struct crypto_key *store_master_key(const struct store *s);

/*
 * store_key_add - add a key slot opened by `secret` of `kind` (`kdf` NULL:
 * default scrypt strength); *out_slot (may be NULL) is its index.  The
 * area is rewritten atomically.  -ENOTSUP for a plain store, -ENOSPC when
 * all KEYSLOT_COUNT slots are used.  Allowed on a read-only store (the
 * key area is not container data); concurrent key changes are serialised
 * by an flock on the store directory.
 */
int store_key_add(struct store *s, enum keyslot_kind kind, const void *secret,
		  size_t secret_len, const struct crypto_scrypt_params *kdf,
		  unsigned *out_slot);

/* store_key_remove - empty slot `index`; -EBUSY if it is the last intact
 * one, -ENOENT if it is empty, -ENOTSUP for a plain store. */
int store_key_remove(struct store *s, unsigned index);

/* store_key_list - the non-empty slots (keyslot_list), into `out_info`
 * (room for KEYSLOT_COUNT). */
int store_key_list(struct store *s, struct keyslot_info *out_info,
		   unsigned *out_count);

#endif /* HANGAR_STORE_H */
