/*
 * test_alloc.c -- the transactional cluster allocator (core/alloc.c), driven
 * directly through its internal interface.
 *
 * The rules under test are the ones the crash argument rests on
 * (FORMAT.md, alloc.c invariants 1-6):
 *   - alloc_get never returns a cluster the committed tree references, nor
 *     one already allocated in the open transaction;
 *   - a committed cluster freed in the open transaction is not reusable
 *     before that transaction commits; a raw data cluster freed by commit G
 *     stays held until commit G + 1 (the older superblock slot maps it);
 *   - a never-committed cluster freed again is reusable at once;
 *   - freed data is reused before it is punched, and what is not reused by
 *     the next commit is punched then -- never a cluster still referenced,
 *     committed or held;
 *   - data allocation leaves the metadata reserve alone.
 * A random run checks all of it against a model at every step.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "internal.h"

#define FIRST 2u

struct punches {
	uint64_t list[4096];
	size_t num;
};

static void record_punch(void *arg, uint64_t n)
{
	struct punches *p = arg;
	CHECK(p->num < sizeof(p->list) / sizeof(p->list[0]));
	p->list[p->num++] = n;
}

static bool punched(const struct punches *p, uint64_t n)
{
	for (size_t i = 0; i < p->num; i++)
		if (p->list[i] == n)
			return true;
	return false;
}

static uint64_t get(struct alloc *a, enum alloc_kind kind)
{
	uint64_t n = 0;
	CHECK_OK(alloc_get(a, kind, &n));
	CHECK(alloc_invariants(a));
	return n;
}

static void test_lifecycle(void)
{
	struct alloc a;
	struct punches p = {.num = 0};

	CHECK_OK(alloc_init(&a, FIRST, FIRST));
	uint64_t d0 = get(&a, ALLOC_DATA), d1 = get(&a, ALLOC_DATA),
		 d2 = get(&a, ALLOC_DATA);
	/* distinct, never in the header area */
	CHECK(d0 >= FIRST && d1 >= FIRST && d2 >= FIRST);
	CHECK(d0 != d1 && d1 != d2 && d0 != d2);
	CHECK_EQ(a.used, 3);
	alloc_commit(&a, record_punch, &p); /* generation G */
	CHECK_EQ(p.num, 0);

	/* d1 freed in the open transaction: not reusable before the commit */
	alloc_unref(&a, d1);
	CHECK_EQ(a.used, 2);
	uint64_t d3 = get(&a, ALLOC_DATA);
	CHECK(d3 != d0 && d3 != d1 && d3 != d2);

	/* a cluster allocated and freed inside one transaction is free at
	 * once: nothing committed ever mapped it */
	uint64_t t = get(&a, ALLOC_DATA);
	alloc_unref(&a, t);
	CHECK_EQ(get(&a, ALLOC_DATA), t);
	alloc_unref(&a, t);

	/* commit G+1 frees d1 in the new tree, but slot G still maps it:
	 * held, neither reusable nor punched */
	alloc_commit(&a, record_punch, &p);
	CHECK(!punched(&p, d1));
	uint64_t d4 = get(&a, ALLOC_DATA);
	CHECK(d4 != d1);

	/* commit G+2: d1 is mapped by neither slot; it joins the recycle list
	 * with its host blocks, so the next data allocation reuses it */
	alloc_commit(&a, record_punch, &p);
	CHECK(!punched(&p, d1));
	CHECK_EQ(get(&a, ALLOC_DATA), d1);

	/* freed and not reused by the next commit: punched then, once */
	alloc_unref(&a, d4);
	alloc_commit(&a, record_punch, &p); /* d4 held */
	alloc_commit(&a, record_punch, &p); /* d4 recycled, warm */
	CHECK(!punched(&p, d4));
	alloc_commit(&a, record_punch, &p); /* not reused: punched */
	CHECK(punched(&p, d4));
	size_t before = p.num;
	alloc_commit(&a, record_punch, &p);
	CHECK_EQ(p.num, before);

	/* metadata is checksummed by its parent, so it needs no hold: freed
	 * by commit G, reusable right after G, and never punched */
	uint64_t m0 = get(&a, ALLOC_META);
	alloc_commit(&a, record_punch, &p);
	p.num = 0; /* m0 may be the punched d4, reused */
	alloc_unref(&a, m0);
	CHECK(get(&a, ALLOC_META) != m0);
	alloc_commit(&a, record_punch, &p);
	CHECK(!punched(&p, m0));
	CHECK_EQ(get(&a, ALLOC_META), m0);
	CHECK(alloc_invariants(&a));
	alloc_cleanup(&a);
}

static void test_reserve(void)
{
	struct alloc a;
	struct punches p = {.num = 0};

	CHECK_OK(alloc_init(&a, FIRST, FIRST));
	uint64_t d = get(&a, ALLOC_DATA);
	alloc_commit(&a, record_punch, &p);
	/* the file ends 4 clusters past the last used one; those 4 own host
	 * blocks and are the metadata reserve */
	a.reserve = 4;
	CHECK_OK(alloc_set_end(&a, d + 1 + 4, 4));
	CHECK_EQ(a.backed_free, 4);
	/* data never takes a reserve cluster: it grows the file instead */
	uint64_t n = get(&a, ALLOC_DATA);
	CHECK(n >= d + 1 + 4);
	/* a commit retried after ENOSPC takes metadata from the reserve */
	a.meta_from_reserve = true;
	uint64_t m = get(&a, ALLOC_META);
	CHECK(m > d && m < d + 1 + 4);
	CHECK(alloc_invariants(&a));
	alloc_cleanup(&a);
}

