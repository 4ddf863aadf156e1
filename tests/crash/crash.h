/*
 * crash.h -- what the pieces of test_crash share (the harness and its crash
 * model are described in test_crash.c and tests/crash/README.md).  One
 * executable, several files:
 *
 *   test_crash.c     the driver: environment, budget, teeth, the figures,
 *                    and the switches every piece reads (g_enc, g_master);
 *   crash_model.c    the oracle: a byte-exact model of every object, its
 *                    generation and the save lock (seals, pins, adoption,
 *                    spent fingerprints), the snapshots (each the model
 *                    frozen by the commit that took it; rollback), and
 *                    what the model went through (g_cover);
 *   crash_verify.c   a live or reopened container compared with the model,
 *                    with what unsynced writes may have left (struct allow),
 *                    every snapshot read back strictly, and sector_teeth,
 *                    the unit test of that allowance;
 *   crash_ops.c      a workload run on a recording memio: each do_* makes
 *                    one public-API call, predicts its return and its
 *                    commits (note_commits) and keeps the model in step;
 *   crash_random.c   the random workloads (op_one) and one_workload;
 *   crash_seq.c      the systematic workloads: every sequence of 1-3
 *                    operations with a flush at each position, and the
 *                    snapshot family (sequences with a snapshot create,
 *                    delete or rollback, on a base holding a snapshot);
 *   crash_daemon.c   what a daemon does around snapshots: a file open for
 *                    writing with unflushed writes when one is taken
 *                    (do_daemon_burst), snapshot views held open across
 *                    operations, up to 12 snapshots alive, and clones
 *                    (one container's files copied into another); the
 *                    scripted daemon family and the clone family;
 *   crash_replay.c   the crash images built from a run's log and replayed
 *                    (crash_workload): every crash state reopened, checked
 *                    and compared with the model it must show.
 *
 * One thread; the globals below are the test's state, reset by main
 * between the teeth and the real run.
 */
#ifndef HANGAR_TESTS_CRASH_H
#define HANGAR_TESTS_CRASH_H

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

/* ---- the driver (test_crash.c) ------------------------------------------ */

/* Encrypted containers: while g_enc is set, the workloads are created,
 * reopened, checked and recovered under g_master, the store's master key.
 * The same workloads (same seeds) run plain and encrypted. */
extern struct crypto_key *g_master;
extern bool g_enc;
double now_s(void);
bool env_on(const char *name);

/* ---- the oracle (crash_model.c) ------------------------------------------ */

/* What the save-lock model went through (the real run's workloads only):
 * printed as the "crash save lock:" line. */
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
	COV_RESUME_ADOPTED,	/* files adopted by the commit a resume makes
			     * first */
	COV_RESUME_BUSY,	/* resumes refused -EBUSY (a file that arrived
			     * after the seal is not pinned) */
	COV_SNAP_CREATED,	/* snapshots taken */
	COV_SNAP_DELETED,	/* snapshots deleted */
	COV_ROLLED_BACK,	/* rollbacks */
	COV_ROLLBACK_SET_ASIDE, /* rollbacks to a snapshot that caught
				 * memory.save being written (set aside) */
	COV_SNAP_WRITER,	/* snapshots taken while a file was open for
				 * writing with writes not flushed */
	COV_ROLLBACK_BUSY,	/* rollbacks refused -EBUSY (a file open) */
	COV_RELEASE_SETTLED,	/* last write closes that committed (a file
				 * that may become an image) */
	COV_VIEW_CHECKS,	/* held views read back after an operation */
	COV_VIEW_BUSY,		/* deletes refused -EBUSY (a view held) */
	COV_SNAP_MAX,		/* most snapshots alive at once */
	COV_CLONED,		/* files cloned into another container */
	COV_NUM
};

extern uint64_t g_cover[COV_NUM];
extern uint64_t g_cover_why[SAVE_WHY_MAX + 1]; /* invalidations by why */
extern size_t g_cover_spent;		       /* most spent fingerprints */
/* The order of content changes (core's changed_at, CLOCK_REALTIME at each
 * write, truncate and punch): only compared within one run. */
