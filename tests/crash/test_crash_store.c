/*
 * test_crash_store.c -- crash-state replay and fault injection for the
 * store-level guest protocols: guest create, delete, rename (guestfile.h),
 * and a write committed inside a guest, across several guest files.
 *
 * A recording in-memory directory (`struct memdir`, a `struct dirio`)
 * holds the guest files; every namespace change (create, rename, unlink),
 * directory sync, file write, truncate, fallocate and file sync goes into
 * one log in issue order.  For every crash point (after each logged
 * operation) the crash states are built from the base image:
 *   - namespace: every change before the last directory sync that returned
 *     is kept; of the later ones, each prefix (0..all) is tried (dirio.h's
 *     model: journalled directories keep their changes in order);
 *   - files: per file, every operation before its last completed sync is
 *     kept; of the unsynced ones of all files, every subset when there are
 *     8 or fewer, else the none/all/each-prefix states and 40 random ones;
 *     each state once more with its multi-sector writes torn at 512-byte
 *     sectors.
 * Each state must show exactly the guests and contents of the model after
 * the operations that returned, or after the one in flight; every guest
 * file must check clean (0 errors, 0 leaked clusters) and open; a leftover
 * temporary file must not stop a later create of its guest.
 *
 * Teeth: the same workloads on a directory whose syncs are not barriers
 * must fail (a returned create or delete is lost), and so must a core built
 * with HANGAR_TEETH_GUEST_RENAME_FIRST (tests/CMakeLists.txt,
 * HANGAR_CRASH_EXPECT_CAUGHT=1).
 *
 * Fault injection: each operation again with the Nth call failing (EIO
 * once, EIO persistent, ENOSPC persistent, a short write, EIO from a file
 * sync, EIO from the directory sync) for N = 1, 2, ... until the fault is
 * not reached; it must return 0 or the injected errno, leave the model's
 * state before or after (after if it returned 0), every guest clean, and a
 * retry without faults must succeed.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hangar/check.h"
#include "container_open.h"
#include "dirio.h"
#include "guestfile.h"
#include "harness.h"

#define MAX_FILES   96
#define MAX_ENTRIES 32
#define MAX_GUESTS  4
#define DISK_SIZE   (3 * 4096)
#define SECTOR	    512u

/* ---- the in-memory directory ------------------------------------------- */

struct mfile {
	uint8_t *data;
	uint64_t size;
};

struct mentry {
	char name[GUESTFILE_NAME_MAX];
	int file;
};

struct image {
	struct mfile f[MAX_FILES];
	int nf;
	struct mentry e[MAX_ENTRIES];
	int ne;
};

enum log_kind {
	L_WRITE,
	L_TRUNC,
	L_FALLOC,
	L_FSYNC,
	L_CREATE,
	L_RENAME,
	L_UNLINK,
	L_DSYNC
};

struct log_entry {
	enum log_kind kind;
	int file, mode;
	uint64_t off, len;
	uint8_t *data;
	char a[GUESTFILE_NAME_MAX], b[GUESTFILE_NAME_MAX];
};

enum fault_kind {
	F_NONE,
	F_EIO_ONCE,
	F_EIO_STICKY,
	F_ENOSPC_STICKY,
	F_SHORT_WRITE,
	F_FSYNC_EIO,
	F_DSYNC_EIO
};

struct memdir {
	struct dirio d;
	struct image img;
	bool recording;
	struct log_entry *log;
	size_t log_num, log_cap;
	/* fault injection: the fail_at-th selected call fails */
	enum fault_kind fault;
	long fail_at, calls;
	bool failed;
};

struct mio {
	struct io io;
	struct memdir *md;
	int file;
	bool read_only;
};

static int image_find(const struct image *im, const char *name)
{
	for (int i = 0; i < im->ne; i++)
		if (strcmp(im->e[i].name, name) == 0)
			return i;
	return -1;
}

static void file_resize(struct mfile *f, uint64_t size)
{
	if (size > f->size) {
		uint8_t *n = realloc(f->data, size ? size : 1);
		CHECK(n);
		memset(n + f->size, 0, size - f->size);
		f->data = n;
	}
	f->size = size;
}

static void image_free(struct image *im)
{
	for (int i = 0; i < im->nf; i++)
		free(im->f[i].data);
	memset(im, 0, sizeof(*im));
}

static void image_copy(struct image *dst, const struct image *src)
{
	*dst = *src;
	for (int i = 0; i < src->nf; i++) {
		dst->f[i].data = malloc(src->f[i].size ? src->f[i].size : 1);
		CHECK(dst->f[i].data);
		if (src->f[i].size)
			memcpy(dst->f[i].data, src->f[i].data, src->f[i].size);
	}
}

/* Apply one logged operation to an image; `tear` (writes only) keeps
 * each 512-byte sector with probability 1/2.  Returns false if the image
 * cannot take it (a harness error). */
