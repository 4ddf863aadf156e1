/*
 * cmd_snapshot.c -- `hangar snapshot create|delete|list STORE GUEST [NAME]`
 * and `hangar rollback STORE GUEST SNAP`: a guest's snapshots
 * (hangar/container.h: every file of the guest as of one commit).
 *
 * create, delete and rollback change the store: unmounted, the command
 * opens it for writing and calls core; mounted, hangarfs does the same
 * calls for it (the control socket, hangar/control.h), so results, errors
 * and texts are the same, plus "(through hangarfs PID N)".  A daemon
 * without the socket gets the refusal with the mount-side equivalent
 * (mkdir / rmdir GUEST/.snapshots/NAME).  list reads only: it opens the
 * store read-only and, when a daemon holds the store, asks it (a guest it
 * has open cannot be read beside it).
 *
 * Rollback is refused while any file of the guest is open (core: -EBUSY):
 * files would change under a running guest.  Unmounted nobody can have one
 * open; mounted, the daemon answers EBUSY with the reason.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"

void usage_snapshot(FILE *f)
{
	fprintf(f,
		"usage: hangar snapshot create STORE GUEST NAME\n"
		"       hangar snapshot delete STORE GUEST NAME\n"
		"       hangar snapshot list STORE GUEST [--json]\n"
		"A snapshot is every file of GUEST as of one commit, kept "
		"read-only while the\n"
		"guest goes on: taking one costs one commit whatever the "
		"guest's size.  On a\n"
		"mounted store hangarfs does it, and the snapshot is the "
		"directory\n"
		"MOUNTPOINT/GUEST/.snapshots/NAME (mkdir and rmdir there work "
		"too).  NAME: 1-64\n"
		"bytes of A-Z a-z 0-9 . _ -, no leading dot; at most 256 per "
		"guest.  delete is\n"
		"refused while a file of the snapshot is open.\n\n"
		"  -j, --json    list: machine-readable output\n" CLI_KEY_USAGE
		"  -h, --help    show this help\n");
}

void usage_rollback(FILE *f)
{
	fprintf(f, "usage: hangar rollback STORE GUEST SNAP\n"
		   "Return every file of GUEST to what it was in snapshot "
		   "SNAP: files made since\n"
		   "go, removed ones come back, a saved memory image comes "
		   "back with its save\n"
		   "lock.  Later snapshots are kept.  Refused while any file "
		   "of the guest is open\n"
		   "(stop the guest first).  On a mounted store hangarfs does "
		   "it.\n\n" CLI_KEY_USAGE "  -h, --help    show this help\n");
}

enum snap_action {
	SNAP_CREATE,
	SNAP_DELETE,
	SNAP_LIST,
	SNAP_ROLLBACK,
};

struct snap_args {
	enum snap_action action;
	const char *dir;
	const char *guest;
	const char *name; /* NULL for list */
	bool json;
};

static const char *action_word(enum snap_action a)
{
	switch (a) {
	case SNAP_CREATE:
		return "snapshot create";
	case SNAP_DELETE:
		return "snapshot delete";
	case SNAP_LIST:
		return "snapshot list";
	default:
		return "rollback";
	}
}

static enum control_op action_op(enum snap_action a)
{
	switch (a) {
	case SNAP_CREATE:
		return CONTROL_OP_SNAPSHOT_CREATE;
	case SNAP_DELETE:
		return CONTROL_OP_SNAPSHOT_DELETE;
	case SNAP_LIST:
		return CONTROL_OP_SNAPSHOT_LIST;
	default:
		return CONTROL_OP_ROLLBACK;
	}
}

/*
 * Print what `rc` (0 or -errno; `reply` the daemon's answer when mounted,
 * else NULL) means for `a`.  `via` is "" or " (through hangarfs PID N)".
 * Returns the exit status.
 */
