/*
 * format.h -- the on-disk format of a hangar guest container, byte by byte.
 *
 * This header is the single source of truth for every structure that reaches
 * the container file; core/FORMAT.md is its prose twin and carries the crash
 * arguments.  Every multi-byte field is little-endian and is read and written
 * only through the le*_get / le*_put helpers below, never by casting a buffer
 * to a struct, so the structs here document layout and sizes (checked by
 * _Static_assert) rather than being used for I/O.
 *
 * Layout of a container file (cluster size C = 1 << cluster_shift):
 *
 *   offset 0      superblock slot A (512 bytes, one sector)
 *   offset 4096   superblock slot B (512 bytes, one sector)
 *   cluster FIRST = ceil(8192 / C) and above: data clusters, compressed
 *                 extent clusters, map nodes and object-table blocks,
 *                 all allocated by the cluster allocator.
 *
 * Invariants that the format itself guarantees:
 *   1. A superblock fits in one 512-byte sector, so a torn write leaves it
 *      either wholly old or wholly new; its crc32c rejects anything else.
 *   2. Every metadata block (map node, table block) carries its own crc32c
 *      and the crc32c of every child block is stored in the parent pointer,
 *      so a stale but self-consistent block (a lost or misdirected write) is
 *      detected as well as a corrupt one.
 *   3. Nothing on disk records free space: a cluster is in use exactly when
 *      the committed tree references it.  Leaks are impossible by construction;
 *      `used_clusters` in the superblock is a cross-check for `check`.
 *
 * Ownership and locking: none -- constants, layout structs and inline
 * byte-order helpers that touch only the buffer they are given.
 */
#ifndef HANGAR_FORMAT_H
#define HANGAR_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- little-endian accessors ------------------------------------------ */