static bool image_apply(struct image *im, const struct log_entry *l, bool tear,
			unsigned *rng)
{
	switch (l->kind) {
	case L_WRITE: {
		struct mfile *f = &im->f[l->file];
		if (!tear) {
			if (l->off + l->len > f->size)
				file_resize(f, l->off + l->len);
			memcpy(f->data + l->off, l->data, l->len);
			break;
		}
		for (uint64_t s = 0; s < l->len; s += SECTOR) {
			uint64_t n = l->len - s < SECTOR ? l->len - s : SECTOR;
			if (rand_r(rng) & 1)
				continue;
			if (l->off + s + n > f->size)
				file_resize(f, l->off + s + n);
			memcpy(f->data + l->off + s, l->data + s, n);
		}
		break;
	}
	case L_TRUNC:
		file_resize(&im->f[l->file], l->off);
		break;
	case L_FALLOC: {
		struct mfile *f = &im->f[l->file];
		if (l->mode & FALLOC_FL_PUNCH_HOLE) {
			uint64_t end = l->off + l->len;
			if (end > f->size)
				end = f->size;
			if (l->off < end)
				memset(f->data + l->off, 0, end - l->off);
		} else if (l->off + l->len > f->size) {
			file_resize(f, l->off + l->len);
		}
		break;
	}
	case L_CREATE:
		if (image_find(im, l->a) >= 0 || im->ne == MAX_ENTRIES)
			return false;
		snprintf(im->e[im->ne].name, GUESTFILE_NAME_MAX, "%s", l->a);
		im->e[im->ne++].file = l->file;
		break;
	case L_RENAME: {
		int i = image_find(im, l->a);
		if (i < 0 || image_find(im, l->b) >= 0)
			return false;
		snprintf(im->e[i].name, GUESTFILE_NAME_MAX, "%s", l->b);
		break;
	}
	case L_UNLINK: {
		int i = image_find(im, l->a);
		if (i < 0)
			return false;
		im->e[i] = im->e[--im->ne];
		break;
	}
	case L_FSYNC:
	case L_DSYNC:
		break;
	}
	return true;
}

static struct memdir *memdir_of(struct dirio *d)
{
	return (struct memdir *)d;
}

static void md_log(struct memdir *md, const struct log_entry *l)
{
	if (!md->recording)
		return;
	if (md->log_num == md->log_cap) {
		md->log_cap = md->log_cap ? md->log_cap * 2 : 256;
		md->log = realloc(md->log, md->log_cap * sizeof(*md->log));
		CHECK(md->log);
	}
	md->log[md->log_num++] = *l;
}

/* The fault decision for one mutating call of kind `k`. */
static int md_fault(struct memdir *md, enum log_kind k)
{
	bool selected;
	int err = -EIO;
	switch (md->fault) {
	case F_NONE:
		return 0;
	case F_FSYNC_EIO:
		selected = k == L_FSYNC;
		break;
	case F_DSYNC_EIO:
		selected = k == L_DSYNC;
		break;
	case F_SHORT_WRITE:
		selected = k == L_WRITE;
		break;
	case F_ENOSPC_STICKY:
		selected = k != L_FSYNC && k != L_DSYNC && k != L_UNLINK;
		err = -ENOSPC;
		break;
	default:
		selected = true;
		break;
	}
	if (!selected)
		return 0;
	md->calls++;
	bool sticky = md->fault == F_EIO_STICKY || md->fault == F_ENOSPC_STICKY;
	if (md->failed && sticky)
		return err;
	if (md->calls == md->fail_at) {
		md->failed = true;
		return err;
	}
	return 0;
}

static struct mio *mio_of(struct io *io)
{
	return (struct mio *)io;
}

static int mio_pread(struct io *io, void *buf, size_t len, uint64_t off)
{
	struct mio *m = mio_of(io);
	const struct mfile *f = &m->md->img.f[m->file];
	memset(buf, 0, len);
	if (off < f->size) {
		uint64_t n = f->size - off < len ? f->size - off : len;
		memcpy(buf, f->data + off, n);
	}
	return 0;
}

static int mio_pwrite(struct io *io, const void *buf, size_t len, uint64_t off)
{
	struct mio *m = mio_of(io);
	if (m->read_only)
		return -EBADF;
	int err = md_fault(m->md, L_WRITE);
	if (err && m->md->fault == F_SHORT_WRITE)
		len /= 2; /* half lands, then the error */
	else if (err)
		return err;
	struct log_entry l = {.kind = L_WRITE,
			      .file = m->file,
			      .off = off,
			      .len = len,
			      .data = (uint8_t *)buf};
	image_apply(&m->md->img, &l, false, NULL);
	if (m->md->recording) {
		l.data = malloc(len ? len : 1);
		CHECK(l.data);
		memcpy(l.data, buf, len);
		md_log(m->md, &l);
	}
	return err;
}

static int mio_fdatasync(struct io *io)
{
	struct mio *m = mio_of(io);
	int err = md_fault(m->md, L_FSYNC);
	if (err)
		return err;
	struct log_entry l = {.kind = L_FSYNC, .file = m->file};
	md_log(m->md, &l);
	return 0;
}

