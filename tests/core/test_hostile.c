/*
 * test_hostile.c -- hostile and corrupt containers: main, and the
 * contract every case is held to.  The pieces are in hostile_*.c around
 * hostile.h (which says what each file holds).
 *
 * A realistic container is built in memory (4 KiB clusters so disk.raw's map
 * has height 2; a compressed memory.save sealed as the save image so there is
 * a save record; a config, an nvram file and a scratch file), committed
 * several times so both superblock slots are valid.  The contents of every
 * object at every committed generation are kept as the oracle.  Then:
 *
 *   1. Bit-flip sweep.  Every byte of both superblocks, of every table block
 *      and of every map root is flipped (one bit) and set to 0xFF; then
 *      10,000 random bytes of metadata blocks (found by their HGMN/HGOT magic
 *      at cluster starts) are damaged.  For each case:
 *        - container_open (read-only) fails with -EUCLEAN, -EBADMSG or
 *          -EPROTONOSUPPORT, or succeeds;
 *        - when it succeeds, the generation it opened must be one we
 *          committed, and every object reads back exactly as the oracle says
 *          for that generation (or fails with -EBADMSG/-EUCLEAN/-EIO): never
 *          wrong data silently.  When open fell back to the older slot
 *          (the newest one was damaged), a cluster may also show the newer
 *          generation's bytes (in-place rewrites and punched clusters are
 *          the documented exception, FORMAT.md section 5); those are
 *          counted;
 *        - check_container never crashes, and reports errors whenever open
 *          failed; when open succeeded and every read was clean, check
 *          reports none (no errors, no leaked clusters);
 *        - some of the successful cases are also opened read-write, written,
 *          committed and checked again.
 *   2. Crafted cases.  A small parser walks the container's metadata and
 *      records, for every block, where its parent keeps a copy of its crc;
 *      reseal() recomputes checksums bottom-up through those parent links
 *      and the superblock, so each crafted case carries exactly one semantic
 *      error and no checksum error.
 *
 *   3. The same contract on an ENCRYPTED container: the same guest
 *      built under a master key; every byte of both superblocks and of the
 *      first object-table block of both slots flipped and set to 0xFF, then
 *      HANGAR_HOSTILE_ENC_RANDOM (default 2000) random bytes anywhere in the
 *      file (data clusters included: their GCM tags must catch it).  Open
 *      and reads must give a clean error or the oracle's data, never wrong
 *      data.  (Encrypted metadata cannot be found by its magic, so no
 *      crafted cases: test_encrypt.c has the tamper tests.)
 *   4. The same contract with SMALL NODES: the guest built with 16 KiB
 *      clusters, so its 4 KiB map nodes and table blocks share metadata
 *      clusters (hostile_nodes.c): every byte of both superblocks and of
 *      table block 0 of each slot, then HANGAR_HOSTILE_NODES_RANDOM
 *      (default 2000) random bytes of the metadata clusters (any slot).
 *
 * HANGAR_HOSTILE_RANDOM (default 10000) sets the number of random positions;
 * HANGAR_TEST_SEED replays a run.
 */
#include "hostile.h"

