/*
 * crash_random.c -- the random workloads of test_crash (crash.h).
 */
#include "crash.h"

/* ---- random workloads ------------------------------------------------------
 *
 * op_one draws one operation (and its object, offsets and bytes) from the
 * run's seeded generator; a workload is nops of them on a new container
 * whose cluster size and compression depend on the workload's index.
 */

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
	/* half of the copies share clusters (copy_file_range inside a
	 * guest: core/share.c), half write the bytes */
	if (t >= 0 && !r->diverged && size && rnd(r, 2))
		op_data_copy(r, st, src, t, size, buf, what);
	else if (t >= 0 && !r->diverged && size)
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
	/* Snapshot workloads (half of them): a snapshot taken, deleted or
	 * rolled back to now and then, so that every other operation also
	 * meets shared clusters, and rollback meets every save state. */
	/* Daemon workloads: a burst of writes through an open handle around
	 * a snapshot, or a view opened, closed or its snapshot's delete
	 * tried (crash_daemon.c). */
	if (r->daemon && rnd(r, 6) == 0) {
		daemon_op(r, st, what, sizeof(what));
		goto done;
	}
	/* many-snapshot workloads take them more often, and grow further */
	const bool many = r->max_snaps > MSNAP_USUAL;
	if (r->snapshots && rnd(r, many ? 3 : 7) == 0) {
		unsigned how = (unsigned)rnd(r, 4);
		if (m->nsnap == 0 ||
		    (m->nsnap < r->max_snaps && how < (many ? 3u : 2u))) {
			char name[MSNAP_NAME];
			if (m->nsnap && rnd(r, 8) == 0) /* -EEXIST */
				snprintf(name, sizeof(name), "%s",
					 m->snap[rnd(r, (uint64_t)m->nsnap)]
						 ->name);
			else
				snprintf(name, sizeof(name), "s%d", r->nops);
			snprintf(what, sizeof(what), "snapshot create %s",
				 name);
			do_snap_create(r, st, name, what);
		} else {
			int k = (int)rnd(r, (uint64_t)m->nsnap);
			snprintf(what, sizeof(what), "snapshot %s %s",
				 how == 3 ? "rollback to" : "delete",
				 m->snap[k]->name);
			if (how == 3)
				do_rollback(r, st, k, what);
			else
				do_snap_delete(r, st, k, what);
		}
		goto done;
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
	} else if (w < 80) { /* flush: fsync, or fdatasync */
		if (rnd(r, 2)) {
			snprintf(what, sizeof(what), "commit");
			do_commit(r, st);
		} else {
			snprintf(what, sizeof(what), "sync_data");
			do_sync_data(r, st);
		}
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
	run_start(r);
	for (r->nops = 0; r->nops < nops && !r->diverged && r->c; r->nops++)
		op_one(r, st);
	r->mio->recording = false;
}

static void setup_run(struct run *r, uint64_t seed, unsigned widx)
{
	run_init(r, seed, widx);
	/* 4 KiB clusters (one node a cluster) in five of eight workloads;
	 * 64 KiB (3), 16 KiB (1) and 8 KiB (7) clusters with 4 KiB nodes, so
	 * that several map nodes and table blocks share a metadata cluster
	 * (core/alloc_slab.c); two in eight with compressed disks. */
	r->shift = widx % 8 == 3   ? 16
		   : widx % 8 == 1 ? 14
		   : widx % 8 == 7 ? 13
				   : 12;
	r->opts.cluster_shift = r->shift;
	r->opts.compress_disks = widx % 8 == 5 || widx % 8 == 6;
	r->max_size = r->shift == 12   ? 12 * 4096
		      : r->shift == 16 ? 3 * 65536
				       : 6ull << r->shift;
	/* snapshot workloads: 64 KiB clusters (3), compressed disks (6),
	 * and every one run again encrypted (0, 4: ENC_EVERY is 20) */
	r->snapshots = widx % 8 == 0 || widx % 8 == 3 || widx % 8 == 4 ||
		       widx % 8 == 6;
	/* one in eight workloads (0 and 4 mod 16: 4 KiB clusters, one in
	 * five of them encrypted) also acts as a daemon does (handles open
	 * around a snapshot, views held: crash_daemon.c); one in 32 of them
	 * keeps up to MAX_MSNAP snapshots.  Each crash state reads every
	 * snapshot back, so these cost the most: the budget allows no more
	 * (the scripted daemon family has 12 alive in half its workloads) */
	r->daemon = widx % 16 == 0 || widx % 16 == 4;
	if (widx % 32 == 4)
		r->max_snaps = MAX_MSNAP;
}

/* The length of random workload `w` (the same for its plain and encrypted
 * runs and for HANGAR_CRASH_ONLY=w, so a failure replays): 200 operations
 * in long mode, and in the plain CI run for one workload in
 * LONG_RANDOM_EVERY (the "random 200-operation runs"); else short. */
#define LONG_RANDOM_EVERY 100

int random_nops(uint64_t seed, unsigned w, bool long_mode, bool sanitized)
{
	struct run probe;
	setup_run(&probe, seed, w);
	if (long_mode)
		return 200;
	if (sanitized)
		return 3 + (int)rnd(&probe, 10);
	if (w % LONG_RANDOM_EVERY == LONG_RANDOM_EVERY - 1)
		return 200;
	if (probe.max_snaps > MSNAP_USUAL) /* long enough to reach 12 */
		return 20 + (int)rnd(&probe, 12);
	return 6 + (int)rnd(&probe, 22);
}

uint64_t g_snap_random_workloads, g_snap_random_states;

/* One workload: record, replay its crash states. */
void one_workload(uint64_t seed, unsigned widx, int nops, bool broken,
		  bool verbose, struct stats *st)
{
	struct run r;
	setup_run(&r, seed, widx);
	r.verbose = verbose;
	run_workload(&r, st, nops);
	const uint64_t s0 = st->states;
	if (!r.diverged)
		run_replay(&r, st, broken);
	if (r.snap_ops) {
		g_snap_random_workloads++;
		g_snap_random_states += st->states - s0;
	}
	if (verbose || env_on("HANGAR_CRASH_TRACE"))
		fprintf(stderr,
			"w%u: %d ops, %zu log ops, %zu commits, %llu "
			"states so far\n",
			widx, r.nops, r.mio->log_num, r.nsnaps - 1,
			(unsigned long long)st->states);
	run_free(&r);
}
