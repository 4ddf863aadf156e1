/*
 * test_faults.c -- fault injection at the I/O seam.
 *
 * For each operation and each fault kind, fail the Nth I/O call for
 * N = 1, 2, ... until the operation (and the commit after it) runs without
 * reaching the fault.  After every run the container is reopened without
 * faults and must be clean (check: 0 errors, 0 leaks) and hold either the
 * state before the operation or the state after it — and the state after it
 * whenever a commit reported success.  Errors must be the real errno: the
 * injected one (a failed superblock write poisons the container, which core
 * reports as EIO even for an ENOSPC).  A run whose fdatasync failed before
 * the commit returned must report an error; a run that never reached the
 * fault must succeed.
 *
 * Fault kinds: EIO once, EIO persistent, ENOSPC persistent, a short write
 * (half the bytes, then EIO), EIO from fdatasync.  Operations: allocating
 * write, overwrite, punch, truncate down and up, compressed write (a disk of a
 * guest created with compressed disks),
 * seal (memory.save commit), resume, discard, create, unlink, rename, and
 * recovery at open itself (an unsealed image set aside).
 *
 * Also: after a failed fdatasync no later commit succeeds until reopen
 * (test_poison, and after every run whose fdatasync failed, a second
 * container_commit with the device healthy again must fail too).
 * Allocation failures are test_oom.c; the snapshots compared are
 * guest_state.h's.
 *
 * Every (operation, fault) pair and the fdatasync poisoning run twice: on a
 * plain container and on an encrypted one (the store's master key given at
 * create, open and check), with the same checks.
 */
#include <unistd.h>

#include "hangar/check.h"
#include "container_open.h"
#include "crypto.h"
#include "format.h"
#include "harness.h"
#include "guest_state.h"
#include "memio.h"
#include "hangar/savelock.h"

#define CS	  4096u
#define DISK_SIZE (64u * CS)

enum op {
	OP_ALLOC_WRITE,
	OP_OVERWRITE,
	OP_PUNCH,
	OP_TRUNCATE,
	OP_TRUNCATE_UP,
	OP_COMPRESSED_WRITE,
	OP_SEAL,
	OP_RESUME,
	OP_DISCARD,
	OP_CREATE,
	OP_UNLINK,
	OP_RENAME,
	OP_RECOVERY,
	OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
	"allocating write", "overwrite",	"punch",  "truncate",
	"truncate up",	    "compressed write", "seal",	  "resume",
	"discard",	    "create",		"unlink", "rename",
	"recovery at open"};

struct fault {
	const char *name;
	unsigned mask;
	int err;
	bool sticky, short_write;
};

static const struct fault faults[] = {
	{"EIO once",
	 MEMIO_OP_PWRITE | MEMIO_OP_SYNC | MEMIO_OP_TRUNCATE |
		 MEMIO_OP_FALLOCATE | MEMIO_OP_PREAD,
	 -EIO, false, false},
	{"EIO persistent",
	 MEMIO_OP_PWRITE | MEMIO_OP_SYNC | MEMIO_OP_TRUNCATE |
		 MEMIO_OP_FALLOCATE | MEMIO_OP_PREAD,
	 -EIO, true, false},
	{"ENOSPC persistent", MEMIO_OP_PWRITE | MEMIO_OP_FALLOCATE, -ENOSPC,
	 true, false},
	{"short write", MEMIO_OP_PWRITE, -EIO, false, true},
	{"EIO from fdatasync", MEMIO_OP_SYNC, -EIO, false, false},
};

static bool is_data_op(enum op op)
{
	return op == OP_ALLOC_WRITE || op == OP_OVERWRITE || op == OP_PUNCH ||
	       op == OP_TRUNCATE || op == OP_TRUNCATE_UP ||
	       op == OP_COMPRESSED_WRITE;
}

/* The first failed call was a superblock write. */
static bool sb_fault(const struct memio *m)
{
	return m->failed && m->failed_kind == MEMIO_OP_PWRITE &&
	       m->failed_len == FORMAT_SECTOR_SIZE &&
	       (m->failed_offset == FORMAT_SUPERBLOCK_A_OFFSET ||
		m->failed_offset == FORMAT_SUPERBLOCK_B_OFFSET);
}

/* NULL: plain containers; else the master key of an encrypted store, given
 * at every create, open and check. */
static struct crypto_key *key;
static long runs, injected;

#define OPTS (&(struct container_options){TEST_MAP_CACHE, .master = key})

