/*
 * cmd_init.c -- `hangar init STORE [--cluster-size SIZE]`.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

void usage_init(FILE *f)
{
	fprintf(f, "usage: hangar init STORE [--cluster-size SIZE]\n"
		   "Create a store: a directory that will hold one container "
		   "file per guest.\n\n"
		   "  -c, --cluster-size SIZE  allocation unit of new guests, "
		   "a power of two\n"
		   "                           from 4K to 2M (default 64K)\n"
		   "  -h, --help               show this help\n");
}

int cmd_init(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"cluster-size", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct store_init_options opts = {.cluster_shift = 0};
	char size_text[FORMAT_SIZE_LEN];
	const char *dir;
	uint64_t cluster = 0;
	int opt, rc, exit_code;

	while ((opt = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
		if (cli_getopt_common(opt, argv, usage_init, &exit_code))
			return exit_code;
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
	rc = store_init(dir, &opts);
	if (rc == -EEXIST) {
		cli_error("%s: already a hangar store", dir);
		return CLI_EXIT_FAIL;
	}
	if (rc) {
		cli_error("%s: cannot create store: %s", dir, cli_strerror(rc));
		return CLI_EXIT_FAIL;
	}
	printf("initialized store %s (cluster size %s)\n", dir,
	       format_size(
		       size_text,
		       1ull << (opts.cluster_shift ? opts.cluster_shift : 16),
		       false));
	return CLI_EXIT_OK;
}