/* ---- a random run against a model ------------------------------------- */

#define MODEL_MAX 4096u

struct model {
	uint32_t refs[MODEL_MAX];
	bool data[MODEL_MAX];	       /* the kind of its latest allocation */
	bool committed[MODEL_MAX];     /* mapped by the last commit's tree */
	bool previous[MODEL_MAX];      /* mapped by the commit before it */
	bool previous_data[MODEL_MAX]; /* ... as a raw data cluster */
	bool committed_data[MODEL_MAX];
	uint64_t live[MODEL_MAX];
	size_t live_num;
};

static void model_commit(struct model *m, struct alloc *a, struct punches *p)
{
	size_t before = p->num;
	alloc_commit(a, record_punch, p);
	CHECK(alloc_invariants(a));
	for (size_t i = before; i < p->num; i++) {
		uint64_t n = p->list[i];
		CHECK(n < MODEL_MAX);
		/* never punch what a live tree or the open state maps */
		CHECK_EQ(m->refs[n], 0);
		CHECK(!m->committed[n]);
		CHECK(m->data[n]);
	}
	p->num = 0;
	for (uint64_t n = 0; n < MODEL_MAX; n++) {
		m->previous[n] = m->committed[n];
		m->previous_data[n] = m->committed_data[n];
		m->committed[n] = m->refs[n] > 0;
		m->committed_data[n] = m->committed[n] && m->data[n];
	}
}

static void test_random(uint64_t seed)
{
	struct alloc a;
	struct model *m = calloc(1, sizeof(*m));
	struct punches *p = calloc(1, sizeof(*p));
	uint64_t rng = seed;
	uint64_t gets = 0, reuses = 0;

	CHECK(m && p);
	CHECK_OK(alloc_init(&a, FIRST, FIRST));
	for (int step = 0; step < 20000; step++) {
		uint64_t r = test_rand(&rng) % 100;
		if (r < 55 && m->live_num >= 300)
			r = 60; /* full: free instead */
		if (r < 45) {
			bool data = test_rand(&rng) % 4 != 0;
			uint64_t n = get(&a, data ? ALLOC_DATA : ALLOC_META);
			CHECK(n >= FIRST && n < MODEL_MAX);
			/* invariant 1: free in the committed tree and in
			 * the open transaction */
			CHECK_EQ(m->refs[n], 0);
			CHECK(!m->committed[n]);
			/* invariant 5: a raw data cluster the older slot
			 * maps is not reused either */
			CHECK(!m->previous_data[n]);
			if (m->previous[n])
				reuses++;
			m->refs[n] = 1;
			m->data[n] = data;

			m->live[m->live_num++] = n;
			gets++;
		} else if (r < 55) {
			if (m->live_num == 0)
				continue;
			/* a second reference (a shared packed cluster) */
			uint64_t n = m->live[test_rand(&rng) % m->live_num];
			CHECK_OK(alloc_ref(&a, n));
			m->refs[n]++;
			m->live[m->live_num++] = n;
		} else if (r < 93 && m->live_num > 0) {
			size_t i = test_rand(&rng) % m->live_num;
			uint64_t n = m->live[i];
			alloc_unref(&a, n);
			m->refs[n]--;

			m->live[i] = m->live[--m->live_num];
		} else {
			model_commit(m, &a, p);
		}
		CHECK(alloc_invariants(&a));
		uint64_t used = 0;
		for (uint64_t n = 0; n < MODEL_MAX; n++)
			used += m->refs[n] > 0;
		CHECK_EQ(a.used, used);
	}
	/* the run did reuse freed clusters (the checks above had work) */
	CHECK(gets > 5000);
	CHECK(reuses > 100);
	alloc_cleanup(&a);
	free(m);
	free(p);
}

/* A cluster that held compressed extents, freed and taken again as raw
 * data inside one transaction, is an ordinary RAW cluster once committed:
 * freeing it later must hold it (invariant 5), not release it at once as a
 * pack cluster (which the older slot's checksums would protect). */
static void test_packed_reuse(void)
{
	struct alloc a;
	struct punches p = {.num = 0};

	CHECK_OK(alloc_init(&a, FIRST, FIRST));
	alloc_commit(&a, record_punch, &p);
	uint64_t n = get(&a, ALLOC_DATA);
	a.bits[n] |= CLUSTER_PACKED; /* as data.c does for a pack cluster */
	alloc_unref(&a, n);	     /* its extents released, uncommitted */
	CHECK_EQ(get(&a, ALLOC_DATA), n); /* now raw data */
	alloc_commit(&a, record_punch, &p);
	CHECK(a.bits[n] & CLUSTER_COMMITTED);
	CHECK(!(a.bits[n] & CLUSTER_PACKED));
	alloc_unref(&a, n);
	alloc_commit(&a, record_punch, &p);
	CHECK_EQ(a.held_num, 1);
	CHECK(a.bits[n] & CLUSTER_HELD);
	CHECK(!punched(&p, n));
	CHECK(alloc_invariants(&a));
	alloc_cleanup(&a);
}

int main(void)
{
	test_lifecycle();
	test_reserve();
	test_packed_reuse();
	uint64_t seed = test_seed();
	for (int i = 0; i < 8; i++)
		test_random(seed + (uint64_t)i);
	printf("test_alloc: ok\n");
	return 0;
}
