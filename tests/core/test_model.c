/*
 * test_model.c -- random operations on several objects compared byte for
 * byte with an in-memory model, with commits, reopens and a full check after
 * every reopen.
 *
 * Objects: two raw disks, a config (ordinary file) and memory.save (always
 * compressed); a second pass runs with compressed disks.  Operations: write
 * (random offset and length, crossing clusters), zero-filled writes, punch,
 * zero range, truncate up and down, commit, reopen, read-compare.
 * HANGAR_MODEL_OPS overrides the number of operations (default 100,000 in
 * total over the passes).
 */
#include <fcntl.h>
#include <unistd.h>

#include "hangar/check.h"
#include "container_open.h"
#include "harness.h"
#include "memio.h"

#define NOBJ	 4
#define MAX_SIZE (3u << 20)

static const char *const names[NOBJ] = {"disk.raw", "data.raw", "config",
					"memory.save"};

struct model {
	uint8_t *bytes[NOBJ];
	uint64_t size[NOBJ];
	uint64_t id[NOBJ];
};

static uint64_t rnd(uint64_t *s, uint64_t n)
{
	return n ? test_rand(s) % n : 0;
}

static void model_set_size(struct model *md, int o, uint64_t size)
{
	if (size < md->size[o])
		memset(md->bytes[o] + size, 0, md->size[o] - size);
	md->size[o] = size;
}

static void compare_all(struct container *c, struct model *md, uint8_t *buf)
{
	for (int o = 0; o < NOBJ; o++) {
		struct object_attr at;
		CHECK_OK(object_getattr(c, md->id[o], &at));
		CHECK_EQ(at.size, md->size[o]);
		size_t got = 0;
		CHECK_OK(object_read(c, md->id[o], buf, MAX_SIZE, 0, &got));
		CHECK_EQ(got, md->size[o]);
		if (memcmp(buf, md->bytes[o], got) != 0) {
			for (size_t i = 0; i < got; i++)
				if (buf[i] != md->bytes[o][i]) {
					fprintf(stderr,
						"%s differs at %zu: %u vs %u\n",
						names[o], i, buf[i],
						md->bytes[o][i]);
					break;
				}
			CHECK(0);
		}
	}
}

static void check_clean(struct memio *m)
{
	struct check_report r;
	CHECK_OK(check_container(&m->io, &r));
	for (size_t i = 0; i < r.message_count; i++)
		fprintf(stderr, "check: %s\n", r.messages[i]);
	CHECK_EQ(r.errors, 0);
	CHECK_EQ(r.leaked_clusters, 0);
}

