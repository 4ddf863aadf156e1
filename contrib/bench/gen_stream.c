/*
 * gen_stream.c -- a synthetic save-image stream for the memory.save benchmark,
 * used when no recorded QEMU/Xen save stream is given (BENCH_SAVE_STREAM).
 *
 *   cc -O2 -o gen_stream gen_stream.c
 *   ./gen_stream OUT SIZE_MIB ZERO_PERCENT [SEED] [CORPUS_DIR...]
 *
 * The stream is a sequence of 4 KiB pages laid out in runs of 1..256 pages;
 * each run is all zero with probability ZERO_PERCENT, else it is made of real
 * binary pages taken in order from the files under CORPUS_DIRs (default
 * /usr/lib/x86_64-linux-gnu and /usr/bin: ELF code, data, rodata -- the kind
 * of bytes a guest's kernel, page cache and heaps hold), wrapping around a
 * pool of at most 512 MiB.  Runs model the free regions of a guest's memory,
 * which are large and contiguous in a freshly booted or lightly used guest.
 * Deterministic for a given seed and corpus.  contrib/ code: compact style.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096
#define POOL_MAX (512u << 20)

static unsigned char *pool;
static size_t pool_len;

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			names = realloc(names, cap * sizeof(*names));
		}
		if (asprintf(&names[n], "%s/%s", dir, e->d_name) < 0)
			exit(1);
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp);
	for (size_t i = 0; i < n && pool_len < POOL_MAX; i++) {
		struct stat st;
		int fd;
		ssize_t r;

		if (lstat(names[i], &st) != 0 || !S_ISREG(st.st_mode) ||
		    st.st_size < PAGE)
			goto next;
		fd = open(names[i], O_RDONLY);
		if (fd < 0)
			goto next;
		while (pool_len < POOL_MAX &&
		       (r = read(fd, pool + pool_len,
				 POOL_MAX - pool_len < (1u << 20)
					 ? POOL_MAX - pool_len
					 : (1u << 20))) > 0)
			pool_len += (size_t)r;
		close(fd);
next:
		free(names[i]);
	}
	free(names);
}

static uint64_t rng;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr,
			"usage: %s OUT SIZE_MIB ZERO_PERCENT [SEED] [CORPUS_DIR...]\n",
			argv[0]);
		return 2;
	}
	uint64_t pages = strtoull(argv[2], NULL, 0) * (1u << 20) / PAGE;
	unsigned zero_pct = (unsigned)atoi(argv[3]);
	rng = argc > 4 ? strtoull(argv[4], NULL, 0) : 42;
	if (!rng)
		rng = 42;
	pool = malloc(POOL_MAX);
	if (!pool)
		return 1;
	if (argc > 5)
		for (int i = 5; i < argc; i++)
			add_dir(argv[i]);
	else {
		add_dir("/usr/lib/x86_64-linux-gnu");
		add_dir("/usr/bin");
	}
	pool_len -= pool_len % PAGE;
	if (pool_len < PAGE) {
		fprintf(stderr, "gen_stream: empty corpus\n");
		return 1;
	}
	FILE *out = fopen(argv[1], "wb");
	if (!out) {
		perror(argv[1]);
		return 1;
	}
	static unsigned char zero[PAGE];
	size_t src = 0;
	uint64_t done = 0, zeros = 0;
	while (done < pages) {
		uint64_t run = 1 + next_rand() % 256;
		int is_zero = next_rand() % 100 < zero_pct;
		if (run > pages - done)
			run = pages - done;
		for (uint64_t i = 0; i < run; i++) {
			const unsigned char *p = zero;
			if (!is_zero) {
				p = pool + src;
				src = (src + PAGE) % pool_len;
			}
			if (fwrite(p, PAGE, 1, out) != 1) {
				perror("write");
				return 1;
			}
		}
		if (is_zero)
			zeros += run;
		done += run;
	}
	if (fclose(out) != 0) {
		perror("close");
		return 1;
	}
	printf("%llu pages, %.1f%% zero runs, corpus %zu MiB\n",
	       (unsigned long long)pages, 100.0 * (double)zeros / (double)pages,
	       pool_len >> 20);
	return 0;
}
