/*
 * export_snapshot.c -- `hangar export [STORE] GUEST DIR --snapshot SNAP
 * [--since SNAP0]`: a guest's files as of one snapshot, whole or as an
 * incremental backup.
 *
 * Whole: every file of the snapshot comes out as a sparse file in DIR, as
 * `hangar export` does for the live guest (cmd_export.c's export_one, on
 * the snapshot's read-only view).
 *
 * Incremental (--since SNAP0): DIR holds an export of SNAP0 (a whole one,
 * or one brought up to SNAP0 the same way).  What changed from SNAP0 to
 * SNAP (container_snapshot_diff, from the metadata alone) is applied to it:
 * a changed extent of a file is cleared and rewritten from SNAP, the file
 * takes SNAP's size; a file SNAP0 did not have (or another file
 * under its name) is written whole; a file SNAP no longer has is removed;
 * every file takes SNAP's mode (a mode changes without any data).
 * Unchanged extents are neither read from the store nor written, so the
 * work is in proportion to the change.  A file the diff names as changed
 * must already be in DIR: a missing one means DIR is not an export of
 * SNAP0, which is refused (with the file named) rather than guessed at.
 *
 * Mounted or not: a snapshot is read through a read-only open of the store
 * even beside its daemon (snapview.c says why that is safe, and checks the
 * snapshot survived the copy).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* The files of a snapshot view, with their attributes, sorted by name. */
static int view_objects(struct container *v, struct guest_object **out,
			size_t *out_num)
{
	struct object_name *names = NULL;
	struct guest_object *objs;
	size_t num = 0;
	int rc = object_list(v, &names, &num);

	if (rc)
		return rc;
	objs = calloc(num ? num : 1, sizeof(*objs));
	if (!objs) {
		free(names);
		return -ENOMEM;
	}
	for (size_t i = 0; i < num && !rc; i++) {
		snprintf(objs[i].name, sizeof(objs[i].name), "%s",
			 names[i].name);
		rc = object_getattr(v, names[i].id, &objs[i].attr);
	}
	free(names);
	if (rc) {
		free(objs);
		return rc;
	}
	*out = objs;
	*out_num = num;
	return 0;
}

static const struct guest_object *find_object(const struct guest_object *objs,
					      size_t num, const char *name)
{
	for (size_t i = 0; i < num; i++)
		if (strcmp(objs[i].name, name) == 0)
			return &objs[i];
	return NULL;
}

/* Whole: every file of the view into dir_fd. */
static int export_view_whole(struct container *v,
			     const struct guest_object *objs, size_t num,
			     int dir_fd, const char *out_dir, bool force,
			     bool show_progress)
{
	struct progress progress;
	uint64_t total = 0, base = 0;
	int rc = 0;

	for (size_t i = 0; i < num; i++)
		total += copy_object_data_bytes(v, objs[i].attr.id,
						objs[i].attr.size);
	progress_start_forced(&progress, "export", total, show_progress);
	for (size_t i = 0; i < num && !rc; i++) {
		rc = export_one(v, &objs[i], dir_fd, out_dir, force, &progress,
				base);
		base += copy_object_data_bytes(v, objs[i].attr.id,
					       objs[i].attr.size);
	}
	progress_finish(&progress);
	return rc;
}

/* What an incremental export did. */
struct since_counts {
	unsigned changed, added, removed;
	uint64_t data_read; /* bytes of data read from the snapshot */
};

/* Apply the changed extents of file `o` to its copy in dir_fd. */
static int apply_changed(struct container *v, const struct guest_object *o,
			 const struct diff_file *f, int dir_fd,
			 const char *out_dir, struct since_counts *counts)
{
	char shown[FORMAT_NAME_LEN];
	int fd, rc = 0;

	format_name(shown, sizeof(shown), o->name);
	fd = openat(dir_fd, o->name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			cli_error("%s/%s: missing: %s does not hold an export "
				  "of the --since snapshot",
				  out_dir, shown, out_dir);
		else
			cli_error("%s/%s: %s", out_dir, shown, strerror(-rc));
		return rc;
	}
	for (size_t i = 0; i < f->num && !rc; i++) {
		uint64_t data = 0;

		rc = copy_object_extent_to_fd(
			v, o->attr.id, fd, f->extents[i].offset,
			f->extents[i].length, o->attr.size, &data);
		counts->data_read += data;
	}
	if (!rc &&
	    (ftruncate(fd, (off_t)o->attr.size) < 0 ||
	     fchmod(fd, (mode_t)(o->attr.mode & 07777)) < 0 || fsync(fd) < 0))
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc)
		cli_error("%s/%s: export failed: %s", out_dir, shown,
			  cli_strerror(rc));
	counts->changed++;
	return rc;
}

