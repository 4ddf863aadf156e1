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
 *
 * alloc_get finds clusters through a free-cluster index (alloc.c invariant
 * 7) instead of a linear scan: every allocation here is compared with what
 * the linear first-fit scan it replaced returns on the same state
 * (reference_get), a second random run drives every transition that moves
 * a cluster in or out of the index (set_backed, set_end, reach, recycle
 * flush, reserve and meta_from_reserve, files grown across index levels)
 * and checks the index against a brute-force scan after each (and
 * alloc_init's index at every level boundary), and a scaling run checks
 * that a copy-on-write allocation in a file of 2^20 clusters costs about
 * what one in a file of 2^10 does (the scan made it ~1600 times more).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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

/* What alloc_get returned before the free-cluster index: the linear
 * first-fit scan from the cursor, verbatim but for not changing anything;
 * *cursor is the cursor it leaves. */
static uint64_t reference_get(const struct alloc *a, enum alloc_kind kind,
			      uint64_t *cursor)
{
	uint64_t n;

	*cursor = a->cursor;
	if (kind == ALLOC_META && a->meta_from_reserve && a->backed_free > 0) {
		for (n = a->first; n < a->count; n++) {
			if ((a->bits[n] & CLUSTER_BACKED) && a->refs[n] == 0 &&
			    !(a->bits[n] & (CLUSTER_COMMITTED | CLUSTER_HELD)))
				return n;
		}
	}
	for (n = a->cursor; n < a->count; n++) {
		if (a->refs[n] == 0 &&
		    !(a->bits[n] & (CLUSTER_COMMITTED | CLUSTER_HELD))) {
			if (kind == ALLOC_DATA &&
			    (a->bits[n] & CLUSTER_BACKED) &&
			    a->backed_free <= a->reserve)
				continue;
			*cursor = n + 1;
			return n;
		}
	}
	return a->count;
}

static uint64_t get(struct alloc *a, enum alloc_kind kind)
{
	uint64_t n = 0, want_cursor;
	uint64_t want = reference_get(a, kind, &want_cursor);
	CHECK_OK(alloc_get(a, kind, &n));
	CHECK_EQ(n, want);
	CHECK_EQ(a->cursor, want_cursor);
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

/* ---- the free-cluster index against a brute-force scan ---------------- */

static bool free_now(const struct alloc *a, uint64_t n)
{
	return n >= a->first && n < a->count && a->refs[n] == 0 &&
	       !(a->bits[n] & (CLUSTER_COMMITTED | CLUSTER_HELD));
}

/* Both sets hold exactly the free clusters, split by BACKED, and
 * alloc_set_next agrees with a scan from anywhere (every member in order,
 * and from `probes` random places). */
static void check_index(const struct alloc *a, uint64_t *rng, int probes)
{
	const struct alloc_set *sets[2] = {&a->free_unbacked, &a->free_backed};
	for (int backed = 0; backed < 2; backed++) {
		const struct alloc_set *s = sets[backed];
		uint64_t member = alloc_set_next(s, 0);
		for (uint64_t n = 0; n < a->count + 200; n++) {
			bool want = free_now(a, n) &&
				    !!(a->bits[n] & CLUSTER_BACKED) == backed;
			CHECK_EQ(alloc_set_has(s, n), want);
			if (want) {
				CHECK_EQ(member, n);
				member = alloc_set_next(s, n + 1);
			}
		}
		CHECK(member == ALLOC_SET_NONE);
		for (int i = 0; i < probes; i++) {
			uint64_t from = test_rand(rng) % (a->count + 100);
			uint64_t want = from;
			while (want < a->count &&
			       !(free_now(a, want) &&
				 !!(a->bits[want] & CLUSTER_BACKED) == backed))
				want++;
			if (want >= a->count)
				want = ALLOC_SET_NONE;
			CHECK(alloc_set_next(s, from) == want);
		}
	}
	CHECK(alloc_invariants(a));
}

static uint64_t punch_count;

static void count_punch(void *arg, uint64_t n)
{
	const struct alloc *a = arg;
	/* never what the open state, the committed or the older tree maps */
	CHECK(a->refs[n] == 0);
	CHECK(!(a->bits[n] & (CLUSTER_COMMITTED | CLUSTER_HELD)));
	punch_count++;
}

#define INDEX_LIVE 4096u

/* Every transition of the allocator, at random, with the index checked
 * after each: `far` jumps the file past 64^3 clusters (a fourth index
 * level), checked less often. */
static void test_index_random(uint64_t seed, bool far)
{
	struct alloc a;
	uint64_t *live = calloc(INDEX_LIVE, sizeof(*live));
	size_t live_num = 0;
	uint64_t rng = seed;
	uint64_t gets = 0, backed_gets = 0, reserve_gets = 0, ends = 0;
	const int steps = far ? 1500 : 2500;

	CHECK(live != NULL);
	CHECK_OK(alloc_init(&a, FIRST, FIRST + test_rand(&rng) % 3000));
	punch_count = 0;
	for (int step = 0; step < steps; step++) {
		uint64_t r = test_rand(&rng) % 1000;
		if (r < 450 && live_num >= INDEX_LIVE - 2)
			r = 600; /* full: free instead */
		if (far && step == steps / 3)
			r = 999;
		if (r < 400) {
			enum alloc_kind kind =
				test_rand(&rng) % 3 ? ALLOC_DATA : ALLOC_META;
			uint64_t before = a.backed_free;
			uint64_t n = get(&a, kind);
			if (before != a.backed_free)
				backed_gets++;
			if (kind == ALLOC_META && a.meta_from_reserve)
				reserve_gets++;
			live[live_num++] = n;
			gets++;
		} else if (r < 450) {
			if (live_num == 0)
				continue;
			uint64_t n = live[test_rand(&rng) % live_num];
			CHECK_OK(alloc_ref(&a, n));
			live[live_num++] = n;
		} else if (r < 800) {
			if (live_num == 0)
				continue;
			size_t i = test_rand(&rng) % live_num;
			alloc_unref(&a, live[i]);
			live[i] = live[--live_num];
		} else if (r < 900) {
			alloc_commit(&a,
				     test_rand(&rng) % 16 ? count_punch : NULL,
				     &a);
			/* as open does, right after a commit: cut the file
			 * back past the last used cluster, the tail backed */
			if (test_rand(&rng) % 4 == 0) {
				uint64_t tail = test_rand(&rng) % 8;
				uint64_t end = alloc_last_used(&a) + tail;
				CHECK_OK(alloc_set_end(
					&a, end, test_rand(&rng) % (tail + 1)));
				ends++;
			}
		} else if (r < 920) {
			alloc_recycle_flush(&a, count_punch, &a);
		} else if (r < 950) {
			/* as open's reserve probe does: a free cluster now
			 * owns host blocks, or one no longer does */
			uint64_t n = a.first +
				     test_rand(&rng) % (a.count - a.first + 1);
			if (n < a.count && free_now(&a, n))
				alloc_set_backed(&a, n,
						 test_rand(&rng) % 4 != 0);
		} else if (r < 965) {
			a.reserve = test_rand(&rng) % 6;
		} else if (r < 980) {
			a.meta_from_reserve = !a.meta_from_reserve;
		} else if (r < 990) {
			/* the loader tracks clusters past the end */
			CHECK_OK(alloc_reach(&a,
					     a.count + test_rand(&rng) % 300));
		} else {
			/* the loader references a cluster far past the end */
			uint64_t jump = far && step == steps / 3
						? 64u * 64u * 64u + 5000u
						: test_rand(&rng) % 500;
			uint64_t n = a.count + jump;
			CHECK_OK(alloc_ref(&a, n));
			live[live_num++] = n;
		}
		if (!far || a.count < 20000 || step % 64 == 0)
			check_index(&a, &rng, 8);
	}
	check_index(&a, &rng, 64);
	/* the run reached what it is for */
	CHECK(gets > (uint64_t)steps / 5);
	CHECK(backed_gets > 10);
	CHECK(reserve_gets > 3);
	CHECK(ends > 5);
	CHECK(punch_count > 0);
	if (far)
		CHECK(a.free_unbacked.levels >= 4);
	alloc_cleanup(&a);
	free(live);
}

/* alloc_init indexes the whole file at once (open's starting point before
 * the tree walk references what is used): every size, across levels. */
static void test_index_init(uint64_t seed)
{
	uint64_t rng = seed;
	const uint64_t sizes[] = {0,	  1,
				  63,	  64,
				  65,	  127,
				  4095,	  4096,
				  4097,	  64 * 64 + 1,
				  262143, 262144,
				  262145, 262144 + 4096 + 65};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]) * 2; i++) {
		struct alloc a;
		uint64_t first = i % 2 ? FIRST : 1 + test_rand(&rng) % 130;
		uint64_t count = first + sizes[i / 2];
		CHECK_OK(alloc_init(&a, first, count));
		check_index(&a, &rng, 16);
		uint64_t n;
		CHECK_OK(alloc_get(&a, ALLOC_DATA, &n));
		CHECK_EQ(n, first);
		alloc_cleanup(&a);
	}
}

