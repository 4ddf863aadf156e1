/*
 * test_clone.c -- a clone made from a copy of a container file
 * (container_make_clone, store_guest_clone_shared).
 *
 *   make_clone   a byte copy of a guest with a disk, a sealed memory.save,
 *                an image renamed away (it keeps its seal) and a snapshot
 *                becomes a guest of its own: refused while the snapshot
 *                exists (-ENOTEMPTY); then the dropped objects are gone,
 *                no seal is left (nothing is saved, the disk is writable),
 *                every kept byte is there, a new uuid is in BOTH superblock
 *                slots, the source is untouched, and the copy checks clean.
 *   encrypted    an encrypted container is refused (-EOPNOTSUPP): a copy
 *                keeps the uuid that salts its keys.
 *   store        store_guest_clone_shared on TMPDIR: bad names, an existing
 *                target and a missing source fail as documented; where the
 *                filesystem cannot share extents it says -EOPNOTSUPP and
 *                leaves neither the guest nor its temporary file, where it
 *                can the clone opens and checks clean.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hangar/check.h"
#include "hangar/savelock.h"
#include "hangar/store.h"
#include "container_open.h"
#include "crypto.h"
#include "format.h"
#include "harness.h"
#include "internal.h"
#include "memio.h"

#define DISK_BYTES (256u * 1024u)

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 12));
}

static uint64_t make_object(struct container *c, const char *name, size_t bytes,
			    unsigned seed)
{
	uint8_t *buf = malloc(bytes);
	uint64_t id;

	CHECK(buf);
	fill(buf, bytes, seed);
	CHECK_OK(object_create(c, name, 0100600, 0, 0, &id));
	CHECK_OK(object_write(c, id, buf, bytes, 0));
	free(buf);
	return id;
}

static void check_bytes(struct container *c, const char *name, size_t bytes,
			unsigned seed)
{
	uint8_t *want = malloc(bytes), *got = malloc(bytes);
	uint64_t id;
	size_t len = 0;

	CHECK(want && got);
	fill(want, bytes, seed);
	CHECK_OK(object_lookup(c, name, &id));
	CHECK_OK(object_read(c, id, got, bytes, 0, &len));
	CHECK_EQ(len, bytes);
	CHECK(memcmp(want, got, bytes) == 0);
	free(want);
	free(got);
}

static bool drop_images(void *arg, const char *name)
{
	(void)arg;
	return strncmp(name, SAVE_IMAGE_NAME, strlen(SAVE_IMAGE_NAME)) == 0;
}

static void check_clean(struct memio *m, const struct crypto_key *master)
{
	struct check_report r;

	CHECK_OK(check_container_key(&m->io, master, &r));
	CHECK_EQ(r.errors, 0);
}

static void test_make_clone(void)
{
	const struct container_options opts = {.cluster_shift = 12};
	struct memio *src = memio_new(), *copy;
	struct container *c, *k;
	struct container_info before, after;
	struct save_status st;
	uint64_t disk;

	CHECK_OK(container_create(&src->io, &opts, &c));
	disk = make_object(c, "disk.raw", DISK_BYTES, 1);
	make_object(c, "config", 100, 2);
	/* an image, sealed, then renamed away: "keep" carries its seal */
	make_object(c, SAVE_IMAGE_NAME, 64 * 1024, 3);
	CHECK_OK(save_lock_seal(c));
	CHECK_OK(object_rename(c, SAVE_IMAGE_NAME, "keep", true));
	/* and a saved image that pins the disk */
	make_object(c, SAVE_IMAGE_NAME, 32 * 1024, 4);
	CHECK_OK(save_lock_seal(c));
	CHECK_OK(save_lock_status(c, &st));
	CHECK_EQ(st.state, SAVE_STATE_SAVED);
	CHECK_ERR(save_lock_check_write(c, disk, NULL, 0), -EBUSY);
	CHECK_OK(container_snapshot_create(c, "s1"));
	container_info(c, &before);
	CHECK_OK(container_close(c));

	copy = memio_clone(src);
	CHECK_OK(container_open(&copy->io, &opts, &k));
	CHECK_ERR(container_make_clone(k, drop_images, NULL), -ENOTEMPTY);
	CHECK_OK(container_snapshot_delete(k, "s1"));
	CHECK_OK(container_make_clone(k, drop_images, NULL));
	container_info(k, &after);
	CHECK(memcmp(before.uuid, after.uuid, sizeof(before.uuid)) != 0);
	uint64_t id;
	CHECK_ERR(object_lookup(k, SAVE_IMAGE_NAME, &id), -ENOENT);
	CHECK_OK(save_lock_status(k, &st));
	CHECK_EQ(st.state, SAVE_STATE_NONE);
	CHECK_OK(object_lookup(k, "disk.raw", &id));
	CHECK_OK(save_lock_check_write(k, id, NULL, 0));
	for (size_t i = 0; i < k->object_num; i++) {
		CHECK(k->objects[i]->seal == NULL);
		CHECK_EQ(k->objects[i]->flags & (OBJECT_FLAG_IMAGE_UNSEALED |
						 OBJECT_FLAG_IMAGE_TAINTED),
			 0);
	}
	check_bytes(k, "disk.raw", DISK_BYTES, 1);
	check_bytes(k, "config", 100, 2);
	check_bytes(k, "keep", 64 * 1024, 3);
	CHECK_OK(container_close(k));
	/* both slots name the new identity, none the source's */
	CHECK(memcmp(copy->data + FORMAT_SUPERBLOCK_A_OFFSET + 96, after.uuid,
		     16) == 0);
	CHECK(memcmp(copy->data + FORMAT_SUPERBLOCK_B_OFFSET + 96, after.uuid,
		     16) == 0);
	check_clean(copy, NULL);

	/* the clone reopens as it was left; the source is untouched */
	CHECK_OK(container_open(&copy->io, &opts, &k));
	check_bytes(k, "keep", 64 * 1024, 3);
	CHECK_OK(container_close(k));
	CHECK_OK(container_open(&src->io, &opts, &c));
	CHECK_OK(save_lock_status(c, &st));
	CHECK_EQ(st.state, SAVE_STATE_SAVED);
	struct snapshot_info *snaps = NULL;
	size_t num = 0;
	CHECK_OK(container_snapshot_list(c, &snaps, &num));
	CHECK_EQ(num, 1);
	free(snaps);
	CHECK_OK(container_close(c));
	check_clean(src, NULL);
	memio_free(copy);
	memio_free(src);
}

