/*
 * cmd_create.c -- `hangar create STORE GUEST [--disk SIZE]... [--config FILE]
 * [--compress-disks]`.
 *
 * The guest appears complete or not at all: if anything fails after the
 * container was created, it is deleted again.
 *
 * On a mounted store hangarfs creates the guest (the control socket), and
 * the disks and config are then made through the mount point like any
 * program would (open O_EXCL, ftruncate, write, fsync), so the daemon stays
 * the only writer.  Without a visible mount point (another mount namespace)
 * --disk and --config are refused before anything is created.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "units.h"

#define CREATE_MAX_DISKS 64

void usage_create(FILE *f)
{
	fprintf(f, "usage: hangar create [STORE] GUEST [--disk SIZE]... "
		   "[--config FILE] [--compress-disks]\n"
		   "Create a guest.  Each --disk adds an empty (sparse) raw "
		   "disk: disk.raw,\n"
		   "disk1.raw, disk2.raw, ...  SIZE is bytes or 512M, 20G, "
		   "1.5T (powers of\n"
		   "1024; 10GB is 10^9 bytes), whole 512-byte sectors.\n\n"
		   "  -d, --disk SIZE        add a disk of SIZE\n"
		   "  -c, --config FILE      copy FILE in as the guest's "
		   "`config`\n"
		   "  -z, --compress-disks   store disk clusters "
		   "zstd-compressed\n"
		   "  -b, --bytes            print exact sizes\n" CLI_KEY_USAGE
		   "  -h, --help             show this help\n\n"
		   "On a mounted store hangarfs creates the guest, and the "
		   "disks and config are\n"
		   "made through its mount point.\n");
}

/* Create every object of the new guest; the caller rolls back on error. */
static int create_objects(struct container *c, const uint64_t *sizes,
			  unsigned num_disks, int config_fd,
			  uint64_t config_size)
{
	char name[32];
	struct object_attr dir = {0};
	uint64_t id;
	int rc;

	/* The directory hangarfs shows: as mkdir would make it. */
	dir.mode = S_IFDIR | 0755;
	dir.uid = (uint32_t)getuid();
	dir.gid = (uint32_t)getgid();
	clock_gettime(CLOCK_REALTIME, &dir.mtime);
	dir.ctime = dir.mtime;
	rc = container_dir_setattr(c, &dir,
				   OBJECT_SET_MODE | OBJECT_SET_UID |
					   OBJECT_SET_GID | OBJECT_SET_MTIME,
				   &dir);
	if (rc)
		return rc;
	for (unsigned i = 0; i < num_disks; i++) {
		guest_disk_name(name, sizeof(name), i);
		rc = object_create(c, name, S_IFREG | 0600, (uint32_t)getuid(),
				   (uint32_t)getgid(), &id);
		if (rc)
			return rc;
		rc = object_truncate(c, id, sizes[i]);
		if (rc)
			return rc;
	}
	if (config_fd >= 0) {
		rc = object_create(c, "config", S_IFREG | 0644,
				   (uint32_t)getuid(), (uint32_t)getgid(), &id);
		if (rc)
			return rc;
		rc = copy_fd_to_object(c, id, config_fd, config_size, NULL, 0);
		if (rc)
			return rc;
	}
	return container_commit(c);
}

/* Make file `name` in `gdir` (a guest directory on the mount of device
 * `dev`): exactly `mode`, `size` bytes (a hole) or the contents of
 * `src_fd`; fsync'd.  -EXDEV, with nothing written, if the file was made on
 * another file system (the mount point no longer leads to the daemon's). */
static int mount_file(const char *gdir, dev_t dev, const char *name,
		      mode_t mode, uint64_t size, int src_fd)
{
	char path[PATH_MAX], buf[65536];
	struct stat st;
	ssize_t n;
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", gdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || st.st_dev != dev) {
		close(fd);
		return -EXDEV;
	}
	if (fchmod(fd, mode) != 0) /* the umask does not apply */
		rc = -errno;
	if (!rc && src_fd < 0 && ftruncate(fd, (off_t)size) != 0)
		rc = -errno;
	while (!rc && src_fd >= 0 &&
	       (n = read(src_fd, buf, sizeof(buf))) != 0) {
		if (n < 0 || write(fd, buf, (size_t)n) != n)
			rc = n < 0 ? -errno : -EIO;
	}
	if (!rc && fsync(fd) != 0) /* commits the container */
		rc = -errno;
	if (close(fd) != 0 && !rc)
		rc = -errno;
	return rc;
}

