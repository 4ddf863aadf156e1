/*
 * hostile_encrypted.c -- the sweep of test_hostile on the same guest
 * encrypted.
 */
#include "hostile.h"

/* The encrypted sweep: metadata is sealed, so the blocks are found from
 * the superblocks (in clear, MACed): table block 0 of each slot. */
void sweep_encrypted(struct memio *m, uint64_t *rng)
{
	sweep_superblocks_and_table(m, "encrypted", 509);
	const char *env = getenv("HANGAR_HOSTILE_ENC_RANDOM");
	const uint64_t whole_file = 0;
	sweep_random_bytes(m, "encrypted random",
			   env ? strtol(env, NULL, 0) : 2000, &whole_file, 1,
			   m->size, rng);
}
