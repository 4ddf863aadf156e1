/*
 * object.c -- the objects of a container: namespace operations.
 *
 * Design notes.  Objects live in an array sorted by id (ids are never
 * reused); names are looked up by a linear scan because a guest holds a
 * handful of objects.  An object unlinked while open becomes an orphan: its
 * name is dropped in the same transaction, it stays in the table flagged
 * OBJECT_FLAG_ORPHAN (so its clusters remain referenced and accounted), and
 * it is deleted by its last object_release or, after a crash, by the next
 * read-write open (container_recover).
 *
 * Invariants:
 *   1. Linked names are unique and valid (name_object_valid).
 *   2. Every save-lock transition caused by a namespace change (unlink or
 *      rename of memory.save, rename into memory.save) is committed before
 *      the call returns.
 *   3. A disk pinned by a SAVED or RESUMING image is never unlinked or
 *      renamed, and nothing is renamed over it (-EBUSY).
 *
 * The data path (read, write, truncate, punch, seek) is in data.c.
 *
 * THREAD MODEL: lookups and attribute reads under the container read lock,
 * everything else under its write lock (internal.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "hangar/names.h"

enum object_role object_role_of_name(const char *name)
{
	size_t len = strlen(name);
	if (strcmp(name, SAVE_IMAGE_NAME) == 0)
		return OBJECT_ROLE_IMAGE;
	if (len > 4 && strcmp(name + len - 4, ".raw") == 0)
		return OBJECT_ROLE_DISK;
	return OBJECT_ROLE_FILE;
}

bool object_is_compressed(const struct container *c, const struct object *o)
{
	if (!o->name)
		return false;
	switch (object_role_of_name(o->name)) {
	case OBJECT_ROLE_IMAGE:
		return true;
	case OBJECT_ROLE_DISK:
		return c->flags & CONTAINER_FLAG_COMPRESS_DISKS;
	default:
		return false;
	}
}

struct object *object_find(struct container *c, uint64_t id)
{
	size_t lo = 0, hi = c->object_num;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (c->objects[mid]->id == id)
			return c->objects[mid];
		if (c->objects[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct object *object_find_name(struct container *c, const char *name)
{
	for (size_t i = 0; i < c->object_num; i++)
		if (c->objects[i]->name &&
		    strcmp(c->objects[i]->name, name) == 0)
			return c->objects[i];
	return NULL;
}

int object_new(struct container *c, uint64_t id, const char *name,
	       struct object **out_obj)
{
	(void)c;
	struct object *o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	if (name) {
		o->name = strdup(name);
		if (!o->name) {
			free(o);
			return -ENOMEM;
		}
	}
	o->id = id;
	pthread_mutex_init(&o->attr_lock, NULL);
	*out_obj = o;
	return 0;
}

int object_insert(struct container *c, struct object *o)
{
	if (c->object_num == c->object_cap) {
		size_t cap = c->object_cap ? c->object_cap * 2 : 8;
		struct object **n = realloc(c->objects, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		c->objects = n;
		c->object_cap = cap;
	}
	size_t i = c->object_num;
	while (i > 0 && c->objects[i - 1]->id > o->id) {
		c->objects[i] = c->objects[i - 1];
		i--;
	}
	c->objects[i] = o;
	c->object_num++;
	return 0;
}

void object_destroy(struct container *c, struct object *o)
{
	(void)c;
	if (!o)
		return;
	free(o->name);
	free(o->pend_buf);
	free(o->staged);
	save_seal_free(o->seal);
	object_fp_drop(o);
	pthread_mutex_destroy(&o->attr_lock);
	free(o);
}

static void object_remove(struct container *c, struct object *o)
{
	for (size_t i = 0; i < c->object_num; i++) {
		if (c->objects[i] != o)
			continue;
		memmove(&c->objects[i], &c->objects[i + 1],
			(c->object_num - i - 1) * sizeof(*c->objects));
		c->object_num--;
		break;
	}
	map_free_tree(c, o, true);
	object_destroy(c, o);
	c->txn_dirty = true;
}

void container_touch(struct object *o, bool content)
{
	struct timespec now = clock_now();
	pthread_mutex_lock(&o->attr_lock);
	o->ctime = now;
	if (content) {
		o->mtime = now;
		o->changed_at = now;
		o->content_dirty = true;
	}
	pthread_mutex_unlock(&o->attr_lock);
}

void container_dir_touch(struct container *c)
{
	if (!c->dir.set)
		return;
	c->dir.mtime = c->dir.ctime = clock_now();
	c->txn_dirty = true;
}

int container_dir_getattr(struct container *c, struct object_attr *out_attr)
{
	int ret = 0;
	memset(out_attr, 0, sizeof(*out_attr));
	pthread_rwlock_rdlock(&c->lock);
	if (!c->dir.set) {
		ret = -ENODATA;
	} else {
		out_attr->mode = S_IFDIR | c->dir.mode;
		out_attr->uid = c->dir.uid;
		out_attr->gid = c->dir.gid;
		out_attr->mtime = c->dir.mtime;
		out_attr->ctime = c->dir.ctime;
	}
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

int container_dir_setattr(struct container *c, const struct object_attr *attr,
			  unsigned mask, const struct object_attr *defaults)
{
	int ret;
	container_wrlock(c);
	ret = c->read_only ? -EROFS : c->poisoned;
	if (ret)
		goto out_unlock;
	struct dir_info *d = &c->dir;
	if (!d->set) {
		d->mode = defaults ? defaults->mode & 07777 : 0750;
		d->uid = defaults ? defaults->uid : 0;
		d->gid = defaults ? defaults->gid : 0;
		d->mtime = defaults ? defaults->mtime : clock_now();
		d->set = true;
	}
	if (mask & OBJECT_SET_MODE)
		d->mode = attr->mode & 07777;
	if (mask & OBJECT_SET_UID)
		d->uid = attr->uid;
	if (mask & OBJECT_SET_GID)
		d->gid = attr->gid;
	if (mask & OBJECT_SET_MTIME)
		d->mtime = attr->mtime;
	d->ctime = clock_now();
	c->txn_dirty = true;
out_unlock:
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

static int writable(struct container *c)
{
	if (c->read_only)
		return -EROFS;
	return c->poisoned;
}

/* Pinned in the sense of namespace protection: SAVED or RESUMING. */
static bool pinned_for_namespace(struct container *c, const struct object *o)
{
	return save_is_pinned(c, o->id);
}

