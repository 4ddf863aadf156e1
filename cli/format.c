/*
 * format.c -- sizes, times and names for people.
 *
 * Sizes use binary units the way `ls -h` and `du -h` print them, so the
 * numbers match what a person sees on the mount.  JSON output (jsonout.c)
 * always carries exact byte counts, whatever --bytes says.
 *
 * Names are bytes: format_name escapes what a terminal would act on or
 * could not show (control characters, bytes that are not UTF-8) as \xNN,
 * and a backslash as \\, so text output never carries them raw and an
 * escaped name cannot be mistaken for another.
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

char *format_name(char *buf, size_t len, const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t used = 0;

	if (!len)
		return buf;
	while (*p) {
		size_t n = utf8_sequence_len(p);
		/* C1 controls (U+0080..U+009F) are encoded C2 80..C2 9F */
		bool control = n == 1 ? *p < 0x20 || *p == 0x7f
				      : n == 2 && p[0] == 0xc2 && p[1] < 0xa0;
		char piece[8];
		size_t piece_len;

		if (n && !control && *p != '\\') {
			if (used + n >= len)
				break;
			memcpy(buf + used, p, n);
			used += n;
			p += n;
			continue;
		}
		if (*p == '\\')
			piece_len =
				(size_t)snprintf(piece, sizeof(piece), "\\\\");
		else
			piece_len = (size_t)snprintf(piece, sizeof(piece),
						     "\\x%02x", *p);
		if (used + piece_len >= len)
			break;
		memcpy(buf + used, piece, piece_len);
		used += piece_len;
		p++;
	}
	buf[used] = '\0';
	return buf;
}