/* ---- cost: an allocation past every hole is not a scan -------------- */

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void no_punch(void *arg, uint64_t n)
{
	(void)arg;
	(void)n;
}

/* Fastest time per allocation over blocks of copy-on-write rounds on a
 * file of `clusters` committed clusters (loaded as open does, by
 * reference): each round frees one random cluster and allocates two -- the
 * first fills the hole the previous commits freed, the second must come
 * from past the end -- then commits.  The linear scan walked from the hole
 * to the end of the file for the second; the index goes there in a few
 * word reads.  The fastest block, so a preempted block does not count. */
static double cow_round_ns(uint64_t clusters, uint64_t seed)
{
	const int block = 256, blocks = 8;
	struct alloc a;
	uint64_t rng = seed;
	uint64_t *live =
		malloc((clusters + 2 * block * blocks) * sizeof(*live));
	uint64_t live_num = 0;

	CHECK(live != NULL);
	CHECK_OK(alloc_init(&a, FIRST, FIRST));
	for (uint64_t n = FIRST; n < FIRST + clusters; n++) {
		CHECK_OK(alloc_ref(&a, n));
		live[live_num++] = n;
	}
	alloc_commit(&a, no_punch, NULL);
	double best = 1e30;
	for (int b = 0; b < blocks; b++) {
		double t0 = now_ns();
		for (int i = 0; i < block; i++) {
			uint64_t k = test_rand(&rng) % live_num;
			alloc_unref(&a, live[k]);
			CHECK_OK(alloc_get(&a, ALLOC_DATA, &live[k]));
			CHECK_OK(alloc_get(&a, ALLOC_DATA, &live[live_num++]));
			alloc_commit(&a, no_punch, NULL);
		}
		double per = (now_ns() - t0) / (2.0 * block);
		best = per < best ? per : best;
	}
	CHECK(alloc_invariants(&a));
	alloc_cleanup(&a);
	free(live);
	return best;
}

/* An allocation in a file of 2^20 clusters costs about what one in a file
 * of 2^10 does: the scan made it ~1000 times more. */
static void test_scaling(uint64_t seed)
{
	double small = cow_round_ns(1u << 10, seed);
	double big = cow_round_ns(1u << 20, seed);
	printf("test_alloc: %.0f ns per allocation in a copy-on-write round "
	       "on 2^10 clusters, %.0f ns on 2^20\n",
	       small, big);
	/* (cache misses on the big arrays account for a few times) */
	CHECK(big < 10 * small + 1000);
}

int main(void)
{
	test_lifecycle();
	test_reserve();
	test_packed_reuse();
	uint64_t seed = test_seed();
	for (int i = 0; i < 8; i++)
		test_random(seed + (uint64_t)i);
	test_index_init(seed);
	for (int i = 0; i < 6; i++)
		test_index_random(seed + 100 + (uint64_t)i, false);
	test_index_random(seed + 200, true);
	test_scaling(seed);
	printf("test_alloc: ok\n");
	return 0;
}
