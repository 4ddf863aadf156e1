/*
 * test_control.c -- the control socket end to end on real Unix sockets:
 * every operation, its refusals and reasons, a store path longer than
 * sun_path, and a stopped server.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "harness.h"
#include "savelock.h"
#include "store.h"

static void run(const char *sdir)
{
	struct store *s = NULL;
	struct store_options so = {0};
	struct control *ctl = NULL;
	struct container *c = NULL;
	char reason[512];
	uint64_t id;

	CHECK_OK(store_init(sdir, NULL));
	CHECK_OK(store_open(sdir, &so, &s));
	CHECK_OK(control_start(s, &ctl));
	struct stat st;
	char *sock = test_path(sdir, CONTROL_SOCKET_NAME);
	CHECK_EQ(stat(sock, &st), 0);
	CHECK(S_ISSOCK(st.st_mode));
	CHECK_EQ(st.st_mode & 077, 0);

	CHECK_OK(control_request(sdir, CONTROL_OP_CREATE, "web01", 0, reason,
				 sizeof(reason)));
	CHECK_ERR(control_request(sdir, CONTROL_OP_CREATE, "web01", 0, reason,
				  sizeof(reason)),
		  -EEXIST);
	CHECK_ERR(control_request(sdir, CONTROL_OP_CREATE, "../x", 0, reason,
				  sizeof(reason)),
		  -EINVAL);
	CHECK_ERR(control_request(sdir, CONTROL_OP_RESUME, "web01", 0, reason,
				  sizeof(reason)),
		  -ENOENT);
	CHECK(strstr(reason, "no saved memory image") != NULL);

	/* a saved guest, made through the daemon's own store */
	CHECK_OK(store_guest_get(s, "web01", &c));
	CHECK_OK(object_create(c, "disk.raw", 0600, 0, 0, &id));
	CHECK_OK(object_write(c, id, "data", 4, 0));
	CHECK_OK(object_create(c, SAVE_IMAGE_NAME, 0600, 0, 0, &id));
	CHECK_OK(object_write(c, id, "state", 5, 0));
	CHECK_OK(save_lock_seal(c));
	store_guest_put(s, c);
	CHECK_ERR(control_request(sdir, CONTROL_OP_DELETE, "web01", 0, reason,
				  sizeof(reason)),
		  -EBUSY);
	CHECK(strstr(reason, "saved memory image") != NULL);
	CHECK_OK(control_request(sdir, CONTROL_OP_RESUME, "web01", 0, reason,
				 sizeof(reason)));
	CHECK_OK(store_guest_get(s, "web01", &c));
	struct save_status ss;
	CHECK_OK(save_lock_status(c, &ss));
	CHECK_EQ(ss.state, SAVE_STATE_RESUMING);
	store_guest_put(s, c);
	CHECK_OK(control_request(sdir, CONTROL_OP_DISCARD, "web01", 0, reason,
				 sizeof(reason)));
	CHECK_OK(control_request(sdir, CONTROL_OP_COMMIT, NULL, 0, reason,
				 sizeof(reason)));
	/* a file open on the mount keeps the guest */
	CHECK_OK(store_guest_get(s, "web01", &c));
	CHECK_ERR(control_request(sdir, CONTROL_OP_DELETE, "web01", 0, reason,
				  sizeof(reason)),
		  -EBUSY);
	store_guest_put(s, c);
	CHECK_OK(control_request(sdir, CONTROL_OP_DELETE, "web01", 0, reason,
				 sizeof(reason)));
	CHECK_ERR(store_guest_get(s, "web01", &c), -ENOENT);

	control_stop(ctl);
	CHECK(stat(sock, &st) != 0);
	int r = control_request(sdir, CONTROL_OP_COMMIT, NULL, 0, NULL, 0);
	CHECK_ERR(r, -ENOTCONN);
	CHECK_OK(store_close(s));
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
