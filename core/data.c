/*
 * data.c -- the data path of objects: read, write, truncate, punch, zero,
 * seek, and the storage of compressed clusters.
 *
 * Design notes.
 *   - Fast path: a write that lies inside the object's size, onto RAW
 *     clusters, of an uncompressed object (or a compressed disk's staged
 *     clusters, below) that no save-lock transition concerns, is a pwrite in place under the container READ lock, onto
 *     RAW clusters that no snapshot shares (snapshot_raw_owned;
 *     docs/design.md, invariant 3's one exception); a shared one is
 *     copied first, like a write into a hole.
 *     Contiguous clusters are coalesced into one pread/pwrite.
 *   - Everything else takes the write lock.  A write into a HOLE or ZERO
 *     cluster allocates a cluster that is free in the committed state and
 *     writes it WHOLE (the data plus zeros around it), so a newly allocated
 *     cluster never shows another cluster's stale bytes (invariant 4).  An
 *     all-zero write into a hole allocates nothing.
 *   - Compressed objects (memory.save always; disks when the container says
 *     so) gather writes in one pending cluster per object; the cluster is
 *     compressed and stored when the writer moves on, reaches the cluster's
 *     end, or at commit.  Compressed extents are packed, 512-byte aligned,
 *     into a "pack cluster" allocated by the transaction; a cluster that
 *     would not shrink by at least one sector is stored RAW.  All-zero
 *     clusters are stored as holes.  A compressed cluster is never rewritten
 *     in place: its new version goes to a new extent (copy-on-write).
 *   - Staged clusters.  A write of part of a cluster of a compressed DISK
 *     (not memory.save) that is not the pending cluster does not
 *     recompress it: the cluster is read (decompressed), merged and stored
 *     RAW (write_staged), and its number goes on the object's `staged`
 *     list.  Later partial writes to it go in place like any RAW cluster's,
 *     under the read lock.  container_compact compresses staged clusters
 *     again, a batch at a time under the write lock (the store's committer
 *     does some every tick; container_close does all), so the stored size
 *     comes back to what compressing whole clusters gives.  A random 4 KiB
 *     write thus costs one decompression and one cluster write the first
 *     time a cluster is touched, instead of a decompression and a
 *     compression every time.  The list lives in memory only: a cluster
 *     staged when the daemon crashed stays RAW (correct, just larger) until
 *     it is written again.  Encrypted containers do not stage (no in-place
 *     path there).
 *   - Whole clusters do their heavy part outside the lock: a compressed
 *     object's are compressed first, by two threads when a request holds
 *     two or more (write_squeezed_clusters), then packed under the write
 *     lock, except those that stay RAW over a RAW cluster of a disk's
 *     own: those are written in place under the read lock
 *     (squeezed_in_place).  An encrypted object's are sealed and written
 *     between two short write-lock sections (write_sealed_clusters), those
 *     placed one after another with one pwrite; whole sealed clusters are
 *     read back the same way, one pread per such run (read_sealed_run).
 *   - Part of a cluster of an encrypted object (a 4 KiB guest write into a
 *     16 KiB cluster) is read, opened, merged, sealed and written to a
 *     fresh cluster between two short write-lock sections too
 *     (write_sealed_partial); the second maps it only if the cluster's
 *     mapping is still the one the first saw, else starts over, so a
 *     neighbouring write of the same cluster is never lost.  Other partial
 *     clusters go through the write lock as above.
 *   - Before a modification that the save lock cares about, save_before_modify
 *     commits the transition (invalidate, retire, unseal) so the disk can
 *     never change on disk while a committed state still calls the image
 *     resumable.
 *
 * THREAD MODEL: see internal.h.  Reads and fast-path writes hold the
 * container read lock (pend_buf is only changed under the write lock);
 * everything else holds the write lock, except compression and sealing of
 * whole clusters and the sealing of partial encrypted ones, which hold no
 * container lock (the compressor pool and the
 * AEAD pool have their own; write_squeezed_clusters may start one helper
 * thread per request and joins it before taking the lock).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compress.h"
#include "crc32c.h"
#include "internal.h"
#include "io.h"

/*
 * May RAW cluster `n` be rewritten in place?  Only when the live tree alone
 * maps it (snapshot_raw_owned): a cluster a snapshot shares is copied
 * first.  HANGAR_TEETH_SNAPSHOT_NO_COW is for tests/crash only: a
 * deliberately broken core that rewrites shared clusters in place too, so
 * a snapshot's contents change under it; the crash-replay harness must
 * catch it (tests/CMakeLists.txt builds it).
 */
static inline bool raw_in_place(const struct container *c, uint64_t n)
{
#ifdef HANGAR_TEETH_SNAPSHOT_NO_COW
	(void)c;
	(void)n;
	return true;
#else
	return snapshot_raw_owned(c, n);
#endif
}

static bool buf_is_zero(const uint8_t *p, size_t n)
{
	if (n == 0)
		return true;
	if (p[0] != 0)
		return false;
	return memcmp(p, p + 1, n - 1) == 0;
}

static int read_compressed(struct container *c, const struct object *o,
			   uint64_t vc, const struct map_entry *e,
			   const struct map_seal *seal, uint8_t *out)
{
	struct compressor *cz;
	uint8_t *tmp = malloc(e->length);
	int ret;

	if (!tmp)
		return -ENOMEM;
	ret = io_pread(c->io, tmp, e->length, e->offset);
	if (ret)
		goto out_free;
	if (crc32c(0, tmp, e->length) != e->crc) {
		ret = -EBADMSG;
		goto out_free;
	}
	if (c->encrypted) {
		ret = crypt_open(c, CRYPTO_AAD_DATA_COMPRESSED, 0, o->id, vc,
				 seal, tmp, e->length);
		if (ret)
			goto out_free;
	}
	ret = compressor_take(c, &cz);
	if (ret)
		goto out_free;
	ret = decompress_cluster(cz, out, c->cluster_size, tmp, e->length);
	compressor_give(c, cz);
out_free:
	free(tmp);
	return ret;
}

/* An encrypted RAW cluster of object `id`: read, authenticate, decrypt
 * (C bytes).  Needs no container lock of its own (write_sealed_partial). */
static int read_raw_sealed(struct container *c, uint64_t id, uint64_t vc,
			   const struct map_entry *e,
			   const struct map_seal *seal, uint8_t *out)
{
	int ret = io_pread(c->io, out, c->cluster_size, e->offset);
	if (ret)
		return ret;
	return crypt_open(c, CRYPTO_AAD_DATA_RAW, 0, id, vc, seal, out,
			  c->cluster_size);
}

/* How many whole encrypted clusters one pwrite or pread may carry
 * (SEALED_BATCH_BYTES, at least one, at most `count`).  Small clusters
 * (4 KiB: one seal per 4 KiB) would otherwise cost a system call each. */
#define SEALED_BATCH_BYTES ((size_t)1 << 20)
static size_t sealed_batch_clusters(const struct container *c, size_t count)
{
	size_t batch = SEALED_BATCH_BYTES >> c->cluster_shift;
	if (batch == 0)
		batch = 1;
	return batch < count ? batch : count;
}

/* Seals one sealed run may look up: a batch of the smallest clusters (on
 * the stack: 256 * 40 bytes). */
#define SEALED_RUN_MAX (SEALED_BATCH_BYTES >> FORMAT_CLUSTER_SHIFT_MIN)

/*
 * Whole encrypted RAW clusters of `o` from `vc` on (the first mapped by `e`
 * and `seal`) whose places follow each other, as a sequential write lays
 * them out: one pread straight into `dst`, then each cluster opened in
 * place there.  At most `max` clusters; *out_count says how many were
 * done.  On failure `dst` holds nothing of the plaintext that was not
 * authenticated (crypt_open wipes what fails).  Container lock held (read).
 */
static int read_sealed_run(struct container *c, struct object *o, uint64_t vc,
			   const struct map_entry *e,
			   const struct map_seal *seal, uint8_t *dst,
			   size_t max, size_t *out_count)
{
	struct map_seal seals[SEALED_RUN_MAX];
	size_t n = 1;
	int ret;

	if (max > SEALED_RUN_MAX)
		max = SEALED_RUN_MAX;
	seals[0] = *seal;
	while (n < max) {
		struct map_entry next;
		if (o->pend_valid && o->pend_vc == vc + n)
			break;
		/* a lookup that fails ends the run; the caller's own
		 * lookup of that cluster reports it */
		if (map_lookup_seal(c, o, vc + n, &next, &seals[n]) != 0 ||
		    next.kind != MAP_KIND_RAW ||
		    next.offset != e->offset + (n << c->cluster_shift))
			break;
		n++;
	}
	*out_count = 0;
	ret = io_pread(c->io, dst, n << c->cluster_shift, e->offset);
	for (size_t i = 0; !ret && i < n; i++)
		ret = crypt_open(c, CRYPTO_AAD_DATA_RAW, 0, o->id, vc + i,
				 &seals[i], dst + (i << c->cluster_shift),
				 c->cluster_size);
	if (!ret)
		*out_count = n;
	return ret;
}

