/*
 * keyslot.h -- the key-slot area of an encrypted store: KEYSLOT_COUNT slots,
 * each wrapping the store's random master key under a key derived from a
 * passphrase or a keyfile with scrypt.  Private: the slice a store's users
 * need (sizes, kinds, struct keyslot_info, keyslot_list) is hangar/keyslot.h.
 *
 * What: pure functions over a KEYSLOT_AREA_SIZE byte buffer; no I/O.  The
 * caller reads the area from disk, calls these, and writes it back
 * atomically (the design note in keyslot.c says where it lives).  Changing
 * a passphrase or adding a recovery keyfile rewrites one slot; the master
 * key, and so every encrypted byte of the store, stays as it is.
 *
 * On-disk layout (all integers little-endian; sizes checked by
 * _Static_assert in keyslot.c):
 *
 *   header, 64 bytes at offset 0
 *     0  8  magic        "HANGARK1"
 *     8  4  version      1
 *    12  4  cipher       1 = AES-256-GCM (the store's data cipher too)
 *    16  2  slot_count   KEYSLOT_COUNT
 *    18  2  slot_size    KEYSLOT_SLOT_SIZE
 *    20  4  reserved     0
 *    24 16  area_uuid    random at init
 *    40 16  key_id       crypto_key_fingerprint(master): public, one-way
 *    56  4  reserved     0
 *    60  4  crc          crc32c of bytes 0..59
 *
 *   slot i, 128 bytes at offset 64 + 128 * i
 *     0  2  kind         enum keyslot_kind; 0 = empty (then all 128 bytes 0)
 *     2  2  kdf          1 = scrypt
 *     4  4  index        i (a slot moved within the area is refused)
 *     8  4  log2_n       scrypt N = 2^log2_n   } bounded on read:
 *    12  4  r            scrypt r              } crypto_scrypt_params_check
 *    16  4  p            scrypt p              }
 *    20  4  reserved     0
 *    24  8  created      seconds since the epoch (informational)
 *    32 32  salt         random, scrypt salt
 *    64 12  nonce        random, GCM nonce of the wrap
 *    76 32  wrapped      AES-256-GCM(KEK, master key)
 *   108 16  tag          GCM tag of the wrap
 *   124  4  crc          crc32c of bytes 0..123
 *
 *   KEK = scrypt(secret, salt, N, r, p), 32 bytes, in locked memory.
 *   AAD of the wrap = crypto_aad_encode({KEYSLOT, uuid = area_uuid,
 *   index = i, length = 32}) || header bytes 0..59 || slot bytes 0..63,
 *   so the KDF parameters, salt, kind, index and the whole header are
 *   authenticated by the slot's tag: lowering a slot's N to make
 *   guessing cheaper just makes the slot fail to open.
 *
 * Invariants:
 *   1. Every non-empty intact slot wraps the same master key, whose
 *      fingerprint is key_id.
 *   2. The area holds at least one intact slot (keyslot_remove refuses to
 *      remove the last one).
 *   3. The scrypt work of all intact slots together is at most
 *      KEYSLOT_AREA_WORK_MAX, so unlocking with a wrong secret -- which
 *      tries every slot -- is bounded in time by construction (8 default
 *      slots: ~4 s of CPU), and each derivation's memory by
 *      CRYPTO_SCRYPT_MEMORY_MAX.  Areas that break it are refused
 *      (-EUCLEAN) before any derivation starts.
 *
 * Errors, distinguishable on purpose:
 *   -EKEYREJECTED  the secret opens no slot of an intact area (wrong
 *                  passphrase/keyfile), or the master key handed to
 *                  add/remove is not this area's
 *   -EBADMSG       a crc mismatch (header; or, from keyslot_unlock, no slot
 *                  accepted the secret and a slot that could have held it
 *                  is damaged)
 *   -EUCLEAN       not a key-slot area, truncated, impossible fields,
 *                  hostile KDF parameters, no slot at all
 *   -EPROTONOSUPPORT  a version or cipher this build does not know
 *   -EINVAL        bad arguments (kind, secret length, parameters)
 *   -ENOSPC        keyslot_add: no empty slot
 *   -ENOENT        keyslot_remove: the slot is empty
 *   -EBUSY         keyslot_remove: it is the last intact slot
 *   -ENOMEM, -EIO  from crypto.c
 * Functions that change the area change it only on success.
 *
 * Ownership: the area buffer belongs to the caller; no pointer into it is
 * kept.  A master key returned in *out_master belongs to the caller
 * (crypto_key_free).  Secrets are read, never copied or kept.
 *
 * THREAD MODEL: no state; the caller serialises changes to one area (the
 * store's writer lock).
 */
