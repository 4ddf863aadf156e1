/*
 * hangar/container.h -- one guest container: its named objects and their
 * data.  Public: what fs/ and cli/ do with a container the store lent them
 * (store_guest_get).  Opening and creating one on a file is the store's
 * business (core/container_open.h, private).
 *
 * A container is one file (STORE/<guest>.hangar) holding every object of a
 * guest: disks (*.raw), the memory image (memory.save), the config and any
 * other file.  Each object is a sparse byte array mapped cluster by cluster
 * through a copy-on-write radix tree; every metadata change belongs to the
 * open transaction and reaches the file only through container_commit(),
 * which is atomic (core/FORMAT.md, "Commit protocol").
 *
 * What a caller can rely on:
 *   - After container_commit() returns 0, every write that completed before
 *     the call is durable and every metadata change is committed.
 *   - After a crash at any point, the next open finds the last committed
 *     state (or the one before it, if the crash came during the commit that
 *     would have replaced it), with no repair and no leaked cluster.
 *   - Data written but not committed may be lost or torn at 512-byte sector
 *     granularity, never mixed with another cluster's bytes.
 *   - A failed backing fdatasync poisons the container: every later write
 *     and commit returns -EIO until it is closed and reopened.
 *
 * Objects are named by a uint64_t id that never changes and is never reused
 * within a container (the FUSE layer uses it for st_ino).
 *
 * Errors: 0 or a negative errno.  -EUCLEAN corrupt metadata, -EBADMSG a
 * checksum mismatch, -ENOSPC the backing filesystem is full, -EIO a device
 * error or a poisoned container, -EBUSY refused by the save lock, -EROFS a
 * write on a read-only container, -ENOENT/-EEXIST/-EINVAL as usual.
 *
 * THREAD MODEL: every function here may be called from any thread.  Reads and
 * in-place writes of exclusively owned raw clusters run in parallel under the
 * container's read lock; anything that allocates, frees or changes the
 * namespace takes its write lock; commits are serialised and grouped
 * (concurrent callers of container_commit share one commit).  Event callbacks
 * run with the container lock held and must not call back into the container.
 */
#ifndef HANGAR_CONTAINER_H
#define HANGAR_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct container;

/* What an object is follows from its current name (object_role_of_name). */
enum object_role {
	OBJECT_ROLE_FILE = 0,  /* config, nvram.fd, temporary names, ... */
	OBJECT_ROLE_DISK = 1,  /* *.raw */
	OBJECT_ROLE_IMAGE = 2, /* memory.save */
};

/* Things a person must hear about, reported through the event callback. */
enum container_event_type {
	CONTAINER_EVENT_IMAGE_RETIRED = 1, /* resumed guest wrote its disk */
	CONTAINER_EVENT_IMAGE_INVALIDATED =
		2, /* saved guest's disk was written */
	CONTAINER_EVENT_IMAGE_INCOMPLETE =
		3,		      /* unsealed image set aside at open */
	CONTAINER_EVENT_IO_ERROR = 4, /* backing I/O failed */
	/* container_open refused the file (corrupt, unknown features, wrong
	 * key): `error` is the errno it returns, `detail` the reason */
	CONTAINER_EVENT_OPEN_REFUSED = 5,
	/* open found one superblock slot damaged (checksum or magic) and used
	 * the other: if the damaged one held the newest commit, that commit
	 * is lost.  `detail` says which slot and generation. */
	CONTAINER_EVENT_SLOT_FALLBACK = 6,
	/* the generation counter reached its bound (FORMAT.md section 2):
	 * the container is read-only from now on, writes get -EROFS */
	CONTAINER_EVENT_GENERATIONS_EXHAUSTED = 7,
};

/*
 * Why a container file could not be opened, as a code to branch on; the
 * sentence for a person travels next to it (struct container_refusal, the
 * event's `detail`).  The first group is container_open's, the second the
 * store's (store_guest_get_why), decided before the container is read.
 */
