/*
 * test_incompressible.c -- whole clusters of a compressed object that will
 * not compress are stored RAW without a full compression attempt (data.c
 * squeeze_cluster, compress.c compress_promising), and everything else is
 * compressed as before.  Counted by container_io_stats: `compressions`
 * (full attempts) and `compress_skips` (clusters a sample ruled out).
 *
 *   1. a compressed disk written with whole clusters of random bytes (one
 *      request, two threads): every one skipped -- a new compressor
 *      samples, and random bytes never make it stop -- stored RAW, read
 *      back byte-exact.
 *      Rewritten with random bytes again (one cluster compressible):
 *      the random ones in place over their RAW clusters, byte-exact.
 *   2. compressible clusters mixed with random ones in one request: every
 *      compressible one compressed (a full attempt each), including the
 *      kinds a sample of the first bytes alone would misjudge: random bytes
 *      then zeros (the redundancy is in the second half), one random
 *      4 KiB block repeated (the redundancy is only across the cluster),
 *      and 2 KiB random then 2 KiB zeros in every 4 KiB page;
 *      the random ones RAW (a full try only on a compressor whose last
 *      cluster compressed: it samples once that try fails).
 *   3. the same through memory.save's pending cluster (small writes that
 *      fill a cluster, one thread: of several random clusters after a
 *      compressible one, only the first may be tried), and through
 *      compaction of staged clusters: a random one stays RAW, a
 *      compressible one is compressed again.
 *   4. close, check, reopen: every byte of the disk as written (an image
 *      never sealed does not outlive its container's close: savelock.h).
 */
#include "hangar/check.h"
#include "container_open.h"
#include "harness.h"
#include "internal.h"
#include "memio.h"

#define CS    (1u << FORMAT_CLUSTER_SHIFT_DEFAULT)
#define NCL   16u
#define DSIZE ((uint64_t)NCL * CS)
#define OBJ   0100600u

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint8_t rnd_byte(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint8_t)(rng_state >> 32);
}

static void fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = rnd_byte();
}

/* what the cluster at `p` holds, by kind (see the header) */
enum content {
	RANDOM,
	TEXTLIKE,
	RANDOM_THEN_ZEROS,
	REPEATED_BLOCK,
	HALF_PAGES /* every 4 KiB: 2 KiB random, 2 KiB zeros */
};

static void fill_cluster(uint8_t *p, enum content how)
{
	switch (how) {
	case RANDOM:
		fill_random(p, CS);
		break;
	case TEXTLIKE:
		for (size_t i = 0; i < CS; i++)
			p[i] = (uint8_t) "the quick brown fox "[(i * 7 +
								 i / 61) %
								20] ^
			       (rnd_byte() & 1);
		break;
	case RANDOM_THEN_ZEROS:
		fill_random(p, CS / 2);
		memset(p + CS / 2, 0, CS / 2);
		break;
	case REPEATED_BLOCK:
		fill_random(p, 4096);
		for (size_t i = 4096; i < CS; i += 4096)
			memcpy(p + i, p, 4096);
		break;
	case HALF_PAGES:
		fill_random(p, CS);
		for (size_t i = 0; i < CS; i += 4096)
			memset(p + i + 2048, 0, 2048);
		break;
	}
}

static struct container_io_stats stats_of(struct container *c)
{
	struct container_io_stats s;
	container_io_stats(c, &s);
	return s;
}

static enum map_kind kind_of(struct container *c, const char *name, uint64_t vc)
{
	struct map_entry e;
	struct object *o = object_find_name(c, name);
	CHECK(o);
	CHECK_OK(map_lookup(c, o, vc, &e));
	return e.kind;
}

static void expect_bytes(struct container *c, const char *name,
			 const uint8_t *want, uint64_t size)
{
	static uint8_t got[DSIZE];
	uint64_t id;
	size_t n = 0;
	CHECK_OK(object_lookup(c, name, &id));
	CHECK_OK(object_read(c, id, got, (size_t)size, 0, &n));
	CHECK_EQ(n, size);
	CHECK_MEM_EQ(got, want, (size_t)size);
}

static uint8_t disk[DSIZE], save[DSIZE];

