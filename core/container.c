/*
 * container.c -- open, create, commit and close a guest container.
 *
 * Design notes: the commit protocol (core/FORMAT.md has the crash argument).
 *
 *   1. Pending compressed clusters are stored; every object whose contents
 *      changed gets generation G+1; a pending seal takes its pins now, so the
 *      image and the disk generations it records are in the same commit.
 *   2. Every dirty map node is written, children first, to a cluster that is
 *      free in the committed state G and not yet used by this transaction.
 *   3. The object table is written whole to fresh clusters.
 *   4. fdatasync: the new tree and all data written since G are durable.
 *   5. The superblock for G+1 goes to the slot that does NOT hold G, then
 *      fdatasync.  G+1 is committed when this sync returns.
 *   6. Only now: the old table and the clusters freed during the transaction
 *      become reusable (alloc_commit); freed data clusters are punched one
 *      commit later if nobody reused them (alloc.c invariant 6).
 *
 * A crash before step 5's write reaches the disk leaves slot(G) as the
 * newest valid superblock, and nothing G references was overwritten (step 2
 * and 3 only used clusters free in G; in-place data rewrites are the one
 * documented exception).  A crash during step 5 tears at most one 512-byte
 * sector: the new slot is either old, new, or fails its crc, and open picks
 * the newest valid one.  A failure in steps 2-3 releases the new clusters and
 * leaves the transaction open for a retry; a failed fdatasync or superblock
 * write poisons the container (docs/style.md: no later "successful" flush).
 *
 * Group commit: container_commit() callers queue on commit_mutex; one leader
 * runs container_commit_locked() for everyone whose writes completed before
 * that commit started.
 *
 * THREAD MODEL: see internal.h.  The commit runs under the container write
 * lock, except that container_commit() syncs (steps 4-5) and punches the
 * data clusters it freed (punch_apply, at most PUNCH_BUDGET_NS per call)
 * under the read lock, other writers held off (commit_relax_begin); the
 * group-commit counters under commit_mutex.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "compress.h"
#include "internal.h"
#include "io.h"
#include "hangar/savelock.h"

#ifdef HANGAR_HEAVY_CHECKS
#define HEAVY_ASSERT(x) assert(x)
#else
#define HEAVY_ASSERT(x) ((void)0)
#endif

struct timespec clock_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return t;
}

void container_emit(struct container *c, enum container_event_type type,
		    const char *object_name, const char *detail, int error)
{
	if (!c->event)
		return;
	struct container_event ev = {.type = type,
				     .object_name = object_name,
				     .detail = detail,
				     .error = error};
	c->event(c->event_arg, &ev);
}

static int container_poison(struct container *c, int err)
{
	if (!c->poisoned) {
		/* -ENOLCK: io_file.c's lease check (docs/multihost.md) */
		c->poisoned = err == -ENOSPC || err == -ENOLCK ? -EIO : err;
		container_emit(
			c, CONTAINER_EVENT_IO_ERROR, NULL,
			err == -ENOLCK
				? "lost the lease: the container lock no "
				  "longer holds after a sync (evicted from "
				  "the cluster?); nothing of this commit "
				  "is acknowledged, container poisoned "
				  "until reopened"
				: "backing sync failed; container "
				  "poisoned until reopened",
			err);
	}
	return c->poisoned;
}

/*
 * The generation bound (FORMAT.md section 2): a superblock at 2^63 or above
 * reads as corrupt, so no commit may write one.  After a commit that left
 * no room for another (or at an open that finds none), the container turns
 * read-only: later writes get -EROFS before anything is accepted, and the
 * committed state stays readable.  Called with the write lock held (or
 * during load).
 */
static bool generation_room(const struct container *c)
{
	return c->generation + 1 < FORMAT_MAX_GENERATION;
}

static void generation_bound_check(struct container *c)
{
	if (generation_room(c) || c->read_only)
		return;
	c->read_only = true;
	container_emit(c, CONTAINER_EVENT_GENERATIONS_EXHAUSTED, NULL,
		       "commit generation counter exhausted (2^63 - 1 "
		       "reached); container is read-only from now on",
		       -EROFS);
}

/* A commit that must write a new generation but has none left: only
 * reachable if generation_bound_check was skipped; what the transaction
 * holds is lost, so the container is poisoned. */
static int generation_refuse(struct container *c)
{
	if (!c->poisoned) {
		c->poisoned = -EROFS;
		container_emit(c, CONTAINER_EVENT_GENERATIONS_EXHAUSTED, NULL,
			       "commit refused: generation counter exhausted; "
			       "uncommitted changes are lost",
			       -EROFS);
	}
	return c->poisoned;
}

int compressor_take(struct container *c, struct compressor **out_cz)
{
	int ret = 0;
	pthread_mutex_lock(&c->cz_lock);
	if (c->cz_free > 0)
		*out_cz = c->cz_pool[--c->cz_free];
	else
		ret = compressor_new(c->compress_level, out_cz);
	pthread_mutex_unlock(&c->cz_lock);
	return ret;
}

void compressor_give(struct container *c, struct compressor *cz)
{
	pthread_mutex_lock(&c->cz_lock);
	if (c->cz_free < COMPRESSOR_POOL) {
		c->cz_pool[c->cz_free++] = cz;
		cz = NULL;
	}
	pthread_mutex_unlock(&c->cz_lock);
	compressor_free(cz);
}

static struct container *container_alloc(const struct container_options *opts)
{
	struct container *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	/* Writers first: with the default (reader-preferring) kind, a steady
	 * stream of readers starved every commit (a truncate plus commit took
	 * up to 25 s under two reader threads and never finished under four).
	 * No path takes the read lock while already holding it, which this
	 * kind would deadlock on (internal.h, Locking). */
	pthread_rwlockattr_t lock_attr;
	pthread_rwlockattr_init(&lock_attr);
	pthread_rwlockattr_setkind_np(
		&lock_attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&c->lock, &lock_attr);
	pthread_rwlockattr_destroy(&lock_attr);
	pthread_mutex_init(&c->commit_mutex, NULL);
	pthread_cond_init(&c->commit_cond, NULL);
	pthread_mutex_init(&c->sync_mutex, NULL);
	pthread_cond_init(&c->sync_cond, NULL);
	pthread_mutex_init(&c->cz_lock, NULL);
	pthread_mutex_init(&c->load_mutex, NULL);
	atomic_init(&c->data_dirty, false);
	atomic_init(&c->maps_loaded, true); /* until a lazy open says not */
	c->read_only = opts && opts->read_only;
	c->event = opts ? opts->event : NULL;
	c->event_arg = opts ? opts->event_arg : NULL;
	c->commit_wanted = opts ? opts->commit_wanted : NULL;
	c->slack_bytes = opts && opts->slack_bytes
				 ? opts->slack_bytes
				 : CONTAINER_SLACK_DEFAULT_BYTES;
	c->compress_level = opts && opts->compress_level
				    ? opts->compress_level
				    : CONTAINER_COMPRESS_LEVEL;
	c->entry_size = MAP_ENTRY_SIZE;
	map_cache_init(c, opts ? opts->map_budget : NULL,
		       opts ? opts->map_cache_bytes : 0);
	return c;
}

struct container *container_view_new(struct container *parent)
{
	struct container *v = container_alloc(NULL);
	if (!v)
		return NULL;
	v->view_parent = parent;
	v->io = parent->io;
	v->read_only = true;
	v->compress_level = parent->compress_level;
	v->cluster_shift = parent->cluster_shift;
	v->cluster_size = parent->cluster_size;
	v->node_shift = parent->node_shift;
	v->node_size = parent->node_size;
	v->fanout = parent->fanout;
	v->first_cluster = parent->first_cluster;
	v->generation = parent->generation;
	v->flags = parent->flags;
	v->next_object_id = parent->next_object_id;
	v->commit_time_ns = parent->commit_time_ns;
	memcpy(v->uuid, parent->uuid, sizeof(v->uuid));
	v->encrypted = parent->encrypted;
	v->entry_size = parent->entry_size;
	memcpy(v->key_id, parent->key_id, sizeof(v->key_id));
	v->crypt = parent->crypt; /* borrowed: cleared before the free */
	v->map_budget = parent->map_budget; /* the parent outlives its views */
	return v;
}

