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
	const uint64_t cs = 1ull << hostile_cluster_shift;

	CHECK(le64_get(m->data + SB_OFF_INCOMPAT) &
	      FEATURE_INCOMPAT_SMALL_NODES);
	for (int k = 0; k < 2; k++)
		CHECK(le64_get(m->data +
			       (k ? FORMAT_SUPERBLOCK_B_OFFSET
				  : FORMAT_SUPERBLOCK_A_OFFSET) +
			       SB_OFF_TABLE_OFFSET) %
			      CS ==
		      0);
	sweep_superblocks_and_table(m, "small-nodes", 211);
	/* Random bytes of the metadata clusters: every cluster with a node
	 * (by its magic) at any 4 KiB slot, its free and stale slots
	 * included.  Not data clusters: RAW data carries no checksum by
	 * design (FORMAT.md section 7), so damage there is not detectable. */
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
	sweep_random_bytes(m, "small-nodes random",
			   env ? strtol(env, NULL, 0) : 2000, meta, meta_num,
			   cs, rng);
}
