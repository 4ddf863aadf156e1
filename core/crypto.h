/*
 * crypto.h -- the cryptographic primitives of encryption at rest;
 * the only door to OpenSSL libcrypto (docs/style.md: OpenSSL's 1/0
 * returns and its error queue stop in crypto.c).
 * Private: outside core only hangar/crypto.h is seen (struct crypto_key as
 * an opaque pointer, struct crypto_scrypt_params, CRYPTO_SCRYPT_SECRET_MAX).
 *
 * What this module gives the rest of core/:
 *   - struct crypto_key: 32 bytes of key material on a page of its own,
 *     mlock'ed where the system allows it and excluded from core dumps,
 *     wiped with OPENSSL_cleanse when freed.  Keys are never printed and
 *     the raw bytes never leave this module except sealed (crypto_key_wrap).
 *   - AES-256-GCM sealing and opening of a buffer (12-byte nonce, 16-byte
 *     tag, associated data), the AAD layout that binds a stored cluster to
 *     its place, and the per-container nonce scheme.
 *   - scrypt (bounded parameters), HKDF-SHA256 sub-keys, HMAC-SHA256, and
 *     random bytes from the OS CSPRNG.
 *
 * Errors (every function returns 0 or -errno):
 *   -EINVAL   a bad parameter (a length, an scrypt parameter out of bounds)
 *   -EBADMSG  authentication failed: a GCM tag or a MAC did not match
 *   -ENOMEM   allocation failed (ours or OpenSSL's)
 *   -EIO      anything else OpenSSL reported; the error queue is cleared
 *   -ENOBUFS  crypto_nonce_take only: the durable reservation is used up
 *
 * Ownership: a struct crypto_key is immutable after creation and owned by
 * whoever received it; crypto_key_free() accepts NULL.  A struct crypto_aead
 * holds OpenSSL contexts with the expanded key (OpenSSL keeps them in its
 * ordinary heap and cleanses them when freed -- an unavoidable copy).
 *
 * THREAD MODEL: no global state of ours.  A const struct crypto_key may be
 * read by any number of threads at once.  A struct crypto_aead and a
 * struct crypto_nonce are used by one thread at a time (the caller's lock:
 * in a container, the write lock for the nonce state; one aead per thread
 * or a small pool, like compressors).
 *
 * ======================================================================
 * NONCE SCHEME: why no (key, nonce) pair is ever used twice
 * ======================================================================
 * AES-GCM under one key must never see the same 96-bit nonce twice: two
 * ciphertexts under a repeated nonce leak the xor of their plaintexts and
 * the GHASH key, which lets an attacker forge tags.  Because every write of
 * an encrypted cluster is copy-on-write, a stale ciphertext may still lie
 * in a free cluster (or in an old disk image) after it was rewritten, so
 * "only the current copy matters" is NOT an argument; uniqueness must hold
 * over every ciphertext ever written.
 *
 * Nonce layout (CRYPTO_NONCE_LEN = 12 bytes):
 *      bytes 0..3   salt     le32, random, drawn once per open
 *      bytes 4..11  counter  le64, per container, strictly increasing
 *
 * Keys: the data and metadata keys are HKDF sub-keys of the store's master
 * key with the container's uuid as salt (crypto_key_derive), so each
 * container has keys of its own and its counter only has to be unique
 * within that container.  Nothing about a nonce is derived from a cluster's
 * address, so rewriting one place always takes a new nonce.
 *
 * Persisted state: the superblock carries `nonce_limit`, a counter value
 * that no nonce of this container has reached.  It only ever grows.
 *
 * Protocol (functions below; the container calls them under its write
 * lock):
 *   1. Open: crypto_nonce_start(ns, committed_limit) sets next = limit and
 *      durable = limit (nothing usable yet) and draws a fresh salt.
 *   2. Before a nonce >= durable can be handed out, a reservation must be
 *      durable: the committer asks crypto_nonce_reservation() for
 *      R = next + CRYPTO_NONCE_RESERVE, writes R as nonce_limit into the
 *      superblock it commits, and after that superblock's fdatasync
 *      returned calls crypto_nonce_reserved(ns, R).  Every commit does this
 *      (open's first read-write commit included), so in practice the
 *      reservation never runs out; if it does, crypto_nonce_take() says
 *      -ENOBUFS and the writer must commit first.
 *   3. crypto_nonce_take() hands out salt || next and increments next; it
 *      refuses when next == durable.
 * Argument, within one history of the file: a counter value c is used
 * only when c < durable, and durable is only set from a superblock whose
 * write and fdatasync completed.  Any later open reads the newest valid
 * superblock, whose nonce_limit is >= that value (limits are monotonic and
 * a completed superblock is never superseded by an older one: FORMAT.md
 * section 5), so it starts at or above every counter ever used.  A crash
 * anywhere loses at most unused reservation, never uniqueness.
 * Across histories (a container file copied, restored from a backup, or a
 * rotten newest superblock slot making open fall back to the older one):
 * two opens of the forks may walk the same counter values, but each open
 * drew its own 32-bit salt, so their nonces differ unless the salts
 * collide, probability 2^-32 per pair of overlapping opens.  This is the
 * residual risk; the integration should refuse to open two containers with
 * the same uuid in one store, and a copy/import must assign a new uuid and
 * re-encrypt.
 * Overflow: a 64-bit counter at one nonce per 4 KiB cluster covers 2^76
 * bytes of writes; crypto_nonce_start() refuses a limit within one
 * reservation of 2^64 (-EOVERFLOW) instead of wrapping.
 *
 * How the container uses these primitives (keys per container, what is
 * sealed, where each seal lives, the superblock's encryption area and the
 * nonce reservation commits) is specified in core/FORMAT.md section 9 and
 * implemented in core/encrypt.c.
 */
