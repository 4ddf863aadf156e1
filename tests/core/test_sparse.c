/*
 * test_sparse.c -- partial writes into holes write only their own pages
 * (core/data.c store_raw_sparse, alloc.c invariant 8, FORMAT.md section 7),
 * on a real file (st_blocks is the host's allocation), 64 KiB clusters.
 *
 *   1. 4 KiB writes into holes of a sparse disk, each in its own cluster,
 *      then a commit: the container file grows by about the data written
 *      plus the commit's metadata, not by a whole cluster per write (the
 *      code before wrote 64 KiB per write: 2 MiB for these 32); every
 *      cluster reads back as the data with zeros around it, before and
 *      after a reopen, and the container checks clean.
 *   2. A cluster that may own stale bytes is never written sparse: a
 *      cluster written whole and freed inside the same transaction (free,
 *      not BACKED, full of old bytes), freed clusters not yet punched, and
 *      after a reopen every free cluster (nobody knows what they hold):
 *      a partial write into a hole reads zeros around its data in each
 *      case.
 *   3. A cluster this process punched is reused by the next partial
 *      write (the file does not grow for it), and reads zeros around the
 *      data.
 *   4. Encrypted containers and 4 KiB clusters are unchanged: clusters
 *      written whole.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "hangar/check.h"
#include "container_open.h"
#include "crypto.h"
#include "harness.h"
#include "internal.h"
#include "io.h"

#define SHIFT 16u
#define CS    (1u << SHIFT)
#define PAGE  4096u
#define OBJ   0100600u
#define DISK  ((uint64_t)4 << 30) /* 4 GiB, sparse */

static char *dir;

static struct container_options opts64(void)
{
	return (struct container_options){TEST_MAP_CACHE,
					  .cluster_shift = SHIFT};
}

/* bytes the host allocated for the file */
static uint64_t host_bytes(const char *path)
{
	struct stat st;
	CHECK_EQ(stat(path, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7 + 1) | 1; /* never zero */
}

/* Cluster `vc` of object `id` reads as `data` (len bytes at `in`) with
 * zeros everywhere else. */
static void check_cluster(struct container *c, uint64_t id, uint64_t vc,
			  uint32_t in, const uint8_t *data, size_t len)
{
	static uint8_t got[CS];
	size_t n;
	CHECK_OK(object_read(c, id, got, CS, vc * CS, &n));
	CHECK_EQ(n, CS);
	for (uint32_t i = 0; i < CS; i++) {
		uint8_t want = i >= in && i < in + len ? data[i - in] : 0;
		if (got[i] != want) {
			fprintf(stderr,
				"cluster %llu byte %u: 0x%02x, want 0x%02x\n",
				(unsigned long long)vc, i, got[i], want);
			CHECK(got[i] == want);
		}
	}
}

static uint64_t phys_of(struct container *c, uint64_t id, uint64_t vc)
{
	struct map_entry e;
	CHECK_OK(map_lookup(c, object_find(c, id), vc, &e));
	CHECK_EQ(e.kind, MAP_KIND_RAW);
	return e.offset;
}

/* close (the container owns its io), then check the file clean */
static void close_check(struct container *c, const char *path,
			const struct crypto_key *master)
{
	struct check_report rep;
	struct io *io;
	CHECK_OK(container_close(c));
	CHECK_OK(io_file_open(path, O_RDONLY, &io));
	CHECK_OK(check_container_key(io, master, &rep));
	CHECK_EQ(rep.errors, 0);
	CHECK_EQ(rep.leaked_clusters, 0);
	io_close(io);
}

static struct container *open_file(const char *path, struct io **io,
				   bool create,
				   const struct container_options *o)
{
	struct container *c;
	CHECK_OK(io_file_open(path, create ? O_RDWR | O_CREAT | O_EXCL : O_RDWR,
			      io));
	if (create)
		CHECK_OK(container_create(*io, o, &c));
	else
		CHECK_OK(container_open(*io, o, &c));
	return c;
}

/* 1. many partial writes into holes: small on the host, zeros around */
static void test_small(void)
{
	enum { N = 32 };
	char *path = test_path(dir, "small.hangar");
	struct container_options o = opts64();
	struct io *io;
	struct container *c = open_file(path, &io, true, &o);
	uint8_t data[PAGE];
	uint64_t id;

	CHECK_OK(object_create(c, "disk.raw", OBJ, 0, 0, &id));
	CHECK_OK(object_truncate(c, id, DISK));
	CHECK_OK(container_commit(c));
	const uint64_t before = host_bytes(path);
	for (unsigned i = 0; i < N; i++) {
		/* one cluster each, at a page inside it (the last one at the
		 * cluster's end) */
		uint32_t in = (i * 5 % (CS / PAGE)) * PAGE;
		fill(data, PAGE, i);
		CHECK_OK(object_write(c, id, data, PAGE,
				      (uint64_t)(100 + 7 * i) * CS + in));
	}
	/* an unaligned one across two pages of a hole cluster */
	fill(data, PAGE, 99);
	CHECK_OK(object_write(c, id, data, 1000, 2000ull * CS + PAGE - 300));
	CHECK_OK(container_commit(c));
	const uint64_t grown = host_bytes(path) - before;
	printf("sparse: %d 4 KiB writes into holes + one of 1000 bytes, "
	       "commit: container file +%llu KiB on the host (whole "
	       "clusters: %u KiB of data)\n",
	       N, (unsigned long long)(grown >> 10), (N + 1) * CS / 1024);
	/* data 33 pages + 1 = 136 KiB; the commit's metadata: a leaf, the
	 * root, the table (64 KiB each) */
	CHECK(grown < (uint64_t)(N + 2) * PAGE + 8 * CS);
	CHECK(grown < (uint64_t)(N + 1) * CS);

	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < N; i++) {
			uint32_t in = (i * 5 % (CS / PAGE)) * PAGE;
			fill(data, PAGE, i);
			check_cluster(c, id, 100 + 7 * i, in, data, PAGE);
		}
		fill(data, PAGE, 99);
		check_cluster(c, id, 2000, PAGE - 300, data, 1000);
		/* the file ends on a cluster boundary past every cluster */
		struct stat st;
		CHECK_EQ(stat(path, &st), 0);
		CHECK_EQ(st.st_size % CS, 0);
		if (pass == 0) {
			close_check(c, path, NULL);
			c = open_file(path, &io, false, &o);
		}
	}
	/* a later write into a sparse cluster goes in place, filling it */
	fill(data, PAGE, 7);
	CHECK_OK(object_write(c, id, data, PAGE, 100ull * CS + CS - PAGE));
	close_check(c, path, NULL);
	free(path);
}

