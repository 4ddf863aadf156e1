/*
 * hangarfs.h -- what the files of fs/ share: the mount's global state, the
 * node table, open-file handles, logging and the one errno mapping.
 *
 * Notes on the design
 * -------------------
 * hangarfs is a low-level libfuse3 file system over core/.  The mount root
 * lists the store's guests; each guest is a directory whose entries are the
 * objects of that guest's container (regular files only), plus a hidden
 * `.snapshots` directory (snapdir.c): one read-only directory per snapshot
 * of the guest, holding its files as of that snapshot.
 *
 *  - FUSE node ids are handles into our own runtime table (nodes.c); they
 *    are never reused while the daemon runs, so the generation is always 0.
 *    st_ino is a different, stable number (attr.c, "Inode numbers").
 *  - A guest node does NOT keep its container open.  A request takes a
 *    reference (HFS_REQ_CONTAINER: guest_acquire) and drops it at its end,
 *    before it replies, so the kernel's cached dentries (or its next
 *    request) never find a guest "in use" for rmdir/rename.
 *    An open file handle keeps its reference until release.
 *  - On a read-only mount, a guest that a read-write mount of the store
 *    has open is served from a pin (pin.c): guest_acquire hands out the
 *    pin's read-only view in place of the guest's container, so every op
 *    reads that one committed state; guest_release gives it back.
 *  - Every low-level op replies exactly once, and reads the same way: a
 *    request (struct hfs_req, req.c) resolves the node, checks its kind and
 *    the read-only mount, takes the guest's container, and replies itself
 *    when any of that fails; its end drops what it took and replies the
 *    op's error.  Errors from core are negative errnos; hfs_errno() is the
 *    only place they become FUSE errors.
 *
 * THREAD MODEL: ops run on libfuse's worker threads (fuse_session_loop_mt).
 * `struct hfs` is written only before the session loop starts and is read-only
 * afterwards.  Node fields are protected as noted in struct node (the node
 * table mutex); handles are owned by one open file and libfuse never runs
 * release concurrently with another op on the same handle.
 */
#ifndef HANGAR_FS_HANGARFS_H
#define HANGAR_FS_HANGARFS_H

#define FUSE_USE_VERSION 314

#include <fuse_lowlevel.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "hangar/container.h"
#include "hangar/names.h"
#include "hangar/control.h"
#include "secret.h"
#include "hangar/store.h"

/* Longest guest name (names.h: 1..64 bytes) plus NUL. */
#define HFS_GUEST_NAME_MAX (NAME_GUEST_MAX + 1)
/* Longest object name plus NUL. */
#define HFS_OBJECT_NAME_MAX (NAME_OBJECT_MAX + 1)
/* Longest snapshot name (container.h: 1..64 bytes) plus NUL. */
#define HFS_SNAPSHOT_NAME_MAX 65
/* The directory of snapshots inside every guest directory (snapdir.c). */
#define HFS_SNAPSHOTS_DIR ".snapshots"

/* The mount.  Set up by main.c before the session loop, then read-only. */
struct hfs {
	struct store *store;
	const char *store_path; /* absolute path of the store directory */
	int store_fd;		/* O_DIRECTORY descriptor of the store */
	bool read_only;		/* -o ro: the whole store is read-only */
	unsigned cluster_size;	/* reported as st_blksize */
	double attr_timeout;	/* seconds the kernel may cache attributes */
	double entry_timeout;	/* seconds the kernel may cache a name */
	struct fuse_session *se;
	struct pins *pins; /* -o ro: guests the writer has open (pin.c); set
			      before the session loop, cleared after it */
};

/* ---- log.c --------------------------------------------------------------- */

/* Where log lines go: chosen once by log_open (log.c says how). */
struct log_options {
	bool foreground;      /* -f: stderr unless it is the journal stream */
	const char *log_file; /* -o log_file=PATH, or NULL */
	const char *store;    /* the store directory: STORE= in the journal */
};

/*
 * log_open - choose where log lines go (the journal, stderr, syslog, and
 * the log file too) and open the log file.  Until it is called, lines go
 * to stderr.  Prints a warning when a daemon has no log socket and no log
 * file (its lines then stay on stderr).  0, or -errno opening the log file
 * (nothing else changed).  `o->store` must outlive the log.
 */
int log_open(const struct log_options *o);

