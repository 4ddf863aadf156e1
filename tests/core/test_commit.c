/*
 * test_commit.c -- the commit path's edges, on in-memory containers:
 *
 *   1. generation bound: a container crafted near generation 2^63 takes
 *      commits up to 2^63 - 1, then turns read-only (writes -EROFS, one
 *      GENERATIONS_EXHAUSTED event) and stays readable and checkable; never
 *      writes a superblock that open would reject.
 *   2. container_close of a poisoned container returns the poison.
 *   3. group commit: a waiter whose covering commit succeeded returns 0
 *      even when a LATER commit failed before it ran again (it is parked
 *      in a signal handler meanwhile, so the order is forced).
 *   4. a damaged superblock slot: open uses the other one and says so
 *      (SLOT_FALLBACK); a container at generation 1 (slot B never
 *      written) says nothing.  Encrypted: the nonce counter starts past
 *      anything the lost newer commit may have reserved.
 *   5. the older slot reads true bytes after a reopen: a crash between a
 *      commit that freed raw clusters and the commit that retires them,
 *      a reopen that writes new data (first fit: into those clusters), a
 *      crash, then the newest slot rots: the slot open falls back to must
 *      read exactly what it committed.
 *   6. a reopen on a full filesystem keeps a metadata reserve (the
 *      clusters an earlier open fallocated), so a punch still commits.
 *   7. one flush, one commit: at most two fdatasyncs per flush.
 *   8. the I/O counters (container_io_stats): a 4 KiB write + commit is
 *      one data cluster, one map leaf, one table block and one superblock;
 *      N flushes are N superblocks; every counter equals what the recorded
 *      writes hold.
 */
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "hangar/check.h"
#include "container_open.h"
#include "crc32c.h"
#include "crypto.h"
#include "format.h"
#include "harness.h"
#include "internal.h"
#include "memio.h"

#define CS  4096u
#define OBJ 0100600u

#define plain4k                                                                \
	((struct container_options){TEST_MAP_CACHE, .cluster_shift = 12})

/* ---- events -------------------------------------------------------------- */

struct events {
	int count[16];
	char last[16][256];
};

static void on_event(void *arg, const struct container_event *ev)
{
	struct events *e = arg;
	if ((int)ev->type >= 0 && (int)ev->type < 16) {
		e->count[ev->type]++;
		snprintf(e->last[ev->type], sizeof(e->last[ev->type]), "%s",
			 ev->detail ? ev->detail : "");
	}
}

/* ---- superblock helpers --------------------------------------------------- */

static uint64_t slot_off(int slot)
{
	return slot ? FORMAT_SUPERBLOCK_B_OFFSET : FORMAT_SUPERBLOCK_A_OFFSET;
}

static uint64_t slot_gen(const struct memio *m, int slot)
{
	return le64_get(m->data + slot_off(slot) + SB_OFF_GENERATION);
}

static int newest_slot(const struct memio *m)
{
	return slot_gen(m, 1) > slot_gen(m, 0) ? 1 : 0;
}

/* Set a plain slot's generation and recompute its crc. */
static void slot_set_gen(struct memio *m, int slot, uint64_t gen)
{
	uint8_t *sb = m->data + slot_off(slot);
	le64_put(sb + SB_OFF_GENERATION, gen);
	le32_put(sb + SB_OFF_CRC, crc32c(0, sb, SB_OFF_CRC));
}

static void slot_damage(struct memio *m, int slot)
{
	m->data[slot_off(slot) + SB_OFF_COMMIT_TIME] ^= 1;
}

static void fill(uint8_t *b, size_t len, uint8_t salt)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(i * 31 + salt + (i >> 12) * 7);
}

static void read_expect(struct container *c, const char *name,
			const uint8_t *want, size_t len)
{
	uint64_t id;
	size_t got;
	uint8_t *buf = malloc(len);
	CHECK(buf);
	CHECK_OK(object_lookup(c, name, &id));
	CHECK_OK(object_read(c, id, buf, len, 0, &got));
	CHECK_EQ(got, len);
	CHECK(memcmp(buf, want, len) == 0);
	free(buf);
}

static void check_clean(struct memio *m)
{
	struct check_report r;
	CHECK_OK(check_container(&m->io, &r));
	CHECK_EQ(r.errors, 0);
}

/* ---- 1. generation bound --------------------------------------------------- */