/* The base guest every run starts from, committed. */
static struct memio *make_base(enum op op)
{
	struct memio *m = memio_new();
	struct container_options o = {
		TEST_MAP_CACHE, .cluster_shift = 12,
		.compress_disks = op == OP_COMPRESSED_WRITE, .master = key};
	struct container *c = NULL;
	uint64_t disk, img, cfg;
	uint8_t *buf = malloc(DISK_SIZE);
	for (size_t i = 0; i < DISK_SIZE; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	CHECK_OK(container_create(&m->io, &o, &c));
	CHECK_OK(object_create(c, "disk.raw", 0600, 0, 0, &disk));
	CHECK_OK(object_write(c, disk, buf, DISK_SIZE / 2, 0));
	CHECK_OK(object_truncate(c, disk, DISK_SIZE));
	CHECK_OK(object_create(c, "config", 0600, 0, 0, &cfg));
	CHECK_OK(object_write(c, cfg, "cpus=2\n", 7, 0));
	if (op == OP_RESUME || op == OP_DISCARD || op == OP_RECOVERY) {
		CHECK_OK(object_create(c, SAVE_IMAGE_NAME, 0600, 0, 0, &img));
		CHECK_OK(object_write(c, img, buf, 10 * CS, 0));
		if (op != OP_RECOVERY)
			CHECK_OK(save_lock_seal(c));
	}
	CHECK_OK(container_close(c));
	free(buf);
	return m;
}

static int apply(struct container *c, enum op op)
{
	uint8_t buf[3 * CS];
	memset(buf, 0xc3, sizeof(buf));
	char reason[256];
	uint64_t id;
	switch (op) {
	case OP_ALLOC_WRITE:
		return object_write(c, guest_object_id(c, "disk.raw"), buf,
				    sizeof(buf), DISK_SIZE - 5 * CS + 100);
	case OP_OVERWRITE:
		return object_write(c, guest_object_id(c, "disk.raw"), buf,
				    sizeof(buf), CS + 11);
	case OP_PUNCH:
		return object_punch(c, guest_object_id(c, "disk.raw"), CS / 2,
				    5 * CS);
	case OP_TRUNCATE:
		return object_truncate(c, guest_object_id(c, "disk.raw"),
				       3 * CS + 5);
	case OP_TRUNCATE_UP:
		return object_truncate(c, guest_object_id(c, "disk.raw"),
				       2 * DISK_SIZE + 77);
	case OP_COMPRESSED_WRITE: /* disks are compressed in this base */
		return object_write(c, guest_object_id(c, "disk.raw"), buf,
				    sizeof(buf), CS * 2 + 7);
	case OP_SEAL: { /* write an image, then seal it */
		int ret = object_create(c, SAVE_IMAGE_NAME, 0600, 0, 0, &id);
		if (!ret)
			ret = object_write(c, id, buf, sizeof(buf), 0);
		return ret ? ret : save_lock_seal(c);
	}
	case OP_RESUME:
		return save_lock_resume(c, reason, sizeof(reason));
	case OP_DISCARD:
		return save_lock_discard(c);
	case OP_CREATE:
		return object_create(c, "nvram.fd", 0600, 0, 0, &id);
	case OP_UNLINK:
		return object_unlink(c, "config");
	case OP_RENAME:
		return object_rename(c, "config", "config.old", false);
	default:
		return 0;
	}
}

static void run_one(enum op op, const struct fault *f)
{
	struct memio *base = make_base(op);
	struct guest_state before, after;
	struct container *c = NULL;

	/* the expected "after" state, without faults */
	struct memio *ref = memio_clone(base);
	CHECK_OK(container_open(&ref->io, OPTS, &c));
	CHECK_OK(guest_state_read(c, &before));
	CHECK_OK(apply(c, op));
	CHECK_OK(container_commit(c));
	CHECK_OK(container_close(c));
	/* "after" as a reopen sees it (recovery included) */
	CHECK_OK(container_open(&ref->io, OPTS, &c));
	CHECK_OK(guest_state_read(c, &after));
	CHECK_OK(container_close(c));
	memio_free(ref);
	if (op == OP_RECOVERY) {
		/* the "operation" is the open: before it, memory.save is an
		 * unsealed image; after it, memory.save.incomplete */
		guest_state_free(&before);
		struct memio *ro = memio_clone(base);
		struct container_options rdo = {
			TEST_MAP_CACHE, .read_only = true, .master = key};
		CHECK_OK(container_open(&ro->io, &rdo, &c));
		CHECK_OK(guest_state_read(c, &before));
		container_close(c);
		memio_free(ro);
	}

	for (long n = 1;; n++) {
		struct memio *m = memio_clone(base);
		memio_fail(m, f->mask, n, f->err, f->sticky);
		m->fail_short = f->short_write;
		bool committed = false, sync_failed = false;
		int ret = container_open(&m->io, OPTS, &c);
		if (ret == 0) {
			ret = apply(c, op);
			if (ret == 0) {
				ret = container_commit(c);
				committed = ret == 0;
			}
			/* fsyncgate: once a backing fdatasync failed, no
			 * later flush of this instance may succeed, even
			 * with the device healthy again */
			sync_failed =
				m->failed && m->failed_kind == MEMIO_OP_SYNC;
			if (sync_failed) {
				m->fail_mask = 0;
				int again = container_commit(c);
				if (again == 0)
					fprintf(stderr,
						"%s / %s / N=%ld: a commit "
						"after the failed fdatasync "
						"succeeded\n",
						op_names[op], f->name, n);
				CHECK(again != 0);
			}
			container_close(c);
		}
		bool reached = m->failed || sync_failed;
		if (ret) {
			/* the real errno of the fault, nothing invented;
			 * except that a failed superblock write poisons the
			 * container, and core reports the poison (even of
			 * an ENOSPC) as EIO (container_poison) */
			bool errno_ok =
				ret == f->err || (ret == -EIO && sb_fault(m));
			if (!errno_ok)
				fprintf(stderr,
					"%s / %s / N=%ld: returned %d, fault "
					"was %d (kind %d at %llu+%llu)\n",
					op_names[op], f->name, n, ret, f->err,
					m->failed_kind,
					(unsigned long long)m->failed_offset,
					(unsigned long long)m->failed_len);
			CHECK(errno_ok);
		}
		/* a fault reached before the commit returned is reported (an
		 * error the caller never hears about is a lost write) ... */
		if (sync_failed && ret == 0)
			fprintf(stderr,
				"%s / %s / N=%ld: fdatasync failed, the "
				"operation and its commit reported success\n",
				op_names[op], f->name, n);
		CHECK(!(sync_failed && ret == 0));
		/* ... and without a fault the operation completes */
		if (!reached && ret)
			fprintf(stderr,
				"%s / %s / N=%ld: failed (%d) without "
				"a fault\n",
				op_names[op], f->name, n, ret);
		CHECK(reached || ret == 0);
		memio_fail(m, 0, 0, 0, false);
		struct check_report r;
		CHECK_OK(check_container_key(&m->io, key, &r));
		for (size_t i = 0; i < r.message_count; i++)
			fprintf(stderr, "%s / %s / N=%ld: %s\n", op_names[op],
				f->name, n, r.messages[i]);
		CHECK_EQ(r.errors, 0);
		CHECK_EQ(r.leaked_clusters, 0);
		CHECK_OK(container_open(&m->io, OPTS, &c));
		struct guest_state now;
		CHECK_OK(guest_state_read(c, &now));
		bool is_before = guest_state_equal(&now, &before);
		bool is_after = guest_state_equal(&now, &after);
		bool partial = ret && is_data_op(op) &&
			       guest_state_between(&now, &before, &after);
		if (!(is_after || (is_before && !committed) || partial)) {
			fprintf(stderr,
				"%s / %s / N=%ld: unexpected state (ret %d, "
				"committed %d, before %d)\n",
				op_names[op], f->name, n, ret, committed,
				is_before);
			CHECK(0);
		}
		guest_state_free(&now);
		container_close(c);
		memio_free(m);
		runs++;
		if (!reached)
			break;
		injected++;
	}
	guest_state_free(&before);
	guest_state_free(&after);
	memio_free(base);
}

/* fsyncgate: a failed fdatasync is never followed by a successful flush. */
static void test_poison(void)
{
	struct memio *m = make_base(OP_OVERWRITE);
	struct container *c = NULL;
	CHECK_OK(container_open(&m->io, OPTS, &c));
	uint64_t disk = guest_object_id(c, "disk.raw");
	CHECK_OK(object_write(c, disk, "abc", 3, 0));
	memio_fail(m, MEMIO_OP_SYNC, 1, -EIO, false);
	CHECK_ERR(container_commit(c), -EIO);
	memio_fail(m, 0, 0, 0, false); /* the device "recovered" */
	CHECK_ERR(container_commit(c), -EIO);
	CHECK_ERR(object_write(c, disk, "abc", 3, 0), -EIO);
	struct container_info info;
	container_info(c, &info);
	CHECK_EQ(info.poisoned, -EIO);
	container_close(c);
	/* reopened and re-verified, the guest works again */
	struct check_report r;
	CHECK_OK(check_container_key(&m->io, key, &r));
	CHECK_EQ(r.errors, 0);
	CHECK_OK(container_open(&m->io, OPTS, &c));
	CHECK_OK(object_write(c, disk, "abc", 3, 0));
	CHECK_OK(container_commit(c));
	CHECK_OK(container_close(c));
	memio_free(m);
}

static void run_all(void)
{
	test_poison();
	for (int op = 0; op < OP_COUNT; op++)
		for (size_t f = 0; f < sizeof(faults) / sizeof(faults[0]); f++)
			run_one((enum op)op, &faults[f]);
}

int main(void)
{
	run_all();
	const long plain_runs = runs, plain_injected = injected;
	CHECK_OK(crypto_key_generate(&key));
	run_all();
	crypto_key_free(key);
	key = NULL;
	printf("faults: %ld runs, %ld faults injected (plain: %ld runs, %ld "
	       "faults; encrypted: %ld runs, %ld faults), 0 failures\n",
	       runs, injected, plain_runs, plain_injected, runs - plain_runs,
	       injected - plain_injected);
	return 0;
}
