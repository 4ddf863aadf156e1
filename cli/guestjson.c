/*
 * guestjson.c -- a guest_summary as JSON, for `ls --json` and
 * `status --json`.
 *
 * Sizes are always exact byte counts and times RFC 3339 UTC strings, so a
 * script never parses "1.2G".  Keys are stable: add, never rename.  Object
 * names go through cli_json_add_name: one that is not UTF-8 also gets
 * "name_hex" (jsonout.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"

static struct json_object *json_object_attr(const struct guest_object *o)
{
	struct json_object *obj = json_object_new_object();
	char mode[16];

	if (!obj)
		return NULL;
	snprintf(mode, sizeof(mode), "%04o", (unsigned)(o->attr.mode & 07777));
	cli_json_add_name(obj, "name", o->name);
	json_object_object_add(obj, "size", cli_json_u64(o->attr.size));
	json_object_object_add(obj, "used", cli_json_u64(o->attr.stored_bytes));
	json_object_object_add(obj, "generation",
			       cli_json_u64(o->attr.generation));
	json_object_object_add(obj, "mode", json_object_new_string(mode));
	json_object_object_add(obj, "mtime", cli_json_time(o->attr.mtime));
	return obj;
}

static struct json_object *json_objects_of_role(const struct guest_summary *g,
						enum object_role role,
						const char *except)
{
	struct json_object *list = json_object_new_array();

	if (!list)
		return NULL;
	for (size_t i = 0; i < g->num_objects; i++) {
		const struct guest_object *o = &g->objects[i];

		if (o->attr.role != role)
			continue;
		if (except && strcmp(o->name, except) == 0)
			continue;
		json_object_array_add(list, json_object_attr(o));
	}
	return list;
}

static struct json_object *json_release(enum save_state state)
{
	switch (state) {
	case SAVE_STATE_SAVED:
		return json_object_new_string("hangar resume");
	case SAVE_STATE_INVALIDATED:
		return json_object_new_string("hangar discard");
	default:
		return NULL;
	}
}

static struct json_object *json_save(const struct guest_summary *g)
{
	const struct save_status *s = &g->save;
	struct json_object *obj = json_object_new_object();
	struct json_object *pins;

	if (!obj)
		return NULL;
	json_object_object_add(
		obj, "state",
		json_object_new_string(save_state_name(s->state)));
	json_object_object_add(obj, "image_unsealed",
			       json_object_new_boolean(s->image_unsealed));
	json_object_object_add(obj, "saved_time",
			       cli_json_time(s->state == SAVE_STATE_NONE
						     ? (struct timespec){0}
						     : s->saved_time));
	json_object_object_add(obj, "config_changed",
			       json_object_new_boolean(s->config_changed));
	if (s->state == SAVE_STATE_INVALIDATED) {
		json_object_object_add(obj, "invalidated_time",
				       cli_json_time(s->event_time));
		cli_json_add_name(obj, "invalidated_by", s->event_object);
		json_object_object_add(obj, "stale_reason",
				       cli_json_text(s->reason));
	}
	pins = json_object_new_array();
	for (size_t i = 0; pins && i < s->pin_count &&
			   i < sizeof(s->pins) / sizeof(s->pins[0]);
	     i++) {
		const struct save_pin_status *p = &s->pins[i];
		struct json_object *pin = json_object_new_object();

		if (!pin)
			break;
		cli_json_add_name(pin, "name", p->name);
		json_object_object_add(pin, "pinned_generation",
				       cli_json_u64(p->pinned_generation));
		json_object_object_add(pin, "current_generation",
				       cli_json_u64(p->current_generation));
		json_object_object_add(pin, "changed",
				       json_object_new_boolean(p->changed));
		json_object_array_add(pins, pin);
	}
	json_object_object_add(obj, "pins", pins);
	json_object_object_add(obj, "release", json_release(s->state));
	return obj;
}

static struct json_object *json_container(const struct guest_summary *g)
{
	struct json_object *obj = json_object_new_object();

	if (!obj)
		return NULL;
	json_object_object_add(obj, "file_size", cli_json_u64(g->file_size));
	json_object_object_add(obj, "file_allocated",
			       cli_json_u64(g->file_allocated));
	if (g->open_error)
		return obj;
	json_object_object_add(obj, "generation",
			       cli_json_u64(g->info.generation));
	json_object_object_add(obj, "cluster_size",
			       cli_json_u64(g->info.cluster_size));
	json_object_object_add(obj, "used_clusters",
			       cli_json_u64(g->info.used_clusters));
	json_object_object_add(obj, "objects",
			       cli_json_u64(g->info.object_count));
	json_object_object_add(obj, "compress_disks",
			       json_object_new_boolean(g->info.compress_disks));
	json_object_object_add(obj, "encryption",
			       g->info.encrypted
				       ? json_object_new_string("aes-256-gcm")
				       : NULL);
	return obj;
}

/* {"host", "pid", "since"} of who holds the guest read-write, or null */
static struct json_object *json_holder(const struct guest_summary *g)
{
	if (g->holder.pid <= 0)
		return NULL;
	struct json_object *obj = json_object_new_object();
	if (!obj)
		return NULL;
	json_object_object_add(obj, "host",
			       json_object_new_string(g->holder.host));
	json_object_object_add(obj, "pid",
			       json_object_new_int64(g->holder.pid));
	json_object_object_add(
		obj, "since",
		g->holder.since > 0
			? cli_json_time((struct timespec){
				  .tv_sec = (time_t)g->holder.since})
			: NULL);
	return obj;
}

