/*
 * test_store.c -- a store directory: init, the one-writer lock, guest
 * create/list/get/rename/delete with their refusals, name validation at the
 * path boundary, the background committer, and ENOSPC on a real, tiny
 * filesystem (a tmpfs, when this process may mount one): the failed write
 * reports -ENOSPC, the committed state stays intact, and a punch still
 * commits on the full filesystem.  test_entries_and_locks: odd entries (a
 * symbolic link, a FIFO, a hard link) are neither listed nor opened for
 * writing, nothing the store writes follows a planted link, and the
 * container lock keeps a second store (a reader without read_beside_writer,
 * a writer) away from a container that is open read-write.
 * test_probe_stat_refusals: store_probe (what a directory is, without a
 * key), store_guest_stat, the typed refusals of store_guest_get_why, and a
 * delete that waits out another thread's transient reference instead of
 * failing with -EBUSY.
 * test_host_lock: the per-host store lock (store.h, LOCKS): init writes a
 * uuid; two directories with one uuid (one store through two mounts whose
 * directory flocks do not meet) have one writer, named by
 * store_lock_holder_at; the lock file goes at close; a store without a
 * uuid (or with a damaged one) gets one at its first read-write open and
 * keeps it (unless its settings file is too long to rewrite whole); an
 * unusable lock directory leaves the directory flock alone.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hangar/check.h"
#include "harness.h"
#include "io.h"
#include "hangar/savelock.h"
#include "hangar/store.h"

static void check_guest_clean(const char *dir, const char *guest)
{
	char path[4096];
	struct io *io = NULL;
	struct check_report r;
	snprintf(path, sizeof(path), "%s/%s.hangar", dir, guest);
	CHECK_OK(io_file_open(path, O_RDONLY, &io));
	CHECK_OK(check_container(io, &r));
	for (size_t i = 0; i < r.message_count; i++)
		fprintf(stderr, "check %s: %s\n", guest, r.messages[i]);
	CHECK_EQ(r.errors, 0);
	io_close(io);
}

static void test_namespace(void)
{
	char *dir = test_tmpdir_new();
	char *sdir = test_path(dir, "store");
	struct store *s = NULL, *s2 = NULL;
	struct store_options so = {TEST_MAP_CACHE};
	char **names;
	size_t num;
	struct container *c;

	CHECK_ERR(store_open(sdir, &so, &s), -ENOENT);
	CHECK_OK(store_init(sdir, NULL));
	CHECK_ERR(store_init(sdir, NULL), -EEXIST);
	CHECK_OK(store_open(sdir, &so, &s));
	CHECK_EQ(store_cluster_shift(s), 16);

	/* one writer: a second open for writing is refused, naming us */
	CHECK_ERR(store_open(sdir, &so, &s2), -EWOULDBLOCK);
	pid_t pid = 0;
	CHECK_OK(store_lock_holder(sdir, &pid));
	CHECK_EQ(pid, getpid());
	struct store_options ro = {TEST_MAP_CACHE, .read_only = true};
	CHECK_OK(store_open(sdir, &ro, &s2));

	/* names: nothing reaches outside the directory */
	const char *bad[] = {"",
			     ".",
			     "..",
			     ".hidden",
			     "a/b",
			     "../x",
			     "x\ny",
			     "with space",
			     "a\\b",
			     "0123456789012345678901234567890123456789"
			     "0123456789012345678901234"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_ERR(store_guest_create(s, bad[i], NULL), -EINVAL);
		CHECK_ERR(store_guest_get(s, bad[i], &c), -EINVAL);
	}
	CHECK_OK(store_guest_create(s, "web01", NULL));
	CHECK_OK(store_guest_create(s, "db-2.test_x", NULL));
	CHECK_ERR(store_guest_create(s, "web01", NULL), -EEXIST);
	CHECK_ERR(store_guest_create(s2, "ro", NULL), -EROFS);
	CHECK_OK(store_guest_list(s, &names, &num));
	CHECK_EQ(num, 2);
	CHECK(strcmp(names[0], "db-2.test_x") == 0);
	CHECK(strcmp(names[1], "web01") == 0);
	store_names_free(names, num);

	/* rmdir semantics: not empty, then empty */
	uint64_t id;
	CHECK_OK(store_guest_get(s, "web01", &c));
	CHECK_OK(object_create(c, "disk.raw", 0600, 0, 0, &id));
	CHECK_OK(object_write(c, id, "hello", 5, 0));
	CHECK_ERR(store_guest_delete(s, "web01", 0), -EBUSY); /* in use */
	store_guest_put(s, c);
	CHECK_ERR(store_guest_delete(s, "web01", 0), -ENOTEMPTY);
	CHECK_ERR(store_guest_delete(s, "nosuch", 0), -ENOENT);
	/* a guest whose files are gone but that has a snapshot is not empty
	 * either (rmdir must not take the snapshots with it) */
	CHECK_OK(store_guest_create(s, "snap01", NULL));
	CHECK_OK(store_guest_get(s, "snap01", &c));
	CHECK_OK(object_create(c, "config", 0600, 0, 0, &id));
	CHECK_OK(container_snapshot_create(c, "keep"));
	CHECK_OK(object_unlink(c, "config"));
	store_guest_put(s, c);
	CHECK_ERR(store_guest_delete(s, "snap01", 0), -ENOTEMPTY);
	CHECK_OK(store_guest_get(s, "snap01", &c));
	CHECK_OK(container_snapshot_delete(c, "keep"));
	store_guest_put(s, c);
	CHECK_OK(store_guest_delete(s, "snap01", 0));

	/* rename keeps the open container */
	CHECK_OK(store_guest_rename(s, "web01", "web02"));
	CHECK_ERR(store_guest_rename(s, "web02", "db-2.test_x"), -EEXIST);
	CHECK_OK(store_guest_get(s, "web02", &c));
	char buf[8] = {0};
	size_t got = 0;
	CHECK_OK(object_lookup(c, "disk.raw", &id));
	CHECK_OK(object_read(c, id, buf, 5, 0, &got));
	CHECK(memcmp(buf, "hello", 5) == 0);
	store_guest_put(s, c);
	CHECK_OK(store_guest_delete(s, "db-2.test_x", 0));
	CHECK_OK(store_close(s));
	CHECK_OK(store_close(s2));
	check_guest_clean(sdir, "web02");

	/* after close the lock is free again, data persisted */
	CHECK_ERR(store_lock_holder(sdir, &pid), -ENOENT);
	/* a read-only user (a read-only mount) keeps writers out */
	CHECK_OK(store_open(sdir, &ro, &s2));
	CHECK_ERR(store_open(sdir, &so, &s), -EWOULDBLOCK);
	CHECK_OK(store_lock_holder(sdir, &pid));
	CHECK_EQ(pid, 0);
	CHECK_OK(store_close(s2));
	CHECK_OK(store_open(sdir, &so, &s));
	CHECK_OK(store_guest_get(s, "web02", &c));
	CHECK_OK(object_read(c, id, buf, 5, 0, &got));
	CHECK(memcmp(buf, "hello", 5) == 0);
	store_guest_put(s, c);
	CHECK_OK(store_guest_delete(s, "web02", STORE_DELETE_FORCE));
	CHECK_OK(store_guest_list(s, &names, &num));
	CHECK_EQ(num, 0);
	store_names_free(names, num);
	CHECK_OK(store_close(s));
	free(sdir);
	test_tmpdir_remove(dir);
}

