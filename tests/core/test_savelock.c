/*
 * test_savelock.c -- the save lock's transitions (savelock.h), each checked
 * in memory and again after close and reopen (invariant 5: the lock holds
 * across unmount, crash and remount).
 */
#include <unistd.h>

#include "hangar/check.h"
#include "container_open.h"
#include "harness.h"
#include "memio.h"
#include "hangar/savelock.h"

static struct container *reopen(struct memio *m, struct container *c)
{
	struct check_report r;
	if (c)
		CHECK_OK(container_close(c));
	CHECK_OK(check_container(&m->io, &r));
	CHECK_EQ(r.errors, 0);
	c = NULL;
	CHECK_OK(container_open(&m->io, TEST_OPTS, &c));
	return c;
}

/* Each call writes different bytes: a copy of a spent image is never
 * resumable, and every image here is a new save. */
static void write_image(struct container *c, uint64_t *out_id)
{
	static uint8_t serial;
	uint8_t page[8192];
	memset(page, 0x42, sizeof(page));
	page[0] = ++serial;
	CHECK_OK(object_create(c, SAVE_IMAGE_NAME, 0600, 0, 0, out_id));
	for (int i = 0; i < 40; i++)
		CHECK_OK(object_write(c, *out_id, page, sizeof(page),
				      (uint64_t)i * sizeof(page)));
}

static enum save_state state_of(struct container *c)
{
	struct save_status st;
	CHECK_OK(save_lock_status(c, &st));
	return st.state;
}

static void test_save_resume_retire(void)
{
	struct memio *m = memio_new();
	struct container *c = NULL;
	uint64_t disk, data, cfg, img, id;
	char reason[512];
	uint8_t buf[4096];
	memset(buf, 7, sizeof(buf));

	CHECK_OK(container_create(&m->io, TEST_OPTS, &c));
	CHECK_OK(object_create(c, "disk.raw", 0600, 0, 0, &disk));
	CHECK_OK(object_create(c, "data.raw", 0600, 0, 0, &data));
	CHECK_OK(object_create(c, "config", 0600, 0, 0, &cfg));
	CHECK_OK(object_write(c, disk, buf, sizeof(buf), 0));
	CHECK_OK(object_write(c, cfg, "memory=256\n", 11, 0));
	CHECK_EQ(state_of(c), SAVE_STATE_NONE);

	/* an unsealed image pins nothing */
	write_image(c, &img);
	CHECK_OK(save_lock_check_write(c, disk, NULL, 0));
	struct save_status st;
	CHECK_OK(save_lock_status(c, &st));
	CHECK(st.image_unsealed);

	/* uncommitted disk writes are part of the sealing commit */
	CHECK_OK(object_write(c, disk, buf, sizeof(buf), 8192));
	CHECK_OK(save_lock_seal(c));
	CHECK_OK(save_lock_status(c, &st));
	CHECK_EQ(st.state, SAVE_STATE_SAVED);
	CHECK_EQ(st.pin_count, 2);
	CHECK(!st.config_changed);
	for (size_t i = 0; i < st.pin_count; i++)
		CHECK(!st.pins[i].changed);

	for (int round = 0; round < 2; round++) {
		/* refusals */
		CHECK_ERR(
			save_lock_check_write(c, disk, reason, sizeof(reason)),
			-EBUSY);
		CHECK(strstr(reason, "memory.save (saved ") != NULL);
		CHECK(strstr(reason, "depends on this file") != NULL);
		CHECK_ERR(save_lock_check_write(c, data, NULL, 0), -EBUSY);
		CHECK_OK(save_lock_check_write(c, cfg, NULL, 0));
		CHECK_ERR(object_unlink(c, "disk.raw"), -EBUSY);
		CHECK_ERR(object_rename(c, "disk.raw", "old.raw", false),
			  -EBUSY);
		CHECK_OK(object_create(c, ".disk.raw.tmp", 0600, 0, 0, &id));
		CHECK_ERR(object_rename(c, ".disk.raw.tmp", "disk.raw", false),
			  -EBUSY);
		CHECK_OK(object_unlink(c, ".disk.raw.tmp"));
		/* the lock survives close and reopen */
		c = reopen(m, c);
		CHECK_EQ(state_of(c), SAVE_STATE_SAVED);
	}

	/* the config changing is reported, not refused */
	CHECK_OK(object_write(c, cfg, "memory=512\n", 11, 0));
	CHECK_OK(save_lock_status(c, &st));
	CHECK(st.config_changed);

	/* resume, then the first disk write retires the image */
	CHECK_OK(save_lock_resume(c, reason, sizeof(reason)));
	CHECK_EQ(state_of(c), SAVE_STATE_RESUMING);
	c = reopen(m, c);
	CHECK_EQ(state_of(c), SAVE_STATE_RESUMING);
	CHECK_OK(save_lock_check_write(c, disk, NULL, 0));
	CHECK_OK(object_lookup(c, SAVE_IMAGE_NAME, &id));
	CHECK_EQ(id, img);
	/* a restore that keeps reading the image holds it open */
	CHECK_OK(object_open(c, img, false));
	CHECK_OK(object_write(c, disk, buf, 512, 0));
	CHECK_EQ(state_of(c), SAVE_STATE_NONE);
	CHECK_ERR(object_lookup(c, SAVE_IMAGE_NAME, &id), -ENOENT);
	size_t got = 0;
	CHECK_OK(object_read(c, img, buf, 100, 0, &got));
	CHECK_EQ(got, 100);
	CHECK_EQ(buf[1], 0x42);
	/* the orphan survives a commit, and a reopen deletes it */
	CHECK_OK(container_commit(c));
	c = reopen(m, c);
	CHECK_EQ(state_of(c), SAVE_STATE_NONE);
	struct object_attr at;
	CHECK_ERR(object_getattr(c, img, &at), -ENOENT);
	CHECK_ERR(save_lock_resume(c, reason, sizeof(reason)), -ENOENT);
	CHECK_OK(container_close(c));
	memio_free(m);
}

