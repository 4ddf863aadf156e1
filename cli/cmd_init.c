/*
 * cmd_init.c -- `hangar init STORE [--cluster-size SIZE]
 *               [--encrypt [--keyfile FILE | --passphrase-fd N]]`.
 * With --encrypt and no key option the passphrase is asked on the
 * terminal, twice.
 *
 * STORE must be new, an empty directory, or a directory holding only
 * lost+found (the root of a fresh filesystem) or the leftovers of an init
 * that was interrupted (.hangar-*): a store is a directory of its own, and
 * a store made among other files would be backed up, listed and removed
 * with them.  Anything else is refused before a passphrase is asked.
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
#include "units.h"

void usage_init(FILE *f)
{
	fprintf(f, "usage: hangar init STORE [--cluster-size SIZE]\n"
		   "       [--encrypt [--keyfile FILE | --passphrase-fd N]]\n"
		   "Create a store: a directory that will hold one container "
		   "file per guest.\n\n"
		   "  -c, --cluster-size SIZE  allocation unit of new guests, "
		   "a power of two\n"
		   "                           from 4K to 2M (default 64K, "
		   "16K encrypted)\n"
		   "  -e, --encrypt            encrypt every guest "
		   "(AES-256-GCM)\n"
		   "  -k, --keyfile FILE       the key slot is opened by "
		   "FILE's bytes\n"
		   "  -p, --passphrase-fd N    ... or by a passphrase read "
		   "from descriptor N\n"
		   "      --keyfile-insecure   accept a key file others can "
		   "read or that\n"
		   "                           another user owns (refused "
		   "otherwise)\n"
		   "                           (neither: asked on the "
		   "terminal, twice)\n"
		   "  -h, --help               show this help\n");
}

/* Refuse a STORE that already is a store or holds other files (see the
 * top).  0 when init may go on. */
static int init_check_dir(const char *dir)
{
	char path[PATH_MAX + 64];
	const struct dirent *entry;
	struct stat st;
	int rc = 0;
	DIR *d;

	if (lstat(dir, &st) != 0) {
		if (errno == ENOENT)
			return 0; /* store_init creates it (not its parents) */
		rc = -errno;
		cli_error("%s: %s", dir, strerror(errno));
		return rc;
	}
	if (!S_ISDIR(st.st_mode)) {
		cli_error("%s: exists and is not a directory", dir);
		return -ENOTDIR;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, STORE_CONFIG_NAME);
	if (lstat(path, &st) == 0) {
		cli_error("%s: already a hangar store", dir);
		return -EEXIST;
	}
	d = opendir(dir);
	if (!d) {
		rc = -errno;
		cli_error("%s: %s", dir, strerror(errno));
		return rc;
	}
	while ((entry = readdir(d)) != NULL) {
		const char *name = entry->d_name;
		char shown[FORMAT_NAME_LEN];

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
		    strcmp(name, "lost+found") == 0 ||
		    strncmp(name, ".hangar-", 8) == 0)
			continue;
		cli_error("%s: not empty (it holds '%s'): a store needs a "
			  "directory of its own; give a new or an empty "
			  "directory",
			  dir, format_name(shown, sizeof(shown), name));
		rc = -ENOTEMPTY;
		break;
	}
	closedir(d);
	return rc;
}

/* The new store's secret (cli_secret_new); init_check_dir has refused an
 * existing store before, so the passphrase is not asked twice for nothing. */
static int init_secret(const char *dir, const char *keyfile, int pass_fd,
		       struct secret *out)
{
	return cli_secret_new(dir, keyfile, pass_fd, false,
			      "no terminal to ask for a passphrase: give "
			      "--keyfile FILE or --passphrase-fd N",
			      out);
}

int cmd_init(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"cluster-size", required_argument, NULL, 'c'},
		{"encrypt", no_argument, NULL, 'e'},
		{"keyfile", required_argument, NULL, 'k'},
		{"passphrase-fd", required_argument, NULL, 'p'},
		CLI_KEYFILE_INSECURE_LONGOPT,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct store_init_options opts = {.cluster_shift = 0};
	char size_text[FORMAT_SIZE_LEN];
	const char *dir, *why, *cluster_text = NULL;
	uint64_t cluster = 0, fd;
	const char *keyfile = NULL;
	int pass_fd = -1;
	struct secret secret = {0};
	int opt, rc, exit_code;

	while ((opt = getopt_long(argc, argv, ":c:ek:p:h", longopts, NULL)) !=
	       -1) {
		if (cli_getopt_common(opt, argv, usage_init, &exit_code))
			return exit_code;
		if (opt == 'e')
			opts.encrypt = true;
		else if (opt == 'k')
			keyfile = optarg;
		else if (opt == 'p' &&
			 units_parse_uint(optarg, 0, INT_MAX, &fd, &why) != 0)
			return cli_usage_error(usage_init,
					       "bad descriptor '%s': %s",
					       optarg, why);
		else if (opt == 'p')
			pass_fd = (int)fd;
		if (opt == 'c') {
			cluster_text = optarg;
			if (units_parse_size(optarg, &cluster, &why) != 0)
				return cli_usage_error(
					usage_init, "bad cluster size '%s': %s",
					optarg, why);
		}
	}
	/* no default store: init makes a new one */
	if (cli_positional(argc, argv, usage_init, "STORE", NULL, 0, &dir))
		return CLI_EXIT_USAGE;
	if (cluster) {
		unsigned shift = 0;

		while (shift < 63 && (1ull << shift) < cluster)
			shift++;
		/* quoted as typed: "3K", not the "3.0K" format_size makes */
		if ((1ull << shift) != cluster || shift < 12 || shift > 21)
			return cli_usage_error(
				usage_init,
				"cluster size must be a power of "
				"two from 4K to 2M, not '%s'",
				cluster_text);
		opts.cluster_shift = shift;
	}
	if (!opts.encrypt && (keyfile || pass_fd >= 0))
		return cli_usage_error(usage_init,
				       "--keyfile and --passphrase-fd need "
				       "--encrypt");
	if (keyfile && pass_fd >= 0)
		return cli_usage_error(usage_init, "give one of --keyfile or "
						   "--passphrase-fd, not both");
	if (init_check_dir(dir) != 0)
		return CLI_EXIT_FAIL;
	if (opts.encrypt) {
		if (init_secret(dir, keyfile, pass_fd, &secret))
			return CLI_EXIT_FAIL;
		opts.key_kind = keyfile ? KEYSLOT_KIND_KEYFILE
					: KEYSLOT_KIND_PASSPHRASE;
		opts.key_secret = secret.buf;
		opts.key_secret_len = secret.len;
	}
	rc = store_init(dir, &opts);
	secret_free(&secret);
	if (rc == -EEXIST) {
		cli_error("%s: already a hangar store", dir);
		return CLI_EXIT_FAIL;
	}
	if (rc) {
		cli_error("%s: cannot create store: %s", dir, cli_strerror(rc));
		return CLI_EXIT_FAIL;
	}
	printf("initialized %sstore %s (cluster size %s)\n",
	       opts.encrypt ? "encrypted (aes-256-gcm) " : "", dir,
	       format_size(size_text,
			   1ull << (opts.cluster_shift
					    ? opts.cluster_shift
					    : store_default_cluster_shift(
						      opts.encrypt)),
			   false));
	return CLI_EXIT_OK;
}
