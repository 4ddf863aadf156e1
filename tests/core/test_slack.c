/*
 * test_slack.c -- space freed by copy-on-write waits for a commit, but not
 * without bound (core/alloc.c invariant 11).
 *
 *   - an encrypted disk (every write is copy-on-write) rewritten three
 *     times over, a commit after each pass as the committer's tick would:
 *     with a 64 MiB slack the container file stays within the disk plus
 *     about two slacks, commits ran by themselves, every byte reads back,
 *     check is clean, a reopen reads the same.  With no limit it grows to three copies and no commit comes by
 *     itself, so the limit is what bounds it;
 *   - a store: the writer that crosses the slack wakes the store's
 *     committer (the tick an hour away), which commits the guest while
 *     the writer goes on; every byte reads back;
 *   - a plain disk rewritten in place (default slack) strands nothing: no
 *     commit runs that nobody asked for.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hangar/check.h"
#include "hangar/store.h"
#include "container_open.h"
#include "crypto.h"
#include "harness.h"
#include "internal.h"
#include "io.h"

#define DISK_LEN (256ull << 20)
#define CHUNK	 (1u << 20)
#define PASSES	 3
#define SLACK	 (64ull << 20)

/* Bytes that differ at every offset and in every pass, incompressible. */
static uint64_t scramble(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x9e3779b97f4a7c15ull;
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	return x ^ (x >> 32);
}

static void fill(uint8_t *p, size_t len, uint64_t off, unsigned pass)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = scramble(((off + i) << 4) ^ pass);
		memcpy(p + i, &v, 8);
	}
}

static uint64_t commits_of(struct container *c)
{
	struct container_io_stats st;
	container_io_stats(c, &st);
	return st.commits;
}

static void verify(struct container *c, uint64_t id, unsigned pass)
{
	uint8_t *want = malloc(CHUNK), *got = malloc(CHUNK);
	CHECK(want && got);
	for (uint64_t off = 0; off < DISK_LEN; off += CHUNK) {
		size_t n = 0;
		fill(want, CHUNK, off, pass);
		CHECK_OK(object_read(c, id, got, CHUNK, off, &n));
		CHECK_EQ(n, CHUNK);
		CHECK(memcmp(want, got, CHUNK) == 0);
	}
	free(want);
	free(got);
}

/* Writes the disk `passes` times over (pass 0 first), committing after
 * each pass; returns the commits the rewrites made without being asked. */
static uint64_t rewrite(struct container *c, uint64_t id, unsigned passes)
{
	uint8_t *buf = malloc(CHUNK);
	CHECK(buf != NULL);
	CHECK_OK(object_truncate(c, id, DISK_LEN));
	for (uint64_t off = 0; off < DISK_LEN; off += CHUNK) {
		fill(buf, CHUNK, off, 0);
		CHECK_OK(object_write(c, id, buf, CHUNK, off));
	}
	CHECK_OK(container_commit(c));
	uint64_t made = 0;
	for (unsigned pass = 1; pass <= passes; pass++) {
		const uint64_t before = commits_of(c);
		for (uint64_t off = 0; off < DISK_LEN; off += CHUNK) {
			fill(buf, CHUNK, off, pass);
			CHECK_OK(object_write(c, id, buf, CHUNK, off));
		}
		made += commits_of(c) - before;
		CHECK_OK(container_commit(c));
	}
	free(buf);
	return made;
}

