/*
 * cmd_check.c -- `hangar check STORE [GUEST] [--json]`.
 *
 * Runs check_container (hangar/check.h) on each guest's container file,
 * opened read-only through the store (store_guest_open_io: no links,
 * regular files only, a shared container lock): it trusts nothing, never
 * writes and never repairs.  Exit status: 0 every container is clean (no errors, no
 * leaked clusters); 1 errors were found in at least one; 2 the check could
 * not run (not a store, a file that cannot be read, out of memory) and no
 * errors were found elsewhere.
 *
 * The store is opened read-only (a shared store lock when it is free), and
 * each container is checked under a shared container lock, so nothing
 * changes under the check.  A guest that a live daemon has open read-write
 * cannot be checked whole: its blocks change under any reader, so a check
 * of the file could only report false corruption (or miss some).  It is
 * checked as of a pin instead (container.h, "Pins"; check_pinned): the
 * daemon keeps that one committed state while we verify its trees and
 * read back every data byte, and the output says "as of pin NAME".  When
 * no pin can be had it is reported as "could not check" with the
 * daemon's PID (exit 2 unless errors were found elsewhere).  Guests of a
 * mounted store that the daemon has not opened are checked whole, and the
 * daemon cannot open them until their check is done.
 *
 * A superblock slot that is not valid is not an error of the container
 * (a crash during a commit tears the slot being written, and the container
 * opens at the other one), but it is never hidden: text and JSON both say
 * which slot is invalid, as a warning ("warnings" in JSON), even when the
 * rest is clean.
 *
 * Check messages may quote object names, which are bytes: text escapes
 * them (format_name), JSON keeps them valid UTF-8 (cli_json_text).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "hangar/check.h"
#include "cli.h"
#include "hangar/names.h"
#include "hangar/io.h"

#define CHECK_EXIT_FAILED 2

struct check_result {
	const char *name;
	int error;	  /* could not run: negative errno */
	char reason[512]; /* a sentence for `error` beyond cli_strerror */
	char pin[72];	  /* checked as this pin ("" : the whole file) */
	struct check_report report;
};

#define CHECK_READ_CHUNK (1u << 20)

/* One finding of a pinned check, as check_container words its own. */
static void __attribute__((format(printf, 2, 3)))
pin_finding(struct check_report *rep, const char *fmt, ...)
{
	va_list ap;

	if (rep->message_count < CHECK_MAX_MESSAGES) {
		va_start(ap, fmt);
		vsnprintf(rep->messages[rep->message_count],
			  sizeof(rep->messages[0]), fmt, ap);
		va_end(ap);
		rep->message_count++;
	}
	rep->errors++;
}

/* Read every data range of object `id` of `view` (each compressed
 * cluster's checksum and frame, each encrypted cluster's tag are verified
 * as it is read); a failure is a finding. */
static int check_pin_object(struct container *view, const char *name,
			    uint64_t id, uint64_t size, char *buf,
			    struct check_report *rep)
{
	uint64_t off = 0, data, hole;
	int rc;

	while (off < size) {
		rc = object_seek(view, id, off, SEEK_DATA, &data);
		if (rc == -ENXIO)
			break;
		if (rc == 0)
			rc = object_seek(view, id, data, SEEK_HOLE, &hole);
		if (rc) {
			pin_finding(rep, "%s: its map cannot be read: %s", name,
				    cli_strerror(rc));
			return 0;
		}
		for (off = data; off < hole;) {
			size_t want = hole - off < CHECK_READ_CHUNK
					      ? (size_t)(hole - off)
					      : CHECK_READ_CHUNK;
			size_t got = 0;

			rc = object_read(view, id, buf, want, off, &got);
			if (rc == -ENOMEM)
				return rc;
			if (rc) {
				pin_finding(rep,
					    "%s: data at %" PRIu64
					    " cannot be read: %s",
					    name, off, cli_strerror(rc));
				break; /* the next cluster may read */
			}
			if (got == 0)
				break;
			off += got;
		}
		off = hole > off ? hole : off + 1;
	}
	return 0;
}

/*
 * A guest the daemon has open read-write: pin it through the daemon and
 * check the pin (container.h, "Pins"): its trees are read and verified as
 * the view opens (every node's checksum against its parent's), then every
 * data range of every file is read back.  What only a whole-file check
 * can see (the cluster accounting, the other slot) is not checked: the
 * live state changes under any reader.  -errno when the pin could not be
 * had or read (then it could not be checked).
 */
