/*
 * main.c -- `hangar`: the command table and dispatch.
 *
 * `hangar [--wait[=SECONDS]] COMMAND [OPTIONS] ARGS...`.  The global
 * --wait is parsed here and handed to open.c with cli_store_set_wait
 * (cli.h).  Each command parses its own options
 * with getopt_long (argv[0] is the command name) and returns its exit
 * status; this file finds the command, answers `hangar --help`, `hangar
 * help [COMMAND]` and `hangar -V`/`--version` (HANGAR_VERSION: the CMake
 * project's version, given to every target), and holds what every
 * command's parsing shares: the usage error, the common options (and the
 * whole option loop of the view commands) and the operands with the
 * default store (cli_positional), so their words are written once.  The
 * shell completion (contrib/bash-completion, contrib/zsh-completion) asks
 * `hangar --list-commands` (hidden) for the commands and `hangar COMMAND
 * --help` for their options, so it offers what this binary has.  The usage
 * texts mirror contrib/man/hangar.1; keep them in step.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "units.h"

static const struct cli_command commands[] = {
	{"init", "create a store directory", cmd_init, usage_init},
	{"create", "create a guest with empty disks", cmd_create, usage_create},
	{"import", "bring existing disks, config and save image in", cmd_import,
	 usage_import},
	{"export", "copy a guest's files out (sparse)", cmd_export,
	 usage_export},
	{"ls", "list guests", cmd_ls, usage_ls},
	{"status", "everything about one guest, with its save lock", cmd_status,
	 usage_status},
	{"resume", "release the save lock to restore a saved guest", cmd_resume,
	 usage_resume},
	{"discard", "delete a saved memory image, unpin the disks", cmd_discard,
	 usage_discard},
	{"check", "verify containers (exit 0 clean, 1 errors, 2 failed)",
	 cmd_check, usage_check},
	{"rm", "delete a guest", cmd_rm, usage_rm},
	{"acquire", "hold a guest on this host's hangarfs (shared stores)",
	 cmd_acquire, usage_acquire},
	{"release", "commit, close and let go of an acquired guest",
	 cmd_release, usage_release},
	{"rename", "rename a guest", cmd_rename, usage_rename},
	{"resize", "grow (or --shrink) a disk", cmd_resize, usage_resize},
	{"df", "space used per guest, free space of the store", cmd_df,
	 usage_df},
	{"mount", "mount a store with hangarfs", cmd_mount, usage_mount},
	{"umount", "unmount a hangarfs mount", cmd_umount, usage_umount},
	{"key", "add, remove or list the key slots of an encrypted store",
	 cmd_key, usage_key},
	{"snapshot", "create, list or delete a guest's snapshots", cmd_snapshot,
	 usage_snapshot},
	{"rollback", "return every file of a guest to a snapshot", cmd_rollback,
	 usage_rollback},
	{"diff", "changed extents per file between snapshots", cmd_diff,
	 usage_diff},
	{"clone", "a new guest from a guest or its snapshot (a copy)",
	 cmd_clone, usage_clone},
};
#define NUM_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage_main(FILE *f)
{
	fprintf(f,
		"usage: hangar [--wait[=SECONDS]] COMMAND [OPTIONS] ARGS...\n"
		"       hangar COMMAND --help\n"
		"       hangar -V | --version\n\n"
		"  --wait[=SECONDS]  when another process holds the store "
		"without serving a\n"
		"                    mount (a hangar command at work), wait "
		"until it lets go\n"
		"                    (at most SECONDS; default: no limit) "
		"instead of failing\n\n"
		"Commands:\n");
	for (size_t i = 0; i < NUM_COMMANDS; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(f, "\nA store is a directory of guest containers "
		   "(GUEST.hangar); mount it with `hangar mount\n"
		   "STORE MOUNTPOINT`.  While it is mounted, create, import, "
		   "resume, discard, rm,\n"
		   "snapshot and rollback are done through hangarfs (its "
		   "control socket).  See\n"
		   "hangar(1).\n");
}

static const struct cli_command *command_find(const char *name)
{
	for (size_t i = 0; i < NUM_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int cli_usage_error(void (*usage)(FILE *f), const char *fmt, ...)
{
	char *text = NULL;
	size_t text_len = 0;
	FILE *mem;
	va_list ap;

	fputs(CLI_PROGRAM ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (!usage)
		return CLI_EXIT_USAGE;
	/* The synopsis lines ("usage: ..." and their indented continuations)
	 * are enough after a mistake; --help has the rest. */
	mem = open_memstream(&text, &text_len);
	if (mem) {
		usage(mem);
		if (fclose(mem) == 0 && text) {
			char *save = NULL;

			for (char *line = strtok_r(text, "\n", &save); line;
			     line = strtok_r(NULL, "\n", &save)) {
				if (strncmp(line, "usage:", 6) != 0 &&
				    line[0] != ' ')
					break;
				fprintf(stderr, "%s\n", line);
			}
			fputs("(--help for more)\n", stderr);
		}
		free(text);
	}
	return CLI_EXIT_USAGE;
}

