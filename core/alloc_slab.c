/*
 * alloc_slab.c -- metadata slots: node-sized blocks inside metadata
 * clusters, the allocator's second level (internal.h, "Metadata slots").
 *
 * Design notes.  A map node or table block is 4 KiB in a container with
 * FEATURE_INCOMPAT_SMALL_NODES, whatever the cluster size, so a commit
 * after one small write writes a few 4 KiB blocks instead of a few whole
 * clusters, and a sparse disk's map costs 4 KiB per touched region instead
 * of a cluster.  The cluster stays the unit of everything else (data,
 * punching, the file's end, the free-cluster index), so the slots are a
 * layer on top of alloc.c that keeps its invariants true for the cluster:
 *
 *   S1. A metadata cluster's `refs` is the sum of its slots' references,
 *       and it is CLUSTER_META with a slab exactly while that sum is
 *       nonzero or the cluster is committed.  Data never shares it:
 *       referencing data in a metadata cluster, or a node in a data
 *       cluster, is corruption (the loader's -EUCLEAN).
 *   S2. alloc_node_get only hands out a slot with no reference and not
 *       committed: free in the committed state and in the open
 *       transaction (alloc.c invariant 1, one level down).  So a commit
 *       never overwrites a block the committed trees reference, even
 *       inside a cluster that holds committed blocks: each block is
 *       written alone, node-sized and node-aligned, and a torn write stays
 *       inside its own slot.
 *   S3. A slot freed in the open transaction keeps SLOT_COMMITTED until
 *       alloc_commit; every slot whose references changed since is in
 *       slot_touched exactly once.
 *   S4. slabs_open holds exactly the metadata clusters with a free slot;
 *       `free` and `hint` of each slab agree with its slots.
 *
 * Nothing of this is on disk: at open the loader references every node it
 * meets (alloc_node_ref, load), which rebuilds the slots as it rebuilds the
 * clusters (core/FORMAT.md section 6).
 *
 * THREAD MODEL: as alloc.c, every call under the container's write lock
 * (or by a lazy open's walk, under load_mutex).
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SLAB_PAGE ((uint64_t)1 << ALLOC_SLAB_PAGE_SHIFT)

static uint32_t slots_per_cluster(const struct alloc *a)
{
	return 1u << a->slot_shift;
}

static struct alloc_slab *slab_of(const struct alloc *a, uint64_t cl)
{
	uint64_t page = cl >> ALLOC_SLAB_PAGE_SHIFT;
	if (page >= a->slab_page_num || !a->slab_pages[page])
		return NULL;
	return a->slab_pages[page][cl & (SLAB_PAGE - 1)];
}

static void slab_free_mem(struct alloc_slab *s)
{
	if (!s)
		return;
	free(s->slot);
	free(s->srefs);
	free(s);
}

int alloc_slot_shift(struct alloc *a, unsigned shift)
{
	if (a->slab_num || shift > 9)
		return -EINVAL;
	a->slot_shift = shift;
	return 0;
}

/* The slab of cluster cl, made (CLUSTER_META, every slot free) when it has
 * none; -EUCLEAN when cl holds data. */
static int slab_make(struct alloc *a, uint64_t cl, struct alloc_slab **out)
{
	struct alloc_slab *s = slab_of(a, cl);
	if (s) {
		*out = s;
		return 0;
	}
	if (cl < a->first)
		return -EUCLEAN;
	int ret = alloc_reach(a, cl);
	if (ret)
		return ret;
	if (a->refs[cl] > 0 || (a->bits[cl] & CLUSTER_COMMITTED))
		return -EUCLEAN; /* data (or packed extents) live here */
	uint64_t page = cl >> ALLOC_SLAB_PAGE_SHIFT;
	if (page >= a->slab_page_num) {
		uint64_t num = page + 1 > a->slab_page_num * 2
				       ? page + 1
				       : a->slab_page_num * 2;
		struct alloc_slab ***p =
			realloc(a->slab_pages, num * sizeof(*p));
		if (!p)
			return -ENOMEM;
		memset(p + a->slab_page_num, 0,
		       (num - a->slab_page_num) * sizeof(*p));
		a->slab_pages = p;
		a->slab_page_num = num;
	}
	if (!a->slab_pages[page]) {
		a->slab_pages[page] =
			calloc(SLAB_PAGE, sizeof(**a->slab_pages));
		if (!a->slab_pages[page])
			return -ENOMEM;
	}
	s = calloc(1, sizeof(*s));
	if (s)
		s->slot = calloc(slots_per_cluster(a), 1);
	if (!s || !s->slot) {
		slab_free_mem(s);
		return -ENOMEM;
	}
	s->free = slots_per_cluster(a);
	a->slab_pages[page][cl & (SLAB_PAGE - 1)] = s;
	a->slab_num++;
	a->bits[cl] |= CLUSTER_META;
	a->bits[cl] &= (uint8_t) ~(CLUSTER_DATA | CLUSTER_PACKED);
	alloc_reindex(a, cl); /* META is part of "free" in a teeth build */
	alloc_set_add(&a->slabs_open, cl);
	*out = s;
	return 0;
}

