/*
 * cmd_init.c -- `hangar init STORE [--cluster-size SIZE]
 *               [--encrypt (--keyfile FILE | --passphrase-fd N)]`.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Read a secret: a keyfile's bytes whole, or one line from a descriptor
 * (the newline dropped).  *out is malloc'd; the caller wipes and frees it. */
static int secret_read(const char *keyfile, int fd, uint8_t **out,
		       size_t *out_len)
{
	const size_t max = CRYPTO_SCRYPT_SECRET_MAX;
	uint8_t *buf = malloc(max + 1);
	size_t len = 0;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	if (keyfile) {
		fd = open(keyfile, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			ret = -errno;
			goto out_free;
		}
	}
	while (len <= max) {
		ssize_t n = read(fd, buf + len, max + 1 - len);
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (!keyfile && memchr(buf, '\n', len))
			break;
	}
	if (keyfile)
		close(fd);
	if (!ret && !keyfile) {
		uint8_t *nl = memchr(buf, '\n', len);
		if (nl)
			len = (size_t)(nl - buf);
	}
	if (!ret && (len == 0 || len > max))
		ret = -EINVAL;
	if (ret)
		goto out_free;
	*out = buf;
	*out_len = len;
	return 0;
out_free:
	memset(buf, 0, max + 1);
	free(buf);
	return ret;
}

void usage_init(FILE *f)
{
	fprintf(f, "usage: hangar init STORE [--cluster-size SIZE]\n"
		   "       [--encrypt (--keyfile FILE | --passphrase-fd N)]\n"
		   "Create a store: a directory that will hold one container "
		   "file per guest.\n\n"
		   "  -c, --cluster-size SIZE  allocation unit of new guests, "
		   "a power of two\n"
		   "                           from 4K to 2M (default 64K)\n"
		   "  -e, --encrypt            encrypt every guest "
		   "(AES-256-GCM)\n"
		   "  -k, --keyfile FILE       the key slot is opened by "
		   "FILE's bytes\n"
		   "  -p, --passphrase-fd N    ... or by a passphrase read "
		   "from descriptor N\n"
		   "  -h, --help               show this help\n");
}

int cmd_init(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"cluster-size", required_argument, NULL, 'c'},
		{"encrypt", no_argument, NULL, 'e'},
		{"keyfile", required_argument, NULL, 'k'},
		{"passphrase-fd", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct store_init_options opts = {.cluster_shift = 0};
	char size_text[FORMAT_SIZE_LEN];
	const char *dir;
	uint64_t cluster = 0;
	const char *keyfile = NULL;
	int pass_fd = -1;
	uint8_t *secret = NULL;
	size_t secret_len = 0;
	int opt, rc, exit_code;

	while ((opt = getopt_long(argc, argv, ":c:ek:p:h", longopts, NULL)) !=
	       -1) {
		if (cli_getopt_common(opt, argv, usage_init, &exit_code))
			return exit_code;
		if (opt == 'e')
			opts.encrypt = true;
		else if (opt == 'k')
			keyfile = optarg;
		else if (opt == 'p')
			pass_fd = atoi(optarg);
		if (opt == 'c') {
			if (parse_size(optarg, &cluster) != 0)
				return cli_usage_error(usage_init,
						       "bad cluster size '%s'",
						       optarg);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(
			usage_init, argc - optind < 1 ? "missing STORE"
						      : "too many arguments");
	dir = argv[optind];
	if (cluster) {
		unsigned shift = 0;

		while (shift < 63 && (1ull << shift) < cluster)
			shift++;
		if ((1ull << shift) != cluster || shift < 12 || shift > 21)
			return cli_usage_error(
				usage_init,
				"cluster size must be a power of "
				"two from 4K to 2M, not '%s'",
				format_size(size_text, cluster, false));
		opts.cluster_shift = shift;
	}
	if (!opts.encrypt && (keyfile || pass_fd >= 0))
		return cli_usage_error(usage_init,
				       "--keyfile and --passphrase-fd need "
				       "--encrypt");
	if (opts.encrypt) {
		if (!!keyfile == (pass_fd >= 0))
			return cli_usage_error(
				usage_init,
				"--encrypt needs one of --keyfile or "
				"--passphrase-fd (no terminal prompt yet)");
		rc = secret_read(keyfile, pass_fd, &secret, &secret_len);
		if (rc) {
			cli_error("%s: cannot read the key: %s",
				  keyfile ? keyfile : "passphrase",
				  cli_strerror(rc));
			return CLI_EXIT_FAIL;
		}
		opts.key_kind = keyfile ? KEYSLOT_KIND_KEYFILE
					: KEYSLOT_KIND_PASSPHRASE;
		opts.key_secret = secret;
		opts.key_secret_len = secret_len;
	}
	rc = store_init(dir, &opts);
	if (secret) {
		memset(secret, 0, CRYPTO_SCRYPT_SECRET_MAX + 1);
		free(secret);
	}
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
	       format_size(
		       size_text,
		       1ull << (opts.cluster_shift ? opts.cluster_shift : 16),
		       false));
	return CLI_EXIT_OK;
}
