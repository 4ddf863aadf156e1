/*
 * hostile_probe.c -- the contract test_hostile checks on one damaged image
 * (probe), and the byte-by-byte damage the sweeps are made of.
 */
#include "hostile.h"

struct stats hostile_stats;

const char *known_bug;
uint64_t known_bug_hits;
bool strict;
uint64_t newest_generation;
char case_name[200];

void set_case(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(case_name, sizeof(case_name), fmt, ap);
	va_end(ap);
}

static bool clean_open_error(int ret)
{
	return ret == -EUCLEAN || ret == -EBADMSG || ret == -EPROTONOSUPPORT;
}

static bool clean_read_error(int ret)
{
	return ret == -EBADMSG || ret == -EUCLEAN || ret == -EIO;
}

/* Read every object of an open container; returns the number of clean read
 * errors.  VERIFY_ORACLE compares with the oracle of the opened generation. */
static uint64_t verify_contents(struct container *c, enum verify_mode mode)
{
	struct container_info info;
	struct object_name *names = NULL;
	size_t n = 0;
	uint64_t errors = 0;
	int ret;

	container_info(c, &info);
	const struct snap *s = snap_of(info.generation);
	const struct snap *newer = snap_of(info.generation + 1);
	if (mode == VERIFY_ORACLE && !s)
		FAIL("opened generation %" PRIu64 " that was never committed",
		     info.generation);
	if (mode == VERIFY_ORACLE && info.generation != newest_generation)
		hostile_stats.fallback_opens++;
	ret = object_list(c, &names, &n);
	if (ret)
		FAIL("object_list: %d", ret);
	if (mode == VERIFY_ORACLE && n != s->num)
		FAIL("%zu objects, oracle has %zu", n, s->num);
	struct save_status ss;
	ret = save_lock_status(c, &ss);
	if (ret && !clean_read_error(ret))
		FAIL("save_lock_status: %d", ret);
	uint8_t *buf = malloc(16 * CS);
	CHECK(buf);
	for (size_t i = 0; i < n; i++) {
		struct object_attr a;
		const struct snap_obj *so = snap_find(s, names[i].name);
		const struct snap_obj *sn = snap_find(newer, names[i].name);
		ret = object_getattr(c, names[i].id, &a);
		if (ret)
			FAIL("getattr %s: %d", names[i].name, ret);
		if (mode == VERIFY_ORACLE && (!so || so->size != a.size))
			FAIL("%s: size %" PRIu64 " not the oracle's",
			     names[i].name, a.size);
		uint64_t size = a.size;
		if (mode == VERIFY_LIGHT && size > 64 * (uint64_t)CS)
			size = 64 * (uint64_t)CS; /* absurd sizes: a sample */
		for (uint64_t off = 0; off < size; off += 16 * CS) {
			size_t want =
				size - off < 16 * CS ? size - off : 16 * CS;
			size_t got = 0;
			ret = object_read(c, names[i].id, buf, want, off, &got);
			if (ret) {
				if (!clean_read_error(ret))
					FAIL("read %s at %" PRIu64 ": %d",
					     names[i].name, off, ret);
				errors++;
				continue;
			}
			if (got != want)
				FAIL("read %s at %" PRIu64 ": short %zu",
				     names[i].name, off, got);
			if (mode != VERIFY_ORACLE)
				continue;
			for (size_t k = 0; k < want; k += CS) {
				size_t len = want - k < CS ? want - k : CS;
				uint64_t at = off + k;
				if (!memcmp(buf + k, so->data + at, len))
					continue;
				/* The older slot: a cluster may show the
				 * newer generation's bytes (zero-extended). */
				bool ok = false;
				if (sn) {
					ok = true;
					for (size_t b = 0; b < len; b++) {
						uint8_t v =
							at + b < sn->size
								? sn->data[at +
									   b]
								: 0;
						if (buf[k + b] != v) {
							ok = false;
							break;
						}
					}
				}
				if (!ok)
					FAIL("WRONG DATA: %s generation "
					     "%" PRIu64 " bytes %" PRIu64
					     "..%" PRIu64
					     " differ from the oracle",
					     names[i].name, info.generation, at,
					     at + len);
				hostile_stats.newer_clusters++;
			}
		}
	}
	free(buf);
	free(names);
	return errors;
}

