/*
 * snapshot_cost.c -- what a snapshot costs against how much the guest has
 * written: time to create one, to write 4 KiB into a shared cluster and
 * commit, to delete it, and to reopen the container with it.
 *
 *   cmake --build build --target hangar_core
 *   cc -O2 -Icore -Icore/include -o snapshot_cost \
 *      contrib/bench/snapshot_cost.c build/libhangar_core.a \
 *      -lzstd -lcrypto -lpthread
 *   ./snapshot_cost DIR GIB...
 *
 * For each size: a container DIR/bench.hangar with one disk of GIB GiB,
 * every byte written (1 MiB writes of non-zero data) and committed; then
 * each step is timed with CLOCK_MONOTONIC and printed in milliseconds.
 * contrib/ may relax the core rules (docs/style.md, "contrib/").
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "container_open.h"
#include "hangar/container.h"
#include "io.h"

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void die(const char *what, int ret)
{
	fprintf(stderr, "snapshot_cost: %s: %s\n", what, strerror(-ret));
	exit(1);
}

static struct container *open_at(const char *path, bool create)
{
	struct io *io;
	struct container *c;
	int ret = io_file_open(path, O_RDWR | (create ? O_CREAT : 0), &io);
	if (ret)
		die("open", ret);
	ret = create ? container_create(io, NULL, &c)
		     : container_open(io, NULL, &c);
	if (ret)
		die("container", ret);
	return c;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s DIR GIB...\n", argv[0]);
		return 2;
	}
	char path[4096];
	snprintf(path, sizeof(path), "%s/bench.hangar", argv[1]);
	const size_t chunk = 1u << 20;
	unsigned char *buf = malloc(chunk);
	if (!buf)
		return 1;
	printf("GiB written  create ms  cow-write+commit ms  reopen ms  "
	       "delete ms\n");
	for (int a = 2; a < argc; a++) {
		uint64_t gib = strtoull(argv[a], NULL, 10);
		unlink(path);
		struct container *c = open_at(path, true);
		uint64_t id;
		int ret = object_create(c, "disk.raw", S_IFREG | 0600, 0, 0,
					&id);
		if (ret)
			die("create disk", ret);
		for (uint64_t off = 0; off < (gib << 30); off += chunk) {
			for (size_t i = 0; i < chunk; i += 4096)
				memcpy(buf + i, &off, sizeof(off));
			ret = object_write(c, id, buf, chunk, off);
			if (ret)
				die("write", ret);
		}
		if ((ret = container_commit(c)))
			die("commit", ret);
		double t0 = now_ms();
		if ((ret = container_snapshot_create(c, "bench")))
			die("snapshot", ret);
		double t1 = now_ms();
		if ((ret = object_write(c, id, buf, 4096, 12345 * 4096ull)) ||
		    (ret = container_commit(c)))
			die("cow write", ret);
		double t2 = now_ms();
		if ((ret = container_close(c)))
			die("close", ret);
		double t3 = now_ms();
		c = open_at(path, false);
		double t4 = now_ms();
		if ((ret = container_snapshot_delete(c, "bench")))
			die("delete", ret);
		double t5 = now_ms();
		container_close(c);
		printf("%11llu  %9.1f  %19.1f  %9.1f  %9.1f\n",
		       (unsigned long long)gib, t1 - t0, t2 - t1, t4 - t3,
		       t5 - t4);
		fflush(stdout);
	}
	unlink(path);
	free(buf);
	return 0;
}
