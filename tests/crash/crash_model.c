/*
 * crash_model.c -- the oracle of test_crash (crash.h).
 */
#include "crash.h"

/* ---- the oracle ----------------------------------------------------------
 *
 * A byte-exact model of every object (by identity: renames are followed),
 * of the generations core gives them, and of the save lock as
 * core/savelock.h states it: a seal belongs to an image object and travels
 * with it; the guest's save state is derived from the object named
 * memory.save (else an INVALIDATED memory.save.stale); a fresh seal pins
 * every file but config, dot files, memory.save* and other images, at the
 * generation of the sealing commit; a SAVED memory.save adopts the files
 * created after its seal (adopt_from) at every later commit, and a resume
 * commits (adopts) first; any seal is dropped (its bytes spent) when its
 * image's contents change; images that can never be resumed again leave their
 * fingerprint in the spent list.  The fingerprint is modelled by the bytes
 * themselves (struct blob; core's SHA-256 over per-cluster crc32c is equal
 * for equal bytes and, but for a collision, only for them).
 */

/* What the save-lock model went through (the real run's workloads only):
 * printed as the "crash save lock:" line, so a run shows that the rules
 * are exercised, not only that nothing failed. */
uint64_t g_cover[COV_NUM];
uint64_t g_cover_why[SAVE_WHY_MAX + 1]; /* invalidations by why */
size_t g_cover_spent;			/* most spent fingerprints */

/* The order of content changes (core's changed_at, CLOCK_REALTIME at each
 * write, truncate and punch): only compared within one run. */
uint64_t g_tick;

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		abort();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort();
	return p;
}

uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
	uint8_t *d = xmalloc(n);
	if (n)
		memcpy(d, p, n);
	return d;
}

static struct blob *blob_new(const uint8_t *p, size_t n)
{
	struct blob *b = xmalloc(sizeof(*b) + (n ? n : 1));
	b->refs = 1;
	b->size = n;
	if (n)
		memcpy(b->data, p, n);
	return b;
}

static struct blob *blob_ref(struct blob *b)
{
	if (b)
		b->refs++;
	return b;
}

static void blob_put(struct blob *b)
{
	if (b && --b->refs == 0)
		free(b);
}

static bool blob_is(const struct blob *b, const uint8_t *p, size_t n)
{
	return b->size == n && (n == 0 || memcmp(b->data, p, n) == 0);
}

static void seal_free(struct mseal *s)
{
	if (!s)
		return;
	blob_put(s->image);
	for (int k = 0; k < s->npins; k++)
		blob_put(s->pin_data[k]);
	free(s);
}

static struct mseal *seal_dup(const struct mseal *s)
{
	if (!s)
		return NULL;
	struct mseal *d = xmalloc(sizeof(*d));
	*d = *s;
	blob_ref(d->image);
	for (int k = 0; k < d->npins; k++)
		blob_ref(d->pin_data[k]);
	return d;
}

void model_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
}

static void msnap_put(struct msnap *s)
{
	if (s && --s->refs == 0) {
		model_free(&s->m);
		free(s);
	}
}

void model_free(struct model *m)
{
	for (int i = 0; i < m->n; i++) {
		free(m->o[i].data);
		seal_free(m->o[i].seal);
	}
	for (int k = 0; k < m->nspent; k++)
		blob_put(m->spent[k]);
	for (int k = 0; k < m->nsnap; k++)
		msnap_put(m->snap[k]);
	memset(m, 0, sizeof(*m));
}

void model_copy(struct model *dst, const struct model *src)
{
	*dst = *src;
	for (int i = 0; i < src->n; i++) {
		dst->o[i].data = NULL;
		dst->o[i].cap = 0;
		dst->o[i].seal = seal_dup(src->o[i].seal);
		if (src->o[i].live) {
			dst->o[i].data =
				dup_bytes(src->o[i].data, src->o[i].size);
			dst->o[i].cap = src->o[i].size;
		}
	}
	for (int k = 0; k < src->nspent; k++)
		blob_ref(dst->spent[k]);
	for (int k = 0; k < src->nsnap; k++)
		dst->snap[k]->refs++;
}

int model_find(const struct model *m, const char *name)
{
	for (int i = 0; i < m->n; i++)
		if (m->o[i].live && strcmp(m->o[i].name, name) == 0)
			return i;
	return -1;
}

bool is_name(const struct mobj *o, const char *name)
{
	return strcmp(o->name, name) == 0;
}

/* object_create: a new object, its contents dirty; memory.save starts out
 * as an unsealed image. */
