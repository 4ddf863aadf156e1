/*
 * progress.c -- progress on stderr, measured against the data to copy.
 *
 * `total` and `done` count bytes of data (the SEEK_DATA ranges of the
 * source, not its virtual size: copy.c measures them first), so a sparse
 * 20G disk with 1G of data advances evenly from 0 to 100 % instead of
 * jumping over its holes.  The rate is the average since the start and the
 * ETA the rest of the data at that rate.
 *
 * Drawn only when stderr is a terminal (and HANGAR_NO_PROGRESS is unset), as
 * one line redrawn in place and erased at the end, so scripts and logs
 * never see carriage returns.  Forced (`--progress`) on something else (a
 * file, a pipe, a log), it prints plain lines instead, at most one a second
 * and a last one at 100 %, each ending in a newline.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define PROGRESS_WIDTH		  30
#define PROGRESS_INTERVAL_NS	  100000000LL  /* 10 redraws a second */
#define PROGRESS_LINE_INTERVAL_NS 1000000000LL /* plain lines: 1 a second */
#define PROGRESS_RATE_MIN_NS	  200000000LL  /* no rate before 0.2 s */

static long long elapsed_ns(struct timespec from, struct timespec to)
{
	return (to.tv_sec - from.tv_sec) * 1000000000LL +
	       (to.tv_nsec - from.tv_nsec);
}

/* "1:05" or "1:02:05"; "--:--" while unknown. */
static void format_eta(char *buf, size_t len, double seconds)
{
	unsigned long long s;

	if (seconds < 0 || seconds > 359999.0) {
		snprintf(buf, len, "--:--");
		return;
	}
	s = (unsigned long long)(seconds + 0.5);
	if (s >= 3600)
		snprintf(buf, len, "%llu:%02llu:%02llu", s / 3600, s / 60 % 60,
			 s % 60);
	else
		snprintf(buf, len, "%llu:%02llu", s / 60, s % 60);
}

static void progress_draw(struct progress *p, struct timespec now)
{
	char done[FORMAT_SIZE_LEN], total[FORMAT_SIZE_LEN];
	char rate_text[FORMAT_SIZE_LEN + 4] = "-", eta[32];
	char bar[PROGRESS_WIDTH + 1];
	long long ns = elapsed_ns(p->start, now);
	unsigned percent = 100;
	double rate = -1;
	unsigned filled;

	if (p->total && p->done < p->total)
		percent = (unsigned)((p->done * 100.0) / (double)p->total);
	/* the average rate; early on it means little, except at the end */
	if (ns > 0 && p->done &&
	    (ns >= PROGRESS_RATE_MIN_NS || p->done >= p->total)) {
		rate = (double)p->done * 1e9 / (double)ns;
		snprintf(rate_text, sizeof(rate_text), "%s/s",
			 format_size(done, (uint64_t)rate, false));
	}
	format_eta(eta, sizeof(eta),
		   p->done >= p->total ? 0
		   : rate > 0	       ? (double)(p->total - p->done) / rate
				       : -1);
	format_size(done, p->done, false);
	format_size(total, p->total, false);
	if (!p->tty) {
		fprintf(stderr, "%s: %3u%% %s/%s %s ETA %s\n", p->label,
			percent, done, total, rate_text, eta);
		fflush(stderr);
		return;
	}
	filled = percent * PROGRESS_WIDTH / 100;
	for (unsigned i = 0; i < PROGRESS_WIDTH; i++)
		bar[i] = i < filled ? '#' : '-';
	bar[PROGRESS_WIDTH] = '\0';
	fprintf(stderr, "\r\033[K%s [%s] %3u%% %s/%s %s ETA %s", p->label, bar,
		percent, done, total, rate_text, eta);
	fflush(stderr);
}

void progress_start_forced(struct progress *p, const char *label,
			   uint64_t total, bool force)
{
	p->tty = isatty(STDERR_FILENO) != 0;
	p->enabled = force || (p->tty && !getenv("HANGAR_NO_PROGRESS"));
	p->label = label;
	p->total = total;
	p->done = 0;
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	p->last_draw = p->start;
	if (p->enabled)
		progress_draw(p, p->start);
}

void progress_start(struct progress *p, const char *label, uint64_t total)
{
	progress_start_forced(p, label, total, false);
}

void progress_update(struct progress *p, uint64_t done)
{
	struct timespec now;

	if (!p || !p->enabled)
		return;
	p->done = done;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (elapsed_ns(p->last_draw, now) <
	    (p->tty ? PROGRESS_INTERVAL_NS : PROGRESS_LINE_INTERVAL_NS))
		return;
	p->last_draw = now;
	progress_draw(p, now);
}

void progress_finish(struct progress *p)
{
	struct timespec now;

	if (!p || !p->enabled)
		return;
	p->enabled = false;
	if (p->tty) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		return;
	}
	/* A log's last line says where it ended (100 % when complete). */
	clock_gettime(CLOCK_MONOTONIC, &now);
	progress_draw(p, now);
}
