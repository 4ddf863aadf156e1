/*
 * cmd_df.c -- `hangar df [STORE] [--json] [--bytes]`: space per guest and
 * for the store.
 *
 *   GUEST   VIRTUAL  STORED  SNAPSHOTS ALLOCATED
 *   web01   20G      1.3G    210M      1.6G
 *   total   20G      1.3G    210M      1.6G
 *   filesystem of /srv/hangar: 100G, 38G available (40G free)
 *
 * VIRTUAL is the sum of the virtual sizes of the guest's files (what `ls
 * -l` of its directory adds up to), STORED the bytes of data they reference
 * in the container (after compression; holes and unwritten ranges take
 * nothing), ALLOCATED what the container file takes on the host filesystem
 * (st_blocks: STORED plus metadata and clusters freed but not yet reused
 * or trimmed).  The last line is the host filesystem holding the store
 * (statvfs): its size, what is available to the caller and what is free.
 * SNAPSHOTS is what only the guest's snapshots hold (data the guest has
 * overwritten or removed since, their map nodes and frozen tables): what
 * deleting them all would give back; it is part of ALLOCATED, not of
 * STORED.
 *
 * Read-only, like `ls`: the committed metadata of every guest, also beside
 * a daemon holding the store (then it is the last committed state).  A
 * guest whose container cannot be read still shows its ALLOCATED size, and
 * the exit status is 1.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include <json-c/json.h>

#include "cli.h"

void usage_df(FILE *f)
{
	fprintf(f, "usage: hangar df [STORE] [--json] [--bytes]\n"
		   "Space used by each guest of STORE: VIRTUAL (the sizes of "
		   "its files), STORED\n"
		   "(the data they hold, after compression), SNAPSHOTS (what "
		   "only its snapshots\n"
		   "hold), ALLOCATED (its container file on the host), and "
		   "the free space of\n"
		   "the host filesystem holding the store.\n\n"
		   "  -j, --json    machine-readable output (exact byte "
		   "counts)\n"
		   "  -b, --bytes   print exact sizes\n" CLI_KEY_USAGE
		   "  -h, --help    show this help\n");
}

struct df_usage {
	uint64_t virtual_bytes;
	uint64_t stored;
	uint64_t snapshots;
	uint64_t allocated;
};

/* Only df pays for the snapshots' share: an O(clusters) pass over the
 * guest's allocator (container_snapshot_space), which ls and status skip. */
static uint64_t df_snapshot_bytes(struct store *s,
				  const struct guest_summary *g)
{
	struct container *c;
	uint64_t bytes = 0;

	if (g->open_error || !g->num_snapshots ||
	    store_guest_get(s, g->name, &c) != 0)
		return 0;
	if (container_snapshot_space(c, &bytes) != 0)
		bytes = 0;
	store_guest_put(s, c);
	return bytes;
}

static void df_guest_usage(const struct guest_summary *g, struct df_usage *u)
{
	u->virtual_bytes = 0;
	u->stored = 0;
	u->allocated = g->file_allocated;
	u->snapshots = 0;
	for (size_t i = 0; i < g->num_objects; i++) {
		u->virtual_bytes += g->objects[i].attr.size;
		u->stored += g->objects[i].attr.stored_bytes;
	}
}

static void df_json_usage(struct json_object *obj, const struct df_usage *u,
			  bool readable)
{
	json_object_object_add(obj, "virtual",
			       readable ? cli_json_u64(u->virtual_bytes)
					: NULL);
	json_object_object_add(obj, "stored",
			       readable ? cli_json_u64(u->stored) : NULL);
	json_object_object_add(obj, "snapshots",
			       readable ? cli_json_u64(u->snapshots) : NULL);
	json_object_object_add(obj, "allocated", cli_json_u64(u->allocated));
}

static void df_line(const char *name, int width, const struct df_usage *u,
		    bool readable, bool exact, const char *error)
{
	char v[FORMAT_SIZE_LEN], s[FORMAT_SIZE_LEN], a[FORMAT_SIZE_LEN],
		sn[FORMAT_SIZE_LEN];

	printf("%-*s  %-9s %-9s %-9s %s%s%s\n", width, name,
	       readable ? format_size(v, u->virtual_bytes, exact) : "-",
	       readable ? format_size(s, u->stored, exact) : "-",
	       readable ? format_size(sn, u->snapshots, exact) : "-",
	       format_size(a, u->allocated, exact), error ? "  " : "",
	       error ? error : "");
}

