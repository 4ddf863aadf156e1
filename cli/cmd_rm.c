/*
 * cmd_rm.c -- `hangar rm STORE GUEST [--force]`.
 *
 * Deletes the guest's container file: disks, config, memory image, all of
 * it.  Refused while the save lock holds (SAVED or RESUMING: a memory image
 * someone means to restore) and for a guest whose state cannot be read,
 * unless --force.  The CLI reads the save state itself and then asks core
 * to delete with force, because store_guest_delete without force also
 * refuses any guest that still has files (see cli/CORE-REQUESTS.md); that
 * is race-free since we hold the store's write lock.
 *
 * On a mounted store hangarfs deletes it (the control socket, which applies
 * the same save-lock rule); a guest with files open on the mount is refused
 * with EBUSY.  A daemon without the socket gets the old refusal.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

void usage_rm(FILE *f)
{
	fprintf(f, "usage: hangar rm [STORE] GUEST [--force]\n"
		   "Delete GUEST and everything in it, its snapshots too.  "
		   "Refused while a saved\n"
		   "memory image pins its disks, or when its container cannot "
		   "be read, unless\n"
		   "--force.\n\n"
		   "  -f, --force   delete even a saved or unreadable "
		   "guest\n" CLI_KEY_USAGE "  -h, --help    show this help\n");
}

/* 0 if the guest may go, else the reason was printed. */
static int rm_check_save_lock(struct cli_store *cs, const char *guest)
{
	struct container *c = NULL;
	struct save_status st;
	int rc;

	rc = store_guest_get(cs->store, guest, &c);
	if (rc == -ENOENT) {
		cli_error("%s: no guest named %s", cs->dir, guest);
		return rc;
	}
	if (rc) {
		cli_error(
			"%s: cannot read guest %s (%s); use --force to delete "
			"it anyway",
			cs->dir, guest, cli_strerror(rc));
		return rc;
	}
	rc = save_lock_status(c, &st);
	store_guest_put(cs->store, c);
	if (rc) {
		cli_error("%s: cannot read the save state of %s (%s); use "
			  "--force to delete it anyway",
			  cs->dir, guest, cli_strerror(rc));
		return rc;
	}
	if (st.state == SAVE_STATE_SAVED || st.state == SAVE_STATE_RESUMING) {
		cli_error("%s: guest %s is %s: its memory.save pins its disks; "
			  "refusing to delete it",
			  cs->dir, guest, save_state_name(st.state));
		cli_note("run `hangar discard %s %s` first, or `hangar rm "
			 "--force %s %s`",
			 cs->dir, guest, cs->dir, guest);
		return -EBUSY;
	}
	return 0;
}

/* The store is mounted: ask hangarfs to delete. */
static int rm_mounted(const struct cli_store *cs, const char *guest, bool force)
{
	struct control_reply reply;
	char via[128], path[4400];
	const char *why;
	bool answered;
	int rc;

	rc = cli_control(cs, CONTROL_OP_DELETE, guest,
			 force ? CONTROL_FLAG_FORCE : 0, &reply, &answered);
	if (!answered && (rc == -ENOTCONN)) {
		cli_store_refuse_mounted(cs, "rm");
		cli_store_mount_path(cs, guest, path, sizeof(path));
		cli_store_mount_hint(cs, "rm -r %s", path);
		return CLI_EXIT_FAIL;
	}
	if (!answered)
		return cli_control_unreachable(cs, rc, "rm");
	if (rc == 0) {
		cli_store_via_text(cs, via, sizeof(via));
		printf("deleted guest %s%s\n", guest, via);
		return CLI_EXIT_OK;
	}
	why = cli_control_reason(rc, &reply);
	if (reply.code == CONTROL_REASON_NO_GUEST) {
		cli_error("%s: no guest named %s", cs->dir, guest);
	} else if (reply.code == CONTROL_REASON_SAVE_LOCKED) {
		/* SAVED or RESUMING (core/control.c) */
		cli_error("%s: cannot delete guest %s: %s", cs->dir, guest,
			  why);
		cli_note("run `hangar discard %s %s` first, or `hangar rm "
			 "--force %s %s`",
			 cs->dir, guest, cs->dir, guest);
	} else if (reply.code == CONTROL_REASON_GUEST_BUSY) {
		cli_error("%s: cannot delete guest %s: %s", cs->dir, guest,
			  why);
		cli_note("close its files (stop the guest) and try again");
	} else if (!force && reply.code == CONTROL_REASON_UNREADABLE) {
		cli_error(
			"%s: cannot read guest %s (%s); use --force to delete "
			"it anyway",
			cs->dir, guest, why);
	} else {
		cli_error("%s: cannot delete guest %s: %s", cs->dir, guest,
			  why);
	}
	return CLI_EXIT_FAIL;
}

int cmd_rm(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"force", no_argument, NULL, 'f'},
		CLI_KEY_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cli_store cs;
	char store_buf[4096];
	const char *guest, *dir;
	bool force = false;
	const char *op[2];
	int opt, rc, exit_code = CLI_EXIT_FAIL;

	while ((opt = getopt_long(argc, argv, ":fh", longopts, NULL)) != -1) {
		if (cli_getopt_common(opt, argv, usage_rm, &exit_code))
			return exit_code;
		if (opt == 'f')
			force = true;
	}
	if (cli_positional(argc, argv, usage_rm, "STORE GUEST", store_buf,
			   sizeof(store_buf), op))
		return CLI_EXIT_USAGE;
	dir = op[0];
	guest = op[1];
	rc = cli_store_open(dir, CLI_ACCESS_WRITE, &cs);
	if (rc == -EWOULDBLOCK)
		return rm_mounted(&cs, guest, force);
	if (rc)
		return CLI_EXIT_FAIL;
	if (!force && rm_check_save_lock(&cs, guest) != 0)
		goto out_close;
	rc = store_guest_delete(
		cs.store, guest,
		STORE_DELETE_CONTENTS |
			(force ? STORE_DELETE_IGNORE_SAVE_LOCK : 0));
	if (rc) {
		if (rc == -ENOENT)
			cli_error("%s: no guest named %s", cs.dir, guest);
		else
			cli_error("%s: cannot delete guest %s: %s", cs.dir,
				  guest, cli_strerror(rc));
		goto out_close;
	}
	printf("deleted guest %s\n", guest);
	exit_code = CLI_EXIT_OK;
out_close:
	if (cli_store_close(&cs) != 0)
		exit_code = CLI_EXIT_FAIL;
	return exit_code;
}
