/*
 * test_check.c -- check_container's report: what it counts on a clean
 * container, and that an allocation-accounting mismatch in the superblock is
 * reported with its exact count (leaked clusters) while the rest of the
 * container is still verified, where open refuses the same container.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "hangar/check.h"
#include "container_open.h"
#include "crc32c.h"
#include "format.h"
#include "harness.h"
#include "memio.h"

#define CLUSTER	      65536u
#define DISK_CLUSTERS 7u

static void fill(uint8_t *buf, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(test_rand(&seed) >> 24);
}

/* A guest with a disk of DISK_CLUSTERS random clusters (one hole between
 * them) and a compressible memory.save of four clusters. */
static struct memio *make_guest(void)
{
	struct memio *m = memio_new();
	struct container *c = NULL;
	uint8_t *buf = malloc(CLUSTER * 4);
	uint64_t disk, image;

	CHECK(buf != NULL);
	CHECK_OK(container_create(&m->io, TEST_OPTS, &c));
	CHECK_OK(object_create(c, "disk.raw", 0644, 0, 0, &disk));
	for (unsigned i = 0; i < DISK_CLUSTERS; i++) {
		fill(buf, CLUSTER, i + 1);
		/* cluster 3 stays a hole */
		uint64_t vc = i < 3 ? i : i + 1;
		CHECK_OK(object_write(c, disk, buf, CLUSTER, vc * CLUSTER));
	}
	CHECK_OK(object_create(c, "memory.save", 0600, 0, 0, &image));
	for (size_t i = 0; i < CLUSTER * 4; i++)
		buf[i] = (uint8_t)("saved guest page "[i % 17]);
	CHECK_OK(object_write(c, image, buf, CLUSTER * 4, 0));
	CHECK_OK(container_close(c));
	free(buf);
	return m;
}

static void print_messages(const struct check_report *r)
{
	for (size_t i = 0; i < r->message_count; i++)
		fprintf(stderr, "  check: %s\n", r->messages[i]);
}

static uint64_t newest_superblock(const uint8_t *img)
{
	uint64_t ga =
		le64_get(img + FORMAT_SUPERBLOCK_A_OFFSET + SB_OFF_GENERATION);
	uint64_t gb =
		le64_get(img + FORMAT_SUPERBLOCK_B_OFFSET + SB_OFF_GENERATION);
	return ga > gb ? FORMAT_SUPERBLOCK_A_OFFSET
		       : FORMAT_SUPERBLOCK_B_OFFSET;
}

/* Move the newest superblock's used_clusters by `delta` and reseal it. */
static void shift_used(struct memio *m, int64_t delta)
{
	uint64_t sb = newest_superblock(m->data);
	uint8_t *p = m->data + sb + SB_OFF_USED_CLUSTERS;
	le64_put(p, le64_get(p) + (uint64_t)delta);
	le32_put(m->data + sb + SB_OFF_CRC,
		 crc32c(0, m->data + sb, SB_OFF_CRC));
}

static void test_clean_counts(void)
{
	struct memio *m = make_guest();
	struct check_report r;

	CHECK_OK(check_container(&m->io, &r));
	print_messages(&r);
	CHECK_EQ(r.errors, 0);
	CHECK_EQ(r.leaked_clusters, 0);
	CHECK_EQ(r.objects, 2);
	CHECK_EQ(r.data_clusters, DISK_CLUSTERS);
	CHECK(r.compressed_extents >= 4);
	CHECK(r.map_nodes >= 2);
	CHECK_EQ(r.cluster_size, CLUSTER);
	CHECK(r.superblock_valid[0] && r.superblock_valid[1]);
	/* the disk's clusters and the tree's blocks are all referenced, and
	 * nothing references more than the file holds */
	CHECK(r.referenced_clusters > DISK_CLUSTERS);
	CHECK(r.referenced_clusters <= r.file_clusters);
	memio_free(m);
}