void check_must_be_clean(struct memio *m, const char *when)
{
	struct check_report r;
	int ret = check_container_key(&m->io, hostile_key, &r);
	hostile_stats.check_runs++;
	if (ret)
		FAIL("%s: check_container returned %d", when, ret);
	if (r.errors)
		FAIL("%s: check reports %" PRIu64 " errors: %s", when, r.errors,
		     r.message_count ? r.messages[0] : "");
	if (r.leaked_clusters)
		FAIL("%s: check reports %" PRIu64 " leaked clusters", when,
		     r.leaked_clusters);
}

/* Open a copy read-write, write, commit, close, check, reopen. */
static void rw_cycle(const struct memio *m, int ro_ret)
{
	struct memio *w = memio_clone(m);
	struct container *c = NULL;
	int ret = container_open(&w->io,
				 &(struct container_options){
					 TEST_MAP_CACHE, .master = hostile_key},
				 &c);
	if (ret) {
		/* -EROFS: an unknown ro_compat feature; anything else must be
		 * what the read-only open said too */
		if (ret != -EROFS && !clean_open_error(ret))
			FAIL("read-write open: %d", ret);
		if (ro_ret == 0 && ret != -EROFS)
			FAIL("read-only open worked, read-write gave %d", ret);
		memio_free(w);
		return;
	}
	uint64_t id;
	static const char msg[] = "written after a hostile open\n";
	ret = object_lookup(c, "config", &id);
	if (ret == -ENOENT)
		ret = object_create(c, "config", S_IFREG | 0600, 0, 0, &id);
	if (ret)
		FAIL("config: %d", ret);
	ret = object_write(c, id, msg, sizeof(msg), 0);
	if (ret && !clean_read_error(ret))
		FAIL("write: %d", ret);
	bool wrote = ret == 0;
	ret = container_close(c);
	if (ret)
		FAIL("close after write: %d", ret);
	check_must_be_clean(w, "after a read-write cycle");
	c = NULL;
	ret = container_open(&w->io,
			     &(struct container_options){TEST_MAP_CACHE,
							 .read_only = true,
							 .master = hostile_key},
			     &c);
	if (ret)
		FAIL("reopen after a read-write cycle: %d", ret);
	if (wrote) {
		char back[sizeof(msg)];
		size_t got;
		CHECK_OK(object_lookup(c, "config", &id));
		CHECK_OK(object_read(c, id, back, sizeof(back), 0, &got));
		if (got != sizeof(msg) || memcmp(back, msg, sizeof(msg)))
			FAIL("the write after a hostile open was lost");
	}
	container_close(c);
	memio_free(w);
	hostile_stats.rw_cycles++;
}

/* probe - the whole contract for one image.  Returns the read-only open's
 * result. */
int probe(struct memio *m, enum expect expect, enum verify_mode mode, bool rw)
{
	struct container_options ro = {TEST_MAP_CACHE, .read_only = true,
				       .master = hostile_key};
	struct container *c = NULL;
	struct check_report r;
	struct object_attr dir_open, dir_peek;
	int dir_ret = 0;
	uint64_t read_errors = 0;

	hostile_stats.cases++;
	/* The listing's peek (superblocks and table only) never crashes and
	 * fails only cleanly; it agrees with an open that succeeds (below). */
	int peek_ret = container_peek_dir(&m->io, &ro, &dir_peek);
	if (peek_ret && peek_ret != -ENODATA && !clean_open_error(peek_ret))
		FAIL("peek returned %d (%s)", peek_ret, strerror(-peek_ret));
	int ret = container_open(&m->io, &ro, &c);
	if (ret) {
		if (!clean_open_error(ret))
			FAIL("open returned %d (%s)", ret, strerror(-ret));
		if (expect == EXPECT_OPEN)
			FAIL("open failed (%d), expected to open", ret);
		hostile_stats.open_errors++;
	} else {
		if (expect == EXPECT_FAIL && known_bug && !strict) {
			struct container_info info;
			container_info(c, &info);
			fprintf(stderr,
				"test_hostile: KNOWN BUG %s: case [%s] opened "
				"(generation %" PRIu64 "), expected a clean "
				"error\n",
				known_bug, case_name, info.generation);
			known_bug_hits++;
			mode = VERIFY_LIGHT;
		} else if (expect == EXPECT_FAIL) {
			FAIL("open succeeded, expected a clean error");
		}
		read_errors = verify_contents(c, mode);
		hostile_stats.read_errors += read_errors;
		if (mode == VERIFY_ORACLE)
			hostile_stats.opens_verified++;
		dir_ret = container_dir_getattr(c, &dir_open);
		container_close(c);
		if (peek_ret != dir_ret ||
		    (dir_ret == 0 && (dir_peek.mode != dir_open.mode ||
				      dir_peek.uid != dir_open.uid ||
				      dir_peek.gid != dir_open.gid)))
			FAIL("peek %d disagrees with the open's directory "
			     "attributes %d",
			     peek_ret, dir_ret);
	}
	int cret = check_container_key(&m->io, hostile_key, &r);
	hostile_stats.check_runs++;
	if (cret)
		FAIL("check_container returned %d", cret);
	if (ret && r.errors == 0)
		FAIL("open failed (%d) but check reports no error", ret);
	if (!ret && !read_errors && mode == VERIFY_ORACLE && r.errors)
		FAIL("open and reads clean but check reports: %s",
		     r.messages[0]);
	if (!ret && !read_errors && mode == VERIFY_ORACLE && r.leaked_clusters)
		FAIL("open and reads clean but check reports %" PRIu64
		     " leaked clusters",
		     r.leaked_clusters);
	/* encrypted: a damaged data cluster the cycle does not rewrite stays
	 * damaged (and check rightly says so); cycle only clean images */
	if (rw && !(hostile_key && read_errors))
		rw_cycle(m, ret);
	return ret;
}

