/*
 * internal.h -- the in-memory state of an open container, shared by the
 * files that implement hangar/container.h and hangar/savelock.h (the
 * container engine: container.c, object.c, data.c, savelock.c; below it
 * map.c, alloc.c, table.c, and encrypt.c for encrypted containers) and by
 * check.c.  Private, like every header outside core/include: fs/ and cli/
 * cannot include it (core/README.md has the layers and why the engine's
 * four files call each other).
 *
 * Who owns what:
 *   struct container owns its io, its objects, their map trees, the
 *   allocator, the compressor pool and (encrypted) its derived keys.
 *   A struct object owns its name, its map tree and its pending-compression
 *   buffer.  A map node owns its entry array (NULL for an unloaded leaf,
 *   map.c "Cache") and its children.  A container's map_budget is the
 *   store's (borrowed; a view borrows its parent's) or its own.
 *
 * Locking (THREAD MODEL of every core file that touches these structs):
 *   c->lock (rwlock)      writer-preferring (a waiting writer holds off new
 *                         readers), so a thread must never take its read
 *                         side while holding it: that would deadlock
 *                         behind a waiting writer.  It protects the object array, every object's name,
 *                         size, flags, map tree and pending buffer, its
 *                         image seal and fingerprint crcs, the spent list,
 *                         the allocator and every "dirty" flag except
 *                         the two atomics below -- except that until a
 *                         lazy open's walk is published (maps_loaded), the
 *                         trees and the allocator belong to that walk,
 *                         under load_mutex (below).  Read lock: lookups, reads,
 *                         in-place writes of RAW clusters inside the size.
 *                         Write lock: everything else, and the commit --
 *                         except its syncs: container_commit() (flushes and
 *                         the committer) drops to the read lock for the
 *                         fdatasyncs of steps 4-5 and for punching the
 *                         data clusters it freed (container.c punch_apply,
 *                         free clusters only), so reads and in-place
 *                         writes go on meanwhile, and sets
 *                         c->commit_syncing meanwhile; every other writer
 *                         takes the lock through container_wrlock(), which
 *                         waits that phase out (the tree must not change
 *                         between a commit's write and its bookkeeping).
 *   c->sync_mutex         protects c->commit_syncing; c->sync_cond signals
 *                         its end.
 *   c->load_mutex         makes one thread the loader of a lazily opened
 *                         container (container_walk), which walks
 *                         holding it and no container lock, then takes
 *                         c->lock's write side to publish: so it comes
 *                         before c->lock, and no thread waits for it while
 *                         holding c->lock of the same container.
 *   No container lock:    compressing and sealing whole clusters of a write
 *                         (data.c write_squeezed_clusters,
 *                         write_sealed_clusters), and opening, merging and
 *                         sealing part of an encrypted cluster
 *                         (write_sealed_partial); the clusters they write
 *                         are taken and mapped under the write lock, and
 *                         counted in c->inflight_clusters in between.
 *   obj->attr_lock        protects obj->mtime/ctime and obj->content_dirty
 *                         against concurrent in-place writers (which hold only
 *                         the read lock); content_dirty is also atomic, so a
 *                         reader under the read lock may load it alone.
 *   c->data_dirty         atomic: some in-place write happened since the
 *                         last commit.
 *   c->stat_*             atomic, relaxed: I/O accounting, read without a
 *                         lock (container_io_stats).
 *   c->commit_mutex       protects the group-commit counters and the
 *                         `committing` flag; c->commit_cond signals progress.
 *   c->cz_lock            protects the compressor pool.
 *   c->map_lock           protects the map cache: the LRU list of loaded
 *                         leaves and every leaf's entries/seals pointers
 *                         (map.c, THREAD MODEL: readers load and evict
 *                         leaves under it; the write lock's holder may use
 *                         a leaf it loaded without it).
 * Lock order: commit_mutex is never held while waiting for c->lock's write
 * side by anyone but the commit leader; c->lock before obj->attr_lock before
 * cz_lock; sync_mutex and map_lock are leaves (never held while taking
 * another lock).
 */
#ifndef HANGAR_INTERNAL_H
#define HANGAR_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "container_open.h"
#include "crypto.h"
#include "format.h"
#include "hangar/savelock.h"

struct compressor;
struct io;

/* ---- allocator (alloc.c) ------------------------------------------------ */

/* Per-cluster state bits. */
#define CLUSTER_COMMITTED 0x01 /* referenced by the last committed state */
#define CLUSTER_PACKED	  0x02 /* holds compressed extents (shared) */
#define CLUSTER_BACKED	  0x04 /* free, but known to own host blocks */
#define CLUSTER_TOUCHED	  0x08 /* refs changed in the open transaction */
#define CLUSTER_DATA	  0x10 /* last use was data: punch when freed */
#define CLUSTER_HELD                                                           \
	0x20 /* raw data freed by the last commit: the
				  older superblock's tree still maps it */
/* RAW data that another entry still mapped in the last committed state
 * (shared extents, a snapshot): the open transaction dropped that other
 * reference, but until the next commit a crash brings it back, so its
 * bytes must not change in place (alloc_unref sets it, alloc_commit
 * clears it; snapshot_raw_owned) */
#define CLUSTER_UNSHARED 0x40
/* holds metadata blocks (map nodes, table blocks) in node-sized slots: a
 * metadata cluster (alloc_slab.c); never data */
#define CLUSTER_META 0x80

/*
 * A set of cluster numbers that finds its first member at or after any n in
 * O(log64 n) word operations: level 0 has one bit per cluster, each level
 * above one bit per word of the level below, set exactly when that word is
 * nonzero; the top level is a single word.  Adding or removing a member
 * touches one word per level at most (usually one in all).  Sized to the
 * allocator's capacity (alloc_grow); owned by struct alloc.
 */
#define ALLOC_SET_LEVELS 8 /* 64^8 = 2^48 bits, past FORMAT_MAX_VCLUSTERS */
#define ALLOC_SET_NONE	 UINT64_MAX
struct alloc_set {
	uint64_t *level[ALLOC_SET_LEVELS]; /* level[l] holds words[l] words */
	uint64_t words[ALLOC_SET_LEVELS];
	unsigned levels; /* levels in use; 0 = empty and unsized */
};

