/*
 * test_snapshot.c -- snapshots on in-memory containers, against a model.
 *
 *   1. contents: a snapshot reads what the guest held at its commit while
 *      the live disk moves on (in-place rewrites of shared clusters copy
 *      them), across a reopen; writes to a view are refused.
 *   2. space: every cluster is accounted -- after each operation the
 *      container reopens (open rebuilds the reference counts from disk and
 *      refuses a superblock whose used_clusters disagrees) and
 *      check_container finds nothing; deleting snapshots in any order
 *      returns exactly to the live-only count (0 leaks, 0 double frees).
 *   3. rollback: files come back as they were (contents, names, files
 *      created later gone, removed ones back), later snapshots are kept.
 *   4. a view pins its snapshot (delete -EBUSY); rollback refuses while a
 *      file is open; names and limits.
 *   5. faults: every write and sync of snapshot create, delete and rollback
 *      fails in turn; the container then reopens as the state before or
 *      after the operation, never anything else, and checks clean.
 * Each runs on plain 4 KiB clusters, compressed disks and an encrypted
 * container.
 */
#include <sys/wait.h>
#include <unistd.h>

#include "hangar/check.h"
#include "container_open.h"
#include "crypto.h"
#include "harness.h"
#include "internal.h"
#include "memio.h"

#define CS     4096u
#define NCL    24u /* clusters per disk */
#define DSIZE  ((uint64_t)NCL * CS)
#define OBJ    0100600u
#define MAXS   8
#define NFILES 3

static const char *const file_names[NFILES] = {"disk.raw", "data.raw",
					       "config"};

/* What the guest holds: per file, present or not, and its bytes. */
struct model {
	bool present[NFILES];
	uint8_t bytes[NFILES][DSIZE];
};

static struct crypto_key *master;

static struct container_options opts_of(int variant)
{
	struct container_options o = {TEST_MAP_CACHE, .cluster_shift = 12};
	if (variant == 1)
		o.compress_disks = true;
	if (variant == 2)
		o.master = master;
	return o;
}

static void fill_pattern(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 31u + i * 7u + (i >> 9));
}

/* Apply a write to the container and the model. */
static void write_both(struct container *c, struct model *m, int f,
		       uint64_t off, size_t len, unsigned seed)
{
	uint8_t *buf = malloc(len);
	CHECK(buf);
	fill_pattern(buf, len, seed);
	uint64_t id;
	if (!m->present[f]) {
		CHECK_OK(object_create(c, file_names[f], OBJ, 0, 0, &id));
		m->present[f] = true;
		memset(m->bytes[f], 0, DSIZE);
	} else {
		CHECK_OK(object_lookup(c, file_names[f], &id));
	}
	CHECK_OK(object_open(c, id, true));
	CHECK_OK(object_write(c, id, buf, len, off));
	object_release(c, id, true);
	memcpy(m->bytes[f] + off, buf, len);
	free(buf);
}

static void unlink_both(struct container *c, struct model *m, int f)
{
	CHECK_OK(object_unlink(c, file_names[f]));
	m->present[f] = false;
}

/* The container `c` (live or a view) holds exactly the model. */
static void expect_model(struct container *c, const struct model *m)
{
	static uint8_t got[DSIZE];
	for (int f = 0; f < NFILES; f++) {
		uint64_t id;
		int ret = object_lookup(c, file_names[f], &id);
		if (!m->present[f]) {
			CHECK_ERR(ret, -ENOENT);
			continue;
		}
		CHECK_OK(ret);
		struct object_attr a;
		CHECK_OK(object_getattr(c, id, &a));
		size_t n = 0;
		memset(got, 0xee, sizeof(got));
		CHECK_OK(object_read(c, id, got, (size_t)a.size, 0, &n));
		CHECK_EQ(n, a.size);
		CHECK(a.size <= DSIZE);
		CHECK_MEM_EQ(got, m->bytes[f], (size_t)a.size);
		for (uint64_t i = a.size; i < DSIZE; i++)
			CHECK_EQ(m->bytes[f][i], 0);
	}
}

static void expect_view(struct container *c, const char *snap,
			const struct model *m)
{
	struct container *v;
	CHECK_OK(container_snapshot_open(c, snap, &v));
	expect_model(v, m);
	container_snapshot_close(c, v);
}

static uint64_t used_of(struct container *c)
{
	struct container_info i;
	container_info(c, &i);
	return i.used_clusters;
}

