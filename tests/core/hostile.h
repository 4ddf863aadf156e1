/*
 * hostile.h -- what the pieces of test_hostile share (see test_hostile.c
 * for the contract the test checks).  One executable, several files:
 *
 *   hostile_oracle.c       builds the realistic container and keeps the
 *                          contents of every object at every committed
 *                          generation (the oracle);
 *   hostile_layout.c       a parser of the container's metadata for crafting
 *                          (every block, where its parent keeps its crc) and
 *                          reseal(), which recomputes checksums bottom-up;
 *   hostile_probe.c        the contract for one damaged image: probe(), and
 *                          damage_and_probe(), sweep_range(),
 *                          sweep_superblocks_and_table() and
 *                          sweep_random_bytes() for sweeps;
 *   hostile_crafted.c      crafted map entries, truncated files, compressed
 *                          data, the older slot after reuse;
 *   hostile_crafted_meta.c crafted superblocks, object tables and records,
 *                          recovery at open;
 *   hostile_random.c       the plain sweep: every byte of the superblocks,
 *                          tables and map roots, then random metadata bytes;
 *   hostile_encrypted.c    the sweep of the same guest encrypted;
 *   hostile_nodes.c        the sweep of the same guest with small metadata
 *                          nodes (16 KiB clusters, 4 KiB nodes).
 *
 * The test's state is the globals below (one thread; main sets them up):
 * the oracle, the encrypted part's key, the counters, the current case's
 * name (FAIL prints it) and the known-bug switches.
 */
#ifndef HANGAR_TESTS_HOSTILE_H
#define HANGAR_TESTS_HOSTILE_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "hangar/check.h"
#include "hangar/container.h"
#include "container_open.h"
#include "crc32c.h"
#include "crypto.h"
#include "format.h"
#include "harness.h"
#include "memio.h"
#include "hangar/savelock.h"

#define CS	   4096u
#define CSHIFT	   12u
#define MAX_OBJS   16
#define MAX_SNAPS  16
#define MAX_BLOCKS 256

/* ---- the oracle (hostile_oracle.c) ---------------------------------------- */

struct snap_obj {
	char name[256];
	uint64_t size;
	uint8_t *data;
};

struct snap {
	uint64_t generation;
	size_t num;
	struct snap_obj obj[MAX_OBJS];
};

extern struct snap snaps[MAX_SNAPS];
extern size_t snap_num;
/* NULL: the plain part; else the master key of the encrypted part, given
 * at every create, open and check. */
extern struct crypto_key *hostile_key;
/* The cluster shift of the container build_container makes: CSHIFT (whole
 * 4 KiB clusters as nodes) for the plain and encrypted parts; larger for
 * the small-nodes part, whose 4 KiB nodes share metadata clusters. */
extern unsigned hostile_cluster_shift;

/* The container every case starts from (with hostile_key when set), its
 * generations recorded in snaps[]. */
struct memio *build_container(uint64_t seed);
const struct snap *snap_of(uint64_t generation);
const struct snap_obj *snap_find(const struct snap *s, const char *name);
void fill_random(uint8_t *p, size_t len, uint64_t *rng);
/* oracle_free - forget every snapshot (before building another base). */
void oracle_free(void);

/* ---- the layout parser (hostile_layout.c) --------------------------------- */

enum blk_kind { BLK_TABLE, BLK_NODE };

struct blk {
	enum blk_kind kind;
	uint64_t off;
	int parent; /* index of the parent block, -1: the superblock */
	uint64_t
		crc_field; /* absolute offset of the parent's copy of our crc */
	uint64_t owner;
	unsigned level;
	int object; /* index in objs[] for nodes */
	bool root;
};

struct rec {
	char name[256];
	uint64_t off;	 /* absolute offset of the record */
	int table_block; /* index in blks[] */
	uint64_t id;
	uint64_t root;
	unsigned height;
};

struct layout {
	uint64_t sb_off; /* the newest slot */
	uint64_t old_sb_off;
	struct blk blks[MAX_BLOCKS];
	int blk_num;
	struct rec recs[MAX_OBJS];
	int rec_num;
	uint64_t save_off; /* absolute offset of the image seal, 0 none */
	int save_block;
};

