/*
 * hostile_nodes.c -- the sweep of test_hostile on a guest with small
 * metadata nodes: 16 KiB clusters, 4 KiB map nodes and table blocks, four
 * to a metadata cluster (core/FORMAT.md section 3).  What this part adds
 * to the plain one: damage to a node slot must never be taken for damage
 * elsewhere, a slot's neighbours in the same cluster must still be read
 * right, and no node may be found where data lives or data where nodes
 * live.
 */
#include "hostile.h"

/* Every byte of both superblocks and of table block 0 of each slot (found
 * from the superblocks; a node is 4 KiB = CS), then random bytes of the
 * metadata clusters: nodes and their neighbour slots. */
void sweep_small_nodes(struct memio *m, uint64_t *rng)
{
	const uint64_t sbs[2] = {FORMAT_SUPERBLOCK_A_OFFSET,
				 FORMAT_SUPERBLOCK_B_OFFSET};
	uint64_t tables[2];

	CHECK(le64_get(m->data + sbs[0] + SB_OFF_INCOMPAT) &
	      FEATURE_INCOMPAT_SMALL_NODES);
	for (int k = 0; k < 2; k++)
		tables[k] = le64_get(m->data + sbs[k] + SB_OFF_TABLE_OFFSET);
	sweep_range(m, "small-nodes superblock A", sbs[0], FORMAT_SECTOR_SIZE,
		    7);
	sweep_range(m, "small-nodes superblock B", sbs[1], FORMAT_SECTOR_SIZE,
		    7);
	for (int k = 0; k < 2; k++) {
		CHECK(tables[k] >= FORMAT_HEADER_AREA &&
		      tables[k] + CS <= m->size);
		CHECK(tables[k] % CS == 0);
		if (k == 1 && tables[1] == tables[0])
			break;
		char what[80];
		snprintf(what, sizeof(what),
			 "small-nodes table block 0 of slot %c at %" PRIu64,
			 'A' + k, tables[k]);
		sweep_range(m, what, tables[k], CS, 211);
	}
	/* Random bytes of the metadata clusters: every cluster with a node
	 * (by its magic) at any 4 KiB slot, its free and stale slots
	 * included.  Not data clusters: RAW data carries no checksum by
	 * design (FORMAT.md section 7), so damage there is not detectable. */
	const uint64_t cs = 1ull << hostile_cluster_shift;
	static uint64_t meta[4096];
	size_t meta_num = 0;
	for (uint64_t cl = FORMAT_HEADER_AREA / cs + 1;
	     (cl + 1) * cs <= m->size; cl++)
		for (uint64_t off = cl * cs; off < (cl + 1) * cs; off += CS) {
			uint32_t magic = le32_get(m->data + off);
			if (magic == BLOCK_MAGIC_MAP_NODE ||
			    magic == BLOCK_MAGIC_TABLE) {
				if (meta_num < 4096)
					meta[meta_num++] = cl * cs;
				break;
			}
		}
	CHECK(meta_num >= 2);
	const char *env = getenv("HANGAR_HOSTILE_NODES_RANDOM");
	long random_cases = env ? strtol(env, NULL, 0) : 2000;
	for (long i = 0; i < random_cases; i++) {
		uint64_t r = test_rand(rng);
		uint64_t off = meta[r % meta_num] + (r >> 20) % cs;
		uint8_t v = (r >> 40) & 1 ? (uint8_t)(m->data[off] ^
						      (1u << ((r >> 41) & 7)))
					  : (uint8_t)(r >> 48);
		if (v == m->data[off])
			v ^= 0x80;
		set_case("small-nodes random %ld: offset %" PRIu64 " = 0x%02x",
			 i, off, v);
		damage_and_probe(m, off, v, i % 97 == 0);
	}
}
