/*
 * cmd_resume.c -- `hangar resume [STORE] GUEST` and `hangar discard STORE
 * GUEST`: the two ways out of the SAVED state (hangar/savelock.h).
 *
 * resume: save_lock_resume verifies every pinned disk is still in the
 * pinned state and moves to RESUMING; the restored guest's first disk write
 * retires the image.  On refusal the reason from core is printed as is.
 * discard: the image and its pins go in one commit.
 *
 * Both change the store, so on a mounted store the daemon does them (the
 * control socket, hangar/control.h): same calls, same texts, plus "(through
 * hangarfs PID N)".  A daemon without the socket gets the old refusal with
 * the mount-side equivalent.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

void usage_resume(FILE *f)
{
	fprintf(f, "usage: hangar resume [STORE] GUEST\n"
		   "Release the save lock of a saved guest so it can be "
		   "restored from its\n"
		   "memory.save.  Refused, with the reason, if a disk is no "
		   "longer in the state\n"
		   "the image was saved against.  The image is retired at the "
		   "guest's first disk\n"
		   "write.  On a mounted store hangarfs does it (or: setfattr "
		   "-n user.hangar.resume\n"
		   "-v 1 MOUNTPOINT/GUEST).\n\n" CLI_KEY_USAGE
		   "  -h, --help    show this help\n");
}

void usage_discard(FILE *f)
{
	fprintf(f, "usage: hangar discard [STORE] GUEST\n"
		   "Delete GUEST's saved memory image (saved, stale or "
		   "resuming) and unpin its\n"
		   "disks: the guest will boot fresh.  On a mounted store "
		   "hangarfs does it\n"
		   "(or: rm MOUNTPOINT/GUEST/memory.save).\n\n" CLI_KEY_USAGE
		   "  -h, --help    show this help\n");
}

/* savelock_open's answer when the daemon holds the store. */
#define SAVELOCK_MOUNTED (-2)

/* The old refusal, for a holder without a control socket. */
static int savelock_refuse(const struct cli_store *cs, const char *guest,
			   bool resume)
{
	char path[4400];

	cli_store_refuse_mounted(cs, resume ? "resume" : "discard");
	cli_store_mount_path(cs, guest, path, sizeof(path));
	if (resume)
		cli_store_mount_hint(
			cs, "setfattr -n user.hangar.resume -v 1 %s", path);
	else
		cli_store_mount_hint(cs, "rm %s/" SAVE_IMAGE_NAME, path);
	return CLI_EXIT_FAIL;
}

/* The store is mounted: ask hangarfs.  0 done, else printed. */
static int savelock_mounted(const struct cli_store *cs, const char *guest,
			    bool resume, int *out_rc,
			    struct control_reply *reply)
{
	const char *what = resume ? "resume" : "discard";
	bool answered;
	int rc;

	rc = cli_control(cs, resume ? CONTROL_OP_RESUME : CONTROL_OP_DISCARD,
			 guest, 0, reply, &answered);
	*out_rc = rc;
	if (!answered) {
		if (rc == -ENOTCONN)
			return savelock_refuse(cs, guest, resume);
		return cli_control_unreachable(cs, rc, what);
	}
	if (rc == -ENOENT && reply->code == CONTROL_REASON_NO_GUEST) {
		cli_error("%s: no guest named %s", cs->dir, guest);
		return CLI_EXIT_FAIL;
	}
	return rc ? -1 : 0; /* -1: the caller prints the refusal */
}

