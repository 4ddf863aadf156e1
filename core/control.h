/*
 * control.h -- the control socket: how `hangar` asks a running daemon to
 * change a store it holds.
 *
 * Two writers must never touch one container, so while hangarfs holds a
 * store's write lock the CLI does not open containers for writing; it sends
 * the request over STORE/.hangar-control (a Unix stream socket, mode 0600,
 * created by the lock holder, removed when it stops) and the daemon performs
 * it with the same store calls the CLI would have made, so results, errors
 * and reasons are identical mounted or not.
 *
 * Wire format (one request per connection, text, so it can be debugged with
 * socat):  request  "OP GUEST FLAGS\n"
 *          reply    "ERRNO REASON\n"   (ERRNO 0 on success, else positive)
 * OP is one of the control_op names below; GUEST is validated by the server
 * like any guest name; REASON is free text without a newline.
 *
 * Only the socket's owner and root may connect: the server checks the peer's
 * credentials (SO_PEERCRED) and answers EACCES otherwise.
 *
 * THREAD MODEL: the server runs one thread that accepts and serves
 * connections one at a time (requests are rare and short).  `control` is
 * owned by the caller of control_start; control_stop joins the thread.
 */
#ifndef HANGAR_CONTROL_H
#define HANGAR_CONTROL_H

#include <stddef.h>

struct store;
struct control;

#define CONTROL_SOCKET_NAME ".hangar-control"

enum control_op {
	CONTROL_OP_RESUME = 1,	/* save_lock_resume */
	CONTROL_OP_DISCARD = 2, /* save_lock_discard */
	CONTROL_OP_DELETE = 3,	/* store_guest_delete; flags: FORCE */
	CONTROL_OP_CREATE = 4,	/* store_guest_create; flags: COMPRESS */
	CONTROL_OP_COMMIT = 5,	/* store_commit_all (GUEST ignored, "-") */
};

#define CONTROL_FLAG_FORCE    1u
#define CONTROL_FLAG_COMPRESS 2u

/* control_op_name - "resume", "discard", "delete", "create", "commit". */
const char *control_op_name(enum control_op op);

/*
 * control_start - serve requests for `s` (whose directory is store_dir(s))
 * until control_stop.  The store must be open for writing.  Returns 0,
 * -ENAMETOOLONG, or the socket/bind/thread error.
 */
int control_start(struct store *s, struct control **out_control);

/* control_stop - stop serving, remove the socket, free.  Accepts NULL. */
void control_stop(struct control *ctl);

/*
 * control_request - send one request to the daemon serving `store_dir`.
 * Returns the daemon's answer (0 or -errno) with its sentence in `reason`
 * (may be NULL; the daemon always sends one with an error), or -ENOTCONN
 * when nobody serves the store (no socket, or a stale one).
 * Every change the daemon makes is durable before it answers (the save-lock
 * transitions commit; guest create and delete sync the directory).
 */
int control_request(const char *store_dir, enum control_op op,
		    const char *guest, unsigned flags, char *reason,
		    size_t reason_len);

#endif /* HANGAR_CONTROL_H */
