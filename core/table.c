/*
 * table.c -- the superblock and the object table: encoding, decoding and
 * verification.
 *
 * Design notes.  The object table is small (one record per object plus the
 * save record), so every commit rewrites it whole into freshly allocated
 * clusters: a chain of table blocks, each naming the next one and its crc32c,
 * the first one named (with its crc32c) by the superblock.  Because a block's
 * crc covers its `next` pointer and `next_crc`, writing the chain last block
 * first lets every block carry its successor's checksum; a reader therefore
 * verifies the whole chain from the superblock down.
 *
 * Decoding trusts nothing: every length is bounded before use, every record
 * must lie inside its block, names are validated, the chain length is bounded
 * by the superblock's count and by the file size.
 *
 * THREAD MODEL: called only from container_load (single-threaded; a lazy
 * open keeps the roots and loads no map here) and from the commit
 * (container write lock held).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crc32c.h"
#include "internal.h"
#include "io.h"
#include "hangar/names.h"

int superblock_encode(struct container *c, uint8_t *sb, uint64_t generation,
		      uint64_t used, uint64_t now_ns, uint64_t nonce_limit)
{
	int ret;

	memset(sb, 0, FORMAT_SECTOR_SIZE);
	memcpy(sb + SB_OFF_MAGIC, SUPERBLOCK_MAGIC, 8);
	le32_put(sb + SB_OFF_VERSION, FORMAT_VERSION);
	le32_put(sb + SB_OFF_HEADER_SIZE, FORMAT_SECTOR_SIZE);
	le64_put(sb + SB_OFF_INCOMPAT,
		 (c->encrypted ? FEATURE_INCOMPAT_ENCRYPTED : 0) |
			 (c->table_seals ? FEATURE_INCOMPAT_IMAGE_SEALS : 0) |
			 (c->snap_num ? FEATURE_INCOMPAT_SNAPSHOTS : 0) |
			 (c->shared_extents ? FEATURE_INCOMPAT_SHARED_EXTENTS
					    : 0) |
			 (c->node_shift < c->cluster_shift
				  ? FEATURE_INCOMPAT_SMALL_NODES
				  : 0));
	le64_put(sb + SB_OFF_RO_COMPAT, 0);
	le64_put(sb + SB_OFF_COMPAT, 0);
	le32_put(sb + SB_OFF_CLUSTER_SHIFT, c->cluster_shift);
	le32_put(sb + SB_OFF_MAP_ENTRY_SIZE, c->entry_size);
	le64_put(sb + SB_OFF_GENERATION, generation);
	le64_put(sb + SB_OFF_TABLE_OFFSET, c->table_offset);
	le32_put(sb + SB_OFF_TABLE_CRC, c->table_crc);
	le32_put(sb + SB_OFF_TABLE_BLOCKS, (uint32_t)c->table_block_num);
	le64_put(sb + SB_OFF_USED_CLUSTERS, used);
	le64_put(sb + SB_OFF_NEXT_OBJECT_ID, c->next_object_id);
	le64_put(sb + SB_OFF_COMMIT_TIME, now_ns);
	memcpy(sb + SB_OFF_UUID, c->uuid, 16);
	le32_put(sb + SB_OFF_FLAGS, c->flags);
	if (c->node_shift < c->cluster_shift)
		le32_put(sb + SB_OFF_NODE_SHIFT, c->node_shift);
	if (c->encrypted) {
		le32_put(sb + SB_OFF_ENC_CIPHER, SB_ENC_CIPHER_AES_256_GCM);
		le32_put(sb + SB_OFF_ENC_KEY_SOURCE, SB_ENC_KEY_SOURCE_STORE);
		memcpy(sb + SB_OFF_ENC_KEY_ID, c->key_id, 16);
		le64_put(sb + SB_OFF_ENC_NONCE_LIMIT, nonce_limit);
		memcpy(sb + SB_OFF_ENC_TABLE_NONCE, c->table_seal.nonce, 12);
		memcpy(sb + SB_OFF_ENC_TABLE_TAG, c->table_seal.tag, 16);
		le64_put(sb + SB_OFF_ENC_TABLE_BIRTH, c->table_seal.birth);
		ret = crypt_superblock_mac(c, sb);
		if (ret)
			return ret;
	}
	le32_put(sb + SB_OFF_CRC, crc32c(0, sb, SB_OFF_CRC));
	return 0;
}

bool superblock_intact(const uint8_t *sb)
{
	return memcmp(sb + SB_OFF_MAGIC, SUPERBLOCK_MAGIC, 8) == 0 &&
	       le32_get(sb + SB_OFF_CRC) == crc32c(0, sb, SB_OFF_CRC);
}

int superblock_decode(const uint8_t *sb, struct container *c,
		      uint64_t *out_used, char *why, size_t why_len)
{
	if (memcmp(sb + SB_OFF_MAGIC, SUPERBLOCK_MAGIC, 8) != 0) {
		snprintf(why, why_len, "bad magic");
		return -EUCLEAN;
	}
	if (le32_get(sb + SB_OFF_CRC) != crc32c(0, sb, SB_OFF_CRC)) {
		snprintf(why, why_len, "superblock checksum mismatch");
		return -EBADMSG;
	}
	uint32_t version = le32_get(sb + SB_OFF_VERSION);
	if (version != FORMAT_VERSION) {
		snprintf(why, why_len, "format version %u not supported",
			 version);
		return -EPROTONOSUPPORT;
	}
	uint64_t incompat = le64_get(sb + SB_OFF_INCOMPAT);
	if (incompat & ~FEATURE_INCOMPAT_KNOWN) {
		snprintf(why, why_len,
			 "unknown incompatible features 0x%llx (written by a "
			 "newer hangar)",
			 (unsigned long long)(incompat &
					      ~FEATURE_INCOMPAT_KNOWN));
		return -EPROTONOSUPPORT;
	}
	uint64_t ro = le64_get(sb + SB_OFF_RO_COMPAT);
	if ((ro & ~FEATURE_RO_COMPAT_KNOWN) && !c->read_only) {
		snprintf(why, why_len,
			 "unknown read-only-compatible features 0x%llx: open "
			 "read-only",
			 (unsigned long long)ro);
		return -EROFS;
	}
	const bool encrypted = incompat & FEATURE_INCOMPAT_ENCRYPTED;
	c->table_seals = incompat & FEATURE_INCOMPAT_IMAGE_SEALS;
	c->table_snaps = incompat & FEATURE_INCOMPAT_SNAPSHOTS;
	c->shared_extents = incompat & FEATURE_INCOMPAT_SHARED_EXTENTS;
	if (encrypted) {
		uint32_t cipher = le32_get(sb + SB_OFF_ENC_CIPHER);
		uint32_t source = le32_get(sb + SB_OFF_ENC_KEY_SOURCE);
		if (cipher != SB_ENC_CIPHER_AES_256_GCM ||
		    source != SB_ENC_KEY_SOURCE_STORE) {
			snprintf(why, why_len,
				 "encrypted with cipher %u, key source %u: "
				 "not supported",
				 cipher, source);
			return -EPROTONOSUPPORT;
		}
		for (unsigned i = SB_OFF_ENC_RESERVED0; i < SB_OFF_ENC_MAC; i++)
			if (sb[i])
				goto out_geometry;
		for (unsigned i = SB_OFF_ENC_RESERVED1; i < SB_ENC_END; i++)
			if (sb[i])
				goto out_geometry;
	}
	const uint32_t entry_size =
		encrypted ? MAP_ENTRY_SIZE_CRYPT : MAP_ENTRY_SIZE;
	uint32_t shift = le32_get(sb + SB_OFF_CLUSTER_SHIFT);
	if (le32_get(sb + SB_OFF_HEADER_SIZE) != FORMAT_SECTOR_SIZE ||
	    shift < FORMAT_CLUSTER_SHIFT_MIN ||
	    shift > FORMAT_CLUSTER_SHIFT_MAX ||
	    le32_get(sb + SB_OFF_MAP_ENTRY_SIZE) != entry_size ||
	    le64_get(sb + SB_OFF_GENERATION) == 0 ||
	    le64_get(sb + SB_OFF_GENERATION) >= FORMAT_MAX_GENERATION ||
	    le64_get(sb + SB_OFF_NEXT_OBJECT_ID) == 0) {
		/* ids start at 1: a zero counter would hand out id 0, which
		 * the table refuses, losing the guest at its next open */
		goto out_geometry;
	}
	c->encrypted = encrypted;
	c->entry_size = entry_size;
	if (encrypted) {
		memcpy(c->key_id, sb + SB_OFF_ENC_KEY_ID, 16);
		c->nonce_limit = le64_get(sb + SB_OFF_ENC_NONCE_LIMIT);
		memcpy(c->table_seal.nonce, sb + SB_OFF_ENC_TABLE_NONCE, 12);
		memcpy(c->table_seal.tag, sb + SB_OFF_ENC_TABLE_TAG, 16);
		c->table_seal.birth = le64_get(sb + SB_OFF_ENC_TABLE_BIRTH);
	}
	/* nodes: a cluster each, or (SMALL_NODES) 4 KiB up to half one */
	const uint32_t node_field = le32_get(sb + SB_OFF_NODE_SHIFT);
	unsigned node_shift = shift;
	if (incompat & FEATURE_INCOMPAT_SMALL_NODES) {
		if (node_field < FORMAT_NODE_SHIFT_MIN || node_field >= shift)
			goto out_geometry;
		node_shift = node_field;
	} else if (node_field != 0) {
		goto out_geometry;
	}
	c->cluster_shift = shift;
	c->cluster_size = 1u << shift;
	c->node_shift = node_shift;
	c->node_size = 1u << node_shift;
	c->fanout = (c->node_size - BLOCK_HEADER_SIZE) / entry_size;
	c->first_cluster = (FORMAT_HEADER_AREA + c->cluster_size - 1) >> shift;
	c->generation = le64_get(sb + SB_OFF_GENERATION);
	c->table_offset = le64_get(sb + SB_OFF_TABLE_OFFSET);
	c->table_crc = le32_get(sb + SB_OFF_TABLE_CRC);
	c->table_block_num = le32_get(sb + SB_OFF_TABLE_BLOCKS);
	c->next_object_id = le64_get(sb + SB_OFF_NEXT_OBJECT_ID);
	c->commit_time_ns = le64_get(sb + SB_OFF_COMMIT_TIME);
	memcpy(c->uuid, sb + SB_OFF_UUID, 16);
	c->flags = le32_get(sb + SB_OFF_FLAGS);
	*out_used = le64_get(sb + SB_OFF_USED_CLUSTERS);
	return 0;