/* Check, then open: open recounts every reference from disk. */
static struct container *cycle_open_checked(struct memio *io, int variant)
{
	struct container *c;
	struct check_report r;
	CHECK_OK(
		check_container_key(&io->io, variant == 2 ? master : NULL, &r));
	if (r.errors) {
		for (size_t i = 0; i < r.message_count; i++)
			fprintf(stderr, "check: %s\n", r.messages[i]);
		CHECK_EQ(r.errors, 0);
	}
	CHECK_EQ(r.leaked_clusters, 0);
	struct container_options o = opts_of(variant);
	CHECK_OK(container_open(&io->io, &o, &c));
	return c;
}

static struct container *cycle(struct container *c, struct memio *io,
			       int variant)
{
	CHECK_OK(container_close(c));
	return cycle_open_checked(io, variant);
}

/* ---- 1-3: contents, space, rollback -------------------------------------- */

static void test_model(int variant)
{
	struct memio *io = memio_new();
	struct container_options o = opts_of(variant);
	struct container *c;
	static struct model live, snap[MAXS];
	char names[MAXS][16];

	memset(&live, 0, sizeof(live));
	CHECK_OK(container_create(&io->io, &o, &c));
	write_both(c, &live, 0, 0, DSIZE, 1);
	write_both(c, &live, 2, 0, 300, 2);
	CHECK_OK(container_commit(c));
	c = cycle(c, io, variant);
	const uint64_t base_used = used_of(c);

	/* s0: full disk; then rewrite half of it in place and sub-cluster */
	for (int s = 0; s < 4; s++) {
		snprintf(names[s], sizeof(names[s]), "s%d", s);
		CHECK_OK(container_snapshot_create(c, names[s]));
		snap[s] = live;
		switch (s) {
		case 0:
			write_both(c, &live, 0, 0, DSIZE / 2, 10);
			write_both(c, &live, 0, DSIZE - 100, 50, 11);
			break;
		case 1:
			write_both(c, &live, 1, CS, 3 * CS, 12);
			unlink_both(c, &live, 2);
			break;
		case 2:
			write_both(c, &live, 0, 5 * CS + 17, 2 * CS, 13);
			write_both(c, &live, 2, 0, 100, 14);
			break;
		default:
			write_both(c, &live, 0, 0, DSIZE, 15);
			break;
		}
		expect_model(c, &live);
		for (int t = 0; t <= s; t++)
			expect_view(c, names[t], &snap[t]);
		CHECK_OK(container_commit(c));
		c = cycle(c, io, variant);
		expect_model(c, &live);
		for (int t = 0; t <= s; t++)
			expect_view(c, names[t], &snap[t]);
	}
	struct snapshot_info *list;
	size_t num;
	CHECK_OK(container_snapshot_list(c, &list, &num));
	CHECK_EQ(num, 4);
	for (size_t i = 0; i < num; i++) {
		CHECK(strcmp(list[i].name, names[i]) == 0);
		if (i)
			CHECK(list[i].generation > list[i - 1].generation);
	}
	free(list);

	/* a view is read-only and pins its snapshot */
	struct container *v;
	uint64_t vid;
	CHECK_OK(container_snapshot_open(c, "s1", &v));
	CHECK_OK(object_lookup(v, "disk.raw", &vid));
	CHECK_ERR(object_write(v, vid, "x", 1, 0), -EROFS);
	CHECK_ERR(container_snapshot_delete(c, "s1"), -EBUSY);
	container_snapshot_close(c, v);

	/* rollback to s1: data.raw appears, config comes back */
	uint64_t id;
	CHECK_OK(object_lookup(c, "disk.raw", &id));
	CHECK_OK(object_open(c, id, false));
	CHECK_ERR(container_snapshot_rollback(c, "s1"), -EBUSY);
	object_release(c, id, false);
	CHECK_OK(container_snapshot_rollback(c, "s1"));
	live = snap[1];
	expect_model(c, &live);
	c = cycle(c, io, variant);
	expect_model(c, &live);
	for (int t = 0; t < 4; t++)
		expect_view(c, names[t], &snap[t]);
	/* the rolled-back guest moves on; its snapshots stay */
	write_both(c, &live, 0, 3 * CS, CS, 20);
	expect_view(c, "s1", &snap[1]);

	/* delete out of order, checking the others after each */
	static const int order[4] = {2, 0, 3, 1};
	for (int k = 0; k < 4; k++) {
		CHECK_OK(container_snapshot_delete(c, names[order[k]]));
		CHECK_ERR(container_snapshot_open(c, names[order[k]], &v),
			  -ENOENT);
		c = cycle(c, io, variant);
		expect_model(c, &live);
		for (int j = k + 1; j < 4; j++)
			expect_view(c, names[order[j]], &snap[order[j]]);
	}
	/* no snapshot left: the feature bit is gone, every cluster of the
	 * snapshots is free again, and in-place writes are back (clusters a
	 * compressed disk staged RAW compressed again first, as at close) */
	CHECK_OK(container_compact(c, 0, NULL));
	CHECK_OK(container_commit(c));
	uint64_t used = used_of(c);
	/* (compressed: partial writes are staged RAW and compressed again
	 * later, so extents land in other pack clusters than the base's, and
	 * a pack cluster stays while any extent in it lives; leaks are ruled
	 * out by the check of every cycle) */
	CHECK(used <= base_used + (variant == 1 ? 4 : 2));
	write_both(c, &live, 0, 0, DSIZE, 21);
	CHECK_OK(container_commit(c));
	CHECK(used_of(c) <= used);
	c = cycle(c, io, variant);
	expect_model(c, &live);
	CHECK_EQ(le64_get(io->data + (c->active_slot ? 4096 : 0) +
			  SB_OFF_INCOMPAT) &
			 FEATURE_INCOMPAT_SNAPSHOTS,
		 0);
	CHECK_OK(container_close(c));
	memio_free(io);
}

