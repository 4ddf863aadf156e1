/*
 * crash_ops.c -- a workload run and its operations (crash.h).
 */
#include "crash.h"

/* ---- a workload run --------------------------------------------------------
 *
 * A run records every io operation (r->mio) while the model follows; each
 * commit found in the log is snapshotted with the model it made durable
 * (push_snap) and every content change noted with where it started in the
 * log (push_mut), which is what the replay needs.
 */

uint64_t rnd(struct run *r, uint64_t n)
{
	return n ? test_rand(&r->rng) % n : 0;
}

uint64_t mix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

void fail_msg(struct stats *st, const char *fmt, ...)
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

bool is_sb_write(const struct memio_op *op)
{
	return op->kind == MEMIO_OP_PWRITE && op->len == FORMAT_SECTOR_SIZE &&
	       (op->offset == FORMAT_SUPERBLOCK_A_OFFSET ||
		op->offset == FORMAT_SUPERBLOCK_B_OFFSET);
}

void push_snap(struct run *r, const struct model *m, long sync_idx, long sb_idx)
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

/* ---- the workload runner --------------------------------------------------
 */

/* enum commit_kind: crash.h */

/* Find the commits op `what` performed in log[l0..] and pair them with the
 * model: each one is applied to it (model_commit: generations, pins) and
 * snapshotted.  Returns false (and marks divergence) on disagreement. */
