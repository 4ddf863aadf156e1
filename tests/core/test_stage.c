/*
 * test_stage.c -- staged clusters of compressed disks (data.c, "Staged
 * clusters"): a partial write to a compressed disk's cluster stores it RAW
 * instead of recompressing it, later partial writes to it go in place, and
 * container_compact compresses it again.
 *
 *   1. a disk written whole is compressed; 4 KiB writes at random then
 *      stage the clusters they touch (RAW, on the list), a second write to
 *      a staged cluster allocates nothing (in place), every byte reads back
 *      as the model says; container_compact leaves nothing staged, every
 *      touched cluster COMPRESSED again and the used space back within a
 *      few clusters of what whole-cluster compression gave; a reopen
 *      (which recounts every reference) and a full check agree.
 *   2. memory.save is never staged (its fingerprint follows the pending
 *      cluster), nor is an encrypted container's disk.
 *   3. a staged cluster a snapshot shares: compaction gives the live disk a
 *      compressed copy and the snapshot keeps its bytes; a rollback puts
 *      RAW clusters the snapshot brings back on the list again.
 *   4. faults: every write and sync of a compaction and its commit fails in
 *      turn; the container reopens with the same bytes (compaction never
 *      changes what a disk reads) and checks clean.
 */
#include "hangar/check.h"
#include "container_open.h"
#include "crypto.h"
#include "harness.h"
#include "internal.h"
#include "memio.h"

#define SHIFT 14u
#define CS    (1u << SHIFT)
#define NCL   64u
#define DSIZE ((uint64_t)NCL * CS)
#define OBJ   0100600u

static struct crypto_key *master;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(uint64_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state % n;
}

/* compressible, different per seed */
static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((i / 64) * 3 + seed);
}

static struct container_options opts(bool encrypted)
{
	struct container_options o = {TEST_MAP_CACHE, .cluster_shift = SHIFT,
				      .compress_disks = true};
	if (encrypted)
		o.master = master;
	return o;
}

static uint64_t used_of(struct container *c)
{
	struct container_info i;
	container_info(c, &i);
	return i.used_clusters;
}

static enum map_kind kind_of(struct container *c, const char *name, uint64_t vc)
{
	struct map_entry e;
	struct object *o = object_find_name(c, name);
	CHECK(o);
	CHECK_OK(map_lookup(c, o, vc, &e));
	return e.kind;
}

