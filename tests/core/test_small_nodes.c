/*
 * test_small_nodes.c -- 4 KiB metadata blocks in containers with bigger
 * clusters (FEATURE_INCOMPAT_SMALL_NODES, core/alloc_slab.c), on in-memory
 * containers:
 *
 *   1. layout: a new 64 KiB-cluster container carries the bit and
 *      node_shift 12 in its superblock; one made with node_shift equal to
 *      its cluster (the layout before the feature) and one with 4 KiB
 *      clusters carry neither, and every one reopens.
 *   2. metadata per fsync: on a 16 TiB sparse disk (a map of height 5), a
 *      commit after one 4 KiB write into a new region writes less than
 *      32 KiB of metadata (the I/O layer's counter), where whole-cluster
 *      nodes write more than 64 KiB.
 *   3. a random run on that disk: 4 KiB writes at random places, commits
 *      every few writes, against a model; every few commits a close, a full
 *      check (clean: nothing leaked, every block verified) and a reopen
 *      (which rebuilds every slot from the tree); the container stays
 *      within a bound of data plus 4 KiB per touched region; deleting the
 *      disk gives every metadata cluster back.
 *   4. the same random run with snapshots taken, read back and deleted,
 *      shared copies (object_copy_range), and encrypted.
 */
#include "hangar/check.h"
#include "container_open.h"
#include "crypto.h"
#include "format.h"
#include "harness.h"
#include "internal.h"
#include "memio.h"

#define OBJ 0100600u
#define KIB 1024ull
#define TIB (1024ull * 1024 * 1024 * 1024)

static struct crypto_key *master;

static const uint8_t *newest_sb(const struct memio *m)
{
	const uint8_t *a = m->data + FORMAT_SUPERBLOCK_A_OFFSET;
	const uint8_t *b = m->data + FORMAT_SUPERBLOCK_B_OFFSET;
	bool va = superblock_intact(a), vb = superblock_intact(b);
	CHECK(va || vb);
	if (!vb)
		return a;
	if (!va)
		return b;
	return le64_get(a + SB_OFF_GENERATION) > le64_get(b + SB_OFF_GENERATION)
		       ? a
		       : b;
}

static struct container_options opts(unsigned shift, unsigned node_shift,
				     bool encrypted)
{
	struct container_options o = {TEST_MAP_CACHE, .cluster_shift = shift,
				      .node_shift = node_shift};
	if (encrypted)
		o.master = master;
	return o;
}

static void check_clean(struct memio *m, bool encrypted)
{
	struct check_report r;
	CHECK_OK(check_container_key(&m->io, encrypted ? master : NULL, &r));
	if (r.errors)
		for (size_t i = 0; i < r.message_count; i++)
			printf("check: %s\n", r.messages[i]);
	CHECK_EQ(r.errors, 0);
	CHECK_EQ(r.leaked_clusters, 0);
}

/* ---- 1. layout ------------------------------------------------------------ */

static void test_layout(void)
{
	static const struct {
		unsigned shift, node_shift;
		bool bit;
		uint32_t field;
	} cases[] = {
		{16, 0, true, 12},  /* the default: 4 KiB nodes */
		{16, 14, true, 14}, /* 16 KiB nodes */
		{16, 16, false, 0}, /* nodes of a cluster: the old layout */
		{12, 0, false, 0},  /* 4 KiB clusters: nodes are clusters */
		{21, 0, true, 12},  /* 2 MiB clusters */
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct memio *m = memio_new();
		struct container *c;
		uint64_t id;
		struct container_options o =
			opts(cases[k].shift, cases[k].node_shift, false);
		CHECK_OK(container_create(&m->io, &o, &c));
		CHECK_OK(object_create(c, "disk.raw", OBJ, 0, 0, &id));
		CHECK_OK(object_truncate(c, id, 1ull << 30));
		CHECK_OK(object_write(c, id, "x", 1, 123456789));
		CHECK_OK(container_close(c));
		const uint8_t *sb = newest_sb(m);
		CHECK_EQ(!!(le64_get(sb + SB_OFF_INCOMPAT) &
			    FEATURE_INCOMPAT_SMALL_NODES),
			 cases[k].bit);
		CHECK_EQ(le32_get(sb + SB_OFF_NODE_SHIFT), cases[k].field);
		CHECK_OK(container_open(&m->io, &o, &c));
		char b = 0;
		size_t got = 0;
		CHECK_OK(object_lookup(c, "disk.raw", &id));
		CHECK_OK(object_read(c, id, &b, 1, 123456789, &got));
		CHECK_EQ(got, 1);
		CHECK_EQ(b, 'x');
		CHECK_OK(container_close(c));
		check_clean(m, false);
		memio_free(m);
	}
	/* a node size the format does not allow */
	struct memio *m = memio_new();
	struct container *c;
	struct container_options o = opts(16, 11, false);
	CHECK_EQ(container_create(&m->io, &o, &c), -EINVAL);
	memio_free(m);
	printf("layout: ok\n");
}

