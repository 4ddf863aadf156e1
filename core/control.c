/*
 * control.c -- the control socket (protocol and rules in control.h).
 *
 * Design notes.  The socket lives in the store directory, named
 * CONTROL_SOCKET_NAME -- or, on a filesystem several hosts share (netfs.h),
 * CONTROL_SOCKET_NAME.<host>: a socket is an object of one kernel, so
 * every host's daemon binds its own name, and `hangar` on a host connects
 * to its own host's daemon.  sun_path holds
 * 107 bytes, so when "<store>/.hangar-control" is longer, both sides reach it
 * through the store directory's descriptor (/proc/self/fd/N/.hangar-control),
 * which Linux resolves for bind and connect alike.  The accepting thread
 * waits in poll() on the listening socket and on a pipe that control_stop
 * writes, so stopping never depends on a client arriving; the serving
 * threads poll the same pipe, so a stop cuts every client off at once.
 * Requests are bounded to CONTROL_LINE_MAX bytes and read against one
 * deadline for the whole line (not per read: a client trickling a byte
 * every few seconds is cut off like an idle one).  Just before a request is
 * carried out, the server checks that its client is still there (POLLRDHUP):
 * a client that died or gave up is not served.
 *
 * THREAD MODEL: the accepting thread owns listen_fd; each serving thread
 * owns its connection.  `lock` protects `clients` (serving threads alive);
 * `idle` is signalled when it drops to zero.  `stop_pipe[1]` is written
 * once by control_stop; everything else is immutable between control_start
 * and control_stop.  Store calls are thread-safe (store.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <sys/un.h>
#include <unistd.h>

#include "hangar/container.h"
#include "hangar/control.h"
#include "hangar/names.h"
#include "hangar/savelock.h"
#include "hangar/store.h"
#include "netfs.h"

#define CONTROL_LINE_MAX 512
/* Longest snapshot name (container.h) */
#define CONTROL_SNAPSHOT_NAME_MAX 64
/* A delete refused by a request's short-lived view (hangarfs reading the
 * snapshot for a moment) is tried again: tries, first pause. */
#define CONTROL_SNAPSHOT_TRIES	  5
#define CONTROL_SNAPSHOT_PAUSE_MS 2

struct control {
	struct store *store;
	int dir_fd;
	char sock_name[CONTROL_SOCKET_NAME_MAX]; /* socket_name */
	int listen_fd;
	int stop_pipe[2];
	pthread_t thread;
	bool have_mount;
	char mount_path[PATH_MAX];
	dev_t mount_dev;
	void (*changed)(void *arg, enum control_op op, const char *guest,
			const char *name);
	void *changed_arg;

	pthread_mutex_t lock;
	pthread_cond_t idle;
	unsigned clients; /* serving threads alive (lock) */
};

struct client {
	struct control *ctl;
	int fd;
};

static const char *const op_names[] = {
	[CONTROL_OP_RESUME] = "resume",
	[CONTROL_OP_DISCARD] = "discard",
	[CONTROL_OP_DELETE] = "delete",
	[CONTROL_OP_CREATE] = "create",
	[CONTROL_OP_COMMIT] = "commit",
	[CONTROL_OP_MOUNT] = "mount",
	[CONTROL_OP_SNAPSHOT_CREATE] = "snapshot-create",
	[CONTROL_OP_SNAPSHOT_DELETE] = "snapshot-delete",
	[CONTROL_OP_ROLLBACK] = "rollback",
	[CONTROL_OP_SNAPSHOT_LIST] = "snapshot-list",
	[CONTROL_OP_PIN] = "pin",
	[CONTROL_OP_UNPIN] = "unpin",
	[CONTROL_OP_ACQUIRE] = "acquire",
	[CONTROL_OP_RELEASE] = "release",
};
#define OP_LAST CONTROL_OP_RELEASE

static const char *control_op_name(enum control_op op)
{
	if (op < CONTROL_OP_RESUME || op > OP_LAST)
		return "unknown";
	return op_names[op];
}

/* Whether a successful `op` changed its guest (control_mount.changed). */
static bool op_changes_guest(enum control_op op)
{
	return op != CONTROL_OP_COMMIT && op != CONTROL_OP_MOUNT &&
	       op != CONTROL_OP_SNAPSHOT_LIST && op != CONTROL_OP_ACQUIRE &&
	       op != CONTROL_OP_RELEASE;
}

/* Whether `op` names a snapshot (the request's fourth word). */
static bool op_takes_name(enum control_op op)
{
	return op == CONTROL_OP_SNAPSHOT_CREATE ||
	       op == CONTROL_OP_SNAPSHOT_DELETE || op == CONTROL_OP_ROLLBACK ||
	       op == CONTROL_OP_UNPIN;
}

