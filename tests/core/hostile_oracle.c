/*
 * hostile_oracle.c -- the container every test_hostile case starts from,
 * and the oracle: the contents of every object at every committed generation.
 */
#include "hostile.h"

struct snap snaps[MAX_SNAPS];
size_t snap_num;

static void snapshot(struct container *c)
{
	struct container_info info;
	struct object_name *names;
	size_t n;

	container_info(c, &info);
	CHECK(snap_num < MAX_SNAPS);
	struct snap *s = &snaps[snap_num++];
	s->generation = info.generation;
	CHECK_OK(object_list(c, &names, &n));
	CHECK(n <= MAX_OBJS);
	s->num = n;
	for (size_t i = 0; i < n; i++) {
		struct object_attr a;
		size_t got;
		CHECK_OK(object_getattr(c, names[i].id, &a));
		snprintf(s->obj[i].name, sizeof(s->obj[i].name), "%s",
			 names[i].name);
		s->obj[i].size = a.size;
		s->obj[i].data = malloc(a.size ? a.size : 1);
		CHECK(s->obj[i].data);
		CHECK_OK(object_read(c, names[i].id, s->obj[i].data, a.size, 0,
				     &got));
		CHECK_EQ(got, a.size);
	}
	free(names);
}

/* The contents at `generation`: a commit that only retires the older
 * slot's tree (core makes one right after a commit that freed raw data)
 * changes no contents, so a generation without a snapshot of its own holds
 * what the next snapshot holds.  Past the last snapshot: a read-write open
 * of the finished container starts with a superblock-only commit (it
 * retires the older slot, container.c container_recover), so the
 * generation right after the last snapshot holds its contents too. */
const struct snap *snap_of(uint64_t generation)
{
	for (size_t i = 0; i < snap_num; i++)
		if (snaps[i].generation >= generation)
			return &snaps[i];
	if (snap_num && generation == snaps[snap_num - 1].generation + 1)
		return &snaps[snap_num - 1];
	return NULL;
}

const struct snap_obj *snap_find(const struct snap *s, const char *name)
{
	for (size_t i = 0; s && i < s->num; i++)
		if (strcmp(s->obj[i].name, name) == 0)
			return &s->obj[i];
	return NULL;
}

/* ---- building the container --------------------------------------------- */

void fill_random(uint8_t *p, size_t len, uint64_t *rng)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = test_rand(rng);
		memcpy(p + i, &v, len - i < 8 ? len - i : 8);
	}
}

static void fill_text(uint8_t *p, size_t len, unsigned salt)
{
	static const char words[] = "the quick brown fox jumps over the lazy "
				    "dog; hangar keeps every guest in one "
				    "file.\n";
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(words[(i + salt) % (sizeof(words) - 1)] ^
				 ((i / 512) & 1 ? 0x20 : 0));
}

static uint64_t create_obj(struct container *c, const char *name)
{
	uint64_t id;
	CHECK_OK(object_create(c, name, S_IFREG | 0600, 0, 0, &id));
	return id;
}

struct crypto_key *hostile_key;
unsigned hostile_cluster_shift = CSHIFT;

/* The container every case starts from.  Generations: create (1), first
 * contents (2), sealed image (3), last changes (4), the retire of 3 (5,
 * superblock only): slots hold 5 and 4, one tree. */
struct memio *build_container(uint64_t seed)
{
	struct memio *m = memio_new();
	struct container *c = NULL;
	struct container_options opts = {TEST_MAP_CACHE,
					 .cluster_shift = hostile_cluster_shift,
					 .master = hostile_key};
	uint64_t rng = seed | 1;
	uint8_t *buf = malloc(64 * CS);
	CHECK(buf);

	CHECK_OK(container_create(&m->io, &opts, &c));
	uint64_t disk = create_obj(c, "disk.raw");
	uint64_t data = create_obj(c, "data.raw");
	uint64_t cfg = create_obj(c, "config");
	/* dot files: a seal pins every other file but config, and the last
	 * transaction below must change files without invalidating it */
	uint64_t nv = create_obj(c, ".nvram.fd");
	uint64_t scratch = create_obj(c, ".scratch");

	/* disk.raw: clusters 0..29, 127..131 (second leaf) and 400: height 2 */
	fill_random(buf, 30 * CS, &rng);
	CHECK_OK(object_write(c, disk, buf, 30 * CS, 0));
	fill_random(buf, 5 * CS, &rng);
	CHECK_OK(object_write(c, disk, buf, 5 * CS, 127 * (uint64_t)CS));
	fill_random(buf, CS, &rng);
	CHECK_OK(object_write(c, disk, buf, CS, 400 * (uint64_t)CS));
	if (hostile_cluster_shift > CSHIFT) {
		/* larger clusters: one more write far out keeps disk.raw's
		 * tree two levels high (126 entries per 4 KiB node) */
		fill_random(buf, CS, &rng);
		CHECK_OK(object_write(c, disk, buf, CS,
				      (uint64_t)300 << hostile_cluster_shift));
	}
	fill_random(buf, 3 * CS + 100, &rng);
	CHECK_OK(object_write(c, data, buf, 3 * CS + 100, 0));
	CHECK_OK(object_write(c, cfg, "memory=512\nvcpus=2\n", 19, 0));
	fill_random(buf, 2 * CS, &rng);
	CHECK_OK(object_write(c, nv, buf, 2 * CS, 0));
	fill_random(buf, 6 * CS, &rng);
	CHECK_OK(object_write(c, scratch, buf, 6 * CS, 0));
	CHECK_OK(container_commit(c));
	snapshot(c);

	/* memory.save: text (compresses), zeros (holes), random (stays raw) */
	uint64_t img = create_obj(c, SAVE_IMAGE_NAME);
	fill_text(buf, 12 * CS, 3);
	memset(buf + 12 * CS, 0, 4 * CS);
	fill_random(buf + 16 * CS, 2 * CS, &rng);
	fill_text(buf + 18 * CS, 6 * CS, 11);
	CHECK_OK(object_write(c, img, buf, 24 * CS, 0));
	CHECK_OK(save_lock_seal(c));
	snapshot(c);

	/* last transaction: in-place rewrite, new allocation, a free */
	CHECK_OK(object_write(c, cfg, "memory=1024\nvcpus=4\n", 20, 0));
	fill_random(buf, CS, &rng);
	CHECK_OK(object_write(c, nv, buf, CS, 3 * (uint64_t)CS));
	CHECK_OK(object_truncate(c, scratch, 2 * CS));
	CHECK_OK(container_commit(c));
	/* the truncate freed raw data, held while the older slot maps it:
	 * the next (idle) commit retires that slot, superblock only */
	CHECK_OK(container_commit(c));
	snapshot(c);
	CHECK_OK(container_close(c));
	(void)data;
	free(buf);
	return m;
}

void oracle_free(void)
{
	for (size_t i = 0; i < snap_num; i++)
		for (size_t k = 0; k < snaps[i].num; k++)
			free(snaps[i].obj[k].data);
	memset(snaps, 0, sizeof(snaps));
	snap_num = 0;
}
