/*
 * hostile_crafted_meta.c -- crafted cases of test_hostile on the metadata
 * above the maps: superblock fields, object table blocks and records, and
 * recovery at open (an orphan, an unsealed image).
 */
#include "hostile.h"

void crafted_superblock(const struct memio *base)
{
	struct layout l;
	struct memio *m;

	for (unsigned bit = 0; bit < 64; bit++) {
		if ((1ull << bit) == FEATURE_INCOMPAT_IMAGE_SEALS ||
		    (1ull << bit) == FEATURE_INCOMPAT_SNAPSHOTS ||
		    (1ull << bit) == FEATURE_INCOMPAT_SHARED_EXTENTS ||
		    (1ull << bit) == FEATURE_INCOMPAT_SMALL_NODES)
			continue; /* known, and tested below */
		m = crafted_fresh(base, &l);
		uint8_t *sb = m->data + l.sb_off;
		le64_put(sb + SB_OFF_INCOMPAT, 1ull << bit);
		sb_reseal(m->data, l.sb_off);
		set_case("crafted: incompat bit %u", bit);
		int ret = probe(m, EXPECT_FAIL, VERIFY_LIGHT, false);
		if (ret != -EPROTONOSUPPORT)
			FAIL("got %d, want -EPROTONOSUPPORT", ret);
		crafted_cases++;
		memio_free(m);
	}
	/* image seals in the table without their feature bit: the table is
	 * not version 1, so it is corrupt, never half read */
	m = crafted_fresh(base, &l);
	CHECK(le64_get(m->data + l.sb_off + SB_OFF_INCOMPAT) &
	      FEATURE_INCOMPAT_IMAGE_SEALS);
	le64_put(m->data + l.sb_off + SB_OFF_INCOMPAT,
		 le64_get(m->data + l.sb_off + SB_OFF_INCOMPAT) &
			 ~FEATURE_INCOMPAT_IMAGE_SEALS);
	sb_reseal(m->data, l.sb_off);
	set_case("crafted: image seals without their feature bit");
	crafted_done(m, EXPECT_FAIL, VERIFY_LIGHT, false);

	/* the snapshot bit without a snapshot record: a table this build
	 * reads whole (the bit allows records, never requires them) */
	m = crafted_fresh(base, &l);
	le64_put(m->data + l.sb_off + SB_OFF_INCOMPAT,
		 le64_get(m->data + l.sb_off + SB_OFF_INCOMPAT) |
			 FEATURE_INCOMPAT_SNAPSHOTS);
	sb_reseal(m->data, l.sb_off);
	set_case("crafted: snapshot feature without snapshots");
	crafted_done(m, EXPECT_OPEN, VERIFY_ORACLE, true);

	/* the shared-extents bit on a container that shares nothing: it
	 * permits shared RAW clusters, never requires them */
	m = crafted_fresh(base, &l);
	le64_put(m->data + l.sb_off + SB_OFF_INCOMPAT,
		 le64_get(m->data + l.sb_off + SB_OFF_INCOMPAT) |
			 FEATURE_INCOMPAT_SHARED_EXTENTS);
	sb_reseal(m->data, l.sb_off);
	set_case("crafted: shared-extents feature without sharing");
	crafted_done(m, EXPECT_OPEN, VERIFY_ORACLE, true);

	/* small nodes: the bit and the node_shift field go together, and
	 * the node is at least 4 KiB and smaller than a cluster (this
	 * container's clusters are 4 KiB, so no node size is valid) */
	static const struct {
		const char *what;
		bool bit;
		uint32_t node_shift;
	} nodes[] = {
		{"small-nodes bit, node_shift 0", true, 0},
		{"small-nodes bit, node_shift 11", true, 11},
		{"small-nodes bit, node_shift = cluster_shift", true, CSHIFT},
		{"small-nodes bit, node_shift 2^32-1", true, 0xffffffffu},
		{"node_shift 12 without the small-nodes bit", false, 12},
		{"node_shift 9 without the small-nodes bit", false, 9},
	};
	for (size_t k = 0; k < sizeof(nodes) / sizeof(nodes[0]); k++) {
		m = crafted_fresh(base, &l);
		uint8_t *sb = m->data + l.sb_off;
		if (nodes[k].bit)
			le64_put(sb + SB_OFF_INCOMPAT,
				 le64_get(sb + SB_OFF_INCOMPAT) |
					 FEATURE_INCOMPAT_SMALL_NODES);
		le32_put(sb + SB_OFF_NODE_SHIFT, nodes[k].node_shift);
		sb_reseal(m->data, l.sb_off);
		set_case("crafted: %s", nodes[k].what);
		int ret = probe(m, EXPECT_FAIL, VERIFY_LIGHT, false);
		if (ret != -EUCLEAN)
			FAIL("got %d, want -EUCLEAN", ret);
		crafted_cases++;
		memio_free(m);
	}

	/* the older slot with an unknown feature: the newer one still wins */
	m = crafted_fresh(base, &l);
	le64_put(m->data + l.old_sb_off + SB_OFF_INCOMPAT, 1ull << 5);
	sb_reseal(m->data, l.old_sb_off);
	set_case("crafted: incompat bit in the older slot");
	crafted_done(m, EXPECT_OPEN, VERIFY_ORACLE, true);

	/* unknown ro_compat: read-only opens, read-write refuses */
	m = crafted_fresh(base, &l);
	le64_put(m->data + l.sb_off + SB_OFF_RO_COMPAT, 1ull << 9);
	sb_reseal(m->data, l.sb_off);
	set_case("crafted: unknown ro_compat feature");
	crafted_done(m, EXPECT_OPEN, VERIFY_ORACLE, true);
	/* unknown compat: ignored */
	m = crafted_fresh(base, &l);
	le64_put(m->data + l.sb_off + SB_OFF_COMPAT, ~0ull);
	sb_reseal(m->data, l.sb_off);
	set_case("crafted: unknown compat features");
	crafted_done(m, EXPECT_OPEN, VERIFY_ORACLE, true);

	static const struct {
		const char *what;
		unsigned off, size;
		uint64_t value;
		enum expect expect;
	} f[] = {
		{"version 2", SB_OFF_VERSION, 4, 2, EXPECT_FAIL},
		{"version 0", SB_OFF_VERSION, 4, 0, EXPECT_FAIL},
		{"header_size 4096", SB_OFF_HEADER_SIZE, 4, 4096, EXPECT_FAIL},
		{"cluster_shift 11", SB_OFF_CLUSTER_SHIFT, 4, 11, EXPECT_FAIL},
		{"cluster_shift 13", SB_OFF_CLUSTER_SHIFT, 4, 13, EXPECT_FAIL},
		{"cluster_shift 21", SB_OFF_CLUSTER_SHIFT, 4, 21, EXPECT_FAIL},
		{"cluster_shift 22", SB_OFF_CLUSTER_SHIFT, 4, 22, EXPECT_FAIL},
		{"cluster_shift 64", SB_OFF_CLUSTER_SHIFT, 4, 64, EXPECT_FAIL},
		{"cluster_shift 2^32-1", SB_OFF_CLUSTER_SHIFT, 4, 0xffffffffu,
		 EXPECT_FAIL},
		{"map_entry_size 64", SB_OFF_MAP_ENTRY_SIZE, 4, 64,
		 EXPECT_FAIL},
		{"generation 0", SB_OFF_GENERATION, 8, 0, EXPECT_EITHER},
		{"table_offset 0", SB_OFF_TABLE_OFFSET, 8, 0, EXPECT_FAIL},
		{"table_offset slot B", SB_OFF_TABLE_OFFSET, 8, 4096,
		 EXPECT_FAIL},
		{"table_offset 2^63", SB_OFF_TABLE_OFFSET, 8, 1ull << 63,
		 EXPECT_FAIL},
		{"table_crc wrong", SB_OFF_TABLE_CRC, 4, 0x12345678,
		 EXPECT_FAIL},
		{"table_blocks 0", SB_OFF_TABLE_BLOCKS, 4, 0, EXPECT_FAIL},
		{"table_blocks 2", SB_OFF_TABLE_BLOCKS, 4, 2, EXPECT_FAIL},
		{"table_blocks 2^20", SB_OFF_TABLE_BLOCKS, 4, 1u << 20,
		 EXPECT_FAIL},
		{"table_blocks 2^32-1", SB_OFF_TABLE_BLOCKS, 4, 0xffffffffu,
		 EXPECT_FAIL},
		{"used_clusters 0", SB_OFF_USED_CLUSTERS, 8, 0, EXPECT_FAIL},
		{"used_clusters 2^64-1", SB_OFF_USED_CLUSTERS, 8, UINT64_MAX,
		 EXPECT_FAIL},
		{"next_object_id 1", SB_OFF_NEXT_OBJECT_ID, 8, 1, EXPECT_FAIL},
		{"next_object_id 0", SB_OFF_NEXT_OBJECT_ID, 8, 0, EXPECT_FAIL},
		{"next_object_id 2^64-1", SB_OFF_NEXT_OBJECT_ID, 8, UINT64_MAX,
		 EXPECT_EITHER},
		{"flags: compress disks", SB_OFF_FLAGS, 4, 1, EXPECT_EITHER},
		{"flags: all", SB_OFF_FLAGS, 4, 0xffffffffu, EXPECT_EITHER},
		{"commit time 2^64-1", SB_OFF_COMMIT_TIME, 8, UINT64_MAX,
		 EXPECT_EITHER},
		{"reserved encryption byte", 120, 1, 0x5a, EXPECT_EITHER},
	};
	for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
		m = crafted_fresh(base, &l);
		uint8_t *p = m->data + l.sb_off + f[k].off;
		if (f[k].size == 8)
			le64_put(p, f[k].value);
		else if (f[k].size == 4)
			le32_put(p, (uint32_t)f[k].value);
		else
			p[0] = (uint8_t)f[k].value;
		sb_reseal(m->data, l.sb_off);
		set_case("crafted: superblock %s", f[k].what);
		crafted_done(m, f[k].expect, VERIFY_LIGHT,
			     f[k].expect != EXPECT_FAIL);
		known_bug = NULL;
	}
	/* used_clusters off by one either way (the leak cross-check) */
	for (int d = -1; d <= 1; d += 2) {
		m = crafted_fresh(base, &l);
		uint8_t *p = m->data + l.sb_off + SB_OFF_USED_CLUSTERS;
		le64_put(p, le64_get(p) + (uint64_t)(int64_t)d);
		sb_reseal(m->data, l.sb_off);
		set_case("crafted: used_clusters %+d", d);
		crafted_done(m, EXPECT_FAIL, VERIFY_LIGHT, false);
	}

	/* stale generations */
	m = crafted_fresh(base, &l);
	memcpy(m->data + l.sb_off, m->data + l.old_sb_off, FORMAT_SECTOR_SIZE);
	set_case("crafted: older superblock copied over the newer");
	crafted_done(m, EXPECT_OPEN, VERIFY_ORACLE, true);
	m = crafted_fresh(base, &l);
	memcpy(m->data + l.old_sb_off, m->data + l.sb_off, FORMAT_SECTOR_SIZE);
	set_case("crafted: newer superblock in both slots");
	crafted_done(m, EXPECT_OPEN, VERIFY_ORACLE, true);
	m = crafted_fresh(base, &l);
	le64_put(m->data + l.sb_off + SB_OFF_GENERATION,
		 sb_gen(m->data, l.old_sb_off) - 1);
	sb_reseal(m->data, l.sb_off);
	set_case("crafted: newer slot's generation below the older's");
	crafted_done(m, EXPECT_EITHER, VERIFY_LIGHT, true);
	m = crafted_fresh(base, &l);
	le64_put(m->data + l.old_sb_off + SB_OFF_GENERATION,
		 sb_gen(m->data, l.sb_off) + 1);
	sb_reseal(m->data, l.old_sb_off);
	set_case("crafted: older slot claims a newer generation");
	crafted_done(m, EXPECT_EITHER, VERIFY_LIGHT, true);
	m = crafted_fresh(base, &l);
	memset(m->data + l.sb_off, 0, FORMAT_SECTOR_SIZE);
	memset(m->data + l.old_sb_off, 0, FORMAT_SECTOR_SIZE);
	set_case("crafted: both superblocks zeroed");
	crafted_done(m, EXPECT_FAIL, VERIFY_LIGHT, false);
}