int model_new(struct model *m, const char *name, uint64_t cid)
{
	if (m->n >= MAX_OBJ)
		abort();
	struct mobj *o = &m->o[m->n];
	memset(o, 0, sizeof(*o));
	o->live = true;
	snprintf(o->name, sizeof(o->name), "%s", name);
	o->cid = cid;
	o->dirty = true;
	o->unsealed = is_name(o, SAVE_IMAGE_NAME);
	return m->n++;
}

/* spend: remember an image's bytes as spent (newest first; a known one
 * stays where it is; the oldest falls off). */
static void model_spend(struct model *m, const uint8_t *p, size_t n)
{
	for (int k = 0; k < m->nspent; k++)
		if (blob_is(m->spent[k], p, n))
			return;
	if (m->nspent == (int)MAX_SPENT)
		blob_put(m->spent[--m->nspent]);
	memmove(&m->spent[1], &m->spent[0], m->nspent * sizeof(m->spent[0]));
	m->spent[0] = blob_new(p, n);
	m->nspent++;
	if ((size_t)m->nspent > g_cover_spent)
		g_cover_spent = (size_t)m->nspent;
}

static bool model_spent(const struct model *m, const struct blob *b)
{
	for (int k = 0; k < m->nspent; k++)
		if (blob_is(m->spent[k], b->data, b->size))
			return true;
	return false;
}

/* object_unlink_locked: a sealed object's fingerprint is spent. */
void model_remove(struct model *m, int i)
{
	struct mobj *o = &m->o[i];
	if (o->seal)
		model_spend(m, o->seal->image->data, o->seal->image->size);
	seal_free(o->seal);
	o->seal = NULL;
	o->live = false;
	free(o->data);
	o->data = NULL;
	o->size = o->cap = 0;
}

void model_resize(struct mobj *o, size_t size)
{
	if (size > o->cap) {
		size_t cap = o->cap ? o->cap : 4096;
		while (cap < size)
			cap *= 2;
		o->data = xrealloc(o->data, cap);
		o->cap = cap;
	}
	if (size > o->size)
		memset(o->data + o->size, 0, size - o->size);
	o->size = size;
}

/* data NULL writes zeros. */
void model_write(struct mobj *o, uint64_t off, uint64_t len,
		 const uint8_t *data)
{
	if (off + len > o->size)
		model_resize(o, (size_t)(off + len));
	if (data)
		memcpy(o->data + off, data, len);
	else
		memset(o->data + off, 0, len);
	o->dirty = true;
	o->changed = ++g_tick;
}

static void model_rename(struct model *m, int i, const char *to)
{
	snprintf(m->o[i].name, sizeof(m->o[i].name), "%s", to);
}

/* memory.save's seal (the only one enforced), or NULL. */
struct mseal *model_live_seal(const struct model *m)
{
	int img = model_find(m, SAVE_IMAGE_NAME);
	return img >= 0 ? m->o[img].seal : NULL;
}

bool seal_active(const struct mseal *s)
{
	return s && (s->state == SAVE_STATE_SAVED ||
		     s->state == SAVE_STATE_RESUMING);
}

/* Pinned by memory.save's SAVED or RESUMING seal (savelock.c
 * save_is_pinned). */
bool model_pinned(const struct model *m, int i)
{
	const struct mseal *s = model_live_seal(m);
	if (!seal_active(s))
		return false;
	for (int p = 0; p < s->npins; p++)
		if (s->pin[p] == i)
			return true;
	return false;
}

/* The guest's save state as save_lock_status derives it; *out_img: the
 * identity it reports (memory.save, or the stale image), -1 if none;
 * *out_why: INVALIDATED: why; *out_unsealed: memory.save still being
 * written. */
enum save_state model_state_of(const struct model *m, int *out_img,
			       enum save_why *out_why, bool *out_unsealed)
{
	int img = model_find(m, SAVE_IMAGE_NAME);
	enum save_state state = SAVE_STATE_NONE;
	enum save_why why = SAVE_WHY_NONE;
	bool unsealed = false;
	if (img < 0) {
		int stale = model_find(m, SAVE_IMAGE_STALE_NAME);
		if (stale >= 0 && m->o[stale].seal &&
		    m->o[stale].seal->state == SAVE_STATE_INVALIDATED)
			img = stale;
	} else {
		unsealed = !m->o[img].seal && m->o[img].unsealed &&
			   !m->o[img].tainted;
	}
	if (img >= 0 && m->o[img].seal) {
		state = m->o[img].seal->state;
		why = m->o[img].seal->why;
	} else if (img >= 0 && m->o[img].tainted) {
		state = SAVE_STATE_INVALIDATED;
		why = SAVE_WHY_INCOMPLETE;
	}
	if (out_img)
		*out_img = img;
	if (out_why)
		*out_why =
			state == SAVE_STATE_INVALIDATED ? why : SAVE_WHY_NONE;
	if (out_unsealed)
		*out_unsealed = unsealed;
	return state;
}

