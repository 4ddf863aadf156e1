/*
 * hostile_crafted.c -- crafted cases of test_hostile: map entries pointing
 * where they must not, every truncation of the file, damage only data
 * checksums catch, the older slot after its freed clusters were reused.
 */
#include "hostile.h"

uint64_t crafted_cases;

/* A fresh copy of the base image and its layout. */
struct memio *crafted_fresh(const struct memio *base, struct layout *l)
{
	struct memio *m = memio_clone(base);
	layout_parse(l, m->data);
	return m;
}

void crafted_done(struct memio *m, enum expect expect, enum verify_mode mode,
		  bool rw)
{
	probe(m, expect, mode, rw);
	crafted_cases++;
	memio_free(m);
}

static void set_entry(uint8_t *e, uint64_t offset, uint32_t length,
		      uint32_t crc, uint16_t kind)
{
	memset(e, 0, MAP_ENTRY_SIZE);
	le64_put(e + ME_OFF_OFFSET, offset);
	le32_put(e + ME_OFF_LENGTH, length);
	le32_put(e + ME_OFF_CRC, crc);
	le16_put(e + ME_OFF_KIND, kind);
}

/* Point the first RAW entry of disk.raw's first leaf at `target` (RAW). */
static void crafted_raw_target(const struct memio *base, const char *what,
			       uint64_t (*target)(const struct layout *,
						  const struct memio *))
{
	struct layout l;
	struct memio *m = crafted_fresh(base, &l);
	int leaf = leaf_of(&l, "disk.raw");
	int i = entry_find(&l, m->data, leaf, MAP_KIND_RAW, 0);
	CHECK(i >= 0);
	set_case("crafted: disk.raw entry -> %s", what);
	set_entry(entry_at(&l, m->data, leaf, (unsigned)i), target(&l, m), CS,
		  0, MAP_KIND_RAW);
	reseal(&l, m->data, leaf);
	crafted_done(m, EXPECT_FAIL, VERIFY_LIGHT, false);
}

static uint64_t t_header(const struct layout *l, const struct memio *m)
{
	(void)l;
	(void)m;
	return 0;
}
static uint64_t t_slot_b(const struct layout *l, const struct memio *m)
{
	(void)l;
	(void)m;
	return FORMAT_SUPERBLOCK_B_OFFSET;
}
static uint64_t t_eof(const struct layout *l, const struct memio *m)
{
	(void)l;
	return (m->size + CS - 1) / CS * CS;
}
static uint64_t t_far(const struct layout *l, const struct memio *m)
{
	(void)l;
	(void)m;
	return 1ull << 50;
}
static uint64_t t_wrap(const struct layout *l, const struct memio *m)
{
	(void)l;
	(void)m;
	return UINT64_MAX - CS + 1;
}
static uint64_t t_table(const struct layout *l, const struct memio *m)
{
	(void)m;
	return l->blks[0].off;
}
static uint64_t t_own_leaf(const struct layout *l, const struct memio *m)
{
	(void)m;
	return l->blks[leaf_of(l, "disk.raw")].off;
}
static uint64_t t_other_root(const struct layout *l, const struct memio *m)
{
	(void)m;
	return l->blks[root_of(l, "data.raw")].off;
}
static uint64_t t_same_object(const struct layout *l, const struct memio *m)
{
	int leaf = leaf_of(l, "disk.raw");
	int i = entry_find(l, m->data, leaf, MAP_KIND_RAW, 5);
	return le64_get(m->data + l->blks[leaf].off + BLOCK_HEADER_SIZE +
			(unsigned)i * MAP_ENTRY_SIZE);
}
static uint64_t t_other_object(const struct layout *l, const struct memio *m)
{
	int leaf = leaf_of(l, ".nvram.fd");
	int i = entry_find(l, m->data, leaf, MAP_KIND_RAW, 0);
	return le64_get(m->data + l->blks[leaf].off + BLOCK_HEADER_SIZE +
			(unsigned)i * MAP_ENTRY_SIZE);
}
static uint64_t t_packed(const struct layout *l, const struct memio *m)
{
	int leaf = leaf_of(l, SAVE_IMAGE_NAME);
	int i = entry_find(l, m->data, leaf, MAP_KIND_COMPRESSED, 0);
	return le64_get(m->data + l->blks[leaf].off + BLOCK_HEADER_SIZE +
			(unsigned)i * MAP_ENTRY_SIZE) &
	       ~(uint64_t)(CS - 1);
}