static void test_generation_bound(void)
{
	struct memio *m = memio_new();
	struct container *c;
	struct events ev = {0};
	struct container_options o = plain4k;
	uint8_t a[CS], b[CS], z[CS];
	uint64_t id, id2;

	fill(a, CS, 1);
	fill(b, CS, 2);
	fill(z, CS, 3);
	CHECK_OK(container_create(&m->io, &o, &c));
	CHECK_OK(object_create(c, "one", OBJ, 0, 0, &id));
	CHECK_OK(object_write(c, id, a, CS, 0));
	CHECK_OK(container_close(c));
	/* the newest slot now claims generation 2^63 - 4 */
	const uint64_t top = FORMAT_MAX_GENERATION - 1;
	slot_set_gen(m, newest_slot(m), top - 3);

	o.event = on_event;
	o.event_arg = &ev;
	CHECK_OK(container_open(&m->io, &o, &c));
	struct container_info info;
	CHECK_OK(object_create(c, "two", OBJ, 0, 0, &id2));
	CHECK_OK(object_write(c, id2, b, CS, 0));
	CHECK_OK(container_commit(c));
	/* commit until the container says it has no generation left */
	for (int i = 0; i < 4; i++) {
		container_info(c, &info);
		if (info.read_only)
			break;
		CHECK_OK(object_write(c, id, z, CS, 0));
		CHECK_OK(container_commit(c));
	}
	container_info(c, &info);
	CHECK(slot_gen(m, 0) < FORMAT_MAX_GENERATION);
	CHECK(slot_gen(m, 1) < FORMAT_MAX_GENERATION);
	CHECK_EQ(info.generation, top);
	CHECK_EQ(ev.count[CONTAINER_EVENT_GENERATIONS_EXHAUSTED], 1);
	CHECK(info.read_only);
	CHECK_ERR(object_write(c, id2, a, CS, 0), -EROFS);
	CHECK_ERR(object_create(c, "three", OBJ, 0, 0, &id), -EROFS);
	CHECK_OK(container_commit(c));
	CHECK_OK(container_close(c));
	CHECK(slot_gen(m, 0) < FORMAT_MAX_GENERATION);
	CHECK(slot_gen(m, 1) < FORMAT_MAX_GENERATION);

	/* readable, clean, and a read-write open is read-only at once */
	check_clean(m);
	ev = (struct events){0};
	CHECK_OK(container_open(&m->io, &o, &c));
	read_expect(c, "one", z, CS);
	read_expect(c, "two", b, CS);
	CHECK_EQ(ev.count[CONTAINER_EVENT_GENERATIONS_EXHAUSTED], 1);
	CHECK_OK(object_lookup(c, "two", &id2));
	CHECK_ERR(object_write(c, id2, a, CS, 0), -EROFS);
	CHECK_OK(container_close(c));
	memio_free(m);
	printf("generation bound: ok (last generation 2^63 - 1, then "
	       "read-only)\n");
}

/* ---- 2. close reports the poison ------------------------------------------- */

static void test_close_poisoned(void)
{
	struct memio *m = memio_new();
	struct container *c;
	uint8_t a[CS];
	uint64_t id;

	fill(a, CS, 4);
	CHECK_OK(container_create(&m->io, &plain4k, &c));
	CHECK_OK(object_create(c, "f", OBJ, 0, 0, &id));
	CHECK_OK(object_write(c, id, a, CS, 0));
	memio_fail(m, MEMIO_OP_SYNC, 1, -EIO, false);
	CHECK_ERR(container_commit(c), -EIO);
	memio_fail(m, 0, 0, 0, false);
	CHECK_ERR(container_close(c), -EIO);
	memio_free(m);
	printf("close of a poisoned container: -EIO\n");
}

/* ---- 3. group commit: the result of the commit that covered the writes ---- */

static struct memio *gate_m;
static sem_t gate_hold, gate_entered;
static atomic_bool gate_armed;
static sem_t park_entered, park_release;

static void gate_sync(void *arg)
{
	(void)arg;
	if (atomic_exchange(&gate_armed, false)) {
		sem_post(&gate_entered);
		while (sem_wait(&gate_hold) != 0)
			;
	}
}

static void park_handler(int sig)
{
	(void)sig;
	sem_post(&park_entered);
	while (sem_wait(&park_release) != 0)
		;
}