enum save_state model_state(const struct model *m)
{
	return model_state_of(m, NULL, NULL, NULL);
}

/* Files a seal pins: every named file but config, dot files, memory.save*
 * and images (objects that carry a seal). */
bool pin_eligible(const struct model *m, int i)
{
	const struct mobj *o = &m->o[i];
	if (!o->live || o->seal || o->name[0] == '.' || is_name(o, "config"))
		return false;
	return strncmp(o->name, SAVE_IMAGE_NAME, strlen(SAVE_IMAGE_NAME)) != 0;
}

/* The generation a content change of `i` will get. */
static uint64_t content_gen(const struct model *m, int i)
{
	return m->o[i].dirty ? m->gen + 1 : m->o[i].gen;
}

/* savelock.c changed_after: did `f`'s contents change after `img`'s last
 * change?  By generation; when both have changes not committed yet, by
 * the time of the change. */
static bool changed_after(const struct model *m, int f, int img)
{
	const uint64_t fg = content_gen(m, f), ig = content_gen(m, img);
	if (fg != ig)
		return fg > ig;
	if (!m->o[f].dirty || !m->o[img].dirty)
		return false;
	return m->o[f].changed > m->o[img].changed;
}

/* Does every pin of `s` still hold (same object, name, generation, no
 * uncommitted change)?  The first that does not says why. */
bool pins_hold(const struct model *m, const struct mseal *s,
	       enum save_why *out_why)
{
	for (int p = 0; p < s->npins; p++) {
		const struct mobj *d = &m->o[s->pin[p]];
		if (!d->live || strcmp(d->name, s->pin_name[p]) != 0) {
			*out_why = SAVE_WHY_REMOVED;
			return false;
		}
		if (d->gen != s->pin_gen[p] || d->dirty) {
			*out_why = SAVE_WHY_MOVED_ON;
			return false;
		}
	}
	return true;
}

static void seal_add_pin(struct mseal *s, int id, uint64_t gen,
			 const char *name, struct blob *data)
{
	if (s->npins >= MAX_PINS)
		abort();
	s->pin[s->npins] = id;
	s->pin_gen[s->npins] = gen;
	snprintf(s->pin_name[s->npins], sizeof(s->pin_name[0]), "%s", name);
	s->pin_data[s->npins] = data;
	s->npins++;
}

static void model_invalidate(struct model *m, int i, enum save_why why)
{
	struct mseal *s = m->o[i].seal;
	s->state = SAVE_STATE_INVALIDATED;
	s->why = why;
	s->pins_pending = false;
	model_spend(m, s->image->data, s->image->size);
	g_cover_why[why]++;
}

/*
 * savelock.c seal_fresh: seal `i` (no seal yet) as a fresh image, or record
 * why it cannot be resumable.  Returns the refusal: -EIO for a tainted
 * image (no seal, its bytes spent), else 0.  `check_age`: a rename onto
 * memory.save (a file changed after the image makes it stale).
 */
int model_seal_fresh(struct model *m, int i, bool check_age)
{
	struct mobj *o = &m->o[i];
	if (o->tainted) {
		model_spend(m, o->data, o->size);
		return -EIO;
	}
	struct mseal *s = xmalloc(sizeof(*s));
	memset(s, 0, sizeof(*s));
	s->state = SAVE_STATE_SAVED;
	s->image = blob_new(o->data, o->size);
	o->seal = s;
	if (model_spent(m, s->image)) {
		model_invalidate(m, i, SAVE_WHY_COPY);
		return 0;
	}
	for (int p = 0; p < m->n; p++) {
		const struct mobj *q = &m->o[p];
		if (p == i || !q->live || !q->seal ||
		    !blob_is(q->seal->image, o->data, o->size))
			continue;
		if (q->seal->state == SAVE_STATE_INVALIDATED ||
		    q->seal->pins_pending) {
			model_invalidate(m, i, SAVE_WHY_COPY);
			return 0;
		}
		/* a copy of a live seal depends on what that one does; it
		 * adopts only files created after the copy was judged */
		s->adopt_from = m->n;
		s->config_gen = q->seal->config_gen;
		for (int k = 0; k < q->seal->npins; k++)
			if (q->seal->pin[k] != i) /* adopted as a file */
				seal_add_pin(s, q->seal->pin[k],
					     q->seal->pin_gen[k],
					     q->seal->pin_name[k],
					     blob_ref(q->seal->pin_data[k]));
		enum save_why why;
		if (!pins_hold(m, s, &why))
			model_invalidate(m, i, why);
		else
			g_cover[COV_INHERITED]++;
		return 0;
	}
	for (int f = 0; f < m->n; f++) {
		if (f == i || !pin_eligible(m, f))
			continue;
		if (check_age && changed_after(m, f, i)) {
			model_invalidate(m, i, SAVE_WHY_OLDER);
			return 0;
		}
	}
	s->pins_pending = true;
	s->adopt_from = m->n;
	return 0;
}

