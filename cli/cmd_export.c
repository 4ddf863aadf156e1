/*
 * cmd_export.c -- `hangar export STORE GUEST DIR [--force]
 * [--snapshot SNAP [--since SNAP0]]`.
 *
 * With --snapshot the files come from that snapshot instead of the live
 * guest, mounted or not (export_snapshot.c); the rest of this note is
 * about the live guest.
 *
 * Every file of the guest comes out as a plain file in DIR (created with
 * its missing parents, like `mkdir -p`): disks, config, memory.save, anything else.  Sparse: only the
 * data ranges of each object are read and written (copy.c), so `du DIR` is
 * proportional to the data.  Existing files are not overwritten unless
 * --force.  Exporting only reads: the store is opened read-only and the
 * guest under a shared container lock, and nothing in the store changes.
 *
 * On a mounted store the container files are the daemon's: it recycles
 * their blocks as it writes, so reading its live state beside it could
 * copy bytes no committed state ever held.  The export then reads a pin
 * the daemon takes for it (export_point_in_time), or, when the daemon
 * cannot be asked, copies the guest's files from the mount (as `hangar
 * import` copies into it).  When the mount point cannot be found, a guest
 * the daemon has open read-write is refused with the daemon's PID; one it
 * has not opened is read from its file, under the shared lock.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

void usage_export(FILE *f)
{
	fprintf(f, "usage: hangar export [STORE] GUEST DIR [--force] "
		   "[--progress]\n"
		   "       hangar export [STORE] GUEST DIR --snapshot SNAP "
		   "[--since SNAP0]\n"
		   "Copy every file of GUEST (disks, config, memory.save, ...) "
		   "into DIR as plain\n"
		   "sparse files.  DIR is created (with its parents) if it "
		   "does not exist.\n\n"
		   "  -f, --force   overwrite files that already exist in DIR\n"
		   "  -s, --snapshot SNAP  the files as of snapshot SNAP "
		   "(works mounted too)\n"
		   "      --since SNAP0    with --snapshot: DIR holds an "
		   "export of SNAP0; write\n"
		   "                       only what changed since (extents, "
		   "added and removed\n"
		   "                       files)\n"
		   "  -b, --bytes   print exact sizes\n"
		   "      --progress  show progress (data copied, rate, ETA) "
		   "even when stderr\n"
		   "                is not a terminal\n" CLI_KEY_USAGE
		   "  -h, --help    show this help\n");
}

/*
 * export_open_dir - `mkdir -p out_dir` (0755) and open it.  Returns the
 * directory's descriptor, or -1 after printing which component failed
 * ("a/b: not a directory" names the file that is in the way).
 */
int export_open_dir(const char *out_dir)
{
	char path[PATH_MAX];
	size_t len = strlen(out_dir);
	int fd;

	if (len == 0 || len >= sizeof(path)) {
		cli_error("%s: %s", out_dir, strerror(ENAMETOOLONG));
		return -1;
	}
	memcpy(path, out_dir, len + 1);
	for (char *p = path + 1;; p++) {
		const bool end = *p == '\0';
		struct stat st;

		if (!end && *p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			cli_error("%s: %s", path, strerror(errno));
			return -1;
		}
		if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode)) {
			cli_error("%s: not a directory", path);
			return -1;
		}
		if (end)
			break;
		*p = '/';
	}
	fd = open(out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		cli_error("%s: %s", out_dir, strerror(errno));
	return fd;
}

/* Create DIR/NAME (`shown`: NAME as printed) with `mode`, replacing a file
 * there only with --force.  Its descriptor, or -errno after saying why. */
static int export_create(int dir_fd, const char *dir, const char *name,
			 const char *shown, mode_t mode, bool force,
			 struct progress *progress)
{
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW;
	int fd, rc;

	flags |= force ? O_TRUNC : O_EXCL;
	fd = openat(dir_fd, name, flags, mode);
	if (fd >= 0)
		return fd;
	rc = -errno;
	progress_finish(progress);
	if (rc == -EEXIST)
		cli_error("%s/%s: already exists (use --force to overwrite)",
			  dir, shown);
	else
		cli_error("%s/%s: %s", dir, shown, strerror(-rc));
	return rc;
}

/* Close the exported file `fd`; the copy's `rc` (or close's error) is said
 * and returned. */
