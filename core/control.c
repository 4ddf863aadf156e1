/*
 * control.c -- the control socket (protocol and rules in control.h).
 *
 * Design notes.  The socket lives in the store directory.  sun_path holds
 * 107 bytes, so when "<store>/.hangar-control" is longer, both sides reach it
 * through the store directory's descriptor (/proc/self/fd/N/.hangar-control),
 * which Linux resolves for bind and connect alike.  The server thread waits
 * in poll() on the listening socket and on a pipe that control_stop writes,
 * so stopping never depends on a client arriving.  A client that stalls is
 * cut off by a 5 s receive timeout; requests are bounded to 512 bytes.
 *
 * THREAD MODEL: one server thread; everything in `struct control` is owned by
 * it between control_start and control_stop, except `stop_pipe[1]`, which
 * control_stop writes.  Store calls are thread-safe (store.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "names.h"
#include "savelock.h"
#include "store.h"

#define CONTROL_LINE_MAX 512

struct control {
	struct store *store;
	int dir_fd;
	int listen_fd;
	int stop_pipe[2];
	pthread_t thread;
};

static const char *const op_names[] = {
	[CONTROL_OP_RESUME] = "resume", [CONTROL_OP_DISCARD] = "discard",
	[CONTROL_OP_DELETE] = "delete", [CONTROL_OP_CREATE] = "create",
	[CONTROL_OP_COMMIT] = "commit",
};

const char *control_op_name(enum control_op op)
{
	if (op < CONTROL_OP_RESUME || op > CONTROL_OP_COMMIT)
		return "unknown";
	return op_names[op];
}

static int op_parse(const char *name, enum control_op *out)
{
	for (int op = CONTROL_OP_RESUME; op <= CONTROL_OP_COMMIT; op++)
		if (strcmp(name, op_names[op]) == 0) {
			*out = (enum control_op)op;
			return 0;
		}
	return -EINVAL;
}

/* Fill `addr` with the socket path for a store directory open as dir_fd. */
static int socket_addr(const char *dir, int dir_fd, struct sockaddr_un *addr)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	int n = snprintf(addr->sun_path, sizeof(addr->sun_path), "%s/%s", dir,
			 CONTROL_SOCKET_NAME);
	if (n > 0 && (size_t)n < sizeof(addr->sun_path))
		return 0;
	n = snprintf(addr->sun_path, sizeof(addr->sun_path),
		     "/proc/self/fd/%d/%s", dir_fd, CONTROL_SOCKET_NAME);
	if (n < 0 || (size_t)n >= sizeof(addr->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

static bool guest_is_saved(struct store *s, const char *guest)
{
	struct container *c = NULL;
	struct save_status st;
	if (store_guest_get(s, guest, &c) != 0)
		return false;
	int ret = save_lock_status(c, &st);
	store_guest_put(s, c);
	return ret == 0 && (st.state == SAVE_STATE_SAVED ||
			    st.state == SAVE_STATE_RESUMING);
}

static void serve_one(struct control *ctl, int fd)
{
	char line[CONTROL_LINE_MAX], reason[400] = "";
	char op_name[32], guest[80];
	unsigned flags = 0;
	size_t len = 0;
	int ret;

	struct ucred cred;
	socklen_t cred_len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) != 0 ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		ret = -EACCES;
		snprintf(reason, sizeof(reason),
			 "only the store's owner may control it");
		goto reply;
	}
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (len < sizeof(line) - 1) {
		ssize_t n = read(fd, line + len, sizeof(line) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(line, '\n', len))
			break;
	}
	line[len] = '\0';
	enum control_op op;
	if (sscanf(line, "%31s %79s %u", op_name, guest, &flags) != 3 ||
	    op_parse(op_name, &op) != 0) {
		ret = -EINVAL;
		snprintf(reason, sizeof(reason), "malformed request");
		goto reply;
	}
	if (op != CONTROL_OP_COMMIT && !name_guest_valid(guest)) {
		ret = -EINVAL;
		snprintf(reason, sizeof(reason), "invalid guest name");
		goto reply;
	}
	struct store *s = ctl->store;
	struct container *c = NULL;
	switch (op) {
	case CONTROL_OP_CREATE: {
		struct guest_create_options o = {
			.compress_disks = flags & CONTROL_FLAG_COMPRESS};
		ret = store_guest_create(s, guest, &o);
		break;
	}
	case CONTROL_OP_COMMIT:
		ret = store_commit_all(s);
		break;
	case CONTROL_OP_DELETE:
		ret = store_guest_delete(
			s, guest,
			STORE_DELETE_CONTENTS |
				(flags & CONTROL_FLAG_FORCE
					 ? STORE_DELETE_IGNORE_SAVE_LOCK
					 : 0));
		if (ret == -EBUSY && !(flags & CONTROL_FLAG_FORCE) &&
		    guest_is_saved(s, guest))
			snprintf(reason, sizeof(reason),
				 "%s has a saved memory image; resume or "
				 "discard it first, or force",
				 guest);
		else if (ret == -EBUSY)
			snprintf(reason, sizeof(reason),
				 "%s has files open on the mount", guest);
		break;
	case CONTROL_OP_RESUME:
	case CONTROL_OP_DISCARD:
		ret = store_guest_get(s, guest, &c);
		if (ret)
			break;
		if (op == CONTROL_OP_RESUME)
			ret = save_lock_resume(c, reason, sizeof(reason));
		else
			ret = save_lock_discard(c);
		store_guest_put(s, c);
		break;
	default:
		ret = -EINVAL;
	}
	if (ret == -ENOENT && !reason[0] && op != CONTROL_OP_DISCARD)
		snprintf(reason, sizeof(reason), "no guest named %s", guest);
	if (ret && !reason[0])
		snprintf(reason, sizeof(reason), "%s", strerror(-ret));
reply:
	dprintf(fd, "%d %s\n", -ret, reason);
}

