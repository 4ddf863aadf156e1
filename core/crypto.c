/*
 * crypto.c -- encryption-at-rest primitives over OpenSSL 3 libcrypto; the
 * only file of hangar that includes an OpenSSL header.
 *
 * Notes on the design:
 *   - Keys live on a private anonymous page each (mmap), mlock'ed and
 *     marked MADV_DONTDUMP where the system allows it.  One page per key,
 *     because mlock/munlock do not nest: two keys sharing a page would see
 *     the first free unlock the second.  A process has a handful of keys
 *     (master, and per open container: data, metadata, MAC), so the page
 *     each costs nothing that matters.  We do not use OpenSSL's secure heap:
 *     it needs CRYPTO_secure_malloc_init(), a process-wide switch that a
 *     library must not flip behind its caller's back.
 *   - The AES-256-GCM key schedule is expanded once per struct crypto_aead
 *     (EVP_EncryptInit_ex2 with the key, then only the nonce per call).
 *     OpenSSL keeps that schedule in its own heap and cleanses it on
 *     EVP_CIPHER_CTX_free; that copy is outside our page and is the one
 *     place key-equivalent material is not mlock'ed.
 *   - scrypt parameters are checked (crypto_scrypt_params_check) before
 *     OpenSSL sees them, and OpenSSL's own maxmem_bytes is set to exactly
 *     what the checked parameters need, so the bound holds twice.
 *
 * Invariants:
 *   1. Every OpenSSL call's result is checked; a failure is turned into
 *      -errno by crypto_error_from_openssl(), which also empties OpenSSL's
 *      (thread-local) error queue, so no stale error outlives the call.
 *   2. Key bytes are written only into a struct crypto_key's page or into a
 *      caller buffer the caller asked for (crypto_scrypt, crypto_hkdf_sha256);
 *      every temporary that held key material (a MAC being compared) is
 *      OPENSSL_cleanse'd on every path, success or error.
 *   3. crypto_aead_open never leaves unauthenticated plaintext in `out`:
 *      OpenSSL decrypts before it checks the tag, so on any failure `out`
 *      is cleansed before returning.
 *   4. No global or static mutable state: the only state is in the objects
 *      the caller holds (and OpenSSL's own library context).
 */
#include "crypto.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "format.h"

struct crypto_key {
	uint8_t bytes[CRYPTO_KEY_LEN];
	size_t map_len; /* bytes mmap'ed for this key (one page) */
	bool locked;	/* mlock succeeded */
};

struct crypto_aead {
	EVP_CIPHER *cipher;  /* fetched AES-256-GCM, one reference */
	EVP_CIPHER_CTX *enc; /* keyed for encryption */
	EVP_CIPHER_CTX *dec; /* keyed for decryption */
};

/* crypto_error_from_openssl - drain the error queue; -ENOMEM if OpenSSL
 * reported an allocation failure, else `fallback`. */
static int crypto_error_from_openssl(int fallback)
{
	unsigned long e;
	int ret = fallback;

	while ((e = ERR_get_error()) != 0) {
		if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
			ret = -ENOMEM;
	}
	return ret;
}

/* ---- keys ---------------------------------------------------------------- */

static int crypto_key_alloc(struct crypto_key **out_key)
{
	const long page = sysconf(_SC_PAGESIZE);
	const size_t map_len = page > 0 ? (size_t)page : 4096u;
	struct crypto_key *key;
	void *map;

	_Static_assert(sizeof(struct crypto_key) <= 4096, "key fits a page");
	*out_key = NULL;
	map = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return -ENOMEM;
	key = map;
	key->map_len = map_len;
	/* Both are best effort: RLIMIT_MEMLOCK may be tiny (unprivileged
	 * containers), and a kernel without MADV_DONTDUMP still works. */
	key->locked = mlock(map, map_len) == 0;
#ifdef MADV_DONTDUMP
	(void)madvise(map, map_len, MADV_DONTDUMP);
#endif
	*out_key = key;
	return 0;
}

void crypto_key_free(struct crypto_key *key)
{
	size_t map_len;
	bool locked;

	if (key == NULL)
		return;
	map_len = key->map_len;
	locked = key->locked;
	OPENSSL_cleanse(key, map_len);
	if (locked)
		(void)munlock(key, map_len);
	(void)munmap(key, map_len);
}

bool crypto_key_is_locked(const struct crypto_key *key)
{
	return key->locked;
}

