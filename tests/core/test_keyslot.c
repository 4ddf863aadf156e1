/*
 * test_keyslot.c -- core/keyslot.c: the life of a key-slot area and what a
 * damaged or hostile one does.
 *
 * Most slots use small scrypt parameters (N = 2^10, r = 8, p = 1: about a
 * millisecond) so the whole run stays within seconds; one area is made with
 * the defaults to check they are the strong ones and still open.
 */
#include "harness.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "crc32c.h"
#include "crypto.h"
#include "format.h"
#include "keyslot.h"

static const struct crypto_scrypt_params small = {10, 8, 1};

#define SLOT(area, i) ((area) + KEYSLOT_HEADER_SIZE + (i)*KEYSLOT_SLOT_SIZE)

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fingerprint(const struct crypto_key *key, uint8_t id[16])
{
	CHECK_OK(crypto_key_fingerprint(key, id));
}

static void fix_header_crc(uint8_t *area)
{
	le32_put(area + 60, crc32c(0, area, 60));
}

static void fix_slot_crc(uint8_t *area, unsigned i)
{
	le32_put(SLOT(area, i) + 124, crc32c(0, SLOT(area, i), 124));
}

static void set_slot_params(uint8_t *area, unsigned i, uint32_t log2_n,
			    uint32_t r, uint32_t p)
{
	le32_put(SLOT(area, i) + 8, log2_n);
	le32_put(SLOT(area, i) + 12, r);
	le32_put(SLOT(area, i) + 16, p);
	fix_slot_crc(area, i);
}

/* Unlock must open with `pw` and give the key whose id is `want`. */
static void expect_unlock(const uint8_t *area, enum keyslot_kind kind,
			  const char *pw, size_t pw_len, const uint8_t want[16],
			  unsigned want_slot)
{
	struct crypto_key *master = NULL;
	unsigned slot = 99;
	uint8_t id[16];

	CHECK_OK(keyslot_unlock(&master, &slot, area, KEYSLOT_AREA_SIZE, kind,
				pw, pw_len));
	CHECK_EQ(slot, want_slot);
	fingerprint(master, id);
	CHECK_MEM_EQ(id, want, 16);
	crypto_key_free(master);
}

static int try_unlock(const uint8_t *area, size_t len, enum keyslot_kind kind,
		      const char *pw)
{
	struct crypto_key *master = (struct crypto_key *)1;
	int ret;

	ret = keyslot_unlock(&master, NULL, area, len, kind, pw, strlen(pw));
	if (ret < 0)
		CHECK(master == NULL);
	crypto_key_free(master);
	return ret;
}

