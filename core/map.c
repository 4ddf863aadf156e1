/*
 * map.c -- an object's copy-on-write radix tree from virtual clusters to
 * stored clusters.
 *
 * Design notes.  Every node is one metadata node of c->node_size bytes (a
 * 4 KiB slot of a metadata cluster with small nodes, else one cluster): a
 * 64-byte block header and `fanout` = (node_size - 64) / entry_size
 * entries.  Height h covers fanout^h virtual
 * clusters; the tree grows at the top when an object does.  A leaf entry maps
 * one virtual cluster (HOLE, RAW, COMPRESSED or ZERO); an interior entry is a
 * NODE pointer carrying the child's offset and crc32c, so a stale or
 * misdirected child block is caught by its parent, not only by its own crc.
 *
 * Invariants:
 *   1. A node is `dirty` iff its in-memory contents differ from the block at
 *      `phys`; every ancestor of a dirty node is dirty (node_make_dirty is
 *      always applied along the whole path).  A dirty leaf is always loaded.
 *   2. A clean node -- loaded or a stub -- holds one allocator reference on
 *      `phys`; the reference is dropped when the node first turns dirty (the
 *      cluster stays COMMITTED, so it is not reused before the commit that
 *      replaces it).  A dirty node holds no reference until map_write_dirty
 *      gives it a new node slot.  Hence, after map_write_dirty, the
 *      allocator's `used` count is exactly the clusters the new tree
 *      references (plus the old table).
 *   3. Each RAW or COMPRESSED entry of a leaf holds one reference on its
 *      cluster, and its bytes are counted in the object's stored_bytes,
 *      whether or not the leaf is loaded: map_load takes the references of
 *      every leaf it reads (and then may drop the decoded entries), and
 *      they stay held by the committed leaf; loading a stub again takes
 *      none, evicting a clean leaf drops none.  Only changing an entry
 *      (map_set, map_truncate, map_free_tree) moves references, and it
 *      loads the leaf first.
 *
 * Cache.  map_load still reads and verifies every node and counts every
 * reference (the open is as strict as ever), but keeps a leaf's decoded
 * entries only while the container's budget (struct map_budget, shared by
 * a store's guests) has room; other leaves become stubs -- phys, crc,
 * seal, index, level, owner -- read again on first use with the same
 * checks (node_read against the parent's crc and seal).  Interior nodes
 * stay resident (one per `fanout` leaves).  Loaded clean leaves are on the
 * container's LRU list; past the budget the least recently used ones are
 * evicted (map_cache_trim: at every lookup, after every change made under
 * the write lock, after every commit).  Dirty leaves cannot be evicted:
 * data.c commits when they pass the budget (map_cache_dirty_over), which
 * makes them clean.  A container keeps the leaf it used last, so a budget
 * of 1 byte means about one loaded leaf per container.
 *
 * Transitions: map_set / map_truncate (dirty the path, move references),
 * map_write_dirty (dirty -> written at new_phys), map_commit_done (new_phys
 * becomes phys, dirty cleared, on success only), map_load (clean tree from
 * disk, verified), map_free_tree.
 *
 * THREAD MODEL: lookups (map_lookup*, map_find, map_leaf_copy) need the
 * container lock in either mode; everything that changes a tree needs it in
 * write mode, except map_load by a lazy open's walk (container.c, "Lazy
 * open"), which holds load_mutex instead while lookups take cold_lookup,
 * which reads no tree in memory.  c->map_lock, a mutex, protects the LRU list and every leaf's
 * `entries`/`seals` pointers: loading a stub (several readers may race to
 * load the same leaf: the block is read outside the mutex, the first to
 * install wins) and evicting a leaf both happen under it.  A reader holding
 * only the read lock touches a leaf's entries only inside map_lock and
 * keeps no pointer into them afterwards, so it may trim (evict other
 * leaves) too.  A holder of the write lock may use a leaf's entries without
 * map_lock between leaf_load and the end of its operation: no other thread
 * holds the container lock, and this file trims only at the end of a
 * lookup, never between leaf_load and the use of the entries.  The walks
 * outside this file copy leaves out (map_leaf_copy).  Lock order: c->lock
 * before map_lock; map_lock is a leaf (no I/O and no other lock under it).
 * Budgets are shared across containers through an atomic counter only.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "crc32c.h"
#include "internal.h"
#include "io.h"

int u64_push(uint64_t **arr, size_t *num, size_t *cap, uint64_t v)
{
	if (*num == *cap) {
		size_t ncap = *cap ? *cap * 2 : 32;
		uint64_t *n = realloc(*arr, ncap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		*arr = n;
		*cap = ncap;
	}
	(*arr)[(*num)++] = v;
	return 0;
}

static uint64_t map_capacity(const struct container *c, unsigned height)
{
	uint64_t cap = 1;
	for (unsigned i = 0; i < height; i++) {
		if (cap > FORMAT_MAX_VCLUSTERS / c->fanout)
			return FORMAT_MAX_VCLUSTERS;
		cap *= c->fanout;
	}
	return cap;
}

/* The bytes a loaded leaf's arrays take (what the budget counts). */
static uint64_t leaf_bytes(const struct container *c)
{
	return (uint64_t)c->fanout *
	       (sizeof(struct map_entry) +
		(c->encrypted ? sizeof(struct map_seal) : 0));
}

/*
 * A leaf's arrays, zeroed.  Past LEAF_MMAP_MIN bytes (64 KiB clusters: 48 KB
 * of entries) they are mapped pages of their own, not heap: leaves are
 * loaded and evicted by whichever request thread needs them, and heap
 * chunks freed into one thread's malloc arena are not reused by another,
 * so the heap kept far more than the budget (122 MiB RSS for a 64 MiB
 * budget while writing); unmapped pages go back at once.
 */
#define LEAF_MMAP_MIN (32u << 10)

