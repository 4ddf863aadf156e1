/*
 * savelock.c -- the save lock's transitions (the state diagram is in
 * savelock.h).
 *
 * Design notes.  Every transition changes `c->save` (and maybe names) under
 * the container write lock and then commits with container_commit_locked()
 * before returning, so its outcome is durable and queryable after any
 * restart.  The seal is special: the pins must record the generations the
 * disks will have IN the commit that seals, so the seal only sets
 * `seal_pending` and the commit calls save_take_pins() after it has assigned
 * the new generations.
 *
 * Why transitions triggered by writes (invalidate, retire, unseal) commit
 * BEFORE the write touches the disk: an in-place write may reach the disk
 * before the next commit; if a crash came in between, the committed state
 * would still call the image resumable while the disk had moved on.
 *
 * THREAD MODEL: all functions take (or are called with) the container write
 * lock; save_is_pinned only reads and is fine under the read lock.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "savelock.h"

const char *save_state_name(enum save_state state)
{
	switch (state) {
	case SAVE_STATE_NONE:
		return "stopped";
	case SAVE_STATE_SAVED:
		return "saved";
	case SAVE_STATE_RESUMING:
		return "resuming";
	case SAVE_STATE_INVALIDATED:
		return "invalidated";
	}
	return "unknown";
}

bool save_is_pinned(const struct container *c, uint64_t id)
{
	for (size_t i = 0; i < c->save.pin_count; i++)
		if (c->save.pins[i].id == id)
			return true;
	return false;
}

static void format_time(struct timespec t, char *buf, size_t len)
{
	struct tm tm;
	time_t sec = t.tv_sec;
	gmtime_r(&sec, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

void save_take_pins(struct container *c)
{
	struct save_info *s = &c->save;
	s->pin_count = 0;
	for (size_t i = 0; i < c->object_num; i++) {
		const struct object *o = c->objects[i];
		if (!o->name)
			continue;
		if (object_role_of_name(o->name) == OBJECT_ROLE_DISK &&
		    s->pin_count < FORMAT_MAX_PINS) {
			s->pins[s->pin_count].id = o->id;
			s->pins[s->pin_count].generation = o->generation;
			s->pin_count++;
		}
		if (strcmp(o->name, "config") == 0)
			s->config_generation = o->generation;
	}
}

/* Called (write lock held) before a modification of `o` that the save
 * state cares about; commits the transition first. */
int save_before_modify(struct container *c, struct object *o)
{
	struct save_info *s = &c->save;
	char detail[256];
	int ret;

	if (o->id == s->image_id &&
	    (s->state == SAVE_STATE_SAVED || s->state == SAVE_STATE_RESUMING)) {
		/* The image is being rewritten: it is no longer sealed. */
		memset(s, 0, sizeof(*s));
		o->flags |= OBJECT_FLAG_IMAGE_UNSEALED;
		o->dirty = true;
		c->txn_dirty = true;
		return container_commit_locked(c);
	}
	if (!save_is_pinned(c, o->id))
		return 0;
	struct object *img = object_find(c, s->image_id);
	if (s->state == SAVE_STATE_RESUMING) {
		snprintf(detail, sizeof(detail),
			 "resumed guest wrote %s; memory.save retired",
			 o->name ? o->name : "a disk");
		memset(s, 0, sizeof(*s));
		if (img && img->name) {
			ret = object_unlink_locked(c, img);
			if (ret)
				return ret;
		}
		container_emit(c, CONTAINER_EVENT_IMAGE_RETIRED,
			       SAVE_IMAGE_NAME, detail, 0);
		c->txn_dirty = true;
		return container_commit_locked(c);
	}
	if (s->state == SAVE_STATE_SAVED) {
		char when[64];
		format_time(s->saved_time, when, sizeof(when));
		snprintf(detail, sizeof(detail),
			 "%s was written through a handle opened before the "
			 "save of %s; memory.save is stale and was renamed %s",
			 o->name ? o->name : "a disk", when,
			 SAVE_IMAGE_STALE_NAME);
		if (img && img->name) {
			struct object *old =
				object_find_name(c, SAVE_IMAGE_STALE_NAME);
			if (old && old != img) {
				ret = object_unlink_locked(c, old);
				if (ret)
					return ret;
			}
			free(img->name);
			img->name = strdup(SAVE_IMAGE_STALE_NAME);
			if (!img->name)
				return -ENOMEM;
			img->dirty = true;
		}
		s->state = SAVE_STATE_INVALIDATED;
		s->event_time = clock_now();
		s->event_object = o->id;
		s->pin_count = 0;
		container_emit(c, CONTAINER_EVENT_IMAGE_INVALIDATED, o->name,
			       detail, 0);
		c->txn_dirty = true;
		return container_commit_locked(c);
	}
	return 0;
}