extern uint64_t g_tick;

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
	int writers;  /* open write handles (object_open for_write): a
		       * SAVED seal does not adopt a file being written */
	uint8_t *data;
	size_t size, cap;
	struct mseal *seal; /* NULL unless sealed once */
};

#define MAX_SPENT FORMAT_MAX_SPENT
/* snapshots a workload keeps at once (core allows 256; a few cover the
 * sharing, and each one is read back in every crash state): most
 * workloads keep up to MSNAP_USUAL, the many-snapshot ones up to
 * MAX_MSNAP, created and deleted out of order */
#define MAX_MSNAP   12
#define MSNAP_USUAL 4
#define MSNAP_NAME  16
/* snapshot views a workload holds open at once */
#define MAX_VIEWS 4

struct msnap;

struct model {
	struct mobj o[MAX_OBJ];
	int n;	      /* identities ever created (never reused) */
	uint64_t gen; /* the container's last committed generation */
	int nspent;   /* spent images, newest first */
	struct blob *spent[MAX_SPENT];
	/* Snapshots, oldest first: each the frozen model of the commit that
	 * took it (shared, immutable).  snap_pending: the name the next
	 * commit takes (container_snapshot_create's one commit). */
	int nsnap;
	struct msnap *snap[MAX_MSNAP];
	char snap_pending[MSNAP_NAME];
};

/* A snapshot: the model as of the commit that took it (its objects,
 * contents, generations and seals; no snapshots and no spent list of its
 * own, as a frozen table holds neither). */
struct msnap {
	unsigned refs;
	char name[MSNAP_NAME];
	struct model m;
};

/* The model's calls; each one's rule is above its definition in
 * crash_model.c.  xmalloc and friends abort on failure (a test). */
void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
uint8_t *dup_bytes(const uint8_t *p, size_t n);
void model_init(struct model *m);
void model_free(struct model *m);
void model_copy(struct model *dst, const struct model *src);
int model_find(const struct model *m, const char *name);
bool is_name(const struct mobj *o, const char *name);
int model_new(struct model *m, const char *name, uint64_t cid);
void model_remove(struct model *m, int i);
void model_resize(struct mobj *o, size_t size);
void model_write(struct mobj *o, uint64_t off, uint64_t len,
		 const uint8_t *data);
struct mseal *model_live_seal(const struct model *m);
bool seal_active(const struct mseal *s);
bool model_pinned(const struct model *m, int i);
enum save_state model_state_of(const struct model *m, int *out_img,
			       enum save_why *out_why, bool *out_unsealed);
enum save_state model_state(const struct model *m);
bool pin_eligible(const struct model *m, int i);
bool pins_hold(const struct model *m, const struct mseal *s,
	       enum save_why *out_why);
int model_seal_fresh(struct model *m, int i, bool check_age);
void model_commit(struct model *m);
bool model_transition(struct model *m, int i);
bool model_relevant(const struct model *m, int i, const char *name);
bool model_rename_locked(struct model *m, int i, const char *to);
int model_recover(struct model *m);
bool model_equal(const struct model *a, const struct model *b);
bool model_equal_contents(const struct model *a, const struct model *b);
int model_snap_find(const struct model *m, const char *name);
bool model_snap_perturb(struct model *m);
struct msnap *msnap_ref(struct msnap *s);
void msnap_unref(struct msnap *s);
bool model_view_perturb(struct msnap **s);
void model_snap_delete(struct model *m, int k);
int model_rollback(struct model *m, int k);
uint64_t container_generation(struct container *c);

/* ---- a workload run (crash_ops.c) --------------------------------------- */

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

/* a snapshot view held open (container_snapshot_open) and the frozen
 * model it must keep reading */