static void test_resume_refuses_changed_disk(void)
{
	struct memio *m = memio_new();
	struct container *c = NULL;
	uint64_t disk, img;
	char reason[512];
	uint8_t buf[4096];
	memset(buf, 9, sizeof(buf));

	CHECK_OK(container_create(&m->io, TEST_OPTS, &c));
	CHECK_OK(object_create(c, "disk.raw", 0600, 0, 0, &disk));
	CHECK_OK(object_write(c, disk, buf, sizeof(buf), 0));
	/* the checkpoint case: the disk is open for writing when the save
	 * seals (xl save -c); a later write through that handle */
	CHECK_OK(object_open(c, disk, true));
	write_image(c, &img);
	CHECK_OK(save_lock_seal(c));
	CHECK_OK(object_write(c, disk, buf, 100, 4096 * 3));
	struct save_status st;
	CHECK_OK(save_lock_status(c, &st));
	CHECK_EQ(st.state, SAVE_STATE_INVALIDATED);
	CHECK(strcmp(st.event_object, "disk.raw") == 0);
	uint64_t id;
	CHECK_ERR(object_lookup(c, SAVE_IMAGE_NAME, &id), -ENOENT);
	CHECK_OK(object_lookup(c, SAVE_IMAGE_STALE_NAME, &id));
	CHECK_EQ(id, img);
	object_release(c, disk, true);
	/* ... and it stays so after a restart */
	c = reopen(m, c);
	CHECK_ERR(save_lock_resume(c, reason, sizeof(reason)), -ESTALE);
	CHECK(strstr(reason, "stale") != NULL);
	CHECK(strstr(reason, "disk.raw") != NULL);
	CHECK_OK(save_lock_discard(c));
	CHECK_EQ(state_of(c), SAVE_STATE_NONE);
	CHECK_ERR(object_lookup(c, SAVE_IMAGE_STALE_NAME, &id), -ENOENT);

	/* rename into memory.save seals too; rm memory.save discards */
	CHECK_OK(object_create(c, ".memory.save.XyZ", 0600, 0, 0, &img));
	CHECK_OK(object_write(c, img, buf, sizeof(buf), 0));
	CHECK_OK(object_rename(c, ".memory.save.XyZ", SAVE_IMAGE_NAME, false));
	CHECK_EQ(state_of(c), SAVE_STATE_SAVED);
	CHECK_ERR(save_lock_check_write(c, disk, NULL, 0), -EBUSY);
	c = reopen(m, c);
	CHECK_EQ(state_of(c), SAVE_STATE_SAVED);
	CHECK_OK(object_unlink(c, SAVE_IMAGE_NAME));
	CHECK_EQ(state_of(c), SAVE_STATE_NONE);
	CHECK_OK(save_lock_check_write(c, disk, NULL, 0));
	c = reopen(m, c);
	CHECK_EQ(state_of(c), SAVE_STATE_NONE);

	/* resume refuses a disk that changed behind the lock's back: only
	 * possible here by writing while RESUMING... so simulate a changed
	 * generation by saving, discarding nothing, and checking pins */
	write_image(c, &img);
	CHECK_OK(save_lock_seal(c));
	CHECK_OK(save_lock_status(c, &st));
	CHECK_EQ(st.pin_count, 1);
	CHECK(!st.pins[0].changed);
	CHECK_OK(save_lock_resume(c, reason, sizeof(reason)));
	/* resuming twice is harmless */
	CHECK_OK(save_lock_resume(c, reason, sizeof(reason)));
	CHECK_OK(container_close(c));

	/* an image whose writer never closed it (crash mid-save) is set
	 * aside at the next open, not left resumable */
	c = reopen(m, NULL);
	CHECK_OK(save_lock_discard(c));
	write_image(c, &img);
	CHECK_OK(container_commit(c));
	c = reopen(m, c);
	CHECK_ERR(object_lookup(c, SAVE_IMAGE_NAME, &id), -ENOENT);
	CHECK_OK(object_lookup(c, SAVE_IMAGE_INCOMPLETE_NAME, &id));
	CHECK_EQ(state_of(c), SAVE_STATE_NONE);
	CHECK_OK(container_close(c));
	memio_free(m);
}

