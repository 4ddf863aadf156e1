/*
 * open.c -- opening a store from the command line, and who else holds it.
 *
 * Notes on the design:
 *   - One writer per store (store.h).  A command that changes the store
 *     takes the lock (store_open for writing); when hangarfs holds it, the
 *     command never touches containers behind the daemon's back: it asks
 *     the daemon through the control socket (hangar/control.h, cli_control
 *     below), which makes the same store calls.  When nobody answers there
 *     (a hangarfs without the socket, or another `hangar` holding the
 *     lock), it says who holds the store and what to do on the mount.
 *   - A read-only command opens the store read-only, always: it takes a
 *     shared store lock when it can, opens each container read-only under
 *     a shared container lock and changes nothing (no commit, no
 *     truncate, no mtime).  A guest a daemon has open read-write is
 *     refused (-EBUSY), except for ls and status (CLI_ACCESS_READ_METADATA),
 *     which read its committed metadata unlocked (store.h, "Readers beside
 *     a writer").
 *   - The key of an encrypted store (--keyfile / --passphrase-fd, parsed
 *     once for every command by cli_getopt_common into cli_key) is read
 *     at the first open, kept for the other opens of this process (a
 *     passphrase descriptor can be read only once) and wiped at exit.
 *     With neither option, the passphrase is asked on the terminal
 *     (passphrase.c) when store_open says the store is encrypted
 *     (-ENOKEY), once per process, and kept the same way.
 *     A write command on an encrypted store held by hangarfs needs no
 *     key: the daemon has it, and the request goes through its socket,
 *     so nothing is asked.
 *   - The daemon is the store's lock holder (store_lock_holder), never
 *     "whoever listens on the socket" or "a FUSE mount named after the
 *     store": anyone may mount a FUSE file system with any fsname, and
 *     anyone who can write the store directory may bind a socket there.
 *     control_request talks only to a server whose PID is the lock holder
 *     (and whose uid is root or the store's owner).  The mount point is
 *     the one that daemon reports (control "mount": path and device), and
 *     is used only once verified here: the path's st_dev is the daemon's
 *     device, and the mount table (libmount: common/mounts.h) lists a FUSE
 *     mount of that device at that path.
 *     Guest data is copied only into that mount (cmd_create also checks
 *     each file it creates there is on that device).
 *   - A refused open says what the user can act on: "permission denied"
 *     with the store's owner (never "read-only" for a read command: the
 *     user asked to read, not for a mode), and for a write command on a
 *     read-only filesystem, that the filesystem is read-only (statvfs),
 *     not that the store was "opened read-only".
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "hangar/control.h"
#include "hangar/names.h"
#include "mounts.h"

struct cli_key_source cli_key = {.keyfile = NULL, .passphrase_fd = -1};

/* The secret of cli_key, read once. */
static struct {
	bool loaded;
	int error;
	struct secret secret;
} key_cache;

static void key_cache_wipe(void)
{
	secret_free(&key_cache.secret);
}

/* Read cli_key's secret (once); 0 with no buffer when none was given. */
static int key_cache_load(void)
{
	if (key_cache.loaded)
		return key_cache.error;
	key_cache.loaded = true;
	if (!cli_key.keyfile && cli_key.passphrase_fd < 0)
		return 0;
	key_cache.error = cli_secret_read(
		cli_key.keyfile, cli_key.passphrase_fd, &key_cache.secret);
	if (key_cache.error == 0)
		atexit(key_cache_wipe);
	return key_cache.error;
}

/* No key option and the store is encrypted: ask for its passphrase on the
 * terminal.  Prints why when it cannot. */
static int key_cache_prompt(const char *dir)
{
	char prompt[PATH_MAX + 32];
	int rc;

	assert(!key_cache.secret.buf);
	snprintf(prompt, sizeof(prompt), "Passphrase for %s: ", dir);
	rc = secret_prompt(prompt, NULL, &key_cache.secret);
	if (rc) {
		cli_passphrase_error(dir, rc,
				     "the store is encrypted: give --keyfile "
				     "FILE or --passphrase-fd N (there is no "
				     "terminal to ask for its passphrase)");
		return rc;
	}
	atexit(key_cache_wipe);
	return 0;
}

