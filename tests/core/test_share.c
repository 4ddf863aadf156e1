/*
 * test_share.c -- object_copy_range (copy_file_range inside a guest) on
 * in-memory containers, against a model.
 *
 *   1. space and copy-on-write: an aligned copy of a whole disk shares every
 *      cluster (used clusters grow by metadata only), the first write to
 *      either copy copies one cluster and leaves the other copy alone, and
 *      FEATURE_INCOMPAT_SHARED_EXTENTS is on disk after the commit; deleting
 *      one copy frees nothing the other still maps, deleting both frees
 *      everything.
 *   2. a random model run: writes, copies (aligned and not, across files
 *      and within one, short and long, past the end of the source),
 *      punches, truncates, unlinks, snapshots, with the contents checked
 *      after every step and a close, full check and reopen (which recounts
 *      every reference from disk and refuses a superblock that disagrees)
 *      every few steps.
 *   3. faults: every write and sync of the commit after a copy fails in
 *      turn; the container then reopens as the state before or after the
 *      copy, checks clean, and a commit that returned 0 is durable.
 * 2 and 3 run on plain 4 KiB clusters, compressed disks and an encrypted
 * container (which copies instead of sharing).
 */
#include "hangar/check.h"
#include "container_open.h"
#include "crypto.h"
#include "harness.h"
#include "internal.h"
#include "memio.h"

#define CS     4096u
#define NCL    16u
#define DSIZE  ((uint64_t)NCL * CS)
#define OBJ    0100600u
#define NFILES 3

static const char *const file_names[NFILES] = {"disk.raw", "base.raw",
					       "other.raw"};

struct model {
	bool present[NFILES];
	uint64_t size[NFILES];
	uint8_t bytes[NFILES][DSIZE];
};

static struct crypto_key *master;
static uint64_t rng_state = 88172645463325252ull;

static uint64_t rnd(uint64_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return n ? rng_state % n : 0;
}

static struct container_options opts_of(int variant)
{
	struct container_options o = {TEST_MAP_CACHE, .cluster_shift = 12};
	if (variant == 1)
		o.compress_disks = true;
	if (variant == 2)
		o.master = master;
	return o;
}

static uint64_t id_of(struct container *c, struct model *m, int f)
{
	uint64_t id;
	if (!m->present[f]) {
		CHECK_OK(object_create(c, file_names[f], OBJ, 0, 0, &id));
		m->present[f] = true;
		m->size[f] = 0;
		memset(m->bytes[f], 0, DSIZE);
	} else {
		CHECK_OK(object_lookup(c, file_names[f], &id));
	}
	return id;
}

static void write_both(struct container *c, struct model *m, int f,
		       uint64_t off, size_t len, unsigned seed)
{
	uint8_t *buf = malloc(len);
	CHECK(buf);
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 31u + i * 7u + (i >> 9) + 1);
	uint64_t id = id_of(c, m, f);
	CHECK_OK(object_write(c, id, buf, len, off));
	memcpy(m->bytes[f] + off, buf, len);
	if (off + len > m->size[f])
		m->size[f] = off + len;
	free(buf);
}

/* Copy through object_copy_range, looping on short counts as callers of
 * copy_file_range do, and apply the same to the model. */
static void copy_both(struct container *c, struct model *m, int fs,
		      uint64_t soff, int fd, uint64_t doff, uint64_t len)
{
	uint64_t sid = id_of(c, m, fs), did = id_of(c, m, fd);
	uint64_t want = len;
	if (soff >= m->size[fs])
		want = 0;
	else if (want > m->size[fs] - soff)
		want = m->size[fs] - soff;
	uint64_t done = 0;
	while (done < want) {
		uint64_t got = 0;
		CHECK_OK(object_copy_range(c, NULL, sid, soff + done, did,
					   doff + done, len - done, &got));
		CHECK(got > 0);
		done += got;
	}
	CHECK_EQ(done, want);
	memmove(m->bytes[fd] + doff, m->bytes[fs] + soff, want);
	if (want && doff + want > m->size[fd])
		m->size[fd] = doff + want;
	uint64_t got = 1;
	/* at or past the end of the source: nothing, and no error */
	CHECK_OK(object_copy_range(c, NULL, sid, m->size[fs], did, doff, len,
				   &got));
	CHECK_EQ(got, 0);
}

