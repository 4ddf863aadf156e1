/*
 * share.c -- copy a byte range between two objects of one container by
 * sharing whole clusters instead of copying their bytes (what a
 * copy_file_range inside a guest, e.g. `cp disk.raw base.raw` through the
 * mount, turns into).
 *
 * Design notes.  A shared cluster is one map entry copied into the
 * destination's tree plus one more allocator reference on the cluster it
 * names; nothing is written but the destination's leaf at the next commit.
 * The rules that make that safe already exist for snapshots:
 *   - A RAW cluster is rewritten in place only while exactly one entry
 *     references it (data.c raw_in_place: refs == 1), so the first write to
 *     either copy copies the cluster, and each copy then owns its own.
 *   - Free space is derived from the trees at open (alloc.c), so a shared
 *     cluster is free exactly when no entry of any tree names it; there is
 *     no reference count on disk to keep right across a crash.  The commit
 *     that writes the destination's new leaf is the one that makes the
 *     sharing durable; a crash before it leaves the old tree.
 *   - Two RAW entries naming one cluster look like corruption to a reader
 *     that does not know about sharing ("cluster referenced twice"), so the
 *     first commit after a RAW cluster was shared sets the incompat feature
 *     FEATURE_INCOMPAT_SHARED_EXTENTS (format.h), and the loader accepts a
 *     RAW cluster twice only with it.  COMPRESSED extents were always
 *     shareable (several extents live in one packed cluster).
 *
 * The source may also be a file of a snapshot (a read-only view of this
 * container, snapshot.c): restoring a file from a snapshot with `cp` then
 * shares the snapshot's clusters too.  They are alive while the snapshot
 * exists, and the live entry's reference keeps them after it is deleted.
 * Lock order: the container's write lock, then the view's read lock.
 *
 * Clusters are shared only when both offsets sit at the same place inside
 * a cluster, the cluster lies wholly inside the range, and the container is
 * not encrypted: an encrypted cluster is authenticated with its object and
 * position (FORMAT.md section 9), so under another object it would not
 * open; there the bytes are copied, and the copy is sealed under a fresh
 * nonce as any write is.  Everything else -- a head or tail shorter than a
 * cluster, offsets that do not line up -- is copied through the ordinary
 * write path.
 *
 * THREAD MODEL: the whole call holds the container lock in write mode, so
 * no in-place write (which runs under the read lock) can see a cluster's
 * reference count change under it.  A call handles at most
 * SHARE_MAX_BYTES of shared clusters and COPY_MAX_BYTES of copied bytes
 * and reports a short count, so one request never holds guest I/O up for
 * long; callers loop, as for copy_file_range(2).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SHARE_MAX_BYTES (1ull << 30)
#define COPY_MAX_BYTES	(8ull << 20)

/* Make virtual cluster `vd` of `dst` name what cluster `vs` of `src` (an
 * object of `sc`: `c` or a snapshot view of it) names (write lock held). */
static int share_cluster(struct container *c, struct container *sc,
			 struct object *src, uint64_t vs, struct object *dst,
			 uint64_t vd)
{
	struct map_entry e, old;
	int ret;

	if (src == dst && vs == vd)
		return 0;
	ret = map_lookup(sc, src, vs, &e);
	if (ret)
		return ret; /* a leaf that cannot be read back: never a hole */
	const bool data =
		e.kind == MAP_KIND_RAW || e.kind == MAP_KIND_COMPRESSED;
	if (data) {
		ret = alloc_ref(&c->alloc, cluster_of(c, e.offset));
		if (ret)
			return ret;
	}
	ret = map_set(c, dst, vd, &e, &old);
	if (ret) {
		if (data)
			alloc_unref(&c->alloc, cluster_of(c, e.offset));
		return ret;
	}
	map_entry_release(c, dst, &old);
	if (e.kind == MAP_KIND_RAW)
		c->shared_extents = true;
	return 0;
}

/* Copy `len` bytes of `src` at `soff` to `dst` at `doff`, `len` no more
 * than reaches the end of `doff`'s cluster (write lock held).  `cl` is a
 * cluster-sized scratch buffer, `piece` another. */
