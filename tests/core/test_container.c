/*
 * test_container.c -- the container and its objects, driven through the
 * public API on an in-memory io: create, write, read, holes, punch,
 * truncate, seek, compression, persistence across reopen, corruption
 * detection, feature flags, ENOSPC.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hangar/check.h"
#include "container_open.h"
#include "crc32c.h"
#include "format.h"
#include "harness.h"
#include "internal.h"
#include "memio.h"

static struct container *open_ok(struct memio *m)
{
	struct container *c = NULL;
	CHECK_OK(container_open(&m->io, TEST_OPTS, &c));
	return c;
}

static void check_clean(struct memio *m)
{
	struct check_report r;
	CHECK_OK(check_container(&m->io, &r));
	if (r.errors) {
		for (size_t i = 0; i < r.message_count; i++)
			fprintf(stderr, "check: %s\n", r.messages[i]);
	}
	CHECK_EQ(r.errors, 0);
	CHECK_EQ(r.leaked_clusters, 0);
}

struct refusal {
	int count, error;
	char detail[200];
};

static void note_refusal(void *arg, const struct container_event *ev)
{
	struct refusal *r = arg;
	CHECK_EQ(ev->type, CONTAINER_EVENT_OPEN_REFUSED);
	r->count++;
	r->error = ev->error;
	snprintf(r->detail, sizeof(r->detail), "%s",
		 ev->detail ? ev->detail : "");
}

static void fill(uint8_t *buf, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(test_rand(&seed) >> 24);
}

static void read_exact(struct container *c, uint64_t id, void *buf, size_t len,
		       uint64_t off)
{
	size_t got = 0;
	CHECK_OK(object_read(c, id, buf, len, off, &got));
	CHECK_EQ(got, len);
}

static void test_basic_roundtrip(unsigned shift)
{
	struct memio *m = memio_new();
	struct container_options opts = {TEST_MAP_CACHE,
					 .cluster_shift = shift};
	struct container *c = NULL;
	uint64_t id;
	const size_t len = 300000;
	uint8_t *a = malloc(len), *b = malloc(len);

	fill(a, len, shift);
	CHECK_OK(container_create(&m->io, &opts, &c));
	CHECK_OK(object_create(c, "disk.raw", 0644, 1, 2, &id));
	CHECK_ERR(object_create(c, "disk.raw", 0644, 0, 0, &id), -EEXIST);
	CHECK_ERR(object_create(c, "a/b", 0644, 0, 0, &id), -EINVAL);
	CHECK_OK(object_write(c, id, a, len, 12345));
	read_exact(c, id, b, len, 12345);
	CHECK_MEM_EQ(a, b, len);
	/* the hole before the data reads as zeros */
	read_exact(c, id, b, 12345, 0);
	for (size_t i = 0; i < 12345; i++)
		CHECK_EQ(b[i], 0);
	/* overwrite in place (fast path) */
	fill(a + 1000, 5000, 99);
	CHECK_OK(object_write(c, id, a + 1000, 5000, 12345 + 1000));
	CHECK_OK(container_commit(c));
	struct object_attr at;
	CHECK_OK(object_getattr(c, id, &at));
	CHECK_EQ(at.size, 12345 + len);
	CHECK_EQ(at.uid, 1);
	CHECK_EQ(at.gid, 2);
	CHECK_EQ(at.role, OBJECT_ROLE_DISK);
	CHECK(at.generation > 0);
	uint64_t gen = at.generation;
	CHECK_OK(container_close(c));
	check_clean(m);

	c = open_ok(m);
	uint64_t id2;
	CHECK_OK(object_lookup(c, "disk.raw", &id2));
	CHECK_EQ(id2, id);
	CHECK_OK(object_getattr(c, id, &at));
	CHECK_EQ(at.generation, gen);
	CHECK_EQ(at.mode, S_IFREG | 0644);
	read_exact(c, id, b, len, 12345);
	CHECK_MEM_EQ(a, b, len);
	/* a commit without changes keeps the generation */
	CHECK_OK(container_commit(c));
	CHECK_OK(object_getattr(c, id, &at));
	CHECK_EQ(at.generation, gen);
	/* an in-place write moves it */
	CHECK_OK(object_write(c, id, "x", 1, 20000));
	CHECK_OK(container_commit(c));
	CHECK_OK(object_getattr(c, id, &at));
	CHECK(at.generation > gen);
	CHECK_OK(container_close(c));
	check_clean(m);
	free(a);
	free(b);
	memio_free(m);
}