static void container_free(struct container *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->snap_num; i++)
		if (c->snaps[i] != c->snap_pending)
			snapshot_free(c->snaps[i]);
	snapshot_free(c->snap_pending);
	free(c->snaps);
	for (size_t i = 0; i < c->object_num; i++) {
		map_free_tree(c, c->objects[i], false);
		object_destroy(c, c->objects[i]);
	}
	free(c->objects);
	free(c->table_blocks);
	free(c->legacy_save);
	alloc_cleanup(&c->alloc);
	for (size_t i = 0; i < c->cz_free; i++)
		compressor_free(c->cz_pool[i]);
	crypt_free(c);
	pthread_rwlock_destroy(&c->lock);
	pthread_mutex_destroy(&c->commit_mutex);
	pthread_mutex_destroy(&c->sync_mutex);
	pthread_cond_destroy(&c->sync_cond);
	pthread_cond_destroy(&c->commit_cond);
	pthread_mutex_destroy(&c->cz_lock);
	pthread_mutex_destroy(&c->load_mutex);
	map_cache_cleanup(c);
	free(c);
}

#ifdef HANGAR_HEAVY_CHECKS
static void invariants_node(struct container *c, const struct map_node *n,
			    uint32_t *refs, uint64_t count, bool *ok,
			    bool *unchecked)
{
	if (!n)
		return;
	if (!n->dirty && n->phys) {
		uint64_t cl = cluster_of(c, n->phys);
		if (cl < count)
			refs[cl]++;
		else
			*ok = false;
	}
	struct map_entry *entries = NULL;
	if (n->level == 0) {
		/* a stub is read back (and verified) from its block */
		entries = malloc(c->fanout * sizeof(*entries));
		if (!entries || map_leaf_copy(c, n, entries, NULL) != 0) {
			/* no memory or an I/O error (fault injection):
			 * this leaf cannot be checked, so nothing can */
			*unchecked = true;
			free(entries);
			return;
		}
	}
	for (uint32_t i = 0; i < c->fanout; i++) {
		if (n->level > 0) {
			invariants_node(c, n->children[i], refs, count, ok,
					unchecked);
			continue;
		}
		const struct map_entry *e = &entries[i];
		if (e->kind != MAP_KIND_RAW && e->kind != MAP_KIND_COMPRESSED)
			continue;
		uint64_t cl = cluster_of(c, e->offset);
		if (cl < count)
			refs[cl]++;
		else
			*ok = false;
	}
	free(entries);
}

/*
 * container_invariants - debug check: the allocator's reference counts are
 * exactly what the in-memory state holds (map.c invariants 2 and 3, the
 * committed table blocks, the pack cluster's own reference), and the
 * allocator is self-consistent.  O(clusters): called at close and after
 * load, in HEAVY_ASSERT() only: development and test builds, not what is
 * shipped (CMakeLists.txt, HANGAR_HEAVY_CHECKS).
 */
static bool container_invariants(struct container *c)
{
	const struct alloc *a = &c->alloc;
	bool ok = alloc_invariants(a);
	uint32_t *refs = calloc(a->count ? a->count : 1, sizeof(*refs));
	if (!refs)
		return true; /* cannot check without memory */
	bool unchecked = false;
	for (size_t i = 0; i < c->object_num; i++)
		invariants_node(c, c->objects[i]->root, refs, a->count, &ok,
				&unchecked);
	if (unchecked || c->map_refs_lost) {
		free(refs);
		return true; /* a leaf could not be read back */
	}
	for (size_t i = 0; i < c->table_block_num && c->table_blocks; i++) {
		uint64_t cl = cluster_of(c, c->table_blocks[i]);
		if (cl < a->count)
			refs[cl]++;
		else
			ok = false;
	}
	if (c->pack_cluster && c->pack_cluster < a->count)
		refs[c->pack_cluster]++;
	/* Snapshots add references the in-memory state does not show (their
	 * nodes live on disk only): then the live part must be covered, and a
	 * node snapshots hold carries their one reference.  The exact count
	 * is checked where it is rebuilt from disk: at every load, against
	 * the superblock's used_clusters. */
	for (uint64_t n = 0; ok && n < a->count; n++) {
		uint32_t snap = 0;
		const bool slots =
			c->snap_num > 0 && (a->bits[n] & CLUSTER_META);
		for (uint64_t j = 0; slots && j < (1ull << a->slot_shift); j++)
			if (alloc_node_sref(a, (n << a->slot_shift) | j) > 0)
				snap++;
		if (c->snap_num == 0 && refs[n] != a->refs[n])
			ok = false;
		if (c->snap_num > 0 && refs[n] + snap > a->refs[n])
			ok = false;
	}
	free(refs);
	return ok;
}

#endif /* HANGAR_HEAVY_CHECKS */

/* The commit's used_clusters: `*used` less the clusters that only the
 * committed table's `old_num` blocks hold (they leave with this commit). */
static int old_table_clusters(struct container *c, size_t old_num,
			      uint64_t *used)
{
	if (old_num == 0 || !c->table_blocks)
		return 0;
	uint64_t *slots = malloc(old_num * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < old_num; i++)
		slots[i] = slot_of(c, c->table_blocks[i]);
	*used -= alloc_nodes_free_clusters(&c->alloc, slots, old_num);
	free(slots);
	return 0;
}

void container_wrlock(struct container *c)
{
	/* a failure poisons a read-write container (container_walk),
	 * and every writer checks that under the lock */
	(void)container_walk(c);
	container_wrlock_unwalked(c);
}

void container_wrlock_unwalked(struct container *c)
{
	for (;;) {
		pthread_rwlock_wrlock(&c->lock);
		pthread_mutex_lock(&c->sync_mutex);
		bool syncing = c->commit_syncing;
		pthread_mutex_unlock(&c->sync_mutex);
		if (!syncing)
			return;
		pthread_rwlock_unlock(&c->lock);
		pthread_mutex_lock(&c->sync_mutex);
		while (c->commit_syncing)
			pthread_cond_wait(&c->sync_cond, &c->sync_mutex);
		pthread_mutex_unlock(&c->sync_mutex);
	}
}

/*
 * The syncs of a commit need no write lock: they change nothing in memory,
 * and what the tree and table of this commit are is settled.  Reads and
 * in-place writes of RAW clusters (read lock) may run meanwhile -- an
 * in-place write is the documented exception to copy-on-write, and one
 * that lands during the sync is durable at this commit or the next (it set
 * data_dirty again).  Every other writer waits in container_wrlock, so the
 * tree stays as written until the bookkeeping of step 6.  Only
 * container_commit() relaxes (c->commit_relax); a commit made inside
 * another operation keeps the write lock it was called with.
 */
static void commit_relax_begin(struct container *c)
{
	if (!c->commit_relax)
		return;
	pthread_mutex_lock(&c->sync_mutex);
	c->commit_syncing = true;
	pthread_mutex_unlock(&c->sync_mutex);
	pthread_rwlock_unlock(&c->lock);
	pthread_rwlock_rdlock(&c->lock);
}

static void commit_relax_end(struct container *c)
{
	if (!c->commit_relax)
		return;
	pthread_rwlock_unlock(&c->lock);
	pthread_rwlock_wrlock(&c->lock);
	pthread_mutex_lock(&c->sync_mutex);
	c->commit_syncing = false;
	pthread_cond_broadcast(&c->sync_cond);
	pthread_mutex_unlock(&c->sync_mutex);
}

/*
 * Freed data clusters go back to the host (punched) in runs, outside the
 * write lock where the commit may relax.  The allocator hands freed
 * clusters to punch_freed in ascending order; it gathers runs of
 * consecutive ones (a sequential rewrite frees one long run: one fallocate
 * instead of one per cluster, 256 per MiB at 4 KiB clusters).  punch_apply
 * then punches them -- under the read lock with other writers held off
 * (commit_relax_begin) when called from container_commit, for at most
 * PUNCH_BUDGET_NS per call, since a commit after a burst of random writes
 * gives back a cluster per write.  That is safe: the clusters are free,
 * and free clusters are only handed out under the write lock, which
 * nobody gets until commit_relax_end; readers and in-place writers touch
 * mapped clusters only.  The allocator learns which punches succeeded
 * (alloc_set_empty) under the write lock again; what the budget left goes
 * back to its recycle list (alloc_recycle_keep).  Without memory for the
 * list, a run is punched at once, under the lock.
 */
struct punch_extent {
	uint64_t first, count;
	bool punched;
};

struct punch_run {
	struct container *c;
	uint64_t first, count; /* the run being gathered */
	struct punch_extent *list;
	size_t num, cap;
};

static bool punch_extent(struct container *c, uint64_t first, uint64_t count)
{
	/* Returning the space is best effort: a filesystem without punch
	 * support keeps the blocks, and the cluster is reused later anyway.
	 * Punched, it reads as zeros: a partial write may fill only its own
	 * pages of it (alloc.c invariant 8, data.c store_raw_sparse). */
	return io_fallocate(c->io, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			    first << c->cluster_shift,
			    count << c->cluster_shift) == 0;
}