void crafted_map_entries(const struct memio *base)
{
	crafted_raw_target(base, "header area (slot A)", t_header);
	crafted_raw_target(base, "header area (slot B)", t_slot_b);
	crafted_raw_target(base, "end of file", t_eof);
	crafted_raw_target(base, "2^50", t_far);
	crafted_raw_target(base, "wrapping offset", t_wrap);
	crafted_raw_target(base, "a table block", t_table);
	crafted_raw_target(base, "its own leaf", t_own_leaf);
	crafted_raw_target(base, "another object's map root", t_other_root);
	crafted_raw_target(base, "a cluster of the same object", t_same_object);
	crafted_raw_target(base, "another object's cluster", t_other_object);
	crafted_raw_target(base, "a cluster of compressed extents", t_packed);

	struct layout l;
	struct memio *m;
	int leaf, i, j;
	uint8_t *e;

	/* a compressed extent pointing at a RAW cluster */
	m = crafted_fresh(base, &l);
	leaf = leaf_of(&l, SAVE_IMAGE_NAME);
	i = entry_find(&l, m->data, leaf, MAP_KIND_COMPRESSED, 0);
	CHECK(i >= 0);
	e = entry_at(&l, m->data, leaf, (unsigned)i);
	set_case("crafted: compressed extent inside a RAW cluster");
	le64_put(e + ME_OFF_OFFSET, t_other_object(&l, m));
	reseal(&l, m->data, leaf);
	crafted_done(m, EXPECT_FAIL, VERIFY_LIGHT, false);

	/* a compressed extent past the end of file */
	m = crafted_fresh(base, &l);
	leaf = leaf_of(&l, SAVE_IMAGE_NAME);
	e = entry_at(&l, m->data, leaf,
		     (unsigned)entry_find(&l, m->data, leaf,
					  MAP_KIND_COMPRESSED, 0));
	set_case("crafted: compressed extent past end of file");
	le64_put(e + ME_OFF_OFFSET, t_eof(&l, m) + 512);
	reseal(&l, m->data, leaf);
	crafted_done(m, EXPECT_FAIL, VERIFY_LIGHT, false);

	/* malformed entries */
	static const struct {
		const char *what;
		uint16_t kind; /* of the entry we pick */
		int field;     /* 0 kind, 1 length, 2 crc, 3 reserved,
				      4 offset */
		uint64_t value;
	} bad[] = {
		{"RAW entry of kind 5", MAP_KIND_RAW, 0, 5},
		{"RAW entry of kind 0xffff", MAP_KIND_RAW, 0, 0xffff},
		{"RAW entry of kind NODE in a leaf", MAP_KIND_RAW, 0,
		 MAP_KIND_NODE},
		{"RAW entry of length C-1", MAP_KIND_RAW, 1, CS - 1},
		{"RAW entry of length 0", MAP_KIND_RAW, 1, 0},
		{"RAW entry with a crc", MAP_KIND_RAW, 2, 1},
		{"RAW entry with a reserved byte", MAP_KIND_RAW, 3, 1},
		{"RAW entry offset not aligned", MAP_KIND_RAW, 4, 512},
		{"HOLE entry with an offset", MAP_KIND_HOLE, 4, 1},
		{"HOLE entry with a length", MAP_KIND_HOLE, 1, 1},
		{"compressed length 0", MAP_KIND_COMPRESSED, 1, 0},
		{"compressed length C", MAP_KIND_COMPRESSED, 1, CS},
		{"compressed length 2^32-1", MAP_KIND_COMPRESSED, 1,
		 0xffffffffu},
		{"compressed crossing a cluster end", MAP_KIND_COMPRESSED, 4,
		 CS - 512},
		{"compressed offset not sector aligned", MAP_KIND_COMPRESSED, 4,
		 1},
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		m = crafted_fresh(base, &l);
		const char *obj = bad[k].kind == MAP_KIND_COMPRESSED
					  ? SAVE_IMAGE_NAME
					  : "disk.raw";
		leaf = leaf_of(&l, obj);
		i = entry_find(&l, m->data, leaf, bad[k].kind, 0);
		CHECK(i >= 0);
		e = entry_at(&l, m->data, leaf, (unsigned)i);
		set_case("crafted: %s", bad[k].what);
		switch (bad[k].field) {
		case 0:
			le16_put(e + ME_OFF_KIND, (uint16_t)bad[k].value);
			break;
		case 1:
			le32_put(e + ME_OFF_LENGTH, (uint32_t)bad[k].value);
			break;
		case 2:
			le32_put(e + ME_OFF_CRC, (uint32_t)bad[k].value);
			break;
		case 3:
			e[20] = (uint8_t)bad[k].value;
			break;
		case 4:
			if (bad[k].kind == MAP_KIND_COMPRESSED &&
			    bad[k].value == CS - 512)
				le32_put(e + ME_OFF_LENGTH, 1024);
			le64_put(e + ME_OFF_OFFSET,
				 (le64_get(e + ME_OFF_OFFSET) &
				  ~(uint64_t)(CS - 1)) +
					 bad[k].value);
			break;
		}
		reseal(&l, m->data, leaf);
		crafted_done(m, EXPECT_FAIL, VERIFY_LIGHT, false);
	}

	/* interior nodes: a RAW entry in an interior node; cycles */
	m = crafted_fresh(base, &l);
	int root = root_of(&l, "disk.raw");
	CHECK(l.blks[root].level >= 1);
	i = entry_find(&l, m->data, root, MAP_KIND_HOLE, 0);
	CHECK(i >= 0);
	set_case("crafted: RAW entry in an interior node");
	set_entry(entry_at(&l, m->data, root, (unsigned)i),
		  t_other_object(&l, m), CS, 0, MAP_KIND_RAW);
	reseal(&l, m->data, root);
	crafted_done(m, EXPECT_FAIL, VERIFY_LIGHT, false);

	for (int variant = 0; variant < 4; variant++) {
		m = crafted_fresh(base, &l);
		root = root_of(&l, "disk.raw");
		uint32_t root_crc =
			le32_get(m->data + l.blks[root].off + BH_OFF_CRC);
		/* 0: a child slot points at the root itself (its ancestor);
		 * 1: the same, in a hole slot; 2: two slots, same child;
		 * 3: a child points at another object's root */
		i = entry_find(&l, m->data, root, MAP_KIND_NODE, 0);
		j = entry_find(&l, m->data, root, MAP_KIND_HOLE, 0);
		uint8_t *child = entry_at(&l, m->data, root, (unsigned)i);
		switch (variant) {
		case 0:
			set_case("crafted: cycle, child slot -> root");
			set_entry(child, l.blks[root].off, CS, root_crc,
				  MAP_KIND_NODE);
			break;
		case 1:
			set_case("crafted: cycle, hole slot -> root");
			set_entry(entry_at(&l, m->data, root, (unsigned)j),
				  l.blks[root].off, CS, root_crc,
				  MAP_KIND_NODE);
			break;
		case 2:
			set_case("crafted: one child under two slots");
			memcpy(entry_at(&l, m->data, root, (unsigned)j), child,
			       MAP_ENTRY_SIZE);
			break;
		case 3: {
			int other = root_of(&l, "data.raw");
			set_case("crafted: child -> another object's root");
			set_entry(child, l.blks[other].off, CS,
				  le32_get(m->data + l.blks[other].off +
					   BH_OFF_CRC),
				  MAP_KIND_NODE);
			break;
		}
		}
		reseal(&l, m->data, root);
		crafted_done(m, EXPECT_FAIL, VERIFY_LIGHT, false);
	}

	/* node header fields: owner, index, level, magic, generation */
	static const struct {
		const char *what;
		unsigned off, size;
		uint64_t value;
	} hdr[] = {
		{"leaf owner wrong", BH_OFF_OWNER, 8, 999},
		{"leaf index wrong", BH_OFF_INDEX, 8, 126},
		{"leaf level wrong", BH_OFF_LEVEL, 2, 1},
		{"leaf magic is HGOT", BH_OFF_MAGIC, 4, BLOCK_MAGIC_TABLE},
		{"leaf used absurd", BH_OFF_USED, 4, 0xffffffffu},
		{"leaf generation absurd", BH_OFF_GENERATION, 8, UINT64_MAX},
		{"leaf next set", BH_OFF_NEXT, 8, 8192},
	};
	for (size_t k = 0; k < sizeof(hdr) / sizeof(hdr[0]); k++) {
		m = crafted_fresh(base, &l);
		leaf = leaf_of(&l, "disk.raw");
		uint8_t *p = m->data + l.blks[leaf].off + hdr[k].off;
		set_case("crafted: %s", hdr[k].what);
		if (hdr[k].size == 8)
			le64_put(p, hdr[k].value);
		else if (hdr[k].size == 4)
			le32_put(p, (uint32_t)hdr[k].value);
		else
			le16_put(p, (uint16_t)hdr[k].value);
		reseal(&l, m->data, leaf);
		/* owner/index/level/magic must fail; the others are fields a
		 * reader may ignore */
		crafted_done(m, k < 4 ? EXPECT_FAIL : EXPECT_EITHER,
			     VERIFY_LIGHT, k >= 4);
	}

	/* one compressed extent mapped twice (legal: packed clusters are
	 * shared); freeing one copy must keep the other readable */
	m = crafted_fresh(base, &l);
	leaf = leaf_of(&l, SAVE_IMAGE_NAME);
	i = entry_find(&l, m->data, leaf, MAP_KIND_COMPRESSED, 0);
	j = entry_find(&l, m->data, leaf, MAP_KIND_HOLE, 0);
	CHECK(i >= 0 && j > i);
	memcpy(entry_at(&l, m->data, leaf, (unsigned)j),
	       entry_at(&l, m->data, leaf, (unsigned)i), MAP_ENTRY_SIZE);
	{
		const struct rec *r = rec_named(&l, SAVE_IMAGE_NAME);
		uint8_t *rp = m->data + r->off;
		le64_put(rp + OR_OFF_STORED_BYTES,
			 le64_get(rp + OR_OFF_STORED_BYTES) +
				 le32_get(entry_at(&l, m->data, leaf,
						   (unsigned)i) +
					  ME_OFF_LENGTH));
		if (le64_get(rp + OR_OFF_SIZE) < (uint64_t)(j + 1) * CS)
			le64_put(rp + OR_OFF_SIZE, (uint64_t)(j + 1) * CS);
	}
	reseal(&l, m->data, leaf);
	set_case("crafted: one compressed extent mapped twice");
	probe(m, EXPECT_OPEN, VERIFY_LIGHT, false);
	{
		struct container *c = NULL;
		uint64_t id;
		uint8_t a[CS], b[CS];
		size_t got;
		CHECK_OK(container_open(&m->io, TEST_OPTS, &c));
		CHECK_OK(object_lookup(c, SAVE_IMAGE_NAME, &id));
		CHECK_OK(object_read(c, id, a, CS, (uint64_t)i * CS, &got));
		CHECK_OK(object_read(c, id, b, CS, (uint64_t)j * CS, &got));
		CHECK_MEM_EQ(a, b, CS);
		CHECK_OK(save_lock_discard(c)); /* unseal: free to change */
		CHECK_OK(container_commit(c));
		CHECK_OK(object_lookup(c, "config", &id));
		uint64_t img;
		CHECK(object_lookup(c, SAVE_IMAGE_NAME, &img) == -ENOENT);
		CHECK_OK(container_close(c));
		check_must_be_clean(m, "shared extent, image discarded");
	}
	crafted_cases++;
	memio_free(m);
}