static void test_resave_unseals(void)
{
	struct memio *m = memio_new();
	struct container *c = NULL;
	uint64_t disk, img;
	uint8_t buf[4096];
	memset(buf, 3, sizeof(buf));

	CHECK_OK(container_create(&m->io, TEST_OPTS, &c));
	CHECK_OK(object_create(c, "disk.raw", 0600, 0, 0, &disk));
	write_image(c, &img);
	CHECK_OK(save_lock_seal(c));
	/* overwriting the sealed image (a new save into the same name)
	 * unseals it first, durably */
	CHECK_OK(object_truncate(c, img, 0));
	CHECK_EQ(state_of(c), SAVE_STATE_NONE);
	CHECK_OK(save_lock_check_write(c, disk, NULL, 0));
	c = reopen(m, c);
	uint64_t id;
	CHECK_OK(object_lookup(c, SAVE_IMAGE_INCOMPLETE_NAME, &id));
	CHECK_OK(container_close(c));
	memio_free(m);
}

/* The save lock's rules on the seal records (savelock.h), one each. */
static enum save_why why_of(struct container *c)
{
	struct save_status st;
	CHECK_OK(save_lock_status(c, &st));
	return st.why;
}

static void write_bytes(struct container *c, const char *name, uint8_t fill,
			size_t len, uint64_t *out_id)
{
	uint8_t *buf = malloc(len);
	CHECK(buf);
	memset(buf, fill, len);
	buf[len / 2] ^= 0x11;
	if (object_lookup(c, name, out_id) != 0)
		CHECK_OK(object_create(c, name, 0600, 0, 0, out_id));
	CHECK_OK(object_write(c, *out_id, buf, len, 0));
	free(buf);
}