static void punch_noted(struct container *c, uint64_t first, uint64_t count)
{
	for (uint64_t i = 0; i < count; i++)
		alloc_set_empty(&c->alloc, first + i);
}

/* The gathered run joins the list (or, without memory, is punched now). */
static void punch_run_end(struct punch_run *r)
{
	if (r->count == 0)
		return;
	if (r->num == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct punch_extent *l = realloc(r->list, cap * sizeof(*l));
		if (!l) {
			if (punch_extent(r->c, r->first, r->count))
				punch_noted(r->c, r->first, r->count);
			r->count = 0;
			return;
		}
		r->list = l;
		r->cap = cap;
	}
	r->list[r->num++] =
		(struct punch_extent){.first = r->first, .count = r->count};
	r->count = 0;
}

static void punch_freed(void *arg, uint64_t n)
{
	struct punch_run *r = arg;
	if (r->count > 0 && n == r->first + r->count) {
		r->count++;
		return;
	}
	punch_run_end(r);
	r->first = n;
	r->count = 1;
}

/* How long one relaxed commit call punches before it leaves the rest for
 * the next call (the committer's next tick): on a filesystem mounted with
 * `discard` every punch is a synchronous discard (about 0.08 ms each on
 * these machines: after 10 s of 4 KiB random writes to an 8 GiB encrypted
 * disk, punching what they freed in one go held the next open of the disk
 * for 14 s), and writers wait for the commit meanwhile. */
#define PUNCH_BUDGET_NS (100ull * 1000 * 1000)

static uint64_t monotonic_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return ts_to_ns(t);
}

/* A run left for later: back to the recycle list, cluster by cluster
 * (punched now, under the lock, without memory for the list). */
static void punch_later(struct container *c, const struct punch_extent *x)
{
	for (uint64_t i = 0; i < x->count; i++)
		if (!alloc_recycle_keep(&c->alloc, x->first + i) &&
		    punch_extent(c, x->first + i, 1))
			punch_noted(c, x->first + i, 1);
}

static void punch_apply(struct punch_run *r)
{
	struct container *c = r->c;
	punch_run_end(r);
	if (r->num > 0) {
		/* only a commit that relaxes (container_commit: a flush or
		 * the committer's tick) stops early; close and the rest
		 * punch everything */
		const bool budget = c->commit_relax;
		const uint64_t limit = c->punch_budget_ns ? c->punch_budget_ns
							  : PUNCH_BUDGET_NS;
		const uint64_t start = monotonic_ns();
		size_t done = 0;
		commit_relax_begin(c);
		while (done < r->num && (!budget || done == 0 ||
					 monotonic_ns() - start < limit)) {
			r->list[done].punched = punch_extent(
				c, r->list[done].first, r->list[done].count);
			done++;
		}
		commit_relax_end(c);
		for (size_t i = 0; i < done; i++)
			if (r->list[i].punched)
				punch_noted(c, r->list[i].first,
					    r->list[i].count);
		for (size_t i = done; i < r->num; i++)
			punch_later(c, &r->list[i]);
	}
	free(r->list);
	r->list = NULL;
	r->num = r->cap = 0;
}

/* alloc_recycle_flush and alloc_release_held with what they free punched
 * as above (alloc_commit's: at the end of commit_run).  Write lock held
 * (relaxed meanwhile). */
static void recycle_flush(struct container *c)
{
	struct punch_run r = {.c = c};
	alloc_recycle_flush(&c->alloc, punch_freed, &r);
	punch_apply(&r);
}

static void release_held(struct container *c)
{
	struct punch_run r = {.c = c};
	alloc_release_held(&c->alloc, punch_freed, &r);
	punch_apply(&r);
}

/* Write the superblock of `gen` into the slot that does not hold the
 * committed generation, then fdatasync.  Encrypted: it carries the next
 * nonce reservation, which becomes usable only after the sync returned. */
static int superblock_commit(struct container *c, uint64_t gen, uint64_t used,
			     uint64_t now_ns, int slot)
{
	uint8_t sb[FORMAT_SECTOR_SIZE];
	uint64_t limit = 0;
	int ret;

	if (c->encrypted) {
		ret = crypto_nonce_reservation(&c->crypt->nonce, &limit);
		if (ret)
			return ret;
	}
	ret = superblock_encode(c, sb, gen, used, now_ns, limit);
	if (ret)
		return ret;
	atomic_fetch_add_explicit(&c->stat_meta_bytes, sizeof(sb),
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&c->stat_commits, 1, memory_order_relaxed);
	ret = io_pwrite(c->io, sb, sizeof(sb),
			slot ? FORMAT_SUPERBLOCK_B_OFFSET
			     : FORMAT_SUPERBLOCK_A_OFFSET);
	if (!ret)
		ret = io_fdatasync(c->io);
	if (!ret && c->encrypted) {
		crypto_nonce_reserved(&c->crypt->nonce, limit);
		c->nonce_limit = limit;
	}
	return ret;
}

/*
 * container_reserve_nonces - the reservation commit of the NONCE SCHEME
 * (crypto.h): a generation with the same tree and a raised nonce_limit,
 * superblock only.  Write lock held, not inside a commit.  Failure poisons
 * (a superblock write or sync failed: we cannot know what reached the disk).
 */
int container_reserve_nonces(struct container *c)
{
	if (c->read_only)
		return -EROFS;
	if (c->poisoned)
		return c->poisoned;
	if (!generation_room(c))
		return generation_refuse(c);
	const uint64_t gen = c->generation + 1;
	const uint64_t now_ns = ts_to_ns(clock_now());
	const int slot = 1 - c->active_slot;
	int ret = superblock_commit(c, gen, c->used_committed, now_ns, slot);
	if (ret)
		return container_poison(c, ret);
	c->generation = gen;
	c->commit_time_ns = now_ns;
	c->active_slot = slot;
	generation_bound_check(c);
	return 0;
}

/*
 * container_retire_held - a commit of the same tree, superblock only, into
 * the other slot (container_reserve_nonces): afterwards both slots map generation G's tree, so the raw data G
 * freed (held: the older slot still mapped it, alloc.c invariant 5) is free.
 * What an idle container does instead of a second commit per flush.  Write
 * lock held; a failed write or sync poisons, as for every superblock.
 */
int container_retire_held(struct container *c)
{
	/* the same superblock-only commit as a nonce reservation (which,
	 * encrypted, it also is) */
	int ret = container_reserve_nonces(c);
	if (!ret)
		release_held(c);
	return ret;
}

