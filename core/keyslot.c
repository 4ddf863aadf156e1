/*
 * keyslot.c -- parsing and editing the key-slot area (layout: keyslot.h).
 *
 * Notes on the design:
 *   - The area is untrusted input.  Every field is read through le*_get
 *     from a buffer whose length was checked first; nothing is cast to a
 *     struct.  Parsing order: length and magic (-EUCLEAN: not an area),
 *     header crc (-EBADMSG), version and cipher (-EPROTONOSUPPORT), the
 *     geometry and reserved fields (-EUCLEAN); then each slot: crc
 *     (-EBADMSG: damaged), then its fields and KDF parameters (-EUCLEAN).
 *     Finally the area-wide bounds (total work, at least one slot).  All of
 *     this runs before any scrypt derivation, so a hostile area costs
 *     microseconds, never seconds or gigabytes.
 *   - The crc per slot is what separates "wrong secret" from "damaged":
 *     a slot whose crc holds but whose tag fails was opened with the wrong
 *     KEK (or forged by someone who recomputed the crc -- indistinguishable,
 *     and reported as a wrong key, which is safe: nothing is opened).
 *   - Each slot has its own random salt, hence its own KEK used for exactly
 *     one wrap; its GCM nonce is random too.  Rewriting a slot draws a new
 *     salt and nonce, so no (KEK, nonce) pair repeats.
 *   - Where the area lives is the integrator's choice; the proposal
 *     is a file `STORE/.hangar-keys` holding exactly
 *     KEYSLOT_AREA_SIZE bytes, replaced atomically: write `.hangar-keys.tmp`,
 *     fsync it, rename over `.hangar-keys`, fsync the directory.  A crash
 *     leaves the old area or the new one, never a mix; both wrap the same
 *     master key, so either opens the store.
 *
 * Invariants (numbering of keyslot.h): 1 is kept by keyslot_add checking
 * the master's fingerprint against key_id; 2 by keyslot_remove; 3 by
 * keyslot_add refusing to exceed the budget and by keyslot_area_check
 * refusing areas that do.  keyslot_area_check() is also asserted after
 * every change (docs/style.md).
 */
#include "keyslot.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "crc32c.h"
#include "format.h"

struct keyslot_header_layout {
	uint8_t magic[8];      /*  0 "HANGARK1" */
	uint8_t version[4];    /*  8 KEYSLOT_AREA_VERSION */
	uint8_t cipher[4];     /* 12 KEYSLOT_CIPHER_AES_256_GCM */
	uint8_t slot_count[2]; /* 16 KEYSLOT_COUNT */
	uint8_t slot_size[2];  /* 18 KEYSLOT_SLOT_SIZE */
	uint8_t reserved0[4];  /* 20 zero */
	uint8_t area_uuid[16]; /* 24 random at init */
	uint8_t key_id[16];    /* 40 fingerprint of the master key */
	uint8_t reserved1[4];  /* 56 zero */
	uint8_t crc[4];	       /* 60 crc32c of bytes 0..59 */
};
_Static_assert(sizeof(struct keyslot_header_layout) == KEYSLOT_HEADER_SIZE,
	       "key-slot header size");

struct keyslot_slot_layout {
	uint8_t kind[2];     /*   0 enum keyslot_kind */
	uint8_t kdf[2];	     /*   2 KEYSLOT_KDF_SCRYPT */
	uint8_t index[4];    /*   4 own position */
	uint8_t log2_n[4];   /*   8 */
	uint8_t r[4];	     /*  12 */
	uint8_t p[4];	     /*  16 */
	uint8_t reserved[4]; /*  20 zero */
	uint8_t created[8];  /*  24 seconds */
	uint8_t salt[32];    /*  32 scrypt salt */
	uint8_t nonce[12];   /*  64 GCM nonce of the wrap */
	uint8_t wrapped[32]; /*  76 wrapped master key */
	uint8_t tag[16];     /* 108 GCM tag */
	uint8_t crc[4];	     /* 124 crc32c of bytes 0..123 */
};
_Static_assert(sizeof(struct keyslot_slot_layout) == KEYSLOT_SLOT_SIZE,
	       "key-slot size");