static size_t staged_of(struct container *c, const char *name)
{
	struct object *o = object_find_name(c, name);
	CHECK(o);
	return o->staged_num;
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

static struct container *reopen_checked(struct container *c, struct memio *io,
					bool encrypted)
{
	struct check_report r;
	if (c)
		CHECK_OK(container_close(c));
	CHECK_OK(check_container_key(&io->io, encrypted ? master : NULL, &r));
	for (size_t i = 0; i < r.message_count; i++)
		fprintf(stderr, "check: %s\n", r.messages[i]);
	CHECK_EQ(r.errors, 0);
	CHECK_EQ(r.leaked_clusters, 0);
	struct container_options o = opts(encrypted);
	CHECK_OK(container_open(&io->io, &o, &c));
	return c;
}

/* A container with disk.raw written whole (so compressed), closed. */
static struct memio *base_disk(bool encrypted, uint8_t *model)
{
	struct memio *io = memio_new();
	struct container_options o = opts(encrypted);
	struct container *c;
	uint64_t id;
	CHECK_OK(container_create(&io->io, &o, &c));
	CHECK_OK(object_create(c, "disk.raw", OBJ, 0, 0, &id));
	fill(model, DSIZE, 1);
	CHECK_OK(object_write(c, id, model, DSIZE, 0));
	CHECK_OK(container_close(c));
	return io;
}

static void write_at(struct container *c, const char *name, uint8_t *model,
		     uint64_t off, size_t len, unsigned seed)
{
	uint8_t buf[4096];
	uint64_t id;
	CHECK(len <= sizeof(buf));
	fill(buf, len, seed);
	buf[0] ^= (uint8_t)seed; /* never all the old bytes */
	CHECK_OK(object_lookup(c, name, &id));
	CHECK_OK(object_write(c, id, buf, len, off));
	memcpy(model + off, buf, len);
}

/* ---- 1 -------------------------------------------------------------------- */

static void test_stage_compact(void)
{
	static uint8_t model[DSIZE];
	struct memio *io = base_disk(false, model);
	struct container *c = reopen_checked(NULL, io, false);
	const uint64_t used0 = used_of(c);
	for (uint64_t vc = 0; vc < NCL; vc++)
		CHECK_EQ(kind_of(c, "disk.raw", vc), MAP_KIND_COMPRESSED);

	bool touched[NCL] = {false};
	for (int i = 0; i < 200; i++) {
		uint64_t off = rnd(DSIZE / 4096) * 4096;
		write_at(c, "disk.raw", model, off, 4096, (unsigned)i + 2);
		touched[off / CS] = true;
	}
	size_t ntouched = 0;
	for (uint64_t vc = 0; vc < NCL; vc++) {
		CHECK_EQ(kind_of(c, "disk.raw", vc),
			 touched[vc] ? MAP_KIND_RAW : MAP_KIND_COMPRESSED);
		ntouched += touched[vc];
	}
	CHECK_EQ(staged_of(c, "disk.raw"), ntouched);
	expect_bytes(c, "disk.raw", model, DSIZE);

	/* a staged cluster takes the next partial write in place */
	CHECK_OK(container_commit(c));
	uint64_t used1 = used_of(c);
	for (uint64_t vc = 0; vc < NCL; vc++)
		if (touched[vc])
			write_at(c, "disk.raw", model, vc * CS + 100, 1000,
				 (unsigned)vc + 7);
	CHECK_OK(container_commit(c));
	CHECK_EQ(used_of(c), used1);
	CHECK_EQ(staged_of(c, "disk.raw"), ntouched);
	expect_bytes(c, "disk.raw", model, DSIZE);

	/* compacted: compressed again, the space back */
	size_t left = 99;
	CHECK_OK(container_compact(c, 3, &left));
	CHECK_EQ(left, ntouched - 3);
	CHECK_OK(container_compact(c, 0, &left));
	CHECK_EQ(left, 0);
	for (uint64_t vc = 0; vc < NCL; vc++)
		CHECK_EQ(kind_of(c, "disk.raw", vc), MAP_KIND_COMPRESSED);
	expect_bytes(c, "disk.raw", model, DSIZE);
	CHECK_OK(container_commit(c));
	CHECK(used_of(c) <= used0 + 3);
	c = reopen_checked(c, io, false);
	expect_bytes(c, "disk.raw", model, DSIZE);
	CHECK(used_of(c) <= used0 + 3);

	/* close compacts whatever is staged */
	write_at(c, "disk.raw", model, 5 * CS + 4096, 4096, 99);
	CHECK_EQ(kind_of(c, "disk.raw", 5), MAP_KIND_RAW);
	c = reopen_checked(c, io, false);
	CHECK_EQ(kind_of(c, "disk.raw", 5), MAP_KIND_COMPRESSED);
	expect_bytes(c, "disk.raw", model, DSIZE);
	CHECK_OK(container_close(c));
	memio_free(io);
}

/* ---- 2 -------------------------------------------------------------------- */

static void test_not_staged(void)
{
	static uint8_t model[DSIZE];
	struct memio *io = base_disk(true, model);
	struct container *c = reopen_checked(NULL, io, true);
	write_at(c, "disk.raw", model, 3 * CS + 4096, 4096, 5);
	CHECK_EQ(staged_of(c, "disk.raw"), 0);
	expect_bytes(c, "disk.raw", model, DSIZE);
	c = reopen_checked(c, io, true);
	expect_bytes(c, "disk.raw", model, DSIZE);
	CHECK_OK(container_close(c));
	memio_free(io);

	io = base_disk(false, model);
	c = reopen_checked(NULL, io, false);
	uint64_t id;
	static uint8_t image[DSIZE];
	CHECK_OK(object_create(c, "memory.save", OBJ, 0, 0, &id));
	fill(image, DSIZE, 3);
	CHECK_OK(object_write(c, id, image, DSIZE, 0));
	write_at(c, "memory.save", image, 2 * CS + 8192, 4096, 6);
	write_at(c, "memory.save", image, 9 * CS, 4096, 7);
	CHECK_EQ(staged_of(c, "memory.save"), 0);
	expect_bytes(c, "memory.save", image, DSIZE);
	/* (an image never sealed does not outlive a reopen: savelock.h) */
	CHECK_OK(container_close(c));
	memio_free(io);
}

/* ---- 3 -------------------------------------------------------------------- */

static void test_snapshots(void)
{
	static uint8_t model[DSIZE], snap[DSIZE];
	struct memio *io = base_disk(false, model);
	struct container *c = reopen_checked(NULL, io, false);
	write_at(c, "disk.raw", model, 4 * CS, 4096, 11); /* staged */
	CHECK_OK(container_snapshot_create(c, "s"));	  /* shares it */
	memcpy(snap, model, DSIZE);
	CHECK_OK(container_compact(c, 0, NULL));
	CHECK_EQ(kind_of(c, "disk.raw", 4), MAP_KIND_COMPRESSED);
	write_at(c, "disk.raw", model, 4 * CS + 8192, 4096, 12);
	expect_bytes(c, "disk.raw", model, DSIZE);
	struct container *v;
	CHECK_OK(container_snapshot_open(c, "s", &v));
	expect_bytes(v, "disk.raw", snap, DSIZE);
	container_snapshot_close(c, v);
	c = reopen_checked(c, io, false);

	/* the snapshot holds cluster 4 RAW: a rollback stages it again */
	CHECK_OK(container_snapshot_rollback(c, "s"));
	memcpy(model, snap, DSIZE);
	CHECK_EQ(kind_of(c, "disk.raw", 4), MAP_KIND_RAW);
	CHECK_EQ(staged_of(c, "disk.raw"), 1);
	CHECK_OK(container_snapshot_delete(c, "s"));
	CHECK_OK(container_compact(c, 0, NULL));
	CHECK_EQ(kind_of(c, "disk.raw", 4), MAP_KIND_COMPRESSED);
	expect_bytes(c, "disk.raw", model, DSIZE);
	c = reopen_checked(c, io, false);
	expect_bytes(c, "disk.raw", model, DSIZE);
	CHECK_OK(container_close(c));
	memio_free(io);
}

/* ---- 4 -------------------------------------------------------------------- */

static void test_faults(void)
{
	static uint8_t model[DSIZE];
	struct memio *base = base_disk(false, model);
	struct container *c = reopen_checked(NULL, base, false);
	for (int i = 0; i < 12; i++)
		write_at(c, "disk.raw", model, (uint64_t)i * 5 * CS % DSIZE,
			 4096, (unsigned)i + 20);
	CHECK_OK(container_commit(c));
	/* keep it open and staged: clone the bytes, not the container */
	unsigned fails = 0;
	for (long at = 1;; at++) {
		struct memio *io = memio_clone(base);
		struct container_options o = opts(false);
		struct container *d;
		CHECK_OK(container_open(&io->io, &o, &d));
		/* stage again in this copy (the list is in memory only) */
		struct object *ob = object_find_name(d, "disk.raw");
		CHECK(ob);
		object_stage_raw(d, ob);
		CHECK(ob->staged_num > 0);
		memio_fail(io, MEMIO_OP_PWRITE | MEMIO_OP_SYNC, at, -EIO,
			   false);
		int ret = container_compact(d, 0, NULL);
		if (!ret)
			ret = container_commit(d);
		bool failed = io->failed;
		(void)container_close(d);
		memio_fail(io, 0, 0, 0, false);
		d = reopen_checked(NULL, io, false);
		expect_bytes(d, "disk.raw", model, DSIZE);
		CHECK_OK(container_close(d));
		memio_free(io);
		fails += failed;
		if (!failed)
			break;
	}
	CHECK(fails > 3);
	CHECK_OK(container_close(c));
	memio_free(base);
}

int main(void)
{
	CHECK_OK(crypto_key_generate(&master));
	test_stage_compact();
	test_not_staged();
	test_snapshots();
	test_faults();
	crypto_key_free(master);
	printf("test_stage: ok\n");
	return 0;
}