/* The commit proper (steps 1-6 of the design note). */
static int commit_run(struct container *c)
{
	uint64_t *meta_new = NULL, *blocks = NULL;
	size_t meta_num = 0, meta_cap = 0, block_num = 0;
	uint64_t first = 0;
	uint32_t crc = 0;
	struct map_seal table_seal = {0};
	int ret;

	/* 1. pending compressed clusters, generations, pins */
	for (size_t i = 0; i < c->object_num; i++) {
		ret = object_flush_pending(c, c->objects[i]);
		if (ret)
			return ret;
	}
	if (c->pack_cluster) {
		alloc_unref(&c->alloc, c->pack_cluster);
		c->pack_cluster = 0;
		c->pack_used = 0;
	}
	const uint64_t gen = c->generation + 1;
	for (size_t i = 0; i < c->object_num; i++) {
		struct object *o = c->objects[i];
		pthread_mutex_lock(&o->attr_lock);
		if (o->content_dirty) {
			o->generation = gen;
			o->dirty = true;
			o->content_dirty = false;
			c->txn_dirty = true;
		}
		if (o->dirty)
			c->txn_dirty = true;
		pthread_mutex_unlock(&o->attr_lock);
	}
	bool pinned;
	ret = save_take_pins(c, &pinned);
	if (ret)
		return ret;
	if (pinned)
		c->txn_dirty = true;
	if (!c->txn_dirty) {
		/* idle since the last commit: what it freed goes back to
		 * the host now (alloc.c invariant 6) */
		recycle_flush(c);
		const bool data = atomic_exchange(&c->data_dirty, false);
		/* raw data the last commit freed waits for the older slot to
		 * be retired: one superblock, whose sync covers the data */
		if (c->alloc.held_num > 0) {
			/* idle: what the retire frees goes back to the host
			 * now too (no commit follows soon to reuse it) */
			ret = container_retire_held(c);
			if (!ret)
				recycle_flush(c);
			return ret;
		}
		if (!data)
			return 0;
		commit_relax_begin(c);
		ret = io_fdatasync(c->io);
		commit_relax_end(c);
		return ret ? container_poison(c, ret) : 0;
	}
	if (!generation_room(c))
		return generation_refuse(c);

	/* 2. map nodes, 3. table; on a full filesystem, once more with
	 * metadata taken from the host-backed reserve only */
	for (int attempt = 0;; attempt++) {
		c->alloc.meta_from_reserve = attempt > 0;
		ret = 0;
		for (size_t i = 0; !ret && i < c->object_num; i++)
			ret = map_write_dirty(c, c->objects[i], &meta_new,
					      &meta_num, &meta_cap);
		/* a snapshot taken by this commit: the frozen copy of the
		 * table it commits, named by that table */
		if (!ret)
			ret = snapshot_write_pending(c, gen, &meta_new,
						     &meta_num, &meta_cap);
		if (!ret)
			ret = table_write(c, gen, &meta_new, &meta_num,
					  &meta_cap, &blocks, &block_num,
					  &first, &crc, &table_seal);
		c->alloc.meta_from_reserve = false;
		/* every slot in meta_new was written (or its write
		 * failed), one whole block each: container_io_stats */
		atomic_fetch_add_explicit(&c->stat_meta_bytes,
					  (uint64_t)meta_num << c->node_shift,
					  memory_order_relaxed);
		if (ret != -ENOSPC || attempt > 0)
			break;
		for (size_t i = 0; i < meta_num; i++)
			alloc_node_unref(&c->alloc, meta_new[i]);
		meta_num = 0;
		/* raw data the last commit freed becomes usable once the
		 * older slot is retired */
		if (c->alloc.held_num > 0) {
			ret = container_retire_held(c);
			if (ret)
				break;
		}
	}
	if (ret)
		goto out_release;

	/* 5. (prepared) the superblock's fields */
	uint64_t old_offset = c->table_offset;
	uint32_t old_crc = c->table_crc;
	size_t old_num = c->table_block_num;
	struct map_seal old_seal = c->table_seal;
	c->table_offset = first;
	c->table_crc = crc;
	c->table_block_num = block_num;
	c->table_seal = table_seal;
	/* clusters of writers sealing outside the lock are not in this
	 * tree yet (data.c write_sealed_clusters); the old table's blocks
	 * leave it, and with them the clusters that hold nothing else */
	uint64_t used = c->alloc.used - c->inflight_clusters;
	ret = old_table_clusters(c, old_num, &used);
	if (ret) {
		c->table_offset = old_offset;
		c->table_crc = old_crc;
		c->table_block_num = old_num;
		c->table_seal = old_seal;
		goto out_release;
	}
	const uint64_t now_ns = ts_to_ns(clock_now());
	int slot = 1 - c->active_slot;

	/* 4. the tree and all data are durable before the superblock;
	 * 5. the superblock into the other slot */
	atomic_store(&c->data_dirty, false);
	commit_relax_begin(c);
#ifdef HANGAR_TEETH_SUPERBLOCK_FIRST
	/* tests/crash only: a deliberately broken core that writes the
	 * superblock before the tree it points to is durable (the harness
	 * must catch it; tests/CMakeLists.txt builds it). */
	ret = 0;
#else
	/* step 5's sync follows: the lease proof (io_file.c) is its */
	ret = io_fdatasync_not_last(c->io);
#endif
	bool sb_written = false;
	if (!ret) {
		sb_written = true;
		ret = superblock_commit(c, gen, used, now_ns, slot);
	}
	commit_relax_end(c);
	if (ret && !sb_written) {
		c->table_offset = old_offset;
		c->table_crc = old_crc;
		c->table_block_num = old_num;
		c->table_seal = old_seal;
		container_poison(c, ret);
		goto out_release;
	}
	if (ret) {
		/* The slot may or may not hold G+1 now: we can no longer
		 * tell which tree is on disk, so stop here. */
		c->table_offset = old_offset;
		c->table_crc = old_crc;
		c->table_block_num = old_num;
		c->table_seal = old_seal;
		container_poison(c, ret);
		/* Nothing is ever committed from this instance again; give
		 * the clusters back so the accounting stays exact. */
		for (size_t i = 0; i < meta_num; i++)
			alloc_node_unref(&c->alloc, meta_new[i]);
		free(meta_new);
		free(blocks);
		return c->poisoned;
	}

	/* 6. G+1 is committed */
	for (size_t i = 0; i < c->object_num; i++) {
		map_commit_done(c, c->objects[i]);
		c->objects[i]->dirty = false;
	}
	for (size_t i = 0; i < old_num; i++)
		alloc_node_unref(&c->alloc, slot_of(c, c->table_blocks[i]));
	free(c->table_blocks);
	c->table_blocks = blocks;
	c->generation = gen;
	c->commit_time_ns = now_ns;
	c->active_slot = slot;
	c->used_committed = used;
	c->txn_dirty = false;
	struct punch_run freed = {.c = c};
	alloc_commit(&c->alloc, punch_freed, &freed);
	assert(c->alloc.used == used + c->inflight_clusters);
	/* the live tree's nodes are now (also) the new snapshot's; no
	 * cluster changes hands, so `used` stays */
	if (snapshot_commit_done(c))
		container_poison(c, -ENOMEM);
	/* the leaves this commit wrote are clean now: evictable */
	map_cache_trim(c);
	free(meta_new);
	generation_bound_check(c);
	/* last, with every piece of bookkeeping done: readers may run while
	 * what the commit freed is punched */
	punch_apply(&freed);
	/* Raw data this commit freed is still mapped by the older slot's
	 * tree: the next commit releases it -- the next flush's, or the
	 * superblock-only one an idle container makes (commit_retire) at
	 * the committer's next tick or at close.  One flush, one commit. */
	return 0;

out_release:
	for (size_t i = 0; i < meta_num; i++)
		alloc_node_unref(&c->alloc, meta_new[i]);
	free(meta_new);
	free(blocks);
	return ret;
}

int container_commit_locked(struct container *c)
{
	int ret;

	if (c->read_only)
		return 0;
	if (c->poisoned)
		return c->poisoned;
	/* never reached unloaded (container_wrlock loads, close skips the
	 * commit): the trees in memory would be empty */
	if (!atomic_load(&c->maps_loaded))
		return c->load_error ? c->load_error : -EIO;
	/* Encrypted: a commit seals at most a few nonces per dirty cluster
	 * of metadata; make sure it cannot run out of the reservation in the
	 * middle (2^31 left is far more than any commit takes). */
	if (c->encrypted && c->crypt->nonce.durable - c->crypt->nonce.next <
				    (CRYPTO_NONCE_RESERVE >> 1)) {
		ret = container_reserve_nonces(c);
		if (ret)
			return ret;
	}
	c->in_commit = true;
	ret = commit_run(c);
	c->in_commit = false;
	return ret;
}

/* Must container_sync_data commit?  Anything but data rewritten in place
 * and the times and generations that come with it (read lock held): a
 * changed map or table, a pending compressed cluster, clusters held for
 * retirement, or a saved image whose save lock the commit maintains
 * (adoptions and pins: savelock.h) -- all of it as container_commit. */
static bool sync_needs_commit(struct container *c)
{
	if (c->txn_dirty || c->alloc.held_num > 0)
		return true;
	for (size_t i = 0; i < c->object_num; i++) {
		const struct object *o = c->objects[i];
		if (o->dirty || o->pend_valid ||
		    (o->seal && o->seal->state == SAVE_STATE_SAVED))
			return true;
	}
	return false;
}

int container_sync_data(struct container *c)
{
	int ret;

	pthread_rwlock_rdlock(&c->lock);
	ret = c->read_only ? 0 : c->poisoned;
	const bool commit = !ret && !c->read_only && sync_needs_commit(c);
	if (!ret && !commit && !c->read_only) {
		atomic_fetch_add_explicit(&c->stat_flushes, 1,
					  memory_order_relaxed);
		if (atomic_exchange(&c->data_dirty, false))
			ret = io_fdatasync(c->io);
	}
	pthread_rwlock_unlock(&c->lock);
	if (commit)
		return container_commit(c);
	if (ret && !c->read_only) {
		/* as a commit's failed sync: the data may be gone, and a
		 * later sync could report success for it */
		container_wrlock(c);
		ret = container_poison(c, ret);
		pthread_rwlock_unlock(&c->lock);
	}
	return ret;
}

/* The slack limit in clusters of 1 << shift bytes (0: none). */
static uint64_t slack_clusters(const struct container *c, unsigned shift)
{
	if (c->slack_bytes == UINT64_MAX)
		return 0;
	const uint64_t n = c->slack_bytes >> shift;
	return n ? n : 1;
}