const char *cli_store_encrypted_text(const struct store *s)
{
	return store_is_encrypted(s) ? "encrypted (aes-256-gcm)" : "plain";
}

int cli_find_mountpoint(const char *dir, char *out, size_t out_len)
{
	dev_t dev;

	return cli_find_daemon_mount(dir, out, out_len, &dev, NULL, 0);
}

int cli_find_daemon_mount(const char *dir, char *out, size_t out_len,
			  dev_t *out_dev, char *why, size_t why_len)
{
	struct control_reply reply;
	char scratch[8];
	unsigned maj, min;
	int off = 0, rc;
	struct stat st;

	if (!why || !why_len) {
		why = scratch;
		why_len = sizeof(scratch);
	}
	why[0] = '\0';
	/* Only the lock holder answers (control_request checks). */
	rc = control_request(dir, CONTROL_OP_MOUNT, NULL, 0, &reply);
	if (rc) {
		snprintf(why, why_len, "%s", cli_control_reason(rc, &reply));
		return rc;
	}
	if (sscanf(reply.text, "%u:%u %n", &maj, &min, &off) != 2 || !off ||
	    reply.text[off] != '/') {
		snprintf(why, why_len, "the daemon's answer was not a mount");
		return -EPROTO;
	}
	const char *path = reply.text + off;
	const dev_t dev = makedev(maj, min);
	if (stat(path, &st) != 0 || st.st_dev != dev ||
	    !mounts_has_fuse(dev, path)) {
		snprintf(why, why_len,
			 "the daemon mounts it at %s, but that path does not "
			 "lead to its mount here",
			 path);
		return -ESTALE;
	}
	if (strlen(path) >= out_len)
		return -ENAMETOOLONG;
	snprintf(out, out_len, "%s", path);
	*out_dev = dev;
	return 0;
}

int cli_find_mount_store(const char *mountpoint, char *out, size_t out_len)
{
	struct mount_entry m;
	char path[PATH_MAX];
	int rc = mounts_path_absolute(mountpoint, path, sizeof(path));

	if (rc == 0)
		rc = mounts_find_target(path, &m);
	if (rc == 0 && strcmp(m.fstype, MOUNTS_HANGARFS_TYPE) != 0)
		rc = -ENOENT;
	if (rc == 0 && strlen(m.source) >= out_len)
		rc = -ENAMETOOLONG;
	if (rc == 0)
		snprintf(out, out_len, "%s", m.source);
	return rc;
}

static void holder_comm(pid_t pid, char *out, size_t out_len)
{
	char path[64];
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(out, (int)out_len, f))
		out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

static void store_fill_holder(const char *dir, struct cli_store *cs)
{
	pid_t pid = 0;

	cs->holder = 0;
	cs->holder_comm[0] = '\0';
	cs->mountpoint[0] = '\0';
	if (store_lock_holder_at(dir, cli_host_lock_dir(), &pid) == 0 &&
	    pid > 0) {
		cs->holder = pid;
		holder_comm(pid, cs->holder_comm, sizeof(cs->holder_comm));
	}
	if (cs->holder)
		(void)cli_find_daemon_mount(
			dir, cs->mountpoint, sizeof(cs->mountpoint),
			&cs->mount_dev, cs->mount_why, sizeof(cs->mount_why));
}

void cli_store_holder_text(const struct cli_store *cs, char *buf, size_t len)
{
	const char *who = cs->holder_comm[0] ? cs->holder_comm : "a process";
	char pid[32] = "";
	char at[4200] = "";

	if (cs->holder)
		snprintf(pid, sizeof(pid), " PID %ld", (long)cs->holder);
	if (cs->mountpoint[0])
		snprintf(at, sizeof(at), " at %s", cs->mountpoint);
	if (strcmp(who, "hangarfs") == 0 || cs->mountpoint[0])
		snprintf(buf, len, "mounted by %s%s%s",
			 cs->holder_comm[0] ? cs->holder_comm : "hangarfs", pid,
			 at);
	else
		snprintf(buf, len, "in use by %s%s", who, pid);
}

