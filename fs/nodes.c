/*
 * nodes.c -- the node table: FUSE node ids to guests and objects.
 *
 * Notes on the design
 * -------------------
 * The kernel names every inode it knows by a 64-bit node id that we hand
 * out in lookup replies and that it gives back on every request until it
 * FORGETs it.  Node ids here are allocated from a counter and never reused
 * while the daemon runs, so a reply's generation can always be 0.  The
 * stable st_ino the user sees is computed separately (attr.c).
 *
 * A node is found two ways: by node id (every request) and by key, so two
 * lookups of the same thing return the same node: a guest by its name, an
 * object by (guest node, object id), a node of the snapshot area by (guest
 * node, kind, snapshot id, object id).  Object and snapshot ids are never
 * reused within a container, so those nodes stay hashed for their whole
 * life.  A guest's
 * key changes on rename (rehashed) and disappears on rmdir (unhashed, so a
 * new guest of the same name gets a fresh node and the kernel never sees a
 * dead directory come back under the old id).
 *
 * Invariants (asserted where they are relied on):
 *   1. A node is freed exactly when nlookup == 0 and refs == 0; the root is
 *      never freed.
 *   2. An object node, and every node of the snapshot area, holds one ref
 *      on its guest node.
 *   3. Every hashed node is in both chains; an unhashed node only in the
 *      by-id chain.
 *
 * THREAD MODEL: one mutex, `table.lock`, protects both hash chains, the
 * counter and every node field marked "protected by the node table mutex"
 * in hangarfs.h.  Node fields marked const are set before the node is
 * published and may be read without the lock.  The lock is never held while
 * calling into core or libfuse.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hangarfs.h"

#define NODES_BUCKETS 4096u

static struct {
	pthread_mutex_t lock;
	fuse_ino_t next_id;		    /* protected by lock */
	struct node *by_id[NODES_BUCKETS];  /* protected by lock */
	struct node *by_key[NODES_BUCKETS]; /* protected by lock */
	struct node root;
} table = {.lock = PTHREAD_MUTEX_INITIALIZER};

static unsigned bucket_of_id(fuse_ino_t id)
{
	uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ull;

	return (unsigned)(h >> 52) % NODES_BUCKETS;
}

static unsigned bucket_of_name(const char *name)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ull;
	return (unsigned)(h % NODES_BUCKETS);
}

static unsigned bucket_of_object(const struct node *guest, uint64_t id)
{
	uint64_t h = ((uint64_t)(uintptr_t)guest ^ id) * 0x9e3779b97f4a7c15ull;

	return (unsigned)(h >> 52) % NODES_BUCKETS;
}

static unsigned bucket_of_snap(const struct node *guest, enum node_kind kind,
			       uint64_t snap_id, uint64_t object_id)
{
	uint64_t h = ((uint64_t)(uintptr_t)guest ^ (uint64_t)kind << 56 ^
		      snap_id * 0xff51afd7ed558ccdull ^ object_id) *
		     0x9e3779b97f4a7c15ull;

	return (unsigned)(h >> 52) % NODES_BUCKETS;
}

static unsigned bucket_of_key(const struct node *n)
{
	if (n->kind == NODE_GUEST)
		return bucket_of_name(n->name);
	if (n->kind == NODE_OBJECT)
		return bucket_of_object(n->guest, n->object_id);
	return bucket_of_snap(n->guest, n->kind, n->snap_id, n->object_id);
}

static struct node *find_guest_locked(const char *name);

/* Caller holds table.lock. */
static void unlink_by_id(struct node *n)
{
	struct node **p = &table.by_id[bucket_of_id(n->nodeid)];

	while (*p != n) {
		assert(*p != NULL);
		p = &(*p)->next_by_id;
	}
	*p = n->next_by_id;
}

/* Caller holds table.lock. */
static void unhash_key(struct node *n)
{
	struct node **p;

	if (!n->hashed)
		return;
	p = &table.by_key[bucket_of_key(n)];
	while (*p != n) {
		assert(*p != NULL);
		p = &(*p)->next_by_key;
	}
	*p = n->next_by_key;
	n->next_by_key = NULL;
	n->hashed = false;
}

/* Caller holds table.lock. */
static void hash_key(struct node *n)
{
	unsigned b = bucket_of_key(n);

	assert(!n->hashed);
	n->next_by_key = table.by_key[b];
	table.by_key[b] = n;
	n->hashed = true;
}

/* Caller holds table.lock; allocates and publishes a node. */
static struct node *node_new(enum node_kind kind)
{
	struct node *n = calloc(1, sizeof(*n));
	unsigned b;

	if (!n)
		return NULL;
	n->kind = kind;
	n->nodeid = table.next_id++;
	b = bucket_of_id(n->nodeid);
	n->next_by_id = table.by_id[b];
	table.by_id[b] = n;
	return n;
}