/* alloc_set_next - the smallest member >= from, or ALLOC_SET_NONE. */
uint64_t alloc_set_next(const struct alloc_set *s, uint64_t from);
/* alloc_set_has - whether n is a member. */
bool alloc_set_has(const struct alloc_set *s, uint64_t n);

struct alloc {
	uint64_t first;	   /* first allocatable cluster */
	uint64_t count;	   /* clusters tracked (file end, in clusters) */
	uint64_t capacity; /* array capacity */
	uint32_t *refs;	   /* references in the current (open) state */
	uint8_t *bits;	   /* CLUSTER_* */
	uint64_t *touched; /* clusters with CLUSTER_TOUCHED */
	size_t touched_num, touched_cap;
	uint64_t *held; /* clusters with CLUSTER_HELD */
	size_t held_num, held_cap;
	uint64_t
		*recycle; /* data freed by the last alloc_commit, not punched */
	size_t recycle_num, recycle_cap;
	uint64_t used;	      /* clusters with refs > 0 */
	uint64_t cursor;      /* next-fit search start */
	uint64_t backed_free; /* clusters with CLUSTER_BACKED */
	uint64_t reserve;     /* backed clusters data allocation leaves alone */
	/* Snapshots (snapshot.c) count, per map node, the parents in the
	 * snapshots' trees that point at it (alloc_node_sref).  A node with
	 * such parents holds ONE reference for all snapshots together, and
	 * each entry of such a leaf holds one on its data cluster: so refs ==
	 * 1 on a RAW cluster means the live tree alone maps it. */
	bool meta_from_reserve; /* metadata only from backed clusters */
	/* false between a lazy open and the end of its tree walk
	 * (container.c, "Lazy open"): until every committed tree was
	 * counted, nothing is handed out (alloc_get and alloc_node_get
	 * return -EAGAIN), so no allocation can land on a cluster or slot
	 * the walk has not reached yet */
	bool walked;
	/* The free-cluster index that alloc_get searches instead of scanning:
	 * every cluster in [first, count) that is free now (refs == 0 and
	 * neither COMMITTED nor HELD: alloc.c, alloc_is_free), in exactly one
	 * of the two sets by its CLUSTER_BACKED bit, and nothing else.
	 * Invariant 7 of alloc.c: every change of refs, COMMITTED, HELD,
	 * BACKED or count goes through alloc.c, which updates the index in
	 * the same call.  (Code outside alloc.c may change DATA and PACKED,
	 * which the index ignores, and sets COMMITTED only on a cluster it
	 * has just referenced, which is in neither set either way.) */
	struct alloc_set free_backed, free_unbacked;
	/* metadata slots (alloc_slab.c): slab_pages[cl >> PAGE_SHIFT][cl &
	 * (page - 1)] is cluster cl's slab, NULL unless CLUSTER_META */
	unsigned slot_shift;
	struct alloc_slab ***slab_pages;
	uint64_t slab_page_num;
	uint64_t slab_num;	/* metadata clusters */
	uint64_t *slot_touched; /* slots with SLOT_TOUCHED */
	size_t slot_touched_num, slot_touched_cap;
	/* metadata clusters with a free slot (the lowest is filled first) */
	struct alloc_set slabs_open;
	/* Free, not BACKED clusters that read as zeros on the host: this
	 * process punched them (alloc_set_empty, after the punch returned 0)
	 * and nothing took them since (alloc.c invariant 8).  NOT the same as
	 * !CLUSTER_BACKED, which also covers clusters whose host blocks
	 * nobody knows about (free at open, freed inside the transaction that
	 * wrote them).  A partial write into a hole may write only its own
	 * pages into one (data.c, store_raw_sparse; FORMAT.md section 7). */
	struct alloc_set free_empty;
	/* Space that waits for a commit (alloc.c invariant 11): clusters
	 * freed in the open transaction that the committed tree still maps
	 * (`stranded`: refs fell to 0 on a COMMITTED cluster since the last
	 * alloc_commit).  As it passes `slack_limit` clusters (0: no limit)
	 * the allocator raises `slack_over`, which writers read with no lock
	 * and answer with a commit (container_slack_settle). */
	uint64_t stranded;
	uint64_t slack_limit;
	atomic_bool slack_over;
};

/*
 * Metadata slots (alloc_slab.c).  Map nodes and table blocks are
 * node-sized (1 << node_shift bytes, at most a cluster): a metadata
 * cluster (CLUSTER_META) holds 1 << slot_shift of them, its slots.  A slot
 * is named by its global number, byte offset >> node_shift.  Per slot: how
 * many references the open state holds (the live tree or live table: one;
 * snapshots together: one more), whether the last committed state
 * referenced it, and (snapshots) how many snapshot-side parents point at
 * it.  A slot is free exactly when it has no reference and is not
 * committed -- invariant 1 of alloc.c, one level down.  The cluster's
 * `refs` is the sum of its slots' references, so the cluster-level rules
 * (committed, touched, free) hold unchanged above the slots.  With
 * slot_shift 0 (nodes as big as clusters, the layout before
 * FEATURE_INCOMPAT_SMALL_NODES) each metadata cluster is one slot.
 */
#define SLOT_REFS      0x03 /* references in the open state, 0..2 */
#define SLOT_COMMITTED 0x04 /* referenced by the last committed state */
#define SLOT_TOUCHED   0x08 /* in slot_touched */

struct alloc_slab {
	uint8_t *slot;	 /* 1 << slot_shift: SLOT_* */
	uint32_t *srefs; /* snapshot-side parents per slot, NULL when none */
	uint32_t free;	 /* slots free to hand out */
	uint32_t hint;	 /* first slot that may be free */
};

/* A sparse map from cluster number to its slab: 4096 clusters a page. */
#define ALLOC_SLAB_PAGE_SHIFT 12u

/* ALLOC_DATA_SPARSE: a data cluster that reads as zeros on the host (the
 * lowest free_empty one, else the one at the end of the file when no free
 * cluster is left inside it), for a write of part of a cluster that
 * writes only its own pages. */
enum alloc_kind { ALLOC_DATA, ALLOC_META, ALLOC_DATA_SPARSE };