static void run(uint64_t seed, unsigned shift, bool compress, long ops)
{
	struct memio *m = memio_new();
	struct container_options opts = {TEST_MAP_CACHE, .cluster_shift = shift,
					 .compress_disks = compress};
	struct container *c = NULL;
	struct model md;
	uint8_t *buf = malloc(MAX_SIZE);
	uint8_t *data = malloc(MAX_SIZE);
	long reopens = 0, commits = 0;

	memset(&md, 0, sizeof(md));
	CHECK_OK(container_create(&m->io, &opts, &c));
	for (int o = 0; o < NOBJ; o++) {
		md.bytes[o] = calloc(1, MAX_SIZE);
		CHECK_OK(object_create(c, names[o], 0600, 0, 0, &md.id[o]));
	}
	for (long i = 0; i < ops; i++) {
		int o = (int)rnd(&seed, NOBJ);
		uint64_t op = rnd(&seed, 100);
		uint64_t off = rnd(&seed, MAX_SIZE - 1);
		uint64_t len = rnd(&seed, 4) == 0 ? rnd(&seed, 300000)
						  : rnd(&seed, 9000) + 1;
		if (off + len > MAX_SIZE)
			len = MAX_SIZE - off;
		if (op < 45) { /* write */
			bool zero = rnd(&seed, 8) == 0;
			for (uint64_t k = 0; k < len; k++)
				data[k] = zero ? 0 : (uint8_t)test_rand(&seed);
			if (rnd(&seed, 2) && md.size[o] > 0) /* overwrite */
				off = rnd(&seed, md.size[o]);
			if (off + len > MAX_SIZE)
				len = MAX_SIZE - off;
			CHECK_OK(object_write(c, md.id[o], data, len, off));
			memcpy(md.bytes[o] + off, data, len);
			if (off + len > md.size[o])
				md.size[o] = off + len;
		} else if (op < 55) { /* punch */
			CHECK_OK(object_punch(c, md.id[o], off, len));
			if (off < md.size[o]) {
				uint64_t end = off + len < md.size[o]
						       ? off + len
						       : md.size[o];
				memset(md.bytes[o] + off, 0, end - off);
			}
		} else if (op < 60) { /* zero range */
			bool keep = rnd(&seed, 2);
			CHECK_OK(object_zero(c, md.id[o], off, len, keep));
			uint64_t end = off + len;
			if (keep && end > md.size[o])
				end = md.size[o];
			if (off < end)
				memset(md.bytes[o] + off, 0, end - off);
			if (!keep && off + len > md.size[o])
				md.size[o] = off + len;
		} else if (op < 68) { /* truncate */
			uint64_t size = rnd(&seed, MAX_SIZE);
			CHECK_OK(object_truncate(c, md.id[o], size));
			model_set_size(&md, o, size);
		} else if (op < 78) { /* read-compare a range */
			size_t got = 0;
			CHECK_OK(object_read(c, md.id[o], buf, len, off, &got));
			uint64_t want = off >= md.size[o]
						? 0
						: (md.size[o] - off < len
							   ? md.size[o] - off
							   : len);
			CHECK_EQ(got, want);
			CHECK_MEM_EQ(buf, md.bytes[o] + off, got);
		} else if (op < 88) {
			CHECK_OK(container_commit(c));
			commits++;
		} else if (op < 89) {
			CHECK_OK(container_close(c));
			check_clean(m);
			CHECK_OK(container_open(&m->io, TEST_OPTS, &c));
			compare_all(c, &md, buf);
			reopens++;
		} else {
			uint64_t at;
			int w = rnd(&seed, 2) ? SEEK_DATA : SEEK_HOLE;
			int r = object_seek(c, md.id[o], off, w, &at);
			if (off >= md.size[o]) {
				CHECK_ERR(r, -ENXIO);
			} else if (r == 0) {
				CHECK(at >= off && at <= md.size[o]);
				/* anything the map calls a hole is zeros */
				if (w == SEEK_DATA)
					for (uint64_t k = off; k < at; k++)
						CHECK_EQ(md.bytes[o][k], 0);
			} else {
				CHECK_ERR(r, -ENXIO);
				CHECK_EQ(w, SEEK_DATA);
				for (uint64_t k = off; k < md.size[o]; k++)
					CHECK_EQ(md.bytes[o][k], 0);
			}
		}
	}
	compare_all(c, &md, buf);
	CHECK_OK(container_close(c));
	check_clean(m);
	CHECK_OK(container_open(&m->io, TEST_OPTS, &c));
	compare_all(c, &md, buf);
	CHECK_OK(container_close(c));
	printf("model: shift %u compress %d: %ld ops, %ld commits, %ld "
	       "reopens, file %llu KiB\n",
	       shift, compress, ops, commits, reopens,
	       (unsigned long long)(m->size >> 10));
	for (int o = 0; o < NOBJ; o++)
		free(md.bytes[o]);
	free(buf);
	free(data);
	memio_free(m);
}

int main(void)
{
	uint64_t seed = test_seed();
	const char *env = getenv("HANGAR_MODEL_OPS");
	long total = env ? atol(env) : 100000;
	run(seed, 16, false, total * 4 / 10);
	run(seed + 1, 12, false, total * 3 / 10);
	run(seed + 2, 16, true, total * 2 / 10);
	run(seed + 3, 21, false, total / 10);
	printf("test_model: %ld operations, 0 mismatches\n", total);
	return 0;
}