/* Current contents of virtual cluster `vc` (C bytes), ignoring pend_buf. */
static int read_cluster(struct container *c, struct object *o, uint64_t vc,
			uint8_t *out)
{
	struct map_entry e;
	struct map_seal seal;
	int ret = map_lookup_seal(c, o, vc, &e, &seal);
	if (ret)
		return ret; /* a map leaf that cannot be read back */
	switch (e.kind) {
	case MAP_KIND_RAW:
		if (c->encrypted)
			return read_raw_sealed(c, o->id, vc, &e, &seal, out);
		return io_pread(c->io, out, c->cluster_size, e.offset);
	case MAP_KIND_COMPRESSED:
		return read_compressed(c, o, vc, &e, &seal, out);
	default:
		memset(out, 0, c->cluster_size);
		return 0;
	}
}

int object_fingerprint_locked(struct container *c, struct object *o,
			      uint8_t out[FORMAT_FINGERPRINT_LEN])
{
	struct crypto_sha256 *hash = NULL;
	uint8_t *buf = malloc(c->cluster_size);
	uint8_t le[8];
	uint32_t zero_crc;
	int ret;

	if (!buf)
		return -ENOMEM;
	memset(buf, 0, c->cluster_size);
	zero_crc = crc32c(0, buf, c->cluster_size);
	ret = crypto_sha256_new(&hash);
	if (!ret)
		ret = crypto_sha256_update(hash, "HGF2", 4);
	const uint64_t clusters =
		(o->size + c->cluster_size - 1) >> c->cluster_shift;
	for (uint64_t vc = 0; !ret && vc < clusters; vc++) {
		uint32_t crc;
		struct map_entry e;
		if (o->pend_valid && o->pend_vc == vc) {
			crc = crc32c(0, o->pend_buf, c->cluster_size);
		} else if ((ret = map_lookup(c, o, vc, &e)) != 0) {
			break;
		} else if (e.kind != MAP_KIND_RAW &&
			   e.kind != MAP_KIND_COMPRESSED) {
			crc = zero_crc;
		} else if (vc < o->fp_cap && o->fp_known[vc]) {
			crc = o->fp_crc[vc]; /* noted when it was stored */
		} else {
			ret = read_cluster(c, o, vc, buf);
			if (ret)
				break;
			crc = crc32c(0, buf, c->cluster_size);
		}
		le32_put(le, crc);
		ret = crypto_sha256_update(hash, le, 4);
	}
	if (!ret) {
		le64_put(le, o->size);
		ret = crypto_sha256_update(hash, le, 8);
	}
	if (!ret)
		ret = crypto_sha256_final(hash, out);
	crypto_sha256_free(hash);
	free(buf);
	return ret;
}

/* object_read calls a lazily opened container serves before the reader
 * walks its trees itself (the lookups before read the tree from disk). */
#define COLD_READS_MAX 4096u

int object_read(struct container *c, uint64_t id, void *buf, size_t len,
		uint64_t offset, size_t *out_len)
{
	uint8_t *dst = buf;
	uint8_t *tmp = NULL;
	int ret = 0;

	*out_len = 0;
	/* Before a lazy open's walk, lookups read the tree from disk
	 * (container.c, "Lazy open"): right for the first requests, not for
	 * a whole disk's worth when no store walks it (the CLI), so past
	 * COLD_READS_MAX reads the reader walks. */
	if (!container_walked(c) &&
	    atomic_fetch_add_explicit(&c->cold_reads, 1,
				      memory_order_relaxed) >= COLD_READS_MAX)
		(void)container_walk(c); /* failure: reads stay cold */
	pthread_rwlock_rdlock(&c->lock);
	struct object *o = object_find(c, id);
	if (!o) {
		ret = -ENOENT;
		goto out_unlock;
	}
	if (offset >= o->size)
		goto out_unlock;
	if (len > o->size - offset)
		len = (size_t)(o->size - offset);
	size_t done = 0;
	while (done < len) {
		uint64_t pos = offset + done;
		uint64_t vc = pos >> c->cluster_shift;
		uint32_t in = (uint32_t)(pos & (c->cluster_size - 1));
		size_t chunk = c->cluster_size - in;
		if (chunk > len - done)
			chunk = len - done;
		if (o->pend_valid && o->pend_vc == vc) {
			memcpy(dst + done, o->pend_buf + in, chunk);
			done += chunk;
			continue;
		}
		struct map_entry e;
		struct map_seal seal;
		ret = map_lookup_seal(c, o, vc, &e, &seal);
		if (ret)
			goto out_unlock;
		if (e.kind == MAP_KIND_RAW && !c->encrypted) {
			/* coalesce physically contiguous RAW clusters */
			size_t run = chunk;
			uint64_t next_off = e.offset + c->cluster_size;
			while (done + run < len) {
				struct map_entry n;
				uint64_t nvc =
					vc + (in + run) / c->cluster_size;
				if (o->pend_valid && o->pend_vc == nvc)
					break;
				if (map_lookup(c, o, nvc, &n) != 0 ||
				    n.kind != MAP_KIND_RAW ||
				    n.offset != next_off)
					break;
				size_t more = c->cluster_size;
				if (more > len - done - run)
					more = len - done - run;
				run += more;
				next_off += c->cluster_size;
			}
			ret = io_pread(c->io, dst + done, run, e.offset + in);
			if (ret)
				goto out_unlock;
			done += run;
			continue;
		}
		if (e.kind == MAP_KIND_RAW && in == 0 &&
		    chunk == c->cluster_size) {
			/* whole sealed clusters: opened in the caller's
			 * buffer, contiguous ones read with one pread */
			size_t count;
			ret = read_sealed_run(
				c, o, vc, &e, &seal, dst + done,
				sealed_batch_clusters(
					c, (len - done) >> c->cluster_shift),
				&count);
			if (ret)
				goto out_unlock;
			done += count << c->cluster_shift;
			continue;
		}
		if (e.kind == MAP_KIND_COMPRESSED || e.kind == MAP_KIND_RAW) {
			if (!tmp) {
				tmp = malloc(c->cluster_size);
				if (!tmp) {
					ret = -ENOMEM;
					goto out_unlock;
				}
			}
			if (e.kind == MAP_KIND_RAW)
				ret = read_raw_sealed(c, o->id, vc, &e, &seal,
						      tmp);
			else
				ret = read_compressed(c, o, vc, &e, &seal, tmp);
			if (ret)
				goto out_unlock;
			memcpy(dst + done, tmp + in, chunk);
		} else {
			memset(dst + done, 0, chunk);
		}
		done += chunk;
	}
	*out_len = len;
out_unlock:
	pthread_rwlock_unlock(&c->lock);
	free(tmp);
	return ret;
}

/* Allocate a data cluster, write `data` (C bytes) into it and map it.
 * Encrypted: the cluster is sealed under a fresh nonce first. */
static int store_raw_new(struct container *c, struct object *o, uint64_t vc,
			 const uint8_t *data)
{
	uint64_t n;
	struct map_entry old,
		e = {.kind = MAP_KIND_RAW, .length = c->cluster_size};
	struct map_seal seal = {0};
	uint8_t *sealed = NULL;
	int ret;

	if (c->encrypted) {
		sealed = malloc(c->cluster_size);
		if (!sealed)
			return -ENOMEM;
		memcpy(sealed, data, c->cluster_size);
		ret = crypt_seal(c, CRYPTO_AAD_DATA_RAW, 0, o->id, vc,
				 c->generation + 1, sealed, c->cluster_size,
				 &seal);
		if (ret)
			goto out_free;
		data = sealed;
	}
	for (int attempt = 0;; attempt++) {
		ret = alloc_get(&c->alloc, ALLOC_DATA, &n);
		if (ret)
			goto out_free;
		e.offset = n << c->cluster_shift;
		ret = io_pwrite(c->io, data, c->cluster_size, e.offset);
		/* a full filesystem while the last commit's frees are still
		 * held (the older slot maps them): retire that slot, and the
		 * write goes into what was freed (a discard then a write on
		 * a full disk) */
		if (ret != -ENOSPC || attempt > 0 || !c->alloc.held_num ||
		    c->in_commit)
			break;
		alloc_unref(&c->alloc, n);
		ret = container_retire_held(c);
		if (ret)
			goto out_free;
	}
	if (!ret)
		ret = map_set_sealed(c, o, vc, &e, &seal, &old);
	if (ret) {
		alloc_unref(&c->alloc, n);
		goto out_free;
	}
	map_entry_release(c, o, &old);
out_free:
	free(sealed);
	return ret;
}

/*
 * What compressing one whole cluster gave: a zero cluster (store nothing),
 * an incompressible one (store it raw), or `len` bytes in the caller's
 * buffer.  Needs no container lock (the compressor pool has its own).
 */
