/*
 * alloc.c -- the transactional cluster allocator.
 *
 * Design notes.  Nothing on disk records free space: a cluster is in use
 * exactly when the committed tree references it, so the allocator is rebuilt
 * at open by walking the tree (container_load) and is never persisted.  That
 * makes a leaked cluster impossible by construction: there is no refcount on
 * disk that a crash could leave too high.
 *
 * In memory each cluster has a reference count for the open transaction's
 * state (`refs`) and a CLUSTER_COMMITTED bit for the last committed state.
 *
 * Invariants (checked by alloc_invariants in debug builds):
 *   1. alloc_get only returns a cluster with refs == 0 and !COMMITTED:
 *      free in the committed state AND not allocated in the open
 *      transaction.  So the committed tree is never overwritten by new
 *      allocations (docs/design.md, invariant 3).
 *   2. A cluster freed in the open transaction (refs drops to 0) keeps
 *      COMMITTED until alloc_commit: it becomes reusable only after the
 *      transaction that freed it committed.
 *   3. `used` == number of clusters with refs > 0.
 *   4. Every cluster whose refs changed since the last alloc_commit is in
 *      `touched` exactly once (CLUSTER_TOUCHED marks membership).
 *   5. A RAW data cluster freed by commit G stays HELD (not allocatable, not
 *      punched) until commit G + 1 is durable, so the trees of BOTH valid
 *      superblock slots always map intact data: if the newest slot were
 *      damaged after its commit, the older tree still reads true bytes.
 *      (Metadata and compressed extents need no hold: they are checksummed
 *      by their parents, so a reused one is detected, never misread.)
 *      The next commit of any kind releases them; an idle container's
 *      next commit call (the committer's tick, close) makes a
 *      superblock-only commit for it (container.c commit_retire), so
 *      discard returns space within a commit interval without a second
 *      commit per flush.
 *   6. A data cluster that becomes free is not punched at once: it joins
 *      `recycle` with CLUSTER_BACKED, so the next allocations reuse its host
 *      blocks and the host's cached pages.  The next alloc_commit (or
 *      alloc_recycle_flush, when the container goes idle or closes) punches
 *      the ones still free (container.c may stop punching after a time
 *      budget and hand the rest back with alloc_recycle_keep: they wait,
 *      BACKED and reusable, for the next call).  Why: a copy-on-write
 *      stream (encrypted and compressed disks rewrite every cluster
 *      elsewhere) otherwise punches a cluster and allocates a fresh one per
 *      write, so every write pays for new host blocks and new page-cache
 *      pages; now the space cycles through warm clusters and goes back to
 *      the host one commit later (after a burst, a few commit calls later).
 *   7. The free-cluster index (free_backed, free_unbacked) holds exactly
 *      the clusters alloc_is_free says, split by CLUSTER_BACKED.  Every
 *      function here that changes what it depends on (refs, COMMITTED,
 *      HELD, BACKED, count) re-indexes the clusters it changed before
 *      returning, so alloc_get finds the lowest free cluster at or after
 *      its cursor in O(log64 n) instead of scanning every cluster from the
 *      cursor (a scan from the lowest hole to the end of a file of n
 *      clusters, for every allocation past the last hole: quadratic over a
 *      random-write run).  It hands out exactly the cluster the scan did.
 *   8. free_empty holds free, not BACKED clusters that read as zeros on
 *      the host: alloc_set_empty adds one the caller has just punched (the
 *      punch returned 0), and nothing else adds to it; alloc_index drops
 *      any that stops being free or becomes BACKED, so a cluster taken
 *      (alloc_ref) or written since its punch is never in it.  Membership
 *      is the whole state (no CLUSTER_* bit).  Clusters at or past `count`
 *      read as zeros too, because the container never lets the file grow
 *      past its last tracked cluster (container.c cuts it to `count` at
 *      open; every later write is into a cluster alloc_ref tracked
 *      first): ALLOC_DATA_SPARSE takes the lowest free_empty cluster, else
 *      cluster `count`.
 *   9. Map nodes and table blocks are not clusters of their own when the
 *      container has small nodes: they live in slots of metadata clusters
 *      (CLUSTER_META), a second level kept by alloc_slab.c with the same
 *      rules one level down (free in the committed state and the open
 *      transaction before reuse); a metadata cluster holds one reference
 *      per referenced slot, so invariants 1-4 hold for it unchanged.
 *
 *  10. Nothing is handed out (alloc_get, alloc_node_get: -EAGAIN) while
 *      `walked` is false: a lazily opened container (container.c, "Lazy
 *      open") has counted only its table's blocks until its trees are
 *      walked, so every other cluster and slot would look free.
 *
 *  11. Copy-on-write leaves the old cluster of every rewritten one
 *      COMMITTED until the next commit (invariant 2) and then HELD until
 *      the one after (invariant 5): a stream of rewrites (every write to
 *      an encrypted or compressed disk) grows the file by what it rewrites
 *      in two commit intervals -- up to two more copies of the disk when
 *      commits are rare.  So the allocator counts the clusters freed in
 *      the open transaction that the committed tree maps (`stranded`, 0
 *      after alloc_commit) and raises `slack_over` as they pass
 *      `slack_limit` (once per crossing: one commit per limit, not one
 *      per writer that sees it over); a writer that sees it asks for a
 *      commit (container_slack_settle).  What waits for a commit is then
 *      about two limits: the stranded clusters and, held, those of the
 *      commit before.  Off (slack_limit 0) until alloc_set_slack.  Only a
 *      trigger: what it counts decides no allocation, and it may count a
 *      cluster re-referenced in the same transaction (an earlier commit,
 *      never a wrong one).
 *
 * Transitions: alloc_ref / alloc_get (refs++), alloc_unref (refs--),
 * alloc_commit (COMMITTED := refs > 0 for touched clusters, freed data
 * clusters handed to the punch callback so discard returns host space).
 *
 * THREAD MODEL: none of its own; every call is made under the container's
 * write lock (internal.h), or by a lazy open's walk, which holds
 * load_mutex while no writer can run (container.c, "Lazy open").
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* What keeps a free cluster from being allocated: committed (the last
 * committed tree maps it) or held (the older slot's tree maps it).
 * HANGAR_TEETH_REUSE_COMMITTED is for tests/crash only: a deliberately
 * broken core that reuses a cluster the committed tree still maps, which
 * the crash-replay harness must catch (tests/CMakeLists.txt builds it). */