/* Metadata reserve: free, host-backed clusters that data never takes, so a
 * punch can still commit on a full backing filesystem.  16 clusters, but no
 * more than 8 MiB (and at least 4 clusters). */
#define ALLOC_META_RESERVE	 16u
#define ALLOC_META_RESERVE_BYTES (8u << 20)

int alloc_init(struct alloc *a, uint64_t first, uint64_t count);
void alloc_cleanup(struct alloc *a);
/* alloc_ref - one more reference to cluster `n` (grows the arrays). */
int alloc_ref(struct alloc *a, uint64_t n);
/* alloc_unref - drop a reference; the cluster becomes allocatable at once if
 * it was never committed, else only after alloc_commit. */
void alloc_unref(struct alloc *a, uint64_t n);
/* alloc_set_slack - a commit is wanted each time `clusters` more were
 * freed that the committed tree maps (alloc.c invariant 11); 0 = never
 * (alloc_init's). */
void alloc_set_slack(struct alloc *a, uint64_t clusters);
/* alloc_slot_shift - nodes are 1 << shift to a cluster (before any
 * reference; alloc_init leaves it 0). */
int alloc_slot_shift(struct alloc *a, unsigned shift);
/* alloc_node_get - a slot free in the committed state and in the open
 * transaction, with one reference: the lowest free slot of the lowest
 * metadata cluster that has one, else the first slot of a new metadata
 * cluster (alloc_get, ALLOC_META).  -ENOMEM / -EFBIG. */
int alloc_node_get(struct alloc *a, uint64_t *out_slot);
/* alloc_node_ref - one more reference to the node in `slot` (`load`: found
 * in the committed state at open, so also committed).  -EUCLEAN when its
 * cluster holds data or the slot would pass two references. */
int alloc_node_ref(struct alloc *a, uint64_t slot, bool load);
/* alloc_node_unref - drop a reference; the slot is free at once if it was
 * never committed, else only after alloc_commit. */
void alloc_node_unref(struct alloc *a, uint64_t slot);
/* alloc_node_refs - references the open state holds on `slot`. */
unsigned alloc_node_refs(const struct alloc *a, uint64_t slot);
/* alloc_node_sref - snapshot-side parents of the node in `slot` (0 when
 * none); alloc_node_sref_add changes it by +1 or -1 (+1 makes `slot`'s
 * cluster a metadata cluster: -EUCLEAN when it holds data; -EOVERFLOW). */
uint32_t alloc_node_sref(const struct alloc *a, uint64_t slot);
int alloc_node_sref_add(struct alloc *a, uint64_t slot, int delta);
/* alloc_nodes_free_clusters - how many clusters would become unreferenced
 * if the open state dropped one reference to each of `slots` (distinct
 * slots, one reference each): the commit's count of the old table. */
uint64_t alloc_nodes_free_clusters(const struct alloc *a, const uint64_t *slots,
				   size_t num);
/* Between alloc.c and alloc_slab.c only: the set's members, the slots'
 * part of alloc_commit, a metadata cluster that became free, cleanup and
 * the heavy check. */
void alloc_set_add(struct alloc_set *s, uint64_t n);
void alloc_set_remove(struct alloc_set *s, uint64_t n);
void alloc_slots_commit(struct alloc *a);
void alloc_slab_drop(struct alloc *a, uint64_t n);
void alloc_slabs_cleanup(struct alloc *a);
bool alloc_slabs_invariants(const struct alloc *a);
/* alloc_reach - track clusters up to `n` (grows the arrays). */
int alloc_reach(struct alloc *a, uint64_t n);
/* alloc_get - a cluster free in the committed state and in the open
 * transaction, with refs = 1: the lowest such cluster at or after the
 * cursor (a backed one for metadata retried after -ENOSPC), found in
 * O(log n) through the free-cluster index; ALLOC_DATA_SPARSE: the lowest
 * free_empty cluster, else the one at the end of the file, or -EAGAIN
 * (nothing taken) when first-fit would give a free cluster inside the file
 * whose host bytes are unknown.  Never fails otherwise except -ENOMEM /
 * -EFBIG. */
int alloc_get(struct alloc *a, enum alloc_kind kind, uint64_t *out_n);
/* alloc_commit - the commit is durable: clusters held by the previous
 * commit become free; committed := refs > 0 for every touched cluster; raw
 * data clusters this commit freed are HELD until the next commit (the other
 * superblock slot still maps them); everything else freed is free now.
 * Data clusters that become free keep their host blocks until the next
 * alloc_commit (or alloc_recycle_flush), which calls punch(arg, n) for each
 * one not reused by then. */
void alloc_commit(struct alloc *a, void (*punch)(void *arg, uint64_t n),
		  void *arg);
/* alloc_release_held - the commit that retires the older slot's tree is
 * durable: what the commit before it held is free now (alloc_commit does
 * it first thing; a superblock-only commit calls it alone). */
void alloc_release_held(struct alloc *a, void (*punch)(void *arg, uint64_t n),
			void *arg);
/* alloc_recycle_flush - punch (return to the host) every data cluster the
 * last alloc_commit freed that is still free and unused.  alloc_commit does
 * it for the previous commit's frees; call it when the container goes idle
 * or closes, so freed space goes back within one commit interval. */
void alloc_recycle_flush(struct alloc *a, void (*punch)(void *arg, uint64_t n),
			 void *arg);
/* alloc_recycle_keep - free data cluster `n`, handed to punch by
 * alloc_recycle_flush or alloc_commit, was not punched after all (the
 * commit left it for later): it owns its host blocks and joins `recycle`
 * again, for the next alloc_commit or alloc_recycle_flush.  False, having
 * changed nothing, without memory for the list (the caller punches it). */
bool alloc_recycle_keep(struct alloc *a, uint64_t n);
/* alloc_mark_backed - a free cluster now owns host blocks (or not). */
void alloc_set_backed(struct alloc *a, uint64_t n, bool backed);
/* alloc_set_empty - free cluster `n` was just punched (the punch returned
 * 0): it reads as zeros until it is allocated again (free_empty). */
void alloc_set_empty(struct alloc *a, uint64_t n);
/* alloc_set_end - the file now ends at cluster `end` (>= every referenced
 * cluster + 1), and clusters [end - backed, end) own host blocks. */