/* 2. clusters that may hold old bytes are never written sparse */
static void test_stale(void)
{
	char *path = test_path(dir, "stale.hangar");
	struct container_options o = opts64();
	struct io *io;
	struct container *c = open_file(path, &io, true, &o);
	static uint8_t old[CS];
	uint8_t data[PAGE];
	uint64_t id;

	memset(old, 0xa5, sizeof(old));
	CHECK_OK(object_create(c, "disk.raw", OBJ, 0, 0, &id));
	CHECK_OK(object_truncate(c, id, DISK));
	CHECK_OK(container_commit(c));

	/* (a) written whole and freed in the same transaction: the cluster
	 * is free at once, not BACKED, and full of 0xa5 */
	for (unsigned i = 0; i < 4; i++)
		CHECK_OK(object_write(c, id, old, CS, (10ull + i) * CS));
	CHECK_OK(object_punch(c, id, 10ull * CS, 4ull * CS));
	fill(data, PAGE, 1);
	CHECK_OK(object_write(c, id, data, PAGE, 50ull * CS + 3 * PAGE));
	check_cluster(c, id, 50, 3 * PAGE, data, PAGE);
	CHECK_OK(container_commit(c));
	check_cluster(c, id, 50, 3 * PAGE, data, PAGE);

	/* (b) committed, then freed: held, then BACKED until a commit
	 * punches it -- partial writes at each step */
	for (unsigned i = 0; i < 4; i++)
		CHECK_OK(object_write(c, id, old, CS, (20ull + i) * CS));
	CHECK_OK(container_commit(c));
	CHECK_OK(object_punch(c, id, 20ull * CS, 4ull * CS));
	for (unsigned step = 0; step < 4; step++) {
		fill(data, PAGE, 10 + step);
		CHECK_OK(object_write(c, id, data, PAGE,
				      (60ull + step) * CS + PAGE));
		check_cluster(c, id, 60 + step, PAGE, data, PAGE);
		CHECK_OK(container_commit(c));
	}

	/* (c) after a reopen nothing is known about free clusters (old map
	 * leaves and tables, freed data): they are not written sparse */
	for (unsigned i = 0; i < 4; i++)
		CHECK_OK(object_write(c, id, old, CS, (30ull + i) * CS));
	CHECK_OK(container_commit(c));
	CHECK_OK(object_punch(c, id, 30ull * CS, 4ull * CS));
	CHECK_OK(container_close(c));
	c = open_file(path, &io, false, &o);
	struct stat st;
	CHECK_EQ(stat(path, &st), 0);
	const off_t size_open = st.st_size;
	for (unsigned i = 0; i < 8; i++) {
		fill(data, PAGE, 20 + i);
		CHECK_OK(object_write(c, id, data, PAGE, (70ull + i) * CS));
		check_cluster(c, id, 70 + i, 0, data, PAGE);
		if (i == 0) {
			/* ... but taken whole: a free cluster inside the
			 * file comes before growing it (alloc.c, -EAGAIN) */
			CHECK_EQ(stat(path, &st), 0);
			CHECK_EQ(st.st_size, size_open);
			CHECK(phys_of(c, id, 70) + CS <= (uint64_t)size_open);
		}
	}
	CHECK_OK(container_commit(c));
	for (unsigned i = 0; i < 8; i++) {
		fill(data, PAGE, 20 + i);
		check_cluster(c, id, 70 + i, 0, data, PAGE);
	}
	fill(data, PAGE, 1);
	check_cluster(c, id, 50, 3 * PAGE, data, PAGE);
	close_check(c, path, NULL);
	free(path);
}

