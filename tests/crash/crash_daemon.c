/*
 * crash_daemon.c -- what a daemon does around snapshots (crash.h).
 *
 * The other workloads write through one-shot calls and hold nothing open.
 * A daemon does not: a guest's disk is open for writing while a snapshot is
 * taken (its last writes not flushed yet: dirty in the map, or a compressed
 * cluster still pending in memory), a backup reads a snapshot view for as
 * long as the copy takes while the guest writes, commits, deletes other
 * snapshots and rolls back, and `hangar clone` copies one container's
 * files into a new one through core.  Here:
 *
 *   - handles: do_open / do_release (object_open / object_release, for
 *     writing).  The oracle knows what a writer changes: a SAVED seal does
 *     not adopt a file being written (a resume then refuses -EBUSY), a
 *     rollback is refused -EBUSY while any file is open, and the last write
 *     close of a file that may become an image (not a disk, not config)
 *     commits (object_release's settle);
 *   - do_daemon_burst: open a file for writing, write, take a snapshot
 *     before any flush, write more, maybe flush, release: the snapshot
 *     must hold exactly the writes completed before it -- checked after
 *     every operation and in every crash state;
 *   - held views: do_view_open / do_view_close.  After every operation
 *     (op_after) each held view is read back whole against the frozen
 *     model it was opened on (views_check); deleting a snapshot with a view
 *     held is refused -EBUSY (do_snap_delete);
 *   - up to MAX_MSNAP snapshots alive, created and deleted out of order,
 *     rollback to a middle one (the many-snapshot random workloads and
 *     the scripted family below);
 *   - clones: a second container (not recorded) is the source; its files
 *     are copied, by data ranges, from a snapshot view of it into the
 *     recorded container as `hangar clone` does (the incomplete marker
 *     committed first, the images skipped, the marker unlinked last),
 *     while the source goes on being written; every crash state of the
 *     clone is replayed.
 */
#include "crash.h"

#include "hangar/names.h"

/* ---- handles --------------------------------------------------------------
 */

/* object_open(for_write): no io, no commit. */
void do_open(struct run *r, struct stats *st, int i, const char *what)
{
	size_t l0 = r->mio->log_num;
	int ret = object_open(r->c, r->m.o[i].cid, true);
	if (check_ret(r, st, what, ret, 0) &&
	    note_commits(r, st, what, l0, CK_NONE, NULL, 0))
		r->m.o[i].writers++;
}

/* Does the last write close of `o` commit (object.c object_release: a
 * written file that may become an image -- not a disk, not memory.save,
 * not config -- gets a generation of its own)? */
static bool release_settles(const struct mobj *o)
{
	size_t len = strlen(o->name);
	bool disk = len > 4 && strcmp(o->name + len - 4, ".raw") == 0;
	return o->writers == 1 && o->live && o->dirty && !disk &&
	       !is_name(o, SAVE_IMAGE_NAME) && !is_name(o, "config");
}

void do_release(struct run *r, struct stats *st, int i, const char *what)
{
	struct mobj *o = &r->m.o[i];
	const bool settle = release_settles(o);
	o->writers--;
	size_t l0 = r->mio->log_num;
	object_release(r->c, o->cid, true);
	note_commits(r, st, what, l0, settle ? CK_FINAL : CK_NONE, NULL,
		     settle ? 1 : 0);
	g_cover[COV_RELEASE_SETTLED] += settle;
}

/* ---- held views ------------------------------------------------------------
 */

int views_of(const struct run *r, const char *name)
{
	int n = 0;
	for (int j = 0; j < r->nviews; j++)
		n += strcmp(r->views[j].s->name, name) == 0;
	return n;
}

/* container_snapshot_open of snapshot `k`, held until do_view_close (or
 * a reopen, or the end of the run). */
void do_view_open(struct run *r, struct stats *st, int k, const char *what)
{
	if (r->nviews == MAX_VIEWS)
		abort();
	struct container *v = NULL;
	size_t l0 = r->mio->log_num;
	int ret = container_snapshot_open(r->c, r->m.snap[k]->name, &v);
	if (!check_ret(r, st, what, ret, 0) ||
	    !note_commits(r, st, what, l0, CK_NONE, NULL, 0))
		return;
	r->views[r->nviews].v = v;
	r->views[r->nviews].s = msnap_ref(r->m.snap[k]);
	r->nviews++;
}