struct committer {
	struct container *c;
	uint64_t id;
	uint8_t salt;
	int result;
};

static void *commit_main(void *arg)
{
	struct committer *t = arg;
	uint8_t b[CS];
	fill(b, CS, t->salt);
	if (t->id)
		CHECK_OK(object_write(t->c, t->id, b, CS, 0));
	t->result = container_commit(t->c);
	return NULL;
}

/* Wait until thread `tid` sleeps in a futex (it waits in container_commit). */
static void wait_blocked(pid_t tid)
{
	char path[64], buf[64];
	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	for (int i = 0; i < 2000; i++) {
		FILE *f = fopen(path, "r");
		if (f) {
			bool futex = fgets(buf, sizeof(buf), f) &&
				     strncmp(buf, "202 ", 4) == 0;
			fclose(f);
			if (futex)
				return;
		}
		usleep(1000);
	}
	CHECK(!"thread never blocked");
}

static _Atomic pid_t waiter_tid;
static void *waiter_main(void *arg)
{
	waiter_tid = gettid();
	return commit_main(arg);
}

static void test_group_commit_result(void)
{
	struct memio *m = memio_new();
	struct container *c;
	uint64_t f1, f2, f3;
	pthread_t lead, waiter, second, late;

	CHECK_OK(container_create(&m->io, &plain4k, &c));
	CHECK_OK(object_create(c, "f1", OBJ, 0, 0, &f1));
	CHECK_OK(object_create(c, "f2", OBJ, 0, 0, &f2));
	CHECK_OK(object_create(c, "f3", OBJ, 0, 0, &f3));
	CHECK_OK(container_commit(c));
	gate_m = m;
	sem_init(&gate_hold, 0, 0);
	sem_init(&gate_entered, 0, 0);
	sem_init(&park_entered, 0, 0);
	sem_init(&park_release, 0, 0);
	struct sigaction sa = {.sa_handler = park_handler};
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);

	/* the waiter's write */
	uint8_t b[CS];
	fill(b, CS, 11);
	CHECK_OK(object_write(c, f2, b, CS, 0));
	/* commit #1 runs and is held in its first sync */
	m->sync_hook = gate_sync;
	atomic_store(&gate_armed, true);
	struct committer t_lead = {.c = c, .id = f1, .salt = 10};
	CHECK(pthread_create(&lead, NULL, commit_main, &t_lead) == 0);
	while (sem_wait(&gate_entered) != 0)
		;
	/* the waiter flushes now: it waits for commit #2, which started
	 * after its write; so does `second` */
	struct committer t_wait = {.c = c, .id = 0, .salt = 0};
	CHECK(pthread_create(&waiter, NULL, waiter_main, &t_wait) == 0);
	while (!waiter_tid)
		usleep(1000);
	wait_blocked(waiter_tid);
	usleep(20000);
	wait_blocked(waiter_tid);
	/* park the waiter (in a signal handler, off the mutex) */
	CHECK(pthread_kill(waiter, SIGUSR1) == 0);
	while (sem_wait(&park_entered) != 0)
		;
	struct committer t_second = {.c = c, .id = 0, .salt = 0};
	CHECK(pthread_create(&second, NULL, commit_main, &t_second) == 0);
	usleep(20000);
	/* #1 ends; `second` leads #2, which covers f2 and succeeds */
	sem_post(&gate_hold);
	CHECK(pthread_join(lead, NULL) == 0);
	CHECK(pthread_join(second, NULL) == 0);
	CHECK_OK(t_lead.result);
	CHECK_OK(t_second.result);
	/* #3 fails: its first metadata write is refused (a failure in steps
	 * 2-3 leaves the transaction open, nothing is poisoned) */
	fill(b, CS, 12);
	CHECK_OK(object_write(c, f3, b, CS, 0));
	memio_fail(m, MEMIO_OP_PWRITE, 1, -EDQUOT, false);
	struct committer t_late = {.c = c, .id = 0, .salt = 0};
	CHECK(pthread_create(&late, NULL, commit_main, &t_late) == 0);
	CHECK(pthread_join(late, NULL) == 0);
	CHECK_ERR(t_late.result, -EDQUOT);
	memio_fail(m, 0, 0, 0, false);
	/* the waiter runs again: its writes were committed by #2 */
	sem_post(&park_release);
	CHECK(pthread_join(waiter, NULL) == 0);
	m->sync_hook = NULL;
	if (t_wait.result != 0)
		fprintf(stderr,
			"group commit: the waiter got %d (a later commit's "
			"error) though the commit covering its write "
			"succeeded\n",
			t_wait.result);
	CHECK_OK(t_wait.result);
	CHECK_OK(container_close(c));
	signal(SIGUSR1, SIG_DFL);
	memio_free(m);
	printf("group commit: a waiter gets the result of a commit that "
	       "covered its writes\n");
}