out_geometry:
	snprintf(why, why_len, "superblock geometry invalid");
	return -EUCLEAN;
}

/* ---- writing ------------------------------------------------------------ */

struct table_builder {
	uint8_t **blocks;
	size_t num, cap;
	uint32_t used; /* payload bytes in the last block */
	uint32_t payload;
	uint32_t payload_off; /* BLOCK_HEADER_SIZE, or 80 when encrypted */
	uint32_t block_size;  /* the container's node size */
};

static uint8_t *builder_room(struct table_builder *b, uint32_t len)
{
	if (b->num == 0 || b->used + len > b->payload) {
		if (b->num == b->cap) {
			size_t cap = b->cap ? b->cap * 2 : 4;
			uint8_t **n = realloc(b->blocks, cap * sizeof(*n));
			if (!n)
				return NULL;
			b->blocks = n;
			b->cap = cap;
		}
		uint8_t *blk = calloc(1, b->block_size);
		if (!blk)
			return NULL;
		b->blocks[b->num++] = blk;
		b->used = 0;
	}
	uint8_t *p = b->blocks[b->num - 1] + b->payload_off + b->used;
	b->used += len;
	le32_put(b->blocks[b->num - 1] + BH_OFF_USED, b->used);
	return p;
}

static int encode_seal(struct table_builder *b, const struct object *o)
{
	const struct image_seal *s = o->seal;
	uint32_t len = SEAL_RECORD_FIXED;
	for (size_t i = 0; i < s->pin_count; i++)
		len += SEAL_PIN_FIXED + (uint32_t)strlen(s->pins[i].name);
	if (len > UINT16_MAX || len > b->payload)
		return -E2BIG; /* savelock.c keeps seals inside one block */
	uint8_t *p = builder_room(b, len);
	if (!p)
		return -ENOMEM;
	le16_put(p, RECORD_IMAGE_SEAL);
	le16_put(p + 2, (uint16_t)len);
	le64_put(p + SL_OFF_OBJECT_ID, o->id);
	le32_put(p + SL_OFF_STATE, s->state);
	le32_put(p + SL_OFF_WHY, s->why);
	le64_put(p + SL_OFF_SAVED_SEC, (uint64_t)s->saved_time.tv_sec);
	le32_put(p + SL_OFF_SAVED_NSEC, (uint32_t)s->saved_time.tv_nsec);
	le32_put(p + SL_OFF_EVENT_NSEC, (uint32_t)s->event_time.tv_nsec);
	le64_put(p + SL_OFF_EVENT_SEC, (uint64_t)s->event_time.tv_sec);
	le64_put(p + SL_OFF_EVENT_OBJECT, s->event_object);
	le64_put(p + SL_OFF_CONFIG_GEN, s->config_generation);
	le32_put(p + SL_OFF_PIN_COUNT, (uint32_t)s->pin_count);
	memcpy(p + SL_OFF_FINGERPRINT, s->fingerprint, FORMAT_FINGERPRINT_LEN);
	le64_put(p + SL_OFF_ADOPT_FROM, s->adopt_from);
	uint8_t *q = p + SEAL_RECORD_FIXED;
	for (size_t i = 0; i < s->pin_count; i++) {
		size_t n = strlen(s->pins[i].name);
		le64_put(q, s->pins[i].id);
		le64_put(q + 8, s->pins[i].generation);
		le16_put(q + 16, (uint16_t)n);
		memcpy(q + SEAL_PIN_FIXED, s->pins[i].name, n);
		q += SEAL_PIN_FIXED + n;
	}
	return 0;
}