int crypto_key_generate(struct crypto_key **out_key)
{
	struct crypto_key *key;
	int ret;

	ret = crypto_key_alloc(&key);
	if (ret < 0)
		return ret;
	ret = crypto_random_bytes(key->bytes, sizeof(key->bytes));
	if (ret < 0)
		goto out_free_key;
	*out_key = key;
	return 0;

out_free_key:
	crypto_key_free(key);
	return ret;
}

int crypto_key_new_from_bytes(struct crypto_key **out_key, const uint8_t *bytes,
			      size_t len)
{
	struct crypto_key *key;
	int ret;

	*out_key = NULL;
	if (bytes == NULL || len != CRYPTO_KEY_LEN)
		return -EINVAL;
	ret = crypto_key_alloc(&key);
	if (ret < 0)
		return ret;
	memcpy(key->bytes, bytes, CRYPTO_KEY_LEN);
	*out_key = key;
	return 0;
}

/* ---- HKDF ------------------------------------------------------------------ */

#define CRYPTO_HKDF_OUT_MAX  (255u * 32u)
#define CRYPTO_HKDF_INFO_MAX 1024u /* OpenSSL 3.0's limit */

/* An empty octet string still needs a non-NULL pointer for OSSL_PARAM. */
static const uint8_t crypto_empty[1];

int crypto_hkdf_sha256(uint8_t *out, size_t out_len, const uint8_t *ikm,
		       size_t ikm_len, const uint8_t *salt, size_t salt_len,
		       const uint8_t *info, size_t info_len)
{
	OSSL_PARAM params[5];
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	size_t n = 0;
	int ret;

	if (out == NULL || out_len == 0 || out_len > CRYPTO_HKDF_OUT_MAX ||
	    ikm == NULL || ikm_len == 0 || ikm_len > CRYPTO_AEAD_MAX_LEN ||
	    (salt == NULL && salt_len != 0) || salt_len > CRYPTO_AEAD_MAX_LEN ||
	    (info == NULL && info_len != 0) || info_len > CRYPTO_HKDF_INFO_MAX)
		return -EINVAL;

	params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						       (char *)"SHA256", 0);
	params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
							(void *)ikm, ikm_len);
	if (salt_len != 0)
		params[n++] = OSSL_PARAM_construct_octet_string(
			OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
	params[n++] = OSSL_PARAM_construct_octet_string(
		OSSL_KDF_PARAM_INFO,
		(void *)(info_len != 0 ? info : crypto_empty), info_len);
	params[n] = OSSL_PARAM_construct_end();

	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (kdf == NULL) {
		ret = crypto_error_from_openssl(-EIO);
		goto out;
	}
	ctx = EVP_KDF_CTX_new(kdf);
	if (ctx == NULL) {
		ret = crypto_error_from_openssl(-ENOMEM);
		goto out;
	}
	if (EVP_KDF_derive(ctx, out, out_len, params) != 1) {
		OPENSSL_cleanse(out, out_len);
		ret = crypto_error_from_openssl(-EIO);
		goto out;
	}
	ret = 0;
out:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return ret;
}

static const char *crypto_subkey_label(enum crypto_subkey purpose)
{
	switch (purpose) {
	case CRYPTO_SUBKEY_DATA:
		return "hangar v1 data";
	case CRYPTO_SUBKEY_METADATA:
		return "hangar v1 metadata";
	case CRYPTO_SUBKEY_SUPERBLOCK_MAC:
		return "hangar v1 superblock mac";
	}
	return NULL;
}

int crypto_key_derive(struct crypto_key **out_key,
		      const struct crypto_key *master,
		      enum crypto_subkey purpose, const uint8_t *salt,
		      size_t salt_len)
{
	const char *label = crypto_subkey_label(purpose);
	struct crypto_key *key;
	int ret;

	*out_key = NULL;
	if (label == NULL || master == NULL)
		return -EINVAL;
	ret = crypto_key_alloc(&key);
	if (ret < 0)
		return ret;
	ret = crypto_hkdf_sha256(key->bytes, CRYPTO_KEY_LEN, master->bytes,
				 CRYPTO_KEY_LEN, salt, salt_len,
				 (const uint8_t *)label, strlen(label));
	if (ret < 0)
		goto out_free_key;
	*out_key = key;
	return 0;

out_free_key:
	crypto_key_free(key);
	return ret;
}

