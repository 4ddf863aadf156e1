/*
 * test_crash.c -- crash-state replay harness for the container (issue 3).
 *
 * A workload drives a container through the public API (container.h,
 * savelock.h) on a RECORDING memio while an oracle keeps a byte-exact model
 * of every object, its generation, and of the save lock (each image's seal,
 * the spent fingerprints; see "the oracle" below).  Every commit the core performs is
 * found in the operation log (the 512-byte superblock pwrite and the
 * fdatasync after it) and paired with the model state it must have made
 * durable.  Then, for every crash point, crash images are built from the log
 * -- everything up to the last completed fdatasync applied, the unsynced
 * operations after it dropped, applied, torn at 512-byte sectors or (garbage
 * mode) replaced by random bytes -- and each image is checked
 * (check_container), reopened read-write through container_open, compared
 * with the oracle, closed and checked again.  The crash model is described in
 * tests/crash/README.md.
 *
 * Environment:
 *   HANGAR_TEST_SEED=N      replay a run (printed at start)
 *   HANGAR_CRASH_ONLY=W     run only workload W (verbose)
 *   HANGAR_CRASH_LONG=1     long mode: >= 1,000,000 crash states
 *   HANGAR_CRASH_BUDGET=S   wall-clock budget in seconds (default 240)
 *   HANGAR_CRASH_SEQ3=N     run one in N of the length-3 systematic
 *                           sequences (default all; 24 under sanitizers)
 *   HANGAR_CRASH_SEQ=a,b,c  run one systematic sequence, verbose (op names
 *                           as SOP_NAME; add "sealed", "compressed")
 *   HANGAR_CRASH_SEQ_ONLY=1 skip the random workloads
 *   HANGAR_CRASH_SEQ_TRACE=1  one line per systematic sequence
 *   HANGAR_SANITIZED=1      smaller default budget under ASan/UBSan
 *   HANGAR_CRASH_NO_REPLAY=1  check the oracle op by op, no crash states
 *   HANGAR_CRASH_TEETH_VERBOSE=1  print what the teeth runs catch
 *
 * Teeth: the same workloads are replayed on a disk that does not honour the
 * fdatasync that precedes each superblock write (the commit's tree and the
 * superblock become one unordered window).  That is exactly a commit with
 * the wrong order; the harness must report failures for it, or this test
 * fails.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hangar/check.h"
#include "container_open.h"
#include "crypto.h"
#include "format.h"
#include "harness.h"
#include "memio.h"
#include "hangar/savelock.h"

#if defined(__SANITIZE_ADDRESS__)
#define CRASH_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CRASH_SANITIZED 1
#endif
#endif
/* the plain CI run re-runs one workload in ENC_EVERY encrypted */
#ifndef ENC_EVERY
#define ENC_EVERY 20
#endif
#ifndef CRASH_SANITIZED
#define CRASH_SANITIZED 0
#endif

#define MAX_OBJ	       256
#define MAX_PINS       MAX_OBJ
#define SECTOR	       512u
#define ENUM_MAX       10 /* enumerate every subset up to this many unsynced ops */
#define SAMPLE_STATES  64
#define GARBAGE_STATES 6
#define MAX_REPORTS    12

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
enum cover {
	COV_SEALED,    /* fresh seals that took their pins */
	COV_ADOPTED,   /* files adopted by a SAVED memory.save at a commit */
	COV_INHERITED, /* copies of a live seal that took its pins */
	COV_KEPT,      /* images renamed onto memory.save, seal still good */
	COV_REFUSED,   /* seals of a tainted memory.save refused (-EIO) */
	COV_RETIRED,   /* RESUMING images retired by a write to a pin */
	COV_REWRITTEN, /* sealed images rewritten (seal dropped) */
	COV_RECOVERED, /* never-closed images set aside at an open */
	COV_BUSY,      /* unlink/rename of a pinned file refused */
	COV_RESUMED,   /* SAVED -> RESUMING */
	COV_STALE,     /* resumes refused -ESTALE */
	COV_AWAY,      /* images away from a SAVED memory.save rewritten:
			* an ordinary file again, but never adopted */
	COV_RESUME_ADOPTED, /* files adopted by the commit a resume makes
			     * first */
	COV_RESUME_BUSY,    /* resumes refused -EBUSY (a file that arrived
			     * after the seal is not pinned) */
	COV_NUM
};
static uint64_t g_cover[COV_NUM];
static uint64_t g_cover_why[SAVE_WHY_MAX + 1]; /* invalidations by why */
static size_t g_cover_spent;		       /* most spent fingerprints */

/* Immutable bytes shared between models (pins, sealed images, the spent
 * list) so that snapshots stay cheap. */
struct blob {
	unsigned refs;
	size_t size;
	uint8_t data[];
};

struct mseal {
	enum save_state state; /* SAVED, RESUMING or INVALIDATED */
	enum save_why why;     /* INVALIDATED: why */
	bool pins_pending;     /* fresh: the next commit takes the pins */
	uint64_t config_gen;   /* `config`'s generation at the seal (0: none) */
	int adopt_from;	    /* first identity it may adopt: the objects created
			 * after the seal (core: adopt_from = the seal's
			 * next_object_id; ids and identities are both
			 * handed out in creation order, never reused) */
	struct blob *image; /* the image's bytes when sealed: fingerprint */
	int npins;
	int pin[MAX_PINS]; /* identities, in core's (id) order */
	uint64_t pin_gen[MAX_PINS];
	char pin_name[MAX_PINS][64];
	struct blob *pin_data[MAX_PINS]; /* the file's contents when pinned */
};

struct mobj {
	bool live;
	bool unsealed;	  /* OBJECT_FLAG_IMAGE_UNSEALED */
	bool tainted;	  /* OBJECT_FLAG_IMAGE_TAINTED */
	bool dirty;	  /* contents changed since the last commit */
	uint64_t gen;	  /* the commit that last changed its contents */
	uint64_t changed; /* core's changed_at: when its contents last
			   * changed, as a tick of g_tick (0: created and
			   * not written since: core leaves changed_at 0) */
	char name[64];
	uint64_t cid; /* core object id */
	uint8_t *data;
	size_t size, cap;
	struct mseal *seal; /* NULL unless sealed once */
};

#define MAX_SPENT FORMAT_MAX_SPENT

/* The order of content changes (core's changed_at, CLOCK_REALTIME at each
 * write, truncate and punch): only compared within one run. */
static uint64_t g_tick;

struct model {
	struct mobj o[MAX_OBJ];
	int n;	      /* identities ever created (never reused) */
	uint64_t gen; /* the container's last committed generation */
	int nspent;   /* spent images, newest first */
	struct blob *spent[MAX_SPENT];
};

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		abort();
	return p;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort();
	return p;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
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

static void model_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
}

static void model_free(struct model *m)
{
	for (int i = 0; i < m->n; i++) {
		free(m->o[i].data);
		seal_free(m->o[i].seal);
	}
	for (int k = 0; k < m->nspent; k++)
		blob_put(m->spent[k]);
	memset(m, 0, sizeof(*m));
}

static void model_copy(struct model *dst, const struct model *src)
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
}

static int model_find(const struct model *m, const char *name)
{
	for (int i = 0; i < m->n; i++)
		if (m->o[i].live && strcmp(m->o[i].name, name) == 0)
			return i;
	return -1;
}

static bool is_name(const struct mobj *o, const char *name)
{
	return strcmp(o->name, name) == 0;
}

/* object_create: a new object, its contents dirty; memory.save starts out
 * as an unsealed image. */
static int model_new(struct model *m, const char *name, uint64_t cid)
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
static void model_remove(struct model *m, int i)
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