struct json_object *guest_json(const struct guest_summary *g, bool full)
{
	struct json_object *obj = json_object_new_object();
	const struct guest_object *memory, *config;

	if (!obj)
		return NULL;
	cli_json_add_name(obj, "name", g->name);
	json_object_object_add(obj, "state",
			       json_object_new_string(guest_state_text(g)));
	json_object_object_add(
		obj, "error",
		g->open_error ? cli_json_text(guest_open_error_text(g)) : NULL);
	json_object_object_add(obj, "last_change",
			       cli_json_time(g->last_change));
	json_object_object_add(obj, "container", json_container(g));
	if (full)
		json_object_object_add(obj, "holder", json_holder(g));
	if (g->open_error)
		return obj;
	json_object_object_add(obj, "disks",
			       json_objects_of_role(g, OBJECT_ROLE_DISK, NULL));
	memory = guest_summary_find(g, SAVE_IMAGE_NAME);
	json_object_object_add(obj, "memory",
			       memory ? json_object_attr(memory) : NULL);
	config = guest_summary_find(g, "config");
	json_object_object_add(obj, "config",
			       config ? json_object_attr(config) : NULL);
	if (!full)
		return obj;
	struct json_object *snaps = json_object_new_array();
	for (size_t i = 0; snaps && i < g->num_snapshots; i++) {
		struct json_object *so = json_object_new_object();
		if (!so)
			continue;
		cli_json_add_name(so, "name", g->snapshots[i].name);
		json_object_object_add(
			so, "generation",
			cli_json_u64(g->snapshots[i].generation));
		json_object_object_add(so, "created",
				       cli_json_time(g->snapshots[i].created));
		json_object_array_add(snaps, so);
	}
	json_object_object_add(obj, "snapshots", snaps);
	json_object_object_add(
		obj, "files",
		json_objects_of_role(g, OBJECT_ROLE_FILE, "config"));
	if (g->save_error) {
		json_object_object_add(obj, "save_lock", NULL);
		json_object_object_add(
			obj, "save_lock_error",
			json_object_new_string(cli_strerror(g->save_error)));
	} else {
		json_object_object_add(obj, "save_lock", json_save(g));
	}
	return obj;
}