int alloc_set_end(struct alloc *a, uint64_t end, uint64_t backed);
/* alloc_reindex - cluster n's free/not-free standing may have changed
 * (alloc_slab.c made or dropped its slab): put it in the index its state
 * says (invariant 7). */
void alloc_reindex(struct alloc *a, uint64_t n);
/* alloc_last_used - one past the highest referenced cluster (>= first). */
uint64_t alloc_last_used(const struct alloc *a);
/* alloc_invariants - O(count): the counters, the lists and the free-cluster
 * index agree with every cluster's refs and bits (heavy checks, tests). */
bool alloc_invariants(const struct alloc *a);

/* ---- map (map.c) -------------------------------------------------------- */

struct map_entry {
	uint64_t offset;
	uint32_t length;
	uint32_t crc;
	uint16_t kind;
};

/* ENCRYPTED: what a parent holds about a sealed child (map entry bytes
 * 24..59, object record root fields, table chain, superblock).  All zero
 * for HOLE and ZERO entries. */
struct map_seal {
	uint64_t birth; /* commit that wrote the stored bytes (AAD) */
	uint8_t nonce[12];
	uint8_t tag[16];
};

/*
 * The budget of the map cache: the bytes of decoded leaf entries (and
 * seals) that every container sharing it may hold together.  Owned by the
 * store (one for all its guests) or by a container opened on its own
 * (container_options.map_cache_bytes); a snapshot view shares its
 * parent's.  `limit` is fixed at creation; `used` is atomic (containers
 * add and subtract under their own map_lock only).  Clean leaves past the
 * limit are evicted; dirty ones are bounded by a forced commit (map.c,
 * "Cache").
 */
struct map_budget {
	uint64_t limit;
	atomic_uint_least64_t used;
};

/* The default budget of a store, or of a container opened without one. */
#define MAP_CACHE_DEFAULT_BYTES (64ull << 20)

struct map_node {
	uint64_t phys;	   /* committed location, 0 = never written */
	uint32_t crc;	   /* crc32c of the committed block (ENCRYPTED: of
			      its ciphertext) */
	uint64_t new_phys; /* during commit: where it is being written */
	uint32_t new_crc;
	struct map_seal seal, new_seal; /* ENCRYPTED: as crc, new_crc */
	uint16_t level;			/* 0 = leaf */
	bool dirty;			/* differs from the block at `phys` */
	uint64_t index;			/* first vcluster covered */
	uint64_t owner;			/* the object's id (block header) */
	/* leaf: fanout entries, or NULL for a clean leaf that is not loaded
	 * (a stub: phys, crc and seal say where its verified block is);
	 * written only under c->map_lock (map.c, THREAD MODEL) */
	struct map_entry *entries;
	struct map_seal *seals; /* ENCRYPTED leaf: fanout seals, else NULL */
	/* loaded clean leaf: its place in c->map_lru (c->map_lock) */
	struct map_node *lru_prev, *lru_next;
	bool in_lru;
	struct map_node *
		*children; /* interior: fanout children (NULL = hole) */
};

/* ---- objects ------------------------------------------------------------ */

struct object {
	uint64_t id;
	char *name; /* NULL for an orphan */
	uint64_t size;
	uint64_t generation;
	uint64_t stored_bytes;
	uint32_t mode, uid, gid, flags;
	struct timespec mtime, ctime; /* attr_lock */
	/* contents changed since commit: set under attr_lock, read by the
	 * commit (write lock) and by save-lock status queries that hold only
	 * the read lock, hence atomic */
	atomic_bool content_dirty;
	struct timespec changed_at; /* attr_lock: last content change, in
				       memory only (orders changes not yet
				       committed, for the save lock) */
	struct image_seal *seal;    /* NULL unless sealed as an image once */
	/* memory.save while it is written: the crc32c of each cluster's bytes
	 * as stored (data.c fp_note), so the seal's fingerprint needs no read
	 * back; valid where fp_known[vc]; dropped when the name changes */
	uint32_t *fp_crc;
	uint8_t *fp_known;
	uint64_t fp_cap;
	bool dirty; /* record changed since commit */
	unsigned height;
	struct map_node *root;
	/* the record's root while the map is not loaded: a snapshot view's
	 * object (snapshot.c), or any object of a lazily opened container
	 * until container_walk (frozen_height: the record's height, which
	 * lookups read meanwhile; the walk sets `height` and `root` holding
	 * load_mutex and no container lock, and clears these under the write
	 * lock when it publishes) */
	uint64_t frozen_root;
	uint32_t frozen_crc;
	struct map_seal frozen_seal;
	unsigned frozen_height;
	unsigned open_count, write_count;
	/* pending compressed cluster (compressed objects only) */
	bool pend_valid;
	uint64_t pend_vc;
	uint8_t *pend_buf;
	/* a compressed disk's clusters that a partial write stored RAW
	 * (staged), to be compressed again by container_compact; write lock
	 * (data.c, "Staged clusters") */
	uint64_t *staged;
	size_t staged_num, staged_cap;
	pthread_mutex_t attr_lock;
};

struct save_pin {
	uint64_t id;
	uint64_t generation;
	char *name; /* the file's name when pinned (owned) */
};

/*
 * The seal of one image object: the dependency recorded when its bytes were
 * complete.  Owned by the object (o->seal) and travels with it through
 * renames; only the object named memory.save enforces its pins.
 */
struct image_seal {
	enum save_state state; /* SAVED, RESUMING or INVALIDATED */
	enum save_why why;     /* INVALIDATED: why */
	struct timespec saved_time;
	struct timespec event_time; /* INVALIDATED: when */
	uint64_t event_object;	    /* INVALIDATED: the file that moved on */
	uint64_t config_generation;
	uint8_t fingerprint[FORMAT_FINGERPRINT_LEN];
	/* SAVED: files with an id at or past this, created after the seal,
	 * are adopted once complete (savelock.h rule 4); files that existed
	 * at the seal are pinned then or never (an image renamed away keeps
	 * its own seal and must never be adopted in passing) */
	uint64_t adopt_from;
	size_t pin_count, pin_cap;
	struct save_pin *pins;
	bool pins_pending; /* fresh: the next commit takes every pin */
};