enum container_refusal_code {
	CONTAINER_REFUSAL_NONE = 0,
	CONTAINER_REFUSAL_CORRUPT = 1,	       /* -EUCLEAN/-EBADMSG: damaged */
	CONTAINER_REFUSAL_NEWER_FORMAT = 2,    /* -EPROTONOSUPPORT, or -EROFS
						for a read-only-compatible
						feature on a read-write open */
	CONTAINER_REFUSAL_KEY_NEEDED = 3,      /* -ENOKEY: encrypted, no key */
	CONTAINER_REFUSAL_WRONG_KEY = 4,       /* -EKEYREJECTED */
	CONTAINER_REFUSAL_UNAUTHENTICATED = 5, /* -EUCLEAN: a plain container
						  in an encrypted store */
	CONTAINER_REFUSAL_IO = 6,	   /* reading it failed (-EIO, ...) */
	CONTAINER_REFUSAL_LOCKED = 7,	   /* -EBUSY: another process has it
					     open (the container lock) */
	CONTAINER_REFUSAL_HARD_LINKED = 8, /* -EMLINK: never read-write */
	CONTAINER_REFUSAL_NOT_A_FILE = 9,  /* -ELOOP/-EMEDIUMTYPE: a link, a
					      FIFO, a directory */
};

/* container_refusal_name - "corrupt", "newer-format", ... ("none"). */
const char *container_refusal_name(enum container_refusal_code code);

/* A refusal as the caller of an open gets it (container_open_why,
 * store_guest_get_why): the code and core's sentence ("" if none). */
struct container_refusal {
	enum container_refusal_code code;
	char text[256];
};

struct container_event {
	enum container_event_type type;
	const char *guest;	 /* filled in by the store; may be NULL */
	const char *object_name; /* borrowed for the call; may be NULL */
	const char *detail;	 /* borrowed for the call; may be NULL */
	int error;		 /* negative errno for IO_ERROR, else 0 */
	/* OPEN_REFUSED: why, as a code (`detail` is the sentence); else
	 * CONTAINER_REFUSAL_NONE */
	enum container_refusal_code refusal;
};

typedef void (*container_event_fn)(void *arg, const struct container_event *ev);

struct container_info {
	uint64_t generation; /* last committed generation */
	uint32_t cluster_size;
	uint64_t used_clusters; /* referenced by the committed state */
	uint64_t file_size;	/* bytes of the container file */
	uint64_t object_count;
	bool compress_disks;
	bool read_only;
	int poisoned;		     /* 0, or the error that poisoned it */
	struct timespec commit_time; /* when `generation` was committed */
	uint8_t uuid[16];
	bool encrypted; /* AES-256-GCM (FEATURE_INCOMPAT_ENCRYPTED) */
};

/*
 * container_commit - make every completed write and metadata change durable
 * as one atomic transaction.  Concurrent callers share one commit (group
 * commit).  Cheap when nothing changed (one fdatasync at most).  Returns 0
 * when a commit that started after the call did succeed (so covers every
 * write completed before it), else that commit's error.
 */
int container_commit(struct container *c);

/*
 * container_sync_data - fdatasync(2) for the container: make every
 * completed write's DATA durable.  When nothing but data rewritten in place
 * changed since the last commit (the running guest's overwrites: no
 * allocation, no size change, no saved image), that is one fdatasync of
 * the file and no commit: the times and generations that came with the
 * writes reach the disk at the next commit, as fdatasync allows.
 * Otherwise it is container_commit.  A failed sync poisons the container.
 */
int container_sync_data(struct container *c);

/* container_info - a snapshot of the container's counters. */
void container_info(struct container *c, struct container_info *out_info);

/*
 * What this open of the container wrote to its file, counted since the open
 * (the figures restart when the store closes and reopens the guest):
 *   writes, write_bytes  every pwrite (calls, bytes), whatever it carried
 *   meta_bytes           of those, the metadata the commits wrote: map
 *                        nodes, object-table blocks (snapshot chains
 *                        included), one node each (4 KiB, or a
 *                        cluster in a container made before small
 *                        nodes), and 512 bytes per
 *                        superblock (core/FORMAT.md sections 3 and 5)
 *   data_bytes           write_bytes - meta_bytes: data clusters,
 *                        compressed extents, the header at creation
 *   syncs                fdatasync calls
 *   commits              superblocks written: one per generation,
 *                        superblock-only commits (nonce reservation,
 *                        retiring held clusters) included
 *   flushes              container_commit calls (a guest's fsync, the
 *                        committer's tick, a close), grouped or not
 *   compressions         whole clusters of compressed objects handed to
 *                        zstd (each one full compression attempt, whether
 *                        the result was stored compressed or RAW)
 *   compress_skips       whole clusters stored RAW without that attempt,
 *                        because a small sample of them did not compress
 *                        (data.c squeeze_cluster, compress_promising)
 * Each counter is exact on its own; read while writes run, the set is not
 * one snapshot (meta_bytes may briefly lead write_bytes: data_bytes is
 * clamped at 0).
 */
