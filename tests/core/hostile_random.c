/*
 * hostile_random.c -- the plain sweep of test_hostile: one bit flipped and
 * 0xFF set at every byte of both superblocks, every table block and every
 * map root, then HANGAR_HOSTILE_RANDOM (default 10000) random bytes of
 * metadata blocks, found by their magic at cluster starts.
 */
#include "hostile.h"

void sweep_plain(struct memio *m, uint64_t *rng)
{
	struct layout l;
	layout_parse(&l, m->data);

	sweep_range(m, "superblock A", FORMAT_SUPERBLOCK_A_OFFSET,
		    FORMAT_SECTOR_SIZE, 7);
	sweep_range(m, "superblock B", FORMAT_SUPERBLOCK_B_OFFSET,
		    FORMAT_SECTOR_SIZE, 7);
	for (int i = 0; i < l.blk_num; i++) {
		const struct blk *b = &l.blks[i];
		if (b->kind == BLK_NODE && !b->root)
			continue;
		char what[80];
		snprintf(what, sizeof(what), "%s at %" PRIu64,
			 b->kind == BLK_TABLE ? "table block" : "map root",
			 b->off);
		sweep_range(m, what, b->off, CS, 509);
	}

	/* every metadata block, current or stale, by its magic */
	uint64_t meta[4096];
	size_t meta_num = 0;
	for (uint64_t off = FORMAT_HEADER_AREA; off + CS <= m->size;
	     off += CS) {
		uint32_t magic = le32_get(m->data + off);
		if ((magic == BLOCK_MAGIC_MAP_NODE ||
		     magic == BLOCK_MAGIC_TABLE) &&
		    meta_num < 4096)
			meta[meta_num++] = off;
	}
	CHECK(meta_num >= 8);
	const char *env = getenv("HANGAR_HOSTILE_RANDOM");
	long random_cases = env ? strtol(env, NULL, 0) : 10000;
	for (long i = 0; i < random_cases; i++) {
		uint64_t r = test_rand(rng);
		uint64_t off = meta[r % meta_num] + (r >> 20) % CS;
		uint8_t v = (r >> 40) & 1 ? (uint8_t)(m->data[off] ^
						      (1u << ((r >> 41) & 7)))
					  : (uint8_t)(r >> 48);
		set_case("random %ld: offset %" PRIu64 " = 0x%02x", i, off, v);
		damage_and_probe(m, off, v, i % 97 == 0);
	}
}
