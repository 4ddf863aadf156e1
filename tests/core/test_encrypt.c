/*
 * test_encrypt.c -- encryption at rest (FORMAT.md section 9).
 *
 *   - round trips on an encrypted container: disk writes (partial, whole,
 *     overwrite), compressed memory.save, punch, truncate, zero, reopen,
 *     seal and resume;
 *   - known-plaintext scan: patterns, a config string and every object
 *     name are absent from the container file;
 *   - keys: no key -> -ENOKEY (and check says so), another key ->
 *     -EKEYREJECTED, a plain container refused under a key;
 *   - tamper: every single-bit flip of the superblock, of every referenced
 *     cluster (sampled bits) and whole-file sweeps never yield wrong data
 *     (open refuses, or the read fails -EBADMSG, or the bytes are right);
 *     swapping two ciphertext clusters and restoring an older copy of a
 *     metadata block are detected;
 *   - nonces: never two tags under one nonce over many sessions;
 *   - reduced crash replay (every prefix of the recorded I/O, with unsynced
 *     writes dropped) and fault injection (EIO / ENOSPC / sync failure at
 *     every I/O call of a write+commit): the container opens, check with
 *     the key is clean, and the data is the state before or after;
 *   - a partial write that meets a full filesystem once still lands;
 *   - the store: init with a passphrase, open without / with a wrong /
 *     with the right secret, key add / list / remove (last one refused).
 */
#include <sys/stat.h>
#include <unistd.h>

#include "hangar/check.h"
#include "crc32c.h"
#include "container_open.h"
#include "crypto.h"
#include "harness.h"
#include "internal.h"
#include "memio.h"
#include "hangar/savelock.h"
#include "hangar/store.h"

#define CS	 4096u
#define NCLUST	 24u
#define DISK_LEN (NCLUST * CS)
#define IMG_LEN	 (16u * CS)

static const char PATTERN[] = "HANGAR-KNOWN-PLAINTEXT-PATTERN-0123456789";
static const char CONFIG[] = "name = 'web01-very-secret-config-string'\n";

static struct crypto_key *master, *other;

struct oracle {
	uint8_t disk[DISK_LEN];
	uint64_t disk_size;
	uint8_t img[IMG_LEN];
	uint64_t img_size;
	uint8_t config[sizeof(CONFIG)];
};

static struct container_options opts_key(const struct crypto_key *k)
{
	struct container_options o = {TEST_MAP_CACHE, .cluster_shift = 12,
				      .master = k};
	return o;
}

static uint64_t id_of(struct container *c, const char *name)
{
	uint64_t id;
	CHECK_OK(object_lookup(c, name, &id));
	return id;
}

static void fill_pattern(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)PATTERN[(i + seed) % (sizeof(PATTERN) - 1)];
}

/* Build a guest: disk.raw with patterns, config, memory.save. */
static void build(struct memio *m, struct oracle * or)
{
	struct container_options o = opts_key(master);
	struct container *c;
	uint64_t id;

	memset(or, 0, sizeof(* or));
	CHECK_OK(container_create(&m->io, &o, &c));
	CHECK_OK(object_create(c, "disk.raw", 0600, 0, 0, &id));
	fill_pattern(or->disk, DISK_LEN, 0);
	or->disk_size = DISK_LEN;
	CHECK_OK(object_write(c, id, or->disk, DISK_LEN, 0));
	CHECK_OK(container_commit(c));
	/* partial overwrites: every one is copy-on-write */
	for (unsigned i = 0; i < 10; i++) {
		uint64_t off = (uint64_t)i * 9001 % (DISK_LEN - 700);
		memset(or->disk + off, 'a' + i, 700);
		CHECK_OK(object_write(c, id, or->disk + off, 700, off));
	}
	CHECK_OK(object_create(c, "config", 0644, 0, 0, &id));
	memcpy(or->config, CONFIG, sizeof(CONFIG));
	CHECK_OK(object_write(c, id, CONFIG, sizeof(CONFIG), 0));
	CHECK_OK(object_create(c, SAVE_IMAGE_NAME, 0600, 0, 0, &id));
	fill_pattern(or->img, IMG_LEN, 7);
	memset(or->img + 3 * CS, 0, CS);  /* a zero cluster: a hole */
	for (unsigned i = 0; i < CS; i++) /* an incompressible cluster */
		or->img[5 * CS + i] = (uint8_t)((i * 2654435761u) >> 13);
	or->img_size = IMG_LEN;
	CHECK_OK(object_write(c, id, or->img, IMG_LEN, 0));
	CHECK_OK(save_lock_seal(c));
	CHECK_OK(container_close(c));
}

