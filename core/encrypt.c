/*
 * encrypt.c -- encryption at rest of one container: its keys, sealing and
 * opening of stored units, and the superblock MAC (FORMAT.md section 9).
 *
 * Design notes.
 *   - Keys.  The store's master key (borrowed, never kept) gives three
 *     HKDF sub-keys salted with the container uuid: DATA for data
 *     clusters, METADATA for map nodes and table blocks, SUPERBLOCK_MAC for
 *     the superblock's HMAC.  They live in locked pages (crypto.c) until
 *     crypt_free wipes them at close.
 *   - A stored unit is sealed in place with AES-256-GCM under a nonce from
 *     the container's counter (crypto.h NONCE SCHEME) and an AAD that binds
 *     it to (kind, level, uuid, object, index, birth generation, length);
 *     the nonce, tag and birth go to the parent (struct map_seal).
 *   - Nonces are taken under the container write lock.  If the durable
 *     reservation runs out outside a commit, a superblock-only reservation
 *     commit raises it (container_reserve_nonces) and the take is retried;
 *     the commit itself makes sure beforehand that it cannot run out.
 *
 * THREAD MODEL: keys are immutable after crypt_setup.  AEAD contexts come
 * from a small pool under crypt->pool_lock, so readers holding only the
 * container read lock may decrypt in parallel.  crypt_seal and crypt_nonce
 * need the container write lock (nonce state); crypt_seal_to, with a nonce
 * taken already, needs no container lock at all.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

bool map_seal_is_zero(const struct map_seal *s)
{
	static const struct map_seal zero;
	return s->birth == 0 && memcmp(s->nonce, zero.nonce, 12) == 0 &&
	       memcmp(s->tag, zero.tag, 16) == 0;
}

int crypt_setup(struct container *c, const struct crypto_key *master)
{
	struct container_crypt *k = calloc(1, sizeof(*k));
	int ret;

	if (!k)
		return -ENOMEM;
	pthread_mutex_init(&k->pool_lock, NULL);
	c->crypt = k;
	ret = crypto_key_derive(&k->data_key, master, CRYPTO_SUBKEY_DATA,
				c->uuid, sizeof(c->uuid));
	if (!ret)
		ret = crypto_key_derive(&k->meta_key, master,
					CRYPTO_SUBKEY_METADATA, c->uuid,
					sizeof(c->uuid));
	if (!ret)
		ret = crypto_key_derive(&k->mac_key, master,
					CRYPTO_SUBKEY_SUPERBLOCK_MAC, c->uuid,
					sizeof(c->uuid));
	if (ret)
		goto out_free;
	return 0;
out_free:
	crypt_free(c);
	return ret;
}

void crypt_free(struct container *c)
{
	struct container_crypt *k = c->crypt;
	if (!k)
		return;
	for (int u = 0; u < 2; u++)
		for (size_t i = 0; i < k->pool_num[u]; i++)
			crypto_aead_free(k->pool[u][i]);
	crypto_key_free(k->data_key);
	crypto_key_free(k->meta_key);
	crypto_key_free(k->mac_key);
	pthread_mutex_destroy(&k->pool_lock);
	free(k);
	c->crypt = NULL;
}

static int aead_take(struct container_crypt *k, enum crypt_key_use use,
		     struct crypto_aead **out)
{
	pthread_mutex_lock(&k->pool_lock);
	if (k->pool_num[use] > 0) {
		*out = k->pool[use][--k->pool_num[use]];
		pthread_mutex_unlock(&k->pool_lock);
		return 0;
	}
	pthread_mutex_unlock(&k->pool_lock);
	return crypto_aead_new(
		use == CRYPT_KEY_DATA ? k->data_key : k->meta_key, out);
}

static void aead_give(struct container_crypt *k, enum crypt_key_use use,
		      struct crypto_aead *a)
{
	pthread_mutex_lock(&k->pool_lock);
	if (k->pool_num[use] < CRYPT_POOL) {
		k->pool[use][k->pool_num[use]++] = a;
		a = NULL;
	}
	pthread_mutex_unlock(&k->pool_lock);
	crypto_aead_free(a);
}

static void aad_build(const struct container *c, uint8_t out[CRYPTO_AAD_LEN],
		      uint16_t kind, uint16_t level, uint64_t object_id,
		      uint64_t index, uint64_t birth, size_t len)
{
	struct crypto_aad a = {.kind = kind,
			       .level = level,
			       .object_id = object_id,
			       .index = index,
			       .generation = birth,
			       .length = (uint32_t)len};
	memcpy(a.uuid, c->uuid, CRYPTO_UUID_LEN);
	crypto_aad_encode(out, &a);
}

static enum crypt_key_use key_use_of(uint16_t kind)
{
	return kind == CRYPTO_AAD_DATA_RAW || kind == CRYPTO_AAD_DATA_COMPRESSED
		       ? CRYPT_KEY_DATA
		       : CRYPT_KEY_META;
}

int crypt_nonce(struct container *c, uint8_t nonce[CRYPTO_NONCE_LEN])
{
	struct container_crypt *k = c->crypt;
	int ret;

	if (!k)
		return -ENOKEY;
	ret = crypto_nonce_take(&k->nonce, nonce);
	if (ret == -ENOBUFS && !c->in_commit) {
		/* The durable reservation is used up: raise it, retry. */
		ret = container_reserve_nonces(c);
		if (!ret)
			ret = crypto_nonce_take(&k->nonce, nonce);
	}
	return ret;
}

