/*
 * test_lazy_open.c -- the lazy open (core/container.c, "Lazy open"): a
 * container with hundreds of map leaves, a snapshot and a second object
 * opens reading only its superblock and table (an open that may read seven
 * blocks succeeds lazily and fails eagerly); every block and every hole
 * reads right before the trees are walked, and reading does not walk them;
 * the first write walks them while readers on other threads keep reading
 * (run it under TSan too: contrib/test --tsan); the result checks clean.
 * A leaf damaged on disk does not stop the lazy open: reads under it fail
 * (-EBADMSG), reads elsewhere succeed, the first write fails, SEEK_DATA
 * fails, the close reports it, and not one byte of the file changes.
 * Encrypted containers read the same way before their walk.  A store
 * with a committer walks a guest it opened read-write at once, with no
 * write to ask for it; one without leaves it unwalked until some
 * thousands of reads.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "container_open.h"
#include "hangar/check.h"
#include "hangar/store.h"
#include "harness.h"
#include "internal.h"
#include "memio.h"

#define BLOCK	4096u
#define DISK	(1ull << 30) /* 262144 clusters of 4 KiB */
#define WRITES	600	     /* about 550 leaves of 168 entries */
#define READERS 3

static void fill(uint8_t *b, uint64_t vc, uint8_t gen)
{
	for (uint32_t i = 0; i < BLOCK; i += 8) {
		memcpy(b + i, &vc, 8);
		b[i + 7] = gen;
	}
}

static void pick_clusters(uint64_t seed, uint64_t *vcs)
{
	test_pick_distinct(seed, WRITES, DISK / BLOCK, vcs);
}

static bool loaded(struct container *c)
{
	return atomic_load(&c->maps_loaded);
}

static struct container *open_lazy(struct memio *m,
				   const struct crypto_key *master,
				   container_event_fn event, void *arg)
{
	struct container *c = NULL;
	struct container_options o = {TEST_MAP_CACHE, .master = master,
				      .lazy_maps = true, .event = event,
				      .event_arg = arg};
	CHECK_OK(container_open(&m->io, &o, &c));
	return c;
}

/* Every written block reads its bytes (generation `gen`), and the block
 * after each (a hole, or another written one) reads what it holds. */
static void read_all(struct container *c, uint64_t id, const uint64_t *vcs,
		     uint8_t gen)
{
	uint8_t want[BLOCK], got[BLOCK], zero[BLOCK] = {0};
	size_t n;
	for (size_t i = 0; i < WRITES; i++) {
		fill(want, vcs[i], gen);
		CHECK_OK(object_read(c, id, got, BLOCK, vcs[i] * BLOCK, &n));
		CHECK_EQ(n, BLOCK);
		CHECK_MEM_EQ(got, want, BLOCK);
		const uint64_t next = (vcs[i] + 1) % (DISK / BLOCK);
		bool written = false;
		for (size_t j = 0; j < WRITES && !written; j++)
			written = vcs[j] == next;
		if (written)
			continue;
		CHECK_OK(object_read(c, id, got, BLOCK, next * BLOCK, &n));
		CHECK_MEM_EQ(got, zero, BLOCK);
	}
}

static void check_clean(struct memio *m, const struct crypto_key *master)
{
	struct check_report r;
	CHECK_OK(check_container_key(&m->io, master, &r));
	for (size_t i = 0; i < r.message_count; i++)
		fprintf(stderr, "check: %s\n", r.messages[i]);
	CHECK_EQ(r.errors, 0);
	CHECK_EQ(r.leaked_clusters, 0);
}

/* disk.raw with WRITES scattered blocks (generation 1), a snapshot taken
 * halfway, and config. */
static void build(struct memio *m, const struct crypto_key *master,
		  const uint64_t *vcs, uint64_t *out_id)
{
	struct container *c = NULL;
	struct container_options co = {TEST_MAP_CACHE, .cluster_shift = 12,
				       .master = master};
	uint8_t block[BLOCK];
	uint64_t cfg;
	CHECK_OK(container_create(&m->io, &co, &c));
	CHECK_OK(object_create(c, "disk.raw", 0644, 0, 0, out_id));
	CHECK_OK(object_truncate(c, *out_id, DISK));
	for (size_t i = 0; i < WRITES; i++) {
		fill(block, vcs[i], 1);
		CHECK_OK(
			object_write(c, *out_id, block, BLOCK, vcs[i] * BLOCK));
		if (i == WRITES / 2)
			CHECK_OK(container_snapshot_create(c, "half"));
	}
	CHECK_OK(object_create(c, "config", 0644, 0, 0, &cfg));
	CHECK_OK(object_write(c, cfg, "x = 1\n", 6, 0));
	CHECK_OK(container_close(c));
}