static void model_take_pins(struct model *m);
static void model_snap_take(struct model *m);

/* One commit (container.c commit_run): the new generation for every dirty
 * object, then save_take_pins -- a fresh seal of memory.save takes its
 * pins, a SAVED one adopts the files that arrived since: only files
 * created after the seal (adopt_from), never one that was already there
 * (an image renamed away and rewritten is an ordinary file again, but no
 * arrival), and never one that is open for writing (mobj.writers: the
 * daemon workloads hold such handles).  Then the snapshot the commit
 * takes, if any. */
void model_commit(struct model *m)
{
	m->gen++;
	for (int i = 0; i < m->n; i++) {
		if (m->o[i].live && m->o[i].dirty) {
			m->o[i].gen = m->gen;
			m->o[i].dirty = false;
		}
	}
	model_take_pins(m);
	model_snap_take(m);
}

/* save_take_pins: a fresh seal takes its pins, a SAVED one adopts. */
static void model_take_pins(struct model *m)
{
	struct mseal *s = model_live_seal(m);
	if (!s || s->state != SAVE_STATE_SAVED)
		return;
	for (int f = 0; f < m->n; f++) {
		if (!pin_eligible(m, f))
			continue;
		bool pinned = false;
		for (int k = 0; k < s->npins && !pinned; k++)
			pinned = s->pin[k] == f;
		/* adoption: never of a file someone is still writing */
		if (!pinned && (s->pins_pending ||
				(f >= s->adopt_from && m->o[f].writers == 0))) {
			seal_add_pin(s, f, m->o[f].gen, m->o[f].name,
				     blob_new(m->o[f].data, m->o[f].size));
			g_cover[COV_ADOPTED] += !s->pins_pending;
		}
	}
	if (s->pins_pending) {
		g_cover[COV_SEALED]++;
		int cfg = model_find(m, "config");
		s->config_gen = cfg >= 0 ? m->o[cfg].gen : 0;
		s->pins_pending = false;
	}
}

/* The snapshot a commit takes (snapshot.c snapshot_write_pending): the
 * table as that commit writes it, after the generations and the pins. */
static void model_snap_take(struct model *m)
{
	if (!m->snap_pending[0])
		return;
	if (m->nsnap == MAX_MSNAP)
		abort();
	struct msnap *s = xmalloc(sizeof(*s));
	s->refs = 1;
	snprintf(s->name, sizeof(s->name), "%s", m->snap_pending);
	m->snap_pending[0] = 0;
	model_copy(&s->m, m);
	for (int k = 0; k < s->m.nspent; k++)
		blob_put(s->m.spent[k]);
	s->m.nspent = 0;
	for (int k = 0; k < s->m.nsnap; k++)
		msnap_put(s->m.snap[k]);
	s->m.nsnap = 0;
	for (int i = 0; i < s->m.n; i++)
		s->m.o[i].writers = 0; /* a frozen table has no handles */
	m->snap[m->nsnap++] = s;
	if ((uint64_t)m->nsnap > g_cover[COV_SNAP_MAX])
		g_cover[COV_SNAP_MAX] = (uint64_t)m->nsnap;
}

struct msnap *msnap_ref(struct msnap *s)
{
	s->refs++;
	return s;
}

void msnap_unref(struct msnap *s)
{
	msnap_put(s);
}

/* Teeth: *s replaced by a copy expecting one byte the core never wrote
 * (a held view's expectation).  false: nothing to change. */