enum squeezed {
	SQUEEZED_ZERO,
	SQUEEZED_RAW,
	SQUEEZED_BYTES,
	SQUEEZED_WRITTEN /* RAW, already written in place (squeezed_in_place) */
};

static int squeeze_cluster(struct container *c, const uint8_t *data,
			   uint8_t *out, size_t *out_len, enum squeezed *kind)
{
	struct compressor *cz;
	int ret;

	if (buf_is_zero(data, c->cluster_size)) {
		*kind = SQUEEZED_ZERO;
		return 0;
	}
	ret = compressor_take(c, &cz);
	if (ret)
		return ret;
	if (!compress_promising(cz, data, c->cluster_size)) {
		/* random-looking bytes: RAW without a full try */
		compressor_give(c, cz);
		atomic_fetch_add_explicit(&c->stat_compress_skips, 1,
					  memory_order_relaxed);
		*kind = SQUEEZED_RAW;
		return 0;
	}
	atomic_fetch_add_explicit(&c->stat_compressions, 1,
				  memory_order_relaxed);
	ret = compress_cluster(cz, out, c->cluster_size - FORMAT_SECTOR_SIZE,
			       data, c->cluster_size, out_len);
	compressor_give(c, cz);
	*kind = ret == -ENOSPC ? SQUEEZED_RAW : SQUEEZED_BYTES;
	return ret == -ENOSPC ? 0 : ret;
}

/* Image objects only, and not past this many clusters (256 GiB at 64 KiB):
 * beyond, the fingerprint reads the image back. */
#define FP_MAX_CLUSTERS (1ull << 22)

void object_fp_drop(struct object *o)
{
	free(o->fp_crc);
	free(o->fp_known);
	o->fp_crc = NULL;
	o->fp_known = NULL;
	o->fp_cap = 0;
}

/* Cluster `vc` of `o` now holds `data` (C bytes; NULL: zeros), stored by
 * store_squeezed, the one place the bytes of a compressed object's stored
 * cluster change (write lock held).  Keeps its crc for the fingerprint; on
 * any trouble forgets them all (the fingerprint then reads back). */
static void fp_note(struct container *c, struct object *o, uint64_t vc,
		    const uint8_t *data)
{
	if (!o->name || object_role_of_name(o->name) != OBJECT_ROLE_IMAGE ||
	    vc >= FP_MAX_CLUSTERS) {
		object_fp_drop(o);
		return;
	}
	if (vc >= o->fp_cap) {
		uint64_t cap = o->fp_cap ? o->fp_cap : 1024;
		while (cap <= vc)
			cap *= 2;
		uint32_t *crc = realloc(o->fp_crc, cap * sizeof(*crc));
		if (crc)
			o->fp_crc = crc;
		uint8_t *known = crc ? realloc(o->fp_known, cap) : NULL;
		if (!known) {
			object_fp_drop(o);
			return;
		}
		memset(known + o->fp_cap, 0, cap - o->fp_cap);
		o->fp_known = known;
		o->fp_cap = cap;
	}
	o->fp_crc[vc] = data ? crc32c(0, data, c->cluster_size) : 0;
	o->fp_known[vc] = data ? 1 : 0;
}

static int store_squeezed_map(struct container *c, struct object *o,
			      uint64_t vc, const uint8_t *data, uint8_t *tmp,
			      size_t len, enum squeezed kind);

/* Store one squeezed cluster of a compressed object (write lock held).
 * `tmp` holds the compressed bytes (SQUEEZED_BYTES; sealed in place when
 * encrypted), `data` the cluster itself. */
static int store_squeezed(struct container *c, struct object *o, uint64_t vc,
			  const uint8_t *data, uint8_t *tmp, size_t len,
			  enum squeezed kind)
{
	int ret = store_squeezed_map(c, o, vc, data, tmp, len, kind);
	if (ret)
		object_fp_drop(o); /* which bytes the cluster holds is unsure */
	else
		fp_note(c, o, vc, kind == SQUEEZED_ZERO ? NULL : data);
	return ret;
}

static int store_squeezed_map(struct container *c, struct object *o,
			      uint64_t vc, const uint8_t *data, uint8_t *tmp,
			      size_t len, enum squeezed kind)
{
	struct map_entry old, e = {0};
	struct map_seal seal = {0};
	int ret;

	ret = map_lookup(c, o, vc, &old);
	if (ret)
		return ret;
	if (kind == SQUEEZED_ZERO) {
		ret = map_set(c, o, vc, &e, &old);
		if (!ret)
			map_entry_release(c, o, &old);
		return ret;
	}
	if (kind == SQUEEZED_RAW) {
		/* incompressible: raw, in place if it already is raw
		 * (never when encrypted: every write takes a new nonce) */
		if (old.kind == MAP_KIND_RAW && !c->encrypted &&
		    raw_in_place(c, cluster_of(c, old.offset)))
			return io_pwrite(c->io, data, c->cluster_size,
					 old.offset);
		return store_raw_new(c, o, vc, data);
	}
	uint32_t aligned = (uint32_t)((len + FORMAT_SECTOR_SIZE - 1) &
				      ~(size_t)(FORMAT_SECTOR_SIZE - 1));
	if (!c->pack_cluster || c->pack_used + aligned > c->cluster_size) {
		uint64_t n;
		ret = alloc_get(&c->alloc, ALLOC_DATA, &n);
		if (ret)
			return ret;
		if (c->pack_cluster)
			alloc_unref(&c->alloc, c->pack_cluster);
		c->pack_cluster = n;
		c->pack_used = 0;
		c->alloc.bits[n] |= CLUSTER_PACKED;
	}
	e.kind = MAP_KIND_COMPRESSED;
	e.offset = (c->pack_cluster << c->cluster_shift) + c->pack_used;
	e.length = (uint32_t)len;
	if (c->encrypted) {
		/* compressed first, then sealed; the crc is the
		 * ciphertext's */
		ret = crypt_seal(c, CRYPTO_AAD_DATA_COMPRESSED, 0, o->id, vc,
				 c->generation + 1, tmp, len, &seal);
		if (ret)
			return ret;
	}
	e.crc = crc32c(0, tmp, len);
	ret = io_pwrite(c->io, tmp, len, e.offset);
	if (ret)
		return ret;
	ret = alloc_ref(&c->alloc, c->pack_cluster);
	if (ret)
		return ret;
	ret = map_set_sealed(c, o, vc, &e, &seal, &old);
	if (ret) {
		alloc_unref(&c->alloc, c->pack_cluster);
		return ret;
	}
	c->pack_used += aligned;
	map_entry_release(c, o, &old);
	return 0;
}

/* Store one whole cluster of a compressed object (write lock held). */
static int store_compressed(struct container *c, struct object *o, uint64_t vc,
			    const uint8_t *data)
{
	uint8_t *tmp = malloc(c->cluster_size);
	enum squeezed kind;
	size_t len = 0;
	int ret;

	if (!tmp)
		return -ENOMEM;
	ret = squeeze_cluster(c, data, tmp, &len, &kind);
	if (!ret)
		ret = store_squeezed(c, o, vc, data, tmp, len, kind);
	free(tmp);
	return ret;
}

int object_flush_pending(struct container *c, struct object *o)
{
	if (!o->pend_valid)
		return 0;
	int ret = store_compressed(c, o, o->pend_vc, o->pend_buf);
	if (ret)
		return ret;
	o->pend_valid = false;
	return 0;
}

/* The unit a sparse write rounds to: the host filesystem's block (4 KiB on
 * ext4 and XFS as made by default).  A larger block only costs space; the
 * contents are right whatever it is. */
#define SPARSE_PAGE 4096u

/*
 * Part of a HOLE or ZERO cluster of an uncompressed, unencrypted object:
 * the write goes into a cluster that reads as zeros on the host (punched by
 * this process and not written since, or past the end of the file: alloc.c
 * invariant 8), and only the SPARSE_PAGE pages it touches are written; the
 * rest of the cluster stays a hole in the host file and reads as zeros, as
 * the hole it replaces did.  So a 4 KiB write into a hole of a 64 KiB
 * cluster costs 4 KiB of host space, not 64 (issue 18).  The crash
 * argument (FORMAT.md section 7): the punch or the truncate that made the
 * cluster read as zeros was issued before this write, and the fdatasync of
 * the commit that maps the cluster (step 4) comes after both.
 * Returns -EAGAIN, having changed nothing, when no such cluster can be had
 * (the caller writes a whole cluster instead).  Write lock held.
 */
