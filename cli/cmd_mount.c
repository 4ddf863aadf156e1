/*
 * cmd_mount.c -- `hangar mount STORE MOUNTPOINT [-o OPTIONS] [-f]` and
 * `hangar umount MOUNTPOINT`.
 *
 * mount execs the FUSE daemon: `hangarfs STORE MOUNTPOINT [-o OPTIONS]
 * [-f]`.  hangarfs is looked for next to the running `hangar` first (an
 * installed pair, or ../fs/hangarfs in a build tree), then in PATH, so a
 * build tree works without installing.  A mount point left dead by a
 * killed hangarfs ("Transport endpoint is not connected") is not an error
 * here: hangarfs detaches it and logs that it did (fs/main.c), so the
 * recovery and its log line live in one place.
 *
 * --wait[=SECONDS] waits for a busy store: one whose lock another process
 * holds without serving a mount of it (a `hangar` command at work, or a
 * hangarfs finishing its final commit after an unmount).  It does not wait
 * for a store that is mounted and served: nobody asked that mount to go,
 * so that stays "already mounted".  Without SECONDS it waits as long as it
 * takes.  The store is free when hangarfs starts, but another process
 * could take it first; hangarfs then fails as without --wait.  The global
 * `hangar --wait[=SECONDS] mount ...` does the same; the parsing and the
 * waiting are open.c's (cli_wait_parse, cli_wait_turn), shared with every
 * command that opens a store.
 *
 * umount looks the mount point up in the mount table (libmount:
 * common/mounts.h) first, so a directory that is not mounted, a path that
 * does not exist and a mount of another file system are each said in our
 * words, then unmounts it (libmount as root, fusermount3 for a user's own
 * mount; a dead mount point too), then waits until hangarfs has committed
 * and released the store, so the store is free for write commands as soon
 * as umount returns.
 *
 * The key: --keyfile / --passphrase-fd become hangarfs's -o keyfile= /
 * -o passphrase_fd=.  With neither, an encrypted store's passphrase is
 * asked here, on the terminal, and handed to hangarfs through a pipe, so
 * it is asked for a background mount too (hangarfs itself asks only in
 * the foreground).
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "mounts.h"

#define MOUNT_MAX_OPTIONS 4096
/* How long `hangar umount` waits for hangarfs to let go of the store (the
 * final commit of a big store takes a while; systemd units allow 300 s). */
#define UMOUNT_WAIT_SECONDS 300u

void usage_mount(FILE *f)
{
	fprintf(f,
		"usage: hangar mount [STORE] MOUNTPOINT [-o OPTIONS] [-f] "
		"[--wait[=SECONDS]]\n"
		"Mount STORE with hangarfs: each guest becomes a directory "
		"of plain files.\n"
		"MOUNTPOINT is created if missing.  Runs `hangarfs STORE "
		"MOUNTPOINT -o OPTIONS`\n"
		"(found next to hangar, then in PATH); see hangarfs(8) for "
		"the options.\n\n"
		"  -o OPTIONS        mount options, comma-separated "
		"(repeatable)\n"
		"  -f, --foreground  keep hangarfs in the "
		"foreground\n"
		"  --wait[=SECONDS]  when another process holds the store "
		"(a hangar command,\n"
		"                    a hangarfs finishing its unmount), wait "
		"until it lets go\n"
		"                    (at most SECONDS; default: no limit) "
		"instead of failing\n" CLI_KEY_USAGE
		"  -h, --help        show this help\n");
}

void usage_umount(FILE *f)
{
	fprintf(f, "usage: hangar umount MOUNTPOINT [--lazy]\n"
		   "Unmount a hangarfs mount (also one whose daemon died) and "
		   "wait until the\n"
		   "daemon has committed every container and released the "
		   "store.\n\n"
		   "  -z, --lazy   detach now, finish when no longer busy\n"
		   "  -h, --help   show this help\n");
}

/* Path of an executable `name` in the directory of /proc/self/exe, or in
 * `subdir` beside that directory (build tree: cli/ and fs/). */
static bool find_beside_self(const char *name, const char *subdir, char *out,
			     size_t out_len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *dir;

	if (n <= 0)
		return false;
	self[n] = '\0';
	dir = dirname(self);
	if (subdir)
		snprintf(out, out_len, "%s/../%s/%s", dir, subdir, name);
	else
		snprintf(out, out_len, "%s/%s", dir, name);
	return access(out, X_OK) == 0;
}