static void model_resize(struct mobj *o, size_t size)
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
static void model_write(struct mobj *o, uint64_t off, uint64_t len,
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
static struct mseal *model_live_seal(const struct model *m)
{
	int img = model_find(m, SAVE_IMAGE_NAME);
	return img >= 0 ? m->o[img].seal : NULL;
}

static bool seal_active(const struct mseal *s)
{
	return s && (s->state == SAVE_STATE_SAVED ||
		     s->state == SAVE_STATE_RESUMING);
}

/* Pinned by memory.save's SAVED or RESUMING seal (savelock.c
 * save_is_pinned). */
static bool model_pinned(const struct model *m, int i)
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
static enum save_state model_state_of(const struct model *m, int *out_img,
				      enum save_why *out_why,
				      bool *out_unsealed)
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

static enum save_state model_state(const struct model *m)
{
	return model_state_of(m, NULL, NULL, NULL);
}

/* Files a seal pins: every named file but config, dot files, memory.save*
 * and images (objects that carry a seal). */
static bool pin_eligible(const struct model *m, int i)
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
static bool pins_hold(const struct model *m, const struct mseal *s,
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
static int model_seal_fresh(struct model *m, int i, bool check_age)
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

/* One commit (container.c commit_run): the new generation for every dirty
 * object, then save_take_pins -- a fresh seal of memory.save takes its
 * pins, a SAVED one adopts the files that arrived since: only files
 * created after the seal (adopt_from), never one that was already there
 * (an image renamed away and rewritten is an ordinary file again, but no
 * arrival).  The workloads hold no open handles, so no file is skipped
 * for a writer. */
static void model_commit(struct model *m)
{
	m->gen++;
	for (int i = 0; i < m->n; i++) {
		if (m->o[i].live && m->o[i].dirty) {
			m->o[i].gen = m->gen;
			m->o[i].dirty = false;
		}
	}
	struct mseal *s = model_live_seal(m);
	if (!s || s->state != SAVE_STATE_SAVED)
		return;
	for (int f = 0; f < m->n; f++) {
		if (!pin_eligible(m, f))
			continue;
		bool pinned = false;
		for (int k = 0; k < s->npins && !pinned; k++)
			pinned = s->pin[k] == f;
		if (!pinned && (s->pins_pending || f >= s->adopt_from)) {
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

/* savelock.c save_before_modify: the transition a data change of `i`
 * commits first (unseal a rewritten image, retire a resumed one,
 * invalidate a saved one).  Returns whether there is one. */
static bool model_transition(struct model *m, int i)
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
static bool model_relevant(const struct model *m, int i, const char *name)
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
static bool model_rename_locked(struct model *m, int i, const char *to)
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
static int model_recover(struct model *m)
{
	int img = model_find(m, SAVE_IMAGE_NAME);
	if (img < 0 || !m->o[img].unsealed)
		return 0;
	model_spend(m, m->o[img].data, m->o[img].size);
	m->o[img].tainted = true;
	return model_rename_locked(m, img, SAVE_IMAGE_INCOMPLETE_NAME) ? 2 : 1;
}

static bool model_equal(const struct model *a, const struct model *b)
{
	if (a->n != b->n || model_state(a) != model_state(b))
		return false;
	for (int i = 0; i < a->n; i++) {
		const struct mobj *x = &a->o[i], *y = &b->o[i];
		if (x->live != y->live)
			return false;
		if (!x->live)
			continue;
		if (strcmp(x->name, y->name) || x->size != y->size ||
		    x->dirty != y->dirty || x->gen != y->gen ||
		    x->unsealed != y->unsealed || x->tainted != y->tainted ||
		    !x->seal != !y->seal ||
		    (x->seal && (x->seal->state != y->seal->state ||
				 x->seal->npins != y->seal->npins)) ||
		    (x->size && memcmp(x->data, y->data, x->size)))
			return false;
	}
	return true;
}

static uint64_t container_generation(struct container *c)
{
	struct container_info info;
	container_info(c, &info);
	return info.generation;
}

/* ---- a workload run -------------------------------------------------------
 */

struct mut { /* a change to object contents since some snapshot */
	int obj;
	uint64_t off, len;
	uint8_t *data; /* NULL: zeros */
	size_t log_start;
};

struct snap { /* a committed state and where its commit became durable */
	struct model m;
	long sync_idx; /* log index of the fdatasync that completed it */
	long sb_idx;   /* log index of its superblock pwrite, -1 if none */
	size_t mut_seq;
};

struct run {
	unsigned widx;
	uint64_t rng;
	struct container_options opts;
	unsigned shift;
	uint64_t max_size;
	struct memio *mio;
	struct container *c;
	struct model m;
	/* note_commits: log[l0..note_end) when note_end is set (one call
	 * that commits in stages), without comparing the live container
	 * when note_partial (it is already past this stage) */
	size_t note_end;
	bool note_partial;
	struct snap *snaps;
	size_t nsnaps;
	struct mut *muts;
	size_t nmuts, capmuts;
	uint8_t *base;
	uint64_t base_size;
	bool diverged; /* the model disagrees with core: crash states skipped */
	bool verbose;
	int nops;
};

struct stats {
	uint64_t states, workloads, failures, reports, windows;
	uint64_t at_next; /* states where the in-flight commit had landed */
	uint64_t torn, garbage, lenient;       /* torn / garbage states; bytes
					    accepted as an unsynced write */
	uint64_t commits, enumerated, sampled; /* windows by mode */
	bool quiet;
	bool perturb; /* oracle teeth: expect one byte the core never wrote */
};

static uint64_t rnd(struct run *r, uint64_t n)
{
	return n ? test_rand(&r->rng) % n : 0;
}

static uint64_t mix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

/* Encrypted containers (issue 8): while g_enc is set, the workloads are
 * created, reopened, checked and recovered under g_master, the store's
 * master key.  The same workloads (same seeds) run plain and encrypted. */
static struct crypto_key *g_master;
static bool g_enc;

static void fail_msg(struct stats *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void fail_msg(struct stats *st, const char *fmt, ...)
{
	st->failures++;
	if (st->quiet || st->reports >= MAX_REPORTS)
		return;
	st->reports++;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "crash FAIL%s: ", g_enc ? " (encrypted)" : "");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

static bool is_sb_write(const struct memio_op *op)
{
	return op->kind == MEMIO_OP_PWRITE && op->len == FORMAT_SECTOR_SIZE &&
	       (op->offset == FORMAT_SUPERBLOCK_A_OFFSET ||
		op->offset == FORMAT_SUPERBLOCK_B_OFFSET);
}

static void push_snap(struct run *r, const struct model *m, long sync_idx,
		      long sb_idx)
{
	r->snaps = xrealloc(r->snaps, (r->nsnaps + 1) * sizeof(*r->snaps));
	struct snap *s = &r->snaps[r->nsnaps++];
	model_copy(&s->m, m);
	s->sync_idx = sync_idx;
	s->sb_idx = sb_idx;
	s->mut_seq = r->nmuts;
}

static void push_mut(struct run *r, int obj, uint64_t off, uint64_t len,
		     const uint8_t *data, size_t log_start)
{
	if (r->nmuts == r->capmuts) {
		r->capmuts = r->capmuts ? r->capmuts * 2 : 64;
		r->muts = xrealloc(r->muts, r->capmuts * sizeof(*r->muts));
	}
	struct mut *u = &r->muts[r->nmuts++];
	u->obj = obj;
	u->off = off;
	u->len = len;
	u->data = data ? dup_bytes(data, len) : NULL;
	u->log_start = log_start;
}

/* ---- verification of a live container against a model --------------------
 */

struct allow { /* what unsynced writes may have left in committed bytes */
	const struct run *r;
	size_t from;	/* mutations from this index ... */
	size_t win_end; /* ... that started before this log index */
	bool garbage;
	uint64_t *lenient;
};

/* The mutations of object `obj` that may show in a crash image. */
static size_t allow_candidates(const struct allow *a, int obj, size_t **out)
{
	size_t n = 0;
	*out = NULL;
	if (!a)
		return 0;
	const struct run *r = a->r;
	*out = xmalloc((r->nmuts - a->from + 1) * sizeof(**out));
	for (size_t i = a->from; i < r->nmuts; i++)
		if (r->muts[i].obj == obj && r->muts[i].log_start < a->win_end)
			(*out)[n++] = i;
	return n;
}

static bool byte_allowed(const struct allow *a, const size_t *cand,
			 size_t ncand, uint64_t b, uint8_t v)
{
	if (!a)
		return false;
	const struct run *r = a->r;
	for (size_t k = ncand; k-- > 0;) {
		const struct mut *u = &r->muts[cand[k]];
		if (a->garbage) {
			/* whole virtual clusters touched are unchecked */
			uint64_t cs = 1ull << r->shift;
			uint64_t lo = u->off & ~(cs - 1);
			uint64_t hi = (u->off + u->len + cs - 1) & ~(cs - 1);
			if (b >= lo && b < hi)
				return true;
			continue;
		}
		if (b >= u->off && b < u->off + u->len &&
		    (u->data ? u->data[b - u->off] : 0) == v) {
			if (a->lenient)
				(*a->lenient)++;
			return true;
		}
	}
	return false;
}

/* At sector granularity: the 512-byte sector [lo, hi) of the object reads
 * `got`; `old` is the expected commit's bytes.  An unsynced sector lands
 * whole or not at all, so `got` must be `old` with some subset of the
 * candidate mutations overlapping it applied, in issue order -- a sector
 * mixing bytes of one write with the old bytes it replaced is wrong data.
 * (Garbage mode and sectors under more than SECTOR_ENUM_MAX mutations fall
 * back to byte_allowed.) */
#define SECTOR_ENUM_MAX 12

static bool sector_allowed(const struct allow *a, const size_t *cand,
			   size_t ncand, uint64_t lo, uint64_t hi,
			   const uint8_t *got, const uint8_t *old)
{
	if (!a)
		return false;
	const struct run *r = a->r;
	const struct mut *over[SECTOR_ENUM_MAX];
	size_t k = 0;
	bool bytewise = a->garbage;
	for (size_t j = 0; j < ncand && !bytewise; j++) {
		const struct mut *u = &r->muts[cand[j]];
		if (u->off >= hi || u->off + u->len <= lo)
			continue;
		if (k == SECTOR_ENUM_MAX)
			bytewise = true;
		else
			over[k++] = u;
	}
	if (bytewise) {
		for (uint64_t b = lo; b < hi; b++)
			if (got[b - lo] != old[b - lo] &&
			    !byte_allowed(a, cand, ncand, b, got[b - lo]))
				return false;
		return true;
	}
	uint8_t sec[SECTOR];
	for (uint32_t mask = 1; mask < (1u << k); mask++) {
		memcpy(sec, old, hi - lo);
		for (size_t j = 0; j < k; j++) {
			if (!((mask >> j) & 1))
				continue;
			const struct mut *u = over[j];
			uint64_t s = u->off > lo ? u->off : lo;
			uint64_t e =
				u->off + u->len < hi ? u->off + u->len : hi;
			if (u->data)
				memcpy(sec + (s - lo), u->data + (s - u->off),
				       e - s);
			else
				memset(sec + (s - lo), 0, e - s);
		}
		if (memcmp(sec, got, hi - lo) == 0) {
			if (a->lenient)
				*a->lenient += hi - lo;
			return true;
		}
	}
	return false;
}

static bool read_all(struct container *c, uint64_t id, uint8_t *buf,
		     size_t size)
{
	size_t got = 0;
	if (object_read(c, id, buf, size, 0, &got) != 0 || got != size)
		return false;
	return true;
}

/* Read object `id` whole and compare it with `b`, strictly. */
static bool reads_as(struct container *c, uint64_t id, const struct blob *b)
{
	struct object_attr at;
	if (object_getattr(c, id, &at) != 0 || at.size != b->size)
		return false;
	uint8_t *buf = xmalloc(b->size);
	bool ok = read_all(c, id, buf, b->size) &&
		  (b->size == 0 || memcmp(buf, b->data, b->size) == 0);
	free(buf);
	return ok;
}

/* The save lock of container `c` against model `e`: the derived state,
 * why, the image it reports, whether memory.save is still unsealed, and
 * -- SAVED or RESUMING (invariant 5) -- the image and every file its seal
 * pins, each at the generation and the contents it was pinned with,
 * strictly (no unsynced leniency): a saved image never coexists with a
 * file that moved on. */
static bool verify_save(struct container *c, const struct model *e, char *why,
			size_t wl)
{
	struct save_status ss;
	int img;
	enum save_why ewhy;
	bool unsealed;
	const enum save_state state = model_state_of(e, &img, &ewhy, &unsealed);
	if (save_lock_status(c, &ss) != 0) {
		snprintf(why, wl, "save_lock_status failed");
		return false;
	}
	if (ss.state != state) {
		snprintf(why, wl,
			 "save state %s (reason %d: %.120s), oracle %s",
			 save_state_name(ss.state), (int)ss.why, ss.reason,
			 save_state_name(state));
		return false;
	}
	if (ss.why != ewhy && state == SAVE_STATE_INVALIDATED) {
		snprintf(why, wl, "invalidated for reason %d, oracle %d",
			 (int)ss.why, (int)ewhy);
		return false;
	}
	if (ss.image_unsealed != unsealed) {
		snprintf(why, wl, "memory.save %sbeing written, oracle %s",
			 ss.image_unsealed ? "" : "not ",
			 unsealed ? "yes" : "no");
		return false;
	}
	if (ss.image_id != (img >= 0 ? e->o[img].cid : 0)) {
		snprintf(why, wl, "status names image %llu, oracle %s",
			 (unsigned long long)ss.image_id,
			 img >= 0 ? e->o[img].name : "none");
		return false;
	}
	const struct mseal *s = img >= 0 ? e->o[img].seal : NULL;
	const size_t total = seal_active(s) ? (size_t)s->npins : 0;
	if (ss.pin_total != total) {
		snprintf(why, wl, "%zu pins, oracle %zu", ss.pin_total, total);
		return false;
	}
	if (!seal_active(s))
		return true;
	/* invariant 5: the image is the sealed image, and every file it
	 * pins is the pinned file at the pinned contents, strictly */
	uint64_t id;
	if (object_lookup(c, SAVE_IMAGE_NAME, &id) != 0 || id != ss.image_id ||
	    !reads_as(c, id, s->image)) {
		snprintf(why, wl,
			 "%s state without its image as sealed (%zu bytes)",
			 save_state_name(state), s->image->size);
		return false;
	}
	for (int p = 0; p < s->npins; p++) {
		const struct mobj *d = &e->o[s->pin[p]];
		/* the status lists the first 64 pins; every one is checked
		 * through the object itself too */
		const struct save_pin_status *q =
			(size_t)p < ss.pin_count ? &ss.pins[p] : NULL;
		if (q && (q->object_id != d->cid ||
			  strcmp(q->name, s->pin_name[p]) != 0 ||
			  q->pinned_generation != s->pin_gen[p])) {
			snprintf(why, wl,
				 "pin %d is %s (id %llu, generation %llu), "
				 "oracle %s (id %llu, generation %llu)",
				 p, q->name, (unsigned long long)q->object_id,
				 (unsigned long long)q->pinned_generation,
				 s->pin_name[p], (unsigned long long)d->cid,
				 (unsigned long long)s->pin_gen[p]);
			return false;
		}
		struct object_attr at;
		char name[256];
		if ((q &&
		     (q->changed || q->current_generation != s->pin_gen[p])) ||
		    object_getattr(c, d->cid, &at) != 0 ||
		    at.generation != s->pin_gen[p] ||
		    object_name_of(c, d->cid, name, sizeof(name)) != 0 ||
		    strcmp(name, s->pin_name[p]) != 0) {
			snprintf(why, wl, "pinned file %s changed",
				 s->pin_name[p]);
			return false;
		}
		if (!reads_as(c, d->cid, s->pin_data[p])) {
			snprintf(why, wl,
				 "saved image coexists with %s whose "
				 "contents moved on since it was pinned",
				 s->pin_name[p]);
			return false;
		}
	}
	int cfg = model_find(e, "config");
	bool cfg_changed =
		cfg >= 0 ? e->o[cfg].gen != s->config_gen || e->o[cfg].dirty
			 : s->config_gen != 0;
	if (ss.config_changed != cfg_changed) {
		snprintf(why, wl, "config %schanged since the seal, oracle %s",
			 ss.config_changed ? "" : "not ",
			 cfg_changed ? "changed" : "not");
		return false;
	}
	return true;
}

/* Compare container `c` with model `e`.  `a` NULL: byte-exact. */
static bool verify_live(struct container *c, const struct model *e,
			const struct allow *a, char *why, size_t wl)
{
	struct object_name *names = NULL;
	size_t num = 0;
	int live = 0;
	bool ok = false;
	uint8_t *buf = NULL;

	if (object_list(c, &names, &num) != 0) {
		snprintf(why, wl, "object_list failed");
		return false;
	}
	for (int i = 0; i < e->n; i++)
		live += e->o[i].live;
	if ((int)num != live) {
		snprintf(why, wl, "%zu objects, oracle has %d", num, live);
		goto out;
	}
	for (size_t k = 0; k < num; k++) {
		int i = model_find(e, names[k].name);
		if (i < 0) {
			snprintf(why, wl, "object %s not in oracle",
				 names[k].name);
			goto out;
		}
		const struct mobj *o = &e->o[i];
		struct object_attr at;
		if (object_getattr(c, names[k].id, &at) != 0) {
			snprintf(why, wl, "getattr %s failed", o->name);
			goto out;
		}
		if (at.generation != o->gen) {
			snprintf(why, wl, "%s: generation %llu, oracle %llu",
				 o->name, (unsigned long long)at.generation,
				 (unsigned long long)o->gen);
			goto out;
		}
		if (at.size != o->size) {
			snprintf(why, wl, "%s: size %llu, oracle %zu", o->name,
				 (unsigned long long)at.size, o->size);
			goto out;
		}
		buf = xrealloc(buf, o->size);
		if (!read_all(c, names[k].id, buf, o->size)) {
			snprintf(why, wl, "%s: read failed", o->name);
			goto out;
		}
		if (o->size && memcmp(buf, o->data, o->size) != 0) {
			size_t *cand;
			size_t ncand = allow_candidates(a, i, &cand);
			for (size_t lo = 0; lo < o->size; lo += SECTOR) {
				size_t hi = lo + SECTOR < o->size ? lo + SECTOR
								  : o->size;
				if (memcmp(buf + lo, o->data + lo, hi - lo) ==
					    0 ||
				    sector_allowed(a, cand, ncand, lo, hi,
						   buf + lo, o->data + lo))
					continue;
				size_t b = lo;
				while (buf[b] == o->data[b])
					b++;
				snprintf(why, wl,
					 "%s: sector at %zu (first difference "
					 "at byte %zu: 0x%02x, oracle 0x%02x) "
					 "is no combination of the unsynced "
					 "writes over it",
					 o->name, lo, b, buf[b], o->data[b]);
				free(cand);
				goto out;
			}
			free(cand);
		}
	}
	if (!verify_save(c, e, why, wl))
		goto out;
	ok = true;
out:
	free(names);
	free(buf);
	return ok;
}

/* ---- the workload runner --------------------------------------------------
 */

enum commit_kind {
	CK_NONE,   /* the op must not commit */
	CK_TRANS,  /* commits `trans` first (save transition), then data */
	CK_FINAL,  /* commits the final model `expect` times */
	CK_COMMIT, /* container_commit / close: 0 or 1 commit, or a data sync */
};

/* Find the commits op `what` performed in log[l0..] and pair them with the
 * model: each one is applied to it (model_commit: generations, pins) and
 * snapshotted.  Returns false (and marks divergence) on disagreement. */
static bool note_commits(struct run *r, struct stats *st, const char *what,
			 size_t l0, enum commit_kind kind, struct model *trans,
			 int expect)
{
	const struct memio *mio = r->mio;
	long sbs[8], syncs[8];
	int nsb = 0, nsync_after_sb = 0;
	long last_sync = -1;
	const size_t end = r->note_end ? r->note_end : mio->log_num;

	for (size_t i = l0; i < end; i++) {
		const struct memio_op *op = &mio->log[i];
		if (op->kind == MEMIO_OP_SYNC) {
			last_sync = (long)i;
			if (nsb > nsync_after_sb)
				syncs[nsync_after_sb++] = (long)i;
		} else if (is_sb_write(op)) {
			if (nsb == 8 || nsb > nsync_after_sb) {
				fail_msg(st,
					 "w%u %s: superblock writes without "
					 "a sync between them",
					 r->widx, what);
				r->diverged = true;
				return false;
			}
			sbs[nsb++] = (long)i;
		}
	}
	if (nsb != nsync_after_sb) {
		fail_msg(st, "w%u %s: superblock write not followed by a sync",
			 r->widx, what);
		r->diverged = true;
		return false;
	}
	int want;
	switch (kind) {
	case CK_NONE:
		want = 0;
		break;
	case CK_TRANS:
		want = trans ? 1 : 0;
		break;
	case CK_FINAL:
		want = expect;
		break;
	default:
		want = nsb <= 1 ? nsb : 1;
		break;
	}
	/* A commit may retire the older slot's tree first (raw data an
	 * earlier commit freed is held until then: core/alloc.c invariant
	 * 5), superblock only, the same contents: its snapshot equals the
	 * one before (but for the generation). */
	const bool advance = want >= 1 && nsb == want + 1;
	if (nsb != want && !advance) {
		fail_msg(st, "w%u %s: %d commits, oracle expects %d", r->widx,
			 what, nsb, want);
		r->diverged = true;
		return false;
	}
	struct model *m = kind == CK_TRANS ? trans : &r->m;
	for (int k = 0; k < nsb; k++) {
		model_commit(m);
		push_snap(r, m, syncs[k], sbs[k]);
	}
	if (nsb == 0 && kind == CK_COMMIT && last_sync >= 0)
		push_snap(r, &r->m, last_sync, -1); /* data-only flush */
	else if (nsb == 0 && kind == CK_COMMIT &&
		 !model_equal(&r->snaps[r->nsnaps - 1].m, &r->m)) {
		fail_msg(st, "w%u %s returned 0 without syncing changes",
			 r->widx, what);
		r->diverged = true;
		return false;
	}
	if (nsb >= 1 && kind != CK_TRANS && r->c && !r->note_partial) {
		char why[300];
		if (!verify_live(r->c, &r->m, NULL, why, sizeof(why))) {
			fail_msg(st,
				 "w%u after %s: live container differs "
				 "from oracle: %s",
				 r->widx, what, why);
			r->diverged = true;
			return false;
		}
	}
	return true;
}

static bool check_ret(struct run *r, struct stats *st, const char *what,
		      int got, int want)
{
	if (got == want)
		return true;
	fail_msg(st, "w%u %s returned %d, oracle expects %d", r->widx, what,
		 got, want);
	r->diverged = true;
	return false;
}

static const char *const POOL[] = {
	"disk.raw", "data.raw",	     "config",
	"nvram.fd", SAVE_IMAGE_NAME, "scratch",
};
#define POOL_NUM (sizeof(POOL) / sizeof(POOL[0]))

static void gen_data(struct run *r, uint8_t *buf, size_t len)
{
	unsigned mode = (unsigned)rnd(r, 8);
	if (mode == 0) {
		memset(buf, 0, len);
	} else if (mode <= 3) { /* compressible */
		uint8_t v = (uint8_t)rnd(r, 256);
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)(v + (i / 64) % 4);
	} else {
		for (size_t i = 0; i < len; i += 8) {
			uint64_t x = test_rand(&r->rng);
			size_t n = len - i < 8 ? len - i : 8;
			memcpy(buf + i, &x, n);
		}
	}
}

static int pick_live(struct run *r, bool need_data)
{
	int cand[MAX_OBJ], n = 0;
	for (int i = 0; i < r->m.n; i++)
		if (r->m.o[i].live && (!need_data || r->m.o[i].size > 0))
			cand[n++] = i;
	return n ? cand[rnd(r, (uint64_t)n)] : -1;
}

static const char *pick_name(struct run *r)
{
	if (rnd(r, 10) == 0)
		return rnd(r, 2) ? SAVE_IMAGE_STALE_NAME
				 : SAVE_IMAGE_INCOMPLETE_NAME;
	return POOL[rnd(r, POOL_NUM)];
}

/*
 * Count a data change of an image that carries a SAVED or RESUMING seal
 * but is not memory.save (renamed away), under a name a seal pins, while
 * memory.save is SAVED.  save_before_modify drops its seal and commits;
 * the object is an ordinary file again but was there before memory.save's
 * seal (id < adopt_from), so that commit must not adopt it (before
 * adopt_from it did, and the change then landed on a pinned file without
 * a transition).  model_commit models this; here it is only counted.
 */
static void note_rewrite_away(const struct model *m, int i)
{
	const struct mobj *o = &m->o[i];
	const struct mseal *live = model_live_seal(m);
	if (!seal_active(o->seal) || is_name(o, SAVE_IMAGE_NAME) || !live ||
	    live->state != SAVE_STATE_SAVED || o->name[0] == '.' ||
	    is_name(o, "config") ||
	    strncmp(o->name, SAVE_IMAGE_NAME, strlen(SAVE_IMAGE_NAME)) == 0)
		return;
	g_cover[COV_AWAY]++;
}

static void op_data_write_buf(struct run *r, struct stats *st, int i,
			      uint64_t off, uint64_t len, const uint8_t *buf,
			      const char *what)
{
	struct model trans;
	bool has_trans;

	note_rewrite_away(&r->m, i);
	model_copy(&trans, &r->m);
	has_trans = model_transition(&trans, i);
	size_t l0 = r->mio->log_num;
	int ret = object_write(r->c, r->m.o[i].cid, buf, len, off);
	if (check_ret(r, st, what, ret, 0) &&
	    note_commits(r, st, what, l0, CK_TRANS, has_trans ? &trans : NULL,
			 0)) {
		if (has_trans) {
			model_free(&r->m);
			model_copy(&r->m, &trans);
		}
		model_write(&r->m.o[i], off, len, buf);
		push_mut(r, i, off, len, buf, l0);
	}
	model_free(&trans);
}

static void op_data_write(struct run *r, struct stats *st, int i, uint64_t off,
			  uint64_t len, const char *what)
{
	uint8_t *buf = xmalloc(len);
	gen_data(r, buf, len);
	op_data_write_buf(r, st, i, off, len, buf, what);
	free(buf);
}

/* memory.save is created 0600 whatever the mode asked (a dump of the
 * guest's RAM); everything else as asked. */
static bool check_create_mode(struct run *r, struct stats *st, const char *name,
			      uint64_t id)
{
	struct object_attr at;
	uint32_t want = strcmp(name, SAVE_IMAGE_NAME) == 0 ? 0600 : 0644;
	if (object_getattr(r->c, id, &at) == 0 && (at.mode & 07777) == want)
		return true;
	fail_msg(st, "w%u create %s: mode %o, oracle %o", r->widx, name,
		 (unsigned)(at.mode & 07777), (unsigned)want);
	r->diverged = true;
	return false;
}

static int ensure_object(struct run *r, struct stats *st, const char *name)
{
	int i = model_find(&r->m, name);
	if (i >= 0)
		return i;
	uint64_t id;
	size_t l0 = r->mio->log_num;
	int ret = object_create(r->c, name, 0644, 0, 0, &id);
	if (!check_ret(r, st, "create", ret, 0))
		return -1;
	i = model_new(&r->m, name, id);
	if (!note_commits(r, st, "create", l0, CK_NONE, NULL, 0) ||
	    !check_create_mode(r, st, name, id))
		return -1;
	return i;
}

/* ---- the operations (each keeps the oracle in step) -----------------------
 *
 * Each do_* performs one public-API call with the given arguments, predicts
 * its return code and the commits it must make, and updates the model.  The
 * random workloads (op_one) and the systematic ones (seq_op) both use them.
 */

static void do_punch(struct run *r, struct stats *st, int i, uint64_t off,
		     uint64_t len, const char *what)
{
	struct model *m = &r->m;
	struct model trans;
	note_rewrite_away(m, i);
	model_copy(&trans, m);
	bool has = model_transition(&trans, i);
	size_t l0 = r->mio->log_num;
	int ret = object_punch(r->c, m->o[i].cid, off, len);
	if (check_ret(r, st, what, ret, 0) &&
	    note_commits(r, st, what, l0, CK_TRANS, has ? &trans : NULL, 0)) {
		if (has) {
			model_free(m);
			model_copy(m, &trans);
		}
		struct mobj *o = &m->o[i];
		if (off < o->size) {
			if (len > o->size - off)
				len = o->size - off;
			model_write(o, off, len, NULL);
			push_mut(r, i, off, len, NULL, l0);
		}
	}
	model_free(&trans);
}

static void do_truncate(struct run *r, struct stats *st, int i, uint64_t size,
			const char *what)
{
	struct model *m = &r->m;
	const uint64_t cs = 1ull << r->shift;
	struct model trans;
	note_rewrite_away(m, i);
	model_copy(&trans, m);
	bool has = model_transition(&trans, i);
	size_t l0 = r->mio->log_num;
	int ret = object_truncate(r->c, m->o[i].cid, size);
	if (check_ret(r, st, what, ret, 0) &&
	    note_commits(r, st, what, l0, CK_TRANS, has ? &trans : NULL, 0)) {
		if (has) {
			model_free(m);
			model_copy(m, &trans);
		}
		struct mobj *o = &m->o[i];
		if (size < o->size && (size & (cs - 1))) {
			uint64_t tail = (size + cs - 1) & ~(cs - 1);
			if (tail > o->size)
				tail = o->size;
			push_mut(r, i, size, tail - size, NULL, l0);
		}
		if (size < o->size)
			o->size = (size_t)size;
		else
			model_resize(o, (size_t)size);
		o->dirty = true; /* even to the same size */
		o->changed = ++g_tick;
		if (size == 0)
			o->tainted = false; /* no byte left to vouch for */
	}
	model_free(&trans);
}

static void do_create(struct run *r, struct stats *st, const char *name,
		      const char *what)
{
	uint64_t id = 0;
	int want = model_find(&r->m, name) >= 0 ? -EEXIST : 0;
	size_t l0 = r->mio->log_num;
	int ret = object_create(r->c, name, 0644, 0, 0, &id);
	if (check_ret(r, st, what, ret, want) && ret == 0)
		model_new(&r->m, name, id);
	if (!r->diverged && note_commits(r, st, what, l0, CK_NONE, NULL, 0) &&
	    ret == 0)
		check_create_mode(r, st, name, id);
}

static void do_unlink(struct run *r, struct stats *st, int i, const char *what)
{
	struct model *m = &r->m;
	int want = model_pinned(m, i) ? -EBUSY : 0;
	bool commit = false;
	g_cover[COV_BUSY] += want != 0;
	if (!want) {
		commit = model_relevant(m, i, m->o[i].name);
		model_remove(m, i);
	}
	size_t l0 = r->mio->log_num;
	int ret = object_unlink(r->c, m->o[i].name);
	/* model_remove keeps the name for this call */
	if (check_ret(r, st, what, ret, want))
		note_commits(r, st, what, l0, CK_FINAL, NULL, commit);
}

static void do_rename(struct run *r, struct stats *st, int i, const char *to,
		      const char *what)
{
	struct model *m = &r->m;
	char from[64];
	snprintf(from, sizeof(from), "%s", m->o[i].name);
	int t = model_find(m, to);
	int want = 0;
	bool commit = false;
	if (t != i) {
		if (model_pinned(m, i) || (t >= 0 && model_pinned(m, t))) {
			want = -EBUSY;
			g_cover[COV_BUSY]++;
		} else {
			commit = model_rename_locked(m, i, to);
		}
	}
	size_t l0 = r->mio->log_num;
	int ret = object_rename(r->c, from, to, false);
	if (check_ret(r, st, what, ret, want))
		note_commits(r, st, what, l0, CK_FINAL, NULL, commit);
}

static void do_commit(struct run *r, struct stats *st)
{
	size_t l0 = r->mio->log_num;
	int ret = container_commit(r->c);
	if (check_ret(r, st, "commit", ret, 0))
		note_commits(r, st, "commit", l0, CK_COMMIT, NULL, 0);
}

/* Would save_lock_seal judge memory.save (else it returns 0, -EIO or
 * -ENOENT and changes nothing)? */
static bool seal_changes(const struct model *m)
{
	int img = model_find(m, SAVE_IMAGE_NAME);
	return img >= 0 &&
	       (m->o[img].unsealed || (!m->o[img].seal && !m->o[img].tainted));
}

static void do_seal(struct run *r, struct stats *st)
{
	struct model *m = &r->m;
	int img = model_find(m, SAVE_IMAGE_NAME);
	int want = 0, commits = 0;
	if (img < 0) {
		want = -ENOENT;
	} else if (!seal_changes(m)) {
		/* already judged, unchanged since */
		want = m->o[img].seal ? 0 : -EIO;
	} else {
		want = model_seal_fresh(m, img, false);
		m->o[img].unsealed = false;
		commits = 1;
	}
	g_cover[COV_REFUSED] += want == -EIO;
	size_t l0 = r->mio->log_num;
	int ret = save_lock_seal(r->c);
	if (check_ret(r, st, "seal", ret, want))
		note_commits(r, st, "seal", l0, CK_FINAL, NULL, commits);
}

/* Files a SAVED seal would adopt at the next commit (save_take_pins):
 * eligible, not pinned, created after the seal. */
static int adoptable(const struct model *m, const struct mseal *s)
{
	int n = 0;
	for (int f = s->adopt_from; f < m->n; f++) {
		if (!pin_eligible(m, f))
			continue;
		bool pinned = false;
		for (int k = 0; k < s->npins && !pinned; k++)
			pinned = s->pin[k] == f;
		n += !pinned;
	}
	return n;
}

/*
 * save_lock_resume.  Of a SAVED memory.save it first commits
 * (container_commit_locked: the files that arrived since the last commit
 * are adopted; with nothing dirty and nothing to adopt there is no
 * superblock write), then refuses -EBUSY while a file created after the
 * seal is still not pinned, then -ESTALE if a pin moved on, else it moves
 * to RESUMING and commits again.  The two commits are checked as two
 * stages of the log: the first like container_commit (a data-only sync
 * when only data is pending), but exact on whether it writes a
 * superblock; the second exactly one.
 */
static void do_resume(struct run *r, struct stats *st)
{
	struct model *m = &r->m;
	int img = model_find(m, SAVE_IMAGE_NAME);
	int want = 0;
	bool saved = false;
	if (img < 0) {
		int stale = model_find(m, SAVE_IMAGE_STALE_NAME);
		want = stale >= 0 && m->o[stale].seal ? -ESTALE : -ENOENT;
	} else {
		struct mobj *o = &m->o[img];
		if (!o->seal && o->unsealed && !o->tainted)
			want = -ENOENT; /* still being written */
		else if (!o->seal || o->seal->state == SAVE_STATE_INVALIDATED)
			want = -ESTALE;
		else if (o->seal->state == SAVE_STATE_RESUMING)
			want = 0;
		else
			saved = true;
	}
	char reason[256];
	size_t l0 = r->mio->log_num;
	if (!saved) {
		g_cover[COV_STALE] += want == -ESTALE;
		int ret = save_lock_resume(r->c, reason, sizeof(reason));
		if (check_ret(r, st, "resume", ret, want))
			note_commits(r, st, "resume", l0, CK_FINAL, NULL, 0);
		return;
	}

	/* The outcome, predicted on a copy: the first commit, then the
	 * checks. */
	const struct mseal *s = m->o[img].seal;
	const int had_pins = s->npins;
	const bool first_commits = adoptable(m, s) > 0 ||
				   !model_equal(&r->snaps[r->nsnaps - 1].m, m);
	struct model sim;
	model_copy(&sim, m);
	if (first_commits)
		model_commit(&sim);
	const struct mseal *ss = model_live_seal(&sim);
	enum save_why why;
	if (adoptable(&sim, ss) > 0)
		want = -EBUSY; /* cannot happen here: no open writers */
	else if (!pins_hold(&sim, ss, &why))
		want = -ESTALE;
	const bool resumes = want == 0;
	model_free(&sim);

	int ret = save_lock_resume(r->c, reason, sizeof(reason));
	if (!check_ret(r, st, "resume", ret, want))
		return;
	/* The resume's own commit is its last superblock write. */
	long last_sb = -1;
	int nsb_first = 0;
	for (size_t i = l0; i < r->mio->log_num; i++)
		if (is_sb_write(&r->mio->log[i]))
			last_sb = (long)i;
	const size_t split =
		resumes && last_sb >= 0 ? (size_t)last_sb : r->mio->log_num;
	/* With nothing dirty, the first commit may still retire the older
	 * slot (raw data the last commit freed is held until then): one
	 * superblock and nothing else, the same tree (core/alloc.c
	 * invariant 5). */
	bool sb_only = false, seen_write = false;
	for (size_t i = l0; i < split; i++) {
		nsb_first += is_sb_write(&r->mio->log[i]);
		if (r->mio->log[i].kind == MEMIO_OP_PWRITE && !seen_write) {
			seen_write = true;
			sb_only = is_sb_write(&r->mio->log[i]);
		}
	}
	const bool retire = !first_commits && nsb_first == 1 && sb_only;
	if ((nsb_first > 0) != first_commits && !retire) {
		fail_msg(st,
			 "w%u resume: its first commit wrote %d superblocks, "
			 "oracle expects %s",
			 r->widx, nsb_first,
			 first_commits ? "one (changes or files to adopt)"
				       : "none (nothing dirty)");
		r->diverged = true;
		return;
	}
	r->note_end = split;
	r->note_partial = resumes;
	bool ok = note_commits(r, st, "resume (first commit)", l0, CK_COMMIT,
			       NULL, 0);
	r->note_end = 0;
	r->note_partial = false;
	if (!ok)
		return;
	s = model_live_seal(m);
	g_cover[COV_RESUME_ADOPTED] += (uint64_t)(s->npins - had_pins);
	g_cover[COV_RESUME_BUSY] += want == -EBUSY;
	g_cover[COV_STALE] += want == -ESTALE;
	if (!resumes)
		return;
	m->o[img].seal->state = SAVE_STATE_RESUMING;
	g_cover[COV_RESUMED]++;
	note_commits(r, st, "resume", split, CK_FINAL, NULL, 1);
}

static void do_discard(struct run *r, struct stats *st)
{
	static const char *const names[] = {SAVE_IMAGE_NAME,
					    SAVE_IMAGE_STALE_NAME,
					    SAVE_IMAGE_INCOMPLETE_NAME};
	struct model *m = &r->m;
	int want = -ENOENT, commits = 0;
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		int i = model_find(m, names[k]);
		if (i < 0)
			continue;
		model_remove(m, i);
		want = 0;
		commits = 1;
	}
	size_t l0 = r->mio->log_num;
	int ret = save_lock_discard(r->c);
	if (check_ret(r, st, "discard", ret, want))
		note_commits(r, st, "discard", l0, CK_FINAL, NULL, commits);
}

/* close and reopen (recovery at open is recorded too) */
static void do_reopen(struct run *r, struct stats *st)
{
	size_t l0 = r->mio->log_num;
	int ret = container_close(r->c);
	r->c = NULL;
	if (!check_ret(r, st, "close", ret, 0) ||
	    !note_commits(r, st, "close", l0, CK_COMMIT, NULL, 0))
		return;
	struct model pre;
	model_copy(&pre, &r->m);
	int commits = model_recover(&r->m);
	g_cover[COV_RECOVERED] += commits > 0;
	/* the generation the open will find (both slots were just written
	 * by a clean close; slot B is zero only at generation 1) */
	const uint64_t gen_a = le64_get(
		r->mio->data + FORMAT_SUPERBLOCK_A_OFFSET + SB_OFF_GENERATION);
	const uint64_t gen_b = le64_get(
		r->mio->data + FORMAT_SUPERBLOCK_B_OFFSET + SB_OFF_GENERATION);
	const uint64_t gen_open = gen_a > gen_b ? gen_a : gen_b;
	l0 = r->mio->log_num;
	ret = container_open(&r->mio->io, &r->opts, &r->c);
	if (ret)
		r->c = NULL;
	bool ok = check_ret(r, st, "reopen", ret, 0);
	if (ok && (r->opts.master || gen_open >= 2)) {
		/* A read-write open first commits the same tree once more
		 * (container.c container_recover): encrypted, that makes a
		 * nonce reservation durable (FORMAT.md section 9); every
		 * container, it retires the older slot's tree (section 5,
		 * step 6).  Before recovery (a generation, no commit_run: no
		 * pins taken). */
		long sb = -1, sy = -1;
		for (size_t i = l0; i < r->mio->log_num && sy < 0; i++) {
			const struct memio_op *op = &r->mio->log[i];
			if (sb < 0 && is_sb_write(op))
				sb = (long)i;
			else if (sb >= 0 && op->kind == MEMIO_OP_SYNC)
				sy = (long)i;
		}
		if (sy < 0) {
			fail_msg(st, "w%u reopen: no superblock-only commit",
				 r->widx);
			r->diverged = true;
			ok = false;
		} else {
			pre.gen++;
			r->m.gen++;
			push_snap(r, &pre, sy, sb);
			l0 = (size_t)sy + 1;
		}
	}
	if (ok)
		note_commits(r, st, "reopen", l0, CK_FINAL, NULL, commits);
	model_free(&pre);
}

/* After every operation: the live container must be the oracle's, byte
 * for byte, save lock included. */
static void op_after(struct run *r, struct stats *st, const char *what)
{
	struct model *m = &r->m;
	if (!r->diverged && r->c) {
		char why[300];
		if (!verify_live(r->c, m, NULL, why, sizeof(why))) {
			fail_msg(st,
				 "w%u after %s: live container differs from "
				 "oracle: %s",
				 r->widx, what, why);
			r->diverged = true;
		}
	}
	if (r->verbose) {
		const struct mseal *s = model_live_seal(m);
		fprintf(stderr, "  op %d: %s -> log %zu, %s, %d pins\n",
			r->nops, what, r->mio->log_num,
			save_state_name(model_state(m)), s ? s->npins : 0);
	}
}

/* cp SRC DST: DST (created, or truncated to 0) gets SRC's bytes in one
 * write.  SRC is mostly an image (sealed, or named memory.save*), so that
 * copies of live, stale and spent images are judged when they are renamed
 * onto memory.save (or replace it); DST mostly a name of the pool, or
 * image.bak (a copy that is no memory.save* file: pinned by adoption). */
static void do_copy(struct run *r, struct stats *st, char *what, size_t wl)
{
	struct model *m = &r->m;
	int cand[MAX_OBJ], n = 0;
	for (int i = 0; i < m->n; i++)
		if (m->o[i].live &&
		    (m->o[i].seal || strncmp(m->o[i].name, SAVE_IMAGE_NAME,
					     strlen(SAVE_IMAGE_NAME)) == 0))
			cand[n++] = i;
	int src = n && rnd(r, 4) ? cand[rnd(r, (uint64_t)n)]
				 : pick_live(r, false);
	if (src < 0)
		return;
	const char *to = rnd(r, 3) == 0 ? "image.bak" : pick_name(r);
	snprintf(what, wl, "copy %s -> %s", m->o[src].name, to);
	if (strcmp(m->o[src].name, to) == 0)
		return;
	const size_t size = m->o[src].size;
	uint8_t *buf = dup_bytes(m->o[src].data, size);
	int t = model_find(m, to);
	if (t >= 0)
		do_truncate(r, st, t, 0, what);
	else
		t = ensure_object(r, st, to);
	if (t >= 0 && !r->diverged && size)
		op_data_write_buf(r, st, t, 0, size, buf, what);
	free(buf);
}

static void op_one(struct run *r, struct stats *st)
{
	struct model *m = &r->m;
	const uint64_t cs = 1ull << r->shift;
	unsigned w = (unsigned)rnd(r, 100);
	char what[96] = "";

	/* Bias towards the interesting transitions: a saved guest resumes,
	 * or a pinned file is written (an old handle); memory.save is moved
	 * away and an image (or a copy, a stale or incomplete one) back onto
	 * it; a file arrives in a saved guest (adopted at the next commit). */
	const enum save_state state = model_state(m);
	const struct mseal *seal = model_live_seal(m);
	int away[MAX_OBJ], naway = 0;
	for (int i = 0; i < m->n; i++) {
		const struct mobj *o = &m->o[i];
		if (o->live && !is_name(o, SAVE_IMAGE_NAME) &&
		    (o->seal || o->tainted || is_name(o, "image.bak") ||
		     is_name(o, "image.old") ||
		     strncmp(o->name, SAVE_IMAGE_NAME,
			     strlen(SAVE_IMAGE_NAME)) == 0))
			away[naway++] = i;
	}
	if (seal_active(seal) && rnd(r, 6) == 0) {
		int img = model_find(m, SAVE_IMAGE_NAME);
		const char *to = rnd(r, 2) ? "image.old" : pick_name(r);
		snprintf(what, sizeof(what), "rename %s -> %s (%s)",
			 m->o[img].name, to, save_state_name(state));
		do_rename(r, st, img, to, what);
		goto done;
	}
	if (naway && rnd(r, 8) == 0) {
		int i = away[rnd(r, (uint64_t)naway)];
		snprintf(what, sizeof(what), "rename %s -> %s (back)",
			 m->o[i].name, SAVE_IMAGE_NAME);
		do_rename(r, st, i, SAVE_IMAGE_NAME, what);
		goto done;
	}
	if (naway && rnd(r, 4) == 0) {
		/* a file an image away from memory.save pins moves on */
		int i = away[rnd(r, (uint64_t)naway)];
		const struct mseal *as = m->o[i].seal;
		int d = seal_active(as) && as->npins
				? as->pin[rnd(r, (uint64_t)as->npins)]
				: -1;
		if (d >= 0 && m->o[d].live && !model_pinned(m, d)) {
			unsigned how = (unsigned)rnd(r, 3);
			snprintf(what, sizeof(what), "%s %s (pinned by %s)",
				 how == 0   ? "unlink"
				 : how == 1 ? "rename"
					    : "write",
				 m->o[d].name, m->o[i].name);
			if (how == 0)
				do_unlink(r, st, d, what);
			else if (how == 1)
				do_rename(r, st, d, pick_name(r), what);
			else
				op_data_write(r, st, d, 0, 1 + rnd(r, cs),
					      what);
			goto done;
		}
	}
	if (state == SAVE_STATE_SAVED && rnd(r, 8) == 0) {
		/* a file arrives in a saved guest (a restore copying files
		 * in any order): created, written, maybe committed */
		char name[32];
		snprintf(name, sizeof(name), "file%d.raw", r->nops);
		snprintf(what, sizeof(what), "arrive %s (saved)", name);
		do_create(r, st, name, what);
		int i = model_find(m, name);
		if (i >= 0 && !r->diverged)
			op_data_write(r, st, i, 0, 1 + rnd(r, 2 * cs), what);
		if (!r->diverged && rnd(r, 2))
			do_commit(r, st);
		goto done;
	}
	if (state == SAVE_STATE_SAVED && rnd(r, 3) == 0)
		w = 88; /* resume */
	else if (seal_active(seal) && seal->npins > 0 && rnd(r, 2) == 0) {
		int d = seal->pin[rnd(r, (uint64_t)seal->npins)];
		uint64_t size = m->o[d].size;
		uint64_t off = size ? rnd(r, size) : rnd(r, r->max_size / 2);
		uint64_t len = 1 + rnd(r, cs + cs / 2);
		snprintf(what, sizeof(what), "pinned write %s@%llu+%llu (%s)",
			 m->o[d].name, (unsigned long long)off,
			 (unsigned long long)len, save_state_name(state));
		op_data_write(r, st, d, off, len, what);
		goto done;
	}
	if (w < 18) { /* allocating write, anywhere */
		int i = rnd(r, 3) ? pick_live(r, false) : -1;
		if (i < 0)
			i = ensure_object(r, st, POOL[rnd(r, 2)]);
		if (i < 0)
			return;
		uint64_t off = rnd(r, r->max_size);
		if (rnd(r, 3) == 0)
			off &= ~(cs - 1);
		uint64_t len = 1 + rnd(r, r->max_size / 3);
		if (rnd(r, 3) == 0)
			len = cs * (1 + rnd(r, 3));
		if (off + len > r->max_size)
			len = r->max_size - off;
		if (len == 0)
			len = 1;
		snprintf(what, sizeof(what), "write %s@%llu+%llu", m->o[i].name,
			 (unsigned long long)off, (unsigned long long)len);
		op_data_write(r, st, i, off, len, what);
	} else if (w < 34) { /* in-place overwrite inside the size */
		int i = pick_live(r, true);
		if (i < 0)
			return;
		uint64_t size = m->o[i].size;
		uint64_t off = rnd(r, size);
		uint64_t len =
			1 + rnd(r, size - off < cs * 2 ? size - off : cs * 2);
		snprintf(what, sizeof(what), "overwrite %s@%llu+%llu",
			 m->o[i].name, (unsigned long long)off,
			 (unsigned long long)len);
		op_data_write(r, st, i, off, len, what);
	} else if (w < 44) { /* memory.save: mostly sequential */
		int i = ensure_object(r, st, SAVE_IMAGE_NAME);
		if (i < 0)
			return;
		uint64_t off = rnd(r, 4) ? m->o[i].size : rnd(r, r->max_size);
		uint64_t len = 1 + rnd(r, cs * 3);
		if (off + len > r->max_size * 2)
			off = 0;
		snprintf(what, sizeof(what), "image write @%llu+%llu",
			 (unsigned long long)off, (unsigned long long)len);
		op_data_write(r, st, i, off, len, what);
	} else if (w < 50) { /* punch */
		int i = pick_live(r, true);
		if (i < 0)
			return;
		uint64_t off = rnd(r, m->o[i].size + cs);
		uint64_t len = 1 + rnd(r, cs * 3);
		if (rnd(r, 2)) {
			off &= ~(cs - 1);
			len = cs * (1 + rnd(r, 2));
		}
		snprintf(what, sizeof(what), "punch %s@%llu+%llu", m->o[i].name,
			 (unsigned long long)off, (unsigned long long)len);
		do_punch(r, st, i, off, len, what);
	} else if (w < 56) { /* truncate up or down */
		int i = pick_live(r, false);
		if (i < 0)
			return;
		uint64_t size = rnd(r, r->max_size);
		if (rnd(r, 3) == 0)
			size &= ~(cs - 1);
		snprintf(what, sizeof(what), "truncate %s %zu->%llu",
			 m->o[i].name, m->o[i].size, (unsigned long long)size);
		do_truncate(r, st, i, size, what);
	} else if (w < 61) { /* create */
		const char *name = pick_name(r);
		snprintf(what, sizeof(what), "create %s", name);
		do_create(r, st, name, what);
	} else if (w < 64) { /* unlink */
		int i = pick_live(r, false);
		if (i < 0)
			return;
		snprintf(what, sizeof(what), "unlink %s", m->o[i].name);
		do_unlink(r, st, i, what);
	} else if (w < 69) { /* rename, sometimes onto memory.save */
		int i = pick_live(r, false);
		if (i < 0)
			return;
		const char *to =
			rnd(r, 4) == 0 ? SAVE_IMAGE_NAME : pick_name(r);
		snprintf(what, sizeof(what), "rename %s -> %s", m->o[i].name,
			 to);
		do_rename(r, st, i, to, what);
	} else if (w < 72) { /* cp of an image (or a file) to another name */
		do_copy(r, st, what, sizeof(what));
	} else if (w < 80) { /* flush */
		snprintf(what, sizeof(what), "commit");
		do_commit(r, st);
	} else if (w < 87) { /* seal */
		snprintf(what, sizeof(what), "seal");
		do_seal(r, st);
	} else if (w < 92) { /* resume */
		snprintf(what, sizeof(what), "resume");
		do_resume(r, st);
	} else if (w < 96) { /* discard */
		snprintf(what, sizeof(what), "discard");
		do_discard(r, st);
	} else {
		snprintf(what, sizeof(what), "close+reopen");
		do_reopen(r, st);
	}
done:
	op_after(r, st, what);
}

static void run_workload(struct run *r, struct stats *st, int nops)
{
	r->mio = memio_new();
	CHECK_OK(container_create(&r->mio->io, &r->opts, &r->c));
	CHECK_OK(container_commit(r->c));
	r->base = dup_bytes(r->mio->data, r->mio->size);
	r->base_size = r->mio->size;
	model_init(&r->m);
	r->m.gen = container_generation(r->c);
	push_snap(r, &r->m, -1, -1);
	r->mio->recording = true;
	for (r->nops = 0; r->nops < nops && !r->diverged && r->c; r->nops++)
		op_one(r, st);
	r->mio->recording = false;
}

static void run_free(struct run *r)
{
	if (r->c)
		container_close(r->c);
	memio_free(r->mio);
	model_free(&r->m);
	for (size_t i = 0; i < r->nsnaps; i++)
		model_free(&r->snaps[i].m);
	free(r->snaps);
	for (size_t i = 0; i < r->nmuts; i++)
		free(r->muts[i].data);
	free(r->muts);
	free(r->base);
	memset(r, 0, sizeof(*r));
}

/* ---- crash images -------------------------------------------------------- */

struct img {
	uint8_t *d;
	uint64_t size, cap;
};

static void img_reserve(struct img *im, uint64_t size)
{
	if (size <= im->cap)
		return;
	uint64_t cap = im->cap ? im->cap : 65536;
	while (cap < size)
		cap *= 2;
	im->d = xrealloc(im->d, cap);
	memset(im->d + im->cap, 0, cap - im->cap);
	im->cap = cap;
}

static void img_set_size(struct img *im, uint64_t size)
{
	img_reserve(im, size);
	if (size < im->size)
		memset(im->d + size, 0, im->size - size);
	im->size = size;
}

enum action { A_DROP, A_APPLY, A_TORN, A_GARBAGE };

/* extending writes applied as "size landed, data (partly) not" */
static uint64_t g_extended;

static bool sector_pick(uint64_t seed, uint64_t s)
{
	return mix64(seed ^ (s * 0x9E37u)) & 1;
}

static void img_apply(struct img *im, const struct memio_op *op, enum action a,
		      uint64_t seed)
{
	if (a == A_DROP)
		return;
	switch (op->kind) {
	case MEMIO_OP_PWRITE: {
		uint64_t end = op->offset + op->len;
		if (a == A_APPLY) {
			img_reserve(im, end);
			memcpy(im->d + op->offset, op->data, op->len);
			if (end > im->size)
				im->size = end;
			break;
		}
		uint64_t s0 = op->offset / SECTOR, s1 = (end - 1) / SECTOR;
		for (uint64_t s = s0; s <= s1; s++) {
			bool pick = sector_pick(seed, s);
			uint64_t lo = s * SECTOR, hi = lo + SECTOR;
			if (a == A_TORN && !pick)
				continue;
			if (a == A_GARBAGE && pick) {
				/* the whole sector, inside the file */
				uint64_t fend = end > im->size ? end : im->size;
				if (hi > fend)
					hi = fend;
				img_reserve(im, hi);
				for (uint64_t b = lo; b < hi; b++)
					im->d[b] = (uint8_t)mix64(seed + b);
				if (hi > im->size)
					im->size = hi;
				continue;
			}
			if (lo < op->offset)
				lo = op->offset;
			if (hi > end)
				hi = end;
			img_reserve(im, hi);
			memcpy(im->d + lo, op->data + (lo - op->offset),
			       hi - lo);
			if (hi > im->size)
				im->size = hi;
		}
		/* a file extended without a sync: the new size may have
		 * reached the disk while (some of) the data did not -- the
		 * new part reads as zeros */
		if (a == A_TORN && end > im->size &&
		    sector_pick(seed, UINT64_MAX)) {
			img_reserve(im, end);
			im->size = end;
			g_extended++;
		}
		break;
	}
	case MEMIO_OP_TRUNCATE:
		if (a == A_APPLY || sector_pick(seed, 1))
			img_set_size(im, op->offset);
		break;
	case MEMIO_OP_FALLOCATE:
		if (a != A_APPLY && !sector_pick(seed, 1))
			break;
		if (op->mode & FALLOC_FL_PUNCH_HOLE) {
			uint64_t e = op->offset + op->len;
			if (e > im->size)
				e = im->size;
			if (op->offset < e)
				memset(im->d + op->offset, 0, e - op->offset);
		} else if (!(op->mode & FALLOC_FL_KEEP_SIZE) &&
			   op->offset + op->len > im->size) {
			img_set_size(im, op->offset + op->len);
		}
		break;
	default:
		break;
	}
}

struct window {
	const struct run *r;
	const struct img *pre;
	long s_prev, s_next;
	size_t *ops; /* log indices of the window's unsynced ops */
	size_t n;
	const struct snap *committed, *next;
	bool broken;
};

static bool check_clean(struct memio *m, const struct crypto_key *master,
			const char *when, char *why, size_t wl)
{
	struct check_report rep;
	int ret = check_container_key(&m->io, master, &rep);
	if (ret) {
		snprintf(why, wl, "check %s could not run: %d", when, ret);
		return false;
	}
	if (rep.errors || rep.leaked_clusters) {
		snprintf(why, wl, "check %s: %llu errors, %llu leaked: %s",
			 when, (unsigned long long)rep.errors,
			 (unsigned long long)rep.leaked_clusters,
			 rep.message_count ? rep.messages[0] : "");
		return false;
	}
	return true;
}

static void describe(const struct window *w, const enum action *act, char *out,
		     size_t len)
{
	static const char tag[] = {'-', 'A', 'T', 'G'};
	size_t k = 0;
	for (size_t j = 0; j < w->n && k + 2 < len; j++)
		out[k++] = tag[act[j]];
	out[k] = 0;
}

static void verify_state(struct window *w, struct stats *st,
			 const enum action *act, const uint64_t *seeds,
			 bool garbage)
{
	const struct run *r = w->r;
	struct img im = {0};
	char why[400] = "";
	struct container *c = NULL;
	struct model e;
	bool ok = false;

	img_reserve(&im, w->pre->size ? w->pre->size : 1);
	memcpy(im.d, w->pre->d, w->pre->size);
	im.size = w->pre->size;
	for (size_t j = 0; j < w->n; j++)
		img_apply(&im, &r->mio->log[w->ops[j]], act[j], seeds[j]);

	/* Which committed state must this image show?  The superblock
	 * write is one sector: it landed whole or not at all. */
	const struct snap *exp = w->committed;
	if (w->next && w->next->sb_idx >= 0) {
		const struct memio_op *sb = &r->mio->log[w->next->sb_idx];
		if (im.size >= sb->offset + sb->len &&
		    memcmp(im.d + sb->offset, sb->data, sb->len) == 0) {
			exp = w->next;
			st->at_next++;
		}
	}
	for (size_t j = 0; j < w->n; j++) {
		if (act[j] == A_TORN) {
			st->torn++;
			break;
		}
	}
	st->garbage += garbage;

	struct memio *m = memio_new();
	m->data = im.d;
	m->size = im.size;
	m->cap = im.cap;
	st->states++;

	struct container_options ropts = {.master = r->opts.master};
	if (!check_clean(m, r->opts.master, "of the crash image", why,
			 sizeof(why)))
		goto out;
	if (container_open(&m->io, &ropts, &c) != 0) {
		c = NULL;
		snprintf(why, sizeof(why), "container_open failed");
		goto out;
	}
	model_copy(&e, &exp->m);
	model_recover(&e);
	if (st->perturb) {
		for (int i = 0; i < e.n; i++) {
			if (e.o[i].live && e.o[i].size) {
				e.o[i].data[e.o[i].size / 2] ^= 0x5a;
				break;
			}
		}
	}
	struct allow a = {.r = r,
			  .from = exp->mut_seq,
			  .win_end = (size_t)w->s_next,
			  .garbage = garbage,
			  .lenient = &st->lenient};
	bool live_ok = verify_live(c, &e, &a, why, sizeof(why));
	model_free(&e);
	if (!live_ok)
		goto out;
	int ret = container_close(c);
	c = NULL;
	if (ret) {
		snprintf(why, sizeof(why), "close after recovery: %d", ret);
		goto out;
	}
	if (!check_clean(m, r->opts.master, "after recovery", why, sizeof(why)))
		goto out;
	ok = true;
out:
	if (c)
		container_close(c);
	memio_free(m);
	if (!ok) {
		char acts[128];
		describe(w, act, acts, sizeof(acts));
		fail_msg(
			st,
			"w%u%s: crash in log window (%ld,%ld) [%s]%s, expected "
			"commit #%td: %s",
			r->widx, w->broken ? " (broken ordering)" : "",
			w->s_prev, w->s_next, acts, garbage ? " garbage" : "",
			exp - r->snaps, why);
	}
}

static bool op_multi_sector(const struct memio_op *op)
{
	return op->kind == MEMIO_OP_PWRITE &&
	       op->offset / SECTOR != (op->offset + op->len - 1) / SECTOR;
}

static void enumerate_window(struct window *w, struct run *rr, struct stats *st)
{
	enum action act[4096] = {A_DROP};
	uint64_t seeds[4096];
	const size_t n = w->n;

	if (n > 4096)
		abort();
	for (size_t j = 0; j < n; j++)
		seeds[j] = test_rand(&rr->rng);
	if (n <= ENUM_MAX) {
		st->enumerated++;
		/* every subset, in order; then each subset once more with
		 * its multi-sector writes torn at random sectors */
		for (uint64_t mask = 0; mask < (1ull << n); mask++) {
			for (size_t j = 0; j < n; j++)
				act[j] = (mask >> j) & 1 ? A_APPLY : A_DROP;
			verify_state(w, st, act, seeds, false);
		}
		for (uint64_t mask = 0; mask < (1ull << n); mask++) {
			bool any = false;
			for (size_t j = 0; j < n; j++) {
				act[j] = (mask >> j) & 1 ? A_APPLY : A_DROP;
				if (act[j] == A_APPLY &&
				    op_multi_sector(&rr->mio->log[w->ops[j]]) &&
				    rnd(rr, 2)) {
					act[j] = A_TORN;
					seeds[j] = test_rand(&rr->rng);
					any = true;
				}
			}
			if (any)
				verify_state(w, st, act, seeds, false);
		}
	} else {
		/* every prefix (none ... all), then random samples */
		st->sampled++;
		for (size_t k = 0; k <= n; k++) {
			for (size_t j = 0; j < n; j++)
				act[j] = j < k ? A_APPLY : A_DROP;
			verify_state(w, st, act, seeds, false);
		}
		for (int s = 0; s < SAMPLE_STATES; s++) {
			for (size_t j = 0; j < n; j++) {
				act[j] = (enum action)rnd(rr, 3);
				seeds[j] = test_rand(&rr->rng);
			}
			verify_state(w, st, act, seeds, false);
		}
	}
	/* garbage mode */
	for (int s = 0; s < GARBAGE_STATES; s++) {
		for (size_t j = 0; j < n; j++) {
			unsigned x = (unsigned)rnd(rr, 3);
			act[j] = x == 0 ? A_DROP : x == 1 ? A_APPLY : A_GARBAGE;
			seeds[j] = test_rand(&rr->rng);
		}
		verify_state(w, st, act, seeds, true);
	}
}

/* Replay every crash point of a recorded workload.  `broken`: the disk
 * ignores the fdatasync issued just before a superblock write. */
static void crash_workload(struct run *r, struct stats *st, bool broken)
{
	const struct memio *mio = r->mio;
	const size_t nlog = mio->log_num;
	struct img pre = {0};
	size_t *ops = xmalloc((nlog + 1) * sizeof(*ops));
	long s_prev = -1;

	img_reserve(&pre, r->base_size);
	memcpy(pre.d, r->base, r->base_size);
	pre.size = r->base_size;
	bool any = false;
	for (;;) {
		long s_next = (long)nlog;
		size_t n = 0;
		for (size_t i = (size_t)(s_prev + 1); i < nlog; i++) {
			const struct memio_op *op = &mio->log[i];
			if (op->kind == MEMIO_OP_SYNC) {
				bool barrier = !(broken && i + 1 < nlog &&
						 is_sb_write(&mio->log[i + 1]));
				if (barrier) {
					s_next = (long)i;
					break;
				}
				continue;
			}
			ops[n++] = i;
		}
		if (n > 0) {
			struct window w = {.r = r,
					   .pre = &pre,
					   .s_prev = s_prev,
					   .s_next = s_next,
					   .ops = ops,
					   .n = n,
					   .broken = broken};
			for (size_t k = 0; k < r->nsnaps; k++) {
				if (r->snaps[k].sync_idx <= s_prev)
					w.committed = &r->snaps[k];
				if (r->snaps[k].sb_idx > s_prev &&
				    r->snaps[k].sb_idx < s_next)
					w.next = &r->snaps[k];
			}
			st->windows++;
			any = true;
			enumerate_window(&w, r, st);
			for (size_t j = 0; j < n; j++)
				img_apply(&pre, &mio->log[ops[j]], A_APPLY, 0);
		}
		if (s_next >= (long)nlog)
			break;
		s_prev = s_next;
	}
	if (!any) {
		/* nothing reached the disk (namespace changes wait for a
		 * flush): the one crash state is the base, as it is */
		struct window w = {.r = r,
				   .pre = &pre,
				   .s_prev = s_prev,
				   .s_next = (long)nlog,
				   .ops = ops,
				   .n = 0,
				   .broken = broken};
		for (size_t k = 0; k < r->nsnaps; k++)
			if (r->snaps[k].sync_idx <= s_prev)
				w.committed = &r->snaps[k];
		enum action act[1] = {A_DROP};
		uint64_t seeds[1] = {0};
		verify_state(&w, st, act, seeds, false);
	}
	free(pre.d);
	free(ops);
}

/* ---- driver -------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void setup_run(struct run *r, uint64_t seed, unsigned widx)
{
	memset(r, 0, sizeof(*r));
	r->widx = widx;
	r->rng = mix64(seed ^ mix64(widx + 1));
	/* 4 KiB clusters mostly; every 8th workload 64 KiB; two in eight
	 * with compressed disks. */
	r->shift = widx % 8 == 3 ? 16 : 12;
	r->opts.cluster_shift = r->shift;
	r->opts.compress_disks = widx % 8 == 5 || widx % 8 == 6;
	r->max_size = r->shift == 12 ? 12 * 4096 : 3 * 65536;
	r->opts.master = g_enc ? g_master : NULL;
}

/* The length of random workload `w` (the same for its plain and encrypted
 * runs and for HANGAR_CRASH_ONLY=w, so a failure replays): 200 operations
 * in long mode, and in the plain CI run for one workload in
 * LONG_RANDOM_EVERY (the issue's "random 200-operation runs"); else short. */
#define LONG_RANDOM_EVERY 100

static int random_nops(uint64_t seed, unsigned w, bool long_mode,
		       bool sanitized)
{
	struct run probe;
	setup_run(&probe, seed, w);
	if (long_mode)
		return 200;
	if (sanitized)
		return 3 + (int)rnd(&probe, 10);
	if (w % LONG_RANDOM_EVERY == LONG_RANDOM_EVERY - 1)
		return 200;
	return 6 + (int)rnd(&probe, 22);
}

static bool env_on(const char *name)
{
	const char *v = getenv(name);
	return v && v[0] && strcmp(v, "0") != 0;
}

/* One workload: record, replay its crash states. */
static void one_workload(uint64_t seed, unsigned widx, int nops, bool broken,
			 bool verbose, struct stats *st)
{
	struct run r;
	setup_run(&r, seed, widx);
	r.verbose = verbose;
	run_workload(&r, st, nops);
	if (!r.diverged) {
		if (!env_on("HANGAR_CRASH_NO_REPLAY"))
			crash_workload(&r, st, broken);
		st->workloads++;
		st->commits += r.nsnaps - 1;
	}
	if (verbose || env_on("HANGAR_CRASH_TRACE"))
		fprintf(stderr,
			"w%u: %d ops, %zu log ops, %zu commits, %llu "
			"states so far\n",
			widx, r.nops, r.mio->log_num, r.nsnaps - 1,
			(unsigned long long)st->states);
	run_free(&r);
}

/* ---- systematic workloads -------------------------------------------------
 *
 * Every sequence of 1-3 operations from the 14 below, with one flush
 * (container_commit) inserted at each possible position (before the first
 * operation, which on the committed base is no flush at all, between two, or
 * after the last): 14*2 + 196*3 + 2744*4 = 11592 (sequence, position)
 * pairs.
 * Each starts from a committed base guest built before recording starts, so
 * only the sequence itself is replayed:
 *
 *   disk.raw   8 clusters, 0-5 written (random bytes), 6-7 a hole
 *   config, nvram.fd, scratch   small files
 *   memory.save   3 clusters of compressible bytes, unsealed -- or sealed
 *              (pinning disk.raw, nvram.fd and scratch) when the sequence
 *              resumes before it seals
 *
 * An operation that would do nothing or fail in its state (resume without a
 * sealed image, seal of a sealed image, punch/overwrite past the end, ...)
 * makes the sequence "not meaningful": it is dropped (its meaningful prefix
 * is a shorter sequence anyway).  Sequences that come out identical after
 * normalising (a leading flush is a no-op on the committed base; two flushes
 * in a row are one) run once.
 */

enum sop {
	S_ALLOC,       /* allocating write into a hole / past the end */
	S_OVERWRITE,   /* overwrite of written clusters (in place if raw) */
	S_COMPRESSED,  /* compressible append to memory.save (zstd always) */
	S_PUNCH,       /* punch: a partial, a whole and a partial cluster */
	S_TRUNC_UP,    /* truncate up to an unaligned size */
	S_TRUNC_DOWN,  /* truncate down to an unaligned size */
	S_FLUSH,       /* container_commit */
	S_SEAL,	       /* memory.save commit: save_lock_seal */
	S_SAVE_DELETE, /* unlink memory.save (discard when only stale) */
	S_RESUME,      /* save_lock_resume */
	S_CREATE,      /* object create */
	S_UNLINK,      /* object unlink (never a pinned disk) */
	S_RENAME,      /* rename, replacing `scratch` while it exists */
	S_MOVE_IMAGE,  /* memory.save -> image.old, or back (its seal goes
			  along) */
	S_NUM
};

static const char *const SOP_NAME[S_NUM] = {
	"alloc-write", "overwrite",   "compressed-write",
	"punch",       "truncate-up", "truncate-down",
	"flush",       "seal",	      "save-delete",
	"resume",      "create",      "unlink",
	"rename",      "move-image",
};

struct seqstats {
	uint64_t pairs;	    /* (sequence, flush position) pairs considered */
	uint64_t dups;	    /* identical to one already run */
	uint64_t pointless; /* an operation not meaningful in its state */
	uint64_t run;	    /* replayed */
	uint64_t run12, run3;
	uint64_t not_sampled;
	uint64_t sealed_base, compressed;
	uint64_t states;
	uint64_t enc_run, enc_states; /* the encrypted share */
	bool out_of_time;
};

static void gen_random(struct run *r, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t x = test_rand(&r->rng) | 1;
		size_t n = len - i < 8 ? len - i : 8;
		memcpy(buf + i, &x, n);
	}
}

static void gen_compressible(struct run *r, uint8_t *buf, size_t len)
{
	uint8_t v = (uint8_t)(1 + rnd(r, 250));
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(v + (i / 64) % 4);
}

static void seq_write(struct run *r, struct stats *st, int i, uint64_t off,
		      uint64_t len, bool compressible, const char *what)
{
	uint8_t *buf = xmalloc(len);
	if (compressible)
		gen_compressible(r, buf, len);
	else
		gen_random(r, buf, len);
	op_data_write_buf(r, st, i, off, len, buf, what);
	free(buf);
}

static int seq_find(const struct run *r, const char *const *names, int n)
{
	for (int k = 0; k < n; k++) {
		int i = model_find(&r->m, names[k]);
		if (i >= 0)
			return i;
	}
	return -1;
}

/* The base guest (recorded, then made the starting point). */
static void seq_setup(struct run *r, struct stats *st, bool sealed)
{
	const uint64_t cs = 1ull << r->shift;
	static const char *const files[] = {"config", "nvram.fd", "scratch"};
	int d = ensure_object(r, st, "disk.raw");
	if (d < 0)
		return;
	seq_write(r, st, d, 0, 6 * cs, false, "setup disk");
	do_truncate(r, st, d, 8 * cs, "setup disk size");
	for (int k = 0; k < 3 && !r->diverged; k++) {
		int f = ensure_object(r, st, files[k]);
		if (f >= 0)
			seq_write(r, st, f, 0, 100 + (uint64_t)k * 1500, false,
				  "setup file");
	}
	int img = r->diverged ? -1 : ensure_object(r, st, SAVE_IMAGE_NAME);
	if (img >= 0)
		seq_write(r, st, img, 0, 3 * cs, true, "setup image");
	if (sealed && !r->diverged)
		do_seal(r, st);
	if (!r->diverged)
		do_commit(r, st);
}

/* One operation of a systematic sequence; false: not meaningful here. */
static bool seq_op(struct run *r, struct stats *st, enum sop op, int k)
{
	struct model *m = &r->m;
	const uint64_t cs = 1ull << r->shift;
	int d = model_find(m, "disk.raw");
	int img = model_find(m, SAVE_IMAGE_NAME);
	uint64_t dsize = d >= 0 ? m->o[d].size : 0;
	char what[96];

	snprintf(what, sizeof(what), "%s", SOP_NAME[op]);
	switch (op) {
	case S_ALLOC: {
		if (d < 0)
			return false;
		/* clusters 6.. are holes in the base; each alloc moves on */
		uint64_t off = (6 + 2 * (uint64_t)k) * cs + 100;
		snprintf(what, sizeof(what), "alloc-write disk.raw@%llu+%llu",
			 (unsigned long long)off, (unsigned long long)cs);
		seq_write(r, st, d, off, cs, false, what);
		break;
	}
	case S_OVERWRITE: {
		uint64_t off = cs / 2 + 7 * (uint64_t)k;
		if (d < 0 || dsize < off + cs)
			return false;
		snprintf(what, sizeof(what), "overwrite disk.raw@%llu+%llu",
			 (unsigned long long)off, (unsigned long long)cs);
		seq_write(r, st, d, off, cs, false, what);
		break;
	}
	case S_COMPRESSED:
		if (img < 0)
			return false;
		snprintf(what, sizeof(what), "compressed-write memory.save@%zu",
			 m->o[img].size);
		seq_write(r, st, img, m->o[img].size, cs + 1000, true, what);
		break;
	case S_PUNCH:
		if (d < 0 || dsize <= 2 * cs)
			return false;
		do_punch(r, st, d, 2 * cs - 300, cs + 600, "punch disk.raw");
		break;
	case S_TRUNC_UP:
		if (d < 0)
			return false;
		snprintf(what, sizeof(what), "truncate-up disk.raw %llu->%llu",
			 (unsigned long long)dsize,
			 (unsigned long long)(dsize + 2 * cs + 123));
		do_truncate(r, st, d, dsize + 2 * cs + 123, what);
		break;
	case S_TRUNC_DOWN:
		if (d < 0 || dsize <= cs)
			return false;
		snprintf(what, sizeof(what),
			 "truncate-down disk.raw %llu->%llu",
			 (unsigned long long)dsize,
			 (unsigned long long)(dsize * 2 / 3 + 77));
		do_truncate(r, st, d, dsize * 2 / 3 + 77, what);
		break;
	case S_FLUSH:
		do_commit(r, st);
		break;
	case S_SEAL:
		if (!seal_changes(m))
			return false;
		do_seal(r, st);
		break;
	case S_SAVE_DELETE:
		if (img >= 0) {
			snprintf(what, sizeof(what), "save-delete (unlink)");
			do_unlink(r, st, img, what);
		} else if (model_find(m, SAVE_IMAGE_STALE_NAME) >= 0 ||
			   model_find(m, SAVE_IMAGE_INCOMPLETE_NAME) >= 0) {
			snprintf(what, sizeof(what), "save-delete (discard)");
			do_discard(r, st);
		} else {
			return false;
		}
		break;
	case S_RESUME:
		if (model_state(m) != SAVE_STATE_SAVED)
			return false;
		do_resume(r, st);
		break;
	case S_CREATE: {
		char name[32];
		snprintf(name, sizeof(name), "new%d", k);
		snprintf(what, sizeof(what), "create %s", name);
		do_create(r, st, name, what);
		break;
	}
	case S_UNLINK: {
		static const char *const pref[] = {
			"new3",	   "new2",   "new1",	"new0",
			"scratch", "config", "nvram.fd"};
		int i = seq_find(r, pref, 7);
		if (i < 0)
			return false;
		snprintf(what, sizeof(what), "unlink %s", m->o[i].name);
		do_unlink(r, st, i, what);
		break;
	}
	case S_RENAME: {
		static const char *const pref[] = {
			"nvram.fd", "config", "new0", "new1", "new2", "new3"};
		int i = seq_find(r, pref, 6);
		if (i < 0)
			return false;
		char to[32];
		if (model_find(m, "scratch") >= 0)
			snprintf(to, sizeof(to), "scratch");
		else
			snprintf(to, sizeof(to), "moved%d", k);
		snprintf(what, sizeof(what), "rename %s -> %s", m->o[i].name,
			 to);
		do_rename(r, st, i, to, what);
		break;
	}
	case S_MOVE_IMAGE: {
		int old = model_find(m, "image.old");
		if (old >= 0) {
			snprintf(what, sizeof(what),
				 "move-image image.old -> memory.save");
			do_rename(r, st, old, SAVE_IMAGE_NAME, what);
		} else if (img >= 0) {
			snprintf(what, sizeof(what),
				 "move-image memory.save -> image.old");
			do_rename(r, st, img, "image.old", what);
		} else {
			return false;
		}
		break;
	}
	default:
		abort();
	}
	op_after(r, st, what);
	return true;
}

/* Record one systematic workload and replay its crash states.  Returns
 * false when the sequence is not meaningful (nothing replayed). */
static bool seq_workload(uint64_t seed, unsigned widx, const uint8_t *ops,
			 int n, bool compress, bool sealed, bool broken,
			 bool verbose, struct stats *st)
{
	struct run r;
	memset(&r, 0, sizeof(r));
	r.widx = widx;
	r.rng = mix64(seed ^ mix64(widx + 1));
	r.shift = 12;
	r.opts.cluster_shift = r.shift;
	r.opts.compress_disks = compress;
	r.opts.master = g_enc ? g_master : NULL;
	r.max_size = 12 * 4096;
	r.verbose = verbose;
	r.mio = memio_new();
	CHECK_OK(container_create(&r.mio->io, &r.opts, &r.c));
	CHECK_OK(container_commit(r.c));
	r.base = dup_bytes(r.mio->data, r.mio->size);
	r.base_size = r.mio->size;
	model_init(&r.m);
	r.m.gen = container_generation(r.c);
	push_snap(&r, &r.m, -1, -1);
	r.mio->recording = true;
	seq_setup(&r, st, sealed);
	bool meaningful = true;
	if (!r.diverged) {
		/* the committed base guest becomes the starting point */
		memio_log_clear(r.mio);
		for (size_t i = 0; i < r.nsnaps; i++)
			model_free(&r.snaps[i].m);
		r.nsnaps = 0;
		for (size_t i = 0; i < r.nmuts; i++)
			free(r.muts[i].data);
		r.nmuts = 0;
		push_snap(&r, &r.m, -1, -1);
		free(r.base);
		r.base = dup_bytes(r.mio->data, r.mio->size);
		r.base_size = r.mio->size;
		for (r.nops = 0; r.nops < n && !r.diverged && r.c; r.nops++) {
			if (!seq_op(&r, st, (enum sop)ops[r.nops], r.nops)) {
				meaningful = false;
				break;
			}
		}
	}
	r.mio->recording = false;
	if (meaningful && !r.diverged) {
		if (!env_on("HANGAR_CRASH_NO_REPLAY"))
			crash_workload(&r, st, broken);
		st->workloads++;
		st->commits += r.nsnaps - 1;
	}
	if (verbose || env_on("HANGAR_CRASH_TRACE"))
		fprintf(stderr,
			"w%u: systematic, %d ops%s, %zu log ops, "
			"%zu commits, %llu states so far\n",
			widx, r.nops, meaningful ? "" : " (not meaningful)",
			r.mio->log_num, r.nsnaps - 1,
			(unsigned long long)st->states);
	run_free(&r);
	return meaningful;
}

/* Pair number `pair` of length `len` (0 .. 13^len*(len+1)-1): the
 * operations with the flush inserted, normalised.  Returns the number of
 * operations (0: nothing left) and a key unique to the normalised list. */
static int seq_decode(int len, uint32_t pair, uint8_t *out, uint32_t *key)
{
	uint32_t pos = pair % (uint32_t)(len + 1),
		 idx = pair / (uint32_t)(len + 1);
	uint8_t raw[4];
	int n = 0;
	for (int j = 0; j < len; j++) {
		if ((uint32_t)j == pos)
			raw[n++] = S_FLUSH;
		raw[n++] = (uint8_t)(idx % S_NUM);
		idx /= S_NUM;
	}
	if (pos == (uint32_t)len)
		raw[n++] = S_FLUSH;
	int m = 0;
	for (int j = 0; j < n; j++) {
		if (raw[j] == S_FLUSH && (m == 0 || out[m - 1] == S_FLUSH))
			continue;
		out[m++] = raw[j];
	}
	*key = 0;
	for (int j = 0; j < m; j++)
		*key = *key * (S_NUM + 1) + out[j] + 1;
	return m;
}

static void seq_describe(const uint8_t *ops, int n, char *out, size_t len)
{
	size_t k = 0;
	out[0] = 0;
	for (int j = 0; j < n && k < len; j++)
		k += (size_t)snprintf(out + k, len - k, "%s%s", j ? "," : "",
				      SOP_NAME[ops[j]]);
}

/* Run the systematic workloads: every pair of length 1-2, and of length 3
 * one in `sample3` (seeded, so each run takes another share; 1 = all).
 * `both`: each with compression off and on.  `enc_every` (0: none): one
 * meaningful sequence in that many runs again, the same workload (same
 * widx, seed, compression), on an encrypted container. */
static void run_systematic(uint64_t seed, unsigned sample3, bool both,
			   unsigned enc_every, double deadline,
			   struct stats *st, struct seqstats *ss)
{
	static uint8_t
		seen[(S_NUM + 1) * (S_NUM + 1) * (S_NUM + 1) * (S_NUM + 1)];
	unsigned widx = 3000000;
	const bool trace = env_on("HANGAR_CRASH_SEQ_TRACE");
	memset(seen, 0, sizeof(seen));
	for (int len = 1; len <= 3; len++) {
		uint32_t pairs = (uint32_t)(len + 1);
		for (int j = 0; j < len; j++)
			pairs *= S_NUM;
		for (uint32_t p = 0; p < pairs; p++) {
			ss->pairs++;
			if (len == 3 && sample3 > 1 &&
			    mix64(seed ^ (0xC0FFEEull << 32) ^ p) % sample3) {
				ss->not_sampled++;
				continue;
			}
			if (ss->out_of_time || now_s() > deadline) {
				ss->out_of_time = true;
				continue;
			}
			uint8_t ops[4];
			uint32_t key;
			int n = seq_decode(len, p, ops, &key);
			if (n == 0 || seen[key]) {
				ss->dups++;
				continue;
			}
			seen[key] = 1;
			/* sealed base when it resumes before it seals */
			bool sealed = false;
			for (int j = 0; j < n && ops[j] != S_SEAL; j++)
				if (ops[j] == S_RESUME)
					sealed = true;
			char desc[160];
			seq_describe(ops, n, desc, sizeof(desc));
			for (int v = 0; v < (both ? 2 : 1); v++) {
				bool compress =
					both ? v == 1 : (mix64(seed ^ key) & 1);
				uint64_t s0 = st->states;
				bool ok = seq_workload(seed, widx++, ops, n,
						       compress, sealed, false,
						       false, st);
				if (trace)
					fprintf(stderr,
						"seq [%s]%s%s: %s, %llu "
						"states\n",
						desc, sealed ? " sealed" : "",
						compress ? " compressed" : "",
						ok ? "run" : "not meaningful",
						(unsigned long long)(st->states -
								     s0));
				if (!ok) {
					ss->pointless++;
					break;
				}
				ss->run++;
				*(len == 3 ? &ss->run3 : &ss->run12) += 1;
				ss->sealed_base += sealed;
				ss->compressed += compress;
				if (!enc_every || (ss->run - 1) % enc_every)
					continue;
				s0 = st->states;
				g_enc = true;
				bool eok = seq_workload(seed, widx - 1, ops, n,
							compress, sealed, false,
							false, st);
				g_enc = false;
				if (!eok)
					fail_msg(st,
						 "w%u: systematic [%s]%s%s not "
						 "meaningful when encrypted",
						 widx - 1, desc,
						 sealed ? " sealed" : "",
						 compress ? " compressed" : "");
				ss->enc_run++;
				ss->enc_states += st->states - s0;
			}
		}
	}
	ss->states = st->states;
}

/* HANGAR_CRASH_SEQ="op,op,..[,sealed][,compressed]": one systematic
 * workload, verbose. */
static int run_one_sequence(uint64_t seed, const char *spec, struct stats *st)
{
	uint8_t ops[8];
	int n = 0;
	bool sealed = false, compress = false;
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, "sealed") == 0) {
			sealed = true;
			continue;
		}
		if (strcmp(t, "compressed") == 0) {
			compress = true;
			continue;
		}
		if (strcmp(t, "encrypted") == 0) {
			g_enc = true;
			continue;
		}
		int k;
		for (k = 0; k < S_NUM && strcmp(SOP_NAME[k], t); k++)
			;
		if (k == S_NUM || n == 8) {
			fprintf(stderr, "HANGAR_CRASH_SEQ: unknown op %s\n", t);
			return 2;
		}
		ops[n++] = (uint8_t)k;
	}
	bool ok = seq_workload(seed, 3000000, ops, n, compress, sealed, false,
			       true, st);
	if (!ok)
		fprintf(stderr, "sequence not meaningful\n");
	return 0;
}

