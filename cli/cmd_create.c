/*
 * cmd_create.c -- `hangar create STORE GUEST [--disk SIZE]... [--config FILE]
 * [--compress-disks]`.
 *
 * The guest appears complete or not at all: if anything fails after the
 * container was created, it is deleted again.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define CREATE_MAX_DISKS 64

void usage_create(FILE *f)
{
	fprintf(f, "usage: hangar create STORE GUEST [--disk SIZE]... "
		   "[--config FILE] [--compress-disks]\n"
		   "Create a guest.  Each --disk adds an empty (sparse) raw "
		   "disk: disk.raw,\n"
		   "disk1.raw, disk2.raw, ...  SIZE is bytes or 512M, 20G, "
		   "1T (binary units).\n\n"
		   "  -d, --disk SIZE        add a disk of SIZE\n"
		   "  -c, --config FILE      copy FILE in as the guest's "
		   "`config`\n"
		   "  -z, --compress-disks   store disk clusters "
		   "zstd-compressed\n"
		   "  -b, --bytes            print exact sizes\n"
		   "  -h, --help             show this help\n\n"
		   "The store must not be mounted (on a mount: mkdir "
		   "MOUNTPOINT/GUEST).\n");
}

/* Create every object of the new guest; the caller rolls back on error. */
static int create_objects(struct container *c, const uint64_t *sizes,
			  unsigned num_disks, int config_fd,
			  uint64_t config_size)
{
	char name[32];
	uint64_t id;
	int rc;

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

int cmd_create(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "disk", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "compress-disks", no_argument, NULL, 'z' },
		{ "bytes", no_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct guest_create_options gopts = { .compress_disks = false };
	uint64_t sizes[CREATE_MAX_DISKS];
	unsigned num_disks = 0;
	const char *config = NULL, *dir, *guest;
	struct cli_store cs;
	struct container *c = NULL;
	struct stat st;
	char path[4400], size_text[FORMAT_SIZE_LEN];
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
			if (parse_size(optarg, &sizes[num_disks]) != 0)
				return cli_usage_error(usage_create,
						       "bad disk size '%s'",
						       optarg);
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
	if (argc - optind != 2)
		return cli_usage_error(usage_create, argc - optind < 2 ?
				       "missing STORE or GUEST" :
				       "too many arguments");
	dir = argv[optind];
	guest = argv[optind + 1];
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
		cli_store_refuse_mounted(&cs, "create");
		cli_store_mount_path(&cs, guest, path, sizeof(path));
		cli_store_mount_hint(&cs, "mkdir %s && truncate -s %s "
				     "%s/disk.raw", path,
				     num_disks ? format_size(size_text,
							     sizes[0], true) :
						 "SIZE",
				     path);
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
		if (store_guest_delete(cs.store, guest, true) != 0)
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