#ifndef HANGAR_CORE_CRYPTO_H
#define HANGAR_CORE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hangar/crypto.h"

#define CRYPTO_KEY_LEN	  32u /* AES-256, HMAC-SHA256 and sub-key size */
#define CRYPTO_NONCE_LEN  12u
#define CRYPTO_TAG_LEN	  16u
#define CRYPTO_MAC_LEN	  32u /* HMAC-SHA256 */
#define CRYPTO_KEY_ID_LEN 16u
/* Largest buffer or AAD one seal/open call accepts (OpenSSL counts in int);
 * clusters are at most 2 MiB. */
#define CRYPTO_AEAD_MAX_LEN (1u << 30)

/* ---- keys ---------------------------------------------------------------- */

/* struct crypto_key: hangar/crypto.h (opaque outside this module). */

/* crypto_key_generate - a new key of CRYPTO_KEY_LEN bytes from the OS CSPRNG
 * (RAND_priv_bytes).  *out_key is NULL on error. */
int crypto_key_generate(struct crypto_key **out_key);

/* crypto_key_new_from_bytes - a key holding a copy of `bytes` (exactly
 * CRYPTO_KEY_LEN, else -EINVAL).  The caller still owns and must wipe its
 * own copy; meant for known-answer tests and nothing else. */
int crypto_key_new_from_bytes(struct crypto_key **out_key, const uint8_t *bytes,
			      size_t len);

/* crypto_key_free - wipe (OPENSSL_cleanse), unlock and release.  NULL ok. */
void crypto_key_free(struct crypto_key *key);

/* crypto_key_is_locked - whether the key's page is mlock'ed (false when
 * RLIMIT_MEMLOCK refused it; the key still works). */
bool crypto_key_is_locked(const struct crypto_key *key);

/*
 * crypto_key_fingerprint - a public identifier of `key`:
 * HKDF-SHA256(key, salt none, info "hangar v1 key id"), CRYPTO_KEY_ID_LEN
 * bytes.  One-way, so it may be stored in clear (key-slot area, superblock)
 * to tell "wrong store's key" from corruption.
 */
