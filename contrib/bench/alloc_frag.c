/*
 * alloc_frag.c -- the cluster allocator on a long random-write run: what an
 * allocation costs (alloc_get, timed one by one) and how fragmented the
 * disk's data ends up in the container file.
 *
 *   cmake --build build --target hangar_core
 *   cc -O2 -Icore -Icore/include -o alloc_frag contrib/bench/alloc_frag.c \
 *      -Wl,--wrap=alloc_get build/libhangar_core.a -lzstd -lcrypto -lpthread
 *   ./alloc_frag DIR SHIFT DISK_GIB PREFILL_MIB WRITES COMMIT_EVERY
 *                SPAN_GIB [SEED]
 *
 * A container DIR/bench.hangar with clusters of 2^SHIFT bytes and one disk
 * of DISK_GIB GiB; PREFILL_MIB of it written sequentially from offset 0
 * (the file past which every later allocation must look) and committed;
 * then WRITES writes of 4 KiB at random 4 KiB-aligned offsets below
 * SPAN_GIB GiB, with a commit after every COMMIT_EVERY (an fsync-heavy
 * guest: each commit rewrites the touched map nodes copy-on-write, freeing
 * the old ones, so the file is full of holes that the next transaction
 * fills first).
 *
 * Printed: alloc_get calls, mean / max ns and share of the run (timed by
 * wrapping alloc_get, -Wl,--wrap: every call from data.c, map.c and
 * table.c), an FNV-1a hash of every cluster alloc_get returned in order (two
 * builds with the same policy print the same hash), the write phase's wall
 * time, and, of the disk's data clusters: how many, how many extents (runs
 * of clusters consecutive both in the disk and in the file), and how many
 * seeks a sequential read of the disk makes (consecutive data clusters,
 * in disk order, not adjacent in the file); the file's end and its used
 * clusters (holes in the file = end - used).
 * contrib/ may relax the core rules (docs/style.md, "contrib/").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "container_open.h"
#include "hangar/container.h"
#include "internal.h"
#include "io.h"

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void die(const char *what, int ret)
{
	fprintf(stderr, "alloc_frag: %s: %s\n", what, strerror(-ret));
	exit(1);
}

static uint64_t calls, order_hash = 14695981039346656037ull;
static double total_ns, max_ns;
static float *times; /* of this phase's calls, for the percentiles */
static size_t times_cap;

int __real_alloc_get(struct alloc *a, enum alloc_kind kind, uint64_t *out_n);