static int export_close(int fd, int rc, const char *dir, const char *shown,
			struct progress *progress)
{
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc) {
		progress_finish(progress);
		cli_error("%s/%s: export failed: %s", dir, shown,
			  cli_strerror(rc));
	}
	return rc;
}

int export_one(struct container *c, const struct guest_object *o, int dir_fd,
	       const char *dir, bool force, struct progress *progress,
	       uint64_t base)
{
	char shown[FORMAT_NAME_LEN];
	int fd, rc;

	format_name(shown, sizeof(shown), o->name);

	fd = export_create(dir_fd, dir, o->name, shown,
			   (mode_t)(o->attr.mode & 07777), force, progress);
	if (fd < 0)
		return fd;
	rc = object_open(c, o->attr.id, false);
	if (rc == 0) {
		rc = copy_object_to_fd(c, o->attr.id, fd, o->attr.size,
				       progress, base);
		object_release(c, o->attr.id, false);
	}
	return export_close(fd, rc, dir, shown, progress);
}

/* Copy one regular file `name` of the guest directory `src_dir_fd` on
 * the mount into `dir_fd`. */
static int export_mount_one(int src_dir_fd, const char *name, int dir_fd,
			    const char *dir, bool force, struct stat *out_st,
			    struct progress *progress, uint64_t *base)
{
	uint64_t data;
	char shown[FORMAT_NAME_LEN];
	int src, dst, rc;

	format_name(shown, sizeof(shown), name);