int crypto_key_fingerprint(const struct crypto_key *key,
			   uint8_t out_id[CRYPTO_KEY_ID_LEN]);

/* Purposes of sub-keys; each has its own HKDF label ("info"). */
enum crypto_subkey {
	CRYPTO_SUBKEY_DATA = 1,		  /* "hangar v1 data" */
	CRYPTO_SUBKEY_METADATA = 2,	  /* "hangar v1 metadata" */
	CRYPTO_SUBKEY_SUPERBLOCK_MAC = 3, /* "hangar v1 superblock mac" */
};

/*
 * crypto_key_derive - HKDF-SHA256 sub-key of `master` for `purpose`, with
 * `salt` (the container uuid, 16 bytes; may be NULL/0).  Distinct purposes
 * or salts give independent keys.  -EINVAL for an unknown purpose.
 */
int crypto_key_derive(struct crypto_key **out_key,
		      const struct crypto_key *master,
		      enum crypto_subkey purpose, const uint8_t *salt,
		      size_t salt_len);

/* ---- scrypt -------------------------------------------------------------- */

/* struct crypto_scrypt_params, its bounds and defaults, and
 * CRYPTO_SCRYPT_SECRET_MAX are in hangar/crypto.h. */
#define CRYPTO_SCRYPT_SALT_LEN 32u /* what key slots use */

/* crypto_scrypt_params_default - fill *out with the defaults above. */
void crypto_scrypt_params_default(struct crypto_scrypt_params *out);

/* crypto_scrypt_params_check - 0 if within the bounds above, else -EINVAL;
 * *out_work (may be NULL) gets N * r * p. */
int crypto_scrypt_params_check(const struct crypto_scrypt_params *params,
			       uint64_t *out_work);

/*
 * crypto_scrypt - derive `out_len` (1..1024) bytes into `out` with scrypt.
 * The caller owns `out` and must wipe it; key slots use
 * crypto_key_new_scrypt instead so the result never leaves locked memory.
 * `secret_len` <= CRYPTO_SCRYPT_SECRET_MAX (0 allowed), `salt_len` <= 1024.
 * -EINVAL for out-of-bounds parameters, before any work is done.
 */
int crypto_scrypt(uint8_t *out, size_t out_len,
		  const struct crypto_scrypt_params *params, const void *secret,
		  size_t secret_len, const uint8_t *salt, size_t salt_len);

/* crypto_key_new_scrypt - as crypto_scrypt, producing a CRYPTO_KEY_LEN key
 * directly in locked memory. */
int crypto_key_new_scrypt(struct crypto_key **out_key,
			  const struct crypto_scrypt_params *params,
			  const void *secret, size_t secret_len,
			  const uint8_t *salt, size_t salt_len);

/* ---- HKDF, HMAC, random ---------------------------------------------------- */

/* crypto_hkdf_sha256 - RFC 5869 extract-and-expand of raw bytes, `out_len`
 * 1..8160.  For known-answer tests and non-secret derivations; key material
 * goes through crypto_key_derive. */
int crypto_hkdf_sha256(uint8_t *out, size_t out_len, const uint8_t *ikm,
		       size_t ikm_len, const uint8_t *salt, size_t salt_len,
		       const uint8_t *info, size_t info_len);

/* crypto_mac_compute - HMAC-SHA256 of `data` under `key`. */
int crypto_mac_compute(const struct crypto_key *key,
		       uint8_t out_mac[CRYPTO_MAC_LEN], const void *data,
		       size_t len);

/* crypto_mac_verify - 0 if `mac` is HMAC-SHA256 of `data` under `key`
 * (compared in constant time, CRYPTO_memcmp), else -EBADMSG. */
int crypto_mac_verify(const struct crypto_key *key,
		      const uint8_t mac[CRYPTO_MAC_LEN], const void *data,
		      size_t len);

