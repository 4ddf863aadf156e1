/*
 * test_concurrency.c -- several threads on one container: writers of their
 * own ranges (allocating and in-place), writers of an overlapping range,
 * a compressed memory.save writer, punchers, readers and committers, all at
 * once on a real file.  Afterwards every owned range holds exactly what its
 * thread wrote last, every block of the shared range holds one whole block
 * some thread wrote, the check is clean, and the same holds after reopen.
 * Runs twice: plain, then encrypted with 4 KiB clusters (every block write
 * a whole cluster, sealed outside the container lock by concurrent writers).
 * Then encrypted 4 KiB writes into 16 KiB clusters whose neighbouring
 * blocks other threads write at the same time (no write may be lost).
 * Then an encrypted write completes while a commit writes the file back
 * (no lock held there).  Then group commit: threads that each write and flush, on a disk whose
 * sync is slow, share commits (fewer generations than flushes), and no
 * flush returns before two syncs began after its write completed.
 * Meant to be run under TSan too (contrib/test --tsan).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "hangar/check.h"
#include "container_open.h"
#include "crypto.h"
#include "harness.h"
#include "io.h"
#include "memio.h"

#define OWNERS	   4
#define REGION	   (1u << 20)
#define BLOCK	   4096u
#define SHARED_OFF ((uint64_t)OWNERS * REGION)
#define SHARED_LEN (256u << 10)
#define ITER	   1500
/* memory.save chunks: unaligned, several whole clusters each (compressed
 * outside the lock by two threads, data.c write_squeezed_clusters) */
#define IMAGE_CHUNK 150000

struct shared {
	struct container *c;
	uint64_t disk, image;
	uint8_t *expect[OWNERS]; /* each owner's final bytes */
	atomic_int stop;
};

struct worker {
	struct shared *s;
	int index;
	uint64_t seed;
};

static void pattern(uint8_t *b, uint32_t tag)
{
	for (uint32_t i = 0; i < BLOCK; i += 4)
		memcpy(b + i, &tag, 4);
}

static void *owner_main(void *arg)
{
	struct worker *w = arg;
	struct shared *s = w->s;
	uint8_t block[BLOCK], got[BLOCK];
	uint64_t base = (uint64_t)w->index * REGION;
	uint8_t *exp = s->expect[w->index];

	for (int i = 0; i < ITER; i++) {
		uint64_t blk = test_rand(&w->seed) % (REGION / BLOCK);
		uint64_t off = blk * BLOCK;
		int op = (int)(test_rand(&w->seed) % 10);
		if (op < 6) {
			pattern(block, (uint32_t)(w->index << 24 | i));
			CHECK_OK(object_write(s->c, s->disk, block, BLOCK,
					      base + off));
			memcpy(exp + off, block, BLOCK);
		} else if (op < 7) {
			uint64_t len = BLOCK * (1 + test_rand(&w->seed) % 40);
			if (off + len > REGION)
				len = REGION - off;
			CHECK_OK(object_punch(s->c, s->disk, base + off, len));
			memset(exp + off, 0, len);
		} else if (op < 9) {
			size_t n = 0;
			CHECK_OK(object_read(s->c, s->disk, got, BLOCK,
					     base + off, &n));
			CHECK_EQ(n, BLOCK);
			CHECK_MEM_EQ(got, exp + off, BLOCK);
		} else {
			CHECK_OK(container_commit(s->c));
		}
	}
	return NULL;
}

static void *shared_main(void *arg)
{
	struct worker *w = arg;
	struct shared *s = w->s;
	uint8_t block[BLOCK];
	for (int i = 0; i < ITER; i++) {
		uint64_t off =
			(test_rand(&w->seed) % (SHARED_LEN / BLOCK)) * BLOCK;
		pattern(block,
			(uint32_t)(0xA0000000u | (uint32_t)w->index << 16 |
				   (uint32_t)i));
		CHECK_OK(object_write(s->c, s->disk, block, BLOCK,
				      SHARED_OFF + off));
		if (i % 100 == 0)
			CHECK_OK(container_commit(s->c));
	}
	return NULL;
}