static void test_leaked(int64_t leaked)
{
	struct memio *m = make_guest();
	struct check_report clean, r;
	struct container *c = NULL;
	char want[64];

	CHECK_OK(check_container(&m->io, &clean));
	shift_used(m, leaked);

	/* open refuses it: a read-write container never trusts accounting
	 * that disagrees with its tree */
	CHECK_ERR(container_open(&m->io, TEST_OPTS, &c), -EUCLEAN);

	CHECK_OK(check_container(&m->io, &r));
	print_messages(&r);
	CHECK_EQ(r.errors, 1);
	CHECK_EQ(r.leaked_clusters, leaked);
	CHECK_EQ(r.message_count, 1);
	snprintf(want, sizeof(want), ": %lld leaked", (long long)leaked);
	CHECK(strstr(r.messages[0], want) != NULL);
	/* the check went on past the mismatch: the whole tree was walked */
	CHECK_EQ(r.objects, clean.objects);
	CHECK_EQ(r.data_clusters, clean.data_clusters);
	CHECK_EQ(r.compressed_extents, clean.compressed_extents);
	CHECK_EQ(r.referenced_clusters, clean.referenced_clusters);
	memio_free(m);
}

static void test_short_accounting(void)
{
	struct memio *m = make_guest();
	struct check_report r;

	shift_used(m, -2);
	CHECK_OK(check_container(&m->io, &r));
	print_messages(&r);
	/* fewer recorded than referenced is corruption, not a leak */
	CHECK_EQ(r.errors, 1);
	CHECK_EQ(r.leaked_clusters, 0);
	CHECK(strstr(r.messages[0], "accounting is short") != NULL);
	memio_free(m);
}

/* A leak and a damaged compressed extent: both reported, each counted. */
static void test_leak_and_damage(void)
{
	struct memio *m = make_guest();
	struct check_report r;
	bool flipped = false;

	shift_used(m, 3);
	/* the image's clusters are zstd frames: damage the first one found
	 * (magic 28 b5 2f fd) past the header area */
	for (uint64_t off = FORMAT_HEADER_AREA; off + 8 <= m->size; off++) {
		const uint8_t *p = m->data + off;
		if (p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f &&
		    p[3] == 0xfd) {
			m->data[off + 6] ^= 0xff;
			flipped = true;
			break;
		}
	}
	CHECK(flipped);
	CHECK_OK(check_container(&m->io, &r));
	print_messages(&r);
	CHECK_EQ(r.errors, 2);
	CHECK_EQ(r.leaked_clusters, 3);
	memio_free(m);
}

struct seen {
	uint64_t calls, last_done, last_total;
	bool backwards;
};

static void note_progress(void *arg, uint64_t done, uint64_t total)
{
	struct seen *s = arg;
	if (done < s->last_done || done > total)
		s->backwards = true;
	s->calls++;
	s->last_done = done;
	s->last_total = total;
}

/* Progress inside one guest: 4 KiB clusters, 3 * CHECK_PROGRESS_STEP data
 * clusters -- reported along the way, never backwards, ending at 100 %. */
static void test_progress(void)
{
	struct memio *m = memio_new();
	struct container_options opts = {TEST_MAP_CACHE, .cluster_shift = 12};
	struct container *c = NULL;
	struct check_report r;
	struct seen seen = {0};
	uint8_t buf[4096];
	uint64_t id;

	CHECK_OK(container_create(&m->io, &opts, &c));
	CHECK_OK(object_create(c, "disk.raw", 0644, 0, 0, &id));
	for (unsigned i = 0; i < 3 * CHECK_PROGRESS_STEP; i++) {
		memset(buf, (int)(i % 251) + 1, sizeof(buf));
		CHECK_OK(object_write(c, id, buf, sizeof(buf),
				      (uint64_t)i * sizeof(buf)));
	}
	CHECK_OK(container_close(c));
	CHECK_OK(check_container_progress(&m->io, NULL, note_progress, &seen,
					  &r));
	CHECK_EQ(r.errors, 0);
	CHECK(!seen.backwards);
	CHECK(seen.calls >= 4); /* three steps along the way, then the end */
	CHECK_EQ(seen.last_total, r.referenced_clusters);
	CHECK_EQ(seen.last_done, seen.last_total);
	memio_free(m);
}

int main(void)
{
	test_clean_counts();
	test_leaked(1);
	test_leaked(5);
	test_short_accounting();
	test_leak_and_damage();
	test_progress();
	printf("test_check: ok\n");
	return 0;
}
