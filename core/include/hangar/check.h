/*
 * check.h -- verify a container completely, trusting nothing.
 *
 * check_container() reads a container through an io and verifies: both
 * superblocks (which are valid, which is chosen), the object table chain,
 * every map node of every object (checksums, parent/child crc links, kinds,
 * bounds: nothing points into the header area, past the end of the file, or
 * into a cluster that something else references), every compressed cluster's
 * checksum and frame, and the allocation accounting (clusters referenced
 * twice are errors; the referenced count must equal the superblock's
 * used_clusters: more recorded than referenced is reported as that many
 * leaked clusters, fewer as an accounting error; either way the rest of the
 * container is still verified).
 *
 * It never writes and never repairs.  Hostile input is bounded: tree height,
 * table length and record sizes are capped, cycles are caught by the
 * referenced-twice test.  The report is structured; core never prints.
 *
 * Ownership: the io is borrowed for the call and never closed; the report is
 * the caller's.  Everything the check loads is private to the call.
 * Locking: none taken.  It reads the file as it is: run it on a container no
 * one is committing to (the CLI says so on a mounted store), or a finding
 * may be a commit in progress rather than damage.
 */
#ifndef HANGAR_CHECK_H
#define HANGAR_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct io;
struct crypto_key;

#define CHECK_MAX_MESSAGES 32

struct check_report {
	uint64_t errors;	  /* problems found (0 = clean) */
	uint64_t leaked_clusters; /* recorded used minus referenced, if > 0 */
	uint64_t generation;	  /* generation of the chosen superblock */
	bool superblock_valid[2]; /* slot A, slot B */
	uint32_t cluster_size;
	uint64_t file_clusters; /* clusters in the file */
	uint64_t referenced_clusters;
	uint64_t objects;
	uint64_t map_nodes;
	uint64_t data_clusters; /* raw clusters */
	uint64_t compressed_extents;
	bool encrypted;	      /* the container is encrypted (and was opened) */
	bool key_missing;     /* encrypted, and no key was given: not checked */
	bool key_rejected;    /* encrypted under another key: not checked */
	size_t message_count; /* messages kept (at most CHECK_MAX_MESSAGES) */
	char messages[CHECK_MAX_MESSAGES][160];
};

/*
 * check_container - verify the container behind `io` (borrowed, read only).
 * Returns 0 when the check ran (look at report->errors), or a negative errno
 * when it could not run at all (-ENOMEM, a read error).
 */
int check_container(struct io *io, struct check_report *out_report);

/*
 * check_container_key - check_container for a container of an encrypted
 * store: `master` (borrowed; NULL for a plain store) is the store's master
 * key.  An encrypted container is then verified completely, every data
 * cluster's GCM tag included.  Without the key it cannot be checked: the
 * report has one error ("a key is needed") and key_missing set; with
 * another store's key, key_rejected.
 */
int check_container_key(struct io *io, const struct crypto_key *master,
			struct check_report *out_report);

/*
 * check_progress_fn - called by check_container_progress as the walk goes,
 * on the calling thread: `done` of `total` referenced clusters verified so
 * far (total is 0 until the container is loaded).  Progress only: it may
 * not touch the container.
 */
typedef void (*check_progress_fn)(void *arg, uint64_t done, uint64_t total);

/*
 * check_container_progress - check_container_key reporting progress through
 * `fn` (may be NULL) at least every CHECK_PROGRESS_STEP clusters, so a
 * single large guest does not sit at 0 % until its check ends.
 */
#define CHECK_PROGRESS_STEP 4096u
int check_container_progress(struct io *io, const struct crypto_key *master,
			     check_progress_fn fn, void *fn_arg,
			     struct check_report *out_report);

#endif /* HANGAR_CHECK_H */