void do_view_close(struct run *r, struct stats *st, int j)
{
	size_t l0 = r->mio->log_num;
	container_snapshot_close(r->c, r->views[j].v);
	msnap_unref(r->views[j].s);
	r->views[j] = r->views[--r->nviews];
	note_commits(r, st, "view close", l0, CK_NONE, NULL, 0);
}

void views_close_all(struct run *r)
{
	for (int j = 0; j < r->nviews; j++) {
		if (r->c)
			container_snapshot_close(r->c, r->views[j].v);
		msnap_unref(r->views[j].s);
	}
	r->nviews = 0;
}

/* Every held view, read back whole: exactly its snapshot, whatever the
 * live container went through since it was opened.  With
 * st->perturb_view (teeth) the expectation is off by one byte. */
bool views_check(struct run *r, struct stats *st, const char *what)
{
	for (int j = 0; j < r->nviews; j++) {
		struct msnap *s = msnap_ref(r->views[j].s);
		if (st->perturb_view)
			model_view_perturb(&s);
		char why[300];
		bool ok = verify_view(r->views[j].v, &s->m, s->name, why,
				      sizeof(why));
		msnap_unref(s);
		g_cover[COV_VIEW_CHECKS]++;
		if (!ok) {
			fail_msg(st, "w%u after %s: held view: %s", r->widx,
				 what, why);
			r->diverged = true;
			return false;
		}
	}
	return true;
}

/* ---- a daemon's burst around a snapshot -----------------------------------
 */

static void burst_write(struct run *r, struct stats *st, int i, const char *tag)
{
	const uint64_t cs = 1ull << r->shift;
	const struct mobj *o = &r->m.o[i];
	uint64_t off = rnd(r, 3) == 0 && o->size ? rnd(r, o->size)
						 : rnd(r, r->max_size);
	uint64_t len = 1 + rnd(r, 2 * cs);
	uint8_t *buf = xmalloc(len);
	uint8_t v = (uint8_t)(1 + rnd(r, 250));
	bool compressible = rnd(r, 2);
	for (size_t b = 0; b < len; b++)
		buf[b] = compressible ? (uint8_t)(v + (b / 64) % 4)
				      : (uint8_t)mix64(r->rng + b);
	(void)test_rand(&r->rng);
	char what[96];
	snprintf(what, sizeof(what), "%s write %s@%llu+%llu", tag, o->name,
		 (unsigned long long)off, (unsigned long long)len);
	op_data_write_buf(r, st, i, off, len, buf, what);
	free(buf);
	op_after(r, st, what);
}

/* A snapshot index with no view held, to make room; -1 if none. */
static int snap_unviewed(struct run *r)
{
	const int n = r->m.nsnap;
	const int start = n ? (int)rnd(r, (uint64_t)n) : 0;
	for (int d = 0; d < n; d++) {
		int k = (start + d) % n;
		if (!views_of(r, r->m.snap[k]->name))
			return k;
	}
	return -1;
}

/*
 * Open a file for writing, write 1-3 times, (maybe try a rollback: -EBUSY),
 * take a snapshot before any flush, (maybe hold a view of it), write 0-2
 * times more, (a saved guest: maybe try to resume), maybe flush, release,
 * maybe flush.  The file: a disk, a small file, or -- in a saved guest --
 * one that arrives and is not adopted while it is being written.
 */