/* A spent image: one that can never be resumed again. */
struct spent_image {
	uint8_t fingerprint[FORMAT_FINGERPRINT_LEN];
	uint64_t when; /* seconds */
};

struct dir_info {
	bool set;
	uint32_t mode, uid, gid;
	struct timespec mtime, ctime;
};

/*
 * A snapshot: the state of every object of the guest as of one commit,
 * kept in a frozen table chain (FORMAT.md section 4, "Snapshots").  Owned
 * by the container (c->snaps).  `view` is the read-only container over the
 * frozen table that readers borrow (container_snapshot_open); while
 * view_refs > 0 the snapshot cannot be deleted.
 */
struct snapshot {
	uint64_t id;
	uint64_t generation;
	struct timespec created;
	char *name;
	uint64_t table_offset;
	uint32_t table_crc;
	struct map_seal table_seal;
	uint64_t *blocks; /* the frozen chain's block offsets */
	size_t block_num;
	uint32_t flags; /* SNAPSHOT_FLAG_* */
	struct container *view;
	unsigned view_refs;
};

#define COMPRESSOR_POOL 4

/* ---- encryption (encrypt.c) ---------------------------------------------- */

struct crypto_key;
struct crypto_aead;

#define CRYPT_POOL 4
enum crypt_key_use { CRYPT_KEY_DATA = 0, CRYPT_KEY_META = 1 };

/* The keys and nonce state of an ENCRYPTED container (c->crypt). */
struct container_crypt {
	struct crypto_key *data_key, *meta_key, *mac_key; /* immutable */
	struct crypto_nonce nonce; /* c->lock, write side */
	pthread_mutex_t pool_lock; /* protects pool and pool_num */
	struct crypto_aead *pool[2][CRYPT_POOL];
	size_t pool_num[2];
};

struct container {
	struct io *io;
	pthread_rwlock_t lock;
	bool read_only;
	int poisoned; /* 0 or negative errno */
	container_event_fn event;
	void *event_arg;
	void (*commit_wanted)(void *arg); /* container_options' */
	uint64_t slack_bytes;		  /* container_options', resolved */
	int compress_level;

	/* geometry */
	unsigned cluster_shift;
	uint32_t cluster_size;
	/* metadata blocks (map nodes, table blocks): node_size bytes, at most
	 * a cluster; smaller only with FEATURE_INCOMPAT_SMALL_NODES */
	unsigned node_shift;
	uint32_t node_size;
	uint32_t fanout; /* entries per map node */
	uint64_t first_cluster;

	/* committed state */
	uint64_t generation;
	int active_slot; /* 0 = A, 1 = B: holds `generation` */
	uint8_t uuid[16];
	uint32_t flags; /* CONTAINER_FLAG_* */
	uint64_t next_object_id;
	uint64_t commit_time_ns; /* of `generation` */
	uint64_t *table_blocks;	 /* committed table block offsets */
	size_t table_block_num;
	uint64_t table_offset;
	uint32_t table_crc;
	uint64_t used_committed; /* used_clusters of `generation` */

	/* encryption (all zero/NULL for a plain container) */
	bool encrypted;		       /* FEATURE_INCOMPAT_ENCRYPTED */
	uint32_t entry_size;	       /* map entry bytes: 32 or 64 */
	uint8_t key_id[16];	       /* from the superblock */
	uint64_t nonce_limit;	       /* committed nonce_limit */
	struct map_seal table_seal;    /* of table block 0, committed */
	struct container_crypt *crypt; /* keys: NULL until unlocked */
	bool in_commit;		       /* container_commit_locked is running */
	bool commit_relax; /* this commit may sync and punch under the read
			      lock */
	/* how long one relaxed commit call punches freed clusters before it
	 * leaves the rest for the next call (0 = PUNCH_BUDGET_NS; tests set
	 * it small); container.c punch_apply */
	uint64_t punch_budget_ns;
	/* clusters allocated by encrypted writers sealing outside the lock
	 * (data.c write_sealed_clusters), not yet in any map: a commit
	 * leaves them out of used_clusters */
	uint64_t inflight_clusters;

	/* the open transaction */
	struct object **objects; /* sorted by id */
	size_t object_num, object_cap;
	/* images that can never be resumed again, newest first */
	struct spent_image spent[FORMAT_MAX_SPENT];
	size_t spent_num;
	/* legacy (version 1) save record, converted to a seal at load */
	struct legacy_save *legacy_save;
	bool table_seals; /* the newest table uses FEATURE_INCOMPAT_IMAGE_SEALS */
	bool table_snaps; /* the newest table may hold snapshot records */
	/* FEATURE_INCOMPAT_SHARED_EXTENTS: the live trees may map one RAW
	 * cluster more than once (set by object_copy_range, write lock; read
	 * by the loader and the superblock encoder; sticky) */
	bool shared_extents;
	struct dir_info dir; /* the guest as a directory */
	/* snapshots, oldest first (snapshot.c); snap_pending: the one the
	 * running commit writes a frozen chain for, or NULL */
	struct snapshot **snaps;
	size_t snap_num;
	struct snapshot *snap_pending;
	/* a snapshot view (read-only, shares io and keys with view_parent,
	 * holds no allocator references); view_lazy: maps not loaded */
	struct container *view_parent;
	bool view_lazy;
	/* Lazy open (container.c): maps_loaded is false from a lazy open
	 * until container_walk has walked every tree (the objects
	 * keep their roots in frozen_* meanwhile, and map_lookup reads
	 * straight from the committed blocks); set under the write lock,
	 * read under either side or, for the fast path, alone.  load_mutex
	 * makes one thread the loader; load_error is its failure (sticky:
	 * the container stays unloaded, read-write ones poisoned). */
	atomic_bool maps_loaded;
	/* object_read calls before the walk (no lock): past COLD_READS_MAX
	 * the reader walks (data.c) */
	atomic_uint_fast64_t cold_reads;
	bool maps_deferred; /* table_read: keep roots, load no map */
	pthread_mutex_t load_mutex;
	int load_error;
	bool txn_dirty;		/* some metadata changed */
	atomic_bool data_dirty; /* in-place writes need an fdatasync */
	/* object_write calls so far (no lock), and the count the last
	 * background compaction saw (write lock): a guest that wrote since is
	 * at work, and its staged clusters wait (data.c, "Staged clusters") */
	atomic_uint_fast64_t write_calls;
	uint64_t compact_seen_writes;
	uint64_t pack_cluster; /* current compressed-extent cluster, 0 none */
	uint32_t pack_used;    /* bytes used in it */
	struct alloc alloc;