static const char *const reason_names[] = {
	[CONTROL_REASON_NONE] = "none",
	[CONTROL_REASON_ERRNO] = "errno",
	[CONTROL_REASON_NO_GUEST] = "no-guest",
	[CONTROL_REASON_SAVE_LOCKED] = "save-locked",
	[CONTROL_REASON_GUEST_BUSY] = "guest-busy",
	[CONTROL_REASON_UNREADABLE] = "unreadable",
	[CONTROL_REASON_NOT_RESUMABLE] = "not-resumable",
	[CONTROL_REASON_BAD_REQUEST] = "bad-request",
	[CONTROL_REASON_BAD_NAME] = "bad-name",
	[CONTROL_REASON_DENIED] = "denied",
	[CONTROL_REASON_OVERLOADED] = "overloaded",
	[CONTROL_REASON_NO_MOUNT] = "no-mount",
	[CONTROL_REASON_IMPOSTOR] = "impostor",
	[CONTROL_REASON_OTHER] = "other",
	[CONTROL_REASON_NO_SNAPSHOT] = "no-snapshot",
	[CONTROL_REASON_SNAPSHOT_OPEN] = "snapshot-open",
	[CONTROL_REASON_PINNED] = "pinned",
};
#define REASON_COUNT (sizeof(reason_names) / sizeof(reason_names[0]))

const char *control_reason_name(enum control_reason code)
{
	if ((unsigned)code >= REASON_COUNT)
		return "other";
	return reason_names[code];
}

/* The code named `word`; false when it names none (an older daemon's
 * reply has a sentence there). */
static bool reason_parse(const char *word, size_t len, enum control_reason *out)
{
	for (unsigned i = 0; i < REASON_COUNT; i++)
		if (strlen(reason_names[i]) == len &&
		    memcmp(word, reason_names[i], len) == 0) {
			*out = (enum control_reason)i;
			return true;
		}
	return false;
}

/* Set the reply's code and sentence (printf-style). */
static void __attribute__((format(printf, 3, 4)))
reply_set(struct control_reply *reply, enum control_reason code,
	  const char *fmt, ...)
{
	va_list ap;

	reply->code = code;
	va_start(ap, fmt);
	vsnprintf(reply->text, sizeof(reply->text), fmt, ap);
	va_end(ap);
}

static int op_parse(const char *name, enum control_op *out)
{
	for (int op = CONTROL_OP_RESUME; op <= OP_LAST; op++)
		if (strcmp(name, op_names[op]) == 0) {
			*out = (enum control_op)op;
			return 0;
		}
	return -EINVAL;
}

/* The socket's name in the store directory open as dir_fd (control.h:
 * per host on a shared filesystem), into out[CONTROL_SOCKET_NAME_MAX]. */
static void socket_name(int dir_fd, char *out)
{
	char host[CONTROL_SOCKET_NAME_MAX - sizeof(CONTROL_SOCKET_NAME) - 1];

	if (!netfs_shared(dir_fd)) {
		snprintf(out, CONTROL_SOCKET_NAME_MAX, "%s",
			 CONTROL_SOCKET_NAME);
		return;
	}
	netfs_host_name(host, sizeof(host));
	snprintf(out, CONTROL_SOCKET_NAME_MAX, "%s.%s", CONTROL_SOCKET_NAME,
		 host);
}

void control_socket_name(const char *store_dir, char *out, size_t len)
{
	char name[CONTROL_SOCKET_NAME_MAX] = CONTROL_SOCKET_NAME;
	int dir_fd = open(store_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (dir_fd >= 0) {
		socket_name(dir_fd, name);
		close(dir_fd);
	}
	snprintf(out, len, "%s", name);
}

/* Fill `addr` with the path of socket `name` in the store directory open
 * as dir_fd. */
static int socket_addr(const char *dir, int dir_fd, const char *name,
		       struct sockaddr_un *addr)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	int n = snprintf(addr->sun_path, sizeof(addr->sun_path), "%s/%s", dir,
			 name);
	if (n > 0 && (size_t)n < sizeof(addr->sun_path))
		return 0;
	n = snprintf(addr->sun_path, sizeof(addr->sun_path),
		     "/proc/self/fd/%d/%s", dir_fd, name);
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

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Read one line ending in '\n' from `fd` into `line` (NUL-terminated, the
 * newline kept) before `deadline` (now_ms), also returning early when
 * `stop_fd` (may be -1) becomes readable.  0, or -ETIMEDOUT, -ECONNRESET
 * (closed before the newline), -EMSGSIZE, -ECANCELED (stopped), -errno.
 */
static int read_line(int fd, int stop_fd, char *line, size_t size,
		     uint64_t deadline)
{
	size_t len = 0;
	for (;;) {
		uint64_t now = now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
				      {.fd = stop_fd, .events = POLLIN}};
		int n = poll(p, stop_fd >= 0 ? 2 : 1, (int)(deadline - now));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (stop_fd >= 0 && p[1].revents)
			return -ECANCELED;
		if (n == 0)
			continue; /* the deadline check above ends it */
		ssize_t r = recv(fd, line + len, size - 1 - len, MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ECONNRESET;
		len += (size_t)r;
		line[len] = '\0';
		if (memchr(line, '\n', len))
			return 0;
		if (len == size - 1)
			return -EMSGSIZE;
	}
}

/* Whether the client at the other end of `fd` has hung up. */
static bool peer_gone(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
	return poll(&p, 1, 0) > 0 &&
	       (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

/* The client's PID as the kernel reports it (0 if it cannot tell). */
static pid_t peer_pid(int fd)
{
	struct ucred cred;
	socklen_t cred_len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) != 0)
		return 0;
	return cred.pid;
}

static bool peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t cred_len = sizeof(cred);
	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) == 0 &&
	       (cred.uid == 0 || cred.uid == geteuid());
}

