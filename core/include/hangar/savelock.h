/*
 * savelock.h -- the save lock: a memory image and the file states it needs.
 *
 * The reason hangar exists.  A memory image is only worth resuming against
 * the exact disks it was saved with.  So:
 *
 *   1. A dependency is recorded once, when an image's bytes are complete
 *      (its last writer closed it, or a complete file was renamed onto
 *      memory.save), and it travels with the image: it is a *seal* owned by
 *      the image object (its pins: id, generation and name of every file of
 *      the guest except `config`, dot files and memory.save* files), kept
 *      through any rename.  Renaming an image away and back judges it by
 *      its own seal; it is never sealed a second time.
 *   2. Only the object named memory.save enforces its seal.  While it is
 *      SAVED, writes to a pinned file through a new handle, truncate,
 *      fallocate, unlink and rename-over are refused (-EBUSY); a write that
 *      still arrives (a handle opened before the save, as with `xl save -c`)
 *      first commits the image's INVALIDATION (renamed memory.save.stale).
 *   3. An image can only become resumable if (a) no file of the guest
 *      changed after its bytes were complete (generations), (b) its content
 *      fingerprint is not that of a spent image (retired, invalidated,
 *      discarded or incomplete: a copy of one stays stale), and (c) its
 *      writer saw no failed write (OBJECT_FLAG_IMAGE_TAINTED).  Anything
 *      else is recorded INVALIDATED with the reason, forever.
 *   4. While memory.save is SAVED, a file that arrives complete later (a
 *      restore from a backup copying files in any order) is pinned too, at
 *      the commit after its last writer closed it.
 *
 * States of the guest (derived from memory.save and its seal) and the
 * function performing each transition:
 *
 *   NONE --object_create(memory.save)--> (unsealed image, state NONE)
 *   NONE --save_lock_seal (last close) / rename onto memory.save--> SAVED
 *        (or INVALIDATED when 3 fails)
 *   SAVED --save_lock_resume--> RESUMING --first write to a pin--> NONE
 *   SAVED --write to a pinned file via an old handle--> INVALIDATED
 *   SAVED|RESUMING --rename memory.save away--> NONE (the seal goes along)
 *   any --save_lock_discard / unlink memory.save--> NONE
 *
 * Every transition is one transaction, committed before the call returns,
 * so its outcome survives any crash and can be queried after a restart.
 * Invariant: an image and its pins are both in a committed state or both
 * absent; a seal, once INVALIDATED, never becomes SAVED again.
 *
 * THREAD MODEL: as container.h; these calls take the container write lock,
 * save_lock_status and save_lock_check_write the read lock.
 */
#ifndef HANGAR_SAVELOCK_H
#define HANGAR_SAVELOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct container;

#define SAVE_IMAGE_NAME		   "memory.save"
#define SAVE_IMAGE_STALE_NAME	   "memory.save.stale"
#define SAVE_IMAGE_INCOMPLETE_NAME "memory.save.incomplete"

enum save_state {
	SAVE_STATE_NONE = 0,
	SAVE_STATE_SAVED = 1,
	SAVE_STATE_RESUMING = 2,
	SAVE_STATE_INVALIDATED = 3,
};

/* Why an image is not resumable (SAVE_STATE_INVALIDATED).  On disk. */
enum save_why {
	SAVE_WHY_NONE = 0,
	SAVE_WHY_WRITTEN = 1,  /* a pinned file was written after the seal */
	SAVE_WHY_MOVED_ON = 2, /* renamed back after a pinned file changed */
	SAVE_WHY_COPY = 3,     /* its bytes are those of a spent image */
	SAVE_WHY_OLDER = 4,    /* a file changed after its bytes were written */
	SAVE_WHY_INCOMPLETE =
		5,	      /* a write or the seal failed, or never closed */
	SAVE_WHY_REMOVED = 6, /* a pinned file is gone */
};
#define SAVE_WHY_MAX SAVE_WHY_REMOVED

struct save_pin_status {
	uint64_t object_id;
	char name[256]; /* current name, "" if the disk is gone */
	uint64_t pinned_generation;
	uint64_t current_generation; /* 0 if gone */
	bool changed; /* current differs, or uncommitted writes */
};

struct save_status {
	enum save_state state;
	uint64_t image_id;   /* the image (memory.save, or the .stale one) */
	bool image_unsealed; /* memory.save exists, still being written */
	enum save_why why;   /* INVALIDATED: why */
	char reason[512];    /* INVALIDATED: the sentence resume would print */
	struct timespec saved_time; /* when sealed */
	bool config_changed;	    /* `config` generation moved since seal */
	struct timespec event_time; /* INVALIDATED: when */
	char event_object[256];	    /* INVALIDATED: which disk was written */
	size_t pin_count;	    /* pins[] entries filled (at most 64) */
	size_t pin_total;	    /* files the image pins (may exceed 64) */
	struct save_pin_status pins[64];
};

/* save_state_name - "stopped", "saved", "resuming", "invalidated". */
const char *save_state_name(enum save_state state);

/*
 * save_lock_seal - seal memory.save as the save image: pin every file's
 * generation and commit.  Called by the FUSE layer when the last writer of
 * memory.save closes it.  -ENOENT if there is no memory.save.  Sealing an
 * already sealed, unchanged image is a no-op.  An image that cannot be
 * made resumable (a copy of a spent image, older than a file of the guest)
 * is recorded INVALIDATED and 0 is returned: the writer's bytes are stored,
 * the status says why.  Errors, after which nothing durable says "saved"
 * and the image is never resumable: -EIO (a write to the image failed),
 * -E2BIG (more files than a seal can pin; `reason` says how many), or the
 * commit's error.  `reason` may be NULL.
 */
int save_lock_seal_why(struct container *c, char *reason, size_t reason_len);
/* save_lock_seal - save_lock_seal_why without the sentence. */
int save_lock_seal(struct container *c);

/*
 * save_lock_resume - allow the saved guest to restore: verify every pinned
 * disk is at its pinned generation with no uncommitted change, then move to
 * RESUMING and commit.  On refusal returns -ESTALE (disk moved on, or the
 * image was invalidated) or -ENOENT (nothing saved) and writes a sentence
 * saying why into `reason` (may be NULL).
 */
int save_lock_resume(struct container *c, char *reason, size_t reason_len);

/* save_lock_discard - delete memory.save, memory.save.stale and
 * memory.save.incomplete (whatever their state) in one commit; their
 * fingerprints are remembered as spent.  -ENOENT if there is none. */
int save_lock_discard(struct container *c);

/*
 * save_lock_check_write - 0 if object `id` may be opened for writing,
 * truncated or punched through a new handle; -EBUSY if a sealed image pins
 * it (SAVED state).  `reason` (may be NULL) gets why, e.g. "memory.save
 * (saved 2026-11-22 01:00:03 UTC) depends on this file"; the caller adds
 * how to release it (it knows the store and guest names).
 */
int save_lock_check_write(struct container *c, uint64_t id, char *reason,
			  size_t reason_len);

/* save_lock_status - the whole save state, for `hangar status` and xattrs. */
int save_lock_status(struct container *c, struct save_status *out_status);

#endif /* HANGAR_SAVELOCK_H */