static uint64_t file_size(const char *path)
{
	struct stat st;
	CHECK_EQ(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

/* One run with container_options.slack_bytes = `slack`; returns the
 * container file's size after the rewrites. */
static uint64_t encrypted_rewrites(uint64_t slack)
{
	char *dir = test_tmpdir_new();
	char *path = test_path(dir, "guest.hangar");
	struct crypto_key *master = NULL;
	struct io *io = NULL;
	struct container *c = NULL;
	uint64_t id;
	struct check_report r;

	CHECK_OK(crypto_key_generate(&master));
	struct container_options opts = {TEST_MAP_CACHE, .master = master,
					 .cluster_shift = 14,
					 .slack_bytes = slack};
	CHECK_OK(io_file_open(path, O_RDWR | O_CREAT | O_EXCL, &io));
	CHECK_OK(container_create(io, &opts, &c));
	CHECK_OK(object_create(c, "disk.raw", 0600, 0, 0, &id));
	const uint64_t made = rewrite(c, id, PASSES);
	const uint64_t size = file_size(path);
	printf("slack: encrypted, %llu MiB rewritten %u times, slack %s: "
	       "%llu commits made by the limit, container file %llu MiB\n",
	       (unsigned long long)(DISK_LEN >> 20), PASSES,
	       slack == UINT64_MAX ? "none" : "64 MiB",
	       (unsigned long long)made, (unsigned long long)(size >> 20));
	if (slack == UINT64_MAX) {
		/* no limit: live, the pass's old copies, the pass before's
		 * (held) */
		CHECK_EQ(made, 0);
	} else {
		/* each limit's worth freed is committed */
		CHECK(made >= PASSES * (DISK_LEN / SLACK - 1));
		/* the disk, what the open transaction stranded and what the
		 * commit before holds, a little metadata */
		CHECK(size <= DISK_LEN + 2 * SLACK + (16u << 20));
	}
	verify(c, id, PASSES);
	CHECK_OK(container_close(c));

	CHECK_OK(io_file_open(path, O_RDONLY, &io));
	CHECK_OK(check_container_key(io, master, &r));
	for (size_t i = 0; i < r.message_count; i++)
		fprintf(stderr, "check: %s\n", r.messages[i]);
	CHECK_EQ(r.errors, 0);
	io_close(io);
	CHECK_OK(io_file_open(path, O_RDWR, &io));
	CHECK_OK(container_open(io, &opts, &c));
	verify(c, id, PASSES);
	CHECK_OK(container_close(c));
	crypto_key_free(master);
	free(path);
	test_tmpdir_remove(dir);
	return size;
}

/* The store's path: container_options.commit_wanted wakes its committer. */
static void store_committer(void)
{
	char *dir = test_tmpdir_new();
	char *sdir = test_path(dir, "store");
	char *locks = test_path(dir, "run");
	static const char secret[] = "test_slack keyfile bytes";
	const struct store_init_options init = {
		.encrypt = true,
		.key_kind = KEYSLOT_KIND_KEYFILE,
		.key_secret = secret,
		.key_secret_len = sizeof(secret) - 1};
	const struct store_options so = {TEST_MAP_CACHE,
					 .commit_interval_ms = 3600 * 1000,
					 .cow_slack_bytes = 4u << 20,
					 .key_kind = KEYSLOT_KIND_KEYFILE,
					 .key_secret = secret,
					 .key_secret_len = sizeof(secret) - 1,
					 .host_lock_dir = locks};
	const uint64_t len = 32u << 20;
	struct store *s = NULL;
	struct container *c = NULL;
	uint8_t *buf = malloc(CHUNK);
	uint64_t id;

	CHECK(buf != NULL);
	CHECK_OK(store_init(sdir, &init));
	CHECK_OK(store_open(sdir, &so, &s));
	CHECK_OK(store_guest_create(s, "g", NULL));
	CHECK_OK(store_guest_get(s, "g", &c));
	CHECK_OK(object_create(c, "disk.raw", 0600, 0, 0, &id));
	for (uint64_t off = 0; off < len; off += CHUNK) {
		fill(buf, CHUNK, off, 0);
		CHECK_OK(object_write(c, id, buf, CHUNK, off));
	}
	CHECK_OK(container_commit(c));
	const uint64_t before = commits_of(c);
	for (unsigned pass = 1; pass <= 2; pass++)
		for (uint64_t off = 0; off < len; off += CHUNK) {
			fill(buf, CHUNK, off, pass);
			CHECK_OK(object_write(c, id, buf, CHUNK, off));
		}
	/* 32 MiB freed, a commit wanted at every 4 MiB: the committer makes
	 * them as it can, the last ones after the writes */
	uint64_t made = 0;
	for (int i = 0; i < 500 && made < 2; i++) {
		made = commits_of(c) - before;
		if (made < 2)
			usleep(10 * 1000);
	}
	printf("slack: store, %llu MiB rewritten twice with a 4 MiB slack: "
	       "%llu commits by the committer\n",
	       (unsigned long long)(len >> 20), (unsigned long long)made);
	CHECK(made >= 2);
	for (uint64_t off = 0; off < len; off += CHUNK) {
		size_t n = 0;
		uint8_t *want = malloc(CHUNK);
		CHECK(want != NULL);
		fill(want, CHUNK, off, 2);
		CHECK_OK(object_read(c, id, buf, CHUNK, off, &n));
		CHECK_EQ(n, CHUNK);
		CHECK(memcmp(want, buf, CHUNK) == 0);
		free(want);
	}
	store_guest_put(s, c);
	CHECK_OK(store_close(s));
	free(buf);
	free(locks);
	free(sdir);
	test_tmpdir_remove(dir);
}

static void plain_in_place(void)
{
	char *dir = test_tmpdir_new();
	char *path = test_path(dir, "guest.hangar");
	struct io *io = NULL;
	struct container *c = NULL;
	uint64_t id;

	CHECK_OK(io_file_open(path, O_RDWR | O_CREAT | O_EXCL, &io));
	CHECK_OK(container_create(io, TEST_OPTS, &c));
	CHECK_OK(object_create(c, "disk.raw", 0600, 0, 0, &id));
	CHECK_EQ(rewrite(c, id, PASSES), 0);
	CHECK(file_size(path) <= DISK_LEN + (8u << 20));
	printf("slack: plain, rewritten in place: no commit made\n");
	verify(c, id, PASSES);
	CHECK_OK(container_close(c));
	free(path);
	test_tmpdir_remove(dir);
}

int main(void)
{
	const uint64_t bounded = encrypted_rewrites(SLACK);
	const uint64_t unbounded = encrypted_rewrites(UINT64_MAX);
	CHECK(unbounded >= 3 * DISK_LEN);
	CHECK(bounded + DISK_LEN <= unbounded);
	store_committer();
	plain_in_place();
	printf("test_slack: ok\n");
	return 0;
}