/* The store is mounted: hangarfs creates the guest, we fill it through the
 * mount point. */
static int create_mounted(const struct cli_store *cs, const char *guest,
			  const struct guest_create_options *gopts,
			  const uint64_t *sizes, unsigned num_disks,
			  int config_fd, bool exact)
{
	char via[128], path[4400] = "", name[32];
	struct control_reply reply;
	char size_text[FORMAT_SIZE_LEN], holder[4400];
	bool answered;
	int rc;

	if ((num_disks || config_fd >= 0) && !cs->mountpoint[0]) {
		cli_store_holder_text(cs, holder, sizeof(holder));
		cli_error("%s: store is %s, but its mount point is not visible "
			  "here%s%s%s; --disk and --config are made through "
			  "it, so the command is refused",
			  cs->dir, holder, cs->mount_why[0] ? " (" : "",
			  cs->mount_why, cs->mount_why[0] ? ")" : "");
		cli_note("create the guest without --disk/--config, then add "
			 "its files on the mount (truncate -s SIZE "
			 "MOUNTPOINT/%s/disk.raw)",
			 guest);
		return CLI_EXIT_FAIL;
	}
	rc = cli_control(cs, CONTROL_OP_CREATE, guest,
			 gopts->compress_disks ? CONTROL_FLAG_COMPRESS : 0,
			 &reply, &answered);
	if (!answered && (rc == -ENOTCONN)) {
		cli_store_refuse_mounted(cs, "create");
		cli_store_mount_path(cs, guest, path, sizeof(path));
		cli_store_mount_hint(
			cs,
			"mkdir %s && truncate -s %s "
			"%s/disk.raw",
			path,
			num_disks ? format_size(size_text, sizes[0], true)
				  : "SIZE",
			path);
		return CLI_EXIT_FAIL;
	}
	if (!answered)
		return cli_control_unreachable(cs, rc, "create");
	if (rc) {
		if (rc == -EEXIST)
			cli_error("%s: guest %s already exists", cs->dir,
				  guest);
		else
			cli_error("%s: cannot create guest %s: %s", cs->dir,
				  guest, cli_control_reason(rc, &reply));
		return CLI_EXIT_FAIL;
	}
	if (cs->mountpoint[0]) {
		cli_store_mount_path(cs, guest, path, sizeof(path));
		/* Sets the directory's attributes from birth (fs/attr.c). */
		if (chmod(path, 0755) != 0) {
			/* not fatal: it shows 0755 anyway */
		}
	}
	for (unsigned i = 0; !rc && i < num_disks; i++) {
		guest_disk_name(name, sizeof(name), i);
		rc = mount_file(path, cs->mount_dev, name, 0600, sizes[i], -1);
	}
	if (!rc && config_fd >= 0)
		rc = mount_file(path, cs->mount_dev, "config", 0644, 0,
				config_fd);
	if (rc) {
		cli_error("%s: creating guest %s failed: %s", cs->dir, guest,
			  cli_strerror(rc));
		if (cli_control(cs, CONTROL_OP_DELETE, guest,
				CONTROL_FLAG_FORCE, &reply, &answered) != 0)
			cli_note("the partly created guest %s is left in the "
				 "store; remove it with `hangar rm --force`",
				 guest);
		return CLI_EXIT_FAIL;
	}
	printf("created guest %s", guest);
	for (unsigned i = 0; i < num_disks; i++) {
		guest_disk_name(name, sizeof(name), i);
		printf("%s %s %s", i ? "," : ":", name,
		       format_size(size_text, sizes[i], exact));
	}
	if (config_fd >= 0)
		printf("%s config", num_disks ? "," : ":");
	cli_store_via_text(cs, via, sizeof(via));
	printf("%s\n", via);
	return CLI_EXIT_OK;
}

