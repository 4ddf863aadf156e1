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
 *      the ones still free.  Why: a copy-on-write stream (encrypted and
 *      compressed disks rewrite every cluster elsewhere) otherwise punches a
 *      cluster and allocates a fresh one per write, so every write pays for
 *      new host blocks and new page-cache pages; now the space cycles
 *      through warm clusters and goes back to the host one commit later.
 *
 * Transitions: alloc_ref / alloc_get (refs++), alloc_unref (refs--),
 * alloc_commit (COMMITTED := refs > 0 for touched clusters, freed data
 * clusters handed to the punch callback so discard returns host space).
 *
 * THREAD MODEL: none of its own; every call is made under the container's
 * write lock (internal.h).
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int alloc_init(struct alloc *a, uint64_t first, uint64_t count)
{
	memset(a, 0, sizeof(*a));
	a->first = first;
	a->count = count < first ? first : count;
	a->cursor = first;
	a->capacity = a->count + 64;
	a->refs = calloc(a->capacity, sizeof(*a->refs));
	a->bits = calloc(a->capacity, sizeof(*a->bits));
	if (!a->refs || !a->bits) {
		alloc_cleanup(a);
		return -ENOMEM;
	}
	return 0;
}

void alloc_cleanup(struct alloc *a)
{
	free(a->refs);
	free(a->bits);
	free(a->touched);
	free(a->held);
	free(a->recycle);
	free(a->srefs);
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
	if (a->srefs) {
		uint32_t *srefs = realloc(a->srefs, cap * sizeof(*srefs));
		if (!srefs)
			return -ENOMEM;
		a->srefs = srefs;
		memset(a->srefs + a->capacity, 0,
		       (cap - a->capacity) * sizeof(*a->srefs));
	}
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
		a->count = n + 1;
	if (a->refs[n] == UINT32_MAX)
		return -EUCLEAN;
	if (a->refs[n]++ == 0) {
		a->used++;
		if (a->bits[n] & CLUSTER_BACKED) {
			a->bits[n] &= (uint8_t)~CLUSTER_BACKED;
			a->backed_free--;
		}
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
		a->count = n + 1;
	return 0;
}

int alloc_srefs_enable(struct alloc *a)
{
	if (a->srefs)
		return 0;
	a->srefs = calloc(a->capacity, sizeof(*a->srefs));
	return a->srefs ? 0 : -ENOMEM;
}

void alloc_unref(struct alloc *a, uint64_t n)
{
	assert(n < a->count && a->refs[n] > 0);
	/* Touch cannot fail here: a cluster with refs > 0 was either touched
	 * in this transaction or loaded at open, and open touches nothing, so
	 * make room defensively; on -ENOMEM the cluster simply stays
	 * committed (a missed reuse, never a corruption) until reopen. */
	(void)alloc_touch(a, n);
	if (--a->refs[n] == 0) {
		a->used--;
		/* Only a cluster allocatable now moves the search start back;
		 * a committed one waits for alloc_commit.  (Moving it back for
		 * every rewrite of a committed cluster made each following
		 * alloc_get rescan all of them: quadratic in a COW stream.) */
		if (n < a->cursor &&
		    !(a->bits[n] & (CLUSTER_COMMITTED | CLUSTER_HELD)))
			a->cursor = n;
	}
}

/* What keeps a free cluster from being allocated: committed (the last
 * committed tree maps it) or held (the older slot's tree maps it).
 * HANGAR_TEETH_REUSE_COMMITTED is for tests/crash only: a deliberately
 * broken core that reuses a cluster the committed tree still maps, which
 * the crash-replay harness must catch (tests/CMakeLists.txt builds it). */
#ifdef HANGAR_TEETH_REUSE_COMMITTED
#define ALLOC_NOT_FREE CLUSTER_HELD
#else
#define ALLOC_NOT_FREE (CLUSTER_COMMITTED | CLUSTER_HELD)
#endif

int alloc_get(struct alloc *a, enum alloc_kind kind, uint64_t *out_n)
{
	uint64_t n;
	int ret;

	/* A commit retried after -ENOSPC takes its metadata only from
	 * clusters that still own host blocks (the reserve and freed
	 * metadata), so a punch can commit on a full filesystem.  Otherwise
	 * everything is first-fit from the lowest free cluster, which keeps
	 * the file compact. */
	if (kind == ALLOC_META && a->meta_from_reserve && a->backed_free > 0) {
		for (n = a->first; n < a->count; n++) {
			if ((a->bits[n] & CLUSTER_BACKED) && a->refs[n] == 0 &&
			    !(a->bits[n] & (CLUSTER_COMMITTED | CLUSTER_HELD)))
				goto found;
		}
	}
	for (n = a->cursor; n < a->count; n++) {
		if (a->refs[n] == 0 && !(a->bits[n] & ALLOC_NOT_FREE)) {
			if (kind == ALLOC_DATA &&
			    (a->bits[n] & CLUSTER_BACKED) &&
			    a->backed_free <= a->reserve)
				continue;
			a->cursor = n + 1;
			goto found;
		}
	}
	n = a->count;
	if (n >= FORMAT_MAX_VCLUSTERS)
		return -EFBIG;
found:
	ret = alloc_ref(a, n);
	if (ret)
		return ret;
	if (kind == ALLOC_DATA)
		a->bits[n] |= CLUSTER_DATA;
	else
		a->bits[n] &= (uint8_t)~CLUSTER_DATA;
	/* A cluster that held compressed extents, was freed and is taken
	 * again inside one transaction never passed alloc_commit, which
	 * clears the bit: clear it here, so a RAW cluster is never exempt
	 * from being held (invariant 5).  A new pack cluster sets it again
	 * (data.c). */
	a->bits[n] &= (uint8_t)~CLUSTER_PACKED;
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
		if (punch)
			punch(arg, n);
	}
	a->recycle_num = 0;
}