static int mio_ftruncate(struct io *io, uint64_t size)
{
	struct mio *m = mio_of(io);
	int err = md_fault(m->md, L_TRUNC);
	if (err)
		return err;
	struct log_entry l = {.kind = L_TRUNC, .file = m->file, .off = size};
	image_apply(&m->md->img, &l, false, NULL);
	md_log(m->md, &l);
	return 0;
}

static int mio_fallocate(struct io *io, int mode, uint64_t off, uint64_t len)
{
	struct mio *m = mio_of(io);
	int err = md_fault(m->md, L_FALLOC);
	if (err)
		return err;
	struct log_entry l = {.kind = L_FALLOC,
			      .file = m->file,
			      .mode = mode,
			      .off = off,
			      .len = len};
	image_apply(&m->md->img, &l, false, NULL);
	md_log(m->md, &l);
	return 0;
}

static int mio_size(struct io *io, uint64_t *out)
{
	struct mio *m = mio_of(io);
	*out = m->md->img.f[m->file].size;
	return 0;
}

static void mio_close(struct io *io)
{
	free(io);
}

static const struct io_ops mio_ops = {
	.pread = mio_pread,
	.pwrite = mio_pwrite,
	.fdatasync = mio_fdatasync,
	.ftruncate = mio_ftruncate,
	.fallocate = mio_fallocate,
	.size = mio_size,
	.close = mio_close,
};

static struct io *mio_new(struct memdir *md, int file, bool read_only)
{
	struct mio *m = calloc(1, sizeof(*m));
	CHECK(m);
	m->io.ops = &mio_ops;
	m->md = md;
	m->file = file;
	m->read_only = read_only;
	return &m->io;
}

static int md_open(struct dirio *d, const char *name, int flags,
		   struct io **out)
{
	struct memdir *md = memdir_of(d);
	int i = image_find(&md->img, name);
	if (flags & O_CREAT) {
		if (i >= 0)
			return -EEXIST;
		int err = md_fault(md, L_CREATE);
		if (err)
			return err;
		CHECK(md->img.nf < MAX_FILES);
		struct log_entry l = {.kind = L_CREATE, .file = md->img.nf++};
		snprintf(l.a, sizeof(l.a), "%s", name);
		image_apply(&md->img, &l, false, NULL);
		md_log(md, &l);
		*out = mio_new(md, l.file, false);
		return 0;
	}
	if (i < 0)
		return -ENOENT;
	*out = mio_new(md, md->img.e[i].file, (flags & O_ACCMODE) == O_RDONLY);
	return 0;
}

static int md_exists(struct dirio *d, const char *name)
{
	return image_find(&memdir_of(d)->img, name) >= 0 ? 0 : -ENOENT;
}

static int md_rename(struct dirio *d, const char *from, const char *to)
{
	struct memdir *md = memdir_of(d);
	if (image_find(&md->img, from) < 0)
		return -ENOENT;
	if (image_find(&md->img, to) >= 0)
		return -EEXIST;
	int err = md_fault(md, L_RENAME);
	if (err)
		return err;
	struct log_entry l = {.kind = L_RENAME};
	snprintf(l.a, sizeof(l.a), "%s", from);
	snprintf(l.b, sizeof(l.b), "%s", to);
	image_apply(&md->img, &l, false, NULL);
	md_log(md, &l);
	return 0;
}

static int md_unlink(struct dirio *d, const char *name)
{
	struct memdir *md = memdir_of(d);
	if (image_find(&md->img, name) < 0)
		return -ENOENT;
	int err = md_fault(md, L_UNLINK);
	if (err)
		return err;
	struct log_entry l = {.kind = L_UNLINK};
	snprintf(l.a, sizeof(l.a), "%s", name);
	image_apply(&md->img, &l, false, NULL);
	md_log(md, &l);
	return 0;
}

static int md_sync(struct dirio *d)
{
	struct memdir *md = memdir_of(d);
	int err = md_fault(md, L_DSYNC);
	if (err)
		return err;
	struct log_entry l = {.kind = L_DSYNC};
	md_log(md, &l);
	return 0;
}

static void md_close(struct dirio *d)
{
	(void)d; /* owned by the test */
}

static const struct dirio_ops md_ops = {
	.open = md_open,
	.exists = md_exists,
	.rename = md_rename,
	.unlink = md_unlink,
	.sync = md_sync,
	.close = md_close,
};

static void memdir_init(struct memdir *md, const struct image *from)
{
	memset(md, 0, sizeof(*md));
	md->d.ops = &md_ops;
	if (from)
		image_copy(&md->img, from);
}

static void memdir_free(struct memdir *md)
{
	for (size_t i = 0; i < md->log_num; i++)
		free(md->log[i].data);
	free(md->log);
	image_free(&md->img);
}

/* ---- the model ---------------------------------------------------------- */

static const char *const guest_names[MAX_GUESTS] = {"a", "b", "c", "d"};

struct model {
	bool present[MAX_GUESTS];
	bool has_disk[MAX_GUESTS];
	uint8_t disk[MAX_GUESTS][DISK_SIZE];
};