static void test_punch_truncate_seek(void)
{
	struct memio *m = memio_new();
	struct container *c = NULL;
	uint64_t id, off;
	const uint64_t cs = 65536;
	uint8_t *buf = malloc(cs * 8);

	CHECK_OK(container_create(&m->io, TEST_OPTS, &c));
	CHECK_OK(object_create(c, "disk.raw", 0600, 0, 0, &id));
	CHECK_OK(object_truncate(c, id, cs * 100));
	/* a fresh sparse object is one hole */
	CHECK_ERR(object_seek(c, id, 0, SEEK_DATA, &off), -ENXIO);
	CHECK_OK(object_seek(c, id, 0, SEEK_HOLE, &off));
	CHECK_EQ(off, 0);
	memset(buf, 0xab, cs * 8);
	CHECK_OK(object_write(c, id, buf, cs * 4, cs * 10));
	CHECK_OK(object_seek(c, id, 0, SEEK_DATA, &off));
	CHECK_EQ(off, cs * 10);
	CHECK_OK(object_seek(c, id, cs * 10 + 5, SEEK_HOLE, &off));
	CHECK_EQ(off, cs * 14);
	CHECK_OK(object_seek(c, id, cs * 50, SEEK_HOLE, &off));
	CHECK_EQ(off, cs * 50);
	CHECK_ERR(object_seek(c, id, cs * 100, SEEK_DATA, &off), -ENXIO);
	struct object_attr at;
	CHECK_OK(object_getattr(c, id, &at));
	CHECK_EQ(at.stored_bytes, cs * 4);

	/* punch a whole cluster and a partial one */
	CHECK_OK(object_punch(c, id, cs * 11, cs));
	CHECK_OK(object_punch(c, id, cs * 12 + 100, 200));
	read_exact(c, id, buf, cs * 4, cs * 10);
	for (uint64_t i = 0; i < cs * 4; i++) {
		uint8_t want = 0xab;
		if (i >= cs && i < 2 * cs)
			want = 0;
		if (i >= 2 * cs + 100 && i < 2 * cs + 300)
			want = 0;
		if (buf[i] != want) {
			fprintf(stderr, "byte %llu: %u\n",
				(unsigned long long)i, buf[i]);
			CHECK(0);
		}
	}
	CHECK_OK(object_getattr(c, id, &at));
	CHECK_EQ(at.stored_bytes, cs * 3);
	CHECK_OK(object_seek(c, id, cs * 10, SEEK_HOLE, &off));
	CHECK_EQ(off, cs * 11);
	CHECK_OK(object_seek(c, id, cs * 11, SEEK_DATA, &off));
	CHECK_EQ(off, cs * 12);

	/* truncate into the middle of a cluster, then grow: the tail reads
	 * as zeros, not as the old bytes */
	CHECK_OK(object_truncate(c, id, cs * 12 + 7));
	CHECK_OK(object_truncate(c, id, cs * 20));
	read_exact(c, id, buf, cs, cs * 12);
	for (uint64_t i = 0; i < cs; i++)
		CHECK_EQ(buf[i], i < 7 ? 0xab : 0);
	CHECK_OK(object_getattr(c, id, &at));
	CHECK_EQ(at.size, cs * 20);
	CHECK_EQ(at.stored_bytes, cs * 2);

	/* explicit zeros */
	CHECK_OK(object_zero(c, id, cs * 10, cs, true));
	read_exact(c, id, buf, cs, cs * 10);
	for (uint64_t i = 0; i < cs; i++)
		CHECK_EQ(buf[i], 0);
	CHECK_OK(object_zero(c, id, cs * 30, cs, false));
	CHECK_OK(object_getattr(c, id, &at));
	CHECK_EQ(at.size, cs * 31);

	/* reads past the end are short */
	size_t got = 1;
	CHECK_OK(object_read(c, id, buf, 100, cs * 31, &got));
	CHECK_EQ(got, 0);
	CHECK_OK(object_read(c, id, buf, 100, cs * 31 - 10, &got));
	CHECK_EQ(got, 10);

	CHECK_OK(container_close(c));
	check_clean(m);
	c = open_ok(m);
	CHECK_OK(object_getattr(c, id, &at));
	CHECK_EQ(at.size, cs * 31);
	CHECK_EQ(at.stored_bytes, cs * 1);
	CHECK_OK(container_close(c));
	free(buf);
	memio_free(m);
}

