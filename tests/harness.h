/*
 * harness.h -- the few helpers every C test uses.
 *
 * CHECK(cond), CHECK_EQ(a, b) (integers), CHECK_OK(expr) (expects 0 from a
 * 0-or-negative-errno function), CHECK_ERR(expr, -E...) and CHECK_MEM_EQ
 * print file:line, the failing expression and the values, then exit(1).
 * They are not asserts: they stay on whatever NDEBUG says, and the expression
 * is evaluated exactly once.
 *
 * test_tmpdir_new() makes a fresh directory under $TMPDIR (or /tmp) with
 * mkdtemp; test_tmpdir_remove() deletes it recursively.  Header-only; every
 * function is static so each test is one translation unit.
 */
#ifndef HANGAR_TESTS_HARNESS_H
#define HANGAR_TESTS_HARNESS_H

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			exit(1);                                               \
		}                                                              \
	} while (0)

#define CHECK_EQ(a, b)                                                         \
	do {                                                                   \
		const intmax_t check_a_ = (intmax_t)(a);                       \
		const intmax_t check_b_ = (intmax_t)(b);                       \
		if (check_a_ != check_b_) {                                    \
			fprintf(stderr,                                        \
				"%s:%d: CHECK_EQ failed: %s == %s "            \
				"(%jd vs %jd, 0x%jx vs 0x%jx)\n",              \
				__FILE__, __LINE__, #a, #b, check_a_,          \
				check_b_, (uintmax_t)check_a_,                 \
				(uintmax_t)check_b_);                          \
			exit(1);                                               \
		}                                                              \
	} while (0)

#define CHECK_OK(expr)                                                         \
	do {                                                                   \
		const int check_r_ = (expr);                                   \
		if (check_r_ != 0) {                                           \
			fprintf(stderr,                                        \
				"%s:%d: CHECK_OK failed: %s returned %d "      \
				"(%s)\n",                                      \
				__FILE__, __LINE__, #expr, check_r_,           \
				strerror(check_r_ < 0 ? -check_r_ : 0));       \
			exit(1);                                               \
		}                                                              \
	} while (0)

#define CHECK_ERR(expr, want)                                                  \
	do {                                                                   \
		const int check_r_ = (expr);                                   \
		const int check_w_ = (want);                                   \
		if (check_r_ != check_w_) {                                    \
			fprintf(stderr,                                        \
				"%s:%d: CHECK_ERR failed: %s returned %d, "    \
				"want %s (%d)\n",                              \
				__FILE__, __LINE__, #expr, check_r_, #want,    \
				check_w_);                                     \
			exit(1);                                               \
		}                                                              \
	} while (0)

#define CHECK_MEM_EQ(a, b, len)                                                \
	do {                                                                   \
		if (memcmp((a), (b), (len)) != 0) {                            \
			fprintf(stderr,                                        \
				"%s:%d: CHECK_MEM_EQ failed: %s vs %s "        \
				"(%zu bytes)\n",                               \
				__FILE__, __LINE__, #a, #b, (size_t)(len));    \
			exit(1);                                               \
		}                                                              \
	} while (0)

/* test_map_cache_bytes - the map cache budget the tests open containers
 * and stores with (container_options / store_options.map_cache_bytes):
 * $HANGAR_MAP_CACHE_BYTES, else 0 (the default).  tests/CMakeLists.txt runs
 * the core tests a second time with 1, a cache of about one leaf: leaves
 * are evicted and read back all the time. */
static inline uint64_t test_map_cache_bytes(void)
{
	const char *v = getenv("HANGAR_MAP_CACHE_BYTES");
	return v && *v ? strtoull(v, NULL, 0) : 0;
}

/* Designated initializer for container_options and store_options. */
#define TEST_MAP_CACHE .map_cache_bytes = test_map_cache_bytes()
/* Options for a call that would pass NULL. */
#define TEST_OPTS	(&(struct container_options){TEST_MAP_CACHE})
#define TEST_STORE_OPTS (&(struct store_options){TEST_MAP_CACHE})

/* test_tmpdir_new - a fresh directory under $TMPDIR; malloc'd path, exits on
 * failure. */
static inline char *test_tmpdir_new(void)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	if (asprintf(&path, "%s/hangar-test.XXXXXX", base) < 0) {
		fprintf(stderr, "test_tmpdir_new: out of memory\n");
		exit(1);
	}
	if (mkdtemp(path) == NULL) {
		fprintf(stderr, "test_tmpdir_new: mkdtemp %s: %s\n", path,
			strerror(errno));
		exit(1);
	}
	return path;
}

static inline int test_tmpdir_remove_one(const char *path,
					 const struct stat *st, int type,
					 struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	if (remove(path) != 0)
		fprintf(stderr, "test_tmpdir_remove: %s: %s\n", path,
			strerror(errno));
	return 0;
}

/* test_tmpdir_remove - delete `path` and everything under it, then free it.
 * Accepts NULL. */
static inline void test_tmpdir_remove(char *path)
{
	if (path == NULL)
		return;
	nftw(path, test_tmpdir_remove_one, 16, FTW_DEPTH | FTW_PHYS);
	free(path);
}

/* test_path - "dir/name", malloc'd; exits on failure. */
static inline char *test_path(const char *dir, const char *name)
{
	char *path;

	if (asprintf(&path, "%s/%s", dir, name) < 0) {
		fprintf(stderr, "test_path: out of memory\n");
		exit(1);
	}
	return path;
}

/* test_seed - a PRNG seed from $HANGAR_TEST_SEED or the clock, printed so a
 * failure can be replayed. */
static inline uint64_t test_seed(void)
{
	const char *env = getenv("HANGAR_TEST_SEED");
	uint64_t seed;

	if (env != NULL && env[0] != '\0')
		seed = strtoull(env, NULL, 0);
	else
		seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	fprintf(stderr, "HANGAR_TEST_SEED=%" PRIu64 "\n", seed);
	return seed;
}

/* test_rand - xorshift64*; deterministic for a given seed. */
static inline uint64_t test_rand(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ULL;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* test_pick_distinct - `n` distinct values below `bound` (n <= bound), from
 * test_rand seeded with `seed`: the blocks a test scatters over a disk. */
static inline void test_pick_distinct(uint64_t seed, size_t n, uint64_t bound,
				      uint64_t *out)
{
	uint64_t s = seed;
	for (size_t i = 0; i < n; i++) {
		bool dup;
		do {
			out[i] = test_rand(&s) % bound;
			dup = false;
			for (size_t j = 0; j < i && !dup; j++)
				dup = out[j] == out[i];
		} while (dup);
	}
}

#endif /* HANGAR_TESTS_HARNESS_H */