/* Read everything; 0 and matching, or the first error. Never wrong data:
 * a successful read that differs is a test failure right here. */
static int verify(struct memio *m, const struct oracle * or, bool read_only,
		  const struct crypto_key *k)
{
	struct container_options o = opts_key(k);
	struct container *c;
	static uint8_t buf[DISK_LEN];
	size_t got;
	uint64_t id;
	int ret;

	o.read_only = read_only;
	ret = container_open(&m->io, &o, &c);
	if (ret)
		return ret;
	struct {
		const char *name;
		const uint8_t *want;
		uint64_t size;
	} objs[] = {{"disk.raw", or->disk, or->disk_size},
		    {"config", or->config, sizeof(CONFIG)},
		    {SAVE_IMAGE_NAME, or->img, or->img_size}};
	for (unsigned i = 0; i < 3 && !ret; i++) {
		if (objs[i].size == 0)
			continue; /* no image */
		ret = object_lookup(c, objs[i].name, &id);
		if (ret)
			break;
		ret = object_read(c, id, buf, sizeof(buf), 0, &got);
		if (ret)
			break;
		if (got != objs[i].size ||
		    memcmp(buf, objs[i].want, objs[i].size) != 0) {
			fprintf(stderr, "WRONG DATA in %s\n", objs[i].name);
			exit(1);
		}
	}
	container_close_detached(c);
	return ret;
}

static bool contains(const struct memio *m, const void *needle, size_t len)
{
	return memmem(m->data, m->size, needle, len) != NULL;
}

static void test_roundtrip_and_scan(void)
{
	struct memio *m = memio_new();
	struct oracle * or = malloc(sizeof(* or));
	struct check_report r;

	build(m, or);
	CHECK_OK(verify(m, or, false, master));
	CHECK_OK(verify(m, or, true, master));
	/* known plaintext: nothing in clear, not even the names */
	CHECK(!contains(m, PATTERN, 16));
	CHECK(!contains(m, PATTERN + 10, 16));
	CHECK(!contains(m, "very-secret", 11));
	CHECK(!contains(m, "disk.raw", 8));
	CHECK(!contains(m, "memory.save", 11));
	CHECK(!contains(m, "config", 6));
	CHECK(!contains(m, "HGMN", 4)); /* no block header in clear */
	CHECK(!contains(m, "HGOT", 4));
	CHECK(contains(m, "HANGARC1", 8)); /* the superblock is clear */

	/* check: with the key clean, without it says so */
	CHECK_OK(check_container_key(&m->io, master, &r));
	CHECK_EQ(r.errors, 0);
	CHECK(r.encrypted);
	CHECK(r.data_clusters > 0 && r.compressed_extents > 0);
	CHECK_OK(check_container(&m->io, &r));
	CHECK_EQ(r.errors, 1);
	CHECK(r.key_missing);
	CHECK(strstr(r.messages[0], "encrypted") != NULL);
	CHECK_OK(check_container_key(&m->io, other, &r));
	CHECK(r.key_rejected && r.errors == 1);

	/* keys at open */
	struct container *c;
	CHECK_ERR(container_open(&m->io, TEST_OPTS, &c), -ENOKEY);
	struct container_options o = opts_key(other);
	CHECK_ERR(container_open(&m->io, &o, &c), -EKEYREJECTED);
	struct memio *p = memio_new();
	struct container_options plain = {TEST_MAP_CACHE, .cluster_shift = 12};
	CHECK_OK(container_create(&p->io, &plain, &c));
	CHECK_OK(container_close(c));
	o = opts_key(master);
	CHECK_ERR(container_open(&p->io, &o, &c), -EUCLEAN);
	memio_free(p);

	/* punch, truncate, zero, overwrite, reopen */
	o = opts_key(master);
	CHECK_OK(container_open(&m->io, &o, &c));
	CHECK_OK(save_lock_discard(c));
	or->img_size = 0;
	uint64_t id = id_of(c, "disk.raw");
	CHECK_OK(object_punch(c, id, 3 * CS + 100, 2 * CS));
	memset(or->disk + 3 * CS + 100, 0, 2 * CS);
	CHECK_OK(object_zero(c, id, 10 * CS, CS, true));
	memset(or->disk + 10 * CS, 0, CS);
	CHECK_OK(object_truncate(c, id, 20 * CS + 5));
	memset(or->disk + 20 * CS + 5, 0, DISK_LEN - 20 * CS - 5);
	or->disk_size = 20 * CS + 5;
	CHECK_OK(object_write(c, id, "xyz", 3, 7));
	memcpy(or->disk + 7, "xyz", 3);
	CHECK_OK(container_close(c));
	CHECK_OK(verify(m, or, false, master));
	CHECK_OK(check_container_key(&m->io, master, &r));
	CHECK_EQ(r.errors, 0);
	CHECK_EQ(r.leaked_clusters, 0);

	/* a new image: seal, resume across reopen */
	CHECK_OK(container_open(&m->io, &o, &c));
	CHECK_OK(object_create(c, SAVE_IMAGE_NAME, 0600, 0, 0, &id));
	/* new bytes: the first image's were spent when it retired, and a
	 * copy of a spent image is never resumable (savelock.h) */
	or->img[0] ^= 0x5a;
	CHECK_OK(object_write(c, id, or->img, IMG_LEN, 0));
	or->img_size = IMG_LEN;
	CHECK_OK(save_lock_seal(c));
	CHECK_OK(container_close(c));
	CHECK_OK(container_open(&m->io, &o, &c));
	struct save_status st;
	CHECK_OK(save_lock_status(c, &st));
	CHECK_EQ(st.state, SAVE_STATE_SAVED);
	CHECK_OK(save_lock_resume(c, NULL, 0));
	CHECK_OK(container_close(c));
	CHECK_OK(verify(m, or, true, master));
	CHECK_OK(check_container_key(&m->io, master, &r));
	CHECK_EQ(r.errors, 0);
	free(or);
	memio_free(m);
	printf("roundtrip, scan, keys: ok\n");
}

