/*
 * guestjson.c -- a guest_summary as JSON, for `ls --json` and
 * `status --json`.
 *
 * Sizes are always exact byte counts and times RFC 3339 UTC strings, so a
 * script never parses "1.2G".  Keys are stable: add, never rename.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void json_object_attr(FILE *f, const struct guest_object *o)
{
	fputs("{\"name\": ", f);
	json_string(f, o->name);
	fprintf(f,
		", \"size\": %" PRIu64 ", \"used\": %" PRIu64
		", \"generation\": %" PRIu64 ", \"mode\": \"%04o\""
		", \"mtime\": ",
		o->attr.size, o->attr.stored_bytes, o->attr.generation,
		(unsigned)(o->attr.mode & 07777));
	json_time(f, o->attr.mtime);
	fputc('}', f);
}

static void json_objects_of_role(FILE *f, const struct guest_summary *g,
				 enum object_role role, const char *except)
{
	bool first = true;

	fputc('[', f);
	for (size_t i = 0; i < g->num_objects; i++) {
		const struct guest_object *o = &g->objects[i];

		if (o->attr.role != role)
			continue;
		if (except && strcmp(o->name, except) == 0)
			continue;
		if (!first)
			fputs(", ", f);
		first = false;
		json_object_attr(f, o);
	}
	fputc(']', f);
}

static void json_save(FILE *f, const struct guest_summary *g)
{
	const struct save_status *s = &g->save;

	fputs("{\"state\": ", f);
	json_string(f, save_state_name(s->state));
	fprintf(f, ", \"image_unsealed\": %s, \"saved_time\": ",
		s->image_unsealed ? "true" : "false");
	json_time(f, s->state == SAVE_STATE_NONE ? (struct timespec){0}
						 : s->saved_time);
	fprintf(f, ", \"config_changed\": %s",
		s->config_changed ? "true" : "false");
	if (s->state == SAVE_STATE_INVALIDATED) {
		fputs(", \"invalidated_time\": ", f);
		json_time(f, s->event_time);
		fputs(", \"invalidated_by\": ", f);
		json_string(f, s->event_object);
		fputs(", \"stale_reason\": ", f);
		json_string(f, s->reason);
	}
	fputs(", \"pins\": [", f);
	for (size_t i = 0;
	     i < s->pin_count && i < sizeof(s->pins) / sizeof(s->pins[0]);
	     i++) {
		const struct save_pin_status *p = &s->pins[i];

		if (i)
			fputs(", ", f);
		fputs("{\"name\": ", f);
		json_string(f, p->name);
		fprintf(f,
			", \"pinned_generation\": %" PRIu64
			", \"current_generation\": %" PRIu64
			", \"changed\": %s}",
			p->pinned_generation, p->current_generation,
			p->changed ? "true" : "false");
	}
	fputc(']', f);
	fputs(", \"release\": ", f);
	switch (s->state) {
	case SAVE_STATE_SAVED:
		json_string(f, "hangar resume");
		break;
	case SAVE_STATE_INVALIDATED:
		json_string(f, "hangar discard");
		break;
	default:
		fputs("null", f);
	}
	fputc('}', f);
}

void guest_json(FILE *f, const struct guest_summary *g, bool full)
{
	const struct guest_object *memory, *config;

	fputs("{\"name\": ", f);
	json_string(f, g->name);
	fputs(", \"state\": ", f);
	json_string(f, guest_state_text(g));
	fputs(", \"error\": ", f);
	if (g->open_error)
		json_string(f, guest_open_error_text(g));
	else
		fputs("null", f);
	fputs(", \"last_change\": ", f);
	json_time(f, g->last_change);
	fprintf(f,
		", \"container\": {\"file_size\": %" PRIu64
		", \"file_allocated\": %" PRIu64,
		g->file_size, g->file_allocated);
	if (!g->open_error)
		fprintf(f,
			", \"generation\": %" PRIu64
			", \"cluster_size\": %u, \"used_clusters\": %" PRIu64
			", \"objects\": %" PRIu64 ", \"compress_disks\": %s"
			", \"encryption\": %s",
			g->info.generation, (unsigned)g->info.cluster_size,
			g->info.used_clusters, g->info.object_count,
			g->info.compress_disks ? "true" : "false",
			g->info.encrypted ? "\"aes-256-gcm\"" : "null");
	fputc('}', f);
	if (g->open_error) {
		fputc('}', f);
		return;
	}
	fputs(", \"disks\": ", f);
	json_objects_of_role(f, g, OBJECT_ROLE_DISK, NULL);
	memory = guest_summary_find(g, SAVE_IMAGE_NAME);
	fputs(", \"memory\": ", f);
	if (memory)
		json_object_attr(f, memory);
	else
		fputs("null", f);
	config = guest_summary_find(g, "config");
	fputs(", \"config\": ", f);
	if (config)
		json_object_attr(f, config);
	else
		fputs("null", f);
	if (full) {
		fputs(", \"snapshots\": [", f);
		for (size_t i = 0; i < g->num_snapshots; i++) {
			fputs(i ? ", {\"name\": " : "{\"name\": ", f);
			json_string(f, g->snapshots[i].name);
			fprintf(f, ", \"generation\": %llu, \"created\": ",
				(unsigned long long)g->snapshots[i].generation);
			json_time(f, g->snapshots[i].created);
			fputc('}', f);
		}
		fputc(']', f);
		fputs(", \"files\": ", f);
		json_objects_of_role(f, g, OBJECT_ROLE_FILE, "config");
		fputs(", \"save_lock\": ", f);
		if (g->save_error) {
			fputs("null, \"save_lock_error\": ", f);
			json_string(f, cli_strerror(g->save_error));
		} else {
			json_save(f, g);
		}
	}
	fputc('}', f);
}