void alloc_slab_drop(struct alloc *a, uint64_t n)
{
	struct alloc_slab *s = slab_of(a, n);
	if (s) {
		assert(s->free == slots_per_cluster(a));
		a->slab_pages[n >> ALLOC_SLAB_PAGE_SHIFT][n & (SLAB_PAGE - 1)] =
			NULL;
		slab_free_mem(s);
		a->slab_num--;
	}
	if (alloc_set_has(&a->slabs_open, n))
		alloc_set_remove(&a->slabs_open, n);
	a->bits[n] &= (uint8_t)~CLUSTER_META;
	alloc_reindex(a, n); /* META is part of "free" in a teeth build */
}

void alloc_slabs_cleanup(struct alloc *a)
{
	for (uint64_t p = 0; p < a->slab_page_num; p++) {
		if (!a->slab_pages[p])
			continue;
		for (uint64_t i = 0; i < SLAB_PAGE; i++)
			slab_free_mem(a->slab_pages[p][i]);
		free(a->slab_pages[p]);
	}
	free(a->slab_pages);
	free(a->slot_touched);
	a->slab_pages = NULL;
	a->slab_page_num = 0;
	a->slab_num = 0;
	a->slot_touched = NULL;
	a->slot_touched_num = a->slot_touched_cap = 0;
}

static bool slot_is_free(uint8_t bits)
{
	return !(bits & (SLOT_REFS | SLOT_COMMITTED));
}

/* Some slot still has snapshot-side parents. */
static bool slab_counted(const struct alloc *a, const struct alloc_slab *s)
{
	for (uint32_t j = 0; s->srefs && j < slots_per_cluster(a); j++)
		if (s->srefs[j] > 0)
			return true;
	return false;
}

static bool slab_touched(const struct alloc *a, const struct alloc_slab *s)
{
	for (uint32_t j = 0; j < slots_per_cluster(a); j++)
		if (s->slot[j] & SLOT_TOUCHED)
			return true;
	return false;
}

/* The slot's free state changed: keep `free`, `hint` and slabs_open
 * (S4). */
static void slab_count(struct alloc *a, uint64_t cl, struct alloc_slab *s,
		       uint32_t i, bool now_free)
{
	if (now_free) {
		if (s->free++ == 0)
			alloc_set_add(&a->slabs_open, cl);
		if (i < s->hint)
			s->hint = i;
	} else if (--s->free == 0) {
		alloc_set_remove(&a->slabs_open, cl);
	}
}

static int slot_touch(struct alloc *a, struct alloc_slab *s, uint32_t i,
		      uint64_t slot)
{
	if (s->slot[i] & SLOT_TOUCHED)
		return 0;
	if (a->slot_touched_num == a->slot_touched_cap) {
		size_t cap =
			a->slot_touched_cap ? a->slot_touched_cap * 2 : 256;
		uint64_t *t = realloc(a->slot_touched, cap * sizeof(*t));
		if (!t)
			return -ENOMEM;
		a->slot_touched = t;
		a->slot_touched_cap = cap;
	}
	a->slot_touched[a->slot_touched_num++] = slot;
	s->slot[i] |= SLOT_TOUCHED;
	return 0;
}