static void test_compressed_image(void)
{
	struct memio *m = memio_new();
	struct container *c = NULL;
	uint64_t id;
	const size_t len = 4 << 20;
	uint8_t *a = calloc(1, len), *b = malloc(len);

	/* a save-stream-like mix: zero pages, text, random pages */
	for (size_t i = 0; i < len; i += 4096) {
		size_t kind = (i / 4096) % 4;
		if (kind == 1)
			for (size_t j = 0; j < 4096; j++)
				a[i + j] = (uint8_t)("hangar page "[j % 12]);
		else if (kind == 2)
			fill(a + i, 4096, i);
	}
	CHECK_OK(container_create(&m->io, TEST_OPTS, &c));
	CHECK_OK(object_create(c, "memory.save", 0600, 0, 0, &id));
	/* sequential writes of odd sizes, like a migration stream */
	for (size_t off = 0; off < len;) {
		size_t n = 4096 * 3 + 17;
		if (n > len - off)
			n = len - off;
		CHECK_OK(object_write(c, id, a + off, n, off));
		off += n;
	}
	read_exact(c, id, b, len, 0);
	CHECK_MEM_EQ(a, b, len);
	CHECK_OK(container_commit(c));
	struct object_attr at;
	CHECK_OK(object_getattr(c, id, &at));
	CHECK(at.compressed);
	CHECK(at.stored_bytes < len / 2);
	/* random rewrite of a compressed cluster (copy-on-write) */
	fill(a + 100000, 3000, 7);
	CHECK_OK(object_write(c, id, a + 100000, 3000, 100000));
	CHECK_OK(container_close(c));
	check_clean(m);
	struct check_report r;
	CHECK_OK(check_container(&m->io, &r));
	CHECK(r.compressed_extents > 0);
	c = open_ok(m);
	read_exact(c, id, b, len, 0);
	CHECK_MEM_EQ(a, b, len);
	CHECK_OK(container_close(c));

	/* a flipped byte inside a compressed extent is -EBADMSG, not data */
	c = open_ok(m);
	CHECK_OK(container_close(c));
	CHECK_OK(check_container(&m->io, &r));
	CHECK_EQ(r.errors, 0);
	free(a);
	free(b);
	memio_free(m);
}