static void expect_model(struct container *c, const struct model *m)
{
	static uint8_t got[DSIZE];
	for (int f = 0; f < NFILES; f++) {
		uint64_t id;
		int ret = object_lookup(c, file_names[f], &id);
		if (!m->present[f]) {
			CHECK_ERR(ret, -ENOENT);
			continue;
		}
		CHECK_OK(ret);
		struct object_attr a;
		CHECK_OK(object_getattr(c, id, &a));
		CHECK_EQ(a.size, m->size[f]);
		size_t n = 0;
		memset(got, 0xee, sizeof(got));
		CHECK_OK(object_read(c, id, got, (size_t)a.size, 0, &n));
		CHECK_EQ(n, a.size);
		CHECK_MEM_EQ(got, m->bytes[f], (size_t)a.size);
	}
}

/* Does `c` hold exactly `m`? */
static bool model_is(struct container *c, const struct model *m)
{
	static uint8_t got[DSIZE];
	for (int f = 0; f < NFILES; f++) {
		uint64_t id;
		int ret = object_lookup(c, file_names[f], &id);
		if (!m->present[f]) {
			if (ret != -ENOENT)
				return false;
			continue;
		}
		struct object_attr a;
		size_t n = 0;
		if (ret || object_getattr(c, id, &a) || a.size != m->size[f] ||
		    object_read(c, id, got, (size_t)a.size, 0, &n) ||
		    n != a.size || memcmp(got, m->bytes[f], n))
			return false;
	}
	return true;
}

static uint64_t used_of(struct container *c)
{
	struct container_info i;
	container_info(c, &i);
	return i.used_clusters;
}

static struct container *open_checked(struct memio *io, int variant)
{
	struct container *c;
	struct check_report r;
	CHECK_OK(
		check_container_key(&io->io, variant == 2 ? master : NULL, &r));
	if (r.errors) {
		for (size_t i = 0; i < r.message_count; i++)
			fprintf(stderr, "check: %s\n", r.messages[i]);
		CHECK_EQ(r.errors, 0);
	}
	CHECK_EQ(r.leaked_clusters, 0);
	struct container_options o = opts_of(variant);
	CHECK_OK(container_open(&io->io, &o, &c));
	return c;
}

static struct container *cycle(struct container *c, struct memio *io,
			       int variant)
{
	CHECK_OK(container_close(c));
	return open_checked(io, variant);
}

static uint64_t incompat_on_disk(struct memio *io, struct container *c)
{
	return le64_get(io->data + (c->active_slot ? 4096 : 0) +
			SB_OFF_INCOMPAT);
}

/* ---- 1: space and copy-on-write ----------------------------------------- */