/*
 * Caller holds table.lock.  Frees `n` if nothing refers to it any more,
 * then drops the ref an object node held on its guest (which may free the
 * guest in turn).
 */
static void maybe_free(struct node *n)
{
	while (n && n != &table.root && n->nlookup == 0 && n->refs == 0) {
		struct node *guest = n->guest; /* NULL for ROOT and GUEST */

		unhash_key(n);
		unlink_by_id(n);
		free(n);
		n = guest;
		if (n) {
			assert(n->refs > 0);
			n->refs--;
		}
	}
}

int nodes_init(void)
{
	memset(table.by_id, 0, sizeof(table.by_id));
	memset(table.by_key, 0, sizeof(table.by_key));
	memset(&table.root, 0, sizeof(table.root));
	table.root.kind = NODE_ROOT;
	table.root.nodeid = FUSE_ROOT_ID;
	table.root.nlookup = 1;
	table.by_id[bucket_of_id(FUSE_ROOT_ID)] = &table.root;
	table.next_id = FUSE_ROOT_ID + 1;
	return 0;
}

void nodes_destroy(void)
{
	pthread_mutex_lock(&table.lock);
	for (unsigned b = 0; b < NODES_BUCKETS; b++) {
		struct node *n = table.by_id[b];

		while (n) {
			struct node *next = n->next_by_id;

			if (n != &table.root)
				free(n);
			n = next;
		}
		table.by_id[b] = NULL;
		table.by_key[b] = NULL;
	}
	pthread_mutex_unlock(&table.lock);
}

struct node *nodes_root(void)
{
	return &table.root;
}

struct node *nodes_get(fuse_ino_t nodeid)
{
	struct node *n;

	pthread_mutex_lock(&table.lock);
	n = table.by_id[bucket_of_id(nodeid)];
	while (n && n->nodeid != nodeid)
		n = n->next_by_id;
	pthread_mutex_unlock(&table.lock);
	return n;
}

struct node *nodes_lookup_guest(const char *name, uint64_t host_ino)
{
	struct node *n;

	assert(strlen(name) < HFS_GUEST_NAME_MAX);
	pthread_mutex_lock(&table.lock);
	n = table.by_key[bucket_of_name(name)];
	while (n && !(n->kind == NODE_GUEST && strcmp(n->name, name) == 0))
		n = n->next_by_key;
	if (n && n->host_ino != host_ino) {
		/* A different container now has this name: retire the old
		 * node so the kernel sees a new inode. */
		unhash_key(n);
		n = NULL;
	}
	if (!n) {
		n = node_new(NODE_GUEST);
		if (!n)
			goto out_unlock;
		n->host_ino = host_ino;
		strcpy(n->name, name);
		hash_key(n);
	}
	n->nlookup++;
out_unlock:
	pthread_mutex_unlock(&table.lock);
	return n;
}

struct node *nodes_lookup_object(struct node *guest, uint64_t object_id)
{
	struct node *n;

	assert(guest->kind == NODE_GUEST);
	pthread_mutex_lock(&table.lock);
	n = table.by_key[bucket_of_object(guest, object_id)];
	while (n && !(n->kind == NODE_OBJECT && n->guest == guest &&
		      n->object_id == object_id))
		n = n->next_by_key;
	if (!n) {
		n = node_new(NODE_OBJECT);
		if (!n)
			goto out_unlock;
		n->guest = guest;
		n->object_id = object_id;
		guest->refs++;
		hash_key(n);
	}
	n->nlookup++;
out_unlock:
	pthread_mutex_unlock(&table.lock);
	return n;
}

struct node *nodes_lookup_snap(struct node *guest, enum node_kind kind,
			       uint64_t snap_id, const char *snap_name,
			       uint64_t object_id)
{
	struct node *n;

	assert(guest->kind == NODE_GUEST);
	assert(kind == NODE_SNAPDIR || kind == NODE_SNAPSHOT ||
	       kind == NODE_SNAPFILE);
	assert(strlen(snap_name) < HFS_SNAPSHOT_NAME_MAX);
	pthread_mutex_lock(&table.lock);
	n = table.by_key[bucket_of_snap(guest, kind, snap_id, object_id)];
	while (n && !(n->kind == kind && n->guest == guest &&
		      n->snap_id == snap_id && n->object_id == object_id))
		n = n->next_by_key;
	if (!n) {
		n = node_new(kind);
		if (!n)
			goto out_unlock;
		n->guest = guest;
		n->snap_id = snap_id;
		n->object_id = object_id;
		strcpy(n->snap_name, snap_name);
		guest->refs++;
		hash_key(n);
	}
	n->nlookup++;
out_unlock:
	pthread_mutex_unlock(&table.lock);
	return n;
}

