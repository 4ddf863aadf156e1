/*
 * report.c -- what a person reads on stderr.
 *
 * Core never prints (docs/style.md); it returns -errno codes and
 * events.  This file is the one place that turns those into sentences for
 * the `hangar` command.  Every line starts with "hangar: " so scripts can
 * tell our messages from a child's.  Object names in events are bytes and
 * are escaped (format_name) like everywhere in text output.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "hangar/names.h"

static void vreport(const char *fmt, va_list ap)
	__attribute__((format(printf, 1, 0)));

static void vreport(const char *fmt, va_list ap)
{
	/* One fprintf per line would interleave with a progress bar; the
	 * bar is always erased before anything else is printed. */
	fputs(CLI_PROGRAM ": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(fmt, ap);
	va_end(ap);
}

void cli_note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(fmt, ap);
	va_end(ap);
}

const char *cli_strerror(int err)
{
	switch (-err) {
	case EUCLEAN:
		return "container metadata is corrupt (run `hangar check`)";
	case EBADMSG:
		return "checksum mismatch: stored data is corrupt";
	case EBUSY:
		return "refused by the save lock: a saved memory image pins "
		       "this guest's disks";
	case ESTALE:
		return "the saved memory image no longer matches the disks";
	case EWOULDBLOCK:
		return "the store is in use by another process";
	case EPROTONOSUPPORT:
		return "container uses a format feature this hangar does not "
		       "support";
	case ENOSPC:
		return "no space left on the store's filesystem";
	case EROFS:
		return "read-only (a read-only open, or a read-only "
		       "filesystem)";
	case ENOTEMPTY:
		return "guest still has files";
	case ELOOP:
		return "a symbolic link: a store never follows one";
	case EMEDIUMTYPE:
		return "not a regular file";
	case EMLINK:
		return "the container file has other names (hard links), so "
		       "it is never opened for writing";
	default:
		return strerror(-err);
	}
}

void cli_event(void *arg, const struct container_event *ev)
{
	/* The store passes one event_arg to every container, so the guest
	 * is named only when a caller set it. */
	const char *guest = arg ? (const char *)arg : "";
	const char *sep = arg ? ": " : "";
	char obj_shown[FORMAT_NAME_LEN];
	const char *obj = format_name(obj_shown, sizeof(obj_shown),
				      ev->object_name ? ev->object_name : "");
	const char *detail = ev->detail ? ev->detail : "";

	switch (ev->type) {
	case CONTAINER_EVENT_IMAGE_RETIRED:
		cli_note("%s%ssaved memory image retired (the resumed guest "
			 "wrote its disk) %s",
			 guest, sep, detail);
		break;
	case CONTAINER_EVENT_IMAGE_INVALIDATED:
		cli_note("%s%ssaved memory image invalidated: %s was written "
			 "after the save %s",
			 guest, sep, obj, detail);
		break;
	case CONTAINER_EVENT_IMAGE_INCOMPLETE:
		cli_note("%s%sa memory image that was never completed was set "
			 "aside as " SAVE_IMAGE_INCOMPLETE_NAME " %s",
			 guest, sep, detail);
		break;
	case CONTAINER_EVENT_IO_ERROR:
		cli_note("%s%sI/O error on the container%s%s: %s %s", guest,
			 sep, *obj ? " at " : "", obj, cli_strerror(ev->error),
			 detail);
		break;
	case CONTAINER_EVENT_SLOT_FALLBACK:
	case CONTAINER_EVENT_GENERATIONS_EXHAUSTED:
		cli_note("%s%s%s", guest, sep, detail);
		break;
	case CONTAINER_EVENT_OPEN_REFUSED:
		/* the caller reports the errno; this adds the reason */
		if (*detail)
			cli_note("%s: container refused: %s",
				 ev->guest ? ev->guest : guest, detail);
		break;
	default:
		cli_note("%s%sevent %d %s %s", guest, sep, (int)ev->type, obj,
			 detail);
		break;
	}
}

void cli_note_guest_left(const char *what, const char *guest)
{
	cli_note("the partly %s guest %s is left in the store; remove it "
		 "with `hangar rm --force`",
		 what, guest);
}

bool cli_guest_check_name(const char *name)
{
	if (name_guest_valid(name))
		return true;
	cli_error("invalid guest name '%s': use 1 to 64 of A-Z a-z 0-9 . _ - "
		  "and no leading dot",
		  name);
	return false;
}
