/*
 * cmd_clone.c -- `hangar clone [STORE] SRC[@SNAP] NEW`: a new guest NEW
 * holding SRC's files as of snapshot SNAP, or as SRC's committed state.
 *
 * Shared extents (the fast path).  When the store is not mounted and not
 * encrypted, the container file itself is cloned with FICLONE
 * (store_guest_clone_shared): on XFS with reflink or btrfs the two files
 * share every extent, copy-on-write in the host filesystem, so a clone
 * costs a few commits whatever the guest's size.  Core then makes the copy
 * the guest the slow path below would make: rolled back to SNAP, every
 * snapshot deleted, memory images (and the incomplete marker) dropped,
 * every other file a plain file (no image seal), a fresh uuid; and it is
 * renamed into place only when complete.  Not for an encrypted store: a
 * copy of the file keeps the source's uuid, which salts its keys and is in
 * every seal's AAD, so a new identity means sealing every byte again, and
 * the two files would go on from one nonce counter under one key (a reused
 * nonce: FORMAT.md 9.4).  When the filesystem cannot share extents
 * (FICLONE fails with EOPNOTSUPP, EINVAL, EXDEV), clone falls back to the
 * copy silently; -v says which path was taken and why.  Nor on a mounted
 * store: the daemon has the source open and writes it, and the CLI may not
 * create a guest file beside it (the daemon owns the namespace); that
 * clone is copied through the mount as before.
 *
 * Otherwise a clone is a copy made through core, never a copy of the file:
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
 * Mounted store: SRC@SNAP goes through the mount.  The snapshot is read
 * from the store files beside the daemon (snapview.c: safe, and checked
 * afterwards), NEW is created by the daemon (control socket, as `hangar
 * create` does) and each file written into MNT/NEW/ (each checked to be on
 * the daemon's mount), the marker first and removed last; on failure the
 * daemon deletes NEW.  The new guest directory then has the daemon's
 * defaults, not SRC's directory attributes.  SRC without @SNAP is refused
 * on a mounted store: the daemon's live files are no committed state
 * another process may read; take a snapshot and clone that.
 */
#include <errno.h>
#include <fcntl.h>
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
		   "@SNAP) as SRC's committed state, with its own identity "
		   "(and keys, in an\n"
		   "encrypted store).  On XFS (reflink) or btrfs the "
		   "container's extents are\n"
		   "shared, nothing is copied (not for an encrypted or "
		   "mounted store); else a\n"
		   "sparse copy through the store.  A clone is a new "
		   "machine: memory.save is not\n"
		   "copied.  On a mounted store, only SRC@SNAP (written "
		   "through the mount).\n\n"
		   "  -b, --bytes       print exact sizes\n"
		   "      --copy        copy the data even where extents "
		   "could be shared\n"
		   "  -v, --verbose     say whether extents were shared or "
		   "data copied, and why\n"
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

/* The data to copy from `c`'s files `names` (progress's 100 %). */
static uint64_t clone_data_total(struct container *c,
				 const struct object_name *names, size_t num)
{
	struct object_attr attr;
	uint64_t total = 0;

	for (size_t i = 0; i < num; i++)
		if (!clone_skips(names[i].name) &&
		    object_getattr(c, names[i].id, &attr) == 0)
			total += copy_object_data_bytes(c, names[i].id,
							attr.size);
	return total;
}

/* store_clone_options.drop for the shared-extent path: clone_skips, and
 * note a dropped memory image (the summary's note). */
static bool clone_drops(void *arg, const char *name)
{
	bool *dropped_image = arg;

	if (!clone_skips(name))
		return false;
	if (strcmp(name, GUEST_INCOMPLETE_MARKER))
		*dropped_image = true;
	return true;
}

/*
 * The fast path: NEW from SRC's container file with its extents shared.
 * Returns 0 done (the summary printed), 1 not possible here (the caller
 * copies; -v has said why), or -1 failed (reported).  Errors the copy
 * reports in its own words (no such guest or snapshot, NEW exists) are
 * left to it as well.
 */