_Static_assert(KEYSLOT_AREA_SIZE == 1088, "key-slot area size");
_Static_assert(CRYPTO_SCRYPT_SALT_LEN == 32, "slot salt field");

#define KH_OFF_MAGIC	  0
#define KH_OFF_VERSION	  8
#define KH_OFF_CIPHER	  12
#define KH_OFF_SLOT_COUNT 16
#define KH_OFF_SLOT_SIZE  18
#define KH_OFF_RESERVED0  20
#define KH_OFF_AREA_UUID  24
#define KH_OFF_KEY_ID	  40
#define KH_OFF_RESERVED1  56
#define KH_OFF_CRC	  60

#define KS_OFF_KIND	0
#define KS_OFF_KDF	2
#define KS_OFF_INDEX	4
#define KS_OFF_LOG2_N	8
#define KS_OFF_R	12
#define KS_OFF_P	16
#define KS_OFF_RESERVED 20
#define KS_OFF_CREATED	24
#define KS_OFF_SALT	32
#define KS_OFF_NONCE	64
#define KS_OFF_WRAPPED	76
#define KS_OFF_TAG	108
#define KS_OFF_CRC	124
/* Authenticated by the slot's tag: everything before the nonce. */
#define KS_AUTH_LEN 64

#define KEYSLOT_MAGIC	"HANGARK1"
#define KEYSLOT_AAD_LEN (CRYPTO_AAD_LEN + KH_OFF_CRC + KS_AUTH_LEN)

/* The result of checking a whole area: per-slot facts, no KDF run. */
struct keyslot_scan {
	struct keyslot_info info[KEYSLOT_COUNT];
	bool used[KEYSLOT_COUNT]; /* non-empty (intact or damaged) */
	unsigned intact;	  /* non-empty slots with error == 0 */
	uint64_t work;		  /* sum of N * r * p over intact slots */
};

static uint8_t *keyslot_slot(uint8_t *area, unsigned index)
{
	return area + KEYSLOT_HEADER_SIZE + (size_t)index * KEYSLOT_SLOT_SIZE;
}

static const uint8_t *keyslot_slot_const(const uint8_t *area, unsigned index)
{
	return area + KEYSLOT_HEADER_SIZE + (size_t)index * KEYSLOT_SLOT_SIZE;
}

static bool keyslot_all_zero(const uint8_t *p, size_t len)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < len; i++)
		acc |= p[i];
	return acc == 0;
}

static int keyslot_check_header(const uint8_t *area, size_t area_len)
{
	if (area_len != KEYSLOT_AREA_SIZE)
		return -EUCLEAN; /* truncated (or not ours) */
	if (memcmp(area + KH_OFF_MAGIC, KEYSLOT_MAGIC, 8) != 0)
		return -EUCLEAN;
	if (crc32c(0, area, KH_OFF_CRC) != le32_get(area + KH_OFF_CRC))
		return -EBADMSG;
	if (le32_get(area + KH_OFF_VERSION) != KEYSLOT_AREA_VERSION ||
	    le32_get(area + KH_OFF_CIPHER) != KEYSLOT_CIPHER_AES_256_GCM)
		return -EPROTONOSUPPORT;
	if (le16_get(area + KH_OFF_SLOT_COUNT) != KEYSLOT_COUNT ||
	    le16_get(area + KH_OFF_SLOT_SIZE) != KEYSLOT_SLOT_SIZE ||
	    le32_get(area + KH_OFF_RESERVED0) != 0 ||
	    le32_get(area + KH_OFF_RESERVED1) != 0)
		return -EUCLEAN;
	return 0;
}

/*
 * keyslot_parse_slot - fill *info for slot `index`; return 0 for an empty
 * or intact slot (info->kind says which) and the damage code otherwise
 * (also in info->error).  *out_work: N * r * p of an intact slot, else 0.
 */
static int keyslot_parse_slot(const uint8_t *area, unsigned index,
			      struct keyslot_info *info, uint64_t *out_work)
{
	const uint8_t *s = keyslot_slot_const(area, index);
	int ret;

