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
 * socat):  request  "OP GUEST FLAGS\n", or "OP GUEST FLAGS NAME\n" for the
 *                   snapshot requests and UNPIN (NAME: the snapshot's)
 *          reply    "ERRNO CODE TEXT\n"   (ERRNO 0 on success, else positive)
 * OP is one of the control_op names below; GUEST is validated by the server
 * like any guest name, NAME by core (container_snapshot_*: -EINVAL).  CODE is the reply's reason as a word
 * (control_reason_name: "save-locked", "guest-busy", ...; "none" on
 * success) and TEXT the sentence a person reads (for CONTROL_OP_MOUNT, the
 * answer itself), free text without a newline.  Programs branch on ERRNO
 * and CODE, never on TEXT.  An older daemon's reply ("ERRNO TEXT", no code)
 * is still read: its first word is no code name, so the whole rest is the
 * sentence and the code CONTROL_REASON_OTHER (both programs ship together;
 * this only keeps a mount made before an upgrade usable).
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

/* The socket in the store directory: CONTROL_SOCKET_NAME on a local
 * filesystem; CONTROL_SOCKET_NAME "." HOSTNAME on one that several hosts
 * share (CephFS, NFS, SMB, FUSE), so each host's daemon has its own and
 * `hangar` reaches the one of its host (docs/multihost.md). */
#define CONTROL_SOCKET_NAME	".hangar-control"
#define CONTROL_SOCKET_NAME_MAX 96

/* control_socket_name - the socket's name for store `store_dir` on this
 * host (for messages; both ends compute it the same way). */
void control_socket_name(const char *store_dir, char *out, size_t len);

enum control_op {
	CONTROL_OP_RESUME = 1,	/* save_lock_resume */
	CONTROL_OP_DISCARD = 2, /* save_lock_discard */
	CONTROL_OP_DELETE = 3,	/* store_guest_delete; flags: FORCE */
	CONTROL_OP_CREATE = 4,	/* store_guest_create; flags: COMPRESS */
	CONTROL_OP_COMMIT = 5,	/* store_commit_all (GUEST ignored, "-") */
	CONTROL_OP_MOUNT = 6,	/* where the daemon mounts the store (GUEST
				   "-"): REASON is "MAJOR:MINOR PATH", the
				   mount's device and its mount point */
	/* Snapshots (container.h), NAME given: */
	CONTROL_OP_SNAPSHOT_CREATE = 7, /* container_snapshot_create */
	CONTROL_OP_SNAPSHOT_DELETE = 8, /* container_snapshot_delete */
	CONTROL_OP_ROLLBACK = 9,	/* container_snapshot_rollback */
	/* container_snapshot_list (no NAME): TEXT is the list, read it with
	 * control_snapshot_list_parse */
	CONTROL_OP_SNAPSHOT_LIST = 10,
	/* Pins (container.h, "Pins"): PIN takes one for the client, named
	 * after the client's PID as the kernel reports it (SO_PEERCRED), and
	 * answers its name as TEXT; UNPIN (NAME given: a pin's name) deletes
	 * it.  Neither asks for the extra commit of cli_control: the pin's
	 * own commit is durable before the answer. */
	CONTROL_OP_PIN = 11,
	CONTROL_OP_UNPIN = 12,
	CONTROL_OP_ACQUIRE = 13, /* store_guest_acquire */
	CONTROL_OP_RELEASE = 14, /* store_guest_release */
};

/*
 * Why a request failed, next to the sentence (struct control_reply).  Every
 * error reply carries a code other than NONE, so NONE with an error means
 * nobody answered.
 */
enum control_reason {
	CONTROL_REASON_NONE = 0,	  /* success, or no reply at all */
	CONTROL_REASON_ERRNO = 1,	  /* the store call failed; TEXT is
					strerror's words, nothing more */
	CONTROL_REASON_NO_GUEST = 2,	  /* no guest of that name (-ENOENT) */
	CONTROL_REASON_SAVE_LOCKED = 3,	  /* delete refused: a saved memory
					   image pins the disks (-EBUSY) */
	CONTROL_REASON_GUEST_BUSY = 4,	  /* delete refused: files open on the
					   mount (-EBUSY) */
	CONTROL_REASON_UNREADABLE = 5,	  /* the guest's container cannot be
					   opened (corrupt, newer format, key:
					   its open error) */
	CONTROL_REASON_NOT_RESUMABLE = 6, /* resume refused; TEXT is the save
					     lock's sentence (-ENOENT: nothing
					     saved, -ESTALE: stale, ...) */
	CONTROL_REASON_BAD_REQUEST = 7,	  /* malformed or too long */
	CONTROL_REASON_BAD_NAME = 8,	  /* invalid guest name (-EINVAL) */
	CONTROL_REASON_DENIED = 9,	  /* the client is neither root nor
					     the daemon's user (-EACCES) */
	CONTROL_REASON_OVERLOADED = 10,	  /* too many clients, or out of
					   resources: retry (-EBUSY,
					   -EAGAIN) */
	CONTROL_REASON_NO_MOUNT = 11,	  /* CONTROL_OP_MOUNT: the daemon does
					   not know its mount point */
	CONTROL_REASON_IMPOSTOR = 12,	  /* client side: the socket's server is
					   not the store's daemon (-ESRCH) */
	CONTROL_REASON_OTHER = 13,	  /* a code this client does not know
					   (an older daemon) */
	CONTROL_REASON_NO_SNAPSHOT = 14,  /* no snapshot of that name
					      (-ENOENT) */
	CONTROL_REASON_SNAPSHOT_OPEN = 15, /* snapshot delete refused: a file
					      of it is open on the mount
					      (-EBUSY) */
	CONTROL_REASON_PINNED = 16,	   /* snapshot delete refused: it is
					      the pin of a reader that is
					      alive (-EBUSY) */
};

/* What the daemon answered, besides the errno.  Room for the longest
 * answer: CONTROL_OP_SNAPSHOT_LIST with 256 snapshots of 64-byte names. */
struct control_reply {
	enum control_reason code;
	char text[40960]; /* the sentence, or the answer of CONTROL_OP_MOUNT
			     or CONTROL_OP_SNAPSHOT_LIST */
};

#define CONTROL_CLIENTS_MAX	   32
#define CONTROL_REQUEST_TIMEOUT_MS 5000
#define CONTROL_CONNECT_TIMEOUT_MS 5000
#define CONTROL_REPLY_TIMEOUT_MS   300000 /* a commit of a big store */

/* The mount a daemon serves, for CONTROL_OP_MOUNT, and what it wants to
 * hear about the changes requests make. */
struct control_mount {
	const char *path; /* absolute mount point, no newline (copied);
			     NULL: unknown (CONTROL_OP_MOUNT: ENOENT) */
	dev_t dev;	  /* st_dev of the mount's root */
	/* Called (may be NULL) after a request succeeded that changed guest
	 * `guest`: CREATE, DELETE, RESUME, DISCARD, SNAPSHOT_CREATE,
	 * SNAPSHOT_DELETE, ROLLBACK, PIN and UNPIN (`name`: the snapshot's
	 * or pin's, else NULL),
	 * on the serving thread, with no lock of the store or the control
	 * held, before the client gets its answer: so the mount can drop
	 * what its kernel cached of that guest. */
	void (*changed)(void *arg, enum control_op op, const char *guest,
			const char *name);
	void *changed_arg;
};

#define CONTROL_FLAG_FORCE    1u
#define CONTROL_FLAG_COMPRESS 2u

/* control_reason_name - the reason's word on the wire: "none", "errno",
 * "no-guest", "save-locked", "guest-busy", ... */
const char *control_reason_name(enum control_reason code);

/*
 * control_start - serve requests for `s` (whose directory is store_dir(s))
 * until control_stop.  The store must be open for writing.  `mount` (may be
 * NULL: CONTROL_OP_MOUNT then answers ENOENT, and nobody hears of changes)
 * is copied.  Returns 0,
 * -ENAMETOOLONG, or the socket/bind/thread error.
 */
int control_start(struct store *s, const struct control_mount *mount,
		  struct control **out_control);

/* control_stop - stop serving, remove the socket, free.  Accepts NULL. */
void control_stop(struct control *ctl);

/*
 * control_snapshot_list_parse - the snapshots in a CONTROL_OP_SNAPSHOT_LIST
 * answer (`text`), oldest first; *out freed by the caller with free().
 * -EPROTO when it is no list.
 */
struct snapshot_info;
int control_snapshot_list_parse(const char *text, struct snapshot_info **out,
				size_t *out_num);

/*
 * control_request - send one request to the daemon serving `store_dir`.
 * Returns the daemon's answer (0 or -errno) with its reason code and
 * sentence in `reply` (may be NULL; an error reply always has a code),
 * -ENOTCONN when nobody serves the store (no socket, or a stale one; code
 * NONE), -ESRCH (CONTROL_REASON_IMPOSTOR, with a sentence saying who) when
 * the socket is served by a process other than the store's lock holder or
 * by a user other than root or the store's owner (nothing was sent),
 * -ETIMEDOUT when the daemon did not answer in time (code NONE).
 * Every change the daemon makes is durable before it answers (the save-lock
 * transitions commit; guest create and delete sync the directory).
 */
int control_request(const char *store_dir, enum control_op op,
		    const char *guest, unsigned flags,
		    struct control_reply *reply);

/* control_request_name - control_request for the snapshot requests, with
 * the snapshot's `name` (-EINVAL before anything is sent when it is empty,
 * longer than 64 bytes or holds a space or control character). */
int control_request_name(const char *store_dir, enum control_op op,
			 const char *guest, const char *name, unsigned flags,
			 struct control_reply *reply);

#endif /* HANGAR_CONTROL_H */