static int copy_bytes(struct container *c, struct container *sc,
		      struct object *src, uint64_t soff, struct object *dst,
		      uint64_t doff, size_t len, uint8_t *cl, uint8_t *piece)
{
	const size_t cs = c->cluster_size;
	size_t got = 0;
	while (got < len) {
		uint64_t pos = soff + got;
		size_t in = (size_t)(pos & (cs - 1));
		size_t n = cs - in < len - got ? cs - in : len - got;
		int ret =
			data_read_cluster(sc, src, pos >> c->cluster_shift, cl);
		if (ret)
			return ret;
		memcpy(piece + got, cl + in, n);
		got += n;
	}
	return data_write_locked(c, dst, piece, len, doff);
}

int object_copy_range(struct container *c, struct container *src_c,
		      uint64_t src_id, uint64_t src_off, uint64_t dst_id,
		      uint64_t dst_off, uint64_t len, uint64_t *out_len)
{
	const size_t cs = c->cluster_size;
	struct container *sc = src_c ? src_c : c;
	const bool from_view = sc != c;
	uint8_t *cl = malloc(cs), *piece = malloc(cs);
	struct object *src, *dst;
	uint64_t done = 0, shared = 0, copied = 0;
	int ret;

	*out_len = 0;
	if (from_view && sc->view_parent != c) {
		ret = -EXDEV;
		goto out_free;
	}
	if (!cl || !piece) {
		ret = -ENOMEM;
		goto out_free;
	}
	container_wrlock(c);
	if (from_view) /* immutable; its lock only for the lookups' sake */
		pthread_rwlock_rdlock(&sc->lock);
	ret = data_modify_begin(c, dst_id, &dst);
	if (ret)
		goto out_unlock;
	src = object_find(sc, src_id);
	if (!src) {
		ret = -ENOENT;
		goto out_unlock;
	}
	ret = from_view ? 0 : object_flush_pending(c, src);
	if (ret || src_off >= src->size || len == 0)
		goto out_unlock;
	if (len > src->size - src_off)
		len = src->size - src_off;
	if (src == dst && src_off < dst_off + len && dst_off < src_off + len) {
		ret = -EINVAL; /* overlapping ranges of one object */
		goto out_unlock;
	}
	const bool can_share =
		!c->encrypted && ((src_off ^ dst_off) & (cs - 1)) == 0;

	while (done < len) {
		uint64_t s = src_off + done, d = dst_off + done;
		size_t in = (size_t)(d & (cs - 1));
		if (can_share && in == 0 && len - done >= cs) {
			if (shared >= SHARE_MAX_BYTES)
				break;
			ret = share_cluster(c, sc, src, s >> c->cluster_shift,
					    dst, d >> c->cluster_shift);
			if (ret)
				break;
			shared += cs;
			done += cs;
			continue;
		}
		if (copied >= COPY_MAX_BYTES)
			break;
		size_t n = cs - in;
		if (n > len - done)
			n = (size_t)(len - done);
		ret = copy_bytes(c, sc, src, s, dst, d, n, cl, piece);
		if (ret)
			break;
		copied += n;
		done += n;
	}
	if (shared) {
		/* the copied parts went through write_chunks, which did this
		 * for them; the shared ones changed only the map */
		uint64_t end = dst_off + done;
		if (end > dst->size) {
			dst->size = end;
			dst->dirty = true;
		}
		c->txn_dirty = true;
		container_touch(dst, true);
		object_fp_drop(dst);
	}
	*out_len = done;
	data_settle_locked(c);
out_unlock:
	if (from_view)
		pthread_rwlock_unlock(&sc->lock);
	pthread_rwlock_unlock(&c->lock);
out_free:
	free(cl);
	free(piece);
	/* a failed write to an image leaves bytes nobody can vouch for, as
	 * object_write says */
	if (ret && ret != -ENOENT && ret != -EINVAL)
		save_taint_if_image(c, dst_id);
	container_slack_settle(c);
	return done ? 0 : ret;
}