static void test_lifecycle(void)
{
	uint8_t area[KEYSLOT_AREA_SIZE], before[KEYSLOT_AREA_SIZE];
	uint8_t other_area[KEYSLOT_AREA_SIZE];
	uint8_t keyfile[4096], id[16];
	struct crypto_key *master, *other;
	struct keyslot_info info[KEYSLOT_COUNT];
	unsigned count, slot;
	double t0, elapsed;

	CHECK_OK(keyslot_area_init(area, &master, KEYSLOT_KIND_PASSPHRASE,
				   &small, "hunter2", 7));
	fingerprint(master, id);
	CHECK_MEM_EQ(area, "HANGARK1", 8);
	CHECK_MEM_EQ(area + 40, id, 16); /* key_id in the header */
	expect_unlock(area, KEYSLOT_KIND_PASSPHRASE, "hunter2", 7, id, 0);

	/* Wrong secret: -EKEYREJECTED, quickly; the same bytes as a keyfile
	 * are tried against keyfile slots only. */
	t0 = now_seconds();
	CHECK_ERR(try_unlock(area, sizeof(area), KEYSLOT_KIND_PASSPHRASE,
			     "hunter3"),
		  -EKEYREJECTED);
	CHECK_ERR(try_unlock(area, sizeof(area), KEYSLOT_KIND_PASSPHRASE,
			     "hunter"),
		  -EKEYREJECTED);
	CHECK_ERR(
		try_unlock(area, sizeof(area), KEYSLOT_KIND_KEYFILE, "hunter2"),
		-EKEYREJECTED);
	elapsed = now_seconds() - t0;
	CHECK(elapsed < 2.0);
	fprintf(stderr, "keyslot: 3 wrong secrets rejected in %.3f s\n",
		elapsed);

	/* Add a keyfile and a second passphrase. */
	CHECK_OK(crypto_random_bytes(keyfile, sizeof(keyfile)));
	CHECK_OK(keyslot_add(area, sizeof(area), &slot, master,
			     KEYSLOT_KIND_KEYFILE, &small, keyfile,
			     sizeof(keyfile)));
	CHECK_EQ(slot, 1);
	CHECK_OK(keyslot_add(area, sizeof(area), &slot, master,
			     KEYSLOT_KIND_PASSPHRASE, &small, "new pass", 8));
	CHECK_EQ(slot, 2);
	expect_unlock(area, KEYSLOT_KIND_KEYFILE, (const char *)keyfile,
		      sizeof(keyfile), id, 1);
	expect_unlock(area, KEYSLOT_KIND_PASSPHRASE, "new pass", 8, id, 2);
	expect_unlock(area, KEYSLOT_KIND_PASSPHRASE, "hunter2", 7, id, 0);
	keyfile[100] ^= 1;
	CHECK_ERR(keyslot_unlock(&other, NULL, area, sizeof(area),
				 KEYSLOT_KIND_KEYFILE, keyfile,
				 sizeof(keyfile)),
		  -EKEYREJECTED);
	keyfile[100] ^= 1;

	CHECK_OK(keyslot_list(area, sizeof(area), info, &count));
	CHECK_EQ(count, 3);
	CHECK_EQ(info[0].kind, KEYSLOT_KIND_PASSPHRASE);
	CHECK_EQ(info[1].kind, KEYSLOT_KIND_KEYFILE);
	CHECK_EQ(info[2].kind, KEYSLOT_KIND_PASSPHRASE);
	for (unsigned i = 0; i < 3; i++) {
		CHECK_EQ(info[i].index, i);
		CHECK_EQ(info[i].error, 0);
		CHECK_EQ(info[i].kdf.log2_n, 10);
		CHECK_EQ(info[i].kdf.r, 8);
		CHECK_EQ(info[i].kdf.p, 1);
		CHECK(info[i].created_sec > 1600000000u);
	}

	/* Another store's master key may not add or remove slots, and the
	 * area is left as it was. */
	CHECK_OK(keyslot_area_init(other_area, &other, KEYSLOT_KIND_PASSPHRASE,
				   &small, "hunter2", 7));
	memcpy(before, area, sizeof(area));
	CHECK_ERR(keyslot_add(area, sizeof(area), &slot, other,
			      KEYSLOT_KIND_PASSPHRASE, &small, "x", 1),
		  -EKEYREJECTED);
	CHECK_ERR(keyslot_remove(area, sizeof(area), other, 0), -EKEYREJECTED);
	CHECK_MEM_EQ(area, before, sizeof(area));
	/* Same passphrase, different store: different master. */
	{
		uint8_t oid[16];
		fingerprint(other, oid);
		CHECK(memcmp(oid, id, 16) != 0);
	}
	crypto_key_free(other);

	/* Bad arguments. */
	CHECK_ERR(keyslot_add(area, sizeof(area), &slot, master,
			      KEYSLOT_KIND_EMPTY, &small, "x", 1),
		  -EINVAL);
	CHECK_ERR(keyslot_add(area, sizeof(area), &slot, master,
			      KEYSLOT_KIND_PASSPHRASE, &small, "", 0),
		  -EINVAL);
	{
		const struct crypto_scrypt_params bad = {21, 8, 1};
		CHECK_ERR(keyslot_add(area, sizeof(area), &slot, master,
				      KEYSLOT_KIND_PASSPHRASE, &bad, "x", 1),
			  -EINVAL);
	}
	CHECK_ERR(keyslot_unlock(&other, NULL, area, sizeof(area),
				 (enum keyslot_kind)7, "x", 1),
		  -EINVAL);
	CHECK_MEM_EQ(area, before, sizeof(area));

	/* Fill every slot; one more is -ENOSPC. */
	for (unsigned i = 3; i < KEYSLOT_COUNT; i++) {
		char pw[16];
		snprintf(pw, sizeof(pw), "pass %u", i);
		CHECK_OK(keyslot_add(area, sizeof(area), &slot, master,
				     KEYSLOT_KIND_PASSPHRASE, &small, pw,
				     strlen(pw)));
		CHECK_EQ(slot, i);
	}
	CHECK_ERR(keyslot_add(area, sizeof(area), &slot, master,
			      KEYSLOT_KIND_PASSPHRASE, &small, "nine", 4),
		  -ENOSPC);
	expect_unlock(area, KEYSLOT_KIND_PASSPHRASE, "pass 7", 6, id, 7);
	/* A wrong passphrase against 7 passphrase slots is still quick. */
	t0 = now_seconds();
	CHECK_ERR(
		try_unlock(area, sizeof(area), KEYSLOT_KIND_PASSPHRASE, "nope"),
		-EKEYREJECTED);
	fprintf(stderr, "keyslot: full area, wrong passphrase in %.3f s\n",
		now_seconds() - t0);

	/* Remove: the keyfile slot, then everything but one. */
	CHECK_OK(keyslot_remove(area, sizeof(area), master, 1));
	CHECK(SLOT(area, 1)[0] == 0 && SLOT(area, 1)[127] == 0);
	CHECK_ERR(keyslot_unlock(&other, NULL, area, sizeof(area),
				 KEYSLOT_KIND_KEYFILE, keyfile,
				 sizeof(keyfile)),
		  -EKEYREJECTED);
	CHECK_ERR(keyslot_remove(area, sizeof(area), master, 1), -ENOENT);
	CHECK_ERR(keyslot_remove(area, sizeof(area), master, KEYSLOT_COUNT),
		  -EINVAL);
	/* The freed slot is reused first. */
	CHECK_OK(keyslot_add(area, sizeof(area), &slot, master,
			     KEYSLOT_KIND_KEYFILE, &small, keyfile,
			     sizeof(keyfile)));
	CHECK_EQ(slot, 1);
	for (unsigned i = 0; i < KEYSLOT_COUNT - 1; i++)
		CHECK_OK(keyslot_remove(area, sizeof(area), master, i));
	CHECK_OK(keyslot_list(area, sizeof(area), info, &count));
	CHECK_EQ(count, 1);
	CHECK_EQ(info[0].index, KEYSLOT_COUNT - 1);
	memcpy(before, area, sizeof(area));
	CHECK_ERR(keyslot_remove(area, sizeof(area), master, KEYSLOT_COUNT - 1),
		  -EBUSY);
	CHECK_MEM_EQ(area, before, sizeof(area));
	expect_unlock(area, KEYSLOT_KIND_PASSPHRASE, "pass 7", 6, id,
		      KEYSLOT_COUNT - 1);
	CHECK_ERR(try_unlock(area, sizeof(area), KEYSLOT_KIND_PASSPHRASE,
			     "hunter2"),
		  -EKEYREJECTED);
	crypto_key_free(master);
	fprintf(stderr, "keyslot: init/unlock/add/list/remove ok\n");
}