/* The next word of an operand synopsis ("STORE GUEST") from `p`: its
 * start, and its length in *len; NULL after the last one. */
static const char *synopsis_word(const char *p, size_t *len)
{
	p += strspn(p, " ");
	*len = strcspn(p, " ");
	return *p ? p : NULL;
}

static bool synopsis_is(const char *word, size_t len, const char *name)
{
	return len == strlen(name) && strncmp(word, name, len) == 0;
}

/* "missing STORE, GUEST or DIR": the synopsis's words, as a person would
 * list them. */
static int operands_missing(void (*usage)(FILE *f), const char *operands,
			    int total)
{
	char missing[256] = "";
	size_t missing_len = 0, len;
	const char *word = operands;

	for (int i = 0; i < total && missing_len < sizeof(missing);
	     i++, word += len) {
		word = synopsis_word(word, &len);
		int n = snprintf(missing + missing_len,
				 sizeof(missing) - missing_len, "%s%.*s",
				 i == 0		  ? ""
				 : i == total - 1 ? " or "
						  : ", ",
				 (int)len, word);
		if (n > 0)
			missing_len += (size_t)n;
	}
	return cli_usage_error(usage, "missing %s", missing);
}

int cli_positional(int argc, char **argv, void (*usage)(FILE *f),
		   const char *operands, char *store_buf, size_t store_len,
		   const char **out)
{
	int given = argc - optind, total = 0, store_at = -1, i;
	const char *word;
	size_t len;

	for (word = operands; (word = synopsis_word(word, &len)); word += len) {
		if (store_buf && synopsis_is(word, len, "STORE"))
			store_at = total;
		total++;
	}
	if (given > total)
		return cli_usage_error(usage, "too many arguments");
	/* one short: STORE left out, the default store stands in */
	if (given < total && (given < total - 1 || store_at < 0 ||
			      cli_default_store(store_buf, store_len) != 0))
		return operands_missing(usage, operands, total);
	word = operands;
	for (i = 0; i < total; i++, word += len) {
		word = synopsis_word(word, &len);
		if (given < total && i == store_at) {
			out[i] = store_buf;
			continue;
		}
		out[i] = argv[optind++];
		if (synopsis_is(word, len, "GUEST") &&
		    !cli_guest_check_name(out[i]))
			return CLI_EXIT_USAGE;
	}
	return CLI_EXIT_OK;
}

int cli_getopt_view(int argc, char **argv, void (*usage)(FILE *f), bool *json,
		    bool *exact)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"bytes", no_argument, NULL, 'b'},
		CLI_KEY_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int opt, exit_code;

	while ((opt = getopt_long(argc, argv, ":jbh", longopts, NULL)) != -1) {
		if (cli_getopt_common(opt, argv, usage, &exit_code))
			return exit_code;
		if (opt == 'j')
			*json = true;
		else if (opt == 'b')
			*exact = true;
	}
	return -1;
}

