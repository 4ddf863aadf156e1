/*
 * snapview.c -- reading a guest's snapshot from the command line (diff,
 * export --snapshot, clone SRC@SNAP), mounted or not.
 *
 * Why a snapshot may be read beside the daemon that writes the store: a
 * snapshot's frozen table and trees are committed metadata (each block
 * verified against the checksum its parent recorded), and nothing a
 * snapshot maps is freed or rewritten while the snapshot exists (the
 * daemon copies a shared cluster before writing it).  The one way its
 * clusters can be reused is the snapshot's deletion, and clusters freed by
 * a commit become allocatable only after that commit (core/FORMAT.md
 * section 4, "Snapshots", crash argument).  So a reader beside a writer
 * reads the snapshot, then looks at the writer's newest committed state:
 * if the snapshot (same id: ids are never reused) is still there, no
 * deleting commit happened while it read, and every byte it read was the
 * snapshot's (cli_snapshot_verify).  If it is gone, the copy is refused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Print the snapshots `guest` has, as advice after "no such snapshot". */
static void snapshot_list_note(struct container *c, const char *guest)
{
	struct snapshot_info *list = NULL;
	char names[512] = "";
	size_t num = 0, used = 0;

	if (container_snapshot_list(c, &list, &num) != 0)
		return;
	for (size_t i = 0; i < num && used + 70 < sizeof(names); i++)
		used += (size_t)snprintf(names + used, sizeof(names) - used,
					 "%s%s", i ? ", " : "", list[i].name);
	if (num == 0)
		cli_note("guest %s has no snapshots", guest);
	else
		cli_note("snapshots of %s: %s", guest, names);
	free(list);
}

/* The id of snapshot `snap` of `c`; -ENOENT if it has none by that name. */
static int snapshot_id_of(struct container *c, const char *snap,
			  uint64_t *out_id)
{
	struct snapshot_info *list = NULL;
	size_t num = 0;
	int rc = container_snapshot_list(c, &list, &num);

	if (rc)
		return rc;
	rc = -ENOENT;
	for (size_t i = 0; i < num; i++)
		if (strcmp(list[i].name, snap) == 0) {
			*out_id = list[i].id;
			rc = 0;
			break;
		}
	free(list);
	return rc;
}

int cli_snapshot_find(const struct cli_store *cs, struct container *c,
		      const char *guest, const char *snap, uint64_t *out_id)
{
	int rc = snapshot_id_of(c, snap, out_id);

	if (rc == -ENOENT) {
		cli_error("%s: guest %s has no snapshot named %s", cs->dir,
			  guest, snap);
		snapshot_list_note(c, guest);
	} else if (rc) {
		cli_error("%s: cannot list the snapshots of %s: %s", cs->dir,
			  guest, cli_strerror(rc));
	}
	return rc;
}

int cli_snapshot_open(struct cli_store *cs, const char *guest, const char *snap,
		      struct cli_snapshot *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	out->beside_writer = cs->holder != 0;
	rc = guest_get_stable(cs->store, guest, &out->guest);
	if (rc) {
		out->guest = NULL;
		if (rc == -ENOENT)
			cli_error("%s: no guest named %s", cs->dir, guest);
		else
			cli_error("%s: cannot read guest %s: %s", cs->dir,
				  guest, cli_strerror(rc));
		return rc;
	}
	rc = cli_snapshot_find(cs, out->guest, guest, snap, &out->id);
	if (rc == 0) {
		rc = container_snapshot_open(out->guest, snap, &out->view);
		if (rc)
			cli_error("%s: cannot read snapshot %s of %s: %s",
				  cs->dir, snap, guest, cli_strerror(rc));
	}
	if (rc) {
		out->view = NULL;
		store_guest_put(cs->store, out->guest);
		out->guest = NULL;
	}
	return rc;
}

int cli_snapshot_verify(const struct cli_store *cs, const char *guest,
			const char *snap, const struct cli_snapshot *s)
{
	struct cli_store now;
	struct container *c = NULL;
	uint64_t id = 0;
	int rc;

	if (!s->beside_writer)
		return 0; /* nobody else could delete it */
	/* A store of our own, so the guest is loaded again from the
	 * writer's newest superblock (the first store keeps the old one). */
	rc = cli_store_open(cs->dir, CLI_ACCESS_READ_METADATA, &now);
	if (rc)
		return -ESTALE;
	rc = guest_get_stable(now.store, guest, &c);
	if (rc == 0) {
		rc = snapshot_id_of(c, snap, &id);
		store_guest_put(now.store, c);
	}
	(void)cli_store_close(&now);
	if (rc == 0 && id == s->id)
		return 0;
	cli_error("%s: snapshot %s of %s was deleted while it was being read "
		  "(the store is mounted): what was read may hold other bytes",
		  cs->dir, snap, guest);
	cli_note("take a new snapshot and run the command again");
	return -ESTALE;
}

void cli_snapshot_close(struct cli_store *cs, struct cli_snapshot *s)
{
	if (s->view)
		container_snapshot_close(s->guest, s->view);
	if (s->guest)
		store_guest_put(cs->store, s->guest);
	s->view = NULL;
	s->guest = NULL;
}