/* 1. the open reads O(1) blocks; reads are right and do not walk */
static void test_open_and_read(struct memio *m, uint64_t id,
			       const uint64_t *vcs)
{
	struct container *c = NULL;
	/* seven reads: the header and a table block or two; the walk reads
	 * every one of ~560 nodes */
	m->fail_mask = MEMIO_OP_PREAD;
	m->fail_errno = -EIO;
	m->fail_at = 8;
	m->calls = 0;
	struct container_options eager = {TEST_MAP_CACHE};
	CHECK_ERR(container_open(&m->io, &eager, &c), -EIO);
	m->calls = 0;
	m->failed = false;
	c = open_lazy(m, NULL, NULL, NULL);
	m->fail_mask = 0;
	m->fail_at = 0;
	m->failed = false;
	CHECK(!loaded(c));
	struct object_attr attr;
	CHECK_OK(object_getattr(c, id, &attr));
	CHECK_EQ(attr.size, DISK);
	read_all(c, id, vcs, 1);
	CHECK(!loaded(c));	      /* reads never walk */
	CHECK_OK(container_close(c)); /* nothing to commit, nothing walked */
	check_clean(m, NULL);
}

struct reader {
	struct container *c;
	uint64_t id;
	const uint64_t *vcs;
	uint64_t seed;
	atomic_int *stop;
	long reads;
	int errors;
};

/* Readers read the blocks the writer does not touch (odd indexes). */
static void *reader_main(void *arg)
{
	struct reader *r = arg;
	uint8_t want[BLOCK], got[BLOCK];
	uint64_t s = r->seed | 1;
	size_t n;
	while (!atomic_load(r->stop) || r->reads < 50) {
		const size_t i = (test_rand(&s) % (WRITES / 2)) * 2 + 1;
		fill(want, r->vcs[i], 1);
		if (object_read(r->c, r->id, got, BLOCK, r->vcs[i] * BLOCK,
				&n) ||
		    n != BLOCK || memcmp(got, want, BLOCK) != 0)
			r->errors++;
		r->reads++;
	}
	return NULL;
}

/* 2. the first write walks the trees while readers read */
static void test_walk_under_readers(struct memio *m, uint64_t id,
				    const uint64_t *vcs, uint64_t seed)
{
	struct container *c = open_lazy(m, NULL, NULL, NULL);
	atomic_int stop = 0;
	struct reader rd[READERS];
	pthread_t th[READERS];
	uint8_t block[BLOCK];
	for (int i = 0; i < READERS; i++) {
		rd[i] = (struct reader){.c = c,
					.id = id,
					.vcs = vcs,
					.seed = seed + (uint64_t)i + 1,
					.stop = &stop};
		CHECK_EQ(pthread_create(&th[i], NULL, reader_main, &rd[i]), 0);
	}
	/* even indexes get generation 2; the first write walks */
	for (size_t i = 0; i < WRITES; i += 2) {
		fill(block, vcs[i], 2);
		CHECK_OK(object_write(c, id, block, BLOCK, vcs[i] * BLOCK));
		CHECK(loaded(c));
		if (i % 60 == 0)
			CHECK_OK(container_commit(c));
	}
	atomic_store(&stop, 1);
	long reads = 0;
	for (int i = 0; i < READERS; i++) {
		CHECK_EQ(pthread_join(th[i], NULL), 0);
		CHECK_EQ(rd[i].errors, 0);
		reads += rd[i].reads;
	}
	uint64_t pos = 0, found = 0;
	while (object_seek(c, id, pos, SEEK_DATA, &pos) == 0) {
		found++;
		pos += BLOCK;
	}
	CHECK_EQ(found, WRITES);
	CHECK_OK(container_close(c));
	check_clean(m, NULL);
	printf("lazy open: %ld reads on %d threads during the walk and %d "
	       "writes\n",
	       reads, READERS, WRITES / 2);
	/* an eager open sees the same bytes */
	struct container_options eager = {TEST_MAP_CACHE};
	CHECK_OK(container_open(&m->io, &eager, &c));
	CHECK(loaded(c));
	for (size_t i = 0; i < WRITES; i++) {
		uint8_t got[BLOCK];
		size_t n;
		fill(block, vcs[i], i % 2 ? 1 : 2);
		CHECK_OK(object_read(c, id, got, BLOCK, vcs[i] * BLOCK, &n));
		CHECK_MEM_EQ(got, block, BLOCK);
	}
	CHECK_OK(container_close(c));
}