static int clone_shared(struct cli_store *cs, const char *src, const char *snap,
			const char *new_guest, bool verbose, bool exact)
{
	struct object_name *names = NULL;
	struct container *dst = NULL;
	char data_text[32];
	uint64_t data = 0;
	size_t num = 0;
	bool dropped_image = false;
	int rc;

	if (store_is_encrypted(cs->store)) {
		if (verbose)
			cli_note("copying the data: the store is encrypted, "
				 "and a clone sharing the container's extents "
				 "would share its keys and nonce counter");
		return 1;
	}
	rc = store_guest_clone_shared(
		cs->store, src, new_guest,
		&(struct store_clone_options){.snapshot = snap,
					      .drop = clone_drops,
					      .drop_arg = &dropped_image});
	if (rc == -EOPNOTSUPP || rc == -EXDEV || rc == -ENOENT ||
	    rc == -EEXIST || rc == -EBUSY) {
		if (verbose)
			cli_note("copying the data: sharing the container's "
				 "extents failed: %s",
				 rc == -EOPNOTSUPP
					 ? "the filesystem cannot share "
					   "extents (FICLONE)"
					 : cli_strerror(rc));
		return 1;
	}
	if (rc) {
		cli_error("%s: cloning %s%s%s into %s failed: %s",
			  store_dir(cs->store), src, snap ? "@" : "",
			  snap ? snap : "", new_guest, cli_strerror(rc));
		return -1;
	}
	/* The summary: what the new guest holds (its maps, no data read). */
	unsigned files = 0;
	if (store_guest_get(cs->store, new_guest, &dst) == 0) {
		if (object_list(dst, &names, &num) == 0) {
			data = clone_data_total(dst, names, num);
			files = (unsigned)num;
		}
		free(names);
		store_guest_put(cs->store, dst);
	}
	if (verbose)
		cli_note("the container's extents are shared with %s "
			 "(FICLONE): no data was copied",
			 src);
	printf("cloned %s%s%s to %s: %u file%s, %s of data, extents shared "
	       "(nothing copied)\n",
	       src, snap ? "@" : "", snap ? snap : "", new_guest, files,
	       files == 1 ? "" : "s", format_size(data_text, data, exact));
	if (dropped_image)
		printf("note: memory.save was not copied: a clone is a new "
		       "machine and boots fresh\n");
	return 0;
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
	total = clone_data_total(src, names, num);
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

/* Make MNT/NEW/NAME (on the mount of device `dev`) from object `o` of the
 * view; owner (as far as we may), mode and mtime as in the source. */
static int clone_file_mounted(struct container *v, const struct object_name *o,
			      const struct object_attr *attr, const char *gdir,
			      dev_t dev, struct progress *progress,
			      uint64_t base)
{
	char path[4700];
	struct stat st;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/%s", gdir, o->name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || st.st_dev != dev) {
		rc = -EXDEV; /* the path no longer leads to the daemon's mount */
		goto out;
	}
	rc = copy_object_to_fd(v, o->id, fd, attr->size, progress, base);
	if (!rc &&
	    (attr->uid != (uint32_t)getuid() ||
	     attr->gid != (uint32_t)getgid()) &&
	    fchown(fd, attr->uid, attr->gid) != 0 && errno != EPERM)
		rc = -errno; /* only root may give a file away */
	if (!rc && fchmod(fd, (mode_t)(attr->mode & 07777)) != 0)
		rc = -errno;
	if (!rc) {
		const struct timespec times[2] = {{.tv_nsec = UTIME_OMIT},
						  attr->mtime};
		if (futimens(fd, times) != 0)
			rc = -errno;
	}
out:
	if (close(fd) != 0 && !rc)
		rc = -errno;
	return rc;
}