	memset(info, 0, sizeof(*info));
	*out_work = 0;
	info->index = index;
	info->kind = (enum keyslot_kind)le16_get(s + KS_OFF_KIND);
	info->kdf.log2_n = le32_get(s + KS_OFF_LOG2_N);
	info->kdf.r = le32_get(s + KS_OFF_R);
	info->kdf.p = le32_get(s + KS_OFF_P);
	info->created_sec = le64_get(s + KS_OFF_CREATED);

	if (le16_get(s + KS_OFF_KIND) == KEYSLOT_KIND_EMPTY) {
		ret = keyslot_all_zero(s, KEYSLOT_SLOT_SIZE) ? 0 : -EUCLEAN;
		goto out;
	}
	if (crc32c(0, s, KS_OFF_CRC) != le32_get(s + KS_OFF_CRC)) {
		ret = -EBADMSG;
		goto out;
	}
	if ((le16_get(s + KS_OFF_KIND) != KEYSLOT_KIND_PASSPHRASE &&
	     le16_get(s + KS_OFF_KIND) != KEYSLOT_KIND_KEYFILE) ||
	    le16_get(s + KS_OFF_KDF) != KEYSLOT_KDF_SCRYPT ||
	    le32_get(s + KS_OFF_INDEX) != index ||
	    le32_get(s + KS_OFF_RESERVED) != 0) {
		ret = -EUCLEAN;
		goto out;
	}
	ret = crypto_scrypt_params_check(&info->kdf, out_work) < 0 ? -EUCLEAN
								   : 0;
out:
	info->error = ret;
	return ret;
}

/* keyslot_area_check - header, every slot, and the area-wide bounds. */
static int keyslot_area_check(const uint8_t *area, size_t area_len,
			      struct keyslot_scan *scan)
{
	unsigned used = 0;
	int ret;

	memset(scan, 0, sizeof(*scan));
	if (area == NULL)
		return -EINVAL;
	ret = keyslot_check_header(area, area_len);
	if (ret < 0)
		return ret;
	for (unsigned i = 0; i < KEYSLOT_COUNT; i++) {
		uint64_t work;

		ret = keyslot_parse_slot(area, i, &scan->info[i], &work);
		if (ret == 0 && scan->info[i].kind == KEYSLOT_KIND_EMPTY)
			continue;
		scan->used[i] = true;
		used++;
		if (ret == 0) {
			scan->intact++;
			scan->work += work; /* <= 8 * 2^22, no overflow */
		}
	}
	if (used == 0 || scan->work > KEYSLOT_AREA_WORK_MAX)
		return -EUCLEAN;
	return 0;
}

static unsigned keyslot_used_count(const struct keyslot_scan *scan)
{
	unsigned n = 0;

	for (unsigned i = 0; i < KEYSLOT_COUNT; i++)
		n += scan->used[i];
	return n;
}

static void keyslot_aad_build(uint8_t out[KEYSLOT_AAD_LEN], const uint8_t *area,
			      unsigned index)
{
	struct crypto_aad aad = {
		.kind = CRYPTO_AAD_KEYSLOT,
		.index = index,
		.length = CRYPTO_KEY_LEN,
	};

	memcpy(aad.uuid, area + KH_OFF_AREA_UUID, CRYPTO_UUID_LEN);
	crypto_aad_encode(out, &aad);
	memcpy(out + CRYPTO_AAD_LEN, area, KH_OFF_CRC);
	memcpy(out + CRYPTO_AAD_LEN + KH_OFF_CRC,
	       keyslot_slot_const(area, index), KS_AUTH_LEN);
}

static int keyslot_args_check(enum keyslot_kind kind, const void *secret,
			      size_t secret_len)
{
	if (kind != KEYSLOT_KIND_PASSPHRASE && kind != KEYSLOT_KIND_KEYFILE)
		return -EINVAL;
	if (secret == NULL || secret_len == 0 ||
	    secret_len > CRYPTO_SCRYPT_SECRET_MAX)
		return -EINVAL;
	return 0;
}