static void test_corruption_detected(void)
{
	struct memio *m = memio_new();
	struct container *c = NULL;
	uint64_t id;
	uint8_t buf[4096];
	memset(buf, 0x5a, sizeof(buf));

	CHECK_OK(container_create(&m->io, TEST_OPTS, &c));
	CHECK_OK(object_create(c, "disk.raw", 0600, 0, 0, &id));
	CHECK_OK(object_write(c, id, buf, sizeof(buf), 0));
	CHECK_OK(container_close(c));
	/* second commit so both superblocks are valid */
	c = open_ok(m);
	CHECK_OK(object_write(c, id, buf, sizeof(buf), 1 << 20));
	CHECK_OK(container_close(c));
	check_clean(m);

	/* one broken superblock: the other (older) one is used... only if
	 * it is the newest valid; breaking the newest falls back */
	struct memio *m2 = memio_clone(m);
	m2->data[FORMAT_SUPERBLOCK_A_OFFSET + 100] ^= 1;
	m2->data[FORMAT_SUPERBLOCK_B_OFFSET + 100] ^= 1;
	struct container *c2 = NULL;
	int r = container_open(&m2->io, TEST_OPTS, &c2);
	CHECK(r == -EBADMSG || r == -EUCLEAN);
	struct check_report rep;
	CHECK_OK(check_container(&m2->io, &rep));
	CHECK(rep.errors > 0);
	memio_free(m2);

	/* flip a byte in every metadata block in turn: open fails cleanly
	 * or data is intact */
	uint64_t cs = 65536;
	for (uint64_t off = cs; off < m->size; off += cs) {
		struct memio *m3 = memio_clone(m);
		if (le32_get(m3->data + off) != BLOCK_MAGIC_MAP_NODE &&
		    le32_get(m3->data + off) != BLOCK_MAGIC_TABLE) {
			memio_free(m3);
			continue;
		}
		m3->data[off + 200] ^= 0x40;
		struct container *c3 = NULL;
		r = container_open(&m3->io, TEST_OPTS, &c3);
		if (r == 0) {
			/* the flipped block was not part of the live tree */
			uint8_t got[4096];
			read_exact(c3, id, got, sizeof(got), 0);
			CHECK_MEM_EQ(got, buf, sizeof(got));
			container_close(c3);
		} else {
			CHECK(r == -EBADMSG || r == -EUCLEAN);
		}
		memio_free(m3);
	}

	/* unknown incompatible feature: refused with a clear error */
	struct memio *m4 = memio_clone(m);
	for (int slot = 0; slot < 2; slot++) {
		uint8_t *sb =
			m4->data + (slot ? FORMAT_SUPERBLOCK_B_OFFSET : 0);
		le64_put(sb + SB_OFF_INCOMPAT, 1ull << 40);
		le32_put(sb + SB_OFF_CRC, crc32c(0, sb, SB_OFF_CRC));
	}
	struct refusal why = {0};
	struct container_options tell = {TEST_MAP_CACHE, .event = note_refusal,
					 .event_arg = &why};
	CHECK_ERR(container_open(&m4->io, &tell, &c2), -EPROTONOSUPPORT);
	/* ...and the reason in words, whole, for the log */
	CHECK_EQ(why.count, 1);
	CHECK_EQ(why.error, -EPROTONOSUPPORT);
	CHECK(strcmp(why.detail,
		     "unknown incompatible features "
		     "0x10000000000 (written by a newer hangar)") == 0);
	memio_free(m4);

	/* empty and truncated files */
	struct memio *m5 = memio_new();
	CHECK_ERR(container_open(&m5->io, TEST_OPTS, &c2), -EUCLEAN);
	memio_free(m5);
	struct memio *m6 = memio_clone(m);
	m6->size = m6->size / 2;
	r = container_open(&m6->io, TEST_OPTS, &c2);
	if (r == 0)
		container_close(c2);
	else
		CHECK(r == -EUCLEAN || r == -EBADMSG);
	memio_free(m6);
	memio_free(m);
}

static void test_enospc(void)
{
	struct memio *m = memio_new();
	struct container *c = NULL;
	uint64_t id;
	uint8_t *buf = malloc(1 << 20);
	memset(buf, 0x11, 1 << 20);

	CHECK_OK(container_create(&m->io, TEST_OPTS, &c));
	CHECK_OK(object_create(c, "disk.raw", 0600, 0, 0, &id));
	CHECK_OK(object_write(c, id, buf, 1 << 20, 0));
	CHECK_OK(container_commit(c));
	CHECK_OK(container_close(c));
	c = open_ok(m); /* sets up the metadata reserve */
	/* the disk is now full: every new write fails */
	memio_fail(m, MEMIO_OP_PWRITE, 1, -ENOSPC, true);
	CHECK_ERR(object_write(c, id, buf, 65536, 4 << 20), -ENOSPC);
	memio_fail(m, 0, 0, 0, false);
	/* reads and in-place overwrites still work; the failed write left
	 * no mapping */
	struct object_attr at;
	CHECK_OK(object_getattr(c, id, &at));
	CHECK_EQ(at.stored_bytes, 1 << 20);
	CHECK_OK(container_close(c));
	check_clean(m);
	free(buf);
	memio_free(m);
}

