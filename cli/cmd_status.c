/*
 * cmd_status.c -- `hangar status STORE GUEST [--json] [--bytes]`.
 *
 * Everything about one guest, and above all its save lock: which memory
 * image pins which disks since when, whether each disk is still in the
 * pinned state, whether the config changed since the save, and the command
 * that releases it; and how many snapshots it has (hangar snapshot list
 * lists them).  When the store is mounted this is read from the last
 * committed state; whether a disk is open read-write right now is something
 * only the daemon knows (the user.hangar.* xattrs on the mount say it).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"

void usage_status(FILE *f)
{
	fprintf(f,
		"usage: hangar status [STORE] GUEST [--json] [--bytes]\n"
		"Show everything about GUEST: state, container, disks, "
		"memory image, config,\n"
		"and the save lock (which image pins which disks since "
		"when, whether the\n"
		"config changed since the save, and what releases it).\n\n"
		"  -j, --json    machine-readable output (exact byte counts)\n"
		"  -b, --bytes   print exact sizes\n" CLI_KEY_USAGE
		"  -h, --help    show this help\n");
}

static void status_objects(const struct guest_summary *g, const char *label,
			   enum object_role role, bool exact)
{
	char virt[FORMAT_SIZE_LEN], used[FORMAT_SIZE_LEN];
	char name[FORMAT_NAME_LEN];
	bool first = true;

	for (size_t i = 0; i < g->num_objects; i++) {
		const struct guest_object *o = &g->objects[i];

		if (o->attr.role != role)
			continue;
		if (role == OBJECT_ROLE_FILE && strcmp(o->name, "config") == 0)
			continue;
		printf("%-12s %-14s %s virtual, %s used, generation %" PRIu64
		       "\n",
		       first ? label : "",
		       format_name(name, sizeof(name), o->name),
		       format_size(virt, o->attr.size, exact),
		       format_size(used, o->attr.stored_bytes, exact),
		       o->attr.generation);
		first = false;
	}
	if (first)
		printf("%-12s -\n", label);
}

/* "snapshots    3, newest nightly (2026-12-07 01:00:03, 5 hours ago)". */
static void status_snapshots(const struct guest_summary *g)
{
	char when[FORMAT_TIME_LEN], age[FORMAT_TIME_LEN];
	const struct snapshot_info *newest;

	if (!g->num_snapshots) {
		printf("snapshots    -\n");
		return;
	}
	newest = &g->snapshots[g->num_snapshots - 1];
	printf("snapshots    %zu, newest %s (%s, %s)\n", g->num_snapshots,
	       newest->name, format_time(when, newest->created),
	       format_age(age, newest->created));
}

static void status_save_lock(const struct cli_store *cs,
			     const struct guest_summary *g)
{
	const struct save_status *s = &g->save;
	char when[FORMAT_TIME_LEN], age[FORMAT_TIME_LEN];
	char name[FORMAT_NAME_LEN], reason[4 * sizeof(s->reason)];

	if (g->save_error) {
		printf("save lock    unknown: %s\n",
		       cli_strerror(g->save_error));
		return;
	}
	switch (s->state) {
	case SAVE_STATE_NONE:
		if (s->image_unsealed)
			printf("save lock    none yet: memory.save is still "
			       "being "
			       "written (it seals when its writer closes "
			       "it)\n");
		else
			printf("save lock    none: the disks are writable\n");
		return;
	case SAVE_STATE_SAVED:
		printf("save lock    %s pins %zu file%s since %s (%s):\n",
		       SAVE_IMAGE_NAME, s->pin_total,
		       s->pin_total == 1 ? "" : "s",
		       format_time(when, s->saved_time),
		       format_age(age, s->saved_time));
		break;
	case SAVE_STATE_RESUMING:
		printf("save lock    resuming since the save of %s: the image "
		       "retires at the guest's first disk write\n",
		       format_time(when, s->saved_time));
		break;
	case SAVE_STATE_INVALIDATED:
		printf("save lock    stale since %s (%s): the image can never "
		       "be resumed\n"
		       "reason       %s\n",
		       format_time(when, s->event_time),
		       format_age(age, s->event_time),
		       format_name(reason, sizeof(reason), s->reason));
		break;
	}
	for (size_t i = 0; i < s->pin_count; i++) {
		const struct save_pin_status *p = &s->pins[i];

		if (p->name[0] == '\0')
			printf("             (object %" PRIu64 ") pinned at "
			       "generation %" PRIu64 ", now gone\n",
			       p->object_id, p->pinned_generation);
		else if (p->changed)
			printf("             %-14s pinned at generation "
			       "%" PRIu64 ", now %" PRIu64 " (CHANGED)\n",
			       format_name(name, sizeof(name), p->name),
			       p->pinned_generation, p->current_generation);
		else
			printf("             %-14s generation %" PRIu64
			       " (unchanged)\n",
			       format_name(name, sizeof(name), p->name),
			       p->pinned_generation);
	}
	/* Not changed and absent now means absent at the save too: no
	 * config to be "unchanged" (save_lock_status). */
	if ((s->state == SAVE_STATE_SAVED || s->state == SAVE_STATE_RESUMING) &&
	    !s->config_changed && !guest_summary_find(g, "config"))
		printf("config       none (the guest has no config file)\n");
	else if (s->state == SAVE_STATE_SAVED ||
		 s->state == SAVE_STATE_RESUMING)
		printf("config       %s since the save\n",
		       s->config_changed ? "CHANGED" : "unchanged");
	switch (s->state) {
	case SAVE_STATE_SAVED:
		printf("release      hangar resume %s %s   (before restoring "
		       "the guest from memory.save)\n"
		       "             hangar discard %s %s  (throw the saved "
		       "state away; boot fresh)\n",
		       cs->dir, g->name, cs->dir, g->name);
		break;
	case SAVE_STATE_RESUMING:
		printf("release      restore the guest now; or hangar discard "
		       "%s %s\n",
		       cs->dir, g->name);
		break;
	case SAVE_STATE_INVALIDATED:
		printf("release      hangar discard %s %s  (the stale image is "
		       "kept until then)\n",
		       cs->dir, g->name);
		break;
	default:
		break;
	}
}