/* ---- 4. a damaged superblock slot ----------------------------------------- */

static void test_slot_fallback(void)
{
	struct memio *m = memio_new();
	struct container *c;
	struct events ev = {0};
	struct container_options o = plain4k;
	uint8_t a[CS];
	uint64_t id;

	o.event = on_event;
	o.event_arg = &ev;
	fill(a, CS, 5);
	CHECK_OK(container_create(&m->io, &plain4k, &c));
	CHECK_OK(container_close(c));
	/* generation 1, slot B never written: not a fallback */
	CHECK_OK(container_open(&m->io, &o, &c));
	CHECK_EQ(ev.count[CONTAINER_EVENT_SLOT_FALLBACK], 0);
	CHECK_OK(object_create(c, "f", OBJ, 0, 0, &id));
	CHECK_OK(object_write(c, id, a, CS, 0));
	CHECK_OK(container_close(c));
	CHECK_OK(container_open(&m->io, &o, &c));
	CHECK_OK(container_close(c));
	CHECK_EQ(ev.count[CONTAINER_EVENT_SLOT_FALLBACK], 0);

	int newest = newest_slot(m);
	slot_damage(m, newest);
	struct container_options ro = o;
	ro.read_only = true;
	CHECK_OK(container_open(&m->io, &ro, &c));
	CHECK_EQ(ev.count[CONTAINER_EVENT_SLOT_FALLBACK], 1);
	printf("fallback event: %s\n", ev.last[CONTAINER_EVENT_SLOT_FALLBACK]);
	CHECK(strstr(ev.last[CONTAINER_EVENT_SLOT_FALLBACK], "damaged"));
	read_expect(c, "f", a, CS);
	CHECK_OK(container_close(c));
	memio_free(m);

	/* encrypted: the counter starts past what the lost commit reserved */
	struct crypto_key *master;
	CHECK_OK(crypto_key_generate(&master));
	m = memio_new();
	struct container_options e = {TEST_MAP_CACHE, .cluster_shift = 12,
				      .master = master};
	CHECK_OK(container_create(&m->io, &e, &c));
	CHECK_OK(object_create(c, "f", OBJ, 0, 0, &id));
	CHECK_OK(object_write(c, id, a, CS, 0));
	CHECK_OK(container_close(c));
	CHECK_OK(container_open(&m->io, &e, &c)); /* a reservation commit */
	CHECK_OK(object_write(c, id, a, CS, CS));
	CHECK_OK(container_close(c));
	newest = newest_slot(m);
	const uint64_t lost_limit =
		le64_get(m->data + slot_off(newest) + SB_OFF_ENC_NONCE_LIMIT);
	const uint64_t old_limit = le64_get(m->data + slot_off(1 - newest) +
					    SB_OFF_ENC_NONCE_LIMIT);
	CHECK(lost_limit > old_limit);
	slot_damage(m, newest);
	e.event = on_event;
	e.event_arg = &ev;
	ev = (struct events){0};
	CHECK_OK(container_open(&m->io, &e, &c));
	CHECK_EQ(ev.count[CONTAINER_EVENT_SLOT_FALLBACK], 1);
	CHECK_OK(container_close(c));
	/* the reservation commit of that open: limit = start + RESERVE */
	newest = newest_slot(m);
	const uint64_t new_limit =
		le64_get(m->data + slot_off(newest) + SB_OFF_ENC_NONCE_LIMIT);
	const uint64_t start = new_limit - CRYPTO_NONCE_RESERVE;
	if (start < lost_limit)
		fprintf(stderr,
			"encrypted fallback: the counter restarted at %llu, "
			"below the lost commit's limit %llu (nonces reused)\n",
			(unsigned long long)start,
			(unsigned long long)lost_limit);
	CHECK(start >= lost_limit);
	struct check_report r;
	CHECK_OK(check_container_key(&m->io, master, &r));
	CHECK_EQ(r.errors, 0);
	memio_free(m);
	crypto_key_free(master);
	printf("damaged slot: fallback reported; encrypted counter skips "
	       "ahead\n");
}