/* Regression: a sparse object larger than its map's reach (size past the
 * capacity of the tree's height) reopens; found by tests/fs. */
static void test_sparse_beyond_map(void)
{
	for (uint64_t clusters = 2045; clusters <= 2048; clusters++) {
		struct memio *m = memio_new();
		struct container *c = NULL;
		uint64_t id;
		char buf[4096];
		memset(buf, 0x5a, sizeof(buf));
		CHECK_OK(container_create(&m->io, TEST_OPTS, &c));
		CHECK_OK(object_create(c, "d.raw", 0644, 0, 0, &id));
		CHECK_OK(object_truncate(c, id, clusters << 16));
		CHECK_OK(object_write(c, id, buf, sizeof(buf), 0));
		CHECK_OK(container_close(c));
		check_clean(m);
		c = open_ok(m);
		struct object_attr at;
		CHECK_OK(object_getattr(c, id, &at));
		CHECK_EQ(at.size, clusters << 16);
		char got[4096];
		read_exact(c, id, got, sizeof(got), (clusters << 16) - 4096);
		for (size_t i = 0; i < sizeof(got); i++)
			CHECK_EQ(got[i], 0);
		CHECK_OK(object_write(c, id, buf, sizeof(buf),
				      (clusters << 16) - 4096));
		CHECK_OK(container_close(c));
		check_clean(m);
		memio_free(m);
	}
}

/*
 * Punching or zeroing a huge range of a sparse object costs what it maps,
 * not its length (4 KiB clusters: the punch below spans 2^36 clusters and
 * would not finish cluster by cluster), and keeps the bytes around it.
 */
static void test_huge_sparse_ranges(void)
{
	struct memio *m = memio_new();
	struct container_options opts = {TEST_MAP_CACHE, .cluster_shift = 12};
	struct container *c = NULL;
	uint64_t id;
	const uint64_t far = 1ull << 44, huge = 1ull << 48;
	uint8_t a[8192], b[8192];

	fill(a, sizeof(a), 44);
	CHECK_OK(container_create(&m->io, &opts, &c));
	CHECK_OK(object_create(c, "d.raw", 0644, 0, 0, &id));
	CHECK_OK(object_truncate(c, id, huge));
	CHECK_OK(object_write(c, id, a, sizeof(a), 0));
	CHECK_OK(object_write(c, id, a, sizeof(a), far + 1000));
	CHECK_OK(object_write(c, id, a, sizeof(a), huge - sizeof(a)));
	/* from byte 50 to the middle of the data at far */
	CHECK_OK(object_punch(c, id, 50, far + 3000 - 50));
	read_exact(c, id, b, sizeof(b), 0);
	CHECK(!memcmp(b, a, 50));
	for (size_t i = 50; i < sizeof(b); i++)
		CHECK_EQ(b[i], 0);
	read_exact(c, id, b, sizeof(b), far + 1000);
	for (size_t i = 0; i < 2000; i++)
		CHECK_EQ(b[i], 0);
	CHECK(!memcmp(b + 2000, a + 2000, sizeof(b) - 2000));
	/* zeroing past the end extends the object without an entry per
	 * cluster; the data inside the old size becomes zeros */
	CHECK_OK(object_zero(c, id, huge - 4096, huge, false));
	struct object_attr at;
	CHECK_OK(object_getattr(c, id, &at));
	CHECK_EQ(at.size, 2 * huge - 4096);
	read_exact(c, id, b, sizeof(b), huge - sizeof(b));
	CHECK(!memcmp(b, a, 4096));
	for (size_t i = 4096; i < sizeof(b); i++)
		CHECK_EQ(b[i], 0);
	read_exact(c, id, b, sizeof(b), 2 * huge - 4096 - sizeof(b));
	for (size_t i = 0; i < sizeof(b); i++)
		CHECK_EQ(b[i], 0);
	/* and punching everything leaves nothing allocated */
	CHECK_OK(object_punch(c, id, 0, at.size));
	CHECK_OK(object_getattr(c, id, &at));
	CHECK_EQ(at.stored_bytes, 0);
	CHECK_OK(container_close(c));
	check_clean(m);
	memio_free(m);
}