static int encode_spent(struct container *c, struct table_builder *b)
{
	if (!c->spent_num)
		return 0;
	uint32_t len =
		SPENT_RECORD_FIXED + SPENT_ENTRY_SIZE * (uint32_t)c->spent_num;
	uint8_t *p = builder_room(b, len);
	if (!p)
		return -ENOMEM;
	le16_put(p, RECORD_SPENT);
	le16_put(p + 2, (uint16_t)len);
	le32_put(p + 4, (uint32_t)c->spent_num);
	for (size_t i = 0; i < c->spent_num; i++) {
		uint8_t *q = p + SPENT_RECORD_FIXED + i * SPENT_ENTRY_SIZE;
		memcpy(q, c->spent[i].fingerprint, FORMAT_FINGERPRINT_LEN);
		le64_put(q + FORMAT_FINGERPRINT_LEN, c->spent[i].when);
	}
	return 0;
}

static int encode_snapshot(struct container *c, struct table_builder *b,
			   const struct snapshot *sn)
{
	size_t name_len = strlen(sn->name);
	uint32_t len = SNAPSHOT_RECORD_FIXED + (uint32_t)name_len;
	uint8_t *p = builder_room(b, len);
	if (!p)
		return -ENOMEM;
	le16_put(p, RECORD_SNAPSHOT);
	le16_put(p + 2, (uint16_t)len);
	le64_put(p + SN_OFF_ID, sn->id);
	le64_put(p + SN_OFF_GENERATION, sn->generation);
	le64_put(p + SN_OFF_CREATED_SEC, (uint64_t)sn->created.tv_sec);
	le32_put(p + SN_OFF_CREATED_NSEC, (uint32_t)sn->created.tv_nsec);
	le64_put(p + SN_OFF_TABLE_OFFSET, sn->table_offset);
	le32_put(p + SN_OFF_TABLE_CRC, sn->table_crc);
	le32_put(p + SN_OFF_TABLE_BLOCKS, (uint32_t)sn->block_num);
	le32_put(p + SN_OFF_FLAGS, sn->flags);
	le16_put(p + SN_OFF_NAME_LEN, (uint16_t)name_len);
	if (c->encrypted) {
		le64_put(p + SN_OFF_TABLE_BIRTH, sn->table_seal.birth);
		memcpy(p + SN_OFF_TABLE_NONCE, sn->table_seal.nonce, 12);
		memcpy(p + SN_OFF_TABLE_TAG, sn->table_seal.tag, 16);
	}
	memcpy(p + SNAPSHOT_RECORD_FIXED, sn->name, name_len);
	return 0;
}