/* A plain disk's first write after a snapshot copies; then in place. */
static void test_cow_then_in_place(void)
{
	struct memio *io = memio_new();
	struct container_options o = opts_of(0);
	struct container *c;
	static struct model live;
	memset(&live, 0, sizeof(live));
	CHECK_OK(container_create(&io->io, &o, &c));
	write_both(c, &live, 0, 0, DSIZE, 1);
	CHECK_OK(container_commit(c));
	uint64_t used0 = used_of(c);
	CHECK_OK(container_snapshot_create(c, "a"));
	write_both(c, &live, 0, 0, DSIZE, 2); /* copies every cluster */
	CHECK_OK(container_commit(c));
	uint64_t used1 = used_of(c);
	CHECK(used1 >= used0 + NCL);
	write_both(c, &live, 0, 0, DSIZE, 3); /* owned now: in place */
	CHECK_OK(container_commit(c));
	CHECK_EQ(used_of(c), used1);
	/* the snapshot alone holds the old data, its leaf and its table */
	uint64_t held;
	CHECK_OK(container_snapshot_space(c, &held));
	CHECK(held >= (uint64_t)NCL * CS && held <= (uint64_t)(NCL + 4) * CS);
	CHECK_OK(container_snapshot_delete(c, "a"));
	CHECK_OK(container_commit(c));
	CHECK(used_of(c) <= used0 + 1);
	CHECK_OK(container_snapshot_space(c, &held));
	CHECK_EQ(held, 0);
	c = cycle(c, io, 0);
	expect_model(c, &live);
	CHECK_OK(container_close(c));
	memio_free(io);
}

static void test_names(void)
{
	struct memio *io = memio_new();
	struct container_options o = opts_of(0);
	struct container *c;
	CHECK_OK(container_create(&io->io, &o, &c));
	CHECK_ERR(container_snapshot_create(c, ""), -EINVAL);
	CHECK_ERR(container_snapshot_create(c, ".hidden"), -EINVAL);
	CHECK_ERR(container_snapshot_create(c, "a/b"), -EINVAL);
	char longname[80];
	memset(longname, 'x', 65);
	longname[65] = 0;
	CHECK_ERR(container_snapshot_create(c, longname), -EINVAL);
	longname[64] = 0;
	CHECK_OK(container_snapshot_create(c, longname));
	CHECK_ERR(container_snapshot_create(c, longname), -EEXIST);
	CHECK_ERR(container_snapshot_delete(c, "nope"), -ENOENT);
	CHECK_ERR(container_snapshot_rollback(c, "nope"), -ENOENT);
	/* an empty guest's snapshot holds nothing and rolls back fine */
	CHECK_OK(container_snapshot_rollback(c, longname));
	CHECK_OK(container_close(c));
	o.read_only = true;
	CHECK_OK(container_open(&io->io, &o, &c));
	CHECK_ERR(container_snapshot_create(c, "ro"), -EROFS);
	CHECK_ERR(container_snapshot_delete(c, longname), -EROFS);
	struct container *v;
	CHECK_OK(container_snapshot_open(c, longname, &v));
	container_snapshot_close(c, v);
	CHECK_OK(container_close(c));
	memio_free(io);
}

