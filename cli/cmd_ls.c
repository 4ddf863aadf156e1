/*
 * cmd_ls.c -- `hangar ls STORE [--json] [--bytes]`: one line per guest.
 *
 *   GUEST  STATE    MEMORY  LAST CHANGE          DISKS
 *   web01  saved    812M    2024-05-01 12:00:03  disk.raw 20G (1.3G used)
 *
 * The variable-width column (disks) comes last so the others line up.  A
 * guest whose container cannot be opened is listed as "unreadable" with the
 * reason, and the listing goes on (docs/design.md, invariant 6); the exit status
 * is then 1.  A mounted store is the normal state in production: ls lists
 * its last committed state without a note on every run (`status` says it,
 * and --json has "mounted").  Disk names are escaped (format_name).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"

void usage_ls(FILE *f)
{
	fprintf(f,
		"usage: hangar ls [STORE] [--json] [--bytes]\n"
		"List the guests of STORE: state (stopped, saved, resuming, "
		"invalidated,\n"
		"unreadable), memory image size, last change, and each disk "
		"with its virtual\n"
		"size and the space it really uses.\n\n"
		"  -j, --json    machine-readable output (exact byte counts)\n"
		"  -b, --bytes   print exact sizes\n" CLI_KEY_USAGE
		"  -h, --help    show this help\n");
}

static void ls_line(const struct guest_summary *g, int name_width, bool exact)
{
	char mem[FORMAT_SIZE_LEN], when[FORMAT_TIME_LEN], name[FORMAT_NAME_LEN];
	char virt[FORMAT_SIZE_LEN], used[FORMAT_SIZE_LEN];
	const struct guest_object *memory;
	bool first = true;

	if (g->open_error) {
		printf("%-*s  %-11s %-7s %-19s  %s\n", name_width, g->name,
		       guest_state_text(g), "-",
		       format_time(when, g->file_mtime),
		       guest_open_error_text(g));
		return;
	}
	memory = guest_summary_find(g, SAVE_IMAGE_NAME);
	printf("%-*s  %-11s %-7s %-19s  ", name_width, g->name,
	       guest_state_text(g),
	       memory ? format_size(mem, memory->attr.size, exact) : "-",
	       format_time(when, g->last_change));
	for (size_t i = 0; i < g->num_objects; i++) {
		const struct guest_object *o = &g->objects[i];

		if (o->attr.role != OBJECT_ROLE_DISK)
			continue;
		printf("%s%s %s (%s used)", first ? "" : ", ",
		       format_name(name, sizeof(name), o->name),
		       format_size(virt, o->attr.size, exact),
		       format_size(used, o->attr.stored_bytes, exact));
		first = false;
	}
	printf("%s\n", first ? "-" : "");
}

int cmd_ls(int argc, char **argv)
{
	struct json_object *root = NULL, *guests = NULL;
	struct cli_store cs;
	char store_buf[4096];
	const char *dir;
	char **names = NULL;
	size_t num = 0;
	bool json = false, exact = false, any_error = false;
	int name_width = 5;
	int rc, exit_code = CLI_EXIT_FAIL;

	rc = cli_getopt_view(argc, argv, usage_ls, &json, &exact);
	if (rc >= 0)
		return rc;
	if (cli_positional(argc, argv, usage_ls, "STORE", store_buf,
			   sizeof(store_buf), &dir))
		return CLI_EXIT_USAGE;
	if (cli_store_open(dir, CLI_ACCESS_READ_METADATA, &cs) != 0)
		return CLI_EXIT_FAIL;
	if (cli_guest_list(&cs, &names, &num, &name_width) != 0)
		goto out_close;
	if (json) {
		root = json_object_new_object();
		guests = json_object_new_array();
		if (!root || !guests) {
			cli_error("out of memory");
			json_object_put(root);
			json_object_put(guests);
			goto out_names;
		}
		cli_json_add_name(root, "store", cs.dir);
		json_object_object_add(
			root, "encryption",
			store_is_encrypted(cs.store)
				? json_object_new_string("aes-256-gcm")
				: NULL);
		json_object_object_add(root, "mounted",
				       json_object_new_boolean(cs.holder != 0));
		json_object_object_add(
			root, "holder_pid",
			cs.holder ? json_object_new_int64((int64_t)cs.holder)
				  : NULL);
		json_object_object_add(
			root, "mountpoint",
			cs.mountpoint[0] ? cli_json_text(cs.mountpoint) : NULL);
		json_object_object_add(root, "guests", guests);
	} else if (store_is_encrypted(cs.store)) {
		printf("store %s: %s\n", cs.dir,
		       cli_store_encrypted_text(cs.store));
	}
	if (!json && num) {
		printf("%-*s  %-11s %-7s %-19s  %s\n", name_width, "GUEST",
		       "STATE", "MEMORY", "LAST CHANGE", "DISKS");
	}
	for (size_t i = 0; i < num; i++) {
		struct guest_summary g;

		rc = guest_summary_load(cs.store, names[i], &g);
		if (rc) {
			cli_error("%s: %s", names[i], cli_strerror(rc));
			any_error = true;
			continue;
		}
		if (g.open_error)
			any_error = true;
		if (json)
			json_object_array_add(guests, guest_json(&g, false));
		else
			ls_line(&g, name_width, exact);
		guest_summary_cleanup(&g);
	}
	exit_code = any_error ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	if (json && cli_json_print(root) != 0)
		exit_code = CLI_EXIT_FAIL;
out_names:
	store_names_free(names, num);
out_close:
	if (cli_store_close(&cs) != 0)
		exit_code = CLI_EXIT_FAIL;
	return exit_code;
}