int crypto_key_fingerprint(const struct crypto_key *key,
			   uint8_t out_id[CRYPTO_KEY_ID_LEN])
{
	static const char label[] = "hangar v1 key id";

	return crypto_hkdf_sha256(out_id, CRYPTO_KEY_ID_LEN, key->bytes,
				  CRYPTO_KEY_LEN, NULL, 0,
				  (const uint8_t *)label, sizeof(label) - 1);
}

/* ---- scrypt ------------------------------------------------------------------ */

#define CRYPTO_SCRYPT_OUT_MAX  1024u
#define CRYPTO_SCRYPT_SALT_MAX 1024u

void crypto_scrypt_params_default(struct crypto_scrypt_params *out)
{
	out->log2_n = CRYPTO_SCRYPT_DEFAULT_LOG2_N;
	out->r = CRYPTO_SCRYPT_DEFAULT_R;
	out->p = CRYPTO_SCRYPT_DEFAULT_P;
}

int crypto_scrypt_params_check(const struct crypto_scrypt_params *params,
			       uint64_t *out_work)
{
	uint64_t n, memory, work;

	if (params == NULL || params->log2_n < CRYPTO_SCRYPT_LOG2_N_MIN ||
	    params->log2_n > CRYPTO_SCRYPT_LOG2_N_MAX || params->r < 1 ||
	    params->r > CRYPTO_SCRYPT_R_MAX || params->p < 1 ||
	    params->p > CRYPTO_SCRYPT_P_MAX)
		return -EINVAL;
	/* No overflow: 2^20 * 16 * 16 * 128 < 2^64. */
	n = 1ull << params->log2_n;
	memory = 128ull * params->r * n;
	work = n * params->r * params->p;
	if (memory > CRYPTO_SCRYPT_MEMORY_MAX || work > CRYPTO_SCRYPT_WORK_MAX)
		return -EINVAL;
	if (out_work != NULL)
		*out_work = work;
	return 0;
}

int crypto_scrypt(uint8_t *out, size_t out_len,
		  const struct crypto_scrypt_params *params, const void *secret,
		  size_t secret_len, const uint8_t *salt, size_t salt_len)
{
	OSSL_PARAM ossl[7];
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	uint64_t n, maxmem;
	uint32_t r, p;
	int ret;

	if (out == NULL || out_len == 0 || out_len > CRYPTO_SCRYPT_OUT_MAX ||
	    (secret == NULL && secret_len != 0) ||
	    secret_len > CRYPTO_SCRYPT_SECRET_MAX ||
	    (salt == NULL && salt_len != 0) ||
	    salt_len > CRYPTO_SCRYPT_SALT_MAX)
		return -EINVAL;
	ret = crypto_scrypt_params_check(params, NULL);
	if (ret < 0)
		return ret;

	n = 1ull << params->log2_n;
	r = params->r;
	p = params->p;
	/* What OpenSSL's scrypt allocates: B (128 r p) and V (128 r (N + 2));
	 * give it exactly that, so its own check is as tight as ours. */
	maxmem = 128ull * r * (n + 2) + 128ull * r * p;
	ossl[0] = OSSL_PARAM_construct_octet_string(
		OSSL_KDF_PARAM_PASSWORD,
		(void *)(secret_len != 0 ? secret : crypto_empty), secret_len);
	ossl[1] = OSSL_PARAM_construct_octet_string(
		OSSL_KDF_PARAM_SALT,
		(void *)(salt_len != 0 ? salt : crypto_empty), salt_len);
	ossl[2] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
	ossl[3] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
	ossl[4] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p);
	ossl[5] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM,
					      &maxmem);
	ossl[6] = OSSL_PARAM_construct_end();

	kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
	if (kdf == NULL) {
		ret = crypto_error_from_openssl(-EIO);
		goto out;
	}
	ctx = EVP_KDF_CTX_new(kdf);
	if (ctx == NULL) {
		ret = crypto_error_from_openssl(-ENOMEM);
		goto out;
	}
	if (EVP_KDF_derive(ctx, out, out_len, ossl) != 1) {
		OPENSSL_cleanse(out, out_len);
		ret = crypto_error_from_openssl(-EIO);
		goto out;
	}
	ret = 0;
out:
	EVP_KDF_CTX_free(ctx); /* cleanses the password copy it holds */
	EVP_KDF_free(kdf);
	return ret;
}