struct container_io_stats {
	uint64_t writes, write_bytes, data_bytes, meta_bytes;
	uint64_t syncs, commits, flushes;
	uint64_t compressions, compress_skips;
};

/* container_io_stats - the counters above; takes no lock. */
void container_io_stats(struct container *c, struct container_io_stats *out);

/* ---- the guest as a directory --------------------------------------------- */

struct object_attr;

/*
 * container_dir_getattr - the guest directory's mode (S_IFDIR | bits), uid,
 * gid, mtime and ctime, as last set by container_dir_setattr (then moved by
 * every create, unlink and rename inside the guest).  -ENODATA if never set:
 * the caller chooses defaults.
 */
int container_dir_getattr(struct container *c, struct object_attr *out_attr);

/* container_dir_setattr - set the fields named in `mask` (OBJECT_SET_*);
 * unset fields start from `defaults` the first time.  Committed with the
 * container. */
int container_dir_setattr(struct container *c, const struct object_attr *attr,
			  unsigned mask, const struct object_attr *defaults);

/* ---- objects ------------------------------------------------------------ */

struct object_attr {
	uint64_t id;
	uint64_t size;	       /* virtual size in bytes */
	uint64_t stored_bytes; /* space really used (for st_blocks) */
	uint64_t generation;   /* commit that last changed the contents */
	uint32_t mode;	       /* permission bits and S_IFREG */
	uint32_t uid;
	uint32_t gid;
	struct timespec mtime;
	struct timespec ctime;
	enum object_role role;
	bool compressed; /* new clusters are compressed */
};

/* Bits for object_setattr's mask. */
#define OBJECT_SET_MODE	 (1u << 0)
#define OBJECT_SET_UID	 (1u << 1)
#define OBJECT_SET_GID	 (1u << 2)
#define OBJECT_SET_MTIME (1u << 3)

struct object_name {
	uint64_t id;
	char name[256];
};

/* object_role_of_name - the role an object has under `name`. */
enum object_role object_role_of_name(const char *name);

/* object_lookup - id of the object named `name`; -ENOENT if none. */
int object_lookup(struct container *c, const char *name, uint64_t *out_id);

/*
 * object_create - create an empty object.  `name` must pass
 * name_object_valid().  Returns -EEXIST, -EINVAL, -EROFS.
 * Creating memory.save starts an unsealed image (see savelock.h).
 */
int object_create(struct container *c, const char *name, uint32_t mode,
		  uint32_t uid, uint32_t gid, uint64_t *out_id);

/*
 * object_unlink - remove a name.  A disk pinned by a saved image is refused
 * with -EBUSY.  Unlinking memory.save discards the saved state in the same
 * transaction.  An object that is still open (object_open) stays readable
 * and writable through its id until its last object_release.
 */
int object_unlink(struct container *c, const char *name);

/*
 * object_rename - rename `from` to `to`, atomically replacing `to` if it
 * exists (unless `noreplace`, then -EEXIST).  -EBUSY if either name is a
 * pinned disk.  Renaming onto memory.save seals it as the save image (pins
 * taken in the same transaction); renaming memory.save away discards the
 * saved state.
 */
int object_rename(struct container *c, const char *from, const char *to,
		  bool noreplace);

/* object_getattr - attributes of object `id`; -ENOENT if gone. */
int object_getattr(struct container *c, uint64_t id,
		   struct object_attr *out_attr);

/* object_name_of - copy the current name of `id` (empty if unlinked). */
int object_name_of(struct container *c, uint64_t id, char *out_name,
		   size_t name_len);

/* object_setattr - change the fields named in `mask`; ctime moves. */
int object_setattr(struct container *c, uint64_t id,
		   const struct object_attr *attr, unsigned mask);

/*
 * object_list - every linked object, sorted by name.  *out_names is an array
 * of *out_num entries that the caller frees with free().
 */
int object_list(struct container *c, struct object_name **out_names,
		size_t *out_num);

/* object_open / object_release - pin `id` for an open handle, so that an
 * unlink keeps it alive until the last release.  `for_write` is recorded so
 * the save lock can tell writers apart (savelock.h). */
int object_open(struct container *c, uint64_t id, bool for_write);
void object_release(struct container *c, uint64_t id, bool for_write);

/*
 * object_read - read up to `len` bytes at `offset`.  Holes read as zeros.
 * *out_len is short only at end of object.  Returns -EBADMSG if a
 * compressed cluster's checksum fails, -EIO on device error.
 */
int object_read(struct container *c, uint64_t id, void *buf, size_t len,
		uint64_t offset, size_t *out_len);