/* ---- 5. the older slot after a reopen -------------------------------------- */

static struct memio *crash_copy;
static int sync_count, crash_at_sync;

static void snapshot_sync(void *arg)
{
	struct memio *m = arg;
	if (++sync_count == crash_at_sync)
		crash_copy = memio_clone(m);
}

static void test_older_slot_after_reopen(void)
{
	enum { N = 4 };
	struct memio *m = memio_new();
	struct container *c;
	uint8_t a[N * CS], b[N * CS], zero[N * CS];
	uint64_t id, idb;

	fill(a, sizeof(a), 6);
	fill(b, sizeof(b), 7);
	memset(zero, 0, sizeof(zero));
	CHECK_OK(container_create(&m->io, &plain4k, &c));
	CHECK_OK(object_create(c, "a", OBJ, 0, 0, &id));
	CHECK_OK(object_write(c, id, a, sizeof(a), 0));
	CHECK_OK(container_commit(c));
	struct container_info info;
	container_info(c, &info);
	const uint64_t g_data = info.generation;
	/* punch a and commit: G+1 frees a's clusters (held); the next
	 * commit (here the idle one a committer tick makes) retires G; the
	 * crash comes between the two (G+1's superblock written, nothing of
	 * the second yet) */
	CHECK_OK(object_punch(c, id, 0, sizeof(a)));
	m->sync_hook = snapshot_sync;
	m->sync_arg = m;
	sync_count = 0;
	crash_at_sync = 2; /* G+1's superblock is written, syncing */
	CHECK_OK(container_commit(c));
	m->sync_hook = NULL;
	container_info(c, &info);
	CHECK_EQ(info.generation, g_data + 1);
	CHECK_OK(container_commit(c)); /* idle: superblock only */
	container_info(c, &info);
	CHECK_EQ(info.generation, g_data + 2);
	container_close_detached(c);
	CHECK(crash_copy);
	memio_free(m);
	m = crash_copy;
	crash_copy = NULL;
	CHECK_EQ(slot_gen(m, newest_slot(m)), g_data + 1);

	/* reopen, write new data (first fit: a's old clusters), crash */
	CHECK_OK(container_open(&m->io, &plain4k, &c));
	CHECK_OK(object_create(c, "b", OBJ, 0, 0, &idb));
	CHECK_OK(object_write(c, idb, b, sizeof(b), 0));
	struct memio *crashed = memio_clone(m);
	container_close_detached(c);
	memio_free(m);

	/* the newest slot rots; whatever open falls back to reads true */
	slot_damage(crashed, newest_slot(crashed));
	struct container_options ro = plain4k;
	ro.read_only = true;
	CHECK_OK(container_open(&crashed->io, &ro, &c));
	container_info(c, &info);
	printf("older slot after reopen: opened generation %llu (data at "
	       "%llu)\n",
	       (unsigned long long)info.generation, (unsigned long long)g_data);
	uint8_t got[N * CS];
	size_t len;
	CHECK_OK(object_lookup(c, "a", &id));
	CHECK_OK(object_read(c, id, got, sizeof(got), 0, &len));
	CHECK_EQ(len, sizeof(got));
	const uint8_t *want = info.generation <= g_data ? a : zero;
	if (memcmp(got, want, sizeof(got)) != 0)
		fprintf(stderr,
			"older slot (generation %llu) reads %s instead of "
			"its committed bytes\n",
			(unsigned long long)info.generation,
			memcmp(got, b, CS) == 0 ? "another object's data"
						: "wrong bytes");
	CHECK(memcmp(got, want, sizeof(got)) == 0);
	CHECK_OK(container_close(c));
	memio_free(crashed);
	printf("older slot after reopen: true bytes\n");
}

/* ---- 7. one flush, one commit ---------------------------------------------- */

/* A flush after punches (which free raw data, held one commit) or after
 * overwrites is one commit: at most two fdatasyncs (the tree and data, the
 * superblock), never a second commit; the space comes back at the next
 * commit, or at the superblock-only commit an idle container makes.
 * Counted by the I/O layer (container_io_stats). */