void do_daemon_burst(struct run *r, struct stats *st, char *what, size_t wl)
{
	static const char *const files[] = {"disk.raw", "data.raw", "nvram.fd",
					    "scratch", "config"};
	struct model *m = &r->m;
	char name[32], sub[96];
	const bool saved = model_state(m) == SAVE_STATE_SAVED;
	if (saved && rnd(r, 2))
		snprintf(name, sizeof(name), "file%d.%s", r->nops,
			 rnd(r, 2) ? "raw" : "img");
	else
		snprintf(name, sizeof(name), "%s", files[rnd(r, 5)]);
	snprintf(what, wl, "daemon burst on %s", name);
	int i = ensure_object(r, st, name);
	if (i < 0 || r->diverged)
		return;
	/* room for the snapshot: delete one no view holds (out of order) */
	bool snap = true;
	if (m->nsnap >= r->max_snaps) {
		int k = snap_unviewed(r);
		if (k < 0) {
			snap = false;
		} else {
			snprintf(sub, sizeof(sub), "burst: snapshot delete %s",
				 m->snap[k]->name);
			do_snap_delete(r, st, k, sub);
			op_after(r, st, sub);
		}
	}
	do_open(r, st, i, "burst: open for writing");
	op_after(r, st, "burst: open");
	for (int n = 1 + (int)rnd(r, 3); n > 0 && !r->diverged; n--)
		burst_write(r, st, i, "burst (before the snapshot):");
	if (!r->diverged && m->nsnap && rnd(r, 3) == 0) {
		int k = (int)rnd(r, (uint64_t)m->nsnap);
		snprintf(sub, sizeof(sub), "burst: rollback to %s (file open)",
			 m->snap[k]->name);
		do_rollback(r, st, k, sub);
		op_after(r, st, sub);
	}
	if (!r->diverged && snap) {
		char sname[MSNAP_NAME];
		snprintf(sname, sizeof(sname), "d%d", r->nops);
		snprintf(sub, sizeof(sub),
			 "burst: snapshot create %s (%s open, not flushed)",
			 sname, name);
		const int had = m->nsnap;
		do_snap_create(r, st, sname, sub);
		g_cover[COV_SNAP_WRITER] += m->nsnap > had;
		op_after(r, st, sub);
		if (!r->diverged && m->nsnap > had && r->nviews < MAX_VIEWS &&
		    rnd(r, 2)) {
			do_view_open(r, st, m->nsnap - 1, "burst: view open");
			op_after(r, st, "burst: view open");
		}
	}
	for (int n = (int)rnd(r, 3); n > 0 && !r->diverged; n--)
		burst_write(r, st, i, "burst (after the snapshot):");
	if (!r->diverged && model_state(m) == SAVE_STATE_SAVED && rnd(r, 2)) {
		do_resume(r, st);
		op_after(r, st, "burst: resume (file open)");
	}
	if (!r->diverged && rnd(r, 2)) {
		do_commit(r, st);
		op_after(r, st, "burst: flush (file open)");
	}
	if (!r->diverged) {
		do_release(r, st, i, "burst: release");
		op_after(r, st, "burst: release");
	}
	if (!r->diverged && rnd(r, 2))
		do_commit(r, st);
}

/* One daemon operation of a random workload: a burst, a view opened or
 * closed, or a snapshot with a view held deleted (-EBUSY). */
void daemon_op(struct run *r, struct stats *st, char *what, size_t wl)
{
	struct model *m = &r->m;
	unsigned x = (unsigned)rnd(r, 8);
	if (x >= 3 && x < 5 && m->nsnap && r->nviews < MAX_VIEWS) {
		int k = (int)rnd(r, (uint64_t)m->nsnap);
		snprintf(what, wl, "view open %s", m->snap[k]->name);
		do_view_open(r, st, k, what);
	} else if (x == 5 && r->nviews) {
		int k = model_snap_find(m, r->views[0].s->name);
		snprintf(what, wl, "snapshot delete %s (view held)",
			 r->views[0].s->name);
		if (k >= 0)
			do_snap_delete(r, st, k, what);
	} else if (x >= 6 && r->nviews) {
		int j = (int)rnd(r, (uint64_t)r->nviews);
		snprintf(what, wl, "view close %s", r->views[j].s->name);
		do_view_close(r, st, j);
	} else {
		do_daemon_burst(r, st, what, wl);
	}
}

/* ---- the scripted daemon family -------------------------------------------
 *
 * Every combination of: the file (disk.raw, or nvram.fd whose last close
 * commits), writes before the snapshot (an overwrite of a shared cluster;
 * plus an allocating write), after it (none, one), and the end (release
 * then flush, flush then release, release alone); the base (11 snapshots,
 * so the burst's makes 12, or one), compression and a view held across it
 * all (a delete of its snapshot tried: -EBUSY) vary with the combination
 * and the seed.  Many-snapshot bases go on after the release: a middle
 * snapshot deleted (out of order), a rollback to another middle one, then
 * the view's own snapshot deleted once the view is closed.
 */

static void fill(struct run *r, uint8_t *buf, size_t len, bool compressible)
{
	uint8_t v = (uint8_t)(1 + rnd(r, 250));
	for (size_t i = 0; i < len; i += 8) {
		uint64_t x = test_rand(&r->rng) | 1;
		for (size_t b = i; b < len && b < i + 8; b++)
			buf[b] = compressible ? (uint8_t)(v + (b / 64) % 4)
					      : (uint8_t)(x >> (8 * (b - i)));
	}
}