static int encode_dir(struct container *c, struct table_builder *b)
{
	const struct dir_info *d = &c->dir;
	if (!d->set)
		return 0;
	uint8_t *p = builder_room(b, GUEST_RECORD_SIZE);
	if (!p)
		return -ENOMEM;
	le16_put(p, RECORD_GUEST);
	le16_put(p + 2, GUEST_RECORD_SIZE);
	le32_put(p + GR_OFF_MODE, d->mode & 07777);
	le32_put(p + GR_OFF_UID, d->uid);
	le32_put(p + GR_OFF_GID, d->gid);
	le64_put(p + GR_OFF_MTIME_SEC, (uint64_t)d->mtime.tv_sec);
	le64_put(p + GR_OFF_CTIME_SEC, (uint64_t)d->ctime.tv_sec);
	le32_put(p + GR_OFF_MTIME_NSEC, (uint32_t)d->mtime.tv_nsec);
	le32_put(p + GR_OFF_CTIME_NSEC, (uint32_t)d->ctime.tv_nsec);
	return 0;
}

static int encode_object(const struct container *c, struct table_builder *b,
			 const struct object *o)
{
	size_t name_len = o->name ? strlen(o->name) : 0;
	const uint32_t fixed =
		c->encrypted ? OBJECT_RECORD_FIXED_CRYPT : OBJECT_RECORD_FIXED;
	uint32_t len = fixed + (uint32_t)name_len;
	uint8_t *p = builder_room(b, len);
	if (!p)
		return -ENOMEM;
	struct map_node *r = o->root;
	uint32_t flags = o->flags & ~OBJECT_FLAG_ORPHAN;
	if (!o->name)
		flags |= OBJECT_FLAG_ORPHAN;
	le16_put(p, RECORD_OBJECT);
	le16_put(p + 2, (uint16_t)len);
	le64_put(p + OR_OFF_ID, o->id);
	le64_put(p + OR_OFF_SIZE, o->size);
	le64_put(p + OR_OFF_GENERATION, o->generation);
	le32_put(p + OR_OFF_MODE, o->mode);
	le32_put(p + OR_OFF_UID, o->uid);
	le32_put(p + OR_OFF_GID, o->gid);
	le32_put(p + OR_OFF_FLAGS, flags);
	le64_put(p + OR_OFF_MTIME_SEC, (uint64_t)o->mtime.tv_sec);
	le64_put(p + OR_OFF_CTIME_SEC, (uint64_t)o->ctime.tv_sec);
	le32_put(p + OR_OFF_MTIME_NSEC, (uint32_t)o->mtime.tv_nsec);
	le32_put(p + OR_OFF_CTIME_NSEC, (uint32_t)o->ctime.tv_nsec);
	le64_put(p + OR_OFF_MAP_ROOT,
		 r ? (r->dirty ? r->new_phys : r->phys) : 0);
	le32_put(p + OR_OFF_MAP_ROOT_CRC,
		 r ? (r->dirty ? r->new_crc : r->crc) : 0);
	le16_put(p + OR_OFF_MAP_HEIGHT, (uint16_t)(r ? o->height : 0));
	le16_put(p + OR_OFF_NAME_LEN, (uint16_t)name_len);
	le64_put(p + OR_OFF_STORED_BYTES, o->stored_bytes);
	if (c->encrypted && r) {
		const struct map_seal *rs = r->dirty ? &r->new_seal : &r->seal;
		le64_put(p + OR_OFF_ROOT_BIRTH, rs->birth);
		memcpy(p + OR_OFF_ROOT_NONCE, rs->nonce, 12);
		memcpy(p + OR_OFF_ROOT_TAG, rs->tag, 16);
	}
	memcpy(p + fixed, o->name ? o->name : "", name_len);
	return 0;
}

/* Encode the records of the state being committed: a frozen chain (a
 * snapshot's) leaves out what belongs to the live table alone (the spent
 * list and the snapshot records). */
static int table_encode(struct container *c, struct table_builder *b,
			bool frozen)
{
	int ret = encode_dir(c, b);
	for (size_t i = 0; !ret && i < c->object_num; i++)
		ret = encode_object(c, b, c->objects[i]);
	/* seals after every object, so a reader has met their object */
	for (size_t i = 0; !ret && i < c->object_num; i++)
		if (c->objects[i]->seal)
			ret = encode_seal(b, c->objects[i]);
	if (frozen)
		return ret;
	if (!ret)
		ret = encode_spent(c, b);
	for (size_t i = 0; !ret && i < c->snap_num; i++)
		ret = encode_snapshot(c, b, c->snaps[i]);
	if (!ret)
		c->table_seals = save_uses_seals(c);
	return ret;
}

/* Write a chain of table blocks (owner 0: the live table; else the
 * snapshot id of a frozen chain). */
