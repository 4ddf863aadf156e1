/*
 * crash_verify.c -- a container compared with the oracle (crash.h).
 */
#include "crash.h"

/* ---- verification of a live container against a model --------------------
 */

/* The mutations of object `obj` that may show in a crash image. */
static size_t allow_candidates(const struct allow *a, int obj, size_t **out)
{
	size_t n = 0;
	*out = NULL;
	if (!a)
		return 0;
	const struct run *r = a->r;
	*out = xmalloc((r->nmuts - a->from + 1) * sizeof(**out));
	for (size_t i = a->from; i < r->nmuts; i++)
		if (r->muts[i].obj == obj && r->muts[i].log_start < a->win_end)
			(*out)[n++] = i;
	return n;
}

static bool byte_allowed(const struct allow *a, const size_t *cand,
			 size_t ncand, uint64_t b, uint8_t v)
{
	if (!a)
		return false;
	const struct run *r = a->r;
	for (size_t k = ncand; k-- > 0;) {
		const struct mut *u = &r->muts[cand[k]];
		if (a->garbage) {
			/* whole virtual clusters touched are unchecked */
			uint64_t cs = 1ull << r->shift;
			uint64_t lo = u->off & ~(cs - 1);
			uint64_t hi = (u->off + u->len + cs - 1) & ~(cs - 1);
			if (b >= lo && b < hi)
				return true;
			continue;
		}
		if (b >= u->off && b < u->off + u->len &&
		    (u->data ? u->data[b - u->off] : 0) == v) {
			if (a->lenient)
				(*a->lenient)++;
			return true;
		}
	}
	return false;
}

/* At sector granularity: the 512-byte sector [lo, hi) of the object reads
 * `got`; `old` is the expected commit's bytes.  An unsynced sector lands
 * whole or not at all, so `got` must be `old` with some subset of the
 * candidate mutations overlapping it applied, in issue order -- a sector
 * mixing bytes of one write with the old bytes it replaced is wrong data.
 * (Garbage mode and sectors under more than SECTOR_ENUM_MAX mutations fall
 * back to byte_allowed.) */
#define SECTOR_ENUM_MAX 12

static bool sector_allowed(const struct allow *a, const size_t *cand,
			   size_t ncand, uint64_t lo, uint64_t hi,
			   const uint8_t *got, const uint8_t *old)
{
	if (!a)
		return false;
	const struct run *r = a->r;
	const struct mut *over[SECTOR_ENUM_MAX];
	size_t k = 0;
	bool bytewise = a->garbage;
	for (size_t j = 0; j < ncand && !bytewise; j++) {
		const struct mut *u = &r->muts[cand[j]];
		if (u->off >= hi || u->off + u->len <= lo)
			continue;
		if (k == SECTOR_ENUM_MAX)
			bytewise = true;
		else
			over[k++] = u;
	}
	if (bytewise) {
		for (uint64_t b = lo; b < hi; b++)
			if (got[b - lo] != old[b - lo] &&
			    !byte_allowed(a, cand, ncand, b, got[b - lo]))
				return false;
		return true;
	}
	uint8_t sec[SECTOR];
	for (uint32_t mask = 1; mask < (1u << k); mask++) {
		memcpy(sec, old, hi - lo);
		for (size_t j = 0; j < k; j++) {
			if (!((mask >> j) & 1))
				continue;
			const struct mut *u = over[j];
			uint64_t s = u->off > lo ? u->off : lo;
			uint64_t e =
				u->off + u->len < hi ? u->off + u->len : hi;
			if (u->data)
				memcpy(sec + (s - lo), u->data + (s - u->off),
				       e - s);
			else
				memset(sec + (s - lo), 0, e - s);
		}
		if (memcmp(sec, got, hi - lo) == 0) {
			if (a->lenient)
				*a->lenient += hi - lo;
			return true;
		}
	}
	return false;
}

static bool read_all(struct container *c, uint64_t id, uint8_t *buf,
		     size_t size)
{
	size_t got = 0;
	if (object_read(c, id, buf, size, 0, &got) != 0 || got != size)
		return false;
	return true;
}

/* Read object `id` whole and compare it with `data`, strictly. */
static bool reads_bytes(struct container *c, uint64_t id, const uint8_t *data,
			size_t size)
{
	struct object_attr at;
	if (object_getattr(c, id, &at) != 0 || at.size != size)
		return false;
	uint8_t *buf = xmalloc(size);
	bool ok = read_all(c, id, buf, size) &&
		  (size == 0 || memcmp(buf, data, size) == 0);
	free(buf);
	return ok;
}