struct events {
	int refused;
	int error;
};

static void on_event(void *arg, const struct container_event *ev)
{
	struct events *e = arg;
	if (ev->type == CONTAINER_EVENT_OPEN_REFUSED) {
		e->refused++;
		e->error = ev->error;
	}
}

/* A leaf of object `id` (found through an eager open): its offset and the
 * first virtual cluster it maps. */
static void some_leaf(struct memio *m, uint64_t id, uint64_t *out_phys,
		      uint64_t *out_index)
{
	struct container *c = NULL;
	struct container_options eager = {TEST_MAP_CACHE};
	CHECK_OK(container_open(&m->io, &eager, &c));
	struct map_node *n = object_find(c, id)->root;
	while (n->level > 0) {
		uint32_t i = c->fanout - 1;
		while (!n->children[i])
			i--;
		n = n->children[i];
	}
	*out_phys = n->phys;
	*out_index = n->index;
	CHECK_OK(container_close(c));
}

/* 3. a damaged leaf: found late, and nothing is lost */
static void test_damaged_leaf(struct memio *m, uint64_t id, const uint64_t *vcs)
{
	uint64_t phys, index;
	some_leaf(m, id, &phys, &index);
	m->data[phys + 300] ^= 0x20;
	const uint64_t size = m->size;
	uint8_t *before = malloc(size);
	CHECK(before);
	memcpy(before, m->data, size);

	struct events ev = {0};
	struct container *c = open_lazy(m, NULL, on_event, &ev);
	uint8_t block[BLOCK];
	size_t n;
	/* a block under the leaf, and one elsewhere */
	size_t under = WRITES, other = WRITES;
	for (size_t i = 0; i < WRITES; i++) {
		if (vcs[i] >= index && vcs[i] < index + c->fanout)
			under = i;
		else
			other = i;
	}
	CHECK(under < WRITES && other < WRITES);
	CHECK_ERR(object_read(c, id, block, BLOCK, vcs[under] * BLOCK, &n),
		  -EBADMSG);
	uint8_t want[BLOCK];
	fill(want, vcs[other], other % 2 ? 1 : 2);
	CHECK_OK(object_read(c, id, block, BLOCK, vcs[other] * BLOCK, &n));
	CHECK_MEM_EQ(block, want, BLOCK);
	CHECK_EQ(ev.refused, 0);
	/* the write walks, meets the leaf, and fails; so does all else */
	fill(block, vcs[other], 3);
	int ret = object_write(c, id, block, BLOCK, vcs[other] * BLOCK);
	CHECK(ret == -EBADMSG || ret == -EUCLEAN);
	CHECK_EQ(ev.refused, 1);
	CHECK_EQ(ev.error, ret);
	CHECK(!loaded(c));
	uint64_t pos;
	CHECK_EQ(object_seek(c, id, 0, SEEK_DATA, &pos), ret);
	CHECK(object_truncate(c, id, 0) != 0);
	CHECK(container_commit(c) != 0);
	/* reads go on as before the walk */
	CHECK_OK(object_read(c, id, block, BLOCK, vcs[other] * BLOCK, &n));
	CHECK_MEM_EQ(block, want, BLOCK);
	CHECK(container_close(c) != 0);
	CHECK_EQ(m->size, size);
	CHECK(memcmp(m->data, before, size) == 0);
	free(before);
	m->data[phys + 300] ^= 0x20;
	check_clean(m, NULL);
}

/* 4. read-only: reads before the walk, a write refused, and the walk
 * after many reads */
static void test_read_only(struct memio *m, uint64_t id)
{
	struct container *c = NULL;
	struct container_options o = {TEST_MAP_CACHE, .read_only = true,
				      .lazy_maps = true};
	uint8_t block[BLOCK] = {0};
	size_t n;
	CHECK_OK(container_open(&m->io, &o, &c));
	CHECK(!loaded(c));
	CHECK_OK(object_read(c, id, block, BLOCK, 0, &n));
	CHECK_ERR(object_write(c, id, block, BLOCK, 0), -EROFS);
	/* a few thousand reads later the reader walks (data.c,
	 * COLD_READS_MAX 4096): no store does it for the CLI */
	for (int i = 0; i < 5000 && !loaded(c); i++)
		CHECK_OK(object_read(c, id, block, BLOCK, 0, &n));
	CHECK(loaded(c));
	CHECK_OK(container_close(c));
}