static int table_write_chain(struct container *c, uint64_t generation,
			     uint64_t owner, uint64_t **meta_new,
			     size_t *meta_new_num, size_t *meta_new_cap,
			     uint64_t **out_blocks, size_t *out_block_num,
			     uint64_t *out_first, uint32_t *out_crc,
			     struct map_seal *out_seal)
{
	const uint32_t payload_off =
		c->encrypted ? TABLE_PAYLOAD_OFF_CRYPT : BLOCK_HEADER_SIZE;
	struct table_builder b = {.payload = c->node_size - payload_off,
				  .payload_off = payload_off,
				  .block_size = c->node_size};
	struct map_seal next_seal = {0};
	uint64_t *offs = NULL;
	int ret;

	ret = table_encode(c, &b, owner != 0);
	if (!ret && b.num == 0 && !builder_room(&b, 0))
		ret = -ENOMEM;
	if (ret)
		goto out_free;
	offs = calloc(b.num, sizeof(*offs));
	if (!offs) {
		ret = -ENOMEM;
		goto out_free;
	}
	for (size_t i = 0; i < b.num; i++) {
		uint64_t slot;
		ret = alloc_node_get(&c->alloc, &slot);
		if (ret)
			goto out_free;
		ret = u64_push(meta_new, meta_new_num, meta_new_cap, slot);
		if (ret) {
			alloc_node_unref(&c->alloc, slot);
			goto out_free;
		}
		offs[i] = slot << c->node_shift;
	}
	uint32_t next_crc = 0;
	for (size_t i = b.num; i-- > 0;) {
		uint8_t *blk = b.blocks[i];
		le32_put(blk + BH_OFF_MAGIC, BLOCK_MAGIC_TABLE);
		le64_put(blk + BH_OFF_GENERATION, generation);
		le64_put(blk + BH_OFF_INDEX, i);
		le64_put(blk + BH_OFF_OWNER, owner);
		le64_put(blk + BH_OFF_NEXT, i + 1 < b.num ? offs[i + 1] : 0);
		le32_put(blk + BH_OFF_NEXT_CRC, i + 1 < b.num ? next_crc : 0);
		if (c->encrypted && i + 1 < b.num) {
			memcpy(blk + BH_OFF_NEXT_NONCE, next_seal.nonce, 12);
			memcpy(blk + TABLE_OFF_NEXT_TAG, next_seal.tag, 16);
		}
		block_header_finish(blk, c->node_size);
		next_crc = le32_get(blk + BH_OFF_CRC);
		if (c->encrypted) {
			/* Sealed whole; the parent keeps the ciphertext's
			 * crc, the nonce and the tag. */
			ret = crypt_seal(c, CRYPTO_AAD_TABLE_BLOCK, 0, owner, i,
					 generation, blk, c->node_size,
					 &next_seal);
			if (ret)
				goto out_free;
			next_crc = crc32c(0, blk, c->node_size);
		}
		ret = io_pwrite(c->io, blk, c->node_size, offs[i]);
		if (ret)
			goto out_free;
	}
	*out_first = offs[0];
	*out_crc = next_crc;
	*out_seal = next_seal;
	*out_blocks = offs;
	*out_block_num = b.num;
	offs = NULL;
out_free:
	free(offs);
	for (size_t i = 0; i < b.num; i++)
		free(b.blocks[i]);
	free(b.blocks);
	return ret;
}

int table_write(struct container *c, uint64_t generation, uint64_t **meta_new,
		size_t *meta_new_num, size_t *meta_new_cap,
		uint64_t **out_blocks, size_t *out_block_num,
		uint64_t *out_first, uint32_t *out_crc,
		struct map_seal *out_seal)
{
	return table_write_chain(c, generation, 0, meta_new, meta_new_num,
				 meta_new_cap, out_blocks, out_block_num,
				 out_first, out_crc, out_seal);
}

int table_write_frozen(struct container *c, uint64_t generation,
		       uint64_t snap_id, uint64_t **meta_new,
		       size_t *meta_new_num, size_t *meta_new_cap,
		       uint64_t **out_blocks, size_t *out_block_num,
		       uint64_t *out_first, uint32_t *out_crc,
		       struct map_seal *out_seal, uint32_t *out_flags)
{
	*out_flags = save_uses_seals(c) ? SNAPSHOT_FLAG_IMAGE_SEALS : 0;
	return table_write_chain(c, generation, snap_id, meta_new, meta_new_num,
				 meta_new_cap, out_blocks, out_block_num,
				 out_first, out_crc, out_seal);
}

/* ---- reading ------------------------------------------------------------ */

static int table_fail(struct load_diag *diag, int err, const char *what,
		      uint64_t where)
{
	if (diag && !diag->message[0])
		snprintf(diag->message, sizeof(diag->message),
			 "object table: %s at offset %llu", what,
			 (unsigned long long)where);
	return err;
}

static int decode_save(struct container *c, const uint8_t *p, uint32_t len)
{
	if (len < SAVE_RECORD_FIXED)
		return -EUCLEAN;
	uint32_t pins = le32_get(p + SR_OFF_PIN_COUNT);
	uint32_t state = le32_get(p + SR_OFF_STATE);
	if (pins > FORMAT_MAX_PINS ||
	    len != SAVE_RECORD_FIXED + pins * SAVE_PIN_SIZE ||
	    state == SAVE_STATE_NONE || state > SAVE_STATE_INVALIDATED ||
	    le32_get(p + SR_OFF_SAVED_NSEC) >= 1000000000u)
		return -EUCLEAN;
	struct legacy_save *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->state = (enum save_state)state;
	s->image_id = le64_get(p + SR_OFF_IMAGE_ID);
	s->saved_time.tv_sec = (time_t)le64_get(p + SR_OFF_SAVED_SEC);
	s->saved_time.tv_nsec = (long)le32_get(p + SR_OFF_SAVED_NSEC);
	s->config_generation = le64_get(p + SR_OFF_CONFIG_GEN);
	s->event_time.tv_sec = (time_t)le64_get(p + SR_OFF_EVENT_SEC);
	s->event_object = le64_get(p + SR_OFF_EVENT_OBJECT);
	s->pin_count = pins;
	for (uint32_t i = 0; i < pins; i++) {
		const uint8_t *q = p + SAVE_RECORD_FIXED + i * SAVE_PIN_SIZE;
		s->pins[i].id = le64_get(q);
		s->pins[i].generation = le64_get(q + 8);
	}
	c->legacy_save = s;
	return 0;
}