void crafted_files(const struct memio *base)
{
	/* empty file, and every truncation on a 512-byte grid (plus odd
	 * lengths): a cut into referenced clusters fails, a cut of the free
	 * tail opens and must verify */
	struct memio *m = memio_new();
	set_case("crafted: empty file");
	crafted_done(m, EXPECT_FAIL, VERIFY_LIGHT, false);
	for (uint64_t len = 1; len < base->size; len += 512) {
		m = memio_clone(base);
		uint64_t cut = len == 1 ? 1 : len - 1 + (len / 512) % 2;
		m->size = cut;
		set_case("crafted: truncated to %" PRIu64 " bytes", cut);
		crafted_done(m, EXPECT_EITHER, VERIFY_ORACLE,
			     (len / 512) % 16 == 0);
	}
	/* trailing garbage past the end is free space */
	m = memio_clone(base);
	CHECK_OK(memio_reserve(m, base->size + 3 * CS + 7));
	memset(m->data + base->size, 0xa5, 3 * CS + 7);
	m->size = base->size + 3 * CS + 7;
	set_case("crafted: garbage after the last cluster");
	crafted_done(m, EXPECT_OPEN, VERIFY_ORACLE, true);
}

/* Damage that only data checksums can catch: a compressed extent's bytes. */
void crafted_data(const struct memio *base)
{
	struct layout l;
	struct memio *m = crafted_fresh(base, &l);
	int leaf = leaf_of(&l, SAVE_IMAGE_NAME);
	int i = entry_find(&l, m->data, leaf, MAP_KIND_COMPRESSED, 0);
	uint8_t *e = entry_at(&l, m->data, leaf, (unsigned)i);
	uint64_t off = le64_get(e + ME_OFF_OFFSET);
	uint32_t len = le32_get(e + ME_OFF_LENGTH);
	m->data[off + len / 2] ^= 0x10;
	set_case("crafted: a compressed extent's byte flipped");
	probe(m, EXPECT_OPEN, VERIFY_LIGHT, false);
	{
		struct container *c = NULL;
		struct check_report r;
		uint64_t id;
		uint8_t buf[CS];
		size_t got;
		CHECK_OK(container_open(
			&m->io,
			&(struct container_options){TEST_MAP_CACHE,
						    .read_only = true},
			&c));
		CHECK_OK(object_lookup(c, SAVE_IMAGE_NAME, &id));
		CHECK_ERR(object_read(c, id, buf, CS, (uint64_t)i * CS, &got),
			  -EBADMSG);
		container_close(c);
		CHECK_OK(check_container(&m->io, &r));
		CHECK(r.errors > 0);
	}
	crafted_cases++;
	/* ... and with the entry's crc fixed up: zstd's checksum or the
	 * frame must still refuse it */
	le32_put(e + ME_OFF_CRC, crc32c(0, m->data + off, len));
	reseal(&l, m->data, leaf);
	set_case("crafted: a compressed extent's byte flipped, crc fixed");
	probe(m, EXPECT_OPEN, VERIFY_LIGHT, false);
	{
		struct container *c = NULL;
		struct check_report r;
		uint64_t id;
		uint8_t buf[CS];
		size_t got;
		CHECK_OK(container_open(
			&m->io,
			&(struct container_options){TEST_MAP_CACHE,
						    .read_only = true},
			&c));
		CHECK_OK(object_lookup(c, SAVE_IMAGE_NAME, &id));
		int ret = object_read(c, id, buf, CS, (uint64_t)i * CS, &got);
		if (ret == 0) {
			const struct snap_obj *so = snap_find(
				&snaps[snap_num - 1], SAVE_IMAGE_NAME);
			if (memcmp(buf, so->data + (uint64_t)i * CS, CS))
				FAIL("WRONG DATA from a damaged frame");
		} else {
			CHECK_ERR(ret, -EBADMSG);
		}
		container_close(c);
		CHECK_OK(check_container(&m->io, &r));
		CHECK(ret == 0 || r.errors > 0);
	}
	crafted_cases++;
	memio_free(m);
}