/* Offsets of the disk's data clusters and of its root node, from the
 * in-memory tree of an open container. */
static void layout(struct memio *m, uint64_t *data0, uint64_t *data1,
		   uint64_t *root)
{
	struct container_options o = opts_key(master);
	struct container *c;
	struct map_entry e;

	o.read_only = true;
	CHECK_OK(container_open(&m->io, &o, &c));
	struct object *ob = object_find_name(c, "disk.raw");
	CHECK(ob && ob->root);
	map_lookup(c, ob, 0, &e);
	CHECK_EQ(e.kind, MAP_KIND_RAW);
	*data0 = e.offset;
	map_lookup(c, ob, 1, &e);
	CHECK_EQ(e.kind, MAP_KIND_RAW);
	*data1 = e.offset;
	*root = ob->root->phys;
	container_close_detached(c);
}

/* The outcome of a damaged file: refused or an error, never wrong data
 * (verify exits on wrong data).  Returns whether it was detected. */
static bool detected(struct memio *m, const struct oracle * or)
{
	int ret = verify(m, or, true, master);
	/* any refusal is fine (-EBADMSG, -EUCLEAN, -EPROTONOSUPPORT for a
	 * flipped version or feature, ...), an allocation failure is not */
	CHECK(ret != -ENOMEM);
	return ret != 0;
}