enum op_kind { OP_CREATE, OP_DELETE, OP_RENAME, OP_WRITE, OP_KINDS };
static const char *const op_names[OP_KINDS] = {"create", "delete", "rename",
					       "write"};

struct op {
	enum op_kind kind;
	int g, g2; /* guest, rename target */
	uint64_t off;
	uint8_t fill;
};

static struct container_options g_copts = {.cluster_shift = 12};

/* Write `op` into guest g: open, write disk.raw, commit, close. */
static int guest_write(struct dirio *d, const struct op *op, uint8_t *buf)
{
	struct io *io = NULL;
	struct container *c = NULL;
	uint64_t id;
	int ret = guestfile_open(d, guest_names[op->g], O_RDWR, &io);
	if (ret)
		return ret;
	ret = container_open(io, &g_copts, &c);
	if (ret) {
		io_close(io);
		return ret;
	}
	ret = object_lookup(c, "disk.raw", &id);
	if (ret == -ENOENT) {
		ret = object_create(c, "disk.raw", 0644, 0, 0, &id);
		if (!ret)
			ret = object_truncate(c, id, DISK_SIZE);
	}
	if (!ret)
		ret = object_open(c, id, true);
	if (!ret) {
		ret = object_write(c, id, buf, 4096 + 700, op->off);
		object_release(c, id, true);
	}
	if (!ret)
		ret = container_commit(c);
	int cret = container_close(c);
	return ret ? ret : cret;
}

/* Run op on the directory; the model moves only on success.  Returns the
 * result, which must be the model's prediction (checked by the caller). */
static int op_run(struct dirio *d, const struct op *op, struct model *m,
		  int *out_expected)
{
	uint8_t buf[4096 + 700];
	int ret;
	switch (op->kind) {
	case OP_CREATE:
		*out_expected = m->present[op->g] ? -EEXIST : 0;
		ret = guestfile_create(d, guest_names[op->g], &g_copts);
		if (!ret) {
			m->present[op->g] = true;
			m->has_disk[op->g] = false;
			memset(m->disk[op->g], 0, DISK_SIZE);
		}
		return ret;
	case OP_DELETE:
		*out_expected = m->present[op->g] ? 0 : -ENOENT;
		ret = guestfile_delete(d, guest_names[op->g]);
		if (!ret)
			m->present[op->g] = false;
		return ret;
	case OP_RENAME:
		*out_expected = !m->present[op->g]   ? -ENOENT
				: m->present[op->g2] ? -EEXIST
						     : 0;
		ret = guestfile_rename(d, guest_names[op->g],
				       guest_names[op->g2]);
		if (!ret) {
			m->present[op->g2] = true;
			m->has_disk[op->g2] = m->has_disk[op->g];
			memcpy(m->disk[op->g2], m->disk[op->g], DISK_SIZE);
			m->present[op->g] = false;
		}
		return ret;
	case OP_WRITE:
		*out_expected = m->present[op->g] ? 0 : -ENOENT;
		memset(buf, op->fill, sizeof(buf));
		ret = guest_write(d, op, buf);
		if (!ret) {
			m->has_disk[op->g] = true;
			memcpy(m->disk[op->g] + op->off, buf, sizeof(buf));
		}
		return ret;
	default:
		return -EINVAL;
	}
}

/* Read what an image holds into a model; false (with `why`) if a guest
 * file does not check clean or open. */
static bool image_read(const struct image *im, struct model *out, char *why,
		       size_t why_len)
{
	memset(out, 0, sizeof(*out));
	for (int g = 0; g < MAX_GUESTS; g++) {
		char file[GUESTFILE_NAME_MAX];
		guestfile_name(guest_names[g], file);
		int e = image_find(im, file);
		if (e < 0)
			continue;
		out->present[g] = true;
		struct memdir md;
		memdir_init(&md, im);
		struct io *io = mio_new(&md, im->e[e].file, true);
		struct check_report rep;
		int ret = check_container(io, &rep);
		io_close(io);
		if (ret || rep.errors || rep.leaked_clusters) {
			snprintf(why, why_len,
				 "guest %s: check %d, %llu errors, %llu leaked",
				 guest_names[g], ret,
				 (unsigned long long)rep.errors,
				 (unsigned long long)rep.leaked_clusters);
			memdir_free(&md);
			return false;
		}
		struct container *c = NULL;
		io = mio_new(&md, im->e[e].file, false);
		ret = container_open(io, &g_copts, &c);
		if (ret) {
			io_close(io);
			snprintf(why, why_len, "guest %s: open %d",
				 guest_names[g], ret);
			memdir_free(&md);
			return false;
		}
		uint64_t id;
		if (object_lookup(c, "disk.raw", &id) == 0) {
			size_t n = 0;
			out->has_disk[g] = true;
			ret = object_read(c, id, out->disk[g], DISK_SIZE, 0,
					  &n);
			if (ret || n != DISK_SIZE) {
				snprintf(why, why_len,
					 "guest %s: read %d (%zu bytes)",
					 guest_names[g], ret, n);
				container_close(c);
				memdir_free(&md);
				return false;
			}
		}
		(void)container_close(c);
		memdir_free(&md);
	}
	return true;
}

