/*
 * format.c -- sizes, times and JSON strings for people and scripts.
 *
 * Sizes use binary units the way `ls -h` and `du -h` print them, so the
 * numbers match what a person sees on the mount.  JSON output always
 * carries exact byte counts, whatever --bytes says.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"

char *format_size(char *buf, uint64_t bytes, bool exact)
{
	static const char units[] = "KMGTPE";
	double value = (double)bytes;
	int unit = -1;

	if (exact || bytes < 1024) {
		snprintf(buf, FORMAT_SIZE_LEN, "%" PRIu64, bytes);
		return buf;
	}
	while (value >= 1024.0 && unit < 5) {
		value /= 1024.0;
		unit++;
	}
	/* Like ls -h: round up, one decimal below 10. */
	if (value < 10.0) {
		double tenths = (double)(uint64_t)(value * 10.0);

		if (tenths < value * 10.0)
			tenths += 1.0;
		if (tenths >= 100.0)
			snprintf(buf, FORMAT_SIZE_LEN, "%.0f%c", tenths / 10.0,
				 units[unit]);
		else
			snprintf(buf, FORMAT_SIZE_LEN, "%.1f%c", tenths / 10.0,
				 units[unit]);
	} else {
		double whole = (double)(uint64_t)value;

		if (whole < value)
			whole += 1.0;
		if (whole >= 1024.0 && unit < 5) {
			whole = 1.0;
			unit++;
			snprintf(buf, FORMAT_SIZE_LEN, "%.1f%c", whole,
				 units[unit]);
		} else {
			snprintf(buf, FORMAT_SIZE_LEN, "%.0f%c", whole,
				 units[unit]);
		}
	}
	return buf;
}

char *format_time(char *buf, struct timespec ts)
{
	struct tm tm;
	time_t t = ts.tv_sec;

	if (ts.tv_sec == 0 && ts.tv_nsec == 0) {
		snprintf(buf, FORMAT_TIME_LEN, "-");
		return buf;
	}
	if (!localtime_r(&t, &tm) ||
	    strftime(buf, FORMAT_TIME_LEN, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, FORMAT_TIME_LEN, "@%lld", (long long)t);
	return buf;
}

char *format_age(char *buf, struct timespec ts)
{
	static const struct {
		long long seconds;
		const char *name;
	} steps[] = {
		{86400LL * 365, "year"}, {86400LL * 30, "month"},
		{86400LL * 7, "week"},	 {86400LL, "day"},
		{3600LL, "hour"},	 {60LL, "minute"},
	};
	long long age = (long long)time(NULL) - (long long)ts.tv_sec;

	if (ts.tv_sec == 0 && ts.tv_nsec == 0) {
		snprintf(buf, FORMAT_TIME_LEN, "never");
		return buf;
	}
	if (age < 0) {
		snprintf(buf, FORMAT_TIME_LEN, "in the future");
		return buf;
	}
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		long long n = age / steps[i].seconds;

		if (n >= 1) {
			snprintf(buf, FORMAT_TIME_LEN, "%lld %s%s ago", n,
				 steps[i].name, n == 1 ? "" : "s");
			return buf;
		}
	}
	snprintf(buf, FORMAT_TIME_LEN, "%s",
		 age < 5 ? "just now" : "less than a minute ago");
	return buf;
}

void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\b':
			fputs("\\b", f);
			break;
		case '\f':
			fputs("\\f", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			/* Control bytes escaped; bytes >= 0x80 are passed
			 * through (object names are bytes; valid UTF-8 stays
			 * valid). */
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

void json_time(FILE *f, struct timespec ts)
{
	struct tm tm;
	time_t t = ts.tv_sec;
	char buf[FORMAT_TIME_LEN];

	if ((ts.tv_sec == 0 && ts.tv_nsec == 0) || !gmtime_r(&t, &tm) ||
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		fputs("null", f);
		return;
	}
	fprintf(f, "\"%s\"", buf);
}
