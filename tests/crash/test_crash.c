/*
 * test_crash.c -- crash-state replay harness for the container: the driver
 * (the pieces are listed in crash.h).
 *
 * A workload drives a container through the public API (container.h,
 * savelock.h) on a RECORDING memio while an oracle keeps a byte-exact model
 * of every object, its generation, and of the save lock (each image's seal,
 * the spent fingerprints; see "the oracle" in crash_model.c).  Every commit
 * the core performs is found in the operation log (the 512-byte superblock
 * pwrite and the fdatasync after it) and paired with the model state it
 * must have made durable.  Then, for every crash point, crash images are built from the log
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
 *   HANGAR_CRASH_SNAP_ONLY=1, HANGAR_CRASH_SNAP_BUDGET=S, ..._SNAP_SEQ3=N
 *                           the snapshot family (crash_seq.c)
 *   HANGAR_CRASH_DAEMON_ONLY=1, HANGAR_CRASH_DAEMON_BUDGET=S (default 30)
 *                           the daemon and clone families (crash_daemon.c)
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
#include "crash.h"

/* the snapshot family's length-3 share in the plain run: one in this many */
#ifndef SNAP_SEQ3
#define SNAP_SEQ3 12
#endif

/* ---- driver -------------------------------------------------------------- */

struct crypto_key *g_master; /* crash.h */
bool g_enc;

double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