/* Whether store_guest_get's `err` means the guest's container cannot be
 * opened (rather than no guest, a busy one, or no memory). */
static bool open_refused(int err)
{
	switch (-err) {
	case EUCLEAN:
	case EBADMSG:
	case EPROTONOSUPPORT:
	case EIO:
	case EROFS:
	case ENOKEY:
	case EKEYREJECTED:
	case ELOOP:
	case EMEDIUMTYPE:
	case EMLINK:
		return true;
	default:
		return false;
	}
}

/* The snapshots of `c` as CONTROL_OP_SNAPSHOT_LIST's answer: one word per
 * snapshot, "NAME/ID/GENERATION/SECONDS/NANOSECONDS" ('/' is in no
 * snapshot name), separated by spaces; "" for none. */
static int snapshot_list_text(struct container *c, struct control_reply *reply)
{
	struct snapshot_info *list = NULL;
	size_t num = 0, used = 0;
	int ret = container_snapshot_list(c, &list, &num);

	if (ret)
		return ret;
	reply->text[0] = '\0';
	for (size_t i = 0; i < num; i++) {
		int n = snprintf(reply->text + used, sizeof(reply->text) - used,
				 "%s%s/%llu/%llu/%lld/%ld", i ? " " : "",
				 list[i].name, (unsigned long long)list[i].id,
				 (unsigned long long)list[i].generation,
				 (long long)list[i].created.tv_sec,
				 (long)list[i].created.tv_nsec);
		if (n < 0 || (size_t)n >= sizeof(reply->text) - used) {
			ret = -EOVERFLOW;
			break;
		}
		used += (size_t)n;
	}
	free(list);
	return ret;
}

int control_snapshot_list_parse(const char *text, struct snapshot_info **out,
				size_t *out_num)
{
	size_t num = 0, cap = 0;
	struct snapshot_info *list = NULL;
	const char *p = text;

	while (*p) {
		char word[CONTROL_SNAPSHOT_NAME_MAX + 96];
		unsigned long long id, gen;
		long long sec;
		long nsec;
		int end = 0;
		size_t len = strcspn(p, " ");

		if (len == 0 || len >= sizeof(word))
			goto out_bad;
		memcpy(word, p, len);
		word[len] = '\0';
		char *slash = strchr(word, '/');
		if (!slash || slash == word ||
		    (size_t)(slash - word) > CONTROL_SNAPSHOT_NAME_MAX ||
		    sscanf(slash + 1, "%llu/%llu/%lld/%ld%n", &id, &gen, &sec,
			   &nsec, &end) != 4 ||
		    slash[1 + end] != '\0')
			goto out_bad;
		if (num == cap) {
			cap = cap ? cap * 2 : 16;
			struct snapshot_info *n =
				realloc(list, cap * sizeof(*list));
			if (!n) {
				free(list);
				return -ENOMEM;
			}
			list = n;
		}
		memset(&list[num], 0, sizeof(list[num]));
		memcpy(list[num].name, word, (size_t)(slash - word));
		list[num].id = id;
		list[num].generation = gen;
		list[num].created.tv_sec = (time_t)sec;
		list[num].created.tv_nsec = nsec;
		num++;
		p += len;
		while (*p == ' ')
			p++;
	}
	*out = list;
	*out_num = num;
	return 0;
out_bad:
	free(list);
	return -EPROTO;
}