/* log_keeps_stderr - whether lines go to stderr, which a daemon must then
 * keep instead of /dev/null (daemon.c). */
bool log_keeps_stderr(void);

/* log_detach - a daemon left the terminal: stop copying lines to stderr. */
void log_detach(void);

/* log_close - close the log file (at exit). */
void log_close(void);

/* log_msg - one line, printf-style, at syslog priority `prio`; in the
 * journal with GUEST= of the request this thread serves, if any. */
void log_msg(int prio, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* log_object - the same about guest `guest` (NULL: the request's) and its
 * file `object` (may be NULL): the journal's GUEST= and OBJECT= fields. */
void log_object(int prio, const char *guest, const char *object,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * log_set_guest - name the guest the calling thread is working on, so that
 * container events (which do not carry the guest) can be logged with it.
 * `guest` must stay valid until the next call or log_set_guest(NULL).
 * Called by req.c only: a request sets it and its end clears it.
 */
void log_set_guest(const char *guest);

/* log_container_event - the container_event_fn given to store_open. */
void log_container_event(void *arg, const struct container_event *ev);

/* ---- errors.c ------------------------------------------------------------ */

/*
 * hfs_errno - the positive errno to send to the kernel for core's negative
 * result `err` (< 0).  Corrupt-metadata codes become EIO; everything else
 * keeps its meaning.
 */
int hfs_errno(int err);

/* hfs_strerror - strerror for a negative or positive errno (thread-safe). */
const char *hfs_strerror(int err);

/* ---- nodes.c ------------------------------------------------------------- */

enum node_kind {
	NODE_ROOT = 1,
	NODE_GUEST = 2,
	NODE_OBJECT = 3,
	/* the snapshot area (snapdir.c), read-only but for mkdir/rmdir in
	 * SNAPDIR: */
	NODE_SNAPDIR = 4,  /* GUEST/.snapshots */
	NODE_SNAPSHOT = 5, /* GUEST/.snapshots/NAME: one snapshot */
	NODE_SNAPFILE = 6, /* GUEST/.snapshots/NAME/FILE: an object of it */
};

struct node {
	fuse_ino_t nodeid;   /* const */
	enum node_kind kind; /* const */
	struct node *guest;  /* every kind but ROOT and GUEST: its guest (a
				ref is held); const */
	uint64_t object_id;  /* OBJECT, SNAPFILE: the object's id; const */
	uint64_t host_ino;   /* GUEST: container file's host inode; const */
	/* SNAPSHOT, SNAPFILE: which snapshot (ids are never reused within a
	 * container, so a snapshot deleted and taken again under the same
	 * name is another node); const */
	uint64_t snap_id;
	char snap_name[HFS_SNAPSHOT_NAME_MAX];

	/* Protected by the node table mutex: */
	char name[HFS_GUEST_NAME_MAX]; /* GUEST: current guest name */
	uint64_t nlookup;	       /* kernel lookups not yet forgotten */
	unsigned refs;	       /* internal: handles, child object nodes */
	unsigned writers;      /* OBJECT: open write handles */
	unsigned disk_writers; /* GUEST: write handles open on its disks */
	bool hashed;	       /* findable by key (not removed/replaced) */
	bool corrupt_logged;   /* GUEST: the open error was logged */
	struct node *next_by_id;
	struct node *next_by_key;
};

/* nodes_init - set up the table and its root node.  0 or -ENOMEM. */
int nodes_init(void);

/* nodes_destroy - free every node (after the session loop ended). */
void nodes_destroy(void);

/* nodes_get - node of `nodeid`, or NULL.  The kernel holds a lookup on it
 * while it sends requests for it, so no reference is taken. */
struct node *nodes_get(fuse_ino_t nodeid);

/* nodes_root - the root node. */
struct node *nodes_root(void);

/*
 * nodes_lookup_guest / nodes_lookup_object - the node for a guest (by name
 * and host inode) or an object (by guest node and id), created if needed,
 * with one more kernel lookup counted.  NULL on ENOMEM.
 */
struct node *nodes_lookup_guest(const char *name, uint64_t host_ino);
struct node *nodes_lookup_object(struct node *guest, uint64_t object_id);

/*
 * nodes_lookup_snap - the node of the snapshot area of `guest`: SNAPDIR
 * (snap_id 0, name "", object_id 0), a SNAPSHOT (object_id 0) or a
 * SNAPFILE, created if needed, with one more kernel lookup counted.  NULL
 * on ENOMEM.
 */
struct node *nodes_lookup_snap(struct node *guest, enum node_kind kind,
			       uint64_t snap_id, const char *snap_name,
			       uint64_t object_id);

/*
 * nodes_of_guest - the node ids of guest `name` (first) and of every node
 * under it (files, .snapshots and what is in it), into *out_ids (free());
 * *out_snapdir gets the .snapshots node's id, 0 if the kernel has none.
 * -ENOENT when no node has that guest name, -ENOMEM.
 */
int nodes_of_guest(const char *name, fuse_ino_t **out_ids, size_t *out_num,
		   fuse_ino_t *out_snapdir);

/* nodes_in_snapshots - whether `n` is in a guest's .snapshots area. */
bool nodes_in_snapshots(const struct node *n);

/* nodes_forget - the kernel dropped `nlookup` lookups. */
void nodes_forget(struct node *n, uint64_t nlookup);

/* nodes_ref / nodes_unref - internal references (open handles). */
void nodes_ref(struct node *n);
void nodes_unref(struct node *n);

/* nodes_guest_name - copy the guest's current name (GUEST node). */
void nodes_guest_name(struct node *guest, char out_name[HFS_GUEST_NAME_MAX]);

/* nodes_guest_renamed - the guest `from` is now called `to`. */
void nodes_guest_renamed(const char *from, const char *to);

/* nodes_guest_removed - guest `name` is gone: later lookups get new nodes. */
void nodes_guest_removed(const char *name);

/*
 * nodes_writer_add / nodes_writer_drop - count a write handle on object
 * node `n` (and on its guest if `disk`).  drop returns the object's
 * remaining write handles.
 */
void nodes_writer_add(struct node *n, bool disk);
unsigned nodes_writer_drop(struct node *n, bool disk);

/* nodes_writers / nodes_disk_writers - current counts (racy snapshots). */
unsigned nodes_writers(struct node *n);
unsigned nodes_disk_writers(struct node *guest);

/* nodes_guest_corrupt_once - true the first time it is called for `guest`. */
bool nodes_guest_corrupt_once(struct node *guest);

/* ---- guest.c ------------------------------------------------------------- */

/*
 * guest_acquire - open guest node `guest` for one operation: copy its name
 * into `out_name` and take a container reference (store_guest_get).  On a
 * read-only mount, a guest the writer has open is served from a pin
 * (pin.c): *out_c is then the pin's read-only view, and `fresh` (an open)
 * takes a new pin when no file of the guest is open.  Logs a corrupt
 * container (or why no pin could be had) once.  Returns 0 or a negative
 * errno (already mapped for the kernel by hfs_errno when replied).
 * Release with guest_release.  Ops do not call guest_acquire: a request
 * does (HFS_REQ_CONTAINER, req.c).
 */
int guest_acquire(struct hfs *fs, struct node *guest, bool fresh,
		  char out_name[HFS_GUEST_NAME_MAX], struct container **out_c);
void guest_release(struct hfs *fs, struct container *c);

/*
 * guest_changed_elsewhere - control_mount.changed (hangar/control.h): a
 * request on the control socket changed guest `guest` behind the kernel's
 * back: drop what the kernel cached of it (the attributes of its nodes
 * after a rollback, a deleted guest's or snapshot's name) and log it.
 * `arg` is the struct hfs.  Runs on the control's serving thread.
 */
void guest_changed_elsewhere(void *arg, enum control_op op, const char *guest,
			     const char *name);

/*
 * guest_host_stat - stat the container file of guest `name` on the host
 * (core's store_guest_stat).  -ENOENT if there is no such guest (or the
 * name is not a guest name, or the file is not listed as a guest).
 */
int guest_host_stat(struct hfs *fs, const char *name, struct stat *out_st);

/* ---- pin.c: -o ro beside a writer ---------------------------------------- */

/* pins_start - the pin table and its reaper thread (a read-only mount,
 * before the session loop).  pins_stop - drop every pin (after it). */
int pins_start(struct hfs *fs);
void pins_stop(struct hfs *fs);

/*
 * pin_acquire - the view of a pin of `guest` (which the writer has open):
 * the current one, or (none, or `fresh` while no file of the guest is
 * open) a new one taken through the writer's control socket.  0, or an
 * error with the reason in `why`.  Release with pin_release.
 */
int pin_acquire(struct hfs *fs, const char *guest, bool fresh,
		struct container **out_view, char *why, size_t why_len);

/* pin_release - drop one use of the pin whose view is `c`; false when `c`
 * is no pin's view (a container of the store). */
bool pin_release(struct hfs *fs, struct container *c);

/* pin_handle - an open file of the guest whose pin's view is `c` was
 * opened (or released); a no-op for any other container. */
void pin_handle(struct hfs *fs, struct container *c, bool opened);

/* ---- req.c: one request (the reply rule is at the top of req.c) ---------- */

/* What hfs_req_begin / hfs_req_need check and take, in this order. */
#define HFS_REQ_ROOT   (1u << 0) /* the node may be the root */
#define HFS_REQ_GUEST  (1u << 1) /* ... a guest directory */
#define HFS_REQ_OBJECT (1u << 2) /* ... an object (no kind bit: any) */
#define HFS_REQ_ANY_KIND                                                       \
	(HFS_REQ_ROOT | HFS_REQ_GUEST | HFS_REQ_OBJECT | HFS_REQ_SNAPDIR |     \
	 HFS_REQ_SNAPFILE)
#define HFS_REQ_WRITE	  (1u << 3) /* EROFS on a read-only mount */
#define HFS_REQ_CONTAINER (1u << 4) /* take the node's guest's container */
#define HFS_REQ_SNAPDIR	  (1u << 5) /* ... .snapshots or one snapshot */
#define HFS_REQ_SNAPFILE  (1u << 6) /* ... a file of a snapshot */
#define HFS_REQ_FRESH	  (1u << 7) /* with CONTAINER: an open (pin.c) */
/* The errno for a node of another kind (default: ENOTDIR where a directory
 * was needed, EISDIR where a file was). */
#define HFS_REQ_ERRNO_SHIFT   16
#define HFS_REQ_OTHER_KIND(e) ((unsigned)(e) << HFS_REQ_ERRNO_SHIFT)

struct hfs_req {
	fuse_req_t req;
	struct hfs *fs;
	struct node *node;   /* the node it names; NULL on an open file */
	struct container *c; /* its guest's container, once taken */
	/* The guest's name, once its container is taken (or a file request
	 * began): the log context until hfs_req_end. */
	char guest[HFS_GUEST_NAME_MAX];
};

/*
 * hfs_req_begin - start request `req` on node `ino`: resolve it and check or
 * take what `need` asks (HFS_REQ_*).  False if something failed: the error
 * was replied, nothing is held, return at once.  Else end with hfs_req_end.
 */
bool hfs_req_begin(struct hfs_req *r, fuse_req_t req, fuse_ino_t ino,
		   unsigned need);

/*
 * hfs_req_need - the same checks, later in an op (after its own
 * validation).  0 or a negative errno; replies nothing.  A container
 * already taken is not taken again.
 */
int hfs_req_need(struct hfs_req *r, unsigned need);

/* hfs_req_begin_file - start a request on an open file of guest `guest`
 * (the handle holds the container): sets the log context.  Never fails. */
void hfs_req_begin_file(struct hfs_req *r, fuse_req_t req, const char *guest);

/* hfs_req_keep_container - hand the request's container reference to the
 * caller (an open file keeps it until release); the end will not drop it. */
struct container *hfs_req_keep_container(struct hfs_req *r);

/*
 * hfs_req_end - drop what the request took and clear the log context.  If
 * `err` (a negative errno) is set, reply hfs_errno(err) and return false;
 * else return true: the caller sends its success reply now.
 * hfs_req_end_status - the same, replying 0 on success.
 */
bool hfs_req_end(struct hfs_req *r, int err);
void hfs_req_end_status(struct hfs_req *r, int err);

/* ---- attr.c -------------------------------------------------------------- */

/* attr_ino_guest / attr_ino_object / attr_ino_snap - the stable st_ino
 * (see attr.c); attr_ino_snap names .snapshots (0, 0), a snapshot
 * (snap_id, 0) and a file of one (snap_id, object_id). */
uint64_t attr_ino_guest(uint64_t host_ino);
uint64_t attr_ino_object(uint64_t host_ino, uint64_t object_id);
uint64_t attr_ino_snap(uint64_t host_ino, uint64_t snap_id, uint64_t object_id);

/* attr_fill_root / attr_fill_guest / attr_fill_object - a struct stat.
 * attr_fill_guest: `host` is the container file's stat, `dir` the guest
 * directory's attributes (container_dir_getattr or the defaults). */
int attr_fill_root(struct hfs *fs, struct stat *out_st);
void attr_fill_guest(const struct stat *host, const struct object_attr *dir,
		     struct stat *out_st);
void attr_fill_object(struct hfs *fs, uint64_t host_ino,
		      const struct object_attr *oa, unsigned nlink,
		      struct stat *out_st);

/*
 * attr_guest_stat - what stat(2) shows for the directory of guest `name`:
 * its attributes in the container, or the defaults (attr.c), without
 * opening the container (store_guest_dir_getattr).  -ENOENT if there is
 * no such guest.
 */
int attr_guest_stat(struct hfs *fs, const char *name, struct stat *out_st);

/* attr_entry_timeout - how long the kernel may cache the name `name`. */
double attr_entry_timeout(struct hfs *fs, const char *name);

void hfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void hfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		 struct fuse_file_info *fi);

/* ---- savelog.c ----------------------------------------------------------- */

/*
 * savelog_check_write - save_lock_check_write for object `id` of guest
 * `guest`; on -EBUSY logs "GUEST/OBJECT: ACTION refused: REASON".
 */
int savelog_check_write(const struct hfs *fs, struct container *c,
			const char *guest, uint64_t id, const char *action);

/* savelog_sealed - log that guest's image is now sealed, with its pins. */
void savelog_sealed(struct container *c, const char *guest, const char *how);
/* savelog_not_resumable - log that guest's memory.save (or the image just
 * renamed onto it) was stored but is not resumable, and why. */
void savelog_not_resumable(struct container *c, const char *guest,
			   const char *how);

/* ---- ops_dir.c ----------------------------------------------------------- */

/*
 * hfs_name_check - -ENAMETOOLONG if `name` is longer than directory `dir`
 * allows (NAME_GUEST_MAX in the root, NAME_OBJECT_MAX in a guest: what
 * statfs says as f_namemax), else 0.  Every op that names an entry asks
 * first, so an over-long name gets ENAMETOOLONG, as POSIX wants, rather
 * than core's EINVAL or a lookup's ENOENT.
 */
int hfs_name_check(const struct node *dir, const char *name);

void hfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void hfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void hfs_forget_multi(fuse_req_t req, size_t count,
		      struct fuse_forget_data *forgets);
void hfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void hfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi);
void hfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi);
void hfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void hfs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		  struct fuse_file_info *fi);
void hfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
	       mode_t mode);
void hfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void hfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void hfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		fuse_ino_t newparent, const char *newname, unsigned int flags);
void hfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       dev_t rdev);
void hfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		 const char *name);
void hfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
	      const char *newname);
void hfs_statfs(fuse_req_t req, fuse_ino_t ino);

/*
 * A directory listing, taken at opendir so offsets are stable: dir_new
 * with room for `cap` entries, dir_add one (-EOVERFLOW past cap),
 * dir_free (accepts NULL).
 */
struct dir_entry {
	uint64_t ino;
	mode_t type;
	char *name;
};

struct dir_handle {
	size_t num, cap;
	struct dir_entry *entries;
};

struct dir_handle *dir_new(size_t cap);
int dir_add(struct dir_handle *d, uint64_t ino, mode_t type, const char *name);
void dir_free(struct dir_handle *d);

/* dir_reply_entry - reply with `e`; if the kernel did not take it, undo
 * the lookup counted on `n`. */
void dir_reply_entry(fuse_req_t req, const struct fuse_entry_param *e,
		     struct node *n);

/*
 * dir_make_entry - fill `out_e` for object `id` (named `name`) of guest node
 * `guest` and count one kernel lookup on its node, returned in *out_node.
 * Does not reply.  0 or a negative errno (then no lookup is counted).
 */
