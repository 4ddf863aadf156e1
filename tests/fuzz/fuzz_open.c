/*
 * fuzz_open.c -- libFuzzer target: hostile bytes opened as a container.
 *
 * The input is a whole container file.  It is opened read-only (every
 * object listed, stat'ed, read in part, seeked; the save state queried),
 * then a copy is opened read-write, which runs recovery at open (orphans
 * deleted, an unsealed image set aside, the file cut back), written,
 * punched, truncated, committed and closed.  Properties checked:
 *   - open gives 0 or a clean error (-EUCLEAN, -EBADMSG, -EPROTONOSUPPORT;
 *     -EROFS for a read-write open of unknown ro_compat features), and the
 *     read-only and read-write opens agree;
 *   - reads give 0 or -EBADMSG/-EUCLEAN/-EIO, never more bytes than asked;
 *   - when check_container finds nothing wrong with the input and every
 *     operation of the read-write session succeeded, the result checks clean
 *     and reopens, with the bytes we wrote.
 * Each input runs twice: as it is, and with every checksum repaired
 * (fuzz_fixup_checksums) so mutations reach the semantic checks.
 * Plus whatever ASan, UBSan and LeakSanitizer find.
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "hangar/check.h"
#include "container_open.h"
#include "fuzz_common.h"
#include "hangar/savelock.h"

#define READ_CAP (64u * 1024)

static uint64_t hash(const uint8_t *data, size_t size)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < size; i += 61)
		h = (h ^ data[i]) * 1099511628211ull;
	return h ^ size;
}

static void read_some(struct container *c, uint64_t id, uint64_t size,
		      uint8_t *buf)
{
	uint64_t offs[3] = {0, size > READ_CAP ? size - READ_CAP : 0, size / 2};
	for (int i = 0; i < 3; i++) {
		size_t got = 0;
		int ret = object_read(c, id, buf, READ_CAP, offs[i], &got);
		FUZZ_ASSERT(ret == 0 || fuzz_clean_io_error(ret),
			    "object_read: %d", ret);
		FUZZ_ASSERT(got <= READ_CAP, "read %zu bytes", got);
	}
	uint64_t pos = 0;
	for (int i = 0; i < 8; i++) {
		uint64_t out;
		int ret = object_seek(c, id, pos, 3 /* SEEK_DATA */, &out);
		if (ret)
			break;
		FUZZ_ASSERT(out >= pos, "SEEK_DATA went back");
		ret = object_seek(c, id, out, 4 /* SEEK_HOLE */, &pos);
		if (ret)
			break;
		FUZZ_ASSERT(pos >= out, "SEEK_HOLE went back");
		if (pos == out)
			break;
	}
}

static void read_all(struct container *c, uint8_t *buf, bool snapshots)
{
	struct object_name *names = NULL;
	size_t n = 0;
	struct save_status ss;
	struct container_info info;

	container_info(c, &info);
	int ret = save_lock_status(c, &ss);
	FUZZ_ASSERT(ret == 0 || fuzz_clean_io_error(ret),
		    "save_lock_status: %d", ret);
	ret = object_list(c, &names, &n);
	FUZZ_ASSERT(ret == 0, "object_list: %d", ret);
	for (size_t i = 0; i < n; i++) {
		struct object_attr a;
		uint64_t id;
		char name[256];
		ret = object_getattr(c, names[i].id, &a);
		FUZZ_ASSERT(ret == 0, "getattr: %d", ret);
		ret = object_lookup(c, names[i].name, &id);
		FUZZ_ASSERT(ret == 0 && id == names[i].id, "lookup: %d", ret);
		ret = object_name_of(c, id, name, sizeof(name));
		FUZZ_ASSERT(ret == 0 && !strcmp(name, names[i].name),
			    "name_of: %d", ret);
		read_some(c, id, a.size, buf);
	}
	free(names);
	/* every snapshot reads like a container of its own */
	struct snapshot_info *snaps = NULL;
	size_t sn = 0;
	if (!snapshots || container_snapshot_list(c, &snaps, &sn))
		return;
	for (size_t i = 0; i < sn; i++) {
		struct container *v;
		ret = container_snapshot_open(c, snaps[i].name, &v);
		FUZZ_ASSERT(ret == 0 || fuzz_clean_io_error(ret),
			    "snapshot open: %d", ret);
		if (ret)
			continue;
		read_all(v, buf, false);
		container_snapshot_close(c, v);
	}
	free(snaps);
}