static void *image_main(void *arg)
{
	struct worker *w = arg;
	struct shared *s = w->s;
	uint8_t *chunk = calloc(1, IMAGE_CHUNK);
	for (uint64_t off = 0; off < (8u << 20); off += IMAGE_CHUNK) {
		memset(chunk, (int)(off / IMAGE_CHUNK) & 0xff, IMAGE_CHUNK);
		CHECK_OK(object_write(s->c, s->image, chunk, IMAGE_CHUNK, off));
		size_t n = 0;
		uint8_t back[64];
		CHECK_OK(object_read(s->c, s->image, back, sizeof(back), off,
				     &n));
		CHECK_EQ(n, sizeof(back));
		CHECK_EQ(back[0], (off / IMAGE_CHUNK) & 0xff);
	}
	/* every byte of every chunk, once the stream is written */
	for (uint64_t off = 0; off < (8u << 20); off += IMAGE_CHUNK) {
		size_t n = 0;
		CHECK_OK(object_read(s->c, s->image, chunk, IMAGE_CHUNK, off,
				     &n));
		CHECK_EQ(n, IMAGE_CHUNK);
		for (size_t i = 0; i < IMAGE_CHUNK; i++)
			CHECK_EQ(chunk[i], (off / IMAGE_CHUNK) & 0xff);
	}
	free(chunk);
	return NULL;
}

static void *reader_main(void *arg)
{
	struct worker *w = arg;
	struct shared *s = w->s;
	uint8_t *buf = malloc(256u << 10);
	while (!s->stop) {
		uint64_t off = test_rand(&w->seed) % (SHARED_OFF + SHARED_LEN);
		size_t n = 0;
		CHECK_OK(object_read(s->c, s->disk, buf, 256u << 10, off, &n));
		struct object_attr at;
		CHECK_OK(object_getattr(s->c, s->disk, &at));
		uint64_t pos;
		int r = object_seek(s->c, s->disk, off, SEEK_DATA, &pos);
		CHECK(r == 0 || r == -ENXIO);
	}
	free(buf);
	return NULL;
}

static void verify(struct shared *s)
{
	uint8_t *buf = malloc(REGION);
	for (int i = 0; i < OWNERS; i++) {
		size_t n = 0;
		CHECK_OK(object_read(s->c, s->disk, buf, REGION,
				     (uint64_t)i * REGION, &n));
		CHECK_EQ(n, REGION);
		CHECK_MEM_EQ(buf, s->expect[i], REGION);
	}
	size_t n = 0;
	CHECK_OK(object_read(s->c, s->disk, buf, SHARED_LEN, SHARED_OFF, &n));
	for (uint64_t off = 0; off < SHARED_LEN; off += BLOCK) {
		uint32_t tag;
		memcpy(&tag, buf + off, 4);
		CHECK(tag == 0 || (tag >> 28) == 0xA);
		for (uint32_t k = 0; k < BLOCK; k += 4)
			CHECK(memcmp(buf + off + k, &tag, 4) == 0);
	}
	free(buf);
}

/* The closed container at `path` checks clean (with opts->master when
 * encrypted); then it is opened again with `opts` on a new *io. */
static struct container *check_and_reopen(const char *path,
					  const struct container_options *opts,
					  struct io **io)
{
	struct container *c = NULL;
	struct io *cio = NULL;
	struct check_report r;

	CHECK_OK(io_file_open(path, O_RDONLY, &cio));
	CHECK_OK(check_container_key(cio, opts->master, &r));
	for (size_t i = 0; i < r.message_count; i++)
		fprintf(stderr, "check: %s\n", r.messages[i]);
	CHECK_EQ(r.errors, 0);
	io_close(cio);
	CHECK_OK(io_file_open(path, O_RDWR, io));
	CHECK_OK(container_open(*io, opts, &c));
	return c;
}

/* One run; encrypted with `master` (4 KiB clusters, so every block write is
 * a whole cluster sealed outside the lock) or plain when NULL. */
