/*
 * test_control.c -- the control socket end to end on real Unix sockets:
 * every operation, its refusals with their typed reasons (the code next to
 * the sentence), a store path longer than sun_path, a reply from an older
 * daemon (no code), and a stopped server.
 */
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hangar/control.h"
#include "harness.h"
#include "hangar/savelock.h"
#include "hangar/store.h"

/* A socket served by another process than the store's lock holder (us):
 * the client refuses it, sending nothing. */
static void fake_server(const char *sdir, const char *sock)
{
	struct control_reply reply;
	int ready[2];
	CHECK_EQ(pipe(ready), 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct sockaddr_un addr = {.sun_family = AF_UNIX};
		snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock);
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
		    listen(fd, 1) != 0)
			_exit(1);
		(void)!write(ready[1], "r", 1);
		int c = accept(fd, NULL, NULL);
		char buf[64];
		/* a request would be answered "0" */
		if (c >= 0 && read(c, buf, sizeof(buf)) > 0)
			(void)!write(c, "0 ok\n", 5);
		_exit(0);
	}
	char b;
	CHECK_EQ(read(ready[0], &b, 1), 1);
	CHECK_ERR(control_request(sdir, CONTROL_OP_CREATE, "fake", 0, &reply),
		  -ESRCH);
	CHECK(strstr(reply.text, "refusing to talk to it") != NULL);
	CHECK_EQ(reply.code, CONTROL_REASON_IMPOSTOR);
	CHECK(strstr(reply.text, "lock") != NULL);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unlink(sock);
	close(ready[0]);
	close(ready[1]);
}

/* A daemon of an older version (the store's lock holder, so believed)
 * answers "ERRNO TEXT" without a code: the sentence is read whole, the
 * code is OTHER.  `answer` is its reply line. */
static void legacy_server(const char *sdir, const char *sock,
			  const char *answer, int want_err,
			  enum control_reason want_code, const char *want_text)
{
	struct control_reply reply;
	int ready[2];
	CHECK_EQ(pipe(ready), 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct store_options so = {TEST_MAP_CACHE};
		struct store *s = NULL;
		struct sockaddr_un addr = {.sun_family = AF_UNIX};
		snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock);
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (store_open(sdir, &so, &s) != 0 ||
		    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
		    listen(fd, 1) != 0)
			_exit(1);
		(void)!write(ready[1], "r", 1);
		int c = accept(fd, NULL, NULL);
		char buf[64];
		if (c >= 0 && read(c, buf, sizeof(buf)) > 0)
			(void)!write(c, answer, strlen(answer));
		_exit(0);
	}
	char b;
	CHECK_EQ(read(ready[0], &b, 1), 1);
	CHECK_ERR(control_request(sdir, CONTROL_OP_DELETE, "web01", 0, &reply),
		  want_err);
	CHECK_EQ(reply.code, want_code);
	CHECK(strcmp(reply.text, want_text) == 0);
	waitpid(pid, NULL, 0);
	unlink(sock);
	close(ready[0]);
	close(ready[1]);
}