	src = openat(src_dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (src < 0 || fstat(src, out_st) != 0) {
		rc = -errno;
		if (src >= 0)
			close(src);
		progress_finish(progress);
		cli_error("%s: cannot read it on the mount: %s", shown,
			  cli_strerror(rc));
		return rc;
	}
	dst = export_create(dir_fd, dir, name, shown,
			    (mode_t)(out_st->st_mode & 07777), force, progress);
	if (dst < 0) {
		close(src);
		return dst;
	}
	data = copy_host_data_bytes(src, (uint64_t)out_st->st_size);
	rc = copy_fd_to_fd(src, dst, (uint64_t)out_st->st_size, progress,
			   *base);
	*base += data;
	close(src);
	return export_close(dst, rc, dir, shown, progress);
}

/*
 * The store is mounted and the guest may be running: one point in time
 * instead of files copied while they change.  A pin (container.h, "Pins":
 * a snapshot named after our PID) is taken through the daemon (one commit:
 * it holds every write completed before it), exported from the store
 * files beside the daemon like `export --snapshot`, and dropped.
 * *out_tried is false when the daemon cannot be asked (no control socket,
 * or not our daemon to command): then the caller copies through the mount
 * as before.  An export killed midway leaves its pin, which the daemon
 * deletes when it next pins that guest or opens it again (our PID is
 * dead by then).
 */
static int export_point_in_time(struct cli_store *cs, const char *guest,
				const char *out_dir, bool force, bool exact,
				bool show_progress, bool *out_tried)
{
	char name[72];
	struct control_reply reply;
	struct cli_store rs;
	bool answered;
	int rc, exit_code = CLI_EXIT_FAIL;

	rc = cli_control(cs, CONTROL_OP_PIN, guest, 0, &reply, &answered);
	*out_tried = answered && rc != -EACCES && rc != -EPERM;
	if (!*out_tried)
		return CLI_EXIT_FAIL;
	if (rc == 0 && (strlen(reply.text) >= sizeof(name) ||
			!container_pin_name_parse(reply.text, NULL)))
		rc = -EPROTO;
	if (rc) {
		cli_error("%s: cannot pin %s to export it: %s", cs->dir, guest,
			  cli_control_reason(rc, &reply));
		return CLI_EXIT_FAIL;
	}
	memcpy(name, reply.text, strlen(reply.text) + 1);
	if (cli_store_open(cs->dir, CLI_ACCESS_READ_METADATA, &rs) == 0) {
		exit_code = export_snapshot(&rs, guest, out_dir, name, NULL,
					    force, exact, show_progress);
		if (cli_store_close(&rs) != 0)
			exit_code = CLI_EXIT_FAIL;
	}
	rc = cli_control_name(cs, CONTROL_OP_UNPIN, guest, name, 0, &reply,
			      &answered);
	if (rc) {
		cli_error("%s: the pin %s taken for the export is left: %s",
			  cs->dir, name,
			  answered ? cli_control_reason(rc, &reply)
				   : cli_strerror(rc));
		cli_note("the daemon deletes it when it next pins %s or opens "
			 "it again",
			 guest);
		exit_code = CLI_EXIT_FAIL;
	}
	return exit_code;
}

/* The store is mounted at cs->mountpoint: copy MNT/GUEST/ * into out_dir. */
static int export_through_mount(const struct cli_store *cs, const char *guest,
				const char *out_dir, bool force, bool exact,
				bool show_progress)
{
	char src_path[4400], holder[4400];
	char size_text[FORMAT_SIZE_LEN], data_text[FORMAT_SIZE_LEN];
	char shown[FORMAT_NAME_LEN];
	struct progress progress;
	struct dirent *de;
	struct stat st;
	uint64_t total = 0, base = 0;
	int src_fd, dir_fd = -1, rc = 0, exit_code = CLI_EXIT_FAIL;
	DIR *d;

	cli_store_holder_text(cs, holder, sizeof(holder));
	cli_note("store is %s: exporting %s through the mount (live state, "
		 "uncommitted writes included)",
		 holder, guest);
	cli_store_mount_path(cs, guest, src_path, sizeof(src_path));
	src_fd = open(src_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (src_fd < 0) {
		if (errno == ENOENT)
			cli_error("%s: no guest named %s", cs->dir, guest);
		else
			cli_error("%s: %s", src_path, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	d = fdopendir(src_fd);
	if (!d) {
		cli_error("%s: %s", src_path, strerror(errno));
		close(src_fd);
		return CLI_EXIT_FAIL;
	}
	while ((de = readdir(d)) != NULL) {
		int fd = openat(src_fd, de->d_name,
				O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
			total += copy_host_data_bytes(fd, (uint64_t)st.st_size);
		if (fd >= 0)
			close(fd);
	}
	dir_fd = export_open_dir(out_dir);
	if (dir_fd < 0)
		goto out_closedir;
	progress_start_forced(&progress, "export", total, show_progress);
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (fstatat(src_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) !=
			    0 ||
		    !S_ISREG(st.st_mode))
			continue; /* ".", "..": a guest holds only files */
		rc = export_mount_one(src_fd, de->d_name, dir_fd, out_dir,
				      force, &st, &progress, &base);
		if (rc)
			goto out_closedir;
	}
	progress_finish(&progress);
	if (fsync(dir_fd) < 0) {
		cli_error("%s: %s", out_dir, strerror(errno));
		goto out_closedir;
	}
	printf("exported guest %s to %s (through the mount)\n", guest, out_dir);
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (fstatat(dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) !=
			    0 ||
		    !S_ISREG(st.st_mode))
			continue;
		printf("  %-12s %s virtual, %s data\n",
		       format_name(shown, sizeof(shown), de->d_name),
		       format_size(size_text, (uint64_t)st.st_size, exact),
		       format_size(data_text, (uint64_t)st.st_blocks * 512u,
				   exact));
	}
	exit_code = CLI_EXIT_OK;
out_closedir:
	if (dir_fd >= 0)
		close(dir_fd);
	closedir(d);
	return exit_code;
}

int cmd_export(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"force", no_argument, NULL, 'f'},
		{"bytes", no_argument, NULL, 'b'},
		{"progress", no_argument, NULL, 'P'},
		{"snapshot", required_argument, NULL, 's'},
		{"since", required_argument, NULL, 'S'},
		CLI_KEY_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *store_path, *guest, *out_dir, *op[3];
	const char *snap = NULL, *since = NULL;
	struct guest_summary g;
	struct cli_store cs;
	struct container *c = NULL;
	struct progress progress;
	char size_text[FORMAT_SIZE_LEN], data_text[FORMAT_SIZE_LEN];
	char store_buf[4096];
	char shown[FORMAT_NAME_LEN];
	uint64_t total = 0, base = 0;
	bool force = false, exact = false, show_progress = false;
	int dir_fd = -1, opt, rc, exit_code = CLI_EXIT_FAIL;

	while ((opt = getopt_long(argc, argv, ":fbs:h", longopts, NULL)) !=
	       -1) {
		if (cli_getopt_common(opt, argv, usage_export, &exit_code))
			return exit_code;
		if (opt == 'f')
			force = true;
		else if (opt == 'b')
			exact = true;
		else if (opt == 'P')
			show_progress = true;
		else if (opt == 's')
			snap = optarg;
		else if (opt == 'S')
			since = optarg;
	}
	if (since && !snap)
		return cli_usage_error(usage_export,
				       "--since needs --snapshot");
	if (cli_positional(argc, argv, usage_export, "STORE GUEST DIR",
			   store_buf, sizeof(store_buf), op))
		return CLI_EXIT_USAGE;
	store_path = op[0];
	guest = op[1];
	out_dir = op[2];

	if (snap) {
		/* a snapshot is safe to read beside the daemon (snapview.c) */
		if (cli_store_open(store_path, CLI_ACCESS_READ_METADATA, &cs) !=
		    0)
			return CLI_EXIT_FAIL;
		exit_code = export_snapshot(&cs, guest, out_dir, snap, since,
					    force, exact, show_progress);
		if (cli_store_close(&cs) != 0)
			exit_code = CLI_EXIT_FAIL;
		return exit_code;
	}
	if (cli_store_open(store_path, CLI_ACCESS_READ, &cs) != 0)
		return CLI_EXIT_FAIL;
	if (cs.holder && cs.mountpoint[0]) {
		bool tried;
		exit_code = export_point_in_time(&cs, guest, out_dir, force,
						 exact, show_progress, &tried);
		if (!tried)
			exit_code =
				export_through_mount(&cs, guest, out_dir, force,
						     exact, show_progress);
		if (cli_store_close(&cs) != 0)
			exit_code = CLI_EXIT_FAIL;
		return exit_code;
	}
	rc = guest_summary_load(cs.store, guest, &g);
	if (rc == 0 && g.open_error)
		rc = g.open_error;
	if (rc) {
		if (rc == -ENOENT) {
			cli_error("%s: no guest named %s", store_path, guest);
		} else if (rc == -EBUSY) {
			char mnt_path[4400];

			cli_error("%s: cannot read guest %s: %s; a reader "
				  "beside it could copy bytes no committed "
				  "state held",
				  store_path, guest, guest_open_error_text(&g));
			cli_store_mount_path(&cs, guest, mnt_path,
					     sizeof(mnt_path));
			cli_store_mount_hint(&cs,
					     "cp -a --sparse=always %s/. %s",
					     mnt_path, out_dir);
		} else {
			cli_error("%s: cannot read guest %s: %s", store_path,
				  guest, cli_strerror(rc));
		}
		goto out_summary;
	}
	rc = store_guest_get(cs.store, guest, &c);
	if (rc) {
		cli_error("%s: cannot read guest %s: %s", store_path, guest,
			  cli_strerror(rc));
		goto out_summary;
	}
	dir_fd = export_open_dir(out_dir);
	if (dir_fd < 0)
		goto out_put;
	for (size_t i = 0; i < g.num_objects; i++)
		total += copy_object_data_bytes(c, g.objects[i].attr.id,
						g.objects[i].attr.size);
	progress_start_forced(&progress, "export", total, show_progress);
	for (size_t i = 0; i < g.num_objects; i++) {
		rc = export_one(c, &g.objects[i], dir_fd, out_dir, force,
				&progress, base);
		if (rc)
			goto out_close_dir;
		base += copy_object_data_bytes(c, g.objects[i].attr.id,
					       g.objects[i].attr.size);
	}
	progress_finish(&progress);
	if (fsync(dir_fd) < 0) {
		cli_error("%s: %s", out_dir, strerror(errno));
		goto out_close_dir;
	}
	printf("exported guest %s to %s\n", guest, out_dir);
	for (size_t i = 0; i < g.num_objects; i++)
		printf("  %-12s %s virtual, %s data\n",
		       format_name(shown, sizeof(shown), g.objects[i].name),
		       format_size(size_text, g.objects[i].attr.size, exact),
		       format_size(data_text, g.objects[i].attr.stored_bytes,
				   exact));
	if (g.save.state == SAVE_STATE_SAVED)
		printf("note: %s is saved; the exported memory.save matches "
		       "the exported disks\n",
		       guest);
	exit_code = CLI_EXIT_OK;
out_close_dir:
	close(dir_fd);
out_put:
	store_guest_put(cs.store, c);
out_summary:
	guest_summary_cleanup(&g);
	if (cli_store_close(&cs) != 0)
		exit_code = CLI_EXIT_FAIL;
	return exit_code;
}
