/*
 * log.c -- where the daemon's log lines go, and the container event sink.
 *
 * One line per event a person must see (docs/design.md): refused opens,
 * retired or invalidated save images, I/O errors, corrupt containers.  The
 * destination is chosen once, at startup (log_open), from what the host
 * offers:
 *
 *   - the systemd journal, when its socket (/run/systemd/journal/socket)
 *     exists and we run as a daemon, or in the foreground with stderr
 *     connected to the journal ($JOURNAL_STREAM names stderr's device and
 *     inode: a systemd unit, hangar@.service, runs `hangarfs -f`).  Each
 *     line is one entry sent with sd_journal_sendv (libsystemd) with
 *     structured fields: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER=hangarfs,
 *     STORE= (the store directory), and GUEST= and OBJECT= when the line is
 *     about a guest or one of its files, so `journalctl GUEST=web01`
 *     finds every line about web01;
 *   - else, in the foreground, stderr ("hangarfs: " prefix);
 *   - else syslog (facility daemon, tagged with the PID) when /dev/log
 *     exists;
 *   - else (a daemon in a container: no log socket at all) stderr is kept
 *     instead of /dev/null (log_keeps_stderr, daemon.c) and startup says
 *     so, so a refusal never vanishes -- unless stderr is a pipe or a
 *     socket: its reader (`out=$(hangar mount ...)`, `| tee`) would wait
 *     for the daemon to exit, so it is let go and startup says the lines
 *     go nowhere and how to keep them (-o log_file, or -f).
 *
 * `-o log_file=PATH` appends every line to PATH as well (created 0600,
 * O_APPEND: one write per line, so lines of concurrent threads never
 * interleave; rotate with copytruncate), as "TIME hangarfs[PID]: LEVEL:
 * MESSAGE".  With a log file and no log socket, the daemon logs only
 * there.  A daemon also copies lines to stderr until it detaches
 * (log_detach), so what happens at startup reaches the terminal too.
 *
 * A line names its guest when the caller says (log_object, the container
 * events that carry one), else the guest of the request the worker thread
 * is serving (log_set_guest: req.c sets it for the request and clears it
 * at its end).  A container event with neither is logged as "(store)".
 *
 * A container that cannot be opened (CONTAINER_EVENT_OPEN_REFUSED) is not
 * logged here: core reports it at every failed open, and a corrupt guest is
 * opened again by every operation on it.  guest_acquire gets the same
 * reason back from store_guest_get_why and logs the one line per guest
 * that the design asks for (docs/design.md) (guest.c).
 *
 * THREAD MODEL: `log_state` is written by log_open before any other
 * thread starts, then only read, except `echo_stderr` (atomic), which
 * log_detach clears once the store's committer and control threads may
 * already log.  `log_guest` is thread-local.  stderr, syslog(3),
 * sd_journal_sendv and an O_APPEND write(2) are each thread-safe per line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION /* CODE_FILE= would always be log.c */
#include <systemd/sd-journal.h>

#include "hangarfs.h"

#define LOG_JOURNAL_SOCKET "/run/systemd/journal/socket"
#define LOG_SYSLOG_SOCKET  "/dev/log"

enum log_target {
	LOG_TARGET_STDERR = 0, /* until log_open, and in the foreground */
	LOG_TARGET_JOURNAL,
	LOG_TARGET_SYSLOG,
	LOG_TARGET_FILE_ONLY, /* a daemon without log socket: log_file, if
				 any (startup said so when there is none) */
};

static struct {
	enum log_target target;
	/* a daemon, not detached yet: copy to the tty; cleared by
	 * log_detach while the store's threads may already log */
	atomic_bool echo_stderr;
	int file_fd; /* -o log_file, or -1 */
	const char *store;
} log_state = {.target = LOG_TARGET_STDERR, .file_fd = -1};

static _Thread_local const char *log_guest;

