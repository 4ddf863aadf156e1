/*
 * test_store_stall.c -- one guest must not stall the others, and the
 * guest cache keeps few containers open.
 *
 * A slow open: this program defines pread() itself, so the store's
 * io_file.c calls ours, which sleeps on every read of one chosen container
 * file (by inode) and reads the rest at full speed.  While a thread opens
 * the slow guest, the main thread opens and stats another guest, creates
 * one and deletes one; each must finish in a fraction of the slow open.
 *
 * The open cap: with RLIMIT_NOFILE lowered, getting and putting many
 * guests one after another keeps the process's descriptors bounded (idle
 * containers are committed and closed, least recently used first), while a
 * guest with a reference held is never closed underneath its holder.
 *
 * Listing: store_guest_dir_getattr of every guest (what `ls -l` of a mount
 * asks) opens no container and keeps no descriptor, reads nothing the
 * second time, follows a change made through an open container after it
 * was closed and a rename, and answers for a guest whose slow open is
 * under way without waiting for it.
 */
#include <dirent.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness.h"
#include "hangar/crypto.h"
#include "hangar/store.h"

#define SLOW_READ_MS 300

static volatile ino_t slow_ino; /* 0: nothing is slow */
static volatile unsigned slow_reads;
static volatile unsigned all_reads; /* every pread of the process */

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

ssize_t pread(int fd, void *buf, size_t len, off_t off);
ssize_t pread64(int fd, void *buf, size_t len, off_t off);

ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
	struct stat st;
	all_reads++;
	if (slow_ino && fstat(fd, &st) == 0 && st.st_ino == slow_ino) {
		slow_reads++;
		sleep_ms(SLOW_READ_MS);
	}
	return (ssize_t)syscall(SYS_pread64, fd, buf, len, off);
}

ssize_t pread64(int fd, void *buf, size_t len, off_t off)
{
	return pread(fd, buf, len, off);
}

struct opener {
	struct store *s;
	const char *name;
	double took;
	int ret;
};

static void *open_slow(void *arg)
{
	struct opener *o = arg;
	struct container *c = NULL;
	double t0 = now_s();
	o->ret = store_guest_get(o->s, o->name, &c);
	o->took = now_s() - t0;
	if (o->ret == 0)
		store_guest_put(o->s, c);
	return NULL;
}

/* Start opening guest `name` (slow) in a thread; return once it reads. */
static void slow_open_start(struct opener *o, pthread_t *t, struct store *s,
			    const char *sdir, const char *name)
{
	struct stat st;
	char file[64];
	snprintf(file, sizeof(file), "%s.hangar", name);
	char *path = test_path(sdir, file);
	CHECK_EQ(stat(path, &st), 0);
	free(path);
	memset(o, 0, sizeof(*o));
	o->s = s;
	o->name = name;
	slow_reads = 0;
	slow_ino = st.st_ino;
	CHECK_EQ(pthread_create(t, NULL, open_slow, o), 0);
	while (slow_reads == 0)
		sleep_ms(1);
}

static double slow_open_end(struct opener *o, pthread_t t)
{
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK_OK(o->ret);
	slow_ino = 0;
	CHECK(o->took >= 2 * SLOW_READ_MS / 1000.0);
	return o->took;
}

