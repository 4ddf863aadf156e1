/*
 * notify.c -- tell systemd how the daemon is doing: sd_notify(3)'s
 * protocol, without linking libsystemd.
 *
 * A unit with Type=notify (contrib/systemd/hangar@.service) starts hangarfs
 * with $NOTIFY_SOCKET set to a unix datagram socket: a path, or an abstract
 * name written with a leading '@'.  One datagram of newline-separated
 * VAR=VALUE lines is a message: "READY=1" says the service is up (units
 * ordered after ours start then), "STOPPING=1" that it is shutting down,
 * "STATUS=text" what `systemctl status` shows.  systemd checks the sender's
 * PID (NotifyAccess=main), which the kernel attaches to the datagram.
 *
 * Without $NOTIFY_SOCKET (not started by systemd, or not Type=notify) every
 * call does nothing.  A failure to notify is returned but never fatal: the
 * mount works either way, and systemd reports a unit that never got
 * READY=1 by its start timeout.  We do not unset $NOTIFY_SOCKET: STOPPING=1
 * needs it at shutdown, and hangarfs starts no child that would notify.
 *
 * THREAD MODEL: called from main() only (before the session loop starts
 * and after it returned); no state is kept between calls.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hangarfs.h"

int notify_send(const char *message)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	size_t path_len, message_len = strlen(message);
	socklen_t addr_len;
	ssize_t sent;
	int fd, err = 0;

	if (!path || !path[0])
		return 0;
	path_len = strlen(path);
	/* systemd also knows "vsock:CID:PORT" (a VM's manager); not ours. */
	if ((path[0] != '/' && path[0] != '@') ||
	    path_len >= sizeof(addr.sun_path))
		return -EAFNOSUPPORT;
	memcpy(addr.sun_path, path, path_len);
	addr_len =
		(socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_len);
	if (path[0] == '@')
		addr.sun_path[0] =
			'\0'; /* abstract: the name is not a string */
	else
		addr_len++; /* a path: include its NUL */

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	sent = sendto(fd, message, message_len, MSG_NOSIGNAL,
		      (const struct sockaddr *)&addr, addr_len);
	if (sent < 0)
		err = -errno;
	else if ((size_t)sent != message_len)
		err = -EMSGSIZE;
	close(fd);
	return err;
}

void notify_mounted(const char *store, const char *mountpoint, bool read_only)
{
	char message[2 * PATH_MAX + 64];

	snprintf(message, sizeof(message), "READY=1\nSTATUS=Mounted %s%s on %s",
		 store, read_only ? " read-only" : "", mountpoint);
	(void)notify_send(message);
}

void notify_stopping(const char *store)
{
	char message[PATH_MAX + 64];

	snprintf(message, sizeof(message),
		 "STOPPING=1\nSTATUS=Unmounting %s: committing every guest",
		 store);
	(void)notify_send(message);
}