int crypto_key_new_scrypt(struct crypto_key **out_key,
			  const struct crypto_scrypt_params *params,
			  const void *secret, size_t secret_len,
			  const uint8_t *salt, size_t salt_len)
{
	struct crypto_key *key;
	int ret;

	*out_key = NULL;
	/* Refuse hostile parameters before even mapping a page. */
	ret = crypto_scrypt_params_check(params, NULL);
	if (ret < 0)
		return ret;
	ret = crypto_key_alloc(&key);
	if (ret < 0)
		return ret;
	ret = crypto_scrypt(key->bytes, CRYPTO_KEY_LEN, params, secret,
			    secret_len, salt, salt_len);
	if (ret < 0)
		goto out_free_key;
	*out_key = key;
	return 0;

out_free_key:
	crypto_key_free(key);
	return ret;
}

/* ---- HMAC, random ------------------------------------------------------------- */

int crypto_mac_compute(const struct crypto_key *key,
		       uint8_t out_mac[CRYPTO_MAC_LEN], const void *data,
		       size_t len)
{
	OSSL_PARAM params[2];
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	size_t out_len = 0;
	int ret;

	if (key == NULL || (data == NULL && len != 0))
		return -EINVAL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						     (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();

	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac == NULL) {
		ret = crypto_error_from_openssl(-EIO);
		goto out;
	}
	ctx = EVP_MAC_CTX_new(mac);
	if (ctx == NULL) {
		ret = crypto_error_from_openssl(-ENOMEM);
		goto out;
	}
	if (EVP_MAC_init(ctx, key->bytes, CRYPTO_KEY_LEN, params) != 1 ||
	    (len != 0 && EVP_MAC_update(ctx, data, len) != 1) ||
	    EVP_MAC_final(ctx, out_mac, &out_len, CRYPTO_MAC_LEN) != 1) {
		ret = crypto_error_from_openssl(-EIO);
		goto out;
	}
	assert(out_len == CRYPTO_MAC_LEN);
	ret = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return ret;
}

int crypto_mac_verify(const struct crypto_key *key,
		      const uint8_t mac[CRYPTO_MAC_LEN], const void *data,
		      size_t len)
{
	uint8_t want[CRYPTO_MAC_LEN];
	int ret;

	ret = crypto_mac_compute(key, want, data, len);
	if (ret < 0)
		goto out;
	if (CRYPTO_memcmp(want, mac, CRYPTO_MAC_LEN) != 0)
		ret = -EBADMSG;
out:
	OPENSSL_cleanse(want, sizeof(want));
	return ret;
}

struct crypto_sha256 {
	EVP_MD_CTX *ctx;
};

int crypto_sha256_new(struct crypto_sha256 **out_hash)
{
	struct crypto_sha256 *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx) {
		free(h);
		return -ENOMEM;
	}
	if (EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		ERR_clear_error();
		crypto_sha256_free(h);
		return -ENOMEM; /* only allocation fails here */
	}
	*out_hash = h;
	return 0;
}

int crypto_sha256_update(struct crypto_sha256 *hash, const void *data,
			 size_t len)
{
	if (EVP_DigestUpdate(hash->ctx, data, len) != 1) {
		ERR_clear_error();
		return -ENOMEM; /* only allocation fails here */
	}
	return 0;
}

int crypto_sha256_final(struct crypto_sha256 *hash,
			uint8_t out[CRYPTO_SHA256_LEN])
{
	unsigned int len = 0;
	if (EVP_DigestFinal_ex(hash->ctx, out, &len) != 1 ||
	    len != CRYPTO_SHA256_LEN) {
		ERR_clear_error();
		return -ENOMEM; /* only allocation fails here */
	}
	return 0;
}

void crypto_sha256_free(struct crypto_sha256 *hash)
{
	if (!hash)
		return;
	EVP_MD_CTX_free(hash->ctx);
	free(hash);
}

int crypto_random_bytes(void *out, size_t len)
{
	if (out == NULL || len > CRYPTO_AEAD_MAX_LEN)
		return -EINVAL;
	if (len == 0)
		return 0;
	if (RAND_priv_bytes(out, (int)len) != 1)
		return crypto_error_from_openssl(-EIO);
	return 0;
}

/* ---- AES-256-GCM ----------------------------------------------------------------- */

void crypto_aead_free(struct crypto_aead *aead)
{
	if (aead == NULL)
		return;
	EVP_CIPHER_CTX_free(aead->enc); /* cleanses the key schedule */
	EVP_CIPHER_CTX_free(aead->dec);
	EVP_CIPHER_free(aead->cipher);
	free(aead);
}