int main(void)
{
	uint64_t seed = test_seed();
	/* every bug this test found is fixed: strict unless asked otherwise */
	const char *env = getenv("HANGAR_HOSTILE_STRICT");
	strict = !(env && env[0] == '0');
	uint64_t rng = seed;
	time_t t0 = time(NULL);

	struct memio *base = build_container(0x68616e676172ull);
	newest_generation = snaps[snap_num - 1].generation;
	{
		struct layout l;
		layout_parse(&l, base->data);
		CHECK_EQ(sb_gen(base->data, l.sb_off), newest_generation);
		CHECK(sb_gen(base->data, l.old_sb_off) < newest_generation);
		CHECK(sb_gen(base->data, l.old_sb_off) >=
		      snaps[snap_num - 2].generation);
		CHECK(l.blks[root_of(&l, "disk.raw")].level >= 1);
		CHECK(leaf_of(&l, SAVE_IMAGE_NAME) >= 0);
		CHECK(l.save_off);
	}
	/* the base itself is clean */
	set_case("base container");
	probe(base, EXPECT_OPEN, VERIFY_ORACLE, true);
	check_must_be_clean(base, "base container");

	crafted_map_entries(base);
	crafted_files(base);
	crafted_superblock(base);
	crafted_table(base);
	crafted_recovery(base);
	crafted_data(base);
	crafted_fallback_reuse(base);
	uint64_t crafted = crafted_cases;
	fprintf(stderr, "test_hostile: %" PRIu64 " crafted cases passed\n",
		crafted);

	sweep_plain(base, &rng);
	memio_free(base);
	oracle_free();

	/* 3. the same guest encrypted */
	const uint64_t plain_cases = hostile_stats.cases;
	const struct stats plain = hostile_stats;
	CHECK_OK(crypto_key_generate(&hostile_key));
	base = build_container(0x68616e676172ull);
	newest_generation = snaps[snap_num - 1].generation;
	set_case("encrypted base container");
	probe(base, EXPECT_OPEN, VERIFY_ORACLE, true);
	check_must_be_clean(base, "encrypted base container");
	sweep_encrypted(base, &rng);
	const uint64_t enc_cases = hostile_stats.cases - plain_cases;
	fprintf(stderr,
		"test_hostile encrypted: %" PRIu64 " cases, %" PRIu64
		" clean open errors, %" PRIu64 " opens verified against the "
		"oracle (%" PRIu64 " from the older slot), %" PRIu64
		" clean read errors, %" PRIu64 " read-write cycles, 0 wrong "
		"data\n",
		enc_cases, hostile_stats.open_errors - plain.open_errors,
		hostile_stats.opens_verified - plain.opens_verified,
		hostile_stats.fallback_opens - plain.fallback_opens,
		hostile_stats.read_errors - plain.read_errors,
		hostile_stats.rw_cycles - plain.rw_cycles);

	fprintf(stderr,
		"test_hostile: %" PRIu64 " cases (%" PRIu64 " crafted, %" PRIu64
		" on an encrypted container), %" PRIu64
		" clean open errors, %" PRIu64 " opens verified against the "
		"oracle (%" PRIu64 " from the older slot, %" PRIu64
		" clusters showing the newer generation), %" PRIu64
		" clean read errors, %" PRIu64 " read-write cycles, %" PRIu64
		" checks, %" PRIu64 " known-bug hits, %lld s\n",
		hostile_stats.cases, crafted, enc_cases,
		hostile_stats.open_errors, hostile_stats.opens_verified,
		hostile_stats.fallback_opens, hostile_stats.newer_clusters,
		hostile_stats.read_errors, hostile_stats.rw_cycles,
		hostile_stats.check_runs, known_bug_hits,
		(long long)(time(NULL) - t0));
	memio_free(base);
	crypto_key_free(hostile_key);
	hostile_key = NULL;
	oracle_free();

	/* 4. the same guest with small metadata nodes: 16 KiB clusters,
	 * 4 KiB nodes sharing metadata clusters */
	const uint64_t before_nodes = hostile_stats.cases;
	const struct stats before = hostile_stats;
	hostile_cluster_shift = 14;
	base = build_container(0x68616e676172ull);
	newest_generation = snaps[snap_num - 1].generation;
	set_case("small-nodes base container");
	probe(base, EXPECT_OPEN, VERIFY_ORACLE, true);
	check_must_be_clean(base, "small-nodes base container");
	sweep_small_nodes(base, &rng);
	fprintf(stderr,
		"test_hostile small nodes: %" PRIu64 " cases, %" PRIu64
		" clean open errors, %" PRIu64 " opens verified against the "
		"oracle (%" PRIu64 " from the older slot), %" PRIu64
		" clean read errors, %" PRIu64 " read-write cycles, 0 wrong "
		"data, %lld s in all\n",
		hostile_stats.cases - before_nodes,
		hostile_stats.open_errors - before.open_errors,
		hostile_stats.opens_verified - before.opens_verified,
		hostile_stats.fallback_opens - before.fallback_opens,
		hostile_stats.read_errors - before.read_errors,
		hostile_stats.rw_cycles - before.rw_cycles,
		(long long)(time(NULL) - t0));
	memio_free(base);
	oracle_free();
	return 0;
}