static void *control_main(void *arg)
{
	struct control *ctl = arg;
	for (;;) {
		struct pollfd p[2] = {
			{.fd = ctl->listen_fd, .events = POLLIN},
			{.fd = ctl->stop_pipe[0], .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		int fd = accept4(ctl->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve_one(ctl, fd);
		close(fd);
	}
	return NULL;
}

int control_start(struct store *s, struct control **out_control)
{
	struct sockaddr_un addr;
	struct control *ctl = calloc(1, sizeof(*ctl));
	int ret;

	if (!ctl)
		return -ENOMEM;
	ctl->store = s;
	ctl->listen_fd = -1;
	ctl->stop_pipe[0] = ctl->stop_pipe[1] = -1;
	ctl->dir_fd = open(store_dir(s), O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (ctl->dir_fd < 0) {
		ret = -errno;
		goto out_free;
	}
	ret = socket_addr(store_dir(s), ctl->dir_fd, &addr);
	if (ret)
		goto out_close;
	ctl->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ctl->listen_fd < 0) {
		ret = -errno;
		goto out_close;
	}
	/* We hold the store's write lock: a socket left behind by a killed
	 * daemon is stale and ours to replace. */
	(void)unlinkat(ctl->dir_fd, CONTROL_SOCKET_NAME, 0);
	/* Owner-only.  Until the chmod the socket has the umask's mode, but
	 * nobody can connect before listen(), and the peer check stands
	 * behind it anyway. */
	if (bind(ctl->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    fchmodat(ctl->dir_fd, CONTROL_SOCKET_NAME, 0600, 0) != 0 ||
	    listen(ctl->listen_fd, 8) != 0 ||
	    pipe2(ctl->stop_pipe, O_CLOEXEC) != 0) {
		ret = -errno;
		goto out_close;
	}
	ret = -pthread_create(&ctl->thread, NULL, control_main, ctl);
	if (ret)
		goto out_close;
	*out_control = ctl;
	return 0;
out_close:
	if (ctl->listen_fd >= 0) {
		close(ctl->listen_fd);
		(void)unlinkat(ctl->dir_fd, CONTROL_SOCKET_NAME, 0);
	}
	for (int i = 0; i < 2; i++)
		if (ctl->stop_pipe[i] >= 0)
			close(ctl->stop_pipe[i]);
	if (ctl->dir_fd >= 0)
		close(ctl->dir_fd);
out_free:
	free(ctl);
	return ret;
}

void control_stop(struct control *ctl)
{
	if (!ctl)
		return;
	if (write(ctl->stop_pipe[1], "x", 1) != 1) {
		/* the pipe cannot be full: one byte, once */
	}
	pthread_join(ctl->thread, NULL);
	close(ctl->listen_fd);
	(void)unlinkat(ctl->dir_fd, CONTROL_SOCKET_NAME, 0);
	close(ctl->stop_pipe[0]);
	close(ctl->stop_pipe[1]);
	close(ctl->dir_fd);
	free(ctl);
}

int control_request(const char *store_dir, enum control_op op,
		    const char *guest, unsigned flags, char *reason,
		    size_t reason_len)
{
	struct sockaddr_un addr;
	char line[CONTROL_LINE_MAX];
	int dir_fd, fd = -1, ret;

	if (reason && reason_len)
		reason[0] = '\0';
	if (op != CONTROL_OP_COMMIT && !name_guest_valid(guest))
		return -EINVAL;
	dir_fd = open(store_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return -errno;
	ret = socket_addr(store_dir, dir_fd, &addr);
	if (ret)
		goto out_close;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		goto out_close;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		ret = errno == ENOENT || errno == ECONNREFUSED ? -ENOTCONN
							       : -errno;
		goto out_close;
	}
	int n = snprintf(line, sizeof(line), "%s %s %u\n", control_op_name(op),
			 op == CONTROL_OP_COMMIT ? "-" : guest, flags);
	if (n < 0 || write(fd, line, (size_t)n) != n) {
		ret = -EIO;
		goto out_close;
	}
	size_t len = 0;
	while (len < sizeof(line) - 1) {
		ssize_t r = read(fd, line + len, sizeof(line) - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		if (memchr(line, '\n', len))
			break;
	}
	line[len] = '\0';
	int err = 0, off = 0;
	if (sscanf(line, "%d %n", &err, &off) < 1 || err < 0) {
		ret = -EPROTO;
		goto out_close;
	}
	char *nl = strchr(line + off, '\n');
	if (nl)
		*nl = '\0';
	if (reason && reason_len)
		snprintf(reason, reason_len, "%s", line + off);
	ret = -err;
out_close:
	if (fd >= 0)
		close(fd);
	close(dir_fd);
	return ret;
}