static int run(const struct crypto_key *master)
{
	char *dir = test_tmpdir_new();
	char *path = test_path(dir, "guest.hangar");
	struct shared s;
	struct io *io = NULL;
	uint64_t seed = test_seed();
	pthread_t th[OWNERS + 4];
	struct worker w[OWNERS + 4];
	struct container_options opts = {TEST_MAP_CACHE, .master = master,
					 .cluster_shift = master ? 12 : 0};

	memset(&s, 0, sizeof(s));
	CHECK_OK(io_file_open(path, O_RDWR | O_CREAT | O_EXCL, &io));
	CHECK_OK(container_create(io, &opts, &s.c));
	CHECK_OK(object_create(s.c, "disk.raw", 0600, 0, 0, &s.disk));
	CHECK_OK(object_create(s.c, "memory.save", 0600, 0, 0, &s.image));
	CHECK_OK(object_truncate(s.c, s.disk, SHARED_OFF + SHARED_LEN));
	for (int i = 0; i < OWNERS; i++)
		s.expect[i] = calloc(1, REGION);

	int n = 0;
	for (int i = 0; i < OWNERS; i++, n++) {
		w[n] = (struct worker){&s, i, seed + (uint64_t)n};
		CHECK_EQ(pthread_create(&th[n], NULL, owner_main, &w[n]), 0);
	}
	for (int i = 0; i < 2; i++, n++) {
		w[n] = (struct worker){&s, i, seed + (uint64_t)n};
		CHECK_EQ(pthread_create(&th[n], NULL, shared_main, &w[n]), 0);
	}
	w[n] = (struct worker){&s, 0, seed + (uint64_t)n};
	CHECK_EQ(pthread_create(&th[n], NULL, image_main, &w[n]), 0);
	n++;
	w[n] = (struct worker){&s, 0, seed + (uint64_t)n};
	pthread_t reader;
	CHECK_EQ(pthread_create(&reader, NULL, reader_main, &w[n]), 0);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	s.stop = 1;
	pthread_join(reader, NULL);

	verify(&s);
	CHECK_OK(container_close(s.c));
	s.c = check_and_reopen(path, &opts, &io);
	verify(&s);
	CHECK_OK(container_close(s.c));
	for (int i = 0; i < OWNERS; i++)
		free(s.expect[i]);
	free(path);
	test_tmpdir_remove(dir);
	return n + 1;
}

/* ---- encrypted partial writes: neighbours in one cluster --------------- */

/*
 * 16 KiB clusters, 4 KiB blocks: every block write is part of a cluster,
 * read, opened, merged and sealed outside the container lock
 * (data.c write_sealed_partial).  Thread t owns block t of every cluster,
 * so the four blocks of a cluster are written by four threads at once; a
 * write that mapped its new cluster over a neighbour's newer one would lose
 * that neighbour's block.  A committer and a reader run beside them.
 * Afterwards (and after reopen) every block holds its owner's last write.
 */
#define NEIGHBOURS	 4
#define NEIGHBOUR_SPAN	 (64u * 16384u) /* 64 clusters */
#define NEIGHBOUR_WRITES 2000

struct neighbours {
	struct container *c;
	uint64_t disk;
	uint8_t *expect; /* NEIGHBOUR_SPAN bytes */
	atomic_int stop;
};

struct neighbour {
	struct neighbours *n;
	uint32_t index;
	uint64_t seed;
};

static void *neighbour_main(void *arg)
{
	struct neighbour *w = arg;
	struct neighbours *n = w->n;
	uint8_t block[BLOCK];

	for (uint32_t i = 0; i < NEIGHBOUR_WRITES; i++) {
		uint64_t cluster =
			test_rand(&w->seed) % (NEIGHBOUR_SPAN / 16384);
		uint64_t off = cluster * 16384 + (uint64_t)w->index * BLOCK;
		pattern(block, w->index << 24 | i);
		CHECK_OK(object_write(n->c, n->disk, block, BLOCK, off));
		memcpy(n->expect + off, block, BLOCK); /* this thread's block */
	}
	return NULL;
}

static void *neighbour_churn_main(void *arg)
{
	struct neighbour *w = arg;
	struct neighbours *n = w->n;
	uint8_t *buf = malloc(16384);

	while (!atomic_load(&n->stop)) {
		size_t got = 0;
		uint64_t off =
			(test_rand(&w->seed) % (NEIGHBOUR_SPAN / 16384)) *
			16384;
		if (w->index == 0)
			CHECK_OK(container_commit(n->c));
		else
			CHECK_OK(object_read(n->c, n->disk, buf, 16384, off,
					     &got));
	}
	free(buf);
	return NULL;
}