static int snap_report(const struct snap_args *a, int rc,
		       const struct control_reply *reply, const char *via)
{
	const char *why =
		reply ? cli_control_reason(rc, reply) : cli_strerror(rc);
	pid_t pinner = 0;

	if (rc == 0) {
		if (a->action == SNAP_CREATE)
			printf("%s: snapshot %s taken%s\n", a->guest, a->name,
			       via);
		else if (a->action == SNAP_DELETE)
			printf("%s: snapshot %s deleted%s\n", a->guest, a->name,
			       via);
		else
			printf("%s: rolled back to snapshot %s (later "
			       "snapshots kept)%s\n",
			       a->guest, a->name, via);
		return CLI_EXIT_OK;
	}
	if (reply && reply->code == CONTROL_REASON_NO_GUEST) {
		cli_error("%s: no guest named %s", a->dir, a->guest);
	} else if (rc == -ENOENT) {
		cli_error("%s: %s has no snapshot named %s", a->dir, a->guest,
			  a->name);
	} else if (rc == -EINVAL && a->action == SNAP_CREATE &&
		   container_snapshot_name_reserved(a->name)) {
		cli_error("invalid snapshot name '%s': names starting with %s "
			  "are reserved for the pins of readers",
			  a->name, CONTAINER_PIN_PREFIX);
		return CLI_EXIT_USAGE;
	} else if (rc == -EINVAL && a->action == SNAP_CREATE) {
		cli_error("invalid snapshot name '%s': 1-64 bytes of A-Z a-z "
			  "0-9 . _ -, no leading dot",
			  a->name);
		return CLI_EXIT_USAGE;
	} else if (rc == -EEXIST) {
		cli_error("%s: %s already has a snapshot named %s", a->dir,
			  a->guest, a->name);
	} else if (rc == -EMLINK) {
		cli_error("%s: %s has as many snapshots as a guest may have "
			  "(256); delete one first",
			  a->dir, a->guest);
	} else if (rc == -EBUSY && a->action == SNAP_DELETE &&
		   container_pin_name_parse(a->name, &pinner)) {
		cli_error("%s: snapshot %s of %s is the pin of a reader that "
			  "is still running (PID %ld)",
			  a->dir, a->name, a->guest, (long)pinner);
		cli_note("it goes when that reader is done or dies");
	} else if (rc == -EBUSY && a->action == SNAP_DELETE) {
		cli_error("%s: snapshot %s of %s is in use: a file of it is "
			  "open on the mount",
			  a->dir, a->name, a->guest);
		cli_note("close it and try again");
	} else if (rc == -EBUSY && a->action == SNAP_ROLLBACK) {
		cli_error("%s: rollback of %s refused: files of the guest are "
			  "open on the mount (is it running?)",
			  a->dir, a->guest);
		cli_note("stop the guest and close its files, then try again");
	} else {
		cli_error("%s: %s %s %s failed: %s", a->dir,
			  action_word(a->action), a->guest,
			  a->name ? a->name : "", why);
	}
	return CLI_EXIT_FAIL;
}

static void list_print(const struct snap_args *a,
		       const struct snapshot_info *list, size_t num)
{
	char when[FORMAT_TIME_LEN], age[FORMAT_TIME_LEN];
	pid_t pinner = 0;
	int width = 4;

	if (a->json) {
		struct json_object *root = json_object_new_object();
		struct json_object *arr = json_object_new_array();
		if (!root || !arr) {
			json_object_put(root);
			json_object_put(arr);
			cli_error("out of memory");
			return;
		}
		cli_json_add_name(root, "guest", a->guest);
		json_object_object_add(root, "snapshots", arr);
		for (size_t i = 0; i < num; i++) {
			struct json_object *o = json_object_new_object();
			if (!o)
				continue;
			cli_json_add_name(o, "name", list[i].name);
			json_object_object_add(o, "id",
					       cli_json_u64(list[i].id));
			json_object_object_add(
				o, "generation",
				cli_json_u64(list[i].generation));
			json_object_object_add(o, "created",
					       cli_json_time(list[i].created));
			if (container_pin_name_parse(list[i].name, &pinner))
				json_object_object_add(
					o, "pin_pid",
					json_object_new_int64(pinner));
			json_object_array_add(arr, o);
		}
		(void)cli_json_print(root);
		return;
	}
	for (size_t i = 0; i < num; i++)
		if ((int)strlen(list[i].name) > width)
			width = (int)strlen(list[i].name);
	if (num)
		printf("%-*s  %-19s  %s\n", width, "NAME", "CREATED", "AGE");
	for (size_t i = 0; i < num; i++) {
		char pin[64] = "";

		/* a reader's pin (container.h): say whose */
		if (container_pin_name_parse(list[i].name, &pinner))
			snprintf(pin, sizeof(pin), "  (pin of reader PID %ld)",
				 (long)pinner);
		printf("%-*s  %-19s  %s%s\n", width, list[i].name,
		       format_time(when, list[i].created),
		       format_age(age, list[i].created), pin);
	}
}