/* keyslot_check_master - -EKEYREJECTED unless `master` is this area's. */
static int keyslot_check_master(const uint8_t *area,
				const struct crypto_key *master)
{
	uint8_t id[CRYPTO_KEY_ID_LEN];
	int ret;

	if (master == NULL)
		return -EINVAL;
	ret = crypto_key_fingerprint(master, id);
	if (ret < 0)
		return ret;
	if (memcmp(id, area + KH_OFF_KEY_ID, CRYPTO_KEY_ID_LEN) != 0)
		return -EKEYREJECTED;
	return 0;
}

/*
 * keyslot_slot_seal - write slot `index` of `area` (the caller's scratch
 * copy, header already final): fresh salt and nonce, KEK from scrypt,
 * `master` wrapped, crc.  On error the slot's bytes are unspecified.
 */
static int keyslot_slot_seal(uint8_t *area, unsigned index,
			     const struct crypto_key *master,
			     enum keyslot_kind kind,
			     const struct crypto_scrypt_params *params,
			     const void *secret, size_t secret_len)
{
	uint8_t *s = keyslot_slot(area, index);
	uint8_t aad[KEYSLOT_AAD_LEN];
	struct crypto_key *kek = NULL;
	struct crypto_aead *aead = NULL;
	struct timespec now;
	int ret;

	memset(s, 0, KEYSLOT_SLOT_SIZE);
	le16_put(s + KS_OFF_KIND, (uint16_t)kind);
	le16_put(s + KS_OFF_KDF, KEYSLOT_KDF_SCRYPT);
	le32_put(s + KS_OFF_INDEX, index);
	le32_put(s + KS_OFF_LOG2_N, params->log2_n);
	le32_put(s + KS_OFF_R, params->r);
	le32_put(s + KS_OFF_P, params->p);
	if (clock_gettime(CLOCK_REALTIME, &now) == 0 && now.tv_sec > 0)
		le64_put(s + KS_OFF_CREATED, (uint64_t)now.tv_sec);
	ret = crypto_random_bytes(s + KS_OFF_SALT, CRYPTO_SCRYPT_SALT_LEN);
	if (ret < 0)
		goto out;
	ret = crypto_random_bytes(s + KS_OFF_NONCE, CRYPTO_NONCE_LEN);
	if (ret < 0)
		goto out;
	ret = crypto_key_new_scrypt(&kek, params, secret, secret_len,
				    s + KS_OFF_SALT, CRYPTO_SCRYPT_SALT_LEN);
	if (ret < 0)
		goto out;
	ret = crypto_aead_new(kek, &aead);
	if (ret < 0)
		goto out_free_kek;
	keyslot_aad_build(aad, area, index);
	ret = crypto_key_wrap(aead, s + KS_OFF_WRAPPED, s + KS_OFF_TAG,
			      s + KS_OFF_NONCE, aad, sizeof(aad), master);
	if (ret < 0)
		goto out_free_aead;
	le32_put(s + KS_OFF_CRC, crc32c(0, s, KS_OFF_CRC));

out_free_aead:
	crypto_aead_free(aead);
out_free_kek:
	crypto_key_free(kek);
out:
	return ret;
}

/* keyslot_slot_open - derive the KEK of intact slot `index` from `secret`
 * and unwrap; -EBADMSG when the secret is not this slot's. */
static int keyslot_slot_open(const uint8_t *area, unsigned index,
			     const struct crypto_scrypt_params *params,
			     const void *secret, size_t secret_len,
			     struct crypto_key **out_master)
{
	const uint8_t *s = keyslot_slot_const(area, index);
	uint8_t aad[KEYSLOT_AAD_LEN];
	struct crypto_key *kek = NULL;
	struct crypto_aead *aead = NULL;
	int ret;

	*out_master = NULL;
	ret = crypto_key_new_scrypt(&kek, params, secret, secret_len,
				    s + KS_OFF_SALT, CRYPTO_SCRYPT_SALT_LEN);
	if (ret < 0)
		goto out;
	ret = crypto_aead_new(kek, &aead);
	if (ret < 0)
		goto out_free_kek;
	keyslot_aad_build(aad, area, index);
	ret = crypto_key_unwrap(aead, out_master, s + KS_OFF_NONCE, aad,
				sizeof(aad), s + KS_OFF_WRAPPED,
				s + KS_OFF_TAG);