static int check_pinned(struct store *s, struct check_result *r)
{
	struct control_reply *reply = malloc(sizeof(*reply));
	struct container *gc = NULL, *view = NULL;
	struct snapshot_info *snaps = NULL;
	struct object_name *names = NULL;
	struct object_attr attr;
	size_t num = 0, nsnaps = 0;
	char *buf = malloc(CHECK_READ_CHUNK);
	int rc;

	if (!reply || !buf) {
		free(reply);
		free(buf);
		return -ENOMEM;
	}
	rc = control_request(store_dir(s), CONTROL_OP_PIN, r->name, 0, reply);
	if (rc == 0 && (strlen(reply->text) >= sizeof(r->pin) ||
			!container_pin_name_parse(reply->text, NULL)))
		rc = -EPROTO;
	if (rc) {
		snprintf(r->reason, sizeof(r->reason),
			 "the daemon could not pin it: %s",
			 cli_control_reason(rc, reply));
		goto out_free;
	}
	memcpy(r->pin, reply->text, strlen(reply->text) + 1);
	rc = store_snapshot_open_beside(s, r->name, r->pin, &gc, &view);
	if (rc) {
		snprintf(r->reason, sizeof(r->reason),
			 "its pin %s cannot be read: %s", r->pin,
			 cli_strerror(rc));
		goto out_unpin;
	}
	memset(&r->report, 0, sizeof(r->report));
	r->report.superblock_valid[0] = r->report.superblock_valid[1] = true;
	if (container_snapshot_list(gc, &snaps, &nsnaps) == 0)
		for (size_t i = 0; i < nsnaps; i++)
			if (strcmp(snaps[i].name, r->pin) == 0)
				r->report.generation = snaps[i].generation;
	free(snaps);
	rc = object_list(view, &names, &num);
	for (size_t i = 0; rc == 0 && i < num; i++) {
		rc = object_getattr(view, names[i].id, &attr);
		if (rc == 0)
			rc = check_pin_object(view, names[i].name, names[i].id,
					      attr.size, buf, &r->report);
		r->report.objects++;
	}
	free(names);
	if (rc)
		snprintf(r->reason, sizeof(r->reason),
			 "reading its pin %s failed: %s", r->pin,
			 cli_strerror(rc));
	store_snapshot_close_beside(gc, view);
out_unpin:
	(void)control_request_name(store_dir(s), CONTROL_OP_UNPIN, r->name,
				   r->pin, 0, NULL);
out_free:
	free(reply);
	free(buf);
	return rc;
}

void usage_check(FILE *f)
{
	fprintf(f, "usage: hangar check [STORE] [GUEST] [--json]\n"
		   "Verify every container of STORE (or just GUEST) "
		   "completely: superblocks,\n"
		   "object table, every map node, compressed clusters and the "
		   "allocation\n"
		   "accounting.  Never writes, never repairs.\n"
		   "Exit status: 0 clean, 1 errors or leaked clusters found, "
		   "2 could not run.\n\n"
		   "  -j, --json    machine-readable report\n"
		   "  -q, --quiet   print only problems\n" CLI_KEY_USAGE
		   "  -h, --help    show this help\n");
}

/* The bar moves inside a guest too: its file's share of the store's bytes,
 * by the fraction of its clusters verified so far. */
struct check_progress {
	struct progress *bar;
	uint64_t base, size;
};

static void check_progress_cb(void *arg, uint64_t done, uint64_t total)
{
	const struct check_progress *cp = arg;
	if (total == 0)
		return;
	progress_update(cp->bar,
			cp->base + (uint64_t)((double)cp->size *
					      ((double)done / (double)total)));
}

static void check_one(struct store *s, const struct crypto_key *master,
		      struct check_progress *cp, struct check_result *r)
{
	struct io *io = NULL;
	int rc;

