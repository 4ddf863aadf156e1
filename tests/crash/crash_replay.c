/*
 * crash_replay.c -- crash images and their replay (crash.h).
 */
#include "crash.h"

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
uint64_t g_extended;
bool g_lose_punches;

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
		if (g_lose_punches && (op->mode & FALLOC_FL_PUNCH_HOLE))
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

	/* every other state opens lazily: verify_live then reads through
	 * the committed blocks (map.c cold_lookup), and the commit below
	 * walks the trees and finishes the recovery late */
	const bool lazy = st->states & 1;
	struct container_options ropts = {
		TEST_MAP_CACHE, .master = r->opts.master, .lazy_maps = lazy};
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
	if (st->perturb_snap)
		model_snap_perturb(&e);
	struct allow a = {.r = r,
			  .from = exp->mut_seq,
			  .win_end = (size_t)w->s_next,
			  .garbage = garbage,
			  .lenient = &st->lenient};
	bool live_ok = verify_live(c, &e, &a, why, sizeof(why));
	model_free(&e);
	if (!live_ok)
		goto out;
	int ret = lazy ? container_commit(c) : 0;
	if (ret) {
		snprintf(why, sizeof(why), "lazy walk and recovery: %d", ret);
		goto out;
	}
	ret = container_close(c);
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
void crash_workload(struct run *r, struct stats *st, bool broken)
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