/*
 * object_write - write `len` bytes at `offset`, extending the object if
 * needed.  Whole bytes only reach the disk durably at the next commit.
 * Returns -ENOSPC (nothing of the failed cluster is mapped), -EFBIG past the
 * format's limit, -EIO, -EROFS.  A write to a disk pinned by a saved image
 * (through a handle opened before the save) first commits the image's
 * invalidation; in the resuming state the first disk write first commits the
 * image's retirement (savelock.h).
 */
int object_write(struct container *c, uint64_t id, const void *buf, size_t len,
		 uint64_t offset);

/*
 * object_copy_range - copy up to `len` bytes of object `src_id` at
 * `src_off` to object `dst_id` at `dst_off` of `c`, as copy_file_range(2)
 * does.  The source is an object of `src_c`: NULL (or `c`) for `c` itself,
 * or a snapshot view of `c` (container_snapshot_open; else -EXDEV).  Whole
 * clusters are shared, not copied, where both offsets sit at the same place
 * inside a cluster and the container is not encrypted (the first write to
 * either copy then copies the cluster); the rest is copied.  *out_len is
 * the count done: short at the end of the source, and when one call's
 * limit is reached (call again).  Returns 0 if anything was done, else
 * -EINVAL (overlapping ranges of one object), -ENOENT, -EROFS, -ENOSPC,
 * -EFBIG, -EIO as object_write.
 */
int object_copy_range(struct container *c, struct container *src_c,
		      uint64_t src_id, uint64_t src_off, uint64_t dst_id,
		      uint64_t dst_off, uint64_t len, uint64_t *out_len);

/* object_truncate - set the size; clusters past it are freed. */
int object_truncate(struct container *c, uint64_t id, uint64_t size);

/*
 * object_punch - make [offset, offset+len) read as zeros without changing
 * the size.  Whole clusters are unmapped and their space freed (after the
 * commit); partial clusters are zero-filled.  Works on a full backing
 * filesystem (the container keeps a small metadata reserve).
 */
int object_punch(struct container *c, uint64_t id, uint64_t offset,
		 uint64_t len);

/*
 * object_zero - like object_punch, but whole clusters become explicit ZERO
 * entries and, unless keep_size, the object grows to offset + len.
 */
int object_zero(struct container *c, uint64_t id, uint64_t offset, uint64_t len,
		bool keep_size);

/*
 * object_seek - SEEK_DATA / SEEK_HOLE answered from the map (cluster
 * granularity; ZERO clusters count as holes).  -ENXIO past the end.
 */
int object_seek(struct container *c, uint64_t id, uint64_t offset, int whence,
		uint64_t *out_offset);

/* ---- snapshots ----------------------------------------------------------
 *
 * A snapshot is every object of the guest as of one commit (core/FORMAT.md
 * section 4, "Snapshots").  Names: 1..64 bytes of [A-Za-z0-9._-], no
 * leading dot; at most 256 per guest.  Clusters are shared, not copied:
 * creating one costs one commit whatever the guest's size, and the first
 * write after it to a shared cluster copies that cluster.
 */

struct snapshot_info {
	char name[65];
	uint64_t id;	     /* never reused within the container */
	uint64_t generation; /* the commit it holds */
	struct timespec created;
};

/*
 * container_snapshot_create - commit the guest's current state (every
 * completed write and metadata change) and keep it as snapshot `name`, in
 * that one commit.  -EINVAL bad name (a reserved one too:
 * container_snapshot_name_reserved), -EEXIST, -EMLINK too many, -EROFS,
 * -EOVERFLOW when the container's object ids are used up (a snapshot
 * takes one, as a new file does), -ENOSPC/-EIO (then no snapshot exists).
 */
int container_snapshot_create(struct container *c, const char *name);

/*
 * container_snapshot_delete - forget snapshot `name` and free what only it
 * held, in one commit.  -ENOENT, -EBUSY while a view of it is open or while
 * it is a pin whose reader is alive, -EROFS;
 * -EIO/-EBADMSG reading its trees (nothing changed).  An error from the
 * commit itself leaves the deletion in the open transaction.
 */
int container_snapshot_delete(struct container *c, const char *name);