bool env_on(const char *name)
{
	const char *v = getenv(name);
	return v && v[0] && strcmp(v, "0") != 0;
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

	/* ... and a disk that never lands a punch: a partial write into a
	 * hole that reuses a cluster this process punched writes only its
	 * own page, so the cluster's old bytes come back in the crash images
	 * (proves the replay sees a lost punch; the live container reads the
	 * memio, which did punch).  The same workload on an honest disk must
	 * hold in every state, so what fails is the lost punch alone. */
	struct stats pteeth = {.quiet = teeth.quiet};
	struct stats phonest = {0};
	const uint64_t punch_honest = punch_reuse_workload(seed, &phonest);
	g_lose_punches = true;
	punch_reuse_workload(seed, &pteeth);
	g_lose_punches = false;
	fprintf(stderr,
		"crash teeth: a partial write into a punched cluster gave %llu "
		"failures in %llu states on an honest disk (must be 0), %llu "
		"in %llu on a disk that loses punches (must be > 0)\n",
		(unsigned long long)punch_honest,
		(unsigned long long)phonest.states,
		(unsigned long long)pteeth.failures,
		(unsigned long long)pteeth.states);

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

	/* ... also when the byte is in a snapshot (proves every snapshot is
	 * read back in the crash states) */
	struct stats snteeth = {.quiet = teeth.quiet, .perturb_snap = true};
	for (unsigned w = 0; w < 40 && snteeth.failures == 0; w++)
		one_workload(seed, 2000000 + w, 12, false, false, &snteeth);
	fprintf(stderr,
		"crash teeth: an oracle off by one byte in a snapshot gave "
		"%llu failures in %llu states (must be > 0)\n",
		(unsigned long long)snteeth.failures,
		(unsigned long long)snteeth.states);

	/* ... also when the byte is in a held view, checked after every
	 * operation (proves the held views are read back) */
	struct stats vteeth = {.quiet = teeth.quiet, .perturb_view = true};
	for (unsigned w = 0; w < 64 && vteeth.failures == 0; w++)
		if ((2000000 + w) % 16 == 0 || (2000000 + w) % 16 == 4 ||
		    (2000000 + w) % 16 == 6)
			one_workload(seed, 2000000 + w, 24, false, false,
				     &vteeth);
	fprintf(stderr,
		"crash teeth: an oracle off by one byte in a held snapshot "
		"view gave %llu failures in %llu states (must be > 0)\n",
		(unsigned long long)vteeth.failures,
		(unsigned long long)vteeth.states);

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
	g_snap_random_workloads = g_snap_random_states = 0;
	unsigned w = 0;
	bool out_of_time = false;
	const bool daemon_only = env_on("HANGAR_CRASH_DAEMON_ONLY");
	const bool snap_only = env_on("HANGAR_CRASH_SNAP_ONLY") || daemon_only;
	const bool seq_only = env_on("HANGAR_CRASH_SEQ_ONLY") || snap_only;
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
	if (!snap_only)
		run_systematic(seed, sample3, long_mode, enc_every, t0 + budget,
			       &sq, &ss);
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

	/* The snapshot family: every sequence of the 17 operations with a
	 * snapshot create, delete or rollback in it, on a base holding
	 * snapshot s0 -- all of length 1-2, of length 3 a seeded 1-in-N
	 * share (HANGAR_CRASH_SNAP_SEQ3=N; long mode: all), within its own
	 * budget (HANGAR_CRASH_SNAP_BUDGET, default 50 s) after the rest. */
	struct stats sn = {0};
	struct seqstats sns = {0};
	unsigned snap3 = long_mode ? 1 : sanitized ? 48 : SNAP_SEQ3;
	const char *n3 = getenv("HANGAR_CRASH_SNAP_SEQ3");
	if (n3 && n3[0])
		snap3 = (unsigned)strtoul(n3, NULL, 0);
	if (snap3 == 0)
		snap3 = 1;
	double snap_budget = long_mode ? 3600 : 50;
	const char *sb = getenv("HANGAR_CRASH_SNAP_BUDGET");
	if (sb && sb[0])
		snap_budget = strtod(sb, NULL);
	const double t_snap0 = now_s();
	if (!daemon_only)
		run_systematic_snap(seed, snap3, long_mode, enc_every,
				    t_snap0 + snap_budget, &sn, &sns);
	const double dt_snap = now_s() - t_snap0;
	fprintf(stderr,
		"crash snapshots: systematic: %llu (sequence, flush position) "
		"pairs with a snapshot operation (length 3: %s), %llu "
		"identical after normalising, %llu not meaningful, %llu run "
		"(%llu of length 1-2, %llu of length 3, %llu run again "
		"encrypted), %llu states, %.1f s%s; random: %llu workloads "
		"with snapshot operations, %llu states; all workloads: %llu "
		"snapshots taken, %llu deleted, %llu rollbacks (%llu setting "
		"aside a memory.save the snapshot caught being written)\n",
		(unsigned long long)sns.pairs,
		snap3 > 1 ? "a seeded 1-in-N share" : "all",
		(unsigned long long)sns.dups, (unsigned long long)sns.pointless,
		(unsigned long long)sns.run, (unsigned long long)sns.run12,
		(unsigned long long)sns.run3, (unsigned long long)sns.enc_run,
		(unsigned long long)sn.states, dt_snap,
		sns.out_of_time ? " (budget reached: the rest skipped)" : "",
		(unsigned long long)g_snap_random_workloads,
		(unsigned long long)g_snap_random_states,
		(unsigned long long)g_cover[COV_SNAP_CREATED],
		(unsigned long long)g_cover[COV_SNAP_DELETED],
		(unsigned long long)g_cover[COV_ROLLED_BACK],
		(unsigned long long)g_cover[COV_ROLLBACK_SET_ASIDE]);
	/* What a daemon does around snapshots (crash_daemon.c): the
	 * scripted family (a file open with unflushed writes when a
	 * snapshot is taken, views held, 12 snapshots; a seeded half of
	 * its 24 combinations, long mode all) and clones (2; long mode
	 * 64), within their own budget (HANGAR_CRASH_DAEMON_BUDGET,
	 * default 30 s). */
	struct stats dn = {0};
	struct daemon_stats ds = {0};
	double daemon_budget = long_mode ? 3600 : 30;
	const char *db = getenv("HANGAR_CRASH_DAEMON_BUDGET");
	if (db && db[0])
		daemon_budget = strtod(db, NULL);
	const double t_daemon0 = now_s();
	run_daemon_family(seed, long_mode ? 1 : 2, t_daemon0 + daemon_budget,
			  &dn, &ds);
	run_clone_family(seed, long_mode ? 64 : 2, t_daemon0 + daemon_budget,
			 &dn, &ds);
	fprintf(stderr,
		"crash daemon: scripted: %llu workloads, %llu states; clones: "
		"%llu workloads, %llu states; %.1f s%s; all workloads: %llu "
		"snapshots taken with a file open and writes not flushed, %llu "
		"rollbacks refused busy, %llu last closes that committed, "
		"%llu held-view read-backs, %llu deletes of a viewed snapshot "
		"refused busy, up to %llu snapshots alive, %llu files cloned\n",
		(unsigned long long)ds.run, (unsigned long long)ds.states,
		(unsigned long long)ds.clone_run,
		(unsigned long long)ds.clone_states, now_s() - t_daemon0,
		ds.out_of_time ? " (budget reached: the rest skipped)" : "",
		(unsigned long long)g_cover[COV_SNAP_WRITER],
		(unsigned long long)g_cover[COV_ROLLBACK_BUSY],
		(unsigned long long)g_cover[COV_RELEASE_SETTLED],
		(unsigned long long)g_cover[COV_VIEW_CHECKS],
		(unsigned long long)g_cover[COV_VIEW_BUSY],
		(unsigned long long)g_cover[COV_SNAP_MAX],
		(unsigned long long)g_cover[COV_CLONED]);
	const double dt_all = now_s() - t0;
	for (int f = 0; f < 3; f++) {
		const struct stats *x = f == 2 ? &dn : f ? &sn : &sq;
		st.states += x->states;
		st.workloads += x->workloads;
		st.failures += x->failures;
		st.commits += x->commits;
		st.windows += x->windows;
		st.enumerated += x->enumerated;
		st.sampled += x->sampled;
		st.at_next += x->at_next;
		st.torn += x->torn;
		st.garbage += x->garbage;
		st.lenient += x->lenient;
	}
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
	       "length 1-2 + %llu of length 3%s; %llu snapshot sequences, "
	       "%llu states; %llu daemon and clone workloads, %llu states), "
	       "%llu states on encrypted "
	       "containers (%llu random + %llu systematic workloads, one in "
	       "%u run again encrypted), %llu failures, %.1f s\n",
	       (unsigned long long)st.states, (unsigned long long)st.workloads,
	       (unsigned long long)(st.workloads - sq.workloads - sn.workloads -
				    dn.workloads),
	       (unsigned long long)sq.workloads, (unsigned long long)ss.run12,
	       (unsigned long long)ss.run3, s3note,
	       (unsigned long long)sn.workloads, (unsigned long long)sn.states,
	       (unsigned long long)dn.workloads, (unsigned long long)dn.states,
	       (unsigned long long)(enc_rand_states + ss.enc_states +
				    sns.enc_states),
	       (unsigned long long)enc_rand,
	       (unsigned long long)(ss.enc_run + sns.enc_run), enc_every,
	       (unsigned long long)st.failures, dt_all);
	fflush(stdout);
	crypto_key_free(g_master);
	CHECK(teeth.failures > 0);
	CHECK(pteeth.failures > 0);
	CHECK_EQ(punch_honest, 0);
	CHECK(oteeth.failures > 0);
	CHECK(steeth.failures > 0);
	CHECK(snteeth.failures > 0);
	CHECK(vteeth.failures > 0);
	CHECK(sector_ok);
	if (enc_every) {
		CHECK(eteeth.failures > 0);
		CHECK(eoteeth.failures > 0);
	}
	CHECK_EQ(st.failures, 0);
	return 0;
}