/* Shared front half: options, arguments, store and guest. */
static int savelock_open(int argc, char **argv, void (*usage)(FILE *f),
			 struct cli_store *cs, struct container **out_c,
			 const char **out_guest, char *store_buf,
			 size_t store_len)
{
	static const struct option longopts[] = {
		CLI_KEY_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *guest, *dir;
	const char *op[2];
	int opt, rc, exit_code;

	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1)
		if (cli_getopt_common(opt, argv, usage, &exit_code))
			return exit_code;
	if (cli_positional(argc, argv, usage, "STORE GUEST", store_buf,
			   store_len, op))
		return CLI_EXIT_USAGE;
	dir = op[0];
	guest = op[1];
	rc = cli_store_open(dir, CLI_ACCESS_WRITE, cs);
	if (rc == -EWOULDBLOCK) {
		*out_guest = guest;
		return SAVELOCK_MOUNTED;
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

/* One resume or discard: who did it and what it said. */
struct savelock_cmd {
	struct cli_store cs;
	char store_buf[4096]; /* the default store: cs.dir points here */
	struct container *c;  /* the guest's, when done here; NULL when
				 hangarfs did it */
	const char *guest;
	struct control_reply reply; /* hangarfs's answer; here, resume's
				       reason from core */
	char via[128];		    /* " (through hangarfs PID N)" or "" */
};

/*
 * savelock_run - savelock_open, then the resume (or discard) itself:
 * through hangarfs when it holds the store, else on the guest's container.
 * Returns an exit code (>= 0) when the command is over, or -1 with the
 * result in *out_rc for the caller to report; it then ends with
 * savelock_end.
 */
static int savelock_run(int argc, char **argv, bool resume,
			struct savelock_cmd *sc, int *out_rc)
{
	int rc, mrc;

	memset(sc, 0, sizeof(*sc));
	sc->reply.code = CONTROL_REASON_NONE;
	rc = savelock_open(argc, argv, resume ? usage_resume : usage_discard,
			   &sc->cs, &sc->c, &sc->guest, sc->store_buf,
			   sizeof(sc->store_buf));
	if (rc == SAVELOCK_MOUNTED) {
		mrc = savelock_mounted(&sc->cs, sc->guest, resume, out_rc,
				       &sc->reply);
		if (mrc > 0)
			return mrc;
		cli_store_via_text(&sc->cs, sc->via, sizeof(sc->via));
		return -1;
	}
	if (rc >= 0)
		return rc;
	*out_rc = resume ? save_lock_resume(sc->c, sc->reply.text,
					    sizeof(sc->reply.text))
			 : save_lock_discard(sc->c);
	return -1;
}

static int savelock_end(struct savelock_cmd *sc, int exit_code)
{
	return sc->c ? savelock_close(&sc->cs, sc->c, exit_code) : exit_code;
}

int cmd_resume(int argc, char **argv)
{
	struct savelock_cmd sc;
	char shown[4 * sizeof(sc.reply.text)];
	const char *why;
	int rc = 0, exit_code;

	exit_code = savelock_run(argc, argv, true, &sc, &rc);
	if (exit_code >= 0)
		return exit_code;
	if (rc) {
		/* core's reason names the disk that moved on: its name is
		 * bytes, escaped like every name in text output */
		why = format_name(shown, sizeof(shown),
				  !sc.c ? cli_control_reason(rc, &sc.reply)
				  : sc.reply.text[0] ? sc.reply.text
						     : cli_strerror(rc));
		if (rc == -ENOENT)
			cli_error("%s: nothing to resume: %s", sc.guest,
				  sc.reply.text[0] ? why
						   : "no saved memory image");
		else
			cli_error("%s: resume refused: %s", sc.guest, why);
		if (rc == -ESTALE)
			cli_note("the saved image does not match the disks "
				 "any more; boot the guest fresh after "
				 "`hangar discard %s %s`",
				 sc.cs.dir, sc.guest);
		return savelock_end(&sc, CLI_EXIT_FAIL);
	}
	printf("%s: resuming: restore it from %s now (e.g. virsh restore, "
	       "xl restore);\nthe image is retired at the guest's first disk "
	       "write%s\n",
	       sc.guest, SAVE_IMAGE_NAME, sc.via);
	return savelock_end(&sc, CLI_EXIT_OK);
}

int cmd_discard(int argc, char **argv)
{
	struct savelock_cmd sc;
	int rc = 0, exit_code;

	exit_code = savelock_run(argc, argv, false, &sc, &rc);
	if (exit_code >= 0)
		return exit_code;
	if (rc) {
		if (rc == -ENOENT)
			cli_error("%s: nothing to discard: no saved memory "
				  "image",
				  sc.guest);
		else
			cli_error("%s: discard failed: %s", sc.guest,
				  !sc.c ? cli_control_reason(rc, &sc.reply)
					: cli_strerror(rc));
		return savelock_end(&sc, CLI_EXIT_FAIL);
	}
	printf("%s: saved memory image discarded; its disks are writable and "
	       "the guest boots fresh%s\n",
	       sc.guest, sc.via);
	return savelock_end(&sc, CLI_EXIT_OK);
}
