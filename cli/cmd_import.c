/*
 * cmd_import.c -- `hangar import STORE GUEST --disk FILE... [--config FILE]
 * [--memory FILE] [--compress-disks]`.
 *
 * Brings an existing guest in: raw disks (sparse-aware, see copy.c), its
 * config and optionally a save image.  Disks in qcow2, vmdk, vhdx or vdi
 * format (what `qemu-img info` detects, or --format) are converted to raw
 * by qemu-img first (convert.c), sparse; without qemu-img they are refused
 * with the reason.  --progress shows progress (data, rate, ETA) even when
 * stderr is not a terminal.
 *
 * An import never leaves a guest that looks complete when it is not:
 *   1. the guest is created with GUEST_INCOMPLETE_MARKER in it, committed
 *      before any data is copied, and the marker is removed last;
 *   2. the save image is copied under a temporary name and renamed onto
 *      memory.save only when every byte is in, so a truncated image is
 *      never sealed (the rename seals it and pins the disks just imported,
 *      exactly as an rsync restore would);
 *   3. SIGINT, SIGTERM and SIGHUP are held during the copy (stop.c): the
 *      import stops, deletes the guest, then dies of the signal -- also
 *      when the signal came after the last byte but before the guest was
 *      marked complete; one that comes later still is dropped and the
 *      import exits 0 (cli_stop_forget).  SIGKILL or a crash leaves the
 *      guest marked incomplete (`hangar ls` says so; `hangar rm` removes
 *      it).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cli.h"
#include "hangar/names.h"

#define IMPORT_MAX_DISKS 64
#define IMPORT_IMAGE_TMP ".memory.save.import" /* never an image name */

struct import_source {
	const char *path; /* host file (borrowed from argv) */
	char name[256];	  /* object name in the guest */
	int fd;
	uint64_t size;
	uint64_t data;	 /* bytes in its data ranges: what progress counts */
	char format[64]; /* a converted disk's format, "" for raw */
};

/* Copy one source into MNT/GUEST/NAME (a new file on the mount). */
static int import_one_mounted(const char *dir_path, const char *name,
			      struct import_source *src,
			      struct progress *progress, uint64_t base)
{
	char path[PATH_MAX + 300];
	int fd, rc;