/* The background committer makes a write durable without a flush: a child
 * writes and is killed with SIGKILL after the interval. */
static void test_background_commit(void)
{
	char *dir = test_tmpdir_new();
	char *sdir = test_path(dir, "store");
	/* the killed child leaves its per-host lock file: here, not in
	 * /run/hangar */
	char *locks = test_path(dir, "run");
	CHECK_OK(store_init(sdir, NULL));
	pid_t child = fork();
	CHECK(child >= 0);
	if (child == 0) {
		struct store *s = NULL;
		struct container *c = NULL;
		struct store_options so = {TEST_MAP_CACHE,
					   .commit_interval_ms = 100,
					   .host_lock_dir = locks};
		uint64_t id;
		if (store_open(sdir, &so, &s) ||
		    store_guest_create(s, "g", NULL) ||
		    store_guest_get(s, "g", &c) ||
		    object_create(c, "disk.raw", 0600, 0, 0, &id) ||
		    object_write(c, id, "durable", 7, 0))
			_exit(3);
		store_guest_put(s, c);
		for (;;)
			pause();
	}
	usleep(1500 * 1000);
	kill(child, SIGKILL);
	int status;
	waitpid(child, &status, 0);
	CHECK(WIFSIGNALED(status));
	check_guest_clean(sdir, "g");
	struct store *s = NULL;
	struct container *c = NULL;
	/* the dead child's lock file is there, unlocked: the next writer
	 * takes it as it is */
	struct store_options so = {TEST_MAP_CACHE, .host_lock_dir = locks};
	uint64_t id;
	char buf[8] = {0};
	size_t got = 0;
	CHECK(rmdir(locks) != 0 && errno == ENOTEMPTY);
	CHECK_OK(store_open(sdir, &so, &s));
	CHECK_OK(store_guest_get(s, "g", &c));
	CHECK_OK(object_lookup(c, "disk.raw", &id));
	CHECK_OK(object_read(c, id, buf, 7, 0, &got));
	CHECK_EQ(got, 7);
	CHECK(memcmp(buf, "durable", 7) == 0);
	store_guest_put(s, c);
	CHECK_OK(store_close(s));
	CHECK_OK(rmdir(locks) == 0 ? 0 : -errno); /* removed at close */
	free(locks);
	free(sdir);
	test_tmpdir_remove(dir);
}