int save_lock_seal(struct container *c)
{
	int ret;

	container_wrlock(c);
	ret = c->read_only ? -EROFS : c->poisoned;
	if (ret)
		goto out_unlock;
	struct object *img = object_find_name(c, SAVE_IMAGE_NAME);
	if (!img) {
		ret = -ENOENT;
		goto out_unlock;
	}
	if (!(img->flags & OBJECT_FLAG_IMAGE_UNSEALED) &&
	    c->save.state != SAVE_STATE_NONE && c->save.image_id == img->id)
		goto out_unlock; /* already sealed, unchanged */
	ret = object_flush_pending(c, img);
	if (ret)
		goto out_unlock;
	memset(&c->save, 0, sizeof(c->save));
	img->flags &= ~OBJECT_FLAG_IMAGE_UNSEALED;
	img->dirty = true;
	c->save.state = SAVE_STATE_SAVED;
	c->save.image_id = img->id;
	c->save.saved_time = clock_now();
	c->save.seal_pending = true;
	c->txn_dirty = true;
	ret = container_commit_locked(c);
out_unlock:
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

__attribute__((format(printf, 3, 4))) static void say(char *reason, size_t len,
						      const char *fmt, ...)
{
	va_list ap;
	if (!reason || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, len, fmt, ap);
	va_end(ap);
}

int save_lock_resume(struct container *c, char *reason, size_t reason_len)
{
	struct save_info *s = &c->save;
	char when[64] = "", ev[64] = "";
	int ret = 0;

	container_wrlock(c);
	if (c->read_only || c->poisoned) {
		ret = c->read_only ? -EROFS : c->poisoned;
		goto out_unlock;
	}
	format_time(s->saved_time, when, sizeof(when));
	switch (s->state) {
	case SAVE_STATE_NONE:
		say(reason, reason_len, "no saved memory image to resume");
		ret = -ENOENT;
		goto out_unlock;
	case SAVE_STATE_RESUMING:
		goto out_unlock;
	case SAVE_STATE_INVALIDATED: {
		struct object *d = object_find(c, s->event_object);
		format_time(s->event_time, ev, sizeof(ev));
		char what[300];
		snprintf(what, sizeof(what), "%s was written at %s",
			 d && d->name ? d->name : "a disk", ev);
		say(reason, reason_len,
		    "the save image is stale: %s, after the save of %s; "
		    "boot the guest fresh (hangar discard clears this)",
		    what, when);
		ret = -ESTALE;
		goto out_unlock;
	}
	case SAVE_STATE_SAVED:
		break;
	}
	for (size_t i = 0; i < s->pin_count; i++) {
		struct object *d = object_find(c, s->pins[i].id);
		if (!d || !d->name) {
			say(reason, reason_len,
			    "a disk the save image depends on was removed "
			    "since the save of %s",
			    when);
			ret = -ESTALE;
			goto out_unlock;
		}
		bool pending;
		pthread_mutex_lock(&d->attr_lock);
		pending = d->content_dirty;
		pthread_mutex_unlock(&d->attr_lock);
		if (d->generation != s->pins[i].generation || pending) {
			say(reason, reason_len,
			    "%s changed since the save of %s; resuming would "
			    "corrupt the guest's filesystem",
			    d->name, when);
			ret = -ESTALE;
			goto out_unlock;
		}
	}
	s->state = SAVE_STATE_RESUMING;
	c->txn_dirty = true;
	ret = container_commit_locked(c);
out_unlock:
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

int save_lock_discard(struct container *c)
{
	int ret;

	container_wrlock(c);
	ret = c->read_only ? -EROFS : c->poisoned;
	if (ret)
		goto out_unlock;
	struct object *img = object_find_name(c, SAVE_IMAGE_NAME);
	struct object *stale = object_find_name(c, SAVE_IMAGE_STALE_NAME);
	if (c->save.state == SAVE_STATE_NONE && !img) {
		ret = -ENOENT;
		goto out_unlock;
	}
	memset(&c->save, 0, sizeof(c->save));
	if (img)
		ret = object_unlink_locked(c, img);
	if (!ret && stale)
		ret = object_unlink_locked(c, stale);
	c->txn_dirty = true;
	if (!ret)
		ret = container_commit_locked(c);
out_unlock:
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

int save_lock_check_write(struct container *c, uint64_t id, char *reason,
			  size_t reason_len)
{
	int ret = 0;
	pthread_rwlock_rdlock(&c->lock);
	if (c->save.state == SAVE_STATE_SAVED && save_is_pinned(c, id)) {
		struct object *d = object_find(c, id);
		char when[64];
		format_time(c->save.saved_time, when, sizeof(when));
		if (reason && reason_len)
			snprintf(reason, reason_len,
				 "%s: read-write open refused: memory.save "
				 "(saved %s) depends on this disk; resume "
				 "with 'hangar resume' or remove memory.save "
				 "to discard it",
				 d && d->name ? d->name : "disk", when);
		ret = -EBUSY;
	}
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

int save_lock_status(struct container *c, struct save_status *out_status)
{
	struct save_info *s = &c->save;
	memset(out_status, 0, sizeof(*out_status));
	pthread_rwlock_rdlock(&c->lock);
	out_status->state = s->state;
	out_status->image_id = s->image_id;
	out_status->saved_time = s->saved_time;
	out_status->event_time = s->event_time;
	struct object *img = object_find_name(c, SAVE_IMAGE_NAME);
	out_status->image_unsealed =
		img && (img->flags & OBJECT_FLAG_IMAGE_UNSEALED);
	if (s->state == SAVE_STATE_INVALIDATED) {
		struct object *d = object_find(c, s->event_object);
		snprintf(out_status->event_object,
			 sizeof(out_status->event_object), "%s",
			 d && d->name ? d->name : "");
	}
	struct object *cfg = object_find_name(c, "config");
	if (s->state == SAVE_STATE_SAVED || s->state == SAVE_STATE_RESUMING)
		out_status->config_changed =
			cfg ? cfg->generation != s->config_generation ||
					cfg->content_dirty
			    : s->config_generation != 0;
	out_status->pin_count = s->pin_count;
	for (size_t i = 0; i < s->pin_count; i++) {
		struct save_pin_status *p = &out_status->pins[i];
		struct object *d = object_find(c, s->pins[i].id);
		p->object_id = s->pins[i].id;
		p->pinned_generation = s->pins[i].generation;
		if (d) {
			snprintf(p->name, sizeof(p->name), "%s",
				 d->name ? d->name : "");
			pthread_mutex_lock(&d->attr_lock);
			p->current_generation = d->generation;
			p->changed = d->generation != s->pins[i].generation ||
				     d->content_dirty;
			pthread_mutex_unlock(&d->attr_lock);
		} else {
			p->changed = true;
		}
	}
	pthread_rwlock_unlock(&c->lock);
	return 0;
}