/* The last object id: a snapshot takes one as a file does, and neither may
 * wrap the counter to 0 (an id no table may hold: the guest would never
 * open again).  Found by fuzz_open (regression next-object-id-wrap). */
static void test_ids_exhausted(void)
{
	struct memio *io = memio_new();
	struct container_options o = opts_of(0);
	struct container *c;
	struct check_report r;
	uint64_t id;

	CHECK_OK(container_create(&io->io, &o, &c));
	CHECK_OK(object_create(c, "disk.raw", 0600, 0, 0, &id));
	c->next_object_id = UINT64_MAX - 1;
	CHECK_OK(container_snapshot_create(c, "last"));
	CHECK_EQ(c->next_object_id, UINT64_MAX);
	CHECK_ERR(container_snapshot_create(c, "wraps"), -EOVERFLOW);
	CHECK_ERR(object_create(c, "new.raw", 0600, 0, 0, &id), -EOVERFLOW);
	CHECK_OK(container_close(c));
	CHECK_OK(check_container(&io->io, &r));
	CHECK_EQ(r.errors, 0);
	CHECK_OK(container_open(&io->io, &o, &c));
	struct snapshot_info *list;
	size_t num;
	CHECK_OK(container_snapshot_list(c, &list, &num));
	CHECK_EQ(num, 1);
	CHECK(strcmp(list[0].name, "last") == 0);
	free(list);
	CHECK_OK(container_close(c));
	memio_free(io);
}

/* ---- pins ------------------------------------------------------------------ */

/* How many snapshots of `c` are named `name`. */
static int snapshot_count(struct container *c, const char *name)
{
	struct snapshot_info *list;
	size_t num;
	int n = 0;

	CHECK_OK(container_snapshot_list(c, &list, &num));
	for (size_t i = 0; i < num; i++)
		n += strcmp(list[i].name, name) == 0;
	free(list);
	return n;
}

/* A PID that is no longer alive: a child that has been reaped. */
static pid_t dead_pid(void)
{
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0)
		_exit(0);
	CHECK(waitpid(pid, NULL, 0) == pid);
	return pid;
}

/* Reserved names, pin names, a live reader's pin kept, dead readers' pins
 * reaped (before a new pin and on request), a pin with an open view left
 * for later. */
static void test_pins(void)
{
	struct memio *io = memio_new();
	struct container_options o = opts_of(0);
	char live1[72], live2[72], dead[72], want[72];
	struct container *c, *v;
	unsigned reaped = 9;
	pid_t pid = 0;

	CHECK(container_pin_name_parse("hangar-pin-12-3", &pid) && pid == 12);
	CHECK(!container_pin_name_parse("hangar-pin-0-1", NULL));
	CHECK(!container_pin_name_parse("hangar-pin-12", NULL));
	CHECK(!container_pin_name_parse("hangar-pin-12-0", NULL));
	CHECK(!container_pin_name_parse("hangar-pin-12-3x", NULL));
	CHECK(!container_pin_name_parse("nightly", NULL));
	CHECK(container_snapshot_name_reserved("hangar-pin-x"));
	CHECK(!container_snapshot_name_reserved("hangar-export-1"));

	CHECK_OK(container_create(&io->io, &o, &c));
	CHECK_ERR(container_snapshot_create(c, "hangar-pin-1-1"), -EINVAL);
	CHECK_ERR(container_snapshot_create(c, "hangar-pin-x"), -EINVAL);
	CHECK_ERR(container_pin_delete(c, "nightly"), -EINVAL);

	CHECK_OK(container_pin_create(c, getpid(), live1, sizeof(live1)));
	snprintf(want, sizeof(want), "hangar-pin-%ld-1", (long)getpid());
	CHECK(strcmp(live1, want) == 0);
	CHECK_OK(container_pin_create(c, getpid(), live2, sizeof(live2)));
	snprintf(want, sizeof(want), "hangar-pin-%ld-2", (long)getpid());
	CHECK(strcmp(live2, want) == 0);
	/* our pin: a user's delete is refused while we live; ours works */
	CHECK_ERR(container_snapshot_delete(c, live1), -EBUSY);
	CHECK_OK(container_pin_delete(c, live1));
	CHECK_EQ(snapshot_count(c, live1), 0);

	/* a dead reader's pin: reaped on request, and kept while a view of
	 * it is open */
	CHECK_OK(container_pin_create(c, dead_pid(), dead, sizeof(dead)));
	CHECK_OK(container_snapshot_open(c, dead, &v));
	CHECK_OK(container_pin_reap(c, &reaped));
	CHECK_EQ(reaped, 0);
	container_snapshot_close(c, v);
	CHECK_OK(container_pin_reap(c, &reaped));
	CHECK_EQ(reaped, 1);
	CHECK_EQ(snapshot_count(c, dead), 0);
	CHECK_EQ(snapshot_count(c, live2), 1);

	/* ... and before the next pin is taken, across a reopen */
	CHECK_OK(container_pin_create(c, dead_pid(), dead, sizeof(dead)));
	CHECK_OK(container_close(c));
	CHECK_OK(container_open(&io->io, &o, &c));
	CHECK_EQ(snapshot_count(c, dead), 1);
	CHECK_OK(container_pin_create(c, getpid(), live1, sizeof(live1)));
	CHECK_EQ(snapshot_count(c, dead), 0);
	snprintf(want, sizeof(want), "hangar-pin-%ld-3", (long)getpid());
	CHECK(strcmp(live1, want) == 0);
	CHECK_OK(container_pin_delete(c, live1));
	CHECK_OK(container_pin_delete(c, live2));
	CHECK_OK(container_close(c));
	memio_free(io);
}