static void neighbours_verify(struct neighbours *n)
{
	uint8_t *buf = malloc(NEIGHBOUR_SPAN);
	size_t got = 0;

	CHECK_OK(object_read(n->c, n->disk, buf, NEIGHBOUR_SPAN, 0, &got));
	CHECK_EQ(got, NEIGHBOUR_SPAN);
	CHECK_MEM_EQ(buf, n->expect, NEIGHBOUR_SPAN);
	free(buf);
}

static void test_sealed_neighbours(const struct crypto_key *master)
{
	char *dir = test_tmpdir_new();
	char *path = test_path(dir, "guest.hangar");
	struct container_options opts = {TEST_MAP_CACHE, .master = master,
					 .cluster_shift = 14};
	struct neighbours n = {0};
	struct neighbour w[NEIGHBOURS + 2];
	pthread_t th[NEIGHBOURS + 2];
	struct io *io = NULL;
	uint64_t seed = test_seed();
	struct container_info before, after;

	n.expect = calloc(1, NEIGHBOUR_SPAN);
	CHECK_OK(io_file_open(path, O_RDWR | O_CREAT | O_EXCL, &io));
	CHECK_OK(container_create(io, &opts, &n.c));
	CHECK_OK(object_create(n.c, "disk.raw", 0600, 0, 0, &n.disk));
	CHECK_OK(object_truncate(n.c, n.disk, NEIGHBOUR_SPAN));
	container_info(n.c, &before);
	for (uint32_t i = 0; i < NEIGHBOURS + 2; i++) {
		w[i] = (struct neighbour){
			&n, i < NEIGHBOURS ? i : i - NEIGHBOURS, seed + i};
		CHECK_EQ(pthread_create(&th[i], NULL,
					i < NEIGHBOURS ? neighbour_main
						       : neighbour_churn_main,
					&w[i]),
			 0);
	}
	for (int i = 0; i < NEIGHBOURS; i++)
		pthread_join(th[i], NULL);
	atomic_store(&n.stop, 1);
	for (int i = NEIGHBOURS; i < NEIGHBOURS + 2; i++)
		pthread_join(th[i], NULL);
	container_info(n.c, &after);
	printf("test_concurrency: encrypted 4 KiB writes into shared 16 KiB "
	       "clusters: %d threads, %llu commits meanwhile\n",
	       NEIGHBOURS,
	       (unsigned long long)(after.generation - before.generation));
	neighbours_verify(&n);
	CHECK_OK(container_close(n.c));
	n.c = check_and_reopen(path, &opts, &io);
	neighbours_verify(&n);
	CHECK_OK(container_close(n.c));
	free(n.expect);
	free(path);
	test_tmpdir_remove(dir);
}

/* ---- the commit's writeback holds no lock ------------------------------ */

/*
 * A commit first writes the file's dirty pages back with no container lock
 * (io_writeback), so a copy-on-write writer -- every encrypted write needs
 * the write lock -- is not held up for that part of the sync.  The memio's
 * writeback hook stops the commit there; an encrypted 4 KiB write must
 * complete meanwhile.  Then the commit finishes, and both blocks are in the
 * state a reopen sees.
 */
struct writeback_gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool entered, open;
};