static int decode_seal(struct container *c, const uint8_t *p, uint32_t len)
{
	if (len < SEAL_RECORD_FIXED)
		return -EUCLEAN;
	struct object *o = object_find(c, le64_get(p + SL_OFF_OBJECT_ID));
	uint32_t state = le32_get(p + SL_OFF_STATE);
	uint32_t why = le32_get(p + SL_OFF_WHY);
	uint32_t pins = le32_get(p + SL_OFF_PIN_COUNT);
	if (!o || o->seal || state == SAVE_STATE_NONE ||
	    state > SAVE_STATE_INVALIDATED || why > SAVE_WHY_MAX ||
	    pins > FORMAT_MAX_SEAL_PINS ||
	    le32_get(p + SL_OFF_SAVED_NSEC) >= 1000000000u ||
	    le32_get(p + SL_OFF_EVENT_NSEC) >= 1000000000u)
		return -EUCLEAN;
	struct image_seal *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->state = (enum save_state)state;
	s->why = (enum save_why)why;
	s->saved_time.tv_sec = (time_t)le64_get(p + SL_OFF_SAVED_SEC);
	s->saved_time.tv_nsec = (long)le32_get(p + SL_OFF_SAVED_NSEC);
	s->event_time.tv_sec = (time_t)le64_get(p + SL_OFF_EVENT_SEC);
	s->event_time.tv_nsec = (long)le32_get(p + SL_OFF_EVENT_NSEC);
	s->event_object = le64_get(p + SL_OFF_EVENT_OBJECT);
	s->config_generation = le64_get(p + SL_OFF_CONFIG_GEN);
	memcpy(s->fingerprint, p + SL_OFF_FINGERPRINT, FORMAT_FINGERPRINT_LEN);
	s->adopt_from = le64_get(p + SL_OFF_ADOPT_FROM);
	o->seal = s; /* freed with the object from here on */
	if (pins) {
		s->pins = calloc(pins, sizeof(*s->pins));
		if (!s->pins)
			return -ENOMEM;
		s->pin_cap = pins;
	}
	uint32_t pos = SEAL_RECORD_FIXED;
	for (uint32_t i = 0; i < pins; i++) {
		if (len - pos < SEAL_PIN_FIXED)
			return -EUCLEAN;
		uint16_t n = le16_get(p + pos + 16);
		if (n > FORMAT_NAME_MAX || len - pos - SEAL_PIN_FIXED < n ||
		    memchr(p + pos + SEAL_PIN_FIXED, 0, n))
			return -EUCLEAN;
		char *name = malloc((size_t)n + 1);
		if (!name)
			return -ENOMEM;
		memcpy(name, p + pos + SEAL_PIN_FIXED, n);
		name[n] = 0;
		s->pins[i].id = le64_get(p + pos);
		s->pins[i].generation = le64_get(p + pos + 8);
		s->pins[i].name = name;
		s->pin_count++;
		pos += SEAL_PIN_FIXED + n;
	}
	return pos == len ? 0 : -EUCLEAN;
}

static int decode_spent(struct container *c, const uint8_t *p, uint32_t len)
{
	if (len < SPENT_RECORD_FIXED)
		return -EUCLEAN;
	uint32_t n = le32_get(p + 4);
	if (n == 0 || n > FORMAT_MAX_SPENT ||
	    len != SPENT_RECORD_FIXED + n * SPENT_ENTRY_SIZE)
		return -EUCLEAN;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *q =
			p + SPENT_RECORD_FIXED + i * SPENT_ENTRY_SIZE;
		memcpy(c->spent[i].fingerprint, q, FORMAT_FINGERPRINT_LEN);
		c->spent[i].when = le64_get(q + FORMAT_FINGERPRINT_LEN);
	}
	c->spent_num = n;
	return 0;
}

static int decode_dir(struct container *c, const uint8_t *p, uint32_t len)
{
	struct dir_info *d = &c->dir;
	if (len != GUEST_RECORD_SIZE || le32_get(p + GR_OFF_MODE) > 07777 ||
	    le32_get(p + GR_OFF_MTIME_NSEC) >= 1000000000u ||
	    le32_get(p + GR_OFF_CTIME_NSEC) >= 1000000000u)
		return -EUCLEAN;
	for (unsigned i = 40; i < GUEST_RECORD_SIZE; i++)
		if (p[i])
			return -EUCLEAN;
	d->set = true;
	d->mode = le32_get(p + GR_OFF_MODE);
	d->uid = le32_get(p + GR_OFF_UID);
	d->gid = le32_get(p + GR_OFF_GID);
	d->mtime.tv_sec = (time_t)le64_get(p + GR_OFF_MTIME_SEC);
	d->mtime.tv_nsec = (long)le32_get(p + GR_OFF_MTIME_NSEC);
	d->ctime.tv_sec = (time_t)le64_get(p + GR_OFF_CTIME_SEC);
	d->ctime.tv_nsec = (long)le32_get(p + GR_OFF_CTIME_NSEC);
	return 0;
}