static void stall(const char *sdir)
{
	struct store *s = NULL;
	struct store_options so = {TEST_MAP_CACHE};
	struct container *c = NULL;
	struct object_attr oa;
	struct opener o;
	pthread_t t;
	double t0;

	CHECK_OK(store_open(sdir, &so, &s));
	const char *guests[] = {"slow1", "slow2", "slow3", "other", "victim"};
	for (size_t i = 0; i < sizeof(guests) / sizeof(guests[0]); i++)
		CHECK_OK(store_guest_create(s, guests[i], NULL));

	/* While a slow open is under way, the other guests answer at once. */
	slow_open_start(&o, &t, s, sdir, "slow1");
	t0 = now_s();
	CHECK_OK(store_guest_get(s, "other", &c));
	int r = container_dir_getattr(c, &oa);
	CHECK(r == 0 || r == -ENODATA); /* never set: the defaults */
	store_guest_put(s, c);
	double stat_other = now_s() - t0;
	double took1 = slow_open_end(&o, t);

	slow_open_start(&o, &t, s, sdir, "slow2");
	t0 = now_s();
	CHECK_OK(store_guest_create(s, "new", NULL));
	double create_new = now_s() - t0;
	double took2 = slow_open_end(&o, t);

	slow_open_start(&o, &t, s, sdir, "slow3");
	t0 = now_s();
	CHECK_OK(store_guest_delete(s, "victim", 0));
	double delete_victim = now_s() - t0;
	double took3 = slow_open_end(&o, t);

	printf("during a slow open (%.3f s): open+stat of another guest "
	       "%.3f s\n",
	       took1, stat_other);
	printf("during a slow open (%.3f s): create of a guest %.3f s\n", took2,
	       create_new);
	printf("during a slow open (%.3f s): delete of a guest %.3f s\n", took3,
	       delete_victim);
	/* Each took a fraction of the slow open (fsyncs on a loaded CI
	 * machine can take tens of milliseconds, hence not "zero"). */
	CHECK(stat_other < took1 / 2);
	CHECK(create_new < took2 / 2);
	CHECK(delete_victim < took3 / 2);
	CHECK_OK(store_close(s));

	/* Two threads opening the same slow guest: one open serves both. */
	CHECK_OK(store_open(sdir, &so, &s));
	struct opener a, b = {.s = s, .name = "slow1"};
	pthread_t tb;
	slow_open_start(&a, &t, s, sdir, "slow1");
	CHECK_EQ(pthread_create(&tb, NULL, open_slow, &b), 0);
	slow_open_end(&a, t);
	CHECK_EQ(pthread_join(tb, NULL), 0);
	CHECK_OK(b.ret);
	unsigned reads_two = slow_reads;
	CHECK_OK(store_close(s));
	CHECK_OK(store_open(sdir, &so, &s));
	slow_open_start(&a, &t, s, sdir, "slow1");
	slow_open_end(&a, t);
	CHECK_EQ(reads_two, slow_reads);
	CHECK_OK(store_close(s));
}

