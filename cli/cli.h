/*
 * cli.h -- shared declarations of the `hangar` command (cli/ only).
 *
 * Layout of cli/ (one job per file):
 *   main.c       command table, `hangar --help`, dispatch, and the
 *                parsing every command shares: usage errors, the common
 *                options, the operands (default store included)
 *   report.c     messages on stderr ("hangar: ..."), errno -> sentence
 *   format.c     human sizes and times, names escaped for a terminal
 *                (sizes a person types are read by common/units.h)
 *   jsonout.c    --json output through json-c (names that are not UTF-8)
 *   progress.c   a progress bar, drawn only when stderr is a terminal
 *   open.c       opening a store; who holds it; where it is mounted
 *   passphrase.c which secret to use, and the messages (the reading and
 *                the no-echo prompt are common/secret.c's)
 *   copy.c       sparse copies between host files and container objects
 *   guestinfo.c  the guests of a store, and everything `ls` and `status`
 *                show about one
 *   guestjson.c  the same as JSON
 *   defaults.c   the default store (HANGAR_STORE, /etc/hangar.conf), the
 *                per-host lock directory (HANGAR_LOCK_DIR)
 *   convert.c    qcow2/vmdk/vhdx/vdi disks to raw through qemu-img
 *   openers.c    who has a guest's files open on a mount (as fuser)
 *   snapview.c   reading a snapshot, also beside the daemon (and proving
 *                afterwards that what was read was the snapshot's)
 *   export_snapshot.c  export --snapshot [--since]: cmd_export.c's half
 *                for snapshots, whole or incremental
 *   cmd_*.c      one command each (cmd_snapshot.c: snapshot and rollback)
 *
 * cli/ uses only core's public headers (store.h, container.h, savelock.h,
 * names.h, check.h, io.h) and common/ (secret.h, shared with fs/), and
 * never fs/.
 *
 * Exit status of every command: CLI_EXIT_OK, CLI_EXIT_FAIL, CLI_EXIT_USAGE.
 * `hangar check` additionally uses CLI_EXIT_USAGE (2) for "could not run",
 * as its man page says.
 */
#ifndef HANGAR_CLI_H
#define HANGAR_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "hangar/container.h"
#include "hangar/control.h"
#include "hangar/savelock.h"
#include "secret.h"
#include "hangar/store.h"

#define CLI_EXIT_OK    0
#define CLI_EXIT_FAIL  1
#define CLI_EXIT_USAGE 2

#define CLI_PROGRAM "hangar"

/* ---- main.c ------------------------------------------------------------- */

/*
 * A command: `run` gets argv with argv[0] being the command name, so
 * getopt_long works as usual.  `usage` prints the synopsis and options to
 * `f` (stdout for --help, stderr after a usage error).
 */
struct cli_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
	void (*usage)(FILE *f);
};

/* cli_usage_error - print "hangar: MSG" and the command's usage on stderr;
 * returns CLI_EXIT_USAGE so callers can `return cli_usage_error(...)`. */
