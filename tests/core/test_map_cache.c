/*
 * test_map_cache.c -- the map cache (core/map.c, "Cache"): with a budget of
 * a few leaves, a sparse disk written at random keeps its loaded leaves
 * within the budget (clean ones evicted, dirty ones committed), every
 * block reads back after eviction and after a reopen (leaves loaded on
 * demand, verified again), SEEK_DATA and truncation see unloaded leaves, a
 * damaged leaf read on demand is an error and never zeros, and readers on
 * several threads evicting under the read lock while a writer commits get
 * their bytes (run it under TSan too: contrib/test --tsan).
 */
#include <pthread.h>
#include <stdatomic.h>

#include "hangar/check.h"
#include "container_open.h"
#include "harness.h"
#include "internal.h"
#include "memio.h"

#define BLOCK	4096u
#define DISK	(1ull << 30) /* 262144 clusters of 4 KiB: 2081 leaves */
#define WRITES	600
#define READERS 3

static uint64_t leaf_size(const struct container *c)
{
	return (uint64_t)c->fanout * sizeof(struct map_entry);
}

static uint64_t cache_used(struct container *c)
{
	return atomic_load(&c->map_budget->used);
}

static void fill(uint8_t *b, uint64_t vc)
{
	for (uint32_t i = 0; i < BLOCK; i += 8)
		memcpy(b + i, &vc, 8);
}

static void pick_clusters(uint64_t seed, uint64_t *vcs)
{
	test_pick_distinct(seed, WRITES, DISK / BLOCK, vcs);
}

static struct container *open_tiny(struct memio *m, uint64_t budget)
{
	struct container *c = NULL;
	struct container_options o = {.map_cache_bytes = budget};
	CHECK_OK(container_open(&m->io, &o, &c));
	return c;
}

static void read_all(struct container *c, uint64_t id, const uint64_t *vcs,
		     uint64_t bound)
{
	uint8_t want[BLOCK], got[BLOCK];
	size_t n;
	for (size_t i = 0; i < WRITES; i++) {
		fill(want, vcs[i]);
		CHECK_OK(object_read(c, id, got, BLOCK, vcs[i] * BLOCK, &n));
		CHECK_EQ(n, BLOCK);
		CHECK_MEM_EQ(got, want, BLOCK);
		CHECK(cache_used(c) <= bound);
	}
}

static void check_clean(struct memio *m)
{
	struct check_report r;
	CHECK_OK(check_container(&m->io, &r));
	for (size_t i = 0; i < r.message_count; i++)
		fprintf(stderr, "check: %s\n", r.messages[i]);
	CHECK_EQ(r.errors, 0);
	CHECK_EQ(r.leaked_clusters, 0);
}

/* The first leaf of the subtree `n` that is a stub (not loaded), or NULL. */
static struct map_node *find_stub(const struct container *c, struct map_node *n)
{
	if (!n)
		return NULL;
	if (n->level == 0)
		return n->entries ? NULL : n;
	for (uint32_t i = 0; i < c->fanout; i++) {
		struct map_node *s = find_stub(c, n->children[i]);
		if (s)
			return s;
	}
	return NULL;
}

struct reader {
	struct container *c;
	uint64_t id;
	const uint64_t *vcs;
	uint64_t seed;
	atomic_int *stop;
	int errors;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	uint8_t want[BLOCK], got[BLOCK];
	uint64_t s = r->seed | 1;
	size_t n;
	while (!atomic_load(r->stop)) {
		uint64_t vc = r->vcs[test_rand(&s) % WRITES];
		fill(want, vc);
		if (object_read(r->c, r->id, got, BLOCK, vc * BLOCK, &n) ||
		    n != BLOCK || memcmp(got, want, BLOCK) != 0)
			r->errors++;
	}
	return NULL;
}

