/*
 * snapshot.c -- snapshots of a guest: every object as of one commit, kept in
 * a frozen table chain; creation, deletion, rollback, read-only views, and
 * the accounting that keeps shared clusters alive.
 *
 * Design notes.
 *   - A snapshot is taken BY a commit: that commit writes its map nodes as
 *     usual, then a frozen copy of the table it is about to commit (the
 *     guest, object and seal records; table.c table_write_frozen), then the
 *     live table, which names the frozen chain in a snapshot record.  One
 *     superblock makes both durable at once, so after a crash the snapshot
 *     exists with the state it names, or not at all.  Creation costs one
 *     commit plus one frozen table chain, whatever the guest's size.
 *   - Sharing.  A snapshot's trees are the live tree's nodes of that commit,
 *     not copies.  The live tree stays copy-on-write for nodes as before;
 *     what changes is data: a RAW cluster is rewritten in place only when
 *     the live tree alone maps it (snapshot_raw_owned: refs == 1), so the
 *     first write after a snapshot copies the cluster, and later writes go
 *     in place again.
 *   - Accounting (the node slots' refs and srefs, alloc_slab.c).  Snapshots
 *     together hold ONE reference on each map node reachable from any of
 *     them, plus one on the data cluster of every entry of each such leaf,
 *     plus their frozen chains.  srefs[node] (alloc_node_sref) counts the parents that point at it from the
 *     snapshots' side (a snapshot's object record, or a node held by
 *     snapshots): a node enters that set when its count goes 0 -> 1 (its
 *     children are then counted once more) and leaves at 1 -> 0 (its
 *     children are counted once less) -- reference counting on a shared
 *     tree, as copy-on-write B-trees with clones do it.  Because a node
 *     held by snapshots is immutable, its children are the same whichever
 *     snapshot reaches it, so each node is read at most once when a
 *     container with many snapshots opens, and a deletion reads only the
 *     nodes that leave the set: work in proportion to what changed between
 *     the snapshot and its neighbours, not to the guest's size.
 *   - Deletion is atomic in memory: the nodes that leave are read (and
 *     verified) first, and only when every read succeeded are the counts
 *     changed; a failed read changes nothing.
 *   - Views.  A snapshot is read through a read-only container over its
 *     frozen chain (container_snapshot_open), sharing the parent's io and
 *     keys, holding no allocator references.  It is safe to read without
 *     the parent's lock: nothing a snapshot maps is freed or rewritten
 *     while the snapshot exists, and a snapshot with open views cannot be
 *     deleted (-EBUSY).
 *
 * THREAD MODEL: every entry point takes the parent container's write lock
 * (container_wrlock), except that a view's trees are loaded without it (the
 * snapshot is pinned by view_refs meanwhile).  A view has its own lock for
 * its readers.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hangar/container.h"
#include "internal.h"
#include "io.h"

bool snapshot_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > FORMAT_SNAPSHOT_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-'))
			return false;
	}
	return true;
}

void snapshot_free(struct snapshot *s)
{
	if (!s)
		return;
	if (s->view) {
		s->view->crypt = NULL; /* borrowed from the parent */
		container_close_detached(s->view);
	}
	free(s->name);
	free(s->blocks);
	free(s);
}

static struct snapshot *snapshot_find(const struct container *c,
				      const char *name, size_t *out_index)
{
	for (size_t i = 0; i < c->snap_num; i++)
		if (strcmp(c->snaps[i]->name, name) == 0) {
			if (out_index)
				*out_index = i;
			return c->snaps[i];
		}
	return NULL;
}

static int snapshot_append(struct container *c, struct snapshot *s)
{
	if (c->snap_num >= FORMAT_MAX_SNAPSHOTS)
		return -EMLINK;
	struct snapshot **n =
		realloc(c->snaps, (c->snap_num + 1) * sizeof(*c->snaps));
	if (!n)
		return -ENOMEM;
	c->snaps = n;
	c->snaps[c->snap_num++] = s;
	return 0;
}

static void snapshot_remove(struct container *c, size_t i)
{
	memmove(&c->snaps[i], &c->snaps[i + 1],
		(c->snap_num - i - 1) * sizeof(*c->snaps));
	c->snap_num--;
}

/* ---- the record --------------------------------------------------------- */