/* crypto_sha256_* - a SHA-256 digest over a stream of bytes (the save
 * lock's image fingerprints).  -ENOMEM if libcrypto fails (a digest only
 * fails to allocate); _free accepts NULL. */
#define CRYPTO_SHA256_LEN 32u
struct crypto_sha256;
int crypto_sha256_new(struct crypto_sha256 **out_hash);
int crypto_sha256_update(struct crypto_sha256 *hash, const void *data,
			 size_t len);
int crypto_sha256_final(struct crypto_sha256 *hash,
			uint8_t out[CRYPTO_SHA256_LEN]);
void crypto_sha256_free(struct crypto_sha256 *hash);

/* crypto_random_bytes - `len` bytes from the OS CSPRNG (RAND_priv_bytes);
 * -EIO if it is not seeded.  len <= CRYPTO_AEAD_MAX_LEN. */
int crypto_random_bytes(void *out, size_t len);

/* ---- AES-256-GCM ------------------------------------------------------------ */

struct crypto_aead;

/* crypto_aead_new - AES-256-GCM contexts keyed with `key` (expanded once;
 * `key` may be freed afterwards). */
int crypto_aead_new(const struct crypto_key *key,
		    struct crypto_aead **out_aead);

/* crypto_aead_free - cleanse and free; NULL ok. */
void crypto_aead_free(struct crypto_aead *aead);

/*
 * crypto_aead_seal - encrypt `len` bytes of `in` into `out` (same length;
 * `out == in` allowed, other overlap not) and produce the tag.  `aad` is
 * authenticated, not encrypted (NULL when aad_len is 0).  len 0 is allowed
 * (then the tag authenticates the AAD alone).  The caller guarantees the
 * nonce was never used with this key (crypto_nonce_take).
 */
int crypto_aead_seal(struct crypto_aead *aead, uint8_t *out,
		     uint8_t out_tag[CRYPTO_TAG_LEN],
		     const uint8_t nonce[CRYPTO_NONCE_LEN], const uint8_t *aad,
		     size_t aad_len, const uint8_t *in, size_t len);

/*
 * crypto_aead_open - verify and decrypt.  -EBADMSG when the tag does not
 * match (OpenSSL compares it in constant time); then `out` is wiped to
 * zeros, so unauthenticated plaintext never reaches the caller.
 */
int crypto_aead_open(struct crypto_aead *aead, uint8_t *out,
		     const uint8_t nonce[CRYPTO_NONCE_LEN], const uint8_t *aad,
		     size_t aad_len, const uint8_t *in, size_t len,
		     const uint8_t tag[CRYPTO_TAG_LEN]);

/* crypto_key_wrap - seal the CRYPTO_KEY_LEN bytes of `key` under `kek`:
 * the only way key bytes leave this module. */
int crypto_key_wrap(struct crypto_aead *kek,
		    uint8_t out_wrapped[CRYPTO_KEY_LEN],
		    uint8_t out_tag[CRYPTO_TAG_LEN],
		    const uint8_t nonce[CRYPTO_NONCE_LEN], const uint8_t *aad,
		    size_t aad_len, const struct crypto_key *key);

/* crypto_key_unwrap - the inverse; the plaintext goes straight into a new
 * locked key.  -EBADMSG for a wrong kek or tampered input. */
int crypto_key_unwrap(struct crypto_aead *kek, struct crypto_key **out_key,
		      const uint8_t nonce[CRYPTO_NONCE_LEN], const uint8_t *aad,
		      size_t aad_len, const uint8_t wrapped[CRYPTO_KEY_LEN],
		      const uint8_t tag[CRYPTO_TAG_LEN]);