struct hview {
	struct container *v;
	struct msnap *s;
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
	bool snapshots; /* the workload takes, deletes and rolls back to
			 * snapshots */
	int snap_ops;	/* snapshot operations it made */
	int max_snaps;	/* snapshots it keeps at once (<= MAX_MSNAP) */
	bool daemon;	/* it also writes through open handles around
			 * snapshots and holds views (crash_daemon.c) */
	int nviews;
	struct hview views[MAX_VIEWS];
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
	bool perturb_snap; /* ... in a snapshot */
	bool perturb_view; /* ... in a held view, after each operation */
};

/* fail_msg - count a failure in `st` and print it (at most MAX_REPORTS,
 * none when st->quiet). */
void fail_msg(struct stats *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
uint64_t rnd(struct run *r, uint64_t n);
uint64_t mix64(uint64_t x);
bool is_sb_write(const struct memio_op *op);
void push_snap(struct run *r, const struct model *m, long sync_idx,
	       long sb_idx);
void op_data_write_buf(struct run *r, struct stats *st, int i, uint64_t off,
		       uint64_t len, const uint8_t *buf, const char *what);
enum commit_kind {
	CK_NONE,   /* the op must not commit */
	CK_TRANS,  /* commits `trans` first (save transition), then data */
	CK_FINAL,  /* commits the final model `expect` times */
	CK_COMMIT, /* container_commit / close: 0 or 1 commit, or a data sync */
};
/* note_commits - find the commits the call that started at log[l0]
 * performed and pair them with the model (crash_ops.c); check_ret - its
 * return code against the oracle's.  Both mark divergence on
 * disagreement. */
bool note_commits(struct run *r, struct stats *st, const char *what, size_t l0,
		  enum commit_kind kind, struct model *trans, int expect);
bool check_ret(struct run *r, struct stats *st, const char *what, int got,
	       int want);
/* The operations: each do_* makes one public-API call, predicts its return
 * code and the commits it must make, and updates r->m; op_after then
 * compares the live container with it.  The random and the systematic
 * workloads both use them. */
int ensure_object(struct run *r, struct stats *st, const char *name);
void do_punch(struct run *r, struct stats *st, int i, uint64_t off,
	      uint64_t len, const char *what);
void do_truncate(struct run *r, struct stats *st, int i, uint64_t size,
		 const char *what);
void do_create(struct run *r, struct stats *st, const char *name,
	       const char *what);
void do_unlink(struct run *r, struct stats *st, int i, const char *what);
void do_rename(struct run *r, struct stats *st, int i, const char *to,
	       const char *what);
void do_commit(struct run *r, struct stats *st);
void do_sync_data(struct run *r, struct stats *st);
void op_data_copy(struct run *r, struct stats *st, int src, int dst,
		  uint64_t len, const uint8_t *buf, const char *what);
bool seal_changes(const struct model *m);
void do_seal(struct run *r, struct stats *st);
void do_resume(struct run *r, struct stats *st);
void do_discard(struct run *r, struct stats *st);
void do_reopen(struct run *r, struct stats *st);
void do_snap_create(struct run *r, struct stats *st, const char *name,
		    const char *what);
void do_snap_delete(struct run *r, struct stats *st, int k, const char *what);
void do_rollback(struct run *r, struct stats *st, int k, const char *what);
void op_after(struct run *r, struct stats *st, const char *what);
/* crash_daemon.c: handles, views (each checks the oracle like the do_*
 * above) */
void do_open(struct run *r, struct stats *st, int i, const char *what);
void do_release(struct run *r, struct stats *st, int i, const char *what);
void do_view_open(struct run *r, struct stats *st, int k, const char *what);
void do_view_close(struct run *r, struct stats *st, int j);
void views_close_all(struct run *r);
int views_of(const struct run *r, const char *name);
bool views_check(struct run *r, struct stats *st, const char *what);
void do_daemon_burst(struct run *r, struct stats *st, char *what, size_t wl);
void daemon_op(struct run *r, struct stats *st, char *what, size_t wl);
struct daemon_stats {
	uint64_t run, states, clone_run, clone_states;
	bool out_of_time;
};
void run_daemon_family(uint64_t seed, unsigned share, double deadline,
		       struct stats *st, struct daemon_stats *ds);
void run_clone_family(uint64_t seed, unsigned n, double deadline,
		      struct stats *st, struct daemon_stats *ds);
/*
 * A run's life: run_init (seeded from the seed and the workload's index;
 * the caller then sets shift, opts and max_size), run_start (create and
 * commit the container, make it the base, start recording), the
 * operations, then run_replay if the run did not diverge (every crash
 * state, unless HANGAR_CRASH_NO_REPLAY; counted in `st`), and run_free
 * (close, free everything).  run_rebase makes the committed state reached
 * so far the base, so that only what follows is replayed.
 */
void run_init(struct run *r, uint64_t seed, unsigned widx);
void run_start(struct run *r);
void run_rebase(struct run *r);
void run_replay(struct run *r, struct stats *st, bool broken);
void run_free(struct run *r);

/* ---- the random workloads (crash_random.c) ------------------------------- */

/* random_nops - the length of random workload `w` (the same for its plain
 * and encrypted runs); one_workload - record it, then replay its crash
 * states (crash_workload). */
int random_nops(uint64_t seed, unsigned w, bool long_mode, bool sanitized);
void one_workload(uint64_t seed, unsigned widx, int nops, bool broken,
		  bool verbose, struct stats *st);
/* random workloads that made a snapshot operation, and their crash states
 * (the real run's) */
extern uint64_t g_snap_random_workloads, g_snap_random_states;

/* ---- the systematic workloads (crash_seq.c) ------------------------------ */

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

void run_systematic(uint64_t seed, unsigned sample3, bool both,
		    unsigned enc_every, double deadline, struct stats *st,
		    struct seqstats *ss);
void run_systematic_snap(uint64_t seed, unsigned sample3, bool both,
			 unsigned enc_every, double deadline, struct stats *st,
			 struct seqstats *ss);
int run_one_sequence(uint64_t seed, const char *spec, struct stats *st);
void seq_teeth_on(uint64_t seed, bool broken, struct stats *st);
void seq_teeth(uint64_t seed, struct stats *st);
/* punch_reuse_workload - a partial write into a cluster this process
 * punched, replayed; returns its failures (crash_seq.c). */
uint64_t punch_reuse_workload(uint64_t seed, struct stats *st);

/* ---- a container against the model (crash_verify.c) ---------------------- */

struct allow { /* what unsynced writes may have left in committed bytes */
	const struct run *r;
	size_t from;	/* mutations from this index ... */
	size_t win_end; /* ... that started before this log index */
	bool garbage;
	uint64_t *lenient;
};

/* verify_live - is `c` the model `e` (contents, sizes, generations, save
 * lock), with `a` (NULL: nothing) saying what unsynced writes may have
 * left?  false with a sentence in `why`. */
bool verify_live(struct container *c, const struct model *e,
		 const struct allow *a, char *why, size_t wl);
/* verify_view - does view `v` (of snapshot `name`) hold exactly the frozen
 * model `sm`: its objects, generations and bytes? */
bool verify_view(struct container *v, const struct model *sm, const char *name,
		 char *why, size_t wl);
bool sector_teeth(void);

/* ---- the replay (crash_replay.c) ----------------------------------------- */

/* extending writes applied as "size landed, data (partly) not" */
extern uint64_t g_extended;
/* Teeth: a disk that acknowledges an fdatasync but never lands a punch
 * (FALLOC_FL_PUNCH_HOLE): a punched cluster keeps its old bytes in every
 * crash image.  Core relies on a punch being durable once a later fdatasync
 * returned (a partial write into a punched cluster writes only its own
 * pages: FORMAT.md section 7), so the replay must fail on such a disk. */
extern bool g_lose_punches;
/* crash_workload - every crash state of the recorded run `r`, each
 * rebuilt, checked, reopened and compared with the model it must show;
 * `broken`: on a disk that ignores the fdatasync before each superblock
 * write (the teeth). */
void crash_workload(struct run *r, struct stats *st, bool broken);

#endif /* HANGAR_TESTS_CRASH_H */