int cli_usage_error(void (*usage)(FILE *f), const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * cli_getopt_common - handle what every command's getopt loop shares:
 * 'h' (--help) prints usage on stdout and sets *out_exit to CLI_EXIT_OK;
 * '?' (unknown option) and ':' (missing argument) print "hangar: CMD:
 * ..." and the usage on stderr and set CLI_EXIT_USAGE.  Optstrings must
 * start with ':' (main sets opterr = 0).  Returns true when the command must return
 * *out_exit now.
 */
bool cli_getopt_common(int opt, char **argv, void (*usage)(FILE *f),
		       int *out_exit);

/*
 * cli_getopt_view - the whole getopt loop of a command that only shows
 * things (ls, df, status): --json sets *json, --bytes *exact, and the
 * key options and --help as cli_getopt_common.  Returns -1 to go on, or
 * the exit code to return now.
 */
int cli_getopt_view(int argc, char **argv, void (*usage)(FILE *f), bool *json,
		    bool *exact);

/*
 * cli_positional - the operands left after the getopt loop (argv[optind]
 * on), checked against `operands`, the command's synopsis of them: words
 * separated by spaces ("STORE GUEST", "add|remove|list STORE",
 * "MOUNTPOINT").  With `store_buf`, the word STORE may be left out when a
 * default store is configured (cli_default_store writes it there); with
 * NULL it must be typed (init).  Too few prints "hangar: missing STORE,
 * GUEST or DIR" (the synopsis's words), too many "hangar: too many
 * arguments", each with the usage (cli_usage_error); an operand named GUEST
 * that is no valid guest name, cli_guest_check_name's sentence; and
 * returns CLI_EXIT_USAGE.  Else CLI_EXIT_OK with out[i] the operand of the
 * i-th word (`out` has one slot a word), optind past them.
 */
int cli_positional(int argc, char **argv, void (*usage)(FILE *f),
		   const char *operands, char *store_buf, size_t store_len,
		   const char **out);

/*
 * The key of an encrypted store, one parser for every command: a command
 * that opens a store puts CLI_KEY_LONGOPTS in its longopts and
 * CLI_KEY_USAGE in its help; cli_getopt_common stores the values in
 * cli_key, which cli_store_open (and `mount`, `key`) use.  With neither
 * option, an encrypted store's passphrase is asked on the terminal.
 */
#define CLI_OPT_KEYFILE		 0x101
#define CLI_OPT_PASSPHRASE_FD	 0x102
#define CLI_OPT_KEYFILE_INSECURE 0x103
#define CLI_KEYFILE_INSECURE_LONGOPT                                           \
	{                                                                      \
		"keyfile-insecure", no_argument, NULL,                         \
			CLI_OPT_KEYFILE_INSECURE                               \
	}
#define CLI_KEY_LONGOPTS                                                       \
	{"keyfile", required_argument, NULL, CLI_OPT_KEYFILE},                 \
		{"passphrase-fd", required_argument, NULL,                     \
		 CLI_OPT_PASSPHRASE_FD},                                       \
		CLI_KEYFILE_INSECURE_LONGOPT
#define CLI_KEY_USAGE                                                          \
	"      --keyfile FILE      encrypted store: open it with FILE's "      \
	"bytes\n"                                                              \
	"      --passphrase-fd N   ... or a passphrase read from "             \
	"descriptor N\n"                                                       \
	"      --keyfile-insecure  use a key file readable by others or "      \
	"owned\n"                                                              \
	"                          by another user (refused otherwise)\n"      \
	"                          (neither: the passphrase is asked on the "  \
	"terminal)\n"

struct cli_key_source {
	const char *keyfile;   /* borrowed from argv; NULL if not given */
	int passphrase_fd;     /* -1 if not given */
	bool keyfile_insecure; /* --keyfile-insecure: accept a key file that
				  is not private (common/secret.h) */
};
extern struct cli_key_source cli_key;

int cmd_init(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_acquire(int argc, char **argv);
int cmd_release(int argc, char **argv);
int cmd_discard(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_mount(int argc, char **argv);
int cmd_umount(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_rename(int argc, char **argv);
int cmd_resize(int argc, char **argv);
int cmd_df(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_clone(int argc, char **argv);

void usage_init(FILE *f);
void usage_create(FILE *f);
void usage_import(FILE *f);
void usage_export(FILE *f);
void usage_ls(FILE *f);
void usage_status(FILE *f);
void usage_resume(FILE *f);
void usage_acquire(FILE *f);
void usage_release(FILE *f);
void usage_discard(FILE *f);
void usage_check(FILE *f);
void usage_rm(FILE *f);
void usage_mount(FILE *f);
void usage_umount(FILE *f);
void usage_key(FILE *f);
void usage_rename(FILE *f);
void usage_resize(FILE *f);
void usage_df(FILE *f);
void usage_diff(FILE *f);
void usage_clone(FILE *f);

/* ---- defaults.c ---------------------------------------------------------- */

#define CLI_CONF_PATH "/etc/hangar.conf"

/*
 * cli_default_store - the store to use when STORE is left out: the
 * HANGAR_STORE environment variable, else the `store = PATH` line of the
 * configuration file ($HANGAR_CONF, else CLI_CONF_PATH).  0 with the path
 * in `buf`; -ENOENT when none is set; another error (printed) for an
 * unreadable or malformed file.
 */
int cli_default_store(char *buf, size_t len);

/*
 * cli_host_lock_dir - the directory of the per-host store lock (store.h,
 * LOCKS): the HANGAR_LOCK_DIR environment variable when set (a test that
 * runs two "hosts" on one machine gives each its own), else NULL, which
 * the store reads as STORE_HOST_LOCK_DIR.
 */
const char *cli_host_lock_dir(void);

void usage_snapshot(FILE *f);
void usage_rollback(FILE *f);

/*
 * cli_store_operand_optional - the STORE operand of a command whose
 * operands after STORE are `min_after` to `max_after` (diff: GUEST SNAP1
 * [SNAP2]): more than max_after, the first is STORE; exactly min_after,
 * the default store; in between, the first is STORE when it is a store
 * directory (holds STORE_CONFIG_NAME), else the default store is used.
 */
const char *cli_store_operand_optional(int argc, char **argv, int min_after,
				       int max_after, char *buf, size_t len);

/* ---- report.c ----------------------------------------------------------- */

/* cli_error - "hangar: MESSAGE\n" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* cli_stop_hold - block SIGINT, SIGTERM and SIGHUP (stop.c); the work
 * polls cli_stop_requested() and undoes itself; cli_stop_release unblocks
 * them, so a held signal then ends the process as usual. */
void cli_stop_hold(void);
bool cli_stop_requested(void);
void cli_stop_release(void);
/* cli_stop_forget - the work is complete and kept: a held signal that came
 * after its last cli_stop_requested() check is dropped, so the command
 * exits as done instead of dying of a signal with its work in place
 * ("died of SIGINT" always means "undone"). */
void cli_stop_forget(void);

/* cli_note - "hangar: MESSAGE\n" on stderr, for advice that follows an
 * error or a warning (same prefix, so scripts can grep one pattern). */
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * cli_strerror - a sentence for a core error code (negative errno), in the
 * store's vocabulary: -EUCLEAN "container metadata is corrupt", -EBADMSG
 * "checksum mismatch", -EBUSY "held by a saved memory image", ...
 * Returns a static string.
 */
const char *cli_strerror(int err);

/* cli_event - container_event_fn that prints events on stderr; `arg` is the
 * guest name (const char *) or NULL. */
void cli_event(void *arg, const struct container_event *ev);

/* ---- format.c ----------------------------------------------------------- */

#define FORMAT_SIZE_LEN 32
#define FORMAT_TIME_LEN 64

/*
 * format_size - `bytes` as `ls -h` would print it (binary units, one
 * decimal below 10: "0", "512", "4.0K", "20G"), or the exact decimal number
 * when `exact`.  Writes into `buf` (FORMAT_SIZE_LEN bytes) and returns it.
 */
char *format_size(char *buf, uint64_t bytes, bool exact);

/* format_time - local "YYYY-MM-DD HH:MM:SS", or "-" for a zero time. */
char *format_time(char *buf, struct timespec ts);

/* format_age - "5 minutes ago", "3 days ago", relative to now. */
char *format_age(char *buf, struct timespec ts);

/*
 * format_name - `name` for a terminal: control characters (C0, DEL, C1)
 * and bytes that are not UTF-8 as \xNN, a backslash as \\, valid UTF-8
 * as it is (like `ls -b`).  Writes into `buf` (FORMAT_NAME_LEN holds any
 * object name escaped; a longer result is cut) and returns it.
 */
#define FORMAT_NAME_LEN (4 * 255 + 1)
char *format_name(char *buf, size_t len, const char *name);

/* ---- jsonout.c ---------------------------------------------------------- */

struct json_object; /* json-c; only jsonout.c and the JSON writers include
		       <json-c/json.h> */

/* utf8_sequence_len - bytes of the valid UTF-8 sequence at `s`, 0 if the
 * bytes there are not one (strict: no overlong forms, no surrogates). */
size_t utf8_sequence_len(const unsigned char *s);

/* cli_json_text - a JSON string of `s`; bytes that are not UTF-8 become
 * the text \xNN (jsonout.c).  NULL (JSON null) when `s` is NULL. */
struct json_object *cli_json_text(const char *s);

/* cli_json_add_name - add `key`: cli_json_text(name), and when `name` is
 * not valid UTF-8 also "<key>_hex": its exact bytes in hex. */
void cli_json_add_name(struct json_object *obj, const char *key,
		       const char *name);

/* cli_json_time - an RFC 3339 UTC string, or NULL (null) for a zero time. */
struct json_object *cli_json_time(struct timespec ts);

/* cli_json_u64 - a JSON integer that keeps all 64 bits. */
struct json_object *cli_json_u64(uint64_t value);

/* cli_json_print - print `root` on stdout as one line and drop it (takes
 * the reference).  0, or -ENOMEM / -EIO (-ENOMEM printed). */
int cli_json_print(struct json_object *root);

/* ---- progress.c --------------------------------------------------------- */

/*
 * Progress on stderr (progress.c): `total` and `done` count bytes of DATA
 * (what copy_*_data_bytes measure), with the rate and ETA.  Disabled
 * (every call a no-op) unless stderr is a terminal and HANGAR_NO_PROGRESS
 * is unset, or forced (--progress: plain lines when not a terminal).
 * Redraws at most 10 times a second; progress_finish() erases the line.
 */
struct progress {
	bool enabled;
	bool tty;	   /* stderr is a terminal: one line redrawn in place */
	const char *label; /* borrowed until progress_finish */
	uint64_t total;
	uint64_t done;
	struct timespec start;
	struct timespec last_draw;
};

void progress_start(struct progress *p, const char *label, uint64_t total);
/* progress_start_forced - progress_start; `force` shows it even when
 * stderr is no terminal or HANGAR_NO_PROGRESS is set (--progress). */
void progress_start_forced(struct progress *p, const char *label,
			   uint64_t total, bool force);
void progress_update(struct progress *p, uint64_t done);
void progress_finish(struct progress *p);

/* ---- open.c ------------------------------------------------------------- */

enum cli_access {
	CLI_ACCESS_WRITE, /* the command changes the store: needs the lock */
	CLI_ACCESS_READ,  /* read-only, never writes: a shared store lock when
			     free; a guest a daemon has open read-write is
			     refused (-EBUSY) */
	CLI_ACCESS_READ_METADATA, /* as READ, but such a guest's committed
				     metadata is read anyway (ls, status;
				     store.h "Readers beside a writer") */
};

/* What a command knows about the store it opened. */
struct cli_store {
	struct store *store;
	const char *dir; /* as the user typed it (borrowed from argv) */
	bool read_only;	 /* opened read-only (a read command) */
	pid_t holder;	 /* who holds the write lock, 0 if we do / nobody */
	char holder_comm[32]; /* holder's /proc/PID/comm, "" if unknown */
	/* where hangarfs mounts this store, verified by cli_find_daemon_mount;
	 * "" when unknown, and then mount_why says why */
	char mountpoint[4096];
	dev_t mount_dev; /* that mount's device, when mountpoint is set */
	char mount_why[4400];
};

/*
 * --wait[=SECONDS]: wait for a busy store, one whose lock another process
 * holds without serving a mount of it (a `hangar` command at work, or a
 * hangarfs finishing its final commit after an unmount), instead of
 * failing.  A store that is mounted and served is never waited for:
 * commands go through its daemon.  `hangar --wait[=SECONDS] COMMAND` (main.c)
 * sets it for every store open of the command (cli_store_set_wait);
 * `hangar mount --wait` has its own option, parsed the same way.
 */
#define CLI_WAIT_FOREVER     UINT32_MAX
#define CLI_WAIT_MAX_SECONDS (366u * 24 * 3600) /* a year: beyond, no limit */

struct cli_wait {
	bool enabled;
	uint32_t seconds; /* at most this long; CLI_WAIT_FOREVER: no limit */
	/* the waiting so far (cli_wait_turn): */
	bool started;
	struct timespec start; /* CLOCK_MONOTONIC */
	pid_t told;	       /* the holder we said we wait for, or -1 */
};

/* cli_wait_parse - --wait's SECONDS (NULL: no limit) into `out`, enabled,
 * not started: 0, or -EINVAL for anything but a whole number
 * 0..CLI_WAIT_MAX_SECONDS (the caller prints CLI_WAIT_PARSE_ERROR). */
int cli_wait_parse(const char *text, struct cli_wait *out);
#define CLI_WAIT_PARSE_ERROR                                                   \
	"--wait=SECONDS: a whole number of seconds, at most a year"

/*
 * cli_wait_turn - one turn of waiting for `store`, whose lock `holder`
 * (0: a reader, or a holder that cannot be named) holds without serving a
 * mount: the first time for a holder, says "waiting for PID n to release
 * it"; then pauses a tenth of a second and returns 0 (look again).  When
 * w->seconds have passed, prints that the store is still in use by the
 * holder and returns -ETIMEDOUT.  -EWOULDBLOCK (nothing printed) when
 * waiting is not enabled.
 */
int cli_wait_turn(struct cli_wait *w, const char *store, pid_t holder);

/*
 * cli_store_set_wait - how cli_store_open treats a busy store from now on
 * (`hangar --wait`, main.c; not enabled by default: it fails at once).
 * cli_store_get_wait - that setting (mount uses it when its own --wait is
 * not given).  The only state behind them is open.c's copy of `w`.
 */
void cli_store_set_wait(const struct cli_wait *w);
const struct cli_wait *cli_store_get_wait(void);

/*
 * cli_store_open - open the store at `dir` for `access`, printing the error
 * (so callers just return CLI_EXIT_FAIL on failure).  For CLI_ACCESS_WRITE,
 * a store held by another process fails with -EWOULDBLOCK after filling in
 * holder and mountpoint (the caller then prints its mount-side advice with
 * cli_store_refuse_mounted); nothing else is printed in that case.  With
 * cli_store_set_wait enabled, a holder that serves no mount is waited for
 * first (cli_wait_turn), and -ETIMEDOUT (printed) when the time runs out.
 * A read command never waits: it reads beside the writer.
 */
int cli_store_open(const char *dir, enum cli_access access,
		   struct cli_store *out);

/* cli_store_encrypted_text - "encrypted (aes-256-gcm)" or "plain". */
const char *cli_store_encrypted_text(const struct store *s);

/* cli_store_close - close (commit) the store; prints and returns an error. */
int cli_store_close(struct cli_store *cs);

/*
 * cli_store_refuse_mounted - explain that `what` (e.g. "resume") cannot be
 * done while another process holds the store.  Returns CLI_EXIT_FAIL.
 */
int cli_store_refuse_mounted(const struct cli_store *cs, const char *what);

/* cli_store_mount_path - "MNT/GUEST" (or "MNT" when guest is NULL), with
 * "MOUNTPOINT" standing in for an unknown mount point. */
void cli_store_mount_path(const struct cli_store *cs, const char *guest,
			  char *buf, size_t len);

/* cli_store_mount_hint - print "on the mount instead: ADVICE" (and a note
 * when the mount point is unknown).  Build paths with cli_store_mount_path. */
void cli_store_mount_hint(const struct cli_store *cs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* cli_store_holder_text - "hangarfs PID 1234 at /var/lib/vms" etc. */
void cli_store_holder_text(const struct cli_store *cs, char *buf, size_t len);

/*
 * cli_find_daemon_mount - where the daemon holding store `dir` mounts it:
 * asked over the control socket (only the store's lock holder is believed:
 * control.h), then verified here (the path's st_dev is the daemon's mount
 * device and mountinfo lists a FUSE mount of it at that path).  Returns 0
 * with `out` and *out_dev, or -errno with a sentence in `why` (may be
 * NULL): -ENOTCONN nobody serves the store, -ESRCH an impostor serves its
 * socket, -ESTALE the path does not lead to that mount here.
 */
int cli_find_daemon_mount(const char *dir, char *out, size_t out_len,
			  dev_t *out_dev, char *why, size_t why_len);

/* cli_find_mountpoint - cli_find_daemon_mount without the details. */
int cli_find_mountpoint(const char *dir, char *out, size_t out_len);

/*
 * cli_find_mount_store - the inverse: the store directory (as hangarfs
 * resolved it) that the hangarfs mount at `mountpoint` serves.  Returns 0,
 * or -ENOENT when `mountpoint` is not a hangarfs mount.
 */
int cli_find_mount_store(const char *mountpoint, char *out, size_t out_len);

/*
 * cli_control - ask the hangarfs that holds cs's store (cli_store_open gave
 * -EWOULDBLOCK) to do `op` (hangar/control.h) and, when it worked, to commit
 * (as store_close would).  Returns 0 or -errno with the daemon's sentence
 * and its code in `reply`.  *out_answered is false when nobody answered: -ENOENT or
 * -ECONNREFUSED (no socket: a hangarfs without one, or the holder is not
 * hangarfs) or a connect error such as -EACCES.  A socket served by any
 * other process than the store's lock holder is refused (-ESRCH,
 * CONTROL_REASON_IMPOSTOR, so it counts as answered) and nothing is sent.
 * Callers branch on the errno and reply->code, never on reply->text.
 */
int cli_control(const struct cli_store *cs, enum control_op op,
		const char *guest, unsigned flags, struct control_reply *reply,
		bool *out_answered);

/* cli_control_name - cli_control for the snapshot requests, which name a
 * snapshot (control_request_name). */
int cli_control_name(const struct cli_store *cs, enum control_op op,
		     const char *guest, const char *name, unsigned flags,
		     struct control_reply *reply, bool *out_answered);

/* cli_control_reason - the daemon's sentence for `rc`, or cli_strerror(rc)
 * when it only said strerror's words (CONTROL_REASON_ERRNO) or nothing. */
const char *cli_control_reason(int rc, const struct control_reply *reply);

/* cli_control_unreachable - print why the daemon could not be asked to do
 * `what` (connect error `rc`, e.g. -EACCES).  Returns CLI_EXIT_FAIL. */
int cli_control_unreachable(const struct cli_store *cs, int rc,
			    const char *what);

/* cli_store_via_text - " (through hangarfs PID 1234)". */
void cli_store_via_text(const struct cli_store *cs, char *buf, size_t len);

/* cli_note_guest_left - "the partly created guest G is left in the store;
 * remove it with `hangar rm --force`" (`what`: "created", "imported"), for
 * a create or import that failed and whose forced delete failed too. */
void cli_note_guest_left(const char *what, const char *guest);

/* cli_guest_check_name - print an error for a bad guest name; true if ok. */
bool cli_guest_check_name(const char *name);

/* ---- passphrase.c ------------------------------------------------------- */

/*
 * cli_secret_read - a secret: `keyfile`'s bytes whole, or (keyfile NULL)
 * one line from descriptor `fd` (common/secret.h).  A key file that is not
 * private is refused with -EPERM and the reason printed, unless
 * --keyfile-insecure (cli_key.keyfile_insecure).  -EINVAL when empty or
 * too long.  Free *out with secret_free.
 */
int cli_secret_read(const char *keyfile, int fd, struct secret *out);

/*
 * cli_secret_read_error - print why cli_secret_read failed: "FILE: cannot
 * read the WHAT: ..." for a key file; for a descriptor, the option
 * (`fd_option`, e.g. "--passphrase-fd") and the descriptor, and for -EBADF
 * that it is not open (a forgotten redirection).
 */
void cli_secret_read_error(const char *keyfile, const char *fd_option, int fd,
			   int rc, const char *what);

/*
 * cli_passphrase_error - print "hangar: DIR: ..." for a failed
 * secret_prompt: `no_terminal` (which should name the key options to use
 * instead) for -ENOTTY, "passphrases do not match" for -EKEYREJECTED,
 * "empty passphrase refused" for -EINVAL.
 */
void cli_passphrase_error(const char *dir, int rc, const char *no_terminal);

/*
 * cli_secret_new - the secret of a NEW key slot of the store at `dir`:
 * `keyfile`'s bytes, a line from descriptor `fd`, or (neither given) a
 * passphrase typed twice on the terminal.  Messages call it "the key" /
 * "passphrase", or with `adding` (a slot for a store that has one already)
 * "the new key" / "new passphrase"; `no_terminal` is cli_passphrase_error's
 * advice.  Prints why it failed.  Free *out with secret_free.
 */
int cli_secret_new(const char *dir, const char *keyfile, int fd, bool adding,
		   const char *no_terminal, struct secret *out);

/* ---- copy.c ------------------------------------------------------------- */

/*
 * copy_fd_to_fd - copy host file `src` (`size` bytes) into the new, empty
 * host file `dst` (a file on a hangar mount), data ranges only: holes and
 * all-zero chunks stay holes.  fsyncs `dst`.  0 or -errno.
 */
int copy_fd_to_fd(int src, int dst, uint64_t size, struct progress *progress,
		  uint64_t progress_base);

/*
 * copy_fd_to_object - copy host file `fd` (`size` bytes) into the new, empty
 * object `id`: only the data ranges the source reports (SEEK_DATA/SEEK_HOLE)
 * are read, and all-zero chunks are not written, so holes stay holes.  The
 * object's size becomes `size`.  Commits every 1 GiB to bound memory.
 * `progress` may be NULL; it is advanced by `size` in total.
 */
int copy_fd_to_object(struct container *c, uint64_t id, int fd, uint64_t size,
		      struct progress *progress, uint64_t progress_base);

/*
 * copy_object_to_fd - copy object `id` (`size` bytes) into host file `fd`
 * (which must be empty): only the object's data ranges are read (from the
 * map, via object_seek), all-zero chunks are skipped, and the file is
 * ftruncate'd to `size` so the rest stays a hole.  fsyncs `fd`.
 */
int copy_object_to_fd(struct container *c, uint64_t id, int fd, uint64_t size,
		      struct progress *progress, uint64_t progress_base);

/*
 * copy_object_to_object - copy object `src_id` of `src` (`size` bytes; a
 * snapshot view works) into the new, empty object `dst_id` of `dst`, data
 * ranges only, zero chunks skipped: the object's size becomes `size`.
 * Commits `dst` every 1 GiB.  Stops with -EINTR on cli_stop_requested().
 */
int copy_object_to_object(struct container *src, uint64_t src_id,
			  struct container *dst, uint64_t dst_id, uint64_t size,
			  struct progress *progress, uint64_t progress_base);

/*
 * copy_object_extent_to_fd - make [offset, offset + length) of the existing
 * host file `fd` what it is in object `id` (`size` bytes: the extent is cut
 * there): the range is cleared (a punched hole, or zeros written where the
 * filesystem cannot punch), then the object's data in it is written.
 * Nothing outside the extent is read or written; the caller sets the
 * file's size.  *out_data: bytes of data read from the object.
 */
int copy_object_extent_to_fd(struct container *c, uint64_t id, int fd,
			     uint64_t offset, uint64_t length, uint64_t size,
			     uint64_t *out_data);

/*
 * copy_host_data_bytes / copy_object_data_bytes - how many bytes of data
 * (SEEK_DATA ranges, up to `size`) the copies above will read from the
 * host file or the object: the progress total.  Progress passed to the
 * copies advances by these bytes (progress_base + data read so far).
 */
uint64_t copy_host_data_bytes(int fd, uint64_t size);
uint64_t copy_object_data_bytes(struct container *c, uint64_t id,
				uint64_t size);

/* ---- snapview.c ---------------------------------------------------------- */

/*
 * A snapshot of a guest opened for reading (container_snapshot_open), with
 * what is needed to prove afterwards that what was read is the snapshot's.
 */
struct cli_snapshot {
	struct container *guest; /* borrowed from the store */
	struct container *view;	 /* the snapshot, read-only */
	uint64_t id;		 /* the snapshot's id: never reused */
	bool beside_writer; /* another process holds the store for writing */
};

/* cli_snapshot_find - the id of snapshot `snap` of `c` (guest `guest`);
 * -ENOENT printed with the guest's snapshots listed. */
int cli_snapshot_find(const struct cli_store *cs, struct container *c,
		      const char *guest, const char *snap, uint64_t *out_id);

/*
 * cli_snapshot_open - open snapshot `snap` of `guest` in the store `cs`
 * (opened with CLI_ACCESS_READ_METADATA or for writing).  Prints why it
 * failed (no such guest, no such snapshot with the guest's snapshots
 * listed, ...).  0 or -errno.
 */
int cli_snapshot_open(struct cli_store *cs, const char *guest, const char *snap,
		      struct cli_snapshot *out);

/*
 * cli_snapshot_verify - after reading a snapshot's data beside a writer:
 * whether the writer's newest committed state still holds the snapshot
 * (same id).  Its clusters can only be reused after a commit that deletes
 * it, so if it is still there every byte read was the snapshot's.  0 when
 * it is (or there is no writer), else -ESTALE (printed, with the advice).
 */
int cli_snapshot_verify(const struct cli_store *cs, const char *guest,
			const char *snap, const struct cli_snapshot *s);

/* cli_snapshot_close - close the view and put the guest back. */
void cli_snapshot_close(struct cli_store *cs, struct cli_snapshot *s);

/* ---- cmd_export.c, export_snapshot.c ---------------------------------------- */

struct guest_object; /* guestinfo.c, below */

/* export_open_dir - `mkdir -p out_dir` (0755) and open it: the descriptor,
 * or -1 after printing which component failed. */
int export_open_dir(const char *out_dir);

/* export_one - copy object `o` of `c` (a guest or a snapshot view) into a
 * new file of its name in `dir_fd` (`dir` for messages), sparse; an
 * existing file is an error unless `force` (then it is replaced).  Prints
 * why it failed.  0 or -errno. */
int export_one(struct container *c, const struct guest_object *o, int dir_fd,
	       const char *dir, bool force, struct progress *progress,
	       uint64_t base);

/*
 * export_snapshot - `hangar export --snapshot SNAP [--since SNAP0]`: the
 * files of snapshot `snap` of `guest` into `out_dir`, whole, or with
 * `since` only what changed from SNAP0 applied over an export of SNAP0 in
 * `out_dir`.  `cs` opened with CLI_ACCESS_READ_METADATA (mounted or not).
 * Prints what it did or why it failed; returns the exit status.
 */
int export_snapshot(struct cli_store *cs, const char *guest,
		    const char *out_dir, const char *snap, const char *since,
		    bool force, bool exact, bool show_progress);

/* ---- cmd_diff.c ----------------------------------------------------------- */

struct diff_extent {
	uint64_t offset, length;
};

/* One file of a difference, its extents in ascending order. */
struct diff_file {
	char *name;
	enum container_diff_kind kind;
	struct diff_extent *extents;
	size_t num, cap;
	uint64_t bytes; /* the extents' total length */
};

struct diff_result {
	struct diff_file *files; /* removed files first, then the others */
	size_t num, cap;
	uint64_t bytes;
};

/* diff_states - container_snapshot_diff(c, from, to) collected into `out`
 * (free with diff_result_free).  0 or -errno. */
int diff_states(struct container *c, const char *from, const char *to,
		struct diff_result *out);
void diff_result_free(struct diff_result *r);

/* ---- convert.c ---------------------------------------------------------- */

/* convert_format_supported - whether `hangar import` converts disks of
 * format `fmt` (qemu-img's name: qcow2, vmdk, vhdx, vdi). */
bool convert_format_supported(const char *fmt);

/*
 * convert_probe - the format of disk image `path` (open as `fd`) as
 * `qemu-img info` detects it ("raw", "qcow2", ...), into `fmt`.  Without
 * qemu-img: "raw" and 0 for a file with none of the four formats' magic,
 * else that format and -ENOENT (it needs qemu-img).  -EIO when qemu-img
 * failed (its stderr said why; `fmt` then has what the magic numbers say),
 * -EINVAL when its answer had no format.
 */
int convert_probe(const char *path, int fd, char *fmt, size_t len);

/*
 * convert_to_raw - convert `path` (format `fmt`, open as `src_fd`) with
 * qemu-img into a new unnamed sparse raw file (O_TMPFILE in `tmp_dir`,
 * else $TMPDIR, /var/tmp or /tmp): *out_fd (the caller's to close) and its
 * size.  Progress ("convert") as progress_start_forced(show_progress).
 * -ENOENT without qemu-img, -EIO when it failed.
 */
int convert_to_raw(const char *path, int src_fd, const char *fmt,
		   const char *tmp_dir, bool show_progress, int *out_fd,
		   uint64_t *out_size);

/* ---- openers.c ---------------------------------------------------------- */

/*
 * cli_path_openers - how many processes (other than us) have `path` open,
 * or with `prefix` any file under it (a guest directory on a mount); with
 * `for_write` only descriptors opened for writing count.  The first one's
 * PID and /proc comm in *out_pid and `comm`.  Only processes the caller
 * may inspect are seen (every one as root).  -errno when `path` does not
 * resolve (-ENOENT).
 */
int cli_path_openers(const char *path, bool prefix, bool for_write,
		     pid_t *out_pid, char *comm, size_t comm_len);

/* ---- guestinfo.c -------------------------------------------------------- */

struct guest_object {
	char name[256];
	struct object_attr attr;
};

/*
 * cli_guest_list - the guests of cs's store (store_guest_list: sorted; free
 * with store_names_free), and in *width (when not NULL) the larger of
 * *width and the longest name.  Prints "STORE: cannot list guests: ..."
 * on failure.  0 or -errno.
 */
int cli_guest_list(const struct cli_store *cs, char ***out_names,
		   size_t *out_num, int *width);

/* Everything `ls` and `status` show about one guest. */
struct guest_summary {
	char name[72];
	int open_error; /* store_guest_get's error; then nothing
				      below is filled except file_* */
	/* who holds the guest read-write (guest_holder_load; status only):
	 * holder.pid 0 when nobody does or it cannot be told */
	struct store_holder_record holder;
	char open_reason[160]; /* a sentence for open_error when
				  cli_strerror's is not enough, or "" */
	struct container_info info;
	int save_error; /* save_lock_status's error */
	struct save_status save;
	struct guest_object *objects; /* sorted by name; owned */
	size_t num_objects;
	struct snapshot_info *snapshots; /* oldest first; owned */
	size_t num_snapshots;
	uint64_t snapshot_bytes;     /* held by snapshots only (container.h) */
	struct timespec last_change; /* last commit (else newest object
					 mtime/ctime) */
	uint64_t file_size;	     /* of STORE/<guest>.hangar */
	uint64_t file_allocated;     /* st_blocks * 512 */
	struct timespec file_mtime;
};

/* guest_summary_load - fill `out` (open errors are recorded in `out`, not
 * returned).  Returns 0 or -ENOMEM. */
int guest_summary_load(struct store *s, const char *name,
		       struct guest_summary *out);
void guest_summary_cleanup(struct guest_summary *g);

/*
 * guest_get_stable - store_guest_get that, beside a writer (a store opened
 * with CLI_ACCESS_READ_METADATA), loads again from the newer superblock
 * when the writer recycled a block of the committed tree it started from;
 * -EBUSY when that keeps happening.  Put it back with store_guest_put.
 */
int guest_get_stable(struct store *s, const char *name, struct container **out);

/* guest_summary_find - the object named `name`, or NULL. */
const struct guest_object *guest_summary_find(const struct guest_summary *g,
					      const char *name);

/* guest_open_error_text - why the guest could not be read: open_reason,
 * else cli_strerror(open_error). */
const char *guest_open_error_text(const struct guest_summary *g);

/*
 * guest_busy_text - "open read-write by hangarfs PID 4242" (or "... by
 * another process", or "open read-only by ...") for a guest whose container
 * lock another process holds (an open that failed with -EBUSY).
 */
void guest_busy_text(struct store *s, const char *name, char *buf, size_t len);

/*
 * guest_holder_load - who holds guest `name` read-write, into out->holder:
 * from the kernel's lock table when the holder is on this host, else (the
 * container lock is held, a shared lock is refused, and /proc/locks names
 * nobody: another host of a network filesystem) from the guest's holder
 * record.  out->holder.pid stays 0 when nobody holds it or the holder
 * cannot be named.  Takes a shared container lock for an instant, as a
 * peek does.
 */
void guest_holder_load(struct store *s, const char *name,
		       struct guest_summary *out);

/* guest_state_text - "stopped", "saved", ..., or "unreadable". */
const char *guest_state_text(const struct guest_summary *g);

/* guest_json - `g` as a new JSON object; `full` adds the other files and
 * the save lock (status --json).  NULL when out of memory. */
struct json_object *guest_json(const struct guest_summary *g, bool full);

/* guest_disk_name - "disk.raw" for index 0, "disk1.raw", "disk2.raw", ... */
void guest_disk_name(char *buf, size_t len, unsigned index);

#endif /* HANGAR_CLI_H */