static void test_enospc_tmpfs(void)
{
	char *dir = test_tmpdir_new();
	if (mount("hangar-test", dir, "tmpfs", 0, "size=6m") != 0) {
		printf("test_store: ENOSPC part SKIPPED: cannot mount a tmpfs "
		       "(%s)\n",
		       strerror(errno));
		test_tmpdir_remove(dir);
		return;
	}
	char *sdir = test_path(dir, "store");
	struct store *s = NULL;
	struct container *c = NULL;
	struct store_options so = {TEST_MAP_CACHE};
	uint64_t id;
	uint8_t *buf = malloc(1 << 20);
	memset(buf, 0x77, 1 << 20);

	CHECK_OK(store_init(sdir, NULL));
	CHECK_OK(store_open(sdir, &so, &s));
	CHECK_OK(store_guest_create(s, "full", NULL));
	CHECK_OK(store_guest_get(s, "full", &c));
	CHECK_OK(object_create(c, "disk.raw", 0600, 0, 0, &id));
	CHECK_OK(object_write(c, id, buf, 1 << 20, 0));
	CHECK_OK(container_commit(c));
	store_guest_put(s, c);
	CHECK_OK(store_close(s)); /* reopen: the metadata reserve is set up */
	CHECK_OK(store_open(sdir, &so, &s));
	CHECK_OK(store_guest_get(s, "full", &c));
	CHECK_OK(object_lookup(c, "disk.raw", &id));
	/* fill the filesystem through the container until it says ENOSPC */
	int ret = 0;
	uint64_t off = 1 << 20;
	while (!ret && off < (64u << 20)) {
		ret = object_write(c, id, buf, 1 << 20, off);
		if (!ret)
			ret = container_commit(c);
		off += 1 << 20;
	}
	CHECK_ERR(ret, -ENOSPC);
	/* the committed data is intact and readable */
	uint8_t *back = malloc(1 << 20);
	size_t got = 0;
	CHECK_OK(object_read(c, id, back, 1 << 20, 0, &got));
	CHECK_MEM_EQ(back, buf, 1 << 20);
	/* discard still works on the full filesystem, and frees space */
	CHECK_OK(object_punch(c, id, 0, off));
	CHECK_OK(container_commit(c));
	CHECK_OK(object_write(c, id, buf, 1 << 20, 0));
	CHECK_OK(container_commit(c));
	store_guest_put(s, c);
	CHECK_OK(store_close(s));
	check_guest_clean(sdir, "full");
	free(buf);
	free(back);
	free(sdir);
	CHECK_EQ(umount(dir), 0);
	test_tmpdir_remove(dir);
	printf("test_store: ENOSPC on a full tmpfs: clean error, punch "
	       "committed\n");
}