/* A snapshot request on guest `guest`'s container `c`. */
static int execute_snapshot(struct container *c, enum control_op op,
			    const char *guest, const char *name, pid_t peer,
			    struct control_reply *reply)
{
	struct timespec pause = {0, CONTROL_SNAPSHOT_PAUSE_MS * 1000000L};
	pid_t pinner = 0;
	int ret = -EINVAL;

	switch (op) {
	case CONTROL_OP_SNAPSHOT_CREATE:
		ret = container_snapshot_create(c, name);
		if (ret == -EINVAL && container_snapshot_name_reserved(name))
			reply_set(reply, CONTROL_REASON_BAD_NAME,
				  "snapshot names starting with %s are "
				  "reserved for the pins of readers",
				  CONTAINER_PIN_PREFIX);
		else if (ret == -EINVAL)
			reply_set(reply, CONTROL_REASON_BAD_NAME,
				  "invalid snapshot name '%s' (1-64 of "
				  "A-Z a-z 0-9 . _ -, no leading dot)",
				  name);
		break;
	case CONTROL_OP_SNAPSHOT_DELETE:
		/* -EBUSY: a view is open; hangarfs's requests hold one for a
		 * moment, an open file until it is closed */
		for (int i = 0; i < CONTROL_SNAPSHOT_TRIES; i++) {
			ret = container_snapshot_delete(c, name);
			if (ret != -EBUSY || i + 1 == CONTROL_SNAPSHOT_TRIES)
				break;
			nanosleep(&pause, NULL);
			pause.tv_nsec *= 2;
		}
		if (ret == -EBUSY && container_pin_name_parse(name, &pinner))
			reply_set(reply, CONTROL_REASON_PINNED,
				  "snapshot %s of %s is the pin of a reader "
				  "that is still running (PID %ld); it goes "
				  "when that reader is done or dies",
				  name, guest, (long)pinner);
		else if (ret == -EBUSY)
			reply_set(reply, CONTROL_REASON_SNAPSHOT_OPEN,
				  "a file of snapshot %s of %s is open on the "
				  "mount",
				  name, guest);
		break;
	case CONTROL_OP_PIN:
		ret = container_pin_create(c, peer, reply->text,
					   sizeof(reply->text));
		break;
	case CONTROL_OP_UNPIN:
		for (int i = 0; i < CONTROL_SNAPSHOT_TRIES; i++) {
			ret = container_pin_delete(c, name);
			if (ret != -EBUSY || i + 1 == CONTROL_SNAPSHOT_TRIES)
				break;
			nanosleep(&pause, NULL);
			pause.tv_nsec *= 2;
		}
		if (ret == -EINVAL)
			reply_set(reply, CONTROL_REASON_BAD_NAME,
				  "%s is no pin's name", name);
		break;
	case CONTROL_OP_ROLLBACK:
		ret = container_snapshot_rollback(c, name);
		if (ret == -EBUSY)
			reply_set(reply, CONTROL_REASON_GUEST_BUSY,
				  "%s has files open on the mount", guest);
		break;
	case CONTROL_OP_SNAPSHOT_LIST:
		ret = snapshot_list_text(c, reply);
		break;
	default:
		break;
	}
	if (ret == -ENOENT && op != CONTROL_OP_SNAPSHOT_LIST &&
	    op != CONTROL_OP_PIN)
		reply_set(reply, CONTROL_REASON_NO_SNAPSHOT,
			  "%s has no snapshot named %s", guest, name);
	return ret;
}

/* Why guest `guest` could not be acquired (-EBUSY): who holds it, from the
 * lock table on this host or the holder record from another. */
static void holder_reply(struct store *s, const char *guest,
			 struct control_reply *reply)
{
	struct store_holder_record rec;
	bool exclusive = false;
	pid_t pid = 0;

	if (store_guest_holder(s, guest, &pid, &exclusive) == 0 && pid > 0)
		reply_set(reply, CONTROL_REASON_GUEST_BUSY,
			  "%s is open %s by PID %ld on this host", guest,
			  exclusive ? "read-write" : "read-only", (long)pid);
	else if (store_guest_holder_record(s, guest, &rec) == 0)
		reply_set(reply, CONTROL_REASON_GUEST_BUSY,
			  "%s is held by host %s, PID %ld", guest, rec.host,
			  rec.pid);
	else
		reply_set(reply, CONTROL_REASON_GUEST_BUSY,
			  "%s is open by another process", guest);
}