/* The snapshot requests: names, reasons, the list's wire form. */
static void snapshots(const char *sdir, struct store *s)
{
	struct control_reply reply;
	struct snapshot_info *list = NULL;
	struct container *c = NULL, *view = NULL;
	size_t num = 0;
	uint64_t id;

	CHECK_ERR(control_request_name(sdir, CONTROL_OP_SNAPSHOT_CREATE,
				       "web01", NULL, 0, &reply),
		  -EINVAL);
	CHECK_ERR(control_request_name(sdir, CONTROL_OP_SNAPSHOT_CREATE,
				       "web01", "a b", 0, &reply),
		  -EINVAL);
	CHECK_ERR(control_request_name(sdir, CONTROL_OP_SNAPSHOT_CREATE,
				       "web01", ".x", 0, &reply),
		  -EINVAL);
	CHECK_EQ(reply.code, CONTROL_REASON_BAD_NAME);
	CHECK_OK(control_request_name(sdir, CONTROL_OP_SNAPSHOT_CREATE, "web01",
				      "s1", 0, &reply));
	CHECK_ERR(control_request_name(sdir, CONTROL_OP_SNAPSHOT_CREATE,
				       "web01", "s1", 0, &reply),
		  -EEXIST);
	CHECK_OK(control_request_name(sdir, CONTROL_OP_SNAPSHOT_CREATE, "web01",
				      "s2", 0, &reply));
	CHECK_ERR(control_request_name(sdir, CONTROL_OP_SNAPSHOT_CREATE,
				       "nosuch", "s1", 0, &reply),
		  -ENOENT);
	CHECK_EQ(reply.code, CONTROL_REASON_NO_GUEST);
	CHECK_OK(control_request(sdir, CONTROL_OP_SNAPSHOT_LIST, "web01", 0,
				 &reply));
	CHECK_OK(control_snapshot_list_parse(reply.text, &list, &num));
	CHECK_EQ(num, 2);
	CHECK(strcmp(list[0].name, "s1") == 0);
	CHECK(strcmp(list[1].name, "s2") == 0);
	CHECK(list[0].created.tv_sec > 0 && list[0].id && list[0].generation);
	free(list);
	CHECK_ERR(control_request_name(sdir, CONTROL_OP_ROLLBACK, "web01",
				       "nosuch", 0, &reply),
		  -ENOENT);
	CHECK_EQ(reply.code, CONTROL_REASON_NO_SNAPSHOT);
	/* an open view keeps its snapshot, an open file the guest */
	CHECK_OK(store_guest_get(s, "web01", &c));
	CHECK_OK(container_snapshot_open(c, "s1", &view));
	CHECK_ERR(control_request_name(sdir, CONTROL_OP_SNAPSHOT_DELETE,
				       "web01", "s1", 0, &reply),
		  -EBUSY);
	CHECK_EQ(reply.code, CONTROL_REASON_SNAPSHOT_OPEN);
	container_snapshot_close(c, view);
	CHECK_OK(object_lookup(c, "disk.raw", &id));
	CHECK_OK(object_open(c, id, false));
	CHECK_ERR(control_request_name(sdir, CONTROL_OP_ROLLBACK, "web01", "s1",
				       0, &reply),
		  -EBUSY);
	CHECK_EQ(reply.code, CONTROL_REASON_GUEST_BUSY);
	object_release(c, id, false);
	store_guest_put(s, c);
	CHECK_OK(control_request_name(sdir, CONTROL_OP_ROLLBACK, "web01", "s1",
				      0, &reply));
	CHECK_OK(control_request_name(sdir, CONTROL_OP_SNAPSHOT_DELETE, "web01",
				      "s1", 0, &reply));
	CHECK_OK(control_request_name(sdir, CONTROL_OP_SNAPSHOT_DELETE, "web01",
				      "s2", 0, &reply));
	CHECK_OK(control_request(sdir, CONTROL_OP_SNAPSHOT_LIST, "web01", 0,
				 &reply));
	CHECK_OK(control_snapshot_list_parse(reply.text, &list, &num));
	CHECK_EQ(num, 0);
	free(list);
	/* the wire form is checked */
	CHECK_ERR(control_snapshot_list_parse("s1", &list, &num), -EPROTO);
	CHECK_ERR(control_snapshot_list_parse("s1/1/2/3", &list, &num),
		  -EPROTO);
	CHECK_ERR(control_snapshot_list_parse("/1/2/3/4", &list, &num),
		  -EPROTO);
	CHECK_OK(control_snapshot_list_parse("a/1/2/3/4 b/5/6/7/8", &list,
					     &num));
	CHECK_EQ(num, 2);
	CHECK_EQ(list[1].generation, 6);
	free(list);
}

/* Pins: named after the client's PID, read beside the writer, refused to
 * a user's delete while we live, reserved names refused, dropped. */