static bool reads_as(struct container *c, uint64_t id, const struct blob *b)
{
	return reads_bytes(c, id, b->data, b->size);
}

/* The save lock of container `c` against model `e`: the derived state,
 * why, the image it reports, whether memory.save is still unsealed, and
 * -- SAVED or RESUMING (invariant 5) -- the image and every file its seal
 * pins, each at the generation and the contents it was pinned with,
 * strictly (no unsynced leniency): a saved image never coexists with a
 * file that moved on. */
static bool verify_save(struct container *c, const struct model *e, char *why,
			size_t wl)
{
	struct save_status ss;
	int img;
	enum save_why ewhy;
	bool unsealed;
	const enum save_state state = model_state_of(e, &img, &ewhy, &unsealed);
	if (save_lock_status(c, &ss) != 0) {
		snprintf(why, wl, "save_lock_status failed");
		return false;
	}
	if (ss.state != state) {
		snprintf(why, wl,
			 "save state %s (reason %d: %.120s), oracle %s",
			 save_state_name(ss.state), (int)ss.why, ss.reason,
			 save_state_name(state));
		return false;
	}
	if (ss.why != ewhy && state == SAVE_STATE_INVALIDATED) {
		snprintf(why, wl, "invalidated for reason %d, oracle %d",
			 (int)ss.why, (int)ewhy);
		return false;
	}
	if (ss.image_unsealed != unsealed) {
		snprintf(why, wl, "memory.save %sbeing written, oracle %s",
			 ss.image_unsealed ? "" : "not ",
			 unsealed ? "yes" : "no");
		return false;
	}
	if (ss.image_id != (img >= 0 ? e->o[img].cid : 0)) {
		snprintf(why, wl, "status names image %llu, oracle %s",
			 (unsigned long long)ss.image_id,
			 img >= 0 ? e->o[img].name : "none");
		return false;
	}
	const struct mseal *s = img >= 0 ? e->o[img].seal : NULL;
	const size_t total = seal_active(s) ? (size_t)s->npins : 0;
	if (ss.pin_total != total) {
		snprintf(why, wl, "%zu pins, oracle %zu", ss.pin_total, total);
		return false;
	}
	if (!seal_active(s))
		return true;
	/* invariant 5: the image is the sealed image, and every file it
	 * pins is the pinned file at the pinned contents, strictly */
	uint64_t id;
	if (object_lookup(c, SAVE_IMAGE_NAME, &id) != 0 || id != ss.image_id ||
	    !reads_as(c, id, s->image)) {
		snprintf(why, wl,
			 "%s state without its image as sealed (%zu bytes)",
			 save_state_name(state), s->image->size);
		return false;
	}
	for (int p = 0; p < s->npins; p++) {
		const struct mobj *d = &e->o[s->pin[p]];
		/* the status lists the first 64 pins; every one is checked
		 * through the object itself too */
		const struct save_pin_status *q =
			(size_t)p < ss.pin_count ? &ss.pins[p] : NULL;
		if (q && (q->object_id != d->cid ||
			  strcmp(q->name, s->pin_name[p]) != 0 ||
			  q->pinned_generation != s->pin_gen[p])) {
			snprintf(why, wl,
				 "pin %d is %s (id %llu, generation %llu), "
				 "oracle %s (id %llu, generation %llu)",
				 p, q->name, (unsigned long long)q->object_id,
				 (unsigned long long)q->pinned_generation,
				 s->pin_name[p], (unsigned long long)d->cid,
				 (unsigned long long)s->pin_gen[p]);
			return false;
		}
		struct object_attr at;
		char name[256];
		if ((q &&
		     (q->changed || q->current_generation != s->pin_gen[p])) ||
		    object_getattr(c, d->cid, &at) != 0 ||
		    at.generation != s->pin_gen[p] ||
		    object_name_of(c, d->cid, name, sizeof(name)) != 0 ||
		    strcmp(name, s->pin_name[p]) != 0) {
			snprintf(why, wl, "pinned file %s changed",
				 s->pin_name[p]);
			return false;
		}
		if (!reads_as(c, d->cid, s->pin_data[p])) {
			snprintf(why, wl,
				 "saved image coexists with %s whose "
				 "contents moved on since it was pinned",
				 s->pin_name[p]);
			return false;
		}
	}
	int cfg = model_find(e, "config");
	bool cfg_changed =
		cfg >= 0 ? e->o[cfg].gen != s->config_gen || e->o[cfg].dirty
			 : s->config_gen != 0;
	if (ss.config_changed != cfg_changed) {
		snprintf(why, wl, "config %schanged since the seal, oracle %s",
			 ss.config_changed ? "" : "not ",
			 cfg_changed ? "changed" : "not");
		return false;
	}
	return true;
}