static void test_one_commit_per_flush(void)
{
	enum { N = 16 };
	struct memio *m = memio_new();
	struct container *c;
	uint8_t buf[N * CS];
	uint64_t id;
	struct container_info info;
	struct container_io_stats a, b;

	fill(buf, sizeof(buf), 9);
	CHECK_OK(container_create(&m->io, &plain4k, &c));
	CHECK_OK(object_create(c, "disk.raw", OBJ, 0, 0, &id));
	CHECK_OK(object_write(c, id, buf, sizeof(buf), 0));
	CHECK_OK(container_commit(c));
	container_io_stats(c, &a);
	for (int i = 0; i < 10; i++) {
		/* a punch frees raw data; a write fills it again */
		CHECK_OK(object_punch(c, id, (uint64_t)(i % N) * CS, CS));
		CHECK_OK(container_commit(c));
		CHECK_OK(object_write(c, id, buf, CS, (uint64_t)(i % N) * CS));
		CHECK_OK(container_commit(c));
	}
	container_io_stats(c, &b);
	printf("one commit per flush: %llu flushes, %llu commits, %llu "
	       "fdatasyncs\n",
	       (unsigned long long)(b.flushes - a.flushes),
	       (unsigned long long)(b.commits - a.commits),
	       (unsigned long long)(b.syncs - a.syncs));
	CHECK_EQ(b.flushes - a.flushes, 20);
	CHECK(b.commits - a.commits <= 20);
	CHECK(b.syncs - a.syncs <= 40);
	/* idle: the last punch's cluster is retired by one superblock */
	container_info(c, &info);
	const uint64_t g = info.generation;
	a = b;
	CHECK_OK(container_commit(c));
	CHECK_OK(container_commit(c));
	container_info(c, &info);
	container_io_stats(c, &b);
	CHECK(info.generation <= g + 1);
	CHECK(b.commits - a.commits <= 1);
	CHECK(b.syncs - a.syncs <= 1);
	CHECK_OK(container_close(c));
	struct check_report r;
	CHECK_OK(check_container(&m->io, &r));
	CHECK_EQ(r.errors, 0);
	memio_free(m);
}

/* ---- 8. I/O counters: what a commit writes ------------------------------- */

/* Bytes of the recorded writes that are metadata by what they hold: a
 * superblock slot (512 bytes at 0 or 4096) or a whole cluster starting with
 * a map node's or table block's magic (a plain container: nothing sealed). */
static void classify_writes(const struct memio *m, uint64_t *out_meta,
			    uint64_t *out_all, uint64_t *out_sbs,
			    uint64_t *out_syncs)
{
	*out_meta = *out_all = *out_sbs = *out_syncs = 0;
	for (size_t i = 0; i < m->log_num; i++) {
		const struct memio_op *op = &m->log[i];
		if (op->kind == MEMIO_OP_SYNC)
			(*out_syncs)++;
		if (op->kind != MEMIO_OP_PWRITE)
			continue;
		*out_all += op->len;
		if (op->len == FORMAT_SECTOR_SIZE &&
		    (op->offset == FORMAT_SUPERBLOCK_A_OFFSET ||
		     op->offset == FORMAT_SUPERBLOCK_B_OFFSET)) {
			*out_meta += op->len;
			(*out_sbs)++;
		} else if (op->len == CS &&
			   (le32_get(op->data) == BLOCK_MAGIC_MAP_NODE ||
			    le32_get(op->data) == BLOCK_MAGIC_TABLE)) {
			*out_meta += op->len;
		}
	}
}

/* The counters of container_io_stats against the format and against the
 * recorded writes: one 4 KiB write + commit on a fresh container writes one
 * data cluster, one map leaf, one table block and one superblock with two
 * fdatasyncs; N flushes of a rewrite are N superblocks; every figure equals
 * what the recording classifies. */