int alloc_node_ref(struct alloc *a, uint64_t slot, bool load)
{
	const uint64_t cl = slot >> a->slot_shift;
	const uint32_t i = (uint32_t)(slot & (slots_per_cluster(a) - 1));
	struct alloc_slab *s;
	int ret = slab_make(a, cl, &s);
	if (ret)
		return ret;
	uint8_t bits = s->slot[i];
	if ((bits & SLOT_REFS) == 2)
		return -EUCLEAN;
	ret = slot_touch(a, s, i, slot);
	if (!ret)
		ret = alloc_ref(a, cl);
	if (ret)
		return ret;
	a->bits[cl] &= (uint8_t)~CLUSTER_DATA;
	s->slot[i]++; /* SLOT_REFS is the low bits */
	if (load) {
		s->slot[i] |= SLOT_COMMITTED;
		a->bits[cl] |= CLUSTER_COMMITTED;
	}
	if (slot_is_free(bits))
		slab_count(a, cl, s, i, false);
	return 0;
}

void alloc_node_unref(struct alloc *a, uint64_t slot)
{
	const uint64_t cl = slot >> a->slot_shift;
	const uint32_t i = (uint32_t)(slot & (slots_per_cluster(a) - 1));
	struct alloc_slab *s = slab_of(a, cl);
	assert(s && (s->slot[i] & SLOT_REFS));
	/* as alloc_unref: on -ENOMEM the slot simply stays committed */
	(void)slot_touch(a, s, i, slot);
	s->slot[i]--;
	alloc_unref(a, cl);
	if (slot_is_free(s->slot[i]))
		slab_count(a, cl, s, i, true);
	/* never committed and empty: the cluster is free again at once */
	if (a->refs[cl] == 0 && !(a->bits[cl] & CLUSTER_COMMITTED) &&
	    !slab_counted(a, s)) {
		/* its slots leave the touched list (S3): a slab made for
		 * this cluster again must not inherit them */
		size_t kept = 0;
		for (size_t k = 0; k < a->slot_touched_num; k++)
			if (a->slot_touched[k] >> a->slot_shift != cl)
				a->slot_touched[kept++] = a->slot_touched[k];
		a->slot_touched_num = kept;
		for (uint32_t j = 0; j < slots_per_cluster(a); j++)
			s->slot[j] &= (uint8_t)~SLOT_TOUCHED;
		alloc_slab_drop(a, cl);
	}
}

int alloc_node_get(struct alloc *a, uint64_t *out_slot)
{
	uint64_t cl = alloc_set_next(&a->slabs_open, a->first);
	int ret;

	if (!a->walked)
		return -EAGAIN; /* alloc.c invariant 10 */
	/* a commit retried after -ENOSPC writes only where host blocks are
	 * known: a fresh cluster from the reserve (alloc_get) */
	if (cl != ALLOC_SET_NONE && !a->meta_from_reserve) {
		struct alloc_slab *s = slab_of(a, cl);
		for (uint32_t i = s->hint; i < slots_per_cluster(a); i++) {
			if (!slot_is_free(s->slot[i]))
				continue;
			s->hint = i + 1;
			uint64_t slot = (cl << a->slot_shift) | i;
			ret = alloc_node_ref(a, slot, false);
			if (ret)
				return ret;
			*out_slot = slot;
			return 0;
		}
		assert(!"slabs_open names a full slab");
	}
	ret = alloc_get(a, ALLOC_META, &cl);
	if (ret)
		return ret;
	/* alloc_get's reference becomes the first slot's */
	alloc_unref(a, cl);
	ret = alloc_node_ref(a, cl << a->slot_shift, false);
	if (ret)
		return ret;
	*out_slot = cl << a->slot_shift;
	return 0;
}

unsigned alloc_node_refs(const struct alloc *a, uint64_t slot)
{
	const struct alloc_slab *s = slab_of(a, slot >> a->slot_shift);
	return s ? s->slot[slot & (slots_per_cluster(a) - 1)] & SLOT_REFS : 0;
}

uint32_t alloc_node_sref(const struct alloc *a, uint64_t slot)
{
	const struct alloc_slab *s = slab_of(a, slot >> a->slot_shift);
	return s && s->srefs ? s->srefs[slot & (slots_per_cluster(a) - 1)] : 0;
}

