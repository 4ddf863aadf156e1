/*
 * fuzz_names.c -- libFuzzer target: name validation (hangar/names.h).
 *
 * The input, cut at its first NUL, is a name.  Both predicates are checked
 * against a plain reference implementation of the rules in FORMAT.md
 * section 10 and names.c, and against each other: every guest name is also
 * a valid object name.  The name lives in a heap block of exactly its
 * length + 1, so ASan catches a read past the NUL.
 */
#include <stdbool.h>
#include <stdint.h>

#include "hangar/container.h"
#include "fuzz_common.h"
#include "hangar/names.h"

static bool ref_guest(const char *s, size_t len)
{
	if (len == 0 || len > 64 || s[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

static bool ref_object(const char *s, size_t len)
{
	if (len == 0 || len > 255)
		return false;
	if ((len == 1 && s[0] == '.') ||
	    (len == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	return memchr(s, '/', len) == NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	size_t len = strnlen((const char *)data, size);
	char *name = malloc(len + 1);
	if (!name)
		abort();
	memcpy(name, data, len);
	name[len] = '\0';
	bool g = name_guest_valid(name);
	bool o = name_object_valid(name);
	FUZZ_ASSERT(g == ref_guest(name, len), "guest %d for \"%s\"", g, name);
	FUZZ_ASSERT(o == ref_object(name, len), "object %d for \"%s\"", o,
		    name);
	FUZZ_ASSERT(!g || o, "guest name \"%s\" is not an object name", name);
	enum object_role role = object_role_of_name(name);
	FUZZ_ASSERT(role == OBJECT_ROLE_FILE || role == OBJECT_ROLE_DISK ||
			    role == OBJECT_ROLE_IMAGE,
		    "role %d", (int)role);
	if (role == OBJECT_ROLE_IMAGE)
		FUZZ_ASSERT(!strcmp(name, "memory.save"), "image \"%s\"", name);
	if (role == OBJECT_ROLE_DISK)
		FUZZ_ASSERT(len > 4 && !strcmp(name + len - 4, ".raw"),
			    "disk \"%s\"", name);
	FUZZ_ASSERT(!name_guest_valid(NULL) && !name_object_valid(NULL),
		    "NULL accepted");
	free(name);
	return 0;
}