static int store_open_once(const char *dir, bool read_only, bool beside_writer,
			   struct store **out)
{
	struct store_options opts = {
		.read_only = read_only,
		.read_beside_writer = beside_writer,
		.commit_interval_ms = 0,
		/* beside a writer, a refused open is retried (guestinfo.c):
		 * its reason would be noise */
		.event = beside_writer ? NULL : cli_event,
		.event_arg = NULL,
		.key_kind = cli_key.keyfile ? KEYSLOT_KIND_KEYFILE
					    : KEYSLOT_KIND_PASSPHRASE,
		.key_secret = key_cache.secret.buf,
		.key_secret_len = key_cache.secret.len,
		.host_lock_dir = cli_host_lock_dir(),
	};

	return store_open(dir, &opts, out);
}

/* The refusal of a store the user may not open for `for_write`. */
static void store_open_denied(const char *dir, bool for_write)
{
	const char *verb = for_write ? "change" : "read";
	const struct passwd *pw;
	struct stat st;

	if (stat(dir, &st) != 0) {
		cli_error("%s: cannot %s the store: permission denied (a "
			  "directory on its path is not searchable)",
			  dir, verb);
		return;
	}
	pw = getpwuid(st.st_uid);
	if (pw)
		cli_error("%s: cannot %s the store: permission denied (it "
			  "belongs to %s; directory mode %04o)",
			  dir, verb, pw->pw_name,
			  (unsigned)(st.st_mode & 07777));
	else
		cli_error("%s: cannot %s the store: permission denied (it "
			  "belongs to uid %u; directory mode %04o)",
			  dir, verb, (unsigned)st.st_uid,
			  (unsigned)(st.st_mode & 07777));
}

/* Say why the store could not be opened by a command that reads only, or
 * (`for_write`) changes it. */
static void store_open_complain(const char *dir, int rc, bool for_write)
{
	struct statvfs vfs;

	if (rc == -ENOENT || rc == -EINVAL)
		cli_error("%s: not a hangar store (create one with "
			  "`hangar init %s`)",
			  dir, dir);
	else if (rc == -ENOKEY)
		cli_error("%s: the store is encrypted: give --keyfile FILE or "
			  "--passphrase-fd N",
			  dir);
	else if (rc == -EKEYREJECTED)
		cli_error("%s: wrong passphrase or key file", dir);
	else if (rc == -EACCES || rc == -EPERM)
		store_open_denied(dir, for_write);
	else if (rc == -EROFS && for_write && statvfs(dir, &vfs) == 0 &&
		 (vfs.f_flag & ST_RDONLY))
		cli_error("%s: cannot change the store: it is on a read-only "
			  "filesystem (ls, status, check and export only read, "
			  "and work there)",
			  dir);
	else if (rc)
		cli_error("%s: cannot open store%s: %s", dir,
			  for_write ? " for writing" : "", cli_strerror(rc));
}

/* A read-only command: read-only open, never the write lock (open.c
 * notes); `holder` is the writer holding the store, if any. */
static int store_open_read(const char *dir, enum cli_access access,
			   struct cli_store *out)
{
	const bool beside = access == CLI_ACCESS_READ_METADATA;
	int rc = store_open_once(dir, true, beside, &out->store);

	if (rc == -ENOKEY && !key_cache.secret.buf) {
		rc = key_cache_prompt(dir);
		if (rc)
			return rc;
		rc = store_open_once(dir, true, beside, &out->store);
	}
	store_open_complain(dir, rc, false);
	if (rc)
		return rc;
	out->read_only = true;
	store_fill_holder(dir, out);
	return 0;
}

/* `hangar --wait`'s setting for every store open (cli_store_set_wait). */
static struct cli_wait store_wait;

void cli_store_set_wait(const struct cli_wait *w)
{
	store_wait = *w;
	store_wait.started = false;
}

const struct cli_wait *cli_store_get_wait(void)
{
	return &store_wait;
}

