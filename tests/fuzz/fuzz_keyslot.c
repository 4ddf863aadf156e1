/*
 * fuzz_keyslot.c -- libFuzzer target for the key-slot area parser
 * (core/keyslot.c), the first thing an encrypted store reads from disk.
 *
 * Two modes, chosen by the low bit of the first input byte:
 *   raw      the rest of the input IS the area (any length): list it, and
 *            when it parses and its KDF work is small, try to unlock it.
 *   mutate   start from a freshly made valid area (tiny scrypt
 *            parameters, passphrase "fuzz", a keyfile slot "fuzzkey") and
 *            apply the rest of the input as (le16 offset, xor byte) edits,
 *            so the fuzzer explores areas that are almost valid -- right
 *            crcs are out of its reach otherwise.  When the edited area
 *            still unlocks, exercise add, unlock with the new secret, and
 *            remove on it.
 *
 * What must hold (a violation aborts, which libFuzzer reports):
 *   - no crash, leak or sanitizer report;
 *   - every error is one keyslot.h documents;
 *   - keyslot_list reports at most KEYSLOT_COUNT slots, in slot order;
 *   - a key is only ever returned by a slot whose crc and tag hold (checked
 *     indirectly: a key returned from a mutated area must have the
 *     fingerprint of the original master key).
 *
 * Cost control: unlock is only attempted when the area's total scrypt work
 * is at most FUZZ_WORK_MAX, so one input costs milliseconds, not seconds;
 * the work bound itself is covered by tests/core/test_keyslot.c.
 *
 * Build: with HANGAR_FUZZ (clang -fsanitize=fuzzer), linked to hangar_core.
 * Without libFuzzer, -DFUZZ_STANDALONE_MAIN gives a main() that runs each
 * file named on the command line once (regression inputs under gcc).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "format.h"
#include "keyslot.h"

#define FUZZ_WORK_MAX (1u << 12)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_require(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_keyslot: invariant violated: %s\n", what);
		abort();
	}
}

static int fuzz_known_error(int ret)
{
	return ret == 0 || ret == -EUCLEAN || ret == -EBADMSG ||
	       ret == -EPROTONOSUPPORT || ret == -EKEYREJECTED;
}

/* List the area; return the total work of its intact slots, or UINT64_MAX
 * when it does not parse. */
static uint64_t fuzz_list(const uint8_t *area, size_t len)
{
	struct keyslot_info info[KEYSLOT_COUNT];
	unsigned count = 99;
	uint64_t work = 0;
	int ret;

	ret = keyslot_list(area, len, info, &count);
	fuzz_require(fuzz_known_error(ret) && ret != -EKEYREJECTED,
		     "keyslot_list error code");
	if (ret != 0) {
		fuzz_require(count == 0, "count on error");
		return UINT64_MAX;
	}
	fuzz_require(count >= 1 && count <= KEYSLOT_COUNT, "slot count");
	for (unsigned i = 0; i < count; i++) {
		uint64_t w;

		fuzz_require(info[i].index < KEYSLOT_COUNT, "slot index");
		fuzz_require(i == 0 || info[i].index > info[i - 1].index,
			     "slot order");
		fuzz_require(info[i].error == 0 || info[i].error == -EBADMSG ||
				     info[i].error == -EUCLEAN,
			     "slot error code");
		if (info[i].error != 0)
			continue;
		fuzz_require(crypto_scrypt_params_check(&info[i].kdf, &w) == 0,
			     "intact slot has bounded params");
		work += w;
	}
	fuzz_require(work <= KEYSLOT_AREA_WORK_MAX, "area work bound");
	return work;
}

static int fuzz_unlock(const uint8_t *area, size_t len, enum keyslot_kind kind,
		       const char *secret, struct crypto_key **out_master)
{
	unsigned slot = 99;
	int ret;

	ret = keyslot_unlock(out_master, &slot, area, len, kind, secret,
			     strlen(secret));
	fuzz_require(fuzz_known_error(ret), "keyslot_unlock error code");
	fuzz_require((ret == 0) == (*out_master != NULL), "key iff success");
	fuzz_require(ret != 0 || slot < KEYSLOT_COUNT, "unlock slot");
	return ret;
}

