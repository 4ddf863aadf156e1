/*
 * check.c -- full verification of a container.
 *
 * Design notes.  The loader (container_load, read-only) already verifies
 * everything structural with nothing trusted: both superblock checksums, the
 * table chain with each block's crc held by its parent, every map node's crc
 * held by its parent, every entry's kind and bounds, that no cluster is
 * referenced twice (which also catches cycles), and that the referenced
 * cluster count equals the superblock's used_clusters (for check, a
 * mismatch is handed back in load_diag and reported with its counts instead
 * of ending the check).  check_container adds
 * what the loader does not need to do at open: it reads every compressed
 * extent, verifies its crc32c and decompresses it, and it counts the tree.
 * It never writes: a read-only load performs no recovery.
 *
 * Because free space is derived from the tree (alloc.c), a cluster cannot be
 * leaked in the qcow2 sense; `leaked_clusters` reports a superblock that
 * records more used clusters than the tree references, which would mean a
 * commit wrote an inconsistent superblock.
 *
 * THREAD MODEL: single-threaded; the container it loads is private.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hangar/check.h"
#include "compress.h"
#include "crc32c.h"
#include "internal.h"
#include "io.h"

static void report(struct check_report *r, const char *msg)
{
	r->errors++;
	if (r->message_count < CHECK_MAX_MESSAGES) {
		char *dst = r->messages[r->message_count++];
		size_t n = strlen(msg);
		if (n >= sizeof(r->messages[0]))
			n = sizeof(r->messages[0]) - 1;
		memcpy(dst, msg, n);
		dst[n] = '\0';
	}
}

/* The superblock's used_clusters disagrees with the tree.  More recorded
 * than referenced: that many clusters are leaked (counted as used, reachable
 * from nothing).  Fewer: the tree references clusters the accounting does
 * not know, which is corruption, not a leak. */
static void report_accounting(struct check_report *r,
			      const struct load_diag *diag)
{
	char msg[160];
	if (diag->used_recorded > diag->used_referenced) {
		r->leaked_clusters =
			diag->used_recorded - diag->used_referenced;
		snprintf(msg, sizeof(msg),
			 "superblock records %llu used clusters, the tree "
			 "references %llu: %llu leaked",
			 (unsigned long long)diag->used_recorded,
			 (unsigned long long)diag->used_referenced,
			 (unsigned long long)r->leaked_clusters);
	} else {
		snprintf(msg, sizeof(msg),
			 "superblock records %llu used clusters, the tree "
			 "references %llu: accounting is short",
			 (unsigned long long)diag->used_recorded,
			 (unsigned long long)diag->used_referenced);
	}
	report(r, msg);
}

struct walk {
	struct container *c;
	struct check_report *r;
	struct compressor *cz;
	uint8_t *in, *out;
	/* one leaf's entries and seals (fanout each): leaves are copied out
	 * of the map cache, or read from disk (map_leaf_copy) */
	struct map_entry *ents;
	struct map_seal *seals;
	const struct object *o;
	check_progress_fn progress;
	void *progress_arg;
	uint64_t walked, reported; /* clusters met so far; at last report */
};

/* One more cluster met (node, data cluster or extent): report every
 * CHECK_PROGRESS_STEP of them.  Extents share packed clusters, so `walked`
 * may pass the referenced count; it is clamped. */
static void walk_count(struct walk *w)
{
	w->walked++;
	if (!w->progress || w->walked - w->reported < CHECK_PROGRESS_STEP)
		return;
	w->reported = w->walked;
	uint64_t total = w->r->referenced_clusters;
	w->progress(w->progress_arg, w->walked < total ? w->walked : total,
		    total);
}