static void test_tamper(void)
{
	struct memio *base = memio_new();
	struct oracle * or = malloc(sizeof(* or));
	uint64_t d0, d1, root;
	unsigned flips = 0, caught = 0;

	build(base, or);
	layout(base, &d0, &d1, &root);
	const uint64_t sb_off =
		le64_get(base->data + SB_OFF_GENERATION) >
				le64_get(base->data + 4096 + SB_OFF_GENERATION)
			? 0
			: 4096;

	/* every bit of the newest superblock slot: refused, or (the crc
	 * catches it and the older slot -- same key, an older but complete
	 * tree -- is used) right data of that older tree is impossible to
	 * tell from ours, so only "never wrong data" is required there */
	for (unsigned bit = 0; bit < 512 * 8; bit++) {
		struct memio *m = memio_clone(base);
		m->data[sb_off + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		(void)detected(m, or);
		flips++;
		memio_free(m);
	}
	/* the MAC: recompute the crc after a flip, so only the MAC (or a
	 * field check) can catch it */
	for (unsigned byte = 0; byte < 508; byte++) {
		struct memio *m = memio_clone(base);
		m->data[sb_off + byte] ^= 0x10;
		le32_put(m->data + sb_off + SB_OFF_CRC,
			 crc32c(0, m->data + sb_off, SB_OFF_CRC));
		bool gen_field = byte < 8 /* magic: not a slot */ ||
				 (byte >= SB_OFF_GENERATION &&
				  byte < SB_OFF_GENERATION + 8);
		if (gen_field) {
			/* a broken magic or a lower generation makes the
			 * other slot the newest: a complete older tree
			 * (after a commit that retired freed data, the very
			 * same contents) is used; never wrong data, checked
			 * by verify */
			(void)detected(m, or);
		} else {
			CHECK(detected(m, or));
			caught++;
		}
		flips++;
		memio_free(m);
	}
	/* sampled bits of every cluster of the file */
	for (uint64_t off = 8192; off < base->size; off += CS) {
		for (unsigned k = 0; k < 16; k++) {
			struct memio *m = memio_clone(base);
			uint64_t bit = (off * 8 + k * 2053 + 11) % (CS * 8);
			m->data[off + bit / 8] ^= (uint8_t)(1u << (bit % 8));
			caught += detected(m, or);
			flips++;
			memio_free(m);
		}
	}
	/* a flip in a referenced data cluster or the root: always caught */
	uint64_t targets[] = {d0, d1, root};
	for (unsigned t = 0; t < 3; t++)
		for (unsigned k = 0; k < 64; k++) {
			struct memio *m = memio_clone(base);
			m->data[targets[t] + (k * 61) % CS] ^=
				(uint8_t)(1u << (k % 8));
			CHECK(detected(m, or));
			caught++;
			flips++;
			memio_free(m);
		}
	/* swap two ciphertext clusters */
	{
		struct memio *m = memio_clone(base);
		uint8_t tmp[CS];
		memcpy(tmp, m->data + d0, CS);
		memcpy(m->data + d0, m->data + d1, CS);
		memcpy(m->data + d1, tmp, CS);
		CHECK_ERR(verify(m, or, true, master), -EBADMSG);
		struct check_report rep;
		CHECK_OK(check_container_key(&m->io, master, &rep));
		CHECK_EQ(rep.errors, 2);
		memio_free(m);
	}
	/* restore an older copy of a metadata block: take the file, change
	 * the disk and commit; then put the old root node (a valid, sealed
	 * block of the same object and place) where the new root lives */
	{
		struct memio *m = memio_clone(base);
		struct container_options o = opts_key(master);
		struct container *c;
		CHECK_OK(container_open(&m->io, &o, &c));
		CHECK_OK(object_write(c, id_of(c, "disk.raw"), "new", 3, 0));
		CHECK_OK(container_close(c));
		struct oracle *or2 = malloc(sizeof(*or2));
		memcpy(or2, or, sizeof(*or2));
		memcpy(or2->disk, "new", 3);
		or2->img_size = 0; /* invalidated: renamed memory.save.stale */
		CHECK_OK(verify(m, or2, true, master));
		uint64_t n0, n1, nroot;
		layout(m, &n0, &n1, &nroot);
		CHECK(nroot != root);
		memcpy(m->data + nroot, base->data + root, CS);
		CHECK_ERR(verify(m, or2, true, master), -EBADMSG);
		memio_free(m);
		free(or2);
	}
	printf("tamper: %u flips, %u detected, never wrong data; swap and "
	       "rollback detected\n",
	       flips, caught);
	free(or);
	memio_free(base);
}

/* Every nonce seen in the tree of an open container, with its tag. */
struct seen {
	uint8_t nonce[12], tag[16];
};
static struct seen *seen;
static size_t seen_num, seen_cap;

static void note(const struct map_seal *s)
{
	if (map_seal_is_zero(s))
		return;
	for (size_t i = 0; i < seen_num; i++) {
		if (memcmp(seen[i].nonce, s->nonce, 12) != 0)
			continue;
		/* the same unit seen again, or a reuse */
		CHECK(memcmp(seen[i].tag, s->tag, 16) == 0);
		return;
	}
	if (seen_num == seen_cap) {
		seen_cap = seen_cap ? seen_cap * 2 : 256;
		seen = realloc(seen, seen_cap * sizeof(*seen));
		CHECK(seen);
	}
	memcpy(seen[seen_num].nonce, s->nonce, 12);
	memcpy(seen[seen_num].tag, s->tag, 16);
	seen_num++;
}

static void note_node(struct container *c, const struct map_node *n)
{
	if (!n)
		return;
	note(&n->seal);
	if (n->level == 0) {
		/* a leaf may be unloaded (map cache): copied out */
		struct map_entry *e = calloc(c->fanout, sizeof(*e));
		struct map_seal *s = calloc(c->fanout, sizeof(*s));
		CHECK(e && s);
		CHECK_OK(map_leaf_copy(c, n, e, s));
		for (uint32_t i = 0; i < c->fanout; i++)
			note(&s[i]);
		free(e);
		free(s);
		return;
	}
	for (uint32_t i = 0; i < c->fanout; i++)
		note_node(c, n->children[i]);
}

static void test_nonces(void)
{
	struct memio *m = memio_new();
	struct container_options o = opts_key(master);
	struct container *c;
	uint8_t buf[CS];
	uint64_t id;

	CHECK_OK(container_create(&m->io, &o, &c));
	CHECK_OK(object_create(c, "disk.raw", 0600, 0, 0, &id));
	CHECK_OK(container_close(c));
	for (unsigned session = 0; session < 12; session++) {
		CHECK_OK(container_open(&m->io, &o, &c));
		id = id_of(c, "disk.raw");
		for (unsigned w = 0; w < 20; w++) {
			memset(buf, (int)(session * 31 + w), sizeof(buf));
			CHECK_OK(object_write(c, id, buf, 1000,
					      (uint64_t)(w % 5) * CS + w));
			if (w % 7 == 0)
				CHECK_OK(container_commit(c));
		}
		CHECK_OK(container_commit(c));
		for (size_t i = 0; i < c->object_num; i++)
			note_node(c, c->objects[i]->root);
		note(&c->table_seal);
		if (session % 3 == 2) {
			/* a crash: uncommitted writes lost, reservation kept */
			CHECK_OK(object_write(c, id, buf, CS, 0));
			container_close_detached(c);
		} else {
			CHECK_OK(container_close(c));
		}
	}
	printf("nonces: %zu distinct sealed units, no nonce reused\n",
	       seen_num);
	free(seen);
	memio_free(m);
}

/* Reduced crash replay: record a workload, then for every prefix of its
 * I/O log (writes after the last sync of the prefix dropped), open with
 * the key and require a clean check and readable objects. */
static void test_crash_replay(void)
{
	struct memio *m = memio_new();
	struct container_options o = opts_key(master);
	struct container *c;
	uint8_t buf[3 * CS];
	uint64_t id;
	unsigned prefixes = 0;

	CHECK_OK(container_create(&m->io, &o, &c));
	CHECK_OK(object_create(c, "disk.raw", 0600, 0, 0, &id));
	CHECK_OK(container_close(c));
	struct memio *base = memio_clone(m);
	m->recording = true;
	CHECK_OK(container_open(&m->io, &o, &c));
	id = id_of(c, "disk.raw");
	for (unsigned i = 0; i < 6; i++) {
		memset(buf, 'A' + i, sizeof(buf));
		CHECK_OK(object_write(c, id, buf, sizeof(buf), i * 5000));
		if (i == 2)
			CHECK_OK(object_punch(c, id, 0, CS));
		CHECK_OK(container_commit(c));
	}
	uint64_t img;
	CHECK_OK(object_create(c, SAVE_IMAGE_NAME, 0600, 0, 0, &img));
	CHECK_OK(object_write(c, img, buf, sizeof(buf), 0));
	CHECK_OK(save_lock_seal(c));
	CHECK_OK(container_close(c));
	m->recording = false;

	for (size_t k = 0; k <= m->log_num; k++) {
		struct memio *r = memio_clone(base);
		/* apply ops < k, but drop writes after the last sync */
		size_t last_sync = 0;
		for (size_t i = 0; i < k; i++)
			if (m->log[i].kind == MEMIO_OP_SYNC)
				last_sync = i + 1;
		for (size_t i = 0; i < k; i++) {
			const struct memio_op *op = &m->log[i];
			if (i >= last_sync && op->kind == MEMIO_OP_PWRITE)
				continue;
			if (op->kind == MEMIO_OP_PWRITE)
				CHECK_OK(r->io.ops->pwrite(
					&r->io, op->data, op->len, op->offset));
			else if (op->kind == MEMIO_OP_TRUNCATE)
				CHECK_OK(r->io.ops->ftruncate(&r->io,
							      op->offset));
		}
		struct check_report rep;
		CHECK_OK(check_container_key(&r->io, master, &rep));
		if (rep.errors) {
			fprintf(stderr, "prefix %zu: %s\n", k, rep.messages[0]);
			exit(1);
		}
		CHECK_OK(container_open(&r->io, &o, &c));
		size_t got;
		uint8_t big[40000];
		CHECK_OK(object_read(c, id_of(c, "disk.raw"), big, sizeof(big),
				     0, &got));
		CHECK_OK(container_close(c));
		CHECK_OK(check_container_key(&r->io, master, &rep));
		CHECK_EQ(rep.errors, 0);
		prefixes++;
		memio_free(r);
	}
	printf("crash replay: %u prefixes, all open clean\n", prefixes);
	memio_free(base);
	memio_free(m);
}

/* Reduced fault injection: fail the Nth I/O call of (write, commit). */
static void test_faults(void)
{
	struct container_options o = opts_key(master);
	struct {
		const char *name;
		unsigned mask;
		int err;
		bool sticky;
	} kinds[] = {
		{"EIO once", MEMIO_OP_PWRITE | MEMIO_OP_SYNC | MEMIO_OP_PREAD,
		 -EIO, false},
		{"ENOSPC persistent", MEMIO_OP_PWRITE | MEMIO_OP_FALLOCATE,
		 -ENOSPC, true},
		{"EIO from fdatasync", MEMIO_OP_SYNC, -EIO, false},
	};
	unsigned runs = 0;
	uint8_t before[2 * CS], after[2 * CS], got[2 * CS];

	memset(before, 'b', sizeof(before));
	memset(after, 'n', sizeof(after));
	for (unsigned kind = 0; kind < 3; kind++) {
		for (long n = 1;; n++) {
			struct memio *m = memio_new();
			struct container *c;
			uint64_t id;
			CHECK_OK(container_create(&m->io, &o, &c));
			CHECK_OK(object_create(c, "disk.raw", 0600, 0, 0, &id));
			CHECK_OK(
				object_write(c, id, before, sizeof(before), 0));
			CHECK_OK(container_close(c));
			CHECK_OK(container_open(&m->io, &o, &c));
			id = id_of(c, "disk.raw");
			memio_fail(m, kinds[kind].mask, n, kinds[kind].err,
				   kinds[kind].sticky);
			int w = object_write(c, id, after + 100,
					     sizeof(after) - 100, 100);
			int cm = w ? w : container_commit(c);
			bool reached = m->failed;
			container_close_detached(c);
			memio_fail(m, 0, 0, 0, false);
			struct check_report rep;
			CHECK_OK(check_container_key(&m->io, master, &rep));
			if (rep.errors) {
				fprintf(stderr, "%s at %ld: %s\n",
					kinds[kind].name, n, rep.messages[0]);
				exit(1);
			}
			CHECK_OK(container_open(&m->io, &o, &c));
			size_t len;
			CHECK_OK(object_read(c, id_of(c, "disk.raw"), got,
					     sizeof(got), 0, &len));
			CHECK_EQ(len, sizeof(got));
			uint8_t want_after[2 * CS];
			memcpy(want_after, before, 100);
			memcpy(want_after + 100, after + 100,
			       sizeof(after) - 100);
			bool is_before = memcmp(got, before, len) == 0;
			bool is_after = memcmp(got, want_after, len) == 0;
			CHECK(is_before || is_after);
			if (cm == 0)
				CHECK(is_after);
			CHECK_OK(container_close(c));
			memio_free(m);
			runs++;
			if (!reached)
				break;
		}
	}
	printf("faults: %u runs, every one clean after reopen\n", runs);
}

/*
 * A filesystem full once, under a write of part of a cluster: the pwrite
 * of the unlocked path (data.c write_sealed_partial) fails -ENOSPC, and
 * the write is handed to the locked path, which makes room when it can
 * and writes again; here the second try finds room.  The write succeeds,
 * the fresh cluster the first try took is given back (check is clean), and
 * the bytes are there after reopen.
 */
static void test_partial_enospc(void)
{
	enum { BIG = 16384, AT = BIG + 512, LEN = 4096 }; /* 16 KiB clusters */
	struct container_options o = opts_key(master);
	struct memio *m = memio_new();
	struct container *c;
	static uint8_t before[2 * BIG], want[2 * BIG], got[2 * BIG];
	struct check_report rep;
	uint64_t id;
	size_t len;

	o.cluster_shift = 14;
	memset(before, 'b', sizeof(before));
	memcpy(want, before, sizeof(want));
	memset(want + AT, 'p', LEN);
	CHECK_OK(container_create(&m->io, &o, &c));
	CHECK_OK(object_create(c, "disk.raw", 0600, 0, 0, &id));
	CHECK_OK(object_write(c, id, before, sizeof(before), 0));
	CHECK_OK(container_commit(c));
	memio_fail(m, MEMIO_OP_PWRITE, 1, -ENOSPC, false);
	CHECK_OK(object_write(c, id, want + AT, LEN, AT));
	CHECK(m->failed);
	memio_fail(m, 0, 0, 0, false);
	CHECK_OK(container_close(c));
	CHECK_OK(check_container_key(&m->io, master, &rep));
	CHECK_EQ(rep.errors, 0);
	CHECK_OK(container_open(&m->io, &o, &c));
	CHECK_OK(object_read(c, id_of(c, "disk.raw"), got, sizeof(got), 0,
			     &len));
	CHECK_EQ(len, sizeof(got));
	CHECK_MEM_EQ(got, want, sizeof(got));
	CHECK_OK(container_close(c));
	memio_free(m);
	printf("partial write on a full filesystem: handed to the locked "
	       "path, written\n");
}

static const struct crypto_scrypt_params fast = {10, 8, 1};

static void test_store(void)
{
	char *dir = test_tmpdir_new();
	struct store_init_options io = {.encrypt = true,
					.key_kind = KEYSLOT_KIND_PASSPHRASE,
					.key_secret = "correct horse",
					.key_secret_len = 13,
					.kdf = &fast};
	struct store_options so = {TEST_MAP_CACHE,
				   .key_kind = KEYSLOT_KIND_PASSPHRASE};
	struct store *s;
	struct container *c;
	uint64_t id;

	CHECK_OK(store_init(dir, &io));
	CHECK_ERR(store_open(dir, &so, &s), -ENOKEY);
	so.key_secret = "wrong horse";
	so.key_secret_len = 11;
	CHECK_ERR(store_open(dir, &so, &s), -EKEYREJECTED);
	so.key_secret = "correct horse";
	so.key_secret_len = 13;
	CHECK_OK(store_open(dir, &so, &s));
	CHECK(store_is_encrypted(s));
	CHECK_OK(store_guest_create(s, "web01", NULL));
	CHECK_OK(store_guest_get(s, "web01", &c));
	CHECK_OK(object_create(c, "config", 0644, 0, 0, &id));
	CHECK_OK(object_write(c, id, CONFIG, sizeof(CONFIG), 0));
	struct container_info info;
	container_info(c, &info);
	CHECK(info.encrypted);
	store_guest_put(s, c);

	/* key slots: add a keyfile, list, remove the passphrase, the last
	 * one is refused */
	unsigned slot, count;
	struct keyslot_info ks[KEYSLOT_COUNT];
	CHECK_OK(store_key_add(s, KEYSLOT_KIND_KEYFILE, "0123456789abcdef", 16,
			       &fast, &slot));
	CHECK_EQ(slot, 1);
	CHECK_OK(store_key_list(s, ks, &count));
	CHECK_EQ(count, 2);
	CHECK_OK(store_key_remove(s, 0));
	CHECK_ERR(store_key_remove(s, 1), -EBUSY);
	CHECK_OK(store_close(s));

	CHECK_ERR(store_open(dir, &so, &s), -EKEYREJECTED);
	so.key_kind = KEYSLOT_KIND_KEYFILE;
	so.key_secret = "0123456789abcdef";
	so.key_secret_len = 16;
	CHECK_OK(store_open(dir, &so, &s));
	CHECK_OK(store_guest_get(s, "web01", &c));
	char buf[128];
	size_t got;
	CHECK_OK(object_read(c, id_of(c, "config"), buf, sizeof(buf), 0, &got));
	CHECK_EQ(got, sizeof(CONFIG));
	CHECK(memcmp(buf, CONFIG, got) == 0);
	store_guest_put(s, c);
	CHECK_OK(store_close(s));

	/* nothing in clear in the guest file */
	char path[4096];
	snprintf(path, sizeof(path), "%s/web01.hangar", dir);
	FILE *f = fopen(path, "rb");
	CHECK(f);
	static uint8_t file[1 << 20];
	size_t n = fread(file, 1, sizeof(file), f);
	fclose(f);
	CHECK(memmem(file, n, "very-secret", 11) == NULL);
	CHECK(memmem(file, n, "config", 6) == NULL);
	test_tmpdir_remove(dir);
	printf("store: init, unlock, wrong key, key add/list/remove: ok\n");
}

/* Whole sealed clusters laid out one after another are written with one
 * pwrite and read back with one pread (data.c, SEALED_BATCH_BYTES and
 * read_sealed_run), and a damaged cluster inside such a run still fails
 * the whole read while the clusters before it read alone. */
static void test_batched_runs(void)
{
	enum { RUN = 48 };
	struct memio *m = memio_new();
	struct container_options o = opts_key(master);
	struct container *c;
	uint8_t *want = malloc(RUN * CS), *got = malloc(RUN * CS);
	struct map_entry e;
	size_t n;
	uint64_t id;

	CHECK(want && got);
	fill_pattern(want, RUN * CS, 3);
	CHECK_OK(container_create(&m->io, &o, &c));
	CHECK_OK(object_create(c, "disk.raw", 0600, 0, 0, &id));
	CHECK_OK(container_commit(c));

	m->fail_mask = MEMIO_OP_PWRITE; /* count, never fail (fail_at 0) */
	m->calls = 0;
	CHECK_OK(object_write(c, id, want, RUN * CS, 0));
	const long writes = m->calls;
	m->fail_mask = 0;
	CHECK_OK(container_commit(c));
	/* first-fit gives the write consecutive clusters, but for any it
	 * passes over (a free cluster that still owns host blocks, kept
	 * for metadata): one pwrite per stretch of consecutive places */
	struct object *ob = object_find(c, id);
	long runs = 0;
	uint64_t next = 0, at40 = 0;
	for (unsigned i = 0; i < RUN; i++) {
		CHECK_OK(map_lookup(c, ob, i, &e));
		CHECK_EQ(e.kind, MAP_KIND_RAW);
		runs += i == 0 || e.offset != next;
		next = e.offset + CS;
		if (i == 40)
			at40 = e.offset;
	}
	CHECK(runs <= 4);
	CHECK_EQ(writes, runs);

	m->fail_mask = MEMIO_OP_PREAD;
	m->calls = 0;
	CHECK_OK(object_read(c, id, got, RUN * CS, 0, &n));
	const long reads = m->calls;
	m->fail_mask = 0;
	CHECK_EQ(n, (size_t)RUN * CS);
	CHECK(memcmp(got, want, RUN * CS) == 0);
	CHECK_EQ(reads, runs); /* the leaf is cached since the write */

	/* rewritten whole: the old clusters are freed in the same order and
	 * go back to the host as runs, one fallocate each, once both
	 * superblock slots stop mapping them (the second commit) */
	uint64_t old_at[RUN];
	for (unsigned i = 0; i < RUN; i++) {
		CHECK_OK(map_lookup(c, ob, i, &e));
		old_at[i] = e.offset;
	}
	fill_pattern(want, RUN * CS, 5);
	CHECK_OK(object_write(c, id, want, RUN * CS, 0));
	m->fail_mask = MEMIO_OP_FALLOCATE;
	m->calls = 0;
	CHECK_OK(container_commit(c));
	CHECK_OK(container_commit(c));
	const long punches = m->calls;
	m->fail_mask = 0;
	CHECK(punches >= 1 && punches <= runs);
	for (unsigned i = 0; i < RUN; i++) {
		static const uint8_t zero[CS];
		CHECK(memcmp(m->data + old_at[i], zero, CS) == 0);
	}
	CHECK_OK(object_read(c, id, got, RUN * CS, 0, &n));
	CHECK(memcmp(got, want, RUN * CS) == 0);
	for (unsigned i = 0; i < RUN; i++) {
		CHECK_OK(map_lookup(c, ob, i, &e));
		if (i == 40)
			at40 = e.offset;
	}

	/* one flipped bit in cluster 40 of the run */
	m->data[at40 + 123] ^= 0x04;
	CHECK_ERR(object_read(c, id, got, RUN * CS, 0, &n), -EBADMSG);
	CHECK_OK(object_read(c, id, got, 40 * CS, 0, &n));
	CHECK_EQ(n, (size_t)40 * CS);
	CHECK(memcmp(got, want, 40 * CS) == 0);
	CHECK_ERR(object_read(c, id, got, CS, 40 * CS, &n), -EBADMSG);
	container_close_detached(c);
	printf("batched runs: %d clusters in %ld stretches, %ld pwrite, %ld "
	       "pread, freed with %ld punch; a flip inside a stretch caught\n",
	       RUN, runs, writes, reads, punches);
	free(want);
	free(got);
	memio_free(m);
}

int main(void)
{
	CHECK_OK(crypto_key_generate(&master));
	CHECK_OK(crypto_key_generate(&other));
	test_roundtrip_and_scan();
	test_tamper();
	test_nonces();
	test_crash_replay();
	test_faults();
	test_partial_enospc();
	test_batched_runs();
	test_store();
	crypto_key_free(master);
	crypto_key_free(other);
	return 0;
}