bool model_view_perturb(struct msnap **s)
{
	struct msnap *old = *s;
	for (int i = 0; i < old->m.n; i++) {
		if (!old->m.o[i].live || old->m.o[i].size == 0)
			continue;
		struct msnap *d = xmalloc(sizeof(*d));
		d->refs = 1;
		memcpy(d->name, old->name, sizeof(d->name));
		model_copy(&d->m, &old->m);
		d->m.o[i].data[d->m.o[i].size / 2] ^= 0x5a;
		*s = d;
		msnap_put(old);
		return true;
	}
	return false;
}

/* Teeth: snapshot 0 expected with one byte the core never wrote (a copy:
 * the runs' own snapshots stay as they are).  false: nothing to change. */
bool model_snap_perturb(struct model *m)
{
	if (m->nsnap == 0)
		return false;
	struct msnap *old = m->snap[0];
	for (int i = 0; i < old->m.n; i++) {
		if (!old->m.o[i].live || old->m.o[i].size == 0)
			continue;
		struct msnap *s = xmalloc(sizeof(*s));
		s->refs = 1;
		memcpy(s->name, old->name, sizeof(s->name));
		model_copy(&s->m, &old->m);
		s->m.o[i].data[s->m.o[i].size / 2] ^= 0x5a;
		m->snap[0] = s;
		msnap_put(old);
		return true;
	}
	return false;
}

int model_snap_find(const struct model *m, const char *name)
{
	for (int k = 0; k < m->nsnap; k++)
		if (strcmp(m->snap[k]->name, name) == 0)
			return k;
	return -1;
}

/* container_snapshot_delete: the snapshot is gone from the next commit
 * on; the others keep their order. */
void model_snap_delete(struct model *m, int k)
{
	msnap_put(m->snap[k]);
	memmove(&m->snap[k], &m->snap[k + 1],
		(size_t)(m->nsnap - k - 1) * sizeof(m->snap[0]));
	m->nsnap--;
}

/*
 * container_snapshot_rollback to snapshot `k`, before its commit: every
 * object becomes the snapshot's (same identities, names, contents,
 * generations, flags and seals: nothing dirty), objects created since
 * disappear; a sealed image the snapshot does not hold (by identity) is
 * spent (save_object_gone); the spent list and the snapshots stay the
 * container's.  Then, as at open, a memory.save the snapshot caught
 * unsealed is set aside (save_recover_incomplete).  Returns the commits
 * it makes: the rollback's own, plus one inside that rename (see
 * model_recover).
 */
int model_rollback(struct model *m, int k)
{
	const struct model *sm = &m->snap[k]->m;
	for (int i = 0; i < m->n; i++) {
		struct mobj *o = &m->o[i];
		if (!o->live)
			continue;
		if (o->seal && !(i < sm->n && sm->o[i].live))
			model_spend(m, o->seal->image->data,
				    o->seal->image->size);
		free(o->data);
		seal_free(o->seal);
		memset(o, 0, sizeof(*o));
	}
	for (int i = 0; i < sm->n; i++) {
		const struct mobj *so = &sm->o[i];
		struct mobj *o = &m->o[i];
		if (!so->live) {
			o->live = false;
			snprintf(o->name, sizeof(o->name), "%s", so->name);
			continue;
		}
		*o = *so;
		o->data = dup_bytes(so->data, so->size);
		o->cap = so->size;
		o->seal = seal_dup(so->seal);
	}
	return 1 + (model_recover(m) == 2 ? 1 : 0);
}

/* savelock.c save_before_modify: the transition a data change of `i`
 * commits first (unseal a rewritten image, retire a resumed one,
 * invalidate a saved one).  Returns whether there is one. */
bool model_transition(struct model *m, int i)
{
	struct mobj *o = &m->o[i];
	if (o->seal) {
		/* the image itself is rewritten, also over a stale seal (a
		 * new save into the same name): its old bytes are spent, the
		 * seal dropped */
		model_spend(m, o->seal->image->data, o->seal->image->size);
		seal_free(o->seal);
		o->seal = NULL;
		if (is_name(o, SAVE_IMAGE_NAME))
			o->unsealed = true;
		g_cover[COV_REWRITTEN]++;
		return true;
	}
	if (!model_pinned(m, i))
		return false;
	int img = model_find(m, SAVE_IMAGE_NAME);
	if (m->o[img].seal->state == SAVE_STATE_RESUMING) {
		model_remove(m, img); /* retired */
		g_cover[COV_RETIRED]++;
		return true;
	}
	model_invalidate(m, img, SAVE_WHY_WRITTEN);
	int old = model_find(m, SAVE_IMAGE_STALE_NAME);
	if (old >= 0 && old != img)
		model_remove(m, old);
	model_rename(m, img, SAVE_IMAGE_STALE_NAME);
	return true;
}