/* "holder       host H, PID N, since T" when somebody holds the guest. */
static void status_holder(const struct guest_summary *g)
{
	char when[FORMAT_TIME_LEN];

	if (g->holder.pid <= 0)
		return;
	printf("holder       host %s, PID %ld", g->holder.host, g->holder.pid);
	if (g->holder.since > 0)
		printf(", since %s",
		       format_time(when,
				   (struct timespec){
					   .tv_sec = (time_t)g->holder.since}));
	printf("\n");
}

static void status_text(const struct cli_store *cs,
			const struct guest_summary *g, bool exact)
{
	char a[FORMAT_SIZE_LEN], b[FORMAT_SIZE_LEN], c[FORMAT_SIZE_LEN];
	char when[FORMAT_TIME_LEN], age[FORMAT_TIME_LEN];
	const struct guest_object *o;
	char name[FORMAT_NAME_LEN];

	printf("guest        %s\n", g->name);
	printf("state        %s", guest_state_text(g));
	if (!g->save_error && g->save.state != SAVE_STATE_NONE)
		printf(" since %s (%s)", format_time(when, g->save.saved_time),
		       format_age(age, g->save.saved_time));
	printf("\n");
	if (cs->read_only && cs->holder) {
		char holder[4400], path[4400];

		cli_store_holder_text(cs, holder, sizeof(holder));
		cli_store_mount_path(cs, g->name, path, sizeof(path));
		printf("mounted      %s (showing the last committed state; "
		       "live state: getfattr -d -m user.hangar %s)\n",
		       holder, path);
	}
	printf("container    %s/%s%s: %s (%s allocated)", cs->dir, g->name,
	       STORE_GUEST_SUFFIX, format_size(a, g->file_size, exact),
	       format_size(b, g->file_allocated, exact));
	if (g->open_error) {
		printf("\nerror        %s\n", guest_open_error_text(g));
		status_holder(g);
		return;
	}
	printf(", generation %" PRIu64
	       ", cluster %s, disk compression %s%s%s\n",
	       g->info.generation, format_size(c, g->info.cluster_size, false),
	       g->info.compress_disks ? "on" : "off",
	       g->info.encrypted ? ", encrypted (aes-256-gcm)" : "",
	       g->info.poisoned ? ", POISONED" : "");
	status_holder(g);
	if (store_is_encrypted(cs->store))
		printf("store        %s: %s\n", cs->dir,
		       cli_store_encrypted_text(cs->store));
	printf("last change  %s (%s)\n", format_time(when, g->last_change),
	       format_age(age, g->last_change));
	status_objects(g, "disks", OBJECT_ROLE_DISK, exact);
	o = guest_summary_find(g, SAVE_IMAGE_NAME);
	if (o)
		printf("memory       %-14s %s, %s stored\n",
		       format_name(name, sizeof(name), o->name),
		       format_size(a, o->attr.size, exact),
		       format_size(b, o->attr.stored_bytes, exact));
	else
		printf("memory       -\n");
	o = guest_summary_find(g, "config");
	if (o)
		printf("config       %-14s %s, changed %s\n",
		       format_name(name, sizeof(name), o->name),
		       format_size(a, o->attr.size, exact),
		       format_time(when, o->attr.mtime));
	else
		printf("config       -\n");
	status_objects(g, "files", OBJECT_ROLE_FILE, exact);
	status_snapshots(g);
	status_save_lock(cs, g);
}

int cmd_status(int argc, char **argv)
{
	struct guest_summary g;
	struct cli_store cs;
	char store_buf[4096];
	const char *guest, *dir;
	bool json = false, exact = false;
	const char *op[2];
	int rc, exit_code = CLI_EXIT_FAIL;

	rc = cli_getopt_view(argc, argv, usage_status, &json, &exact);
	if (rc >= 0)
		return rc;
	if (cli_positional(argc, argv, usage_status, "STORE GUEST", store_buf,
			   sizeof(store_buf), op))
		return CLI_EXIT_USAGE;
	dir = op[0];
	guest = op[1];
	if (cli_store_open(dir, CLI_ACCESS_READ_METADATA, &cs) != 0)
		return CLI_EXIT_FAIL;
	rc = guest_summary_load(cs.store, guest, &g);
	if (rc) {
		cli_error("%s: %s", guest, cli_strerror(rc));
		goto out_close;
	}
	if (g.open_error == -ENOENT) {
		cli_error("%s: no guest named %s", cs.dir, guest);
		goto out_cleanup;
	}
	guest_holder_load(cs.store, guest, &g);
	/* A guest we could not read is reported, and is a failure. */
	exit_code = g.open_error ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	if (!json)
		status_text(&cs, &g, exact);
	else if (cli_json_print(guest_json(&g, true)) != 0)
		exit_code = CLI_EXIT_FAIL;
out_cleanup:
	guest_summary_cleanup(&g);
out_close:
	if (cli_store_close(&cs) != 0)
		exit_code = CLI_EXIT_FAIL;
	return exit_code;
}
