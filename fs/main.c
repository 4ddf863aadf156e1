/*
 * main.c -- hangarfs: option parsing, startup and shutdown of the daemon.
 *
 *   hangarfs STORE MOUNTPOINT [-f] [-d] [-s] [-o OPTIONS]
 *
 * The argument order is the mount.fuse3 helper's (`mount -t fuse.hangarfs
 * STORE MNT` runs `hangarfs STORE MNT -o opts`), so fstab lines work.
 * Our options:
 *   allow_other           other users may use the mount; default_permissions
 *                         is always on, so the mode bits are enforced
 *   commit_interval=SEC   background commit period (default 5, 0 = only on
 *                         fsync/close of the store; 0..86400)
 *   ro                    the whole store read-only (no lock is taken)
 *   cow_slack=SIZE        copy-on-write space a guest's rewrites may free
 *                         before a commit gives it back (default 1G, 0 =
 *                         no limit; core/alloc.c invariant 11)
 *   cache_size=SIZE       the map cache of all guests together (default
 *                         64M; 0 = about one map leaf per open guest)
 *   keyfile=FILE          encrypted store: the key slot opened by FILE
 *                         (owned by the caller or root, mode 0600 or
 *                         stricter: refused otherwise)
 *   keyfile_insecure      accept a keyfile that fails that test
 *   passphrase_fd=N       ... or by a passphrase read from descriptor N
 *                         (0..INT_MAX)
 *                         (neither: asked on the terminal with -f)
 *   log_file=PATH         append every log line to PATH too (log.c)
 *   lease_check=on|off|auto  prove the container lock after each commit's sync
 *                         before a commit counts (store.h; auto: on a
 *                         filesystem hosts may share, the default)
 * and every libfuse option passes through (fsname, max_threads, clone_fd..).
 * Numeric values are read as text and range-checked (numeric_options),
 * so "-1" is refused, not wrapped.  `--version` prints the version CMake
 * gives (HANGAR_VERSION, the project's); `--list-options` (hidden) lists
 * our -o options for the shell completion.
 *
 * Startup order matters (daemon.c): raise RLIMIT_NOFILE to the hard limit
 * (the store keeps a quarter of it for open containers), fork (before any
 * thread), open the log (log.c: the journal, syslog, stderr, a log file),
 * then open the store (lock + committer thread in the daemon's own
 * process), detach a dead hangarfs mount left at the mount point by a
 * killed daemon (recover_dead_mount), create and mount the session, note
 * the mount's device
 * (for the control socket's "mount" answer), start the control socket
 * (control.h: how
 * `hangar resume/discard/rm/create` reach a mounted store; not for -o ro,
 * which holds no lock), then tell the waiting parent (and systemd, with
 * READY=1, under Type=notify: notify.c).  A second mount of a
 * store fails at store_open with the holder's PID.  At shutdown (unmount,
 * SIGTERM, SIGINT: the session loop returns; systemd gets STOPPING=1) the
 * socket stops before the store closes, so no request runs on a closing
 * store.
 *
 * THREAD MODEL: main() runs alone until fuse_session_loop_mt starts the
 * workers; `struct hfs` is read-only from then on.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <syslog.h>
#include <unistd.h>

#include "hangar/control.h"
#include "hangarfs.h"
#include "mounts.h"
#include "units.h"

#define DEFAULT_COMMIT_INTERVAL_S 5
/* A day: longer would only mean "never", which 0 says; and the store
 * counts the period in milliseconds (32 bits). */
#define MAX_COMMIT_INTERVAL_S 86400

