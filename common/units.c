/*
 * units.c -- sizes and bounded integers as a person types them (units.h).
 *
 * A size is computed exactly: "1.5T" is 3 * 2^39, not a double rounded
 * back.  The fraction's digits are kept as an integer F with n digits, and
 * the size is I * U + F * U / 10^n in 128-bit arithmetic, accepted only
 * when that division leaves no remainder.
 */
#include "units.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* More fraction digits than this cannot matter to a byte count under
 * 2^64 (10^19 > 2^63) and would overflow F. */
#define UNITS_FRACTION_DIGITS_MAX 18

static const char units_why_unit[] =
	"unknown unit (K, M, G, T, P, E or KiB, MiB, ... are powers of 1024; "
	"KB, MB, GB, ... powers of 1000; B is bytes)";

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* The unit spelled by `p` (the whole rest of the text), or 0 if none. */
static unsigned __int128 unit_of(const char *p)
{
	static const char prefixes[] = "KMGTPE";
	const char *at;
	unsigned __int128 unit = 1;
	unsigned base = 1024;
	size_t power;

	if (*p == '\0' || strcmp(p, "B") == 0)
		return 1;
	at = strchr(prefixes, upper(*p));
	if (!at)
		return 0;
	power = (size_t)(at - prefixes) + 1;
	p++;
	if (*p == '\0') {
		/* K, M, G: binary */
	} else if (upper(p[0]) == 'I' && upper(p[1]) == 'B' && !p[2]) {
		/* KiB, MiB, GiB: binary */
	} else if (upper(p[0]) == 'B' && !p[1]) {
		base = 1000; /* KB, MB, GB: decimal */
	} else {
		return 0;
	}
	while (power--)
		unit *= base;
	return unit;
}

int units_parse_size(const char *text, uint64_t *out_bytes,
		     const char **out_why)
{
	unsigned __int128 whole = 0, fraction = 0, scale = 1, unit, bytes;
	const char *p = text, *why = NULL;
	int ret = -EINVAL;

	if (!text || !is_digit(*p)) {
		why = "not a size (a number, then an optional unit: 20G, 1.5T, "
		      "500MB)";
		goto out;
	}
	for (; is_digit(*p); p++) {
		whole = whole * 10 + (unsigned)(*p - '0');
		if (whole > UINT64_MAX) {
			why = "too large";
			ret = -ERANGE;
			goto out;
		}
	}
	if (*p == '.') {
		unsigned digits = 0;

		p++;
		if (!is_digit(*p)) {
			why = "a decimal point needs digits after it";
			goto out;
		}
		for (; is_digit(*p); p++) {
			if (digits == UNITS_FRACTION_DIGITS_MAX)
				continue; /* past what a byte count can see */
			fraction = fraction * 10 + (unsigned)(*p - '0');
			scale *= 10;
			digits++;
		}
	}
	unit = unit_of(p);
	if (!unit) {
		why = units_why_unit;
		goto out;
	}
	if (whole > (unsigned __int128)UINT64_MAX / unit) {
		why = "too large";
		ret = -ERANGE;
		goto out;
	}
	if ((fraction * unit) % scale != 0) {
		why = "not a whole number of bytes";
		goto out;
	}
	bytes = whole * unit + fraction * unit / scale;
	if (bytes > UINT64_MAX) {
		why = "too large";
		ret = -ERANGE;
		goto out;
	}
	*out_bytes = (uint64_t)bytes;
	ret = 0;
out:
	if (out_why)
		*out_why = why;
	return ret;
}

int units_parse_disk_size(const char *text, uint64_t *out_bytes,
			  const char **out_why)
{
	uint64_t bytes;
	int ret = units_parse_size(text, &bytes, out_why);

	if (ret)
		return ret;
	if (bytes % UNITS_SECTOR_SIZE != 0) {
		if (out_why)
			*out_why = "not a multiple of 512 bytes (a disk is "
				   "whole sectors)";
		return -EINVAL;
	}
	*out_bytes = bytes;
	return 0;
}

int units_parse_uint(const char *text, uint64_t min, uint64_t max,
		     uint64_t *out_value, const char **out_why)
{
	uint64_t value = 0;
	const char *p = text, *why = NULL;
	int ret = -EINVAL;

	if (!text || !is_digit(*p)) {
		why = "not a whole number";
		goto out;
	}
	for (; is_digit(*p); p++) {
		const unsigned digit = (unsigned)(*p - '0');

		if (value > (UINT64_MAX - digit) / 10) {
			why = "out of range";
			ret = -ERANGE;
			goto out;
		}
		value = value * 10 + digit;
	}
	if (*p) {
		why = "not a whole number";
		goto out;
	}
	if (value < min || value > max) {
		why = "out of range";
		ret = -ERANGE;
		goto out;
	}
	*out_value = value;
	ret = 0;
out:
	if (out_why)
		*out_why = why;
	return ret;
}