static int store_raw_sparse(struct container *c, struct object *o, uint64_t vc,
			    uint32_t in, const uint8_t *data, size_t chunk)
{
	const uint32_t lo = in & ~(SPARSE_PAGE - 1);
	uint32_t hi = (uint32_t)((in + chunk + SPARSE_PAGE - 1) &
				 ~(uint64_t)(SPARSE_PAGE - 1));
	struct map_entry old,
		e = {.kind = MAP_KIND_RAW, .length = c->cluster_size};
	const uint64_t end_before = c->alloc.count;
	uint64_t n, file_size;
	int ret;

	if (hi > c->cluster_size)
		hi = c->cluster_size;
	uint8_t *buf = calloc(1, hi - lo);
	if (!buf)
		return -ENOMEM;
	memcpy(buf + (in - lo), data, chunk);
	ret = alloc_get(&c->alloc, ALLOC_DATA_SPARSE, &n);
	if (ret) {
		free(buf);
		return ret == -EFBIG ? -EAGAIN : ret;
	}
	e.offset = n << c->cluster_shift;
	/* A cluster past the old end must be past the file's end too
	 * (invariant 8); if the file ever reached into it, its bytes are
	 * unknown: write it whole instead.  The file is extended to cover
	 * the whole cluster (a hole: no host blocks), because open refuses a
	 * map entry that ends past the end of the file. */
	ret = io_size(c->io, &file_size);
	if (!ret && n >= end_before && file_size > e.offset)
		ret = -EAGAIN;
	if (!ret && file_size < e.offset + c->cluster_size)
		ret = io_ftruncate(c->io, e.offset + c->cluster_size);
	if (!ret)
		ret = io_pwrite(c->io, buf, hi - lo, e.offset + lo);
	if (!ret)
		ret = map_set(c, o, vc, &e, &old);
	if (ret) {
		alloc_unref(&c->alloc, n);
		/* a full filesystem: the whole-cluster path knows what to
		 * do about it (held clusters) */
		if (ret == -ENOSPC)
			ret = -EAGAIN;
	} else {
		map_entry_release(c, o, &old);
	}
	free(buf);
	return ret;
}

/* Cluster `vc` of `o` as it reads with `chunk` bytes of `data` at `in`,
 * stored RAW in a new cluster (write lock held). */
static int store_raw_merged(struct container *c, struct object *o, uint64_t vc,
			    uint32_t in, const uint8_t *data, size_t chunk)
{
	uint8_t *buf = malloc(c->cluster_size);
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = read_cluster(c, o, vc, buf);
	if (!ret) {
		memcpy(buf + in, data, chunk);
		ret = store_raw_new(c, o, vc, buf);
	}
	free(buf);
	return ret;
}

/* Staged RAW clusters a compressed object may hold at once; past it,
 * partial writes go through the pending cluster as before. */
#define STAGED_MAX (1u << 20)

/* May `o`'s partial writes be staged RAW (see "Staged clusters")? */
static bool stage_ok(const struct container *c, const struct object *o)
{
	return !c->encrypted && o->name &&
	       object_role_of_name(o->name) == OBJECT_ROLE_DISK;
}

/*
 * May cluster `vc` of `o` be rewritten in place (the fast path)?  It must
 * be RAW and owned by the live tree alone (raw_in_place), and, of a
 * compressed disk (`staged`), not the pending cluster, whose newest bytes
 * are in pend_buf.  *e is its entry.  Read or write lock held.
 */
static bool in_place_entry(struct container *c, struct object *o, uint64_t vc,
			   bool staged, struct map_entry *e)
{
	return map_lookup(c, o, vc, e) == 0 && e->kind == MAP_KIND_RAW &&
	       raw_in_place(c, cluster_of(c, e->offset)) &&
	       !(staged && o->pend_valid && o->pend_vc == vc);
}

static void staged_note(struct object *o, uint64_t vc)
{
	if (o->staged_num == o->staged_cap) {
		size_t cap = o->staged_cap ? o->staged_cap * 2 : 64;
		uint64_t *n = realloc(o->staged, cap * sizeof(*n));
		if (!n)
			return; /* it stays RAW: larger, never wrong */
		o->staged = n;
		o->staged_cap = cap;
	}
	o->staged[o->staged_num++] = vc;
}

/* Part of cluster `vc` of a compressed disk, staged RAW (write lock held).
 * Returns -EAGAIN, having changed nothing, when the pending path must
 * take it (too many staged, or no room for a RAW cluster). */
static int write_staged(struct container *c, struct object *o, uint64_t vc,
			uint32_t in, const uint8_t *data, size_t chunk)
{
	struct map_entry e;
	int ret;

	ret = map_lookup(c, o, vc, &e);
	if (ret)
		return ret;
	if (e.kind == MAP_KIND_RAW &&
	    raw_in_place(c, cluster_of(c, e.offset))) {
		atomic_store(&c->data_dirty, true);
		return io_pwrite(c->io, data, chunk, e.offset + in);
	}
	if ((e.kind == MAP_KIND_HOLE || e.kind == MAP_KIND_ZERO) &&
	    buf_is_zero(data, chunk))
		return 0;
	if (o->staged_num >= STAGED_MAX)
		return -EAGAIN;
	ret = store_raw_merged(c, o, vc, in, data, chunk);
	if (ret == -ENOSPC)
		return -EAGAIN; /* compressed, it may still fit */
	/* a RAW cluster copied (a snapshot shares it) was RAW before: staged
	 * already, or incompressible */
	if (!ret && e.kind != MAP_KIND_RAW)
		staged_note(o, vc);
	return ret;
}

/* Write part of one virtual cluster (write lock held). */
static int write_chunk(struct container *c, struct object *o, uint64_t vc,
		       uint32_t in, const uint8_t *data, size_t chunk)
{
	struct map_entry e;
	int ret;

	if (object_is_compressed(c, o)) {
		if (chunk < c->cluster_size && stage_ok(c, o) &&
		    !(o->pend_valid && o->pend_vc == vc)) {
			ret = write_staged(c, o, vc, in, data, chunk);
			if (ret != -EAGAIN)
				return ret;
		}
		if (!o->pend_buf) {
			o->pend_buf = malloc(c->cluster_size);
			if (!o->pend_buf)
				return -ENOMEM;
		}
		if (!o->pend_valid || o->pend_vc != vc) {
			ret = object_flush_pending(c, o);
			if (ret)
				return ret;
			if (chunk != c->cluster_size) {
				ret = read_cluster(c, o, vc, o->pend_buf);
				if (ret)
					return ret;
			}
			o->pend_vc = vc;
			o->pend_valid = true;
		}
		memcpy(o->pend_buf + in, data, chunk);
		/* A complete cluster is stored now.  If that fails the bytes
		 * stay pending (the write was accepted, like a page cache
		 * accepts it): the error comes back from the next write that
		 * needs the buffer, or from the commit, which retries. */
		if (in + chunk == c->cluster_size)
			(void)object_flush_pending(c, o);
		return 0;
	}

	ret = map_lookup(c, o, vc, &e);
	if (ret)
		return ret;
	/* in place only where no snapshot shares the cluster; else the
	 * cluster is copied below, old bytes and new */
	if (e.kind == MAP_KIND_RAW && !c->encrypted &&
	    raw_in_place(c, cluster_of(c, e.offset))) {
		atomic_store(&c->data_dirty, true);
		return io_pwrite(c->io, data, chunk, e.offset + in);
	}
	if ((e.kind == MAP_KIND_HOLE || e.kind == MAP_KIND_ZERO) &&
	    buf_is_zero(data, chunk))
		return 0;
	if (chunk == c->cluster_size)
		return store_raw_new(c, o, vc, data);
	/* part of a hole: only its own pages, when a cluster that reads as
	 * zeros can be had (encrypted clusters are sealed whole) */
	if ((e.kind == MAP_KIND_HOLE || e.kind == MAP_KIND_ZERO) &&
	    !c->encrypted && c->cluster_size > SPARSE_PAGE) {
		ret = store_raw_sparse(c, o, vc, in, data, chunk);
		if (ret != -EAGAIN)
			return ret;
	}
	return store_raw_merged(c, o, vc, in, data, chunk);
}

/* After `o` was written up to byte `end` (write lock held): the size, the
 * dirty flags, mtime. */
static void write_done(struct container *c, struct object *o, uint64_t end)
{
	if (end > o->size) {
		o->size = end;
		o->dirty = true;
	}
	c->txn_dirty = true;
	container_touch(o, true);
}

/* Write cluster by cluster (write lock held, save transition made). */
static int write_chunks(struct container *c, struct object *o,
			const uint8_t *src, size_t len, uint64_t offset)
{
	int ret = 0;
	size_t done = 0;
	while (done < len) {
		uint64_t pos = offset + done;
		uint64_t vc = pos >> c->cluster_shift;
		uint32_t in = (uint32_t)(pos & (c->cluster_size - 1));
		size_t chunk = c->cluster_size - in;
		if (chunk > len - done)
			chunk = len - done;
		ret = write_chunk(c, o, vc, in, src + done, chunk);
		if (ret)
			break;
		done += chunk;
	}
	if (done > 0)
		write_done(c, o, offset + done);
	return ret;
}