struct config {
	char *store;		    /* first non-option argument */
	char *commit_interval_text; /* -o commit_interval=, as typed */
	char *passphrase_fd_text;   /* -o passphrase_fd=, as typed */
	char *cache_size_text;	    /* -o cache_size=, as typed */
	uint64_t cache_bytes;	    /* once checked: 0 = the default */
	char *cow_slack_text;	    /* -o cow_slack=, as typed */
	uint64_t cow_slack_bytes;   /* once checked: 0 = the default */
	unsigned commit_interval;   /* seconds, once checked */
	int read_only;
	int allow_other;
	int show_help;
	int show_version;
	int list_options;
	char *keyfile;
	int keyfile_insecure;
	int passphrase_fd;
	char *log_file;
	char *lease_check; /* -o lease_check=on|off|auto */
};

enum {
	KEY_RO,
	KEY_ALLOW_OTHER,
	KEY_HELP,
	KEY_VERSION,
	KEY_LIST_OPTIONS,
	KEY_COMMIT_INTERVAL,
	KEY_PASSPHRASE_FD,
	KEY_CACHE_SIZE,
	KEY_COW_SLACK,
};

static const struct fuse_opt config_opts[] = {
	FUSE_OPT_KEY("commit_interval=", KEY_COMMIT_INTERVAL),
	{"keyfile=%s", offsetof(struct config, keyfile), 0},
	FUSE_OPT_KEY("passphrase_fd=", KEY_PASSPHRASE_FD),
	FUSE_OPT_KEY("cache_size=", KEY_CACHE_SIZE),
	FUSE_OPT_KEY("cow_slack=", KEY_COW_SLACK),
	{"keyfile_insecure", offsetof(struct config, keyfile_insecure), 1},
	{"log_file=%s", offsetof(struct config, log_file), 0},
	{"lease_check=%s", offsetof(struct config, lease_check), 0},
	FUSE_OPT_KEY("ro", KEY_RO),
	FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	/* hidden: the -o options above, one a line, for the shell completion
	 * (contrib/bash-completion, contrib/zsh-completion), so it cannot
	 * miss one */
	FUSE_OPT_KEY("--list-options", KEY_LIST_OPTIONS),
	/* fstab words that mean nothing to a FUSE mount */
	FUSE_OPT_KEY("defaults", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("auto", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("noauto", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("nofail", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("_netdev", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("user", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("users", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("nouser", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_END};

/* Keep the text after the '=' of `arg` in *text (the last one given wins;
 * fuse_opt's %s would leak the earlier ones). */
static int config_keep_value(char **text, const char *arg)
{
	char *copy = strdup(strchr(arg, '=') + 1);

	if (!copy)
		return -1;
	free(*text);
	*text = copy;
	return 0;
}

static int config_proc(void *data, const char *arg, int key,
		       struct fuse_args *outargs)
{
	struct config *cfg = data;

	(void)outargs;
	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (!cfg->store) {
			cfg->store = strdup(arg);
			return cfg->store ? 0 : -1;
		}
		return 1; /* the mount point, for fuse_parse_cmdline */
	case KEY_RO:
		cfg->read_only = 1;
		return 1; /* also a kernel mount flag */
	case KEY_ALLOW_OTHER:
		cfg->allow_other = 1;
		return 1;
	case KEY_HELP:
		cfg->show_help = 1;
		return 0;
	case KEY_VERSION:
		cfg->show_version = 1;
		return 0;
	case KEY_LIST_OPTIONS:
		cfg->list_options = 1;
		return 0;
	case KEY_COMMIT_INTERVAL:
		return config_keep_value(&cfg->commit_interval_text, arg);
	case KEY_PASSPHRASE_FD:
		return config_keep_value(&cfg->passphrase_fd_text, arg);
	case KEY_CACHE_SIZE:
		return config_keep_value(&cfg->cache_size_text, arg);
	case KEY_COW_SLACK:
		return config_keep_value(&cfg->cow_slack_text, arg);
	default:
		return 1;
	}
}

/*
 * The numeric -o options and their ranges.  fuse_opt's %u and %d would
 * take "-1" as 4294967295 (a commit every 136 years) or a descriptor as
 * "3x" as 3; these are read as text and checked here (common/units.h).
 */
struct numeric_option {
	const char *name;
	uint64_t min, max;
	const char *unit; /* for the refusal: "0 to 86400 seconds" */
};

static const struct numeric_option numeric_options[] = {
	{"commit_interval", 0, MAX_COMMIT_INTERVAL_S, " seconds"},
	{"passphrase_fd", 0, INT_MAX, ", a descriptor"},
};

/* -o NAME=`text`: 0 with *out, or -EINVAL after saying why. */
static int numeric_option_parse(const char *name, const char *text,
				uint64_t *out)
{
	const struct numeric_option *o = NULL;
	const char *why;

	for (size_t i = 0;
	     i < sizeof(numeric_options) / sizeof(numeric_options[0]); i++)
		if (strcmp(numeric_options[i].name, name) == 0)
			o = &numeric_options[i];
	assert(o);
	if (units_parse_uint(text, o->min, o->max, out, &why) == 0)
		return 0;
	fprintf(stderr,
		"hangarfs: -o %s=%s: %s (%" PRIu64 " to %" PRIu64 "%s)\n", name,
		text, why, o->min, o->max, o->unit);
	return -EINVAL;
}

/* -o NAME=`text`, a size (suffixes K, M, G, T): 0 with *out (`zero_means`
 * for a 0), or -EINVAL after saying why. */
static int size_option_parse(const char *name, const char *text,
			     uint64_t zero_means, uint64_t *out)
{
	const char *why;
	uint64_t value;

	if (units_parse_size(text, &value, &why)) {
		fprintf(stderr, "hangarfs: -o %s=%s: %s\n", name, text, why);
		return -EINVAL;
	}
	*out = value ? value : zero_means;
	return 0;
}

#define LEASE_CHECK_INVALID ((enum store_lease_check) - 1)

/* -o lease_check=: on, off, auto (NULL: auto); LEASE_CHECK_INVALID else. */
static enum store_lease_check lease_check_parse(const char *text)
{
	if (!text || strcmp(text, "auto") == 0)
		return STORE_LEASE_CHECK_AUTO;
	if (strcmp(text, "on") == 0)
		return STORE_LEASE_CHECK_ON;
	if (strcmp(text, "off") == 0)
		return STORE_LEASE_CHECK_OFF;
	return LEASE_CHECK_INVALID;
}

/* Check the numeric options given as text into their fields. */
static int config_check(struct config *cfg)
{
	uint64_t value;

	if (cfg->commit_interval_text) {
		if (numeric_option_parse("commit_interval",
					 cfg->commit_interval_text, &value))
			return -EINVAL;
		cfg->commit_interval = (unsigned)value;
	}
	if (cfg->lease_check &&
	    lease_check_parse(cfg->lease_check) == LEASE_CHECK_INVALID) {
		fprintf(stderr,
			"hangarfs: -o lease_check=%s: expected on, off or "
			"auto\n",
			cfg->lease_check);
		return -EINVAL;
	}
	if (cfg->passphrase_fd_text) {
		if (numeric_option_parse("passphrase_fd",
					 cfg->passphrase_fd_text, &value))
			return -EINVAL;
		cfg->passphrase_fd = (int)value;
	}
	/* the store's 0 is its default; our cache_size=0 is "as small as it
	 * gets" (a budget of one byte), our cow_slack=0 "no limit" */
	if (cfg->cache_size_text &&
	    size_option_parse("cache_size", cfg->cache_size_text, 1,
			      &cfg->cache_bytes))
		return -EINVAL;
	if (cfg->cow_slack_text &&
	    size_option_parse("cow_slack", cfg->cow_slack_text, UINT64_MAX,
			      &cfg->cow_slack_bytes))
		return -EINVAL;
	return 0;
}

/* --list-options: every -o option of ours, from config_opts itself
 * ("name=" for those taking a value), and the kernel's ro/allow_other. */
static void list_options(void)
{
	for (size_t i = 0; config_opts[i].templ; i++) {
		const char *t = config_opts[i].templ;
		const char *eq = strchr(t, '=');

		if (t[0] == '-' || config_opts[i].value == FUSE_OPT_KEY_DISCARD)
			continue; /* command-line flags; fstab-only words */
		printf("%.*s\n", (int)(eq ? eq - t + 1 : (ptrdiff_t)strlen(t)),
		       t);
	}
}

static void usage(const char *prog)
{
	printf("usage: %s STORE MOUNTPOINT [-f] [-d] [-s] [-o OPTIONS]\n\n"
	       "Mount a hangar store: one directory per guest, disks as raw "
	       "files.\n\n"
	       "hangarfs options:\n"
	       "    -o allow_other           let other users in (always with "
	       "default_permissions)\n"
	       "    -o commit_interval=SEC   background commit period (default "
	       "%d, 0 = off,\n"
	       "                             at most %d)\n"
	       "    -o ro                    mount the whole store "
	       "read-only\n"
	       "    -o cache_size=SIZE       map cache of all guests together "
	       "(default 64M;\n"
	       "                             0 = about one map leaf per open "
	       "guest)\n"
	       "    -o cow_slack=SIZE        space a guest's rewrites may free "
	       "before a\n"
	       "                             commit returns it (default 1G; "
	       "0 = no limit)\n"
	       "    -o keyfile=FILE          encrypted store: open it with "
	       "FILE's bytes\n"
	       "    -o keyfile_insecure      accept a key file others can read "
	       "or another\n"
	       "                             user owns (refused otherwise)\n"
	       "    -o passphrase_fd=N       ... or a passphrase read from "
	       "descriptor N\n"
	       "                             (neither, with -f on a terminal: "
	       "asked)\n"
	       "    -o lease_check=on|off|auto  prove the container lock "
	       "after each commit\n"
	       "                             (auto, the default: where "
	       "hosts may share the store)\n"
	       "    -o log_file=PATH         also append every log line to "
	       "PATH (the journal,\n"
	       "                             syslog or stderr get them as "
	       "well)\n\n",
	       prog, DEFAULT_COMMIT_INTERVAL_S, MAX_COMMIT_INTERVAL_S);
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

/* Add "-o fsname=STORE,subtype=hangarfs" (escaped) to `args`. */
static int add_identity(struct fuse_args *args, const char *store)
{
	char *opts = NULL;
	char *fsname;
	int err = -1;

	if (asprintf(&fsname, "fsname=%s", store) < 0)
		return -1;
	if (fuse_opt_add_opt_escaped(&opts, fsname) == 0 &&
	    fuse_opt_add_opt(&opts, "subtype=hangarfs") == 0 &&
	    fuse_opt_add_opt(&opts, "default_permissions") == 0 &&
	    fuse_opt_add_arg(args, "-o") == 0 &&
	    fuse_opt_add_arg(args, opts) == 0)
		err = 0;
	free(opts);
	free(fsname);
	return err;
}

/* The per-host store lock's directory (store.h, LOCKS): HANGAR_LOCK_DIR
 * when set (tests that run two "hosts" on one machine give each its own),
 * else NULL: the store's STORE_HOST_LOCK_DIR. */
static const char *host_lock_dir(void)
{
	const char *env = getenv("HANGAR_LOCK_DIR");

	return env && *env ? env : NULL;
}

static int open_store(struct hfs *fs, const struct config *cfg, bool may_prompt)
{
	struct secret sec;
	enum keyslot_kind kind = KEYSLOT_KIND_PASSPHRASE;
	struct store_options so = {
		.read_only = cfg->read_only,
		.lease_check = lease_check_parse(cfg->lease_check),
		.commit_interval_ms = cfg->commit_interval * 1000u,
		.map_cache_bytes = cfg->cache_bytes,
		.cow_slack_bytes = cfg->cow_slack_bytes,
		.event = log_container_event,
		.event_arg = fs,
		.host_lock_dir = host_lock_dir(),
	};
	pid_t holder = 0;
	int err;

	err = fs_secret_load(fs->store_path, cfg->keyfile, cfg->passphrase_fd,
			     cfg->keyfile_insecure, may_prompt, &sec, &kind);
	if (err == -EPERM)
		return err; /* fs_secret_load said why */
	if (err) {
		fprintf(stderr, "hangarfs: %s: cannot read the key: %s\n",
			cfg->keyfile ? cfg->keyfile : "passphrase",
			err == -EINVAL ? "empty or too long"
				       : hfs_strerror(err));
		return err;
	}
	so.key_kind = kind;
	so.key_secret = sec.buf;
	so.key_secret_len = sec.len;
	err = store_open(fs->store_path, &so, &fs->store);
	secret_free(&sec);
	if (err == -EKEYREJECTED) {
		fprintf(stderr, "hangarfs: %s: wrong passphrase or key file\n",
			fs->store_path);
		return err;
	}
	if (err == -ENOKEY) {
		fprintf(stderr,
			"hangarfs: %s is encrypted: give -o keyfile=FILE or "
			"-o passphrase_fd=N\n",
			fs->store_path);
		return err;
	}
	if (err == -EROFS) {
		fprintf(stderr,
			"hangarfs: %s is on a read-only filesystem; mount it "
			"with -o ro\n",
			fs->store_path);
		return err;
	}
	if (err == -EWOULDBLOCK) {
		if (store_lock_holder_at(fs->store_path, host_lock_dir(),
					 &holder) == 0 &&
		    holder > 0)
			fprintf(stderr,
				"hangarfs: %s is already in use by PID %ld "
				"(mounted, or opened by 'hangar'); unmount it "
				"or use -o ro\n",
				fs->store_path, (long)holder);
		else
			fprintf(stderr,
				"hangarfs: %s is already in use by another "
				"process; unmount it or use -o ro\n",
				fs->store_path);
		return err;
	}
	if (err) {
		fprintf(stderr, "hangarfs: cannot open store %s: %s%s\n",
			fs->store_path, hfs_strerror(err),
			err == -ENOENT || err == -EINVAL
				? " (create one with 'hangar init')"
				: "");
		return err;
	}
	fs->store_fd = open(fs->store_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs->store_fd < 0) {
		err = -errno;
		fprintf(stderr, "hangarfs: %s: %s\n", fs->store_path,
			hfs_strerror(err));
		store_close(fs->store);
		fs->store = NULL;
		return err;
	}
	fs->cluster_size = 1u << store_cluster_shift(fs->store);
	return 0;
}

static int run_session(struct fuse_session *se,
		       const struct fuse_cmdline_opts *opts)
{
	struct fuse_loop_config *config;
	int ret;

	if (opts->singlethread)
		return fuse_session_loop(se);
	config = fuse_loop_cfg_create();
	if (!config)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(config, (unsigned)opts->clone_fd);
	fuse_loop_cfg_set_max_threads(config, opts->max_threads);
	ret = fuse_session_loop_mt(se, config);
	fuse_loop_cfg_destroy(config);
	return ret;
}

/* The control socket, unless read-only.  A failure is logged, not fatal:
 * the mount works, only `hangar` cannot change this store while mounted. */
static struct control *start_control(struct hfs *fs,
				     const struct control_mount *mount)
{
	struct control *ctl = NULL;
	int err;

	if (fs->read_only)
		return NULL;
	err = control_start(fs->store, mount, &ctl);
	if (err) {
		char name[CONTROL_SOCKET_NAME_MAX];

		control_socket_name(fs->store_path, name, sizeof(name));
		log_msg(LOG_WARNING,
			"control socket %s/%s not started: %s; 'hangar' "
			"cannot change this store while it is mounted",
			fs->store_path, name, hfs_strerror(err));
		return NULL;
	}
	return ctl;
}

/* As many descriptors as we may have: the store keeps a quarter of them
 * for open containers (store.h), the rest serve FUSE and the control
 * socket.  Failure is harmless (we keep the soft limit). */
static void raise_nofile_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * The device of our own mount at `mountpoint`, just mounted, for the
 * control socket's "mount" answer (the CLI matches it against the mount it
 * would copy into).  O_PATH and AT_STATX_DONT_SYNC send no request to the
 * kernel's FUSE connection, which nobody serves yet; the descriptor pins
 * the mount we made even if something is mounted over it later.
 */
static int mount_device(const char *mountpoint, dev_t *out_dev)
{
	struct statx stx;
	int fd, err = 0;

	if (mountpoint[0] != '/' || strncmp(mountpoint, "/dev/fd/", 8) == 0)
		return -ENOENT; /* a descriptor passed by a mount helper */
	fd = open(mountpoint, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE,
		  &stx) != 0)
		err = -errno;
	close(fd);
	if (!err)
		*out_dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	return err;
}

/*
 * A mount point left dead by a killed hangarfs (every stat of it fails
 * with ENOTCONN) cannot be mounted on, and nothing can be served from it
 * any more: detach it (lazy unmount) and log that we did.  A dead mount of
 * another file system is not ours to remove: refused with the reason.  0
 * (also when there is nothing to do: libfuse reports any other problem
 * with the mount point), or -errno after saying why on stderr.
 */
static int recover_dead_mount(const char *mountpoint)
{
	struct mount_entry m;
	char path[PATH_MAX];
	struct stat st;
	int err;

	if (stat(mountpoint, &st) == 0 || errno != ENOTCONN)
		return 0;
	err = mounts_path_absolute(mountpoint, path, sizeof(path));
	if (!err)
		err = mounts_find_target(path, &m);
	if (err)
		return 0;
	if (strcmp(m.fstype, MOUNTS_HANGARFS_TYPE) != 0) {
		fprintf(stderr,
			"hangarfs: %s: a dead %s mount of %s is in the way "
			"(Transport endpoint is not connected: its daemon is "
			"gone); not a hangarfs mount, so it is left alone: "
			"unmount it with 'fusermount3 -u %s'\n",
			path, m.fstype, m.source, path);
		return -ENOTCONN;
	}
	err = mounts_detach(path, true);
	if (err) {
		fprintf(stderr,
			"hangarfs: %s: a dead hangarfs mount of %s is in the "
			"way and cannot be detached: %s\n",
			path, m.source,
			err == -EPERM ? "it was mounted by another user"
				      : hfs_strerror(err));
		return err;
	}
	log_msg(LOG_NOTICE,
		"%s: detached a dead hangarfs mount of %s (its daemon died: "
		"Transport endpoint is not connected) before mounting",
		path, m.source);
	return 0;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct config cfg = {.commit_interval = DEFAULT_COMMIT_INTERVAL_S,
			     .passphrase_fd = -1};
	struct fuse_cmdline_opts opts = {0};
	struct hfs fs = {
		.store_fd = -1, .attr_timeout = 1.0, .entry_timeout = 1.0};
	char store_path[PATH_MAX];
	struct control *ctl = NULL;
	int ret = 1;
	int err;

	raise_nofile_limit();
	if (fuse_opt_parse(&args, &cfg, config_opts, config_proc) != 0)
		goto out_free_args;
	if (cfg.show_help) {
		usage(argv[0]);
		ret = 0;
		goto out_free_args;
	}
	if (cfg.show_version) {
		printf("hangarfs %s (libfuse %s)\n", HANGAR_VERSION,
		       fuse_pkgversion());
		ret = 0;
		goto out_free_args;
	}
	if (cfg.list_options) {
		list_options();
		ret = 0;
		goto out_free_args;
	}
	if (config_check(&cfg) != 0)
		goto out_free_args;
	if (!cfg.store) {
		fprintf(stderr,
			"usage: %s STORE MOUNTPOINT [-f] [-d] [-o OPTIONS]\n",
			argv[0]);
		goto out_free_args;
	}
	if (!realpath(cfg.store, store_path)) {
		fprintf(stderr, "hangarfs: %s: %s\n", cfg.store,
			hfs_strerror(errno));
		goto out_free_args;
	}
	fs.store_path = store_path;
	fs.read_only = cfg.read_only;
	if (add_identity(&args, store_path) != 0)
		goto out_free_args;
	if (fuse_parse_cmdline(&args, &opts) != 0)
		goto out_free_args;
	if (!opts.mountpoint) {
		fprintf(stderr, "hangarfs: no mount point given\n");
		goto out_free_opts;
	}

	if (!opts.foreground) {
		err = daemon_start();
		if (err) {
			fprintf(stderr, "hangarfs: cannot daemonize: %s\n",
				hfs_strerror(err));
			goto out_free_opts;
		}
	}
	struct log_options log_opts = {.foreground = opts.foreground,
				       .log_file = cfg.log_file,
				       .store = store_path};
	err = log_open(&log_opts);
	if (err) {
		fprintf(stderr, "hangarfs: log_file=%s: cannot open it: %s\n",
			cfg.log_file, hfs_strerror(err));
		goto out_ready;
	}
	if (open_store(&fs, &cfg, opts.foreground && isatty(STDIN_FILENO)) != 0)
		goto out_ready;
	if (recover_dead_mount(opts.mountpoint) != 0)
		goto out_close_store;
	if (nodes_init() != 0)
		goto out_close_store;
	if (fs.read_only && pins_start(&fs) != 0)
		log_msg(LOG_WARNING, "no pins: guests the writer has open "
				     "answer EBUSY");
	fs.se = fuse_session_new(&args, &hfs_ops, sizeof(hfs_ops), &fs);
	if (!fs.se)
		goto out_nodes;
	if (fuse_set_signal_handlers(fs.se) != 0)
		goto out_session;
	if (fuse_session_mount(fs.se, opts.mountpoint) != 0)
		goto out_signals;

	struct control_mount mount = {.path = opts.mountpoint,
				      .changed = guest_changed_elsewhere,
				      .changed_arg = &fs};
	if (mount_device(opts.mountpoint, &mount.dev) != 0)
		mount.path = NULL; /* CONTROL_OP_MOUNT: unknown */
	ctl = start_control(&fs, &mount);
	daemon_ready(0);
	log_msg(LOG_INFO, "mounted %s%s on %s (commit every %us)%s", store_path,
		cfg.read_only ? " read-only" : "", opts.mountpoint,
		cfg.commit_interval, ctl ? "; control socket up" : "");
	notify_mounted(store_path, opts.mountpoint, cfg.read_only);
	ret = run_session(fs.se, &opts) == 0 ? 0 : 1;
	notify_stopping(store_path);
	control_stop(ctl);
	fuse_session_unmount(fs.se);

out_signals:
	fuse_remove_signal_handlers(fs.se);
out_session:
	fuse_session_destroy(fs.se);
out_nodes:
	pins_stop(&fs); /* the session is over: no view is in use */
	nodes_destroy();
out_close_store:
	err = store_close(fs.store);
	if (err) {
		log_msg(LOG_ERR, "closing %s failed: %s", store_path,
			hfs_strerror(err));
		ret = 1;
	} else if (ret == 0) {
		log_msg(LOG_INFO, "unmounted %s; every guest committed",
			store_path);
	}
	if (fs.store_fd >= 0)
		close(fs.store_fd);
out_ready:
	daemon_ready(1); /* no-op once ready was sent */
	log_close();
out_free_opts:
	free(opts.mountpoint);
out_free_args:
	fuse_opt_free_args(&args);
	free(cfg.store);
	free(cfg.keyfile);
	free(cfg.log_file);
	free(cfg.commit_interval_text);
	free(cfg.lease_check);
	free(cfg.passphrase_fd_text);
	free(cfg.cache_size_text);
	free(cfg.cow_slack_text);
	return ret;
}