/* object.c save_relevant: must a namespace change of `i` (from or to
 * `name`) be committed before the call returns? */
bool model_relevant(const struct model *m, int i, const char *name)
{
	const struct mobj *o = &m->o[i];
	if (o->seal || o->unsealed || o->tainted)
		return true;
	if (strncmp(name, SAVE_IMAGE_NAME, strlen(SAVE_IMAGE_NAME)) == 0)
		return true;
	const struct mseal *s = model_live_seal(m);
	return s && s->state == SAVE_STATE_SAVED;
}

/* savelock.c save_arrive: `i` was just renamed onto memory.save. */
static void model_arrive(struct model *m, int i)
{
	struct mobj *o = &m->o[i];
	o->unsealed = false;
	if (o->tainted)
		return;
	if (o->seal) {
		enum save_why why;
		if (o->seal->state != SAVE_STATE_INVALIDATED &&
		    !pins_hold(m, o->seal, &why))
			model_invalidate(m, i, why);
		else if (o->seal->state != SAVE_STATE_INVALIDATED)
			g_cover[COV_KEPT]++;
		return;
	}
	model_seal_fresh(m, i, true);
}

/* object_rename_locked after its checks: returns whether it commits. */
bool model_rename_locked(struct model *m, int i, const char *to)
{
	int t = model_find(m, to);
	if (t == i)
		return false;
	bool commit = model_relevant(m, i, m->o[i].name) ||
		      model_relevant(m, i, to) ||
		      (t >= 0 && model_relevant(m, t, to));
	if (t >= 0)
		model_remove(m, t);
	bool was_image = is_name(&m->o[i], SAVE_IMAGE_NAME);
	model_rename(m, i, to);
	if (strcmp(to, SAVE_IMAGE_NAME) == 0)
		model_arrive(m, i);
	else if (was_image)
		m->o[i].unsealed = false;
	return commit;
}

/* What a read-write open does to a committed state (container_recover,
 * savelock.c save_recover_incomplete): memory.save whose writer never
 * closed it becomes memory.save.incomplete, tainted, its bytes spent.
 * Returns the commits it makes: one inside the rename (the image is
 * save-relevant) and the recovery's own. */
int model_recover(struct model *m)
{
	int img = model_find(m, SAVE_IMAGE_NAME);
	if (img < 0 || !m->o[img].unsealed)
		return 0;
	model_spend(m, m->o[img].data, m->o[img].size);
	m->o[img].tainted = true;
	return model_rename_locked(m, img, SAVE_IMAGE_INCOMPLETE_NAME) ? 2 : 1;
}

/* Equal, the objects' dirty flags too unless `dirty_too` is false. */
static bool model_equal_impl(const struct model *a, const struct model *b,
			     bool dirty_too)
{
	if (a->n != b->n || model_state(a) != model_state(b) ||
	    a->nsnap != b->nsnap || strcmp(a->snap_pending, b->snap_pending))
		return false;
	for (int k = 0; k < a->nsnap; k++)
		if (a->snap[k] != b->snap[k])
			return false;
	for (int i = 0; i < a->n; i++) {
		const struct mobj *x = &a->o[i], *y = &b->o[i];
		if (x->live != y->live)
			return false;
		if (!x->live)
			continue;
		if (strcmp(x->name, y->name) || x->size != y->size ||
		    (dirty_too && x->dirty != y->dirty) || x->gen != y->gen ||
		    x->unsealed != y->unsealed || x->tainted != y->tainted ||
		    !x->seal != !y->seal ||
		    (x->seal && (x->seal->state != y->seal->state ||
				 x->seal->npins != y->seal->npins)) ||
		    (x->size && memcmp(x->data, y->data, x->size)))
			return false;
	}
	return true;
}

bool model_equal(const struct model *a, const struct model *b)
{
	return model_equal_impl(a, b, true);
}

/* Equal but for the dirty flags: a change that left every byte and size
 * as it was (a truncate to the same size) marks its object changed, and
 * a flush then has nothing to make durable -- core commits the new
 * generation with the next commit that has work to do. */
bool model_equal_contents(const struct model *a, const struct model *b)
{
	return model_equal_impl(a, b, false);
}

uint64_t container_generation(struct container *c)
{
	struct container_info info;
	container_info(c, &info);
	return info.generation;
}