/* The defaults are the strong ones, and an area made with them opens. */
static void test_defaults(void)
{
	uint8_t area[KEYSLOT_AREA_SIZE], id[16];
	struct keyslot_info info[KEYSLOT_COUNT];
	struct crypto_key *master;
	unsigned count;
	double t0 = now_seconds(), t1;

	CHECK_OK(keyslot_area_init(area, &master, KEYSLOT_KIND_PASSPHRASE, NULL,
				   "correct horse battery staple", 28));
	t1 = now_seconds();
	CHECK_OK(keyslot_list(area, sizeof(area), info, &count));
	CHECK_EQ(count, 1);
	CHECK_EQ(info[0].kdf.log2_n, CRYPTO_SCRYPT_DEFAULT_LOG2_N);
	CHECK_EQ(info[0].kdf.r, CRYPTO_SCRYPT_DEFAULT_R);
	CHECK_EQ(info[0].kdf.p, CRYPTO_SCRYPT_DEFAULT_P);
	CHECK(info[0].kdf.log2_n >= 17 && info[0].kdf.r >= 8);
	fingerprint(master, id);
	expect_unlock(area, KEYSLOT_KIND_PASSPHRASE,
		      "correct horse battery staple", 28, id, 0);
	fprintf(stderr,
		"keyslot: default strength: init %.3f s, unlock %.3f s\n",
		t1 - t0, now_seconds() - t1);
	crypto_key_free(master);
}

