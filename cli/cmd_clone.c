/*
 * cmd_clone.c -- `hangar clone [STORE] SRC[@SNAP] NEW`: a new guest NEW
 * holding SRC's files as of snapshot SNAP, or as SRC's committed state.
 *
 * A clone is a copy made through core, never a copy of the container file:
 * NEW is created like any guest (store_guest_create: its own uuid, and in
 * an encrypted store its own keys, salted with that uuid), and each file's
 * data ranges (object_seek SEEK_DATA/SEEK_HOLE on the source, live or a
 * snapshot view) are written into it with object_write, so every cluster is
 * sealed afresh under NEW's keys and nonce counter.  Two containers that
 * continued from one copied nonce counter under one key would reuse nonces;
 * a copy through core cannot.  Holes stay holes; the files keep their
 * names, sizes, modes, owners and mtimes, and the guest directory its
 * attributes.
 *
 * A clone is a new machine: it gets no memory image.  memory.save (and
 * memory.save.stale, .incomplete) is not copied, whether SRC or SNAP holds
 * one, so the clone's disks are never pinned and it boots fresh.
 *
 * Like `hangar import`, the clone is marked incomplete (GUEST_INCOMPLETE_
 * MARKER, committed first) until its last byte is in, and removed again if
 * the copy fails or SIGINT, SIGTERM or SIGHUP arrive meanwhile.
 *
 * Mounted store: refused, with the command to run on the mount.  A clone
 * writes a new container, which only the daemon holding the store may do,
 * and the daemon's live files are not a committed state this process may
 * read (a snapshot is, but the writing side would still be the daemon's).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "hangar/names.h"
#include "hangar/savelock.h"

void usage_clone(FILE *f)
{
	fprintf(f, "usage: hangar clone [STORE] SRC[@SNAP] NEW [--progress]\n"
		   "Create guest NEW holding the files of guest SRC as of "
		   "snapshot SNAP, or (no\n"
		   "@SNAP) as SRC's committed state: a sparse copy through "
		   "the store, with its\n"
		   "own identity (and keys, in an encrypted store).  A clone "
		   "is a new machine:\n"
		   "memory.save is not copied.  Refused while the store is "
		   "mounted.\n\n"
		   "  -b, --bytes       print exact sizes\n"
		   "      --progress    show progress (data copied, rate, ETA) "
		   "even when stderr\n"
		   "                    is not a terminal\n" CLI_KEY_USAGE
		   "  -h, --help        show this help\n");
}

/* Files a clone does not get: every memory image, and the source's own
 * incomplete marker (the clone has its own until it is complete). */
static bool clone_skips(const char *name)
{
	return strncmp(name, SAVE_IMAGE_NAME, strlen(SAVE_IMAGE_NAME)) == 0 ||
	       strcmp(name, GUEST_INCOMPLETE_MARKER) == 0;
}

/* Copy the guest directory's attributes, then every file. */
static int clone_objects(struct container *src, struct container *dst,
			 bool show_progress, uint64_t *out_data,
			 unsigned *out_files, bool *out_skipped_image)
{
	struct object_name *names = NULL;
	struct object_attr dir, attr;
	struct progress progress;
	uint64_t total = 0, base = 0, marker, id;
	size_t num = 0;
	int rc;

	rc = object_create(dst, GUEST_INCOMPLETE_MARKER, S_IFREG | 0600,
			   (uint32_t)getuid(), (uint32_t)getgid(), &marker);
	if (!rc)
		rc = container_commit(dst); /* before any data can be */
	if (rc)
		return rc;
	rc = container_dir_getattr(src, &dir);
	if (rc == 0)
		rc = container_dir_setattr(dst, &dir,
					   OBJECT_SET_MODE | OBJECT_SET_UID |
						   OBJECT_SET_GID |
						   OBJECT_SET_MTIME,
					   &dir);
	else if (rc == -ENODATA)
		rc = 0; /* never set: the clone keeps the defaults too */
	if (!rc)
		rc = object_list(src, &names, &num);
	if (rc)
		return rc;
	for (size_t i = 0; i < num; i++)
		if (!clone_skips(names[i].name) &&
		    object_getattr(src, names[i].id, &attr) == 0)
			total += copy_object_data_bytes(src, names[i].id,
							attr.size);
	progress_start_forced(&progress, "clone", total, show_progress);
	for (size_t i = 0; i < num && !rc; i++) {
		if (clone_skips(names[i].name)) {
			if (strcmp(names[i].name, GUEST_INCOMPLETE_MARKER))
				*out_skipped_image = true;
			continue;
		}
		rc = object_getattr(src, names[i].id, &attr);
		if (!rc)
			rc = object_create(dst, names[i].name, attr.mode,
					   attr.uid, attr.gid, &id);
		if (!rc)
			rc = copy_object_to_object(src, names[i].id, dst, id,
						   attr.size, &progress, base);
		if (!rc)
			rc = object_setattr(dst, id, &attr,
					    OBJECT_SET_MODE | OBJECT_SET_UID |
						    OBJECT_SET_GID |
						    OBJECT_SET_MTIME);
		if (!rc) {
			uint64_t data = copy_object_data_bytes(src, names[i].id,
							       attr.size);
			base += data;
			*out_data += data;
			(*out_files)++;
		}
	}
	progress_finish(&progress);
	free(names);
	if (!rc)
		rc = container_commit(dst);
	if (!rc)
		rc = object_unlink(dst, GUEST_INCOMPLETE_MARKER);
	return rc ? rc : container_commit(dst);
}