#ifdef HANGAR_TEETH_REUSE_COMMITTED
/* (a metadata cluster keeps its slots' bookkeeping until the commit drops
 * its slab: handing it out as data would break the slot accounting in
 * memory, which the invariant pass catches before the replay could) */
#define ALLOC_NOT_FREE (CLUSTER_HELD | CLUSTER_META)
#else
#define ALLOC_NOT_FREE (CLUSTER_COMMITTED | CLUSTER_HELD)
#endif

/* ---- the free-cluster index: a 64-ary hierarchical bitmap ------------- */

static uint64_t bit_of(uint64_t n)
{
	return 1ull << (n & 63);
}

bool alloc_set_has(const struct alloc_set *s, uint64_t n)
{
	return s->levels > 0 && (n >> 6) < s->words[0] &&
	       (s->level[0][n >> 6] & bit_of(n));
}

uint64_t alloc_set_next(const struct alloc_set *s, uint64_t from)
{
	unsigned l = 0;
	uint64_t i = from;

	/* climb until a word holds a member at or after i (i is a bit index
	 * of level l: the next candidate after a word at level l is the
	 * next bit of level l + 1) ... */
	for (;;) {
		if (l >= s->levels)
			return ALLOC_SET_NONE;
		uint64_t w = i >> 6;
		if (w >= s->words[l])
			return ALLOC_SET_NONE;
		uint64_t word = s->level[l][w] & (~0ull << (i & 63));
		if (word) {
			i = (w << 6) + (uint64_t)__builtin_ctzll(word);
			break;
		}
		i = w + 1;
		l++;
	}
	/* ... then down through the first member of each word below: a set
	 * summary bit promises a nonzero word */
	while (l-- > 0)
		i = (i << 6) + (uint64_t)__builtin_ctzll(s->level[l][i]);
	return i;
}