static void test_io_stats(void)
{
	enum { N = 8 };
	struct memio *m = memio_new();
	struct container *c;
	struct container_io_stats a, b;
	uint8_t buf[CS];
	uint64_t id, meta, all, sbs, nsync;

	fill(buf, sizeof(buf), 11);
	CHECK_OK(container_create(&m->io, &plain4k, &c));
	CHECK_OK(object_create(c, "disk.raw", OBJ, 0, 0, &id));
	CHECK_OK(container_commit(c));
	container_io_stats(c, &a);
	m->recording = true;
	CHECK_OK(object_write(c, id, buf, CS, 0));
	CHECK_OK(container_commit(c));
	container_io_stats(c, &b);
	classify_writes(m, &meta, &all, &sbs, &nsync);
	printf("io stats, one 4 KiB write + commit: %llu data, %llu meta "
	       "bytes, %llu syncs, %llu commits\n",
	       (unsigned long long)(b.data_bytes - a.data_bytes),
	       (unsigned long long)(b.meta_bytes - a.meta_bytes),
	       (unsigned long long)(b.syncs - a.syncs),
	       (unsigned long long)(b.commits - a.commits));
	/* the format: a one-level map (the leaf is the root), a one-block
	 * table, a superblock; tree and superblock each synced once */
	CHECK_EQ(b.data_bytes - a.data_bytes, CS);
	CHECK_EQ(b.meta_bytes - a.meta_bytes, 2 * CS + FORMAT_SECTOR_SIZE);
	CHECK_EQ(b.write_bytes - a.write_bytes, 3 * CS + FORMAT_SECTOR_SIZE);
	CHECK_EQ(b.writes - a.writes, 4);
	CHECK_EQ(b.syncs - a.syncs, 2);
	CHECK_EQ(b.commits - a.commits, 1);
	CHECK_EQ(b.flushes - a.flushes, 1);
	CHECK_EQ(b.meta_bytes - a.meta_bytes, meta);
	CHECK_EQ(b.write_bytes - a.write_bytes, all);
	CHECK_EQ(b.syncs - a.syncs, nsync);

	/* N rewrites, each flushed: N commits, N superblocks, and the
	 * counters agree with the recording whatever the map did */
	memio_log_clear(m);
	a = b;
	for (int i = 0; i < N; i++) {
		buf[0] = (uint8_t)i;
		CHECK_OK(object_write(c, id, buf, CS, 0));
		CHECK_OK(container_commit(c));
	}
	container_io_stats(c, &b);
	classify_writes(m, &meta, &all, &sbs, &nsync);
	printf("io stats, %d rewrites + flushes: %llu meta bytes (%llu a "
	       "flush), %llu syncs, %llu commits\n",
	       N, (unsigned long long)(b.meta_bytes - a.meta_bytes),
	       (unsigned long long)((b.meta_bytes - a.meta_bytes) / N),
	       (unsigned long long)(b.syncs - a.syncs),
	       (unsigned long long)(b.commits - a.commits));
	CHECK_EQ(b.commits - a.commits, N);
	CHECK_EQ(sbs, N);
	CHECK_EQ(b.flushes - a.flushes, N);
	CHECK_EQ(b.meta_bytes - a.meta_bytes, meta);
	CHECK_EQ(b.write_bytes - a.write_bytes, all);
	CHECK_EQ(b.syncs - a.syncs, nsync);
	CHECK(b.syncs - a.syncs <= 2 * N);
	m->recording = false;
	memio_log_clear(m);
	CHECK_OK(container_close(c));
	memio_free(m);
}

/* fdatasync after overwrites in place (container_sync_data): the data
 * written, then one sync, and no metadata; anything else still commits. */
