/*
 * guest_state.h -- a snapshot of what one guest's container holds, for the
 * fault-injection tests (test_faults.c: I/O errors; test_oom.c: allocation
 * failures) that compare a container after a failed operation with the
 * states before and after it.
 *
 * A snapshot is every object's name, size and bytes (at most
 * GUEST_STATE_MAX objects, in object_list order) and the save-lock state.
 * The image that recovery sets aside (SAVE_IMAGE_INCOMPLETE_NAME) is not
 * part of it: an interrupted save leaves one, a completed one does not, and
 * both must compare as "before".
 *
 * Ownership: guest_state_read() fills a caller's struct and mallocs the
 * data; guest_state_free() frees it and zeroes the struct.  No locks: one
 * thread.  Header-only like harness.h (static functions), so each test stays
 * one translation unit; include it after harness.h.
 */
#ifndef HANGAR_TESTS_GUEST_STATE_H
#define HANGAR_TESTS_GUEST_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hangar/container.h"
#include "container_open.h"
#include "harness.h"
#include "hangar/savelock.h"

#define GUEST_STATE_MAX 8

struct guest_state {
	char names[GUEST_STATE_MAX][256];
	uint8_t *data[GUEST_STATE_MAX];
	uint64_t size[GUEST_STATE_MAX];
	int num;
	enum save_state save;
};

static inline void guest_state_free(struct guest_state *s)
{
	for (int i = 0; i < s->num; i++)
		free(s->data[i]);
	memset(s, 0, sizeof(*s));
}

/* guest_state_read - snapshot `c` into `s`; 0 or the first error of the
 * object or save-lock calls (what was read so far stays in `s`, to free). */
static inline int guest_state_read(struct container *c, struct guest_state *s)
{
	struct object_name *names = NULL;
	struct save_status st;
	size_t num = 0;
	int ret;

	memset(s, 0, sizeof(*s));
	ret = object_list(c, &names, &num);
	if (ret)
		return ret;
	for (size_t i = 0; i < num && s->num < GUEST_STATE_MAX; i++) {
		struct object_attr at;
		size_t got = 0;
		int k = s->num;

		if (strcmp(names[i].name, SAVE_IMAGE_INCOMPLETE_NAME) == 0)
			continue;
		ret = object_getattr(c, names[i].id, &at);
		if (ret)
			break;
		snprintf(s->names[k], sizeof(s->names[k]), "%s", names[i].name);
		s->size[k] = at.size;
		s->data[k] = malloc(at.size ? at.size : 1);
		CHECK(s->data[k] != NULL);
		ret = object_read(c, names[i].id, s->data[k], at.size, 0, &got);
		s->num++;
		if (ret)
			break;
	}
	free(names);
	if (!ret)
		ret = save_lock_status(c, &st);
	s->save = ret ? SAVE_STATE_NONE : st.state;
	return ret;
}

static inline bool guest_state_equal(const struct guest_state *a,
				     const struct guest_state *b)
{
	if (a->num != b->num || a->save != b->save)
		return false;
	for (int i = 0; i < a->num; i++)
		if (strcmp(a->names[i], b->names[i]) != 0 ||
		    a->size[i] != b->size[i] ||
		    memcmp(a->data[i], b->data[i], a->size[i]) != 0)
			return false;
	return true;
}

/* guest_state_between - `now` holds the objects of `a` and `b`, each of the
 * size it has in one of them and every byte its value in `a` or in `b` (0
 * past an object's end): a failed data operation may have reached part of
 * its range, as a failed write on a disk may. */
static inline bool guest_state_between(const struct guest_state *now,
				       const struct guest_state *a,
				       const struct guest_state *b)
{
	if (now->num != a->num || a->num != b->num || now->save != a->save)
		return false;
	for (int i = 0; i < now->num; i++) {
		if (strcmp(now->names[i], a->names[i]) != 0 ||
		    (now->size[i] != a->size[i] && now->size[i] != b->size[i]))
			return false;
		for (uint64_t k = 0; k < now->size[i]; k++) {
			uint8_t x = now->data[i][k];
			uint8_t va = k < a->size[i] ? a->data[i][k] : 0;
			uint8_t vb = k < b->size[i] ? b->data[i][k] : 0;

			if (x != va && x != vb)
				return false;
		}
	}
	return true;
}

/* guest_object_id - the id of object `name`; exits the test if absent. */
static inline uint64_t guest_object_id(struct container *c, const char *name)
{
	uint64_t id = 0;

	CHECK_OK(object_lookup(c, name, &id));
	return id;
}

#endif /* HANGAR_TESTS_GUEST_STATE_H */
