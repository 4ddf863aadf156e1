/*
 * fuzz_check.c -- libFuzzer target: check_container on hostile bytes.
 *
 * check_container must return 0 (the check ran) for any input, its report
 * must be well formed, and it must agree with container_open: a container
 * that does not open has errors, and one that checks clean opens.  The
 * listing's peek (container_peek_dir) fails only cleanly and agrees with
 * an open that succeeds.  Each input runs as it is and with every
 * checksum repaired.
 */
#include <stdint.h>

#include "hangar/check.h"
#include "container_open.h"
#include "fuzz_common.h"

static void one_input(const uint8_t *data, size_t size)
{
	if (fuzz_known_bug(data, size))
		return;
	struct memio *m = fuzz_memio(data, size);
	struct check_report r;
	struct container_options ro = {.read_only = true};
	struct container *c = NULL;

	int ret = check_container(&m->io, &r);
	FUZZ_ASSERT(ret == 0, "check_container: %d", ret);
	FUZZ_ASSERT(r.message_count <= CHECK_MAX_MESSAGES &&
			    r.message_count <= r.errors,
		    "%zu messages, %llu errors", r.message_count,
		    (unsigned long long)r.errors);
	for (size_t i = 0; i < r.message_count; i++)
		FUZZ_ASSERT(memchr(r.messages[i], 0, sizeof(r.messages[i])),
			    "message %zu not terminated", i);
	struct object_attr dir_peek, dir_open;
	int pret = container_peek_dir(&m->io, &ro, &dir_peek);
	FUZZ_ASSERT(pret == 0 || pret == -ENODATA ||
			    fuzz_clean_open_error(pret),
		    "peek: %d", pret);
	int oret = container_open(&m->io, &ro, &c);
	FUZZ_ASSERT(oret == 0 || fuzz_clean_open_error(oret), "open: %d", oret);
	FUZZ_ASSERT(oret == 0 || r.errors > 0,
		    "open failed (%d), check found nothing", oret);
	if (oret == 0) {
		struct container_info info;
		container_info(c, &info);
		FUZZ_ASSERT(info.generation == r.generation,
			    "check chose generation %llu, open %llu",
			    (unsigned long long)r.generation,
			    (unsigned long long)info.generation);
		int dret = container_dir_getattr(c, &dir_open);
		FUZZ_ASSERT(pret == dret && (dret != 0 ||
					     (dir_peek.mode == dir_open.mode &&
					      dir_peek.uid == dir_open.uid &&
					      dir_peek.gid == dir_open.gid)),
			    "peek %d, open's directory attributes %d", pret,
			    dret);
		container_close(c);
	}
	memio_free(m);
}

/* The input as it is, then with every checksum repaired. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_input_and_fixed(data, size, one_input);
	return 0;
}