int cmd_df(int argc, char **argv)
{
	char size[FORMAT_SIZE_LEN], avail[FORMAT_SIZE_LEN],
		bfree[FORMAT_SIZE_LEN];
	struct df_usage total = {0, 0, 0, 0};
	char store_buf[4096];
	struct statvfs vfs;
	struct cli_store cs;
	const char *dir;
	char **names = NULL;
	size_t num = 0;
	bool json = false, exact = false, any_error = false;
	int name_width = 5;
	int rc, exit_code = CLI_EXIT_FAIL;

	rc = cli_getopt_view(argc, argv, usage_df, &json, &exact);
	if (rc >= 0)
		return rc;
	if (cli_positional(argc, argv, usage_df, "STORE", store_buf,
			   sizeof(store_buf), &dir))
		return CLI_EXIT_USAGE;
	if (cli_store_open(dir, CLI_ACCESS_READ_METADATA, &cs) != 0)
		return CLI_EXIT_FAIL;
	if (statvfs(dir, &vfs) != 0) {
		cli_error("%s: %s", dir, strerror(errno));
		goto out_close;
	}
	if (cli_guest_list(&cs, &names, &num, &name_width) != 0)
		goto out_close;
	struct json_object *root = NULL, *guests = NULL;
	if (json) {
		root = json_object_new_object();
		guests = json_object_new_array();
		if (!root || !guests) {
			cli_error("out of memory");
			json_object_put(root);
			json_object_put(guests);
			store_names_free(names, num);
			goto out_close;
		}
		cli_json_add_name(root, "store", cs.dir);
		json_object_object_add(root, "committed_state",
				       json_object_new_boolean(cs.holder));
		json_object_object_add(root, "guests", guests);
	} else {
		printf("%-*s  %-9s %-9s %-9s %s\n", name_width, "GUEST",
		       "VIRTUAL", "STORED", "SNAPSHOTS", "ALLOCATED");
	}
	for (size_t i = 0; i < num; i++) {
		struct guest_summary g;
		struct df_usage u;
		bool readable;

		rc = guest_summary_load(cs.store, names[i], &g);
		if (rc) {
			cli_error("%s: %s", names[i], cli_strerror(rc));
			any_error = true;
			continue;
		}
		readable = !g.open_error;
		any_error |= !readable;
		df_guest_usage(&g, &u);
		u.snapshots = df_snapshot_bytes(cs.store, &g);
		total.virtual_bytes += u.virtual_bytes;
		total.stored += u.stored;
		total.snapshots += u.snapshots;
		total.allocated += u.allocated;
		if (json) {
			struct json_object *o = json_object_new_object();
			if (o) {
				cli_json_add_name(o, "name", g.name);
				df_json_usage(o, &u, readable);
				json_object_object_add(
					o, "error",
					readable
						? NULL
						: cli_json_text(
							  guest_open_error_text(
								  &g)));
				json_object_array_add(guests, o);
			}
		} else {
			df_line(g.name, name_width, &u, readable, exact,
				readable ? NULL : guest_open_error_text(&g));
		}
		guest_summary_cleanup(&g);
	}
	if (json) {
		struct json_object *tot = json_object_new_object();
		struct json_object *fs = json_object_new_object();
		if (tot)
			df_json_usage(tot, &total, true);
		if (fs) {
			json_object_object_add(
				fs, "size",
				cli_json_u64((uint64_t)vfs.f_blocks *
					     vfs.f_frsize));
			json_object_object_add(
				fs, "free",
				cli_json_u64((uint64_t)vfs.f_bfree *
					     vfs.f_frsize));
			json_object_object_add(
				fs, "available",
				cli_json_u64((uint64_t)vfs.f_bavail *
					     vfs.f_frsize));
		}
		json_object_object_add(root, "total", tot);
		json_object_object_add(root, "filesystem", fs);
		if (cli_json_print(root) != 0)
			any_error = true;
	} else {
		df_line("total", name_width, &total, true, exact, NULL);
		printf("filesystem of %s: %s, %s available (%s free)\n", cs.dir,
		       format_size(size, (uint64_t)vfs.f_blocks * vfs.f_frsize,
				   exact),
		       format_size(avail, (uint64_t)vfs.f_bavail * vfs.f_frsize,
				   exact),
		       format_size(bfree, (uint64_t)vfs.f_bfree * vfs.f_frsize,
				   exact));
	}
	exit_code = any_error ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	store_names_free(names, num);
out_close:
	if (cli_store_close(&cs) != 0)
		exit_code = CLI_EXIT_FAIL;
	return exit_code;
}