	crypto_aead_free(aead);
out_free_kek:
	crypto_key_free(kek);
out:
	return ret;
}

/* keyslot_area_valid - debug invariant: the area parses, and (when given)
 * `master` is its key. */
static bool keyslot_area_valid(const uint8_t *area,
			       const struct crypto_key *master)
{
	struct keyslot_scan scan;

	if (keyslot_area_check(area, KEYSLOT_AREA_SIZE, &scan) != 0 ||
	    scan.intact == 0)
		return false;
	return master == NULL || keyslot_check_master(area, master) == 0;
}

int keyslot_area_init(uint8_t *out_area, struct crypto_key **out_master,
		      enum keyslot_kind kind,
		      const struct crypto_scrypt_params *params,
		      const void *secret, size_t secret_len)
{
	uint8_t area[KEYSLOT_AREA_SIZE];
	struct crypto_scrypt_params defaults;
	struct crypto_key *master = NULL;
	int ret;

	*out_master = NULL;
	if (out_area == NULL)
		return -EINVAL;
	memset(out_area, 0, KEYSLOT_AREA_SIZE);
	ret = keyslot_args_check(kind, secret, secret_len);
	if (ret < 0)
		return ret;
	if (params == NULL) {
		crypto_scrypt_params_default(&defaults);
		params = &defaults;
	}
	ret = crypto_scrypt_params_check(params, NULL);
	if (ret < 0)
		return ret;

	ret = crypto_key_generate(&master);
	if (ret < 0)
		return ret;
	memset(area, 0, sizeof(area));
	memcpy(area + KH_OFF_MAGIC, KEYSLOT_MAGIC, 8);
	le32_put(area + KH_OFF_VERSION, KEYSLOT_AREA_VERSION);
	le32_put(area + KH_OFF_CIPHER, KEYSLOT_CIPHER_AES_256_GCM);
	le16_put(area + KH_OFF_SLOT_COUNT, KEYSLOT_COUNT);
	le16_put(area + KH_OFF_SLOT_SIZE, KEYSLOT_SLOT_SIZE);
	ret = crypto_random_bytes(area + KH_OFF_AREA_UUID, CRYPTO_UUID_LEN);
	if (ret < 0)
		goto out_free_master;
	ret = crypto_key_fingerprint(master, area + KH_OFF_KEY_ID);
	if (ret < 0)
		goto out_free_master;
	le32_put(area + KH_OFF_CRC, crc32c(0, area, KH_OFF_CRC));
	ret = keyslot_slot_seal(area, 0, master, kind, params, secret,
				secret_len);
	if (ret < 0)
		goto out_free_master;

	assert(keyslot_area_valid(area, master));
	memcpy(out_area, area, KEYSLOT_AREA_SIZE);
	*out_master = master;
	return 0;

out_free_master:
	crypto_key_free(master);
	return ret;
}

int keyslot_unlock(struct crypto_key **out_master, unsigned *out_slot,
		   const uint8_t *area, size_t area_len, enum keyslot_kind kind,
		   const void *secret, size_t secret_len)
{
	struct keyslot_scan scan;
	bool damaged_candidate = false;
	int ret;

	*out_master = NULL;
	ret = keyslot_args_check(kind, secret, secret_len);
	if (ret < 0)
		return ret;
	ret = keyslot_area_check(area, area_len, &scan);
	if (ret < 0)
		return ret;

	for (unsigned i = 0; i < KEYSLOT_COUNT; i++) {
		const struct keyslot_info *info = &scan.info[i];
		struct crypto_key *master;

		if (!scan.used[i])
			continue;
		if (info->error != 0) {
			/* Its kind field is untrusted: only a slot that
			 * plainly says it is of another known kind is
			 * ruled out as the one this secret was for. */
			if (info->kind == kind ||
			    (info->kind != KEYSLOT_KIND_PASSPHRASE &&
			     info->kind != KEYSLOT_KIND_KEYFILE))
				damaged_candidate = true;
			continue;
		}
		if (info->kind != kind)
			continue;
		ret = keyslot_slot_open(area, i, &info->kdf, secret, secret_len,
					&master);
		if (ret == -EBADMSG)
			continue; /* not this slot's secret */
		if (ret < 0)
			return ret;
		/* The slot opened, so it is authentic under this secret; a
		 * master that is not the header's key_id means the header
		 * and slot were put together from different areas. */
		ret = keyslot_check_master(area, master);
		if (ret < 0) {
			crypto_key_free(master);
			return ret == -EKEYREJECTED ? -EUCLEAN : ret;
		}
		*out_master = master;
		if (out_slot != NULL)
			*out_slot = i;
		return 0;
	}
	return damaged_candidate ? -EBADMSG : -EKEYREJECTED;
}