static void test_truncated_and_header(void)
{
	uint8_t area[KEYSLOT_AREA_SIZE + 1], copy[KEYSLOT_AREA_SIZE];
	struct keyslot_info info[KEYSLOT_COUNT];
	struct crypto_key *master;
	unsigned count;
	double t0;

	CHECK_OK(keyslot_area_init(area, &master, KEYSLOT_KIND_PASSPHRASE,
				   &small, "pw", 2));
	area[KEYSLOT_AREA_SIZE] = 0;
	t0 = now_seconds();
	for (size_t len = 0; len < KEYSLOT_AREA_SIZE; len++) {
		CHECK_ERR(try_unlock(area, len, KEYSLOT_KIND_PASSPHRASE, "pw"),
			  -EUCLEAN);
		CHECK_ERR(keyslot_list(area, len, info, &count), -EUCLEAN);
		CHECK_EQ(count, 0);
	}
	CHECK_ERR(try_unlock(area, KEYSLOT_AREA_SIZE + 1,
			     KEYSLOT_KIND_PASSPHRASE, "pw"),
		  -EUCLEAN);
	CHECK_ERR(try_unlock(NULL, KEYSLOT_AREA_SIZE, KEYSLOT_KIND_PASSPHRASE,
			     "pw"),
		  -EINVAL);

	/* Every bit of the header: magic -> -EUCLEAN, the rest -> -EBADMSG. */
	for (unsigned bit = 0; bit < 64 * 8; bit++) {
		memcpy(copy, area, sizeof(copy));
		copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		CHECK_ERR(try_unlock(copy, sizeof(copy),
				     KEYSLOT_KIND_PASSPHRASE, "pw"),
			  bit < 64 ? -EUCLEAN : -EBADMSG);
	}
	/* A consistent header with a version or cipher we do not know. */
	memcpy(copy, area, sizeof(copy));
	le32_put(copy + 8, 2);
	fix_header_crc(copy);
	CHECK_ERR(try_unlock(copy, sizeof(copy), KEYSLOT_KIND_PASSPHRASE, "pw"),
		  -EPROTONOSUPPORT);
	memcpy(copy, area, sizeof(copy));
	le32_put(copy + 12, 9);
	fix_header_crc(copy);
	CHECK_ERR(keyslot_list(copy, sizeof(copy), info, &count),
		  -EPROTONOSUPPORT);
	/* Wrong geometry or reserved bits: -EUCLEAN. */
	memcpy(copy, area, sizeof(copy));
	le16_put(copy + 16, 200);
	fix_header_crc(copy);
	CHECK_ERR(keyslot_list(copy, sizeof(copy), info, &count), -EUCLEAN);
	memcpy(copy, area, sizeof(copy));
	copy[57] = 1;
	fix_header_crc(copy);
	CHECK_ERR(keyslot_list(copy, sizeof(copy), info, &count), -EUCLEAN);
	/* A header whose key_id was changed (crc fixed): the slot's tag
	 * covers the header, so the secret no longer opens it. */
	memcpy(copy, area, sizeof(copy));
	copy[45] ^= 0x40;
	fix_header_crc(copy);
	CHECK_ERR(try_unlock(copy, sizeof(copy), KEYSLOT_KIND_PASSPHRASE, "pw"),
		  -EKEYREJECTED);
	/* No slot at all. */
	memcpy(copy, area, sizeof(copy));
	memset(SLOT(copy, 0), 0, KEYSLOT_SLOT_SIZE);
	CHECK_ERR(keyslot_list(copy, sizeof(copy), info, &count), -EUCLEAN);
	CHECK_ERR(try_unlock(copy, sizeof(copy), KEYSLOT_KIND_PASSPHRASE, "pw"),
		  -EUCLEAN);
	/* All zeros, all ones. */
	memset(copy, 0, sizeof(copy));
	CHECK_ERR(keyslot_list(copy, sizeof(copy), info, &count), -EUCLEAN);
	memset(copy, 0xff, sizeof(copy));
	CHECK_ERR(keyslot_list(copy, sizeof(copy), info, &count), -EUCLEAN);
	fprintf(stderr,
		"keyslot: truncations and header damage refused in "
		"%.3f s\n",
		now_seconds() - t0);
	crypto_key_free(master);
}

