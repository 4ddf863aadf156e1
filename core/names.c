/*
 * names.c -- which names the store accepts (docs/design.md, invariant 7).
 *
 * What: two pure predicates.  Guest names become host file names
 * (<guest>.hangar in the store directory), so they are held to a small
 * whitelist: 1..64 bytes of [A-Za-z0-9._-], not starting with '.'.  That
 * rules out "", ".", "..", hidden files, '/', NUL, spaces and every non-ASCII
 * byte, which is what keeps every path the mount is asked about inside the
 * store directory.  Object names live only inside a container, so they need
 * only be valid single path components: 1..255 bytes, no '/', not "." or
 * "..".
 *
 * The character test is spelled out rather than using isalnum(): isalnum()
 * depends on the locale and would accept bytes >= 0x80 in some.
 */
#include "hangar/names.h"

#include <string.h>

static bool name_guest_char_valid(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

bool name_guest_valid(const char *name)
{
	size_t i;

	if (name == NULL || name[0] == '\0' || name[0] == '.')
		return false;
	for (i = 0; name[i] != '\0'; i++) {
		if (i >= NAME_GUEST_MAX || !name_guest_char_valid(name[i]))
			return false;
	}
	return true;
}

bool name_object_valid(const char *name)
{
	size_t len;

	if (name == NULL)
		return false;
	len = strnlen(name, NAME_OBJECT_MAX + 1);
	if (len == 0 || len > NAME_OBJECT_MAX)
		return false;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	return memchr(name, '/', len) == NULL;
}
