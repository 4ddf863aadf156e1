/*
 * cmd_resume.c -- `hangar resume STORE GUEST` and `hangar discard STORE
 * GUEST`: the two ways out of the SAVED state (core/savelock.h).
 *
 * resume: save_lock_resume verifies every pinned disk is still in the
 * pinned state and moves to RESUMING; the restored guest's first disk write
 * retires the image.  On refusal the reason from core is printed as is.
 * discard: the image and its pins go in one commit.
 *
 * Both change the store, so on a mounted store they are refused with the
 * mount-side equivalent (the daemon owns the containers).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

void usage_resume(FILE *f)
{
	fprintf(f, "usage: hangar resume STORE GUEST\n"
		   "Release the save lock of a saved guest so it can be "
		   "restored from its\n"
		   "memory.save.  Refused, with the reason, if a disk is no "
		   "longer in the state\n"
		   "the image was saved against.  The image is retired at the "
		   "guest's first disk\n"
		   "write.  On a mounted store: setfattr -n user.hangar.resume "
		   "-v 1 MOUNTPOINT/GUEST\n\n"
		   "  -h, --help    show this help\n");
}

void usage_discard(FILE *f)
{
	fprintf(f, "usage: hangar discard STORE GUEST\n"
		   "Delete GUEST's saved memory image (saved, stale or "
		   "resuming) and unpin its\n"
		   "disks: the guest will boot fresh.  On a mounted store: rm "
		   "MOUNTPOINT/GUEST/memory.save\n\n"
		   "  -h, --help    show this help\n");
}

/* Shared front half: options, arguments, store and guest. */
static int savelock_open(int argc, char **argv, void (*usage)(FILE *f),
			 const char *what, struct cli_store *cs,
			 struct container **out_c, const char **out_guest)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char path[4400];
	const char *guest;
	int opt, rc, exit_code;

	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1)
		if (cli_getopt_common(opt, argv, usage, &exit_code))
			return exit_code;
	if (argc - optind != 2)
		return cli_usage_error(usage, argc - optind < 2 ?
				       "missing STORE or GUEST" :
				       "too many arguments");
	guest = argv[optind + 1];
	if (!cli_guest_check_name(guest))
		return CLI_EXIT_USAGE;
	rc = cli_store_open(argv[optind], CLI_ACCESS_WRITE, cs);
	if (rc == -EWOULDBLOCK) {
		cli_store_refuse_mounted(cs, what);
		cli_store_mount_path(cs, guest, path, sizeof(path));
		if (usage == usage_resume)
			cli_store_mount_hint(cs, "setfattr -n user.hangar.resume"
					     " -v 1 %s", path);
		else
			cli_store_mount_hint(cs, "rm %s/" SAVE_IMAGE_NAME,
					     path);
		return CLI_EXIT_FAIL;
	}
	if (rc)
		return CLI_EXIT_FAIL;
	rc = store_guest_get(cs->store, guest, out_c);
	if (rc) {
		if (rc == -ENOENT)
			cli_error("%s: no guest named %s", cs->dir, guest);
		else
			cli_error("%s: cannot open guest %s: %s", cs->dir,
				  guest, cli_strerror(rc));
		cli_store_close(cs);
		return CLI_EXIT_FAIL;
	}
	*out_guest = guest;
	return -1; /* go on */
}

static int savelock_close(struct cli_store *cs, struct container *c,
			  int exit_code)
{
	store_guest_put(cs->store, c);
	if (cli_store_close(cs) != 0)
		return CLI_EXIT_FAIL;
	return exit_code;
}

int cmd_resume(int argc, char **argv)
{
	struct cli_store cs;
	struct container *c = NULL;
	const char *guest = NULL;
	char reason[512] = "";
	int rc;

	rc = savelock_open(argc, argv, usage_resume, "resume", &cs, &c,
			   &guest);
	if (rc >= 0)
		return rc;
	rc = save_lock_resume(c, reason, sizeof(reason));
	if (rc) {
		if (rc == -ENOENT)
			cli_error("%s: nothing to resume: %s", guest,
				  reason[0] ? reason : "no saved memory image");
		else
			cli_error("%s: resume refused: %s", guest,
				  reason[0] ? reason : cli_strerror(rc));
		if (rc == -ESTALE)
			cli_note("the saved image does not match the disks "
				 "any more; boot the guest fresh after "
				 "`hangar discard %s %s`", cs.dir, guest);
		return savelock_close(&cs, c, CLI_EXIT_FAIL);
	}
	printf("%s: resuming: restore it from %s now (e.g. virsh restore, "
	       "xl restore);\nthe image is retired at the guest's first disk "
	       "write\n", guest, SAVE_IMAGE_NAME);
	return savelock_close(&cs, c, CLI_EXIT_OK);
}

int cmd_discard(int argc, char **argv)
{
	struct cli_store cs;
	struct container *c = NULL;
	const char *guest = NULL;
	int rc;

	rc = savelock_open(argc, argv, usage_discard, "discard", &cs, &c,
			   &guest);
	if (rc >= 0)
		return rc;
	rc = save_lock_discard(c);
	if (rc) {
		if (rc == -ENOENT)
			cli_error("%s: nothing to discard: no saved memory "
				  "image", guest);
		else
			cli_error("%s: discard failed: %s", guest,
				  cli_strerror(rc));
		return savelock_close(&cs, c, CLI_EXIT_FAIL);
	}
	printf("%s: saved memory image discarded; its disks are writable and "
	       "the guest boots fresh\n", guest);
	return savelock_close(&cs, c, CLI_EXIT_OK);
}