static void walk_node(struct walk *w, const struct map_node *n)
{
	struct container *c = w->c;
	w->r->map_nodes++;
	walk_count(w);
	if (n->level == 0) {
		int ret = map_leaf_copy(c, n, w->ents, w->seals);
		if (ret) {
			char msg[160];
			snprintf(msg, sizeof(msg),
				 "%s: map leaf at offset %llu: %s",
				 w->o->name ? w->o->name : "(orphan)",
				 (unsigned long long)n->phys,
				 ret == -ENOMEM ? "no memory to read it"
						: "unreadable or invalid");
			report(w->r, msg);
			return;
		}
	}
	for (uint32_t i = 0; i < c->fanout; i++) {
		if (n->level > 0) {
			if (n->children[i])
				walk_node(w, n->children[i]);
			continue;
		}
		const struct map_entry *e = &w->ents[i];
		const struct map_seal *seal =
			c->encrypted ? &w->seals[i] : NULL;
		char msg[160];
		int ret;
		if (e->kind == MAP_KIND_RAW) {
			w->r->data_clusters++;
			walk_count(w);
			if (!c->encrypted)
				continue;
			/* encrypted: every data cluster is authenticated */
			ret = io_pread(c->io, w->in, c->cluster_size,
				       e->offset);
			if (!ret)
				ret = crypt_open(c, CRYPTO_AAD_DATA_RAW, 0,
						 w->o->id, n->index + i, seal,
						 w->in, c->cluster_size);
			if (ret) {
				snprintf(msg, sizeof(msg),
					 "%s: cluster %llu at offset %llu: %s",
					 w->o->name ? w->o->name : "(orphan)",
					 (unsigned long long)(n->index + i),
					 (unsigned long long)e->offset,
					 ret == -EBADMSG ? "authentication "
							   "failed"
							 : "unreadable");
				report(w->r, msg);
			}
			continue;
		}
		if (e->kind != MAP_KIND_COMPRESSED)
			continue;
		w->r->compressed_extents++;
		walk_count(w);
		ret = io_pread(c->io, w->in, e->length, e->offset);
		if (!ret && crc32c(0, w->in, e->length) != e->crc)
			ret = -EBADMSG;
		if (!ret && c->encrypted)
			ret = crypt_open(c, CRYPTO_AAD_DATA_COMPRESSED, 0,
					 w->o->id, n->index + i, seal, w->in,
					 e->length);
		if (!ret)
			ret = decompress_cluster(w->cz, w->out, c->cluster_size,
						 w->in, e->length);
		if (ret) {
			snprintf(msg, sizeof(msg),
				 "%s: compressed cluster %llu at offset %llu: "
				 "%s",
				 w->o->name ? w->o->name : "(orphan)",
				 (unsigned long long)(n->index + i),
				 (unsigned long long)e->offset,
				 ret == -EBADMSG ? "checksum or frame invalid"
						 : "unreadable");
			report(w->r, msg);
		}
	}
}

int check_container(struct io *io, struct check_report *out_report)
{
	return check_container_key(io, NULL, out_report);
}

int check_container_key(struct io *io, const struct crypto_key *master,
			struct check_report *out_report)
{
	return check_container_progress(io, master, NULL, NULL, out_report);
}

int check_container_progress(struct io *io, const struct crypto_key *master,
			     check_progress_fn fn, void *fn_arg,
			     struct check_report *out_report)
{
	struct container_options opts = {.read_only = true, .master = master};
	struct load_diag diag;
	struct container *c = NULL;
	struct walk w = {0};
	uint64_t size = 0;
	int ret;

	memset(out_report, 0, sizeof(*out_report));
	memset(&diag, 0, sizeof(diag));
	diag.tolerate_used_mismatch = true;
	ret = io_size(io, &size);
	if (ret)
		return ret;
	ret = container_load(io, &opts, &diag, &c);
	out_report->superblock_valid[0] = diag.superblock_valid[0];
	out_report->superblock_valid[1] = diag.superblock_valid[1];
	if (ret == -ENOMEM)
		return ret;
	out_report->key_missing = ret == -ENOKEY;
	out_report->key_rejected = ret == -EKEYREJECTED;
	if (ret) {
		char msg[200];
		snprintf(msg, sizeof(msg), "cannot load: %s (%s)",
			 diag.message[0] ? diag.message : "invalid container",
			 strerror(-ret));
		report(out_report, msg);
		return 0;
	}
	out_report->generation = c->generation;
	out_report->encrypted = c->encrypted;
	out_report->cluster_size = c->cluster_size;
	out_report->file_clusters = size >> c->cluster_shift;
	out_report->referenced_clusters = c->alloc.used;
	if (diag.used_mismatch)
		report_accounting(out_report, &diag);
	w.c = c;
	w.r = out_report;
	w.progress = fn;
	w.progress_arg = fn_arg;
	w.in = malloc(c->cluster_size);
	w.out = malloc(c->cluster_size);
	w.ents = malloc(c->fanout * sizeof(*w.ents));
	w.seals = malloc(c->fanout * sizeof(*w.seals));
	ret = compressor_new(1, &w.cz);
	if (!w.in || !w.out || !w.ents || !w.seals || ret) {
		ret = ret ? ret : -ENOMEM;
		goto out_free;
	}
	for (size_t i = 0; i < c->object_num; i++) {
		const struct object *o = c->objects[i];
		out_report->objects++;
		w.o = o;
		if (o->root)
			walk_node(&w, o->root);
	}
	if (fn)
		fn(fn_arg, out_report->referenced_clusters,
		   out_report->referenced_clusters);
	ret = 0;
out_free:
	compressor_free(w.cz);
	free(w.in);
	free(w.out);
	free(w.ents);
	free(w.seals);
	/* The io is the caller's: detach it before freeing the container. */
	container_close_detached(c);
	return ret;
}