/* ---- diff ------------------------------------------------------------------ */

struct diff_log {
	char text[4096];
	size_t len;
};

static int diff_note(void *arg, const char *file, enum container_diff_kind kind,
		     uint64_t offset, uint64_t length)
{
	struct diff_log *l = arg;
	int n = snprintf(l->text + l->len, sizeof(l->text) - l->len,
			 "%s %c %llu+%llu;", file,
			 kind == CONTAINER_DIFF_CHANGED ? 'M'
			 : kind == CONTAINER_DIFF_ADDED ? 'A'
							: 'D',
			 (unsigned long long)(offset / CS),
			 (unsigned long long)((length + CS - 1) / CS));
	CHECK(n > 0 && (size_t)n < sizeof(l->text) - l->len);
	l->len += (size_t)n;
	return 0;
}

static void expect_diff(struct container *c, const char *from, const char *to,
			const char *want)
{
	struct diff_log l = {.len = 0};
	l.text[0] = 0;
	CHECK_OK(container_snapshot_diff(c, from, to, diff_note, &l));
	if (strcmp(l.text, want) != 0) {
		fprintf(stderr, "diff %s..%s: got '%s', want '%s'\n", from,
			to ? to : "live", l.text, want);
		CHECK(0);
	}
}

/* Changed extents, cluster by cluster, in trees of one and of two levels
 * (a write far out grows the tree), new and removed files.  Removed files
 * come first, then the newer state's files in the order of their ids. */
static void test_diff(void)
{
	struct memio *io = memio_new();
	struct container_options o = opts_of(0);
	struct container *c;
	static struct model live;
	memset(&live, 0, sizeof(live));
	CHECK_OK(container_create(&io->io, &o, &c));
	write_both(c, &live, 0, 0, DSIZE, 1);
	write_both(c, &live, 2, 0, 100, 2);
	CHECK_OK(container_snapshot_create(c, "a"));
	expect_diff(c, "a", NULL, "");
	write_both(c, &live, 0, 3 * CS + 5, 10, 3);
	write_both(c, &live, 0, 10 * CS, 3 * CS - 1, 4);
	CHECK_OK(container_snapshot_create(c, "b"));
	expect_diff(c, "a", "b", "disk.raw M 3+1;disk.raw M 10+3;");
	unlink_both(c, &live, 2);
	write_both(c, &live, 1, 0, CS, 5);
	expect_diff(c, "b", NULL, "config D 0+1;data.raw A 0+1;");
	/* grow disk.raw past one leaf: the live tree gets taller */
	uint8_t buf[CS];
	fill_pattern(buf, CS, 6);
	uint64_t id;
	CHECK_OK(object_lookup(c, "disk.raw", &id));
	CHECK_OK(object_write(c, id, buf, CS, 500ull * CS));
	expect_diff(c, "b", NULL,
		    "config D 0+1;disk.raw M 24+477;data.raw A 0+1;");
	CHECK_OK(container_snapshot_create(c, "c"));
	CHECK_OK(object_write(c, id, buf, CS, 7ull * CS));
	CHECK_OK(container_commit(c));
	expect_diff(c, "c", NULL, "disk.raw M 7+1;");
	expect_diff(c, "a", "c",
		    "config D 0+1;disk.raw M 3+1;disk.raw M 10+3;"
		    "disk.raw M 24+477;data.raw A 0+1;");
	CHECK_ERR(container_snapshot_diff(c, "nope", NULL, diff_note, NULL),
		  -ENOENT);
	CHECK_OK(container_close(c));
	memio_free(io);
}

