/*
 * crash_seq.c -- the systematic workloads of test_crash (crash.h).
 */
#include "crash.h"

/* ---- systematic workloads -------------------------------------------------
 *
 * The base family: every sequence of 1-3 operations from the 14 below, with
 * one flush (container_commit) inserted at each possible position (before
 * the first operation, which on the committed base is no flush at all,
 * between two, or after the last): 14*2 + 196*3 + 2744*4 = 11592
 * (sequence, position) pairs.
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
 *
 * The snapshot family: every sequence of 1-3 of the 17 operations (the 14
 * and snapshot-create, snapshot-delete, rollback) with at least one
 * snapshot operation in it, on the base plus snapshot s0 (seq_setup:
 * taken of the files as written, or of a saved guest -- a checkpoint --,
 * then one disk cluster rewritten after it).
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
	S_NUM,	       /* the 14 above: the base family */
	/* the snapshot family adds: */
	S_SNAP_CREATE = S_NUM, /* container_snapshot_create s<k+1> */
	S_SNAP_DELETE,	       /* container_snapshot_delete, the newest */
	S_ROLLBACK,	       /* container_snapshot_rollback, the newest */
	S_ALL
};

/* The base a sequence starts from (seq_setup). */
enum snap_base {
	SNAP_BASE_NONE,	   /* the base family's: no snapshot */
	SNAP_BASE_WRITING, /* s0 with memory.save as written (unsealed) */
	SNAP_BASE_SAVED,   /* s0 of a saved guest: a checkpoint */
};

static const char *const SOP_NAME[S_ALL] = {
	"alloc-write",	   "overwrite",	  "compressed-write",
	"punch",	   "truncate-up", "truncate-down",
	"flush",	   "seal",	  "save-delete",
	"resume",	   "create",	  "unlink",
	"rename",	   "move-image",  "snapshot-create",
	"snapshot-delete", "rollback",
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
static void seq_setup(struct run *r, struct stats *st, bool sealed,
		      enum snap_base snap)
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
	if (snap != SNAP_BASE_NONE && !r->diverged) {
		/* the snapshot family's base: snapshot s0 of the files --
		 * of a saved guest (memory.save sealed first) or with
		 * memory.save as written --, then disk.raw's cluster 5
		 * rewritten, so that the live state differs from s0 and
		 * owns one cluster while s0 shares every other (the first
		 * overwrite or punch of a sequence copies shared clusters;
		 * of a saved guest, that write makes the live image stale
		 * while s0 keeps it resumable); then the seal, if any */
		if (snap == SNAP_BASE_SAVED)
			do_seal(r, st);
		if (!r->diverged)
			do_snap_create(r, st, "s0", "setup snapshot s0");
		if (!r->diverged)
			seq_write(r, st, d, 5 * cs, cs, false,
				  "setup disk after s0");
	}
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
	case S_SNAP_CREATE: {
		if (m->nsnap == r->max_snaps)
			return false;
		char name[MSNAP_NAME];
		snprintf(name, sizeof(name), "s%d", k + 1);
		snprintf(what, sizeof(what), "snapshot-create %s", name);
		do_snap_create(r, st, name, what);
		break;
	}
	case S_SNAP_DELETE:
	case S_ROLLBACK:
		if (m->nsnap == 0)
			return false;
		snprintf(what, sizeof(what), "%s %s", SOP_NAME[op],
			 m->snap[m->nsnap - 1]->name);
		if (op == S_ROLLBACK)
			do_rollback(r, st, m->nsnap - 1, what);
		else
			do_snap_delete(r, st, m->nsnap - 1, what);
		break;
	default:
		abort();
	}
	op_after(r, st, what);
	return true;
}

/* Record one systematic workload and replay its crash states.  Returns
 * false when the sequence is not meaningful (nothing replayed). */