static void half_zero(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i += 4096)
		memset(p + i + 2048, 0, 2048);
}

/* 64 KiB clusters given back to the host (punched) since the log was last
 * cleared; one punch may give back a run of them. */
static size_t punches(struct memio *m)
{
	size_t n = 0;
	for (size_t i = 0; i < m->log_num; i++)
		if (m->log[i].kind == MEMIO_OP_FALLOCATE &&
		    (m->log[i].mode & FALLOC_FL_PUNCH_HOLE))
			n += m->log[i].len >> 16;
	return n;
}

/* Object `id` of open container `c` reads back `want` (len bytes), before
 * and after a close, a check and a reopen; closes the container. */
static void close_and_verify(struct memio *m, struct container *c, uint64_t id,
			     const uint8_t *want, size_t len)
{
	uint8_t *got = malloc(len);
	CHECK(got != NULL);
	read_exact(c, id, got, len, 0);
	CHECK(!memcmp(want, got, len));
	CHECK_OK(container_close(c));
	check_clean(m);
	c = open_ok(m);
	read_exact(c, id, got, len, 0);
	CHECK(!memcmp(want, got, len));
	CHECK_OK(container_close(c));
	free(got);
}

/*
 * Freed data clusters are reused before they are given back to the host
 * (alloc.c invariant 6): a rewrite cycle does not grow the file or punch,
 * and an idle commit (or close) then punches what nobody reused.
 */
static void test_recycle_before_punch(void)
{
	struct memio *m = memio_new();
	struct container_options opts = {TEST_MAP_CACHE,
					 .compress_disks = true};
	struct container *c = NULL;
	uint64_t id, size0, size1;
	enum { N = 32 };
	uint8_t *a = malloc(N << 16);

	CHECK_OK(container_create(&m->io, &opts, &c));
	CHECK_OK(object_create(c, "d.raw", 0644, 0, 0, &id));
	/* half random, half zero: compressed, so every rewrite is
	 * copy-on-write */
	fill(a, N << 16, 7);
	half_zero(a, N << 16);
	CHECK_OK(object_write(c, id, a, N << 16, 0));
	CHECK_OK(container_commit(c));
	fill(a, N << 16, 8);
	half_zero(a, N << 16);
	CHECK_OK(object_write(c, id, a, N << 16, 0));
	CHECK_OK(container_commit(c)); /* frees the first copy (held) */
	CHECK_OK(io_size(&m->io, &size0));
	m->recording = true;
	for (int round = 0; round < 4; round++) {
		fill(a, N << 16, 9 + (uint64_t)round);
		half_zero(a, N << 16);
		CHECK_OK(object_write(c, id, a, N << 16, 0));
		CHECK_OK(container_commit(c));
	}
	CHECK_OK(io_size(&m->io, &size1));
	/* three copies cycle: live, held, recycled */
	size_t busy = punches(m);
	fprintf(stderr,
		"recycle: file %llu -> %llu KiB, %zu clusters punched busy\n",
		(unsigned long long)size0 >> 10,
		(unsigned long long)size1 >> 10, busy);
	CHECK(size1 <= size0 + (N << 16));
	CHECK(busy <= N / 8);
	/* idle: the last rewrite's frees go back to the host */
	CHECK_OK(container_commit(c));
	fprintf(stderr, "recycle: %zu clusters punched idle\n",
		punches(m) - busy);
	CHECK(punches(m) >= busy + N / 4);
	close_and_verify(m, c, id, a, N << 16);
	memio_free(m);
	free(a);
}

/*
 * A commit punches for a limited time, then leaves the rest for the next
 * commit call (container.c punch_apply): on a filesystem mounted with
 * `discard` each punch is a synchronous discard, and a burst of
 * copy-on-write rewrites frees a cluster per write.  With the budget at
 * 1 ns every call punches one run; what it leaves stays reusable (BACKED,
 * in the recycle list) and goes back over the following calls, and close
 * punches the rest at once.
 */