int snapshot_decode(struct container *c, const uint8_t *p, uint32_t len)
{
	if (len < SNAPSHOT_RECORD_FIXED)
		return -EUCLEAN;
	uint16_t name_len = le16_get(p + SN_OFF_NAME_LEN);
	uint32_t flags = le32_get(p + SN_OFF_FLAGS);
	uint64_t id = le64_get(p + SN_OFF_ID);
	uint64_t gen = le64_get(p + SN_OFF_GENERATION);
	uint32_t blocks = le32_get(p + SN_OFF_TABLE_BLOCKS);
	if (len != SNAPSHOT_RECORD_FIXED + name_len || name_len == 0 ||
	    name_len > FORMAT_SNAPSHOT_NAME_MAX ||
	    (flags & ~SNAPSHOT_FLAGS_KNOWN) || id == 0 ||
	    id >= c->next_object_id || gen == 0 || gen > c->generation ||
	    blocks == 0 || le16_get(p + 54) != 0 ||
	    le32_get(p + SN_OFF_RESERVED1) != 0 ||
	    le32_get(p + SN_OFF_CREATED_NSEC) >= 1000000000u ||
	    le64_get(p + SN_OFF_TABLE_OFFSET) == 0)
		return -EUCLEAN;
	if (!c->encrypted)
		for (unsigned i = SN_OFF_TABLE_BIRTH; i < SN_OFF_RESERVED1; i++)
			if (p[i])
				return -EUCLEAN;
	char name[FORMAT_SNAPSHOT_NAME_MAX + 1];
	memcpy(name, p + SNAPSHOT_RECORD_FIXED, name_len);
	name[name_len] = '\0';
	if (!snapshot_name_valid(name) || snapshot_find(c, name, NULL))
		return -EUCLEAN;
	for (size_t i = 0; i < c->snap_num; i++)
		if (c->snaps[i]->id == id)
			return -EUCLEAN;
	struct snapshot *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->name = strdup(name);
	s->blocks = calloc(blocks, sizeof(*s->blocks));
	if (!s->name || !s->blocks) {
		snapshot_free(s);
		return -ENOMEM;
	}
	s->id = id;
	s->generation = gen;
	s->created.tv_sec = (time_t)le64_get(p + SN_OFF_CREATED_SEC);
	s->created.tv_nsec = (long)le32_get(p + SN_OFF_CREATED_NSEC);
	s->table_offset = le64_get(p + SN_OFF_TABLE_OFFSET);
	s->table_crc = le32_get(p + SN_OFF_TABLE_CRC);
	s->block_num = blocks;
	s->flags = flags;
	if (c->encrypted) {
		s->table_seal.birth = le64_get(p + SN_OFF_TABLE_BIRTH);
		memcpy(s->table_seal.nonce, p + SN_OFF_TABLE_NONCE, 12);
		memcpy(s->table_seal.tag, p + SN_OFF_TABLE_TAG, 16);
	}
	int ret = snapshot_append(c, s);
	if (ret) {
		snapshot_free(s);
		return ret == -EMLINK ? -EUCLEAN : ret;
	}
	return 0;
}

/* ---- views -------------------------------------------------------------- */

/* A read-only container over `s`'s frozen chain; lazy: the objects' roots
 * only, no map loaded. */
static int view_load(struct container *c, struct snapshot *s, bool lazy,
		     struct container **out_view)
{
	uint64_t file_size;
	int ret = io_size(c->io, &file_size);
	if (ret)
		return ret;
	struct container *v = container_view_new(c);
	if (!v)
		return -ENOMEM;
	v->view_lazy = lazy;
	v->table_seals = s->flags & SNAPSHOT_FLAG_IMAGE_SEALS;
	v->table_block_num = s->block_num;
	v->table_blocks = calloc(s->block_num, sizeof(*v->table_blocks));
	if (!v->table_blocks) {
		ret = -ENOMEM;
		goto out_free;
	}
	ret = table_read_chain(v, NULL, file_size, s->id, s->table_offset,
			       s->table_crc, &s->table_seal, s->block_num,
			       v->table_blocks);
	if (ret)
		goto out_free;
	*out_view = v;
	return 0;
out_free:
	v->crypt = NULL;
	container_close_detached(v);
	return ret;
}

static void view_free(struct container *v)
{
	if (!v)
		return;
	v->crypt = NULL;
	container_close_detached(v);
}

/* ---- accounting --------------------------------------------------------- */

static bool entry_has_data(const struct map_entry *e)
{
	return e->kind == MAP_KIND_RAW || e->kind == MAP_KIND_COMPRESSED;
}

/* A copy of leaf `n`'s entries (malloc'd, fanout of them) from `c`'s map
 * cache or from the leaf's block: a live leaf may not be loaded (map.c,
 * "Cache"), and no pointer into the cache is kept across a walk. */
static struct map_entry *leaf_entries(struct container *c,
				      const struct map_node *n, int *err)
{
	struct map_entry *e = malloc(c->fanout * sizeof(*e));
	*err = e ? map_leaf_copy(c, n, e, NULL) : -ENOMEM;
	if (*err) {
		free(e);
		return NULL;
	}
	return e;
}

/* One more snapshot-side parent of the clean in-memory node `n` (its
 * contents are the block at n->phys). */
static int sref_enter_mem(struct container *c, const struct map_node *n)
{
	struct alloc *a = &c->alloc;
	const uint64_t slot = slot_of(c, n->phys);
	const uint32_t before = alloc_node_sref(a, slot);
	int ret = alloc_node_sref_add(a, slot, +1);
	if (ret || before > 0)
		return ret;
	ret = alloc_node_ref(a, slot, false);
	if (ret)
		return ret;
	if (n->level == 0) {
		struct map_entry *ents = leaf_entries(c, n, &ret);
		for (uint32_t i = 0; ents && !ret && i < c->fanout; i++)
			if (entry_has_data(&ents[i]))
				ret = alloc_ref(a,
						cluster_of(c, ents[i].offset));
		free(ents);
		return ret;
	}
	for (uint32_t i = 0; i < c->fanout; i++) {
		if (n->children[i]) {
			ret = sref_enter_mem(c, n->children[i]);
			if (ret)
				return ret;
		}
	}
	return 0;
}

struct walk {
	struct container *c;
	uint64_t owner;
	uint64_t file_size;
};

/* A committed node read from disk (and verified against its parent's crc
 * and seal): its entries, and the virtual clusters each entry spans. */
struct disk_node {
	struct map_entry *entries;
	struct map_seal *seals; /* ENCRYPTED, else NULL */
	uint64_t span;
};

static void disk_node_free(struct disk_node *dn)
{
	free(dn->entries);
	free(dn->seals);
}