int crypto_aead_new(const struct crypto_key *key, struct crypto_aead **out_aead)
{
	struct crypto_aead *aead;
	int ret;

	*out_aead = NULL;
	if (key == NULL)
		return -EINVAL;
	aead = calloc(1, sizeof(*aead));
	if (aead == NULL)
		return -ENOMEM;
	aead->cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	if (aead->cipher == NULL) {
		ret = crypto_error_from_openssl(-EIO);
		goto out_free_aead;
	}
	assert(EVP_CIPHER_get_key_length(aead->cipher) == CRYPTO_KEY_LEN);
	assert(EVP_CIPHER_get_iv_length(aead->cipher) == CRYPTO_NONCE_LEN);
	aead->enc = EVP_CIPHER_CTX_new();
	aead->dec = EVP_CIPHER_CTX_new();
	if (aead->enc == NULL || aead->dec == NULL) {
		ret = crypto_error_from_openssl(-ENOMEM);
		goto out_free_aead;
	}
	if (EVP_EncryptInit_ex2(aead->enc, aead->cipher, key->bytes, NULL,
				NULL) != 1 ||
	    EVP_DecryptInit_ex2(aead->dec, aead->cipher, key->bytes, NULL,
				NULL) != 1) {
		ret = crypto_error_from_openssl(-EIO);
		goto out_free_aead;
	}
	*out_aead = aead;
	return 0;

out_free_aead:
	crypto_aead_free(aead);
	return ret;
}

static bool crypto_aead_args_ok(const uint8_t *out, const uint8_t *nonce,
				const uint8_t *aad, size_t aad_len,
				const uint8_t *in, size_t len)
{
	if (nonce == NULL || len > CRYPTO_AEAD_MAX_LEN ||
	    aad_len > CRYPTO_AEAD_MAX_LEN || (aad == NULL && aad_len != 0))
		return false;
	if (len != 0 && (in == NULL || out == NULL))
		return false;
	/* In place is fine; partial overlap is not (OpenSSL refuses it). */
	if (len != 0 && in != out && in < out + len && out < in + len)
		return false;
	return true;
}

int crypto_aead_seal(struct crypto_aead *aead, uint8_t *out,
		     uint8_t out_tag[CRYPTO_TAG_LEN],
		     const uint8_t nonce[CRYPTO_NONCE_LEN], const uint8_t *aad,
		     size_t aad_len, const uint8_t *in, size_t len)
{
	EVP_CIPHER_CTX *ctx;
	uint8_t final_block[16];
	int n;

	if (aead == NULL || out_tag == NULL ||
	    !crypto_aead_args_ok(out, nonce, aad, aad_len, in, len))
		return -EINVAL;
	ctx = aead->enc;
	if (EVP_EncryptInit_ex2(ctx, NULL, NULL, nonce, NULL) != 1)
		goto out_error;
	if (aad_len != 0 &&
	    EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
		goto out_error;
	if (len != 0) {
		if (EVP_EncryptUpdate(ctx, out, &n, in, (int)len) != 1)
			goto out_error;
		assert((size_t)n == len); /* GCM is a stream mode */
	}
	if (EVP_EncryptFinal_ex(ctx, final_block, &n) != 1)
		goto out_error;
	assert(n == 0);
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, CRYPTO_TAG_LEN,
				out_tag) != 1)
		goto out_error;
	return 0;

out_error:
	return crypto_error_from_openssl(-EIO);
}

int crypto_aead_open(struct crypto_aead *aead, uint8_t *out,
		     const uint8_t nonce[CRYPTO_NONCE_LEN], const uint8_t *aad,
		     size_t aad_len, const uint8_t *in, size_t len,
		     const uint8_t tag[CRYPTO_TAG_LEN])
{
	EVP_CIPHER_CTX *ctx;
	uint8_t tag_copy[CRYPTO_TAG_LEN];
	uint8_t final_block[16];
	int n, ret;

	if (aead == NULL || tag == NULL ||
	    !crypto_aead_args_ok(out, nonce, aad, aad_len, in, len))
		return -EINVAL;
	ctx = aead->dec;
	memcpy(tag_copy, tag, sizeof(tag_copy)); /* the ctrl wants non-const */
	if (EVP_DecryptInit_ex2(ctx, NULL, NULL, nonce, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, CRYPTO_TAG_LEN,
				tag_copy) != 1) {
		ret = crypto_error_from_openssl(-EIO);
		goto out_wipe;
	}
	if (aad_len != 0 &&
	    EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1) {
		ret = crypto_error_from_openssl(-EIO);
		goto out_wipe;
	}
	if (len != 0) {
		if (EVP_DecryptUpdate(ctx, out, &n, in, (int)len) != 1) {
			ret = crypto_error_from_openssl(-EIO);
			goto out_wipe;
		}
		assert((size_t)n == len);
	}
	/* Final compares the tag (CRYPTO_memcmp inside OpenSSL's GCM); for
	 * GCM its only failure is a mismatch. */
	if (EVP_DecryptFinal_ex(ctx, final_block, &n) != 1) {
		ret = crypto_error_from_openssl(-EBADMSG);
		goto out_wipe;
	}
	return 0;

out_wipe:
	if (len != 0)
		OPENSSL_cleanse(out, len);
	return ret;
}