/* ---- 2. metadata bytes per fsync ------------------------------------------- */

/* The most metadata bytes one commit after one 4 KiB write into a region
 * the map never touched wrote, over `rounds` such commits. */
static uint64_t meta_per_fsync(unsigned node_shift, int rounds)
{
	struct memio *m = memio_new();
	struct container *c;
	uint64_t id, rng = 18, worst = 0;
	uint8_t buf[4096];
	struct container_options o = opts(16, node_shift, false);

	memset(buf, 0xa5, sizeof(buf));
	CHECK_OK(container_create(&m->io, &o, &c));
	CHECK_OK(object_create(c, "disk.raw", OBJ, 0, 0, &id));
	CHECK_OK(object_truncate(c, id, 16 * TIB));
	CHECK_OK(object_write(c, id, buf, sizeof(buf), 16 * TIB - 4096));
	CHECK_OK(container_commit(c));
	for (int i = 0; i < rounds; i++) {
		struct container_io_stats a, b;
		uint64_t off = (test_rand(&rng) % (16 * TIB / 4096)) * 4096;
		container_io_stats(c, &a);
		CHECK_OK(object_write(c, id, buf, sizeof(buf), off));
		CHECK_OK(container_commit(c));
		container_io_stats(c, &b);
		if (b.meta_bytes - a.meta_bytes > worst)
			worst = b.meta_bytes - a.meta_bytes;
	}
	CHECK_OK(container_close(c));
	check_clean(m, false);
	memio_free(m);
	return worst;
}

static void test_meta_per_fsync(void)
{
	uint64_t small = meta_per_fsync(0, 20);
	uint64_t whole = meta_per_fsync(16, 5);
	printf("metadata per fsync after one 4 KiB write, 16 TiB disk, 64 KiB "
	       "clusters: %llu bytes with 4 KiB nodes, %llu with 64 KiB "
	       "nodes\n",
	       (unsigned long long)small, (unsigned long long)whole);
	CHECK(small < 32 * KIB);
	CHECK(whole > 64 * KIB);
}

/* ---- 3 and 4. random runs against a model ---------------------------------- */

#define SLOTS 4096 /* distinct 4 KiB places written */

struct place {
	uint64_t off;
	uint8_t byte; /* 0: never written (or punched) */
};

struct run {
	struct memio *m;
	struct container *c;
	struct container_options o;
	bool encrypted, snapshots;
	uint64_t id, rng;
	struct place place[SLOTS];
	size_t num;
};

static void run_reopen(struct run *r)
{
	CHECK_OK(container_close(r->c));
	check_clean(r->m, r->encrypted);
	CHECK_OK(container_open(&r->m->io, &r->o, &r->c));
	CHECK_OK(object_lookup(r->c, "disk.raw", &r->id));
}

static void run_verify(struct run *r, struct container *c, uint64_t id,
		       const struct place *place, size_t num)
{
	uint8_t buf[4096], want[4096];
	for (size_t i = 0; i < num; i++) {
		size_t got = 0;
		CHECK_OK(object_read(c, id, buf, sizeof(buf), place[i].off,
				     &got));
		CHECK_EQ(got, sizeof(buf));
		memset(want, place[i].byte, sizeof(want));
		if (memcmp(buf, want, sizeof(buf)) != 0)
			printf("%s: wrong bytes at %llu (want 0x%02x, got "
			       "0x%02x)\n",
			       r->encrypted ? "encrypted" : "plain",
			       (unsigned long long)place[i].off, place[i].byte,
			       buf[0]);
		CHECK_MEM_EQ(buf, want, sizeof(buf));
	}
}