static bool model_equal(const struct model *a, const struct model *b)
{
	for (int g = 0; g < MAX_GUESTS; g++) {
		if (a->present[g] != b->present[g])
			return false;
		if (!a->present[g])
			continue;
		if (a->has_disk[g] != b->has_disk[g])
			return false;
		if (a->has_disk[g] &&
		    memcmp(a->disk[g], b->disk[g], DISK_SIZE) != 0)
			return false;
	}
	return true;
}

/* `seen` is the state of a write in flight between `before` and `after`:
 * the same guests, and each 512-byte sector of each disk old or new (an
 * unsynced in-place write may land in part, sector by sector). */
static bool model_mixed(const struct model *seen, const struct model *before,
			const struct model *after)
{
	for (int g = 0; g < MAX_GUESTS; g++) {
		if (seen->present[g] != after->present[g])
			return false;
		if (!seen->present[g])
			continue;
		if (seen->has_disk[g] != before->has_disk[g] &&
		    seen->has_disk[g] != after->has_disk[g])
			return false;
		if (!seen->has_disk[g])
			continue;
		for (size_t off = 0; off < DISK_SIZE; off += SECTOR) {
			const uint8_t *s = seen->disk[g] + off;
			if (memcmp(s, after->disk[g] + off, SECTOR) == 0)
				continue;
			if (before->has_disk[g] &&
			    memcmp(s, before->disk[g] + off, SECTOR) == 0)
				continue;
			if (!before->has_disk[g]) {
				bool zero = true;
				for (unsigned i = 0; i < SECTOR; i++)
					zero &= s[i] == 0;
				if (zero)
					continue;
			}
			return false;
		}
	}
	return true;
}

/* A leftover temporary file must not stop a create of its guest. */
static bool leftovers_harmless(const struct image *im, char *why,
			       size_t why_len)
{
	for (int g = 0; g < MAX_GUESTS; g++) {
		char tmp[GUESTFILE_NAME_MAX], file[GUESTFILE_NAME_MAX];
		guestfile_temp_name(guest_names[g], tmp);
		guestfile_name(guest_names[g], file);
		if (image_find(im, tmp) < 0 || image_find(im, file) >= 0)
			continue;
		struct memdir md;
		memdir_init(&md, im);
		int ret = guestfile_create(&md.d, guest_names[g], &g_copts);
		memdir_free(&md);
		if (ret) {
			snprintf(why, why_len,
				 "create of %s over its leftover: %d",
				 guest_names[g], ret);
			return false;
		}
	}
	return true;
}

/* ---- replay ------------------------------------------------------------- */

struct stats {
	long states, workloads, failures, points;
};

struct run {
	const struct image *base;
	const struct memdir *md;  /* the recorded run */
	const struct model *snap; /* snap[i]: after i ops */
	const size_t *op_end;	  /* log index after op i; op i starts at
				   * op_end[i - 1] (op 0 at 0) */
	const struct op *ops;
	int nops;
	bool dsync_is_barrier; /* false: the broken-disk teeth */
	bool quiet;
	const char *what;
};

static bool is_ns(enum log_kind k)
{
	return k == L_CREATE || k == L_RENAME || k == L_UNLINK;
}

static bool is_file_op(enum log_kind k)
{
	return k == L_WRITE || k == L_TRUNC || k == L_FALLOC;
}

/* One crash state: ns prefix p, file subset `keep` (over `uns`), torn. */
static void check_state(const struct run *r, struct stats *st, size_t k,
			const size_t *ns_uns, int nns, int p, const size_t *uns,
			int nu, const bool *keep, bool torn, unsigned *rng)
{
	struct image im;
	image_copy(&im, r->base);
	im.nf = r->md->img.nf; /* files the log created start empty */
	const struct log_entry *log = r->md->log;
	int nsi = 0, ui = 0;
	bool ok = true;
	char why[256] = "";
	for (size_t i = 0; i < k && ok; i++) {
		bool apply = true, tear = false;
		if (is_ns(log[i].kind) && nsi < nns && ns_uns[nsi] == i) {
			apply = nsi < p;
			nsi++;
		} else if (is_file_op(log[i].kind) && ui < nu && uns[ui] == i) {
			apply = keep[ui];
			tear = torn && log[i].kind == L_WRITE &&
			       log[i].len > SECTOR;
			ui++;
		}
		if (apply && !image_apply(&im, &log[i], tear, rng)) {
			snprintf(why, sizeof(why),
				 "harness: log op %zu does not apply", i);
			ok = false;
		}
	}
	/* ops done: op_end <= k; in flight: op_start < k < op_end */
	int done = 0;
	while (done < r->nops && r->op_end[done] <= k)
		done++;
	const size_t start = done ? r->op_end[done - 1] : 0;
	bool in_flight = done < r->nops && start < k;
	struct model seen;
	if (ok)
		ok = image_read(&im, &seen, why, sizeof(why));
	const bool writing = in_flight && r->ops[done].kind == OP_WRITE;
	if (ok && !model_equal(&seen, &r->snap[done]) &&
	    !(in_flight && model_equal(&seen, &r->snap[done + 1])) &&
	    !(writing &&
	      model_mixed(&seen, &r->snap[done], &r->snap[done + 1]))) {
		snprintf(why, sizeof(why),
			 "guests/contents are neither after op %d nor after "
			 "the op in flight",
			 done);
		ok = false;
	}
	if (ok)
		ok = leftovers_harmless(&im, why, sizeof(why));
	st->states++;
	if (!ok) {
		st->failures++;
		if (!r->quiet && st->failures <= 5)
			fprintf(stderr,
				"crash_store FAIL %s: point %zu/%zu, ns prefix "
				"%d/%d, %d unsynced file ops%s: %s\n",
				r->what, k, r->md->log_num, p, nns, nu,
				torn ? " (torn)" : "", why);
	}
	image_free(&im);
}

