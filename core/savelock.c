/*
 * savelock.c -- the save lock's transitions (the rules and the state
 * diagram are in savelock.h).
 *
 * Design notes.  A seal (struct image_seal) belongs to the image object and
 * is written as its own table record, so it travels through every rename.
 * The guest's save state is derived: the seal of the object named
 * memory.save, else the INVALIDATED seal of memory.save.stale, else NONE.
 * Every transition changes seals (and maybe names) under the container
 * write lock and commits with container_commit_locked() before returning,
 * so its outcome is durable and queryable after any restart.  A fresh seal
 * must record the generations the files will have IN the commit that
 * seals, so it only sets `pins_pending` and the commit calls
 * save_take_pins() after it has assigned the new generations.
 *
 * Why transitions triggered by writes (invalidate, retire, unseal) commit
 * BEFORE the write touches the disk: an in-place write may reach the disk
 * before the next commit; if a crash came in between, the committed state
 * would still call the image resumable while the disk had moved on.
 *
 * Why fingerprints: the bytes of an image can be copied (cp within the
 * store, a backup restored over a guest that already resumed), and a copy
 * is a new object with no history.  Every image that can never be resumed
 * again leaves its fingerprint in the container's spent list; a new image
 * with a spent fingerprint is recorded INVALIDATED (SAVE_WHY_COPY).  A copy
 * of a live seal inherits that seal's pins.  The fingerprint is computed at
 * the seal from the per-cluster crcs data.c noted as memory.save was
 * stored, reading back only clusters without one (an image written under
 * another name); its writer is waiting for close() (FORMAT.md section 4).
 *
 * THREAD MODEL: all functions take (or are called with) the container write
 * lock; save_is_pinned, save_needs_transition, save_lock_check_write and
 * save_lock_status only read and are fine under the read lock.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "hangar/savelock.h"

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

static void format_time(struct timespec t, char *buf, size_t len)
{
	struct tm tm;
	time_t sec = t.tv_sec;
	gmtime_r(&sec, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
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

/* ---- seals -------------------------------------------------------------- */

void save_seal_free(struct image_seal *seal)
{
	if (!seal)
		return;
	for (size_t i = 0; i < seal->pin_count; i++)
		free(seal->pins[i].name);
	free(seal->pins);
	free(seal);
}