static void pins(const char *sdir, struct store *s)
{
	struct control_reply reply;
	struct snapshot_info *list = NULL;
	struct container *gc = NULL, *view = NULL;
	char want[72], name[72];
	size_t num = 0;
	uint64_t id;

	CHECK_OK(control_request(sdir, CONTROL_OP_PIN, "web01", 0, &reply));
	snprintf(want, sizeof(want), "hangar-pin-%ld-1", (long)getpid());
	CHECK(strcmp(reply.text, want) == 0);
	snprintf(name, sizeof(name), "%s", want);
	CHECK_OK(store_snapshot_open_beside(s, "web01", name, &gc, &view));
	CHECK_OK(object_lookup(view, "disk.raw", &id));
	store_snapshot_close_beside(gc, view);
	CHECK_ERR(store_snapshot_open_beside(s, "web01", "nosuch", &gc, &view),
		  -ENOENT);
	CHECK_ERR(control_request_name(sdir, CONTROL_OP_SNAPSHOT_DELETE,
				       "web01", name, 0, &reply),
		  -EBUSY);
	CHECK_EQ(reply.code, CONTROL_REASON_PINNED);
	CHECK_ERR(control_request_name(sdir, CONTROL_OP_SNAPSHOT_CREATE,
				       "web01", "hangar-pin-1-1", 0, &reply),
		  -EINVAL);
	CHECK_EQ(reply.code, CONTROL_REASON_BAD_NAME);
	CHECK_ERR(control_request_name(sdir, CONTROL_OP_UNPIN, "web01",
				       "nightly", 0, &reply),
		  -EINVAL);
	CHECK_EQ(reply.code, CONTROL_REASON_BAD_NAME);
	CHECK_OK(control_request_name(sdir, CONTROL_OP_UNPIN, "web01", name, 0,
				      &reply));
	CHECK_OK(control_request(sdir, CONTROL_OP_SNAPSHOT_LIST, "web01", 0,
				 &reply));
	CHECK_OK(control_snapshot_list_parse(reply.text, &list, &num));
	CHECK_EQ(num, 0);
	free(list);
}

