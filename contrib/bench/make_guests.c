/*
 * make_guests.c -- a store with many small guests, fast, through core's
 * store API (what `hangar create` does, without a process per guest).
 *
 *   cmake --build build --target make_guests      (tests/CMakeLists.txt)
 *   build/tests/make_guests STORE COUNT [PREFIX]
 *
 * STORE must exist (`hangar init`) and not be mounted (the store lock).
 * Guests are named PREFIX00000, PREFIX00001, ... (PREFIX defaults to "g"),
 * each an empty guest made by store_guest_create: a complete container,
 * committed, synced and renamed into place, as `hangar create` leaves it.
 * The creates run on MAKE_THREADS threads: each one waits on its syncs
 * (measured here: 9.3 ms per guest on one thread, mostly fdatasync), and
 * the store creates guests concurrently (store.h).  Prints how many were
 * made and how long it took.  Used by
 * contrib/bench/many_guests.sh and tests/fs/many_guests.sh; contrib/ may
 * relax the core rules (it prints).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hangar/store.h"

#define MAKE_THREADS 8

struct maker {
	struct store *s;
	const char *prefix;
	unsigned long count;
	atomic_ulong *next; /* the next index to create, shared */
	atomic_int *failed; /* first error, shared; stops everyone */
};

static void *maker_main(void *arg)
{
	struct maker *m = arg;
	char name[80];

	for (;;) {
		unsigned long i = atomic_fetch_add(m->next, 1);
		if (i >= m->count || atomic_load(m->failed))
			return NULL;
		snprintf(name, sizeof(name), "%s%05lu", m->prefix, i);
		int ret = store_guest_create(m->s, name, NULL);
		if (ret) {
			int none = 0;
			fprintf(stderr, "make_guests: create %s: %s\n", name,
				strerror(-ret));
			atomic_compare_exchange_strong(m->failed, &none, ret);
			return NULL;
		}
	}
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const struct store_options opts = {.read_only = false};
	struct store *s = NULL;
	pthread_t threads[MAKE_THREADS];
	atomic_ulong next = 0;
	atomic_int failed = 0;
	char *end = NULL;
	int ret;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: %s STORE COUNT [PREFIX]\n", argv[0]);
		return 2;
	}
	errno = 0;
	unsigned long count = strtoul(argv[2], &end, 10);
	if (errno || *end || count > 1000000) {
		fprintf(stderr, "make_guests: bad COUNT %s\n", argv[2]);
		return 2;
	}
	const char *prefix = argc > 3 ? argv[3] : "g";
	ret = store_open(argv[1], &opts, &s);
	if (ret) {
		fprintf(stderr, "make_guests: %s: %s\n", argv[1],
			strerror(-ret));
		return 1;
	}
	struct maker m = {.s = s,
			  .prefix = prefix,
			  .count = count,
			  .next = &next,
			  .failed = &failed};
	double t0 = now_s();
	unsigned started = 0;
	for (; started < MAKE_THREADS; started++)
		if (pthread_create(&threads[started], NULL, maker_main, &m))
			break;
	if (!started)
		maker_main(&m); /* no thread: this one does it all */
	for (unsigned i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	double took = now_s() - t0;
	ret = atomic_load(&failed);
	int close_ret = store_close(s);
	if (!ret && close_ret)
		ret = close_ret;
	if (!ret)
		printf("%lu guests created in %.2f s (%.2f ms each)\n", count,
		       took, count ? took * 1e3 / (double)count : 0.0);
	return ret ? 1 : 0;
}