int dir_make_entry(struct hfs *fs, struct node *guest, struct container *c,
		   const char *name, uint64_t id,
		   struct fuse_entry_param *out_e, struct node **out_node);

/* ---- snapdir.c: GUEST/.snapshots ----------------------------------------- */

/*
 * snap_lookup - `name` in request `r`'s node: ".snapshots" in a guest, a
 * snapshot in SNAPDIR, a file in a SNAPSHOT.  Fills `out_e` and counts one
 * lookup on *out_node.  Needs the request's container.
 */
int snap_lookup(struct hfs_req *r, const char *name,
		struct fuse_entry_param *out_e, struct node **out_node);

/* snap_stat - what stat(2) shows for a node of the snapshot area. */
int snap_stat(struct hfs_req *r, struct stat *out_st);

/* snap_list - the listing of a SNAPDIR or SNAPSHOT node. */
int snap_list(struct hfs_req *r, struct dir_handle **out_d);

/* snap_mkdir / snap_rmdir - take / delete snapshot `name` (SNAPDIR node;
 * EROFS elsewhere).  snap_mkdir fills the new directory's entry. */
int snap_mkdir(struct hfs_req *r, const char *name,
	       struct fuse_entry_param *out_e, struct node **out_node);
int snap_rmdir(struct hfs_req *r, const char *name);