/* Carry out request `op` for `guest`; the reason (if any) into `reply`. */
static int execute(struct control *ctl, enum control_op op, const char *guest,
		   const char *name, unsigned flags, pid_t peer,
		   struct control_reply *reply)
{
	struct store *s = ctl->store;
	struct container *c = NULL;
	int ret;

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
	case CONTROL_OP_MOUNT:
		if (!ctl->have_mount) {
			reply_set(reply, CONTROL_REASON_NO_MOUNT,
				  "the daemon does not know its mount point");
			return -ENOENT;
		}
		reply_set(reply, CONTROL_REASON_NONE, "%u:%u %s",
			  major(ctl->mount_dev), minor(ctl->mount_dev),
			  ctl->mount_path);
		return 0;
	case CONTROL_OP_DELETE:
		/* store_guest_delete waits out transient references itself
		 * (store.h): an -EBUSY here is a real one. */
		ret = store_guest_delete(
			s, guest,
			STORE_DELETE_CONTENTS |
				(flags & CONTROL_FLAG_FORCE
					 ? STORE_DELETE_IGNORE_SAVE_LOCK
					 : 0));
		if (ret == -EBUSY && !(flags & CONTROL_FLAG_FORCE) &&
		    guest_is_saved(s, guest))
			reply_set(reply, CONTROL_REASON_SAVE_LOCKED,
				  "%s has a saved memory image; resume or "
				  "discard it first, or force",
				  guest);
		else if (ret == -EBUSY)
			reply_set(reply, CONTROL_REASON_GUEST_BUSY,
				  "%s has files open on the mount", guest);
		else if (open_refused(ret))
			reply_set(reply, CONTROL_REASON_UNREADABLE, "%s",
				  strerror(-ret));
		break;
	case CONTROL_OP_ACQUIRE:
		ret = store_guest_acquire(s, guest);
		if (ret == -EBUSY)
			holder_reply(s, guest, reply);
		else if (open_refused(ret))
			reply_set(reply, CONTROL_REASON_UNREADABLE, "%s",
				  strerror(-ret));
		break;
	case CONTROL_OP_RELEASE:
		ret = store_guest_release(s, guest);
		if (ret == -EBUSY)
			reply_set(reply, CONTROL_REASON_GUEST_BUSY,
				  "%s has files open on the mount", guest);
		break;
	case CONTROL_OP_RESUME:
	case CONTROL_OP_DISCARD:
	case CONTROL_OP_SNAPSHOT_CREATE:
	case CONTROL_OP_SNAPSHOT_DELETE:
	case CONTROL_OP_ROLLBACK:
	case CONTROL_OP_SNAPSHOT_LIST:
	case CONTROL_OP_PIN:
	case CONTROL_OP_UNPIN:
		ret = store_guest_get(s, guest, &c);
		if (ret) {
			if (ret == -ENOENT)
				reply_set(reply, CONTROL_REASON_NO_GUEST,
					  "no guest named %s", guest);
			else if (open_refused(ret))
				reply_set(reply, CONTROL_REASON_UNREADABLE,
					  "%s", strerror(-ret));
			break;
		}
		if (op == CONTROL_OP_RESUME) {
			ret = save_lock_resume(c, reply->text,
					       sizeof(reply->text));
			if (ret)
				reply->code = CONTROL_REASON_NOT_RESUMABLE;
		} else if (op == CONTROL_OP_DISCARD) {
			ret = save_lock_discard(c);
		} else {
			ret = execute_snapshot(c, op, guest, name, peer, reply);
		}
		store_guest_put(s, c);
		break;
	default:
		ret = -EINVAL;
	}
	if (ret == -ENOENT && reply->code == CONTROL_REASON_NONE &&
	    op != CONTROL_OP_DISCARD)
		reply_set(reply, CONTROL_REASON_NO_GUEST, "no guest named %s",
			  guest);
	return ret;
}

/* Send "ERRNO CODE TEXT\n" without blocking for long: a client that does
 * not read is its own loss (MSG_NOSIGNAL: one that left raises no
 * SIGPIPE). */