static void script_write(struct run *r, struct stats *st, int i, uint64_t off,
			 uint64_t len, bool compressible, const char *what)
{
	uint8_t *buf = xmalloc(len);
	fill(r, buf, len, compressible);
	op_data_write_buf(r, st, i, off, len, buf, what);
	free(buf);
	op_after(r, st, what);
}

/* The base: disk.raw (6 clusters written of 8), config, nvram.fd, an
 * unsealed memory.save, then `nsnap` snapshots b0.. with one disk
 * cluster rewritten between two, committed. */
static void daemon_base(struct run *r, struct stats *st, int nsnap)
{
	const uint64_t cs = 1ull << r->shift;
	int d = ensure_object(r, st, "disk.raw");
	if (d < 0)
		return;
	script_write(r, st, d, 0, 6 * cs, false, "base disk");
	const char *small[] = {"config", "nvram.fd"};
	for (int k = 0; k < 2 && !r->diverged; k++) {
		int f = ensure_object(r, st, small[k]);
		if (f >= 0)
			script_write(r, st, f, 0, 300 + 1000 * (uint64_t)k,
				     false, "base file");
	}
	int img = r->diverged ? -1 : ensure_object(r, st, SAVE_IMAGE_NAME);
	if (img >= 0)
		script_write(r, st, img, 0, 2 * cs, true, "base image");
	for (int k = 0; k < nsnap && !r->diverged; k++) {
		char name[MSNAP_NAME];
		snprintf(name, sizeof(name), "b%d", k);
		do_snap_create(r, st, name, "base snapshot");
		if (!r->diverged)
			script_write(r, st, d, (uint64_t)(k % 6) * cs + 17,
				     100 + 37 * (uint64_t)k, false,
				     "base disk after a snapshot");
	}
	if (!r->diverged)
		do_commit(r, st);
}

enum { END_RELEASE_FLUSH, END_FLUSH_RELEASE, END_RELEASE, END_NUM };

static void daemon_script(uint64_t seed, unsigned widx, unsigned key,
			  struct stats *st)
{
	const unsigned obj = key % 2, pre = 1 + (key / 2) % 2,
		       post = (key / 4) % 2, end = (key / 8) % END_NUM;
	const uint64_t h = mix64(seed ^ 0xDAE3ull ^ key);
	const bool many = h & 1, compress = h & 2, view = h & 4;
	struct run r;
	run_init(&r, seed, widx);
	r.shift = 12;
	r.opts.cluster_shift = r.shift;
	r.opts.compress_disks = compress;
	r.max_size = 12 * 4096;
	r.max_snaps = MAX_MSNAP;
	r.snapshots = r.daemon = true;
	r.verbose = env_on("HANGAR_CRASH_DAEMON_VERBOSE");
	const uint64_t cs = 1ull << r.shift;
	run_start(&r);
	daemon_base(&r, st, many ? MAX_MSNAP - 1 : 1);
	struct model *m = &r.m;
	if (!r.diverged) {
		run_rebase(&r);
		if (view)
			do_view_open(&r, st, m->nsnap - 1, "view open (held)");
		const char *fname = obj ? "nvram.fd" : "disk.raw";
		int i = model_find(m, fname);
		if (!r.diverged)
			do_open(&r, st, i, "open for writing");
		if (!r.diverged)
			script_write(&r, st, i, cs / 2, cs, obj == 0,
				     "overwrite (shared cluster)");
		if (!r.diverged && pre > 1)
			script_write(&r, st, i, 7 * cs + 5, cs, false,
				     "allocating write");
		if (!r.diverged) {
			do_rollback(&r, st, 0, "rollback (file open: EBUSY)");
			op_after(&r, st, "rollback (EBUSY)");
		}
		if (!r.diverged && view) {
			do_snap_delete(&r, st, m->nsnap - 1,
				       "delete the viewed snapshot (EBUSY)");
			op_after(&r, st, "delete (EBUSY)");
		}
		if (!r.diverged) {
			do_snap_create(&r, st, "live",
				       "snapshot create "
				       "(file open, not "
				       "flushed)");
			g_cover[COV_SNAP_WRITER]++;
			op_after(&r, st, "snapshot create");
		}
		if (!r.diverged && post)
			script_write(&r, st, i, 3 * cs - 100, 300, true,
				     "write after the snapshot");
		if (!r.diverged && end == END_FLUSH_RELEASE) {
			do_commit(&r, st);
			op_after(&r, st, "flush");
		}
		if (!r.diverged) {
			do_release(&r, st, i, "release");
			op_after(&r, st, "release");
		}
		if (!r.diverged && end == END_RELEASE_FLUSH) {
			do_commit(&r, st);
			op_after(&r, st, "flush");
		}
		if (!r.diverged && many) {
			/* out of order: a middle one, a rollback to another
			 * middle one (the view stays), then the newest */
			do_snap_delete(&r, st, 4, "delete b4 (a middle one)");
			op_after(&r, st, "delete b4");
			if (!r.diverged) {
				do_rollback(&r, st, 6, "rollback to b7");
				op_after(&r, st, "rollback to b7");
			}
			if (!r.diverged) {
				script_write(&r, st, model_find(m, "disk.raw"),
					     cs, 2 * cs, false,
					     "write after the rollback");
			}
			if (!r.diverged && r.nviews)
				do_view_close(&r, st, 0);
			if (!r.diverged) {
				do_snap_delete(&r, st, m->nsnap - 2,
					       "delete the viewed one");
				op_after(&r, st, "delete");
			}
		}
	}
	r.mio->recording = false;
	if (!r.diverged)
		run_replay(&r, st, false);
	run_free(&r);
}