/* The files of the view into MNT/NEW, after the incomplete marker. */
static int clone_files_mounted(struct container *v, const char *gdir, dev_t dev,
			       bool show_progress, uint64_t *out_data,
			       unsigned *out_files, bool *out_skipped_image)
{
	struct object_name *names = NULL;
	struct object_attr attr;
	struct progress progress;
	char marker[4700];
	uint64_t total = 0, base = 0;
	size_t num = 0;
	int fd, rc;

	snprintf(marker, sizeof(marker), "%s/%s", gdir,
		 GUEST_INCOMPLETE_MARKER);
	fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	rc = object_list(v, &names, &num);
	if (rc)
		return rc;
	total = clone_data_total(v, names, num);
	progress_start_forced(&progress, "clone", total, show_progress);
	for (size_t i = 0; i < num && !rc; i++) {
		if (clone_skips(names[i].name)) {
			if (strcmp(names[i].name, GUEST_INCOMPLETE_MARKER))
				*out_skipped_image = true;
			continue;
		}
		rc = object_getattr(v, names[i].id, &attr);
		if (!rc)
			rc = clone_file_mounted(v, &names[i], &attr, gdir, dev,
						&progress, base);
		if (!rc) {
			uint64_t data = copy_object_data_bytes(v, names[i].id,
							       attr.size);
			base += data;
			*out_data += data;
			(*out_files)++;
		}
	}
	progress_finish(&progress);
	free(names);
	return rc;
}

/*
 * The store is mounted (cs: the refused write open, with the daemon's
 * mount point): read snapshot `snap` of `src` from the store files, write
 * NEW through the daemon and its mount.  Returns the exit status.
 */
static int clone_mounted(struct cli_store *cs, const char *src,
			 const char *snap, const char *new_guest,
			 bool show_progress, bool exact)
{
	char gdir[4400], marker[4500], data_text[32], via[128];
	struct control_reply reply;
	struct container_info info;
	struct cli_snapshot view;
	struct cli_store rs;
	uint64_t data = 0;
	unsigned files = 0;
	bool answered, skipped_image = false;
	int rc, exit_code = CLI_EXIT_FAIL;

	if (!cs->mountpoint[0]) {
		cli_store_refuse_mounted(cs, "clone");
		return CLI_EXIT_FAIL;
	}
	if (cli_store_open(cs->dir, CLI_ACCESS_READ_METADATA, &rs) != 0)
		return CLI_EXIT_FAIL;
	if (cli_snapshot_open(&rs, src, snap, &view) != 0)
		goto out_close;
	container_info(view.guest, &info);
	rc = cli_control(cs, CONTROL_OP_CREATE, new_guest,
			 info.compress_disks ? CONTROL_FLAG_COMPRESS : 0,
			 &reply, &answered);
	if (!answered) {
		cli_store_refuse_mounted(cs, "clone");
		goto out_view;
	}
	if (rc) {
		cli_error("%s: cannot create guest %s: %s", cs->dir, new_guest,
			  cli_control_reason(rc, &reply));
		goto out_view;
	}
	cli_store_mount_path(cs, new_guest, gdir, sizeof(gdir));
	rc = clone_files_mounted(view.view, gdir, cs->mount_dev, show_progress,
				 &data, &files, &skipped_image);
	if (!rc && cli_stop_requested())
		rc = -EINTR;
	if (!rc && cli_snapshot_verify(&rs, src, snap, &view) != 0)
		rc = -ESTALE;
	if (!rc) {
		snprintf(marker, sizeof(marker), "%s/%s", gdir,
			 GUEST_INCOMPLETE_MARKER);
		if (unlink(marker) != 0)
			rc = -errno;
	}
	if (rc) {
		cli_error("%s: cloning %s@%s into %s through %s failed: %s",
			  cs->dir, src, snap, new_guest, gdir,
			  rc == -EINTR ? "interrupted" : cli_strerror(rc));
		/* as import: the daemon may hold our last file a moment */
		int del = -EBUSY;
		for (int i = 0; i < 50 && del == -EBUSY; i++) {
			if (i)
				usleep(100 * 1000);
			del = cli_control(cs, CONTROL_OP_DELETE, new_guest,
					  CONTROL_FLAG_FORCE, &reply,
					  &answered);
		}
		if (del != 0)
			cli_note("the partly cloned guest %s is left in the "
				 "store; remove it with `hangar rm --force`",
				 new_guest);
		goto out_view;
	}
	cli_store_via_text(cs, via, sizeof(via));
	printf("cloned %s@%s to %s%s: %u file%s, %s of data copied\n", src,
	       snap, new_guest, via, files, files == 1 ? "" : "s",
	       format_size(data_text, data, exact));
	if (skipped_image)
		printf("note: memory.save was not copied: a clone is a new "
		       "machine and boots fresh\n");
	exit_code = CLI_EXIT_OK;
out_view:
	cli_snapshot_close(&rs, &view);
out_close:
	if (cli_store_close(&rs) != 0)
		exit_code = CLI_EXIT_FAIL;
	return exit_code;
}

