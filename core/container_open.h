/*
 * container_open.h -- opening, creating and closing a container on a file:
 * the private half of hangar/container.h.
 *
 * Only the store (store.c, guestfile.c), check.c and the tests open
 * containers themselves; fs/ and cli/ get theirs from the store
 * (store_guest_get), which is why this is not a public header.  Everything a
 * holder of a container may do with it is in hangar/container.h, whose
 * guarantees, errors and THREAD MODEL apply here too.
 *
 * Ownership: the io passed to container_create/container_open moves to the
 * container on success (container_close closes it) and stays the caller's on
 * failure.  The master key in container_options is borrowed for the call.
 */
#ifndef HANGAR_CONTAINER_OPEN_H
#define HANGAR_CONTAINER_OPEN_H

#include "hangar/container.h"

struct io;
struct crypto_key;
struct map_budget;

/* zstd level 2: as fast as level 1 per 64 KiB frame and about 3 % smaller,
 * which puts per-cluster frames at or under one `zstd -1` stream of the same
 * bytes (FORMAT.md, "Level"). */
#define CONTAINER_COMPRESS_LEVEL 2

/* container_options.slack_bytes' default: 1 GiB (measured in
 * contrib/bench/RESULTS.md, "Copy-on-write slack"). */
#define CONTAINER_SLACK_DEFAULT_BYTES (1ull << 30)

struct container_options {
	bool read_only;		/* open without ever writing */
	bool compress_disks;	/* create: *.raw clusters are zstd-compressed */
	unsigned cluster_shift; /* create: 12..21, 0 = default (16) */
	/* create: metadata blocks of 1 << node_shift bytes, 12..cluster_shift
	 * (0 = FORMAT_NODE_SHIFT_DEFAULT, 4 KiB, or the cluster if smaller);
	 * below cluster_shift the container has FEATURE_INCOMPAT_SMALL_NODES,
	 * which hangar before it cannot open */
	unsigned node_shift;
	int compress_level;	  /* zstd level, 0 = CONTAINER_COMPRESS_LEVEL */
	container_event_fn event; /* may be NULL */
	void *event_arg;
	/* The store's master key (crypto.h), borrowed for the call only: the
	 * container derives and keeps its own sub-keys.  create: non-NULL
	 * makes an ENCRYPTED container (FORMAT.md section 9).  open: required
	 * for an encrypted container (-ENOKEY without it, -EKEYREJECTED for
	 * another store's key), and when given, a plain container is refused
	 * (-EUCLEAN): an encrypted store never trusts unauthenticated bytes. */
	const struct crypto_key *master;
	/* The map cache (core/map.c, "Cache"): the budget this container's
	 * loaded map leaves count against, shared with other containers and
	 * borrowed for the container's whole life (a store passes one for
	 * all its guests); NULL: the container's own, of map_cache_bytes
	 * (0 = MAP_CACHE_DEFAULT_BYTES, 64 MiB; 1 keeps about one leaf
	 * loaded, for tests). */
	struct map_budget *map_budget;
	uint64_t map_cache_bytes;
	/* open: read the superblock and the table only, and walk the trees
	 * (reference counts, free space, the full verification) when the
	 * first writer or tree walker needs them; lookups meanwhile read
	 * each cluster's path from disk, verified (container.c, "Lazy
	 * open").  A tree the walk finds damaged fails that call and poisons
	 * a read-write container instead of failing the open. */
	bool lazy_maps;
	/* Copy-on-write slack (core/alloc.c invariant 11): each time rewrites
	 * freed this many more bytes that the committed tree still maps, a
	 * commit is wanted, so a guest's file exceeds its data by about
	 * twice this at most.  0 = CONTAINER_SLACK_DEFAULT_BYTES (1 GiB);
	 * UINT64_MAX = no limit (commits come only when asked for). */
	uint64_t slack_bytes;
	/* Writes that stranded more freed space than the slack limit
	 * (core/alloc.c invariant 11) want a commit: with this set, the
	 * writer calls it (with event_arg, holding no container lock) and
	 * goes on, and the caller commits soon on a thread of its own (the
	 * store wakes its committer); NULL: the writer commits itself. */
	void (*commit_wanted)(void *arg);
};

/*
 * map_budget_new - a map cache budget of `bytes` (0 = the default,
 * 64 MiB) for containers to share (container_options.map_budget): the
 * bytes of map leaves they keep loaded together.  NULL without memory.
 * map_budget_free - free it (NULL is fine), after every container using
 * it is closed.
 */
struct map_budget *map_budget_new(uint64_t bytes);
void map_budget_free(struct map_budget *budget);

/*
 * container_create - create a new, empty container on `io` (which must be an
 * empty file) and commit its first generation.
 * On success the container owns `io` (container_close frees it); on failure
 * the caller still owns it.  Returns 0, -EINVAL (bad options), or I/O errors.
 */
int container_create(struct io *io, const struct container_options *opts,
		     struct container **out_container);