static int check_range(uint64_t offset, uint64_t len, unsigned shift)
{
	uint64_t max = FORMAT_MAX_VCLUSTERS << shift;
	if (offset > max || len > max - offset)
		return -EFBIG;
	return 0;
}

/* Common prologue of every write-locked modification (write lock held):
 * the object, writable, and the save-lock transition the change needs
 * committed first. */
static int write_begin(struct container *c, uint64_t id,
		       struct object **out_obj)
{
	struct object *o = object_find(c, id);
	int ret;
	if (!o)
		return -ENOENT;
	ret = c->read_only ? -EROFS : c->poisoned;
	if (!ret && save_needs_transition(c, o))
		ret = save_before_modify(c, o);
	if (!ret)
		*out_obj = o;
	return ret;
}

/* write_begin, and the pending compressed cluster stored (truncate, punch,
 * zero work on the map). */
static int modify_begin(struct container *c, uint64_t id,
			struct object **out_obj)
{
	int ret = write_begin(c, id, out_obj);
	return ret ? ret : object_flush_pending(c, *out_obj);
}

/*
 * The end of a change under the write lock: the map cache back within its
 * budget, and dirty map leaves past it committed (a commit makes them clean,
 * so evictable; core/map.c, "Cache").  The change itself is done either
 * way: a failed commit leaves it in the open transaction for the next one
 * (and a failed sync poisons the container, which reports it).
 */
static void map_cache_settle(struct container *c)
{
	map_cache_trim(c);
	if (map_cache_dirty_over(c) && !c->in_commit && !c->poisoned)
		(void)container_commit_locked(c);
}