int main(void)
{
	struct container_options o = {TEST_MAP_CACHE, .compress_disks = true};
	struct memio *io = memio_new();
	struct container_io_stats s0, s1;
	struct container *c;
	uint64_t id, save_id;

	CHECK_OK(container_create(&io->io, &o, &c));
	CHECK_OK(object_create(c, "disk.raw", OBJ, 0, 0, &id));

	/* 1: random whole clusters, one request (the parallel path) */
	for (unsigned i = 0; i < NCL / 2; i++)
		fill_cluster(disk + (uint64_t)i * CS, RANDOM);
	s0 = stats_of(c);
	CHECK_OK(object_write(c, id, disk, DSIZE / 2, 0));
	s1 = stats_of(c);
	CHECK_EQ(s1.compress_skips - s0.compress_skips, NCL / 2);
	CHECK_EQ(s1.compressions - s0.compressions, 0);
	for (unsigned i = 0; i < NCL / 2; i++)
		CHECK_EQ(kind_of(c, "disk.raw", i), MAP_KIND_RAW);
	expect_bytes(c, "disk.raw", disk, DSIZE / 2);

	/* 1b: the same clusters rewritten with new random bytes, and one of
	 * them with compressible ones, in one request: the random ones go in
	 * place over their RAW clusters (data.c squeezed_in_place, under the
	 * read lock), the compressible one is compressed under the write
	 * lock; every byte as written */
	uint64_t raw_at[NCL / 2];
	for (unsigned i = 0; i < NCL / 2; i++) {
		struct map_entry e;
		CHECK_OK(map_lookup(c, object_find_name(c, "disk.raw"), i, &e));
		raw_at[i] = e.offset;
		fill_cluster(disk + (uint64_t)i * CS,
			     i == 3 ? TEXTLIKE : RANDOM);
	}
	s0 = stats_of(c);
	CHECK_OK(object_write(c, id, disk, DSIZE / 2, 0));
	s1 = stats_of(c);
	/* the random cluster after the compressible one on the same thread
	 * gets a full try (its compressor is not suspicious yet) */
	CHECK(s1.compress_skips - s0.compress_skips >= NCL / 2 - 2);
	CHECK_EQ(s1.compressions - s0.compressions +
			 (s1.compress_skips - s0.compress_skips),
		 NCL / 2);
	for (unsigned i = 0; i < NCL / 2; i++) {
		struct map_entry e;
		CHECK_OK(map_lookup(c, object_find_name(c, "disk.raw"), i, &e));
		CHECK_EQ(e.kind, i == 3 ? MAP_KIND_COMPRESSED : MAP_KIND_RAW);
		if (i != 3)
			CHECK_EQ(e.offset, raw_at[i]);
	}
	expect_bytes(c, "disk.raw", disk, DSIZE / 2);
	/* and back to random over the compressed one: a new RAW cluster */
	fill_cluster(disk + 3 * CS, RANDOM);
	CHECK_OK(object_write(c, id, disk + 2 * CS, 2 * CS, 2 * CS));
	CHECK_EQ(kind_of(c, "disk.raw", 3), MAP_KIND_RAW);
	expect_bytes(c, "disk.raw", disk, DSIZE / 2);

	/* 2: compressible kinds, then one random among them */
	static const enum content kinds[] = {TEXTLIKE,	     RANDOM_THEN_ZEROS,
					     REPEATED_BLOCK, RANDOM,
					     HALF_PAGES,     RANDOM,
					     RANDOM,	     RANDOM};
	const unsigned nk = sizeof(kinds) / sizeof(kinds[0]);
	for (unsigned i = NCL / 2; i < NCL; i++)
		fill_cluster(disk + (uint64_t)i * CS, kinds[i % nk]);
	s0 = stats_of(c);
	CHECK_OK(object_write(c, id, disk + DSIZE / 2, DSIZE / 2, DSIZE / 2));
	s1 = stats_of(c);
	/* every compressible one tried; a random one after a compressible
	 * one on the same compressor is tried too (not yet suspicious) */
	unsigned compressible = 0;
	for (unsigned i = NCL / 2; i < NCL; i++)
		compressible += kinds[i % nk] != RANDOM;
	CHECK_EQ(compressible, 4);
	CHECK(s1.compressions - s0.compressions >= compressible);
	CHECK_EQ(s1.compressions - s0.compressions +
			 (s1.compress_skips - s0.compress_skips),
		 NCL / 2);
	for (unsigned i = NCL / 2; i < NCL; i++)
		CHECK_EQ(kind_of(c, "disk.raw", i),
			 kinds[i % nk] == RANDOM ? MAP_KIND_RAW
						 : MAP_KIND_COMPRESSED);
	expect_bytes(c, "disk.raw", disk, DSIZE);

	/* 3a: memory.save filled 4 KiB at a time (the pending cluster, one
	 * thread): a compressible cluster, then SAVE_RANDOM random ones; at
	 * most the first random one costs a full try (its compressor had
	 * just compressed), the others are sampled and skipped */
	enum { SAVE_RANDOM = 4 };
	CHECK_OK(object_create(c, "memory.save", OBJ, 0, 0, &save_id));
	fill_cluster(save, TEXTLIKE);
	for (unsigned i = 1; i <= SAVE_RANDOM; i++)
		fill_cluster(save + (uint64_t)i * CS, RANDOM);
	s0 = stats_of(c);
	for (uint64_t off = 0; off < (SAVE_RANDOM + 1) * CS; off += 4096)
		CHECK_OK(object_write(c, save_id, save + off, 4096, off));
	CHECK_OK(container_commit(c));
	s1 = stats_of(c);
	CHECK(s1.compress_skips - s0.compress_skips >= SAVE_RANDOM - 1);
	CHECK_EQ(s1.compressions - s0.compressions +
			 (s1.compress_skips - s0.compress_skips),
		 SAVE_RANDOM + 1);
	CHECK_EQ(kind_of(c, "memory.save", 0), MAP_KIND_COMPRESSED);
	for (unsigned i = 1; i <= SAVE_RANDOM; i++)
		CHECK_EQ(kind_of(c, "memory.save", i), MAP_KIND_RAW);
	expect_bytes(c, "memory.save", save, (SAVE_RANDOM + 1) * CS);

	/* 3b: a 4 KiB write stages a compressed cluster RAW (no attempt);
	 * compaction tries it again.  Cluster NCL/2 (TEXTLIKE) gets random
	 * bytes in 4 KiB: still compressible, compressed again.  Cluster
	 * NCL/2 + 1 (RANDOM_THEN_ZEROS) gets random bytes over its whole
	 * zero half, 4 KiB at a time: staged, then skipped. */
	uint64_t vt = NCL / 2, vz = NCL / 2 + 1;
	CHECK_EQ(kinds[vt % nk], TEXTLIKE);
	CHECK_EQ(kinds[vz % nk], RANDOM_THEN_ZEROS);
	fill_random(disk + vt * CS + 8192, 4096);
	CHECK_OK(object_write(c, id, disk + vt * CS + 8192, 4096,
			      vt * CS + 8192));
	fill_random(disk + vz * CS + CS / 2, CS / 2);
	for (uint64_t off = vz * CS + CS / 2; off < (vz + 1) * CS; off += 4096)
		CHECK_OK(object_write(c, id, disk + off, 4096, off));
	CHECK_EQ(kind_of(c, "disk.raw", vt), MAP_KIND_RAW);
	CHECK_EQ(kind_of(c, "disk.raw", vz), MAP_KIND_RAW);
	s0 = stats_of(c);
	size_t left = 1;
	CHECK_OK(container_compact(c, 0, &left));
	CHECK_EQ(left, 0);
	s1 = stats_of(c);
	CHECK(s1.compressions - s0.compressions >= 1);
	CHECK_EQ(s1.compressions - s0.compressions +
			 (s1.compress_skips - s0.compress_skips),
		 2);
	CHECK_EQ(kind_of(c, "disk.raw", vt), MAP_KIND_COMPRESSED);
	CHECK_EQ(kind_of(c, "disk.raw", vz), MAP_KIND_RAW);
	expect_bytes(c, "disk.raw", disk, DSIZE);

	/* 4: every byte after a close, a check and a reopen */
	CHECK_OK(container_close(c));
	struct check_report r;
	CHECK_OK(check_container_key(&io->io, NULL, &r));
	for (size_t i = 0; i < r.message_count; i++)
		fprintf(stderr, "check: %s\n", r.messages[i]);
	CHECK_EQ(r.errors, 0);
	CHECK_EQ(r.leaked_clusters, 0);
	CHECK_OK(container_open(&io->io, &o, &c));
	expect_bytes(c, "disk.raw", disk, DSIZE);
	CHECK_OK(container_close(c));
	memio_free(io);
	printf("test_incompressible: ok\n");
	return 0;
}