static void test_damaged_slots(void)
{
	uint8_t area[KEYSLOT_AREA_SIZE], copy[KEYSLOT_AREA_SIZE], id[16];
	struct keyslot_info info[KEYSLOT_COUNT];
	struct crypto_key *master;
	unsigned count, slot;
	double t0;

	CHECK_OK(keyslot_area_init(area, &master, KEYSLOT_KIND_PASSPHRASE,
				   &small, "pw", 2));
	fingerprint(master, id);

	/* Every single-bit flip of the only slot: damaged, never opened, no
	 * KDF run (so quick). */
	t0 = now_seconds();
	for (unsigned bit = 0; bit < KEYSLOT_SLOT_SIZE * 8; bit++) {
		memcpy(copy, area, sizeof(copy));
		SLOT(copy, 0)[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		CHECK_ERR(try_unlock(copy, sizeof(copy),
				     KEYSLOT_KIND_PASSPHRASE, "pw"),
			  -EBADMSG);
		CHECK_OK(keyslot_list(copy, sizeof(copy), info, &count));
		CHECK_EQ(count, 1);
		CHECK(info[0].error == -EBADMSG || info[0].error == -EUCLEAN);
	}
	fprintf(stderr, "keyslot: 1024 slot bit flips -> -EBADMSG in %.3f s\n",
		now_seconds() - t0);

	/* Two slots, the second damaged: the good one still opens; a wrong
	 * passphrase cannot be told from "it was in the damaged slot". */
	CHECK_OK(keyslot_add(area, sizeof(area), &slot, master,
			     KEYSLOT_KIND_PASSPHRASE, &small, "second", 6));
	memcpy(copy, area, sizeof(copy));
	SLOT(copy, 1)[40] ^= 0x08; /* salt */
	expect_unlock(copy, KEYSLOT_KIND_PASSPHRASE, "pw", 2, id, 0);
	CHECK_ERR(try_unlock(copy, sizeof(copy), KEYSLOT_KIND_PASSPHRASE,
			     "second"),
		  -EBADMSG);
	/* ...but a keyfile cannot have been in a damaged passphrase slot. */
	CHECK_ERR(try_unlock(copy, sizeof(copy), KEYSLOT_KIND_KEYFILE, "pw"),
		  -EKEYREJECTED);
	/* The damaged slot can be removed, the intact one then cannot. */
	CHECK_OK(keyslot_list(copy, sizeof(copy), info, &count));
	CHECK_EQ(count, 2);
	CHECK_EQ(info[1].error, -EBADMSG);
	CHECK_ERR(keyslot_remove(copy, sizeof(copy), master, 0), -EBUSY);
	CHECK_OK(keyslot_remove(copy, sizeof(copy), master, 1));
	CHECK_ERR(keyslot_remove(copy, sizeof(copy), master, 0), -EBUSY);

	/* A slot moved to another position (crc intact): its index says so. */
	memcpy(copy, area, sizeof(copy));
	memcpy(SLOT(copy, 1), SLOT(copy, 0), KEYSLOT_SLOT_SIZE);
	memset(SLOT(copy, 0), 0, KEYSLOT_SLOT_SIZE);
	CHECK_OK(keyslot_list(copy, sizeof(copy), info, &count));
	CHECK_EQ(info[0].error, -EUCLEAN);
	CHECK_ERR(try_unlock(copy, sizeof(copy), KEYSLOT_KIND_PASSPHRASE, "pw"),
		  -EBADMSG);
	/* ...and if the index is fixed too, the tag still refuses it. */
	le32_put(SLOT(copy, 1) + 4, 1);
	fix_slot_crc(copy, 1);
	CHECK_ERR(try_unlock(copy, sizeof(copy), KEYSLOT_KIND_PASSPHRASE, "pw"),
		  -EKEYREJECTED);

	/* Weakened KDF parameters with a recomputed crc: the parameters are
	 * in the AAD, so the slot no longer opens (and nothing leaks). */
	memcpy(copy, area, sizeof(copy));
	set_slot_params(copy, 0, 4, 8, 1);
	CHECK_ERR(try_unlock(copy, sizeof(copy), KEYSLOT_KIND_PASSPHRASE, "pw"),
		  -EKEYREJECTED);
	crypto_key_free(master);
}

static void test_hostile_params(void)
{
	static const uint32_t hostile[][3] = {
		{40, 8, 1}, {21, 8, 1},	  {20, 16, 16},	      {0, 8, 1},
		{10, 0, 1}, {10, 8, 0},	  {UINT32_MAX, 1, 1}, {18, 8, 4},
		{20, 4, 1}, {10, 100, 1}, {10, 8, 1000},
	};
	uint8_t area[KEYSLOT_AREA_SIZE], copy[KEYSLOT_AREA_SIZE];
	struct keyslot_info info[KEYSLOT_COUNT];
	struct crypto_key *master;
	unsigned count, slot;
	double t0, elapsed;

	CHECK_OK(keyslot_area_init(area, &master, KEYSLOT_KIND_PASSPHRASE,
				   &small, "pw", 2));
	CHECK_OK(keyslot_add(area, sizeof(area), &slot, master,
			     KEYSLOT_KIND_PASSPHRASE, &small, "pw2", 3));

	t0 = now_seconds();
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		/* One hostile slot beside a good one: the hostile one is
		 * damaged (-EUCLEAN), never derived; the good one opens. */
		memcpy(copy, area, sizeof(copy));
		set_slot_params(copy, 1, hostile[i][0], hostile[i][1],
				hostile[i][2]);
		CHECK_OK(keyslot_list(copy, sizeof(copy), info, &count));
		CHECK_EQ(info[1].error, -EUCLEAN);
		CHECK_ERR(try_unlock(copy, sizeof(copy),
				     KEYSLOT_KIND_PASSPHRASE, "wrong"),
			  -EBADMSG);
		/* Only hostile slots. */
		set_slot_params(copy, 0, hostile[i][0], hostile[i][1],
				hostile[i][2]);
		CHECK_ERR(try_unlock(copy, sizeof(copy),
				     KEYSLOT_KIND_PASSPHRASE, "pw"),
			  -EBADMSG);
	}
	/* Each slot within bounds, together over the area budget: the area
	 * is refused before any derivation. */
	memcpy(copy, area, sizeof(copy));
	set_slot_params(copy, 0, 17, 8, 4); /* 2^22, the per-slot maximum */
	set_slot_params(copy, 1, 17, 8, 4);
	CHECK_OK(keyslot_list(copy, sizeof(copy), info, &count)); /* = 2^23 */
	memcpy(SLOT(copy, 2), SLOT(copy, 1), KEYSLOT_SLOT_SIZE);
	le32_put(SLOT(copy, 2) + 4, 2);
	set_slot_params(copy, 2, 1, 1, 1); /* one unit more */
	CHECK_ERR(keyslot_list(copy, sizeof(copy), info, &count), -EUCLEAN);
	CHECK_ERR(try_unlock(copy, sizeof(copy), KEYSLOT_KIND_PASSPHRASE, "pw"),
		  -EUCLEAN);
	elapsed = now_seconds() - t0;
	CHECK(elapsed < 1.0);
	fprintf(stderr, "keyslot: hostile KDF parameters refused in %.4f s\n",
		elapsed);

	/* keyslot_add keeps to the budget too (refused before any work). */
	memcpy(copy, area, sizeof(copy));
	set_slot_params(copy, 0, 17, 8, 4);
	set_slot_params(copy, 1, 17, 8, 4);
	t0 = now_seconds();
	CHECK_ERR(keyslot_add(copy, sizeof(copy), &slot, master,
			      KEYSLOT_KIND_PASSPHRASE, &small, "x", 1),
		  -EINVAL);
	CHECK(now_seconds() - t0 < 0.5);
	crypto_key_free(master);
}

