/*
 * make_corpus.c -- write the seed corpora of tests/fuzz/corpus/.
 *
 *   fuzz_make_corpus DIR [REGRESSIONS]
 *       writes seeds into DIR/fuzz_open, DIR/fuzz_check, DIR/fuzz_decompress
 *       and DIR/fuzz_names; with REGRESSIONS, also the crafted inputs of
 *       the bugs reported in REGRESSIONS/README.md
 *
 * The containers use 4 KiB clusters and are cut back to the shortest
 * length that still checks clean (free clusters at the end are not needed),
 * so each is a few clusters: small inputs keep the fuzzer fast.  Each seed
 * shows the fuzzer one feature: an empty container, data in a two-level map,
 * compressed clusters, a sealed save image (save record with pins), an
 * orphan and an unsealed image (recovery at open), compressed disks.
 */
#include <stdio.h>
#include <sys/stat.h>

#include "hangar/check.h"
#include "compress.h"
#include "container_open.h"
#include "crc32c.h"
#include "format.h"
#include "harness.h"
#include "memio.h"
#include "hangar/savelock.h"

#define CS 4096u

static void write_file(const char *dir, const char *sub, const char *name,
		       const void *data, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	FILE *f = fopen(path, "wb");
	CHECK(f);
	CHECK(fwrite(data, 1, len, f) == len);
	CHECK(fclose(f) == 0);
}

/* The shortest prefix of m that still checks clean. */
static size_t shortest(const struct memio *m)
{
	struct check_report r;
	size_t len = m->size;
	for (size_t cut = (m->size / CS) * CS; cut >= 3 * CS; cut -= CS) {
		struct memio *t = memio_clone(m);
		t->size = cut;
		CHECK_OK(check_container(&t->io, &r));
		memio_free(t);
		if (r.errors)
			break;
		len = cut;
	}
	return len;
}

static void save(const char *dir, const char *name, const struct memio *m)
{
	struct check_report r;
	CHECK_OK(check_container((struct io *)&m->io, &r));
	CHECK_EQ(r.errors, 0);
	size_t len = shortest(m);
	write_file(dir, "fuzz_open", name, m->data, len);
	write_file(dir, "fuzz_check", name, m->data, len);
	printf("%s: %zu bytes\n", name, len);
}

static void fill(uint8_t *p, size_t len, unsigned salt, bool random)
{
	uint64_t s = salt + 1;
	for (size_t i = 0; i < len; i++)
		p[i] = random ? (uint8_t)test_rand(&s)
			      : (uint8_t)("hangar guest image "[(i + salt) %
								19]);
}