void alloc_release_held(struct alloc *a, void (*punch)(void *arg, uint64_t n),
			void *arg)
{
	for (size_t i = 0; i < a->held_num; i++) {
		uint64_t n = a->held[i];
		a->bits[n] &= (uint8_t)~CLUSTER_HELD;
		if (a->refs[n] == 0 && !(a->bits[n] & CLUSTER_COMMITTED))
			alloc_release(a, n, punch, arg);
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
	/* 2. this commit's changes */
	for (size_t i = 0; i < a->touched_num; i++) {
		uint64_t n = a->touched[i];
		a->bits[n] &= (uint8_t)~CLUSTER_TOUCHED;
		if (a->refs[n] > 0) {
			a->bits[n] |= CLUSTER_COMMITTED;
			continue;
		}
		bool raw_data = (a->bits[n] & CLUSTER_DATA) &&
				!(a->bits[n] & CLUSTER_PACKED);
		bool was = a->bits[n] & CLUSTER_COMMITTED;
		a->bits[n] &= (uint8_t) ~(CLUSTER_COMMITTED | CLUSTER_PACKED);
		if (was && raw_data && punch) {
			if (list_push(&a->held, &a->held_num, &a->held_cap,
				      n) == 0) {
				a->bits[n] |= CLUSTER_HELD;
				continue;
			}
			/* no memory to hold it: release now (weaker only
			 * against a damaged newest slot, never unsafe for a
			 * crash) */
		}
		alloc_release(a, n, punch, arg);
	}
	a->touched_num = 0;
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
	for (uint64_t n = end; n < a->count; n++) {
		assert(a->refs[n] == 0 && !(a->bits[n] & CLUSTER_COMMITTED));
		if (a->bits[n] & CLUSTER_BACKED)
			a->backed_free--;
		a->bits[n] = 0;
	}
	a->count = end;
	for (uint64_t n = end - backed; n < end; n++) {
		if (a->refs[n] == 0 && !(a->bits[n] & CLUSTER_BACKED)) {
			a->bits[n] |= CLUSTER_BACKED;
			a->backed_free++;
		}
		/* the reserve is never given back to the host */
		if (a->refs[n] == 0)
			a->bits[n] &= (uint8_t)~CLUSTER_DATA;
	}
	if (a->cursor > end)
		a->cursor = end;
	return 0;
}

bool alloc_invariants(const struct alloc *a)
{
	uint64_t used = 0, backed = 0, touched = 0, held = 0;

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
	       touched == a->touched_num && held == a->held_num;
}
