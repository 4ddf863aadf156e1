/*
 * hangar/crypto.h -- the words of encryption at rest that a store's users
 * need: a key (opaque), the strength of a key slot's scrypt derivation,
 * and how long a secret may be.
 *
 * A `struct crypto_key` is only ever seen through a pointer: the store's
 * master key (store_master_key) handed back to core (check_container_key).
 * The primitives themselves (AES-256-GCM, scrypt, HKDF, the nonce scheme)
 * are core's private crypto.h, the one door to OpenSSL.
 *
 * Ownership and locking: declarations only; nothing here holds state.
 */
#ifndef HANGAR_CRYPTO_H
#define HANGAR_CRYPTO_H

#include <stdint.h>

struct crypto_key;

/*
 * scrypt parameters as stored in a key slot.  N = 2^log2_n.  They come from
 * disk, so every entry point checks them (crypto_scrypt_params_check):
 *   1 <= log2_n <= 20, 1 <= r <= 16, 1 <= p <= 16,
 *   memory 128 * r * N          <= CRYPTO_SCRYPT_MEMORY_MAX (256 MiB),
 *   work   N * r * p            <= CRYPTO_SCRYPT_WORK_MAX (2^22).
 * Wall-clock bound by construction: scrypt's time is proportional to
 * N * r * p (OpenSSL runs the p lanes one after the other), so the work
 * bound caps one derivation at 4x the default's cost (the default takes
 * ~0.5 s of CPU on this project's 2-vCPU machine, so <= ~2 s), and the
 * memory bound caps what it allocates.  p may reach 16 (not 4) so that RFC
 * 7914's vector (N=1024, r=8, p=16) goes through the same bounded door; the
 * work bound is what limits time.
 */
struct crypto_scrypt_params {
	uint32_t log2_n;
	uint32_t r;
	uint32_t p;
};

#define CRYPTO_SCRYPT_LOG2_N_MIN 1u
#define CRYPTO_SCRYPT_LOG2_N_MAX 20u
#define CRYPTO_SCRYPT_R_MAX	 16u
#define CRYPTO_SCRYPT_P_MAX	 16u
#define CRYPTO_SCRYPT_MEMORY_MAX (256ull << 20)
#define CRYPTO_SCRYPT_WORK_MAX	 (1ull << 22)
/* The default for new key slots: N = 2^17, r = 8, p = 1 (128 MiB, work
 * 2^20), the scrypt paper's interactive-login strength scaled to 2020s
 * hardware. */
#define CRYPTO_SCRYPT_DEFAULT_LOG2_N 17u
#define CRYPTO_SCRYPT_DEFAULT_R	     8u
#define CRYPTO_SCRYPT_DEFAULT_P	     1u
#define CRYPTO_SCRYPT_SECRET_MAX     (1u << 20) /* passphrase or keyfile */

#endif /* HANGAR_CRYPTO_H */