/* One AES-256-GCM pass over a stored unit with a pooled context: seal when
 * `out_tag` is given (the tag is written there), else open and check
 * `check_tag`. */
static int aead_run(struct container *c, uint16_t kind, uint16_t level,
		    uint64_t object_id, uint64_t index, uint64_t birth,
		    const uint8_t nonce[CRYPTO_NONCE_LEN],
		    const uint8_t *check_tag, uint8_t *out_tag, uint8_t *out,
		    const uint8_t *in, size_t len)
{
	struct container_crypt *k = c->crypt;
	struct crypto_aead *a = NULL;
	uint8_t aad[CRYPTO_AAD_LEN];
	int ret;

	if (!k)
		return -ENOKEY;
	ret = aead_take(k, key_use_of(kind), &a);
	if (ret)
		return ret;
	aad_build(c, aad, kind, level, object_id, index, birth, len);
	if (out_tag)
		ret = crypto_aead_seal(a, out, out_tag, nonce, aad, sizeof(aad),
				       in, len);
	else
		ret = crypto_aead_open(a, out, nonce, aad, sizeof(aad), in, len,
				       check_tag);
	aead_give(k, key_use_of(kind), a);
	return ret;
}

int crypt_seal_to(struct container *c, uint16_t kind, uint16_t level,
		  uint64_t object_id, uint64_t index, struct map_seal *seal,
		  uint8_t *out, const uint8_t *in, size_t len)
{
	return aead_run(c, kind, level, object_id, index, seal->birth,
			seal->nonce, NULL, seal->tag, out, in, len);
}

int crypt_seal(struct container *c, uint16_t kind, uint16_t level,
	       uint64_t object_id, uint64_t index, uint64_t birth, uint8_t *buf,
	       size_t len, struct map_seal *out_seal)
{
	struct map_seal s = {.birth = birth};
	int ret = crypt_nonce(c, s.nonce);
	if (!ret)
		ret = crypt_seal_to(c, kind, level, object_id, index, &s, buf,
				    buf, len);
	if (!ret)
		*out_seal = s;
	return ret;
}

int crypt_open(struct container *c, uint16_t kind, uint16_t level,
	       uint64_t object_id, uint64_t index, const struct map_seal *seal,
	       uint8_t *buf, size_t len)
{
	return aead_run(c, kind, level, object_id, index, seal->birth,
			seal->nonce, seal->tag, NULL, buf, buf, len);
}

int crypt_superblock_mac(struct container *c, uint8_t *sb)
{
	uint8_t mac[CRYPTO_MAC_LEN];
	int ret;

	if (!c->crypt)
		return -ENOKEY;
	memset(sb + SB_OFF_ENC_MAC, 0, CRYPTO_MAC_LEN);
	ret = crypto_mac_compute(c->crypt->mac_key, mac, sb, SB_OFF_CRC);
	if (!ret)
		memcpy(sb + SB_OFF_ENC_MAC, mac, CRYPTO_MAC_LEN);
	return ret;
}

int crypt_superblock_verify(struct container *c, const uint8_t *sb)
{
	uint8_t copy[FORMAT_SECTOR_SIZE];

	if (!c->crypt)
		return -ENOKEY;
	memcpy(copy, sb, sizeof(copy));
	memset(copy + SB_OFF_ENC_MAC, 0, CRYPTO_MAC_LEN);
	return crypto_mac_verify(c->crypt->mac_key, sb + SB_OFF_ENC_MAC, copy,
				 SB_OFF_CRC);
}