static int decode_object(struct container *c, const uint8_t *p, uint32_t len,
			 struct load_diag *diag)
{
	struct object *o = NULL;
	char name[FORMAT_NAME_MAX + 1];
	int ret;

	const uint32_t fixed =
		c->encrypted ? OBJECT_RECORD_FIXED_CRYPT : OBJECT_RECORD_FIXED;
	struct map_seal root_seal = {0};
	if (len < fixed)
		return -EUCLEAN;
	uint16_t name_len = le16_get(p + OR_OFF_NAME_LEN);
	uint32_t flags = le32_get(p + OR_OFF_FLAGS);
	uint64_t id = le64_get(p + OR_OFF_ID);
	if (c->encrypted) {
		root_seal.birth = le64_get(p + OR_OFF_ROOT_BIRTH);
		memcpy(root_seal.nonce, p + OR_OFF_ROOT_NONCE, 12);
		memcpy(root_seal.tag, p + OR_OFF_ROOT_TAG, 16);
		if (le32_get(p + OR_OFF_ROOT_RESERVED))
			return -EUCLEAN;
	}
	if (len != fixed + name_len || name_len > FORMAT_NAME_MAX ||
	    (flags & ~OBJECT_FLAGS_KNOWN) ||
	    ((flags & OBJECT_FLAG_IMAGE_TAINTED) && !c->table_seals) ||
	    le32_get(p + OR_OFF_MTIME_NSEC) >= 1000000000u ||
	    le32_get(p + OR_OFF_CTIME_NSEC) >= 1000000000u || id == 0 ||
	    id >= c->next_object_id ||
	    le64_get(p + OR_OFF_SIZE) >
		    (FORMAT_MAX_VCLUSTERS << c->cluster_shift) ||
	    !S_ISREG(le32_get(p + OR_OFF_MODE)))
		return -EUCLEAN;
	memcpy(name, p + fixed, name_len);
	name[name_len] = '\0';
	if (strlen(name) != name_len)
		return -EUCLEAN; /* a NUL inside the name */
	bool orphan = flags & OBJECT_FLAG_ORPHAN;
	if (orphan != (name_len == 0))
		return -EUCLEAN;
	if (!orphan && (!name_object_valid(name) || object_find_name(c, name)))
		return -EUCLEAN;
	if (object_find(c, id))
		return -EUCLEAN;
	ret = object_new(c, id, orphan ? NULL : name, &o);
	if (ret)
		return ret;
	o->size = le64_get(p + OR_OFF_SIZE);
	o->generation = le64_get(p + OR_OFF_GENERATION);
	o->mode = le32_get(p + OR_OFF_MODE);
	o->uid = le32_get(p + OR_OFF_UID);
	o->gid = le32_get(p + OR_OFF_GID);
	o->flags = flags;
	o->mtime.tv_sec = (time_t)le64_get(p + OR_OFF_MTIME_SEC);
	o->mtime.tv_nsec = (long)le32_get(p + OR_OFF_MTIME_NSEC);
	o->ctime.tv_sec = (time_t)le64_get(p + OR_OFF_CTIME_SEC);
	o->ctime.tv_nsec = (long)le32_get(p + OR_OFF_CTIME_NSEC);
	o->stored_bytes = le64_get(p + OR_OFF_STORED_BYTES);
	ret = object_insert(c, o);
	if (ret) {
		object_destroy(c, o);
		return ret;
	}
	if (c->view_lazy || c->maps_deferred) {
		/* a snapshot's accounting walks the tree itself, once per
		 * node however many snapshots share it (snapshot.c); a lazily
		 * opened container walks it later (container.c) */
		o->frozen_root = le64_get(p + OR_OFF_MAP_ROOT);
		o->frozen_crc = le32_get(p + OR_OFF_MAP_ROOT_CRC);
		o->frozen_seal = root_seal;
		o->height = le16_get(p + OR_OFF_MAP_HEIGHT);
		o->frozen_height = o->height;
		if (o->height > FORMAT_MAX_HEIGHT ||
		    (o->frozen_root == 0) != (o->height == 0))
			return -EUCLEAN;
		if (!o->frozen_root &&
		    (o->stored_bytes != 0 || !map_seal_is_zero(&root_seal)))
			return -EUCLEAN; /* as map_load */
		o->dirty = false;
		return 0;
	}
	ret = map_load(c, o, le64_get(p + OR_OFF_MAP_ROOT),
		       le32_get(p + OR_OFF_MAP_ROOT_CRC), &root_seal,
		       le16_get(p + OR_OFF_MAP_HEIGHT), diag);
	if (ret)
		return ret;
	/* The size may exceed what the map covers: the tail is a hole. */
	o->dirty = false;
	return 0;
}

int table_read(struct container *c, struct load_diag *diag, uint64_t file_size)
{
	free(c->table_blocks);
	c->table_blocks = NULL;
	/* bound the count by the file before allocating for it */
	if (c->table_block_num == 0 ||
	    c->table_block_num > (file_size >> c->node_shift))
		return table_fail(diag, -EUCLEAN, "bad table length",
				  c->table_offset);
	c->table_blocks = calloc(c->table_block_num, sizeof(uint64_t));
	if (!c->table_blocks)
		return -ENOMEM;
	return table_read_chain(c, diag, file_size, 0, c->table_offset,
				c->table_crc, &c->table_seal,
				c->table_block_num, c->table_blocks);
}

