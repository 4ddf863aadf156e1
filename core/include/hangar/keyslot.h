/*
 * hangar/keyslot.h -- the key slots of an encrypted store, as `hangar key`
 * and `hangar init --encrypt` see them: what kind of secret opens a slot,
 * and what can be told about a slot without opening it.
 *
 * A store's key-slot area (STORE/.hangar-keys, KEYSLOT_AREA_SIZE bytes)
 * holds KEYSLOT_COUNT slots, each wrapping the store's master key under a
 * key derived from a passphrase or a keyfile.  The area is public (it holds
 * only wrapped keys), so keyslot_list may be run on its bytes without any
 * secret.  Adding and removing slots goes through the store
 * (store_key_add/remove, hangar/store.h); the layout and the wrapping are
 * core's private keyslot.h.
 *
 * Ownership: the area buffer and `out_info` belong to the caller.  THREAD
 * MODEL: keyslot_list is a pure function of its arguments.
 */
#ifndef HANGAR_KEYSLOT_H
#define HANGAR_KEYSLOT_H

#include <stddef.h>
#include <stdint.h>

#include "hangar/crypto.h" /* struct crypto_scrypt_params */

#define KEYSLOT_COUNT	    8u
#define KEYSLOT_HEADER_SIZE 64u
#define KEYSLOT_SLOT_SIZE   128u
#define KEYSLOT_AREA_SIZE                                                      \
	(KEYSLOT_HEADER_SIZE + KEYSLOT_COUNT * KEYSLOT_SLOT_SIZE)

enum keyslot_kind {
	KEYSLOT_KIND_EMPTY = 0,
	KEYSLOT_KIND_PASSPHRASE = 1,
	KEYSLOT_KIND_KEYFILE = 2,
};

/* What keyslot_list reports about one non-empty slot. */
struct keyslot_info {
	unsigned index;
	enum keyslot_kind kind; /* as stored; untrusted when error != 0 */
	struct crypto_scrypt_params kdf; /* untrusted when error != 0 */
	uint64_t created_sec;
	int error; /* 0 intact, -EBADMSG crc mismatch, -EUCLEAN impossible */
};

/*
 * keyslot_list - describe every non-empty slot, damaged ones included
 * (their `error` says how), in slot order, into `out_info` (room for
 * KEYSLOT_COUNT); *out_count is how many.  Fails only when the area as a
 * whole is unusable (header, length, total work, no slot).  Runs no KDF.
 */
int keyslot_list(const uint8_t *area, size_t area_len,
		 struct keyslot_info *out_info, unsigned *out_count);

#endif /* HANGAR_KEYSLOT_H */