static void replay(const struct run *r, struct stats *st, unsigned seed)
{
	const struct log_entry *log = r->md->log;
	const size_t n = r->md->log_num;
	size_t *ns_uns = calloc(n + 1, sizeof(size_t));
	size_t *uns = calloc(n + 1, sizeof(size_t));
	bool *keep = calloc(n + 1, sizeof(bool));
	long *last_fsync = malloc(MAX_FILES * sizeof(long));
	CHECK(ns_uns && uns && keep && last_fsync);
	unsigned rng = seed;
	for (size_t k = 0; k <= n; k++) {
		long last_dsync = -1;
		for (int f = 0; f < MAX_FILES; f++)
			last_fsync[f] = -1;
		for (size_t i = 0; i < k; i++) {
			if (log[i].kind == L_DSYNC && r->dsync_is_barrier)
				last_dsync = (long)i;
			if (log[i].kind == L_FSYNC)
				last_fsync[log[i].file] = (long)i;
		}
		int nns = 0, nu = 0;
		for (size_t i = 0; i < k; i++) {
			if (is_ns(log[i].kind) && (long)i > last_dsync)
				ns_uns[nns++] = i;
			if (is_file_op(log[i].kind) &&
			    (long)i > last_fsync[log[i].file])
				uns[nu++] = i;
		}
		st->points++;
		for (int p = 0; p <= nns; p++) {
			if (nu <= 8) {
				for (unsigned mask = 0; mask < (1u << nu);
				     mask++) {
					bool multi = false;
					for (int j = 0; j < nu; j++) {
						keep[j] = mask >> j & 1;
						multi |= keep[j] &&
							 log[uns[j]].kind ==
								 L_WRITE &&
							 log[uns[j]].len >
								 SECTOR;
					}
					check_state(r, st, k, ns_uns, nns, p,
						    uns, nu, keep, false, &rng);
					if (multi)
						check_state(r, st, k, ns_uns,
							    nns, p, uns, nu,
							    keep, true, &rng);
				}
				continue;
			}
			/* none, each prefix, all, 40 random (half torn) */
			for (int pre = 0; pre <= nu; pre++) {
				for (int j = 0; j < nu; j++)
					keep[j] = j < pre;
				check_state(r, st, k, ns_uns, nns, p, uns, nu,
					    keep, false, &rng);
			}
			for (int s = 0; s < 40; s++) {
				for (int j = 0; j < nu; j++)
					keep[j] = rand_r(&rng) & 1;
				check_state(r, st, k, ns_uns, nns, p, uns, nu,
					    keep, s & 1, &rng);
			}
		}
	}
	free(ns_uns);
	free(uns);
	free(keep);
	free(last_fsync);
}

/* The base: guests a (with a disk) and b (empty), and a leftover
 * temporary file of c from a crashed create (garbage). */
static void base_build(struct image *out, struct model *m)
{
	struct memdir md;
	memdir_init(&md, NULL);
	memset(m, 0, sizeof(*m));
	int expected;
	struct op ops[] = {
		{.kind = OP_CREATE, .g = 0},
		{.kind = OP_WRITE, .g = 0, .off = 1000, .fill = 0xa5},
		{.kind = OP_CREATE, .g = 1},
	};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		CHECK_OK(op_run(&md.d, &ops[i], m, &expected));
		CHECK_EQ(expected, 0);
	}
	struct io *io = NULL;
	char tmp[GUESTFILE_NAME_MAX];
	guestfile_temp_name("c", tmp);
	CHECK_OK(dirio_open(&md.d, tmp, O_RDWR | O_CREAT | O_EXCL, &io));
	uint8_t junk[700];
	memset(junk, 0x5c, sizeof(junk));
	CHECK_OK(io_pwrite(io, junk, sizeof(junk), 0));
	io_close(io);
	image_copy(out, &md.img);
	memdir_free(&md);
}