uint64_t sb_gen(const uint8_t *img, uint64_t off);
void layout_parse(struct layout *l, const uint8_t *img);
const struct rec *rec_named(const struct layout *l, const char *name);
int root_of(const struct layout *l, const char *name);
int leaf_of(const struct layout *l, const char *name);
void sb_reseal(uint8_t *img, uint64_t sb_off);
void reseal(const struct layout *l, uint8_t *img, int idx);
uint8_t *entry_at(const struct layout *l, uint8_t *img, int blk, unsigned i);
int entry_find(const struct layout *l, const uint8_t *img, int blk,
	       unsigned kind, int skip);

/* ---- probing one image (hostile_probe.c) ---------------------------------- */

struct stats {
	uint64_t cases;
	uint64_t open_errors;	 /* clean error at open */
	uint64_t opens_verified; /* opened, every object checked */
	uint64_t read_errors;	 /* clean error while reading */
	uint64_t fallback_opens; /* opened the older slot */
	uint64_t newer_clusters; /* fallback showed the newer bytes */
	uint64_t rw_cycles;	 /* opened read-write, written, checked */
	uint64_t check_runs;
};

extern struct stats hostile_stats;

/* A crafted case that trips a core bug we reported: it is counted and
 * printed, and fails the test only with HANGAR_HOSTILE_STRICT=1 (set it once
 * the bug is fixed).  See tests/fuzz/regressions/README.md. */
extern const char *known_bug;
extern uint64_t known_bug_hits;
extern bool strict;
extern uint64_t newest_generation;
extern char case_name[200];

#define FAIL(...)                                                              \
	do {                                                                   \
		fprintf(stderr, "test_hostile: case [%s]: ", case_name);       \
		fprintf(stderr, __VA_ARGS__);                                  \
		fprintf(stderr, "\n");                                         \
		exit(1);                                                       \
	} while (0)

enum verify_mode {
	VERIFY_ORACLE, /* contents must match the oracle */
	VERIFY_LIGHT,  /* metadata was changed on purpose: just read */
};

enum expect {
	EXPECT_EITHER, /* a clean error, or an open that verifies */
	EXPECT_FAIL,   /* open must fail cleanly */
	EXPECT_OPEN,   /* open must succeed */
};

void set_case(const char *fmt, ...);
void check_must_be_clean(struct memio *m, const char *when);
int probe(struct memio *m, enum expect expect, enum verify_mode mode, bool rw);
void damage_and_probe(struct memio *m, uint64_t off, uint8_t value, bool rw);
void sweep_range(struct memio *m, const char *what, uint64_t start,
		 uint64_t len, unsigned rw_every);

/* ---- the cases ------------------------------------------------------------- */

extern uint64_t crafted_cases;
struct memio *crafted_fresh(const struct memio *base, struct layout *l);
void crafted_done(struct memio *m, enum expect expect, enum verify_mode mode,
		  bool rw);
void crafted_map_entries(const struct memio *base);
void crafted_files(const struct memio *base);
void crafted_data(const struct memio *base);
void crafted_fallback_reuse(const struct memio *base);
void crafted_superblock(const struct memio *base);
void crafted_table(const struct memio *base);
void crafted_recovery(const struct memio *base);
void sweep_plain(struct memio *m, uint64_t *rng);
void sweep_encrypted(struct memio *m, uint64_t *rng);
void sweep_small_nodes(struct memio *m, uint64_t *rng);
/* Every byte of both superblocks, and every `stride`-th byte of table
 * block 0 of each slot (found from the superblocks; 4 KiB), damaged and
 * probed; `label` names the cases. */
void sweep_superblocks_and_table(struct memio *m, const char *label,
				 unsigned stride);
/* `count` random bytes (bit flips or new values) in the regions
 * [starts[i], starts[i] + span), each probed against the contract;
 * `label` names the cases. */
void sweep_random_bytes(struct memio *m, const char *label, long count,
			const uint64_t *starts, size_t num, uint64_t span,
			uint64_t *rng);

#endif /* HANGAR_TESTS_HOSTILE_H */