static void test_seal_rules(void)
{
	struct memio *m = memio_new();
	struct container *c = NULL;
	uint64_t disk, nv, img, id;
	uint8_t buf[4096];
	char reason[512];
	memset(buf, 9, sizeof(buf));

	CHECK_OK(container_create(&m->io, TEST_OPTS, &c));
	write_bytes(c, "disk.raw", 1, 65536, &disk);
	write_bytes(c, "nvram.fd", 2, 8192, &nv);
	write_bytes(c, "config", 3, 100, &id);

	/* every file but config and the image is pinned */
	write_image(c, &img);
	CHECK_OK(save_lock_seal(c));
	struct save_status st;
	CHECK_OK(save_lock_status(c, &st));
	CHECK_EQ(st.state, SAVE_STATE_SAVED);
	CHECK_EQ(st.pin_total, 2);
	CHECK_ERR(save_lock_check_write(c, nv, NULL, 0), -EBUSY);

	/* away and back, nothing changed: still saved, across a reopen */
	CHECK_OK(object_rename(c, SAVE_IMAGE_NAME, "keep", false));
	CHECK_EQ(state_of(c), SAVE_STATE_NONE);
	c = reopen(m, c);
	CHECK_OK(object_rename(c, "keep", SAVE_IMAGE_NAME, false));
	CHECK_EQ(state_of(c), SAVE_STATE_SAVED);

	/* away, the disk moves on, back: stale for good, naming the disk */
	CHECK_OK(object_rename(c, SAVE_IMAGE_NAME, "keep", false));
	CHECK_OK(object_write(c, disk, buf, sizeof(buf), 0));
	CHECK_OK(container_commit(c));
	CHECK_OK(object_rename(c, "keep", SAVE_IMAGE_NAME, false));
	CHECK_EQ(state_of(c), SAVE_STATE_INVALIDATED);
	CHECK_EQ(why_of(c), SAVE_WHY_MOVED_ON);
	CHECK_ERR(save_lock_resume(c, reason, sizeof(reason)), -ESTALE);
	CHECK(strstr(reason, "disk.raw") != NULL);
	CHECK_OK(save_lock_check_write(c, disk, NULL, 0));
	c = reopen(m, c);
	CHECK_EQ(state_of(c), SAVE_STATE_INVALIDATED);

	/* a copy of that (spent) image, written as a new save: stale */
	uint8_t *copy = malloc(40 * 8192);
	size_t got = 0;
	CHECK(copy);
	CHECK_OK(object_lookup(c, SAVE_IMAGE_NAME, &img));
	CHECK_OK(object_read(c, img, copy, 40 * 8192, 0, &got));
	CHECK_EQ(got, 40 * 8192);
	CHECK_OK(save_lock_discard(c));
	CHECK_OK(object_create(c, SAVE_IMAGE_NAME, 0600, 0, 0, &img));
	CHECK_OK(object_write(c, img, copy, got, 0));
	CHECK_OK(save_lock_seal(c));
	CHECK_EQ(state_of(c), SAVE_STATE_INVALIDATED);
	CHECK_EQ(why_of(c), SAVE_WHY_COPY);
	CHECK_OK(save_lock_discard(c));

	/* a copy of a live seal inherits its pins */
	write_image(c, &img);
	CHECK_OK(save_lock_seal(c));
	CHECK_OK(object_read(c, img, copy, 40 * 8192, 0, &got));
	CHECK_OK(object_rename(c, SAVE_IMAGE_NAME, "orig", false));
	CHECK_OK(object_create(c, ".memory.save.X", 0600, 0, 0, &id));
	CHECK_OK(object_write(c, id, copy, got, 0));
	CHECK_OK(object_rename(c, ".memory.save.X", SAVE_IMAGE_NAME, false));
	CHECK_EQ(state_of(c), SAVE_STATE_SAVED);
	CHECK_ERR(save_lock_check_write(c, disk, NULL, 0), -EBUSY);
	CHECK_OK(save_lock_discard(c));
	CHECK_OK(object_unlink(c, "orig"));

	/* an image older than a disk: stale (the age rule) */
	CHECK_OK(object_create(c, "image", 0600, 0, 0, &id));
	memset(copy, 0x77, 8192);
	CHECK_OK(object_write(c, id, copy, 8192, 0));
	CHECK_OK(container_commit(c));
	CHECK_OK(object_write(c, disk, buf, sizeof(buf), 8192));
	CHECK_OK(object_rename(c, "image", SAVE_IMAGE_NAME, false));
	CHECK_EQ(state_of(c), SAVE_STATE_INVALIDATED);
	CHECK_EQ(why_of(c), SAVE_WHY_OLDER);
	CHECK_OK(save_lock_discard(c));

	/* a file that arrives complete after the seal is adopted */
	write_image(c, &img);
	CHECK_OK(save_lock_seal(c));
	CHECK_OK(object_create(c, "zdata.raw", 0600, 0, 0, &id));
	CHECK_OK(object_open(c, id, true));
	CHECK_OK(object_write(c, id, buf, sizeof(buf), 0));
	CHECK_OK(container_commit(c)); /* still open for writing: not yet */
	CHECK_OK(save_lock_check_write(c, id, NULL, 0));
	object_release(c, id, true);
	CHECK_OK(container_commit(c));
	CHECK_ERR(save_lock_check_write(c, id, NULL, 0), -EBUSY);
	CHECK_OK(save_lock_resume(c, reason, sizeof(reason)));
	CHECK_OK(save_lock_discard(c));

	/* a failed write taints the image: the seal fails, nothing says
	 * saved, even after a reopen; truncating to 0 starts over */
	CHECK_OK(object_create(c, SAVE_IMAGE_NAME, 0600, 0, 0, &img));
	memset(copy, 0x5c, 40 * 8192);
	copy[1] = 0x99;
	m->fail_mask = MEMIO_OP_PWRITE;
	m->fail_errno = ENOSPC;
	m->fail_at = 1;
	CHECK(object_write(c, img, copy, 40 * 8192, 0) != 0);
	m->fail_at = 0;
	CHECK_ERR(save_lock_seal_why(c, reason, sizeof(reason)), -EIO);
	CHECK(strstr(reason, "failed") != NULL);
	CHECK_EQ(state_of(c), SAVE_STATE_INVALIDATED);
	CHECK_EQ(why_of(c), SAVE_WHY_INCOMPLETE);
	CHECK_OK(save_lock_check_write(c, disk, NULL, 0));
	c = reopen(m, c);
	CHECK_EQ(state_of(c), SAVE_STATE_INVALIDATED);
	CHECK_OK(object_lookup(c, SAVE_IMAGE_NAME, &img));
	CHECK_OK(object_truncate(c, img, 0));
	CHECK_OK(object_write(c, img, copy, 40 * 8192, 0));
	CHECK_OK(save_lock_seal(c));
	CHECK_EQ(state_of(c), SAVE_STATE_SAVED);
	free(copy);
	CHECK_OK(container_close(c));
	memio_free(m);
}