/* Record `ops` on the base, then replay every crash state. */
static void workload(const struct op *ops, int nops, bool dsync_barrier,
		     bool quiet, struct stats *st, unsigned seed)
{
	struct image base;
	struct model *snap = calloc((size_t)nops + 1, sizeof(*snap));
	size_t *op_end = calloc((size_t)nops + 1, sizeof(size_t));
	CHECK(snap && op_end);
	base_build(&base, &snap[0]);
	struct memdir md;
	memdir_init(&md, &base);
	md.recording = true;
	char what[256];
	int len = 0;
	for (int i = 0; i < nops; i++) {
		int expected;
		snap[i + 1] = snap[i];
		int ret = op_run(&md.d, &ops[i], &snap[i + 1], &expected);
		op_end[i] = md.log_num;
		if (ret != expected) {
			fprintf(stderr,
				"crash_store: op %d %s returned %d, "
				"want %d\n",
				i, op_names[ops[i].kind], ret, expected);
			exit(1);
		}
		len += snprintf(
			what + len, sizeof(what) - (size_t)len, "%s%s %s%s%s",
			i ? ", " : "", op_names[ops[i].kind],
			guest_names[ops[i].g],
			ops[i].kind == OP_RENAME ? "->" : "",
			ops[i].kind == OP_RENAME ? guest_names[ops[i].g2] : "");
	}
	struct run r = {.base = &base,
			.md = &md,
			.snap = snap,
			.op_end = op_end,
			.ops = ops,
			.nops = nops,
			.dsync_is_barrier = dsync_barrier,
			.quiet = quiet,
			.what = what};
	replay(&r, st, seed);
	st->workloads++;
	memdir_free(&md);
	image_free(&base);
	free(snap);
	free(op_end);
}

/* The op kinds against the base (a: disk, b: empty, c: leftover, d:
 * none), with arguments that do something in the state reached. */
static void op_pick(enum op_kind kind, const bool *present, int salt,
		    struct op *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = kind;
	int first_present = -1, first_absent = -1;
	for (int g = 0; g < MAX_GUESTS; g++) {
		int h = (g + salt) % MAX_GUESTS;
		if (present[h] && first_present < 0)
			first_present = h;
		if (!present[h] && first_absent < 0)
			first_absent = h;
	}
	switch (kind) {
	case OP_CREATE:
		out->g = first_absent >= 0 ? first_absent : 0;
		break;
	case OP_DELETE:
	case OP_WRITE:
		out->g = first_present >= 0 ? first_present : 0;
		break;
	case OP_RENAME:
		out->g = first_present >= 0 ? first_present : 0;
		out->g2 = first_absent >= 0 ? first_absent : 1;
		break;
	default:
		break;
	}
	out->off = (uint64_t)(salt % 3) * 2048;
	out->fill = (uint8_t)(0x10 + salt * 7);
}

static void present_after(bool *present, const struct op *op)
{
	switch (op->kind) {
	case OP_CREATE:
		present[op->g] = true;
		break;
	case OP_DELETE:
		present[op->g] = false;
		break;
	case OP_RENAME:
		if (present[op->g] && !present[op->g2]) {
			present[op->g] = false;
			present[op->g2] = true;
		}
		break;
	default:
		break;
	}
}

/* Every sequence of 1..3 op kinds (salted twice), then random ones. */
static void run_workloads(bool dsync_barrier, bool stop_at_first,
			  struct stats *st, unsigned seed, int random_runs)
{
	for (int len = 1; len <= 3; len++) {
		int total = 1;
		for (int i = 0; i < len; i++)
			total *= OP_KINDS;
		for (int code = 0; code < total; code++) {
			for (int salt = 0; salt < 2; salt++) {
				struct op ops[3];
				bool present[MAX_GUESTS] = {true, true, false,
							    false};
				int c = code;
				for (int i = 0; i < len; i++) {
					op_pick((enum op_kind)(c % OP_KINDS),
						present, salt + i, &ops[i]);
					present_after(present, &ops[i]);
					c /= OP_KINDS;
				}
				workload(ops, len, dsync_barrier, stop_at_first,
					 st, seed + code);
				if (stop_at_first && st->failures)
					return;
			}
		}
	}
	unsigned rng = seed;
	for (int w = 0; w < random_runs; w++) {
		struct op ops[8];
		int len = 4 + (int)(rand_r(&rng) % 5);
		bool present[MAX_GUESTS] = {true, true, false, false};
		for (int i = 0; i < len; i++) {
			op_pick((enum op_kind)(rand_r(&rng) % OP_KINDS),
				present, (int)(rand_r(&rng) % 8), &ops[i]);
			present_after(present, &ops[i]);
		}
		workload(ops, len, dsync_barrier, stop_at_first, st,
			 seed + 1000u + (unsigned)w);
		if (stop_at_first && st->failures)
			return;
	}
}

/* ---- fault injection ---------------------------------------------------- */

static const char *const fault_names[] = {
	"none",	       "EIO once",	"EIO persistent", "ENOSPC persistent",
	"short write", "file sync EIO", "dir sync EIO"};

