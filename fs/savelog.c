/*
 * savelog.c -- the save lock's refusals, as the person at the console sees
 * them.
 *
 * Core decides (save_lock_check_write); this file only turns a refusal into
 * the one log line DESIGN.md asks for, naming the guest, the object and the
 * action, followed by core's reason, e.g.
 *
 *   web01/disk.raw: read-write open refused: memory.save (saved 2026-11-22
 *   01:00:03 UTC) depends on this disk; resume with 'hangar resume' or
 *   remove memory.save to discard it
 *
 * THREAD MODEL: no state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "hangarfs.h"
#include "savelock.h"

int savelog_check_write(struct container *c, const char *guest, uint64_t id,
			const char *action)
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
	/* Core's reason reads "NAME: read-write open refused: WHY"; keep WHY
	 * and say which guest and which action. */
	why = strstr(reason, "refused: ");
	why = why ? why + strlen("refused: ") : reason;
	log_msg(LOG_WARNING, "%s/%s: %s refused: %s", guest, name, action,
		why[0] ? why : "a saved memory image depends on it");
	return err;
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
		return;
	}
	for (size_t i = 0; i < st->pin_count && used < sizeof(disks); i++) {
		int n = snprintf(disks + used, sizeof(disks) - used, "%s%s",
				 i ? ", " : "", st->pins[i].name);

		if (n < 0)
			break;
		used += (size_t)n;
	}
	log_msg(LOG_NOTICE,
		"%s/%s: save image sealed (%s); writes to its disks are "
		"refused until resume or discard; pinned: %s",
		guest, SAVE_IMAGE_NAME, how,
		st->pin_count ? disks : "no disks");
	free(st);
}