/* Whether `store` is encrypted (core's probe: no lock, no key). */
static bool mount_store_encrypted(const char *store)
{
	struct store_probe probe;

	return store_probe(store, &probe) == 0 && probe.encrypted;
}

/* Ask for `store`'s passphrase on the terminal and put it, with a newline,
 * in a pipe whose read end (*out_fd) exec passes on to hangarfs.  Prints
 * why it failed. */
static int mount_passphrase_pipe(const char *store, int *out_fd)
{
	char prompt[PATH_MAX + 32];
	struct secret secret = {0};
	size_t done = 0;
	int fds[2];
	int rc;

	snprintf(prompt, sizeof(prompt), "Passphrase for %s: ", store);
	rc = secret_prompt(prompt, NULL, &secret);
	if (rc) {
		cli_passphrase_error(store, rc,
				     "the store is encrypted: give --keyfile "
				     "FILE or --passphrase-fd N (there is no "
				     "terminal to ask for its passphrase)");
		return rc;
	}
	if (pipe(fds) != 0) {
		rc = -errno;
		goto out_free;
	}
	/* The buffer has room for one byte more; a terminal line and its
	 * newline (at most 4 KiB) fit in an empty pipe, so this never
	 * blocks. */
	secret.buf[secret.len++] = '\n';
	while (done < secret.len) {
		ssize_t n = write(fds[1], secret.buf + done, secret.len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		done += (size_t)n;
	}
	close(fds[1]);
	if (rc)
		close(fds[0]);
	else
		*out_fd = fds[0];
out_free:
	if (rc)
		cli_error("cannot pass the passphrase to hangarfs: %s",
			  cli_strerror(rc));
	secret_free(&secret);
	return rc;
}

/*
 * Whether `store` is free to mount: CLI_EXIT_OK, or CLI_EXIT_FAIL after
 * saying why (mounted at ..., in use by PID n).  With wait->enabled, a
 * store whose holder serves no mount of it is waited for (the top of this
 * file; cli_wait_turn says for whom and gives up after wait->seconds).
 */
static int mount_store_free(const char *store, struct cli_wait *wait)
{
	for (;;) {
		char mounted_at[PATH_MAX];
		pid_t holder = 0;

		if (cli_find_mountpoint(store, mounted_at,
					sizeof(mounted_at)) == 0) {
			cli_error("%s: already mounted at %s", store,
				  mounted_at);
			return CLI_EXIT_FAIL;
		}
		if (store_lock_holder_at(store, cli_host_lock_dir(), &holder) !=
			    0 ||
		    holder <= 0)
			return CLI_EXIT_OK;
		if (!wait->enabled) {
			cli_error("%s: store is in use by PID %ld; unmount it "
				  "or let that command finish first (or "
				  "mount with --wait)",
				  store, (long)holder);
			return CLI_EXIT_FAIL;
		}
		if (cli_wait_turn(wait, store, holder) != 0)
			return CLI_EXIT_FAIL;
	}
}

int cmd_mount(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"foreground", no_argument, NULL, 'f'},
		{"options", required_argument, NULL, 'o'},
		{"wait", optional_argument, NULL, 'w'},
		CLI_KEY_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	char options[MOUNT_MAX_OPTIONS] = "";
	char hangarfs[PATH_MAX + 16];
	const char *store, *mnt;
	char store_buf[PATH_MAX];
	char *args[8];
	bool foreground = false;
	/* `hangar --wait mount ...` or `hangar mount --wait` */
	struct cli_wait wait = *cli_store_get_wait();
	struct stat st;
	const char *op[2];
	int opt, n = 0, exit_code;

	while ((opt = getopt_long(argc, argv, ":fo:h", longopts, NULL)) != -1) {
		if (cli_getopt_common(opt, argv, usage_mount, &exit_code))
			return exit_code;
		if (opt == 'f') {
			foreground = true;
		} else if (opt == 'w') {
			if (cli_wait_parse(optarg, &wait) != 0)
				return cli_usage_error(usage_mount,
						       CLI_WAIT_PARSE_ERROR);
		} else if (opt == 'o') {
			size_t used = strlen(options);

			if (used + strlen(optarg) + 2 > sizeof(options))
				return cli_usage_error(usage_mount,
						       "options too long");
			snprintf(options + used, sizeof(options) - used, "%s%s",
				 used ? "," : "", optarg);
		}
	}
	if (cli_key.keyfile || cli_key.passphrase_fd >= 0) {
		/* hangarfs reads the key itself: an absolute path (it may
		 * run elsewhere), or the descriptor, inherited by exec. */
		char key_opt[PATH_MAX + 32], real[PATH_MAX];
		size_t used = strlen(options);

		if (cli_key.keyfile && !realpath(cli_key.keyfile, real)) {
			cli_error("%s: cannot read the key: %s",
				  cli_key.keyfile, strerror(errno));
			return CLI_EXIT_FAIL;
		}
		if (cli_key.keyfile)
			snprintf(key_opt, sizeof(key_opt), "keyfile=%s", real);
		else
			snprintf(key_opt, sizeof(key_opt), "passphrase_fd=%d",
				 cli_key.passphrase_fd);
		if (strchr(key_opt, ',') ||
		    used + strlen(key_opt) + 24 > sizeof(options))
			return cli_usage_error(usage_mount,
					       "key file path too long or "
					       "with a comma");
		snprintf(options + used, sizeof(options) - used, "%s%s%s",
			 used ? "," : "", key_opt,
			 cli_key.keyfile && cli_key.keyfile_insecure
				 ? ",keyfile_insecure"
				 : "");
	}
	if (cli_positional(argc, argv, usage_mount, "STORE MOUNTPOINT",
			   store_buf, sizeof(store_buf), op))
		return CLI_EXIT_USAGE;
	store = op[0];
	mnt = op[1];
	if (stat(store, &st) < 0 || !S_ISDIR(st.st_mode)) {
		cli_error("%s: no such store directory", store);
		return CLI_EXIT_FAIL;
	}
	if (mount_store_free(store, &wait) != CLI_EXIT_OK)
		return CLI_EXIT_FAIL;
	if (!cli_key.keyfile && cli_key.passphrase_fd < 0 &&
	    !strstr(options, "keyfile=") &&
	    !strstr(options, "passphrase_fd=") &&
	    mount_store_encrypted(store)) {
		size_t used = strlen(options);
		int pass_fd = -1;

		if (used + sizeof(",passphrase_fd=2147483647") >
		    sizeof(options))
			return cli_usage_error(usage_mount, "options too long");
		if (mount_passphrase_pipe(store, &pass_fd) != 0)
			return CLI_EXIT_FAIL;
		snprintf(options + used, sizeof(options) - used,
			 "%spassphrase_fd=%d", used ? "," : "", pass_fd);
	}
	if (stat(mnt, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			cli_error("%s: not a directory", mnt);
			return CLI_EXIT_FAIL;
		}
	} else if (errno == ENOTCONN) {
		/* A dead FUSE mount point: hangarfs detaches it, or says why
		 * it will not (not a hangarfs mount). */
	} else if (errno != ENOENT || mkdir(mnt, 0755) < 0) {
		cli_error("%s: %s", mnt, strerror(errno));
		return CLI_EXIT_FAIL;
	}

	if (!find_beside_self("hangarfs", NULL, hangarfs, sizeof(hangarfs)) &&
	    !find_beside_self("hangarfs", "fs", hangarfs, sizeof(hangarfs)))
		snprintf(hangarfs, sizeof(hangarfs), "hangarfs");
	args[n++] = hangarfs;
	args[n++] = (char *)store;
	args[n++] = (char *)mnt;
	if (options[0]) {
		args[n++] = "-o";
		args[n++] = options;
	}
	if (foreground)
		args[n++] = "-f";
	args[n] = NULL;
	fflush(NULL);
	execvp(hangarfs, args);
	cli_error("cannot run %s: %s", hangarfs, strerror(errno));
	if (errno == ENOENT)
		cli_note("hangarfs is built with hangar (build/fs/hangarfs) "
			 "and installed beside it; is it in PATH?");
	return CLI_EXIT_FAIL;
}