void alloc_set_add(struct alloc_set *s, uint64_t n)
{
	for (unsigned l = 0; l < s->levels; l++, n >>= 6) {
		uint64_t *w = &s->level[l][n >> 6];
		bool had_members = *w != 0;
		*w |= bit_of(n);
		if (had_members)
			return;
	}
}

void alloc_set_remove(struct alloc_set *s, uint64_t n)
{
	for (unsigned l = 0; l < s->levels; l++, n >>= 6) {
		uint64_t *w = &s->level[l][n >> 6];
		*w &= ~bit_of(n);
		if (*w)
			return;
	}
}

/* Add every member of [from, to) word by word: at each level the words
 * spanning the range all have members now. */
static void set_add_range(struct alloc_set *s, uint64_t from, uint64_t to)
{
	for (unsigned l = 0; l < s->levels && from < to; l++) {
		for (uint64_t w = from >> 6; w <= (to - 1) >> 6; w++) {
			uint64_t lo = w == from >> 6 ? from & 63 : 0;
			uint64_t hi = w == (to - 1) >> 6 ? ((to - 1) & 63) : 63;
			uint64_t mask = (~0ull << lo) & (~0ull >> (63 - hi));
			s->level[l][w] |= mask;
		}
		from >>= 6;
		to = ((to - 1) >> 6) + 1;
	}
}

/* Room for members [0, bits).  Existing members stay; on -ENOMEM the set is
 * unchanged (a level may keep a bigger buffer, which is harmless). */
static int set_resize(struct alloc_set *s, uint64_t bits)
{
	uint64_t words[ALLOC_SET_LEVELS];
	unsigned levels = 0;

	words[0] = bits ? (bits + 63) / 64 : 1;
	while (words[levels] > 1) {
		assert(levels + 1 < ALLOC_SET_LEVELS);
		words[levels + 1] = (words[levels] + 63) / 64;
		levels++;
	}
	levels++;
	for (unsigned l = 0; l < levels; l++) {
		uint64_t old = l < s->levels ? s->words[l] : 0;
		if (words[l] <= old)
			continue;
		uint64_t *w = realloc(s->level[l], words[l] * sizeof(*w));
		if (!w)
			return -ENOMEM;
		s->level[l] = w;
	}
	/* zero the new words; a level new on top summarises the old top */
	for (unsigned l = 0; l < levels; l++) {
		uint64_t old = l < s->levels ? s->words[l] : 0;
		if (words[l] > old)
			memset(s->level[l] + old, 0,
			       (words[l] - old) * sizeof(uint64_t));
	}
	for (unsigned l = s->levels ? s->levels : 1; l < levels; l++)
		for (uint64_t j = 0; j < words[l - 1]; j++)
			if (s->level[l - 1][j])
				s->level[l][j >> 6] |= bit_of(j);
	for (unsigned l = 0; l < levels; l++)
		if (words[l] > (l < s->levels ? s->words[l] : 0))
			s->words[l] = words[l];
	s->levels = levels > s->levels ? levels : s->levels;
	return 0;
}

static void set_free(struct alloc_set *s)
{
	for (unsigned l = 0; l < ALLOC_SET_LEVELS; l++)
		free(s->level[l]);
	memset(s, 0, sizeof(*s));
}

/* Every summary bit says whether its word below has a member. */
static bool set_consistent(const struct alloc_set *s)
{
	if (s->levels == 0 || s->words[s->levels - 1] != 1)
		return false;
	for (unsigned l = 1; l < s->levels; l++) {
		if (s->words[l] * 64 < s->words[l - 1])
			return false;
		for (uint64_t j = 0; j < s->words[l] * 64; j++) {
			bool below = j < s->words[l - 1] && s->level[l - 1][j];
			bool above = s->level[l][j >> 6] & bit_of(j);
			if (below != above)
				return false;
		}
	}
	return true;
}