static void *leaf_array_new(size_t bytes)
{
	if (bytes < LEAF_MMAP_MIN)
		return calloc(1, bytes);
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void leaf_array_free(void *p, size_t bytes)
{
	if (!p)
		return;
	if (bytes < LEAF_MMAP_MIN)
		free(p);
	else
		munmap(p, bytes);
}

static size_t entries_bytes(const struct container *c)
{
	return (size_t)c->fanout * sizeof(struct map_entry);
}

static size_t seals_bytes(const struct container *c)
{
	return (size_t)c->fanout * sizeof(struct map_seal);
}

/* ---- cache (map_lock held by every function of this block) ------------ */

static void lru_unlink(struct container *c, struct map_node *n)
{
	if (!n->in_lru)
		return;
	if (n->lru_prev)
		n->lru_prev->lru_next = n->lru_next;
	else
		c->map_lru_head = n->lru_next;
	if (n->lru_next)
		n->lru_next->lru_prev = n->lru_prev;
	else
		c->map_lru_tail = n->lru_prev;
	n->lru_prev = n->lru_next = NULL;
	n->in_lru = false;
}

static void lru_push_head(struct container *c, struct map_node *n)
{
	lru_unlink(c, n);
	n->lru_next = c->map_lru_head;
	if (c->map_lru_head)
		c->map_lru_head->lru_prev = n;
	c->map_lru_head = n;
	if (!c->map_lru_tail)
		c->map_lru_tail = n;
	n->in_lru = true;
}

/* Drop a clean leaf's arrays: it becomes a stub again. */
static void leaf_evict(struct container *c, struct map_node *n)
{
	assert(n->level == 0 && !n->dirty && n->phys && n->entries);
	lru_unlink(c, n);
	if (!c->map_spare_entries) {
		c->map_spare_entries = n->entries;
		c->map_spare_seals = n->seals;
	} else {
		leaf_array_free(n->entries, entries_bytes(c));
		leaf_array_free(n->seals, seals_bytes(c));
	}
	n->entries = NULL;
	n->seals = NULL;
	atomic_fetch_sub(&c->map_budget->used, leaf_bytes(c));
}

/* Evict from the cold end until the budget holds, sparing `keep`. */
static void cache_trim_locked(struct container *c, const struct map_node *keep)
{
	struct map_node *n = c->map_lru_tail;
	while (n && atomic_load(&c->map_budget->used) > c->map_budget->limit) {
		struct map_node *prev = n->lru_prev;
		if (n != keep)
			leaf_evict(c, n);
		n = prev;
	}
}

struct map_budget *map_budget_new(uint64_t bytes)
{
	struct map_budget *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->limit = bytes ? bytes : MAP_CACHE_DEFAULT_BYTES;
	atomic_init(&b->used, 0);
	return b;
}

void map_budget_free(struct map_budget *budget)
{
	assert(!budget || atomic_load(&budget->used) == 0);
	free(budget);
}

void map_cache_init(struct container *c, struct map_budget *budget,
		    uint64_t limit)
{
	pthread_mutex_init(&c->map_lock, NULL);
	c->map_budget_own.limit = limit ? limit : MAP_CACHE_DEFAULT_BYTES;
	atomic_init(&c->map_budget_own.used, 0);
	c->map_budget = budget ? budget : &c->map_budget_own;
}

void map_cache_cleanup(struct container *c)
{
	assert(!c->map_lru_head);
	free(c->map_scratch_buf);
	free(c->map_scratch_entries);
	leaf_array_free(c->map_spare_entries, entries_bytes(c));
	leaf_array_free(c->map_spare_seals, seals_bytes(c));
	pthread_mutex_destroy(&c->map_lock);
}

void map_cache_trim(struct container *c)
{
	pthread_mutex_lock(&c->map_lock);
	cache_trim_locked(c, NULL);
	pthread_mutex_unlock(&c->map_lock);
}

bool map_cache_dirty_over(struct container *c)
{
	/* a floor of a few leaves: a tiny budget (tests) must not turn
	 * every write into a commit */
	uint64_t floor = 8 * leaf_bytes(c);
	uint64_t limit = c->map_budget->limit;
	return c->map_dirty_bytes > (limit > floor ? limit : floor);
}

/* ---- nodes --------------------------------------------------------------- */

static struct map_node *node_new(struct container *c, uint64_t owner,
				 uint16_t level, uint64_t index)
{
	struct map_node *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->level = level;
	n->index = index;
	n->owner = owner;
	n->dirty = true;
	if (level == 0)
		n->entries = leaf_array_new(entries_bytes(c));
	else
		n->children = calloc(c->fanout, sizeof(*n->children));
	if (level == 0 && c->encrypted)
		n->seals = leaf_array_new(seals_bytes(c));
	if ((!n->entries && !n->children) ||
	    (level == 0 && c->encrypted && !n->seals)) {
		if (level == 0)
			leaf_array_free(n->entries, entries_bytes(c));
		free(n->children);
		leaf_array_free(n->seals, seals_bytes(c));
		free(n);
		return NULL;
	}
	if (level == 0) {
		atomic_fetch_add(&c->map_budget->used, leaf_bytes(c));
		c->map_dirty_bytes += leaf_bytes(c);
	}
	return n;
}

/* Read, verify and decode the stub `n`'s block into fresh arrays. */
static int node_read(struct container *c, uint64_t owner, uint64_t phys,
		     uint32_t crc, const struct map_seal *seal, uint16_t level,
		     uint64_t index, uint64_t file_size, uint8_t *buf,
		     struct map_entry *entries, struct map_seal *seals,
		     const char **why);

static int leaf_read_buf(struct container *c, const struct map_node *n,
			 uint8_t *buf, struct map_entry *entries,
			 struct map_seal *seals)
{
	uint64_t file_size;
	const char *why;
	int ret = io_size(c->io, &file_size);
	if (ret)
		return ret;
	return node_read(c, n->owner, n->phys, n->crc, &n->seal, 0, n->index,
			 file_size, buf, entries, seals, &why);
}

static int leaf_read(struct container *c, const struct map_node *n,
		     struct map_entry *entries, struct map_seal *seals)
{
	uint8_t *buf = malloc(c->node_size);
	if (!buf)
		return -ENOMEM;
	int ret = leaf_read_buf(c, n, buf, entries, seals);
	free(buf);
	return ret;
}

int map_scratch_ensure(struct container *c)
{
	if (c->map_scratch_buf)
		return 0;
	uint8_t *buf = malloc(c->node_size);
	struct map_entry *e = malloc(c->fanout * sizeof(*e));
	if (!buf || !e) {
		free(buf);
		free(e);
		return -ENOMEM;
	}
	c->map_scratch_buf = buf;
	c->map_scratch_entries = e;
	return 0;
}

/*
 * Make leaf `n`'s entries resident and return with c->map_lock held (on
 * success only).  The block is read outside the lock: a stub's phys, crc
 * and seal change only under the write lock, so a racing loader of the
 * same leaf reads the same bytes, and the first to install wins.  No
 * allocator reference is taken: the committed leaf has held them since
 * the open (invariant 3).
 */
static int leaf_acquire(struct container *c, struct map_node *n)
{
	assert(n->level == 0);
	pthread_mutex_lock(&c->map_lock);
	if (n->entries)
		return 0;
	assert(!n->dirty && n->phys);
	/* the last evicted leaf's arrays if any (every entry is decoded
	 * again into them), else new ones */
	struct map_entry *entries = c->map_spare_entries;
	struct map_seal *seals = c->map_spare_seals;
	c->map_spare_entries = NULL;
	c->map_spare_seals = NULL;
	pthread_mutex_unlock(&c->map_lock);
	if (!entries) {
		entries = leaf_array_new(entries_bytes(c));
		seals = c->encrypted ? leaf_array_new(seals_bytes(c)) : NULL;
	}
	int ret = -ENOMEM;
	if (entries && (seals || !c->encrypted))
		ret = leaf_read(c, n, entries, seals);
	if (ret) {
		leaf_array_free(entries, entries_bytes(c));
		leaf_array_free(seals, seals_bytes(c));
		return ret;
	}
	pthread_mutex_lock(&c->map_lock);
	if (n->entries) {
		leaf_array_free(entries, entries_bytes(c));
		leaf_array_free(seals, seals_bytes(c));
		return 0;
	}
	n->entries = entries;
	n->seals = seals;
	atomic_fetch_add(&c->map_budget->used, leaf_bytes(c));
	lru_push_head(c, n);
	return 0;
}

/* The end of a use of leaf `n` begun by leaf_acquire: it becomes the most
 * recently used; with `trim` (the caller keeps no pointer into any leaf),
 * the cache is trimmed to the budget. */
static void leaf_release(struct container *c, struct map_node *n, bool trim)
{
	if (n->in_lru)
		lru_push_head(c, n);
	if (trim)
		cache_trim_locked(c, n);
	pthread_mutex_unlock(&c->map_lock);
}

/* Write lock held: make leaf `n` resident for a change or a release of
 * its entries (nothing evicts it until the write lock is dropped). */
static int leaf_load(struct container *c, struct map_node *n)
{
	int ret = leaf_acquire(c, n);
	if (!ret)
		leaf_release(c, n, false);
	return ret;
}

int map_leaf_copy(struct container *c, const struct map_node *n,
		  struct map_entry *entries, struct map_seal *seals)
{
	assert(n->level == 0);
	pthread_mutex_lock(&c->map_lock);
	if (n->entries) {
		memcpy(entries, n->entries, c->fanout * sizeof(*entries));
		if (seals && c->encrypted)
			memcpy(seals, n->seals, c->fanout * sizeof(*seals));
		pthread_mutex_unlock(&c->map_lock);
		return 0;
	}
	pthread_mutex_unlock(&c->map_lock);
	return leaf_read(c, n, entries, c->encrypted ? seals : NULL);
}

static void node_make_dirty(struct container *c, struct map_node *n)
{
	if (n->dirty)
		return;
	if (n->phys)
		alloc_node_unref(&c->alloc, slot_of(c, n->phys));
	if (n->level == 0) {
		/* loaded first by every caller (leaf_load) */
		assert(n->entries);
		pthread_mutex_lock(&c->map_lock);
		lru_unlink(c, n);
		pthread_mutex_unlock(&c->map_lock);
		c->map_dirty_bytes += leaf_bytes(c);
	}
	n->dirty = true;
	c->txn_dirty = true;
}

void map_entry_release(struct container *c, struct object *o,
		       const struct map_entry *e)
{
	if (e->kind == MAP_KIND_RAW || e->kind == MAP_KIND_COMPRESSED) {
		alloc_unref(&c->alloc, cluster_of(c, e->offset));
		o->stored_bytes -= e->length;
	}
}

int map_lookup(struct container *c, struct object *o, uint64_t vc,
	       struct map_entry *out_entry)
{
	return map_lookup_seal(c, o, vc, out_entry, NULL);
}

/*
 * A lookup in a lazily opened container whose trees are not walked yet
 * (container.c, "Lazy open"): down from the record's root straight through
 * the committed blocks, each read and verified against its parent's crc
 * and seal exactly as a stub leaf is (node_read), none kept.  Runs under
 * the read lock beside the loader, so it touches nothing the loader
 * writes: only the frozen_* fields, which change under the write lock.
 */
static int cold_lookup(struct container *c, const struct object *o, uint64_t vc,
		       struct map_entry *out_entry, struct map_seal *out_seal)
{
	uint64_t phys = o->frozen_root, index = 0, file_size;
	uint32_t crc = o->frozen_crc;
	struct map_seal seal = o->frozen_seal;
	const char *why;
	int ret;

	if (!phys || vc >= map_capacity(c, o->frozen_height))
		return 0;
	ret = io_size(c->io, &file_size);
	if (ret)
		return ret;
	uint8_t *buf = malloc(c->node_size);
	struct map_entry *entries = malloc(c->fanout * sizeof(*entries));
	struct map_seal *seals =
		c->encrypted ? malloc(c->fanout * sizeof(*seals)) : NULL;
	ret = -ENOMEM;
	if (!buf || !entries || (c->encrypted && !seals))
		goto out;
	for (uint16_t level = (uint16_t)(o->frozen_height - 1);; level--) {
		const uint64_t span = map_capacity(c, level);
		const uint64_t i = (vc - index) / span;
		ret = node_read(c, o->id, phys, crc, &seal, level, index,
				file_size, buf, entries, seals, &why);
		if (ret || entries[i].kind == MAP_KIND_HOLE)
			break;
		if (level == 0) {
			*out_entry = entries[i];
			if (out_seal && seals)
				*out_seal = seals[i];
			break;
		}
		phys = entries[i].offset;
		crc = entries[i].crc;
		if (seals)
			seal = seals[i];
		index += i * span;
	}
out:
	free(buf);
	free(entries);
	free(seals);
	return ret;
}

int map_lookup_seal(struct container *c, struct object *o, uint64_t vc,
		    struct map_entry *out_entry, struct map_seal *out_seal)
{
	memset(out_entry, 0, sizeof(*out_entry));
	if (out_seal)
		memset(out_seal, 0, sizeof(*out_seal));
	if (!atomic_load_explicit(&c->maps_loaded, memory_order_relaxed))
		return cold_lookup(c, o, vc, out_entry, out_seal);
	struct map_node *n = o->root;
	if (!n || vc >= map_capacity(c, o->height))
		return 0;
	while (n) {
		uint64_t span = map_capacity(c, n->level);
		uint64_t i = (vc - n->index) / span;
		assert(i < c->fanout);
		if (n->level == 0) {
			int ret = leaf_acquire(c, n);
			if (ret)
				return ret;
			*out_entry = n->entries[i];
			if (out_seal && n->seals)
				*out_seal = n->seals[i];
			leaf_release(c, n, true);
			return 0;
		}
		n = n->children[i];
	}
	return 0;
}

static int map_grow(struct container *c, struct object *o, uint64_t vc)
{
	int ret = map_scratch_ensure(c);
	if (ret)
		return ret;
	if (!o->root) {
		o->height = 1;
		while (vc >= map_capacity(c, o->height))
			o->height++;
		o->root = node_new(c, o->id, (uint16_t)(o->height - 1), 0);
		if (!o->root)
			return -ENOMEM;
		o->dirty = true;
		c->txn_dirty = true;
		return 0;
	}
	while (vc >= map_capacity(c, o->height)) {
		if (o->height >= FORMAT_MAX_HEIGHT)
			return -EFBIG;
		struct map_node *r = node_new(c, o->id, (uint16_t)o->height, 0);
		if (!r)
			return -ENOMEM;
		r->children[0] = o->root;
		o->root = r;
		o->height++;
		o->dirty = true;
		c->txn_dirty = true;
	}
	return 0;
}

int map_set(struct container *c, struct object *o, uint64_t vc,
	    const struct map_entry *entry, struct map_entry *out_old)
{
	return map_set_sealed(c, o, vc, entry, NULL, out_old);
}

int map_set_sealed(struct container *c, struct object *o, uint64_t vc,
		   const struct map_entry *entry, const struct map_seal *seal,
		   struct map_entry *out_old)
{
	int ret;

	if (vc >= FORMAT_MAX_VCLUSTERS)
		return -EFBIG;
	if (entry->kind == MAP_KIND_HOLE) {
		/* Setting a hole where the tree has nothing is a no-op. */
		struct map_entry cur;
		map_lookup(c, o, vc, &cur);
		if (cur.kind == MAP_KIND_HOLE) {
			if (out_old)
				*out_old = cur;
			return 0;
		}
	}
	ret = map_grow(c, o, vc);
	if (ret)
		return ret;
	/* the leaf is loaded before anything is dirtied: a leaf that cannot
	 * be read changes nothing */
	struct map_node *n = o->root;
	while (n && n->level > 0)
		n = n->children[(vc - n->index) / map_capacity(c, n->level)];
	if (n) {
		ret = leaf_load(c, n);
		if (ret)
			return ret;
	}
	n = o->root;
	for (;;) {
		node_make_dirty(c, n);
		uint64_t span = map_capacity(c, n->level);
		uint64_t i = (vc - n->index) / span;
		if (n->level == 0) {
			if (out_old)
				*out_old = n->entries[i];
			n->entries[i] = *entry;
			if (n->seals) {
				if (seal)
					n->seals[i] = *seal;
				else
					memset(&n->seals[i], 0,
					       sizeof(n->seals[i]));
			}
			o->dirty = true;
			if (entry->kind == MAP_KIND_RAW ||
			    entry->kind == MAP_KIND_COMPRESSED)
				o->stored_bytes += entry->length;
			return 0;
		}
		if (!n->children[i]) {
			n->children[i] =
				node_new(c, o->id, (uint16_t)(n->level - 1),
					 n->index + i * span);
			if (!n->children[i])
				return -ENOMEM;
		}
		n = n->children[i];
	}
}

/* Release a whole subtree: every entry's storage (with `unref`: a stub is
 * read to know what its entries hold) and every node.  A leaf that cannot
 * be read keeps its entries' references (leaked until the next open, never
 * handed out twice) and its error is returned. */
static int subtree_free(struct container *c, struct object *o,
			struct map_node *n, bool unref)
{
	int ret = 0;

	if (!n)
		return 0;
	if (n->level == 0) {
		/* an unloaded leaf is read into the scratch leaf, which
		 * exists since the tree does: only I/O can fail here */
		const struct map_entry *ents = n->entries;
		if (unref && !ents) {
			ret = map_scratch_ensure(c);
			if (!ret)
				ret = leaf_read_buf(c, n, c->map_scratch_buf,
						    c->map_scratch_entries,
						    NULL);
			ents = ret ? NULL : c->map_scratch_entries;
		}
		if (unref && ents)
			for (uint32_t i = 0; i < c->fanout; i++)
				map_entry_release(c, o, &ents[i]);
		pthread_mutex_lock(&c->map_lock);
		lru_unlink(c, n);
		if (n->entries)
			atomic_fetch_sub(&c->map_budget->used, leaf_bytes(c));
		pthread_mutex_unlock(&c->map_lock);
		if (n->dirty)
			c->map_dirty_bytes -= leaf_bytes(c);
		leaf_array_free(n->entries, entries_bytes(c));
		leaf_array_free(n->seals, seals_bytes(c));
	} else {
		for (uint32_t i = 0; i < c->fanout; i++) {
			int r = subtree_free(c, o, n->children[i], unref);
			ret = ret ? ret : r;
		}
		free(n->children);
	}
	if (unref && !n->dirty && n->phys)
		alloc_node_unref(&c->alloc, slot_of(c, n->phys));
	free(n);
	return ret;
}

void map_free_tree(struct container *c, struct object *o, bool unref)
{
	int ret = subtree_free(c, o, o->root, unref);
	o->root = NULL;
	o->height = 0;
	if (unref) {
		o->dirty = true;
		c->txn_dirty = true;
	}
	/* references a leaf that could not be read still holds: this
	 * transaction's accounting is off, so it must never commit */
	if (ret) {
		c->map_refs_lost = true;
		if (!c->poisoned)
			c->poisoned = ret;
	}
}

void map_unload_tree(struct container *c, struct object *o)
{
	pthread_mutex_lock(&c->map_lock);
	struct map_node *n = c->map_lru_head;
	while (n) {
		struct map_node *next = n->lru_next;
		if (n->owner == o->id)
			leaf_evict(c, n);
		n = next;
	}
	pthread_mutex_unlock(&c->map_lock);
}

/* Unmap everything at or past `limit` under `n`; true if `n` is now gone. */
static bool node_truncate(struct container *c, struct object *o,
			  struct map_node *n, uint64_t limit, int *err)
{
	if (n->index >= limit) {
		int ret = subtree_free(c, o, n, true);
		*err = *err ? *err : ret;
		return true;
	}
	uint64_t span = map_capacity(c, n->level);
	if (n->index + span * c->fanout <= limit)
		return false;
	if (n->level == 0) {
		int ret = leaf_load(c, n);
		if (ret) {
			*err = *err ? *err : ret;
			return false;
		}
	}
	node_make_dirty(c, n);
	for (uint32_t i = 0; i < c->fanout; i++) {
		uint64_t start = n->index + i * span;
		if (n->level == 0) {
			if (start >= limit &&
			    n->entries[i].kind != MAP_KIND_HOLE) {
				map_entry_release(c, o, &n->entries[i]);
				memset(&n->entries[i], 0,
				       sizeof(n->entries[i]));
				if (n->seals)
					memset(&n->seals[i], 0,
					       sizeof(n->seals[i]));
			}
		} else if (n->children[i] && start + span > limit) {
			if (node_truncate(c, o, n->children[i], limit, err))
				n->children[i] = NULL;
		}
	}
	return false;
}

int map_truncate(struct container *c, struct object *o, uint64_t vclusters)
{
	if (!o->root)
		return 0;
	if (vclusters == 0) {
		map_free_tree(c, o, true);
		return 0;
	}
	if (vclusters >= map_capacity(c, o->height))
		return 0;
	/* the one leaf cut in two is loaded before anything changes */
	struct map_node *n = o->root;
	while (n && n->level > 0)
		n = n->children[(vclusters - n->index) /
				map_capacity(c, n->level)];
	if (n && vclusters > n->index) {
		int ret = leaf_load(c, n);
		if (ret)
			return ret;
	}
	int err = 0;
	node_truncate(c, o, o->root, vclusters, &err);
	o->dirty = true;
	/* a leaf that could not be read is left as it was; a freed subtree
	 * with one may leak references: never commit that */
	if (err) {
		c->map_refs_lost = true;
		if (!c->poisoned)
			c->poisoned = err;
	}
	return err;
}

static bool entry_is_data(const struct map_entry *e)
{
	return e->kind == MAP_KIND_RAW || e->kind == MAP_KIND_COMPRESSED;
}

/* 1 found, 0 not under `n`, or a negative errno (a leaf unreadable). */
static int node_find(struct container *c, struct map_node *n, uint64_t vc,
		     bool data, uint64_t *out_vc)
{
	uint64_t span = map_capacity(c, n->level);
	uint64_t i = vc > n->index ? (vc - n->index) / span : 0;
	if (n->level == 0) {
		int ret = leaf_acquire(c, n);
		if (ret)
			return ret;
		for (; i < c->fanout; i++)
			if (entry_is_data(&n->entries[i]) == data)
				break;
		leaf_release(c, n, true);
		if (i == c->fanout)
			return 0;
		uint64_t start = n->index + i;
		*out_vc = vc > start ? vc : start;
		return 1;
	}
	for (; i < c->fanout; i++) {
		uint64_t start = n->index + i * span;
		uint64_t from = vc > start ? vc : start;
		if (!n->children[i]) {
			if (!data) {
				*out_vc = from;
				return 1;
			}
			continue;
		}
		int ret = node_find(c, n->children[i], from, data, out_vc);
		if (ret)
			return ret;
	}
	return 0;
}

int map_find(struct container *c, struct object *o, uint64_t vc, bool data,
	     uint64_t *out_vc)
{
	assert(atomic_load(&c->maps_loaded)); /* container_rdlock_maps */
	uint64_t cap = map_capacity(c, o->height);
	if (!o->root || vc >= cap) {
		if (data)
			return -ENXIO;
		*out_vc = vc;
		return 0;
	}
	int ret = node_find(c, o->root, vc, data, out_vc);
	if (ret < 0)
		return ret;
	if (ret)
		return 0;
	if (data)
		return -ENXIO;
	*out_vc = cap;
	return 0;
}

static void map_entry_encode(const struct container *c, uint8_t *p,
			     const struct map_entry *e,
			     const struct map_seal *seal)
{
	memset(p, 0, c->entry_size);
	le64_put(p + ME_OFF_OFFSET, e->offset);
	le32_put(p + ME_OFF_LENGTH, e->length);
	le32_put(p + ME_OFF_CRC, e->crc);
	le16_put(p + ME_OFF_KIND, e->kind);
	if (c->encrypted && seal) {
		le64_put(p + ME_OFF_BIRTH, seal->birth);
		memcpy(p + ME_OFF_NONCE, seal->nonce, 12);
		memcpy(p + ME_OFF_TAG, seal->tag, 16);
	}
}

static int map_entry_decode(const struct container *c, const uint8_t *p,
			    uint64_t file_size, struct map_entry *out,
			    struct map_seal *out_seal)
{
	out->offset = le64_get(p + ME_OFF_OFFSET);
	out->length = le32_get(p + ME_OFF_LENGTH);
	out->crc = le32_get(p + ME_OFF_CRC);
	out->kind = le16_get(p + ME_OFF_KIND);
	memset(out_seal, 0, sizeof(*out_seal));
	if (c->encrypted) {
		out_seal->birth = le64_get(p + ME_OFF_BIRTH);
		memcpy(out_seal->nonce, p + ME_OFF_NONCE, 12);
		memcpy(out_seal->tag, p + ME_OFF_TAG, 16);
		for (unsigned i = 18; i < ME_OFF_BIRTH; i++)
			if (p[i])
				return -EUCLEAN;
		for (unsigned i = ME_OFF_TAG + 16; i < c->entry_size; i++)
			if (p[i])
				return -EUCLEAN;
	} else {
		for (unsigned i = 18; i < MAP_ENTRY_SIZE; i++)
			if (p[i])
				return -EUCLEAN;
	}
	switch (out->kind) {
	case MAP_KIND_HOLE:
	case MAP_KIND_ZERO:
		if (out->offset || out->length || out->crc ||
		    !map_seal_is_zero(out_seal))
			return -EUCLEAN;
		return 0;
	case MAP_KIND_RAW:
		if (out->length != c->cluster_size ||
		    (out->offset & (c->cluster_size - 1)) || out->crc)
			return -EUCLEAN;
		if (c->encrypted && out_seal->birth == 0)
			return -EUCLEAN;
		break;
	case MAP_KIND_NODE:
		if (out->length != c->node_size ||
		    (out->offset & (c->node_size - 1)))
			return -EUCLEAN;
		if (c->encrypted && out_seal->birth == 0)
			return -EUCLEAN;
		break;
	case MAP_KIND_COMPRESSED:
		if (out->length == 0 || out->length >= c->cluster_size ||
		    (out->offset & (FORMAT_SECTOR_SIZE - 1)))
			return -EUCLEAN;
		/* an extent never crosses a cluster boundary */
		if (cluster_of(c, out->offset) !=
		    cluster_of(c, out->offset + out->length - 1))
			return -EUCLEAN;
		if (c->encrypted && out_seal->birth == 0)
			return -EUCLEAN;
		break;
	default:
		return -EUCLEAN;
	}
	if (cluster_of(c, out->offset) < c->first_cluster ||
	    out->offset + out->length > file_size ||
	    out->offset + out->length < out->offset)
		return -EUCLEAN;
	return 0;
}

static int map_block_verify(const struct container *c, const uint8_t *block,
			    uint32_t expect_crc, uint64_t owner, uint16_t level,
			    uint64_t index)
{
	uint32_t stored = le32_get(block + BH_OFF_CRC);
	if (stored != expect_crc)
		return -EBADMSG;
	uint8_t zero[4] = {0};
	uint32_t crc = crc32c(0, block, BH_OFF_CRC);
	crc = crc32c(crc, zero, 4);
	crc = crc32c(crc, block + BH_OFF_CRC + 4,
		     c->node_size - BH_OFF_CRC - 4);
	if (crc != stored)
		return -EBADMSG;
	if (le32_get(block + BH_OFF_MAGIC) != BLOCK_MAGIC_MAP_NODE ||
	    le64_get(block + BH_OFF_OWNER) != owner ||
	    le16_get(block + BH_OFF_LEVEL) != level ||
	    le64_get(block + BH_OFF_INDEX) != index)
		return -EUCLEAN;
	return 0;
}

void block_header_finish(uint8_t *block, uint32_t size)
{
	le32_put(block + BH_OFF_CRC, 0);
	le32_put(block + BH_OFF_CRC, crc32c(0, block, size));
}

struct load_ctx {
	struct container *c;
	struct object *o;
	uint64_t file_size;
	struct load_diag *diag;
	uint8_t *buf;
	uint64_t stored;
};

static int load_fail(struct load_ctx *l, int err, const char *what,
		     uint64_t where)
{
	if (l->diag && !l->diag->message[0])
		snprintf(l->diag->message, sizeof(l->diag->message),
			 "object %s (id %llu): %s at offset %llu",
			 l->o->name ? l->o->name : "(orphan)",
			 (unsigned long long)l->o->id, what,
			 (unsigned long long)where);
	return err;
}

/* Reference a data cluster found in the tree (`packed` if compressed).
 * Shared use only between compressed extents, and between RAW entries when
 * the container has FEATURE_INCOMPAT_SHARED_EXTENTS; anything else
 * referenced twice -- data in a metadata cluster, RAW that is also packed --
 * is corruption.  (Nodes: alloc_node_ref.) */
static int load_ref(struct load_ctx *l, uint64_t n, bool packed)
{
	struct alloc *a = &l->c->alloc;
	if (n < a->capacity && (a->bits[n] & CLUSTER_META))
		return -EUCLEAN; /* metadata is never data */
	if (n < a->capacity && a->refs[n] > 0) {
		bool is_packed = a->bits[n] & CLUSTER_PACKED;
		bool is_data = a->bits[n] & CLUSTER_DATA;
		bool shared_raw = l->c->shared_extents && !packed &&
				  !is_packed && is_data;
		if (!((packed && is_packed) || shared_raw))
			return -EUCLEAN;
	}
	int ret = alloc_ref(a, n);
	if (ret)
		return ret;
	a->bits[n] |= CLUSTER_COMMITTED | CLUSTER_DATA |
		      (packed ? CLUSTER_PACKED : 0);
	return 0;
}

/* Read, authenticate and verify the node at `phys`, and decode its entries;
 * *why says what failed. */
static int node_read(struct container *c, uint64_t owner, uint64_t phys,
		     uint32_t crc, const struct map_seal *seal, uint16_t level,
		     uint64_t index, uint64_t file_size, uint8_t *buf,
		     struct map_entry *entries, struct map_seal *seals,
		     const char **why)
{
	int ret;

	*why = "map node out of bounds";
	if (!node_in_bounds(c, phys, file_size))
		return -EUCLEAN;
	*why = "cannot read map node";
	ret = io_pread(c->io, buf, c->node_size, phys);
	if (ret)
		return ret;
	uint32_t expect = crc;
	if (c->encrypted) {
		/* The parent holds the ciphertext's crc and the seal; once
		 * opened, the node checks its own crc and header. */
		*why = "map node authentication failed";
		if (crc32c(0, buf, c->node_size) != crc ||
		    crypt_open(c, CRYPTO_AAD_MAP_NODE, level, owner, index,
			       seal, buf, c->node_size) != 0)
			return -EBADMSG;
		expect = le32_get(buf + BH_OFF_CRC);
		*why = "map node generation mismatch";
		if (le64_get(buf + BH_OFF_GENERATION) != seal->birth)
			return -EUCLEAN;
	}
	ret = map_block_verify(c, buf, expect, owner, level, index);
	if (ret) {
		*why = ret == -EBADMSG ? "map node checksum mismatch"
				       : "map node header invalid";
		return ret;
	}
	struct map_seal unused;
	for (uint32_t i = 0; i < c->fanout; i++) {
		*why = "invalid map entry";
		ret = map_entry_decode(
			c, buf + BLOCK_HEADER_SIZE + (size_t)i * c->entry_size,
			file_size, &entries[i], seals ? &seals[i] : &unused);
		if (ret)
			return ret;
		bool leaf_kind = entries[i].kind != MAP_KIND_NODE;
		*why = "entry kind vs level";
		if (entries[i].kind != MAP_KIND_HOLE &&
		    leaf_kind != (level == 0))
			return -EUCLEAN;
	}
	return 0;
}

int map_node_read(struct container *c, uint64_t owner, uint64_t phys,
		  uint32_t crc, const struct map_seal *seal, uint16_t level,
		  uint64_t index, uint8_t *buf, struct map_entry *entries,
		  struct map_seal *seals)
{
	uint64_t file_size;
	const char *why;
	int ret = io_size(c->io, &file_size);
	if (ret)
		return ret;
	return node_read(c, owner, phys, crc, seal, level, index, file_size,
			 buf, entries, seals, &why);
}

static int load_node(struct load_ctx *l, uint64_t phys, uint32_t crc,
		     const struct map_seal *seal, uint16_t level,
		     uint64_t index, struct map_node **out)
{
	struct container *c = l->c;
	/* a snapshot view holds no allocator references: the parent's
	 * snapshot accounting keeps its clusters (snapshot.c) */
	const bool refs = !c->view_parent;
	const char *why;
	int ret;

	if (!node_in_bounds(c, phys, l->file_size))
		return load_fail(l, -EUCLEAN, "map node out of bounds", phys);
	if (refs) {
		/* a node of the live trees has one parent: met twice is a
		 * cycle or a shared subtree, and a node in a data cluster
		 * is corruption too (alloc_node_ref) */
		ret = alloc_node_refs(&c->alloc, slot_of(c, phys)) > 0
			      ? -EUCLEAN
			      : alloc_node_ref(&c->alloc, slot_of(c, phys),
					       true);
		if (ret)
			return load_fail(l, ret, "map node referenced twice",
					 phys);
	}
	/* Decode all entries first: the buffer is reused by the children. */
	struct map_entry *tmp = malloc(c->fanout * sizeof(*tmp));
	struct map_seal *tseal = malloc(c->fanout * sizeof(*tseal));
	if (!tmp || !tseal) {
		ret = -ENOMEM;
		goto out_free;
	}
	ret = node_read(c, l->o->id, phys, crc, seal, level, index,
			l->file_size, l->buf, tmp, tseal, &why);
	if (ret) {
		ret = load_fail(l, ret, why, phys);
		goto out_free;
	}
	/* A leaf stays loaded only while the budget has room: otherwise it
	 * is a stub, read again (and verified again) when first used. */
	const bool stub = level == 0 &&
			  atomic_load(&c->map_budget->used) + leaf_bytes(c) >
				  c->map_budget->limit;
	struct map_node *n = stub ? calloc(1, sizeof(*n))
				  : node_new(c, l->o->id, level, index);
	if (!n) {
		ret = -ENOMEM;
		goto out_free;
	}
	n->level = level;
	n->index = index;
	n->owner = l->o->id;
	if (level == 0 && !stub) {
		c->map_dirty_bytes -= leaf_bytes(c); /* node_new's */
		pthread_mutex_lock(&c->map_lock);
		lru_push_head(c, n);
		pthread_mutex_unlock(&c->map_lock);
	}
	n->dirty = false;
	n->phys = phys;
	n->crc = crc;
	if (c->encrypted)
		n->seal = *seal;
	*out = n;
	uint64_t span = map_capacity(c, level);
	for (uint32_t i = 0; i < c->fanout; i++) {
		const struct map_entry *e = &tmp[i];
		if (level == 0) {
			if (n->entries)
				n->entries[i] = *e;
			if (n->seals)
				n->seals[i] = tseal[i];
			if (e->kind == MAP_KIND_RAW ||
			    e->kind == MAP_KIND_COMPRESSED) {
				ret = refs ? load_ref(
						     l,
						     cluster_of(c, e->offset),
						     e->kind ==
							     MAP_KIND_COMPRESSED)
					   : 0;
				if (ret) {
					ret = load_fail(l, ret,
							"cluster referenced "
							"twice",
							e->offset);
					goto out_free;
				}
				l->stored += e->length;
			}
		} else if (e->kind == MAP_KIND_NODE) {
			ret = load_node(l, e->offset, e->crc, &tseal[i],
					(uint16_t)(level - 1), index + i * span,
					&n->children[i]);
			if (ret)
				goto out_free;
		}
	}
	ret = 0;
out_free:
	free(tmp);
	free(tseal);
	return ret;
}

int map_load(struct container *c, struct object *o, uint64_t root,
	     uint32_t root_crc, const struct map_seal *root_seal,
	     unsigned height, struct load_diag *diag)
{
	struct load_ctx l = {.c = c, .o = o, .diag = diag};
	int ret;

	o->root = NULL;
	o->height = 0;
	if (!root) {
		if (height != 0 || o->stored_bytes != 0 ||
		    !map_seal_is_zero(root_seal))
			return -EUCLEAN;
		return 0;
	}
	if (height == 0 || height > FORMAT_MAX_HEIGHT)
		return load_fail(&l, -EUCLEAN, "bad map height", root);
	ret = map_scratch_ensure(c);
	if (ret)
		return ret;
	ret = io_size(c->io, &l.file_size);
	if (ret)
		return ret;
	l.buf = malloc(c->node_size);
	if (!l.buf)
		return -ENOMEM;
	o->height = height;
	ret = load_node(&l, root, root_crc, root_seal, (uint16_t)(height - 1),
			0, &o->root);
	free(l.buf);
	if (ret)
		return ret;
	if (l.stored != o->stored_bytes)
		return load_fail(&l, -EUCLEAN, "stored bytes mismatch", root);
	return 0;
}

/* Write every dirty node of the subtree (children first). */
static int node_write(struct container *c, struct object *o, struct map_node *n,
		      uint8_t *buf, uint64_t generation, uint64_t **meta_new,
		      size_t *num, size_t *cap)
{
	int ret;
	uint32_t used = 0;

	if (!n->dirty)
		return 0;
	if (n->level > 0)
		for (uint32_t i = 0; i < c->fanout; i++)
			if (n->children[i]) {
				ret = node_write(c, o, n->children[i], buf,
						 generation, meta_new, num,
						 cap);
				if (ret)
					return ret;
			}
	uint64_t slot;
	ret = alloc_node_get(&c->alloc, &slot);
	if (ret)
		return ret;
	ret = u64_push(meta_new, num, cap, slot);
	if (ret) {
		alloc_node_unref(&c->alloc, slot);
		return ret;
	}
	memset(buf, 0, c->node_size);
	le32_put(buf + BH_OFF_MAGIC, BLOCK_MAGIC_MAP_NODE);
	le64_put(buf + BH_OFF_GENERATION, generation);
	le64_put(buf + BH_OFF_OWNER, o->id);
	le64_put(buf + BH_OFF_INDEX, n->index);
	le16_put(buf + BH_OFF_LEVEL, n->level);
	for (uint32_t i = 0; i < c->fanout; i++) {
		uint8_t *p =
			buf + BLOCK_HEADER_SIZE + (size_t)i * c->entry_size;
		struct map_entry e = {0};
		const struct map_seal *seal = NULL;
		if (n->level == 0) {
			e = n->entries[i];
			seal = n->seals ? &n->seals[i] : NULL;
		} else if (n->children[i]) {
			struct map_node *ch = n->children[i];
			e.kind = MAP_KIND_NODE;
			e.length = c->node_size;
			e.offset = ch->dirty ? ch->new_phys : ch->phys;
			e.crc = ch->dirty ? ch->new_crc : ch->crc;
			seal = ch->dirty ? &ch->new_seal : &ch->seal;
		}
		if (e.kind != MAP_KIND_HOLE)
			used++;
		map_entry_encode(c, p, &e, seal);
	}
	le32_put(buf + BH_OFF_USED, used);
	block_header_finish(buf, c->node_size);
	n->new_phys = slot << c->node_shift;
	n->new_crc = le32_get(buf + BH_OFF_CRC);
	if (c->encrypted) {
		ret = crypt_seal(c, CRYPTO_AAD_MAP_NODE, n->level, o->id,
				 n->index, generation, buf, c->node_size,
				 &n->new_seal);
		if (ret)
			return ret;
		n->new_crc = crc32c(0, buf, c->node_size);
	}
	return io_pwrite(c->io, buf, c->node_size, n->new_phys);
}

int map_write_dirty(struct container *c, struct object *o, uint64_t **meta_new,
		    size_t *meta_new_num, size_t *meta_new_cap)
{
	if (!o->root || !o->root->dirty)
		return 0;
	uint8_t *buf = malloc(c->node_size);
	if (!buf)
		return -ENOMEM;
	int ret = node_write(c, o, o->root, buf, c->generation + 1, meta_new,
			     meta_new_num, meta_new_cap);
	free(buf);
	return ret;
}

static void node_commit_done(struct container *c, struct map_node *n)
{
	if (!n || !n->dirty)
		return;
	if (n->level > 0)
		for (uint32_t i = 0; i < c->fanout; i++)
			node_commit_done(c, n->children[i]);
	n->phys = n->new_phys;
	n->crc = n->new_crc;
	n->seal = n->new_seal;
	n->dirty = false;
	if (n->level == 0) {
		/* clean now: evictable, and read back from new_phys */
		c->map_dirty_bytes -= leaf_bytes(c);
		pthread_mutex_lock(&c->map_lock);
		lru_push_head(c, n);
		pthread_mutex_unlock(&c->map_lock);
	}
}

void map_commit_done(struct container *c, struct object *o)
{
	node_commit_done(c, o->root);
}