/* The read-write session; returns true when every step succeeded. */
static bool session(struct container *c, uint64_t h, uint8_t *buf,
		    uint64_t *out_id, uint8_t *pattern)
{
	struct object_name *names = NULL;
	size_t n = 0;
	bool all_ok = true;
	int ret;

	read_all(c, buf, true);
	ret = object_list(c, &names, &n);
	FUZZ_ASSERT(ret == 0, "object_list: %d", ret);
	for (size_t i = 0; i < n && i < 4; i++) {
		uint64_t id = names[i].id;
		struct object_attr a;
		if (object_getattr(c, id, &a))
			continue;
		memset(buf, (int)(h >> (i * 8)), 5000);
		switch ((h >> (i * 3)) & 7) {
		case 0:
			ret = object_write(c, id, buf, 5000, 0);
			break;
		case 1:
			ret = object_write(c, id, buf, 5000, a.size / 2);
			break;
		case 2:
			ret = object_punch(c, id, 0, a.size / 2 + 1);
			break;
		case 3:
			ret = object_truncate(c, id, a.size / 3);
			break;
		case 4:
			ret = object_zero(c, id, 4096, 8192, false);
			break;
		case 5:
			ret = object_truncate(c, id, a.size + 10000);
			break;
		case 6:
			ret = object_unlink(c, names[i].name);
			break;
		default:
			ret = object_rename(c, names[i].name, "renamed", false);
			break;
		}
		/* the save lock may refuse (EBUSY), an earlier rename or
		 * unlink may have taken the name (ENOENT); anything else is a
		 * clean error or success */
		FUZZ_ASSERT(ret == 0 || ret == -EBUSY || ret == -EEXIST ||
				    ret == -ENOENT || ret == -EFBIG ||
				    fuzz_clean_io_error(ret),
			    "operation %d on object %zu: %d",
			    (int)((h >> (i * 3)) & 7), i, ret);
		if (ret && ret != -EBUSY && ret != -EEXIST && ret != -ENOENT)
			all_ok = false;
	}
	free(names);
	switch ((h >> 20) & 3) {
	case 0:
		ret = save_lock_resume(c, NULL, 0);
		break;
	case 1:
		ret = save_lock_discard(c);
		break;
	case 2:
		ret = save_lock_seal(c);
		break;
	default:
		ret = 0;
		break;
	}
	FUZZ_ASSERT(ret == 0 || ret == -ENOENT || ret == -ESTALE ||
			    ret == -EBUSY || fuzz_clean_io_error(ret),
		    "save lock call: %d", ret);
	if (ret && ret != -ENOENT && ret != -ESTALE && ret != -EBUSY)
		all_ok = false;

	/* a snapshot operation */
	struct snapshot_info *snaps = NULL;
	size_t sn = 0;
	ret = container_snapshot_list(c, &snaps, &sn);
	FUZZ_ASSERT(ret == 0, "snapshot list: %d", ret);
	switch ((h >> 24) & 3) {
	case 0:
		ret = container_snapshot_create(c, "fz");
		break;
	case 1:
		ret = sn ? container_snapshot_delete(c, snaps[0].name) : 0;
		break;
	case 2:
		ret = sn ? container_snapshot_rollback(c, snaps[sn - 1].name)
			 : 0;
		break;
	default:
		ret = 0;
		break;
	}
	free(snaps);
	/* -EOVERFLOW: object ids used up (a snapshot takes one) */
	FUZZ_ASSERT(ret == 0 || ret == -EEXIST || ret == -EMLINK ||
			    ret == -EBUSY || ret == -EOVERFLOW ||
			    fuzz_clean_io_error(ret),
		    "snapshot operation: %d", ret);
	if (ret && ret != -EEXIST && ret != -EMLINK && ret != -EBUSY &&
	    ret != -EOVERFLOW)
		all_ok = false;

	/* a new file with known contents */
	ret = object_lookup(c, "fuzz.new", out_id);
	if (ret == -ENOENT)
		ret = object_create(c, "fuzz.new", S_IFREG | 0600, 0, 0,
				    out_id);
	/* -EOVERFLOW: the container's object ids are used up (a superblock
	 * whose next_object_id is UINT64_MAX; ids are never reused) */
	FUZZ_ASSERT(ret == 0 || ret == -EEXIST || ret == -EOVERFLOW ||
			    fuzz_clean_io_error(ret),
		    "create: %d", ret);
	if (ret)
		return false;
	for (int i = 0; i < 3000; i++)
		pattern[i] = (uint8_t)(h >> (i % 56)) + (uint8_t)i;
	ret = object_write(c, *out_id, pattern, 3000, 100);
	FUZZ_ASSERT(ret == 0 || fuzz_clean_io_error(ret), "write: %d", ret);
	if (ret)
		return false;
	ret = container_commit(c);
	FUZZ_ASSERT(ret == 0 || fuzz_clean_io_error(ret), "commit: %d", ret);
	return all_ok && ret == 0;
}

