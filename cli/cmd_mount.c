/*
 * cmd_mount.c -- `hangar mount STORE MOUNTPOINT [-o OPTIONS] [-f]` and
 * `hangar umount MOUNTPOINT`.
 *
 * mount execs the FUSE daemon: `hangarfs STORE MOUNTPOINT [-o OPTIONS]
 * [-f]`.  hangarfs is looked for next to the running `hangar` first (an
 * installed pair, or ../fs/hangarfs in a build tree), then in PATH, so a
 * build tree works without installing.  umount runs `fusermount3 -u`
 * (falling back to umount(8), e.g. for a mount made by root via fstab),
 * then waits until hangarfs has committed and released the store, so the
 * store is free for write commands as soon as umount returns.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define MOUNT_MAX_OPTIONS 4096
/* How long `hangar umount` waits for hangarfs to let go of the store (the
 * final commit of a big store takes a while; systemd units allow 300 s). */
#define UMOUNT_WAIT_SECONDS 300u

void usage_mount(FILE *f)
{
	fprintf(f, "usage: hangar mount [STORE] MOUNTPOINT [-o OPTIONS] [-f]\n"
		   "Mount STORE with hangarfs: each guest becomes a directory "
		   "of plain files.\n"
		   "MOUNTPOINT is created if missing.  Runs `hangarfs STORE "
		   "MOUNTPOINT -o OPTIONS`\n"
		   "(found next to hangar, then in PATH); see hangarfs(8) for "
		   "the options.\n\n"
		   "  -o OPTIONS        mount options, comma-separated "
		   "(repeatable)\n"
		   "  -f, --foreground  keep hangarfs in the "
		   "foreground\n" CLI_KEY_USAGE
		   "  -h, --help        show this help\n");
}

void usage_umount(FILE *f)
{
	fprintf(f, "usage: hangar umount MOUNTPOINT [--lazy]\n"
		   "Unmount a hangarfs mount (fusermount3 -u) and wait until "
		   "the daemon has\n"
		   "committed every container and released the store.\n\n"
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

int cmd_mount(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"foreground", no_argument, NULL, 'f'},
		{"options", required_argument, NULL, 'o'},
		CLI_KEY_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	char options[MOUNT_MAX_OPTIONS] = "";
	char hangarfs[PATH_MAX + 16], mounted_at[PATH_MAX];
	const char *store, *mnt;
	char store_buf[PATH_MAX];
	char *args[8];
	bool foreground = false;
	struct stat st;
	pid_t holder = 0;
	const char *op[2];
	int opt, n = 0, exit_code;

	while ((opt = getopt_long(argc, argv, ":fo:h", longopts, NULL)) != -1) {
		if (cli_getopt_common(opt, argv, usage_mount, &exit_code))
			return exit_code;
		if (opt == 'f') {
			foreground = true;
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
	if (cli_find_mountpoint(store, mounted_at, sizeof(mounted_at)) == 0) {
		cli_error("%s: already mounted at %s", store, mounted_at);
		return CLI_EXIT_FAIL;
	}
	if (store_lock_holder(store, &holder) == 0 && holder > 0) {
		cli_error("%s: store is in use by PID %ld; unmount it or let "
			  "that command finish first",
			  store, (long)holder);
		return CLI_EXIT_FAIL;
	}
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
	if (stat(mnt, &st) < 0) {
		if (errno != ENOENT || mkdir(mnt, 0755) < 0) {
			cli_error("%s: %s", mnt, strerror(errno));
			return CLI_EXIT_FAIL;
		}
	} else if (!S_ISDIR(st.st_mode)) {
		cli_error("%s: not a directory", mnt);
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

/* Run fusermount3 -u [-z] MNT (umount [-l] MNT when fusermount3 is not
 * installed) and wait for it.  Their own message explains a failure. */
static int umount_run(const char *mnt, bool lazy)
{
	char *args[6];
	int n = 0, status, saved_errno;
	pid_t child;

	fflush(NULL);
	child = fork();
	if (child < 0) {
		cli_error("cannot run fusermount3: %s", strerror(errno));
		return CLI_EXIT_FAIL;
	}
	if (child == 0) {
		args[n++] = "fusermount3";
		args[n++] = "-u";
		if (lazy)
			args[n++] = "-z";
		args[n++] = (char *)mnt;
		args[n] = NULL;
		execvp(args[0], args);
		saved_errno = errno;
		n = 0;
		args[n++] = "umount";
		if (lazy)
			args[n++] = "-l";
		args[n++] = (char *)mnt;
		args[n] = NULL;
		execvp(args[0], args);
		cli_error("cannot run fusermount3 (%s) or umount (%s)",
			  strerror(saved_errno), strerror(errno));
		_exit(CLI_EXIT_FAIL);
	}
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR) {
			cli_error("waiting for fusermount3: %s",
				  strerror(errno));
			return CLI_EXIT_FAIL;
		}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? CLI_EXIT_OK
							     : CLI_EXIT_FAIL;
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

		if (store_lock_holder(store, &pid) != 0)
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
	char store[PATH_MAX];
	const char *mnt;
	bool lazy = false, hangarfs;
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
	hangarfs = cli_find_mount_store(mnt, store, sizeof(store)) == 0;
	exit_code = umount_run(mnt, lazy);
	/* A lazy unmount finishes whenever the last file is closed. */
	if (exit_code == CLI_EXIT_OK && hangarfs && !lazy)
		exit_code = umount_wait_release(mnt, store);
	return exit_code;
}