/* `share`: run one combination in that many (seeded, so each run takes
 * another share; 1 = all). */
void run_daemon_family(uint64_t seed, unsigned share, double deadline,
		       struct stats *st, struct daemon_stats *ds)
{
	const unsigned n = 2 * 2 * 2 * END_NUM;
	for (unsigned key = 0; key < n; key++) {
		if (share > 1 && mix64(seed ^ 0xFA11ull ^ key) % share)
			continue;
		if (now_s() > deadline) {
			ds->out_of_time = true;
			break;
		}
		const uint64_t s0 = st->states;
		daemon_script(seed, 6000000 + key, key, st);
		ds->run++;
		ds->states += st->states - s0;
	}
}

/* ---- clones ------------------------------------------------------------------
 *
 * The source: a container of its own (not recorded) holding disk.raw with
 * a hole, nvram.fd, config and memory.save, snapshot "gold" of it, then
 * written on.  The clone, recorded: the incomplete marker created and
 * committed, every file of the source's view but the images copied by
 * data ranges (SEEK_DATA / SEEK_HOLE, as cmd_clone.c), the source's live
 * disk written between two files (the view must not move), a commit, the
 * marker unlinked, a commit.
 */

static struct container *clone_source(struct run *r, struct memio **out_mio)
{
	const uint64_t cs = 1ull << r->shift;
	struct container_options o = {.cluster_shift = r->shift,
				      .master = r->opts.master};
	struct memio *mio = memio_new();
	struct container *c = NULL;
	uint64_t id;
	CHECK_OK(container_create(&mio->io, &o, &c));
	static const char *const names[] = {"disk.raw", "nvram.fd", "config",
					    SAVE_IMAGE_NAME};
	for (int k = 0; k < 4; k++) {
		CHECK_OK(object_create(c, names[k], 0644, 0, 0, &id));
		uint64_t len = k == 0 ? cs + 300 : 100 + rnd(r, cs);
		uint8_t *buf = xmalloc(len);
		fill(r, buf, len, k == 3);
		CHECK_OK(object_write(c, id, buf, len, 0));
		if (k == 0) /* a hole between two data ranges */
			CHECK_OK(object_write(c, id, buf, len, 4 * cs + 11));
		free(buf);
	}
	CHECK_OK(container_snapshot_create(c, "gold"));
	*out_mio = mio;
	return c;
}

