/*
 * defaults.c -- the default store: which store a command uses when STORE is
 * left out.
 *
 * Precedence, first found wins:
 *   1. STORE on the command line (every command still takes it);
 *   2. the HANGAR_STORE environment variable;
 *   3. the `store = PATH` line of the configuration file: $HANGAR_CONF when
 *      set (for tests and for running several setups side by side), else
 *      CLI_CONF_PATH (/etc/hangar.conf).
 * The file is lines of `key = value`; blank lines and lines starting with
 * `#` are ignored, and so are keys this version does not know (a newer
 * version's file still works).  Its store path must be absolute: the file
 * is read from wherever a command runs.  A file that exists but cannot be
 * read, or a malformed line, is an error, never a silent fallback.
 *
 * Whether STORE was left out is told by counting operands: a command that
 * takes STORE and N more operands and got exactly N uses the default
 * (cli_positional, main.c).  The one command with an optional operand
 * after STORE (`check [STORE] [GUEST]`) decides with store_probe
 * (cmd_check.c).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define CLI_CONF_LINE_MAX 4200

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* The `store` key of configuration file `path`: 0 with it in buf, -ENOENT
 * when the file or the key is absent, -EINVAL for a malformed file (the
 * reason printed), or the error reading it (printed). */
static int conf_read_store(const char *path, char *buf, size_t len)
{
	char line[CLI_CONF_LINE_MAX];
	unsigned line_no = 0;
	int rc = -ENOENT;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return -ENOENT;
		rc = -errno;
		cli_error("%s: %s", path, strerror(-rc));
		return rc;
	}
	while (fgets(line, sizeof(line), f)) {
		char *key, *value, *eq;

		line_no++;
		if (!strchr(line, '\n') && !feof(f)) {
			cli_error("%s:%u: line too long", path, line_no);
			rc = -EINVAL;
			goto out_close;
		}
		key = trim(line);
		if (!*key || *key == '#')
			continue;
		eq = strchr(key, '=');
		if (!eq) {
			cli_error("%s:%u: expected `key = value`", path,
				  line_no);
			rc = -EINVAL;
			goto out_close;
		}
		*eq = '\0';
		key = trim(key);
		value = trim(eq + 1);
		if (strcmp(key, "store") != 0)
			continue; /* a key of a newer version */
		if (value[0] != '/') {
			cli_error("%s:%u: store must be an absolute path, not "
				  "'%s'",
				  path, line_no, value);
			rc = -EINVAL;
			goto out_close;
		}
		if (strlen(value) >= len) {
			cli_error("%s:%u: store path too long", path, line_no);
			rc = -ENAMETOOLONG;
			goto out_close;
		}
		snprintf(buf, len, "%s", value);
		rc = 0; /* the last `store` line wins, as in most files */
	}
	if (ferror(f)) {
		rc = -EIO;
		cli_error("%s: %s", path, strerror(EIO));
	}
out_close:
	fclose(f);
	return rc;
}

int cli_default_store(char *buf, size_t len)
{
	const char *env = getenv("HANGAR_STORE");
	const char *conf = getenv("HANGAR_CONF");

	if (env && *env) {
		if (strlen(env) >= len) {
			cli_error("HANGAR_STORE: path too long");
			return -ENAMETOOLONG;
		}
		snprintf(buf, len, "%s", env);
		return 0;
	}
	return conf_read_store(conf && *conf ? conf : CLI_CONF_PATH, buf, len);
}

const char *cli_host_lock_dir(void)
{
	const char *env = getenv("HANGAR_LOCK_DIR");

	return env && *env ? env : NULL;
}

const char *cli_store_operand_optional(int argc, char **argv, int min_after,
				       int max_after, char *buf, size_t len)
{
	const int n = argc - optind;
	struct stat st;
	int dir_fd;
	bool is_store = false;

	if (n > max_after)
		return argv[optind++];
	if (n < min_after)
		return NULL;
	if (n > min_after) {
		dir_fd = open(argv[optind], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dir_fd >= 0) {
			is_store = fstatat(dir_fd, STORE_CONFIG_NAME, &st,
					   AT_SYMLINK_NOFOLLOW) == 0;
			close(dir_fd);
		}
		if (is_store)
			return argv[optind++];
	}
	return cli_default_store(buf, len) == 0 ? buf : NULL;
}