static int apply_removed(const struct diff_file *f, int dir_fd,
			 const char *out_dir, struct since_counts *counts)
{
	char shown[FORMAT_NAME_LEN];
	struct stat st;

	format_name(shown, sizeof(shown), f->name);
	if (fstatat(dir_fd, f->name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			return 0; /* gone already */
		cli_error("%s/%s: %s", out_dir, shown, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode)) {
		cli_error("%s/%s: not a regular file: not removed", out_dir,
			  shown);
		return -EISDIR;
	}
	if (unlinkat(dir_fd, f->name, 0) != 0) {
		cli_error("%s/%s: %s", out_dir, shown, strerror(errno));
		return -errno;
	}
	counts->removed++;
	return 0;
}

/* Incremental: what changed from `since` to the view, applied to dir_fd. */
static int export_view_since(struct container *guest, struct container *v,
			     const char *snap, const char *since,
			     const struct guest_object *objs, size_t num,
			     int dir_fd, const char *out_dir,
			     struct since_counts *counts)
{
	struct diff_result diff;
	int rc = diff_states(guest, since, snap, &diff);

	if (rc) {
		cli_error("cannot compare snapshot %s with %s: %s", since, snap,
			  cli_strerror(rc));
		return rc;
	}
	for (size_t i = 0; i < diff.num && !rc; i++) {
		const struct diff_file *f = &diff.files[i];
		const struct guest_object *o = find_object(objs, num, f->name);

		if (f->kind == CONTAINER_DIFF_REMOVED) {
			rc = apply_removed(f, dir_fd, out_dir, counts);
		} else if (!o) {
			rc = -EUCLEAN; /* the diff names a file the view lacks */
			cli_error("snapshot %s: %s is in its difference but "
				  "not in its files",
				  snap, f->name);
		} else if (f->kind == CONTAINER_DIFF_ADDED) {
			rc = export_one(v, o, dir_fd, out_dir, true, NULL, 0);
			counts->added++;
			counts->data_read += copy_object_data_bytes(
				v, o->attr.id, o->attr.size);
		} else {
			rc = apply_changed(v, o, f, dir_fd, out_dir, counts);
		}
	}
	diff_result_free(&diff);
	/* a mode can change without the data: every file takes SNAP's */
	for (size_t i = 0; i < num && !rc; i++) {
		struct stat st;
		mode_t mode = (mode_t)(objs[i].attr.mode & 07777);

		if (fstatat(dir_fd, objs[i].name, &st, AT_SYMLINK_NOFOLLOW) ==
			    0 &&
		    S_ISREG(st.st_mode) && (st.st_mode & 07777) != mode &&
		    fchmodat(dir_fd, objs[i].name, mode, 0) != 0) {
			rc = -errno;
			cli_error("%s/%s: %s", out_dir, objs[i].name,
				  strerror(errno));
		}
	}
	return rc;
}

int export_snapshot(struct cli_store *cs, const char *guest,
		    const char *out_dir, const char *snap, const char *since,
		    bool force, bool exact, bool show_progress)
{
	char size_text[FORMAT_SIZE_LEN], data_text[FORMAT_SIZE_LEN];
	char shown[FORMAT_NAME_LEN];
	struct since_counts counts = {0};
	struct guest_object *objs = NULL;
	struct cli_snapshot s;
	uint64_t since_id;
	size_t num = 0;
	int dir_fd = -1, rc, exit_code = CLI_EXIT_FAIL;

	if (cli_snapshot_open(cs, guest, snap, &s) != 0)
		return CLI_EXIT_FAIL;
	if (since && cli_snapshot_find(cs, s.guest, guest, since, &since_id))
		goto out;
	rc = view_objects(s.view, &objs, &num);
	if (rc) {
		cli_error("%s: cannot read snapshot %s of %s: %s", cs->dir,
			  snap, guest, cli_strerror(rc));
		goto out;
	}
	if (since) {
		/* over an earlier export: DIR must be there already */
		dir_fd = open(out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dir_fd < 0) {
			cli_error("%s: %s (--since applies the change to an "
				  "export of %s there)",
				  out_dir, strerror(errno), since);
			goto out;
		}
		rc = export_view_since(s.guest, s.view, snap, since, objs, num,
				       dir_fd, out_dir, &counts);
	} else {
		dir_fd = export_open_dir(out_dir);
		if (dir_fd < 0)
			goto out;
		rc = export_view_whole(s.view, objs, num, dir_fd, out_dir,
				       force, show_progress);
	}
	if (rc)
		goto out;
	if (cli_snapshot_verify(cs, guest, snap, &s) != 0)
		goto out;
	if (fsync(dir_fd) < 0) {
		cli_error("%s: %s", out_dir, strerror(errno));
		goto out;
	}
	if (since) {
		printf("exported snapshot %s of %s to %s since %s: %u "
		       "changed, %u added, %u removed, %s of data read\n",
		       snap, guest, out_dir, since, counts.changed,
		       counts.added, counts.removed,
		       format_size(data_text, counts.data_read, exact));
	} else {
		printf("exported snapshot %s of %s to %s\n", snap, guest,
		       out_dir);
		for (size_t i = 0; i < num; i++)
			printf("  %-12s %s virtual, %s data\n",
			       format_name(shown, sizeof(shown), objs[i].name),
			       format_size(size_text, objs[i].attr.size, exact),
			       format_size(data_text, objs[i].attr.stored_bytes,
					   exact));
	}
	exit_code = CLI_EXIT_OK;
out:
	if (dir_fd >= 0)
		close(dir_fd);
	free(objs);
	cli_snapshot_close(cs, &s);
	return exit_code;
}