static void fuzz_same_key(const struct crypto_key *a, const uint8_t want[16])
{
	uint8_t id[CRYPTO_KEY_ID_LEN];

	fuzz_require(crypto_key_fingerprint(a, id) == 0, "fingerprint");
	fuzz_require(memcmp(id, want, sizeof(id)) == 0,
		     "unlocked key is the master key");
}

/* On an area that unlocks: add a slot, open with it, remove it. */
static void fuzz_edit(uint8_t *area, const struct crypto_key *master,
		      const struct crypto_scrypt_params *params,
		      const uint8_t id[16])
{
	struct crypto_key *again = NULL;
	unsigned slot;
	int ret;

	ret = keyslot_add(area, KEYSLOT_AREA_SIZE, &slot, master,
			  KEYSLOT_KIND_PASSPHRASE, params, "added", 5);
	fuzz_require(ret == 0 || ret == -ENOSPC || ret == -EINVAL,
		     "keyslot_add error code");
	if (ret != 0)
		return;
	ret = fuzz_unlock(area, KEYSLOT_AREA_SIZE, KEYSLOT_KIND_PASSPHRASE,
			  "added", &again);
	/* The new slot is intact, but an earlier damaged passphrase slot
	 * may not stop it from opening: it must open. */
	fuzz_require(ret == 0, "added slot opens");
	fuzz_same_key(again, id);
	crypto_key_free(again);
	ret = keyslot_remove(area, KEYSLOT_AREA_SIZE, master, slot);
	fuzz_require(ret == 0, "added slot removable");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct crypto_scrypt_params tiny = {4, 1, 1};
	uint8_t area[KEYSLOT_AREA_SIZE];
	uint8_t id[CRYPTO_KEY_ID_LEN];
	struct crypto_key *master = NULL, *opened = NULL;
	const uint8_t *area_in;
	size_t area_len;
	uint64_t work;

	if (size == 0)
		return 0;
	if ((data[0] & 1) == 0) {
		area_in = data + 1;
		area_len = size - 1;
		work = fuzz_list(area_in, area_len);
		if (work > FUZZ_WORK_MAX)
			return 0;
		if (fuzz_unlock(area_in, area_len, KEYSLOT_KIND_PASSPHRASE,
				"fuzz", &opened) == 0)
			crypto_key_free(opened);
		opened = NULL;
		if (fuzz_unlock(area_in, area_len, KEYSLOT_KIND_KEYFILE,
				"fuzzkey", &opened) == 0)
			crypto_key_free(opened);
		return 0;
	}

	/* mutate mode */
	fuzz_require(keyslot_area_init(area, &master, KEYSLOT_KIND_PASSPHRASE,
				       &tiny, "fuzz", 4) == 0,
		     "area init");
	fuzz_require(keyslot_add(area, sizeof(area), NULL, master,
				 KEYSLOT_KIND_KEYFILE, &tiny, "fuzzkey",
				 7) == 0,
		     "add keyfile slot");
	fuzz_require(crypto_key_fingerprint(master, id) == 0, "fingerprint");
	for (size_t i = 1; i + 3 <= size; i += 3)
		area[le16_get(data + i) % KEYSLOT_AREA_SIZE] ^= data[i + 2];

	work = fuzz_list(area, sizeof(area));
	if (work <= FUZZ_WORK_MAX) {
		if (fuzz_unlock(area, sizeof(area), KEYSLOT_KIND_KEYFILE,
				"fuzzkey", &opened) == 0) {
			fuzz_same_key(opened, id);
			crypto_key_free(opened);
			opened = NULL;
		}
		if (fuzz_unlock(area, sizeof(area), KEYSLOT_KIND_PASSPHRASE,
				"fuzz", &opened) == 0) {
			fuzz_same_key(opened, id);
			fuzz_edit(area, master, &tiny, id);
			crypto_key_free(opened);
		}
	}
	crypto_key_free(master);
	return 0;
}

#ifdef FUZZ_STANDALONE_MAIN
int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		static uint8_t buf[1 << 16];
		FILE *f = fopen(argv[i], "rb");
		size_t n;

		if (f == NULL) {
			perror(argv[i]);
			return 1;
		}
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, n);
	}
	return 0;
}
#endif
