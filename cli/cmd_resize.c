/*
 * cmd_resize.c -- `hangar resize [STORE] GUEST DISK SIZE [--shrink]`.
 *
 * Sets a disk's virtual size.  Growing is sparse (the new range is a hole);
 * shrinking drops the data past the new end and needs --shrink.  SIZE is
 * absolute or, with a leading '+', added to the current size; it must be a
 * multiple of 512 (a disk is sectors).
 *
 * Refused, and nothing changes:
 *   - while a saved memory image pins the disk (the save lock: the image
 *     holds the disk's exact state, size included; resume or discard
 *     first).  Not mounted, save_lock_check_write says so before
 *     object_truncate; mounted, hangarfs refuses the truncate with EBUSY
 *     and logs the image that holds it;
 *   - while the disk is open for writing: not mounted, nobody can (we hold
 *     the store lock and the container's); mounted, a process with the
 *     disk open for writing on the mount (a running VM) refuses it, with
 *     its PID (openers.c);
 *   - for a file that is not a disk (*.raw): memory.save, config.
 * Mounted, the size is set through the mount (truncate(2), the same
 * object_truncate in hangarfs: the control socket carries no size) and
 * then committed through the control socket before we return.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "units.h"
#include "hangar/names.h"


void usage_resize(FILE *f)
{
	fprintf(f,
		"usage: hangar resize [STORE] GUEST DISK [+]SIZE [--shrink]\n"
		"Set the virtual size of GUEST's DISK (e.g. disk.raw) to SIZE, "
		"or grow it by\n"
		"+SIZE (a multiple of 512).  Growing adds a hole; shrinking "
		"drops the data\n"
		"past SIZE and needs --shrink.  Refused while a saved memory "
		"image pins the\n"
		"disk, or while it is open for writing (a running guest).\n\n"
		"  -s, --shrink  allow a smaller size (the data past it is "
		"lost)\n"
		"  -b, --bytes   print exact sizes\n" CLI_KEY_USAGE
		"  -h, --help    show this help\n");
}

struct resize_request {
	const char *guest, *disk;
	uint64_t size; /* absolute, or the increment when `relative` */
	bool relative, shrink, exact;
};

/* The new size from the current one; 0 or a message and CLI_EXIT_FAIL. */
static int resize_target(const struct cli_store *cs,
			 const struct resize_request *rq, uint64_t current,
			 uint64_t *out_size)
{
	char from[FORMAT_SIZE_LEN], to[FORMAT_SIZE_LEN];
	uint64_t size = rq->relative ? current + rq->size : rq->size;

	if (rq->relative && size < current) {
		cli_error("%s/%s: size too large", rq->guest, rq->disk);
		return CLI_EXIT_FAIL;
	}
	if (size < current && !rq->shrink) {
		cli_error("%s/%s: %s is smaller than its size %s: refusing to "
			  "shrink it",
			  rq->guest, rq->disk, format_size(to, size, rq->exact),
			  format_size(from, current, rq->exact));
		cli_note("the data past the new end is lost; pass --shrink to "
			 "do it anyway (`hangar resize --shrink %s %s %s "
			 "...`)",
			 cs->dir, rq->guest, rq->disk);
		return CLI_EXIT_FAIL;
	}
	*out_size = size;
	return 0;
}

static void resize_done(const struct resize_request *rq, uint64_t from,
			uint64_t to, const char *via)
{
	char a[FORMAT_SIZE_LEN], b[FORMAT_SIZE_LEN];

	if (from == to)
		printf("%s/%s is already %s\n", rq->guest, rq->disk,
		       format_size(b, to, rq->exact));
	else
		printf("resized %s/%s from %s to %s%s\n", rq->guest, rq->disk,
		       format_size(a, from, rq->exact),
		       format_size(b, to, rq->exact), via);
}

static void resize_pinned_note(const struct cli_store *cs, const char *guest)
{
	cli_note("resume the guest (`hangar resume %s %s`) or discard the "
		 "image (`hangar discard %s %s`) first",
		 cs->dir, guest, cs->dir, guest);
}

