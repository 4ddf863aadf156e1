/*
 * hostile_layout.c -- a parser of a plain container's metadata for the
 * crafted cases of test_hostile: every table block and map node, where its
 * parent keeps the copy of its crc, every object record and the image seal;
 * reseal() recomputes checksums bottom-up so that a crafted case carries
 * exactly one semantic error and no checksum error.
 */
#include "hostile.h"

uint64_t sb_gen(const uint8_t *img, uint64_t off)
{
	return le64_get(img + off + SB_OFF_GENERATION);
}

static int add_blk(struct layout *l, enum blk_kind kind, uint64_t off,
		   int parent, uint64_t crc_field)
{
	CHECK(l->blk_num < MAX_BLOCKS);
	struct blk *b = &l->blks[l->blk_num];
	memset(b, 0, sizeof(*b));
	b->kind = kind;
	b->off = off;
	b->parent = parent;
	b->crc_field = crc_field;
	b->object = -1;
	return l->blk_num++;
}

static void parse_node(struct layout *l, const uint8_t *img, int idx)
{
	const uint8_t *p = img + l->blks[idx].off;
	CHECK_EQ(le32_get(p + BH_OFF_MAGIC), BLOCK_MAGIC_MAP_NODE);
	l->blks[idx].level = le16_get(p + BH_OFF_LEVEL);
	l->blks[idx].owner = le64_get(p + BH_OFF_OWNER);
	if (l->blks[idx].level == 0)
		return;
	for (unsigned i = 0; i < (CS - BLOCK_HEADER_SIZE) / MAP_ENTRY_SIZE;
	     i++) {
		const uint8_t *e = p + BLOCK_HEADER_SIZE + i * MAP_ENTRY_SIZE;
		if (le16_get(e + ME_OFF_KIND) != MAP_KIND_NODE)
			continue;
		int child =
			add_blk(l, BLK_NODE, le64_get(e + ME_OFF_OFFSET), idx,
				l->blks[idx].off + BLOCK_HEADER_SIZE +
					i * MAP_ENTRY_SIZE + ME_OFF_CRC);
		l->blks[child].object = l->blks[idx].object;
		parse_node(l, img, child);
	}
}

void layout_parse(struct layout *l, const uint8_t *img)
{
	memset(l, 0, sizeof(*l));
	uint64_t ga = sb_gen(img, FORMAT_SUPERBLOCK_A_OFFSET);
	uint64_t gb = sb_gen(img, FORMAT_SUPERBLOCK_B_OFFSET);
	l->sb_off = ga > gb ? FORMAT_SUPERBLOCK_A_OFFSET
			    : FORMAT_SUPERBLOCK_B_OFFSET;
	l->old_sb_off = ga > gb ? FORMAT_SUPERBLOCK_B_OFFSET
				: FORMAT_SUPERBLOCK_A_OFFSET;
	const uint8_t *sb = img + l->sb_off;
	uint64_t off = le64_get(sb + SB_OFF_TABLE_OFFSET);
	int parent = -1;
	uint64_t crc_field = l->sb_off + SB_OFF_TABLE_CRC;
	while (off) {
		int t = add_blk(l, BLK_TABLE, off, parent, crc_field);
		const uint8_t *p = img + off;
		CHECK_EQ(le32_get(p + BH_OFF_MAGIC), BLOCK_MAGIC_TABLE);
		uint32_t used = le32_get(p + BH_OFF_USED);
		for (uint32_t pos = 0; pos < used;) {
			const uint8_t *r = p + BLOCK_HEADER_SIZE + pos;
			uint16_t type = le16_get(r), len = le16_get(r + 2);
			uint64_t abs = off + BLOCK_HEADER_SIZE + pos;
			if (type == RECORD_IMAGE_SEAL) {
				l->save_off = abs;
				l->save_block = t;
			} else if (type == RECORD_OBJECT) {
				CHECK(l->rec_num < MAX_OBJS);
				struct rec *rc = &l->recs[l->rec_num];
				uint16_t nl = le16_get(r + OR_OFF_NAME_LEN);
				memcpy(rc->name, r + OBJECT_RECORD_FIXED, nl);
				rc->name[nl] = '\0';
				rc->off = abs;
				rc->table_block = t;
				rc->id = le64_get(r + OR_OFF_ID);
				rc->root = le64_get(r + OR_OFF_MAP_ROOT);
				rc->height = le16_get(r + OR_OFF_MAP_HEIGHT);
				if (rc->root) {
					int n = add_blk(
						l, BLK_NODE, rc->root, t,
						abs + OR_OFF_MAP_ROOT_CRC);
					l->blks[n].object = l->rec_num;
					l->blks[n].root = true;
					parse_node(l, img, n);
				}
				l->rec_num++;
			}
			pos += len;
		}
		parent = t;
		crc_field = off + BH_OFF_NEXT_CRC;
		off = le64_get(p + BH_OFF_NEXT);
	}
}

const struct rec *rec_named(const struct layout *l, const char *name)
{
	for (int i = 0; i < l->rec_num; i++)
		if (strcmp(l->recs[i].name, name) == 0)
			return &l->recs[i];
	CHECK(!"record not found");
	return NULL;
}

int root_of(const struct layout *l, const char *name)
{
	const struct rec *r = rec_named(l, name);
	for (int i = 0; i < l->blk_num; i++)
		if (l->blks[i].kind == BLK_NODE && l->blks[i].root &&
		    l->blks[i].off == r->root)
			return i;
	CHECK(!"root not found");
	return -1;
}

/* A leaf of `name` (the first one met), or -1. */
int leaf_of(const struct layout *l, const char *name)
{
	const struct rec *r = rec_named(l, name);
	int obj = (int)(r - l->recs);
	for (int i = 0; i < l->blk_num; i++)
		if (l->blks[i].kind == BLK_NODE && l->blks[i].object == obj &&
		    l->blks[i].level == 0)
			return i;
	return -1;
}

void sb_reseal(uint8_t *img, uint64_t sb_off)
{
	le32_put(img + sb_off + SB_OFF_CRC,
		 crc32c(0, img + sb_off, SB_OFF_CRC));
}

/* reseal - recompute block `idx`'s crc, store the copy its parent keeps,
 * and so on up to the newest superblock. */
void reseal(const struct layout *l, uint8_t *img, int idx)
{
	while (idx >= 0) {
		const struct blk *b = &l->blks[idx];
		uint8_t *p = img + b->off;
		le32_put(p + BH_OFF_CRC, 0);
		uint32_t crc = crc32c(0, p, CS);
		le32_put(p + BH_OFF_CRC, crc);
		le32_put(img + b->crc_field, crc);
		idx = b->parent;
	}
	sb_reseal(img, l->sb_off);
}

uint8_t *entry_at(const struct layout *l, uint8_t *img, int blk, unsigned i)
{
	return img + l->blks[blk].off + BLOCK_HEADER_SIZE + i * MAP_ENTRY_SIZE;
}

/* The first entry of kind `kind` in block `blk`, or -1. */
int entry_find(const struct layout *l, const uint8_t *img, int blk,
	       unsigned kind, int skip)
{
	for (unsigned i = 0; i < (CS - BLOCK_HEADER_SIZE) / MAP_ENTRY_SIZE;
	     i++) {
		const uint8_t *e = img + l->blks[blk].off + BLOCK_HEADER_SIZE +
				   i * MAP_ENTRY_SIZE;
		if (le16_get(e + ME_OFF_KIND) == kind && skip-- == 0)
			return (int)i;
	}
	return -1;
}