#ifndef HANGAR_CORE_KEYSLOT_H
#define HANGAR_CORE_KEYSLOT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "hangar/keyslot.h" /* sizes, kinds, keyslot_info, keyslot_list */

#define KEYSLOT_AREA_VERSION	   1u
#define KEYSLOT_CIPHER_AES_256_GCM 1u
#define KEYSLOT_KDF_SCRYPT	   1u
/* Total scrypt work (sum of N * r * p) of all intact slots: eight slots at
 * the default strength. */
#define KEYSLOT_AREA_WORK_MAX (8ull << 20)

/*
 * keyslot_area_init - a new area in `out_area` (KEYSLOT_AREA_SIZE bytes):
 * a fresh random master key (OS CSPRNG), a random area uuid, and slot 0 of
 * `kind` opened by `secret` (1..CRYPTO_SCRYPT_SECRET_MAX bytes) with
 * `params` (NULL: the defaults, crypto_scrypt_params_default).
 * *out_master gets the master key (caller frees).  On error `out_area` is
 * zeroed and *out_master is NULL.
 */
int keyslot_area_init(uint8_t *out_area, struct crypto_key **out_master,
		      enum keyslot_kind kind,
		      const struct crypto_scrypt_params *params,
		      const void *secret, size_t secret_len);

/*
 * keyslot_unlock - try every intact slot of `kind` with `secret`; on
 * success *out_master is the master key and *out_slot (may be NULL) the
 * slot that opened.  -EKEYREJECTED for a wrong secret (see the error list
 * above for -EBADMSG and -EUCLEAN).  Time: at most the area's total scrypt
 * work (invariant 3).
 */
int keyslot_unlock(struct crypto_key **out_master, unsigned *out_slot,
		   const uint8_t *area, size_t area_len, enum keyslot_kind kind,
		   const void *secret, size_t secret_len);

/*
 * keyslot_add - wrap `master` (which must be this area's: -EKEYREJECTED
 * otherwise) into the first empty slot, opened by `secret` with `params`
 * (NULL: defaults).  *out_slot (may be NULL) is the slot used.  -ENOSPC
 * when no slot is empty; -EINVAL when the new slot would take the area's
 * total work past KEYSLOT_AREA_WORK_MAX.
 */
int keyslot_add(uint8_t *area, size_t area_len, unsigned *out_slot,
		const struct crypto_key *master, enum keyslot_kind kind,
		const struct crypto_scrypt_params *params, const void *secret,
		size_t secret_len);

/*
 * keyslot_remove - empty slot `index` (zeroes its 128 bytes).  `master`
 * must be this area's (-EKEYREJECTED): whoever removes a slot has proved
 * they can open the store.  -EBUSY if it is the last intact slot; damaged
 * slots may always be removed.  Note: zeroing the buffer does not erase
 * old copies the backing filesystem or device may keep (copy-on-write
 * filesystems, SSD remapping), the same limit LUKS documents.
 */
int keyslot_remove(uint8_t *area, size_t area_len,
		   const struct crypto_key *master, unsigned index);

#endif /* HANGAR_CORE_KEYSLOT_H */