int object_lookup(struct container *c, const char *name, uint64_t *out_id)
{
	int ret = -ENOENT;
	pthread_rwlock_rdlock(&c->lock);
	struct object *o = object_find_name(c, name);
	if (o) {
		*out_id = o->id;
		ret = 0;
	}
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

int object_create(struct container *c, const char *name, uint32_t mode,
		  uint32_t uid, uint32_t gid, uint64_t *out_id)
{
	struct object *o = NULL;
	int ret;

	if (!name_object_valid(name))
		return -EINVAL;
	container_wrlock(c);
	ret = writable(c);
	if (ret)
		goto out_unlock;
	if (object_find_name(c, name)) {
		ret = -EEXIST;
		goto out_unlock;
	}
	if (c->next_object_id == UINT64_MAX) {
		ret = -EOVERFLOW; /* ids are never reused */
		goto out_unlock;
	}
	ret = object_new(c, c->next_object_id, name, &o);
	if (ret)
		goto out_unlock;
	o->mode = S_IFREG | (mode & 07777);
	o->uid = uid;
	o->gid = gid;
	o->mtime = o->ctime = clock_now();
	o->content_dirty = true;
	o->dirty = true;
	if (object_role_of_name(name) == OBJECT_ROLE_IMAGE) {
		/* a dump of the guest's RAM: private whatever the umask */
		o->mode = S_IFREG | 0600;
		o->flags |= OBJECT_FLAG_IMAGE_UNSEALED;
	}
	ret = object_insert(c, o);
	if (ret) {
		object_destroy(c, o);
		goto out_unlock;
	}
	c->next_object_id++;
	c->txn_dirty = true;
	container_dir_touch(c);
	*out_id = o->id;
out_unlock:
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

/* Does a namespace change of `o` (from or to `name`) touch the save lock,
 * so that it must be committed before the call returns? */
static bool save_relevant(const struct container *c, const struct object *o,
			  const char *name)
{
	if (o->seal || (o->flags & (OBJECT_FLAG_IMAGE_UNSEALED |
				    OBJECT_FLAG_IMAGE_TAINTED)))
		return true;
	if (name &&
	    strncmp(name, SAVE_IMAGE_NAME, strlen(SAVE_IMAGE_NAME)) == 0)
		return true;
	/* a file arriving in a saved guest is adopted (savelock.h rule 4) */
	const struct object *img =
		object_find_name((struct container *)c, SAVE_IMAGE_NAME);
	return img && img->seal && img->seal->state == SAVE_STATE_SAVED;
}

/* Unlink `o` (write lock held); the caller commits if the save lock cares
 * (save_relevant). */
int object_unlink_locked(struct container *c, struct object *o)
{
	save_object_gone(c, o);
	if (o->open_count > 0) {
		free(o->name);
		o->name = NULL;
		o->dirty = true;
		c->txn_dirty = true;
		container_touch(o, false);
	} else {
		object_remove(c, o);
	}
	return 0;
}

int object_unlink(struct container *c, const char *name)
{
	int ret;

	container_wrlock(c);
	ret = writable(c);
	if (ret)
		goto out_unlock;
	struct object *o = object_find_name(c, name);
	if (!o) {
		ret = -ENOENT;
		goto out_unlock;
	}
	if (pinned_for_namespace(c, o)) {
		ret = -EBUSY;
		goto out_unlock;
	}
	container_dir_touch(c);
	bool commit = save_relevant(c, o, o->name);
	ret = object_unlink_locked(c, o);
	if (!ret && commit)
		ret = container_commit_locked(c);
out_unlock:
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

/* Rename `o` to `to`, replacing a target (write lock held).  Everything
 * the save lock must see (an image leaving or arriving, a file arriving in
 * a saved guest) is committed before it returns. */
int object_rename_locked(struct container *c, struct object *o, const char *to)
{
	struct object *target = object_find_name(c, to);
	int ret;

	if (target == o)
		return 0;
	char *copy = strdup(to);
	if (!copy)
		return -ENOMEM;
	if (object_flush_pending(c, o) != 0) {
		/* the pending cluster will be stored by the commit instead */
	}
	bool commit = save_relevant(c, o, o->name) || save_relevant(c, o, to);
	if (target) {
		commit |= save_relevant(c, target, to);
		ret = object_unlink_locked(c, target);
		if (ret) {
			free(copy);
			return ret;
		}
	}
	bool was_image = o->name && strcmp(o->name, SAVE_IMAGE_NAME) == 0;
	if (was_image != (object_role_of_name(to) == OBJECT_ROLE_IMAGE))
		object_fp_drop(o); /* written under another role meanwhile */
	free(o->name);
	o->name = copy;
	o->dirty = true;
	c->txn_dirty = true;
	container_touch(o, false);
	if (object_role_of_name(to) == OBJECT_ROLE_IMAGE) {
		ret = save_arrive(c, o);
		if (ret)
			return ret;
	} else if (was_image) {
		/* An image leaving memory.save keeps its seal (it travels);
		 * one still being written is no image any more. */
		o->flags &= ~OBJECT_FLAG_IMAGE_UNSEALED;
	}
	return commit ? container_commit_locked(c) : 0;
}

int object_rename(struct container *c, const char *from, const char *to,
		  bool noreplace)
{
	int ret;

	if (!name_object_valid(to))
		return -EINVAL;
	container_wrlock(c);
	ret = writable(c);
	if (ret)
		goto out_unlock;
	struct object *o = object_find_name(c, from);
	if (!o) {
		ret = -ENOENT;
		goto out_unlock;
	}
	struct object *target = object_find_name(c, to);
	if (target == o)
		goto out_unlock;
	if (target && noreplace) {
		ret = -EEXIST;
		goto out_unlock;
	}
	if (pinned_for_namespace(c, o) ||
	    (target && pinned_for_namespace(c, target))) {
		ret = -EBUSY;
		goto out_unlock;
	}
	container_dir_touch(c);
	ret = object_rename_locked(c, o, to);
out_unlock:
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

int object_getattr(struct container *c, uint64_t id,
		   struct object_attr *out_attr)
{
	int ret = 0;
	memset(out_attr, 0, sizeof(*out_attr));
	pthread_rwlock_rdlock(&c->lock);
	struct object *o = object_find(c, id);
	if (!o) {
		ret = -ENOENT;
		goto out_unlock;
	}
	out_attr->id = o->id;
	out_attr->size = o->size;
	out_attr->stored_bytes = o->stored_bytes;
	out_attr->mode = o->mode;
	out_attr->uid = o->uid;
	out_attr->gid = o->gid;
	out_attr->role =
		o->name ? object_role_of_name(o->name) : OBJECT_ROLE_FILE;
	out_attr->compressed = object_is_compressed(c, o);
	pthread_mutex_lock(&o->attr_lock);
	out_attr->generation = o->generation;
	out_attr->mtime = o->mtime;
	out_attr->ctime = o->ctime;
	pthread_mutex_unlock(&o->attr_lock);
	if (o->pend_valid)
		out_attr->stored_bytes += c->cluster_size;
out_unlock:
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

int object_name_of(struct container *c, uint64_t id, char *out_name,
		   size_t name_len)
{
	int ret = 0;
	pthread_rwlock_rdlock(&c->lock);
	struct object *o = object_find(c, id);
	if (!o)
		ret = -ENOENT;
	else if (name_len > 0)
		snprintf(out_name, name_len, "%s", o->name ? o->name : "");
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

int object_setattr(struct container *c, uint64_t id,
		   const struct object_attr *attr, unsigned mask)
{
	int ret;
	container_wrlock(c);
	ret = writable(c);
	if (ret)
		goto out_unlock;
	struct object *o = object_find(c, id);
	if (!o) {
		ret = -ENOENT;
		goto out_unlock;
	}
	container_touch(o, false);
	pthread_mutex_lock(&o->attr_lock);
	if (mask & OBJECT_SET_MODE)
		o->mode = S_IFREG | (attr->mode & 07777);
	if (mask & OBJECT_SET_UID)
		o->uid = attr->uid;
	if (mask & OBJECT_SET_GID)
		o->gid = attr->gid;
	if (mask & OBJECT_SET_MTIME) {
		o->mtime = attr->mtime;
		save_seal_set_time(o, attr->mtime);
	}
	pthread_mutex_unlock(&o->attr_lock);
	o->dirty = true;
	c->txn_dirty = true;
out_unlock:
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct object_name *)a)->name,
		      ((const struct object_name *)b)->name);
}

int object_list(struct container *c, struct object_name **out_names,
		size_t *out_num)
{
	size_t n = 0;
	pthread_rwlock_rdlock(&c->lock);
	struct object_name *names =
		calloc(c->object_num ? c->object_num : 1, sizeof(*names));
	if (!names) {
		pthread_rwlock_unlock(&c->lock);
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->object_num; i++) {
		const struct object *o = c->objects[i];
		if (!o->name)
			continue;
		names[n].id = o->id;
		snprintf(names[n].name, sizeof(names[n].name), "%s", o->name);
		n++;
	}
	pthread_rwlock_unlock(&c->lock);
	qsort(names, n, sizeof(*names), name_cmp);
	*out_names = names;
	*out_num = n;
	return 0;
}

int object_open(struct container *c, uint64_t id, bool for_write)
{
	int ret = 0;
	/* opening a file of a guest opened lazily does not walk its trees */
	container_wrlock_unwalked(c);
	struct object *o = object_find(c, id);
	if (!o) {
		ret = -ENOENT;
	} else if (for_write && c->read_only) {
		ret = -EROFS;
	} else {
		o->open_count++;
		if (for_write)
			o->write_count++;
	}
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

void object_release(struct container *c, uint64_t id, bool for_write)
{
	bool settle = false;
	/* the commit below needs a write since the open (content_dirty),
	 * the removal an unlink: both walked already */
	container_wrlock_unwalked(c);
	struct object *o = object_find(c, id);
	if (o && o->open_count > 0) {
		o->open_count--;
		if (for_write && o->write_count > 0)
			o->write_count--;
		/* A written file that may become an image (not a disk, not
		 * config) gets a generation of its own at its last close, so
		 * the save lock can tell a disk written after it
		 * (savelock.c, the age rule). */
		settle = for_write && o->write_count == 0 && o->name &&
			 o->content_dirty && !c->read_only && !c->poisoned &&
			 object_role_of_name(o->name) == OBJECT_ROLE_FILE &&
			 strcmp(o->name, "config") != 0;
		if (o->open_count == 0 && !o->name && !c->read_only)
			object_remove(c, o);
	}
	if (settle)
		(void)container_commit_locked(c); /* poisons on failure */
	pthread_rwlock_unlock(&c->lock);
}