static inline uint16_t le16_get(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t le32_get(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static inline uint64_t le64_get(const uint8_t *p)
{
	return (uint64_t)le32_get(p) | ((uint64_t)le32_get(p + 4) << 32);
}

static inline void le16_put(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void le32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void le64_put(uint8_t *p, uint64_t v)
{
	le32_put(p, (uint32_t)v);
	le32_put(p + 4, (uint32_t)(v >> 32));
}

/* ---- geometry ----------------------------------------------------------- */

#define FORMAT_VERSION		     1u
#define FORMAT_SECTOR_SIZE	     512u
#define FORMAT_SUPERBLOCK_A_OFFSET   0u
#define FORMAT_SUPERBLOCK_B_OFFSET   4096u
#define FORMAT_HEADER_AREA	     8192u /* first allocatable byte is >= this */
#define FORMAT_CLUSTER_SHIFT_MIN     12u   /* 4 KiB */
#define FORMAT_CLUSTER_SHIFT_MAX     21u   /* 2 MiB */
#define FORMAT_CLUSTER_SHIFT_DEFAULT 16u   /* 64 KiB */
/* metadata blocks (map nodes, table blocks) of a new container: 4 KiB, or
 * the cluster when that is smaller (FEATURE_INCOMPAT_SMALL_NODES) */
#define FORMAT_NODE_SHIFT_MIN	  12u
#define FORMAT_NODE_SHIFT_DEFAULT 12u
#define FORMAT_NAME_MAX		  255u /* object name bytes, no NUL on disk */
#define FORMAT_GUEST_NAME_MAX	  64u
#define FORMAT_MAX_HEIGHT	  8u /* map radix tree levels, bounded on read */
#define FORMAT_MAX_PINS		  64u /* legacy save record (type 2) */
/* Files one image seal may pin (record type 4); a seal must also fit in one
 * table block, which the writer checks (savelock.c). */
#define FORMAT_MAX_SEAL_PINS 4096u
/* Spent images a container remembers (record type 5), newest first. */
#define FORMAT_MAX_SPENT       64u
#define FORMAT_FINGERPRINT_LEN 32u
/* Largest object size: the map addresses 2^40 clusters at most. */
#define FORMAT_MAX_VCLUSTERS (1ull << 40)
/* A generation at or past this is corruption, not history (2^63 commits
 * outlast any disk); without the bound a container at 2^64 - 1 would
 * commit generation 0, and its next open would prefer the older slot. */
#define FORMAT_MAX_GENERATION (1ull << 63)

/* ---- superblock (512 bytes at offsets 0 and 4096) ----------------------- */

#define SUPERBLOCK_MAGIC "HANGARC1" /* 8 bytes, no NUL */

/* Feature flags.  An unknown incompat bit refuses open; an unknown ro_compat
 * bit refuses a read-write open; unknown compat bits are ignored. */
#define FEATURE_INCOMPAT_ENCRYPTED                                             \
	(1ull << 0) /* AES-256-GCM, 64-byte map entries: FORMAT.md section 9 */
/* Snapshots: record type 6 in the table, frozen table chains, and clusters
 * shared between the live tree and snapshots (FORMAT.md section 4,
 * "Snapshots").  Set by a commit whose table holds a snapshot record. */
#define FEATURE_INCOMPAT_SNAPSHOTS (1ull << 1)
/* Image seals travel with their image: record types 4 and 5 and the object
 * flag IMAGE_TAINTED (FORMAT.md section 4).  Set by a commit whose table
 * holds any of them; containers without them keep the version-1 layout. */
#define FEATURE_INCOMPAT_IMAGE_SEALS (1ull << 2)
/* Shared extents: one RAW data cluster may be mapped by several entries of
 * the live trees (a copy_file_range inside a guest shares clusters instead
 * of copying them; FORMAT.md section 4, "Shared extents").  Readers without
 * it would take such a tree for corruption ("cluster referenced twice").
 * Set by the first commit after a RAW cluster was shared; never cleared. */
#define FEATURE_INCOMPAT_SHARED_EXTENTS (1ull << 3)
/* Small nodes: map nodes and table blocks are 1 << node_shift bytes
 * (superblock offset 252), smaller than a cluster; a metadata cluster holds
 * several (FORMAT.md section 3).  Set at creation, never changes; without
 * it every metadata block is one cluster. */
#define FEATURE_INCOMPAT_SMALL_NODES (1ull << 4)
#define FEATURE_INCOMPAT_KNOWN                                                 \
	(FEATURE_INCOMPAT_ENCRYPTED | FEATURE_INCOMPAT_IMAGE_SEALS |           \
	 FEATURE_INCOMPAT_SNAPSHOTS | FEATURE_INCOMPAT_SHARED_EXTENTS |        \
	 FEATURE_INCOMPAT_SMALL_NODES)
#define FEATURE_RO_COMPAT_KNOWN 0ull
#define FEATURE_COMPAT_KNOWN	0ull

struct superblock_layout {
	uint8_t magic[8];	   /*   0 "HANGARC1" */
	uint8_t version[4];	   /*   8 FORMAT_VERSION */
	uint8_t header_size[4];	   /*  12 512 */
	uint8_t incompat[8];	   /*  16 feature flags */
	uint8_t ro_compat[8];	   /*  24 */
	uint8_t compat[8];	   /*  32 */
	uint8_t cluster_shift[4];  /*  40 12..21 */
	uint8_t map_entry_size[4]; /*  44 32 (64 when ENCRYPTED) */
	uint8_t generation[8];	   /*  48 commit number, >= 1 */
	uint8_t table_offset[8];   /*  56 first object-table block */
	uint8_t table_crc[4];	   /*  64 crc32c of that block */
	uint8_t table_blocks[4];   /*  68 blocks in the table chain */
	uint8_t used_clusters[8];  /*  72 clusters the tree references */
	uint8_t next_object_id[8]; /*  80 ids are never reused */
	uint8_t commit_time_ns[8]; /*  88 CLOCK_REALTIME at commit */
	uint8_t uuid[16];	   /*  96 container identity */
	uint8_t flags[4];	   /* 112 CONTAINER_FLAG_* */
	uint8_t encryption[128];   /* 116 ENCRYPTED: see below; else zero */
	uint8_t snapshot_root[8];  /* 244 zero (snapshots live in the table) */
	uint8_t node_shift[4];	   /* 252 SMALL_NODES: 12..shift-1, else 0 */
	uint8_t reserved[252];	   /* 256 zero */
	uint8_t crc[4];		   /* 508 crc32c of bytes 0..507 */
};
_Static_assert(sizeof(struct superblock_layout) == 512, "superblock size");

#define SB_OFF_MAGIC	      0
#define SB_OFF_VERSION	      8
#define SB_OFF_HEADER_SIZE    12
#define SB_OFF_INCOMPAT	      16
#define SB_OFF_RO_COMPAT      24
#define SB_OFF_COMPAT	      32
#define SB_OFF_CLUSTER_SHIFT  40
#define SB_OFF_MAP_ENTRY_SIZE 44
#define SB_OFF_GENERATION     48
#define SB_OFF_TABLE_OFFSET   56
#define SB_OFF_TABLE_CRC      64
#define SB_OFF_TABLE_BLOCKS   68
#define SB_OFF_USED_CLUSTERS  72
#define SB_OFF_NEXT_OBJECT_ID 80
#define SB_OFF_COMMIT_TIME    88
#define SB_OFF_UUID	      96
#define SB_OFF_FLAGS	      112
#define SB_OFF_NODE_SHIFT     252
#define SB_OFF_CRC	      508

/* The `encryption` area (bytes 116..243) of an ENCRYPTED container.  The
 * MAC covers bytes 0..507 with the MAC field zeroed; the crc (508) covers
 * the MAC, so slot choice by crc is unchanged. */
#define SB_OFF_ENC_CIPHER	  116 /* le32 1 = AES-256-GCM */
#define SB_OFF_ENC_KEY_SOURCE	  120 /* le32 1 = the store's key-slot area */
#define SB_OFF_ENC_KEY_ID	  124 /* 16 fingerprint of the master key */
#define SB_OFF_ENC_NONCE_LIMIT	  140 /* le64 no nonce counter reached it */
#define SB_OFF_ENC_TABLE_NONCE	  148 /* 12 nonce of table block 0 */
#define SB_OFF_ENC_TABLE_TAG	  160 /* 16 its GCM tag */
#define SB_OFF_ENC_TABLE_BIRTH	  176 /* le64 commit that wrote the table */
#define SB_OFF_ENC_RESERVED0	  184 /* 4 zero */
#define SB_OFF_ENC_MAC		  188 /* 32 HMAC-SHA256, SUPERBLOCK_MAC key */
#define SB_OFF_ENC_RESERVED1	  220 /* 24 zero, up to 244 */
#define SB_ENC_END		  244
#define SB_ENC_CIPHER_AES_256_GCM 1u
#define SB_ENC_KEY_SOURCE_STORE	  1u

/* Container flags (not features: they change policy, not format). */
#define CONTAINER_FLAG_COMPRESS_DISKS (1u << 0)

/* ---- metadata block header (first 64 bytes of every metadata block) ----- */

#define BLOCK_MAGIC_MAP_NODE 0x4e4d4748u /* "HGMN" */
#define BLOCK_MAGIC_TABLE    0x544f4748u /* "HGOT" */

struct block_header_layout {
	uint8_t magic[4]; /*  0 BLOCK_MAGIC_* */
	uint8_t crc[4];	  /*  4 crc32c of the whole block, this field zero */
	uint8_t generation[8]; /*  8 commit that wrote the block */
	uint8_t owner[8];      /* 16 object id (map node), 0 (table) */
	uint8_t index[8];      /* 24 map: first vcluster covered; table: seq */
	uint8_t level[2];      /* 32 map: 0 = leaf; table: 0 */
	uint8_t reserved0[2];  /* 34 */
	uint8_t used[4];      /* 36 map: entries in use; table: payload bytes */
	uint8_t next[8];      /* 40 table: next block offset, 0 = last */
	uint8_t next_crc[4];  /* 48 table: crc32c of the next block */
	uint8_t reserved[12]; /* 52 zero */
};
_Static_assert(sizeof(struct block_header_layout) == 64, "block header size");

#define BH_OFF_MAGIC	  0
#define BH_OFF_CRC	  4
#define BH_OFF_GENERATION 8
#define BH_OFF_OWNER	  16
#define BH_OFF_INDEX	  24
#define BH_OFF_LEVEL	  32
#define BH_OFF_USED	  36
#define BH_OFF_NEXT	  40
#define BH_OFF_NEXT_CRC	  48
#define BLOCK_HEADER_SIZE 64u

/* ---- map entry (32 bytes; 64 when FEATURE_INCOMPAT_ENCRYPTED) ----------- */

enum map_kind {
	MAP_KIND_HOLE = 0,	 /* unmapped: reads as zeros, no storage */
	MAP_KIND_RAW = 1,	 /* one whole cluster, uncompressed */
	MAP_KIND_COMPRESSED = 2, /* zstd frame of `length` bytes at `offset` */
	MAP_KIND_ZERO = 3,	 /* explicit zeros, no storage */
	MAP_KIND_NODE = 4,	 /* interior pointer to a child map node */
};
#define MAP_KIND_MAX MAP_KIND_NODE

struct map_entry_layout {
	uint8_t offset[8]; /*  0 byte offset of the stored bytes, 0 if none */
	uint8_t length[4]; /*  8 stored bytes (C for RAW and NODE) */
	uint8_t crc[4];	   /* 12 COMPRESSED: crc32c of stored bytes;
	                        NODE: crc32c of the child block; else 0 */
	uint8_t kind[2];   /* 16 enum map_kind */
	uint8_t reserved[14]; /* 18 zero (encryption: nonce+tag follow at 32) */
};
_Static_assert(sizeof(struct map_entry_layout) == 32, "map entry size");

#define ME_OFF_OFFSET  0
#define ME_OFF_LENGTH  8
#define ME_OFF_CRC     12
#define ME_OFF_KIND    16
#define MAP_ENTRY_SIZE 32u

/* ENCRYPTED: 64-byte entries.  Bytes 18..23 and 60..63 are zero; HOLE and
 * ZERO entries are zero from byte 18 on. */
#define ME_OFF_BIRTH	     24 /* le64 commit that wrote the stored bytes */
#define ME_OFF_NONCE	     32 /* 12 GCM nonce */
#define ME_OFF_TAG	     44 /* 16 GCM tag */
#define MAP_ENTRY_SIZE_CRYPT 64u

/* ---- object table records (payload of table blocks) -------------------- */

/* Every record: le16 type, le16 length (whole record, bytes), then body.
 * Records never span two table blocks. */
#define RECORD_HEADER_SIZE 4u
enum record_type {
	RECORD_OBJECT = 1,
	RECORD_SAVE = 2,
	RECORD_GUEST = 3,
	RECORD_IMAGE_SEAL = 4, /* FEATURE_INCOMPAT_IMAGE_SEALS */
	RECORD_SPENT = 5,      /* FEATURE_INCOMPAT_IMAGE_SEALS */
	RECORD_SNAPSHOT = 6,   /* FEATURE_INCOMPAT_SNAPSHOTS */
};

struct object_record_layout {
	uint8_t type[2];	 /*   0 RECORD_OBJECT */
	uint8_t length[2];	 /*   2 96 + name_len */
	uint8_t id[8];		 /*   4 object id, unique, never reused */
	uint8_t size[8];	 /*  12 virtual size in bytes */
	uint8_t generation[8];	 /*  20 commit that last changed the contents */
	uint8_t mode[4];	 /*  28 st_mode permission and type bits */
	uint8_t uid[4];		 /*  32 */
	uint8_t gid[4];		 /*  36 */
	uint8_t flags[4];	 /*  40 OBJECT_FLAG_* */
	uint8_t mtime_sec[8];	 /*  44 */
	uint8_t ctime_sec[8];	 /*  52 */
	uint8_t mtime_nsec[4];	 /*  60 */
	uint8_t ctime_nsec[4];	 /*  64 */
	uint8_t map_root[8];	 /*  68 root map node offset, 0 = empty map */
	uint8_t map_root_crc[4]; /*  76 crc32c of the root node block */
	uint8_t map_height[2];	 /*  80 levels, 0 when map_root is 0 */
	uint8_t name_len[2];	 /*  82 1..255 (0 for an orphan) */
	uint8_t stored_bytes[8]; /*  84 bytes of storage referenced */
	uint8_t reserved[4];	 /*  92 zero */
				 /* 96: name bytes follow, no NUL */
};
_Static_assert(sizeof(struct object_record_layout) == 96, "object record");

#define OR_OFF_ID	    4
#define OR_OFF_SIZE	    12
#define OR_OFF_GENERATION   20
#define OR_OFF_MODE	    28
#define OR_OFF_UID	    32
#define OR_OFF_GID	    36
#define OR_OFF_FLAGS	    40
#define OR_OFF_MTIME_SEC    44
#define OR_OFF_CTIME_SEC    52
#define OR_OFF_MTIME_NSEC   60
#define OR_OFF_CTIME_NSEC   64
#define OR_OFF_MAP_ROOT	    68
#define OR_OFF_MAP_ROOT_CRC 76
#define OR_OFF_MAP_HEIGHT   80
#define OR_OFF_NAME_LEN	    82
#define OR_OFF_STORED_BYTES 84
#define OBJECT_RECORD_FIXED 96u
/* ENCRYPTED: the root node's seal follows the plain fixed part; the name
 * starts at 136. */
#define OR_OFF_ROOT_BIRTH	  96  /* le64 */
#define OR_OFF_ROOT_NONCE	  104 /* 12 */
#define OR_OFF_ROOT_TAG		  116 /* 16 */
#define OR_OFF_ROOT_RESERVED	  132 /* 4 zero */
#define OBJECT_RECORD_FIXED_CRYPT 136u

/* ENCRYPTED table blocks: the next block's nonce in header bytes 52..63,
 * its tag in payload bytes 64..79, records from 80. */
#define BH_OFF_NEXT_NONCE	52
#define TABLE_OFF_NEXT_TAG	64
#define TABLE_PAYLOAD_OFF_CRYPT 80u

/* Object flags. */
#define OBJECT_FLAG_IMAGE_UNSEALED (1u << 0) /* memory.save being written */
#define OBJECT_FLAG_ORPHAN	   (1u << 1) /* unlinked, still open: name_len 0 */
/* FEATURE_INCOMPAT_IMAGE_SEALS: the object's bytes are not a complete
 * image (a write to it failed, its seal failed, or its writer never closed
 * it); it can never become a resumable image until truncated to 0. */
#define OBJECT_FLAG_IMAGE_TAINTED (1u << 2)
#define OBJECT_FLAGS_KNOWN                                                     \
	(OBJECT_FLAG_IMAGE_UNSEALED | OBJECT_FLAG_ORPHAN |                     \
	 OBJECT_FLAG_IMAGE_TAINTED)

struct save_record_layout {
	uint8_t type[2];       /*  0 RECORD_SAVE */
	uint8_t length[2];     /*  2 64 + 16 * pin_count */
	uint8_t state[4];      /*  4 enum save_state (hangar/savelock.h) */
	uint8_t image_id[8];   /*  8 object id of the image */
	uint8_t saved_sec[8];  /* 16 when the image was sealed */
	uint8_t saved_nsec[4]; /* 24 */
	uint8_t pin_count[4];  /* 28 0..FORMAT_MAX_PINS */
	uint8_t config_generation
		[8];		 /* 32 generation of `config` at seal, 0 none */
	uint8_t event_sec[8];	 /* 40 INVALIDATED: when */
	uint8_t event_object[8]; /* 48 INVALIDATED: the disk that was written */
	uint8_t reserved[8];	 /* 56 zero */
	/* 64: pin_count pins of { le64 object id, le64 generation } */
};
_Static_assert(sizeof(struct save_record_layout) == 64, "save record");

#define SR_OFF_STATE	    4
#define SR_OFF_IMAGE_ID	    8
#define SR_OFF_SAVED_SEC    16
#define SR_OFF_SAVED_NSEC   24
#define SR_OFF_PIN_COUNT    28
#define SR_OFF_CONFIG_GEN   32
#define SR_OFF_EVENT_SEC    40
#define SR_OFF_EVENT_OBJECT 48
#define SAVE_RECORD_FIXED   64u
#define SAVE_PIN_SIZE	    16u

/*
 * Image seal (type 4, one per sealed object, after every object record):
 * the dependency recorded when an image's bytes were complete.  It belongs
 * to the object and travels with it through renames.  Pins follow the fixed
 * part, each { le64 id, le64 generation, le16 name_len, name bytes }.
 */
struct seal_record_layout {
	uint8_t type[2];	 /*  0 RECORD_IMAGE_SEAL */
	uint8_t length[2];	 /*  2 whole record */
	uint8_t object_id[8];	 /*  4 the sealed object */
	uint8_t state[4];	 /* 12 SAVED, RESUMING, INVALIDATED */
	uint8_t why[4];		 /* 16 INVALIDATED: enum seal_why */
	uint8_t saved_sec[8];	 /* 20 the image's saved time */
	uint8_t saved_nsec[4];	 /* 28 */
	uint8_t event_nsec[4];	 /* 32 INVALIDATED: when (ns) */
	uint8_t event_sec[8];	 /* 36 INVALIDATED: when */
	uint8_t event_object[8]; /* 44 INVALIDATED: the file that moved on */
	uint8_t config_generation[8]; /* 52 `config` at seal, 0 none */
	uint8_t pin_count[4];	      /* 60 */
	uint8_t fingerprint[32];      /* 64 FORMAT.md section 4 */
	uint8_t adopt_from[8];	      /* 96 first object id a seal may adopt */
				      /* 104: pins */
};
_Static_assert(sizeof(struct seal_record_layout) == 104, "seal record");

#define SL_OFF_OBJECT_ID    4
#define SL_OFF_STATE	    12
#define SL_OFF_WHY	    16
#define SL_OFF_SAVED_SEC    20
#define SL_OFF_SAVED_NSEC   28
#define SL_OFF_EVENT_NSEC   32
#define SL_OFF_EVENT_SEC    36
#define SL_OFF_EVENT_OBJECT 44
#define SL_OFF_CONFIG_GEN   52
#define SL_OFF_PIN_COUNT    60
#define SL_OFF_FINGERPRINT  64
#define SL_OFF_ADOPT_FROM   96
#define SEAL_RECORD_FIXED   104u
#define SEAL_PIN_FIXED	    18u /* id, generation, name_len */

/* Spent images (type 5, at most one): fingerprints of images that can
 * never be resumed again (retired, invalidated, discarded, incomplete), so
 * that a copy of one is never sealed as a fresh image. */
struct spent_record_layout {
	uint8_t type[2];   /*  0 RECORD_SPENT */
	uint8_t length[2]; /*  2 8 + 40 * count */
	uint8_t count[4];  /*  4 1..FORMAT_MAX_SPENT */
	/* 8: count entries of { fingerprint[32], le64 when (seconds) } */
};
#define SPENT_RECORD_FIXED 8u
#define SPENT_ENTRY_SIZE   40u

/* The guest as a directory: attributes set by chmod/chown/utimens on it
 * (rsync -a, cp -a).  Absent until first set. */
struct guest_record_layout {
	uint8_t type[2];       /*  0 RECORD_GUEST */
	uint8_t length[2];     /*  2 48 */
	uint8_t mode[4];       /*  4 permission bits (S_IFDIR implied) */
	uint8_t uid[4];	       /*  8 */
	uint8_t gid[4];	       /* 12 */
	uint8_t mtime_sec[8];  /* 16 */
	uint8_t ctime_sec[8];  /* 24 */
	uint8_t mtime_nsec[4]; /* 32 */
	uint8_t ctime_nsec[4]; /* 36 */
	uint8_t reserved[8];   /* 40 zero */
};
_Static_assert(sizeof(struct guest_record_layout) == 48, "guest record");

#define GR_OFF_MODE	  4
#define GR_OFF_UID	  8
#define GR_OFF_GID	  12
#define GR_OFF_MTIME_SEC  16
#define GR_OFF_CTIME_SEC  24
#define GR_OFF_MTIME_NSEC 32
#define GR_OFF_CTIME_NSEC 36
#define GUEST_RECORD_SIZE 48u

/* A snapshot (type 6, live table only): a frozen table chain written by the
 * commit `generation`, holding that commit's guest, object and seal records.
 * Its blocks are table blocks whose owner field is the snapshot id. */
struct snapshot_record_layout {
	uint8_t type[2];	 /*  0 RECORD_SNAPSHOT */
	uint8_t length[2];	 /*  2 96 + name_len */
	uint8_t id[8];		 /*  4 from next_object_id: never reused */
	uint8_t generation[8];	 /* 12 the commit that took it */
	uint8_t created_sec[8];	 /* 20 */
	uint8_t created_nsec[4]; /* 28 */
	uint8_t table_offset[8]; /* 32 first block of the frozen chain */
	uint8_t table_crc[4];	 /* 40 its crc32c (ENCRYPTED: ciphertext's) */
	uint8_t table_blocks[4]; /* 44 blocks in the chain, >= 1 */
	uint8_t flags[4];	 /* 48 SNAPSHOT_FLAG_* */
	uint8_t name_len[2];	 /* 52 1..FORMAT_SNAPSHOT_NAME_MAX */
	uint8_t reserved0[2];	 /* 54 zero */
	uint8_t table_birth[8];	 /* 56 ENCRYPTED: seal of block 0, else 0 */
	uint8_t table_nonce[12]; /* 64 */
	uint8_t table_tag[16];	 /* 76 */
	uint8_t reserved1[4];	 /* 92 zero */
				 /* 96: name bytes, no NUL */
};
_Static_assert(sizeof(struct snapshot_record_layout) == 96, "snapshot record");

#define SN_OFF_ID	      4
#define SN_OFF_GENERATION     12
#define SN_OFF_CREATED_SEC    20
#define SN_OFF_CREATED_NSEC   28
#define SN_OFF_TABLE_OFFSET   32
#define SN_OFF_TABLE_CRC      40
#define SN_OFF_TABLE_BLOCKS   44
#define SN_OFF_FLAGS	      48
#define SN_OFF_NAME_LEN	      52
#define SN_OFF_TABLE_BIRTH    56
#define SN_OFF_TABLE_NONCE    64
#define SN_OFF_TABLE_TAG      76
#define SN_OFF_RESERVED1      92
#define SNAPSHOT_RECORD_FIXED 96u
/* the frozen chain holds image seals (its own IMAGE_SEALS bit) */
#define SNAPSHOT_FLAG_IMAGE_SEALS (1u << 0)
#define SNAPSHOT_FLAGS_KNOWN	  SNAPSHOT_FLAG_IMAGE_SEALS
#define FORMAT_SNAPSHOT_NAME_MAX  64u
#define FORMAT_MAX_SNAPSHOTS	  256u

/* ---- every offset constant checked against its struct ----------------- */

#define FORMAT_FIELD_AT(type, field, off)                                      \
	_Static_assert(offsetof(struct type, field) == (off),                  \
		       #type "." #field " offset")

FORMAT_FIELD_AT(superblock_layout, magic, SB_OFF_MAGIC);
FORMAT_FIELD_AT(superblock_layout, version, SB_OFF_VERSION);
FORMAT_FIELD_AT(superblock_layout, header_size, SB_OFF_HEADER_SIZE);
FORMAT_FIELD_AT(superblock_layout, incompat, SB_OFF_INCOMPAT);
FORMAT_FIELD_AT(superblock_layout, ro_compat, SB_OFF_RO_COMPAT);
FORMAT_FIELD_AT(superblock_layout, compat, SB_OFF_COMPAT);
FORMAT_FIELD_AT(superblock_layout, cluster_shift, SB_OFF_CLUSTER_SHIFT);
FORMAT_FIELD_AT(superblock_layout, map_entry_size, SB_OFF_MAP_ENTRY_SIZE);
FORMAT_FIELD_AT(superblock_layout, generation, SB_OFF_GENERATION);
FORMAT_FIELD_AT(superblock_layout, table_offset, SB_OFF_TABLE_OFFSET);
FORMAT_FIELD_AT(superblock_layout, table_crc, SB_OFF_TABLE_CRC);
FORMAT_FIELD_AT(superblock_layout, table_blocks, SB_OFF_TABLE_BLOCKS);
FORMAT_FIELD_AT(superblock_layout, used_clusters, SB_OFF_USED_CLUSTERS);
FORMAT_FIELD_AT(superblock_layout, next_object_id, SB_OFF_NEXT_OBJECT_ID);
FORMAT_FIELD_AT(superblock_layout, commit_time_ns, SB_OFF_COMMIT_TIME);
FORMAT_FIELD_AT(superblock_layout, uuid, SB_OFF_UUID);
FORMAT_FIELD_AT(superblock_layout, flags, SB_OFF_FLAGS);
FORMAT_FIELD_AT(superblock_layout, encryption, SB_OFF_ENC_CIPHER);
FORMAT_FIELD_AT(superblock_layout, snapshot_root, SB_ENC_END);
FORMAT_FIELD_AT(superblock_layout, node_shift, SB_OFF_NODE_SHIFT);
FORMAT_FIELD_AT(superblock_layout, crc, SB_OFF_CRC);
FORMAT_FIELD_AT(snapshot_record_layout, id, SN_OFF_ID);
FORMAT_FIELD_AT(snapshot_record_layout, generation, SN_OFF_GENERATION);
FORMAT_FIELD_AT(snapshot_record_layout, created_sec, SN_OFF_CREATED_SEC);
FORMAT_FIELD_AT(snapshot_record_layout, created_nsec, SN_OFF_CREATED_NSEC);
FORMAT_FIELD_AT(snapshot_record_layout, table_offset, SN_OFF_TABLE_OFFSET);
FORMAT_FIELD_AT(snapshot_record_layout, table_crc, SN_OFF_TABLE_CRC);
FORMAT_FIELD_AT(snapshot_record_layout, table_blocks, SN_OFF_TABLE_BLOCKS);
FORMAT_FIELD_AT(snapshot_record_layout, flags, SN_OFF_FLAGS);
FORMAT_FIELD_AT(snapshot_record_layout, name_len, SN_OFF_NAME_LEN);
FORMAT_FIELD_AT(snapshot_record_layout, table_birth, SN_OFF_TABLE_BIRTH);
FORMAT_FIELD_AT(snapshot_record_layout, table_nonce, SN_OFF_TABLE_NONCE);
FORMAT_FIELD_AT(snapshot_record_layout, table_tag, SN_OFF_TABLE_TAG);
FORMAT_FIELD_AT(snapshot_record_layout, reserved1, SN_OFF_RESERVED1);
/* the encryption area's fields are consecutive and end where it ends */
_Static_assert(SB_OFF_ENC_KEY_SOURCE == SB_OFF_ENC_CIPHER + 4 &&
		       SB_OFF_ENC_KEY_ID == SB_OFF_ENC_KEY_SOURCE + 4 &&
		       SB_OFF_ENC_NONCE_LIMIT == SB_OFF_ENC_KEY_ID + 16 &&
		       SB_OFF_ENC_TABLE_NONCE == SB_OFF_ENC_NONCE_LIMIT + 8 &&
		       SB_OFF_ENC_TABLE_TAG == SB_OFF_ENC_TABLE_NONCE + 12 &&
		       SB_OFF_ENC_TABLE_BIRTH == SB_OFF_ENC_TABLE_TAG + 16 &&
		       SB_OFF_ENC_RESERVED0 == SB_OFF_ENC_TABLE_BIRTH + 8 &&
		       SB_OFF_ENC_MAC == SB_OFF_ENC_RESERVED0 + 4 &&
		       SB_OFF_ENC_RESERVED1 == SB_OFF_ENC_MAC + 32 &&
		       SB_ENC_END == SB_OFF_ENC_RESERVED1 + 24,
	       "superblock encryption area");

FORMAT_FIELD_AT(block_header_layout, magic, BH_OFF_MAGIC);
FORMAT_FIELD_AT(block_header_layout, crc, BH_OFF_CRC);
FORMAT_FIELD_AT(block_header_layout, generation, BH_OFF_GENERATION);
FORMAT_FIELD_AT(block_header_layout, owner, BH_OFF_OWNER);
FORMAT_FIELD_AT(block_header_layout, index, BH_OFF_INDEX);
FORMAT_FIELD_AT(block_header_layout, level, BH_OFF_LEVEL);
FORMAT_FIELD_AT(block_header_layout, used, BH_OFF_USED);
FORMAT_FIELD_AT(block_header_layout, next, BH_OFF_NEXT);
FORMAT_FIELD_AT(block_header_layout, next_crc, BH_OFF_NEXT_CRC);
FORMAT_FIELD_AT(block_header_layout, reserved, BH_OFF_NEXT_NONCE);
_Static_assert(sizeof(struct block_header_layout) == BLOCK_HEADER_SIZE,
	       "block header size constant");

FORMAT_FIELD_AT(map_entry_layout, offset, ME_OFF_OFFSET);
FORMAT_FIELD_AT(map_entry_layout, length, ME_OFF_LENGTH);
FORMAT_FIELD_AT(map_entry_layout, crc, ME_OFF_CRC);
FORMAT_FIELD_AT(map_entry_layout, kind, ME_OFF_KIND);
_Static_assert(sizeof(struct map_entry_layout) == MAP_ENTRY_SIZE,
	       "map entry size constant");
/* encrypted entries: birth inside the reserved bytes, nonce and tag after
 * the plain entry, four zero bytes at the end */
_Static_assert(ME_OFF_BIRTH >= ME_OFF_KIND + 2 &&
		       ME_OFF_BIRTH + 8 <= MAP_ENTRY_SIZE &&
		       ME_OFF_NONCE == MAP_ENTRY_SIZE &&
		       ME_OFF_TAG == ME_OFF_NONCE + 12 &&
		       ME_OFF_TAG + 16 + 4 == MAP_ENTRY_SIZE_CRYPT,
	       "encrypted map entry");

FORMAT_FIELD_AT(object_record_layout, id, OR_OFF_ID);
FORMAT_FIELD_AT(object_record_layout, size, OR_OFF_SIZE);
FORMAT_FIELD_AT(object_record_layout, generation, OR_OFF_GENERATION);
FORMAT_FIELD_AT(object_record_layout, mode, OR_OFF_MODE);
FORMAT_FIELD_AT(object_record_layout, uid, OR_OFF_UID);
FORMAT_FIELD_AT(object_record_layout, gid, OR_OFF_GID);
FORMAT_FIELD_AT(object_record_layout, flags, OR_OFF_FLAGS);
FORMAT_FIELD_AT(object_record_layout, mtime_sec, OR_OFF_MTIME_SEC);
FORMAT_FIELD_AT(object_record_layout, ctime_sec, OR_OFF_CTIME_SEC);
FORMAT_FIELD_AT(object_record_layout, mtime_nsec, OR_OFF_MTIME_NSEC);
FORMAT_FIELD_AT(object_record_layout, ctime_nsec, OR_OFF_CTIME_NSEC);
FORMAT_FIELD_AT(object_record_layout, map_root, OR_OFF_MAP_ROOT);
FORMAT_FIELD_AT(object_record_layout, map_root_crc, OR_OFF_MAP_ROOT_CRC);
FORMAT_FIELD_AT(object_record_layout, map_height, OR_OFF_MAP_HEIGHT);
FORMAT_FIELD_AT(object_record_layout, name_len, OR_OFF_NAME_LEN);
FORMAT_FIELD_AT(object_record_layout, stored_bytes, OR_OFF_STORED_BYTES);
_Static_assert(sizeof(struct object_record_layout) == OBJECT_RECORD_FIXED &&
		       OR_OFF_ROOT_BIRTH == OBJECT_RECORD_FIXED &&
		       OR_OFF_ROOT_NONCE == OR_OFF_ROOT_BIRTH + 8 &&
		       OR_OFF_ROOT_TAG == OR_OFF_ROOT_NONCE + 12 &&
		       OR_OFF_ROOT_RESERVED == OR_OFF_ROOT_TAG + 16 &&
		       OBJECT_RECORD_FIXED_CRYPT == OR_OFF_ROOT_RESERVED + 4,
	       "object record fixed part");

FORMAT_FIELD_AT(save_record_layout, state, SR_OFF_STATE);
FORMAT_FIELD_AT(save_record_layout, image_id, SR_OFF_IMAGE_ID);
FORMAT_FIELD_AT(save_record_layout, saved_sec, SR_OFF_SAVED_SEC);
FORMAT_FIELD_AT(save_record_layout, saved_nsec, SR_OFF_SAVED_NSEC);
FORMAT_FIELD_AT(save_record_layout, pin_count, SR_OFF_PIN_COUNT);
FORMAT_FIELD_AT(save_record_layout, config_generation, SR_OFF_CONFIG_GEN);
FORMAT_FIELD_AT(save_record_layout, event_sec, SR_OFF_EVENT_SEC);
FORMAT_FIELD_AT(save_record_layout, event_object, SR_OFF_EVENT_OBJECT);
_Static_assert(sizeof(struct save_record_layout) == SAVE_RECORD_FIXED,
	       "save record size constant");
FORMAT_FIELD_AT(seal_record_layout, object_id, SL_OFF_OBJECT_ID);
FORMAT_FIELD_AT(seal_record_layout, state, SL_OFF_STATE);
FORMAT_FIELD_AT(seal_record_layout, why, SL_OFF_WHY);
FORMAT_FIELD_AT(seal_record_layout, saved_sec, SL_OFF_SAVED_SEC);
FORMAT_FIELD_AT(seal_record_layout, saved_nsec, SL_OFF_SAVED_NSEC);
FORMAT_FIELD_AT(seal_record_layout, event_nsec, SL_OFF_EVENT_NSEC);
FORMAT_FIELD_AT(seal_record_layout, event_sec, SL_OFF_EVENT_SEC);
FORMAT_FIELD_AT(seal_record_layout, event_object, SL_OFF_EVENT_OBJECT);
FORMAT_FIELD_AT(seal_record_layout, config_generation, SL_OFF_CONFIG_GEN);
FORMAT_FIELD_AT(seal_record_layout, pin_count, SL_OFF_PIN_COUNT);
FORMAT_FIELD_AT(seal_record_layout, fingerprint, SL_OFF_FINGERPRINT);
FORMAT_FIELD_AT(seal_record_layout, adopt_from, SL_OFF_ADOPT_FROM);
_Static_assert(sizeof(struct spent_record_layout) == SPENT_RECORD_FIXED,
	       "spent record size constant");

FORMAT_FIELD_AT(guest_record_layout, mode, GR_OFF_MODE);
FORMAT_FIELD_AT(guest_record_layout, uid, GR_OFF_UID);
FORMAT_FIELD_AT(guest_record_layout, gid, GR_OFF_GID);
FORMAT_FIELD_AT(guest_record_layout, mtime_sec, GR_OFF_MTIME_SEC);
FORMAT_FIELD_AT(guest_record_layout, ctime_sec, GR_OFF_CTIME_SEC);
FORMAT_FIELD_AT(guest_record_layout, mtime_nsec, GR_OFF_MTIME_NSEC);
FORMAT_FIELD_AT(guest_record_layout, ctime_nsec, GR_OFF_CTIME_NSEC);
_Static_assert(sizeof(struct guest_record_layout) == GUEST_RECORD_SIZE,
	       "guest record size constant");

#endif /* HANGAR_FORMAT_H */