static int disk_node_read(struct walk *w, uint64_t phys, uint32_t crc,
			  const struct map_seal *seal, uint16_t level,
			  uint64_t index, struct disk_node *out)
{
	struct container *c = w->c;
	uint8_t *buf = malloc(c->node_size);
	int ret = -ENOMEM;

	out->entries = malloc(c->fanout * sizeof(*out->entries));
	out->seals =
		c->encrypted ? malloc(c->fanout * sizeof(*out->seals)) : NULL;
	out->span = 1;
	for (uint16_t l = 0; l < level; l++)
		out->span *= c->fanout;
	if (buf && out->entries && (!c->encrypted || out->seals))
		ret = map_node_read(c, w->owner, phys, crc, seal, level, index,
				    buf, out->entries, out->seals);
	free(buf);
	if (ret)
		disk_node_free(out);
	return ret;
}

/* Reference a cluster a snapshot's tree names, as the loader does for the
 * live tree: a node is never also data, RAW data is never packed. */
static int sref_data(struct container *c, const struct map_entry *e)
{
	struct alloc *a = &c->alloc;
	uint64_t cl = cluster_of(c, e->offset);
	bool packed = e->kind == MAP_KIND_COMPRESSED;
	if (cl < a->capacity && (a->bits[cl] & CLUSTER_META))
		return -EUCLEAN; /* metadata is never data */
	if (cl < a->capacity && a->refs[cl] > 0) {
		if (!(a->bits[cl] & CLUSTER_DATA) ||
		    packed != !!(a->bits[cl] & CLUSTER_PACKED))
			return -EUCLEAN;
	}
	int ret = alloc_ref(a, cl);
	if (ret)
		return ret;
	a->bits[cl] |= CLUSTER_COMMITTED | CLUSTER_DATA |
		       (packed ? CLUSTER_PACKED : 0);
	return 0;
}

/* At load: one more snapshot-side parent of the node at `phys`, read from
 * disk when it enters the set. */
static int sref_enter_disk(struct walk *w, uint64_t phys, uint32_t crc,
			   const struct map_seal *seal, uint16_t level,
			   uint64_t index)
{
	struct container *c = w->c;
	struct alloc *a = &c->alloc;
	const uint64_t slot = slot_of(c, phys);
	int ret;

	if (!node_in_bounds(c, phys, w->file_size))
		return -EUCLEAN;
	/* a node of the live tree is shared; a node in a data cluster is
	 * corruption (alloc_node_sref_add, alloc_node_ref) */
	const uint32_t before = alloc_node_sref(a, slot);
	if (before == UINT32_MAX)
		return -EUCLEAN;
	ret = alloc_node_sref_add(a, slot, +1);
	if (ret || before > 0)
		return ret;
	ret = alloc_node_ref(a, slot, true);
	if (ret)
		return ret;
	struct disk_node dn;
	ret = disk_node_read(w, phys, crc, seal, level, index, &dn);
	if (ret)
		return ret;
	const struct map_entry *ents = dn.entries;
	const struct map_seal *seals = dn.seals;
	for (uint32_t i = 0; i < c->fanout && !ret; i++) {
		if (level == 0 && entry_has_data(&ents[i]))
			ret = sref_data(c, &ents[i]);
		else if (level > 0 && ents[i].kind == MAP_KIND_NODE)
			ret = sref_enter_disk(w, ents[i].offset, ents[i].crc,
					      seals ? &seals[i] : NULL,
					      (uint16_t)(level - 1),
					      index + i * dn.span);
	}
	disk_node_free(&dn);
	return ret;
}

/* The frozen chain's blocks belong to the snapshot alone. */
static int chain_ref(struct container *c, const struct snapshot *s)
{
	struct alloc *a = &c->alloc;
	for (size_t i = 0; i < s->block_num; i++) {
		const uint64_t slot = slot_of(c, s->blocks[i]);
		if (alloc_node_refs(a, slot) > 0)
			return -EUCLEAN;
		int ret = alloc_node_ref(a, slot, true);
		if (ret)
			return ret;
	}
	return 0;
}

int snapshot_load_refs(struct container *c, struct load_diag *diag,
		       uint64_t file_size)
{
	int ret;

	if (c->snap_num == 0)
		return 0;
	for (size_t i = 0; i < c->snap_num; i++) {
		struct snapshot *s = c->snaps[i];
		struct container *v = NULL;
		ret = view_load(c, s, true, &v);
		if (!ret) {
			memcpy(s->blocks, v->table_blocks,
			       s->block_num * sizeof(*s->blocks));
			ret = chain_ref(c, s);
		}
		struct walk w = {.c = c, .owner = 0, .file_size = file_size};
		for (size_t j = 0; !ret && v && j < v->object_num; j++) {
			struct object *o = v->objects[j];
			if (!o->frozen_root)
				continue;
			w.owner = o->id;
			ret = sref_enter_disk(&w, o->frozen_root, o->frozen_crc,
					      &o->frozen_seal,
					      (uint16_t)(o->height - 1), 0);
		}
		view_free(v);
		if (ret) {
			if (diag && !diag->message[0])
				snprintf(diag->message, sizeof(diag->message),
					 "snapshot %s: %s", s->name,
					 ret == -EBADMSG
						 ? "checksum mismatch"
						 : "invalid frozen table or "
						   "tree");
			return ret;
		}
	}
	return 0;
}

/*
 * What deleting a snapshot changes, gathered before anything changes:
 * `dec` the nodes (slots) whose snapshot-side parents drop by one,
 * `unref_nodes` the nodes that leave the set (losing the snapshots'
 * reference), `unref` the data clusters of their leaf entries.
 */
struct leave_plan {
	uint64_t *dec;
	size_t dec_num, dec_cap;
	uint64_t *unref_nodes;
	size_t unref_nodes_num, unref_nodes_cap;
	uint64_t *unref;
	size_t unref_num, unref_cap;
};