/* Patch a field of an object record and reseal its table block. */
static struct memio *record_patch(const struct memio *base, const char *name,
				  unsigned off, unsigned size, uint64_t value)
{
	struct layout l;
	struct memio *m = crafted_fresh(base, &l);
	const struct rec *r = rec_named(&l, name);
	uint8_t *p = m->data + r->off + off;
	if (size == 8)
		le64_put(p, value);
	else if (size == 4)
		le32_put(p, (uint32_t)value);
	else if (size == 2)
		le16_put(p, (uint16_t)value);
	else
		p[0] = (uint8_t)value;
	reseal(&l, m->data, r->table_block);
	return m;
}

void crafted_table(const struct memio *base)
{
	struct layout l;
	struct memio *m;

	layout_parse(&l, base->data);
	const struct rec *disk = rec_named(&l, "disk.raw");
	const struct rec *data = rec_named(&l, "data.raw");
	uint64_t huge = (1ull << 40) << CSHIFT;

	static const struct {
		const char *what;
		unsigned off, size;
		uint64_t value; /* ~0ull - 1: filled in below */
		enum expect expect;
	} f[] = {
		{"size 2^52 (the limit)", OR_OFF_SIZE, 8, 0, EXPECT_EITHER},
		{"size 2^52 + 1", OR_OFF_SIZE, 8, 1, EXPECT_FAIL},
		{"size 2^64-1", OR_OFF_SIZE, 8, UINT64_MAX, EXPECT_FAIL},
		{"height 0 with a root", OR_OFF_MAP_HEIGHT, 2, 0, EXPECT_FAIL},
		{"height 1 (root is level 1)", OR_OFF_MAP_HEIGHT, 2, 1,
		 EXPECT_FAIL},
		{"height 3", OR_OFF_MAP_HEIGHT, 2, 3, EXPECT_FAIL},
		{"height 8", OR_OFF_MAP_HEIGHT, 2, 8, EXPECT_FAIL},
		{"height 9", OR_OFF_MAP_HEIGHT, 2, 9, EXPECT_FAIL},
		{"height 0xffff", OR_OFF_MAP_HEIGHT, 2, 0xffff, EXPECT_FAIL},
		{"root 0 with a height", OR_OFF_MAP_ROOT, 8, 0, EXPECT_FAIL},
		{"root crc wrong", OR_OFF_MAP_ROOT_CRC, 4, 1, EXPECT_FAIL},
		{"stored_bytes + 1", OR_OFF_STORED_BYTES, 8, 2, EXPECT_FAIL},
		{"stored_bytes 2^64-1", OR_OFF_STORED_BYTES, 8, UINT64_MAX,
		 EXPECT_FAIL},
		{"id 0", OR_OFF_ID, 8, 3, EXPECT_FAIL},
		{"id 2^64-1", OR_OFF_ID, 8, UINT64_MAX, EXPECT_FAIL},
		{"duplicate id", OR_OFF_ID, 8, 4, EXPECT_FAIL},
		{"mode S_IFDIR", OR_OFF_MODE, 4, S_IFDIR | 0755, EXPECT_FAIL},
		{"mode 0", OR_OFF_MODE, 4, 0, EXPECT_FAIL},
		{"flags unknown", OR_OFF_FLAGS, 4, 1u << 7, EXPECT_FAIL},
		{"flags ORPHAN with a name", OR_OFF_FLAGS, 4,
		 OBJECT_FLAG_ORPHAN, EXPECT_FAIL},
		{"mtime nsec 10^9", OR_OFF_MTIME_NSEC, 4, 1000000000u,
		 EXPECT_FAIL},
		{"ctime nsec 2^32-1", OR_OFF_CTIME_NSEC, 4, 0xffffffffu,
		 EXPECT_FAIL},
		{"name length 0", OR_OFF_NAME_LEN, 2, 0, EXPECT_FAIL},
		{"name length + 1", OR_OFF_NAME_LEN, 2, 9, EXPECT_FAIL},
		{"name length 0xffff", OR_OFF_NAME_LEN, 2, 0xffff, EXPECT_FAIL},
		{"record length 95", 2, 2, 95, EXPECT_FAIL},
		{"record length 0", 2, 2, 0, EXPECT_FAIL},
		{"record length 3", 2, 2, 3, EXPECT_FAIL},
		{"record length 0xffff", 2, 2, 0xffff, EXPECT_FAIL},
		{"record type 0x7777", 0, 2, 0x7777, EXPECT_FAIL},
		{"record type 0", 0, 2, 0, EXPECT_FAIL},
		{"name with a slash", OBJECT_RECORD_FIXED + 4, 1, '/',
		 EXPECT_FAIL},
		{"name with a NUL", OBJECT_RECORD_FIXED + 4, 1, 0, EXPECT_FAIL},
		{"duplicate name", OBJECT_RECORD_FIXED + 1, 1, 'i',
		 EXPECT_FAIL},
		{"uid/gid 2^32-1", OR_OFF_UID, 4, 0xffffffffu, EXPECT_EITHER},
		{"generation 2^64-1", OR_OFF_GENERATION, 8, UINT64_MAX,
		 EXPECT_EITHER},
		{"mtime 2^63", OR_OFF_MTIME_SEC, 8, 1ull << 63, EXPECT_EITHER},
		{"reserved nonzero", 92, 1, 1, EXPECT_EITHER},
	};
	for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
		uint64_t v = f[k].value;
		const char *target = "data.raw";
		if (f[k].off == OR_OFF_SIZE && f[k].size == 8 &&
		    v != UINT64_MAX)
			v += huge;
		if (f[k].off == OR_OFF_STORED_BYTES && v == 2)
			v = le64_get(base->data + data->off +
				     OR_OFF_STORED_BYTES) +
			    1;
		if (f[k].off == OR_OFF_ID && v == 3)
			v = 0;
		if (f[k].off == OR_OFF_ID && v == 4)
			v = disk->id;
		if (f[k].off == OR_OFF_MAP_HEIGHT && v == 1) {
			target = "disk.raw";
		}
		if (f[k].off == OR_OFF_MAP_HEIGHT && v == 3)
			target = "disk.raw";
		/* "data.raw" -> "disk.raw": byte 1 'a' -> 'i', 2 't' ->
		 * 's', 3 'a' -> 'k' */
		m = record_patch(base, target, f[k].off, f[k].size, v);
		if (strcmp(f[k].what, "duplicate name") == 0) {
			struct layout l2;
			layout_parse(&l2, base->data);
			const struct rec *r = rec_named(&l2, "data.raw");
			memcpy(m->data + r->off + OBJECT_RECORD_FIXED,
			       "disk.raw", 8);
			reseal(&l2, m->data, r->table_block);
		}
		set_case("crafted: record %s", f[k].what);
		crafted_done(m, f[k].expect, VERIFY_LIGHT,
			     f[k].expect != EXPECT_FAIL);
		known_bug = NULL;
	}

	/* the image seal (record type 4): pins at SEAL_RECORD_FIXED, each
	 * { id, generation, le16 name_len, name } */
	CHECK(l.save_off);
	const unsigned pin0 = SEAL_RECORD_FIXED;
	static const struct {
		const char *what;
		unsigned off, size;
		uint64_t value;
		enum expect expect;
	} s[] = {
		{"pin_count + 1", SL_OFF_PIN_COUNT, 4, 3, EXPECT_FAIL},
		{"pin_count 2^32-1", SL_OFF_PIN_COUNT, 4, 0xffffffffu,
		 EXPECT_FAIL},
		{"pin_count 0 (length mismatch)", SL_OFF_PIN_COUNT, 4, 0,
		 EXPECT_FAIL},
		{"pin_count 1 (length mismatch)", SL_OFF_PIN_COUNT, 4, 1,
		 EXPECT_FAIL},
		{"state 0", SL_OFF_STATE, 4, 0, EXPECT_FAIL},
		{"state 4", SL_OFF_STATE, 4, 4, EXPECT_FAIL},
		{"state RESUMING", SL_OFF_STATE, 4, SAVE_STATE_RESUMING,
		 EXPECT_EITHER},
		{"state INVALIDATED", SL_OFF_STATE, 4, SAVE_STATE_INVALIDATED,
		 EXPECT_EITHER},
		{"why 2^32-1", SL_OFF_WHY, 4, 0xffffffffu, EXPECT_FAIL},
		{"object id missing", SL_OFF_OBJECT_ID, 8, 999, EXPECT_FAIL},
		{"object id 0", SL_OFF_OBJECT_ID, 8, 0, EXPECT_FAIL},
		{"seal on a disk", SL_OFF_OBJECT_ID, 8, 1, EXPECT_EITHER},
		{"saved nsec 10^9", SL_OFF_SAVED_NSEC, 4, 1000000000u,
		 EXPECT_FAIL},
		{"event nsec 10^9", SL_OFF_EVENT_NSEC, 4, 1000000000u,
		 EXPECT_FAIL},
		{"pin 0 names a missing object", pin0, 8, 999, EXPECT_EITHER},
		{"pin 0 names object 0", pin0, 8, 0, EXPECT_EITHER},
		{"pin 0 generation 2^64-1", pin0 + 8, 8, UINT64_MAX,
		 EXPECT_EITHER},
		{"pin 0 name_len 256", pin0 + 16, 2, 256, EXPECT_FAIL},
		{"pin 0 name_len past the record", pin0 + 16, 2, 4000,
		 EXPECT_FAIL},
		{"pin 0 name_len 0", pin0 + 16, 2, 0, EXPECT_FAIL},
		{"config generation 2^64-1", SL_OFF_CONFIG_GEN, 8, UINT64_MAX,
		 EXPECT_EITHER},
		{"fingerprint zero", SL_OFF_FINGERPRINT, 8, 0, EXPECT_EITHER},
		{"record length + 16", 2, 2, 1, EXPECT_FAIL},
		{"second seal of one object", 0, 2, 0, EXPECT_FAIL},
	};
	for (size_t k = 0; k < sizeof(s) / sizeof(s[0]); k++) {
		m = crafted_fresh(base, &l);
		uint8_t *rec = m->data + l.save_off;
		uint8_t *p = rec + s[k].off;
		uint64_t v = s[k].value;
		CHECK_EQ(le32_get(rec + SL_OFF_PIN_COUNT), 2);
		if (s[k].off == SL_OFF_OBJECT_ID && v == 1)
			v = disk->id;
		if (strcmp(s[k].what, "second seal of one object") == 0) {
			/* turn data.raw's record into a copy of the seal */
			const struct rec *r = rec_named(&l, "data.raw");
			uint16_t len = le16_get(m->data + r->off + 2);
			uint16_t slen = le16_get(rec + 2);
			if (slen > len) {
				/* too long to fit: shorten the copy to no
				 * pins (still a second seal: fails either
				 * way) */
				slen = SEAL_RECORD_FIXED;
			}
			memcpy(m->data + r->off, rec, slen);
			le32_put(m->data + r->off + SL_OFF_PIN_COUNT,
				 slen == SEAL_RECORD_FIXED
					 ? 0
					 : le32_get(rec + SL_OFF_PIN_COUNT));
			le16_put(m->data + r->off + 2, slen);
			/* pad the rest of data.raw's old record as a seal
			 * cannot: a record that short fails too */
			if (slen < len) {
				le16_put(m->data + r->off + 2, len);
			}
			reseal(&l, m->data, r->table_block);
		} else if (s[k].off == 2 && v == 1) {
			le16_put(p, (uint16_t)(le16_get(rec + 2) + 16u));
		} else if (s[k].size == 8) {
			le64_put(p, v);
		} else if (s[k].size == 4) {
			le32_put(p, (uint32_t)v);
		} else {
			le16_put(p, (uint16_t)v);
		}
		reseal(&l, m->data, l.save_block);
		set_case("crafted: image seal %s", s[k].what);
		crafted_done(m, s[k].expect, VERIFY_LIGHT,
			     s[k].expect != EXPECT_FAIL);
	}

	/* table block header and chain */
	static const struct {
		const char *what;
		unsigned off, size;
		uint64_t value;
	} t[] = {
		{"table used 4033", BH_OFF_USED, 4, CS - BLOCK_HEADER_SIZE + 1},
		{"table used 2^32-1", BH_OFF_USED, 4, 0xffffffffu},
		{"table used 1", BH_OFF_USED, 4, 1},
		{"table used short by one", BH_OFF_USED, 4, 1u << 31},
		{"table index 1", BH_OFF_INDEX, 8, 1},
		{"table magic HGMN", BH_OFF_MAGIC, 4, BLOCK_MAGIC_MAP_NODE},
		{"table generation newer than the superblock",
		 BH_OFF_GENERATION, 8, 1ull << 40},
		{"table next -> itself", BH_OFF_NEXT, 8, 1},
		{"table next -> slot B", BH_OFF_NEXT, 8, 4096},
		{"table next -> a map root", BH_OFF_NEXT, 8, 2},
	};
	for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		m = crafted_fresh(base, &l);
		CHECK(l.blks[0].kind == BLK_TABLE);
		uint8_t *blk = m->data + l.blks[0].off;
		uint8_t *p = blk + t[k].off;
		uint64_t v = t[k].value;
		if (t[k].off == BH_OFF_USED && v == 1u << 31)
			v = le32_get(p) - 1;
		if (t[k].off == BH_OFF_NEXT && v == 1) {
			v = l.blks[0].off;
			le32_put(blk + BH_OFF_NEXT_CRC,
				 le32_get(blk + BH_OFF_CRC));
		}
		if (t[k].off == BH_OFF_NEXT && v == 2) {
			int root = root_of(&l, "disk.raw");
			v = l.blks[root].off;
			le32_put(blk + BH_OFF_NEXT_CRC,
				 le32_get(m->data + v + BH_OFF_CRC));
		}
		if (t[k].size == 8)
			le64_put(p, v);
		else
			le32_put(p, (uint32_t)v);
		reseal(&l, m->data, 0);
		if (t[k].off == BH_OFF_NEXT) {
			/* the superblock says the chain is two blocks */
			le32_put(m->data + l.sb_off + SB_OFF_TABLE_BLOCKS, 2);
			sb_reseal(m->data, l.sb_off);
		}
		set_case("crafted: %s", t[k].what);
		crafted_done(m, EXPECT_FAIL, VERIFY_LIGHT, false);
	}
	/* table_offset -> a map node, with that node's crc */
	m = crafted_fresh(base, &l);
	{
		int root = root_of(&l, "disk.raw");
		le64_put(m->data + l.sb_off + SB_OFF_TABLE_OFFSET,
			 l.blks[root].off);
		le32_put(m->data + l.sb_off + SB_OFF_TABLE_CRC,
			 le32_get(m->data + l.blks[root].off + BH_OFF_CRC));
		sb_reseal(m->data, l.sb_off);
	}
	set_case("crafted: table_offset -> a map node");
	crafted_done(m, EXPECT_FAIL, VERIFY_LIGHT, false);
}