static int seal_add_pin(struct image_seal *seal, uint64_t id,
			uint64_t generation, const char *name)
{
	if (seal->pin_count == seal->pin_cap) {
		size_t cap = seal->pin_cap ? seal->pin_cap * 2 : 8;
		struct save_pin *n = realloc(seal->pins, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		seal->pins = n;
		seal->pin_cap = cap;
	}
	char *copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	seal->pins[seal->pin_count++] = (struct save_pin){
		.id = id, .generation = generation, .name = copy};
	return 0;
}

static struct save_pin *seal_pin_of(const struct image_seal *seal, uint64_t id)
{
	for (size_t i = 0; i < seal->pin_count; i++)
		if (seal->pins[i].id == id)
			return &seal->pins[i];
	return NULL;
}

static bool fingerprint_known(const uint8_t *fp)
{
	for (unsigned i = 0; i < FORMAT_FINGERPRINT_LEN; i++)
		if (fp[i])
			return true;
	return false;
}

/* The object named memory.save, and its seal. */
static struct object *image_of(const struct container *c)
{
	return object_find_name((struct container *)c, SAVE_IMAGE_NAME);
}

static struct image_seal *live_seal(const struct container *c)
{
	struct object *img = image_of(c);
	return img ? img->seal : NULL;
}

/* Files a seal pins: every named file except `config`, dot files (a
 * copy's temporary), memory.save* and other images. */
static bool pin_eligible(const struct object *o)
{
	if (!o->name || o->seal || o->name[0] == '.')
		return false;
	if (strcmp(o->name, "config") == 0)
		return false;
	return strncmp(o->name, SAVE_IMAGE_NAME, strlen(SAVE_IMAGE_NAME)) != 0;
}

bool save_is_pinned(const struct container *c, uint64_t id)
{
	const struct image_seal *s = live_seal(c);
	if (!s ||
	    (s->state != SAVE_STATE_SAVED && s->state != SAVE_STATE_RESUMING))
		return false;
	return seal_pin_of(s, id) != NULL;
}

bool save_needs_transition(const struct container *c, const struct object *o)
{
	if (o->seal)
		return true;
	return save_is_pinned(c, o->id);
}

bool save_uses_seals(const struct container *c)
{
	if (c->spent_num)
		return true;
	for (size_t i = 0; i < c->object_num; i++) {
		const struct object *o = c->objects[i];
		if (o->seal || (o->flags & OBJECT_FLAG_IMAGE_TAINTED))
			return true;
	}
	return false;
}

void save_seal_set_time(struct object *o, struct timespec mtime)
{
	if (o->seal && o->seal->state == SAVE_STATE_SAVED)
		o->seal->saved_time = mtime;
}

/* ---- spent images ------------------------------------------------------- */

static bool spent_has(const struct container *c, const uint8_t *fp)
{
	for (size_t i = 0; i < c->spent_num; i++)
		if (memcmp(c->spent[i].fingerprint, fp,
			   FORMAT_FINGERPRINT_LEN) == 0)
			return true;
	return false;
}

/* Remember `fp` as spent (newest first; the oldest falls off). */
static void spend(struct container *c, const uint8_t *fp)
{
	if (!fingerprint_known(fp) || spent_has(c, fp))
		return;
	size_t keep = c->spent_num < FORMAT_MAX_SPENT ? c->spent_num
						      : FORMAT_MAX_SPENT - 1;
	memmove(&c->spent[1], &c->spent[0], keep * sizeof(c->spent[0]));
	memcpy(c->spent[0].fingerprint, fp, FORMAT_FINGERPRINT_LEN);
	c->spent[0].when = (uint64_t)clock_now().tv_sec;
	c->spent_num = keep + 1;
	c->txn_dirty = true;
}

int save_object_gone(struct container *c, struct object *o)
{
	if (o->seal)
		spend(c, o->seal->fingerprint);
	return 0;
}

/* Record `o`'s seal as INVALIDATED for `why` (and spend it). */
static void seal_invalidate(struct container *c, struct object *o,
			    enum save_why why, uint64_t event_object)
{
	struct image_seal *s = o->seal;
	s->state = SAVE_STATE_INVALIDATED;
	s->why = why;
	s->event_time = clock_now();
	s->event_object = event_object;
	s->pins_pending = false;
	spend(c, s->fingerprint);
	o->dirty = true;
	c->txn_dirty = true;
}

/* A new seal on `o` (which has none), SAVED unless the caller changes it. */
static int seal_attach(struct object *o)
{
	struct image_seal *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->state = SAVE_STATE_SAVED;
	s->saved_time = o->mtime;
	o->seal = s;
	o->dirty = true;
	return 0;
}

/* Bytes the seal record would take with `extra` more pins of `extra_names`
 * name bytes, and whether it still fits one table block. */
static bool seal_fits(const struct container *c, const struct image_seal *s,
		      size_t extra, size_t extra_names)
{
	size_t len = SEAL_RECORD_FIXED;
	for (size_t i = 0; s && i < s->pin_count; i++)
		len += SEAL_PIN_FIXED + strlen(s->pins[i].name);
	len += extra * SEAL_PIN_FIXED + extra_names;
	size_t payload = c->node_size - (c->encrypted ? TABLE_PAYLOAD_OFF_CRYPT
						      : BLOCK_HEADER_SIZE);
	size_t pins = (s ? s->pin_count : 0) + extra;
	return len <= payload && len <= UINT16_MAX &&
	       pins <= FORMAT_MAX_SEAL_PINS;
}

/* Would every pin of `s` match the files as they are now?  On a mismatch
 * *out_why and *out_object say which file moved on. */
static bool seal_pins_hold(struct container *c, const struct image_seal *s,
			   enum save_why *out_why, uint64_t *out_object)
{
	for (size_t i = 0; i < s->pin_count; i++) {
		const struct save_pin *p = &s->pins[i];
		struct object *d = object_find(c, p->id);
		if (!d || !d->name || strcmp(d->name, p->name) != 0) {
			*out_why = SAVE_WHY_REMOVED;
			*out_object = p->id;
			return false;
		}
		bool pending;
		pthread_mutex_lock(&d->attr_lock);
		pending = d->content_dirty;
		pthread_mutex_unlock(&d->attr_lock);
		if (d->generation != p->generation || pending) {
			*out_why = SAVE_WHY_MOVED_ON;
			*out_object = p->id;
			return false;
		}
	}
	return true;
}

/* Did `f`'s contents change after `img`'s last change?  By generation;
 * between two changes not committed yet, by the time of the change (a tie
 * inside one committed generation counts as not after: object_release
 * commits a written file at its last close to make that rare). */
static bool changed_after(struct container *c, struct object *f,
			  struct object *img)
{
	bool f_dirty, i_dirty;
	struct timespec f_at, i_at;
	pthread_mutex_lock(&f->attr_lock);
	f_dirty = f->content_dirty;
	f_at = f->changed_at;
	pthread_mutex_unlock(&f->attr_lock);
	pthread_mutex_lock(&img->attr_lock);
	i_dirty = img->content_dirty;
	i_at = img->changed_at;
	pthread_mutex_unlock(&img->attr_lock);
	uint64_t fg = f_dirty ? c->generation + 1 : f->generation;
	uint64_t ig = i_dirty ? c->generation + 1 : img->generation;
	if (fg != ig)
		return fg > ig;
	if (!f_dirty || !i_dirty)
		return false;
	return f_at.tv_sec != i_at.tv_sec ? f_at.tv_sec > i_at.tv_sec
					  : f_at.tv_nsec > i_at.tv_nsec;
}

static int seal_judge(struct container *c, struct object *o, bool check_age,
		      int *out_refusal, char *reason, size_t reason_len);

/*
 * Seal `o` (named memory.save, complete, no seal) as a fresh image, or
 * record why it cannot be resumable.  Returns 0 with a verdict, and sets
 * *out_refusal to -EIO for a tainted image or -E2BIG when the guest has
 * more files than a seal holds (0 otherwise).  Any other error (memory,
 * I/O reading the image back) leaves `o` as it was.  `check_age`: the
 * image was not written just now (a rename onto memory.save), so a file
 * that changed after it makes it stale.
 */
static int seal_fresh(struct container *c, struct object *o, bool check_age,
		      int *out_refusal, char *reason, size_t reason_len)
{
	*out_refusal = 0;
	int ret = seal_judge(c, o, check_age, out_refusal, reason, reason_len);
	if (ret && o->seal) {
		save_seal_free(o->seal);
		o->seal = NULL;
	}
	return ret;
}

static int seal_judge(struct container *c, struct object *o, bool check_age,
		      int *out_refusal, char *reason, size_t reason_len)
{
	uint8_t fp[FORMAT_FINGERPRINT_LEN];
	int ret;

	ret = object_flush_pending(c, o);
	if (ret)
		return ret;
	ret = object_fingerprint_locked(c, o, fp);
	if (ret)
		return ret;
	if (o->flags & OBJECT_FLAG_IMAGE_TAINTED) {
		spend(c, fp);
		say(reason, reason_len,
		    "a write to %s failed, so the image is incomplete",
		    o->name);
		*out_refusal = -EIO;
		return 0;
	}
	ret = seal_attach(o);
	if (ret)
		return ret;
	memcpy(o->seal->fingerprint, fp, sizeof(fp));
	c->txn_dirty = true;
	if (spent_has(c, fp)) {
		seal_invalidate(c, o, SAVE_WHY_COPY, 0);
		return 0;
	}
	for (size_t i = 0; i < c->object_num; i++) {
		struct object *p = c->objects[i];
		if (p == o || !p->seal ||
		    memcmp(p->seal->fingerprint, fp, sizeof(fp)) != 0)
			continue;
		if (p->seal->state == SAVE_STATE_INVALIDATED ||
		    p->seal->pins_pending) {
			seal_invalidate(c, o, SAVE_WHY_COPY, 0);
			return 0;
		}
		/* A copy of a live seal depends on what that one does. */
		o->seal->adopt_from = c->next_object_id;
		o->seal->saved_time = p->seal->saved_time;
		o->seal->config_generation = p->seal->config_generation;
		for (size_t k = 0; k < p->seal->pin_count; k++) {
			const struct save_pin *pin = &p->seal->pins[k];
			if (pin->id == o->id)
				continue; /* the copy was adopted as a file */
			ret = seal_add_pin(o->seal, pin->id, pin->generation,
					   pin->name);
			if (ret)
				return ret;
		}
		enum save_why why;
		uint64_t moved;
		if (!seal_pins_hold(c, o->seal, &why, &moved))
			seal_invalidate(c, o, why, moved);
		return 0;
	}
	size_t files = 0, names = 0;
	for (size_t i = 0; i < c->object_num; i++) {
		struct object *f = c->objects[i];
		if (f == o || !pin_eligible(f))
			continue;
		if (check_age && changed_after(c, f, o)) {
			seal_invalidate(c, o, SAVE_WHY_OLDER, f->id);
			return 0;
		}
		files++;
		names += strlen(f->name);
	}
	if (!seal_fits(c, NULL, files, names)) {
		save_seal_free(o->seal);
		o->seal = NULL;
		o->flags |= OBJECT_FLAG_IMAGE_TAINTED;
		spend(c, fp);
		say(reason, reason_len,
		    "the guest has %zu files to pin; one save image can pin "
		    "at most %u (and their names must fit one %u-byte "
		    "metadata block): the image is not resumable",
		    files, FORMAT_MAX_SEAL_PINS, c->node_size);
		*out_refusal = -E2BIG;
		return 0;
	}
	o->seal->pins_pending = true;
	o->seal->adopt_from = c->next_object_id;
	return 0;
}

int save_take_pins(struct container *c, bool *out_changed)
{
	struct object *img = image_of(c);
	struct image_seal *s = img ? img->seal : NULL;
	bool changed = false;

	*out_changed = false;
	if (!s || s->state != SAVE_STATE_SAVED)
		return 0;
	const size_t had = s->pin_count;
	for (size_t i = 0; i < c->object_num; i++) {
		struct object *f = c->objects[i];
		if (!pin_eligible(f) || seal_pin_of(s, f->id))
			continue;
		/* Adoption (rule 4): only files that arrived after the seal
		 * and that no one is writing. */
		if (!s->pins_pending &&
		    (f->id < s->adopt_from || f->write_count > 0))
			continue;
		if (!seal_fits(c, s, 1, strlen(f->name))) {
			if (s->pins_pending) {
				/* files appeared between the count and this
				 * commit: never pin only some */
				seal_invalidate(c, img, SAVE_WHY_INCOMPLETE, 0);
				*out_changed = true;
				return 0;
			}
			continue; /* not adopted; resume judges the rest */
		}
		int ret = seal_add_pin(s, f->id, f->generation, f->name);
		if (ret) {
			/* nothing taken: the commit fails and can be
			 * retried */
			while (s->pin_count > had)
				free(s->pins[--s->pin_count].name);
			return ret;
		}
		changed = true;
	}
	if (s->pins_pending) {
		struct object *cfg = object_find_name(c, "config");
		s->config_generation = cfg ? cfg->generation : 0;
		s->pins_pending = false;
		changed = true;
	}
	if (changed) {
		img->dirty = true;
		c->txn_dirty = true;
	}
	*out_changed = changed;
	return 0;
}

/* ---- transitions triggered by changes ----------------------------------- */

/* Rename `img` to memory.save.stale, replacing an older one. */
static int rename_to_stale(struct container *c, struct object *img)
{
	struct object *old = object_find_name(c, SAVE_IMAGE_STALE_NAME);
	int ret;
	if (old && old != img) {
		ret = object_unlink_locked(c, old);
		if (ret)
			return ret;
	}
	char *name = strdup(SAVE_IMAGE_STALE_NAME);
	if (!name)
		return -ENOMEM;
	free(img->name);
	img->name = name;
	img->dirty = true;
	container_dir_touch(c);
	return 0;
}

int save_before_modify(struct container *c, struct object *o)
{
	char detail[320];
	int ret;

	if (o->seal) {
		/* The image itself is rewritten (a new save into the same
		 * name, even over a stale one): its old bytes are spent; the
		 * new ones seal at the last close. */
		spend(c, o->seal->fingerprint);
		save_seal_free(o->seal);
		o->seal = NULL;
		if (o->name && strcmp(o->name, SAVE_IMAGE_NAME) == 0)
			o->flags |= OBJECT_FLAG_IMAGE_UNSEALED;
		o->dirty = true;
		c->txn_dirty = true;
		return container_commit_locked(c);
	}
	if (!save_is_pinned(c, o->id))
		return 0;
	struct object *img = image_of(c);
	struct image_seal *s = img->seal;
	if (s->state == SAVE_STATE_RESUMING) {
		snprintf(detail, sizeof(detail),
			 "resumed guest wrote %s; memory.save retired",
			 o->name ? o->name : "a file");
		ret = object_unlink_locked(c, img);
		if (ret)
			return ret;
		container_emit(c, CONTAINER_EVENT_IMAGE_RETIRED,
			       SAVE_IMAGE_NAME, detail, 0);
		c->txn_dirty = true;
		return container_commit_locked(c);
	}
	char when[64];
	format_time(s->saved_time, when, sizeof(when));
	snprintf(detail, sizeof(detail),
		 "%s was written through a handle opened before the save of "
		 "%s; memory.save is stale and was renamed %s",
		 o->name ? o->name : "a file", when, SAVE_IMAGE_STALE_NAME);
	seal_invalidate(c, img, SAVE_WHY_WRITTEN, o->id);
	ret = rename_to_stale(c, img);
	if (ret)
		return ret;
	container_emit(c, CONTAINER_EVENT_IMAGE_INVALIDATED, o->name, detail,
		       0);
	return container_commit_locked(c);
}

int save_arrive(struct container *c, struct object *o)
{
	if (o->write_count > 0) {
		/* still being written: it seals at its last close */
		o->flags |= OBJECT_FLAG_IMAGE_UNSEALED;
		return 0;
	}
	o->flags &= ~OBJECT_FLAG_IMAGE_UNSEALED;
	if (o->flags & OBJECT_FLAG_IMAGE_TAINTED)
		return 0; /* never resumable: the status says incomplete */
	if (o->seal) {
		enum save_why why;
		uint64_t moved;
		if (o->seal->state != SAVE_STATE_INVALIDATED &&
		    !seal_pins_hold(c, o->seal, &why, &moved))
			seal_invalidate(c, o, why, moved);
		return 0;
	}
	/* A rename cannot report a refused seal to the image's writer, who
	 * is long gone: the image stays, tainted, and the status says why. */
	int refusal;
	return seal_fresh(c, o, true, &refusal, NULL, 0);
}

void save_taint_if_image(struct container *c, uint64_t id)
{
	container_wrlock(c);
	struct object *o = object_find(c, id);
	if (o && o->name && !c->read_only &&
	    (strcmp(o->name, SAVE_IMAGE_NAME) == 0 ||
	     (o->flags & OBJECT_FLAG_IMAGE_UNSEALED)) &&
	    !(o->flags & OBJECT_FLAG_IMAGE_TAINTED)) {
		o->flags |= OBJECT_FLAG_IMAGE_TAINTED;
		o->dirty = true;
		c->txn_dirty = true;
	}
	pthread_rwlock_unlock(&c->lock);
}

int save_recover_incomplete(struct container *c, bool *out_changed)
{
	struct object *img = image_of(c);
	uint8_t fp[FORMAT_FINGERPRINT_LEN];
	int ret;

	if (!img || !(img->flags & OBJECT_FLAG_IMAGE_UNSEALED))
		return 0;
	/* Reading the image back may meet a damaged cluster: that must not
	 * make the guest unopenable (a read-only open would not read it);
	 * the image is set aside all the same, only not remembered. */
	ret = object_fingerprint_locked(c, img, fp);
	if (ret == -ENOMEM)
		return ret;
	if (ret == 0)
		spend(c, fp);
	img->flags |= OBJECT_FLAG_IMAGE_TAINTED;
	ret = object_rename_locked(c, img, SAVE_IMAGE_INCOMPLETE_NAME);
	if (ret)
		return ret;
	container_emit(c, CONTAINER_EVENT_IMAGE_INCOMPLETE,
		       SAVE_IMAGE_INCOMPLETE_NAME,
		       "memory.save was never completed (its writer did not "
		       "close it); kept as memory.save.incomplete, not "
		       "resumable",
		       0);
	*out_changed = true;
	return 0;
}

int save_convert_legacy(struct container *c)
{
	struct legacy_save *l = c->legacy_save;
	int ret = 0;

	if (!l)
		return 0;
	struct object *img = object_find(c, l->image_id);
	if (!img || !img->name) {
		/* An INVALIDATED record may outlive its image (the user
		 * removed memory.save.stale); nothing is left to judge. */
		ret = l->state == SAVE_STATE_INVALIDATED ? 0 : -EUCLEAN;
		goto out;
	}
	ret = seal_attach(img);
	if (ret)
		goto out;
	img->dirty = false;
	struct image_seal *s = img->seal;
	s->state = l->state;
	s->saved_time = l->saved_time;
	s->config_generation = l->config_generation;
	s->event_time = l->event_time;
	s->event_object = l->event_object;
	if (l->state == SAVE_STATE_INVALIDATED)
		s->why = SAVE_WHY_WRITTEN;
	for (size_t i = 0; !ret && i < l->pin_count; i++) {
		struct object *d = object_find(c, l->pins[i].id);
		ret = seal_add_pin(s, l->pins[i].id, l->pins[i].generation,
				   d && d->name ? d->name : "");
	}
	/* the fingerprint stays unknown (zero) until the image is judged */
out:
	free(l);
	c->legacy_save = NULL;
	return ret;
}

/* ---- calls -------------------------------------------------------------- */

static int writable(const struct container *c)
{
	return c->read_only ? -EROFS : c->poisoned;
}

int save_lock_seal_why(struct container *c, char *reason, size_t reason_len)
{
	int ret;

	say(reason, reason_len, "%s", "");
	container_wrlock(c);
	ret = writable(c);
	if (ret)
		goto out_unlock;
	struct object *img = image_of(c);
	if (!img) {
		ret = -ENOENT;
		goto out_unlock;
	}
	if (!(img->flags & OBJECT_FLAG_IMAGE_UNSEALED) &&
	    (img->seal || (img->flags & OBJECT_FLAG_IMAGE_TAINTED))) {
		/* already judged, unchanged since */
		ret = img->seal ? 0 : -EIO;
		if (ret)
			say(reason, reason_len,
			    "a write to %s failed, so the image is incomplete",
			    img->name);
		goto out_unlock;
	}
	int refusal;
	ret = seal_fresh(c, img, false, &refusal, reason, reason_len);
	if (ret)
		goto out_unlock; /* nothing changed: a later close may retry */
	img->flags &= ~OBJECT_FLAG_IMAGE_UNSEALED;
	img->dirty = true;
	c->txn_dirty = true;
	ret = container_commit_locked(c);
	if (ret && img->seal && img->seal->pins_pending) {
		/* not sealed: as before the call (a later close retries) */
		save_seal_free(img->seal);
		img->seal = NULL;
		img->flags |= OBJECT_FLAG_IMAGE_UNSEALED;
	}
	if (!ret)
		ret = refusal;
out_unlock:
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

int save_lock_seal(struct container *c)
{
	return save_lock_seal_why(c, NULL, 0);
}

/* The sentence that says why memory.save (or the stale image) is not
 * resumable. */
static void explain(struct container *c, const struct object *img, char *reason,
		    size_t len)
{
	const struct image_seal *s = img->seal;
	char when[64] = "", ev[64] = "", what[300] = "";

	if (!s) {
		say(reason, len,
		    "the save image is stale: %s is incomplete (a write to "
		    "it failed, its seal failed, or its writer never closed "
		    "it); boot the guest fresh (hangar discard clears it)",
		    img->name ? img->name : SAVE_IMAGE_NAME);
		return;
	}
	format_time(s->saved_time, when, sizeof(when));
	format_time(s->event_time, ev, sizeof(ev));
	const struct object *d = object_find(c, s->event_object);
	const struct save_pin *pin = seal_pin_of(s, s->event_object);
	const char *file = d && d->name ? d->name
			   : pin	? pin->name
					: "a file of the guest";
	switch (s->why) {
	case SAVE_WHY_WRITTEN:
		snprintf(what, sizeof(what), "%s was written at %s", file, ev);
		break;
	case SAVE_WHY_MOVED_ON:
		snprintf(what, sizeof(what),
			 "%s changed while the image was not memory.save "
			 "(found at %s)",
			 file, ev);
		break;
	case SAVE_WHY_REMOVED:
		snprintf(what, sizeof(what), "%s was removed or renamed", file);
		break;
	case SAVE_WHY_COPY:
		snprintf(what, sizeof(what),
			 "its bytes are a copy of an image that was already "
			 "resumed, discarded or found stale");
		break;
	case SAVE_WHY_OLDER:
		snprintf(what, sizeof(what),
			 "%s changed after the image was written", file);
		break;
	case SAVE_WHY_INCOMPLETE:
		snprintf(what, sizeof(what),
			 "its seal could not record every file");
		break;
	case SAVE_WHY_NONE:
		snprintf(what, sizeof(what), "it was invalidated");
		break;
	}
	say(reason, len,
	    "the save image is stale: %s, after the save of %s; boot the "
	    "guest fresh (hangar discard clears this)",
	    what, when);
}

int save_lock_resume(struct container *c, char *reason, size_t reason_len)
{
	char when[64] = "";
	int ret = 0;

	say(reason, reason_len, "%s", "");
	container_wrlock(c);
	ret = writable(c);
	if (ret)
		goto out_unlock;
	struct object *img = image_of(c);
	if (!img) {
		struct object *stale =
			object_find_name(c, SAVE_IMAGE_STALE_NAME);
		if (stale && stale->seal) {
			explain(c, stale, reason, reason_len);
			ret = -ESTALE;
		} else {
			say(reason, reason_len,
			    "no saved memory image to resume");
			ret = -ENOENT;
		}
		goto out_unlock;
	}
	struct image_seal *s = img->seal;
	if (!s && (img->flags & OBJECT_FLAG_IMAGE_UNSEALED) &&
	    !(img->flags & OBJECT_FLAG_IMAGE_TAINTED)) {
		say(reason, reason_len,
		    "memory.save is still being written (not sealed yet)");
		ret = -ENOENT;
		goto out_unlock;
	}
	if (!s || s->state == SAVE_STATE_INVALIDATED) {
		explain(c, img, reason, reason_len);
		ret = -ESTALE;
		goto out_unlock;
	}
	if (s->state == SAVE_STATE_RESUMING)
		goto out_unlock;
	/* Files that arrived since the last commit (a restore copying them
	 * after the image) are adopted by a commit first: once RESUMING, no
	 * file is adopted any more, and the resumed guest could change one
	 * unnoticed. */
	ret = container_commit_locked(c);
	if (ret)
		goto out_unlock;
	for (size_t i = 0; i < c->object_num; i++) {
		const struct object *f = c->objects[i];
		if (pin_eligible(f) && f->id >= s->adopt_from &&
		    !seal_pin_of(s, f->id)) {
			say(reason, reason_len,
			    "%s arrived after the save and is still being "
			    "written (or cannot be pinned); resume when it is "
			    "complete",
			    f->name);
			ret = -EBUSY;
			goto out_unlock;
		}
	}
	format_time(s->saved_time, when, sizeof(when));
	enum save_why why;
	uint64_t moved;
	if (!seal_pins_hold(c, s, &why, &moved)) {
		const struct save_pin *pin = seal_pin_of(s, moved);
		say(reason, reason_len,
		    "%s %s since the save of %s; resuming would corrupt the "
		    "guest's filesystem",
		    pin ? pin->name : "a file",
		    why == SAVE_WHY_REMOVED ? "was removed or renamed"
					    : "changed",
		    when);
		ret = -ESTALE;
		goto out_unlock;
	}
	s->state = SAVE_STATE_RESUMING;
	img->dirty = true;
	c->txn_dirty = true;
	ret = container_commit_locked(c);
out_unlock:
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

int save_lock_discard(struct container *c)
{
	static const char *const names[] = {SAVE_IMAGE_NAME,
					    SAVE_IMAGE_STALE_NAME,
					    SAVE_IMAGE_INCOMPLETE_NAME};
	bool any = false;
	int ret;

	container_wrlock(c);
	ret = writable(c);
	if (ret)
		goto out_unlock;
	for (size_t i = 0; !ret && i < sizeof(names) / sizeof(names[0]); i++) {
		struct object *o = object_find_name(c, names[i]);
		if (!o)
			continue;
		any = true;
		container_dir_touch(c);
		ret = object_unlink_locked(c, o);
	}
	if (!ret && !any)
		ret = -ENOENT;
	if (!ret) {
		c->txn_dirty = true;
		ret = container_commit_locked(c);
	}
out_unlock:
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

int save_lock_check_write(struct container *c, uint64_t id, char *reason,
			  size_t reason_len)
{
	int ret = 0;
	pthread_rwlock_rdlock(&c->lock);
	const struct image_seal *s = live_seal(c);
	if (s && s->state == SAVE_STATE_SAVED && seal_pin_of(s, id)) {
		char when[64];
		format_time(s->saved_time, when, sizeof(when));
		say(reason, reason_len,
		    "memory.save (saved %s) depends on this file", when);
		ret = -EBUSY;
	}
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

int save_lock_status(struct container *c, struct save_status *out_status)
{
	memset(out_status, 0, sizeof(*out_status));
	pthread_rwlock_rdlock(&c->lock);
	struct object *img = image_of(c);
	if (!img) {
		struct object *stale =
			object_find_name(c, SAVE_IMAGE_STALE_NAME);
		if (stale && stale->seal &&
		    stale->seal->state == SAVE_STATE_INVALIDATED)
			img = stale;
	}
	const struct image_seal *s = img ? img->seal : NULL;
	if (img && img->name && strcmp(img->name, SAVE_IMAGE_NAME) == 0)
		out_status->image_unsealed =
			!s && (img->flags & OBJECT_FLAG_IMAGE_UNSEALED) &&
			!(img->flags & OBJECT_FLAG_IMAGE_TAINTED);
	if (img)
		out_status->image_id = img->id;
	if (s) {
		out_status->state = s->state;
		out_status->saved_time = s->saved_time;
		out_status->event_time = s->event_time;
		out_status->why = s->why;
	} else if (img && (img->flags & OBJECT_FLAG_IMAGE_TAINTED)) {
		out_status->state = SAVE_STATE_INVALIDATED;
		out_status->why = SAVE_WHY_INCOMPLETE;
		out_status->saved_time = img->mtime;
	}
	if (out_status->state == SAVE_STATE_INVALIDATED) {
		explain(c, img, out_status->reason, sizeof(out_status->reason));
		uint64_t ev = s ? s->event_object : 0;
		struct object *d = ev ? object_find(c, ev) : NULL;
		const struct save_pin *pin = s ? seal_pin_of(s, ev) : NULL;
		snprintf(out_status->event_object,
			 sizeof(out_status->event_object), "%s",
			 d && d->name ? d->name
			 : pin	      ? pin->name
				      : "");
	}
	struct object *cfg = object_find_name(c, "config");
	if (s &&
	    (s->state == SAVE_STATE_SAVED || s->state == SAVE_STATE_RESUMING)) {
		bool cfg_dirty = false;
		if (cfg) {
			pthread_mutex_lock(&cfg->attr_lock);
			cfg_dirty = cfg->content_dirty;
			pthread_mutex_unlock(&cfg->attr_lock);
		}
		out_status->config_changed =
			cfg ? cfg->generation != s->config_generation ||
					cfg_dirty
			    : s->config_generation != 0;
	}
	size_t total =
		s && s->state != SAVE_STATE_INVALIDATED ? s->pin_count : 0;
	out_status->pin_total = total;
	const size_t room =
		sizeof(out_status->pins) / sizeof(out_status->pins[0]);
	out_status->pin_count = total < room ? total : room;
	for (size_t i = 0; i < out_status->pin_count; i++) {
		struct save_pin_status *p = &out_status->pins[i];
		const struct save_pin *pin = &s->pins[i];
		struct object *d = object_find(c, pin->id);
		p->object_id = pin->id;
		p->pinned_generation = pin->generation;
		snprintf(p->name, sizeof(p->name), "%s", pin->name);
		if (d && d->name) {
			pthread_mutex_lock(&d->attr_lock);
			p->current_generation = d->generation;
			p->changed = d->generation != pin->generation ||
				     d->content_dirty ||
				     strcmp(d->name, pin->name) != 0;
			pthread_mutex_unlock(&d->attr_lock);
		} else {
			p->changed = true;
		}
	}
	pthread_rwlock_unlock(&c->lock);
	return 0;
}