/*
 * snap_view_open - the read-only view of the snapshot a SNAPSHOT or
 * SNAPFILE node names, from the guest's container `c` (container.h:
 * container_snapshot_open), which the caller keeps until the matching
 * container_snapshot_close(c, view).  -ENOENT when that snapshot is gone
 * (even if another one has its name now).
 */
int snap_view_open(struct container *c, const struct node *n,
		   struct container **out_view);

/* ---- ops_file.c ---------------------------------------------------------- */

void hfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		mode_t mode, struct fuse_file_info *fi);
void hfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void hfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	      struct fuse_file_info *fi);
void hfs_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv,
		   off_t off, struct fuse_file_info *fi);
void hfs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void hfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void hfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
	       struct fuse_file_info *fi);
void hfs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
		   off_t length, struct fuse_file_info *fi);
void hfs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
	       struct fuse_file_info *fi);
void hfs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			 struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			 off_t off_out, struct fuse_file_info *fi_out,
			 size_t len, int flags);

/* ---- xattr.c ------------------------------------------------------------- */

void hfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		  const char *value, size_t size, int flags);
void hfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		  size_t size);
void hfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void hfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/* ---- ops.c --------------------------------------------------------------- */

/* hfs_ops - the lowlevel operations table. */
extern const struct fuse_lowlevel_ops hfs_ops;