/* 3. a cluster this process punched is taken by the next partial write */
static void test_punched_reused(void)
{
	char *path = test_path(dir, "reuse.hangar");
	struct container_options o = opts64();
	struct io *io;
	struct container *c = open_file(path, &io, true, &o);
	static uint8_t old[CS];
	uint8_t data[PAGE];
	uint64_t id;

	memset(old, 0x5a, sizeof(old));
	CHECK_OK(object_create(c, "disk.raw", OBJ, 0, 0, &id));
	CHECK_OK(object_truncate(c, id, DISK));
	CHECK_OK(object_write(c, id, old, CS, 5ull * CS));
	CHECK_OK(container_commit(c));
	const uint64_t freed = phys_of(c, id, 5);
	CHECK_OK(object_punch(c, id, 5ull * CS, CS));
	/* held by the punch's commit; the next (idle: superblock only)
	 * releases it and, the container being idle, punches it at once
	 * (alloc.c invariants 5 and 6) */
	CHECK_OK(container_commit(c));
	CHECK(!alloc_set_has(&c->alloc.free_empty, freed >> SHIFT));
	CHECK_OK(container_commit(c));
	CHECK(alloc_set_has(&c->alloc.free_empty, freed >> SHIFT));
	struct stat st;
	CHECK_EQ(stat(path, &st), 0);
	const uint64_t size = (uint64_t)st.st_size;
	fill(data, PAGE, 3);
	CHECK_OK(object_write(c, id, data, PAGE, 90ull * CS + 5 * PAGE));
	CHECK_EQ(phys_of(c, id, 90), freed);
	check_cluster(c, id, 90, 5 * PAGE, data, PAGE);
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ((uint64_t)st.st_size, size);
	close_check(c, path, NULL);
	free(path);
}

/* 4. encrypted and 4 KiB-cluster containers: whole clusters as before */
static void test_unchanged(void)
{
	static const uint8_t keyb[CRYPTO_KEY_LEN] = {1, 2, 3};
	struct crypto_key *master;
	CHECK_OK(crypto_key_new_from_bytes(&master, keyb, sizeof(keyb)));
	for (int encrypted = 0; encrypted < 2; encrypted++) {
		char *path =
			test_path(dir, encrypted ? "enc.hangar" : "4k.hangar");
		struct container_options o = opts64();
		if (encrypted)
			o.master = master;
		else
			o.cluster_shift = 12;
		struct io *io;
		struct container *c = open_file(path, &io, true, &o);
		uint8_t data[PAGE];
		uint64_t id;
		const uint64_t cs = 1ull << o.cluster_shift;
		CHECK_OK(object_create(c, "disk.raw", OBJ, 0, 0, &id));
		CHECK_OK(object_truncate(c, id, DISK));
		CHECK_OK(container_commit(c));
		struct container_io_stats a, b;
		container_io_stats(c, &a);
		fill(data, PAGE, 5);
		CHECK_OK(object_write(c, id, data, 512, 40 * cs + 1024));
		container_io_stats(c, &b);
		CHECK_EQ(b.data_bytes - a.data_bytes, cs);
		close_check(c, path, encrypted ? master : NULL);
		free(path);
	}
	crypto_key_free(master);
}

int main(void)
{
	dir = test_tmpdir_new();
	test_small();
	test_stale();
	test_punched_reused();
	test_unchanged();
	test_tmpdir_remove(dir);
	printf("test_sparse: ok\n");
	return 0;
}