static void run(const char *sdir)
{
	struct store *s = NULL;
	struct store_options so = {TEST_MAP_CACHE};
	struct control *ctl = NULL;
	struct container *c = NULL;
	struct control_reply reply;
	uint64_t id;

	CHECK_OK(store_init(sdir, NULL));
	CHECK_OK(store_open(sdir, &so, &s));
	CHECK_OK(control_start(s, NULL, &ctl));
	struct stat st;
	char *sock = test_path(sdir, CONTROL_SOCKET_NAME);
	CHECK_EQ(stat(sock, &st), 0);
	CHECK(S_ISSOCK(st.st_mode));
	CHECK_EQ(st.st_mode & 077, 0);

	CHECK_OK(control_request(sdir, CONTROL_OP_CREATE, "web01", 0, &reply));
	CHECK_ERR(control_request(sdir, CONTROL_OP_CREATE, "web01", 0, &reply),
		  -EEXIST);
	CHECK_EQ(reply.code, CONTROL_REASON_ERRNO);
	CHECK_ERR(control_request(sdir, CONTROL_OP_CREATE, "../x", 0, &reply),
		  -EINVAL);
	CHECK_ERR(control_request(sdir, CONTROL_OP_RESUME, "web01", 0, &reply),
		  -ENOENT);
	CHECK(strstr(reply.text, "no saved memory image") != NULL);
	CHECK_EQ(reply.code, CONTROL_REASON_NOT_RESUMABLE);
	CHECK_ERR(control_request(sdir, CONTROL_OP_RESUME, "nosuch", 0, &reply),
		  -ENOENT);
	CHECK_EQ(reply.code, CONTROL_REASON_NO_GUEST);
	CHECK_ERR(control_request(sdir, CONTROL_OP_DELETE, "nosuch", 0, &reply),
		  -ENOENT);
	CHECK_EQ(reply.code, CONTROL_REASON_NO_GUEST);
	CHECK(strstr(reply.text, "no guest named nosuch") != NULL);

	/* a saved guest, made through the daemon's own store */
	CHECK_OK(store_guest_get(s, "web01", &c));
	CHECK_OK(object_create(c, "disk.raw", 0600, 0, 0, &id));
	CHECK_OK(object_write(c, id, "data", 4, 0));
	CHECK_OK(object_create(c, SAVE_IMAGE_NAME, 0600, 0, 0, &id));
	CHECK_OK(object_write(c, id, "state", 5, 0));
	CHECK_OK(save_lock_seal(c));
	store_guest_put(s, c);
	CHECK_ERR(control_request(sdir, CONTROL_OP_DELETE, "web01", 0, &reply),
		  -EBUSY);
	CHECK(strstr(reply.text, "saved memory image") != NULL);
	CHECK_EQ(reply.code, CONTROL_REASON_SAVE_LOCKED);
	CHECK_OK(control_request(sdir, CONTROL_OP_RESUME, "web01", 0, &reply));
	CHECK_OK(store_guest_get(s, "web01", &c));
	struct save_status ss;
	CHECK_OK(save_lock_status(c, &ss));
	CHECK_EQ(ss.state, SAVE_STATE_RESUMING);
	store_guest_put(s, c);
	CHECK_OK(control_request(sdir, CONTROL_OP_DISCARD, "web01", 0, &reply));
	CHECK_OK(control_request(sdir, CONTROL_OP_COMMIT, NULL, 0, &reply));
	snapshots(sdir, s);
	pins(sdir, s);
	/* a file open on the mount keeps the guest */
	CHECK_OK(store_guest_get(s, "web01", &c));
	CHECK_ERR(control_request(sdir, CONTROL_OP_DELETE, "web01", 0, &reply),
		  -EBUSY);
	CHECK_EQ(reply.code, CONTROL_REASON_GUEST_BUSY);
	store_guest_put(s, c);
	CHECK_OK(control_request(sdir, CONTROL_OP_DELETE, "web01", 0, &reply));
	CHECK_ERR(store_guest_get(s, "web01", &c), -ENOENT);

	/* the daemon reports its mount (none given here) */
	CHECK_ERR(control_request(sdir, CONTROL_OP_MOUNT, NULL, 0, &reply),
		  -ENOENT);
	CHECK_EQ(reply.code, CONTROL_REASON_NO_MOUNT);

	control_stop(ctl);
	CHECK(stat(sock, &st) != 0);
	int r = control_request(sdir, CONTROL_OP_COMMIT, NULL, 0, NULL);
	CHECK_ERR(r, -ENOTCONN);
	if (strlen(sock) < sizeof(((struct sockaddr_un *)0)->sun_path))
		fake_server(sdir, sock);
	CHECK_OK(store_close(s));
	if (strlen(sock) < sizeof(((struct sockaddr_un *)0)->sun_path)) {
		legacy_server(sdir, sock,
			      "16 web01 has a saved memory image; resume\n",
			      -EBUSY, CONTROL_REASON_OTHER,
			      "web01 has a saved memory image; resume");
		legacy_server(sdir, sock, "16 save-locked web01 is saved\n",
			      -EBUSY, CONTROL_REASON_SAVE_LOCKED,
			      "web01 is saved");
		legacy_server(sdir, sock, "0 \n", 0, CONTROL_REASON_NONE, "");
	}
	free(sock);
}

int main(void)
{
	char *dir = test_tmpdir_new();
	char *sdir = test_path(dir, "store");
	run(sdir);
	/* a store path longer than a socket path may be */
	char *deep = strdup(dir);
	for (int i = 0; i < 4; i++) {
		char *next = test_path(deep, "a-rather-long-directory-name-x");
		CHECK_EQ(mkdir(next, 0700), 0);
		free(deep);
		deep = next;
	}
	CHECK(strlen(deep) > 110);
	run(deep);
	free(deep);
	free(sdir);
	test_tmpdir_remove(dir);
	printf("test_control: ok\n");
	return 0;
}