static bool log_is_socket(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Whether stderr is the journal's stream ($JOURNAL_STREAM: "DEV:INODE"),
 * as systemd sets it for a service whose output goes to the journal. */
static bool log_stderr_is_journal(void)
{
	const char *stream = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return stream && sscanf(stream, "%llu:%llu", &dev, &ino) == 2 &&
	       fstat(STDERR_FILENO, &st) == 0 &&
	       (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

/* Whether stderr is a pipe or a socket, whose reader waits for its end. */
static bool log_stderr_is_stream(void)
{
	struct stat st;

	return fstat(STDERR_FILENO, &st) == 0 &&
	       (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
}

int log_open(const struct log_options *o)
{
	const bool journal = log_is_socket(LOG_JOURNAL_SOCKET);

	log_state.store = o->store;
	if (o->log_file) {
		log_state.file_fd = open(o->log_file,
					 O_WRONLY | O_APPEND | O_CREAT |
						 O_CLOEXEC | O_NOCTTY,
					 0600);
		if (log_state.file_fd < 0)
			return -errno;
	}
	if (journal && (!o->foreground || log_stderr_is_journal())) {
		log_state.target = LOG_TARGET_JOURNAL;
	} else if (o->foreground) {
		log_state.target = LOG_TARGET_STDERR;
	} else if (log_is_socket(LOG_SYSLOG_SOCKET)) {
		log_state.target = LOG_TARGET_SYSLOG;
		openlog("hangarfs", LOG_PID, LOG_DAEMON);
	} else if (log_state.file_fd >= 0) {
		log_state.target = LOG_TARGET_FILE_ONLY;
	} else if (log_stderr_is_stream()) {
		log_state.target = LOG_TARGET_FILE_ONLY;
		fprintf(stderr,
			"hangarfs: no journal or syslog socket here (%s, %s), "
			"and stderr is a pipe its reader would keep waiting "
			"on: log lines, refusals too, are not kept; give -o "
			"log_file=PATH, or run in the foreground (-f)\n",
			LOG_JOURNAL_SOCKET, LOG_SYSLOG_SOCKET);
	} else {
		log_state.target = LOG_TARGET_STDERR;
		fprintf(stderr,
			"hangarfs: no journal or syslog socket here (%s, %s): "
			"log lines go to this stderr, which the daemon keeps; "
			"give -o log_file=PATH to keep them in a file\n",
			LOG_JOURNAL_SOCKET, LOG_SYSLOG_SOCKET);
	}
	atomic_store(&log_state.echo_stderr,
		     !o->foreground && log_state.target != LOG_TARGET_STDERR);
	return 0;
}

bool log_keeps_stderr(void)
{
	return log_state.target == LOG_TARGET_STDERR;
}

void log_detach(void)
{
	atomic_store(&log_state.echo_stderr, false);
}

void log_close(void)
{
	if (log_state.file_fd >= 0)
		close(log_state.file_fd);
	log_state.file_fd = -1;
	if (log_state.target == LOG_TARGET_SYSLOG)
		closelog();
	log_state.target = LOG_TARGET_STDERR;
}

static const char *log_level_name(int prio)
{
	static const char *const names[] = {
		"emergency", "alert",  "critical", "error",
		"warning",   "notice", "info",	   "debug",
	};

	return names[prio & 7];
}

/* "2026-12-07T01:02:03.456Z hangarfs[PID]: LEVEL: LINE\n", one write. */
static void log_to_file(int prio, const char *line)
{
	char buf[1200];
	struct timespec now;
	struct tm tm;
	int n;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	n = snprintf(buf, sizeof(buf),
		     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ hangarfs[%ld]: "
		     "%s: %s\n",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000L,
		     (long)getpid(), log_level_name(prio), line);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf)) {
		n = sizeof(buf) - 1;
		buf[n - 1] = '\n';
	}
	if (write(log_state.file_fd, buf, (size_t)n) != n) {
		/* Nowhere left to say it; the other destination has it. */
	}
}

/* One journal entry; false if the journal would not take it. */
static bool log_to_journal(int prio, const char *guest, const char *object,
			   const char *line)
{
	char message[1100], priority[16], store[PATH_MAX + 8];
	char guest_field[HFS_GUEST_NAME_MAX + 8];
	char object_field[HFS_OBJECT_NAME_MAX + 8];
	struct iovec iov[6];
	int n = 0;

	snprintf(message, sizeof(message), "MESSAGE=%s", line);
	snprintf(priority, sizeof(priority), "PRIORITY=%d", prio & 7);
	iov[n++] = (struct iovec){message, strlen(message)};
	iov[n++] = (struct iovec){priority, strlen(priority)};
	iov[n++] = (struct iovec){"SYSLOG_IDENTIFIER=hangarfs", 26};
	if (log_state.store) {
		snprintf(store, sizeof(store), "STORE=%s", log_state.store);
		iov[n++] = (struct iovec){store, strlen(store)};
	}
	if (guest && guest[0]) {
		snprintf(guest_field, sizeof(guest_field), "GUEST=%s", guest);
		iov[n++] = (struct iovec){guest_field, strlen(guest_field)};
	}
	if (object && object[0]) {
		snprintf(object_field, sizeof(object_field), "OBJECT=%s",
			 object);
		iov[n++] = (struct iovec){object_field, strlen(object_field)};
	}
	return sd_journal_sendv(iov, n) == 0;
}

static void log_line(int prio, const char *guest, const char *object,
		     const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (!guest)
		guest = log_guest;
	if (log_state.file_fd >= 0)
		log_to_file(prio, line);
	switch (log_state.target) {
	case LOG_TARGET_JOURNAL:
		if (log_to_journal(prio, guest, object, line))
			break;
		/* journald went away: syslog may still be there */
		syslog(LOG_DAEMON | prio, "%s", line);
		break;
	case LOG_TARGET_SYSLOG:
		syslog(prio, "%s", line);
		break;
	case LOG_TARGET_FILE_ONLY:
		break;
	case LOG_TARGET_STDERR:
		fprintf(stderr, "hangarfs: %s\n", line);
		return;
	}
	if (atomic_load(&log_state.echo_stderr))
		fprintf(stderr, "hangarfs: %s\n", line);
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(prio, NULL, NULL, fmt, ap);
	va_end(ap);
}

void log_object(int prio, const char *guest, const char *object,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(prio, guest, object, fmt, ap);
	va_end(ap);
}

void log_set_guest(const char *guest)
{
	log_guest = guest;
}

void log_container_event(void *arg, const struct container_event *ev)
{
	const char *guest = ev->guest	? ev->guest
			    : log_guest ? log_guest
					: "(store)";
	const char *object = ev->object_name ? ev->object_name : "";
	const char *slash = ev->object_name ? "/" : "";
	const char *detail = ev->detail ? ev->detail : "";
	const char *sep = ev->detail ? ": " : "";
	/* the journal's GUEST= only for a real guest */
	const char *field = ev->guest ? ev->guest : log_guest;

	(void)arg;
	switch (ev->type) {
	case CONTAINER_EVENT_IMAGE_RETIRED:
		log_object(LOG_NOTICE, field, object,
			   "%s%s%s: save image retired%s%s", guest, slash,
			   object, sep, detail);
		break;
	case CONTAINER_EVENT_IMAGE_INVALIDATED:
		log_object(LOG_WARNING, field, object,
			   "%s%s%s: save image invalidated, not resumable%s%s",
			   guest, slash, object, sep, detail);
		break;
	case CONTAINER_EVENT_IMAGE_INCOMPLETE:
		log_object(LOG_WARNING, field, object,
			   "%s%s%s: unsealed save image set aside as "
			   "memory.save.incomplete%s%s",
			   guest, slash, object, sep, detail);
		break;
	case CONTAINER_EVENT_IO_ERROR:
		log_object(LOG_ERR, field, object, "%s%s%s: I/O error: %s%s%s",
			   guest, slash, object, hfs_strerror(ev->error), sep,
			   detail);
		break;
	case CONTAINER_EVENT_SLOT_FALLBACK:
		log_object(LOG_WARNING, field, NULL, "%s: %s", guest, detail);
		break;
	case CONTAINER_EVENT_GENERATIONS_EXHAUSTED:
		log_object(LOG_ERR, field, NULL, "%s: %s", guest, detail);
		break;
	case CONTAINER_EVENT_OPEN_REFUSED:
		/* Logged once per guest by guest_acquire (top of file). */
		break;
	default:
		log_object(LOG_NOTICE, field, object,
			   "%s%s%s: container event %d%s%s", guest, slash,
			   object, (int)ev->type, sep, detail);
		break;
	}
}