	/* group commit */
	pthread_mutex_t commit_mutex;
	pthread_cond_t commit_cond;
	bool committing;
	uint64_t commits_started, commits_done;
	int last_commit_result;	 /* of commit number commits_done */
	uint64_t last_ok_commit; /* number of the last commit that succeeded */
	pthread_mutex_t sync_mutex;
	pthread_cond_t sync_cond;
	bool commit_syncing; /* a commit syncs or punches under the read lock */

	/* map cache (map.c, "Cache"): loaded clean leaves, most recently
	 * used first; map_lock protects the list, every leaf's entries and
	 * seals pointers and map_dirty_bytes */
	pthread_mutex_t map_lock;
	struct map_node *map_lru_head, *map_lru_tail;
	uint64_t map_dirty_bytes; /* loaded dirty leaves (write lock too) */
	/* a leaf that could not be read back was freed: its entries'
	 * references are lost until the next open (the container is
	 * poisoned; write lock) */
	bool map_refs_lost;
	/* one leaf read without caching it, for releases of whole unloaded
	 * leaves (write lock): allocated with the first tree, so freeing a
	 * tree never needs memory (map_scratch_ensure) */
	uint8_t *map_scratch_buf;
	/* the arrays of the last leaf evicted, kept for the next load
	 * (map_lock): a cache that thrashes maps no new pages per load */
	struct map_entry *map_spare_entries;
	struct map_seal *map_spare_seals;
	struct map_entry *map_scratch_entries;
	struct map_budget *map_budget; /* the store's, or &map_budget_own */
	struct map_budget map_budget_own;
	/* I/O accounting (container_io_stats): relaxed atomics, no lock */
	_Atomic uint64_t stat_meta_bytes;     /* metadata the commits wrote */
	_Atomic uint64_t stat_commits;	      /* superblocks written */
	_Atomic uint64_t stat_flushes;	      /* container_commit calls */
	_Atomic uint64_t stat_compressions;   /* full cluster compressions */
	_Atomic uint64_t stat_compress_skips; /* RAW without trying (sample) */

	/* compressors */
	pthread_mutex_t cz_lock;
	struct compressor *cz_pool[COMPRESSOR_POOL];
	size_t cz_free;
};

/* Diagnostics filled by the loader, used by check to explain an error. */
struct load_diag {
	char message[160];
	bool superblock_valid[2];
	/* a plain container refused by an encrypted store (-EUCLEAN, but
	 * not damaged: CONTAINER_REFUSAL_UNAUTHENTICATED) */
	bool unauthenticated;
	/* Set by check before a read-only load: an allocation-accounting
	 * mismatch (superblock used_clusters vs clusters the tree references)
	 * is recorded below instead of failing the load, so check can report
	 * the counts and go on verifying everything else.  Open never sets
	 * it: a read-write container with wrong accounting is refused. */
	bool tolerate_used_mismatch;
	bool used_mismatch;
	uint64_t used_recorded;	  /* the superblock's used_clusters */
	uint64_t used_referenced; /* clusters the tree references */
};

/* encrypt.c */
int crypt_setup(struct container *c, const struct crypto_key *master);
void crypt_free(struct container *c);
/* crypt_nonce - a fresh nonce (write lock held; may make a superblock-only
 * reservation commit). */
int crypt_nonce(struct container *c, uint8_t nonce[CRYPTO_NONCE_LEN]);
/* crypt_seal_to - seal `in` into `out` under seal->nonce and seal->birth
 * (taken with crypt_nonce), setting seal->tag.  No container lock needed. */
int crypt_seal_to(struct container *c, uint16_t kind, uint16_t level,
		  uint64_t object_id, uint64_t index, struct map_seal *seal,
		  uint8_t *out, const uint8_t *in, size_t len);
int crypt_seal(struct container *c, uint16_t kind, uint16_t level,
	       uint64_t object_id, uint64_t index, uint64_t birth, uint8_t *buf,
	       size_t len, struct map_seal *out_seal);
int crypt_open(struct container *c, uint16_t kind, uint16_t level,
	       uint64_t object_id, uint64_t index, const struct map_seal *seal,
	       uint8_t *buf, size_t len);
int crypt_superblock_mac(struct container *c, uint8_t *sb);
int crypt_superblock_verify(struct container *c, const uint8_t *sb);
bool map_seal_is_zero(const struct map_seal *s);

/* snapshot.c */
/* snapshot_load_refs - at load, after the live tree: every snapshot's
 * frozen chain and the nodes and clusters its trees add (each node read
 * once, however many snapshots share it). */
int snapshot_load_refs(struct container *c, struct load_diag *diag,
		       uint64_t file_size);
/* snapshot_write_pending - commit step 3: the frozen chain of
 * c->snap_pending, after the map nodes were written. */
int snapshot_write_pending(struct container *c, uint64_t generation,
			   uint64_t **meta_new, size_t *meta_new_num,
			   size_t *meta_new_cap);
/* snapshot_commit_done - commit step 6: the snapshot just committed holds
 * the live tree's nodes. */
int snapshot_commit_done(struct container *c);
/* snapshot_name_valid - 1..64 bytes of [A-Za-z0-9._-], no leading dot. */
bool snapshot_name_valid(const char *name);
/* snapshot_free - free one (and its view). */
void snapshot_free(struct snapshot *s);
/* snapshot_decode - a snapshot record of the live table (table.c). */
int snapshot_decode(struct container *c, const uint8_t *p, uint32_t len);
/* snapshot_raw_owned - RAW cluster `n` may be rewritten in place: one entry
 * of the live tree alone maps it, and did in the last committed state too
 * (CLUSTER_UNSHARED) (read lock). */
static inline bool snapshot_raw_owned(const struct container *c, uint64_t n)
{
	return c->alloc.refs[n] == 1 && !(c->alloc.bits[n] & CLUSTER_UNSHARED);
}

/* container.c */
int container_reserve_nonces(struct container *c);
int container_load(struct io *io, const struct container_options *opts,
		   struct load_diag *diag, struct container **out_container);