/* More files than one seal can pin: the seal fails loudly (-E2BIG), pins
 * nothing, and says why. */
static void test_seal_too_many_files(void)
{
	struct memio *m = memio_new();
	struct container *c = NULL;
	struct container_options o = {TEST_MAP_CACHE, .cluster_shift = 12};
	char name[64], reason[512];
	uint64_t id, img;

	CHECK_OK(container_create(&m->io, &o, &c));
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "file-with-a-long-name-%d.raw", i);
		CHECK_OK(object_create(c, name, 0600, 0, 0, &id));
	}
	write_image(c, &img);
	CHECK_ERR(save_lock_seal_why(c, reason, sizeof(reason)), -E2BIG);
	CHECK(strstr(reason, "300 files") != NULL);
	CHECK(state_of(c) != SAVE_STATE_SAVED);
	CHECK_OK(save_lock_check_write(c, id, NULL, 0));
	c = reopen(m, c);
	CHECK(state_of(c) != SAVE_STATE_SAVED);
	CHECK_OK(container_close(c));
	memio_free(m);
}

/* Found by the crash replay's oracle: (1) an image renamed away, then
 * rewritten while a new memory.save is SAVED, was adopted as a file in
 * passing and then changed under its pin; (2) a file that arrived after the
 * seal but before the next commit was never pinned if the resume came
 * first, so the resumed guest could change it without retiring the image. */