static void test_entries_and_locks(void)
{
	char *dir = test_tmpdir_new();
	char *sdir = test_path(dir, "store");
	char *other = test_path(dir, "other");
	char path[4096], path2[4096];
	struct store_options so = {TEST_MAP_CACHE};
	struct store_options ro = {TEST_MAP_CACHE, .read_only = true};
	struct store_options beside = {TEST_MAP_CACHE, .read_only = true,
				       .read_beside_writer = true};
	struct store *s = NULL, *s2 = NULL;
	struct container *c = NULL, *c2 = NULL;
	struct io *io = NULL;
	char **names;
	size_t num;
	pid_t pid = 0;
	bool exclusive = false;
	struct stat st;

	CHECK_OK(store_init(sdir, NULL));
	CHECK_OK(store_init(other, NULL));
	/* a planted lock-file link is never followed (the lock is the
	 * directory itself) */
	snprintf(path, sizeof(path), "%s/victim", dir);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("precious\n", f);
	fclose(f);
	snprintf(path2, sizeof(path2), "%s/.hangar-lock", sdir);
	CHECK(symlink(path, path2) == 0);
	CHECK_OK(store_open(sdir, &so, &s));
	CHECK_OK(store_guest_create(s, "g", NULL));
	CHECK(stat(path, &st) == 0);
	CHECK_EQ(st.st_size, 9);

	/* a link to another store's guest, a FIFO: not listed, not opened */
	snprintf(path, sizeof(path), "%s/g.hangar", sdir);
	snprintf(path2, sizeof(path2), "%s/link.hangar", other);
	CHECK(symlink(path, path2) == 0);
	snprintf(path2, sizeof(path2), "%s/fifo.hangar", other);
	CHECK(mkfifo(path2, 0600) == 0);
	CHECK_OK(store_open(other, &so, &s2));
	CHECK_OK(store_guest_list(s2, &names, &num));
	CHECK_EQ(num, 0);
	store_names_free(names, num);
	CHECK_ERR(store_guest_get(s2, "link", &c2), -ELOOP);
	CHECK_ERR(store_guest_get(s2, "fifo", &c2), -EMEDIUMTYPE);
	/* a hard link: never read-write, from either name */
	snprintf(path2, sizeof(path2), "%s/hard.hangar", other);
	CHECK(link(path, path2) == 0);
	CHECK_ERR(store_guest_get(s2, "hard", &c2), -EMLINK);
	CHECK_ERR(store_guest_get(s, "g", &c), -EMLINK);
	CHECK(unlink(path2) == 0);
	CHECK_OK(store_close(s2));

	/* the container lock: open read-write here, refused to a reader of
	 * the same store and to a writer through a hard link elsewhere */
	CHECK_OK(store_guest_get(s, "g", &c));
	CHECK(link(path, path2) == 0); /* after our open: the lock decides */
	CHECK_OK(store_open(other, &so, &s2));
	CHECK_ERR(store_guest_get(s2, "hard", &c2), -EBUSY);
	CHECK_OK(store_guest_holder(s2, "hard", &pid, &exclusive));
	CHECK_EQ(pid, getpid());
	CHECK(exclusive);
	CHECK_OK(store_close(s2));
	CHECK(unlink(path2) == 0);
	CHECK_OK(store_open(sdir, &ro, &s2));
	CHECK_ERR(store_guest_get(s2, "g", &c2), -EBUSY);
	CHECK_ERR(store_guest_open_io(s2, "g", &io), -EBUSY);
	CHECK_OK(store_close(s2));
	/* metadata beside the writer: opened (unlocked); a whole-file
	 * reader through it still gets -EBUSY */
	CHECK_OK(store_open(sdir, &beside, &s2));
	CHECK_OK(store_guest_get(s2, "g", &c2));
	store_guest_put(s2, c2);
	CHECK_ERR(store_guest_open_io(s2, "g", &io), -EBUSY);
	CHECK_OK(store_close(s2));
	store_guest_put(s, c);
	CHECK_OK(store_close(s)); /* closes g: the lock goes with it */
	CHECK_OK(store_open(sdir, &ro, &s2));
	CHECK_OK(store_guest_open_io(s2, "g", &io));
	/* a reader holds a shared container lock: no writer meanwhile */
	CHECK_OK(store_open(other, &so, &s));
	snprintf(path2, sizeof(path2), "%s/hard.hangar", other);
	CHECK(link(path, path2) == 0);
	CHECK_ERR(store_guest_get(s, "hard", &c), -EBUSY);
	CHECK(unlink(path2) == 0);
	CHECK_OK(store_close(s));
	io_close(io);
	CHECK_OK(store_close(s2));
	free(other);
	free(sdir);
	test_tmpdir_remove(dir);
}