/* Recovery at open on crafted states: an orphan, an unsealed image. */
void crafted_recovery(const struct memio *base)
{
	struct layout l;
	struct memio *m = crafted_fresh(base, &l);
	/* scratch becomes an orphan: drop its name, shift what follows */
	const struct rec *r = rec_named(&l, ".scratch");
	uint8_t *blk = m->data + l.blks[r->table_block].off;
	uint8_t *rp = m->data + r->off;
	uint16_t len = le16_get(rp + 2);
	uint16_t nl = le16_get(rp + OR_OFF_NAME_LEN);
	uint32_t used = le32_get(blk + BH_OFF_USED);
	uint64_t end = l.blks[r->table_block].off + BLOCK_HEADER_SIZE + used;
	memmove(rp + OBJECT_RECORD_FIXED, rp + len, end - (r->off + len));
	memset(m->data + end - nl, 0, nl);
	le16_put(rp + 2, OBJECT_RECORD_FIXED);
	le16_put(rp + OR_OFF_NAME_LEN, 0);
	le32_put(rp + OR_OFF_FLAGS, OBJECT_FLAG_ORPHAN);
	le32_put(blk + BH_OFF_USED, used - nl);
	reseal(&l, m->data, r->table_block);
	set_case("crafted: an orphan object (recovery deletes it)");
	probe(m, EXPECT_OPEN, VERIFY_LIGHT, true);
	{
		struct container *c = NULL;
		CHECK_OK(container_open(&m->io, TEST_OPTS, &c));
		struct container_info info;
		container_info(c, &info);
		CHECK_EQ(info.object_count, snaps[snap_num - 1].num - 1);
		CHECK_OK(container_close(c));
		check_must_be_clean(m, "orphan recovered");
	}
	crafted_cases++;
	memio_free(m);

	/* memory.save flagged unsealed while the save record says SAVED */
	m = record_patch(base, SAVE_IMAGE_NAME, OR_OFF_FLAGS, 4,
			 OBJECT_FLAG_IMAGE_UNSEALED);
	set_case("crafted: sealed image flagged unsealed");
	probe(m, EXPECT_EITHER, VERIFY_LIGHT, true);
	{
		struct container *c = NULL;
		int ret = container_open(&m->io, TEST_OPTS, &c);
		if (!ret) {
			uint64_t id;
			CHECK(object_lookup(c, SAVE_IMAGE_NAME, &id) ==
			      -ENOENT);
			CHECK_OK(container_close(c));
			check_must_be_clean(m, "unsealed image recovered");
		}
	}
	crafted_cases++;
	memio_free(m);
}