static void test_punch_budget(void)
{
	struct memio *m = memio_new();
	struct container_options opts = {TEST_MAP_CACHE,
					 .compress_disks = true};
	struct container *c = NULL;
	enum { N = 32 };
	uint8_t *a = malloc(N << 16);
	uint64_t id, old_at[N / 2];
	struct map_entry e;

	CHECK_OK(container_create(&m->io, &opts, &c));
	c->punch_budget_ns = 1;
	CHECK_OK(object_create(c, "d.raw", 0644, 0, 0, &id));
	fill(a, N << 16, 3);
	half_zero(a, N << 16); /* compressed: every rewrite moves */
	CHECK_OK(object_write(c, id, a, N << 16, 0));
	CHECK_OK(container_commit(c));
	/* rewrite every other cluster: the freed ones are not adjacent,
	 * so each is a run of its own */
	struct object *ob = object_find(c, id);
	for (unsigned i = 0; i < N / 2; i++) {
		CHECK_OK(map_lookup(c, ob, 2 * i, &e));
		CHECK(e.kind == MAP_KIND_COMPRESSED || e.kind == MAP_KIND_RAW);
		old_at[i] = e.offset & ~(uint64_t)0xffff;
		fill(a + ((size_t)2 * i << 16), 1 << 16, 100 + i);
		half_zero(a + ((size_t)2 * i << 16), 1 << 16);
		CHECK_OK(object_write(c, id, a + ((size_t)2 * i << 16), 1 << 16,
				      (uint64_t)2 * i << 16));
	}
	m->recording = true;
	unsigned calls = 0;
	for (; calls < 4 * N; calls++) {
		const size_t before = punches(m);
		CHECK_OK(container_commit(c));
		/* never more than one run per call */
		CHECK(punches(m) - before <= 1);
		unsigned zero = 0;
		for (unsigned i = 0; i < N / 2; i++) {
			static const uint8_t z[1 << 16];
			zero += memcmp(m->data + old_at[i], z, 1 << 16) == 0;
		}
		if (zero == N / 2)
			break;
		/* what is left waits in the recycle list, reusable */
		CHECK(c->alloc.recycle_num + c->alloc.held_num > 0);
	}
	fprintf(stderr,
		"punch budget: %u freed clusters given back over %u "
		"commit calls\n",
		N / 2, calls + 1);
	CHECK(calls + 1 >= N / 4); /* one run per call, not all at once */
	CHECK(calls < 4 * N);	   /* and all of them, in the end */
	close_and_verify(m, c, id, a, N << 16);
	memio_free(m);
	free(a);
}

/*
 * A flush's syncs do not hold up reads and in-place writes (container.c,
 * commit_relax_begin): while the disk "syncs" (the memio hook blocks), a
 * second thread reads and rewrites a RAW cluster in place.  Before, the
 * whole commit held the write lock and the second thread waited for it.
 */
struct sync_gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int syncs_entered; /* hook calls so far */
	bool other_done;   /* the second thread finished its I/O */
	bool timed_out;
};

static void sync_gate_hook(void *arg)
{
	struct sync_gate *g = arg;
	pthread_mutex_lock(&g->lock);
	g->syncs_entered++;
	pthread_cond_broadcast(&g->cond);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	while (!g->other_done && !g->timed_out)
		if (pthread_cond_timedwait(&g->cond, &g->lock, &until) ==
		    ETIMEDOUT)
			g->timed_out = true;
	pthread_mutex_unlock(&g->lock);
}

struct sync_other {
	struct container *c;
	struct sync_gate *g;
	uint64_t id;
	int read_ret, write_ret;
	uint8_t got[4096];
};