/* View `v` of snapshot `name` against its frozen model `sm`: the same
 * objects, each at its generation and with exactly its bytes. */
bool verify_view(struct container *v, const struct model *sm, const char *name,
		 char *why, size_t wl)
{
	struct object_name *names = NULL;
	size_t nn = 0;
	int live = 0;
	bool sok = object_list(v, &names, &nn) == 0;
	for (int i = 0; i < sm->n; i++)
		live += sm->o[i].live;
	if (!sok || nn != (size_t)live) {
		snprintf(why, wl, "snapshot %s: %zu objects, oracle %d", name,
			 nn, live);
		sok = false;
	}
	for (size_t j = 0; sok && j < nn; j++) {
		int i = model_find(sm, names[j].name);
		struct object_attr at;
		sok = false;
		if (i < 0) {
			snprintf(why, wl, "snapshot %s: %s not in oracle", name,
				 names[j].name);
		} else if (object_getattr(v, names[j].id, &at) != 0 ||
			   at.generation != sm->o[i].gen) {
			snprintf(why, wl,
				 "snapshot %s: %s: generation %llu, oracle "
				 "%llu",
				 name, names[j].name,
				 (unsigned long long)at.generation,
				 (unsigned long long)sm->o[i].gen);
		} else {
			sok = reads_bytes(v, names[j].id, sm->o[i].data,
					  sm->o[i].size);
			if (!sok)
				snprintf(why, wl,
					 "snapshot %s: %s does not read back "
					 "as it was when taken (%zu bytes)",
					 name, names[j].name, sm->o[i].size);
		}
	}
	free(names);
	return sok;
}

/* Every snapshot of `c` against `e`'s: the same names in the same order
 * (oldest first), each at the generation that took it, and each read
 * through its view (container_snapshot_open) holding exactly the frozen
 * model's objects, sizes, generations and bytes -- strictly, whatever
 * unsynced writes there were: a snapshot's clusters are never written
 * again while it exists (copy-on-write of shared clusters), so no crash
 * can show anything else in them. */
static bool verify_snapshots(struct container *c, const struct model *e,
			     char *why, size_t wl)
{
	struct snapshot_info *list = NULL;
	size_t num = 0;
	bool ok = false;

	if (container_snapshot_list(c, &list, &num) != 0) {
		snprintf(why, wl, "container_snapshot_list failed");
		return false;
	}
	if (num != (size_t)e->nsnap) {
		snprintf(why, wl, "%zu snapshots (%s%s), oracle %d (%s%s)", num,
			 num ? list[0].name : "", num > 1 ? ", ..." : "",
			 e->nsnap, e->nsnap ? e->snap[0]->name : "",
			 e->nsnap > 1 ? ", ..." : "");
		goto out;
	}
	for (size_t k = 0; k < num; k++) {
		const struct msnap *s = e->snap[k];
		if (strcmp(list[k].name, s->name) != 0 ||
		    list[k].generation != s->m.gen) {
			snprintf(why, wl,
				 "snapshot %zu is %s of generation %llu, "
				 "oracle %s of %llu",
				 k, list[k].name,
				 (unsigned long long)list[k].generation,
				 s->name, (unsigned long long)s->m.gen);
			goto out;
		}
	}
	for (size_t k = 0; k < num; k++) {
		struct container *v = NULL;
		if (container_snapshot_open(c, list[k].name, &v) != 0) {
			snprintf(why, wl, "snapshot %s: open failed",
				 list[k].name);
			goto out;
		}
		bool sok =
			verify_view(v, &e->snap[k]->m, list[k].name, why, wl);
		container_snapshot_close(c, v);
		if (!sok)
			goto out;
	}
	ok = true;
out:
	free(list);
	return ok;
}