static void reply_send(int fd, int err, const struct control_reply *reply)
{
	char out[sizeof(reply->text) + 64];
	int n = snprintf(out, sizeof(out), "%d %s %s\n", err,
			 control_reason_name(reply->code), reply->text);
	if (n > 0)
		(void)send(fd, out, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void serve_one(struct control *ctl, int fd)
{
	char line[CONTROL_LINE_MAX];
	char op_name[32], guest[80], name[80] = "";
	/* on this serving thread's stack (40 KiB: control.h) */
	struct control_reply reply = {.code = CONTROL_REASON_NONE};
	unsigned flags = 0;
	enum control_op op;
	int words, ret;

	ret = read_line(fd, ctl->stop_pipe[0], line, sizeof(line),
			now_ms() + CONTROL_REQUEST_TIMEOUT_MS);
	if (ret == -EMSGSIZE) {
		reply_set(&reply, CONTROL_REASON_BAD_REQUEST,
			  "request too long");
		goto reply;
	}
	if (ret)
		return; /* idle, trickling, gone or stopping: nobody to
			   answer, nothing carried out */
	/* a name longer than %79s reads is cut there, and so longer than
	 * any snapshot name: refused by core all the same */
	words = sscanf(line, "%31s %79s %u %79s", op_name, guest, &flags, name);
	if (words < 3 || op_parse(op_name, &op) != 0 ||
	    (words == 4) != op_takes_name(op)) {
		ret = -EINVAL;
		reply_set(&reply, CONTROL_REASON_BAD_REQUEST,
			  "malformed request");
		goto reply;
	}
	if (op != CONTROL_OP_COMMIT && op != CONTROL_OP_MOUNT &&
	    !name_guest_valid(guest)) {
		ret = -EINVAL;
		reply_set(&reply, CONTROL_REASON_BAD_NAME,
			  "invalid guest name");
		goto reply;
	}
	/* The client may have died or given up since it sent the request:
	 * then it is not carried out. */
	if (peer_gone(fd))
		return;
	ret = execute(ctl, op, guest, name, flags, peer_pid(fd), &reply);
	if (ret == 0 && ctl->changed && op_changes_guest(op))
		ctl->changed(ctl->changed_arg, op, guest,
			     words == 4		    ? name
			     : op == CONTROL_OP_PIN ? reply.text
						    : NULL);
	/* Every error carries a code (control.h) and a sentence. */
	if (ret && reply.code == CONTROL_REASON_NONE)
		reply.code = CONTROL_REASON_ERRNO;
	if (ret && !reply.text[0])
		snprintf(reply.text, sizeof(reply.text), "%s", strerror(-ret));
reply:
	reply_send(fd, -ret, &reply);
}

static void *client_main(void *arg)
{
	struct client *cl = arg;
	struct control *ctl = cl->ctl;
	serve_one(ctl, cl->fd);
	close(cl->fd);
	free(cl);
	pthread_mutex_lock(&ctl->lock);
	if (--ctl->clients == 0)
		pthread_cond_broadcast(&ctl->idle);
	pthread_mutex_unlock(&ctl->lock);
	return NULL;
}

/* Answer at once without a serving thread (refusals). */
static void reply_now(int fd, int err, enum control_reason code,
		      const char *text)
{
	struct control_reply reply;

	reply_set(&reply, code, "%s", text);
	reply_send(fd, err, &reply);
}

/* Hand connection `fd` to a serving thread of its own (or refuse it). */
static void dispatch(struct control *ctl, int fd)
{
	if (!peer_allowed(fd)) {
		reply_now(fd, EACCES, CONTROL_REASON_DENIED,
			  "only the store's owner may control it");
		close(fd);
		return;
	}
	pthread_mutex_lock(&ctl->lock);
	bool full = ctl->clients >= CONTROL_CLIENTS_MAX;
	if (!full)
		ctl->clients++;
	pthread_mutex_unlock(&ctl->lock);
	if (full) {
		reply_now(fd, EBUSY, CONTROL_REASON_OVERLOADED,
			  "too many control connections; retry");
		close(fd);
		return;
	}
	struct client *cl = malloc(sizeof(*cl));
	pthread_attr_t attr;
	pthread_t t;
	int ret = cl ? pthread_attr_init(&attr) : ENOMEM;
	if (!ret) {
		cl->ctl = ctl;
		cl->fd = fd;
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		ret = pthread_create(&t, &attr, client_main, cl);
		pthread_attr_destroy(&attr);
	}
	if (!ret)
		return;
	free(cl);
	reply_now(fd, EAGAIN, CONTROL_REASON_OVERLOADED,
		  "the daemon is out of resources; retry");
	close(fd);
	pthread_mutex_lock(&ctl->lock);
	if (--ctl->clients == 0)
		pthread_cond_broadcast(&ctl->idle);
	pthread_mutex_unlock(&ctl->lock);
}

static void *control_main(void *arg)
{
	struct control *ctl = arg;
	int backoff_ms = 0;
	for (;;) {
		/* After an accept failed for lack of descriptors or memory,
		 * wait (for a stop only) instead of spinning on a listening
		 * socket that stays readable. */
		struct pollfd p[2] = {
			{.fd = ctl->stop_pipe[0], .events = POLLIN},
			{.fd = ctl->listen_fd, .events = POLLIN}};
		int n = poll(p, backoff_ms ? 1 : 2,
			     backoff_ms ? backoff_ms : -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents)
			break;
		if (backoff_ms) {
			backoff_ms = 0;
			continue;
		}
		if (!(p[1].revents & POLLIN))
			continue;
		int fd = accept4(ctl->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			dispatch(ctl, fd);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM)
			backoff_ms = 200;
	}
	return NULL;
}

int control_start(struct store *s, const struct control_mount *mount,
		  struct control **out_control)
{
	struct sockaddr_un addr;
	struct control *ctl = calloc(1, sizeof(*ctl));
	int ret;

	if (!ctl)
		return -ENOMEM;
	ctl->store = s;
	if (mount) {
		ctl->changed = mount->changed;
		ctl->changed_arg = mount->changed_arg;
	}
	if (mount && mount->path && !strchr(mount->path, '\n') &&
	    strlen(mount->path) < sizeof(ctl->mount_path)) {
		snprintf(ctl->mount_path, sizeof(ctl->mount_path), "%s",
			 mount->path);
		ctl->mount_dev = mount->dev;
		ctl->have_mount = true;
	}
	pthread_mutex_init(&ctl->lock, NULL);
	pthread_cond_init(&ctl->idle, NULL);
	ctl->listen_fd = -1;
	ctl->stop_pipe[0] = ctl->stop_pipe[1] = -1;
	ctl->dir_fd = open(store_dir(s), O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (ctl->dir_fd < 0) {
		ret = -errno;
		goto out_free;
	}
	socket_name(ctl->dir_fd, ctl->sock_name);
	ret = socket_addr(store_dir(s), ctl->dir_fd, ctl->sock_name, &addr);
	if (ret)
		goto out_close;
	ctl->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ctl->listen_fd < 0) {
		ret = -errno;
		goto out_close;
	}
	/* We hold the store's write lock: a socket left behind by a killed
	 * daemon is stale and ours to replace. */
	(void)unlinkat(ctl->dir_fd, ctl->sock_name, 0);
	/* Owner-only.  Until the chmod the socket has the umask's mode, but
	 * nobody can connect before listen(), and the peer check stands
	 * behind it anyway.  AT_SYMLINK_NOFOLLOW: someone who can write the
	 * store directory could swap the socket for a link between bind and
	 * chmod and have us chmod the link's target; with it, that fails. */
	if (bind(ctl->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    fchmodat(ctl->dir_fd, ctl->sock_name, 0600, AT_SYMLINK_NOFOLLOW) !=
		    0 ||
	    listen(ctl->listen_fd, 64) != 0 ||
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
		(void)unlinkat(ctl->dir_fd, ctl->sock_name, 0);
	}
	for (int i = 0; i < 2; i++)
		if (ctl->stop_pipe[i] >= 0)
			close(ctl->stop_pipe[i]);
	if (ctl->dir_fd >= 0)
		close(ctl->dir_fd);
out_free:
	pthread_mutex_destroy(&ctl->lock);
	pthread_cond_destroy(&ctl->idle);
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
	/* The serving threads see the pipe too: wait until they are gone
	 * (a request being carried out finishes first). */
	pthread_mutex_lock(&ctl->lock);
	while (ctl->clients > 0)
		pthread_cond_wait(&ctl->idle, &ctl->lock);
	pthread_mutex_unlock(&ctl->lock);
	close(ctl->listen_fd);
	(void)unlinkat(ctl->dir_fd, ctl->sock_name, 0);
	close(ctl->stop_pipe[0]);
	close(ctl->stop_pipe[1]);
	close(ctl->dir_fd);
	pthread_mutex_destroy(&ctl->lock);
	pthread_cond_destroy(&ctl->idle);
	free(ctl);
}

/*
 * Whether the server at the other end of `fd` is the store's daemon: the
 * process holding its lock, running as root or as the store directory's
 * owner.  -ESRCH with CONTROL_REASON_IMPOSTOR and the sentence in `reply`
 * when not.
 */
static int server_check(int fd, const char *store_dir, int dir_fd,
			const char *sock_name, struct control_reply *reply)
{
	struct ucred cred;
	socklen_t cred_len = sizeof(cred);
	struct stat st;
	pid_t holder = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) != 0)
		return -errno;
	if (fstat(dir_fd, &st) != 0)
		return -errno;
	if (store_lock_holder(store_dir, &holder) != 0)
		holder = 0;
	if (cred.uid != 0 && cred.uid != st.st_uid) {
		reply_set(reply, CONTROL_REASON_IMPOSTOR,
			  "%s/%s is served by PID %ld as uid %u, neither root "
			  "nor the store's owner (uid %u); refusing to talk "
			  "to it",
			  store_dir, sock_name, (long)cred.pid,
			  (unsigned)cred.uid, (unsigned)st.st_uid);
		return -ESRCH;
	}
	if (holder <= 0 || cred.pid != holder) {
		char who[64] = "nobody holds the store's lock";
		if (holder > 0)
			snprintf(who, sizeof(who),
				 "the store's lock is held by PID %ld",
				 (long)holder);
		reply_set(reply, CONTROL_REASON_IMPOSTOR,
			  "%s/%s is served by PID %ld, but %s; refusing to "
			  "talk to it",
			  store_dir, sock_name, (long)cred.pid, who);
		return -ESRCH;
	}
	return 0;
}

/* Parse "ERRNO CODE TEXT" (or an older daemon's "ERRNO TEXT") from `line`
 * into -errno and `reply`.  -EPROTO when it is no reply. */
static int reply_parse(char *line, struct control_reply *reply)
{
	int err = 0, off = 0;

	if (sscanf(line, "%d %n", &err, &off) < 1 || err < 0)
		return -EPROTO;
	char *rest = line + off;
	char *nl = strchr(rest, '\n');
	if (nl)
		*nl = '\0';
	const size_t word = strcspn(rest, " ");
	if (reason_parse(rest, word, &reply->code))
		rest += word + (rest[word] == ' ');
	else
		reply->code = err ? CONTROL_REASON_OTHER : CONTROL_REASON_NONE;
	/* an error always has a code: "none" with one is an odd daemon */
	if (err && reply->code == CONTROL_REASON_NONE)
		reply->code = CONTROL_REASON_OTHER;
	snprintf(reply->text, sizeof(reply->text), "%s", rest);
	return -err;
}

int control_request(const char *store_dir, enum control_op op,
		    const char *guest, unsigned flags,
		    struct control_reply *reply)
{
	return control_request_name(store_dir, op, guest, NULL, flags, reply);
}

/* A snapshot name that can travel as one word of a request line. */
static bool name_sendable(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > CONTROL_SNAPSHOT_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] <= ' ' || name[i] == 0x7f)
			return false;
	return true;
}

