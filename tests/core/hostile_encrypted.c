/*
 * hostile_encrypted.c -- the sweep of test_hostile on the same guest
 * encrypted.
 */
#include "hostile.h"

/* The encrypted sweep: metadata is sealed, so the blocks are found from
 * the superblocks (in clear, MACed): table block 0 of each slot. */
void sweep_encrypted(struct memio *m, uint64_t *rng)
{
	const uint64_t sbs[2] = {FORMAT_SUPERBLOCK_A_OFFSET,
				 FORMAT_SUPERBLOCK_B_OFFSET};
	uint64_t tables[2];
	for (int k = 0; k < 2; k++)
		tables[k] = le64_get(m->data + sbs[k] + SB_OFF_TABLE_OFFSET);
	sweep_range(m, "encrypted superblock A", sbs[0], FORMAT_SECTOR_SIZE, 7);
	sweep_range(m, "encrypted superblock B", sbs[1], FORMAT_SECTOR_SIZE, 7);
	for (int k = 0; k < 2; k++) {
		CHECK(tables[k] >= FORMAT_HEADER_AREA &&
		      tables[k] + CS <= m->size);
		if (k == 1 && tables[1] == tables[0])
			break;
		char what[80];
		snprintf(what, sizeof(what),
			 "encrypted table block 0 of slot %c at %" PRIu64,
			 'A' + k, tables[k]);
		sweep_range(m, what, tables[k], CS, 509);
	}
	const char *env = getenv("HANGAR_HOSTILE_ENC_RANDOM");
	sweep_random_bytes(m, "encrypted random",
			   env ? strtol(env, NULL, 0) : 2000, rng);
}

void sweep_random_bytes(struct memio *m, const char *label, long count,
			uint64_t *rng)
{
	for (long i = 0; i < count; i++) {
		uint64_t r = test_rand(rng);
		uint64_t off = r % m->size;
		uint8_t v = (r >> 40) & 1 ? (uint8_t)(m->data[off] ^
						      (1u << ((r >> 41) & 7)))
					  : (uint8_t)(r >> 48);
		if (v == m->data[off])
			v ^= 0x80;
		set_case("%s %ld: offset %" PRIu64 " = 0x%02x", label, i, off,
			 v);
		damage_and_probe(m, off, v, i % 97 == 0);
	}
}