static int plan_leave(struct walk *w, struct leave_plan *p, uint64_t phys,
		      uint32_t crc, const struct map_seal *seal, uint16_t level,
		      uint64_t index)
{
	struct container *c = w->c;
	const uint64_t slot = slot_of(c, phys);
	int ret = u64_push(&p->dec, &p->dec_num, &p->dec_cap, slot);
	if (ret)
		return ret;
	/* Inside one snapshot every node has one parent, so the node leaves
	 * exactly when this is the last snapshot-side parent. */
	const uint32_t srefs = alloc_node_sref(&c->alloc, slot);
	if (srefs == 0)
		return -EUCLEAN;
	if (srefs > 1)
		return 0;
	ret = u64_push(&p->unref_nodes, &p->unref_nodes_num,
		       &p->unref_nodes_cap, slot);
	if (ret)
		return ret;
	struct disk_node dn;
	ret = disk_node_read(w, phys, crc, seal, level, index, &dn);
	if (ret)
		return ret;
	const struct map_entry *ents = dn.entries;
	const struct map_seal *seals = dn.seals;
	for (uint32_t i = 0; i < c->fanout && !ret; i++) {
		if (level == 0 && entry_has_data(&ents[i]))
			ret = u64_push(&p->unref, &p->unref_num, &p->unref_cap,
				       cluster_of(c, ents[i].offset));
		else if (level > 0 && ents[i].kind == MAP_KIND_NODE)
			ret = plan_leave(w, p, ents[i].offset, ents[i].crc,
					 seals ? &seals[i] : NULL,
					 (uint16_t)(level - 1),
					 index + i * dn.span);
	}
	disk_node_free(&dn);
	return ret;
}

/* ---- the commit's part -------------------------------------------------- */

int snapshot_write_pending(struct container *c, uint64_t generation,
			   uint64_t **meta_new, size_t *meta_new_num,
			   size_t *meta_new_cap)
{
	struct snapshot *s = c->snap_pending;
	uint64_t *blocks = NULL;
	size_t num = 0;
	int ret;

	if (!s)
		return 0;
	ret = table_write_frozen(c, generation, s->id, meta_new, meta_new_num,
				 meta_new_cap, &blocks, &num, &s->table_offset,
				 &s->table_crc, &s->table_seal, &s->flags);
	if (ret)
		return ret;
	free(s->blocks);
	s->blocks = blocks;
	s->block_num = num;
	s->generation = generation;
	if (!snapshot_find(c, s->name, NULL))
		ret = snapshot_append(c, s);
	return ret;
}

/* The commit that took c->snap_pending is durable: the live tree's nodes
 * are now (also) the snapshot's. */
int snapshot_commit_done(struct container *c)
{
	struct snapshot *s = c->snap_pending;
	int ret = 0;

	if (!s)
		return 0;
	c->snap_pending = NULL;
	for (size_t i = 0; !ret && i < c->object_num; i++)
		if (c->objects[i]->root)
			ret = sref_enter_mem(c, c->objects[i]->root);
	return ret;
}

/* ---- the API ------------------------------------------------------------ */

static int writable(struct container *c)
{
	if (c->view_parent || c->read_only)
		return -EROFS;
	return c->poisoned;
}