static void test_encrypted(void)
{
	struct crypto_key *master = NULL;
	struct memio *m = memio_new();
	struct container *c;

	CHECK_OK(crypto_key_generate(&master));
	const struct container_options opts = {.cluster_shift = 12,
					       .master = master};
	CHECK_OK(container_create(&m->io, &opts, &c));
	make_object(c, "disk.raw", 8192, 5);
	CHECK_ERR(container_make_clone(c, NULL, NULL), -EOPNOTSUPP);
	CHECK_OK(container_close(c));
	check_clean(m, master);
	memio_free(m);
	crypto_key_free(master);
}

static bool dir_has(const char *dir, const char *name)
{
	char path[4200];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return lstat(path, &st) == 0;
}

static void test_store(void)
{
	char *dir = test_tmpdir_new();
	char sdir[4200];
	struct store *s;
	struct container *c;
	struct stat st;
	int ret;

	snprintf(sdir, sizeof(sdir), "%s/store", dir);
	CHECK_OK(store_init(sdir,
			    &(struct store_init_options){.cluster_shift = 12}));
	CHECK_OK(store_open(sdir, &(struct store_options){0}, &s));
	CHECK_OK(store_guest_create(s, "a", NULL));
	CHECK_OK(store_guest_create(s, "x", NULL));
	CHECK_OK(store_guest_get(s, "a", &c));
	make_object(c, "disk.raw", DISK_BYTES, 6);
	store_guest_put(s, c);

	CHECK_ERR(store_guest_clone_shared(s, "a", "a", NULL), -EINVAL);
	CHECK_ERR(store_guest_clone_shared(s, "a", ".b", NULL), -EINVAL);
	CHECK_ERR(store_guest_clone_shared(s, "a", "x", NULL), -EEXIST);
	CHECK_ERR(store_guest_clone_shared(s, "nope", "b", NULL), -ENOENT);
	CHECK(!dir_has(sdir, ".b.hangar.tmp"));
	/* "a" is open in this store: committed, then cloned from its own
	 * descriptor */
	ret = store_guest_clone_shared(s, "a", "b", NULL);
	if (ret == -EOPNOTSUPP || ret == -EXDEV) {
		printf("store: this filesystem cannot share extents (%d): "
		       "fallback path checked\n",
		       ret);
		CHECK_ERR(store_guest_stat(s, "b", &st), -ENOENT);
		CHECK(!dir_has(sdir, ".b.hangar.tmp"));
	} else {
		CHECK_OK(ret);
		CHECK_OK(store_guest_get(s, "b", &c));
		check_bytes(c, "disk.raw", DISK_BYTES, 6);
		store_guest_put(s, c);
		CHECK(!dir_has(sdir, ".b.hangar.tmp"));
		/* and a guest nobody has open */
		CHECK_OK(store_guest_clone_shared(s, "x", "y", NULL));
		CHECK_OK(store_guest_stat(s, "y", &st));
	}
	CHECK_OK(store_close(s));
	test_tmpdir_remove(dir);
}

int main(void)
{
	test_make_clone();
	printf("make_clone: ok\n");
	test_encrypted();
	printf("encrypted: ok\n");
	test_store();
	printf("store: ok\n");
	return 0;
}