static void clone_one(uint64_t seed, unsigned widx, struct stats *st)
{
	struct run r;
	run_init(&r, seed, widx);
	r.shift = 12;
	r.opts.cluster_shift = r.shift;
	r.opts.compress_disks = widx % 2;
	r.max_size = 12 * 4096;
	struct memio *smio = NULL;
	struct container *src = clone_source(&r, &smio), *view = NULL;
	CHECK_OK(container_snapshot_open(src, "gold", &view));
	struct object_name *names = NULL;
	size_t num = 0;
	CHECK_OK(object_list(view, &names, &num));
	/* what the view must keep reading: its bytes now */
	uint8_t *keep[8] = {0};
	size_t keep_len[8] = {0};
	for (size_t k = 0; k < num && k < 8; k++) {
		struct object_attr at;
		size_t got = 0;
		CHECK_OK(object_getattr(view, names[k].id, &at));
		keep_len[k] = (size_t)at.size;
		keep[k] = xmalloc(keep_len[k] + 1);
		CHECK_OK(object_read(view, names[k].id, keep[k], keep_len[k], 0,
				     &got));
	}

	run_start(&r);
	do_create(&r, st, GUEST_INCOMPLETE_MARKER, "clone: marker");
	if (!r.diverged)
		do_commit(&r, st);
	for (size_t k = 0; k < num && !r.diverged; k++) {
		const char *name = names[k].name;
		if (strncmp(name, SAVE_IMAGE_NAME, strlen(SAVE_IMAGE_NAME)) ==
		    0)
			continue; /* a clone boots fresh: no image */
		struct object_attr at;
		CHECK_OK(object_getattr(view, names[k].id, &at));
		char what[320];
		snprintf(what, sizeof(what), "clone: create %s", name);
		do_create(&r, st, name, what);
		int i = model_find(&r.m, name);
		if (i < 0 || r.diverged)
			break;
		uint64_t off = 0;
		while (off < at.size && !r.diverged) {
			uint64_t data, hole;
			if (object_seek(view, names[k].id, off, SEEK_DATA,
					&data) != 0)
				break;
			CHECK_OK(object_seek(view, names[k].id, data, SEEK_HOLE,
					     &hole));
			if (hole > at.size)
				hole = at.size;
			uint8_t *buf = xmalloc(hole - data + 1);
			size_t got = 0;
			CHECK_OK(object_read(view, names[k].id, buf,
					     hole - data, data, &got));
			snprintf(what, sizeof(what), "clone: %s@%llu+%llu",
				 name, (unsigned long long)data,
				 (unsigned long long)(hole - data));
			op_data_write_buf(&r, st, i, data, hole - data, buf,
					  what);
			free(buf);
			op_after(&r, st, what);
			off = hole;
		}
		if (!r.diverged && r.m.o[i].size < at.size) {
			snprintf(what, sizeof(what), "clone: %s size", name);
			do_truncate(&r, st, i, at.size, what);
		}
		g_cover[COV_CLONED] += !r.diverged;
		/* the source's guest goes on: its view must not move */
		uint64_t sid;
		CHECK_OK(object_lookup(src, "disk.raw", &sid));
		uint8_t junk[700];
		fill(&r, junk, sizeof(junk), false);
		CHECK_OK(object_write(src, sid, junk, sizeof(junk),
				      rnd(&r, 5 * 4096)));
		if (k % 2)
			CHECK_OK(container_commit(src));
		for (size_t q = 0; q < num && q < 8; q++) {
			uint8_t *now = xmalloc(keep_len[q] + 1);
			size_t got = 0;
			if (object_read(view, names[q].id, now, keep_len[q], 0,
					&got) != 0 ||
			    got != keep_len[q] ||
			    memcmp(now, keep[q], keep_len[q]) != 0)
				fail_msg(st,
					 "w%u clone: the source's view of %s "
					 "moved while its guest was written",
					 r.widx, names[q].name);
			free(now);
		}
	}
	if (!r.diverged)
		do_commit(&r, st);
	if (!r.diverged) {
		int mk = model_find(&r.m, GUEST_INCOMPLETE_MARKER);
		do_unlink(&r, st, mk, "clone: unlink marker");
	}
	if (!r.diverged)
		do_commit(&r, st);
	r.mio->recording = false;
	if (!r.diverged)
		run_replay(&r, st, false);
	run_free(&r);
	for (size_t k = 0; k < 8; k++)
		free(keep[k]);
	free(names);
	container_snapshot_close(src, view);
	CHECK_OK(container_close(src));
	memio_free(smio);
}

void run_clone_family(uint64_t seed, unsigned n, double deadline,
		      struct stats *st, struct daemon_stats *ds)
{
	for (unsigned w = 0; w < n; w++) {
		if (now_s() > deadline) {
			ds->out_of_time = true;
			break;
		}
		const uint64_t s0 = st->states;
		clone_one(seed, 7000000 + w, st);
		ds->clone_run++;
		ds->clone_states += st->states - s0;
	}
}