/* Invariant 1's "free": allocatable but for the reserve rule. */
static bool alloc_is_free(const struct alloc *a, uint64_t n)
{
	return n >= a->first && n < a->count && a->refs[n] == 0 &&
	       !(a->bits[n] & ALLOC_NOT_FREE);
}

/* Put cluster n in the set its state says, and out of the other (invariant
 * 7); n < capacity. */
static void alloc_index(struct alloc *a, uint64_t n)
{
	bool is_free = alloc_is_free(a, n);
	bool backed = a->bits[n] & CLUSTER_BACKED;
	struct alloc_set *in = backed ? &a->free_backed : &a->free_unbacked;
	struct alloc_set *out = backed ? &a->free_unbacked : &a->free_backed;

	if (alloc_set_has(out, n))
		alloc_set_remove(out, n);
	if (is_free && !alloc_set_has(in, n))
		alloc_set_add(in, n);
	else if (!is_free && alloc_set_has(in, n))
		alloc_set_remove(in, n);
	/* invariant 8: only alloc_set_empty adds to free_empty */
	if ((!is_free || backed) && alloc_set_has(&a->free_empty, n))
		alloc_set_remove(&a->free_empty, n);
}

void alloc_reindex(struct alloc *a, uint64_t n)
{
	if (n < a->capacity)
		alloc_index(a, n);
}

static void alloc_index_range(struct alloc *a, uint64_t from, uint64_t to)
{
	for (uint64_t n = from; n < to; n++)
		alloc_index(a, n);
}

/* Track clusters [first, count): the ones added join the index (the caller
 * re-indexes any it cuts off). */
static void alloc_track(struct alloc *a, uint64_t count)
{
	uint64_t old = a->count;
	a->count = count;
	alloc_index_range(a, old, count);
}

int alloc_init(struct alloc *a, uint64_t first, uint64_t count)
{
	memset(a, 0, sizeof(*a));
	a->first = first;
	a->count = count < first ? first : count;
	a->cursor = first;
	a->walked = true;
	a->capacity = a->count + 64;
	a->refs = calloc(a->capacity, sizeof(*a->refs));
	a->bits = calloc(a->capacity, sizeof(*a->bits));
	if (!a->refs || !a->bits || set_resize(&a->free_backed, a->capacity) ||
	    set_resize(&a->free_unbacked, a->capacity) ||
	    set_resize(&a->slabs_open, a->capacity) ||
	    set_resize(&a->free_empty, a->capacity)) {
		alloc_cleanup(a);
		return -ENOMEM;
	}
	/* nothing referenced yet: every cluster is free (and not backed) */
	if (a->count > a->first)
		set_add_range(&a->free_unbacked, a->first, a->count);
	return 0;
}

void alloc_cleanup(struct alloc *a)
{
	free(a->refs);
	free(a->bits);
	free(a->touched);
	free(a->held);
	free(a->recycle);
	alloc_slabs_cleanup(a);
	set_free(&a->free_backed);
	set_free(&a->free_unbacked);
	set_free(&a->slabs_open);
	set_free(&a->free_empty);
	memset(a, 0, sizeof(*a));
}