static void writeback_stop(void *arg)
{
	struct writeback_gate *g = arg;

	pthread_mutex_lock(&g->mu);
	g->entered = true;
	pthread_cond_broadcast(&g->cv);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

struct writeback_job {
	struct container *c;
	uint64_t disk;
	int ret;
	atomic_int done;
};

static void *writeback_commit_main(void *arg)
{
	struct writeback_job *j = arg;
	j->ret = container_commit(j->c);
	atomic_store(&j->done, 1);
	return NULL;
}

static void *writeback_write_main(void *arg)
{
	struct writeback_job *j = arg;
	uint8_t b[BLOCK];
	pattern(b, 0xB2);
	j->ret = object_write(j->c, j->disk, b, BLOCK, 16384 + BLOCK);
	atomic_store(&j->done, 1);
	return NULL;
}

static void test_commit_writeback_unlocked(const struct crypto_key *master)
{
	struct memio *m = memio_new();
	struct container_options opts = {TEST_MAP_CACHE, .master = master,
					 .cluster_shift = 14};
	struct writeback_gate gate = {PTHREAD_MUTEX_INITIALIZER,
				      PTHREAD_COND_INITIALIZER, false, false};
	struct writeback_job commit = {0}, write = {0};
	struct container *c = NULL;
	pthread_t commit_th, write_th;
	uint8_t b[BLOCK], got[BLOCK];
	uint64_t disk;
	size_t len = 0;
	int waited_ms = 0;

	CHECK_OK(container_create(&m->io, &opts, &c));
	CHECK_OK(object_create(c, "disk.raw", 0600, 0, 0, &disk));
	pattern(b, 0xA1);
	CHECK_OK(object_write(c, disk, b, BLOCK, 0));
	CHECK_OK(container_commit(c));
	pattern(b, 0xA2);
	CHECK_OK(object_write(c, disk, b, BLOCK, BLOCK));
	const uint64_t writebacks = atomic_load(&m->writebacks);

	m->writeback_arg = &gate;
	m->writeback_hook = writeback_stop;
	commit = (struct writeback_job){.c = c, .disk = disk};
	write = (struct writeback_job){.c = c, .disk = disk};
	CHECK_EQ(pthread_create(&commit_th, NULL, writeback_commit_main,
				&commit),
		 0);
	pthread_mutex_lock(&gate.mu);
	while (!gate.entered)
		pthread_cond_wait(&gate.cv, &gate.mu);
	pthread_mutex_unlock(&gate.mu);
	CHECK_EQ(pthread_create(&write_th, NULL, writeback_write_main, &write),
		 0);
	while (!atomic_load(&write.done) && waited_ms < 20000) {
		usleep(10000);
		waited_ms += 10;
	}
	const bool wrote_meanwhile = atomic_load(&write.done) != 0;
	const bool commit_waited = !atomic_load(&commit.done);
	pthread_mutex_lock(&gate.mu);
	gate.open = true;
	pthread_cond_broadcast(&gate.cv);
	pthread_mutex_unlock(&gate.mu);
	pthread_join(write_th, NULL);
	pthread_join(commit_th, NULL);
	m->writeback_hook = NULL;
	CHECK(wrote_meanwhile);
	CHECK(commit_waited);
	CHECK_OK(write.ret);
	CHECK_OK(commit.ret);
	CHECK(atomic_load(&m->writebacks) > writebacks);
	CHECK_OK(container_commit(c));
	CHECK_OK(container_close(c));

	CHECK_OK(container_open(&m->io, &opts, &c));
	const uint32_t tags[3] = {0xA1, 0xA2, 0xB2};
	const uint64_t offs[3] = {0, BLOCK, 16384 + BLOCK};
	for (int i = 0; i < 3; i++) {
		pattern(b, tags[i]);
		CHECK_OK(object_read(c, disk, got, BLOCK, offs[i], &len));
		CHECK_EQ(len, BLOCK);
		CHECK_MEM_EQ(b, got, BLOCK);
	}
	CHECK_OK(container_close(c));
	memio_free(m);
	printf("test_concurrency: an encrypted write completed while a "
	       "commit wrote back (%d ms)\n",
	       waited_ms);
}

/* ---- group commit ------------------------------------------------------ */

#define FLUSHERS 6
#define FLUSHES	 40
#define STRIDE	 (1u << 20) /* every write allocates: a fresh cluster */

struct group {
	struct container *c;
	struct memio *m;
	uint64_t disk;
	atomic_uint syncs_started;
	atomic_int early; /* flushes that returned before their write was in
			   * the committed state */
};

struct flusher {
	struct group *g;
	unsigned index;
};

/* A disk whose cache flush takes 2 ms: callers pile up behind it. */
static void slow_sync(void *arg)
{
	struct group *g = arg;
	atomic_fetch_add(&g->syncs_started, 1);
	usleep(2000);
}

/* Whether block `tag` reads back from what the disk holds right now,
 * opened as a crash would leave it (a snapshot of the bytes, under the
 * memio lock so no write is half copied): the newest valid superblock's
 * tree must map it once the flush returned. */
static bool in_committed_state(struct group *g, uint32_t tag)
{
	struct memio *snap = memio_new();
	struct container_options ro = {TEST_MAP_CACHE, .read_only = true};
	struct container *c = NULL;
	uint8_t want[BLOCK], got[BLOCK];
	size_t len = 0;
	bool ok;

	pthread_mutex_lock(&g->m->lock);
	if (memio_reserve(snap, g->m->size))
		abort();
	memcpy(snap->data, g->m->data, g->m->size);
	snap->size = g->m->size;
	pthread_mutex_unlock(&g->m->lock);
	pattern(want, tag);
	ok = container_open(&snap->io, &ro, &c) == 0 &&
	     object_read(c, g->disk, got, BLOCK, (uint64_t)tag * STRIDE,
			 &len) == 0 &&
	     len == BLOCK && memcmp(want, got, BLOCK) == 0;
	if (c)
		container_close(c);
	memio_free(snap);
	return ok;
}

static void *flusher_main(void *arg)
{
	struct flusher *f = arg;
	struct group *g = f->g;
	uint8_t b[BLOCK];

	for (unsigned i = 0; i < FLUSHES; i++) {
		const uint32_t tag = f->index * FLUSHES + i;
		pattern(b, tag);
		/* counted before the write: a sync that began earlier cannot
		 * have made it durable */
		const unsigned before = atomic_load(&g->syncs_started);
		CHECK_OK(object_write(g->c, g->disk, b, BLOCK,
				      (uint64_t)tag * STRIDE));
		CHECK_OK(container_commit(g->c));
		/* a commit wrote the tree and the superblock after the write
		 * began (two syncs), and the committed state maps the block */
		if (atomic_load(&g->syncs_started) - before < 2 ||
		    (i % 4 == 0 && !in_committed_state(g, tag)))
			atomic_fetch_add(&g->early, 1);
	}
	return NULL;
}

static void test_group_commit(void)
{
	struct memio *m = memio_new();
	struct group g;
	struct container_info before, after;
	pthread_t th[FLUSHERS];
	struct flusher f[FLUSHERS];

	memset(&g, 0, sizeof(g));
	g.m = m;
	CHECK_OK(container_create(&m->io, TEST_OPTS, &g.c));
	CHECK_OK(object_create(g.c, "disk.raw", 0600, 0, 0, &g.disk));
	CHECK_OK(container_commit(g.c));
	container_info(g.c, &before);
	m->sync_hook = slow_sync;
	m->sync_arg = &g;
	for (unsigned i = 0; i < FLUSHERS; i++) {
		f[i] = (struct flusher){&g, i};
		CHECK_EQ(pthread_create(&th[i], NULL, flusher_main, &f[i]), 0);
	}
	for (unsigned i = 0; i < FLUSHERS; i++)
		pthread_join(th[i], NULL);
	container_info(g.c, &after);
	const uint64_t commits = after.generation - before.generation;
	const unsigned flushes = FLUSHERS * FLUSHES;
	printf("test_concurrency: group commit: %u flushes from %d threads, "
	       "%llu commits\n",
	       flushes, FLUSHERS, (unsigned long long)commits);
	CHECK_EQ(atomic_load(&g.early), 0);
	CHECK(commits >= FLUSHES);
	CHECK(commits < flushes * 3 / 4);
	m->sync_hook = NULL;
	CHECK_OK(container_close(g.c));

	/* every flushed block is there after reopen */
	struct container *c = NULL;
	uint8_t want[BLOCK], got[BLOCK];
	size_t len = 0;
	CHECK_OK(container_open(&m->io, TEST_OPTS, &c));
	for (uint32_t tag = 0; tag < flushes; tag++) {
		pattern(want, tag);
		CHECK_OK(object_read(c, g.disk, got, BLOCK,
				     (uint64_t)tag * STRIDE, &len));
		CHECK_EQ(len, BLOCK);
		CHECK_MEM_EQ(want, got, BLOCK);
	}
	CHECK_OK(container_close(c));
	memio_free(m);
}

int main(void)
{
	struct crypto_key *master = NULL;
	int n = run(NULL);
	CHECK_OK(crypto_key_generate(&master));
	run(master);
	test_sealed_neighbours(master);
	test_commit_writeback_unlocked(master);
	crypto_key_free(master);
	test_group_commit();
	printf("test_concurrency: %d threads, plain and encrypted, ok\n", n);
	return 0;
}