/* ---- 5: faults at every write and sync ------------------------------------ */

enum op { OP_CREATE, OP_DELETE, OP_ROLLBACK };

/* Build the state before the operation: one snapshot "a" of a disk, then
 * the disk rewritten partly and config removed. */
static struct memio *fault_base(int variant, struct model *live,
				struct model *snap_a)
{
	struct memio *io = memio_new();
	struct container_options o = opts_of(variant);
	struct container *c;
	memset(live, 0, sizeof(*live));
	CHECK_OK(container_create(&io->io, &o, &c));
	write_both(c, live, 0, 0, DSIZE, 1);
	write_both(c, live, 2, 0, 200, 2);
	CHECK_OK(container_snapshot_create(c, "a"));
	*snap_a = *live;
	write_both(c, live, 0, CS, 4 * CS, 3);
	unlink_both(c, live, 2);
	CHECK_OK(container_close(c));
	return io;
}

static bool has_snap(struct container *c, const char *name)
{
	struct container *v;
	if (container_snapshot_open(c, name, &v))
		return false;
	container_snapshot_close(c, v);
	return true;
}

static void fault_sweep(int variant, enum op op)
{
	static struct model live, snap_a;
	struct memio *base = fault_base(variant, &live, &snap_a);
	unsigned before = 0, after = 0;
	for (long at = 1;; at++) {
		struct memio *io = memio_clone(base);
		struct container_options o = opts_of(variant);
		struct container *c;
		CHECK_OK(container_open(&io->io, &o, &c));
		memio_fail(io, MEMIO_OP_PWRITE | MEMIO_OP_SYNC, at, -EIO,
			   false);
		int ret;
		switch (op) {
		case OP_CREATE:
			ret = container_snapshot_create(c, "b");
			break;
		case OP_DELETE:
			ret = container_snapshot_delete(c, "a");
			break;
		default:
			ret = container_snapshot_rollback(c, "a");
			break;
		}
		bool failed = io->failed;
		(void)container_close(c);
		memio_fail(io, 0, 0, 0, false);
		/* what is on disk: the state before or the state after */
		c = cycle_open_checked(io, variant);
		bool has_a = has_snap(c, "a"), has_b = has_snap(c, "b");
		uint64_t id;
		bool rolled = object_lookup(c, "config", &id) == 0;
		bool is_after;
		switch (op) {
		case OP_CREATE:
			CHECK(has_a);
			is_after = has_b;
			break;
		case OP_DELETE:
			CHECK(!has_b);
			is_after = !has_a;
			break;
		default:
			CHECK(has_a && !has_b);
			is_after = rolled;
			break;
		}
		expect_model(c,
			     op == OP_ROLLBACK && is_after ? &snap_a : &live);
		if (has_a)
			expect_view(c, "a", &snap_a);
		if (has_b)
			expect_view(c, "b", &live);
		if (!ret)
			CHECK(is_after); /* success means durable */
		is_after ? after++ : before++;
		CHECK_OK(container_close(c));
		memio_free(io);
		if (!failed)
			break; /* the operation ran out of I/O to fail */
	}
	CHECK(before > 0 && after > 0);
	memio_free(base);
}

int main(void)
{
	CHECK_OK(crypto_key_generate(&master));
	test_names();
	test_ids_exhausted();
	test_pins();
	test_cow_then_in_place();
	test_diff();
	for (int variant = 0; variant < 3; variant++) {
		test_model(variant);
		fault_sweep(variant, OP_CREATE);
		fault_sweep(variant, OP_DELETE);
		fault_sweep(variant, OP_ROLLBACK);
	}
	crypto_key_free(master);
	printf("test_snapshot: ok\n");
	return 0;
}