/* ---- daemon.c ------------------------------------------------------------ */

/*
 * daemon_start - fork; the parent waits until the child calls daemon_ready
 * (or exits) and exits with the child's status.  Must be called before any
 * thread exists.  Returns 0 in the child, -errno on failure.
 */
int daemon_start(void);

/*
 * daemon_ready - tell the waiting parent how startup went (0 = mounted) and,
 * on success, detach from the terminal (stdin and stdout to /dev/null, and
 * stderr unless the log still needs it: log_keeps_stderr; chdir /).
 */
void daemon_ready(int status);

/* ---- notify.c: systemd's readiness protocol ------------------------------ */

/*
 * notify_send - one sd_notify(3) message ("READY=1\nSTATUS=...") to
 * $NOTIFY_SOCKET; 0 without one, else 0 or -errno.  notify_mounted (READY=1
 * once the mount is up) and notify_stopping (STOPPING=1 as the shutdown
 * begins) add a STATUS= line and ignore failures.
 */
int notify_send(const char *message);
void notify_mounted(const char *store, const char *mountpoint, bool read_only);
void notify_stopping(const char *store);

/* ---- secret.c: the key of an encrypted store ------------------------------ */

/*
 * fs_secret_load - the secret from `keyfile` (*out_kind KEYFILE), or one
 * line from `pass_fd` (>= 0), or, with neither, a passphrase asked on the
 * terminal without echo when `may_prompt` and STORE is encrypted (else
 * sec->buf stays NULL).  0 or -errno (-EINVAL: empty or too long).  Wipe
 * with secret_free (common/secret.h).  A key file must be private (owned
 * by the caller or root, no permission for group or others) unless
 * `keyfile_insecure` (-o keyfile_insecure): else -EPERM, with the reason
 * on stderr.
 */
int fs_secret_load(const char *store, const char *keyfile, int pass_fd,
		   bool keyfile_insecure, bool may_prompt, struct secret *sec,
		   enum keyslot_kind *out_kind);

#endif /* HANGAR_FS_HANGARFS_H */
