/*
 * progress.c -- a one-line progress bar on stderr.
 *
 * Only when stderr is a terminal (and HANGAR_NO_PROGRESS is unset): scripts
 * and logs never see carriage returns.  The line is erased when the work is
 * done, so later messages start on a clean line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define PROGRESS_WIDTH	     30
#define PROGRESS_INTERVAL_NS 100000000LL /* 10 redraws a second at most */

static void progress_draw(struct progress *p)
{
	char done[FORMAT_SIZE_LEN], total[FORMAT_SIZE_LEN];
	char bar[PROGRESS_WIDTH + 1];
	unsigned percent = 0;
	unsigned filled;

	if (p->total)
		percent = (unsigned)(p->done >= p->total
					     ? 100
					     : (p->done * 100.0) /
						       (double)p->total);
	filled = percent * PROGRESS_WIDTH / 100;
	for (unsigned i = 0; i < PROGRESS_WIDTH; i++)
		bar[i] = i < filled ? '#' : '-';
	bar[PROGRESS_WIDTH] = '\0';
	fprintf(stderr, "\r\033[K%s [%s] %3u%% %s/%s", p->label, bar, percent,
		format_size(done, p->done, false),
		format_size(total, p->total, false));
	fflush(stderr);
}

void progress_start(struct progress *p, const char *label, uint64_t total)
{
	p->enabled = isatty(STDERR_FILENO) && !getenv("HANGAR_NO_PROGRESS");
	p->label = label;
	p->total = total;
	p->done = 0;
	p->last_draw.tv_sec = 0;
	p->last_draw.tv_nsec = 0;
	if (p->enabled) {
		clock_gettime(CLOCK_MONOTONIC, &p->last_draw);
		progress_draw(p);
	}
}

void progress_update(struct progress *p, uint64_t done)
{
	struct timespec now;
	long long elapsed;

	if (!p || !p->enabled)
		return;
	p->done = done;
	clock_gettime(CLOCK_MONOTONIC, &now);
	elapsed = (now.tv_sec - p->last_draw.tv_sec) * 1000000000LL +
		  (now.tv_nsec - p->last_draw.tv_nsec);
	if (elapsed < PROGRESS_INTERVAL_NS)
		return;
	p->last_draw = now;
	progress_draw(p);
}

void progress_finish(struct progress *p)
{
	if (!p || !p->enabled)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	p->enabled = false;
}