	snprintf(path, sizeof(path), "%s/%s", dir_path, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	rc = src ? copy_fd_to_fd(src->fd, fd, src->size, progress, base) : 0;
	if (close(fd) != 0 && !rc)
		rc = -errno;
	return rc;
}

/* The image is complete on the mount under IMPORT_IMAGE_TMP: rename it
 * onto memory.save (the daemon seals it) and make sure it was sealed. */
static int import_seal_mounted(const char *dir_path)
{
	char from[PATH_MAX + 300], to[PATH_MAX + 300];
	char saved[1024] = "";
	ssize_t n;

	snprintf(from, sizeof(from), "%s/%s", dir_path, IMPORT_IMAGE_TMP);
	snprintf(to, sizeof(to), "%s/%s", dir_path, SAVE_IMAGE_NAME);
	if (rename(from, to) != 0)
		return -errno;
	/* (user.hangar.state says "incomplete" until the marker goes) */
	n = getxattr(dir_path, "user.hangar.saved", saved, sizeof(saved) - 1);
	if (n < 0)
		return errno == ENODATA ? -ESTALE : -errno;
	saved[n] = '\0';
	return strstr(saved, "; stale: ") ? -ESTALE : 0;
}

/* Remove the incomplete marker: the guest is whole. */
static int import_finish_mounted(const char *dir_path)
{
	char path[PATH_MAX + 300];
	snprintf(path, sizeof(path), "%s/%s", dir_path,
		 GUEST_INCOMPLETE_MARKER);
	return unlink(path) == 0 ? 0 : -errno;
}

/*
 * The store is mounted: create the guest through the daemon (control
 * socket), then copy every file into the guest's directory on the mount, as
 * `cp --sparse=always` would.  Disks first, the memory image last, so its
 * seal (when it is closed) pins the imported disks.
 */
static int import_mounted(struct cli_store *cs, const char *guest,
			  const struct guest_create_options *gopts,
			  struct import_source *disks, unsigned num_disks,
			  struct import_source *config,
			  struct import_source *memory, uint64_t total,
			  bool show_progress)
{
	char gdir[PATH_MAX + 100], via[128];
	struct control_reply reply;
	struct progress progress;
	uint64_t base = 0;
	bool answered;
	int rc;

	rc = cli_control(cs, CONTROL_OP_CREATE, guest,
			 gopts->compress_disks ? CONTROL_FLAG_COMPRESS : 0,
			 &reply, &answered);
	if (!answered) {
		cli_store_refuse_mounted(cs, "import");
		return CLI_EXIT_FAIL;
	}
	if (rc) {
		cli_error("%s: cannot create guest %s: %s", cs->dir, guest,
			  cli_control_reason(rc, &reply));
		return CLI_EXIT_FAIL;
	}
	cli_store_mount_path(cs, guest, gdir, sizeof(gdir));
	rc = import_one_mounted(gdir, GUEST_INCOMPLETE_MARKER, NULL, NULL, 0);
	progress_start_forced(&progress, "import", total, show_progress);
	for (unsigned i = 0; !rc && i < num_disks; i++) {
		rc = import_one_mounted(gdir, disks[i].name, &disks[i],
					&progress, base);
		base += disks[i].data;
	}
	if (!rc && config->path) {
		rc = import_one_mounted(gdir, config->name, config, &progress,
					base);
		base += config->data;
	}
	if (!rc && memory->path)
		rc = import_one_mounted(gdir, IMPORT_IMAGE_TMP, memory,
					&progress, base);
	progress_finish(&progress);
	if (!rc && memory->path)
		rc = import_seal_mounted(gdir);
	if (!rc && cli_stop_requested()) /* as import_all */
		rc = -EINTR;
	if (!rc)
		rc = import_finish_mounted(gdir);
	if (rc) {
		cli_error("%s: importing guest %s through %s failed: %s",
			  cs->dir, guest, gdir, cli_strerror(rc));
		/* The daemon drops the guest's last file handle when the
		 * kernel sends RELEASE, after our close() returned: a delete
		 * right away may find the guest still in use for a moment. */
		int del = -EBUSY;
		for (int i = 0; i < 50 && del == -EBUSY; i++) {
			if (i)
				usleep(100 * 1000);
			del = cli_control(cs, CONTROL_OP_DELETE, guest,
					  CONTROL_FLAG_FORCE, &reply,
					  &answered);
		}
		if (del != 0)
			cli_note_guest_left("imported", guest);
		return CLI_EXIT_FAIL;
	}
	cli_store_via_text(cs, via, sizeof(via));
	printf("imported guest %s%s\n", guest, via);
	if (memory->path)
		printf("%s is saved: its disks are pinned to the imported "
		       "state.\nBefore restoring it run: hangar resume %s %s\n",
		       guest, cs->dir, guest);
	cli_stop_forget();
	return CLI_EXIT_OK;
}

void usage_import(FILE *f)
{
	fprintf(f,
		"usage: hangar import [STORE] GUEST --disk [NAME.raw=]FILE... "
		"[--config FILE]\n"
		"                    [--memory FILE] [--compress-disks] "
		"[--format FMT] [--progress]\n"
		"Create GUEST from existing files.  Disks become disk.raw, "
		"disk1.raw, ...\n"
		"(or NAME.raw); holes in the source stay holes.  qcow2, "
		"vmdk, vhdx and vdi\n"
		"disks are converted to raw with qemu-img (the format is "
		"detected with\n"
		"`qemu-img info`).  A --memory image becomes memory.save and "
		"is sealed: the\n"
		"imported disks are pinned until `hangar resume` or `hangar "
		"discard`.\n\n"
		"  -d, --disk [NAME.raw=]FILE  import a disk image "
		"(repeatable)\n"
		"  -c, --config FILE           the guest's config\n"
		"  -m, --memory FILE           a saved memory image\n"
		"  -z, --compress-disks        store disk clusters "
		"zstd-compressed\n"
		"  -f, --format FMT            the disks' format (raw, qcow2, "
		"vmdk, vhdx, vdi):\n"
		"                              no detection\n"
		"      --progress              show progress (data, rate, "
		"ETA) even when stderr\n"
		"                              is not a terminal\n"
		"  -b, --bytes                 print exact "
		"sizes\n" CLI_KEY_USAGE
		"  -h, --help                  show this help\n");
}

/* "NAME.raw=FILE" names the disk; anything else is just a path. */
static void import_parse_disk(struct import_source *src, const char *arg,
			      unsigned index)
{
	const char *eq = strchr(arg, '=');
	size_t name_len = eq ? (size_t)(eq - arg) : 0;

	if (eq && name_len > 4 && name_len < sizeof(src->name) &&
	    memcmp(eq - 4, ".raw", 4) == 0 && !memchr(arg, '/', name_len)) {
		memcpy(src->name, arg, name_len);
		src->name[name_len] = '\0';
		src->path = eq + 1;
	} else {
		guest_disk_name(src->name, sizeof(src->name), index);
		src->path = arg;
	}
	src->fd = -1;
	src->format[0] = '\0';
}

/* How disks in other formats are brought in (convert.c). */
struct import_convert {
	const char *format;  /* --format: skip detection; NULL: detect */
	const char *tmp_dir; /* where to convert: the store's directory */
	bool show_progress;  /* --progress */
};

/* A disk that is not raw: convert it (convert.c) and import the raw copy. */
static int import_convert_disk(struct import_source *src,
			       const struct import_convert *conv)
{
	char fmt[64];
	uint64_t size;
	int rc, fd;

	if (conv->format) {
		snprintf(fmt, sizeof(fmt), "%s", conv->format);
		rc = 0;
	} else {
		rc = convert_probe(src->path, src->fd, fmt, sizeof(fmt));
	}
	if (rc == -ENOENT) {
		cli_error("%s: is a %s image, and qemu-img (qemu-utils) is "
			  "not installed to convert it",
			  src->path, fmt);
		cli_note("install qemu-utils, or convert it first: qemu-img "
			 "convert -O raw %s DISK.raw",
			 src->path);
		return rc;
	}
	if (rc == -EIO && strcmp(fmt, "raw") != 0) {
		cli_error("%s: looks like a %s image, but qemu-img cannot read "
			  "it (see above); not imported",
			  src->path, fmt);
		return rc;
	}
	if (rc) {
		cli_error("%s: cannot tell its format (qemu-img info: %s)",
			  src->path,
			  rc == -EIO ? "failed, see above" : cli_strerror(rc));
		return rc;
	}
	if (strcmp(fmt, "raw") == 0)
		return 0;
	if (!convert_format_supported(fmt)) {
		cli_error("%s: is a %s image; hangar imports raw, qcow2, vmdk, "
			  "vhdx and vdi disks",
			  src->path, fmt);
		cli_note("convert it first: qemu-img convert -O raw %s "
			 "DISK.raw",
			 src->path);
		return -EMEDIUMTYPE;
	}
	rc = convert_to_raw(src->path, src->fd, fmt, conv->tmp_dir,
			    conv->show_progress, &fd, &size);
	if (rc) {
		cli_error("%s: converting the %s image to raw failed: %s",
			  src->path, fmt,
			  rc == -EIO ? "qemu-img failed (see above)"
				     : cli_strerror(rc));
		return rc;
	}
	close(src->fd);
	src->fd = fd;
	src->size = size;
	snprintf(src->format, sizeof(src->format), "%s", fmt);
	return 0;
}

static int import_open_source(struct import_source *src, bool is_disk,
			      const struct import_convert *conv)
{
	struct stat st;
	off_t end;

	src->fd = open(src->path, O_RDONLY | O_CLOEXEC);
	if (src->fd < 0 || fstat(src->fd, &st) < 0) {
		cli_error("%s: %s", src->path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		cli_error("%s: not a regular file or block device", src->path);
		return -1;
	}
	end = lseek(src->fd, 0, SEEK_END); /* block devices: st_size is 0 */
	if (end < 0) {
		cli_error("%s: %s", src->path, strerror(errno));
		return -1;
	}
	src->size = (uint64_t)end;
	if (is_disk && (conv->format == NULL || strcmp(conv->format, "raw")) &&
	    import_convert_disk(src, conv) != 0)
		return -1;
	src->data = copy_host_data_bytes(src->fd, src->size);
	return 0;
}

static int import_object(struct container *c, struct import_source *src,
			 uint32_t mode, struct progress *progress,
			 uint64_t *progress_base)
{
	uint64_t id;
	int rc;

	rc = object_create(c, src->name, S_IFREG | mode, (uint32_t)getuid(),
			   (uint32_t)getgid(), &id);
	if (rc)
		return rc;
	rc = copy_fd_to_object(c, id, src->fd, src->size, progress,
			       *progress_base);
	*progress_base += src->data;
	return rc;
}

static int import_all(struct container *c, struct import_source *disks,
		      unsigned num_disks, struct import_source *config,
		      struct import_source *memory, struct progress *progress)
{
	uint64_t base = 0, marker;
	int rc;

	rc = object_create(c, GUEST_INCOMPLETE_MARKER, S_IFREG | 0600,
			   (uint32_t)getuid(), (uint32_t)getgid(), &marker);
	if (!rc)
		rc = container_commit(c); /* before any data can be */
	if (rc)
		return rc;
	for (unsigned i = 0; i < num_disks; i++) {
		rc = import_object(c, &disks[i], 0600, progress, &base);
		if (rc)
			return rc;
	}
	if (config->path) {
		rc = import_object(c, config, 0644, progress, &base);
		if (rc)
			return rc;
	}
	rc = container_commit(c);
	if (!rc && memory->path) {
		struct import_source tmp = *memory;
		snprintf(tmp.name, sizeof(tmp.name), "%s", IMPORT_IMAGE_TMP);
		rc = import_object(c, &tmp, 0600, progress, &base);
		if (!rc)
			rc = container_commit(c);
		if (!rc) /* complete: the rename seals it */
			rc = object_rename(c, IMPORT_IMAGE_TMP, SAVE_IMAGE_NAME,
					   true);
		struct save_status *st = rc ? NULL : malloc(sizeof(*st));
		if (!rc && !st)
			rc = -ENOMEM;
		if (!rc && save_lock_status(c, st) == 0 &&
		    st->state != SAVE_STATE_SAVED)
			rc = -ESTALE;
		free(st);
	}
	/* a stop asked for while the copy ran is honoured up to the last
	 * step, even when the copy itself finished first */
	if (!rc && cli_stop_requested())
		rc = -EINTR;
	if (!rc)
		rc = object_unlink(c, GUEST_INCOMPLETE_MARKER);
	return rc ? rc : container_commit(c);
}

static void import_print(struct container *c, const struct import_source *src,
			 bool exact)
{
	char virt[FORMAT_SIZE_LEN], used[FORMAT_SIZE_LEN];
	struct object_attr attr = {0};
	uint64_t id;

	if (object_lookup(c, src->name, &id) != 0 ||
	    object_getattr(c, id, &attr) != 0)
		return;
	printf("  %-12s %s virtual, %s stored  <- %s%s%s\n", src->name,
	       format_size(virt, attr.size, exact),
	       format_size(used, attr.stored_bytes, exact), src->path,
	       src->format[0] ? " converted from " : "", src->format);
}

int cmd_import(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"disk", required_argument, NULL, 'd'},
		{"config", required_argument, NULL, 'c'},
		{"memory", required_argument, NULL, 'm'},
		{"compress-disks", no_argument, NULL, 'z'},
		{"bytes", no_argument, NULL, 'b'},
		{"format", required_argument, NULL, 'f'},
		{"progress", no_argument, NULL, 'P'},
		CLI_KEY_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct import_source disks[IMPORT_MAX_DISKS];
	struct import_source config = {.name = "config", .fd = -1};
	struct import_source memory = {.name = SAVE_IMAGE_NAME, .fd = -1};
	struct guest_create_options gopts = {.compress_disks = false};
	struct import_convert conv = {.format = NULL};
	unsigned num_disks = 0;
	uint64_t total = 0;
	const char *dir, *guest;
	struct cli_store cs;
	struct container *c = NULL;
	struct progress progress;
	char path[4400], store_buf[4096];
	bool exact = false;
	const char *op[2];
	int opt, rc, exit_code = CLI_EXIT_FAIL;

	while ((opt = getopt_long(argc, argv, ":d:c:m:f:zbh", longopts,
				  NULL)) != -1) {
		if (cli_getopt_common(opt, argv, usage_import, &exit_code))
			return exit_code;
		switch (opt) {
		case 'd':
			if (num_disks == IMPORT_MAX_DISKS)
				return cli_usage_error(usage_import,
						       "at most %d disks",
						       IMPORT_MAX_DISKS);
			import_parse_disk(&disks[num_disks], optarg, num_disks);
			num_disks++;
			break;
		case 'c':
			config.path = optarg;
			break;
		case 'm':
			memory.path = optarg;
			break;
		case 'z':
			gopts.compress_disks = true;
			break;
		case 'b':
			exact = true;
			break;
		case 'f':
			if (strcmp(optarg, "raw") != 0 &&
			    !convert_format_supported(optarg))
				return cli_usage_error(
					usage_import,
					"unknown disk format '%s' (raw, "
					"qcow2, vmdk, vhdx or vdi)",
					optarg);
			conv.format = optarg;
			break;
		case 'P':
			conv.show_progress = true;
			break;
		}
	}
	if (cli_positional(argc, argv, usage_import, "STORE GUEST", store_buf,
			   sizeof(store_buf), op))
		return CLI_EXIT_USAGE;
	dir = op[0];
	guest = op[1];
	if (!num_disks && !config.path && !memory.path)
		return cli_usage_error(usage_import,
				       "nothing to import: give --disk, "
				       "--config or --memory");
	for (unsigned i = 0; i < num_disks; i++)
		for (unsigned j = 0; j < i; j++)
			if (strcmp(disks[i].name, disks[j].name) == 0)
				return cli_usage_error(
					usage_import,
					"disk name %s given twice",
					disks[i].name);

	conv.tmp_dir = dir;
	for (unsigned i = 0; i < num_disks; i++) {
		if (import_open_source(&disks[i], true, &conv) != 0)
			goto out_close_sources;
		total += disks[i].data;
	}
	if (config.path) {
		if (import_open_source(&config, false, &conv) != 0)
			goto out_close_sources;
		total += config.data;
	}
	if (memory.path) {
		if (import_open_source(&memory, false, &conv) != 0)
			goto out_close_sources;
		total += memory.data;
	}

	cli_stop_hold(); /* released at the end: see the header */
	rc = cli_store_open(dir, CLI_ACCESS_WRITE, &cs);
	if (rc == -EWOULDBLOCK && cs.mountpoint[0]) {
		exit_code = import_mounted(&cs, guest, &gopts, disks, num_disks,
					   &config, &memory, total,
					   conv.show_progress);
		goto out_close_sources;
	}
	if (rc == -EWOULDBLOCK) {
		cli_store_refuse_mounted(&cs, "import");
		cli_store_mount_path(&cs, guest, path, sizeof(path));
		cli_store_mount_hint(&cs,
				     "mkdir %s && cp --sparse=always "
				     "%s %s/disk.raw",
				     path, num_disks ? disks[0].path : "FILE",
				     path);
		goto out_close_sources;
	}
	if (rc)
		goto out_close_sources;
	rc = store_guest_create(cs.store, guest, &gopts);
	if (rc) {
		if (rc == -EEXIST)
			cli_error("%s: guest %s already exists (import creates "
				  "a new guest)",
				  dir, guest);
		else
			cli_error("%s: cannot create guest %s: %s", dir, guest,
				  cli_strerror(rc));
		goto out_close_store;
	}
	rc = store_guest_get(cs.store, guest, &c);
	if (rc == 0) {
		progress_start_forced(&progress, "import", total,
				      conv.show_progress);
		rc = import_all(c, disks, num_disks, &config, &memory,
				&progress);
		progress_finish(&progress);
		if (rc == 0) {
			printf("imported guest %s\n", guest);
			for (unsigned i = 0; i < num_disks; i++)
				import_print(c, &disks[i], exact);
			if (config.path)
				import_print(c, &config, exact);
			if (memory.path)
				import_print(c, &memory, exact);
		}
		store_guest_put(cs.store, c);
	}
	if (rc) {
		cli_error("%s: importing guest %s failed: %s", dir, guest,
			  cli_strerror(rc));
		if (store_guest_delete(cs.store, guest, STORE_DELETE_FORCE) !=
		    0)
			cli_note_guest_left("imported", guest);
		goto out_close_store;
	}
	if (memory.path)
		printf("%s is saved: its disks are pinned to the imported "
		       "state.\nBefore restoring it run: hangar resume %s %s\n",
		       guest, dir, guest);
	cli_stop_forget();
	exit_code = CLI_EXIT_OK;
out_close_store:
	if (cli_store_close(&cs) != 0)
		exit_code = CLI_EXIT_FAIL;
out_close_sources:
	for (unsigned i = 0; i < num_disks; i++)
		if (disks[i].fd >= 0)
			close(disks[i].fd);
	if (config.fd >= 0)
		close(config.fd);
	if (memory.fd >= 0)
		close(memory.fd);
	cli_stop_release();
	return exit_code;
}