	memset(&r->report, 0, sizeof(r->report));
	rc = store_guest_open_io(s, r->name, &io);
	if (rc == -EBUSY && check_pinned(s, r) == 0)
		return; /* checked as a pin */
	if (rc == -EBUSY) {
		/* A daemon on its way out (just unmounted) refuses the pin
		 * and lets go a moment later: the file may be free now. */
		int again = store_guest_open_io(s, r->name, &io);

		if (again != -EBUSY) {
			rc = again;
			r->reason[0] = r->pin[0] = '\0';
		}
	}
	if (rc) {
		r->error = rc;
		if (rc == -EBUSY && r->reason[0]) {
			char who[160];
			char pin_why[256];

			guest_busy_text(s, r->name, who, sizeof(who));
			snprintf(pin_why, sizeof(pin_why), "%.250s", r->reason);
			snprintf(r->reason, sizeof(r->reason), "%.159s; %s",
				 who, pin_why);
		} else if (rc == -EBUSY) {
			char who[160];

			guest_busy_text(s, r->name, who, sizeof(who));
			snprintf(r->reason, sizeof(r->reason),
				 "%s; its blocks change under a reader, so "
				 "check it after unmounting",
				 who);
		}
		return;
	}
	r->error = check_container_progress(io, master, check_progress_cb, cp,
					    &r->report);
	io_close(io);
}

static bool check_clean(const struct check_result *r)
{
	return r->error == 0 && r->report.errors == 0 &&
	       r->report.leaked_clusters == 0;
}

static const char *check_error_text(const struct check_result *r)
{
	return r->reason[0] ? r->reason : cli_strerror(r->error);
}

/* The warning for an invalid superblock slot, or false when both are
 * valid.  Same sentence in text and JSON. */
static bool check_superblock_warning(const struct check_report *rep, char *buf,
				     size_t len)
{
	const bool a = rep->superblock_valid[0], b = rep->superblock_valid[1];

	if (a && b)
		return false;
	if (!a && !b)
		snprintf(buf, len, "superblocks A and B are both invalid");
	else
		snprintf(buf, len,
			 "superblock %c is invalid: the container opens at "
			 "generation %" PRIu64 " from slot %c (normal after a "
			 "crash during a commit, which the next commit "
			 "repairs; otherwise damage, and any newer state "
			 "in slot %c is lost)",
			 a ? 'B' : 'A', rep->generation, a ? 'A' : 'B',
			 a ? 'B' : 'A');
	return true;
}

static void check_print_text(const struct check_result *r, bool quiet)
{
	const struct check_report *rep = &r->report;
	char msg[sizeof(rep->messages[0]) + 1];
	char shown[4 * sizeof(msg)];
	char warning[320];

	if (r->error) {
		printf("%s: could not check: %s\n", r->name,
		       check_error_text(r));
		return;
	}
	if (check_clean(r)) {
		const bool warn =
			check_superblock_warning(rep, warning, sizeof(warning));

		if (r->pin[0] && !quiet)
			printf("%s: clean as of pin %s (generation %" PRIu64
			       ", %" PRIu64 " objects; open in the daemon: "
			       "its committed state was pinned and checked, "
			       "trees and data)\n",
			       r->name, r->pin, rep->generation, rep->objects);
		else if (!quiet || warn)
			printf("%s: clean (generation %" PRIu64 ", %" PRIu64
			       " objects, %" PRIu64 " of %" PRIu64
			       " clusters referenced)\n",
			       r->name, rep->generation, rep->objects,
			       rep->referenced_clusters, rep->file_clusters);
		if (warn)
			printf("  warning: %s\n", warning);
		return;
	}
	if (r->pin[0])
		printf("%s: checked as of pin %s:\n", r->name, r->pin);
	printf("%s: %" PRIu64 " error%s, %" PRIu64 " leaked cluster%s "
	       "(superblock A %s, B %s)\n",
	       r->name, rep->errors, rep->errors == 1 ? "" : "s",
	       rep->leaked_clusters, rep->leaked_clusters == 1 ? "" : "s",
	       rep->superblock_valid[0] ? "valid" : "INVALID",
	       rep->superblock_valid[1] ? "valid" : "INVALID");
	for (size_t i = 0; i < rep->message_count && i < CHECK_MAX_MESSAGES;
	     i++) {
		/* NUL-terminated by contract; be safe anyway */
		memcpy(msg, rep->messages[i], sizeof(rep->messages[i]));
		msg[sizeof(msg) - 1] = '\0';
		printf("  %s\n", format_name(shown, sizeof(shown), msg));
	}
	if (rep->errors > rep->message_count)
		printf("  (%" PRIu64 " more not shown)\n",
		       rep->errors - rep->message_count);
}