int table_read_chain(struct container *c, struct load_diag *diag,
		     uint64_t file_size, uint64_t owner, uint64_t offset,
		     uint32_t crc, const struct map_seal *chain_seal,
		     size_t block_num, uint64_t *out_blocks)
{
	uint8_t *blk = malloc(c->node_size);
	uint64_t off = offset;
	struct map_seal seal = *chain_seal;
	const uint32_t payload_off =
		c->encrypted ? TABLE_PAYLOAD_OFF_CRYPT : BLOCK_HEADER_SIZE;
	const bool frozen = owner != 0;
	size_t n = 0;
	bool saw_save = false;
	int ret = 0;

	if (!blk)
		return -ENOMEM;
	if (block_num == 0 || block_num > (file_size >> c->node_shift)) {
		ret = table_fail(diag, -EUCLEAN, "bad table length", off);
		goto out;
	}
	while (off) {
		if (n >= block_num) {
			ret = table_fail(diag, -EUCLEAN, "chain too long", off);
			goto out;
		}
		if (!node_in_bounds(c, off, file_size)) {
			ret = table_fail(diag, -EUCLEAN, "block out of bounds",
					 off);
			goto out;
		}
		if (!c->view_parent) {
			const uint64_t slot = slot_of(c, off);
			ret = alloc_node_refs(&c->alloc, slot) > 0
				      ? -EUCLEAN
				      : alloc_node_ref(&c->alloc, slot, true);
			if (ret) {
				table_fail(diag, ret, "block referenced twice",
					   off);
				goto out;
			}
		}
		out_blocks[n] = off;
		ret = io_pread(c->io, blk, c->node_size, off);
		if (ret) {
			table_fail(diag, ret, "cannot read block", off);
			goto out;
		}
		if (c->encrypted) {
			/* The parent holds the ciphertext's crc and the
			 * seal; once opened, the block checks its own crc. */
			if (crc32c(0, blk, c->node_size) != crc ||
			    crypt_open(c, CRYPTO_AAD_TABLE_BLOCK, 0, owner, n,
				       &seal, blk, c->node_size) != 0) {
				ret = table_fail(diag, -EBADMSG,
						 "authentication failed", off);
				goto out;
			}
			crc = le32_get(blk + BH_OFF_CRC);
		}
		uint32_t stored = le32_get(blk + BH_OFF_CRC);
		le32_put(blk + BH_OFF_CRC, 0);
		if (stored != crc || crc32c(0, blk, c->node_size) != stored) {
			ret = table_fail(diag, -EBADMSG, "checksum mismatch",
					 off);
			goto out;
		}
		uint32_t used = le32_get(blk + BH_OFF_USED);
		if (le32_get(blk + BH_OFF_MAGIC) != BLOCK_MAGIC_TABLE ||
		    le64_get(blk + BH_OFF_INDEX) != n ||
		    le64_get(blk + BH_OFF_OWNER) != owner ||
		    le64_get(blk + BH_OFF_GENERATION) > c->generation ||
		    used > c->node_size - payload_off ||
		    (c->encrypted &&
		     le64_get(blk + BH_OFF_GENERATION) != seal.birth)) {
			ret = table_fail(diag, -EUCLEAN, "bad block header",
					 off);
			goto out;
		}
		const uint8_t *p = blk + payload_off;
		uint32_t pos = 0;
		while (pos < used) {
			if (used - pos < RECORD_HEADER_SIZE) {
				ret = -EUCLEAN;
				break;
			}
			uint16_t type = le16_get(p + pos);
			uint16_t len = le16_get(p + pos + 2);
			if (len < RECORD_HEADER_SIZE || len > used - pos) {
				ret = -EUCLEAN;
				break;
			}
			if (type == RECORD_SAVE && !saw_save &&
			    !c->table_seals && !frozen) {
				saw_save = true;
				ret = decode_save(c, p + pos, len);
			} else if (type == RECORD_IMAGE_SEAL &&
				   c->table_seals) {
				ret = decode_seal(c, p + pos, len);
			} else if (type == RECORD_SPENT && c->table_seals &&
				   !c->spent_num && !frozen) {
				ret = decode_spent(c, p + pos, len);
			} else if (type == RECORD_SNAPSHOT && c->table_snaps &&
				   !frozen) {
				ret = snapshot_decode(c, p + pos, len);
			} else if (type == RECORD_GUEST && !c->dir.set) {
				ret = decode_dir(c, p + pos, len);
			} else if (type == RECORD_OBJECT) {
				ret = decode_object(c, p + pos, len, diag);
			} else {
				ret = -EUCLEAN;
			}
			if (ret)
				break;
			pos += len;
		}
		if (ret) {
			table_fail(diag, ret, "invalid record", off);
			goto out;
		}
		off = le64_get(blk + BH_OFF_NEXT);
		crc = le32_get(blk + BH_OFF_NEXT_CRC);
		if (c->encrypted) {
			memcpy(seal.nonce, blk + BH_OFF_NEXT_NONCE, 12);
			memcpy(seal.tag, blk + TABLE_OFF_NEXT_TAG, 16);
		}
		n++;
	}
	if (n != block_num)
		ret = table_fail(diag, -EUCLEAN, "chain too short", off);
out:
	free(blk);
	return ret;
}