struct transient_ref {
	struct store *s;
	struct container *c;
	unsigned hold_ms;
};

/* Drop the reference after hold_ms, as a racing stat would. */
static void *transient_put(void *arg)
{
	struct transient_ref *t = arg;
	usleep(t->hold_ms * 1000u);
	store_guest_put(t->s, t->c);
	return NULL;
}

static void test_probe_stat_refusals(void)
{
	char *dir = test_tmpdir_new();
	char *sdir = test_path(dir, "store");
	char *edir = test_path(dir, "enc");
	char path[4096], path2[4096];
	struct store_options so = {TEST_MAP_CACHE};
	struct store_probe probe;
	struct container_refusal why;
	struct store *s = NULL, *s2 = NULL;
	struct container *c = NULL;
	struct stat st;

	/* probe: not a store, a plain one, an encrypted one (no key) */
	CHECK_ERR(store_probe(sdir, &probe), -ENOENT);
	CHECK_OK(store_init(sdir, NULL));
	CHECK_OK(store_probe(sdir, &probe));
	CHECK(!probe.encrypted);
	CHECK_EQ(probe.cluster_shift, 16);
	const struct crypto_scrypt_params weak = {.log2_n = 10, .r = 8, .p = 1};
	const struct store_init_options eo = {.encrypt = true,
					      .key_kind =
						      KEYSLOT_KIND_PASSPHRASE,
					      .key_secret = "pw",
					      .key_secret_len = 2,
					      .kdf = &weak};
	CHECK_OK(store_init(edir, &eo));
	CHECK_OK(store_probe(edir, &probe));
	CHECK(probe.encrypted);

	/* guest stat: a guest, and what is no guest */
	CHECK_OK(store_open(sdir, &so, &s));
	CHECK_OK(store_guest_create(s, "g", NULL));
	CHECK_OK(store_guest_stat(s, "g", &st));
	CHECK(S_ISREG(st.st_mode));
	CHECK_ERR(store_guest_stat(s, "nosuch", &st), -ENOENT);
	CHECK_ERR(store_guest_stat(s, "../x", &st), -ENOENT);
	snprintf(path, sizeof(path), "%s/g.hangar", sdir);
	snprintf(path2, sizeof(path2), "%s/link.hangar", sdir);
	CHECK(symlink(path, path2) == 0);
	CHECK_ERR(store_guest_stat(s, "link", &st), -ENOENT);

	/* typed refusals, with the sentence next to the code */
	CHECK_ERR(store_guest_get_why(s, "link", &c, &why), -ELOOP);
	CHECK_EQ(why.code, CONTAINER_REFUSAL_NOT_A_FILE);
	CHECK(why.text[0] != '\0');
	CHECK(unlink(path2) == 0);
	snprintf(path2, sizeof(path2), "%s/bad.hangar", sdir);
	FILE *f = fopen(path2, "w");
	CHECK(f != NULL);
	for (int i = 0; i < 20000; i++)
		fputc('x', f);
	fclose(f);
	CHECK(store_guest_get_why(s, "bad", &c, &why) < 0);
	CHECK_EQ(why.code, CONTAINER_REFUSAL_CORRUPT);
	CHECK(why.text[0] != '\0');
	CHECK(unlink(path2) == 0);
	CHECK_ERR(store_guest_get_why(s, "nosuch", &c, &why), -ENOENT);
	CHECK_EQ(why.code, CONTAINER_REFUSAL_NONE);
	CHECK_OK(store_guest_get_why(s, "g", &c, &why));
	CHECK_EQ(why.code, CONTAINER_REFUSAL_NONE);
	struct store_options ro = {TEST_MAP_CACHE, .read_only = true};
	CHECK_OK(store_open(sdir, &ro, &s2));
	CHECK_ERR(store_guest_get_why(s2, "g", &c, &why), -EBUSY);
	CHECK_EQ(why.code, CONTAINER_REFUSAL_LOCKED);
	CHECK_OK(store_close(s2));

	/* a transient reference (20 ms) does not fail a delete */
	struct transient_ref t = {.s = s, .c = c, .hold_ms = 20};
	pthread_t th;
	CHECK_EQ(pthread_create(&th, NULL, transient_put, &t), 0);
	CHECK_OK(store_guest_delete(s, "g", 0));
	pthread_join(th, NULL);
	CHECK_ERR(store_guest_stat(s, "g", &st), -ENOENT);
	/* one that stays is "in use" */
	CHECK_OK(store_guest_create(s, "g", NULL));
	CHECK_OK(store_guest_get(s, "g", &c));
	CHECK_ERR(store_guest_delete(s, "g", 0), -EBUSY);
	store_guest_put(s, c);
	CHECK_OK(store_guest_delete(s, "g", 0));
	CHECK_OK(store_close(s));
	free(edir);
	free(sdir);
	test_tmpdir_remove(dir);
}