/* The older slot after its freed clusters were reused: commit G freed
 * scratch's clusters; the open transaction G+1 allocates them for a new
 * file; the process dies before committing, and then slot G is damaged.
 * Open falls back to G-1, whose scratch map still points at those
 * clusters. */
static uint64_t fallback_reuse_one(const struct memio *base, unsigned n)
{
	struct memio *w = memio_clone(base);
	struct container *c = NULL;
	uint64_t id, rng = 77, foreign = 0;
	uint8_t *buf = malloc(16 * CS);
	CHECK(buf);
	CHECK_OK(container_open(&w->io, TEST_OPTS, &c));
	CHECK_OK(object_create(c, "newfile", S_IFREG | 0600, 0, 0, &id));
	fill_random(buf, n * CS, &rng);
	CHECK_OK(object_write(c, id, buf, n * CS, 0));
	struct memio *m = memio_clone(w); /* the crash: nothing committed */
	container_close(c);
	memio_free(w);

	struct layout l;
	layout_parse(&l, m->data);
	m->data[l.sb_off + SB_OFF_COMMIT_TIME] ^= 1; /* slot G rots */
	set_case("crafted: older slot after %u freed clusters were reused", n);
	probe(m, EXPECT_EITHER, VERIFY_LIGHT, false);
	crafted_cases++;
	struct container_options ro = {TEST_MAP_CACHE, .read_only = true};
	c = NULL;
	if (container_open(&m->io, &ro, &c) == 0) {
		struct container_info info;
		const struct snap_obj *so, *sn;
		size_t got;
		container_info(c, &info);
		so = snap_find(snap_of(info.generation), ".scratch");
		sn = snap_find(snap_of(info.generation + 1), ".scratch");
		CHECK(so && sn);
		CHECK_OK(object_lookup(c, ".scratch", &id));
		if (object_read(c, id, buf, so->size, 0, &got) == 0) {
			for (uint64_t k = 0; k < so->size; k += CS) {
				bool old = !memcmp(buf + k, so->data + k, CS);
				bool zero = true;
				for (size_t b = 0; b < CS; b++)
					zero &= buf[k + b] ==
						(k + b < sn->size
							 ? sn->data[k + b]
							 : 0);
				foreign += !old && !zero;
			}
		}
		container_close(c);
		if (foreign) {
			if (strict)
				FAIL("generation %" PRIu64 ": %" PRIu64
				     " clusters of scratch show another "
				     "object's data",
				     info.generation, foreign);
			fprintf(stderr,
				"test_hostile: KNOWN BUG hostile-4: case [%s]: "
				"generation %" PRIu64 " opened, %" PRIu64
				" clusters of scratch show another object's "
				"data\n",
				case_name, info.generation, foreign);
			known_bug_hits++;
		}
	}
	memio_free(m);
	free(buf);
	return foreign;
}

/* fallback_reuse_one for 1 to 16 reused clusters. */
void crafted_fallback_reuse(const struct memio *base)
{
	for (unsigned n = 1; n <= 16; n++)
		fallback_reuse_one(base, n);
}