int main(void)
{
	const uint64_t seed = test_seed();
	struct memio *m = memio_new();
	struct container *c = NULL;
	uint64_t *vcs = calloc(WRITES, sizeof(*vcs));
	uint8_t block[BLOCK];
	uint64_t id;
	CHECK(vcs);
	pick_clusters(seed, vcs);

	/* 1. writing at random: loaded leaves stay within the budget plus
	 * the dirty floor (8 leaves), because dirty ones force commits */
	struct container_options co = {.cluster_shift = 12,
				       .map_cache_bytes = 1};
	CHECK_OK(container_create(&m->io, &co, &c));
	const uint64_t leaf = leaf_size(c);
	const uint64_t bound = 10 * leaf; /* 8 dirty + current + slack */
	CHECK_OK(object_create(c, "disk.raw", 0644, 0, 0, &id));
	CHECK_OK(object_truncate(c, id, DISK));
	const uint64_t gen0 = c->generation;
	for (size_t i = 0; i < WRITES; i++) {
		fill(block, vcs[i]);
		CHECK_OK(object_write(c, id, block, BLOCK, vcs[i] * BLOCK));
		CHECK(cache_used(c) <= bound);
	}
	printf("map cache: %d writes, %llu commits forced, %llu B loaded "
	       "(leaf %llu B)\n",
	       WRITES, (unsigned long long)(c->generation - gen0),
	       (unsigned long long)cache_used(c), (unsigned long long)leaf);
	CHECK(c->generation - gen0 >= 10); /* dirty leaves were committed */
	/* 2. read back: clean leaves evicted on every lookup */
	CHECK_OK(container_commit(c));
	read_all(c, id, vcs, 2 * leaf);
	CHECK_OK(container_close(c));

	/* 3. reopen: leaves are stubs until used; reads, SEEK_DATA */
	c = open_tiny(m, 1);
	CHECK(cache_used(c) <= leaf);
	struct object *o = object_find(c, id);
	CHECK(o && find_stub(c, o->root));
	read_all(c, id, vcs, 2 * leaf);
	uint64_t pos = 0, found = 0;
	while (object_seek(c, id, pos, SEEK_DATA, &pos) == 0) {
		found++;
		pos += BLOCK;
	}
	CHECK_EQ(found, WRITES);
	CHECK(cache_used(c) <= 2 * leaf);

	/* 4. readers evicting under the read lock while a writer writes
	 * and commits */
	atomic_int stop = 0;
	struct reader rd[READERS];
	pthread_t th[READERS];
	for (int i = 0; i < READERS; i++) {
		rd[i] = (struct reader){.c = c,
					.id = id,
					.vcs = vcs,
					.seed = seed + (uint64_t)i + 1,
					.stop = &stop};
		CHECK_EQ(pthread_create(&th[i], NULL, reader_main, &rd[i]), 0);
	}
	for (size_t i = 0; i < WRITES; i += 3) {
		fill(block, vcs[i]);
		CHECK_OK(object_write(c, id, block, BLOCK, vcs[i] * BLOCK));
		if (i % 30 == 0)
			CHECK_OK(container_commit(c));
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < READERS; i++) {
		CHECK_EQ(pthread_join(th[i], NULL), 0);
		CHECK_EQ(rd[i].errors, 0);
	}

	/* 5. truncate through unloaded leaves: their references go */
	CHECK_OK(container_commit(c));
	CHECK_OK(container_close(c));
	c = open_tiny(m, 1);
	CHECK_OK(object_truncate(c, id, DISK / 2));
	CHECK_OK(container_close(c));
	check_clean(m);
	c = open_tiny(m, 0);
	size_t kept = 0, n;
	for (size_t i = 0; i < WRITES; i++) {
		uint8_t want[BLOCK];
		if (vcs[i] * BLOCK >= DISK / 2)
			continue;
		fill(want, vcs[i]);
		CHECK_OK(object_read(c, id, block, BLOCK, vcs[i] * BLOCK, &n));
		CHECK_MEM_EQ(block, want, BLOCK);
		kept++;
	}
	CHECK(kept > 0 && kept < WRITES);
	CHECK_OK(container_close(c));

	/* 6. a leaf damaged on disk after the open: read on demand, it is an
	 * error (-EBADMSG), never zeros */
	c = open_tiny(m, 1);
	o = object_find(c, id);
	struct map_node *stub = find_stub(c, o->root);
	CHECK(stub);
	m->data[stub->phys + 200] ^= 0x40;
	int ret = object_read(c, id, block, BLOCK, stub->index * BLOCK, &n);
	CHECK_ERR(ret, -EBADMSG);
	m->data[stub->phys + 200] ^= 0x40;
	CHECK_OK(object_read(c, id, block, BLOCK, stub->index * BLOCK, &n));
	CHECK_OK(container_close(c));

	memio_free(m);
	free(vcs);
	printf("test_map_cache: ok\n");
	return 0;
}