/* Slack (alloc.c invariant 11): rewrites stranded more than the limit of
 * freed space, so a commit is due, or the file goes on growing.  The
 * writer that crossed the limit asks the owner's thread for it
 * (container_options.commit_wanted: the store's committer) and goes on;
 * with no such thread it commits itself, holding no lock (the commit
 * writes the data back before it locks). */
void container_slack_settle(struct container *c)
{
	if (!atomic_load_explicit(&c->alloc.slack_over, memory_order_relaxed) ||
	    !atomic_exchange(&c->alloc.slack_over, false))
		return;
	if (c->commit_wanted)
		c->commit_wanted(c->event_arg);
	else
		(void)container_commit(c);
}

int container_commit(struct container *c)
{
	int ret = 0;

	atomic_fetch_add_explicit(&c->stat_flushes, 1, memory_order_relaxed);
	pthread_mutex_lock(&c->commit_mutex);
	const uint64_t target = c->commits_started + 1;
	while (c->commits_done < target) {
		if (c->committing) {
			pthread_cond_wait(&c->commit_cond, &c->commit_mutex);
			continue;
		}
		c->committing = true;
		const uint64_t mine = ++c->commits_started;
		pthread_mutex_unlock(&c->commit_mutex);
		/* Most of the data this commit must sync is written back
		 * first, with no lock: writers that need the write lock (every
		 * copy-on-write one) go on meanwhile, and the syncs made under
		 * the lock below find little left.  Not a durability point (a
		 * failure is latched by the io for the sync below). */
		if (!c->read_only)
			(void)io_writeback(c->io);
		container_wrlock(c);
		c->commit_relax = true;
		int r = container_commit_locked(c);
		c->commit_relax = false;
		pthread_rwlock_unlock(&c->lock);
		pthread_mutex_lock(&c->commit_mutex);
		c->last_commit_result = r;
		if (r == 0)
			c->last_ok_commit = mine;
		c->commits_done = mine;
		c->committing = false;
		pthread_cond_broadcast(&c->commit_cond);
	}
	/* By the time a waiter runs again, later commits may have finished
	 * too, and last_commit_result is the newest one's.  Every commit
	 * numbered `target` or later started after this caller's writes, so
	 * any of them that succeeded made them durable (a failed one leaves
	 * its transaction open, and a failed sync poisons every later one);
	 * if none did, the newest failure is the answer. */
	ret = c->last_ok_commit >= target ? 0 : c->last_commit_result;
	pthread_mutex_unlock(&c->commit_mutex);
	return ret;
}

int container_create(struct io *io, const struct container_options *opts,
		     struct container **out_container)
{
	struct container *c;
	uint64_t size;
	int ret;

	unsigned shift = opts && opts->cluster_shift
				 ? opts->cluster_shift
				 : FORMAT_CLUSTER_SHIFT_DEFAULT;
	unsigned node_shift = opts && opts->node_shift
				      ? opts->node_shift
				      : FORMAT_NODE_SHIFT_DEFAULT;
	if (node_shift > shift)
		node_shift = shift;
	if (shift < FORMAT_CLUSTER_SHIFT_MIN ||
	    shift > FORMAT_CLUSTER_SHIFT_MAX ||
	    node_shift < FORMAT_NODE_SHIFT_MIN || (opts && opts->read_only))
		return -EINVAL;
	ret = io_size(io, &size);
	if (ret)
		return ret;
	if (size != 0)
		return -EEXIST;
	c = container_alloc(opts);
	if (!c)
		return -ENOMEM;
	c->io = io;
	c->cluster_shift = shift;
	c->cluster_size = 1u << shift;
	c->node_shift = node_shift;
	c->node_size = 1u << node_shift;
	c->first_cluster = (FORMAT_HEADER_AREA + c->cluster_size - 1) >> shift;
	c->next_object_id = 1;
	c->active_slot = 1; /* so generation 1 lands in slot A */
	if (opts && opts->compress_disks)
		c->flags |= CONTAINER_FLAG_COMPRESS_DISKS;
	if (getrandom(c->uuid, sizeof(c->uuid), 0) != sizeof(c->uuid)) {
		ret = -EIO;
		goto out_free;
	}
	if (opts && opts->master) {
		/* Fresh uuid, hence fresh sub-keys under which no nonce was
		 * ever used: the counter may start at 0 with a reservation
		 * that needs no durable superblock yet (FORMAT.md 9.4). */
		c->encrypted = true;
		c->entry_size = MAP_ENTRY_SIZE_CRYPT;
		ret = crypto_key_fingerprint(opts->master, c->key_id);
		if (!ret)
			ret = crypt_setup(c, opts->master);
		if (!ret)
			ret = crypto_nonce_start(&c->crypt->nonce, 0);
		if (ret)
			goto out_free;
		crypto_nonce_reserved(&c->crypt->nonce, CRYPTO_NONCE_RESERVE);
	}
	c->fanout = (c->node_size - BLOCK_HEADER_SIZE) / c->entry_size;
	ret = alloc_init(&c->alloc, c->first_cluster, c->first_cluster);
	if (!ret)
		ret = alloc_slot_shift(&c->alloc, shift - node_shift);
	alloc_set_slack(&c->alloc, slack_clusters(c, shift));
	if (ret)
		goto out_free;
	/* Write the header area whole, so both slots exist (B zeroed). */
	uint8_t zero[FORMAT_HEADER_AREA];
	memset(zero, 0, sizeof(zero));
	ret = io_pwrite(io, zero, sizeof(zero), 0);
	if (ret)
		goto out_free;
	c->txn_dirty = true;
	ret = container_commit_locked(c);
	if (ret)
		goto out_free;
	*out_container = c;
	return 0;
out_free:
	c->io = NULL;
	container_free(c);
	return ret;
}

/* Read both superblock slots and choose the newest valid one. */
/* Encrypted: the master key must be this container's (key_id), and the
 * chosen slot's MAC must hold.  Plain: refused when a key was given. */
static int superblock_authenticate(struct container *c,
				   const struct crypto_key *master,
				   const uint8_t *sb, bool other_damaged,
				   struct load_diag *diag)
{
	uint8_t id[CRYPTO_KEY_ID_LEN];
	const char *why = NULL;
	int ret;

	if (!c->encrypted) {
		if (!master)
			return 0;
		why = "plain container in an encrypted store (refused: its "
		      "contents are not authenticated)";
		if (diag)
			diag->unauthenticated = true;
		ret = -EUCLEAN;
		goto out_diag;
	}
	if (!master) {
		why = "container is encrypted (aes-256-gcm): a key is needed";
		ret = -ENOKEY;
		goto out_diag;
	}
	ret = crypto_key_fingerprint(master, id);
	if (ret)
		return ret;
	if (memcmp(id, c->key_id, sizeof(id)) != 0) {
		why = "encrypted under another key (another store's container)";
		ret = -EKEYREJECTED;
		goto out_diag;
	}
	ret = crypt_setup(c, master);
	if (ret)
		return ret;
	ret = crypt_superblock_verify(c, sb);
	if (ret == -EBADMSG)
		why = "superblock authentication (MAC) failed";
	else if (ret)
		return ret;
	else {
		/* The other slot is damaged: it may have held the newest
		 * commit, G + 1, whose reservation reached up to
		 * limit(G) + CRYPTO_NONCE_RESERVE (a reservation never goes
		 * further than the counter, itself below limit(G), plus
		 * RESERVE).  Starting there instead of at limit(G) keeps the
		 * counter from walking values that G + 1's run may have used
		 * (FORMAT.md 9.4). */
		uint64_t start = c->nonce_limit;
		if (other_damaged) {
			if (start > UINT64_MAX - CRYPTO_NONCE_RESERVE)
				return -EOVERFLOW;
			start += CRYPTO_NONCE_RESERVE;
		}
		return crypto_nonce_start(&c->crypt->nonce, start);
	}
out_diag:
	if (diag && !diag->message[0])
		snprintf(diag->message, sizeof(diag->message), "%s", why);
	return ret;
}

static int superblock_choose(struct container *c,
			     const struct crypto_key *master,
			     struct load_diag *diag)
{
	uint8_t hdr[FORMAT_SUPERBLOCK_B_OFFSET + FORMAT_SECTOR_SIZE];
	uint64_t used[2] = {0, 0};
	int res[2];
	char why[2][128] = {"", ""};
	int ret;