/* Compare container `c` with model `e`.  `a` NULL: byte-exact. */
bool verify_live(struct container *c, const struct model *e,
		 const struct allow *a, char *why, size_t wl)
{
	struct object_name *names = NULL;
	size_t num = 0;
	int live = 0;
	bool ok = false;
	uint8_t *buf = NULL;

	if (object_list(c, &names, &num) != 0) {
		snprintf(why, wl, "object_list failed");
		return false;
	}
	for (int i = 0; i < e->n; i++)
		live += e->o[i].live;
	if ((int)num != live) {
		snprintf(why, wl, "%zu objects, oracle has %d", num, live);
		goto out;
	}
	for (size_t k = 0; k < num; k++) {
		int i = model_find(e, names[k].name);
		if (i < 0) {
			snprintf(why, wl, "object %s not in oracle",
				 names[k].name);
			goto out;
		}
		const struct mobj *o = &e->o[i];
		struct object_attr at;
		if (object_getattr(c, names[k].id, &at) != 0) {
			snprintf(why, wl, "getattr %s failed", o->name);
			goto out;
		}
		if (at.generation != o->gen) {
			snprintf(why, wl, "%s: generation %llu, oracle %llu",
				 o->name, (unsigned long long)at.generation,
				 (unsigned long long)o->gen);
			goto out;
		}
		if (at.size != o->size) {
			snprintf(why, wl, "%s: size %llu, oracle %zu", o->name,
				 (unsigned long long)at.size, o->size);
			goto out;
		}
		buf = xrealloc(buf, o->size);
		if (!read_all(c, names[k].id, buf, o->size)) {
			snprintf(why, wl, "%s: read failed", o->name);
			goto out;
		}
		if (o->size && memcmp(buf, o->data, o->size) != 0) {
			size_t *cand;
			size_t ncand = allow_candidates(a, i, &cand);
			for (size_t lo = 0; lo < o->size; lo += SECTOR) {
				size_t hi = lo + SECTOR < o->size ? lo + SECTOR
								  : o->size;
				if (memcmp(buf + lo, o->data + lo, hi - lo) ==
					    0 ||
				    sector_allowed(a, cand, ncand, lo, hi,
						   buf + lo, o->data + lo))
					continue;
				size_t b = lo;
				while (buf[b] == o->data[b])
					b++;
				snprintf(why, wl,
					 "%s: sector at %zu (first difference "
					 "at byte %zu: 0x%02x, oracle 0x%02x) "
					 "is no combination of the unsynced "
					 "writes over it",
					 o->name, lo, b, buf[b], o->data[b]);
				free(cand);
				goto out;
			}
			free(cand);
		}
	}
	if (!verify_save(c, e, why, wl) || !verify_snapshots(c, e, why, wl))
		goto out;
	ok = true;
out:
	free(names);
	free(buf);
	return ok;
}

/* The sector check itself must refuse a torn sector: a unit test of
 * sector_allowed (byte_allowed alone accepts every one of these). */
bool sector_teeth(void)
{
	static uint8_t a_data[512], b_data[100], c_data[100];
	struct run r = {.shift = 12};
	struct mut muts[3] = {
		{.obj = 0, .off = 0, .len = 512, .data = a_data},
		{.obj = 1, .off = 0, .len = 100, .data = b_data},
		{.obj = 1, .off = 200, .len = 100, .data = c_data}};
	uint8_t old[SECTOR], got[SECTOR];
	memset(a_data, 0xaa, sizeof(a_data));
	memset(b_data, 0x11, sizeof(b_data));
	memset(c_data, 0x22, sizeof(c_data));
	memset(old, 0x5c, sizeof(old));
	r.muts = muts;
	r.nmuts = 3;
	struct allow a = {.r = &r, .from = 0, .win_end = 1};
	size_t *cand;
	bool ok = true;

	/* one 512-byte write: whole, or not at all; never half */
	size_t n = allow_candidates(&a, 0, &cand);
	memcpy(got, a_data, SECTOR);
	ok &= sector_allowed(&a, cand, n, 0, SECTOR, got, old);
	memcpy(got + 256, old + 256, 256);
	ok &= !sector_allowed(&a, cand, n, 0, SECTOR, got, old);
	for (size_t b = 0; b < SECTOR; b++)
		ok &= got[b] == old[b] || byte_allowed(&a, cand, n, b, got[b]);
	free(cand);
	/* two writes into one sector: any subset, each one whole */
	n = allow_candidates(&a, 1, &cand);
	memcpy(got, old, SECTOR);
	memcpy(got + 200, c_data, 100);
	ok &= sector_allowed(&a, cand, n, 0, SECTOR, got, old);
	memcpy(got, b_data, 50);
	ok &= !sector_allowed(&a, cand, n, 0, SECTOR, got, old);
	free(cand);
	return ok;
}