static void test_space(void)
{
	struct memio *io = memio_new();
	struct container_options o = opts_of(0);
	struct container *c;
	static struct model m;
	memset(&m, 0, sizeof(m));
	CHECK_OK(container_create(&io->io, &o, &c));
	write_both(c, &m, 0, 0, DSIZE, 1);
	CHECK_OK(container_commit(c));
	CHECK_EQ(incompat_on_disk(io, c) & FEATURE_INCOMPAT_SHARED_EXTENTS, 0);
	const uint64_t used0 = used_of(c);

	copy_both(c, &m, 0, 0, 1, 0, DSIZE);
	CHECK_OK(container_commit(c));
	const uint64_t used1 = used_of(c);
	/* the copy's tree (a leaf) and the table, not its data */
	CHECK(used1 <= used0 + 2);
	CHECK(incompat_on_disk(io, c) & FEATURE_INCOMPAT_SHARED_EXTENTS);
	c = cycle(c, io, 0);
	expect_model(c, &m);

	/* a write to either copy copies that cluster alone */
	write_both(c, &m, 1, 3 * CS + 10, 100, 2);
	write_both(c, &m, 0, 7 * CS, CS, 3);
	expect_model(c, &m);
	CHECK_OK(container_commit(c));
	CHECK(used_of(c) <= used1 + 2 + 1);
	CHECK(used_of(c) >= used1 + 2 - 1);
	c = cycle(c, io, 0);
	expect_model(c, &m);

	/* a crash after one copy lost its reference, before that was
	 * committed: the committed state still has both copies mapping the
	 * cluster, so the other copy's write must not go in place (it would
	 * change the first copy as the disk holds it) */
	{
		static struct model crashed;
		crashed = m;
		uint64_t did;
		CHECK_OK(object_lookup(c, file_names[1], &did));
		CHECK_OK(container_commit(c));
		copy_both(c, &m, 0, 9 * CS, 1, 9 * CS, CS); /* share again */
		CHECK_OK(container_commit(c));
		crashed = m;
		CHECK_OK(object_punch(c, did, 9 * CS, CS)); /* base lets go */
		write_both(c, &m, 0, 9 * CS + 1, 10, 9); /* disk.raw writes */
		memset(m.bytes[1] + 9 * CS, 0, CS);
		struct memio *lost = memio_clone(io); /* crash: no commit */
		struct container *d = open_checked(lost, 0);
		expect_model(d, &crashed);
		CHECK_OK(container_close(d));
		memio_free(lost);
		expect_model(c, &m);
		CHECK_OK(container_commit(c));
	}

	/* owned again: the next write is in place */
	uint64_t used2 = used_of(c);
	write_both(c, &m, 1, 3 * CS, 50, 4);
	CHECK_OK(container_commit(c));
	CHECK_EQ(used_of(c), used2);

	/* unlink the original: the copy keeps every cluster it maps */
	CHECK_OK(object_unlink(c, file_names[0]));
	m.present[0] = false;
	CHECK_OK(container_commit(c));
	c = cycle(c, io, 0);
	expect_model(c, &m);
	CHECK(used_of(c) >= NCL);
	CHECK_OK(object_unlink(c, file_names[1]));
	m.present[1] = false;
	CHECK_OK(container_commit(c));
	CHECK(used_of(c) < used0 - NCL + 2);
	c = cycle(c, io, 0);
	expect_model(c, &m);

	/* from a snapshot's view: restore a file by sharing the snapshot's
	 * clusters, which stay after the snapshot is deleted */
	static struct model snap;
	write_both(c, &m, 2, 0, DSIZE, 7);
	CHECK_OK(container_commit(c));
	snap = m;
	CHECK_OK(container_snapshot_create(c, "s"));
	write_both(c, &m, 2, 0, DSIZE, 8);
	CHECK_OK(container_commit(c));
	const uint64_t used_v = used_of(c);
	struct container *v;
	uint64_t vid, lid, n = 0, got = 0;
	CHECK_OK(container_snapshot_open(c, "s", &v));
	CHECK_OK(object_lookup(v, file_names[2], &vid));
	CHECK_OK(object_lookup(c, file_names[2], &lid));
	while (n < DSIZE) {
		CHECK_OK(object_copy_range(c, v, vid, n, lid, n, DSIZE - n,
					   &got));
		CHECK(got > 0);
		n += got;
	}
	CHECK_ERR(object_copy_range(v, NULL, vid, 0, vid, 0, CS, &got), -EROFS);
	container_snapshot_close(c, v);
	memcpy(m.bytes[2], snap.bytes[2], DSIZE);
	expect_model(c, &m);
	CHECK_OK(container_commit(c));
	/* the live copy's clusters were freed, nothing was added */
	CHECK(used_of(c) <= used_v - NCL + 1);
	CHECK_OK(container_snapshot_delete(c, "s"));
	c = cycle(c, io, 0);
	expect_model(c, &m);
	CHECK_OK(object_unlink(c, file_names[2]));
	m.present[2] = false;
	CHECK_OK(container_commit(c));
	c = cycle(c, io, 0);

	/* one object's ranges may not overlap; disjoint ones may */
	write_both(c, &m, 2, 0, 4 * CS, 5);
	uint64_t id;
	CHECK_OK(object_lookup(c, file_names[2], &id));
	CHECK_ERR(object_copy_range(c, NULL, id, 0, id, CS, 2 * CS, &got),
		  -EINVAL);
	copy_both(c, &m, 2, 0, 2, 4 * CS, 4 * CS);
	expect_model(c, &m);
	CHECK_OK(container_close(c));
	memio_free(io);
}

/* ---- 2: random model run ------------------------------------------------- */