static void run_random(bool encrypted, bool snapshots, int steps)
{
	struct run *r = calloc(1, sizeof(*r));
	uint8_t buf[4096];

	r->m = memio_new();
	r->encrypted = encrypted;
	r->snapshots = snapshots;
	r->rng = test_seed() ^ (encrypted ? 7 : 0) ^ (snapshots ? 11 : 0);
	r->o = opts(16, 0, encrypted);
	CHECK_OK(container_create(&r->m->io, &r->o, &r->c));
	CHECK_OK(object_create(r->c, "disk.raw", OBJ, 0, 0, &r->id));
	CHECK_OK(object_truncate(r->c, r->id, 16 * TIB));

	struct place *snap_place = NULL;
	size_t snap_num = 0;
	bool have_snap = false;
	for (int step = 0; step < steps; step++) {
		const uint64_t w = test_rand(&r->rng) % 100;
		if (w < 70 || r->num == 0) {
			/* a write: a new place or an old one again */
			size_t i = r->num < SLOTS && (w % 3 || r->num == 0)
					   ? r->num++
					   : test_rand(&r->rng) % r->num;
			if (i == r->num - 1 && r->place[i].off == 0 &&
			    r->place[i].byte == 0)
				r->place[i].off = (test_rand(&r->rng) %
						   (16 * TIB / 4096 - 1)) *
						  4096;
			r->place[i].byte =
				(uint8_t)(1 + test_rand(&r->rng) % 255);
			memset(buf, r->place[i].byte, sizeof(buf));
			CHECK_OK(object_write(r->c, r->id, buf, sizeof(buf),
					      r->place[i].off));
		} else if (w < 75) {
			/* a punch: the place reads zeros */
			size_t i = test_rand(&r->rng) % r->num;
			CHECK_OK(object_punch(r->c, r->id, r->place[i].off,
					      4096));
			r->place[i].byte = 0;
		} else if (w < 80 && snapshots) {
			/* a shared copy of one place onto another */
			size_t i = test_rand(&r->rng) % r->num;
			size_t j = test_rand(&r->rng) % r->num;
			uint64_t from = r->place[i].off & ~0xffffull;
			uint64_t to = r->place[j].off & ~0xffffull;
			uint64_t n = 0;
			if (from != to) {
				CHECK_OK(object_copy_range(r->c, NULL, r->id,
							   from, r->id, to,
							   65536, &n));
				for (size_t k = 0; k < r->num; k++) {
					uint64_t o = r->place[k].off;
					if ((o & ~0xffffull) != to)
						continue;
					uint8_t b = 0;
					size_t got = 0;
					CHECK_OK(object_read(r->c, r->id, &b, 1,
							     o, &got));
					r->place[k].byte = b;
				}
			}
		} else if (w < 85 && snapshots) {
			/* a snapshot (replacing the last one), or a read of
			 * it through a view */
			if (have_snap && test_rand(&r->rng) % 2) {
				struct container *v;
				uint64_t vid;
				CHECK_OK(
					container_snapshot_open(r->c, "s", &v));
				CHECK_OK(object_lookup(v, "disk.raw", &vid));
				run_verify(r, v, vid, snap_place, snap_num);
				container_snapshot_close(r->c, v);
			} else {
				if (have_snap)
					CHECK_OK(container_snapshot_delete(
						r->c, "s"));
				CHECK_OK(container_snapshot_create(r->c, "s"));
				free(snap_place);
				snap_place = malloc(sizeof(r->place));
				memcpy(snap_place, r->place, sizeof(r->place));
				snap_num = r->num;
				have_snap = true;
			}
		} else if (w < 97) {
			CHECK_OK(container_commit(r->c));
		} else {
			run_reopen(r);
			run_verify(r, r->c, r->id, r->place, r->num);
		}
	}
	run_reopen(r);
	run_verify(r, r->c, r->id, r->place, r->num);
	if (have_snap)
		CHECK_OK(container_snapshot_delete(r->c, "s"));
	CHECK_OK(container_commit(r->c));

	/* space: the data clusters plus at most a 4 KiB node per written
	 * place on each of the map's lower levels, plus the tree's top and
	 * the reserve */
	struct container_info info;
	container_info(r->c, &info);
	uint64_t file = r->m->size;
	uint64_t bound =
		(uint64_t)r->num * (64 * KIB + 3 * 4 * KIB) + (16u << 20);
	printf("%s%s: %zu places, %llu KiB of container file (bound %llu "
	       "KiB)\n",
	       encrypted ? "encrypted" : "plain",
	       snapshots ? " with snapshots and copies" : "", r->num,
	       (unsigned long long)(file >> 10),
	       (unsigned long long)(bound >> 10));
	CHECK(file <= bound);

	/* everything given back: only the table and the reserve remain */
	CHECK_OK(object_unlink(r->c, "disk.raw"));
	CHECK_OK(container_commit(r->c));
	CHECK_OK(container_commit(r->c));
	CHECK(r->c->alloc.used <= 2);
	CHECK_EQ(r->c->alloc.slab_num, r->c->alloc.used);
	CHECK_OK(container_close(r->c));
	check_clean(r->m, encrypted);
	free(snap_place);
	memio_free(r->m);
	free(r);
}

int main(void)
{
	CHECK_OK(crypto_key_generate(&master));
	test_layout();
	test_meta_per_fsync();
	run_random(false, false, 3000);
	run_random(false, true, 2000);
	run_random(true, true, 1000);
	crypto_key_free(master);
	printf("test_small_nodes: ok\n");
	return 0;
}