/*
 * Pins.  A pin is a snapshot that a reader of a live store holds so that it
 * reads one committed state while the writer goes on (hangarfs -o ro beside
 * a read-write mount, `hangar export` and `check` of a mounted store): the
 * reader asks the writer to take it (hangar/control.h, CONTROL_OP_PIN),
 * reads it from the container file (nothing a snapshot maps is freed or
 * rewritten while it exists) and asks the writer to delete it when done.
 * Its name is CONTAINER_PIN_PREFIX, the reader's PID, '-', a number
 * ("hangar-pin-4242-1"): names with that prefix are reserved (neither
 * taken by container_snapshot_create nor deleted by
 * container_snapshot_delete while the PID is alive), and the writer
 * deletes every pin whose PID is no longer alive on this host when it
 * opens the container read-write (store.c) and before it takes a new pin
 * (container_pin_reap).  A PID reused by another process keeps a dead
 * reader's pin until that process ends too.
 */
#define CONTAINER_PIN_PREFIX "hangar-pin-"

/* container_snapshot_name_reserved - whether `name` has the reserved
 * prefix (CONTAINER_PIN_PREFIX). */
bool container_snapshot_name_reserved(const char *name);

/* container_pin_name_parse - whether `name` is a pin's name; its PID in
 * *out_pid (may be NULL). */
bool container_pin_name_parse(const char *name, pid_t *out_pid);

/*
 * container_pin_create - delete the pins of dead readers, then take a pin
 * for reader `pid` (one commit, as container_snapshot_create); its name
 * into `out_name` (room for 65 bytes).  Errors as container_snapshot_create.
 */
int container_pin_create(struct container *c, pid_t pid, char *out_name,
			 size_t name_len);

/* container_pin_delete - delete pin `name` (-EINVAL: not a pin's name;
 * else as container_snapshot_delete, but whether its reader is alive or
 * not: the reader itself lets go). */
int container_pin_delete(struct container *c, const char *name);

/* container_pin_reap - delete every pin whose reader is no longer alive
 * (one commit each; a pin with an open view is left for the next time);
 * how many into *out_reaped (may be NULL).  -EROFS on a read-only
 * container. */
int container_pin_reap(struct container *c, unsigned *out_reaped);

/* container_snapshot_list - every snapshot, oldest first; *out freed by
 * the caller with free(). */
int container_snapshot_list(struct container *c, struct snapshot_info **out,
			    size_t *out_num);

/*
 * container_snapshot_rollback - make every object of the guest what it was
 * in snapshot `name` (files created since disappear, removed ones come
 * back, a saved memory image comes back with its save lock), in one
 * commit; later snapshots are kept.  -EBUSY while any object is open,
 * -ENOENT, -EROFS.
 */
int container_snapshot_rollback(struct container *c, const char *name);

/*
 * container_snapshot_open - a read-only container holding snapshot `name`'s
 * objects: use object_lookup/list/getattr/read/seek on it (writes -EROFS).
 * Shared between openers; valid until container_snapshot_close, which every
 * open must be paired with before `c` is closed.  While open, the snapshot
 * cannot be deleted (-EBUSY).
 */
int container_snapshot_open(struct container *c, const char *name,
			    struct container **out_view);
void container_snapshot_close(struct container *c, struct container *view);

/*
 * container_snapshot_space - bytes of the container that only snapshots
 * hold (their frozen tables, the map nodes and data clusters the live
 * state no longer uses): what deleting every snapshot would give back.
 * O(clusters); 0 without snapshots.
 */
int container_snapshot_space(struct container *c, uint64_t *out_bytes);

/* What container_snapshot_diff reports about one file. */
enum container_diff_kind {
	CONTAINER_DIFF_CHANGED = 1, /* [offset, offset+length) may differ */
	CONTAINER_DIFF_ADDED = 2,   /* a file only the newer state has (or
				       another file under the name): all of
				       [0, length=size) */
	CONTAINER_DIFF_REMOVED = 3, /* a file only the older state has */
};

typedef int (*container_diff_fn)(void *arg, const char *file,
				 enum container_diff_kind kind, uint64_t offset,
				 uint64_t length);

/*
 * container_snapshot_diff - what changed from snapshot `from` to snapshot
 * `to` (NULL: the live state), file by file (matched by name and identity),
 * as cluster-granular extents, without reading any data: subtrees the two
 * states share are skipped whole.  A changed extent may hold equal bytes
 * (rewritten with the same data); an unchanged one never differs.  A
 * non-zero return from `fn` stops the walk and is returned.  Against the
 * live state the callback runs under the container's read lock and must
 * not call back into it.  -ENOENT if a snapshot does not exist.
 */
int container_snapshot_diff(struct container *c, const char *from,
			    const char *to, container_diff_fn fn, void *arg);

#endif /* HANGAR_CONTAINER_H */