int keyslot_add(uint8_t *area, size_t area_len, unsigned *out_slot,
		const struct crypto_key *master, enum keyslot_kind kind,
		const struct crypto_scrypt_params *params, const void *secret,
		size_t secret_len)
{
	uint8_t scratch[KEYSLOT_AREA_SIZE];
	struct crypto_scrypt_params defaults;
	struct keyslot_scan scan;
	uint64_t work;
	unsigned index;
	int ret;

	ret = keyslot_args_check(kind, secret, secret_len);
	if (ret < 0)
		return ret;
	if (params == NULL) {
		crypto_scrypt_params_default(&defaults);
		params = &defaults;
	}
	ret = crypto_scrypt_params_check(params, &work);
	if (ret < 0)
		return ret;
	ret = keyslot_area_check(area, area_len, &scan);
	if (ret < 0)
		return ret;
	ret = keyslot_check_master(area, master);
	if (ret < 0)
		return ret;
	for (index = 0; index < KEYSLOT_COUNT; index++)
		if (!scan.used[index])
			break;
	if (index == KEYSLOT_COUNT)
		return -ENOSPC;
	if (scan.work + work > KEYSLOT_AREA_WORK_MAX)
		return -EINVAL;

	memcpy(scratch, area, KEYSLOT_AREA_SIZE);
	ret = keyslot_slot_seal(scratch, index, master, kind, params, secret,
				secret_len);
	if (ret < 0)
		return ret;
	assert(keyslot_area_valid(scratch, master));
	memcpy(keyslot_slot(area, index), keyslot_slot(scratch, index),
	       KEYSLOT_SLOT_SIZE);
	if (out_slot != NULL)
		*out_slot = index;
	return 0;
}

int keyslot_remove(uint8_t *area, size_t area_len,
		   const struct crypto_key *master, unsigned index)
{
	struct keyslot_scan scan;
	int ret;

	ret = keyslot_area_check(area, area_len, &scan);
	if (ret < 0)
		return ret;
	ret = keyslot_check_master(area, master);
	if (ret < 0)
		return ret;
	if (index >= KEYSLOT_COUNT)
		return -EINVAL;
	if (!scan.used[index])
		return -ENOENT;
	/* Never leave an area without an intact slot, nor an empty area. */
	if ((scan.info[index].error == 0 && scan.intact == 1) ||
	    keyslot_used_count(&scan) == 1)
		return -EBUSY;
	memset(keyslot_slot(area, index), 0, KEYSLOT_SLOT_SIZE);
	assert(scan.intact == 0 || keyslot_area_valid(area, master));
	return 0;
}

int keyslot_list(const uint8_t *area, size_t area_len,
		 struct keyslot_info *out_info, unsigned *out_count)
{
	struct keyslot_scan scan;
	unsigned n = 0;
	int ret;

	*out_count = 0;
	if (out_info == NULL)
		return -EINVAL;
	ret = keyslot_area_check(area, area_len, &scan);
	if (ret < 0)
		return ret;
	for (unsigned i = 0; i < KEYSLOT_COUNT; i++)
		if (scan.used[i])
			out_info[n++] = scan.info[i];
	*out_count = n;
	return 0;
}
