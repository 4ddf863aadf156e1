/*
 * savelog.c -- the save lock's refusals, as the person at the console sees
 * them.
 *
 * Core decides (save_lock_check_write); this file only turns a refusal into
 * the one log line the design asks for (docs/design.md), naming the guest, the object and the
 * action, followed by core's reason, e.g.
 *
 *   web01/disk.raw: read-write open refused: memory.save (saved 2026-11-22
 *   01:00:03 UTC) depends on this disk; resume with 'hangar resume' or
 *   remove memory.save to discard it
 *
 * A program that retries a refused open in a loop (mount -o loop does,
 * forever) must not flood the log: the same refusal (guest, object, action)
 * is logged at most REFUSAL_BURST times per REFUSAL_QUIET_SECONDS (so
 * several programs tried one after the other each get their line), and the
 * next line after a quiet spell says how many were refused in between.
 *
 * THREAD MODEL: the refusal table is this file's only state, protected by
 * `refusals_lock`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <syslog.h>
#include <time.h>

#include "hangarfs.h"
#include "hangar/savelock.h"

#define REFUSAL_SLOTS	      32
#define REFUSAL_QUIET_SECONDS 10
#define REFUSAL_BURST	      8

struct refusal {
	char key[HFS_GUEST_NAME_MAX + HFS_OBJECT_NAME_MAX + 32];
	time_t window;	 /* start of the current window */
	unsigned logged; /* lines logged in it */
	unsigned long suppressed;
};

static struct refusal refusals[REFUSAL_SLOTS]; /* refusals_lock */
static pthread_mutex_t refusals_lock = PTHREAD_MUTEX_INITIALIZER;

/* Whether to log this refusal now; *out_suppressed says how many of the same
 * were kept quiet since it was last logged. */
static bool refusal_should_log(const char *key, unsigned long *out_suppressed)
{
	time_t now = time(NULL);
	struct refusal *slot = NULL, *oldest = &refusals[0];
	bool log_now;

	pthread_mutex_lock(&refusals_lock);
	for (size_t i = 0; i < REFUSAL_SLOTS; i++) {
		if (strcmp(refusals[i].key, key) == 0) {
			slot = &refusals[i];
			break;
		}
		if (refusals[i].window < oldest->window)
			oldest = &refusals[i];
	}
	if (!slot) {
		slot = oldest;
		snprintf(slot->key, sizeof(slot->key), "%s", key);
		slot->window = 0;
		slot->logged = 0;
		slot->suppressed = 0;
	}
	if (now - slot->window >= REFUSAL_QUIET_SECONDS) {
		slot->window = now;
		slot->logged = 0;
	}
	log_now = slot->logged < REFUSAL_BURST;
	if (log_now) {
		*out_suppressed = slot->suppressed;
		slot->suppressed = 0;
		slot->logged++;
	} else {
		slot->suppressed++;
	}
	pthread_mutex_unlock(&refusals_lock);
	return log_now;
}

int savelog_check_write(const struct hfs *fs, struct container *c,
			const char *guest, uint64_t id, const char *action)
{
	char reason[512] = "";
	char name[HFS_OBJECT_NAME_MAX];
	const char *why;
	int err;

	err = save_lock_check_write(c, id, reason, sizeof(reason));
	if (err != -EBUSY)
		return err;
	if (object_name_of(c, id, name, sizeof(name)) != 0 || !name[0])
		snprintf(name, sizeof(name), "(object %llu)",
			 (unsigned long long)id);
	/* Core says why; the line adds which guest, which action and the
	 * exact commands that release the lock. */
	why = reason;
	char key[sizeof(refusals[0].key)];
	unsigned long quiet = 0;
	snprintf(key, sizeof(key), "%s/%s/%s", guest, name, action);
	if (!refusal_should_log(key, &quiet))
		return err;
	char more[64] = "";
	if (quiet)
		snprintf(more, sizeof(more), " (%lu more refused since)",
			 quiet);
	log_object(LOG_WARNING, guest, name,
		   "%s/%s: %s refused: %s; resume with 'hangar resume %s %s' "
		   "or remove memory.save to discard it%s",
		   guest, name, action,
		   why[0] ? why : "a saved memory image depends on it",
		   fs->store_path, guest, more);
	return err;
}

void savelog_not_resumable(struct container *c, const char *guest,
			   const char *how)
{
	struct save_status *st = malloc(sizeof(*st));
	if (!st)
		return;
	if (save_lock_status(c, st) == 0 && st->state == SAVE_STATE_INVALIDATED)
		log_object(LOG_WARNING, guest, SAVE_IMAGE_NAME,
			   "%s/%s: stored (%s) but not resumable: %s", guest,
			   SAVE_IMAGE_NAME, how, st->reason);
	free(st);
}

void savelog_sealed(struct container *c, const char *guest, const char *how)
{
	struct save_status *st = malloc(sizeof(*st));
	char disks[512] = "";
	size_t used = 0;

	if (!st)
		return;
	if (save_lock_status(c, st) != 0 || st->state != SAVE_STATE_SAVED) {
		free(st);
		savelog_not_resumable(c, guest, how);
		return;
	}
	for (size_t i = 0; i < st->pin_count && used < sizeof(disks); i++) {
		int n = snprintf(disks + used, sizeof(disks) - used, "%s%s",
				 i ? ", " : "", st->pins[i].name);

		if (n < 0)
			break;
		used += (size_t)n;
	}
	log_object(LOG_NOTICE, guest, SAVE_IMAGE_NAME,
		   "%s/%s: save image sealed (%s); writes to the files it pins "
		   "are refused until resume or discard; pinned: %s%s",
		   guest, SAVE_IMAGE_NAME, how,
		   st->pin_count ? disks : "no files",
		   st->pin_total > st->pin_count ? ", ..." : "");
	free(st);
}