/* One run of `op` from `base` with the nth selected call failing with
 * fault `fk`; exits on a violation.  Returns whether the fault was reached.
 * `before` and `full` are the model before the op and after it without
 * faults. */
static bool fault_run(const struct image *base, const struct op *op,
		      const struct model *before, const struct model *full,
		      enum fault_kind fk, long n)
{
	const char *opn = op_names[op->kind], *fn = fault_names[fk];
	struct memdir md;
	memdir_init(&md, base);
	md.fault = fk;
	md.fail_at = n;
	struct model after = *before, seen;
	int expected, e2;
	int ret = op_run(&md.d, op, &after, &expected);
	bool reached = md.failed;
	md.fault = F_NONE;
	const int want = fk == F_ENOSPC_STICKY ? -ENOSPC : -EIO;
	char why[256] = "";
	if (!reached && ret != expected) {
		fprintf(stderr,
			"faults %s/%s n=%ld: %d without a fault, want %d\n",
			opn, fn, n, ret, expected);
		exit(1);
	}
	/* a poisoned container reports an ENOSPC superblock write as EIO */
	if (reached && ret != 0 && ret != want && ret != -EIO) {
		fprintf(stderr, "faults %s/%s n=%ld: returned %d\n", opn, fn, n,
			ret);
		exit(1);
	}
	if (!image_read(&md.img, &seen, why, sizeof(why))) {
		fprintf(stderr, "faults %s/%s n=%ld (ret %d): %s\n", opn, fn, n,
			ret, why);
		exit(1);
	}
	bool is_after = model_equal(&seen, full);
	bool is_before = model_equal(&seen, before);
	/* a failed write: each sector old or new */
	bool mixed = ret != 0 && op->kind == OP_WRITE &&
		     model_mixed(&seen, before, full);
	if (!(ret == 0 ? is_after : is_after || is_before || mixed)) {
		fprintf(stderr,
			"faults %s/%s n=%ld (ret %d): state is neither before "
			"nor after\n",
			opn, fn, n, ret);
		exit(1);
	}
	if (!leftovers_harmless(&md.img, why, sizeof(why))) {
		fprintf(stderr, "faults %s/%s: %s\n", opn, fn, why);
		exit(1);
	}
	/* a retry on a healthy disk completes */
	if (ret != 0 && !is_after) {
		struct model m2 = *before;
		CHECK_OK(op_run(&md.d, op, &m2, &e2));
	}
	memdir_free(&md);
	return reached;
}

static void faults(long *out_runs, long *out_faults)
{
	for (int kind = 0; kind < OP_KINDS; kind++) {
		struct image base;
		struct model before, full;
		base_build(&base, &before);
		const bool present[MAX_GUESTS] = {true, true, false, false};
		struct op op;
		op_pick((enum op_kind)kind, present, 1, &op);
		/* what the op does without faults */
		struct memdir clean;
		memdir_init(&clean, &base);
		int expected;
		full = before;
		CHECK_EQ(op_run(&clean.d, &op, &full, &expected), 0);
		memdir_free(&clean);
		for (int fk = F_EIO_ONCE; fk <= F_DSYNC_EIO; fk++) {
			for (long n = 1;; n++) {
				(*out_runs)++;
				if (!fault_run(&base, &op, &before, &full,
					       (enum fault_kind)fk, n))
					break;
				(*out_faults)++;
			}
		}
		image_free(&base);
	}
}

int main(void)
{
	g_copts.map_cache_bytes = test_map_cache_bytes();
	const unsigned seed =
		getenv("HANGAR_TEST_SEED")
			? (unsigned)strtoul(getenv("HANGAR_TEST_SEED"), NULL, 0)
			: (unsigned)time(NULL);
	const bool expect_caught = getenv("HANGAR_CRASH_EXPECT_CAUGHT") != NULL;
	const time_t t0 = time(NULL);
	printf("seed %u\n", seed);

	if (expect_caught) {
		/* a deliberately broken core: must be caught */
		struct stats st = {0};
		run_workloads(true, true, &st, seed, 20);
		printf("crash_store teeth: %ld failing of %ld states in %ld "
		       "workloads\n",
		       st.failures, st.states, st.workloads);
		return st.failures ? 0 : 1;
	}

	/* teeth: directory syncs that are no barriers must be caught */
	struct stats broken = {0};
	run_workloads(false, true, &broken, seed, 20);
	printf("crash_store teeth (dir sync no barrier): %ld failing states "
	       "after %ld workloads\n",
	       broken.failures, broken.workloads);
	CHECK(broken.failures > 0);

	struct stats st = {0};
	run_workloads(true, false, &st, seed, 100);
	long fault_runs = 0, fault_count = 0;
	faults(&fault_runs, &fault_count);
	printf("crash_store: %ld states at %ld crash points from %ld "
	       "workloads, %ld fault runs (%ld faults), %ld failures, %ld s\n",
	       st.states, st.points, st.workloads, fault_runs, fault_count,
	       st.failures, (long)(time(NULL) - t0));
	return st.failures ? 1 : 0;
}