int main(int argc, char **argv)
{
	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: fuzz_make_corpus DIR [REGRESSIONS]\n");
		return 2;
	}
	const char *dir = argv[1];
	struct container_options opts = {.cluster_shift = 12};
	struct container *c;
	struct memio *m;
	uint64_t disk, cfg, img, tmp;
	static uint8_t buf[8 * CS];

	/* 1. empty */
	m = memio_new();
	CHECK_OK(container_create(&m->io, &opts, &c));
	CHECK_OK(container_close(c));
	save(dir, "empty.hangar", m);
	memio_free(m);

	/* 2. a disk with a two-level map, a config, a sealed image */
	m = memio_new();
	CHECK_OK(container_create(&m->io, &opts, &c));
	CHECK_OK(object_create(c, "disk.raw", S_IFREG | 0600, 0, 0, &disk));
	CHECK_OK(object_create(c, "config", S_IFREG | 0644, 0, 0, &cfg));
	fill(buf, CS, 1, true);
	CHECK_OK(object_write(c, disk, buf, CS, 0));
	CHECK_OK(object_write(c, disk, buf, CS, 130 * (uint64_t)CS));
	CHECK_OK(object_write(c, cfg, "memory=256\n", 11, 0));
	CHECK_OK(container_commit(c));
	CHECK_OK(object_create(c, SAVE_IMAGE_NAME, S_IFREG | 0600, 0, 0, &img));
	fill(buf, 3 * CS, 2, false);
	CHECK_OK(object_write(c, img, buf, 3 * CS, 0));
	CHECK_OK(save_lock_seal(c));
	CHECK_OK(container_close(c));
	save(dir, "saved.hangar", m);
	if (argc == 3) {
		/* hostile-2: the newest superblock claims 2^32-1 table
		 * blocks; table_read callocs 32 GiB before checking */
		size_t len = shortest(m);
		uint8_t *bad = malloc(len);
		CHECK(bad);
		memcpy(bad, m->data, len);
		uint64_t ga = le64_get(bad + SB_OFF_GENERATION);
		uint64_t gb = le64_get(bad + FORMAT_SUPERBLOCK_B_OFFSET +
				       SB_OFF_GENERATION);
		uint8_t *sb = bad + (ga > gb ? 0 : FORMAT_SUPERBLOCK_B_OFFSET);
		le32_put(sb + SB_OFF_TABLE_BLOCKS, 0xffffffffu);
		le32_put(sb + SB_OFF_CRC, crc32c(0, sb, SB_OFF_CRC));
		write_file(argv[2], "fuzz_open", "hostile-2-table-blocks", bad,
			   len);
		write_file(argv[2], "fuzz_check", "hostile-2-table-blocks", bad,
			   len);
		free(bad);
	}

	/* 3. the same, resumed (RESUMING state) */
	c = NULL;
	CHECK_OK(container_open(&m->io, NULL, &c));
	CHECK_OK(save_lock_resume(c, NULL, 0));
	CHECK_OK(container_close(c));
	save(dir, "resuming.hangar", m);
	memio_free(m);

	/* 4. crash states: an orphan (unlinked while open) and an image
	 * never sealed; recovery at open handles both */
	m = memio_new();
	CHECK_OK(container_create(&m->io, &opts, &c));
	CHECK_OK(object_create(c, "scratch", S_IFREG | 0600, 0, 0, &tmp));
	fill(buf, 2 * CS, 3, true);
	CHECK_OK(object_write(c, tmp, buf, 2 * CS, 0));
	CHECK_OK(object_open(c, tmp, true));
	CHECK_OK(object_unlink(c, "scratch"));
	CHECK_OK(object_create(c, SAVE_IMAGE_NAME, S_IFREG | 0600, 0, 0, &img));
	fill(buf, 2 * CS, 4, false);
	CHECK_OK(object_write(c, img, buf, 2 * CS, 0));
	CHECK_OK(container_commit(c));
	{
		struct memio *crash = memio_clone(m);
		save(dir, "crashed.hangar", crash);
		memio_free(crash);
	}
	object_release(c, tmp, true);
	CHECK_OK(container_close(c));
	memio_free(m);

	/* 5. compressed disks */
	m = memio_new();
	opts.compress_disks = true;
	CHECK_OK(container_create(&m->io, &opts, &c));
	CHECK_OK(object_create(c, "disk.raw", S_IFREG | 0600, 0, 0, &disk));
	fill(buf, 4 * CS, 5, false);
	fill(buf + 2 * CS, CS, 6, true);
	CHECK_OK(object_write(c, disk, buf, 4 * CS, 0));
	CHECK_OK(object_zero(c, disk, 8 * CS, 2 * CS, false));
	CHECK_OK(container_close(c));
	save(dir, "compressed.hangar", m);
	memio_free(m);

	/* 6. snapshots: two, sharing clusters with each other and the live
	 * tree, one holding a saved image */
	m = memio_new();
	opts.compress_disks = false;
	CHECK_OK(container_create(&m->io, &opts, &c));
	CHECK_OK(object_create(c, "disk.raw", S_IFREG | 0600, 0, 0, &disk));
	fill(buf, 4 * CS, 7, true);
	CHECK_OK(object_write(c, disk, buf, 4 * CS, 0));
	CHECK_OK(container_snapshot_create(c, "first"));
	fill(buf, CS, 8, true);
	CHECK_OK(object_write(c, disk, buf, CS, CS));
	CHECK_OK(object_create(c, SAVE_IMAGE_NAME, S_IFREG | 0600, 0, 0, &img));
	fill(buf, 2 * CS, 9, false);
	CHECK_OK(object_write(c, img, buf, 2 * CS, 0));
	CHECK_OK(save_lock_seal(c));
	CHECK_OK(container_snapshot_create(c, "checkpoint"));
	CHECK_OK(container_close(c));
	save(dir, "snapshots.hangar", m);
	memio_free(m);

	/* 7. small metadata nodes: 16 KiB clusters, 4 KiB nodes sharing
	 * metadata clusters; a two-level map and a snapshot */
	m = memio_new();
	opts.cluster_shift = 14;
	CHECK_OK(container_create(&m->io, &opts, &c));
	CHECK_OK(object_create(c, "disk.raw", S_IFREG | 0600, 0, 0, &disk));
	fill(buf, 2 * CS, 10, true);
	CHECK_OK(object_write(c, disk, buf, 2 * CS, 0));
	CHECK_OK(object_write(c, disk, buf, CS, (uint64_t)130 << 14));
	CHECK_OK(container_snapshot_create(c, "first"));
	CHECK_OK(object_write(c, disk, buf + CS, CS, CS));
	CHECK_OK(container_close(c));
	save(dir, "small-nodes.hangar", m);
	memio_free(m);
	opts.cluster_shift = 12;

	/* decompress seeds: [size selector][mode] frame */
	{
		struct compressor *cz;
		static uint8_t in[CS], out[CS + 2];
		size_t len;
		CHECK_OK(compressor_new(1, &cz));
		for (int k = 0; k < 3; k++) {
			if (k == 0)
				memset(in, 0, CS);
			else
				fill(in, CS, 7, false);
			if (k == 2)
				fill(in + CS / 2, CS / 4, 8, true);
			CHECK_OK(compress_cluster(cz, out + 2, CS, in, CS,
						  &len));
			out[0] = 12; /* 1 << 12 = 4096 */
			out[1] = 0;
			char name[32];
			snprintf(name, sizeof(name), "frame%d", k);
			write_file(dir, "fuzz_decompress", name, out, len + 2);
		}
		out[0] = 12;
		out[1] = 1;
		memcpy(out + 2, in, 600);
		write_file(dir, "fuzz_decompress", "roundtrip", out, 602);
		compressor_free(cz);
	}
	/* names */
	static const char *names[] = {
		"disk.raw",
		"memory.save",
		"web-01",
		"..",
		".hidden",
		"a/b",
		("x123456789012345678901234567890123456789"
		 "0123456789012345678901234")};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char name[16];
		snprintf(name, sizeof(name), "name%zu", i);
		write_file(dir, "fuzz_names", name, names[i], strlen(names[i]));
	}
	return 0;
}