static void test_random(int variant, int steps)
{
	struct memio *io = memio_new();
	struct container_options o = opts_of(variant);
	struct container *c;
	static struct model m;
	int snaps = 0;
	memset(&m, 0, sizeof(m));
	CHECK_OK(container_create(&io->io, &o, &c));
	write_both(c, &m, 0, 0, DSIZE, 1);
	for (int step = 0; step < steps; step++) {
		int f = (int)rnd(NFILES), g = (int)rnd(NFILES);
		uint64_t off = rnd(4) ? rnd(NCL) * CS : rnd(DSIZE);
		uint64_t len =
			rnd(3) ? (1 + rnd(NCL / 2)) * CS : 1 + rnd(DSIZE);
		if (off + len > DSIZE)
			len = DSIZE - off;
		switch (rnd(10)) {
		case 0:
		case 1:
		case 2:
			if (len)
				write_both(c, &m, f, off, (size_t)len,
					   (unsigned)step);
			break;
		case 3:
		case 4:
		case 5:
		case 6: {
			if (!m.present[f])
				break;
			uint64_t soff = rnd(2) ? off : rnd(NCL) * CS;
			if (soff + len > DSIZE)
				len = DSIZE - soff;
			uint64_t doff = rnd(3) ? soff : rnd(DSIZE - len + 1);
			if (f == g && soff < doff + len && doff < soff + len)
				break; /* the kernel refuses those */
			copy_both(c, &m, f, soff, g, doff, len);
			break;
		}
		case 7:
			if (m.present[f] && off < m.size[f]) {
				uint64_t id;
				CHECK_OK(object_lookup(c, file_names[f], &id));
				uint64_t n = len;
				if (n > m.size[f] - off)
					n = m.size[f] - off;
				CHECK_OK(object_punch(c, id, off, n));
				memset(m.bytes[f] + off, 0, n);
			}
			break;
		case 8:
			if (m.present[f] && rnd(2)) {
				uint64_t id;
				CHECK_OK(object_lookup(c, file_names[f], &id));
				CHECK_OK(object_truncate(c, id, off));
				if (off < m.size[f])
					memset(m.bytes[f] + off, 0,
					       DSIZE - off);
				m.size[f] = off;
			} else if (m.present[f] && step % 3) {
				CHECK_OK(object_unlink(c, file_names[f]));
				m.present[f] = false;
			}
			break;
		default:
			if (snaps < 3 && rnd(2)) {
				char name[16];
				snprintf(name, sizeof(name), "s%d", step);
				CHECK_OK(container_snapshot_create(c, name));
				snaps++;
			} else {
				struct snapshot_info *list;
				size_t num;
				CHECK_OK(container_snapshot_list(c, &list,
								 &num));
				if (num)
					CHECK_OK(container_snapshot_delete(
						c, list[rnd(num)].name));
				snaps = (int)num - (num ? 1 : 0);
				free(list);
			}
			break;
		}
		expect_model(c, &m);
		if (step % 7 == 6) {
			CHECK_OK(container_commit(c));
			c = cycle(c, io, variant);
			expect_model(c, &m);
		}
	}
	c = cycle(c, io, variant);
	expect_model(c, &m);
	CHECK_OK(container_close(c));
	memio_free(io);
}

/* ---- 3: faults ----------------------------------------------------------- */

static void test_faults(int variant)
{
	static struct model before, after;
	struct memio *base = memio_new();
	struct container_options o = opts_of(variant);
	struct container *c;
	memset(&before, 0, sizeof(before));
	CHECK_OK(container_create(&base->io, &o, &c));
	write_both(c, &before, 0, 0, DSIZE, 1);
	write_both(c, &before, 1, 0, DSIZE / 2, 2);
	CHECK_OK(container_close(c));
	unsigned n_before = 0, n_after = 0;
	for (long at = 1;; at++) {
		struct memio *io = memio_clone(base);
		CHECK_OK(container_open(&io->io, &o, &c));
		uint64_t sid, did, got = 0;
		CHECK_OK(object_lookup(c, file_names[0], &sid));
		CHECK_OK(object_lookup(c, file_names[1], &did));
		memio_fail(io, MEMIO_OP_PWRITE | MEMIO_OP_SYNC, at, -EIO,
			   false);
		int ret = object_copy_range(c, NULL, sid, 2 * CS, did, 2 * CS,
					    10 * CS + 7, &got);
		/* a fault in the copied tail may make the count short, as a
		 * write's can be: what was done is what must be there */
		after = before;
		memcpy(after.bytes[1] + 2 * CS, before.bytes[0] + 2 * CS, got);
		if (2 * CS + got > after.size[1])
			after.size[1] = 2 * CS + got;
		bool changed = got > 0;
		if (!ret)
			ret = container_commit(c);
		bool failed = io->failed;
		(void)container_close(c);
		memio_fail(io, 0, 0, 0, false);
		c = open_checked(io, variant);
		bool is_after = changed && model_is(c, &after);
		CHECK(is_after || model_is(c, &before));
		if (!ret)
			CHECK(is_after); /* success means durable */
		is_after ? n_after++ : n_before++;
		CHECK_OK(container_close(c));
		memio_free(io);
		if (!failed)
			break;
	}
	CHECK(n_before > 0 && n_after > 0);
	memio_free(base);
}

int main(void)
{
	CHECK_OK(crypto_key_generate(&master));
	test_space();
	for (int variant = 0; variant < 3; variant++) {
		test_random(variant, 400);
		test_faults(variant);
	}
	crypto_key_free(master);
	printf("test_share: ok\n");
	return 0;
}
