/*
 * cmd_acquire.c -- `hangar acquire STORE GUEST` and `hangar release STORE
 * GUEST`: the lease of a guest on a store several hosts share
 * (docs/multihost.md).
 *
 * A guest is held by whoever has its container open read-write: its
 * container lock, which CephFS grants cluster-wide.  hangarfs opens a guest
 * when it is used and closes it when idle, which on one host nobody
 * notices and on several hands the guest to whichever host opens it next.
 * acquire asks this host's hangarfs (the control socket) to open the guest
 * read-write and keep it open; release asks it to commit and close it (the
 * lock goes with the close), refused while a file of the guest is open on
 * the mount.  Only a running daemon can hold a lease, so both need the
 * store mounted on this host.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void usage_acquire(FILE *f)
{
	fprintf(f, "usage: hangar acquire [STORE] GUEST\n"
		   "Have this host's hangarfs open GUEST read-write and keep "
		   "it open until\n"
		   "`hangar release`: on a store several hosts share, no other "
		   "host can open it\n"
		   "read-write meanwhile (refused, with the holder named).  "
		   "Needs the store\n"
		   "mounted on this host.\n\n"
		   "  -h, --help    show this help\n");
}

void usage_release(FILE *f)
{
	fprintf(f, "usage: hangar release [STORE] GUEST\n"
		   "Have this host's hangarfs commit and close GUEST, so "
		   "another host may take\n"
		   "it.  Refused while a file of the guest is open on the "
		   "mount (stop the guest\n"
		   "first).  Needs the store mounted on this host.\n\n"
		   "  -h, --help    show this help\n");
}

static int lease_cmd(int argc, char **argv, bool acquire)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	void (*usage)(FILE *) = acquire ? usage_acquire : usage_release;
	const char *what = acquire ? "acquire" : "release";
	struct control_reply *reply = NULL;
	char store_buf[4096], via[128];
	struct cli_store cs;
	const char *op[2];
	bool answered = false;
	int opt, rc, exit_code = CLI_EXIT_FAIL;

	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1)
		if (cli_getopt_common(opt, argv, usage, &exit_code))
			return exit_code;
	if (cli_positional(argc, argv, usage, "STORE GUEST", store_buf,
			   sizeof(store_buf), op))
		return CLI_EXIT_USAGE;
	if (!cli_guest_check_name(op[1]))
		return CLI_EXIT_USAGE;
	rc = cli_store_open(op[0], CLI_ACCESS_WRITE, &cs);
	if (rc == 0) {
		cli_error("%s: cannot %s %s: the store is not mounted on this "
			  "host, and only a running hangarfs can hold a guest",
			  cs.dir, what, op[1]);
		cli_note("mount it first: hangar mount %s MOUNTPOINT", cs.dir);
		cli_store_close(&cs);
		return CLI_EXIT_FAIL;
	}
	if (rc != -EWOULDBLOCK)
		return CLI_EXIT_FAIL;
	reply = calloc(1, sizeof(*reply));
	if (!reply) {
		cli_error("%s: %s", cs.dir, cli_strerror(-ENOMEM));
		return CLI_EXIT_FAIL;
	}
	rc = cli_control(&cs, acquire ? CONTROL_OP_ACQUIRE : CONTROL_OP_RELEASE,
			 op[1], 0, reply, &answered);
	if (!answered) {
		exit_code = cli_control_unreachable(&cs, rc, what);
		goto out;
	}
	if (rc == -ENOENT) {
		cli_error("%s: no guest named %s", cs.dir, op[1]);
		goto out;
	}
	if (rc) {
		cli_error("%s: cannot %s %s: %s", cs.dir, what, op[1],
			  reply->text[0] ? reply->text : cli_strerror(rc));
		if (rc == -EBUSY && !acquire)
			cli_note("stop the guest (close its files) and try "
				 "again");
		goto out;
	}
	cli_store_via_text(&cs, via, sizeof(via));
	printf("%s %s%s\n", acquire ? "acquired" : "released", op[1], via);
	exit_code = CLI_EXIT_OK;
out:
	free(reply);
	return exit_code;
}

int cmd_acquire(int argc, char **argv)
{
	return lease_cmd(argc, argv, true);
}

int cmd_release(int argc, char **argv)
{
	return lease_cmd(argc, argv, false);
}