/* Any write, under the write lock. */
static int write_slow(struct container *c, uint64_t id, const uint8_t *src,
		      size_t len, uint64_t offset)
{
	struct object *o;
	int ret;

	container_wrlock(c);
	ret = write_begin(c, id, &o);
	if (!ret)
		ret = write_chunks(c, o, src, len, offset);
	map_cache_settle(c);
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

/*
 * Whole clusters of an encrypted, uncompressed object, sealed outside the
 * container lock.  Sealing (AES-256-GCM) and writing a cluster are nearly
 * all the cost of an encrypted write, and under the write lock requests ran
 * one at a time.  Now the write lock is taken twice, briefly: (A) a nonce
 * and a fresh cluster for each whole cluster; (C) map them.  In between (B)
 * requests seal and write in parallel, holding no lock.  During B the
 * clusters are allocated but in no map, and a commit may run:
 * c->inflight_clusters keeps them out of its used count, and the tree it
 * writes simply does not have them yet (a crash leaves them free).  The
 * save lock is looked at again in C: a seal may have come in between, and
 * its transition must be committed before the map changes.  Returns
 * -EAGAIN, having done nothing, when the object is compressed.
 */
static int write_sealed_clusters(struct container *c, uint64_t id,
				 const uint8_t *src, uint64_t vc0, size_t count)
{
	const size_t cs = c->cluster_size;
	const size_t batch = sealed_batch_clusters(c, count);
	struct map_seal *seals = calloc(count, sizeof(*seals));
	uint64_t *clusters = calloc(count, sizeof(*clusters));
	uint8_t *buf = malloc(batch * cs);
	size_t taken = 0, mapped = 0;
	struct object *o;
	int ret = 0;

	if (!seals || !clusters || !buf) {
		ret = -ENOMEM;
		goto out_free;
	}

	/* A. nonces and clusters */
	container_wrlock(c);
	ret = write_begin(c, id, &o);
	if (!ret && object_is_compressed(c, o))
		ret = -EAGAIN;
	while (!ret && taken < count) {
		seals[taken].birth = c->generation + 1;
		ret = crypt_nonce(c, seals[taken].nonce);
		if (!ret)
			ret = alloc_get(&c->alloc, ALLOC_DATA,
					&clusters[taken]);
		if (!ret)
			taken++;
	}
	c->inflight_clusters += taken;
	pthread_rwlock_unlock(&c->lock);

	/* B. seal and write, no lock: clusters whose places follow each
	 * other (first-fit hands a long write consecutive ones) are sealed
	 * into one buffer and written with one pwrite */
	size_t written = 0;
	while (!ret && written < taken) {
		size_t n = 0;
		while (!ret && n < batch && written + n < taken &&
		       clusters[written + n] == clusters[written] + n) {
			ret = crypt_seal_to(c, CRYPTO_AAD_DATA_RAW, 0, id,
					    vc0 + written + n,
					    &seals[written + n], buf + n * cs,
					    src + (written + n) * cs, cs);
			if (!ret)
				n++;
		}
		if (!ret)
			ret = io_pwrite(c->io, buf, n * cs,
					clusters[written] << c->cluster_shift);
		if (!ret)
			written += n;
	}

	/* C. map what was written; give back the rest */
	container_wrlock(c);
	if (!ret)
		ret = write_begin(c, id, &o);
	while (!ret && mapped < written) {
		struct map_entry old,
			e = {.kind = MAP_KIND_RAW,
			     .length = (uint32_t)cs,
			     .offset = clusters[mapped] << c->cluster_shift};
		ret = map_set_sealed(c, o, vc0 + mapped, &e, &seals[mapped],
				     &old);
		if (ret)
			break;
		map_entry_release(c, o, &old);
		mapped++;
	}
	for (size_t i = mapped; i < taken; i++)
		alloc_unref(&c->alloc, clusters[i]);
	c->inflight_clusters -= taken;
	if (mapped > 0)
		write_done(c, o, (vc0 + mapped) << c->cluster_shift);
	map_cache_settle(c);
	pthread_rwlock_unlock(&c->lock);
out_free:
	free(buf);
	free(clusters);
	free(seals);
	return ret;
}

/* Whether cluster `vc`'s mapping is still the one a partial write read
 * (same place, same seal).  A nonce is never used twice, so an equal nonce
 * means the very same sealed bytes, even where a freed cluster came back. */
static bool mapping_unchanged(const struct map_entry *a,
			      const struct map_seal *sa,
			      const struct map_entry *b,
			      const struct map_seal *sb)
{
	return a->kind == b->kind && a->offset == b->offset &&
	       a->length == b->length && sa->birth == sb->birth &&
	       memcmp(sa->nonce, sb->nonce, sizeof(sa->nonce)) == 0 &&
	       memcmp(sa->tag, sb->tag, sizeof(sa->tag)) == 0;
}

/* Times a partial encrypted write starts over when another write changed
 * its cluster meanwhile, before it takes the write lock for all of it. */
#define SEALED_PARTIAL_TRIES 4

/*
 * Part of one cluster of an encrypted, uncompressed object, with the heavy
 * part outside the container lock, like write_sealed_clusters.  Under the
 * write lock, briefly: (A) the cluster's mapping, a nonce and a fresh
 * cluster.  No lock (B): the old cluster read and opened, the new bytes
 * merged in, the result sealed and written to the fresh cluster.  Write
 * lock (C): if the mapping is still the one read in A, the fresh cluster
 * replaces it; if another write changed it meanwhile, its bytes would be
 * lost, so the fresh cluster is given back and the write starts over.
 * The old cluster may be freed and even reused while B reads it: then its
 * bytes fail to open, and C, seeing the mapping changed, starts over; a
 * failure to open a mapping that did not change is the cluster's own
 * (-EBADMSG, as the locked path reports it).  Returns -EAGAIN, having
 * changed nothing, when the locked path must take it (a compressed
 * object, a write into a hole that is all zeros, a cluster that kept
 * changing, a full filesystem).
 */
static int write_sealed_partial(struct container *c, uint64_t id,
				const uint8_t *src, size_t len, uint64_t offset)
{
	const size_t cs = c->cluster_size;
	const uint64_t vc = offset >> c->cluster_shift;
	const uint32_t in = (uint32_t)(offset & (cs - 1));
	uint8_t *plain = malloc(cs), *sealed = malloc(cs);
	int ret = -EAGAIN;

	if (!plain || !sealed) {
		ret = -ENOMEM;
		goto out_free;
	}
	for (int attempt = 0; attempt < SEALED_PARTIAL_TRIES; attempt++) {
		struct map_entry seen, now;
		struct map_seal seen_seal, now_seal, seal = {0};
		struct object *o;
		uint64_t n = 0;
		int opened;
		bool taken = false, mapped = false, changed = false;

		/* A. the mapping, a nonce, a cluster */
		container_wrlock(c);
		ret = write_begin(c, id, &o);
		if (!ret && object_is_compressed(c, o))
			ret = -EAGAIN;
		if (!ret)
			ret = map_lookup_seal(c, o, vc, &seen, &seen_seal);
		if (!ret && seen.kind != MAP_KIND_RAW &&
		    (seen.kind == MAP_KIND_COMPRESSED || buf_is_zero(src, len)))
			ret = -EAGAIN;
		if (!ret) {
			seal.birth = c->generation + 1;
			ret = crypt_nonce(c, seal.nonce);
		}
		if (!ret)
			ret = alloc_get(&c->alloc, ALLOC_DATA, &n);
		if (!ret) {
			taken = true;
			c->inflight_clusters++;
		}
		pthread_rwlock_unlock(&c->lock);
		if (ret)
			break;

		/* B. read, open, merge, seal, write: no lock */
		opened = 0;
		if (seen.kind == MAP_KIND_RAW)
			opened = read_raw_sealed(c, id, vc, &seen, &seen_seal,
						 plain);
		else
			memset(plain, 0, cs);
		if (!opened) {
			memcpy(plain + in, src, len);
			ret = crypt_seal_to(c, CRYPTO_AAD_DATA_RAW, 0, id, vc,
					    &seal, sealed, plain, cs);
			if (!ret)
				ret = io_pwrite(c->io, sealed, cs,
						n << c->cluster_shift);
		}

		/* C. map it if nothing changed in between */
		container_wrlock(c);
		int begun = write_begin(c, id, &o);
		if (!begun)
			begun = map_lookup_seal(c, o, vc, &now, &now_seal);
		if (begun) {
			ret = begun;
		} else if (!mapping_unchanged(&seen, &seen_seal, &now,
					      &now_seal)) {
			changed = true;
		} else if (opened) {
			ret = opened;
		} else if (!ret) {
			struct map_entry old,
				e = {.kind = MAP_KIND_RAW,
				     .length = (uint32_t)cs,
				     .offset = n << c->cluster_shift};
			ret = map_set_sealed(c, o, vc, &e, &seal, &old);
			if (!ret) {
				map_entry_release(c, o, &old);
				mapped = true;
				write_done(c, o, offset + len);
			}
		}
		if (taken) {
			if (!mapped)
				alloc_unref(&c->alloc, n);
			c->inflight_clusters--;
		}
		map_cache_settle(c);
		pthread_rwlock_unlock(&c->lock);
		/* a full filesystem: the locked path knows how to make room
		 * (store_raw_new retires the held slot and writes again) */
		if (ret == -ENOSPC && !mapped)
			ret = -EAGAIN;
		if (!changed)
			break;
		ret = -EAGAIN; /* lost the race every time: the locked path */
	}
out_free:
	free(sealed);
	free(plain);
	return ret;
}

/* Compressing one request's whole clusters, shared by two threads. */
struct squeeze_batch {
	struct container *c;
	const uint8_t *src; /* count clusters */
	uint8_t *out;	    /* count clusters of room */
	size_t *len;
	enum squeezed *kind;
	size_t count;
};

struct squeeze_part {
	struct squeeze_batch *b;
	size_t first, step;
	int ret;
};

static void *squeeze_part_main(void *arg)
{
	struct squeeze_part *p = arg;
	struct squeeze_batch *b = p->b;
	const size_t cs = b->c->cluster_size;

	for (size_t i = p->first; i < b->count && !p->ret; i += p->step)
		p->ret = squeeze_cluster(b->c, b->src + i * cs, b->out + i * cs,
					 &b->len[i], &b->kind[i]);
	return NULL;
}

/*
 * The clusters of batch `b` that stay RAW (incompressible) and replace a
 * RAW cluster of a compressed disk's own, written in place under the read
 * lock, as the fast path of object_write writes a staged cluster: a guest
 * rewriting already-compressed or encrypted data then neither waits for
 * the write lock nor for a commit's syncs.  Those are marked
 * SQUEEZED_WRITTEN; the rest is left to the write lock.  Returns 1 when
 * every cluster was written, else 0 or a negative errno.
 */
static int squeezed_in_place(struct container *c, uint64_t id,
			     const uint8_t *src, uint64_t vc0,
			     struct squeeze_batch *b)
{
	const size_t cs = c->cluster_size;
	size_t written = 0, i;
	int ret = 0;

	for (i = 0; i < b->count && b->kind[i] != SQUEEZED_RAW; i++)
		;
	if (i == b->count)
		return 0;		/* nothing RAW: spare the lookups */
	ret = container_rdlock_maps(c); /* in_place_entry reads refs */
	if (ret)
		return ret;
	struct object *o = object_find(c, id);
	if (!o || c->read_only || c->poisoned || !stage_ok(c, o) ||
	    save_needs_transition(c, o) ||
	    ((vc0 + b->count) << c->cluster_shift) > o->size)
		goto out_unlock; /* the write lock sorts it out */
	for (; i < b->count && !ret; i++) {
		struct map_entry e;
		if (b->kind[i] != SQUEEZED_RAW ||
		    !in_place_entry(c, o, vc0 + i, true, &e))
			continue;
		ret = io_pwrite(c->io, src + i * cs, cs, e.offset);
		if (!ret) {
			b->kind[i] = SQUEEZED_WRITTEN;
			written++;
		}
	}
	if (written > 0) {
		atomic_store(&c->data_dirty, true);
		container_touch(o, true);
	}
out_unlock:
	pthread_rwlock_unlock(&c->lock);
	if (ret)
		return ret;
	return written == b->count;
}

/*
 * Whole clusters of a compressed object (memory.save; disks of a
 * --compress-disks guest), compressed outside the container lock, by two
 * threads when there are at least SQUEEZE_SPLIT of them.  Compression is
 * nearly all the cost of writing a memory image, and a save stream arrives
 * one request at a time (QEMU's migration, dd), so the only parallelism
 * there is inside a request.  The compressed bytes are then packed and
 * mapped under the write lock, exactly as a cluster filled through the
 * pending buffer is (store_squeezed).  A pending cluster inside the range
 * is stored first, so this request's clusters replace it whole.
 */
#define SQUEEZE_SPLIT 2

static int write_squeezed_clusters(struct container *c, uint64_t id,
				   const uint8_t *src, uint64_t vc0,
				   size_t count)
{
	const size_t cs = c->cluster_size;
	struct squeeze_batch b = {.c = c, .src = src, .count = count};
	struct squeeze_part mine = {.b = &b, .first = 0, .step = 1};
	struct squeeze_part other = {.b = &b, .first = 1, .step = 2};
	pthread_t helper;
	bool helped = false;
	struct object *o;
	int ret = 0;

	b.out = malloc(count * cs);
	b.len = calloc(count, sizeof(*b.len));
	b.kind = calloc(count, sizeof(*b.kind));
	if (!b.out || !b.len || !b.kind) {
		ret = -ENOMEM;
		goto out_free;
	}
	if (count >= SQUEEZE_SPLIT &&
	    pthread_create(&helper, NULL, squeeze_part_main, &other) == 0) {
		helped = true;
		mine.step = 2;
	}
	squeeze_part_main(&mine);
	if (helped)
		pthread_join(helper, NULL);
	ret = mine.ret ? mine.ret : other.ret;
	if (ret)
		goto out_free;
	ret = squeezed_in_place(c, id, src, vc0, &b);
	if (ret == 1) {
		ret = 0;
		goto out_free; /* all of it written in place */
	}
	if (ret)
		goto out_free;

	container_wrlock(c);
	ret = write_begin(c, id, &o);
	if (!ret && !object_is_compressed(c, o))
		ret = -EAGAIN; /* cannot happen today: compression is fixed
				* at create; -EAGAIN makes the caller redo it */
	if (!ret && o->pend_valid && o->pend_vc >= vc0 &&
	    o->pend_vc < vc0 + count)
		ret = object_flush_pending(c, o);
	size_t done = 0;
	while (!ret && done < count) {
		if (b.kind[done] != SQUEEZED_WRITTEN)
			ret = store_squeezed(c, o, vc0 + done, src + done * cs,
					     b.out + done * cs, b.len[done],
					     b.kind[done]);
		if (!ret)
			done++;
	}
	if (done > 0)
		write_done(c, o, (vc0 + done) << c->cluster_shift);
	map_cache_settle(c);
	pthread_rwlock_unlock(&c->lock);
out_free:
	free(b.kind);
	free(b.len);
	free(b.out);
	return ret;
}

/*
 * A write to a compressed object split at cluster boundaries: the partial
 * clusters at either end through the write lock, the whole ones in between
 * through write_squeezed_clusters, which compresses them outside the lock.
 */
static int write_by_cluster(struct container *c, uint64_t id,
			    const uint8_t *src, size_t len, uint64_t offset)
{
	const uint64_t mask = c->cluster_size - 1;
	const uint64_t first = (offset + mask) & ~mask;
	const uint64_t last = (offset + len) & ~mask;
	int ret = 0;

	if (last <= first)
		return write_slow(c, id, src, len, offset);
	if (first > offset)
		ret = write_slow(c, id, src, first - offset, offset);
	if (!ret) {
		ret = write_squeezed_clusters(
			c, id, src + (first - offset),
			first >> c->cluster_shift,
			(size_t)((last - first) >> c->cluster_shift));
		if (ret == -EAGAIN)
			ret = write_slow(c, id, src + (first - offset),
					 last - first, first);
	}
	if (!ret && offset + len > last)
		ret = write_slow(c, id, src + (last - offset),
				 offset + len - last, last);
	return ret;
}

/* Part of one cluster of an encrypted object: sealed outside the lock when
 * it can be (write_sealed_partial), else under it. */
static int write_sealed_part(struct container *c, uint64_t id,
			     const uint8_t *src, size_t len, uint64_t offset)
{
	int ret = write_sealed_partial(c, id, src, len, offset);
	return ret == -EAGAIN ? write_slow(c, id, src, len, offset) : ret;
}

/*
 * A write to an encrypted object (every write takes a new nonce, there is
 * no in-place path), split at cluster boundaries: the partial clusters at
 * either end through write_sealed_part, the whole ones in between through
 * write_sealed_clusters (write_squeezed_clusters when the object is
 * compressed).  Each does its heavy part outside the lock.
 */
static int write_sealed_by_cluster(struct container *c, uint64_t id,
				   const uint8_t *src, size_t len,
				   uint64_t offset)
{
	const uint64_t mask = c->cluster_size - 1, end = offset + len;
	const uint64_t first = (offset + mask) & ~mask, last = end & ~mask;
	const uint64_t head_end = first < end ? first : end;
	const uint64_t tail = last > head_end ? last : head_end;
	int ret = 0;

	if (head_end > offset)
		ret = write_sealed_part(c, id, src, head_end - offset, offset);
	if (!ret && last > first) {
		const uint8_t *mid = src + (first - offset);
		uint64_t vc0 = first >> c->cluster_shift;
		size_t count = (size_t)((last - first) >> c->cluster_shift);
		ret = write_sealed_clusters(c, id, mid, vc0, count);
		if (ret == -EAGAIN)
			ret = write_squeezed_clusters(c, id, mid, vc0, count);
		if (ret == -EAGAIN)
			ret = write_slow(c, id, mid, last - first, first);
	}
	if (!ret && end > tail)
		ret = write_sealed_part(c, id, src + (tail - offset),
					end - tail, tail);
	return ret;
}

static int object_write_untainted(struct container *c, uint64_t id,
				  const void *buf, size_t len, uint64_t offset);

/* A failed write to an image leaves bytes nobody can vouch for: the image
 * is tainted and can never become resumable (savelock.h rule 3c). */
int object_write(struct container *c, uint64_t id, const void *buf, size_t len,
		 uint64_t offset)
{
	atomic_fetch_add_explicit(&c->write_calls, 1, memory_order_relaxed);
	int ret = object_write_untainted(c, id, buf, len, offset);
	if (ret && ret != -ENOENT)
		save_taint_if_image(c, id);
	container_slack_settle(c);
	return ret;
}

static int object_write_untainted(struct container *c, uint64_t id,
				  const void *buf, size_t len, uint64_t offset)
{
	const uint8_t *src = buf;
	size_t done = 0;
	int ret;

	ret = check_range(offset, len, c->cluster_shift);
	if (ret || len == 0)
		return ret;

	if (c->encrypted)
		return write_sealed_by_cluster(c, id, src, len, offset);

	/* Fast path under the read lock (in_place_entry reads refs). */
	ret = container_rdlock_maps(c);
	if (ret)
		return ret;
	struct object *o = object_find(c, id);
	if (!o) {
		pthread_rwlock_unlock(&c->lock);
		return -ENOENT;
	}
	ret = c->read_only ? -EROFS : c->poisoned;
	if (ret) {
		pthread_rwlock_unlock(&c->lock);
		return ret;
	}
	const bool compressed = object_is_compressed(c, o);
	if (compressed &&
	    len >= ((offset + c->cluster_size - 1) & ~(c->cluster_size - 1)) -
			    offset + c->cluster_size) {
		/* at least one whole cluster: compressed outside the lock */
		pthread_rwlock_unlock(&c->lock);
		return write_by_cluster(c, id, src, len, offset);
	}
	/* a compressed disk's staged (RAW) clusters go in place too, but
	 * never its pending one: that one's newest bytes are in pend_buf */
	const bool staged = compressed && stage_ok(c, o);
	if ((!compressed || staged) && !save_needs_transition(c, o) &&
	    offset + len <= o->size) {
		while (done < len) {
			uint64_t pos = offset + done;
			uint64_t vc = pos >> c->cluster_shift;
			uint32_t in = (uint32_t)(pos & (c->cluster_size - 1));
			struct map_entry e;
			if (!in_place_entry(c, o, vc, staged, &e))
				break;
			size_t run = c->cluster_size - in;
			if (run > len - done)
				run = len - done;
			uint64_t next_off = e.offset + c->cluster_size;
			while (done + run < len) {
				struct map_entry n;
				if (!in_place_entry(
					    c, o,
					    vc + (in + run) / c->cluster_size,
					    staged, &n) ||
				    n.offset != next_off)
					break;
				size_t more = c->cluster_size;
				if (more > len - done - run)
					more = len - done - run;
				run += more;
				next_off += c->cluster_size;
			}
			ret = io_pwrite(c->io, src + done, run, e.offset + in);
			if (ret)
				break;
			done += run;
		}
		if (done > 0) {
			atomic_store(&c->data_dirty, true);
			container_touch(o, true);
		}
	}
	pthread_rwlock_unlock(&c->lock);
	if (ret || done == len)
		return ret;
	return write_slow(c, id, src + done, len - done, offset + done);
}

static int object_write_zeros_locked(struct container *c, struct object *o,
				     uint64_t offset, uint64_t len)
{
	uint8_t *zero = calloc(1, c->cluster_size);
	int ret = 0;
	if (!zero)
		return -ENOMEM;
	while (len > 0 && !ret) {
		uint32_t in = (uint32_t)(offset & (c->cluster_size - 1));
		size_t chunk = c->cluster_size - in;
		if (chunk > len)
			chunk = (size_t)len;
		ret = write_chunk(c, o, offset >> c->cluster_shift, in, zero,
				  chunk);
		offset += chunk;
		len -= chunk;
	}
	free(zero);
	if (!ret)
		ret = object_flush_pending(c, o);
	return ret;
}

int object_truncate(struct container *c, uint64_t id, uint64_t size)
{
	struct object *o;
	int ret;

	ret = check_range(size, 0, c->cluster_shift);
	if (ret)
		return ret;
	container_wrlock(c);
	ret = modify_begin(c, id, &o);
	if (ret)
		goto out_unlock;
	if (size < o->size) {
		uint64_t cs = c->cluster_size;
		uint64_t tail_end = (size + cs - 1) & ~(cs - 1);
		if (tail_end > o->size)
			tail_end = o->size;
		if (size & (cs - 1)) {
			ret = object_write_zeros_locked(c, o, size,
							tail_end - size);
			if (ret)
				goto out_unlock;
		}
		ret = map_truncate(c, o, (size + cs - 1) >> c->cluster_shift);
		if (ret)
			goto out_unlock;
	}
	if (size != o->size) {
		o->size = size;
		o->dirty = true;
		c->txn_dirty = true;
	}
	if (size == 0 && (o->flags & OBJECT_FLAG_IMAGE_TAINTED)) {
		/* every byte nobody could vouch for is gone */
		o->flags &= ~OBJECT_FLAG_IMAGE_TAINTED;
		o->dirty = true;
		c->txn_dirty = true;
	}
	container_touch(o, true);
out_unlock:
	map_cache_settle(c);
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

/*
 * Sets every whole cluster of [offset, offset + len) to a HOLE or ZERO entry
 * and writes zeros into the partial clusters at either end.  Clusters that
 * need nothing are skipped a subtree at a time (map_find), so the cost
 * follows the clusters mapped, not the length: punching a terabyte of a
 * sparse disk is as quick as punching the few clusters it holds.  What may
 * be skipped: for a HOLE, every cluster holding no data (a ZERO entry passed
 * over stays ZERO; both read zeros and hold no space); for a ZERO, a hole at
 * or past old_end (the object's size before the call, in clusters), since
 * nothing lies past the end of an object to be inherited or shown.
 */
static int unmap_range(struct container *c, struct object *o, uint64_t offset,
		       uint64_t len, uint16_t kind, uint64_t old_end)
{
	uint64_t cs = c->cluster_size;
	uint64_t end = offset + len;
	int ret = 0;

	while (offset < end && !ret) {
		uint64_t vc = offset >> c->cluster_shift;
		if (kind == MAP_KIND_HOLE || vc >= old_end) {
			uint64_t next;
			int found = map_find(c, o, vc, true, &next);
			if (found == -ENXIO)
				next = UINT64_MAX >> c->cluster_shift;
			else if (found) {
				ret = found;
				break;
			}
			if (next > vc) {
				/* [vc, next) holds no data */
				if (next > (end - 1) >> c->cluster_shift)
					break;
				offset = next << c->cluster_shift;
				continue;
			}
		}
		uint64_t cend = (vc + 1) << c->cluster_shift;
		uint64_t stop = end < cend ? end : cend;
		if ((offset & (cs - 1)) == 0 && stop == cend) {
			struct map_entry old, e = {.kind = kind};
			ret = map_lookup(c, o, vc, &old);
			if (!ret && old.kind != kind) {
				ret = map_set(c, o, vc, &e, &old);
				if (!ret)
					map_entry_release(c, o, &old);
			}
		} else {
			struct map_entry cur;
			ret = map_lookup(c, o, vc, &cur);
			if (!ret && cur.kind != MAP_KIND_HOLE &&
			    cur.kind != MAP_KIND_ZERO)
				ret = object_write_zeros_locked(c, o, offset,
								stop - offset);
		}
		offset = stop;
	}
	return ret;
}

int object_punch(struct container *c, uint64_t id, uint64_t offset,
		 uint64_t len)
{
	struct object *o;
	int ret;

	ret = check_range(offset, len, c->cluster_shift);
	if (ret || len == 0)
		return ret;
	container_wrlock(c);
	ret = modify_begin(c, id, &o);
	if (ret)
		goto out_unlock;
	if (offset < o->size) {
		if (len > o->size - offset)
			len = o->size - offset;
		ret = unmap_range(c, o, offset, len, MAP_KIND_HOLE, UINT64_MAX);
		c->txn_dirty = true;
		container_touch(o, true);
	}
out_unlock:
	map_cache_settle(c);
	pthread_rwlock_unlock(&c->lock);
	container_slack_settle(c);
	return ret;
}

int object_zero(struct container *c, uint64_t id, uint64_t offset, uint64_t len,
		bool keep_size)
{
	struct object *o;
	int ret;

	ret = check_range(offset, len, c->cluster_shift);
	if (ret || len == 0)
		return ret;
	container_wrlock(c);
	ret = modify_begin(c, id, &o);
	if (ret)
		goto out_unlock;
	uint64_t end = offset + len;
	if (keep_size && end > o->size)
		end = o->size;
	if (offset < end) {
		uint64_t old_end =
			(o->size + c->cluster_size - 1) >> c->cluster_shift;
		ret = unmap_range(c, o, offset, end - offset, MAP_KIND_ZERO,
				  old_end);
	}
	if (!ret && !keep_size && offset + len > o->size) {
		o->size = offset + len;
		o->dirty = true;
	}
	c->txn_dirty = true;
	container_touch(o, true);
out_unlock:
	map_cache_settle(c);
	pthread_rwlock_unlock(&c->lock);
	container_slack_settle(c);
	return ret;
}

int object_seek(struct container *c, uint64_t id, uint64_t offset, int whence,
		uint64_t *out_offset)
{
	int ret = container_rdlock_maps(c); /* map_find walks the tree */
	if (ret)
		return ret;
	struct object *o = object_find(c, id);
	if (!o) {
		ret = -ENOENT;
		goto out_unlock;
	}
	if (offset >= o->size) {
		ret = -ENXIO;
		goto out_unlock;
	}
	uint64_t vc = offset >> c->cluster_shift, found;
	if (whence == SEEK_DATA) {
		ret = map_find(c, o, vc, true, &found);
		if (o->pend_valid && o->pend_vc >= vc &&
		    (ret == -ENXIO || o->pend_vc < found)) {
			found = o->pend_vc;
			ret = 0;
		}
		if (ret)
			goto out_unlock;
		uint64_t pos = found << c->cluster_shift;
		if (pos < offset)
			pos = offset;
		if (pos >= o->size)
			ret = -ENXIO;
		else
			*out_offset = pos;
	} else if (whence == SEEK_HOLE) {
		for (;;) {
			ret = map_find(c, o, vc, false, &found);
			if (ret)
				goto out_unlock;
			if (!(o->pend_valid && o->pend_vc == found))
				break;
			vc = found + 1;
		}
		uint64_t pos = found << c->cluster_shift;
		if (pos < offset)
			pos = offset;
		*out_offset = pos < o->size ? pos : o->size;
	} else {
		ret = -EINVAL;
	}
out_unlock:
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

/* ---- staged clusters compressed again ----------------------------------- */

/* Compress staged cluster `vc` of `o` again, if it is still a RAW cluster
 * and not the pending one (write lock held).  One a snapshot or another
 * file shares gets a compressed copy of its own, like any write to it;
 * the RAW one stays with the others.  `data` and `tmp` are cluster-sized. */
static int compact_one(struct container *c, struct object *o, uint64_t vc,
		       uint8_t *data, uint8_t *tmp)
{
	struct map_entry e;
	enum squeezed kind = SQUEEZED_RAW;
	size_t len = 0;
	int ret;

	if (o->pend_valid && o->pend_vc == vc)
		return 0; /* compressed when the writer moves on */
	ret = map_lookup(c, o, vc, &e);
	if (ret)
		return ret;
	if (e.kind != MAP_KIND_RAW)
		return 0; /* rewritten whole or truncated since */
	ret = io_pread(c->io, data, c->cluster_size, e.offset);
	if (!ret)
		ret = squeeze_cluster(c, data, tmp, &len, &kind);
	if (ret || kind == SQUEEZED_RAW)
		return ret; /* incompressible: RAW is its place */
	return store_squeezed(c, o, vc, data, tmp, len, kind);
}

void object_stage_raw(struct container *c, struct object *o)
{
	if (!object_is_compressed(c, o) || !stage_ok(c, o))
		return;
	uint64_t vc = 0, found;
	while (o->staged_num < STAGED_MAX &&
	       map_find(c, o, vc, true, &found) == 0) {
		struct map_entry e;
		if (map_lookup(c, o, found, &e) != 0)
			break; /* best effort: it stays RAW */
		if (e.kind == MAP_KIND_RAW)
			staged_note(o, found);
		vc = found + 1;
	}
}

int container_compact(struct container *c, size_t max, size_t *out_left)
{
	uint8_t *data = malloc(c->cluster_size), *tmp = malloc(c->cluster_size);
	size_t done = 0, left = 0;
	int ret = 0;

	if (!data || !tmp) {
		ret = -ENOMEM;
		goto out_free;
	}
	container_wrlock(c);
	if (c->read_only || c->poisoned)
		goto out_unlock;
	for (size_t i = 0; i < c->object_num && !ret; i++) {
		struct object *o = c->objects[i];
		while (o->staged_num && (!max || done < max)) {
			uint64_t vc = o->staged[o->staged_num - 1];
			ret = compact_one(c, o, vc, data, tmp);
			if (ret)
				break; /* kept on the list for a later try */
			o->staged_num--;
			done++;
		}
	}
	for (size_t i = 0; i < c->object_num; i++)
		left += c->objects[i]->staged_num;
	map_cache_settle(c);
out_unlock:
	pthread_rwlock_unlock(&c->lock);
out_free:
	free(data);
	free(tmp);
	if (out_left)
		*out_left = left;
	return ret;
}

/* Staged clusters past which the background compacts even while the guest
 * writes: what staging may cost in space, 1 GiB at 64 KiB clusters. */
#define STAGED_PRESSURE (1u << 14)

int container_compact_idle(struct container *c, size_t max, size_t *out_left)
{
	/* a guest at work may stage the same clusters again soon:
	 * compressing them now costs CPU twice and leaves dead extents in
	 * the pack clusters, so wait until it pauses (or too much is
	 * staged); the close compacts the rest */
	uint64_t writes =
		atomic_load_explicit(&c->write_calls, memory_order_relaxed);
	size_t staged = 0;
	pthread_rwlock_rdlock(&c->lock);
	for (size_t i = 0; i < c->object_num; i++)
		staged += c->objects[i]->staged_num;
	bool busy = writes != c->compact_seen_writes;
	pthread_rwlock_unlock(&c->lock);
	if (staged == 0) {
		/* nothing to do, and an idle guest opened lazily stays so */
		*out_left = 0;
		return 0;
	}
	if (busy && staged < STAGED_PRESSURE) {
		container_wrlock(c);
		c->compact_seen_writes = writes;
		pthread_rwlock_unlock(&c->lock);
		*out_left = 0;
		return 0;
	}
	return container_compact(c, max, out_left);
}

/* ---- for share.c (write lock held) -------------------------------------- */

int data_modify_begin(struct container *c, uint64_t id, struct object **out_obj)
{
	return modify_begin(c, id, out_obj);
}

void data_settle_locked(struct container *c)
{
	map_cache_settle(c);
}

int data_read_cluster(struct container *c, struct object *o, uint64_t vc,
		      uint8_t *out)
{
	return read_cluster(c, o, vc, out);
}

int data_write_locked(struct container *c, struct object *o, const uint8_t *src,
		      size_t len, uint64_t offset)
{
	int ret = check_range(offset, len, c->cluster_shift);
	return ret ? ret : write_chunks(c, o, src, len, offset);
}