/* The store is held by a daemon: ask it.  *out_exit is set unless nobody
 * answered (then false). */
static bool snap_mounted(const struct cli_store *cs, const struct snap_args *a,
			 int *out_exit)
{
	struct control_reply *reply = malloc(sizeof(*reply));
	struct snapshot_info *list = NULL;
	char via[128] = "", path[4400];
	bool answered = false;
	size_t num = 0;
	int rc;

	if (!reply) {
		cli_error("%s", cli_strerror(-ENOMEM));
		*out_exit = CLI_EXIT_FAIL;
		return true;
	}
	rc = cli_control_name(cs, action_op(a->action), a->guest, a->name, 0,
			      reply, &answered);
	if (!answered && rc == -ENOTCONN && a->action == SNAP_LIST) {
		free(reply);
		return false; /* read it ourselves */
	}
	if (!answered && rc == -ENOTCONN) {
		*out_exit =
			cli_store_refuse_mounted(cs, action_word(a->action));
		cli_store_mount_path(cs, a->guest, path, sizeof(path));
		if (a->action == SNAP_CREATE)
			cli_store_mount_hint(cs, "mkdir %s/.snapshots/%s", path,
					     a->name);
		else if (a->action == SNAP_DELETE)
			cli_store_mount_hint(cs, "rmdir %s/.snapshots/%s", path,
					     a->name);
		else
			cli_note("unmount the store and run the command again");
	} else if (!answered) {
		*out_exit =
			cli_control_unreachable(cs, rc, action_word(a->action));
	} else if (a->action != SNAP_LIST || rc) {
		cli_store_via_text(cs, via, sizeof(via));
		*out_exit = snap_report(a, rc, reply, via);
	} else if ((rc = control_snapshot_list_parse(reply->text, &list,
						     &num)) != 0) {
		cli_error(
			"%s: the daemon's snapshot list could not be read: %s",
			cs->dir, cli_strerror(rc));
		*out_exit = CLI_EXIT_FAIL;
	} else {
		list_print(a, list, num);
		*out_exit = CLI_EXIT_OK;
	}
	free(list);
	free(reply);
	return true;
}

/* The store is ours (or read-only): call core. */
static int snap_direct(struct cli_store *cs, const struct snap_args *a)
{
	struct snapshot_info *list = NULL;
	struct container *c = NULL;
	char busy[256];
	size_t num = 0;
	int rc;

	rc = store_guest_get(cs->store, a->guest, &c);
	if (rc == -ENOENT) {
		cli_error("%s: no guest named %s", cs->dir, a->guest);
		return CLI_EXIT_FAIL;
	}
	if (rc == -EBUSY) {
		guest_busy_text(cs->store, a->guest, busy, sizeof(busy));
		cli_error("%s: cannot read guest %s: %s", cs->dir, a->guest,
			  busy);
		return CLI_EXIT_FAIL;
	}
	if (rc) {
		cli_error("%s: cannot open guest %s: %s", cs->dir, a->guest,
			  cli_strerror(rc));
		return CLI_EXIT_FAIL;
	}
	switch (a->action) {
	case SNAP_CREATE:
		rc = container_snapshot_create(c, a->name);
		break;
	case SNAP_DELETE:
		rc = container_snapshot_delete(c, a->name);
		break;
	case SNAP_ROLLBACK:
		rc = container_snapshot_rollback(c, a->name);
		break;
	case SNAP_LIST:
		rc = container_snapshot_list(c, &list, &num);
		break;
	}
	store_guest_put(cs->store, c);
	if (a->action != SNAP_LIST)
		return snap_report(a, rc, NULL, "");
	if (rc) {
		cli_error("%s: cannot list the snapshots of %s: %s", cs->dir,
			  a->guest, cli_strerror(rc));
		return CLI_EXIT_FAIL;
	}
	list_print(a, list, num);
	free(list);
	return CLI_EXIT_OK;
}