static struct json_object *check_json(const struct check_result *r)
{
	const struct check_report *rep = &r->report;
	char msg[sizeof(rep->messages[0]) + 1];
	struct json_object *obj = json_object_new_object();
	struct json_object *sb, *messages, *warnings;
	char warning[320];

	if (!obj)
		return NULL;
	cli_json_add_name(obj, "name", r->name);
	json_object_object_add(obj, "status",
			       json_object_new_string(r->error ? "failed"
						      : check_clean(r)
							      ? "clean"
							      : "errors"));
	if (r->error) {
		json_object_object_add(obj, "error",
				       cli_json_text(check_error_text(r)));
		return obj;
	}
	json_object_object_add(obj, "error", NULL);
	/* open in the daemon: the pin that was checked, else null */
	json_object_object_add(
		obj, "pin", r->pin[0] ? json_object_new_string(r->pin) : NULL);
	json_object_object_add(obj, "errors", cli_json_u64(rep->errors));
	json_object_object_add(obj, "leaked_clusters",
			       cli_json_u64(rep->leaked_clusters));
	json_object_object_add(obj, "generation",
			       cli_json_u64(rep->generation));
	sb = json_object_new_object();
	if (sb) {
		json_object_object_add(
			sb, "a",
			json_object_new_boolean(rep->superblock_valid[0]));
		json_object_object_add(
			sb, "b",
			json_object_new_boolean(rep->superblock_valid[1]));
	}
	json_object_object_add(obj, "superblocks", sb);
	json_object_object_add(obj, "cluster_size",
			       cli_json_u64(rep->cluster_size));
	json_object_object_add(obj, "file_clusters",
			       cli_json_u64(rep->file_clusters));
	json_object_object_add(obj, "referenced_clusters",
			       cli_json_u64(rep->referenced_clusters));
	json_object_object_add(obj, "objects", cli_json_u64(rep->objects));
	json_object_object_add(obj, "map_nodes", cli_json_u64(rep->map_nodes));
	json_object_object_add(obj, "data_clusters",
			       cli_json_u64(rep->data_clusters));
	json_object_object_add(obj, "compressed_extents",
			       cli_json_u64(rep->compressed_extents));
	messages = json_object_new_array();
	for (size_t i = 0;
	     messages && i < rep->message_count && i < CHECK_MAX_MESSAGES;
	     i++) {
		/* Messages are NUL-terminated by contract; be safe anyway. */
		memcpy(msg, rep->messages[i], sizeof(rep->messages[i]));
		msg[sizeof(msg) - 1] = '\0';
		json_object_array_add(messages, cli_json_text(msg));
	}
	json_object_object_add(obj, "messages", messages);
	warnings = json_object_new_array();
	if (warnings && check_superblock_warning(rep, warning, sizeof(warning)))
		json_object_array_add(warnings,
				      json_object_new_string(warning));
	json_object_object_add(obj, "warnings", warnings);
	return obj;
}

/* The whole --json report: 0, or -errno (printed). */
static int check_print_json(const struct cli_store *cs,
			    const struct check_result *results, size_t num,
			    size_t with_errors, size_t failed)
{
	struct json_object *root = json_object_new_object();
	struct json_object *guests = json_object_new_array();

	if (!root || !guests) {
		json_object_put(root);
		json_object_put(guests);
		return cli_json_print(NULL);
	}
	cli_json_add_name(root, "store", cs->dir);
	json_object_object_add(root, "checked", cli_json_u64(num));
	json_object_object_add(root, "with_errors", cli_json_u64(with_errors));
	json_object_object_add(root, "failed", cli_json_u64(failed));
	for (size_t i = 0; i < num; i++)
		json_object_array_add(guests, check_json(&results[i]));
	json_object_object_add(root, "guests", guests);
	return cli_json_print(root);
}

static uint64_t guest_file_size(struct store *s, const char *name)
{
	struct stat st;

	return store_guest_stat(s, name, &st) == 0 ? (uint64_t)st.st_size : 0;
}