static bool seq_workload(uint64_t seed, unsigned widx, const uint8_t *ops,
			 int n, bool compress, bool sealed,
			 enum snap_base snap_base, bool broken, bool verbose,
			 struct stats *st)
{
	struct run r;
	run_init(&r, seed, widx);
	r.shift = 12;
	r.opts.cluster_shift = r.shift;
	r.opts.compress_disks = compress;
	r.max_size = 12 * 4096;
	r.verbose = verbose;
	run_start(&r);
	seq_setup(&r, st, sealed, snap_base);
	bool meaningful = true;
	if (!r.diverged) {
		/* the committed base guest becomes the starting point */
		run_rebase(&r);
		for (r.nops = 0; r.nops < n && !r.diverged && r.c; r.nops++) {
			if (!seq_op(&r, st, (enum sop)ops[r.nops], r.nops)) {
				meaningful = false;
				break;
			}
		}
	}
	r.mio->recording = false;
	if (meaningful && !r.diverged)
		run_replay(&r, st, broken);
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

/* Pair number `pair` of length `len` (0 .. kinds^len*(len+1)-1) over the
 * first `kinds` operations: the operations with the flush inserted,
 * normalised.  Returns the number of operations (0: nothing left) and a
 * key unique to the normalised list. */
static int seq_decode(int len, uint32_t pair, uint32_t kinds, uint8_t *out,
		      uint32_t *key)
{
	uint32_t pos = pair % (uint32_t)(len + 1),
		 idx = pair / (uint32_t)(len + 1);
	uint8_t raw[4];
	int n = 0;
	for (int j = 0; j < len; j++) {
		if ((uint32_t)j == pos)
			raw[n++] = S_FLUSH;
		raw[n++] = (uint8_t)(idx % kinds);
		idx /= kinds;
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
		*key = *key * (S_ALL + 1) + out[j] + 1;
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

/* One family of systematic workloads: every pair of length 1-2 over the
 * first `kinds` operations, and of length 3 one in `sample3` (seeded, so
 * each run takes another share; 1 = all); `snap`: the snapshot family --
 * only the sequences with a snapshot operation, on the snapshot base.
 * `both`: each with compression off and on.  `enc_every` (0: none): one
 * meaningful sequence in that many runs again, the same workload (same
 * widx, seed, compression), on an encrypted container. */
static void systematic_family(uint64_t seed, uint32_t kinds, bool snap,
			      unsigned widx, unsigned sample3, bool both,
			      unsigned enc_every, double deadline,
			      struct stats *st, struct seqstats *ss)
{
	static uint8_t
		seen[(S_ALL + 1) * (S_ALL + 1) * (S_ALL + 1) * (S_ALL + 1)];
	const bool trace = env_on("HANGAR_CRASH_SEQ_TRACE");
	memset(seen, 0, sizeof(seen));
	for (int len = 1; len <= 3; len++) {
		uint32_t pairs = (uint32_t)(len + 1);
		for (int j = 0; j < len; j++)
			pairs *= kinds;
		for (uint32_t p = 0; p < pairs; p++) {
			uint8_t ops[4];
			uint32_t key;
			int n = seq_decode(len, p, kinds, ops, &key);
			bool has_snap = false;
			for (int j = 0; j < n; j++)
				has_snap |= ops[j] >= S_NUM;
			if (snap && !has_snap)
				continue; /* the base family's */
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
			if (n == 0 || seen[key]) {
				ss->dups++;
				continue;
			}
			seen[key] = 1;
			/* sealed base when it resumes before it seals (or,
			 * in the snapshot family, before it rolls back:
			 * then s0 is of a saved guest, the checkpoint the
			 * rollback brings back to resume) */
			bool sealed = false, checkpoint = false;
			for (int j = 0; j < n && ops[j] != S_SEAL && !sealed &&
					!checkpoint;
			     j++) {
				if (ops[j] == S_ROLLBACK)
					checkpoint = true;
				else if (ops[j] == S_RESUME)
					sealed = true;
			}
			char desc[160];
			seq_describe(ops, n, desc, sizeof(desc));
			/* the snapshot family: s0 of a saved guest for
			 * one sequence in two (seeded), unless it resumes
			 * the live image (sealed after s0) */
			enum snap_base base = SNAP_BASE_NONE;
			if (snap)
				base = checkpoint || (!sealed &&
						      (mix64(seed ^ key ^
							     0x5a) &
						       1))
					       ? SNAP_BASE_SAVED
					       : SNAP_BASE_WRITING;
			for (int v = 0; v < (both ? 2 : 1); v++) {
				bool compress =
					both ? v == 1 : (mix64(seed ^ key) & 1);
				uint64_t s0 = st->states;
				bool ok = seq_workload(seed, widx++, ops, n,
						       compress, sealed, base,
						       false, false, st);
				if (trace)
					fprintf(stderr,
						"seq [%s]%s%s%s: %s, %llu "
						"states\n",
						desc,
						base == SNAP_BASE_SAVED
							? " snapshot-saved"
						: base ? " snapshot"
						       : "",
						sealed ? " sealed" : "",
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
							compress, sealed, base,
							false, false, st);
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

/* The base family: every sequence of the 14 base operations. */
void run_systematic(uint64_t seed, unsigned sample3, bool both,
		    unsigned enc_every, double deadline, struct stats *st,
		    struct seqstats *ss)
{
	systematic_family(seed, S_NUM, false, 3000000, sample3, both, enc_every,
			  deadline, st, ss);
}

/* The snapshot family: every sequence of the 17 operations with at least
 * one snapshot operation in it, on the snapshot base. */
void run_systematic_snap(uint64_t seed, unsigned sample3, bool both,
			 unsigned enc_every, double deadline, struct stats *st,
			 struct seqstats *ss)
{
	systematic_family(seed, S_ALL, true, 5000000, sample3, both, enc_every,
			  deadline, st, ss);
}

/* HANGAR_CRASH_SEQ="op,op,..[,sealed][,compressed]": one systematic
 * workload, verbose. */
int run_one_sequence(uint64_t seed, const char *spec, struct stats *st)
{
	uint8_t ops[8];
	int n = 0;
	bool sealed = false, compress = false;
	enum snap_base snap = SNAP_BASE_NONE;
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
		if (strcmp(t, "snapshot") == 0 ||
		    strcmp(t, "snapshot-saved") == 0) {
			snap = t[8] ? SNAP_BASE_SAVED : SNAP_BASE_WRITING;
			continue;
		}
		int k;
		for (k = 0; k < S_ALL && strcmp(SOP_NAME[k], t); k++)
			;
		if (k == S_ALL || n == 8) {
			fprintf(stderr, "HANGAR_CRASH_SEQ: unknown op %s\n", t);
			return 2;
		}
		ops[n++] = (uint8_t)k;
	}
	bool ok = seq_workload(seed, 3000000, ops, n, compress, sealed, snap,
			       false, true, st);
	if (!ok)
		fprintf(stderr, "sequence not meaningful\n");
	return 0;
}

/* Teeth for the systematic workloads: on the disk that ignores the
 * pre-superblock sync (`broken`), or with a broken core on an honest disk,
 * the length-1-2 sequences must be caught. */
void seq_teeth_on(uint64_t seed, bool broken, struct stats *st)
{
	unsigned widx = 4000000;
	for (int len = 1; len <= 2 && st->failures == 0; len++) {
		uint32_t pairs = (uint32_t)(len + 1);
		for (int j = 0; j < len; j++)
			pairs *= S_NUM;
		for (uint32_t p = 0; p < pairs && st->failures == 0; p++) {
			uint8_t ops[4];
			uint32_t key;
			int n = seq_decode(len, p, S_NUM, ops, &key);
			if (n)
				seq_workload(seed, widx++, ops, n, false, false,
					     SNAP_BASE_NONE, broken, false, st);
		}
	}
}

void seq_teeth(uint64_t seed, struct stats *st)
{
	seq_teeth_on(seed, true, st);
}

/*
 * A partial write into a punched cluster (test_crash.c's lost-punch
 * teeth): 64 KiB clusters; cluster 0 of disk.raw written whole and
 * committed, then discarded (punch) and committed -- its cluster is held
 * by that commit; the next (idle, superblock only) releases and punches it
 * -- then a 4 KiB write into a hole, which takes the punched cluster
 * (alloc.c invariant 8) and writes only its own page, and a commit.  On an
 * honest disk every crash state holds; on one that never lands a punch
 * (g_lose_punches) the cluster's old bytes show around that page once the
 * last commit is durable.  Returns the workload's failures.
 */
uint64_t punch_reuse_workload(uint64_t seed, struct stats *st)
{
	const uint64_t f0 = st->failures;
	struct run r;
	run_init(&r, seed, 4000000);
	r.shift = 16;
	r.opts.cluster_shift = r.shift;
	r.max_size = 3 * 65536;
	const uint64_t cs = 1ull << r.shift;
	uint8_t *buf = xmalloc(cs);
	for (uint64_t i = 0; i < cs; i++)
		buf[i] = (uint8_t)(mix64(seed + i) | 1);
	run_start(&r);
	int d = ensure_object(&r, st, "disk.raw");
	if (d >= 0 && !r.diverged) {
		op_data_write_buf(&r, st, d, 0, cs, buf, "write cluster 0");
		op_after(&r, st, "write cluster 0");
	}
	if (!r.diverged)
		do_commit(&r, st);
	if (!r.diverged) {
		do_punch(&r, st, d, 0, cs, "punch cluster 0");
		op_after(&r, st, "punch cluster 0");
	}
	for (int k = 0; k < 2 && !r.diverged; k++)
		do_commit(&r, st);
	if (!r.diverged) {
		op_data_write_buf(&r, st, d, 2 * cs + 8192, 4096, buf + 8192,
				  "4 KiB into a hole");
		op_after(&r, st, "4 KiB into a hole");
	}
	if (!r.diverged)
		do_commit(&r, st);
	r.mio->recording = false;
	if (!r.diverged)
		run_replay(&r, st, false);
	run_free(&r);
	free(buf);
	return st->failures - f0;
}