/* Teeth for the systematic workloads: on the disk that ignores the
 * pre-superblock sync (`broken`), or with a broken core on an honest disk,
 * the length-1-2 sequences must be caught. */
static void seq_teeth_on(uint64_t seed, bool broken, struct stats *st)
{
	unsigned widx = 4000000;
	for (int len = 1; len <= 2 && st->failures == 0; len++) {
		uint32_t pairs = (uint32_t)(len + 1);
		for (int j = 0; j < len; j++)
			pairs *= S_NUM;
		for (uint32_t p = 0; p < pairs && st->failures == 0; p++) {
			uint8_t ops[4];
			uint32_t key;
			int n = seq_decode(len, p, ops, &key);
			if (n)
				seq_workload(seed, widx++, ops, n, false, false,
					     broken, false, st);
		}
	}
}

static void seq_teeth(uint64_t seed, struct stats *st)
{
	seq_teeth_on(seed, true, st);
}

/* The sector check itself must refuse a torn sector: a unit test of
 * sector_allowed (byte_allowed alone accepts every one of these). */
static bool sector_teeth(void)
{
	static uint8_t a_data[512], b_data[100], c_data[100];
	struct run r = {.shift = 12};
	struct mut muts[3] = {
		{.obj = 0, .off = 0, .len = 512, .data = a_data},
		{.obj = 1, .off = 0, .len = 100, .data = b_data},
		{.obj = 1, .off = 200, .len = 100, .data = c_data}};
	uint8_t old[SECTOR], got[SECTOR];
	memset(a_data, 0xaa, sizeof(a_data));
	memset(b_data, 0x11, sizeof(b_data));
	memset(c_data, 0x22, sizeof(c_data));
	memset(old, 0x5c, sizeof(old));
	r.muts = muts;
	r.nmuts = 3;
	struct allow a = {.r = &r, .from = 0, .win_end = 1};
	size_t *cand;
	bool ok = true;

	/* one 512-byte write: whole, or not at all; never half */
	size_t n = allow_candidates(&a, 0, &cand);
	memcpy(got, a_data, SECTOR);
	ok &= sector_allowed(&a, cand, n, 0, SECTOR, got, old);
	memcpy(got + 256, old + 256, 256);
	ok &= !sector_allowed(&a, cand, n, 0, SECTOR, got, old);
	for (size_t b = 0; b < SECTOR; b++)
		ok &= got[b] == old[b] || byte_allowed(&a, cand, n, b, got[b]);
	free(cand);
	/* two writes into one sector: any subset, each one whole */
	n = allow_candidates(&a, 1, &cand);
	memcpy(got, old, SECTOR);
	memcpy(got + 200, c_data, 100);
	ok &= sector_allowed(&a, cand, n, 0, SECTOR, got, old);
	memcpy(got, b_data, 50);
	ok &= !sector_allowed(&a, cand, n, 0, SECTOR, got, old);
	free(cand);
	return ok;
}