bool note_commits(struct run *r, struct stats *st, const char *what, size_t l0,
		  enum commit_kind kind, struct model *trans, int expect)
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
		 !model_equal_contents(&r->snaps[r->nsnaps - 1].m, &r->m)) {
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

bool check_ret(struct run *r, struct stats *st, const char *what, int got,
	       int want)
{
	if (got == want)
		return true;
	fail_msg(st, "w%u %s returned %d, oracle expects %d", r->widx, what,
		 got, want);
	r->diverged = true;
	return false;
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

/*
 * A change to the contents of object `i` (write, punch, truncate): core
 * may commit a save-lock transition first (save_before_modify), and the
 * model predicts it.  change_begin takes the model with that transition
 * and where the call's io starts in the log; change_made, given the call's
 * return, checks it and the commits it made and, when both are as
 * predicted, makes the transition r->m's and returns true: the caller then
 * applies its change to r->m (push_mut with change->l0).
 */
struct change {
	struct model trans; /* r->m after the transition, if any */
	bool has_trans;
	size_t l0;
};

static void change_begin(struct run *r, int i, struct change *ch)
{
	note_rewrite_away(&r->m, i);
	model_copy(&ch->trans, &r->m);
	ch->has_trans = model_transition(&ch->trans, i);
	ch->l0 = r->mio->log_num;
}

static bool change_made(struct run *r, struct stats *st, struct change *ch,
			const char *what, int ret)
{
	bool ok = check_ret(r, st, what, ret, 0) &&
		  note_commits(r, st, what, ch->l0, CK_TRANS,
			       ch->has_trans ? &ch->trans : NULL, 0);
	if (ok && ch->has_trans) {
		model_free(&r->m);
		model_copy(&r->m, &ch->trans);
	}
	model_free(&ch->trans);
	return ok;
}

void op_data_write_buf(struct run *r, struct stats *st, int i, uint64_t off,
		       uint64_t len, const uint8_t *buf, const char *what)
{
	struct change ch;

	change_begin(r, i, &ch);
	int ret = object_write(r->c, r->m.o[i].cid, buf, len, off);
	if (change_made(r, st, &ch, what, ret)) {
		model_write(&r->m.o[i], off, len, buf);
		push_mut(r, i, off, len, buf, ch.l0);
	}
}

/* `len` bytes of object `src` at 0 copied to `dst` at 0 by
 * object_copy_range (whole clusters shared, core/share.c), looping on
 * short counts as copy_file_range's callers do; `buf` holds those bytes
 * as the model has them. */
void op_data_copy(struct run *r, struct stats *st, int src, int dst,
		  uint64_t len, const uint8_t *buf, const char *what)
{
	struct change ch;
	uint64_t done = 0;
	int ret = 0;

	change_begin(r, dst, &ch);
	while (done < len) {
		uint64_t got = 0;
		ret = object_copy_range(r->c, NULL, r->m.o[src].cid, done,
					r->m.o[dst].cid, done, len - done,
					&got);
		if (ret)
			break;
		if (got == 0) {
			ret = -EIO; /* short before the source's end */
			break;
		}
		done += got;
	}
	if (change_made(r, st, &ch, what, ret)) {
		model_write(&r->m.o[dst], 0, len, buf);
		push_mut(r, dst, 0, len, buf, ch.l0);
	}
}

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

int ensure_object(struct run *r, struct stats *st, const char *name)
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

void do_punch(struct run *r, struct stats *st, int i, uint64_t off,
	      uint64_t len, const char *what)
{
	struct change ch;

	change_begin(r, i, &ch);
	int ret = object_punch(r->c, r->m.o[i].cid, off, len);
	if (change_made(r, st, &ch, what, ret)) {
		struct mobj *o = &r->m.o[i];
		if (off < o->size) {
			if (len > o->size - off)
				len = o->size - off;
			model_write(o, off, len, NULL);
			push_mut(r, i, off, len, NULL, ch.l0);
		}
	}
}

void do_truncate(struct run *r, struct stats *st, int i, uint64_t size,
		 const char *what)
{
	const uint64_t cs = 1ull << r->shift;
	struct change ch;

	change_begin(r, i, &ch);
	int ret = object_truncate(r->c, r->m.o[i].cid, size);
	if (change_made(r, st, &ch, what, ret)) {
		struct mobj *o = &r->m.o[i];
		if (size < o->size && (size & (cs - 1))) {
			uint64_t tail = (size + cs - 1) & ~(cs - 1);
			if (tail > o->size)
				tail = o->size;
			push_mut(r, i, size, tail - size, NULL, ch.l0);
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
}

void do_create(struct run *r, struct stats *st, const char *name,
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

void do_unlink(struct run *r, struct stats *st, int i, const char *what)
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

void do_rename(struct run *r, struct stats *st, int i, const char *to,
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

void do_commit(struct run *r, struct stats *st)
{
	size_t l0 = r->mio->log_num;
	int ret = container_commit(r->c);
	if (check_ret(r, st, "commit", ret, 0))
		note_commits(r, st, "commit", l0, CK_COMMIT, NULL, 0);
}

/* fdatasync (container_sync_data): a data-only sync when nothing but data
 * in place changed, else a commit -- the same outcomes the oracle allows a
 * flush. */
void do_sync_data(struct run *r, struct stats *st)
{
	size_t l0 = r->mio->log_num;
	int ret = container_sync_data(r->c);
	if (check_ret(r, st, "sync_data", ret, 0))
		note_commits(r, st, "sync_data", l0, CK_COMMIT, NULL, 0);
}

/* Would save_lock_seal judge memory.save (else it returns 0, -EIO or
 * -ENOENT and changes nothing)? */
bool seal_changes(const struct model *m)
{
	int img = model_find(m, SAVE_IMAGE_NAME);
	return img >= 0 &&
	       (m->o[img].unsealed || (!m->o[img].seal && !m->o[img].tainted));
}

void do_seal(struct run *r, struct stats *st)
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
 * eligible, not pinned, created after the seal -- and, unless
 * `being_written`, not open for writing (a file being written waits). */
static int adoptable(const struct model *m, const struct mseal *s,
		     bool being_written)
{
	int n = 0;
	for (int f = s->adopt_from; f < m->n; f++) {
		if (!pin_eligible(m, f) ||
		    (!being_written && m->o[f].writers > 0))
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
void do_resume(struct run *r, struct stats *st)
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
	const bool first_commits = adoptable(m, s, false) > 0 ||
				   !model_equal(&r->snaps[r->nsnaps - 1].m, m);
	struct model sim;
	model_copy(&sim, m);
	if (first_commits)
		model_commit(&sim);
	const struct mseal *ss = model_live_seal(&sim);
	enum save_why why;
	if (adoptable(&sim, ss, true) > 0)
		want = -EBUSY; /* a file that arrived is still being written */
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
	 * superblock and nothing before it, the same tree (core/alloc.c
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

void do_discard(struct run *r, struct stats *st)
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

/* ---- snapshots ----------------------------------------------------------
 *
 * Each is one commit of core (snapshot.c): create takes the snapshot BY
 * that commit (the model freezes itself in model_commit, after the
 * generations and the pins, as core writes the frozen table), delete and
 * rollback commit the state without it / rolled back.  A crash shows the
 * state before or after, whole: the replay checks that every snapshot the
 * expected commit holds reads exactly as it was taken.
 */

void do_snap_create(struct run *r, struct stats *st, const char *name,
		    const char *what)
{
	struct model *m = &r->m;
	int want = model_snap_find(m, name) >= 0 ? -EEXIST : 0;
	if (!want)
		snprintf(m->snap_pending, sizeof(m->snap_pending), "%s", name);
	size_t l0 = r->mio->log_num;
	int ret = container_snapshot_create(r->c, name);
	r->snap_ops++;
	if (check_ret(r, st, what, ret, want))
		note_commits(r, st, what, l0, CK_FINAL, NULL, want ? 0 : 1);
	g_cover[COV_SNAP_CREATED] += ret == 0;
}

/* A snapshot with a view held open is not deleted: -EBUSY, no commit. */
void do_snap_delete(struct run *r, struct stats *st, int k, const char *what)
{
	char name[MSNAP_NAME];
	snprintf(name, sizeof(name), "%s", r->m.snap[k]->name);
	const int want = views_of(r, name) ? -EBUSY : 0;
	if (!want)
		model_snap_delete(&r->m, k);
	size_t l0 = r->mio->log_num;
	int ret = container_snapshot_delete(r->c, name);
	r->snap_ops++;
	if (check_ret(r, st, what, ret, want))
		note_commits(r, st, what, l0, CK_FINAL, NULL, want ? 0 : 1);
	g_cover[COV_SNAP_DELETED] += ret == 0;
	g_cover[COV_VIEW_BUSY] += ret == -EBUSY && want == -EBUSY;
}

/* While a file is open (a daemon's handle), rollback is refused -EBUSY
 * and changes nothing. */
void do_rollback(struct run *r, struct stats *st, int k, const char *what)
{
	char name[MSNAP_NAME];
	snprintf(name, sizeof(name), "%s", r->m.snap[k]->name);
	bool open = false;
	for (int i = 0; i < r->m.n; i++)
		open |= r->m.o[i].live && r->m.o[i].writers > 0;
	int want = open ? -EBUSY : 0;
	int commits = open ? 0 : model_rollback(&r->m, k);
	size_t l0 = r->mio->log_num;
	int ret = container_snapshot_rollback(r->c, name);
	r->snap_ops++;
	g_cover[COV_ROLLBACK_BUSY] += open && ret == -EBUSY;
	if (check_ret(r, st, what, ret, want))
		note_commits(r, st, what, l0, CK_FINAL, NULL, commits);
	g_cover[COV_ROLLED_BACK] += ret == 0;
	g_cover[COV_ROLLBACK_SET_ASIDE] += ret == 0 && commits > 1;
}

/* close and reopen (recovery at open is recorded too) */
void do_reopen(struct run *r, struct stats *st)
{
	views_close_all(r); /* every view is closed before its container */
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
void op_after(struct run *r, struct stats *st, const char *what)
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
	if (!r->diverged && r->c)
		views_check(r, st, what);
	if (r->verbose) {
		const struct mseal *s = model_live_seal(m);
		fprintf(stderr, "  op %d: %s -> log %zu, %s, %d pins\n",
			r->nops, what, r->mio->log_num,
			save_state_name(model_state(m)), s ? s->npins : 0);
	}
}

void run_init(struct run *r, uint64_t seed, unsigned widx)
{
	memset(r, 0, sizeof(*r));
	r->widx = widx;
	r->rng = mix64(seed ^ mix64(widx + 1));
	r->opts.master = g_enc ? g_master : NULL;
	r->max_snaps = MSNAP_USUAL;
}

/* Forget the snapshots and mutations recorded so far. */
static void run_forget(struct run *r)
{
	for (size_t i = 0; i < r->nsnaps; i++)
		model_free(&r->snaps[i].m);
	r->nsnaps = 0;
	for (size_t i = 0; i < r->nmuts; i++)
		free(r->muts[i].data);
	r->nmuts = 0;
}

/* The file as it is now is the base every crash image starts from, and
 * the model as it is now its first snapshot. */
static void run_set_base(struct run *r)
{
	free(r->base);
	r->base = dup_bytes(r->mio->data, r->mio->size);
	r->base_size = r->mio->size;
	push_snap(r, &r->m, -1, -1);
}

void run_start(struct run *r)
{
	r->mio = memio_new();
	CHECK_OK(container_create(&r->mio->io, &r->opts, &r->c));
	CHECK_OK(container_commit(r->c));
	model_init(&r->m);
	r->m.gen = container_generation(r->c);
	run_set_base(r);
	r->mio->recording = true;
}

void run_rebase(struct run *r)
{
	memio_log_clear(r->mio);
	run_forget(r);
	run_set_base(r);
}

void run_replay(struct run *r, struct stats *st, bool broken)
{
	if (!env_on("HANGAR_CRASH_NO_REPLAY"))
		crash_workload(r, st, broken);
	st->workloads++;
	st->commits += r->nsnaps - 1;
}

void run_free(struct run *r)
{
	views_close_all(r);
	if (r->c)
		container_close(r->c);
	memio_free(r->mio);
	model_free(&r->m);
	run_forget(r);
	free(r->snaps);
	free(r->muts);
	free(r->base);
	memset(r, 0, sizeof(*r));
}
