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
 * credentials (SO_PEERCRED) and answers EACCES otherwise.  The client checks
 * the server's in turn (any process that can write the store directory
 * could bind a socket there): it talks only to a server whose PID is the
 * store's lock holder (store_lock_holder) and whose uid is root or the
 * store directory's owner, and refuses any other with -ESRCH.
 *
 * Time limits.  The server reads a request for at most
 * CONTROL_REQUEST_TIMEOUT_MS in all (an idle or trickling client is cut off
 * then, without a reply) and needs its newline: a request whose client
 * closed the connection before sending it whole is never carried out, nor
 * is one whose client hung up (died, timed out) before the server got to
 * it.  The client waits CONTROL_CONNECT_TIMEOUT_MS to connect and send and
 * CONTROL_REPLY_TIMEOUT_MS for the answer (-ETIMEDOUT; the request may then
 * have been carried out or not).
 *
 * THREAD MODEL: one thread accepts; each connection is served by a thread of
 * its own (at most CONTROL_CLIENTS_MAX at once; more are answered EBUSY at
 * once), so a slow or hostile client never delays another.  An accept that
 * fails for lack of descriptors or memory backs off instead of spinning.
 * `control` is owned by the caller of control_start; control_stop stops the
 * acceptor, cuts off every client and waits for the serving threads.
 */
#ifndef HANGAR_CONTROL_H
#define HANGAR_CONTROL_H

#include <stddef.h>
#include <sys/types.h>

struct store;
struct control;

#define CONTROL_SOCKET_NAME ".hangar-control"

enum control_op {
	CONTROL_OP_RESUME = 1,	/* save_lock_resume */
	CONTROL_OP_DISCARD = 2, /* save_lock_discard */
	CONTROL_OP_DELETE = 3,	/* store_guest_delete; flags: FORCE */
	CONTROL_OP_CREATE = 4,	/* store_guest_create; flags: COMPRESS */
	CONTROL_OP_COMMIT = 5,	/* store_commit_all (GUEST ignored, "-") */
	CONTROL_OP_MOUNT = 6,	/* where the daemon mounts the store (GUEST
				   "-"): REASON is "MAJOR:MINOR PATH", the
				   mount's device and its mount point */
};

#define CONTROL_CLIENTS_MAX	   32
#define CONTROL_REQUEST_TIMEOUT_MS 5000
#define CONTROL_CONNECT_TIMEOUT_MS 5000
#define CONTROL_REPLY_TIMEOUT_MS   300000 /* a commit of a big store */

/* The mount a daemon serves, for CONTROL_OP_MOUNT. */
struct control_mount {
	const char *path; /* absolute mount point, no newline (copied) */
	dev_t dev;	  /* st_dev of the mount's root */
};

#define CONTROL_FLAG_FORCE    1u
#define CONTROL_FLAG_COMPRESS 2u

/*
 * control_start - serve requests for `s` (whose directory is store_dir(s))
 * until control_stop.  The store must be open for writing.  `mount` (may be
 * NULL: CONTROL_OP_MOUNT then answers ENOENT) is copied.  Returns 0,
 * -ENAMETOOLONG, or the socket/bind/thread error.
 */
int control_start(struct store *s, const struct control_mount *mount,
		  struct control **out_control);

/* control_stop - stop serving, remove the socket, free.  Accepts NULL. */
void control_stop(struct control *ctl);

/*
 * control_request - send one request to the daemon serving `store_dir`.
 * Returns the daemon's answer (0 or -errno) with its sentence in `reason`
 * (may be NULL; the daemon always sends one with an error), -ENOTCONN
 * when nobody serves the store (no socket, or a stale one), -ESRCH (with a
 * sentence saying who) when the socket is served by a process other than
 * the store's lock holder or by a user other than root or the store's
 * owner (nothing was sent), -ETIMEDOUT when the daemon did not answer in
 * time.
 * Every change the daemon makes is durable before it answers (the save-lock
 * transitions commit; guest create and delete sync the directory).
 */
int control_request(const char *store_dir, enum control_op op,
		    const char *guest, unsigned flags, char *reason,
		    size_t reason_len);

#endif /* HANGAR_CONTROL_H */