/* Take snapshot `name` (valid, reserved or not). */
static int snapshot_create_named(struct container *c, const char *name)
{
	int ret;

	if (!snapshot_name_valid(name))
		return -EINVAL;
	container_wrlock(c);
	ret = writable(c);
	if (ret)
		goto out_unlock;
	if (snapshot_find(c, name, NULL)) {
		ret = -EEXIST;
		goto out_unlock;
	}
	if (c->snap_num >= FORMAT_MAX_SNAPSHOTS) {
		ret = -EMLINK;
		goto out_unlock;
	}
	/* a snapshot takes an object id, and ids are never reused: the
	 * last one would wrap the counter to 0, an id no table may hold */
	if (c->next_object_id == UINT64_MAX) {
		ret = -EOVERFLOW;
		goto out_unlock;
	}
	struct snapshot *s = calloc(1, sizeof(*s));
	if (!s || !(s->name = strdup(name))) {
		free(s);
		ret = -ENOMEM;
		goto out_unlock;
	}
	s->id = c->next_object_id++;
	s->created = clock_now();
	c->snap_pending = s;
	c->txn_dirty = true;
	ret = container_commit_locked(c);
	if (c->snap_pending == s) {
		/* not committed: it never existed */
		size_t i;
		c->snap_pending = NULL;
		if (snapshot_find(c, name, &i) == s)
			snapshot_remove(c, i);
		snapshot_free(s);
		if (!ret)
			ret = -EIO;
	}
out_unlock:
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

/* Delete snapshot `name` (reserved or not). */
static int snapshot_delete_named(struct container *c, const char *name)
{
	struct leave_plan plan = {0};
	struct container *v = NULL;
	size_t index;
	int ret;

	container_wrlock(c);
	ret = writable(c);
	if (ret)
		goto out_unlock;
	struct snapshot *s = snapshot_find(c, name, &index);
	if (!s) {
		ret = -ENOENT;
		goto out_unlock;
	}
	if (s->view_refs) {
		ret = -EBUSY;
		goto out_unlock;
	}
	/* Store the pending compressed clusters first, while the snapshot
	 * still shares what they replace: stored by the deleting commit,
	 * after the counts below drop, a RAW cluster only this snapshot
	 * shared would pass the ownership test and be rewritten in place
	 * before that commit is durable -- a crash then showed the
	 * snapshot with the new bytes (found by tests/crash). */
	for (size_t i = 0; !ret && i < c->object_num; i++)
		ret = object_flush_pending(c, c->objects[i]);
	if (ret)
		goto out_unlock;
	uint64_t file_size;
	ret = io_size(c->io, &file_size);
	if (!ret)
		ret = view_load(c, s, true, &v);
	struct walk w = {.c = c, .file_size = file_size};
	for (size_t j = 0; !ret && j < v->object_num; j++) {
		struct object *o = v->objects[j];
		if (!o->frozen_root)
			continue;
		w.owner = o->id;
		ret = plan_leave(&w, &plan, o->frozen_root, o->frozen_crc,
				 &o->frozen_seal, (uint16_t)(o->height - 1), 0);
	}
	view_free(v);
	if (ret)
		goto out_unlock;
	/* every read succeeded: now change the counts */
	for (size_t i = 0; i < plan.dec_num; i++)
		(void)alloc_node_sref_add(&c->alloc, plan.dec[i], -1);
	for (size_t i = 0; i < plan.unref_nodes_num; i++)
		alloc_node_unref(&c->alloc, plan.unref_nodes[i]);
	for (size_t i = 0; i < plan.unref_num; i++)
		alloc_unref(&c->alloc, plan.unref[i]);
	for (size_t i = 0; i < s->block_num; i++)
		alloc_node_unref(&c->alloc, slot_of(c, s->blocks[i]));
	snapshot_remove(c, index);
	snapshot_free(s);
	c->txn_dirty = true;
	ret = container_commit_locked(c);
out_unlock:
	pthread_rwlock_unlock(&c->lock);
	free(plan.dec);
	free(plan.unref_nodes);
	free(plan.unref);
	return ret;
}

/* ---- pins ----------------------------------------------------------------
 *
 * A pin is a snapshot a reader beside the writer holds (container.h): its
 * name carries the reader's PID, so the writer can tell a pin whose reader
 * died and delete it.  Users cannot take or delete live pins by name.
 */

bool container_pin_name_parse(const char *name, pid_t *out_pid)
{
	const size_t prefix = strlen(CONTAINER_PIN_PREFIX);
	unsigned long long pid = 0, n = 0;
	const char *p;
	char *end;

	if (strncmp(name, CONTAINER_PIN_PREFIX, prefix) != 0)
		return false;
	p = name + prefix;
	if (*p < '1' || *p > '9')
		return false;
	pid = strtoull(p, &end, 10);
	if (*end != '-' || end[1] < '1' || end[1] > '9' || pid > INT32_MAX)
		return false;
	n = strtoull(end + 1, &end, 10);
	if (*end != '\0' || n == 0)
		return false;
	if (out_pid)
		*out_pid = (pid_t)pid;
	return true;
}

bool container_snapshot_name_reserved(const char *name)
{
	return strncmp(name, CONTAINER_PIN_PREFIX,
		       strlen(CONTAINER_PIN_PREFIX)) == 0;
}

/* Whether process `pid` is alive on this host (EPERM: alive, not ours). */
static bool pin_owner_alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

int container_snapshot_create(struct container *c, const char *name)
{
	if (container_snapshot_name_reserved(name))
		return -EINVAL;
	return snapshot_create_named(c, name);
}

int container_snapshot_delete(struct container *c, const char *name)
{
	pid_t pid;

	if (container_pin_name_parse(name, &pid) && pin_owner_alive(pid))
		return -EBUSY; /* its reader is still reading */
	return snapshot_delete_named(c, name);
}

int container_pin_reap(struct container *c, unsigned *out_reaped)
{
	struct snapshot_info *list = NULL;
	unsigned reaped = 0;
	size_t num = 0;
	pid_t pid;
	int ret = container_snapshot_list(c, &list, &num);

	for (size_t i = 0; !ret && i < num; i++) {
		if (!container_pin_name_parse(list[i].name, &pid) ||
		    pin_owner_alive(pid))
			continue;
		ret = snapshot_delete_named(c, list[i].name);
		if (ret == -ENOENT || ret == -EBUSY)
			ret = 0; /* gone meanwhile, or a view of it is open */
		else if (ret == 0)
			reaped++;
	}
	free(list);
	if (out_reaped)
		*out_reaped = reaped;
	return ret;
}

int container_pin_create(struct container *c, pid_t pid, char *out_name,
			 size_t name_len)
{
	struct snapshot_info *list = NULL;
	unsigned long long next = 1;
	char name[FORMAT_SNAPSHOT_NAME_MAX + 1];
	size_t num = 0;
	pid_t owner;
	int ret;

	if (pid <= 0)
		return -EINVAL;
	ret = container_pin_reap(c, NULL);
	if (!ret)
		ret = container_snapshot_list(c, &list, &num);
	if (ret)
		return ret;
	/* one more than the highest pin this PID holds */
	for (size_t i = 0; i < num; i++) {
		const char *dash;

		if (!container_pin_name_parse(list[i].name, &owner) ||
		    owner != pid)
			continue;
		dash = strrchr(list[i].name, '-');
		unsigned long long n = strtoull(dash + 1, NULL, 10);
		if (n >= next)
			next = n + 1;
	}
	free(list);
	snprintf(name, sizeof(name), "%s%ld-%llu", CONTAINER_PIN_PREFIX,
		 (long)pid, next);
	if (strlen(name) >= name_len)
		return -ENAMETOOLONG;
	ret = snapshot_create_named(c, name);
	if (!ret)
		snprintf(out_name, name_len, "%s", name);
	return ret;
}

int container_pin_delete(struct container *c, const char *name)
{
	if (!container_pin_name_parse(name, NULL))
		return -EINVAL;
	return snapshot_delete_named(c, name);
}

int container_snapshot_list(struct container *c, struct snapshot_info **out,
			    size_t *out_num)
{
	pthread_rwlock_rdlock(&c->lock);
	struct snapshot_info *list =
		calloc(c->snap_num ? c->snap_num : 1, sizeof(*list));
	if (!list) {
		pthread_rwlock_unlock(&c->lock);
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->snap_num; i++) {
		const struct snapshot *s = c->snaps[i];
		snprintf(list[i].name, sizeof(list[i].name), "%s", s->name);
		list[i].id = s->id;
		list[i].generation = s->generation;
		list[i].created = s->created;
	}
	*out_num = c->snap_num;
	*out = list;
	pthread_rwlock_unlock(&c->lock);
	return 0;
}

int container_snapshot_open(struct container *c, const char *name,
			    struct container **out_view)
{
	struct container *v = NULL;
	int ret;

	container_wrlock(c);
	struct snapshot *s = snapshot_find(c, name, NULL);
	if (!s) {
		pthread_rwlock_unlock(&c->lock);
		return -ENOENT;
	}
	s->view_refs++;
	if (s->view) {
		*out_view = s->view;
		pthread_rwlock_unlock(&c->lock);
		return 0;
	}
	pthread_rwlock_unlock(&c->lock);
	/* the whole trees, read without the parent's lock: view_refs keeps
	 * the snapshot (and so every cluster it maps) alive */
	ret = view_load(c, s, false, &v);
	container_wrlock(c);
	if (ret) {
		s->view_refs--;
	} else if (s->view) {
		view_free(v);
		*out_view = s->view;
	} else {
		s->view = v;
		*out_view = v;
	}
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

void container_snapshot_close(struct container *c, struct container *view)
{
	container_wrlock(c);
	for (size_t i = 0; i < c->snap_num; i++) {
		struct snapshot *s = c->snaps[i];
		if (s->view != view)
			continue;
		if (--s->view_refs == 0) {
			view_free(s->view);
			s->view = NULL;
		}
		break;
	}
	pthread_rwlock_unlock(&c->lock);
}

/* The live references of a tree that becomes live (rollback). */
static int live_ref_tree(struct container *c, const struct map_node *n)
{
	int ret = alloc_node_ref(&c->alloc, slot_of(c, n->phys), false);
	if (!ret && n->level == 0) {
		struct map_entry *ents = leaf_entries(c, n, &ret);
		for (uint32_t i = 0; ents && !ret && i < c->fanout; i++)
			if (entry_has_data(&ents[i]))
				ret = alloc_ref(&c->alloc,
						cluster_of(c, ents[i].offset));
		free(ents);
		return ret;
	}
	for (uint32_t i = 0; !ret && i < c->fanout; i++)
		if (n->children[i])
			ret = live_ref_tree(c, n->children[i]);
	return ret;
}

int container_snapshot_rollback(struct container *c, const char *name)
{
	struct container *v = NULL;
	int ret;

	container_wrlock(c);
	ret = writable(c);
	if (ret)
		goto out_unlock;
	struct snapshot *s = snapshot_find(c, name, NULL);
	if (!s) {
		ret = -ENOENT;
		goto out_unlock;
	}
	/* An open file (a running guest's disk) would go on being written
	 * through a handle to an object the rollback replaced.
	 * HANGAR_TEETH_ROLLBACK_WHILE_OPEN is for tests/crash only: a
	 * deliberately broken core that forgets this check; the replay's
	 * daemon workloads must catch it (tests/CMakeLists.txt builds it). */
#ifndef HANGAR_TEETH_ROLLBACK_WHILE_OPEN
	for (size_t i = 0; i < c->object_num; i++)
		if (c->objects[i]->open_count) {
			ret = -EBUSY;
			goto out_unlock;
		}
#endif
	/* the pending compressed clusters belong to what is replaced; the
	 * trees that come in are freed later without memory (map.c) */
	ret = map_scratch_ensure(c);
	for (size_t i = 0; !ret && i < c->object_num; i++)
		ret = object_flush_pending(c, c->objects[i]);
	if (!ret)
		ret = view_load(c, s, false, &v);
	if (ret)
		goto out_unlock;
	/* An image being replaced can never be resumed again, unless the
	 * snapshot brings back that very image (same object). */
	for (size_t i = 0; i < c->object_num; i++) {
		struct object *o = c->objects[i];
		if (o->seal && !object_find(v, o->id))
			save_object_gone(c, o);
		map_free_tree(c, o, true);
		object_destroy(c, o);
	}
	c->object_num = 0;
	for (size_t i = 0; i < v->object_num; i++) {
		struct object *o = v->objects[i];
		/* its leaves leave the view's cache: the tree becomes c's */
		map_unload_tree(v, o);
		if (!ret && o->root)
			ret = live_ref_tree(c, o->root);
		if (!ret)
			ret = object_insert(c, o);
		if (ret) {
			/* no memory mid-way: the object is lost from this
			 * transaction, which must then never commit */
			map_free_tree(v, o, false);
			object_destroy(v, o);
			c->poisoned = c->poisoned ? c->poisoned : -ENOMEM;
			continue;
		}
		o->dirty = true;
		object_stage_raw(c, o);
	}
	v->object_num = 0;
	view_free(v);
	if (ret)
		goto out_unlock;
	bool changed = false;
	ret = save_recover_incomplete(c, &changed);
	c->txn_dirty = true;
	container_dir_touch(c);
	if (!ret)
		ret = container_commit_locked(c);
out_unlock:
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

/* ---- differences --------------------------------------------------------- */

/* Changed virtual clusters of one file, coalesced into byte extents. */
struct diff_run {
	container_diff_fn fn;
	void *arg;
	const char *name;
	uint32_t cluster_size;
	uint64_t size;	     /* the newer file's size: extents end there */
	uint64_t start, end; /* pending run, in clusters; start == end: none */
	/* the clusters between the two sizes: changed whatever the trees
	 * say, reported once, in order with the rest */
	uint64_t gap_start, gap_end;
	bool gap_done;
	int ret;
};

static void diff_flush(struct diff_run *r)
{
	if (r->start == r->end || r->ret)
		return;
	uint64_t off = r->start * r->cluster_size;
	uint64_t end = r->end * r->cluster_size;
	if (end > r->size)
		end = r->size;
	if (off < end)
		r->ret = r->fn(r->arg, r->name, CONTAINER_DIFF_CHANGED, off,
			       end - off);
	r->start = r->end = 0;
}

static void diff_run_add(struct diff_run *r, uint64_t vc, uint64_t count)
{
	if (r->start != r->end && r->end == vc) {
		r->end += count;
		return;
	}
	diff_flush(r);
	r->start = vc;
	r->end = vc + count;
}

/* Marks arrive in ascending order of clusters. */
static void diff_mark(struct diff_run *r, uint64_t vc, uint64_t count)
{
	uint64_t end = vc + count;
	if (!r->gap_done && end > r->gap_start) {
		if (vc < r->gap_start)
			diff_run_add(r, vc, r->gap_start - vc);
		diff_run_add(r, r->gap_start, r->gap_end - r->gap_start);
		r->gap_done = true;
	}
	if (r->gap_done && r->gap_start < r->gap_end && vc < r->gap_end &&
	    end > r->gap_start) {
		if (end <= r->gap_end)
			return;
		vc = r->gap_end;
	}
	diff_run_add(r, vc, end - vc);
}

static bool same_entry(const struct map_entry *a, const struct map_entry *b)
{
	bool za = a->kind == MAP_KIND_HOLE || a->kind == MAP_KIND_ZERO;
	bool zb = b->kind == MAP_KIND_HOLE || b->kind == MAP_KIND_ZERO;
	if (za || zb)
		return za && zb;
	return a->kind == b->kind && a->offset == b->offset &&
	       a->length == b->length;
}

/* Does the subtree of `c`'s tree hold any data (it is compared against
 * nothing)? */
static void diff_against_nothing(struct container *c, struct diff_run *r,
				 const struct map_node *n)
{
	if (!n)
		return;
	if (n->level == 0) {
		struct map_entry *ents = leaf_entries(c, n, &r->ret);
		for (uint32_t i = 0; ents && i < c->fanout && !r->ret; i++)
			if (entry_has_data(&ents[i]))
				diff_mark(r, n->index + i, 1);
		free(ents);
		return;
	}
	for (uint32_t i = 0; i < c->fanout && !r->ret; i++)
		if (n->children[i])
			diff_against_nothing(c, r, n->children[i]);
}

/* Two nodes at the same level and index (either may be NULL): `a` of
 * ca's tree, `b` of cb's. */
static void diff_nodes(struct container *ca, struct container *cb,
		       struct diff_run *r, const struct map_node *a,
		       const struct map_node *b)
{
	if (r->ret || (!a && !b))
		return;
	if (a && b && !a->dirty && !b->dirty && a->phys && a->phys == b->phys)
		return; /* one committed node: the same subtree */
	if (!a || !b) {
		diff_against_nothing(a ? ca : cb, r, a ? a : b);
		return;
	}
	if (a->level == 0) {
		struct map_entry *ea = leaf_entries(ca, a, &r->ret);
		struct map_entry *eb = ea ? leaf_entries(cb, b, &r->ret) : NULL;
		for (uint32_t i = 0; eb && i < ca->fanout && !r->ret; i++)
			if (!same_entry(&ea[i], &eb[i]))
				diff_mark(r, a->index + i, 1);
		free(ea);
		free(eb);
		return;
	}
	for (uint32_t i = 0; i < ca->fanout && !r->ret; i++)
		diff_nodes(ca, cb, r, a->children[i], b->children[i]);
}

/* The node of `o`'s tree at `level` covering cluster 0 (NULL if none). */
static const struct map_node *node_at_level(const struct object *o,
					    uint16_t level)
{
	const struct map_node *n = o->root;
	while (n && n->level > level)
		n = n->children[0];
	return n && n->level == level ? n : NULL;
}

/* The container whose tree is the taller of a's and b's (diff_object). */
static struct container *tall_container(struct container *ca,
					struct container *cb,
					const struct object *a,
					const struct object *b)
{
	unsigned ha = a->root ? a->height : 0, hb = b->root ? b->height : 0;
	return ha >= hb ? ca : cb;
}

/* Compare one file's two versions (same object): `a` of ca, `b` of cb. */
static void diff_object(struct container *ca, struct container *cb,
			struct diff_run *r, const struct object *a,
			const struct object *b)
{
	struct container *c = tall_container(ca, cb, a, b);
	unsigned ha = a->root ? a->height : 0, hb = b->root ? b->height : 0;
	unsigned h = ha < hb ? ha : hb;
	const struct object *tall = ha >= hb ? a : b;
	uint64_t lo = a->size < b->size ? a->size : b->size;
	uint64_t hi = a->size < b->size ? b->size : a->size;
	r->gap_start = lo / r->cluster_size;
	r->gap_end = (hi + r->cluster_size - 1) / r->cluster_size;
	r->gap_done = r->gap_start >= r->gap_end;
	if (h == 0) {
		diff_against_nothing(c, r, tall->root);
	} else {
		diff_nodes(ca, cb, r, node_at_level(a, (uint16_t)(h - 1)),
			   node_at_level(b, (uint16_t)(h - 1)));
		/* what only the taller tree covers: the other children of
		 * each node above the compared level on the path to cluster
		 * 0, lowest level first so the clusters ascend */
		const struct map_node *path[FORMAT_MAX_HEIGHT];
		size_t depth = 0;
		for (const struct map_node *n = tall->root;
		     n && n->level >= h && depth < FORMAT_MAX_HEIGHT;
		     n = n->children[0])
			path[depth++] = n;
		while (depth-- > 0)
			for (uint32_t i = 1; i < c->fanout && !r->ret; i++)
				diff_against_nothing(c, r,
						     path[depth]->children[i]);
	}
	if (!r->gap_done)
		diff_mark(r, r->gap_start, 0);
	diff_flush(r);
}

static int diff_containers(struct container *c, struct container *from,
			   struct container *to, container_diff_fn fn,
			   void *arg)
{
	int ret = 0;
	for (size_t i = 0; !ret && i < from->object_num; i++) {
		const struct object *o = from->objects[i];
		if (o->name && !object_find_name(to, o->name))
			ret = fn(arg, o->name, CONTAINER_DIFF_REMOVED, 0,
				 o->size);
	}
	for (size_t i = 0; !ret && i < to->object_num; i++) {
		const struct object *b = to->objects[i];
		if (!b->name)
			continue;
		const struct object *a = object_find_name(from, b->name);
		struct diff_run r = {.fn = fn,
				     .arg = arg,
				     .name = b->name,
				     .cluster_size = c->cluster_size,
				     .size = b->size};
		if (!a || a->id != b->id) {
			/* a new file (or another file under that name) */
			ret = fn(arg, b->name, CONTAINER_DIFF_ADDED, 0,
				 b->size);
			continue;
		}
		r.size = a->size > b->size ? a->size : b->size;
		diff_object(from, to, &r, a, b);
		ret = r.ret;
	}
	return ret;
}

int container_snapshot_diff(struct container *c, const char *from,
			    const char *to, container_diff_fn fn, void *arg)
{
	struct container *va = NULL, *vb = NULL;
	int ret = container_snapshot_open(c, from, &va);
	if (ret)
		return ret;
	if (to) {
		ret = container_snapshot_open(c, to, &vb);
		if (ret)
			goto out;
		ret = diff_containers(c, va, vb, fn, arg);
	} else {
		/* the live state: its in-memory trees, under the read lock
		 * (the callback must not call back into the container) */
		ret = container_rdlock_maps(c);
		if (ret)
			goto out;
		ret = diff_containers(c, va, c, fn, arg);
		pthread_rwlock_unlock(&c->lock);
	}
out:
	if (vb)
		container_snapshot_close(c, vb);
	container_snapshot_close(c, va);
	return ret;
}

/* ---- space ---------------------------------------------------------------- */

static int mark_live(struct container *c, const struct map_node *n,
		     uint8_t *live, uint64_t count)
{
	int ret = 0;

	if (!n)
		return 0;
	if (!n->dirty && n->phys && cluster_of(c, n->phys) < count)
		live[cluster_of(c, n->phys) >> 3] |=
			(uint8_t)(1u << (cluster_of(c, n->phys) & 7));
	if (n->level > 0) {
		for (uint32_t i = 0; !ret && i < c->fanout; i++)
			ret = mark_live(c, n->children[i], live, count);
		return ret;
	}
	struct map_entry *ents = leaf_entries(c, n, &ret);
	for (uint32_t i = 0; ents && i < c->fanout; i++) {
		if (entry_has_data(&ents[i])) {
			uint64_t cl = cluster_of(c, ents[i].offset);
			if (cl < count)
				live[cl >> 3] |= (uint8_t)(1u << (cl & 7));
		}
	}
	free(ents);
	return ret;
}

int container_snapshot_space(struct container *c, uint64_t *out_bytes)
{
	*out_bytes = 0;
	int ret = container_rdlock_maps(c);
	if (ret)
		return ret;
	const struct alloc *a = &c->alloc;
	if (c->snap_num == 0 || c->view_parent) {
		pthread_rwlock_unlock(&c->lock);
		return 0;
	}
	uint8_t *live = calloc((size_t)(a->count / 8 + 1), 1);
	if (!live) {
		pthread_rwlock_unlock(&c->lock);
		return -ENOMEM;
	}
	ret = 0;
	for (size_t i = 0; !ret && i < c->object_num; i++)
		ret = mark_live(c, c->objects[i]->root, live, a->count);
	if (ret) {
		free(live);
		pthread_rwlock_unlock(&c->lock);
		return ret;
	}
	for (size_t i = 0; i < c->table_block_num && c->table_blocks; i++) {
		uint64_t cl = cluster_of(c, c->table_blocks[i]);
		if (cl < a->count)
			live[cl >> 3] |= (uint8_t)(1u << (cl & 7));
	}
	uint64_t n = 0;
	for (uint64_t cl = a->first; cl < a->count; cl++)
		if (a->refs[cl] && !(live[cl >> 3] & (1u << (cl & 7))) &&
		    cl != c->pack_cluster)
			n++;
	free(live);
	*out_bytes = n << c->cluster_shift;
	pthread_rwlock_unlock(&c->lock);
	return 0;
}
