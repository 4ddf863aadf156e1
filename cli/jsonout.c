/*
 * jsonout.c -- every --json output, built as a json-c tree and printed by
 * json-c, so it is valid JSON whatever the data holds.
 *
 * JSON text must be UTF-8, but names on a store are bytes (object names
 * may hold anything but '/' and NUL).  A string that is not valid UTF-8 is
 * written with each byte that does not decode as the four characters \xNN
 * (lowercase hex); valid sequences, control characters included, are kept
 * (json-c escapes controls as \u00NN).  For a name that is lossy, so the
 * name's object then also gets "<key>_hex": its exact bytes in lowercase
 * hex (cli_json_add_name).  A valid UTF-8 name never has a _hex key, so
 * scripts use "name" unless "name_hex" is present.
 *
 * Ownership: every cli_json_* constructor returns a new reference (NULL on
 * allocation failure, which json-c's adders turn into null); the object
 * it is added to takes it over.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "cli.h"

/* Length of the valid UTF-8 sequence at s (strict: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0 if the bytes there are not
 * one.  `s` is NUL-terminated, so a truncated sequence stops at the NUL. */
size_t utf8_sequence_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t len;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

static bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = utf8_sequence_len(p);

		if (!n)
			return false;
		p += n;
	}
	return true;
}

struct json_object *cli_json_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	struct json_object *obj;
	char *buf, *out;

	if (!s)
		return NULL;
	if (utf8_valid(s))
		return json_object_new_string(s);
	buf = malloc(strlen(s) * 4 + 1);
	if (!buf)
		return NULL;
	out = buf;
	while (*p) {
		size_t n = utf8_sequence_len(p);

		if (n) {
			memcpy(out, p, n);
			out += n;
			p += n;
		} else {
			out += sprintf(out, "\\x%02x", *p);
			p++;
		}
	}
	*out = '\0';
	obj = json_object_new_string(buf);
	free(buf);
	return obj;
}

void cli_json_add_name(struct json_object *obj, const char *key,
		       const char *name)
{
	char hex_key[64];
	char *hex;
	size_t len;

	json_object_object_add(obj, key, cli_json_text(name));
	if (utf8_valid(name))
		return;
	len = strlen(name);
	hex = malloc(len * 2 + 1);
	if (!hex)
		return;
	for (size_t i = 0; i < len; i++)
		sprintf(hex + 2 * i, "%02x", (unsigned char)name[i]);
	hex[2 * len] = '\0';
	snprintf(hex_key, sizeof(hex_key), "%s_hex", key);
	json_object_object_add(obj, hex_key, json_object_new_string(hex));
	free(hex);
}

struct json_object *cli_json_time(struct timespec ts)
{
	struct tm tm;
	time_t t = ts.tv_sec;
	char buf[FORMAT_TIME_LEN];

	if ((ts.tv_sec == 0 && ts.tv_nsec == 0) || !gmtime_r(&t, &tm) ||
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return NULL;
	return json_object_new_string(buf);
}

struct json_object *cli_json_u64(uint64_t value)
{
	return json_object_new_uint64(value);
}

int cli_json_print(struct json_object *root)
{
	const char *text;
	int rc = 0;

	if (!root) {
		cli_error("out of memory");
		return -ENOMEM;
	}
	/* Spaced, one line, '/' not escaped: paths stay greppable. */
	text = json_object_to_json_string_ext(
		root, JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text) {
		cli_error("out of memory");
		rc = -ENOMEM;
	} else if (printf("%s\n", text) < 0) {
		rc = -EIO;
	}
	json_object_put(root);
	return rc;
}