int crypto_key_wrap(struct crypto_aead *kek,
		    uint8_t out_wrapped[CRYPTO_KEY_LEN],
		    uint8_t out_tag[CRYPTO_TAG_LEN],
		    const uint8_t nonce[CRYPTO_NONCE_LEN], const uint8_t *aad,
		    size_t aad_len, const struct crypto_key *key)
{
	if (key == NULL || out_wrapped == NULL)
		return -EINVAL;
	return crypto_aead_seal(kek, out_wrapped, out_tag, nonce, aad, aad_len,
				key->bytes, CRYPTO_KEY_LEN);
}

int crypto_key_unwrap(struct crypto_aead *kek, struct crypto_key **out_key,
		      const uint8_t nonce[CRYPTO_NONCE_LEN], const uint8_t *aad,
		      size_t aad_len, const uint8_t wrapped[CRYPTO_KEY_LEN],
		      const uint8_t tag[CRYPTO_TAG_LEN])
{
	struct crypto_key *key;
	int ret;

	*out_key = NULL;
	if (wrapped == NULL)
		return -EINVAL;
	ret = crypto_key_alloc(&key);
	if (ret < 0)
		return ret;
	ret = crypto_aead_open(kek, key->bytes, nonce, aad, aad_len, wrapped,
			       CRYPTO_KEY_LEN, tag);
	if (ret < 0)
		goto out_free_key;
	*out_key = key;
	return 0;

out_free_key:
	crypto_key_free(key);
	return ret;
}

/* ---- AAD, nonces ---------------------------------------------------------------- */

void crypto_aad_encode(uint8_t out[CRYPTO_AAD_LEN],
		       const struct crypto_aad *aad)
{
	memset(out, 0, CRYPTO_AAD_LEN);
	memcpy(out + 0, "HGE1", 4);
	le16_put(out + 4, aad->kind);
	le16_put(out + 6, aad->level);
	memcpy(out + 8, aad->uuid, CRYPTO_UUID_LEN);
	le64_put(out + 24, aad->object_id);
	le64_put(out + 32, aad->index);
	le64_put(out + 40, aad->generation);
	le32_put(out + 48, aad->length);
}

int crypto_nonce_start(struct crypto_nonce *ns, uint64_t committed_limit)
{
	uint8_t salt[4];
	int ret;

	if (committed_limit > UINT64_MAX - CRYPTO_NONCE_RESERVE)
		return -EOVERFLOW;
	ret = crypto_random_bytes(salt, sizeof(salt));
	if (ret < 0)
		return ret;
	ns->next = committed_limit;
	ns->durable = committed_limit;
	ns->salt = le32_get(salt);
	return 0;
}

int crypto_nonce_reservation(const struct crypto_nonce *ns, uint64_t *out_limit)
{
	uint64_t limit;

	if (ns->next > UINT64_MAX - CRYPTO_NONCE_RESERVE)
		return -EOVERFLOW;
	limit = ns->next + CRYPTO_NONCE_RESERVE;
	*out_limit = limit > ns->durable ? limit : ns->durable;
	return 0;
}

void crypto_nonce_reserved(struct crypto_nonce *ns, uint64_t limit)
{
	if (limit > ns->durable)
		ns->durable = limit;
}

int crypto_nonce_take(struct crypto_nonce *ns,
		      uint8_t out_nonce[CRYPTO_NONCE_LEN])
{
	if (ns->next >= ns->durable)
		return -ENOBUFS;
	le32_put(out_nonce, ns->salt);
	le64_put(out_nonce + 4, ns->next);
	ns->next++;
	return 0;
}