static int alloc_grow(struct alloc *a, uint64_t need)
{
	if (need <= a->capacity)
		return 0;
	uint64_t cap = a->capacity * 2;
	if (cap < need)
		cap = need + 64;
	uint32_t *refs = realloc(a->refs, cap * sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	a->refs = refs;
	uint8_t *bits = realloc(a->bits, cap * sizeof(*bits));
	if (!bits)
		return -ENOMEM;
	a->bits = bits;
	if (set_resize(&a->free_backed, cap) ||
	    set_resize(&a->free_unbacked, cap) ||
	    set_resize(&a->slabs_open, cap) || set_resize(&a->free_empty, cap))
		return -ENOMEM;
	memset(a->refs + a->capacity, 0,
	       (cap - a->capacity) * sizeof(*a->refs));
	memset(a->bits + a->capacity, 0,
	       (cap - a->capacity) * sizeof(*a->bits));
	a->capacity = cap;
	return 0;
}

static int alloc_touch(struct alloc *a, uint64_t n)
{
	if (a->bits[n] & CLUSTER_TOUCHED)
		return 0;
	if (a->touched_num == a->touched_cap) {
		size_t cap = a->touched_cap ? a->touched_cap * 2 : 256;
		uint64_t *t = realloc(a->touched, cap * sizeof(*t));
		if (!t)
			return -ENOMEM;
		a->touched = t;
		a->touched_cap = cap;
	}
	a->touched[a->touched_num++] = n;
	a->bits[n] |= CLUSTER_TOUCHED;
	return 0;
}

int alloc_ref(struct alloc *a, uint64_t n)
{
	int ret;

	if (n < a->first)
		return -EUCLEAN;
	ret = alloc_grow(a, n + 1);
	if (ret)
		return ret;
	ret = alloc_touch(a, n);
	if (ret)
		return ret;
	if (n >= a->count)
		alloc_track(a, n + 1);
	if (a->refs[n] == UINT32_MAX)
		return -EUCLEAN;
	if (a->refs[n]++ == 0) {
		a->used++;
		if (a->bits[n] & CLUSTER_BACKED) {
			a->bits[n] &= (uint8_t)~CLUSTER_BACKED;
			a->backed_free--;
		}
		alloc_index(a, n);
	}
	return 0;
}

int alloc_reach(struct alloc *a, uint64_t n)
{
	if (n < a->first)
		return -EUCLEAN;
	int ret = alloc_grow(a, n + 1);
	if (ret)
		return ret;
	if (n >= a->count)
		alloc_track(a, n + 1);
	return 0;
}

void alloc_unref(struct alloc *a, uint64_t n)
{
	assert(n < a->count && a->refs[n] > 0);
	/* Touch cannot fail here: a cluster with refs > 0 was either touched
	 * in this transaction or loaded at open, and open touches nothing, so
	 * make room defensively; on -ENOMEM the cluster simply stays
	 * committed (a missed reuse, never a corruption) until reopen. */
	(void)alloc_touch(a, n);
	/* one of several references to RAW data goes: the committed state
	 * may still hold the other, so no in-place write before the next
	 * commit (CLUSTER_UNSHARED) */
	if (a->refs[n] >= 2 && (a->bits[n] & CLUSTER_DATA) &&
	    !(a->bits[n] & CLUSTER_PACKED))
		a->bits[n] |= CLUSTER_UNSHARED;
	if (--a->refs[n] == 0) {
		a->used--;
		alloc_index(a, n);
		/* Only a cluster allocatable now moves the search start back;
		 * a committed one waits for alloc_commit.  (Moving it back for
		 * every rewrite of a committed cluster made each following
		 * alloc_get rescan all of them: quadratic in a COW stream.) */
		if (n < a->cursor &&
		    !(a->bits[n] & (CLUSTER_COMMITTED | CLUSTER_HELD)))
			a->cursor = n;
		/* raised once, as the count crosses the limit: one commit
		 * per limit, not one per writer that sees it over */
		if ((a->bits[n] & CLUSTER_COMMITTED) &&
		    ++a->stranded == a->slack_limit + 1 && a->slack_limit)
			atomic_store_explicit(&a->slack_over, true,
					      memory_order_relaxed);
	}
}

void alloc_set_slack(struct alloc *a, uint64_t clusters)
{
	a->slack_limit = clusters;
}

int alloc_get(struct alloc *a, enum alloc_kind kind, uint64_t *out_n)
{
	uint64_t n;
	int ret;

	if (!a->walked)
		return -EAGAIN; /* invariant 10 */
	/* A commit retried after -ENOSPC takes its metadata only from
	 * clusters that still own host blocks (the reserve and freed
	 * metadata), so a punch can commit on a full filesystem.  Otherwise
	 * everything is first-fit from the lowest free cluster, which keeps
	 * the file compact. */
	if (kind == ALLOC_DATA_SPARSE) {
		/* a cluster that reads as zeros (invariant 8): a punched one
		 * first; else what first-fit gives, if that is the end of
		 * the file.  HANGAR_TEETH_SPARSE_UNBACKED is for tests/crash
		 * only: a deliberately broken core that takes "not BACKED"
		 * for "reads as zeros", which the crash replay must catch
		 * (tests/CMakeLists.txt builds it). */
#ifdef HANGAR_TEETH_SPARSE_UNBACKED
		n = alloc_set_next(&a->free_unbacked, a->first);
#else
		n = alloc_set_next(&a->free_empty, a->first);
#endif
		if (n != ALLOC_SET_NONE)
			goto found;
	}
	if (kind == ALLOC_META && a->meta_from_reserve && a->backed_free > 0) {
		/* (the COMMITTED test skips nothing but in the teeth build,
		 * whose index also holds free committed clusters) */
		for (n = alloc_set_next(&a->free_backed, a->first);
		     n != ALLOC_SET_NONE;
		     n = alloc_set_next(&a->free_backed, n + 1))
			if (!(a->bits[n] & (CLUSTER_COMMITTED | CLUSTER_HELD)))
				goto found;
	}
	/* The lowest free cluster at or after the cursor; data passes over
	 * backed ones while they are no more than the metadata reserve. */
	n = alloc_set_next(&a->free_unbacked, a->cursor);
	if (kind == ALLOC_META || a->backed_free > a->reserve) {
		uint64_t backed = alloc_set_next(&a->free_backed, a->cursor);
		if (backed < n)
			n = backed;
	}
	if (n != ALLOC_SET_NONE) {
		/* a free cluster inside the file may own stale blocks: the
		 * caller writes it whole (ALLOC_DATA), which keeps the file
		 * compact rather than growing it past free space */
		if (kind == ALLOC_DATA_SPARSE)
			return -EAGAIN;
		a->cursor = n + 1;
		goto found;
	}
	n = a->count;
	if (n >= FORMAT_MAX_VCLUSTERS)
		return -EFBIG;
found:
	ret = alloc_ref(a, n);
	if (ret)
		return ret;
	if (kind != ALLOC_META)
		a->bits[n] |= CLUSTER_DATA;
	else
		a->bits[n] &= (uint8_t)~CLUSTER_DATA;
	/* A cluster that held compressed extents, was freed and is taken
	 * again inside one transaction never passed alloc_commit, which
	 * clears the bit: clear it here, so a RAW cluster is never exempt
	 * from being held (invariant 5).  A new pack cluster sets it again
	 * (data.c).  A metadata cluster freed the same way lost its last
	 * slot (alloc_slab.c dropped its slab). */
	a->bits[n] &= (uint8_t) ~(CLUSTER_PACKED | CLUSTER_META);
	*out_n = n;
	return 0;
}

/* Append n to a growable list; -ENOMEM leaves the list as it was. */
static int list_push(uint64_t **list, size_t *num, size_t *cap, uint64_t n)
{
	if (*num == *cap) {
		size_t new_cap = *cap ? *cap * 2 : 64;
		uint64_t *l = realloc(*list, new_cap * sizeof(*l));
		if (!l)
			return -ENOMEM;
		*list = l;
		*cap = new_cap;
	}
	(*list)[(*num)++] = n;
	return 0;
}

/* n is free now: mark it backed or punch it (the caller indexes it). */
static void alloc_release(struct alloc *a, uint64_t n,
			  void (*punch)(void *arg, uint64_t n), void *arg)
{
	if (n < a->cursor)
		a->cursor = n;
	if (a->bits[n] & CLUSTER_DATA) {
		/* data goes back to the host, one commit later (invariant 6);
		 * without memory to remember it, at once */
		if (!punch)
			return;
		if (!(a->bits[n] & CLUSTER_BACKED) &&
		    list_push(&a->recycle, &a->recycle_num, &a->recycle_cap,
			      n) == 0) {
			a->bits[n] |= CLUSTER_BACKED;
			a->backed_free++;
			return;
		}
		punch(arg, n);
	} else if (!(a->bits[n] & CLUSTER_BACKED)) {
		a->bits[n] |= CLUSTER_BACKED;
		a->backed_free++;
	}
}

void alloc_recycle_flush(struct alloc *a, void (*punch)(void *arg, uint64_t n),
			 void *arg)
{
	for (size_t i = 0; i < a->recycle_num; i++) {
		uint64_t n = a->recycle[i];
		/* reused since (refs, or BACKED cleared by alloc_ref), or cut
		 * off the end: nothing to give back */
		if (n >= a->count || a->refs[n] ||
		    (a->bits[n] & (CLUSTER_COMMITTED | CLUSTER_HELD)) ||
		    (a->bits[n] & (CLUSTER_BACKED | CLUSTER_DATA)) !=
			    (CLUSTER_BACKED | CLUSTER_DATA))
			continue;
		a->bits[n] &= (uint8_t)~CLUSTER_BACKED;
		a->backed_free--;
		alloc_index(a, n);
		if (punch)
			punch(arg, n);
	}
	a->recycle_num = 0;
}

bool alloc_recycle_keep(struct alloc *a, uint64_t n)
{
	if (n >= a->count || !alloc_is_free(a, n) ||
	    (a->bits[n] & (CLUSTER_BACKED | CLUSTER_DATA)) != CLUSTER_DATA)
		return true; /* reused, or not a punchable cluster: nothing */
	if (list_push(&a->recycle, &a->recycle_num, &a->recycle_cap, n) != 0)
		return false;
	a->bits[n] |= CLUSTER_BACKED;
	a->backed_free++;
	alloc_index(a, n);
	return true;
}

void alloc_release_held(struct alloc *a, void (*punch)(void *arg, uint64_t n),
			void *arg)
{
	for (size_t i = 0; i < a->held_num; i++) {
		uint64_t n = a->held[i];
		a->bits[n] &= (uint8_t)~CLUSTER_HELD;
		if (a->refs[n] == 0 && !(a->bits[n] & CLUSTER_COMMITTED))
			alloc_release(a, n, punch, arg);
		alloc_index(a, n);
	}
	a->held_num = 0;
}

void alloc_commit(struct alloc *a, void (*punch)(void *arg, uint64_t n),
		  void *arg)
{
	/* 0. what the previous commit freed and nobody reused since */
	alloc_recycle_flush(a, punch, arg);
	/* 1. what the previous commit held is unmapped by both slots now */
	alloc_release_held(a, punch, arg);
	/* 2. this commit's changes: the slots of metadata clusters, then
	 * every cluster */
	alloc_slots_commit(a);
	for (size_t i = 0; i < a->touched_num; i++) {
		uint64_t n = a->touched[i];
		a->bits[n] &= (uint8_t) ~(CLUSTER_TOUCHED | CLUSTER_UNSHARED);
		if (a->refs[n] > 0) {
			/* in use: out of the index before and after */
			a->bits[n] |= CLUSTER_COMMITTED;
			continue;
		}
		/* no slot referenced or committed any more */
		if (a->bits[n] & CLUSTER_META)
			alloc_slab_drop(a, n);
		bool raw_data = (a->bits[n] & CLUSTER_DATA) &&
				!(a->bits[n] & CLUSTER_PACKED);
		bool was = a->bits[n] & CLUSTER_COMMITTED;
		a->bits[n] &= (uint8_t) ~(CLUSTER_COMMITTED | CLUSTER_PACKED);
		if (was && raw_data && punch) {
			if (list_push(&a->held, &a->held_num, &a->held_cap,
				      n) == 0) {
				a->bits[n] |= CLUSTER_HELD;
				alloc_index(a, n);
				continue;
			}
			/* no memory to hold it: release now (weaker only
			 * against a damaged newest slot, never unsafe for a
			 * crash) */
		}
		alloc_release(a, n, punch, arg);
		alloc_index(a, n);
	}
	a->touched_num = 0;
	/* 3. nothing stranded in the new transaction yet */
	a->stranded = 0;
	atomic_store_explicit(&a->slack_over, false, memory_order_relaxed);
}

void alloc_set_backed(struct alloc *a, uint64_t n, bool backed)
{
	if (n >= a->count || a->refs[n] != 0)
		return;
	bool is = a->bits[n] & CLUSTER_BACKED;
	if (backed && !is) {
		a->bits[n] |= CLUSTER_BACKED;
		a->backed_free++;
	} else if (!backed && is) {
		a->bits[n] &= (uint8_t)~CLUSTER_BACKED;
		a->backed_free--;
	}
	alloc_index(a, n);
}

void alloc_set_empty(struct alloc *a, uint64_t n)
{
	if (alloc_is_free(a, n) && !(a->bits[n] & CLUSTER_BACKED) &&
	    !alloc_set_has(&a->free_empty, n))
		alloc_set_add(&a->free_empty, n);
}

uint64_t alloc_last_used(const struct alloc *a)
{
	uint64_t n = a->count;
	while (n > a->first && a->refs[n - 1] == 0 &&
	       !(a->bits[n - 1] & (CLUSTER_COMMITTED | CLUSTER_HELD)))
		n--;
	return n;
}

int alloc_set_end(struct alloc *a, uint64_t end, uint64_t backed)
{
	int ret = alloc_grow(a, end);
	if (ret)
		return ret;
	uint64_t old_count = a->count;
	for (uint64_t n = end; n < old_count; n++) {
		assert(a->refs[n] == 0 && !(a->bits[n] & CLUSTER_COMMITTED));
		if (a->bits[n] & CLUSTER_BACKED)
			a->backed_free--;
		a->bits[n] = 0;
	}
	/* cut off: out of the index; grown: in it */
	alloc_track(a, end);
	alloc_index_range(a, end, old_count);
	for (uint64_t n = end - backed; n < end; n++) {
		if (a->refs[n] == 0 && !(a->bits[n] & CLUSTER_BACKED)) {
			a->bits[n] |= CLUSTER_BACKED;
			a->backed_free++;
		}
		/* the reserve is never given back to the host */
		if (a->refs[n] == 0)
			a->bits[n] &= (uint8_t)~CLUSTER_DATA;
		alloc_index(a, n);
	}
	if (a->cursor > end)
		a->cursor = end;
	return 0;
}

bool alloc_invariants(const struct alloc *a)
{
	uint64_t used = 0, backed = 0, touched = 0, held = 0;

	/* invariant 7, member by member, then every summary bit */
	if (a->free_backed.words[0] * 64 < a->capacity ||
	    a->free_unbacked.words[0] * 64 < a->capacity)
		return false;
	for (uint64_t n = 0; n < a->free_backed.words[0] * 64; n++) {
		bool is_free = n < a->capacity && alloc_is_free(a, n);
		bool is_backed =
			n < a->capacity && (a->bits[n] & CLUSTER_BACKED);
		if (alloc_set_has(&a->free_backed, n) != (is_free && is_backed))
			return false;
	}
	for (uint64_t n = 0; n < a->free_unbacked.words[0] * 64; n++) {
		bool is_free = n < a->capacity && alloc_is_free(a, n);
		bool is_backed =
			n < a->capacity && (a->bits[n] & CLUSTER_BACKED);
		if (alloc_set_has(&a->free_unbacked, n) !=
		    (is_free && !is_backed))
			return false;
	}
	for (uint64_t n = 0; n < a->free_empty.words[0] * 64; n++) {
		/* invariant 8: a subset of free_unbacked */
		if (alloc_set_has(&a->free_empty, n) &&
		    !alloc_set_has(&a->free_unbacked, n))
			return false;
	}
	if (!set_consistent(&a->free_backed) ||
	    !set_consistent(&a->free_unbacked) ||
	    !set_consistent(&a->free_empty))
		return false;

	for (uint64_t n = 0; n < a->count; n++) {
		if (a->refs[n])
			used++;
		if (a->bits[n] & CLUSTER_BACKED) {
			backed++;
			if (a->refs[n])
				return false;
		}
		if (a->bits[n] & CLUSTER_TOUCHED)
			touched++;
		if (a->bits[n] & CLUSTER_HELD) {
			held++;
			if (a->bits[n] & CLUSTER_BACKED)
				return false;
		}
		if (n < a->first && (a->refs[n] || a->bits[n]))
			return false;
	}
	return used == a->used && backed == a->backed_free &&
	       touched == a->touched_num && held == a->held_num &&
	       alloc_slabs_invariants(a);
}