int cmd_clone(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"bytes", no_argument, NULL, 'b'},
		{"progress", no_argument, NULL, 'P'},
		{"verbose", no_argument, NULL, 'v'},
		{"copy", no_argument, NULL, 'C'},
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
	bool verbose = false, force_copy = false;
	int opt, rc, exit_code = CLI_EXIT_FAIL;

	while ((opt = getopt_long(argc, argv, ":bhv", longopts, NULL)) != -1) {
		if (cli_getopt_common(opt, argv, usage_clone, &exit_code))
			return exit_code;
		if (opt == 'b')
			exact = true;
		else if (opt == 'P')
			show_progress = true;
		else if (opt == 'v')
			verbose = true;
		else if (opt == 'C')
			force_copy = true;
	}
	const char *op[3];
	if (cli_positional(argc, argv, usage_clone, "STORE SRC NEW", store_buf,
			   sizeof(store_buf), op))
		return CLI_EXIT_USAGE;
	store_path = op[0];
	snprintf(src_guest, sizeof(src_guest), "%s", op[1]);
	new_guest = op[2];
	char *at = strchr(src_guest, '@');
	if (at) {
		*at = '\0';
		snap = op[1] + (at - src_guest) + 1;
		if (!*snap)
			return cli_usage_error(usage_clone,
					       "%s: no snapshot name after @",
					       op[1]);
	}
	if (strlen(op[1]) >= sizeof(src_guest) ||
	    !cli_guest_check_name(src_guest) ||
	    !cli_guest_check_name(new_guest))
		return CLI_EXIT_USAGE;
	if (strcmp(src_guest, new_guest) == 0)
		return cli_usage_error(usage_clone,
				       "NEW must be another guest than SRC");

	rc = cli_store_open(store_path, CLI_ACCESS_WRITE, &cs);
	if (rc == -EWOULDBLOCK && snap) {
		if (verbose)
			cli_note(
				"copying the data through the mount: the store "
				"is mounted, and its daemon owns the guest "
				"files (no extents are shared there)");
		cli_stop_hold();
		exit_code = clone_mounted(&cs, src_guest, snap, new_guest,
					  show_progress, exact);
		cli_stop_release();
		return exit_code;
	}
	if (rc == -EWOULDBLOCK) {
		char from[4400];

		cli_store_holder_text(&cs, path, sizeof(path));
		cli_error("%s: store is %s: its live files are no committed "
			  "state another process may read, so clone needs "
			  "SRC@SNAP while it is mounted",
			  store_path, path);
		cli_store_mount_path(&cs, src_guest, from, sizeof(from));
		cli_store_mount_path(&cs, new_guest, path, sizeof(path));
		cli_store_mount_hint(&cs,
				     "take a snapshot of %s and clone %s@SNAP, "
				     "or mkdir %s && cp -a --sparse=always "
				     "%s/. %s/ (then rm %s/memory.save*)",
				     src_guest, src_guest, path, from, path,
				     path);
		return CLI_EXIT_FAIL;
	}
	if (rc)
		return CLI_EXIT_FAIL;
	cli_stop_hold();
	rc = 1;
	if (force_copy && verbose)
		cli_note("copying the data, as --copy asks");
	else if (!force_copy)
		rc = clone_shared(&cs, src_guest, snap, new_guest, verbose,
				  exact);
	if (rc <= 0) {
		exit_code = rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
		goto out_close_store;
	}
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