int alloc_node_sref_add(struct alloc *a, uint64_t slot, int delta)
{
	const uint64_t cl = slot >> a->slot_shift;
	const uint32_t i = (uint32_t)(slot & (slots_per_cluster(a) - 1));
	struct alloc_slab *s;
	int ret = slab_make(a, cl, &s);
	if (ret)
		return ret;
	if (!s->srefs) {
		s->srefs = calloc(slots_per_cluster(a), sizeof(*s->srefs));
		if (!s->srefs)
			return -ENOMEM;
	}
	if (delta > 0 && s->srefs[i] == UINT32_MAX)
		return -EOVERFLOW;
	assert(delta > 0 || s->srefs[i] > 0);
	s->srefs[i] = delta > 0 ? s->srefs[i] + 1 : s->srefs[i] - 1;
	/* a slab made only for a count that went back to zero (a failed
	 * load) holds nothing: drop it again */
	if (a->refs[cl] == 0 && !(a->bits[cl] & CLUSTER_COMMITTED) &&
	    !slab_counted(a, s) && !slab_touched(a, s))
		alloc_slab_drop(a, cl);
	return 0;
}

uint64_t alloc_nodes_free_clusters(const struct alloc *a, const uint64_t *slots,
				   size_t num)
{
	uint64_t n = 0;
	for (size_t i = 0; i < num; i++) {
		const uint64_t cl = slots[i] >> a->slot_shift;
		uint32_t mine = 0;
		bool first = true;
		for (size_t j = 0; j < num; j++) {
			if (slots[j] >> a->slot_shift != cl)
				continue;
			if (j < i)
				first = false;
			mine++;
		}
		if (first && a->refs[cl] == mine)
			n++;
	}
	return n;
}

void alloc_slots_commit(struct alloc *a)
{
	for (size_t k = 0; k < a->slot_touched_num; k++) {
		const uint64_t slot = a->slot_touched[k];
		const uint64_t cl = slot >> a->slot_shift;
		const uint32_t i =
			(uint32_t)(slot & (slots_per_cluster(a) - 1));
		struct alloc_slab *s = slab_of(a, cl);
		if (!s)
			continue; /* dropped since: never committed */
		uint8_t bits = s->slot[i];
		bool was_free = slot_is_free(bits);
		bits &= (uint8_t) ~(SLOT_TOUCHED | SLOT_COMMITTED);
		if (bits & SLOT_REFS)
			bits |= SLOT_COMMITTED;
		s->slot[i] = bits;
		if (!was_free && slot_is_free(bits))
			slab_count(a, cl, s, i, true);
	}
	a->slot_touched_num = 0;
}

bool alloc_slabs_invariants(const struct alloc *a)
{
	uint64_t slabs = 0, touched = 0;

	for (uint64_t cl = 0; cl < a->count; cl++) {
		const struct alloc_slab *s = slab_of(a, cl);
		bool meta = a->bits[cl] & CLUSTER_META;
		if (!s) {
			if (meta || alloc_set_has(&a->slabs_open, cl))
				return false;
			continue;
		}
		slabs++;
		uint32_t refs = 0, free_slots = 0, first_free = UINT32_MAX;
		for (uint32_t i = 0; i < slots_per_cluster(a); i++) {
			refs += s->slot[i] & SLOT_REFS;
			if (slot_is_free(s->slot[i])) {
				free_slots++;
				if (first_free == UINT32_MAX)
					first_free = i;
			}
			if (s->slot[i] & SLOT_TOUCHED)
				touched++;
			if ((s->slot[i] & SLOT_COMMITTED) &&
			    !(a->bits[cl] & CLUSTER_COMMITTED))
				return false;
		}
		if (!meta || (a->bits[cl] & CLUSTER_DATA) ||
		    refs != a->refs[cl] || free_slots != s->free ||
		    (free_slots && first_free < s->hint) ||
		    alloc_set_has(&a->slabs_open, cl) != (free_slots > 0))
			return false;
	}
	return slabs == a->slab_num && touched == a->slot_touched_num;
}