int cmd_check(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"quiet", no_argument, NULL, 'q'},
		CLI_KEY_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct check_result *results = NULL;
	struct store_probe probe;
	const char *dir = NULL, *guest;
	char store_buf[4096];
	struct cli_store cs;
	struct progress progress;
	char **names = NULL;
	size_t num = 0, with_errors = 0, failed = 0;
	uint64_t total = 0, done = 0;
	bool json = false, quiet = false;
	int opt, exit_code;

	while ((opt = getopt_long(argc, argv, ":jqh", longopts, NULL)) != -1) {
		if (cli_getopt_common(opt, argv, usage_check, &exit_code))
			return exit_code;
		if (opt == 'j')
			json = true;
		else if (opt == 'q')
			quiet = true;
	}
	/* `check GUEST` with a default store; an operand that is a store
	 * directory, or any directory (one this user may not read is still
	 * a store to be refused with the reason), or no guest name, is
	 * STORE (defaults.c) */
	struct stat operand_st;
	if (argc - optind > 2)
		return cli_usage_error(usage_check, "too many arguments");
	if (argc - optind == 2 ||
	    (argc - optind == 1 && (store_probe(argv[optind], &probe) == 0 ||
				    !name_guest_valid(argv[optind]) ||
				    (stat(argv[optind], &operand_st) == 0 &&
				     S_ISDIR(operand_st.st_mode)))))
		dir = argv[optind++];
	else if (argc - optind < 2 &&
		 cli_default_store(store_buf, sizeof(store_buf)) == 0)
		dir = store_buf;
	if (!dir || argc - optind > 1)
		return cli_usage_error(usage_check,
				       !dir ? "missing STORE"
					    : "too many arguments");
	guest = argc - optind == 1 ? argv[optind] : NULL;
	if (guest && !cli_guest_check_name(guest))
		return CLI_EXIT_USAGE;
	if (cli_store_open(dir, CLI_ACCESS_READ, &cs) != 0)
		return CHECK_EXIT_FAILED;
	exit_code = CHECK_EXIT_FAILED;
	if (cs.read_only && cs.holder) {
		char holder[4400];

		cli_store_holder_text(&cs, holder, sizeof(holder));
		cli_note("store is %s: guests it has open read-write are "
			 "checked as of a pin (a snapshot it keeps while the "
			 "check reads it); the others whole",
			 holder);
	}
	if (guest) {
		names = calloc(1, sizeof(*names));
		if (!names || !(names[0] = strdup(guest))) {
			free(names);
			names = NULL;
			cli_error("out of memory");
			goto out_close;
		}
		num = 1;
		struct stat st;

		if (store_guest_stat(cs.store, names[0], &st) == -ENOENT) {
			cli_error("%s: no guest named %s", cs.dir, names[0]);
			goto out_names;
		}
	} else {
		if (cli_guest_list(&cs, &names, &num, NULL) != 0)
			goto out_close;
	}
	results = calloc(num ? num : 1, sizeof(*results));
	if (!results) {
		cli_error("out of memory");
		goto out_names;
	}
	for (size_t i = 0; i < num; i++)
		total += guest_file_size(cs.store, names[i]);
	progress_start(&progress, "check", total);
	for (size_t i = 0; i < num; i++) {
		results[i].name = names[i];
		struct check_progress cp = {
			.bar = &progress,
			.base = done,
			.size = guest_file_size(cs.store, names[i]),
		};
		check_one(cs.store, store_master_key(cs.store), &cp,
			  &results[i]);
		done += cp.size;
		progress_update(&progress, done);
		if (results[i].error)
			failed++;
		else if (!check_clean(&results[i]))
			with_errors++;
	}
	progress_finish(&progress);
	if (json) {
		if (check_print_json(&cs, results, num, with_errors, failed))
			failed++;
	} else {
		for (size_t i = 0; i < num; i++)
			check_print_text(&results[i], quiet);
		if (!quiet || with_errors || failed)
			printf("%zu guest%s checked: %zu clean, %zu with "
			       "errors, %zu could not be checked\n",
			       num, num == 1 ? "" : "s",
			       num - with_errors - failed, with_errors, failed);
	}
	exit_code = with_errors ? CLI_EXIT_FAIL
		    : failed	? CHECK_EXIT_FAILED
				: CLI_EXIT_OK;
	free(results);
out_names:
	store_names_free(names, num);
out_close:
	if (cli_store_close(&cs) != 0 && exit_code == CLI_EXIT_OK)
		exit_code = CHECK_EXIT_FAILED;
	return exit_code;
}