int cmd_create(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"disk", required_argument, NULL, 'd'},
		{"config", required_argument, NULL, 'c'},
		{"compress-disks", no_argument, NULL, 'z'},
		{"bytes", no_argument, NULL, 'b'},
		CLI_KEY_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct guest_create_options gopts = {.compress_disks = false};
	uint64_t sizes[CREATE_MAX_DISKS];
	unsigned num_disks = 0;
	const char *config = NULL, *dir, *guest;
	struct cli_store cs;
	char store_buf[4096];
	struct container *c = NULL;
	struct stat st;
	char size_text[FORMAT_SIZE_LEN];
	const char *why;
	int config_fd = -1;
	bool exact = false;
	int opt, rc, exit_code = CLI_EXIT_FAIL;

	while ((opt = getopt_long(argc, argv, ":d:c:zbh", longopts, NULL)) !=
	       -1) {
		if (cli_getopt_common(opt, argv, usage_create, &exit_code))
			return exit_code;
		switch (opt) {
		case 'd':
			if (num_disks == CREATE_MAX_DISKS)
				return cli_usage_error(usage_create,
						       "at most %d disks",
						       CREATE_MAX_DISKS);
			if (units_parse_disk_size(optarg, &sizes[num_disks],
						  &why) != 0)
				return cli_usage_error(usage_create,
						       "bad disk size '%s': %s",
						       optarg, why);
			num_disks++;
			break;
		case 'c':
			config = optarg;
			break;
		case 'z':
			gopts.compress_disks = true;
			break;
		case 'b':
			exact = true;
			break;
		}
	}
	dir = cli_store_operand(argc, argv, 1, store_buf, sizeof(store_buf));
	if (!dir || argc - optind != 1)
		return cli_usage_error(usage_create,
				       !dir || argc - optind < 1
					       ? "missing STORE or GUEST"
					       : "too many arguments");
	guest = argv[optind];
	if (!cli_guest_check_name(guest))
		return CLI_EXIT_USAGE;
	if (config) {
		config_fd = open(config, O_RDONLY | O_CLOEXEC);
		if (config_fd < 0 || fstat(config_fd, &st) < 0) {
			cli_error("%s: %s", config, strerror(errno));
			goto out_close_config;
		}
		if (!S_ISREG(st.st_mode)) {
			cli_error("%s: not a regular file", config);
			goto out_close_config;
		}
	}

	rc = cli_store_open(dir, CLI_ACCESS_WRITE, &cs);
	if (rc == -EWOULDBLOCK) {
		exit_code = create_mounted(&cs, guest, &gopts, sizes, num_disks,
					   config_fd, exact);
		goto out_close_config;
	}
	if (rc)
		goto out_close_config;
	rc = store_guest_create(cs.store, guest, &gopts);
	if (rc) {
		if (rc == -EEXIST)
			cli_error("%s: guest %s already exists", dir, guest);
		else
			cli_error("%s: cannot create guest %s: %s", dir, guest,
				  cli_strerror(rc));
		goto out_close_store;
	}
	rc = store_guest_get(cs.store, guest, &c);
	if (rc == 0) {
		rc = create_objects(c, sizes, num_disks, config_fd,
				    config ? (uint64_t)st.st_size : 0);
		store_guest_put(cs.store, c);
	}
	if (rc) {
		cli_error("%s: creating guest %s failed: %s", dir, guest,
			  cli_strerror(rc));
		if (store_guest_delete(cs.store, guest, STORE_DELETE_FORCE) !=
		    0)
			cli_note("the partly created guest %s is left in the "
				 "store; remove it with `hangar rm --force`",
				 guest);
		goto out_close_store;
	}
	printf("created guest %s", guest);
	for (unsigned i = 0; i < num_disks; i++) {
		char name[32];

		guest_disk_name(name, sizeof(name), i);
		printf("%s %s %s", i ? "," : ":", name,
		       format_size(size_text, sizes[i], exact));
	}
	if (config)
		printf("%s config", num_disks ? "," : ":");
	printf("\n");
	exit_code = CLI_EXIT_OK;
out_close_store:
	if (cli_store_close(&cs) != 0)
		exit_code = CLI_EXIT_FAIL;
out_close_config:
	if (config_fd >= 0)
		close(config_fd);
	return exit_code;
}