int cmd_clone(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"bytes", no_argument, NULL, 'b'},
		{"progress", no_argument, NULL, 'P'},
		CLI_KEY_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *store_path, *new_guest, *snap = NULL;
	char store_buf[4096], src_guest[128], path[4400], data_text[32];
	struct cli_snapshot view = {0};
	struct cli_store cs;
	struct container *src = NULL, *dst = NULL;
	struct container_info info;
	uint64_t data = 0;
	unsigned files = 0;
	bool exact = false, show_progress = false, skipped_image = false;
	int opt, rc, exit_code = CLI_EXIT_FAIL;

	while ((opt = getopt_long(argc, argv, ":bh", longopts, NULL)) != -1) {
		if (cli_getopt_common(opt, argv, usage_clone, &exit_code))
			return exit_code;
		if (opt == 'b')
			exact = true;
		else if (opt == 'P')
			show_progress = true;
	}
	store_path =
		cli_store_operand(argc, argv, 2, store_buf, sizeof(store_buf));
	if (!store_path || argc - optind != 2)
		return cli_usage_error(usage_clone,
				       !store_path || argc - optind < 2
					       ? "missing STORE, SRC or NEW"
					       : "too many arguments");
	snprintf(src_guest, sizeof(src_guest), "%s", argv[optind]);
	new_guest = argv[optind + 1];
	char *at = strchr(src_guest, '@');
	if (at) {
		*at = '\0';
		snap = argv[optind] + (at - src_guest) + 1;
		if (!*snap)
			return cli_usage_error(usage_clone,
					       "%s: no snapshot name after @",
					       argv[optind]);
	}
	if (strlen(argv[optind]) >= sizeof(src_guest) ||
	    !cli_guest_check_name(src_guest) ||
	    !cli_guest_check_name(new_guest))
		return CLI_EXIT_USAGE;
	if (strcmp(src_guest, new_guest) == 0)
		return cli_usage_error(usage_clone,
				       "NEW must be another guest than SRC");

	rc = cli_store_open(store_path, CLI_ACCESS_WRITE, &cs);
	if (rc == -EWOULDBLOCK) {
		char from[4400];

		cli_store_refuse_mounted(&cs, "clone");
		cli_store_mount_path(&cs, src_guest, from, sizeof(from));
		cli_store_mount_path(&cs, new_guest, path, sizeof(path));
		if (snap)
			cli_store_mount_hint(
				&cs,
				"mkdir %s && cp -a --sparse=always "
				"%s/.snapshots/%s/. %s/ (then "
				"rm %s/memory.save*)",
				path, from, snap, path, path);
		else
			cli_store_mount_hint(
				&cs,
				"mkdir %s && cp -a --sparse=always "
				"%s/. %s/ (then rm %s/memory.save*)",
				path, from, path, path);
		return CLI_EXIT_FAIL;
	}
	if (rc)
		return CLI_EXIT_FAIL;
	cli_stop_hold();
	if (snap) {
		if (cli_snapshot_open(&cs, src_guest, snap, &view) != 0)
			goto out_close_store;
		src = view.view;
	} else {
		rc = store_guest_get(cs.store, src_guest, &view.guest);
		if (rc) {
			view.guest = NULL;
			if (rc == -ENOENT)
				cli_error("%s: no guest named %s", store_path,
					  src_guest);
			else
				cli_error("%s: cannot read guest %s: %s",
					  store_path, src_guest,
					  cli_strerror(rc));
			goto out_close_store;
		}
		src = view.guest;
	}
	container_info(view.guest, &info);
	rc = store_guest_create(cs.store, new_guest,
				&(struct guest_create_options){
					.compress_disks = info.compress_disks});
	if (rc) {
		if (rc == -EEXIST)
			cli_error("%s: guest %s already exists (clone creates "
				  "a new guest)",
				  store_path, new_guest);
		else
			cli_error("%s: cannot create guest %s: %s", store_path,
				  new_guest, cli_strerror(rc));
		goto out_close_view;
	}
	rc = store_guest_get(cs.store, new_guest, &dst);
	if (rc == 0) {
		rc = clone_objects(src, dst, show_progress, &data, &files,
				   &skipped_image);
		store_guest_put(cs.store, dst);
	}
	if (rc == 0 && cli_stop_requested())
		rc = -EINTR;
	if (rc) {
		cli_error("%s: cloning %s%s%s into %s failed: %s", store_path,
			  src_guest, snap ? "@" : "", snap ? snap : "",
			  new_guest,
			  rc == -EINTR ? "interrupted" : cli_strerror(rc));
		if (store_guest_delete(cs.store, new_guest,
				       STORE_DELETE_FORCE) != 0)
			cli_note("the partly cloned guest %s is left in the "
				 "store; remove it with `hangar rm --force`",
				 new_guest);
		goto out_close_view;
	}
	printf("cloned %s%s%s to %s: %u file%s, %s of data copied\n", src_guest,
	       snap ? "@" : "", snap ? snap : "", new_guest, files,
	       files == 1 ? "" : "s", format_size(data_text, data, exact));
	if (skipped_image)
		printf("note: memory.save was not copied: a clone is a new "
		       "machine and boots fresh\n");
	exit_code = CLI_EXIT_OK;
out_close_view:
	cli_snapshot_close(&cs, &view);
out_close_store:
	if (cli_store_close(&cs) != 0)
		exit_code = CLI_EXIT_FAIL;
	cli_stop_release();
	return exit_code;
}