int __wrap_alloc_get(struct alloc *a, enum alloc_kind kind, uint64_t *out_n)
{
	double t0 = now_ns();
	int ret = __real_alloc_get(a, kind, out_n);
	double t = now_ns() - t0;
	if (calls == times_cap) {
		times_cap = times_cap ? times_cap * 2 : 65536;
		times = realloc(times, times_cap * sizeof(*times));
		if (!times)
			die("memory", -ENOMEM);
	}
	times[calls++] = (float)t;
	total_ns += t;
	if (t > max_ns)
		max_ns = t;
	uint64_t n = ret ? UINT64_MAX : *out_n;
	for (int i = 0; i < 8; i++) {
		order_hash ^= (n >> (8 * i)) & 0xff;
		order_hash *= 1099511628211ull;
	}
	return ret;
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

/* "median M ns, p99 P ns" of this phase's calls (sorts them). */
static const char *percentiles(void)
{
	static char out[64];
	if (calls == 0)
		return "no calls";
	qsort(times, calls, sizeof(*times), cmp_float);
	snprintf(out, sizeof(out), "median %.0f ns, p99 %.0f ns",
		 times[calls / 2], times[calls * 99 / 100]);
	return out;
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

int main(int argc, char **argv)
{
	if (argc < 8) {
		fprintf(stderr,
			"usage: %s DIR SHIFT DISK_GIB PREFILL_MIB WRITES "
			"COMMIT_EVERY SPAN_GIB [SEED]\n",
			argv[0]);
		return 2;
	}
	char path[4096];
	snprintf(path, sizeof(path), "%s/bench.hangar", argv[1]);
	struct container_options opts = {
		.cluster_shift = (unsigned)strtoul(argv[2], NULL, 10)};
	uint64_t disk = strtoull(argv[3], NULL, 10) << 30;
	uint64_t prefill = strtoull(argv[4], NULL, 10) << 20;
	uint64_t writes = strtoull(argv[5], NULL, 10);
	uint64_t every = strtoull(argv[6], NULL, 10);
	uint64_t span = strtoull(argv[7], NULL, 10) << 30;
	uint64_t seed = argc > 8 ? strtoull(argv[8], NULL, 10) : 1;
	if (span > disk || span < 4096 || every == 0)
		die("arguments", -EINVAL);

	unlink(path);
	struct io *io;
	struct container *c;
	int ret = io_file_open(path, O_RDWR | O_CREAT, &io);
	if (ret)
		die("open", ret);
	if ((ret = container_create(io, &opts, &c)))
		die("create", ret);
	uint64_t id;
	if ((ret = object_create(c, "disk.raw", S_IFREG | 0600, 0, 0, &id)) ||
	    (ret = object_truncate(c, id, disk)))
		die("create disk", ret);

	const size_t chunk = 1u << 20;
	unsigned char *buf = malloc(chunk);
	if (!buf)
		return 1;
	memset(buf, 0x5a, chunk);
	double p0 = now_ns();
	for (uint64_t off = 0; off < prefill; off += chunk)
		if ((ret = object_write(c, id, buf, chunk, off)))
			die("prefill", ret);
	if ((ret = container_commit(c)))
		die("commit", ret);
	double prefill_wall = now_ns() - p0;
	uint64_t prefill_calls = calls;
	double prefill_ns = total_ns;
	char prefill_pct[64];
	snprintf(prefill_pct, sizeof(prefill_pct), "%s", percentiles());

	calls = 0;
	total_ns = max_ns = 0;
	uint64_t rng = seed;
	double t0 = now_ns();
	for (uint64_t i = 0; i < writes; i++) {
		uint64_t off = (rnd(&rng) % (span / 4096)) * 4096;
		memcpy(buf, &off, sizeof(off));
		if ((ret = object_write(c, id, buf, 4096, off)))
			die("write", ret);
		if ((i + 1) % every == 0 && (ret = container_commit(c)))
			die("commit", ret);
	}
	if ((ret = container_commit(c)))
		die("commit", ret);
	double wall = now_ns() - t0;

	/* the disk's data in disk order: extents and seeks */
	struct object *o = object_find(c, id);
	uint64_t data = 0, extents = 0, seeks = 0;
	uint64_t prev_vc = 0, prev_cl = 0, vc = 0;
	uint64_t vclusters = disk >> c->cluster_shift;
	while (vc < vclusters && map_find(c, o, vc, true, &vc) == 0 &&
	       vc < vclusters) {
		struct map_entry e;
		if ((ret = map_lookup(c, o, vc, &e)))
			die("lookup", ret);
		uint64_t cl = e.offset >> c->cluster_shift;
		bool next_in_file = data > 0 && cl == prev_cl + 1;
		if (data == 0 || !next_in_file || vc != prev_vc + 1)
			extents++;
		if (data > 0 && !next_in_file)
			seeks++;
		data++;
		prev_vc = vc;
		prev_cl = cl;
		vc++;
	}
	printf("shift %s disk %s GiB prefill %s MiB writes %llu commit/%llu "
	       "span %s GiB seed %llu\n",
	       argv[2], argv[3], argv[4], (unsigned long long)writes,
	       (unsigned long long)every, argv[7], (unsigned long long)seed);
	printf("  prefill: %.2f s wall, alloc_get %llu calls, mean %.0f ns, "
	       "%s\n",
	       prefill_wall / 1e9, (unsigned long long)prefill_calls,
	       prefill_calls ? prefill_ns / (double)prefill_calls : 0.0,
	       prefill_pct);
	printf("  random phase: %.2f s wall, alloc_get %llu calls, mean %.0f "
	       "ns, %s, max %.0f ns, %.1f%% of the wall time\n",
	       wall / 1e9, (unsigned long long)calls,
	       calls ? total_ns / (double)calls : 0.0, percentiles(), max_ns,
	       100.0 * total_ns / wall);
	printf("  allocation order hash %016llx\n",
	       (unsigned long long)order_hash);
	printf("  disk data clusters %llu, extents %llu (mean run %.2f "
	       "clusters), sequential-read seeks %llu\n",
	       (unsigned long long)data, (unsigned long long)extents,
	       extents ? (double)data / (double)extents : 0.0,
	       (unsigned long long)seeks);
	printf("  file end %llu clusters, used %llu (holes %llu)\n",
	       (unsigned long long)c->alloc.count,
	       (unsigned long long)c->alloc.used,
	       (unsigned long long)(c->alloc.count - c->alloc.used));
	if ((ret = container_close(c)))
		die("close", ret);
	unlink(path);
	free(buf);
	return 0;
}