int container_commit_locked(struct container *c);
/* container_slack_settle - commit if the allocator's slack is over (alloc.c
 * invariant 11); called by writers with no container lock held. */
void container_slack_settle(struct container *c);
/* container_retire_held - write lock held: a superblock-only commit of the
 * committed tree into the other slot, after which the raw data the last
 * commit freed (held) is free; for an idle container, and for a write or
 * commit that met ENOSPC while space was held.  Failure poisons. */
int container_retire_held(struct container *c);
/* container_wrlock - take c->lock for writing, once no commit is syncing
 * under the read lock (see Locking above), and once the maps of a lazily
 * opened container are loaded (container_walk; a failed load has
 * poisoned a read-write container, which every writer checks).  Unlock as
 * usual. */
void container_wrlock(struct container *c);
/* container_wrlock_unwalked - container_wrlock without the walk: for
 * changes of memory-only state that can neither allocate nor commit
 * unless something walked already (a file's open counts: a commit at its
 * release needs a write before it, an orphan an unlink). */
void container_wrlock_unwalked(struct container *c);
/* container_rdlock_maps - container_walk, then c->lock for
 * reading (held only on success): for readers that walk trees or read the
 * allocator, which the lazy lookup does not serve. */
int container_rdlock_maps(struct container *c);
/* container_view_new - an empty read-only container sharing `parent`'s
 * io, geometry and keys (a snapshot view). */
struct container *container_view_new(struct container *parent);
/* container_close_detached - free without committing or closing the io. */
void container_close_detached(struct container *c);
void container_emit(struct container *c, enum container_event_type type,
		    const char *object_name, const char *detail, int error);
int compressor_take(struct container *c, struct compressor **out_cz);
void compressor_give(struct container *c, struct compressor *cz);
void container_touch(struct object *o, bool content);
void container_dir_touch(struct container *c);

/* object.c */
struct object *object_find(struct container *c, uint64_t id);
struct object *object_find_name(struct container *c, const char *name);
int object_insert(struct container *c, struct object *o);
void object_destroy(struct container *c, struct object *o);
int object_new(struct container *c, uint64_t id, const char *name,
	       struct object **out_obj);
int object_unlink_locked(struct container *c, struct object *o);
int object_rename_locked(struct container *c, struct object *o, const char *to);
int object_flush_pending(struct container *c, struct object *o);
bool object_is_compressed(const struct container *c, const struct object *o);

/* data.c: object_fingerprint_locked - the content fingerprint of `o`
 * (write lock held): SHA-256 over its size and the crc32c of every cluster's
 * bytes, the same for a copy of it whatever its storage. */
int object_fingerprint_locked(struct container *c, struct object *o,
			      uint8_t out[FORMAT_FINGERPRINT_LEN]);
/* object_fp_drop - forget the per-cluster crcs kept for the fingerprint
 * (the next fingerprint reads the object back). */
void object_fp_drop(struct object *o);

/* object_stage_raw - put every RAW cluster of a compressed disk on its
 * staged list (write lock held): a rollback brings back clusters a
 * snapshot took while they were staged (data.c, "Staged clusters"). */
void object_stage_raw(struct container *c, struct object *o);

/* data.c, for share.c (write lock held): write_begin plus the pending
 * compressed cluster stored; the map cache settled at the end of a change; the contents of virtual cluster `vc` ignoring
 * pend_buf; a write of `len` bytes at `offset` (save transition made). */
int data_modify_begin(struct container *c, uint64_t id,
		      struct object **out_obj);
void data_settle_locked(struct container *c);
int data_read_cluster(struct container *c, struct object *o, uint64_t vc,
		      uint8_t *out);
int data_write_locked(struct container *c, struct object *o, const uint8_t *src,
		      size_t len, uint64_t offset);

/* savelock.c (savelock.h has the rules); write lock held unless said */
struct legacy_save {
	enum save_state state;
	uint64_t image_id;
	struct timespec saved_time, event_time;
	uint64_t config_generation, event_object;
	size_t pin_count;
	struct {
		uint64_t id, generation;
	} pins[FORMAT_MAX_PINS];
};
/* save_before_modify - commit the transition a change of `o`'s contents
 * needs (invalidate, retire, unseal) before the change is made. */
int save_before_modify(struct container *c, struct object *o);
/* save_needs_transition - would changing `o` need save_before_modify?
 * (read lock is enough) */
bool save_needs_transition(const struct container *c, const struct object *o);
/* save_take_pins - commit step 1, after the generations are assigned: a
 * fresh seal of memory.save takes its pins; a SAVED image adopts files that
 * arrived complete since.  *out_changed: anything changed.  -ENOMEM
 * leaves the pins as they were. */
int save_take_pins(struct container *c, bool *out_changed);
/* save_is_pinned - `id` is pinned by memory.save's SAVED/RESUMING seal
 * (read lock is enough). */
bool save_is_pinned(const struct container *c, uint64_t id);
/* save_arrive - `o` was just renamed onto memory.save: judge it (its own
 * seal, or a fresh one); never fails on a verdict, only on I/O. */
int save_arrive(struct container *c, struct object *o);
/* save_object_gone - `o` (maybe an image) is being deleted or loses its
 * name: its fingerprint is remembered as spent. */
int save_object_gone(struct container *c, struct object *o);
/* save_taint_if_image - a write to object `id` failed (takes the write
 * lock itself). */
void save_taint_if_image(struct container *c, uint64_t id);
/* save_recover_incomplete - at a read-write open: memory.save whose writer
 * never closed it becomes memory.save.incomplete, tainted and spent. */
int save_recover_incomplete(struct container *c, bool *out_changed);
/* save_convert_legacy - turn a version-1 save record into a seal (load). */
int save_convert_legacy(struct container *c);
/* save_uses_seals - the table needs FEATURE_INCOMPAT_IMAGE_SEALS. */
bool save_uses_seals(const struct container *c);
/* save_seal_free - free a seal (NULL is fine). */
void save_seal_free(struct image_seal *seal);
/* save_seal_set_time - the image's mtime was set (cp -a, rsync -a): a
 * SAVED seal's saved time follows it. */
void save_seal_set_time(struct object *o, struct timespec mtime);