/* ---- associated data ----------------------------------------------------------
 *
 * AAD of a stored unit (CRYPTO_AAD_LEN = 64 bytes, little-endian):
 *
 *   off size field
 *     0   4  domain      "HGE1" (hangar encryption, version 1)
 *     4   2  kind        enum crypto_aad_kind
 *     6   2  level       map node level (0 = leaf); 0 otherwise
 *     8  16  uuid        container uuid (key-slot area uuid for KEYSLOT)
 *    24   8  object_id   owner object id; 0 for table blocks and key slots
 *    32   8  index       DATA_*: virtual cluster index; MAP_NODE: first
 *                        virtual cluster covered; TABLE_BLOCK: position in
 *                        the chain; KEYSLOT: slot number
 *    40   8  generation  commit that wrote these bytes (stored beside the
 *                        nonce in the parent, see the design note)
 *    48   4  length      plaintext bytes
 *    52  12  zero
 *
 * Binding the place (uuid, object, index, level, kind) makes a ciphertext
 * moved to another container, object, offset or tree level fail to open.
 * The parent pointer holding nonce and tag is itself authenticated up to
 * the MACed superblock, so it already pins one exact ciphertext; binding
 * the generation (and the length) too is defence in depth: a reader whose
 * idea of "which commit wrote this" disagrees with the writer's fails
 * closed (-EBADMSG) rather than trusting the tag alone.
 */
#define CRYPTO_AAD_LEN	64u
#define CRYPTO_UUID_LEN 16u

enum crypto_aad_kind {
	CRYPTO_AAD_DATA_RAW = 1,	/* one whole data cluster */
	CRYPTO_AAD_DATA_COMPRESSED = 2, /* one zstd frame (compressed first) */
	CRYPTO_AAD_MAP_NODE = 3,
	CRYPTO_AAD_TABLE_BLOCK = 4,
	CRYPTO_AAD_KEYSLOT = 5,
};

struct crypto_aad {
	uint16_t kind; /* enum crypto_aad_kind */
	uint16_t level;
	uint8_t uuid[CRYPTO_UUID_LEN];
	uint64_t object_id;
	uint64_t index;
	uint64_t generation;
	uint32_t length;
};

/* crypto_aad_encode - the 64-byte encoding above; reserved bytes zero. */
void crypto_aad_encode(uint8_t out[CRYPTO_AAD_LEN],
		       const struct crypto_aad *aad);

/* ---- nonces (see NONCE SCHEME above) -------------------------------------------- */

/* Counter values one durable reservation covers: 2^32 nonces, i.e. at
 * least 16 TiB of 4 KiB clusters between two commits. */
#define CRYPTO_NONCE_RESERVE (1ull << 32)

struct crypto_nonce {
	uint64_t next;	  /* next counter value to hand out */
	uint64_t durable; /* first value not covered by a durable limit */
	uint32_t salt;	  /* random, drawn by crypto_nonce_start */
};

/* crypto_nonce_start - begin an open at the committed `nonce_limit`; draws
 * the salt.  -EOVERFLOW when the counter space is (nearly) exhausted. */
int crypto_nonce_start(struct crypto_nonce *ns, uint64_t committed_limit);

/* crypto_nonce_reservation - the nonce_limit the next superblock must
 * carry (next + CRYPTO_NONCE_RESERVE, and never less than durable);
 * -EOVERFLOW if that would pass 2^64 - 1. */
int crypto_nonce_reservation(const struct crypto_nonce *ns,
			     uint64_t *out_limit);

/* crypto_nonce_reserved - the superblock carrying `limit` is durable (its
 * fdatasync returned).  A smaller limit than the current one is ignored. */
void crypto_nonce_reserved(struct crypto_nonce *ns, uint64_t limit);

/* crypto_nonce_take - the next nonce (salt le32 || counter le64);
 * -ENOBUFS when the durable reservation is used up: commit, then retry. */
int crypto_nonce_take(struct crypto_nonce *ns,
		      uint8_t out_nonce[CRYPTO_NONCE_LEN]);

#endif /* HANGAR_CORE_CRYPTO_H */