static unsigned fd_count(void)
{
	unsigned n = 0;
	DIR *d = opendir("/proc/self/fd");
	CHECK(d != NULL);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void many(const char *sdir)
{
	struct store *s = NULL;
	struct store_options so = {TEST_MAP_CACHE};
	struct container *held = NULL, *c = NULL;
	struct rlimit old, low;
	char name[32];
	const unsigned guests = 300;

	CHECK_OK(store_open(sdir, &so, &s));
	for (unsigned i = 0; i < guests; i++) {
		snprintf(name, sizeof(name), "g%u", i);
		CHECK_OK(store_guest_create(s, name, NULL));
	}
	CHECK_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = 128;
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
	unsigned before = fd_count();
	CHECK_OK(store_guest_get(s, "g0", &held));
	uint64_t id;
	CHECK_OK(object_create(held, "disk.raw", 0600, 0, 0, &id));
	CHECK_OK(object_write(held, id, "held", 4, 0));
	for (unsigned round = 0; round < 2; round++)
		for (unsigned i = 1; i < guests; i++) {
			snprintf(name, sizeof(name), "g%u", i);
			CHECK_OK(store_guest_get(s, name, &c));
			if (i == 7 && round == 0) {
				uint64_t oid;
				CHECK_OK(object_create(c, "config", 0644, 0, 0,
						       &oid));
			}
			store_guest_put(s, c);
		}
	unsigned after = fd_count();
	printf("%u guests opened twice under RLIMIT_NOFILE %u: descriptors "
	       "%u before, %u after\n",
	       guests, (unsigned)low.rlim_cur, before, after);
	CHECK(after < before + 64);
	/* the held guest was never closed under us */
	char buf[4];
	size_t got = 0;
	CHECK_OK(object_read(held, id, buf, 4, 0, &got));
	CHECK_EQ(got, 4);
	CHECK_MEM_EQ(buf, "held", 4);
	store_guest_put(s, held);
	/* the evicted guest's change was committed before it was closed */
	CHECK_OK(store_guest_get(s, "g7", &c));
	uint64_t oid;
	CHECK_OK(object_lookup(c, "config", &oid));
	store_guest_put(s, c);
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
	CHECK_OK(store_close(s));
}

/* Directory attributes of every guest, as a listing asks for them; how
 * many had them set (mode 0711 expected of those). */
static unsigned list_all(struct store *s, unsigned guests)
{
	char name[32];
	unsigned set = 0;
	for (unsigned i = 0; i < guests; i++) {
		struct object_attr oa;
		snprintf(name, sizeof(name), "g%u", i);
		int r = store_guest_dir_getattr(s, name, &oa);
		CHECK(r == 0 || r == -ENODATA);
		if (r == 0) {
			CHECK_EQ(oa.mode & 07777, 0711);
			set++;
		}
	}
	return set;
}

static void listing(const char *sdir)
{
	struct store *s = NULL;
	struct store_options so = {TEST_MAP_CACHE};
	struct container *c = NULL;
	struct object_attr oa = {.mode = S_IFDIR | 0711, .uid = 1234};
	struct rlimit old, low;
	struct opener o;
	pthread_t t;
	char name[32];
	const unsigned guests = 200;

	CHECK_OK(store_open(sdir, &so, &s));
	for (unsigned i = 0; i < guests; i++) {
		snprintf(name, sizeof(name), "g%u", i);
		CHECK_OK(store_guest_create(s, name, NULL));
	}
	CHECK_OK(store_guest_get(s, "g5", &c));
	CHECK_OK(container_dir_setattr(c, &oa, OBJECT_SET_MODE | OBJECT_SET_UID,
				       NULL));
	store_guest_put(s, c);
	CHECK_OK(store_close(s));

	CHECK_OK(store_open(sdir, &so, &s));
	const unsigned before = fd_count();
	const unsigned reads0 = all_reads;
	CHECK_EQ(list_all(s, guests), 1);
	const unsigned reads1 = all_reads;
	CHECK_EQ(fd_count(), before); /* no container stayed open */
	CHECK_EQ(list_all(s, guests), 1);
	printf("listing %u guests: %u reads, then %u (cached), descriptors "
	       "%u before and after\n",
	       guests, reads1 - reads0, all_reads - reads1, before);
	CHECK(reads1 - reads0 >= guests);
	CHECK_EQ(all_reads, reads1); /* nothing read again */
	CHECK_OK(store_guest_dir_getattr(s, "g5", &oa));
	CHECK_EQ(oa.uid, 1234);

	/* A change through the open container shows at once, and still after
	 * the container was closed (evicted) under a low descriptor cap. */
	CHECK_OK(store_guest_get(s, "g5", &c));
	oa.mode = S_IFDIR | 0700;
	CHECK_OK(container_dir_setattr(c, &oa, OBJECT_SET_MODE, NULL));
	store_guest_put(s, c);
	CHECK_OK(store_guest_dir_getattr(s, "g5", &oa));
	CHECK_EQ(oa.mode & 07777, 0700);
	CHECK_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = 64; /* a cap of 16 open containers */
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
	for (unsigned i = 100; i < 140; i++) {
		snprintf(name, sizeof(name), "g%u", i);
		CHECK_OK(store_guest_get(s, name, &c));
		store_guest_put(s, c);
	}
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
	const unsigned reads2 = all_reads;
	CHECK_OK(store_guest_dir_getattr(s, "g5", &oa));
	CHECK_EQ(oa.mode & 07777, 0700);
	CHECK_EQ(oa.uid, 1234);
	CHECK_EQ(all_reads, reads2); /* kept when it was closed */
	/* ... and follows a rename */
	CHECK_OK(store_guest_rename(s, "g5", "r5"));
	CHECK_EQ(store_guest_dir_getattr(s, "g5", &oa), -ENOENT);
	CHECK_OK(store_guest_dir_getattr(s, "r5", &oa));
	CHECK_EQ(oa.mode & 07777, 0700);

	/* A slow open of g9 holds up neither g9's nor g10's attributes. */
	slow_open_start(&o, &t, s, sdir, "g9");
	double t0 = now_s();
	CHECK_EQ(store_guest_dir_getattr(s, "g9", &oa), -ENODATA);
	CHECK_EQ(store_guest_dir_getattr(s, "g10", &oa), -ENODATA);
	double beside = now_s() - t0;
	double took = slow_open_end(&o, t);
	printf("during a slow open (%.3f s): attributes of it and of another "
	       "guest %.3f s\n",
	       took, beside);
	CHECK(beside < took / 2);

	/* What cannot be read is an error, as an open would say. */
	char *bad = test_path(sdir, "bad.hangar");
	FILE *f = fopen(bad, "w");
	CHECK(f != NULL);
	for (int i = 0; i < 20000; i++)
		fputc('x', f);
	fclose(f);
	CHECK_ERR(store_guest_dir_getattr(s, "bad", &oa), -EUCLEAN);
	CHECK_EQ(unlink(bad), 0);
	free(bad);
	CHECK_OK(store_close(s));
}

/* An encrypted store's guests are peeked at under its key. */
static void listing_encrypted(const char *edir)
{
	const struct crypto_scrypt_params weak = {.log2_n = 10, .r = 8, .p = 1};
	const struct store_init_options eo = {.encrypt = true,
					      .key_kind =
						      KEYSLOT_KIND_PASSPHRASE,
					      .key_secret = "pw",
					      .key_secret_len = 2,
					      .kdf = &weak};
	const struct store_options so = {
		TEST_MAP_CACHE, .key_kind = KEYSLOT_KIND_PASSPHRASE,
		.key_secret = "pw", .key_secret_len = 2};
	struct object_attr oa = {.mode = S_IFDIR | 0701, .gid = 77};
	struct container *c = NULL;
	struct store *s = NULL;

	CHECK_OK(store_init(edir, &eo));
	CHECK_OK(store_open(edir, &so, &s));
	CHECK_OK(store_guest_create(s, "e", NULL));
	CHECK_OK(store_guest_create(s, "f", NULL));
	CHECK_OK(store_guest_get(s, "e", &c));
	CHECK_OK(container_dir_setattr(c, &oa, OBJECT_SET_MODE | OBJECT_SET_GID,
				       NULL));
	store_guest_put(s, c);
	CHECK_OK(store_close(s));
	CHECK_OK(store_open(edir, &so, &s));
	const unsigned before = fd_count();
	CHECK_OK(store_guest_dir_getattr(s, "e", &oa));
	CHECK_EQ(oa.mode & 07777, 0701);
	CHECK_EQ(oa.gid, 77);
	CHECK_ERR(store_guest_dir_getattr(s, "f", &oa), -ENODATA);
	CHECK_EQ(fd_count(), before);
	CHECK_OK(store_close(s));
}

int main(void)
{
	char *dir = test_tmpdir_new();
	char *sdir = test_path(dir, "store");
	CHECK_OK(store_init(sdir, NULL));
	stall(sdir);
	char *sdir2 = test_path(dir, "store2");
	CHECK_OK(store_init(sdir2, NULL));
	many(sdir2);
	char *sdir3 = test_path(dir, "store3");
	CHECK_OK(store_init(sdir3, NULL));
	listing(sdir3);
	char *edir = test_path(dir, "encrypted");
	listing_encrypted(edir);
	free(edir);
	free(sdir);
	free(sdir2);
	free(sdir3);
	test_tmpdir_remove(dir);
	printf("test_store_stall: ok\n");
	return 0;
}