/*
 * Find the hangarfs mount at `mnt` (into *out) or say why there is none to
 * unmount: no such directory, not mounted, another file system.
 */
static int umount_find(const char *mnt, struct mount_entry *out)
{
	char path[PATH_MAX];
	struct stat st;
	int rc = mounts_path_absolute(mnt, path, sizeof(path));

	if (rc == 0)
		rc = mounts_find_target(path, out);
	if (rc == -ENOENT) {
		if (stat(mnt, &st) != 0 && errno == ENOENT)
			cli_error("%s: no such directory", mnt);
		else if (stat(mnt, &st) == 0 && !S_ISDIR(st.st_mode))
			cli_error("%s: not a directory, so not a mount point",
				  mnt);
		else
			cli_error("%s: not mounted", mnt);
		return CLI_EXIT_FAIL;
	}
	if (rc) {
		cli_error("%s: cannot read the mount table: %s", mnt,
			  strerror(-rc));
		return CLI_EXIT_FAIL;
	}
	if (strcmp(out->fstype, MOUNTS_HANGARFS_TYPE) != 0) {
		cli_error("%s: not a hangarfs mount (%s of %s); unmount it "
			  "with umount(8)%s",
			  mnt, out->fstype, out->source,
			  strncmp(out->fstype, "fuse", 4) == 0
				  ? " or fusermount3 -u"
				  : "");
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

/* Unmount the hangarfs mount `m` (given as `mnt`), saying why it failed. */
static int umount_detach(const char *mnt, const struct mount_entry *m,
			 bool lazy)
{
	int rc = mounts_detach(m->target, lazy);

	if (rc == 0)
		return CLI_EXIT_OK;
	if (rc == -EBUSY)
		cli_error("%s: busy: a process has a file open there or its "
			  "working directory in it (`fuser -vm %s` names "
			  "it); close it, or detach now with --lazy",
			  mnt, m->target);
	else if (rc == -EPERM)
		cli_error("%s: not allowed to unmount it: it was mounted by "
			  "another user (uid %ld); that user or root may",
			  mnt, m->owner);
	else if (rc == -ENOENT)
		cli_error("%s: not mounted (any more)", mnt);
	else if (rc == -ENOEXEC)
		cli_error("%s: cannot run fusermount3 (the fuse3 package), "
			  "which unmounts a FUSE file system for a user",
			  mnt);
	else
		cli_error("%s: cannot unmount: %s", mnt, strerror(-rc));
	return CLI_EXIT_FAIL;
}

/*
 * The kernel mount is gone when fusermount3 returns, but hangarfs still
 * commits and closes every container before it exits.  Wait until it has
 * released the store's lock, so that `hangar umount MNT && hangar discard
 * STORE GUEST` works and a script may copy the store files at once.
 */
static int umount_wait_release(const char *mnt, const char *store)
{
	struct timespec pause = {.tv_sec = 0, .tv_nsec = 20 * 1000 * 1000};
	const unsigned steps_per_second = 50;
	bool told = false;

	for (unsigned i = 0; i < UMOUNT_WAIT_SECONDS * steps_per_second; i++) {
		pid_t pid = 0;

		if (store_lock_holder_at(store, cli_host_lock_dir(), &pid) != 0)
			return CLI_EXIT_OK;
		if (!told && i == 2 * steps_per_second) {
			cli_note("%s: waiting for hangarfs to commit and "
				 "release %s",
				 mnt, store);
			told = true;
		}
		nanosleep(&pause, NULL);
	}
	cli_error("%s: unmounted, but %s is still held after %u s (see "
		  "`hangar ls %s`)",
		  mnt, store, UMOUNT_WAIT_SECONDS, store);
	return CLI_EXIT_FAIL;
}

int cmd_umount(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"lazy", no_argument, NULL, 'z'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct mount_entry m;
	const char *mnt;
	bool lazy = false;
	int opt, exit_code;

	while ((opt = getopt_long(argc, argv, ":zh", longopts, NULL)) != -1) {
		if (cli_getopt_common(opt, argv, usage_umount, &exit_code))
			return exit_code;
		if (opt == 'z')
			lazy = true;
	}
	if (cli_positional(argc, argv, usage_umount, "MOUNTPOINT", NULL, 0,
			   &mnt))
		return CLI_EXIT_USAGE;
	exit_code = umount_find(mnt, &m);
	if (exit_code == CLI_EXIT_OK)
		exit_code = umount_detach(mnt, &m, lazy);
	/* A lazy unmount finishes whenever the last file is closed. */
	if (exit_code == CLI_EXIT_OK && !lazy)
		exit_code = umount_wait_release(mnt, m.source);
	return exit_code;
}