static void test_adoption_bugs(void)
{
	struct memio *m = memio_new();
	struct container *c = NULL;
	uint64_t disk, img, old, data;
	uint8_t buf[4096];
	char reason[512];
	memset(buf, 4, sizeof(buf));

	CHECK_OK(container_create(&m->io, TEST_OPTS, &c));
	CHECK_OK(object_create(c, "disk.raw", 0600, 0, 0, &disk));
	CHECK_OK(object_write(c, disk, buf, sizeof(buf), 0));
	write_image(c, &img);
	CHECK_OK(save_lock_seal(c));
	CHECK_OK(object_rename(c, SAVE_IMAGE_NAME, "image.old", false));
	CHECK_OK(object_lookup(c, "image.old", &old));
	write_image(c, &img);
	CHECK_OK(save_lock_seal(c));
	CHECK_OK(object_write(c, old, buf, sizeof(buf), 0));
	CHECK_OK(object_truncate(c, old, 100));
	CHECK_OK(container_commit(c));
	struct save_status st;
	CHECK_OK(save_lock_status(c, &st));
	CHECK_EQ(st.state, SAVE_STATE_SAVED);
	for (size_t i = 0; i < st.pin_count; i++) {
		CHECK(strcmp(st.pins[i].name, "image.old") != 0);
		CHECK(!st.pins[i].changed);
	}
	CHECK_OK(save_lock_check_write(c, old, NULL, 0));

	/* (2) a file written after the seal, resumed before any commit */
	CHECK_OK(object_create(c, "data.raw", 0600, 0, 0, &data));
	CHECK_OK(object_open(c, data, true));
	CHECK_OK(object_write(c, data, buf, sizeof(buf), 0));
	CHECK_ERR(save_lock_resume(c, reason, sizeof(reason)), -EBUSY);
	CHECK(strstr(reason, "data.raw") != NULL);
	object_release(c, data, true);
	CHECK_OK(save_lock_resume(c, reason, sizeof(reason)));
	CHECK_OK(object_write(c, data, buf, sizeof(buf), 8192)); /* retires */
	CHECK_EQ(state_of(c), SAVE_STATE_NONE);
	c = reopen(m, c);
	CHECK_ERR(save_lock_resume(c, reason, sizeof(reason)), -ENOENT);

	/* a new save written over a stale memory.save is a new image */
	write_image(c, &img);
	CHECK_OK(save_lock_seal(c));
	CHECK_OK(object_rename(c, SAVE_IMAGE_NAME, "away", false));
	CHECK_OK(object_write(c, disk, buf, sizeof(buf), 4096));
	CHECK_OK(object_rename(c, "away", SAVE_IMAGE_NAME, false));
	CHECK_EQ(state_of(c), SAVE_STATE_INVALIDATED);
	CHECK_OK(object_truncate(c, img, 0)); /* virsh save, O_TRUNC */
	uint8_t page[8192];
	memset(page, 0x31, sizeof(page));
	for (int i = 0; i < 8; i++)
		CHECK_OK(object_write(c, img, page, sizeof(page),
				      (uint64_t)i * sizeof(page)));
	CHECK_OK(save_lock_seal(c));
	CHECK_EQ(state_of(c), SAVE_STATE_SAVED);
	CHECK_OK(container_close(c));
	memio_free(m);
}

int main(void)
{
	test_save_resume_retire();
	test_resume_refuses_changed_disk();
	test_resave_unseals();
	test_seal_rules();
	test_seal_too_many_files();
	test_adoption_bugs();
	printf("test_savelock: ok\n");
	return 0;
}