	ret = io_pread(c->io, hdr, sizeof(hdr), 0);
	if (ret)
		return ret;
	for (int i = 0; i < 2; i++) {
		const uint8_t *sb = hdr + (i ? FORMAT_SUPERBLOCK_B_OFFSET
					     : FORMAT_SUPERBLOCK_A_OFFSET);
		struct container tmp = {.read_only = c->read_only};
		res[i] = superblock_decode(sb, &tmp, &used[i], why[i],
					   sizeof(why[i]));
		if (diag)
			diag->superblock_valid[i] = res[i] == 0;
	}
	/* Among slots that are intact (magic and crc hold), the newest
	 * generation wins, and its decode decides: an intact newest slot that
	 * we cannot use (unknown features, impossible geometry) refuses the
	 * open rather than falling back to an older tree that may have been
	 * reused since. */
	int best = -1;
	uint64_t best_gen = 0;
	for (int i = 0; i < 2; i++) {
		const uint8_t *sb = hdr + (i ? FORMAT_SUPERBLOCK_B_OFFSET
					     : FORMAT_SUPERBLOCK_A_OFFSET);
		if (!superblock_intact(sb))
			continue;
		uint64_t g = le64_get(sb + SB_OFF_GENERATION);
		if (best < 0 || g > best_gen) {
			best = i;
			best_gen = g;
		}
	}
	if (best < 0) {
		if (diag)
			snprintf(diag->message, sizeof(diag->message),
				 "no valid superblock (A: %s; B: %s)", why[0],
				 why[1]);
		return res[0] == -EBADMSG || res[1] == -EBADMSG ? -EBADMSG
								: -EUCLEAN;
	}
	if (res[best]) {
		if (diag)
			snprintf(diag->message, sizeof(diag->message), "%s",
				 why[best]);
		return res[best];
	}
	const uint8_t *sb = hdr + (best ? FORMAT_SUPERBLOCK_B_OFFSET
					: FORMAT_SUPERBLOCK_A_OFFSET);
	const uint8_t *other = hdr + (best ? FORMAT_SUPERBLOCK_A_OFFSET
					   : FORMAT_SUPERBLOCK_B_OFFSET);
	/* The other slot is damaged unless it is intact (then it is the
	 * older commit) or was never written: all zero, which only a
	 * container still at generation 1 may have (every later commit
	 * alternates slots). */
	bool other_zero = true;
	for (size_t i = 0; i < FORMAT_SECTOR_SIZE; i++)
		other_zero &= other[i] == 0;
	const bool other_damaged =
		!superblock_intact(other) && (best_gen >= 2 || !other_zero);
	ret = superblock_decode(sb, c, &used[best], why[best],
				sizeof(why[best]));
	if (ret)
		return ret;
	ret = superblock_authenticate(c, master, sb, other_damaged, diag);
	if (ret)
		return ret;
	if (other_damaged) {
		char detail[256];
		snprintf(detail, sizeof(detail),
			 "superblock slot %c is damaged (%s); opened slot %c "
			 "at generation %llu: if %c held the newest commit, "
			 "that commit is lost",
			 best ? 'A' : 'B',
			 why[1 - best][0] ? why[1 - best] : "never written",
			 best ? 'B' : 'A', (unsigned long long)best_gen,
			 best ? 'A' : 'B');
		container_emit(c, CONTAINER_EVENT_SLOT_FALLBACK, NULL, detail,
			       0);
	}
	c->active_slot = best;
	c->alloc.used = used[best]; /* stashed; replaced after the walk */
	return 0;
}

/*
 * The metadata reserve: host-backed free clusters for commits that must
 * succeed on a full filesystem (punch, discard).  The file is cut back to
 * the last referenced cluster plus the reserve (everything past the last
 * referenced cluster is free in the committed state), and the reserve is
 * fallocated so it owns host blocks.
 *
 * On a full filesystem that fallocate fails: the tail past the tree is new
 * space.  The previous run's reserve is still there, though, somewhere
 * below -- it stays where the open put it while the tree grows past it, and
 * neither it nor freed metadata clusters are ever punched.  So each free
 * cluster is then fallocated on its own, lowest first, until enough
 * succeed: a fallocate that succeeds on a full filesystem is one that
 * needed no new blocks, and either way the cluster owns its blocks
 * afterwards.  (A partly backed cluster may keep the few blocks a failed
 * attempt got; they are reused with it.)  Without this, the first open on
 * a full filesystem had no reserve and every commit failed until space
 * was freed outside.
 */
/* Bound on the per-cluster fallocates of one open (each failing one is a
 * cheap syscall; a huge, mostly free container stops looking there). */
#define RESERVE_MAX_PROBES 65536u

static int reserve_setup(struct container *c)
{
	uint64_t reserve = ALLOC_META_RESERVE_BYTES >> c->cluster_shift;
	if (reserve > ALLOC_META_RESERVE)
		reserve = ALLOC_META_RESERVE;
	if (reserve < 4)
		reserve = 4;
	c->alloc.reserve = reserve;
	uint64_t end = alloc_last_used(&c->alloc) + reserve;
	int ret = io_ftruncate(c->io, end << c->cluster_shift);
	if (ret)
		return ret;
	int falloc = io_fallocate(c->io, 0, (end - reserve) << c->cluster_shift,
				  reserve << c->cluster_shift);
	if (falloc == 0)
		return alloc_set_end(&c->alloc, end, reserve);
	ret = alloc_set_end(&c->alloc, end, 0);
	if (ret || falloc == -EOPNOTSUPP)
		return ret;
	struct alloc *a = &c->alloc;
	uint64_t found = 0, probes = 0;
	for (uint64_t n = a->first;
	     n < end && found < reserve && probes < RESERVE_MAX_PROBES; n++) {
		if (a->refs[n] ||
		    (a->bits[n] & (CLUSTER_COMMITTED | CLUSTER_HELD)))
			continue;
		probes++;
		if (io_fallocate(c->io, FALLOC_FL_KEEP_SIZE,
				 n << c->cluster_shift, c->cluster_size) != 0)
			continue;
		alloc_set_backed(a, n, true);
		a->bits[n] &= (uint8_t)~CLUSTER_DATA; /* never punched */
		found++;
	}
	return 0;
}

/* A read-write open finishes what a crash or a previous run left open:
 * orphans are deleted and an image that was never sealed is set aside. */
static int container_recover(struct container *c)
{
	bool changed = false;
	int ret;

	/* No generation left: read-only from the start, nothing to finish. */
	generation_bound_check(c);
	if (c->read_only)
		return 0;
	/* A superblock-only commit first (the same tree as generation G, in
	 * the other slot).  Encrypted: it is the nonce reservation -- no
	 * nonce may be used before a reservation above every counter any
	 * earlier open may have used is durable (crypto.h).  Every
	 * container: it retires the older slot's tree.  The previous run may
	 * have ended between a commit that freed raw data clusters and the
	 * commit that retires them (alloc.c invariant 5), and nothing here
	 * knows which clusters the older slot maps; after this commit both
	 * slots map G's tree, so every cluster free in G is free in both.  A
	 * container still at generation 1 has no older slot. */
	if (c->encrypted || c->generation >= 2) {
		ret = container_reserve_nonces(c);
		if (ret)
			return ret;
		if (c->read_only)
			return 0;
	}

	for (size_t i = 0; i < c->object_num;) {
		struct object *o = c->objects[i];
		if (o->name) {
			i++;
			continue;
		}
		map_free_tree(c, o, true);
		memmove(&c->objects[i], &c->objects[i + 1],
			(c->object_num - i - 1) * sizeof(*c->objects));
		c->object_num--;
		object_destroy(c, o);
		changed = true;
	}
	ret = save_recover_incomplete(c, &changed);
	if (ret)
		return ret;
	if (changed) {
		c->txn_dirty = true;
		ret = container_commit_locked(c);
		if (ret)
			return ret;
		if (c->read_only)
			return 0;
	}
	return reserve_setup(c);
}

/*
 * Lazy open.  Free space and reference counts are derived from the trees
 * (alloc.c), and a full walk of a big, fragmented disk takes long: 0.3 s
 * for 22,100 leaves of a 16 TiB disk written at random.  A lazy open
 * (container_options.lazy_maps; the store's guests) reads the superblock
 * and the table only, keeps each object's root (frozen_*), and returns.
 * Until the walk:
 *   - reads look up each cluster straight through the committed blocks
 *     (map.c cold_lookup), every block verified as it is read;
 *   - nothing is allocated (alloc.c invariant 10) and nothing commits
 *     (container_commit_locked): every writer, and every reader of trees
 *     or of the allocator, first calls container_walk, which walks
 *     exactly as an eager open does -- the same map_load, the same
 *     reference and `used` checks -- and then finishes the open
 *     (container_recover) under the write lock.
 * So the allocator a writer sees is the eager open's, built from the
 * same committed state (no commit can happen before it), and the crash
 * argument of the allocator is unchanged.  The walk holds no container
 * lock (container_walk says why that is safe): readers and file
 * opens go on meanwhile, and it writes only what they do not read (the
 * trees, the allocator).  A store walks each guest it opens at once on
 * its committer thread (store.c, store_walk_opened), so the first write
 * usually finds the walk done; without one, a reader walks after
 * COLD_READS_MAX reads (data.c).  A damaged tree found by the walk
 * fails what the walk was for (the write, the seek) and poisons a
 * read-write container; readers keep reading through the verified path.
 * An open that has something to finish (an orphan, an image never sealed,
 * a legacy save record) or nodes larger than LAZY_NODE_MAX walks at once.
 */