bool cli_getopt_common(int opt, char **argv, void (*usage)(FILE *f),
		       int *out_exit)
{
	/* Optstrings start with ':' and opterr is 0, so getopt stays quiet and
	 * every message carries our prefix. */
	const char *arg = optind > 0 ? argv[optind - 1] : "?";

	if (opt == CLI_OPT_KEYFILE) {
		cli_key.keyfile = optarg;
		return false;
	}
	if (opt == CLI_OPT_KEYFILE_INSECURE) {
		cli_key.keyfile_insecure = true;
		return false;
	}
	if (opt == CLI_OPT_PASSPHRASE_FD) {
		const char *why;
		uint64_t fd;

		if (units_parse_uint(optarg, 0, INT_MAX, &fd, &why) != 0) {
			cli_usage_error(usage, "%s: bad descriptor '%s': %s",
					argv[0], optarg, why);
			*out_exit = CLI_EXIT_USAGE;
			return true;
		}
		cli_key.passphrase_fd = (int)fd;
		return false;
	}
	if (opt == 'h') {
		usage(stdout);
		*out_exit = CLI_EXIT_OK;
		return true;
	}
	if (opt == ':') {
		cli_usage_error(usage, "%s: option '%s' needs an argument",
				argv[0], arg);
		*out_exit = CLI_EXIT_USAGE;
		return true;
	}
	if (opt == '?') {
		if (optopt && optopt != '?')
			cli_usage_error(usage, "%s: unknown option '-%c'",
					argv[0], optopt);
		else
			cli_usage_error(usage, "%s: unknown option '%s'",
					argv[0], arg);
		*out_exit = CLI_EXIT_USAGE;
		return true;
	}
	return false;
}

/* As many descriptors as we may have: `hangar check` and `ls` of a big
 * store open many guests (the store keeps a quarter of the limit open). */
static void raise_nofile_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	const struct cli_command *cmd;
	int rc;

	raise_nofile_limit();
	if (argc < 2)
		return cli_usage_error(usage_main, "missing command");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage_main(stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("hangar %s\n", HANGAR_VERSION);
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "--list-commands") == 0) {
		/* hidden: for the shell completion (contrib/), which thus
		 * offers exactly this table */
		for (size_t i = 0; i < NUM_COMMANDS; i++)
			printf("%s\n", commands[i].name);
		printf("help\n");
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc < 3) {
			usage_main(stdout);
			return CLI_EXIT_OK;
		}
		cmd = command_find(argv[2]);
		if (!cmd)
			return cli_usage_error(usage_main,
					       "unknown command '%s'", argv[2]);
		cmd->usage(stdout);
		return CLI_EXIT_OK;
	}
	/* Global options, before the command: --wait[=SECONDS] (cli.h). */
	while (argc >= 2 && (strcmp(argv[1], "--wait") == 0 ||
			     strncmp(argv[1], "--wait=", 7) == 0)) {
		struct cli_wait wait;

		if (cli_wait_parse(argv[1][6] == '=' ? argv[1] + 7 : NULL,
				   &wait) != 0)
			return cli_usage_error(usage_main,
					       CLI_WAIT_PARSE_ERROR);
		cli_store_set_wait(&wait);
		argc--;
		argv++;
	}
	if (argc < 2)
		return cli_usage_error(usage_main, "missing command");
	if (argv[1][0] == '-')
		return cli_usage_error(usage_main, "unknown option '%s'",
				       argv[1]);
	cmd = command_find(argv[1]);
	if (!cmd)
		return cli_usage_error(usage_main, "unknown command '%s'",
				       argv[1]);
	opterr = 0;
	rc = cmd->run(argc - 1, argv + 1);
	/* A full disk or closed pipe on stdout is a failure too. */
	if ((fflush(stdout) != 0 || ferror(stdout)) && rc == CLI_EXIT_OK) {
		cli_error("writing output: %s", strerror(errno));
		rc = CLI_EXIT_FAIL;
	}
	return rc;
}