void damage_and_probe(struct memio *m, uint64_t off, uint8_t value, bool rw)
{
	uint8_t saved = m->data[off];
	m->data[off] = value;
	probe(m, EXPECT_EITHER, VERIFY_ORACLE, rw);
	m->data[off] = saved;
}

void sweep_range(struct memio *m, const char *what, uint64_t start,
		 uint64_t len, unsigned rw_every)
{
	for (uint64_t i = 0; i < len; i++) {
		uint64_t off = start + i;
		uint8_t bit = (uint8_t)(1u << ((i * 5 + (i >> 3)) & 7));
		set_case("%s byte %" PRIu64 " ^0x%02x", what, i, bit);
		damage_and_probe(m, off, m->data[off] ^ bit,
				 rw_every && i % rw_every == 0);
		set_case("%s byte %" PRIu64 " =0xff", what, i);
		damage_and_probe(m, off, 0xff, false);
	}
}

void sweep_superblocks_and_table(struct memio *m, const char *label,
				 unsigned stride)
{
	const uint64_t sbs[2] = {FORMAT_SUPERBLOCK_A_OFFSET,
				 FORMAT_SUPERBLOCK_B_OFFSET};
	uint64_t tables[2];
	char what[96];
	for (int k = 0; k < 2; k++)
		tables[k] = le64_get(m->data + sbs[k] + SB_OFF_TABLE_OFFSET);
	for (int k = 0; k < 2; k++) {
		snprintf(what, sizeof(what), "%s superblock %c", label,
			 'A' + k);
		sweep_range(m, what, sbs[k], FORMAT_SECTOR_SIZE, 7);
	}
	for (int k = 0; k < 2; k++) {
		CHECK(tables[k] >= FORMAT_HEADER_AREA &&
		      tables[k] + CS <= m->size);
		if (k == 1 && tables[1] == tables[0])
			break;
		snprintf(what, sizeof(what),
			 "%s table block 0 of slot %c at %" PRIu64, label,
			 'A' + k, tables[k]);
		sweep_range(m, what, tables[k], CS, stride);
	}
}

void sweep_random_bytes(struct memio *m, const char *label, long count,
			const uint64_t *starts, size_t num, uint64_t span,
			uint64_t *rng)
{
	for (long i = 0; i < count; i++) {
		uint64_t r = test_rand(rng);
		uint64_t off = starts[(r >> 20) % num] + r % span;
		uint8_t v = (r >> 40) & 1 ? (uint8_t)(m->data[off] ^
						      (1u << ((r >> 41) & 7)))
					  : (uint8_t)(r >> 48);
		if (v == m->data[off])
			v ^= 0x80;
		set_case("%s %ld: offset %" PRIu64 " = 0x%02x", label, i, off,
			 v);
		damage_and_probe(m, off, v, i % 97 == 0);
	}
}