/* Options and arguments; -1 to go on, else the exit status. */
static int snap_parse(int argc, char **argv, bool rollback, struct snap_args *a)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		CLI_KEY_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	void (*usage)(FILE * f) = rollback ? usage_rollback : usage_snapshot;
	int opt, exit_code, first, want;

	memset(a, 0, sizeof(*a));
	while ((opt = getopt_long(argc, argv, ":jh", longopts, NULL)) != -1) {
		if (cli_getopt_common(opt, argv, usage, &exit_code))
			return exit_code;
		if (opt == 'j' && !rollback)
			a->json = true;
		else if (opt == 'j')
			return cli_usage_error(usage, "%s: unknown option '%s'",
					       argv[0], argv[optind - 1]);
	}
	first = optind;
	if (rollback) {
		a->action = SNAP_ROLLBACK;
	} else {
		if (first >= argc)
			return cli_usage_error(usage, "missing create, delete "
						      "or list");
		if (strcmp(argv[first], "create") == 0)
			a->action = SNAP_CREATE;
		else if (strcmp(argv[first], "delete") == 0)
			a->action = SNAP_DELETE;
		else if (strcmp(argv[first], "list") == 0)
			a->action = SNAP_LIST;
		else
			return cli_usage_error(usage,
					       "unknown snapshot command '%s'",
					       argv[first]);
		first++;
	}
	want = a->action == SNAP_LIST ? 2 : 3;
	if (argc - first != want)
		return cli_usage_error(usage, argc - first < want
						      ? "missing arguments"
						      : "too many arguments");
	if (a->json && a->action != SNAP_LIST)
		return cli_usage_error(usage, "--json is for list");
	a->dir = argv[first];
	a->guest = argv[first + 1];
	a->name = want == 3 ? argv[first + 2] : NULL;
	if (!cli_guest_check_name(a->guest))
		return CLI_EXIT_USAGE;
	return -1;
}

static int snap_run(int argc, char **argv, bool rollback)
{
	struct snap_args a;
	struct cli_store cs;
	int rc, exit_code;

	exit_code = snap_parse(argc, argv, rollback, &a);
	if (exit_code >= 0)
		return exit_code;
	if (a.action == SNAP_LIST) {
		rc = cli_store_open(a.dir, CLI_ACCESS_READ, &cs);
		if (rc)
			return CLI_EXIT_FAIL;
		if (cs.holder && snap_mounted(&cs, &a, &exit_code)) {
			cli_store_close(&cs);
			return exit_code;
		}
	} else {
		rc = cli_store_open(a.dir, CLI_ACCESS_WRITE, &cs);
		if (rc == -EWOULDBLOCK) {
			(void)snap_mounted(&cs, &a, &exit_code);
			return exit_code;
		}
		if (rc)
			return CLI_EXIT_FAIL;
	}
	exit_code = snap_direct(&cs, &a);
	if (cli_store_close(&cs) != 0)
		exit_code = CLI_EXIT_FAIL;
	return exit_code;
}

int cmd_snapshot(int argc, char **argv)
{
	return snap_run(argc, argv, false);
}

int cmd_rollback(int argc, char **argv)
{
	return snap_run(argc, argv, true);
}