#define LAZY_NODE_MAX 65536u

static enum container_refusal_code refusal_code(int ret,
						const struct load_diag *diag);

static bool lazy_possible(const struct container *c)
{
	if (c->legacy_save || c->node_size > LAZY_NODE_MAX)
		return false;
	for (size_t i = 0; i < c->object_num; i++) {
		const struct object *o = c->objects[i];
		if (!o->name || (o->flags & OBJECT_FLAG_IMAGE_UNSEALED))
			return false;
	}
	return true;
}

/* Walk every tree from the roots table_read kept (at open, or holding
 * load_mutex and no container lock: container_walk): references,
 * free space, the recorded `used`. */
static int maps_walk(struct container *c, struct load_diag *diag)
{
	uint64_t size;
	int ret = io_size(c->io, &size);

	for (size_t i = 0; !ret && i < c->object_num; i++) {
		struct object *o = c->objects[i];
		if (o->frozen_root)
			ret = map_load(c, o, o->frozen_root, o->frozen_crc,
				       &o->frozen_seal, o->frozen_height, diag);
	}
	if (!ret)
		ret = snapshot_load_refs(c, diag, size);
	if (ret)
		return ret;
	alloc_commit(&c->alloc, NULL, NULL);
	const uint64_t recorded = c->used_committed;
	if (c->alloc.used != recorded && diag && diag->tolerate_used_mismatch &&
	    c->read_only) {
		diag->used_mismatch = true;
		diag->used_recorded = recorded;
		diag->used_referenced = c->alloc.used;
	} else if (c->alloc.used != recorded) {
		if (diag && !diag->message[0])
			snprintf(diag->message, sizeof(diag->message),
				 "tree references %llu clusters, superblock "
				 "records %llu",
				 (unsigned long long)c->alloc.used,
				 (unsigned long long)recorded);
		return -EUCLEAN;
	}
	ret = save_convert_legacy(c);
	if (ret) {
		if (diag && !diag->message[0] && ret == -EUCLEAN)
			snprintf(diag->message, sizeof(diag->message),
				 "save record names a missing image");
		return ret;
	}
	c->alloc.walked = true;
	return 0;
}

/* The walk is complete (write lock, or alone): lookups use the trees. */
static void maps_publish(struct container *c)
{
	for (size_t i = 0; i < c->object_num; i++) {
		struct object *o = c->objects[i];
		o->frozen_root = 0;
		o->frozen_crc = 0;
		memset(&o->frozen_seal, 0, sizeof(o->frozen_seal));
		o->frozen_height = 0;
	}
	atomic_store(&c->maps_loaded, true);
}

int container_walk(struct container *c)
{
	if (atomic_load(&c->maps_loaded))
		return 0;
	pthread_mutex_lock(&c->load_mutex);
	int ret = c->load_error;
	if (ret || atomic_load(&c->maps_loaded))
		goto out;
	/* The walk holds no container lock.  It writes the trees, the
	 * allocator and the snapshots' block lists; every thread that could
	 * read or change those before the publish waits for load_mutex first
	 * (container_wrlock, container_rdlock_maps), readers meanwhile use
	 * the frozen roots only, and container_wrlock_unwalked's holders
	 * touch open counts.  So a file opened meanwhile does not wait for
	 * the walk, which a read lock held throughout would make it do (a
	 * waiting writer). */
	struct load_diag diag;
	memset(&diag, 0, sizeof(diag));
	ret = maps_walk(c, &diag);
	pthread_rwlock_wrlock(&c->lock);
	if (!ret) {
		maps_publish(c);
		if (!c->read_only)
			ret = container_recover(c);
		if (!ret)
			HEAVY_ASSERT(container_invariants(c));
	} else {
		/* the half-built trees go; lookups stay on the verified
		 * path, and nothing is ever allocated (invariant 10) */
		for (size_t i = 0; i < c->object_num; i++)
			map_free_tree(c, c->objects[i], false);
	}
	if (ret) {
		c->load_error = ret;
		if (!c->read_only && !c->poisoned)
			c->poisoned = ret;
	}
	pthread_rwlock_unlock(&c->lock);
	if (ret) {
		const struct container_event ev = {
			.type = CONTAINER_EVENT_OPEN_REFUSED,
			.detail = diag.message[0] ? diag.message : NULL,
			.error = ret,
			.refusal = refusal_code(ret, &diag),
		};
		if (c->event)
			c->event(c->event_arg, &ev);
	}
out:
	pthread_mutex_unlock(&c->load_mutex);
	return ret;
}

bool container_walked(struct container *c)
{
	return atomic_load(&c->maps_loaded);
}

int container_rdlock_maps(struct container *c)
{
	int ret = container_walk(c);
	if (!ret)
		pthread_rwlock_rdlock(&c->lock);
	return ret;
}

int container_load(struct io *io, const struct container_options *opts,
		   struct load_diag *diag, struct container **out_container)
{
	struct container *c;
	uint64_t size;
	int ret;

	c = container_alloc(opts);
	if (!c)
		return -ENOMEM;
	c->io = io;
	ret = io_size(io, &size);
	if (ret)
		goto out_free;
	if (size < FORMAT_HEADER_AREA) {
		if (diag)
			snprintf(diag->message, sizeof(diag->message),
				 "file too short (%llu bytes) to be a "
				 "container",
				 (unsigned long long)size);
		ret = -EUCLEAN;
		goto out_free;
	}
	ret = superblock_choose(c, opts ? opts->master : NULL, diag);
	if (ret)
		goto out_free;
	c->used_committed = c->alloc.used; /* the superblock's */
	ret = alloc_init(&c->alloc, c->first_cluster, size >> c->cluster_shift);
	if (!ret)
		ret = alloc_slot_shift(&c->alloc,
				       c->cluster_shift - c->node_shift);
	alloc_set_slack(&c->alloc, slack_clusters(c, c->cluster_shift));
	if (ret)
		goto out_free;
	/* the table's blocks now, the trees below (maps_walk) or later */
	c->alloc.walked = false;
	c->maps_deferred = true;
	ret = table_read(c, diag, size);
	c->maps_deferred = false;
	if (ret)
		goto out_free;
	atomic_store(&c->maps_loaded, false);
	if (!(opts && opts->lazy_maps && lazy_possible(c))) {
		ret = maps_walk(c, diag);
		if (ret)
			goto out_free;
		maps_publish(c);
		if (!c->read_only) {
			ret = container_recover(c);
			if (ret)
				goto out_free;
		}
		HEAVY_ASSERT(container_invariants(c));
	}
	*out_container = c;
	return 0;
out_free:
	c->io = NULL;
	container_free(c);
	return ret;
}

int container_peek_dir(struct io *io, const struct container_options *opts,
		       struct object_attr *out_attr)
{
	const struct container_options peek_opts = {
		.read_only = true,
		.master = opts ? opts->master : NULL,
	};
	struct container *c;
	uint64_t size;
	int ret;

	c = container_alloc(&peek_opts);
	if (!c)
		return -ENOMEM;
	c->io = io;
	/* The table's objects without their maps, as a snapshot view reads
	 * them (table.c): the cost is the table's, not the disks'. */
	c->view_lazy = true;
	ret = io_size(io, &size);
	if (ret)
		goto out_free;
	if (size < FORMAT_HEADER_AREA) {
		ret = -EUCLEAN;
		goto out_free;
	}
	ret = superblock_choose(c, peek_opts.master, NULL);
	if (!ret)
		ret = alloc_init(&c->alloc, c->first_cluster,
				 size >> c->cluster_shift);
	if (!ret)
		ret = alloc_slot_shift(&c->alloc,
				       c->cluster_shift - c->node_shift);
	if (!ret)
		ret = table_read(c, NULL, size);
	if (!ret)
		ret = container_dir_getattr(c, out_attr);
out_free:
	c->io = NULL; /* the caller's */
	container_free(c);
	return ret;
}