static void test_sync_data(void)
{
	struct memio *m = memio_new();
	struct container *c;
	struct container_io_stats a, b;
	uint8_t buf[4 * CS], got[4 * CS];
	uint64_t id;
	size_t n;

	fill(buf, sizeof(buf), 21);
	CHECK_OK(container_create(&m->io, &plain4k, &c));
	CHECK_OK(object_create(c, "disk.raw", OBJ, 0, 0, &id));
	CHECK_OK(object_write(c, id, buf, sizeof(buf), 0));
	CHECK_OK(container_sync_data(c)); /* allocations: a commit */
	container_io_stats(c, &a);
	CHECK(a.commits >= 1);

	/* nothing changed: nothing to do */
	CHECK_OK(container_sync_data(c));
	container_io_stats(c, &b);
	CHECK_EQ(b.syncs - a.syncs, 0);
	CHECK_EQ(b.writes - a.writes, 0);

	/* an overwrite in place: its bytes, then one sync; no commit */
	a = b;
	m->recording = true;
	memio_log_clear(m);
	buf[CS + 5] ^= 0xff;
	CHECK_OK(object_write(c, id, buf + CS, 100, CS));
	CHECK_OK(container_sync_data(c));
	container_io_stats(c, &b);
	printf("sync_data after an overwrite in place: %llu writes, %llu "
	       "meta bytes, %llu syncs, %llu commits\n",
	       (unsigned long long)(b.writes - a.writes),
	       (unsigned long long)(b.meta_bytes - a.meta_bytes),
	       (unsigned long long)(b.syncs - a.syncs),
	       (unsigned long long)(b.commits - a.commits));
	CHECK_EQ(b.writes - a.writes, 1);
	CHECK_EQ(b.data_bytes - a.data_bytes, 100);
	CHECK_EQ(b.meta_bytes - a.meta_bytes, 0);
	CHECK_EQ(b.syncs - a.syncs, 1);
	CHECK_EQ(b.commits - a.commits, 0);
	CHECK_EQ(b.flushes - a.flushes, 1);
	CHECK_EQ(m->log_num, 2);
	CHECK(m->log[0].kind == MEMIO_OP_PWRITE);
	CHECK(m->log[1].kind == MEMIO_OP_SYNC);

	/* a write past the end allocates: that sync is a commit */
	a = b;
	CHECK_OK(object_write(c, id, buf, CS, 4 * CS));
	CHECK_OK(container_sync_data(c));
	container_io_stats(c, &b);
	CHECK_EQ(b.commits - a.commits, 1);
	m->recording = false;
	memio_log_clear(m);

	/* the times and generation of the in-place write reach the disk
	 * with the next commit; the bytes are there after a reopen */
	CHECK_OK(container_close(c));
	CHECK_OK(container_open(&m->io, &plain4k, &c));
	CHECK_OK(object_read(c, id, got, CS, CS, &n));
	CHECK_EQ(n, CS);
	CHECK_MEM_EQ(got, buf + CS, 100);
	CHECK_OK(container_close(c));
	memio_free(m);
}

/* ---- 6. the metadata reserve after a reopen on a full filesystem ---------- */

/* The open's fallocate of a new reserve past the tree fails (the backing
 * filesystem is full); the clusters an earlier open set aside still own
 * their blocks, and a fallocate of one of them alone succeeds.  The open
 * must end with a reserve, or no commit could take metadata from it. */
static void test_reserve_after_reopen(void)
{
	struct memio *m = memio_new();
	struct container *c;
	uint8_t a[16 * CS];
	uint64_t id;

	fill(a, sizeof(a), 8);
	CHECK_OK(container_create(&m->io, &plain4k, &c));
	CHECK_OK(container_close(c));
	CHECK_OK(container_open(&m->io, &plain4k, &c)); /* reserve set */
	CHECK_OK(object_create(c, "a", OBJ, 0, 0, &id));
	CHECK_OK(object_write(c, id, a, sizeof(a), 0)); /* past it */
	CHECK_OK(container_close(c));
	/* full: the first fallocate (the new reserve's range) fails */
	memio_fail(m, MEMIO_OP_FALLOCATE, 1, -ENOSPC, false);
	CHECK_OK(container_open(&m->io, &plain4k, &c));
	memio_fail(m, 0, 0, 0, false);
	printf("reserve after a reopen on a full filesystem: %llu of %llu "
	       "clusters\n",
	       (unsigned long long)c->alloc.backed_free,
	       (unsigned long long)c->alloc.reserve);
	CHECK(c->alloc.reserve > 0);
	CHECK(c->alloc.backed_free >= c->alloc.reserve);
	/* and a punch commits taking metadata from it */
	CHECK_OK(object_punch(c, id, 0, sizeof(a)));
	CHECK_OK(container_commit(c));
	CHECK_OK(container_close(c));
	check_clean(m);
	memio_free(m);
}

/* `test_commit [NAME]` runs one case (gen, close, group, slot, older,
 * reserve, flush, iostats). */
int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*run)(void);
	} cases[] = {
		{"gen", test_generation_bound},
		{"close", test_close_poisoned},
		{"group", test_group_commit_result},
		{"slot", test_slot_fallback},
		{"older", test_older_slot_after_reopen},
		{"reserve", test_reserve_after_reopen},
		{"flush", test_one_commit_per_flush},
		{"iostats", test_io_stats},
		{"sync_data", test_sync_data},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (argc < 2 || strcmp(argv[1], cases[i].name) == 0)
			cases[i].run();
	printf("test_commit: ok\n");
	return 0;
}
