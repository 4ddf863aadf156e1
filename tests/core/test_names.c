/*
 * test_names.c -- accept/reject tables for guest and object names
 * (docs/design.md invariant 7), plus every single byte value in a guest name.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "hangar/names.h"

struct name_case {
	const char *name;
	bool guest;  /* expected name_guest_valid() */
	bool object; /* expected name_object_valid() */
};

static const struct name_case cases[] = {
	{"web01", true, true},
	{"a", true, true},
	{"A-Z_a.z-09", true, true},
	{"web01.example.com", true, true},
	{"x.", true, true},
	{"-leading-dash", true, true},
	{"_", true, true},
	{"a..b", true, true},
	{"", false, false},
	{".", false, false},
	{"..", false, false},
	{"...", false, true},
	{".x", false, true},
	{".hidden", false, true},
	{"a/b", false, false},
	{"/", false, false},
	{"a/", false, false},
	{"/a", false, false},
	{"../etc", false, false},
	{"a b", false, true},
	{"tab\there", false, true},
	{"new\nline", false, true},
	{"caf\xc3\xa9", false, true},
	{"web*", false, true},
	{"a:b", false, true},
	{"back\\slash", false, true},
	{"disk.raw", true, true},
	{"memory.save", true, true},
};

static void check_case(const struct name_case *c)
{
	if (name_guest_valid(c->name) != c->guest) {
		fprintf(stderr, "name_guest_valid(\"%s\") != %d\n", c->name,
			c->guest);
		CHECK(!"guest name verdict");
	}
	if (name_object_valid(c->name) != c->object) {
		fprintf(stderr, "name_object_valid(\"%s\") != %d\n", c->name,
			c->object);
		CHECK(!"object name verdict");
	}
}

int main(void)
{
	char buf[300];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(&cases[i]);

	CHECK(!name_guest_valid(NULL));
	CHECK(!name_object_valid(NULL));

	/* Guest length limit: 64 bytes accepted, 65 rejected. */
	memset(buf, 'g', sizeof(buf));
	buf[64] = '\0';
	CHECK(name_guest_valid(buf));
	buf[64] = 'g';
	buf[65] = '\0';
	CHECK(!name_guest_valid(buf));
	CHECK(name_object_valid(buf));

	/* Object length limit: 255 accepted, 256 rejected. */
	memset(buf, 'o', sizeof(buf));
	buf[255] = '\0';
	CHECK(name_object_valid(buf));
	buf[255] = 'o';
	buf[256] = '\0';
	CHECK(!name_object_valid(buf));

	/* Every byte value as the second byte of a guest name. */
	for (int b = 1; b < 256; b++) {
		const char ch = (char)b;
		const bool want = (ch >= 'a' && ch <= 'z') ||
				  (ch >= 'A' && ch <= 'Z') ||
				  (ch >= '0' && ch <= '9') || ch == '.' ||
				  ch == '_' || ch == '-';
		char name[3] = {'x', ch, '\0'};

		if (name_guest_valid(name) != want) {
			fprintf(stderr, "byte 0x%02x: want %d\n", b, want);
			CHECK(!"guest byte verdict");
		}
		CHECK(name_object_valid(name) == (ch != '/'));
		/* ...and as the first byte: same, except '.' is refused. */
		name[0] = ch;
		name[1] = '\0';
		CHECK(name_guest_valid(name) == (want && ch != '.'));
	}
	fprintf(stderr, "test_names: ok\n");
	return 0;
}