static const char *const refusal_names[] = {
	[CONTAINER_REFUSAL_NONE] = "none",
	[CONTAINER_REFUSAL_CORRUPT] = "corrupt",
	[CONTAINER_REFUSAL_NEWER_FORMAT] = "newer-format",
	[CONTAINER_REFUSAL_KEY_NEEDED] = "key-needed",
	[CONTAINER_REFUSAL_WRONG_KEY] = "wrong-key",
	[CONTAINER_REFUSAL_UNAUTHENTICATED] = "unauthenticated",
	[CONTAINER_REFUSAL_IO] = "io",
	[CONTAINER_REFUSAL_LOCKED] = "locked",
	[CONTAINER_REFUSAL_HARD_LINKED] = "hard-linked",
	[CONTAINER_REFUSAL_NOT_A_FILE] = "not-a-file",
};

const char *container_refusal_name(enum container_refusal_code code)
{
	if ((unsigned)code >= sizeof(refusal_names) / sizeof(refusal_names[0]))
		return "unknown";
	return refusal_names[code];
}

/* The code of a failed load's error `ret`. */
static enum container_refusal_code refusal_code(int ret,
						const struct load_diag *diag)
{
	switch (-ret) {
	case EUCLEAN:
		return diag->unauthenticated ? CONTAINER_REFUSAL_UNAUTHENTICATED
					     : CONTAINER_REFUSAL_CORRUPT;
	case EBADMSG:
		return CONTAINER_REFUSAL_CORRUPT;
	case EPROTONOSUPPORT:
	case EROFS:
		return CONTAINER_REFUSAL_NEWER_FORMAT;
	case ENOKEY:
		return CONTAINER_REFUSAL_KEY_NEEDED;
	case EKEYREJECTED:
		return CONTAINER_REFUSAL_WRONG_KEY;
	default:
		return CONTAINER_REFUSAL_IO;
	}
}

int container_open_why(struct io *io, const struct container_options *opts,
		       struct container **out_container,
		       struct container_refusal *why)
{
	struct load_diag diag;
	memset(&diag, 0, sizeof(diag));
	if (why) {
		why->code = CONTAINER_REFUSAL_NONE;
		why->text[0] = '\0';
	}
	int ret = container_load(io, opts, &diag, out_container);
	if (!ret || ret == -ENOMEM)
		return ret;
	const enum container_refusal_code code = refusal_code(ret, &diag);
	if (why) {
		why->code = code;
		snprintf(why->text, sizeof(why->text), "%s", diag.message);
	}
	/* The errno alone ("Protocol not supported") tells a person nothing:
	 * hand the loader's reason to whoever logs. */
	if (opts && opts->event) {
		const struct container_event ev = {
			.type = CONTAINER_EVENT_OPEN_REFUSED,
			.detail = diag.message[0] ? diag.message : NULL,
			.error = ret,
			.refusal = code,
		};
		opts->event(opts->event_arg, &ev);
	}
	return ret;
}

int container_open(struct io *io, const struct container_options *opts,
		   struct container **out_container)
{
	return container_open_why(io, opts, out_container, NULL);
}

int container_close(struct container *c)
{
	int ret = 0;
	if (!c)
		return 0;
	/* never loaded: nothing was written (every writer loads first) */
	if (!c->read_only && !c->poisoned && atomic_load(&c->maps_loaded)) {
		/* staged clusters leave compressed, as whole-cluster writes
		 * would have stored them; a failure leaves them RAW */
		(void)container_compact(c, 0, NULL);
		container_wrlock(c);
		ret = container_commit_locked(c);
		/* raw data that commit freed (compaction's staged clusters,
		 * above all) is held by the older slot: retire it, so the host
		 * gets its blocks back now and not at some later open */
		if (!ret && c->alloc.held_num > 0)
			ret = container_commit_locked(c);
		if (!ret)
			recycle_flush(c);
		pthread_rwlock_unlock(&c->lock);
	}
	/* A poisoned container's last changes were never committed: the
	 * caller (umount, a CLI command) must not report success. */
	if (!ret && c->poisoned)
		ret = c->poisoned;
	HEAVY_ASSERT(container_invariants(c));
	io_close(c->io);
	container_free(c);
	return ret;
}

void container_close_detached(struct container *c)
{
	if (c)
		c->io = NULL;
	container_free(c);
}

struct io *container_file_io(struct container *c)
{
	return c->io;
}

int container_make_clone(struct container *c,
			 bool (*drop)(void *arg, const char *name),
			 void *drop_arg)
{
	uint8_t uuid[sizeof(c->uuid)];
	int ret = 0;

	if (c->encrypted)
		return -EOPNOTSUPP; /* its uuid salts its keys (FORMAT.md 9.1) */
	if (getrandom(uuid, sizeof(uuid), 0) != sizeof(uuid))
		return -EIO;
	container_wrlock(c);
	if (c->read_only || c->poisoned) {
		ret = c->read_only ? -EROFS : c->poisoned;
		goto out;
	}
	if (c->snap_num) {
		ret = -ENOTEMPTY;
		goto out;
	}
	for (size_t i = 0; i < c->object_num; i++)
		if (c->objects[i]->open_count) {
			ret = -EBUSY;
			goto out;
		}
	for (size_t i = 0; i < c->object_num;) {
		struct object *o = c->objects[i];
		if (!o->name || (drop && drop(drop_arg, o->name))) {
			map_free_tree(c, o, true);
			memmove(&c->objects[i], &c->objects[i + 1],
				(c->object_num - i - 1) * sizeof(*c->objects));
			c->object_num--;
			object_destroy(c, o);
			continue;
		}
		/* What it holds becomes a plain file, as a copy through
		 * core would make it: no seal, no image state. */
		if (o->seal || (o->flags & (OBJECT_FLAG_IMAGE_UNSEALED |
					    OBJECT_FLAG_IMAGE_TAINTED))) {
			save_seal_free(o->seal);
			o->seal = NULL;
			o->flags &= ~(OBJECT_FLAG_IMAGE_UNSEALED |
				      OBJECT_FLAG_IMAGE_TAINTED);
			o->dirty = true;
		}
		i++;
	}
	memcpy(c->uuid, uuid, sizeof(uuid));
	c->txn_dirty = true;
	ret = container_commit_locked(c);
	/* and the other slot: no superblock of the clone names the source */
	if (!ret)
		ret = container_retire_held(c);
out:
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

void container_info(struct container *c, struct container_info *out_info)
{
	memset(out_info, 0, sizeof(*out_info));
	pthread_rwlock_rdlock(&c->lock);
	out_info->generation = c->generation;
	out_info->cluster_size = c->cluster_size;
	/* before a lazy open's walk the allocator counts only the table */
	out_info->used_clusters = atomic_load(&c->maps_loaded)
					  ? c->alloc.used
					  : c->used_committed;
	(void)io_size(c->io, &out_info->file_size);
	for (size_t i = 0; i < c->object_num; i++)
		if (c->objects[i]->name)
			out_info->object_count++;
	out_info->compress_disks = c->flags & CONTAINER_FLAG_COMPRESS_DISKS;
	out_info->read_only = c->read_only;
	out_info->poisoned = c->poisoned;
	out_info->commit_time.tv_sec =
		(time_t)(c->commit_time_ns / 1000000000u);
	out_info->commit_time.tv_nsec = (long)(c->commit_time_ns % 1000000000u);
	memcpy(out_info->uuid, c->uuid, 16);
	out_info->encrypted = c->encrypted;
	pthread_rwlock_unlock(&c->lock);
}

void container_io_stats(struct container *c, struct container_io_stats *out)
{
	const struct io_counters *io = &c->io->counters;

	memset(out, 0, sizeof(*out));
	out->writes = atomic_load_explicit(&io->writes, memory_order_relaxed);
	out->write_bytes =
		atomic_load_explicit(&io->write_bytes, memory_order_relaxed);
	out->syncs = atomic_load_explicit(&io->syncs, memory_order_relaxed);
	out->meta_bytes =
		atomic_load_explicit(&c->stat_meta_bytes, memory_order_relaxed);
	out->commits =
		atomic_load_explicit(&c->stat_commits, memory_order_relaxed);
	out->flushes =
		atomic_load_explicit(&c->stat_flushes, memory_order_relaxed);
	out->compressions = atomic_load_explicit(&c->stat_compressions,
						 memory_order_relaxed);
	out->compress_skips = atomic_load_explicit(&c->stat_compress_skips,
						   memory_order_relaxed);
	out->data_bytes = out->write_bytes > out->meta_bytes
				  ? out->write_bytes - out->meta_bytes
				  : 0;
}
