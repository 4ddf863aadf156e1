/*
 * cmd_rename.c -- `hangar rename [STORE] OLD NEW`: rename a guest.
 *
 * The guest's container file STORE/OLD.hangar becomes NEW.hangar
 * (store_guest_rename: crash-safe, the guest exists under one name or the
 * other).  NEW must not exist.  Refused while the guest is in use:
 *   - not mounted: while another process has its container open (a
 *     `hangar check`/`export`, a read-only hangarfs), with that PID;
 *   - mounted: the control socket carries one guest name, so the rename is
 *     done through the mount, rename(MNT/OLD, MNT/NEW), which hangarfs
 *     carries out with the same store call; first, any process with a file
 *     of the guest open on the mount (a running VM) refuses it, with its
 *     PID (openers.c: as `fuser` sees it).
 * A saved guest may be renamed: its memory image and seal are inside the
 * container and go with it (the hypervisor's restore must then name the
 * new paths).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void usage_rename(FILE *f)
{
	fprintf(f,
		"usage: hangar rename [STORE] OLD NEW\n"
		"Rename guest OLD to NEW (which must not exist).  Refused "
		"while OLD is in use:\n"
		"its container open by another process, or, on a mounted "
		"store, any of its\n"
		"files open on the mount (a running guest).\n\n" CLI_KEY_USAGE
		"  -h, --help    show this help\n");
}

static void rename_done(const char *from, const char *to, const char *via)
{
	printf("renamed guest %s to %s%s\n", from, to, via);
}

static int rename_error(const char *dir, const char *from, const char *to,
			int rc)
{
	if (rc == -ENOENT)
		cli_error("%s: no guest named %s", dir, from);
	else if (rc == -EEXIST || rc == -ENOTEMPTY)
		cli_error("%s: cannot rename %s: a guest named %s already "
			  "exists",
			  dir, from, to);
	else
		cli_error("%s: cannot rename %s to %s: %s", dir, from, to,
			  cli_strerror(rc));
	return CLI_EXIT_FAIL;
}

/* The store is mounted: rename through the mount unless OLD is in use. */
static int rename_mounted(const struct cli_store *cs, const char *from,
			  const char *to)
{
	char from_path[4400], to_path[4400], via[128], comm[64];
	pid_t pid = 0;
	int n;

	cli_store_mount_path(cs, from, from_path, sizeof(from_path));
	cli_store_mount_path(cs, to, to_path, sizeof(to_path));
	if (!cs->mountpoint[0]) {
		cli_store_refuse_mounted(cs, "rename");
		cli_store_mount_hint(cs, "mv -T %s %s", from_path, to_path);
		return CLI_EXIT_FAIL;
	}
	n = cli_path_openers(from_path, true, false, &pid, comm, sizeof(comm));
	if (n == -ENOENT)
		return rename_error(cs->dir, from, to, -ENOENT);
	if (n > 0) {
		cli_error("%s: cannot rename %s: its files are open on the "
			  "mount by %s PID %ld%s",
			  cs->dir, from, comm[0] ? comm : "process", (long)pid,
			  n > 1 ? " and others" : "");
		cli_note("stop the guest (close its files) and try again");
		return CLI_EXIT_FAIL;
	}
	if (renameat2(AT_FDCWD, from_path, AT_FDCWD, to_path,
		      RENAME_NOREPLACE) != 0)
		return rename_error(cs->dir, from, to, -errno);
	cli_store_via_text(cs, via, sizeof(via));
	rename_done(from, to, via);
	return CLI_EXIT_OK;
}

int cmd_rename(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_KEY_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *dir, *from, *to;
	char store_buf[4096], busy[256];
	struct cli_store cs;
	struct stat st;
	bool exclusive;
	pid_t pid;
	const char *op[3];
	int opt, rc, exit_code = CLI_EXIT_FAIL;

	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1)
		if (cli_getopt_common(opt, argv, usage_rename, &exit_code))
			return exit_code;
	if (cli_positional(argc, argv, usage_rename, "STORE OLD NEW", store_buf,
			   sizeof(store_buf), op))
		return CLI_EXIT_USAGE;
	dir = op[0];
	from = op[1];
	to = op[2];
	if (!cli_guest_check_name(from) || !cli_guest_check_name(to))
		return CLI_EXIT_USAGE;
	if (strcmp(from, to) == 0)
		return cli_usage_error(usage_rename,
				       "OLD and NEW are the same");
	rc = cli_store_open(dir, CLI_ACCESS_WRITE, &cs);
	if (rc == -EWOULDBLOCK)
		return rename_mounted(&cs, from, to);
	if (rc)
		return CLI_EXIT_FAIL;
	if (store_guest_stat(cs.store, from, &st) != 0) {
		rename_error(dir, from, to, -ENOENT);
		goto out_close;
	}
	/* We hold the store lock: only readers can have it open. */
	if (store_guest_holder(cs.store, from, &pid, &exclusive) == 0) {
		guest_busy_text(cs.store, from, busy, sizeof(busy));
		cli_error("%s: cannot rename %s: it is %s", dir, from, busy);
		cli_note("wait for it to finish and try again");
		goto out_close;
	}
	rc = store_guest_rename(cs.store, from, to);
	if (rc) {
		rename_error(dir, from, to, rc);
		goto out_close;
	}
	rename_done(from, to, "");
	exit_code = CLI_EXIT_OK;
out_close:
	if (cli_store_close(&cs) != 0)
		exit_code = CLI_EXIT_FAIL;
	return exit_code;
}
