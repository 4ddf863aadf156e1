/*
 * savelock.h -- the save lock: a memory image and the disk states it needs.
 *
 * The reason hangar exists.  When memory.save is sealed (its last writer
 * closed it, or it was renamed into that name) the container records, in the
 * SAME transaction, the generation of every disk (*.raw) of the guest.  From
 * then on, while that image is resumable:
 *   - writes to a pinned disk through a new handle are refused (-EBUSY,
 *     save_lock_check_write), and so are unlink and rename of a pinned disk;
 *   - a write that still arrives (through a handle opened before the save,
 *     as with `xl save -c`) first commits the image's INVALIDATION: the image
 *     is renamed memory.save.stale (an ordinary file) and resume refuses with
 *     the reason, so a stale image can never be resumed against a disk that
 *     moved on;
 *   - save_lock_resume() checks every pinned disk is still at its pinned
 *     generation and moves to RESUMING; the guest's first disk write then
 *     commits the image's RETIREMENT (unlinked; open handles keep reading);
 *   - save_lock_discard() (or unlinking memory.save) drops image and pins.
 *
 * States and the function performing each transition:
 *
 *   NONE --object_create(memory.save)--> (unsealed image, state NONE)
 *   NONE --save_lock_seal / object_rename(->memory.save)--> SAVED
 *   SAVED --save_lock_resume--> RESUMING --first disk write--> NONE (retired)
 *   SAVED --write to pinned disk via old handle--> INVALIDATED
 *   SAVED|RESUMING|INVALIDATED --save_lock_discard / unlink--> NONE
 *   INVALIDATED --save_lock_discard, or a new seal--> NONE / SAVED
 *
 * Every transition is one transaction, committed before the call returns,
 * so its outcome survives any crash and can be queried after a restart.
 * Invariant: the image and its pins are both in a committed state or both
 * absent (invariant 5 of DESIGN.md).
 *
 * THREAD MODEL: as container.h; these calls take the container write lock.
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

struct save_pin_status {
	uint64_t object_id;
	char name[256]; /* current name, "" if the disk is gone */
	uint64_t pinned_generation;
	uint64_t current_generation; /* 0 if gone */
	bool changed; /* current differs, or uncommitted writes */
};

struct save_status {
	enum save_state state;
	uint64_t image_id;   /* SAVED/RESUMING: the image */
	bool image_unsealed; /* memory.save exists, still being written */
	struct timespec saved_time; /* when sealed */
	bool config_changed;	    /* `config` generation moved since seal */
	struct timespec event_time; /* INVALIDATED: when */
	char event_object[256];	    /* INVALIDATED: which disk was written */
	size_t pin_count;
	struct save_pin_status pins[64];
};

/* save_state_name - "stopped", "saved", "resuming", "invalidated". */
const char *save_state_name(enum save_state state);

/*
 * save_lock_seal - seal memory.save as the save image: pin every disk's
 * generation and commit.  Called by the FUSE layer when the last writer of
 * memory.save releases it.  -ENOENT if there is no memory.save.  Sealing an
 * already sealed, unchanged image is a no-op.
 */
int save_lock_seal(struct container *c);

/*
 * save_lock_resume - allow the saved guest to restore: verify every pinned
 * disk is at its pinned generation with no uncommitted change, then move to
 * RESUMING and commit.  On refusal returns -ESTALE (disk moved on, or the
 * image was invalidated) or -ENOENT (nothing saved) and writes a sentence
 * saying why into `reason` (may be NULL).
 */
int save_lock_resume(struct container *c, char *reason, size_t reason_len);

/* save_lock_discard - delete the image (saved, stale or resuming) and its
 * pins in one commit.  -ENOENT if there is no save state and no image. */
int save_lock_discard(struct container *c);

/*
 * save_lock_check_write - 0 if object `id` may be opened for writing,
 * truncated or punched through a new handle; -EBUSY if a sealed image pins
 * it (SAVED state).  `reason` (may be NULL) gets the log line to print.
 */
int save_lock_check_write(struct container *c, uint64_t id, char *reason,
			  size_t reason_len);

/* save_lock_status - the whole save state, for `hangar status` and xattrs. */
int save_lock_status(struct container *c, struct save_status *out_status);

#endif /* HANGAR_SAVELOCK_H */