static void one_input(const uint8_t *data, size_t size)
{
	if (fuzz_known_bug(data, size))
		return;
	struct memio *m = fuzz_memio(data, size);
	struct container_options ro = {.read_only = true};
	struct container *c = NULL;
	struct check_report r;
	uint8_t *buf = malloc(READ_CAP);
	uint8_t pattern[3000];
	if (!buf)
		abort();

	int ro_ret = container_open(&m->io, &ro, &c);
	FUZZ_ASSERT(ro_ret == 0 || fuzz_clean_open_error(ro_ret),
		    "read-only open: %d", ro_ret);
	if (ro_ret == 0) {
		read_all(c, buf, true);
		container_close(c);
	}
	int ret = check_container(&m->io, &r);
	FUZZ_ASSERT(ret == 0, "check_container: %d", ret);
	FUZZ_ASSERT(ro_ret == 0 || r.errors > 0,
		    "open failed (%d), check found nothing", ro_ret);
	bool input_clean = ro_ret == 0 && r.errors == 0;

	c = NULL;
	int rw_ret = container_open(&m->io, NULL, &c);
	FUZZ_ASSERT(rw_ret == 0 || rw_ret == -EROFS ||
			    fuzz_clean_open_error(rw_ret),
		    "read-write open: %d", rw_ret);
	/* -EROFS (unknown ro_compat) may come before any other check */
	FUZZ_ASSERT(rw_ret == -EROFS || (rw_ret == 0) == (ro_ret == 0),
		    "read-only open %d, read-write open %d", ro_ret, rw_ret);
	if (rw_ret == 0) {
		uint64_t h = hash(data, size), id = 0;
		bool ok = session(c, h, buf, &id, pattern);
		ret = container_close(c);
		FUZZ_ASSERT(ret == 0 || fuzz_clean_io_error(ret), "close: %d",
			    ret);
		if (input_clean && ok && ret == 0) {
			ret = check_container(&m->io, &r);
			FUZZ_ASSERT(ret == 0 && r.errors == 0,
				    "after a clean session check says: %s",
				    r.message_count ? r.messages[0] : "?");
			c = NULL;
			ret = container_open(&m->io, &ro, &c);
			FUZZ_ASSERT(ret == 0, "reopen: %d", ret);
			size_t got = 0;
			ret = object_read(c, id, buf, sizeof(pattern), 100,
					  &got);
			FUZZ_ASSERT(ret == 0 && got == sizeof(pattern) &&
					    !memcmp(buf, pattern, got),
				    "written bytes lost (%d)", ret);
			container_close(c);
		}
	}
	free(buf);
	memio_free(m);
}

/* The input as it is, then with every checksum repaired. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_input_and_fixed(data, size, one_input);
	return 0;
}