/* map.c */
int map_lookup(struct container *c, struct object *o, uint64_t vc,
	       struct map_entry *out_entry);
/* map_lookup_seal - map_lookup plus the entry's seal (zero when plain). */
int map_lookup_seal(struct container *c, struct object *o, uint64_t vc,
		    struct map_entry *out_entry, struct map_seal *out_seal);
int map_set(struct container *c, struct object *o, uint64_t vc,
	    const struct map_entry *entry, struct map_entry *out_old);
/* map_set_sealed - map_set with the new entry's seal (NULL: zero). */
int map_set_sealed(struct container *c, struct object *o, uint64_t vc,
		   const struct map_entry *entry, const struct map_seal *seal,
		   struct map_entry *out_old);
int map_truncate(struct container *c, struct object *o, uint64_t vclusters);
int map_find(struct container *c, struct object *o, uint64_t vc, bool data,
	     uint64_t *out_vc);
void map_free_tree(struct container *c, struct object *o, bool unref);
int map_load(struct container *c, struct object *o, uint64_t root,
	     uint32_t root_crc, const struct map_seal *root_seal,
	     unsigned height, struct load_diag *diag);
/* map_node_read - read and verify one committed node (its parent's crc and
 * seal) into `entries`/`seals` (fanout each; seals NULL when plain). */
int map_node_read(struct container *c, uint64_t owner, uint64_t phys,
		  uint32_t crc, const struct map_seal *seal, uint16_t level,
		  uint64_t index, uint8_t *buf, struct map_entry *entries,
		  struct map_seal *seals);
/* map_leaf_copy - a copy of leaf `n`'s entries (and seals, when `seals`
 * is not NULL and the container is encrypted) into the caller's arrays of
 * fanout each, from the cache or read and verified from disk (without
 * caching it).  For walks over whole trees (check, snapshots, invariants):
 * safe under the container lock in either mode, holds no pointer into the
 * cache.  `c` is the container whose tree holds `n`. */
int map_leaf_copy(struct container *c, const struct map_node *n,
		  struct map_entry *entries, struct map_seal *seals);
/* map_cache_init - the container's cache on `budget` (NULL: its own, of
 * `limit` bytes, 0 = MAP_CACHE_DEFAULT_BYTES).  map_cache_cleanup after
 * every tree is freed. */
void map_cache_init(struct container *c, struct map_budget *budget,
		    uint64_t limit);
void map_cache_cleanup(struct container *c);
/* map_cache_trim - evict clean loaded leaves, least recently used first,
 * until the budget holds (or none is left).  Write lock held, or the read
 * lock from a path that holds no pointer into a leaf (map.c, THREAD
 * MODEL). */
void map_cache_trim(struct container *c);
/* map_cache_dirty_over - the dirty leaves of `c` exceed what the budget
 * allows (write lock held): the caller should commit, which makes them
 * clean and so evictable. */
bool map_cache_dirty_over(struct container *c);
/* map_scratch_ensure - the scratch leaf of `c` exists (write lock held;
 * before a change that frees trees: snapshot rollback). */
int map_scratch_ensure(struct container *c);
/* map_unload_tree - evict every clean loaded leaf of `o` (before the tree
 * moves to another container: snapshot rollback). */
void map_unload_tree(struct container *c, struct object *o);
int map_write_dirty(struct container *c, struct object *o, uint64_t **meta_new,
		    size_t *meta_new_num, size_t *meta_new_cap);
void map_commit_done(struct container *c, struct object *o);
void map_entry_release(struct container *c, struct object *o,
		       const struct map_entry *e);
int u64_push(uint64_t **arr, size_t *num, size_t *cap, uint64_t v);

/* table.c */
int superblock_encode(struct container *c, uint8_t *sb, uint64_t generation,
		      uint64_t used, uint64_t now_ns, uint64_t nonce_limit);
/* superblock_intact - magic and crc hold: the slot is a candidate. */
bool superblock_intact(const uint8_t *sb);
int superblock_decode(const uint8_t *sb, struct container *c,
		      uint64_t *out_used, char *why, size_t why_len);
int table_write(struct container *c, uint64_t generation, uint64_t **meta_new,
		size_t *meta_new_num, size_t *meta_new_cap,
		uint64_t **out_blocks, size_t *out_block_num,
		uint64_t *out_first, uint32_t *out_crc,
		struct map_seal *out_seal);
int table_read(struct container *c, struct load_diag *diag, uint64_t file_size);
/* table_write_frozen - a snapshot's frozen chain (owner = snapshot id):
 * the guest, object and seal records of the state being committed. */
int table_write_frozen(struct container *c, uint64_t generation,
		       uint64_t snap_id, uint64_t **meta_new,
		       size_t *meta_new_num, size_t *meta_new_cap,
		       uint64_t **out_blocks, size_t *out_block_num,
		       uint64_t *out_first, uint32_t *out_crc,
		       struct map_seal *out_seal, uint32_t *out_flags);
/* table_read_chain - read a chain (a view's frozen table: c->view_parent
 * set; no allocator references).  `owner` = the snapshot id. */
int table_read_chain(struct container *c, struct load_diag *diag,
		     uint64_t file_size, uint64_t owner, uint64_t offset,
		     uint32_t crc, const struct map_seal *seal,
		     size_t block_num, uint64_t *out_blocks);
void block_header_finish(uint8_t *block, uint32_t size);

static inline uint64_t cluster_of(const struct container *c, uint64_t off)
{
	return off >> c->cluster_shift;
}

/* The metadata slot of the block at byte offset `off` (alloc_slab.c). */
static inline uint64_t slot_of(const struct container *c, uint64_t off)
{
	return off >> c->node_shift;
}

/* Whether `off` can hold a metadata block of a file of `file_size` bytes:
 * node-aligned, past the header area, inside the file. */
static inline bool node_in_bounds(const struct container *c, uint64_t off,
				  uint64_t file_size)
{
	return !(off & (c->node_size - 1)) &&
	       cluster_of(c, off) >= c->first_cluster &&
	       off + c->node_size > off && off + c->node_size <= file_size;
}

static inline uint64_t ts_to_ns(struct timespec t)
{
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

struct timespec clock_now(void);

#endif /* HANGAR_INTERNAL_H */