int control_request_name(const char *store_dir, enum control_op op,
			 const char *guest, const char *name, unsigned flags,
			 struct control_reply *reply)
{
	struct sockaddr_un addr;
	char sock_name[CONTROL_SOCKET_NAME_MAX];
	char *line = NULL;
	/* room for the longest reply (its text and the code before it) */
	const size_t line_size =
		CONTROL_LINE_MAX + sizeof(struct control_reply);
	struct control_reply *scratch = NULL;
	int dir_fd, fd = -1, ret;

	if (!reply) {
		scratch = malloc(sizeof(*scratch));
		if (!scratch)
			return -ENOMEM;
		reply = scratch;
	}
	reply->code = CONTROL_REASON_NONE;
	reply->text[0] = '\0';
	const bool no_guest = op == CONTROL_OP_COMMIT || op == CONTROL_OP_MOUNT;
	if ((!no_guest && !name_guest_valid(guest)) ||
	    op_takes_name(op) != (name != NULL) ||
	    (name && !name_sendable(name))) {
		free(scratch);
		return -EINVAL;
	}
	line = malloc(line_size);
	if (!line) {
		free(scratch);
		return -ENOMEM;
	}
	dir_fd = open(store_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0) {
		ret = -errno;
		free(line);
		free(scratch);
		return ret;
	}
	socket_name(dir_fd, sock_name);
	ret = socket_addr(store_dir, dir_fd, sock_name, &addr);
	if (ret)
		goto out_close;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		goto out_close;
	}
	/* Bounds connect (a full backlog) and the send. */
	struct timeval tv = {.tv_sec = CONTROL_CONNECT_TIMEOUT_MS / 1000};
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		ret = errno == ENOENT || errno == ECONNREFUSED	? -ENOTCONN
		      : errno == EAGAIN || errno == EINPROGRESS ? -ETIMEDOUT
								: -errno;
		goto out_close;
	}
	ret = server_check(fd, store_dir, dir_fd, sock_name, reply);
	if (ret)
		goto out_close;
	int n = snprintf(line, line_size, "%s %s %u%s%s\n", control_op_name(op),
			 no_guest ? "-" : guest, flags, name ? " " : "",
			 name ? name : "");
	if (n < 0 || send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
		ret = n >= 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
			      ? -ETIMEDOUT
			      : -EIO;
		goto out_close;
	}
	ret = read_line(fd, -1, line, line_size,
			now_ms() + CONTROL_REPLY_TIMEOUT_MS);
	if (ret == -ETIMEDOUT)
		goto out_close;
	ret = ret ? -EPROTO : reply_parse(line, reply);
out_close:
	if (fd >= 0)
		close(fd);
	close(dir_fd);
	free(line);
	free(scratch);
	return ret;
}
