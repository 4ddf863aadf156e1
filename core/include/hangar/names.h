/*
 * names.h -- what names the store accepts (docs/design.md, invariant 7).
 *
 * Guest names: 1..64 bytes of [A-Za-z0-9._-], no leading dot.  They become
 * file names in the store directory (<guest>.hangar), so these rules are what
 * keeps every path the mount is asked about inside the store.
 * Object names: 1..255 bytes, any byte but '/' and NUL, not "." or "..".
 * (Object names never touch the host filesystem; they live inside the
 * container.)
 *
 * Ownership and locking: pure functions of their arguments; nothing is kept,
 * nothing allocated, no lock taken -- callable from any thread.
 */
#ifndef HANGAR_NAMES_H
#define HANGAR_NAMES_H

#include <stdbool.h>

/* The longest names, in bytes (what statfs's f_namemax can say: the
 * mount's root holds guests, a guest directory objects). */
#define NAME_GUEST_MAX	64
#define NAME_OBJECT_MAX 255

/* A guest holding an object of this name is incomplete: an import (or any
 * tool that brings files in) created it first, committed, and removes it
 * last, so a guest whose import was interrupted -- even by SIGKILL or a
 * power cut -- never looks complete.  A dot file: never pinned, hidden
 * from plain `ls`; `hangar ls`/`status` and user.hangar.state say
 * "incomplete". */
#define GUEST_INCOMPLETE_MARKER ".hangar-incomplete"

/* name_guest_valid - true if `name` is an acceptable guest name. */
bool name_guest_valid(const char *name);

/* name_object_valid - true if `name` is an acceptable object name. */
bool name_object_valid(const char *name);

#endif /* HANGAR_NAMES_H */