/* 5. encrypted: reads before the walk open every node's seal */
static void test_encrypted(uint64_t seed)
{
	struct crypto_key *master = NULL;
	struct memio *m = memio_new();
	uint64_t *vcs = calloc(WRITES, sizeof(*vcs));
	uint64_t id;
	CHECK(vcs);
	CHECK_OK(crypto_key_generate(&master));
	pick_clusters(seed + 7, vcs);
	build(m, master, vcs, &id);
	struct container *c = open_lazy(m, master, NULL, NULL);
	CHECK(!loaded(c));
	read_all(c, id, vcs, 1);
	CHECK(!loaded(c));
	uint8_t block[BLOCK];
	fill(block, vcs[0], 2);
	CHECK_OK(object_write(c, id, block, BLOCK, vcs[0] * BLOCK));
	CHECK(loaded(c));
	CHECK_OK(container_close(c));
	check_clean(m, master);
	crypto_key_free(master);
	memio_free(m);
	free(vcs);
}

/* 6. the store's committer walks a guest right after its open */
static void test_store_walks(const uint64_t *vcs)
{
	char *dir = test_tmpdir_new();
	char *sdir = test_path(dir, "store");
	struct store *s = NULL;
	struct container *c = NULL;
	uint8_t block[BLOCK];
	uint64_t id;
	CHECK_OK(store_init(sdir, NULL));
	struct store_options plain = {TEST_MAP_CACHE, .host_lock_dir = dir};
	CHECK_OK(store_open(sdir, &plain, &s));
	CHECK_OK(store_guest_create(s, "g", NULL));
	CHECK_OK(store_guest_get(s, "g", &c));
	CHECK_OK(object_create(c, "disk.raw", 0644, 0, 0, &id));
	CHECK_OK(object_truncate(c, id, DISK));
	for (size_t i = 0; i < WRITES; i++) {
		fill(block, vcs[i], 1);
		CHECK_OK(object_write(c, id, block, BLOCK, vcs[i] * BLOCK));
	}
	store_guest_put(s, c);
	CHECK_OK(store_close(s));

	/* no committer: the guest stays unwalked until something asks */
	CHECK_OK(store_open(sdir, &plain, &s));
	CHECK_OK(store_guest_get(s, "g", &c));
	usleep(300 * 1000);
	CHECK(!container_walked(c));
	store_guest_put(s, c);
	CHECK_OK(store_close(s));

	/* a committer whose tick is far away walks it at once */
	struct store_options ticking = {TEST_MAP_CACHE, .host_lock_dir = dir,
					.commit_interval_ms = 600000};
	CHECK_OK(store_open(sdir, &ticking, &s));
	CHECK_OK(store_guest_get(s, "g", &c));
	int waited_ms = 0;
	while (!container_walked(c) && waited_ms < 20000) {
		usleep(10 * 1000);
		waited_ms += 10;
	}
	CHECK(container_walked(c));
	printf("store: guest walked in the background within %d ms of its "
	       "open\n",
	       waited_ms);
	size_t n;
	uint8_t got[BLOCK];
	fill(block, vcs[1], 1);
	CHECK_OK(object_read(c, id, got, BLOCK, vcs[1] * BLOCK, &n));
	CHECK_MEM_EQ(got, block, BLOCK);
	store_guest_put(s, c);
	CHECK_OK(store_close(s));
	free(sdir);
	test_tmpdir_remove(dir);
}

int main(void)
{
	const uint64_t seed = test_seed();
	struct memio *m = memio_new();
	uint64_t *vcs = calloc(WRITES, sizeof(*vcs));
	uint64_t id;
	CHECK(vcs);
	pick_clusters(seed, vcs);
	build(m, NULL, vcs, &id);
	test_open_and_read(m, id, vcs);
	test_walk_under_readers(m, id, vcs, seed);
	test_damaged_leaf(m, id, vcs);
	test_read_only(m, id);
	test_encrypted(seed);
	test_store_walks(vcs);
	memio_free(m);
	free(vcs);
	printf("test_lazy_open: ok\n");
	return 0;
}
