/*
 * cmd_diff.c -- `hangar diff [STORE] GUEST SNAP1 [SNAP2|live] [--json]`:
 * what changed between two snapshots of a guest, or a snapshot and the
 * live state, file by file, as byte extents.
 *
 * The extents come from container_snapshot_diff: the two states' trees are
 * compared without reading any data (shared subtrees skipped whole), at
 * cluster granularity.  A changed extent may hold equal bytes (rewritten
 * with the same data); an extent not listed never differs.  This is what
 * `hangar export --since` copies.
 *
 * `live` (or SNAP2 left out) is the guest's committed live state: it reads
 * only committed metadata, so it runs beside the daemon of a mounted store
 * too (then it is the daemon's last commit).  A snapshot that is itself
 * named `live` is what the word names (with a note); leave SNAP2 out for
 * the live state then.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"

#define DIFF_LIVE_WORD "live"

void usage_diff(FILE *f)
{
	fprintf(f, "usage: hangar diff [STORE] GUEST SNAP1 [SNAP2|live] "
		   "[--json] [--bytes]\n"
		   "List what changed in each file of GUEST from snapshot "
		   "SNAP1 to snapshot SNAP2\n"
		   "(left out, or `live`: the committed live state), as "
		   "extents (offset+length)\n"
		   "of cluster granularity, from the metadata alone.  A "
		   "listed extent may hold\n"
		   "equal bytes; an extent not listed never differs.\n\n"
		   "  -j, --json    machine-readable output (exact byte "
		   "offsets)\n"
		   "  -b, --bytes   print exact sizes\n" CLI_KEY_USAGE
		   "  -h, --help    show this help\n");
}

void diff_result_free(struct diff_result *r)
{
	for (size_t i = 0; i < r->num; i++) {
		free(r->files[i].name);
		free(r->files[i].extents);
	}
	free(r->files);
	memset(r, 0, sizeof(*r));
}

/* container_diff_fn: extents of one file arrive together, in order. */
static int diff_collect(void *arg, const char *file,
			enum container_diff_kind kind, uint64_t offset,
			uint64_t length)
{
	struct diff_result *r = arg;
	struct diff_file *f = r->num ? &r->files[r->num - 1] : NULL;

	if (!f || f->kind != kind || strcmp(f->name, file) != 0) {
		if (r->num == r->cap) {
			size_t cap = r->cap ? 2 * r->cap : 16;
			struct diff_file *n =
				realloc(r->files, cap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			r->files = n;
			r->cap = cap;
		}
		f = &r->files[r->num];
		memset(f, 0, sizeof(*f));
		f->name = strdup(file);
		if (!f->name)
			return -ENOMEM;
		f->kind = kind;
		r->num++;
	}
	if (f->num == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 8;
		struct diff_extent *n = realloc(f->extents, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		f->extents = n;
		f->cap = cap;
	}
	f->extents[f->num++] = (struct diff_extent){offset, length};
	f->bytes += length;
	r->bytes += length;
	return 0;
}

int diff_states(struct container *c, const char *from, const char *to,
		struct diff_result *out)
{
	memset(out, 0, sizeof(*out));
	int rc = container_snapshot_diff(c, from, to, diff_collect, out);

	if (rc)
		diff_result_free(out);
	return rc;
}

static bool snapshot_exists(struct container *c, const char *name)
{
	struct snapshot_info *list = NULL;
	size_t num = 0;
	bool found = false;

	if (container_snapshot_list(c, &list, &num) != 0)
		return false;
	for (size_t i = 0; i < num && !found; i++)
		found = strcmp(list[i].name, name) == 0;
	free(list);
	return found;
}

static const char *diff_kind_text(enum container_diff_kind kind)
{
	switch (kind) {
	case CONTAINER_DIFF_ADDED:
		return "added";
	case CONTAINER_DIFF_REMOVED:
		return "removed";
	default:
		return "changed";
	}
}

static int diff_print_json(const char *guest, const char *from, const char *to,
			   const struct diff_result *r)
{
	struct json_object *root = json_object_new_object();
	struct json_object *files = json_object_new_array();

	if (!root || !files) {
		json_object_put(root);
		json_object_put(files);
		cli_error("%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	cli_json_add_name(root, "guest", guest);
	json_object_object_add(root, "from", cli_json_text(from));
	json_object_object_add(root, "to", cli_json_text(to)); /* null: live */
	json_object_object_add(root, "files", files);
	for (size_t i = 0; i < r->num; i++) {
		const struct diff_file *f = &r->files[i];
		struct json_object *o = json_object_new_object();
		struct json_object *ext = json_object_new_array();

		if (!o || !ext) {
			json_object_put(o);
			json_object_put(ext);
			json_object_put(root);
			cli_error("%s", strerror(ENOMEM));
			return -ENOMEM;
		}
		cli_json_add_name(o, "name", f->name);
		json_object_object_add(
			o, "change",
			json_object_new_string(diff_kind_text(f->kind)));
		json_object_object_add(o, "bytes", cli_json_u64(f->bytes));
		json_object_object_add(o, "extents", ext);
		for (size_t j = 0; j < f->num; j++) {
			struct json_object *e = json_object_new_object();

			if (!e)
				continue;
			json_object_object_add(
				e, "offset",
				cli_json_u64(f->extents[j].offset));
			json_object_object_add(
				e, "length",
				cli_json_u64(f->extents[j].length));
			json_object_array_add(ext, e);
		}
		json_object_array_add(files, o);
	}
	json_object_object_add(root, "total_bytes", cli_json_u64(r->bytes));
	return cli_json_print(root);
}

static void diff_print_text(const struct diff_result *r, bool exact)
{
	char shown[FORMAT_NAME_LEN], size[FORMAT_SIZE_LEN];
	char off[FORMAT_SIZE_LEN], len[FORMAT_SIZE_LEN];

	for (size_t i = 0; i < r->num; i++) {
		const struct diff_file *f = &r->files[i];

		printf("%s %s: %s in %zu extent%s", diff_kind_text(f->kind),
		       format_name(shown, sizeof(shown), f->name),
		       format_size(size, f->bytes, exact), f->num,
		       f->num == 1 ? "" : "s");
		for (size_t j = 0; j < f->num; j++)
			printf("%s%s+%s", j ? " " : ": ",
			       format_size(off, f->extents[j].offset, exact),
			       format_size(len, f->extents[j].length, exact));
		printf("\n");
	}
	printf("total: %zu file%s, %s\n", r->num, r->num == 1 ? "" : "s",
	       format_size(size, r->bytes, exact));
}

int cmd_diff(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"bytes", no_argument, NULL, 'b'},
		CLI_KEY_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *store_path, *guest, *from, *to = NULL;
	struct diff_result result;
	struct cli_store cs;
	struct container *c = NULL;
	char store_buf[4096];
	uint64_t id;
	bool json = false, exact = false;
	int opt, rc, exit_code = CLI_EXIT_FAIL;

	while ((opt = getopt_long(argc, argv, ":jbh", longopts, NULL)) != -1) {
		if (cli_getopt_common(opt, argv, usage_diff, &exit_code))
			return exit_code;
		if (opt == 'j')
			json = true;
		else if (opt == 'b')
			exact = true;
	}
	store_path = cli_store_operand_optional(argc, argv, 2, 3, store_buf,
						sizeof(store_buf));
	if (!store_path || argc - optind < 2 || argc - optind > 3)
		return cli_usage_error(usage_diff,
				       !store_path || argc - optind < 2
					       ? "missing STORE, GUEST or SNAP1"
					       : "too many arguments");
	guest = argv[optind];
	from = argv[optind + 1];
	if (argc - optind == 3)
		to = argv[optind + 2];
	if (!cli_guest_check_name(guest))
		return CLI_EXIT_USAGE;

	/* metadata only: safe beside the daemon (store.h) */
	if (cli_store_open(store_path, CLI_ACCESS_READ_METADATA, &cs) != 0)
		return CLI_EXIT_FAIL;
	rc = guest_get_stable(cs.store, guest, &c);
	if (rc) {
		c = NULL;
		if (rc == -ENOENT)
			cli_error("%s: no guest named %s", store_path, guest);
		else
			cli_error("%s: cannot read guest %s: %s", store_path,
				  guest, cli_strerror(rc));
		goto out;
	}
	if (cli_snapshot_find(&cs, c, guest, from, &id) != 0)
		goto out;
	if (to && strcmp(to, DIFF_LIVE_WORD) == 0) {
		if (!snapshot_exists(c, to))
			to = NULL;
		else
			cli_note("`%s` is the snapshot of that name; leave "
				 "SNAP2 out for the live state",
				 DIFF_LIVE_WORD);
	}
	if (to && cli_snapshot_find(&cs, c, guest, to, &id) != 0)
		goto out;
	rc = diff_states(c, from, to, &result);
	if (rc) {
		cli_error("%s: cannot compare %s of %s with %s: %s", store_path,
			  from, guest, to ? to : DIFF_LIVE_WORD,
			  cli_strerror(rc));
		goto out;
	}
	if (json) {
		rc = diff_print_json(guest, from, to, &result);
	} else {
		if (cs.holder && !to)
			cli_note("the store is mounted: `live` is the "
				 "daemon's last commit");
		diff_print_text(&result, exact);
		rc = 0;
	}
	diff_result_free(&result);
	if (rc == 0)
		exit_code = CLI_EXIT_OK;
out:
	if (c)
		store_guest_put(cs.store, c);
	if (cli_store_close(&cs) != 0)
		exit_code = CLI_EXIT_FAIL;
	return exit_code;
}