/* The store is mounted: truncate through the mount, then commit. */
static int resize_mounted(const struct cli_store *cs,
			  const struct resize_request *rq)
{
	char path[4400], via[128], comm[64];
	struct control_reply reply;
	uint64_t size;
	struct stat st;
	bool answered;
	pid_t pid = 0;
	int n, rc;

	if (!cs->mountpoint[0]) {
		cli_store_refuse_mounted(cs, "resize");
		cli_store_mount_path(cs, rq->guest, path, sizeof(path));
		cli_store_mount_hint(cs, "truncate -s SIZE %s/%s", path,
				     rq->disk);
		return CLI_EXIT_FAIL;
	}
	cli_store_mount_path(cs, rq->guest, path, sizeof(path));
	if (stat(path, &st) != 0) {
		cli_error("%s: no guest named %s", cs->dir, rq->guest);
		return CLI_EXIT_FAIL;
	}
	if (strlen(path) + strlen(rq->disk) + 2 > sizeof(path)) {
		cli_error("%s: path too long", path);
		return CLI_EXIT_FAIL;
	}
	strcat(path, "/");
	strcat(path, rq->disk);
	if (stat(path, &st) != 0) {
		if (errno == ENOENT)
			cli_error("%s: guest %s has no disk %s", cs->dir,
				  rq->guest, rq->disk);
		else
			cli_error("%s: %s", path, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	if (resize_target(cs, rq, (uint64_t)st.st_size, &size) != 0)
		return CLI_EXIT_FAIL;
	if (size == (uint64_t)st.st_size) {
		resize_done(rq, size, size, "");
		return CLI_EXIT_OK;
	}
	n = cli_path_openers(path, false, true, &pid, comm, sizeof(comm));
	if (n > 0) {
		cli_error("%s/%s: resize refused: open for writing by %s PID "
			  "%ld%s",
			  rq->guest, rq->disk, comm[0] ? comm : "process",
			  (long)pid, n > 1 ? " and others" : "");
		cli_note("stop the guest (close the disk) and try again");
		return CLI_EXIT_FAIL;
	}
	if (truncate(path, (off_t)size) != 0) {
		rc = -errno;
		if (rc == -EBUSY) {
			cli_error("%s/%s: resize refused: a saved memory image "
				  "(%s) depends on this disk's exact state",
				  rq->guest, rq->disk, SAVE_IMAGE_NAME);
			resize_pinned_note(cs, rq->guest);
		} else {
			cli_error("%s/%s: resize failed: %s", rq->guest,
				  rq->disk, cli_strerror(rc));
		}
		return CLI_EXIT_FAIL;
	}
	rc = cli_control(cs, CONTROL_OP_COMMIT, "-", 0, &reply, &answered);
	if (rc) {
		cli_error("%s/%s: resized, but the commit failed: %s",
			  rq->guest, rq->disk, cli_control_reason(rc, &reply));
		return CLI_EXIT_FAIL;
	}
	cli_store_via_text(cs, via, sizeof(via));
	resize_done(rq, (uint64_t)st.st_size, size, via);
	return CLI_EXIT_OK;
}

static int resize_local(struct cli_store *cs, const struct resize_request *rq)
{
	struct container *c = NULL;
	struct object_attr attr;
	char reason[600];
	uint64_t id, size;
	int rc;

	rc = store_guest_get(cs->store, rq->guest, &c);
	if (rc) {
		if (rc == -ENOENT)
			cli_error("%s: no guest named %s", cs->dir, rq->guest);
		else
			cli_error("%s: cannot open guest %s: %s", cs->dir,
				  rq->guest, cli_strerror(rc));
		return CLI_EXIT_FAIL;
	}
	rc = object_lookup(c, rq->disk, &id);
	if (!rc)
		rc = object_getattr(c, id, &attr);
	if (rc) {
		if (rc == -ENOENT)
			cli_error("%s: guest %s has no disk %s", cs->dir,
				  rq->guest, rq->disk);
		else
			cli_error("%s/%s: %s", rq->guest, rq->disk,
				  cli_strerror(rc));
		goto out_put;
	}
	rc = resize_target(cs, rq, attr.size, &size);
	if (rc || size == attr.size) {
		if (!rc)
			resize_done(rq, size, size, "");
		goto out_put;
	}
	rc = save_lock_check_write(c, id, reason, sizeof(reason));
	if (rc == -EBUSY) {
		cli_error("%s/%s: resize refused: %s", rq->guest, rq->disk,
			  reason);
		resize_pinned_note(cs, rq->guest);
		goto out_put;
	}
	if (!rc)
		rc = object_truncate(c, id, size);
	if (!rc)
		rc = container_commit(c);
	if (rc) {
		cli_error("%s/%s: resize failed: %s", rq->guest, rq->disk,
			  cli_strerror(rc));
		goto out_put;
	}
	resize_done(rq, attr.size, size, "");
out_put:
	store_guest_put(cs->store, c);
	return rc ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

int cmd_resize(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"shrink", no_argument, NULL, 's'},
		{"bytes", no_argument, NULL, 'b'},
		CLI_KEY_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct resize_request rq = {.shrink = false};
	const char *dir, *size_text;
	char store_buf[4096];
	struct cli_store cs;
	int opt, rc, exit_code = CLI_EXIT_FAIL;

	while ((opt = getopt_long(argc, argv, ":sbh", longopts, NULL)) != -1) {
		if (cli_getopt_common(opt, argv, usage_resize, &exit_code))
			return exit_code;
		if (opt == 's')
			rq.shrink = true;
		else if (opt == 'b')
			rq.exact = true;
	}
	dir = cli_store_operand(argc, argv, 3, store_buf, sizeof(store_buf));
	if (!dir || argc - optind != 3)
		return cli_usage_error(usage_resize,
				       !dir || argc - optind < 3
					       ? "missing STORE, GUEST, DISK "
						 "or SIZE"
					       : "too many arguments");
	rq.guest = argv[optind];
	rq.disk = argv[optind + 1];
	size_text = argv[optind + 2];
	if (!cli_guest_check_name(rq.guest))
		return CLI_EXIT_USAGE;
	if (!name_object_valid(rq.disk) ||
	    object_role_of_name(rq.disk) != OBJECT_ROLE_DISK)
		return cli_usage_error(usage_resize,
				       "%s is not a disk name (NAME.raw)",
				       rq.disk);
	rq.relative = size_text[0] == '+';
	const char *why;
	if (units_parse_disk_size(size_text + rq.relative, &rq.size, &why) !=
	    0)
		return cli_usage_error(usage_resize, "bad size '%s': %s",
				       size_text, why);
	rc = cli_store_open(dir, CLI_ACCESS_WRITE, &cs);
	if (rc == -EWOULDBLOCK)
		return resize_mounted(&cs, &rq);
	if (rc)
		return CLI_EXIT_FAIL;
	exit_code = resize_local(&cs, &rq);
	if (cli_store_close(&cs) != 0)
		exit_code = CLI_EXIT_FAIL;
	return exit_code;
}