int main(void)
{
	const uint64_t seed = test_seed();
	const bool long_mode = env_on("HANGAR_CRASH_LONG");
	/* The store's master key, made from the seed so a run reproduces. */
	uint8_t keyb[CRYPTO_KEY_LEN];
	for (size_t i = 0; i < sizeof(keyb); i++)
		keyb[i] = (uint8_t)(mix64(seed ^ 0x6b6579ull ^ i) >> 24);
	CHECK_OK(crypto_key_new_from_bytes(&g_master, keyb, sizeof(keyb)));
	memset(keyb, 0, sizeof(keyb));
	/* One random and one systematic workload in ENC_EVERY is run again on
	 * an encrypted container (long mode: every one); HANGAR_CRASH_ENC=N
	 * sets N, 0 turns it off.  HANGAR_CRASH_ENCRYPTED=1 makes
	 * HANGAR_CRASH_ONLY run its workload encrypted. */
	unsigned enc_every = long_mode ? 1 : ENC_EVERY;
	const char *ee = getenv("HANGAR_CRASH_ENC");
	if (ee && ee[0])
		enc_every = (unsigned)strtoul(ee, NULL, 0);
	g_enc = env_on("HANGAR_CRASH_ENCRYPTED");
	const bool sanitized = CRASH_SANITIZED || env_on("HANGAR_SANITIZED");
	double budget = long_mode ? 3600 : sanitized ? 200 : 240;
	const char *b = getenv("HANGAR_CRASH_BUDGET");
	if (b && b[0])
		budget = strtod(b, NULL);
	const uint64_t want_states = long_mode ? 1000000 : 20000;
	const uint64_t want_workloads = long_mode ? 100 : 300;
	const char *only = getenv("HANGAR_CRASH_ONLY");
	struct stats st = {0};
	const double t0 = now_s();

	if (only && only[0]) {
		unsigned w = (unsigned)strtoul(only, NULL, 0);
		int nops = random_nops(seed, w, long_mode, sanitized);
		one_workload(seed, w, nops, false, true, &st);
		printf("crash: %llu states from %llu workloads, %llu failures, "
		       "%.1f s\n",
		       (unsigned long long)st.states,
		       (unsigned long long)st.workloads,
		       (unsigned long long)st.failures, now_s() - t0);
		return st.failures ? 1 : 0;
	}

	const char *one_seq = getenv("HANGAR_CRASH_SEQ");
	if (one_seq && one_seq[0]) {
		int rc = run_one_sequence(seed, one_seq, &st);
		printf("crash: %llu states from %llu workloads, %llu failures, "
		       "%.1f s\n",
		       (unsigned long long)st.states,
		       (unsigned long long)st.workloads,
		       (unsigned long long)st.failures, now_s() - t0);
		return rc ? rc : st.failures ? 1 : 0;
	}

	/* Linked against a deliberately broken core (tests/CMakeLists.txt:
	 * test_crash_teeth_*): ordinary workloads on an honest disk must
	 * fail, and this run passes only if they do. */
	if (env_on("HANGAR_CRASH_EXPECT_CAUGHT")) {
		st.quiet = !env_on("HANGAR_CRASH_TEETH_VERBOSE");
		for (unsigned w = 0; w < 300 && st.failures == 0; w++)
			one_workload(seed, 3000000 + w, 24, false, false, &st);
		if (st.failures == 0)
			seq_teeth_on(seed, false, &st);
		printf("crash teeth (broken core): %llu failures in %llu "
		       "states from %llu workloads (must be > 0), %.1f s\n",
		       (unsigned long long)st.failures,
		       (unsigned long long)st.states,
		       (unsigned long long)st.workloads, now_s() - t0);
		return st.failures ? 0 : 1;
	}

	g_enc = false;
	const bool sector_ok = sector_teeth();
	fprintf(stderr, "crash teeth: a half-landed sector is %s\n",
		sector_ok ? "refused"
			  : "ACCEPTED (the sector check is broken)");
	/* Teeth first (it is quick): the broken disk must be caught. */
	struct stats teeth = {.quiet = !env_on("HANGAR_CRASH_TEETH_VERBOSE")};
	for (unsigned w = 0; w < 40 && teeth.failures == 0; w++)
		one_workload(seed, 1000000 + w, 12, true, false, &teeth);
	fprintf(stderr,
		"crash teeth: a disk ignoring the pre-superblock sync gave "
		"%llu failures in %llu states (must be > 0)\n",
		(unsigned long long)teeth.failures,
		(unsigned long long)teeth.states);

	/* ... also with the systematic workloads */
	struct stats steeth = {.quiet = teeth.quiet};
	seq_teeth(seed, &steeth);
	fprintf(stderr,
		"crash teeth: systematic sequences on that disk gave %llu "
		"failures in %llu states (must be > 0)\n",
		(unsigned long long)steeth.failures,
		(unsigned long long)steeth.states);

	/* ... and so must an oracle that expects one byte the core never
	 * wrote (proves the content comparison is live). */
	struct stats oteeth = {.quiet = teeth.quiet, .perturb = true};
	for (unsigned w = 0; w < 10; w++)
		one_workload(seed, 2000000 + w, 12, false, false, &oteeth);
	fprintf(stderr,
		"crash teeth: an oracle off by one byte gave %llu failures in "
		"%llu states (must be > 0)\n",
		(unsigned long long)oteeth.failures,
		(unsigned long long)oteeth.states);

	/* ... and both on encrypted containers */
	struct stats eteeth = {.quiet = teeth.quiet};
	struct stats eoteeth = {.quiet = teeth.quiet, .perturb = true};
	if (enc_every) {
		g_enc = true;
		for (unsigned w = 0; w < 40 && eteeth.failures == 0; w++)
			one_workload(seed, 1000000 + w, 12, true, false,
				     &eteeth);
		for (unsigned w = 0; w < 4; w++)
			one_workload(seed, 2000000 + w, 12, false, false,
				     &eoteeth);
		g_enc = false;
		fprintf(stderr,
			"crash teeth: encrypted, the broken disk gave %llu "
			"failures in %llu states, the off-by-one oracle %llu "
			"in %llu (both must be > 0)\n",
			(unsigned long long)eteeth.failures,
			(unsigned long long)eteeth.states,
			(unsigned long long)eoteeth.failures,
			(unsigned long long)eoteeth.states);
	}

	g_extended = 0; /* count the real run's only */
	memset(g_cover, 0, sizeof(g_cover));
	memset(g_cover_why, 0, sizeof(g_cover_why));
	g_cover_spent = 0;
	unsigned w = 0;
	bool out_of_time = false;
	const bool seq_only = env_on("HANGAR_CRASH_SEQ_ONLY");
	while (!seq_only &&
	       (st.states < want_states || st.workloads < want_workloads)) {
		if (now_s() - t0 > budget) {
			out_of_time = true;
			break;
		}
		int nops = random_nops(seed, w, long_mode, sanitized);
		one_workload(seed, w, nops, false, false, &st);
		w++;
	}
	/* the same random workloads, one in enc_every, encrypted */
	uint64_t enc_rand = 0, enc_rand_states = 0;
	for (unsigned v = 0; enc_every && !seq_only && v < w; v += enc_every) {
		if (now_s() - t0 > budget) {
			out_of_time = true;
			break;
		}
		int nops = random_nops(seed, v, long_mode, sanitized);
		uint64_t s0 = st.states, w0 = st.workloads;
		g_enc = true;
		one_workload(seed, v, nops, false, false, &st);
		g_enc = false;
		enc_rand += st.workloads - w0;
		enc_rand_states += st.states - s0;
	}
	const double t_random = now_s() - t0;

	/* Systematic: all sequences of length 1-2; of length 3 all of them
	 * (plain build, ~70 s here; long mode: with compression off and on),
	 * and under sanitizers a seeded share that rotates from run to run
	 * (HANGAR_CRASH_SEQ3=N: one in N). */
	struct stats sq = {0};
	struct seqstats ss = {0};
	unsigned sample3 = long_mode ? 1 : sanitized ? 24 : 1;
	const char *s3 = getenv("HANGAR_CRASH_SEQ3");
	if (s3 && s3[0])
		sample3 = (unsigned)strtoul(s3, NULL, 0);
	if (sample3 == 0)
		sample3 = 1;
	run_systematic(seed, sample3, long_mode, enc_every, t0 + budget, &sq,
		       &ss);
	if (ss.out_of_time)
		out_of_time = true;
	const double dt = now_s() - t0;
	fprintf(stderr,
		"crash systematic: %llu (sequence, flush position) pairs of "
		"length 1-3 (14*2 + 196*3 + 2744*4); length 3: %s; %llu "
		"identical after normalising, %llu not meaningful, %llu run "
		"(%llu of length 1-2, %llu of length 3; %llu on a sealed base, "
		"%llu with compressed disks), %llu states, %.1f s%s\n",
		(unsigned long long)ss.pairs,
		sample3 > 1 ? "a seeded 1-in-N share" : "all",
		(unsigned long long)ss.dups, (unsigned long long)ss.pointless,
		(unsigned long long)ss.run, (unsigned long long)ss.run12,
		(unsigned long long)ss.run3, (unsigned long long)ss.sealed_base,
		(unsigned long long)ss.compressed,
		(unsigned long long)sq.states, dt - t_random,
		ss.out_of_time ? " (budget reached: the rest skipped)" : "");
	st.states += sq.states;
	st.workloads += sq.workloads;
	st.failures += sq.failures;
	st.commits += sq.commits;
	st.windows += sq.windows;
	st.enumerated += sq.enumerated;
	st.sampled += sq.sampled;
	st.at_next += sq.at_next;
	st.torn += sq.torn;
	st.garbage += sq.garbage;
	st.lenient += sq.lenient;
	fprintf(stderr,
		"crash detail: %llu commits, %llu windows (%llu enumerated, "
		"%llu sampled), %llu states with the in-flight commit landed, "
		"%llu torn (%llu extending writes landed as zeros), %llu "
		"garbage, %llu bytes explained by unsynced in-place writes\n",
		(unsigned long long)st.commits, (unsigned long long)st.windows,
		(unsigned long long)st.enumerated,
		(unsigned long long)st.sampled, (unsigned long long)st.at_next,
		(unsigned long long)st.torn, (unsigned long long)g_extended,
		(unsigned long long)st.garbage, (unsigned long long)st.lenient);
	fprintf(stderr,
		"crash save lock: %llu fresh seals, %llu files adopted, %llu "
		"copies inheriting a live seal, %llu images renamed back "
		"still good, %llu invalidated (written %llu, moved on %llu, "
		"removed %llu, copy %llu, older %llu), %llu retired, %llu "
		"rewritten, %llu never-closed images set aside, %llu tainted "
		"seals refused, %llu resumes (%llu refused stale), %llu "
		"unlink/rename refused busy, up to %zu spent fingerprints, "
		"%llu images away from a saved memory.save rewritten (not "
		"adopted), %llu files adopted by a resume's first commit, "
		"%llu resumes refused busy\n",
		(unsigned long long)g_cover[COV_SEALED],
		(unsigned long long)g_cover[COV_ADOPTED],
		(unsigned long long)g_cover[COV_INHERITED],
		(unsigned long long)g_cover[COV_KEPT],
		(unsigned long long)(g_cover_why[SAVE_WHY_WRITTEN] +
				     g_cover_why[SAVE_WHY_MOVED_ON] +
				     g_cover_why[SAVE_WHY_REMOVED] +
				     g_cover_why[SAVE_WHY_COPY] +
				     g_cover_why[SAVE_WHY_OLDER] +
				     g_cover_why[SAVE_WHY_INCOMPLETE]),
		(unsigned long long)g_cover_why[SAVE_WHY_WRITTEN],
		(unsigned long long)g_cover_why[SAVE_WHY_MOVED_ON],
		(unsigned long long)g_cover_why[SAVE_WHY_REMOVED],
		(unsigned long long)g_cover_why[SAVE_WHY_COPY],
		(unsigned long long)g_cover_why[SAVE_WHY_OLDER],
		(unsigned long long)g_cover[COV_RETIRED],
		(unsigned long long)g_cover[COV_REWRITTEN],
		(unsigned long long)g_cover[COV_RECOVERED],
		(unsigned long long)g_cover[COV_REFUSED],
		(unsigned long long)g_cover[COV_RESUMED],
		(unsigned long long)g_cover[COV_STALE],
		(unsigned long long)g_cover[COV_BUSY], g_cover_spent,
		(unsigned long long)g_cover[COV_AWAY],
		(unsigned long long)g_cover[COV_RESUME_ADOPTED],
		(unsigned long long)g_cover[COV_RESUME_BUSY]);
	if (out_of_time)
		fprintf(stderr,
			"crash: time budget of %.0f s reached before the "
			"targets (%llu states, %llu workloads, the sampled "
			"sequences)\n",
			budget, (unsigned long long)want_states,
			(unsigned long long)want_workloads);
	char s3note[96];
	if (ss.out_of_time)
		snprintf(s3note, sizeof(s3note), ", cut short by the budget");
	else if (sample3 > 1)
		snprintf(s3note, sizeof(s3note), " (a seeded 1/%u sample)",
			 sample3);
	else
		snprintf(s3note, sizeof(s3note), " (all%s)",
			 long_mode ? ", compression off and on" : "");
	printf("crash: %llu states from %llu workloads (%llu random, %llu "
	       "systematic: sequences of 1-3 ops x flush positions, %llu of "
	       "length 1-2 + %llu of length 3%s), %llu states on encrypted "
	       "containers (%llu random + %llu systematic workloads, one in "
	       "%u run again encrypted), %llu failures, %.1f s\n",
	       (unsigned long long)st.states, (unsigned long long)st.workloads,
	       (unsigned long long)(st.workloads - sq.workloads),
	       (unsigned long long)sq.workloads, (unsigned long long)ss.run12,
	       (unsigned long long)ss.run3, s3note,
	       (unsigned long long)(enc_rand_states + ss.enc_states),
	       (unsigned long long)enc_rand, (unsigned long long)ss.enc_run,
	       enc_every, (unsigned long long)st.failures, dt);
	fflush(stdout);
	crypto_key_free(g_master);
	CHECK(teeth.failures > 0);
	CHECK(oteeth.failures > 0);
	CHECK(steeth.failures > 0);
	CHECK(sector_ok);
	if (enc_every) {
		CHECK(eteeth.failures > 0);
		CHECK(eoteeth.failures > 0);
	}
	CHECK_EQ(st.failures, 0);
	return 0;
}
