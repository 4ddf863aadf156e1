/*
 * log.c -- where the daemon's log lines go, and the container event sink.
 *
 * One line per event a person must see (docs/design.md): refused opens,
 * retired or invalidated save images, I/O errors, corrupt containers.  In
 * the foreground lines go to stderr prefixed "hangarfs: "; a daemon sends
 * them to syslog (facility daemon, tagged with the PID).
 *
 * Container events name their guest when the store fills it in; as a
 * fallback each worker thread records the guest it is working on in a
 * thread-local (log_set_guest) and the callback reads it.  An event with
 * neither is logged as "(store)".
 *
 * A container that cannot be opened (CONTAINER_EVENT_OPEN_REFUSED) is not
 * logged here: core reports it at every failed open, and a corrupt guest is
 * opened again by every operation on it.  guest_acquire gets the same
 * reason back from store_guest_get_why and logs the one line per guest
 * that the design asks for (docs/design.md) (guest.c).
 *
 * THREAD MODEL: `log_to_syslog` is written once by log_open before any
 * worker thread starts, then only read.  `log_guest` is thread-local.
 * stderr and syslog(3) are themselves thread-safe per line.
 */
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "hangarfs.h"

static bool log_to_syslog;
static _Thread_local const char *log_guest;

void log_open(bool use_syslog)
{
	log_to_syslog = use_syslog;
	if (use_syslog)
		openlog("hangarfs", LOG_PID, LOG_DAEMON);
}

void log_msg(int prio, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_to_syslog)
		syslog(prio, "%s", line);
	else
		fprintf(stderr, "hangarfs: %s\n", line);
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

	(void)arg;
	switch (ev->type) {
	case CONTAINER_EVENT_IMAGE_RETIRED:
		log_msg(LOG_NOTICE, "%s%s%s: save image retired%s%s", guest,
			slash, object, sep, detail);
		break;
	case CONTAINER_EVENT_IMAGE_INVALIDATED:
		log_msg(LOG_WARNING,
			"%s%s%s: save image invalidated, not resumable%s%s",
			guest, slash, object, sep, detail);
		break;
	case CONTAINER_EVENT_IMAGE_INCOMPLETE:
		log_msg(LOG_WARNING,
			"%s%s%s: unsealed save image set aside as "
			"memory.save.incomplete%s%s",
			guest, slash, object, sep, detail);
		break;
	case CONTAINER_EVENT_IO_ERROR:
		log_msg(LOG_ERR, "%s%s%s: I/O error: %s%s%s", guest, slash,
			object, hfs_strerror(ev->error), sep, detail);
		break;
	case CONTAINER_EVENT_SLOT_FALLBACK:
		log_msg(LOG_WARNING, "%s: %s", guest, detail);
		break;
	case CONTAINER_EVENT_GENERATIONS_EXHAUSTED:
		log_msg(LOG_ERR, "%s: %s", guest, detail);
		break;
	case CONTAINER_EVENT_OPEN_REFUSED:
		/* Logged once per guest by guest_acquire (top of file). */
		break;
	default:
		log_msg(LOG_NOTICE, "%s%s%s: container event %d%s%s", guest,
			slash, object, (int)ev->type, sep, detail);
		break;
	}
}