int cli_wait_parse(const char *text, struct cli_wait *out)
{
	unsigned long value;
	char *end;

	memset(out, 0, sizeof(*out));
	out->enabled = true;
	out->seconds = CLI_WAIT_FOREVER;
	out->told = -1;
	if (!text)
		return 0;
	errno = 0;
	value = strtoul(text, &end, 10);
	if (text[0] < '0' || text[0] > '9' || *end || errno ||
	    value > CLI_WAIT_MAX_SECONDS)
		return -EINVAL;
	out->seconds = (uint32_t)value;
	return 0;
}

/* Seconds since `start` (CLOCK_MONOTONIC). */
static double wait_elapsed(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) +
	       (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

int cli_wait_turn(struct cli_wait *w, const char *store, pid_t holder)
{
	const struct timespec pause = {.tv_sec = 0,
				       .tv_nsec = 100 * 1000 * 1000};
	char who[48] = "another process";

	if (!w->enabled)
		return -EWOULDBLOCK;
	if (!w->started) {
		clock_gettime(CLOCK_MONOTONIC, &w->start);
		w->started = true;
		w->told = -1;
	}
	if (holder > 0)
		snprintf(who, sizeof(who), "PID %ld", (long)holder);
	if (w->seconds != CLI_WAIT_FOREVER &&
	    wait_elapsed(&w->start) >= (double)w->seconds) {
		cli_error("%s: store still in use by %s after %u s; unmount it "
			  "or let that command finish first",
			  store, who, (unsigned)w->seconds);
		return -ETIMEDOUT;
	}
	if (holder != w->told) {
		cli_note("%s: store is in use; waiting for %s to release it",
			 store, who);
		w->told = holder;
	}
	nanosleep(&pause, NULL);
	return 0;
}

int cli_store_open(const char *dir, enum cli_access access,
		   struct cli_store *out)
{
	struct cli_wait wait = store_wait;
	int rc;

	memset(out, 0, sizeof(*out));
	out->dir = dir;
	rc = key_cache_load();
	if (rc) {
		cli_secret_read_error(cli_key.keyfile, "--passphrase-fd",
				      cli_key.passphrase_fd, rc, "key");
		return rc;
	}
	if (access != CLI_ACCESS_WRITE)
		return store_open_read(dir, access, out);
	rc = store_open_once(dir, false, false, &out->store);
	if (rc == -ENOKEY && access == CLI_ACCESS_WRITE &&
	    !key_cache.secret.buf) {
		/* Held by hangarfs? Then it has the key: go through it. */
		store_fill_holder(dir, out);
		if (out->holder && (out->mountpoint[0] || !wait.enabled))
			return -EWOULDBLOCK;
	}
	if (rc == -ENOKEY && !key_cache.secret.buf) {
		/* The key is checked before the lock (store.h), so this is
		 * the only open that can say -ENOKEY. */
		rc = key_cache_prompt(dir);
		if (rc)
			return rc;
		rc = store_open_once(dir, false, false, &out->store);
	}
	while (rc == -EWOULDBLOCK) {
		/* the caller says who and why, unless we wait (--wait) for a
		 * holder that serves no mount, until it lets go */
		store_fill_holder(dir, out);
		if (out->mountpoint[0] || !wait.enabled)
			return rc;
		rc = cli_wait_turn(&wait, dir, out->holder);
		if (rc)
			return rc;
		rc = store_open_once(dir, false, false, &out->store);
		if (rc == 0) { /* ours now: nobody else holds it */
			out->holder = 0;
			out->holder_comm[0] = '\0';
			out->mount_why[0] = '\0';
		}
	}
	if (rc)
		store_open_complain(dir, rc, true);
	return rc;
}

int cli_store_close(struct cli_store *cs)
{
	int rc = store_close(cs->store);

	cs->store = NULL;
	if (rc)
		cli_error("%s: closing the store failed: %s", cs->dir,
			  cli_strerror(rc));
	return rc;
}

int cli_store_refuse_mounted(const struct cli_store *cs, const char *what)
{
	char holder[4400];

	cli_store_holder_text(cs, holder, sizeof(holder));
	cli_error("%s: store is %s; %s would change containers behind its "
		  "back, so it is refused",
		  cs->dir, holder, what);
	return CLI_EXIT_FAIL;
}

void cli_store_mount_hint(const struct cli_store *cs, const char *fmt, ...)
{
	char advice[9000];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(advice, sizeof(advice), fmt, ap);
	va_end(ap);
	cli_note("on the mount instead: %s", advice);
	if (!cs->mountpoint[0])
		cli_note("(MOUNTPOINT: where this store is mounted; or unmount "
			 "it and run the command again)");
}

void cli_store_mount_path(const struct cli_store *cs, const char *guest,
			  char *buf, size_t len)
{
	const char *mnt = cs->mountpoint[0] ? cs->mountpoint : "MOUNTPOINT";

	if (guest)
		snprintf(buf, len, "%s/%s", mnt, guest);
	else
		snprintf(buf, len, "%s", mnt);
}

void cli_store_via_text(const struct cli_store *cs, char *buf, size_t len)
{
	if (cs->holder)
		snprintf(buf, len, " (through %s PID %ld)",
			 cs->holder_comm[0] ? cs->holder_comm : "hangarfs",
			 (long)cs->holder);
	else
		snprintf(buf, len, " (through hangarfs)");
}

const char *cli_control_reason(int rc, const struct control_reply *reply)
{
	/* ERRNO: the daemon said only strerror's words; ours are better */
	if (reply->code == CONTROL_REASON_NONE ||
	    reply->code == CONTROL_REASON_ERRNO || !reply->text[0])
		return cli_strerror(rc);
	return reply->text;
}

int cli_control(const struct cli_store *cs, enum control_op op,
		const char *guest, unsigned flags, struct control_reply *reply,
		bool *out_answered)
{
	return cli_control_name(cs, op, guest, NULL, flags, reply,
				out_answered);
}

int cli_control_name(const struct cli_store *cs, enum control_op op,
		     const char *guest, const char *name, unsigned flags,
		     struct control_reply *reply, bool *out_answered)
{
	int rc;

	/* A delete waits out transient references in the daemon's store
	 * (store.h): nothing to retry here. */
	rc = control_request_name(cs->dir, op, guest, name, flags, reply);
	/* Every error reply has a code; nobody answering has none. */
	*out_answered = rc == 0 || reply->code != CONTROL_REASON_NONE;
	/* Snapshot requests commit in core; a list changes nothing. */
	if (rc == 0 && op != CONTROL_OP_COMMIT && op != CONTROL_OP_DELETE &&
	    op != CONTROL_OP_SNAPSHOT_LIST && op != CONTROL_OP_PIN &&
	    op != CONTROL_OP_UNPIN) {
		/* Durable before we say so, as store_close would make it. */
		rc = control_request(cs->dir, CONTROL_OP_COMMIT, "-", 0, reply);
		if (rc && reply->code == CONTROL_REASON_NONE) {
			reply->code = CONTROL_REASON_OTHER;
			snprintf(reply->text, sizeof(reply->text),
				 "commit failed: %s", cli_strerror(rc));
		}
	}
	return rc;
}

int cli_control_unreachable(const struct cli_store *cs, int rc,
			    const char *what)
{
	char holder[4400], sock[CONTROL_SOCKET_NAME_MAX];

	cli_store_holder_text(cs, holder, sizeof(holder));
	control_socket_name(cs->dir, sock, sizeof(sock));
	if (rc == -EACCES || rc == -EPERM)
		cli_error("%s: store is %s; its control socket %s/%s refused "
			  "%s: only the user hangarfs runs as, or root, may "
			  "change a mounted store",
			  cs->dir, holder, cs->dir, sock, what);
	else
		cli_error("%s: store is %s; cannot ask it to %s through %s/%s: "
			  "%s",
			  cs->dir, holder, what, cs->dir, sock,
			  cli_strerror(rc));
	return CLI_EXIT_FAIL;
}