static void *sync_other_main(void *arg)
{
	struct sync_other *o = arg;
	struct sync_gate *g = o->g;
	uint8_t buf[4096];
	size_t got = 0;

	pthread_mutex_lock(&g->lock);
	while (g->syncs_entered == 0)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
	o->read_ret = object_read(o->c, o->id, o->got, sizeof(o->got), 0, &got);
	memset(buf, 0xB2, sizeof(buf));
	o->write_ret = object_write(o->c, o->id, buf, sizeof(buf), 8192);
	pthread_mutex_lock(&g->lock);
	g->other_done = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

static void test_io_during_commit_sync(void)
{
	struct memio *m = memio_new();
	struct container *c = NULL;
	struct sync_gate g = {.lock = PTHREAD_MUTEX_INITIALIZER,
			      .cond = PTHREAD_COND_INITIALIZER};
	struct sync_other o = {.g = &g};
	uint8_t a[65536], b[4096];
	pthread_t th;

	memset(a, 0xA1, sizeof(a));
	CHECK_OK(container_create(&m->io, TEST_OPTS, &c));
	CHECK_OK(object_create(c, "disk.raw", 0644, 0, 0, &o.id));
	CHECK_OK(object_write(c, o.id, a, sizeof(a), 0));
	CHECK_OK(container_commit(c));
	/* an in-place rewrite makes the next flush a real commit */
	CHECK_OK(object_write(c, o.id, a, 4096, 0));
	o.c = c;
	m->sync_arg = &g;
	m->sync_hook = sync_gate_hook;
	CHECK_EQ(pthread_create(&th, NULL, sync_other_main, &o), 0);
	CHECK_OK(container_commit(c));
	pthread_join(th, NULL);
	m->sync_hook = NULL;
	CHECK(!g.timed_out);
	CHECK_OK(o.read_ret);
	CHECK_OK(o.write_ret);
	CHECK(!memcmp(o.got, a, sizeof(o.got)));
	/* the write made during the sync is durable at the next flush */
	CHECK_OK(container_commit(c));
	CHECK_OK(container_close(c));
	check_clean(m);
	c = open_ok(m);
	read_exact(c, o.id, b, sizeof(b), 8192);
	for (size_t i = 0; i < sizeof(b); i++)
		CHECK_EQ(b[i], 0xB2);
	CHECK_OK(container_close(c));
	memio_free(m);
}

static void test_dir_attrs(void)
{
	struct memio *m = memio_new();
	struct container *c = NULL;
	struct object_attr a, def = {.mode = 0750, .uid = 5, .gid = 6};
	uint64_t id;

	CHECK_OK(container_create(&m->io, TEST_OPTS, &c));
	CHECK_ERR(container_dir_getattr(c, &a), -ENODATA);
	a.mode = 0711;
	a.mtime = (struct timespec){.tv_sec = 1234567890, .tv_nsec = 987654321};
	CHECK_OK(container_dir_setattr(
		c, &a, OBJECT_SET_MODE | OBJECT_SET_MTIME, &def));
	CHECK_OK(container_close(c));
	c = open_ok(m);
	CHECK_OK(container_dir_getattr(c, &a));
	CHECK_EQ(a.mode, S_IFDIR | 0711);
	CHECK_EQ(a.uid, 5);
	CHECK_EQ(a.gid, 6);
	CHECK_EQ(a.mtime.tv_sec, 1234567890);
	CHECK_EQ(a.mtime.tv_nsec, 987654321);
	/* a file created inside moves the directory's mtime */
	CHECK_OK(object_create(c, "config", 0600, 0, 0, &id));
	CHECK_OK(container_dir_getattr(c, &a));
	CHECK(a.mtime.tv_sec > 1234567890);
	CHECK_OK(container_close(c));
	check_clean(m);
	memio_free(m);
}

int main(void)
{
	test_dir_attrs();
	test_sparse_beyond_map();
	test_huge_sparse_ranges();
	test_recycle_before_punch();
	test_punch_budget();
	test_io_during_commit_sync();
	test_basic_roundtrip(12);
	test_basic_roundtrip(16);
	test_basic_roundtrip(21);
	test_punch_truncate_seek();
	test_compressed_image();
	test_corruption_detected();
	test_enospc();
	printf("test_container: ok\n");
	return 0;
}