int nodes_of_guest(const char *name, fuse_ino_t **out_ids, size_t *out_num,
		   fuse_ino_t *out_snapdir)
{
	fuse_ino_t *ids = NULL;
	size_t num = 0, cap = 0;
	struct node *g;
	int err = 0;

	*out_snapdir = 0;
	pthread_mutex_lock(&table.lock);
	g = find_guest_locked(name);
	if (!g) {
		err = -ENOENT;
		goto out_unlock;
	}
	cap = 1 + g->refs; /* each node under it holds one ref on it */
	ids = malloc(cap * sizeof(*ids));
	if (!ids) {
		err = -ENOMEM;
		goto out_unlock;
	}
	ids[num++] = g->nodeid;
	for (unsigned b = 0; b < NODES_BUCKETS; b++)
		for (struct node *n = table.by_id[b]; n; n = n->next_by_id) {
			if (n->guest != g || num == cap)
				continue;
			ids[num++] = n->nodeid;
			if (n->kind == NODE_SNAPDIR)
				*out_snapdir = n->nodeid;
		}
out_unlock:
	pthread_mutex_unlock(&table.lock);
	*out_ids = ids;
	*out_num = num;
	return err;
}

bool nodes_in_snapshots(const struct node *n)
{
	return n->kind == NODE_SNAPDIR || n->kind == NODE_SNAPSHOT ||
	       n->kind == NODE_SNAPFILE;
}

void nodes_forget(struct node *n, uint64_t nlookup)
{
	pthread_mutex_lock(&table.lock);
	assert(n->nlookup >= nlookup);
	n->nlookup -= nlookup;
	maybe_free(n);
	pthread_mutex_unlock(&table.lock);
}

void nodes_ref(struct node *n)
{
	pthread_mutex_lock(&table.lock);
	n->refs++;
	pthread_mutex_unlock(&table.lock);
}

void nodes_unref(struct node *n)
{
	pthread_mutex_lock(&table.lock);
	assert(n->refs > 0);
	n->refs--;
	maybe_free(n);
	pthread_mutex_unlock(&table.lock);
}

void nodes_guest_name(struct node *guest, char out_name[HFS_GUEST_NAME_MAX])
{
	assert(guest->kind == NODE_GUEST);
	pthread_mutex_lock(&table.lock);
	memcpy(out_name, guest->name, HFS_GUEST_NAME_MAX);
	pthread_mutex_unlock(&table.lock);
}

/* Caller holds table.lock. */
static struct node *find_guest_locked(const char *name)
{
	struct node *n = table.by_key[bucket_of_name(name)];

	while (n && !(n->kind == NODE_GUEST && strcmp(n->name, name) == 0))
		n = n->next_by_key;
	return n;
}

void nodes_guest_renamed(const char *from, const char *to)
{
	struct node *n;

	assert(strlen(to) < HFS_GUEST_NAME_MAX);
	pthread_mutex_lock(&table.lock);
	n = find_guest_locked(to);
	if (n)
		unhash_key(n); /* stale node of a guest that was replaced */
	n = find_guest_locked(from);
	if (n) {
		unhash_key(n);
		strcpy(n->name, to);
		hash_key(n);
	}
	pthread_mutex_unlock(&table.lock);
}

void nodes_guest_removed(const char *name)
{
	struct node *n;

	pthread_mutex_lock(&table.lock);
	n = find_guest_locked(name);
	if (n)
		unhash_key(n);
	pthread_mutex_unlock(&table.lock);
}

void nodes_writer_add(struct node *n, bool disk)
{
	assert(n->kind == NODE_OBJECT);
	pthread_mutex_lock(&table.lock);
	n->writers++;
	if (disk)
		n->guest->disk_writers++;
	pthread_mutex_unlock(&table.lock);
}

unsigned nodes_writer_drop(struct node *n, bool disk)
{
	unsigned left;

	assert(n->kind == NODE_OBJECT);
	pthread_mutex_lock(&table.lock);
	assert(n->writers > 0);
	left = --n->writers;
	if (disk) {
		assert(n->guest->disk_writers > 0);
		n->guest->disk_writers--;
	}
	pthread_mutex_unlock(&table.lock);
	return left;
}

unsigned nodes_writers(struct node *n)
{
	unsigned v;

	pthread_mutex_lock(&table.lock);
	v = n->writers;
	pthread_mutex_unlock(&table.lock);
	return v;
}

unsigned nodes_disk_writers(struct node *guest)
{
	unsigned v;

	pthread_mutex_lock(&table.lock);
	v = guest->disk_writers;
	pthread_mutex_unlock(&table.lock);
	return v;
}

bool nodes_guest_corrupt_once(struct node *guest)
{
	bool first;

	pthread_mutex_lock(&table.lock);
	first = !guest->corrupt_logged;
	guest->corrupt_logged = true;
	pthread_mutex_unlock(&table.lock);
	return first;
}