/* Random damage: never a crash, never an undocumented error, never a key
 * from a damaged area unless the damage missed everything that matters. */
static void test_random_damage(void)
{
	uint8_t area[KEYSLOT_AREA_SIZE], copy[KEYSLOT_AREA_SIZE];
	struct keyslot_info info[KEYSLOT_COUNT];
	struct crypto_key *master;
	const struct crypto_scrypt_params tiny = {4, 1, 1};
	uint64_t seed = test_seed(), state = seed;
	unsigned count, slot, opened = 0;

	/* N = 16, r = 1: microseconds per try, so thousands of tries fit. */
	CHECK_OK(keyslot_area_init(area, &master, KEYSLOT_KIND_PASSPHRASE,
				   &tiny, "pw", 2));
	CHECK_OK(keyslot_add(area, sizeof(area), &slot, master,
			     KEYSLOT_KIND_KEYFILE, &tiny, "kf", 2));
	for (unsigned iter = 0; iter < 3000; iter++) {
		unsigned n = 1 + (unsigned)(test_rand(&state) % 4);
		int ret;

		memcpy(copy, area, sizeof(copy));
		for (unsigned k = 0; k < n; k++)
			copy[test_rand(&state) % sizeof(copy)] ^=
				(uint8_t)(1 + test_rand(&state) % 255);
		ret = keyslot_list(copy, sizeof(copy), info, &count);
		CHECK(ret == 0 || ret == -EUCLEAN || ret == -EBADMSG ||
		      ret == -EPROTONOSUPPORT);
		ret = try_unlock(copy, sizeof(copy), KEYSLOT_KIND_PASSPHRASE,
				 "pw");
		CHECK(ret == 0 || ret == -EUCLEAN || ret == -EBADMSG ||
		      ret == -EPROTONOSUPPORT || ret == -EKEYREJECTED);
		if (ret == 0) {
			/* Only possible if slot 0 and the header were
			 * untouched (the damage hit slot 1 or the tail). */
			CHECK_MEM_EQ(copy, area,
				     KEYSLOT_HEADER_SIZE + KEYSLOT_SLOT_SIZE);
			opened++;
		}
	}
	fprintf(stderr,
		"keyslot: 3000 random damages, %u still opened (slot 0 "
		"untouched)\n",
		opened);
	crypto_key_free(master);
}

int main(void)
{
	double t0 = now_seconds();

	test_lifecycle();
	test_truncated_and_header();
	test_damaged_slots();
	test_hostile_params();
	test_random_damage();
	test_defaults();
	fprintf(stderr, "test_keyslot: ok (%.2f s)\n", now_seconds() - t0);
	return 0;
}