/* The uuid line of `sdir`'s settings into out[37]; "" when none. */
static void read_uuid(const char *sdir, char *out)
{
	char path[4096], line[128];
	snprintf(path, sizeof(path), "%s/.hangar-store", sdir);
	FILE *f = fopen(path, "r");
	CHECK(f != NULL);
	out[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "uuid ", 5) == 0)
			snprintf(out, 37, "%.36s", line + 5);
	fclose(f);
}

static void write_settings(const char *sdir, const char *text)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/.hangar-store", sdir);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	CHECK(fputs(text, f) >= 0);
	CHECK_OK(fclose(f));
}

/* The per-host lock file of the store at `sdir` with `uuid`, into lock[len]:
 * named by the uuid and the store directory's inode (store.h, LOCKS). */
static void host_lock_name(const char *locks, const char *sdir,
			   const char *uuid, char *lock, size_t len)
{
	struct stat st;
	CHECK_OK(stat(sdir, &st));
	snprintf(lock, len, "%s/%s-%" PRIx64 ".lock", locks, uuid,
		 (uint64_t)st.st_ino);
}

/* Entries of directory `path` (. and .. left out). */
static int dir_entries(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;
	CHECK(d != NULL);
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		n += strcmp(e->d_name, ".") != 0 &&
		     strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void test_host_lock(void)
{
	char *dir = test_tmpdir_new();
	char *sdir = test_path(dir, "store");
	/* a copy of the store directory (cp -a): same uuid, another
	 * directory.  (The same store through a second mount of a network
	 * filesystem, same uuid and same inode, is tests/ceph/hostlock.sh:
	 * one host's directory cannot show two flocks for one inode.) */
	char *twin = test_path(dir, "twin");
	char *locks = test_path(dir, "run");
	char uuid[37], twin_uuid[37], lock[4200], text[256];
	struct store_options so = {TEST_MAP_CACHE, .host_lock_dir = locks};
	struct store *s = NULL, *s2 = NULL;
	struct stat st;
	pid_t pid = 0;

	CHECK_OK(store_init(sdir, NULL));
	read_uuid(sdir, uuid);
	CHECK_EQ(strlen(uuid), 36);
	CHECK_OK(mkdir(twin, 0700));
	snprintf(text, sizeof(text),
		 "hangar-store 1\ncluster_shift 16\nuuid %s\n", uuid);
	write_settings(twin, text);
	host_lock_name(locks, sdir, uuid, lock, sizeof(lock));

	CHECK_OK(store_open(sdir, &so, &s));
	CHECK_OK(stat(lock, &st));
	CHECK_EQ(st.st_mode & 07777, 0600);
	CHECK_OK(store_lock_holder_at(sdir, locks, &pid));
	CHECK_EQ(pid, getpid());
	/* the copy is another store: it opens beside, with its own file */
	CHECK_ERR(store_lock_holder_at(twin, locks, &pid), -ENOENT);
	CHECK_OK(store_open(twin, &so, &s2));
	CHECK_EQ(dir_entries(locks), 2);
	CHECK_OK(store_close(s2));
	CHECK_OK(store_close(s));
	CHECK_ERR(stat(lock, &st) == 0 ? 0 : -errno, -ENOENT);
	CHECK_EQ(dir_entries(locks), 0);
	CHECK_ERR(store_lock_holder_at(sdir, locks, &pid), -ENOENT);

	/* an old store: a reader adds nothing, a writer adds a uuid that
	 * every later open keeps; a damaged uuid line is replaced once */
	const char *olds[] = {
		"hangar-store 1\ncluster_shift 16\n",
		"hangar-store 1\ncluster_shift 16\nuuid ../../etc/passwd\n"};
	for (size_t i = 0; i < 2; i++) {
		struct store_options ro = {TEST_MAP_CACHE, .read_only = true,
					   .host_lock_dir = locks};
		write_settings(twin, olds[i]);
		CHECK_OK(store_open(twin, &ro, &s2));
		CHECK_OK(store_close(s2));
		read_uuid(twin, twin_uuid);
		CHECK_EQ(strlen(twin_uuid), i ? 17 : 0);
		CHECK_OK(store_open(twin, &so, &s2));
		read_uuid(twin, twin_uuid);
		CHECK_EQ(strlen(twin_uuid), 36);
		CHECK(strcmp(twin_uuid, uuid) != 0);
		host_lock_name(locks, twin, twin_uuid, lock, sizeof(lock));
		CHECK_OK(stat(lock, &st));
		CHECK_OK(store_close(s2));
		CHECK_OK(store_open(twin, &so, &s2));
		CHECK_OK(store_close(s2));
		read_uuid(twin, uuid);
		CHECK(strcmp(twin_uuid, uuid) == 0);
	}

	/* settings too long to rewrite whole: left alone, no per-host lock */
	char big[400];
	snprintf(big, sizeof(big),
		 "hangar-store 1\ncluster_shift 16\n# %0300d\n", 0);
	write_settings(twin, big);
	CHECK_OK(store_open(twin, &so, &s2));
	read_uuid(twin, twin_uuid);
	CHECK_EQ(strlen(twin_uuid), 0);
	CHECK_EQ(dir_entries(locks), 0);
	CHECK_OK(store_close(s2));

	/* a lock directory that cannot be made: the directory flock alone */
	char *file = test_path(dir, "file");
	FILE *f = fopen(file, "w");
	CHECK(f != NULL);
	fclose(f);
	char *sub_dir = test_path(file, "run"); /* under a regular file */
	so.host_lock_dir = sub_dir;
	CHECK_OK(store_open(sdir, &so, &s));
	CHECK_ERR(store_open(sdir, &so, &s2), -EWOULDBLOCK);
	CHECK_OK(store_close(s));
	free(sub_dir);
	free(file);
	free(locks);
	free(twin);
	free(sdir);
	test_tmpdir_remove(dir);
}

int main(void)
{
	test_namespace();
	test_entries_and_locks();
	test_probe_stat_refusals();
	test_host_lock();
	test_background_commit();
	test_enospc_tmpfs();
	printf("test_store: ok\n");
	return 0;
}