/*
 * container_open - open an existing container: pick the newest superblock
 * whose checksum holds, verify and load the object table and every map, and
 * derive the free space (with opts->lazy_maps the maps and the free space
 * wait for container_walk).  A read-write open also sets aside an image
 * that was never sealed (renamed to memory.save.incomplete) in its first
 * commit.
 * Ownership of `io` moves to the container only on success.  A refusal
 * (anything but -ENOMEM) is also reported through opts->event as
 * CONTAINER_EVENT_OPEN_REFUSED, with the reason in words: at every failed
 * open, synchronously, on the caller's thread, before this returns.
 * Returns 0, -EUCLEAN/-EBADMSG (corrupt; for an encrypted container also any
 * failed authentication), -EPROTONOSUPPORT (unknown incompatible feature or
 * version), -ENOKEY (encrypted, opts->master not given), -EKEYREJECTED
 * (encrypted under another master key), -ENOMEM, or an I/O error.
 */
int container_open(struct io *io, const struct container_options *opts,
		   struct container **out_container);

/*
 * container_open_why - container_open that also hands the refusal to its
 * caller: `why` (may be NULL) gets the code and the sentence of a failed
 * open (CONTAINER_REFUSAL_NONE and "" on success and on -ENOMEM).  The
 * OPEN_REFUSED event is reported as by container_open.
 */
int container_open_why(struct io *io, const struct container_options *opts,
		       struct container **out_container,
		       struct container_refusal *why);

/*
 * container_close - commit (unless read-only or poisoned), free everything
 * and close the io.  Accepts NULL.  Returns the commit's result, or the
 * error that poisoned the container (its last changes were never
 * committed); the container is freed either way.
 */
int container_close(struct container *c);

/*
 * container_peek_dir - the guest directory's attributes (as
 * container_dir_getattr) that the newest committed superblock's table
 * records, without opening the container: the superblocks and the table
 * chain are read and verified as an open verifies them (checksums, for an
 * encrypted container the MACs under opts->master), no map is read, no
 * free space is derived, nothing is written and no event is reported.
 * For a store listing thousands of guests (store_guest_dir_getattr).
 * `io` stays the caller's.  Returns 0, -ENODATA when the attributes were
 * never set, or container_open's errors for a container that cannot be
 * read.  Only opts->master is used.
 */
int container_peek_dir(struct io *io, const struct container_options *opts,
		       struct object_attr *out_attr);

/* container_file_io - the io `c` reads and writes (borrowed: the
 * container's until container_close).  For the store's extent-sharing
 * copy of a guest file (store_guest_clone_shared). */
struct io *container_file_io(struct container *c);

/*
 * container_make_clone - make `c`, a byte copy of another guest's container
 * file (store_guest_clone_shared), a guest of its own, in one commit and a
 * superblock-only commit after it, so that neither slot keeps the source's
 * identity: a fresh random uuid; every object for which `drop` (may be
 * NULL) says yes is removed whole, without the save lock's bookkeeping (no
 * fingerprint becomes spent); every other object keeps its bytes, name and
 * attributes but loses any image seal and the IMAGE_UNSEALED and
 * IMAGE_TAINTED flags, exactly what a copy through core gives a new object.
 * The spent list is kept: an image that can never be resumed in the source
 * can never be resumed in the clone either.  Snapshots must be gone first
 * (-ENOTEMPTY); -EBUSY while an object is open; -EOPNOTSUPP for an
 * encrypted container: its uuid salts its keys and is in every seal's AAD
 * (FORMAT.md 9.1, 9.2), so a new identity means sealing every byte again,
 * and two files continuing from one nonce counter under one key would
 * reuse nonces (9.4).  Failure after the first commit poisons as any
 * commit does; the caller discards the file.
 */
int container_make_clone(struct container *c,
			 bool (*drop)(void *arg, const char *name),
			 void *drop_arg);

/* container_compact - compress again up to `max` (0: all) clusters that
 * partial writes staged RAW on compressed disks (data.c, "Staged
 * clusters"); takes the write lock.  *out_left (may be NULL): how many stay
 * staged.  A read-only or poisoned container does nothing. */
int container_compact(struct container *c, size_t max, size_t *out_left);
/* container_compact_idle - container_compact for the background: does
 * nothing (*out_left = 0) while the guest writes, unless many clusters are
 * staged. */
int container_compact_idle(struct container *c, size_t max, size_t *out_left);

/* container_walk - walk the trees of a container opened with lazy_maps now,
 * if no one has (container.c, "Lazy open"): what its first write would
 * otherwise wait for; every writer, and every reader of trees or of the
 * allocator, calls it first.  No lock of the container held.  0 (also
 * when walked already), or the walk's error -- also for every later call
 * -- which has poisoned a read-write container.  container_walked -
 * whether that is done (or was never deferred). */
int container_walk(struct container *c);
bool container_walked(struct container *c);

#endif /* HANGAR_CONTAINER_OPEN_H */
