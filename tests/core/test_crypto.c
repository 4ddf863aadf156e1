/*
 * test_crypto.c -- core/crypto.c: known answers and refusals.
 *
 *   - AES-256-GCM: McGrew-Viega test cases 13-16 (the AES-256 cases of the
 *     GCM specification: empty plaintext, one block, 64 bytes, 60 bytes with
 *     20 bytes of AAD), sealed and opened, also in place.
 *   - Tamper: every single-bit flip of ciphertext, tag, AAD and nonce is
 *     -EBADMSG and leaves the output buffer zeroed.
 *   - scrypt: RFC 7914 section 12 vectors 1-3 (vector 4 needs 1 GiB, above
 *     our bound, and is checked to be refused); hostile parameters refused
 *     fast.
 *   - HKDF-SHA256: RFC 5869 test cases 1 and 3; sub-keys are the HKDF of
 *     the master with the documented labels, distinct per purpose and salt.
 *   - HMAC-SHA256 known answer (computed with `openssl dgst -mac HMAC`,
 *     key 00..1f, data "hangar superblock") and verify/refuse.
 *   - Key wrapping, random keys, the AAD layout, the nonce protocol.
 */
#include "harness.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "format.h"

static size_t hex_decode(uint8_t *out, size_t cap, const char *hex)
{
	size_t n = 0;

	while (hex[0] != '\0' && hex[1] != '\0') {
		unsigned v;

		CHECK(n < cap);
		CHECK(sscanf(hex, "%2x", &v) == 1);
		out[n++] = (uint8_t)v;
		hex += 2;
	}
	CHECK(hex[0] == '\0');
	return n;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* ---- AES-256-GCM known answers ------------------------------------------- */

struct gcm_vector {
	const char *name, *key, *iv, *pt, *aad, *ct, *tag;
};

#define K15 "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
#define P15                                                                    \
	"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"     \
	"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"
#define C15                                                                    \
	"522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"     \
	"8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad"

static const struct gcm_vector gcm_vectors[] = {
	{"McGrew-Viega 13 (empty plaintext)",
	 "0000000000000000000000000000000000000000000000000000000000000000",
	 "000000000000000000000000", "", "", "",
	 "530f8afbc74536b9a963b4f1c4cb738b"},
	{"McGrew-Viega 14",
	 "0000000000000000000000000000000000000000000000000000000000000000",
	 "000000000000000000000000", "00000000000000000000000000000000", "",
	 "cea7403d4d606b6e074ec5d3baf39d18",
	 "d0d1c8a799996bf0265b98b5d48ab919"},
	{"McGrew-Viega 15", K15, "cafebabefacedbaddecaf888", P15, "", C15,
	 "b094dac5d93471bdec1a502270e3cc6c"},
	{"McGrew-Viega 16 (AAD)", K15, "cafebabefacedbaddecaf888",
	 /* P15 and C15 without their last 4 bytes */
	 "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	 "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
	 "feedfacedeadbeeffeedfacedeadbeefabaddad2",
	 "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	 "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
	 "76fc6ece0f4e1768cddf8853bb2d551b"},
};

struct gcm_case {
	uint8_t key[32], iv[12], pt[64], aad[32], ct[64], tag[16];
	size_t pt_len, aad_len;
	struct crypto_aead *aead;
};

static void gcm_case_load(struct gcm_case *c, const struct gcm_vector *v)
{
	struct crypto_key *key;

	memset(c, 0, sizeof(*c));
	CHECK_EQ(hex_decode(c->key, sizeof(c->key), v->key), 32);
	CHECK_EQ(hex_decode(c->iv, sizeof(c->iv), v->iv), 12);
	c->pt_len = hex_decode(c->pt, sizeof(c->pt), v->pt);
	c->aad_len = hex_decode(c->aad, sizeof(c->aad), v->aad);
	CHECK_EQ(hex_decode(c->ct, sizeof(c->ct), v->ct), c->pt_len);
	CHECK_EQ(hex_decode(c->tag, sizeof(c->tag), v->tag), 16);
	CHECK_OK(crypto_key_new_from_bytes(&key, c->key, sizeof(c->key)));
	CHECK_OK(crypto_aead_new(key, &c->aead));
	crypto_key_free(key); /* the aead keeps its own schedule */
}

static void test_gcm_vectors(void)
{
	for (size_t i = 0; i < sizeof(gcm_vectors) / sizeof(gcm_vectors[0]);
	     i++) {
		const struct gcm_vector *v = &gcm_vectors[i];
		struct gcm_case c;
		uint8_t out[64], tag[16], buf[64];

		gcm_case_load(&c, v);
		memset(out, 0xaa, sizeof(out));
		CHECK_OK(crypto_aead_seal(c.aead, out, tag, c.iv,
					  c.aad_len ? c.aad : NULL, c.aad_len,
					  c.pt, c.pt_len));
		if (memcmp(out, c.ct, c.pt_len) != 0 ||
		    memcmp(tag, c.tag, 16) != 0) {
			fprintf(stderr, "GCM vector failed: %s\n", v->name);
			exit(1);
		}
		memset(out, 0xaa, sizeof(out));
		CHECK_OK(crypto_aead_open(c.aead, out, c.iv,
					  c.aad_len ? c.aad : NULL, c.aad_len,
					  c.ct, c.pt_len, c.tag));
		CHECK_MEM_EQ(out, c.pt, c.pt_len);

		/* In place, both ways, and the aead is reusable. */
		memcpy(buf, c.pt, c.pt_len);
		CHECK_OK(crypto_aead_seal(c.aead, buf, tag, c.iv, c.aad,
					  c.aad_len, buf, c.pt_len));
		CHECK_MEM_EQ(buf, c.ct, c.pt_len);
		CHECK_MEM_EQ(tag, c.tag, 16);
		CHECK_OK(crypto_aead_open(c.aead, buf, c.iv, c.aad, c.aad_len,
					  buf, c.pt_len, c.tag));
		CHECK_MEM_EQ(buf, c.pt, c.pt_len);
		crypto_aead_free(c.aead);
	}
	fprintf(stderr, "gcm: 4 known answers ok\n");
}

/* Every single-bit flip of ciphertext, tag, AAD and nonce is -EBADMSG and
 * the output is wiped. */
static void test_gcm_tamper(void)
{
	struct gcm_case c;
	uint8_t out[64];
	unsigned flips = 0;

	gcm_case_load(&c, &gcm_vectors[3]);
	for (size_t bit = 0; bit < c.pt_len * 8; bit++, flips++) {
		c.ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		memset(out, 0xaa, sizeof(out));
		CHECK_ERR(crypto_aead_open(c.aead, out, c.iv, c.aad, c.aad_len,
					   c.ct, c.pt_len, c.tag),
			  -EBADMSG);
		CHECK(all_zero(out, c.pt_len));
		c.ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	for (size_t bit = 0; bit < 128; bit++, flips++) {
		c.tag[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		memset(out, 0xaa, sizeof(out));
		CHECK_ERR(crypto_aead_open(c.aead, out, c.iv, c.aad, c.aad_len,
					   c.ct, c.pt_len, c.tag),
			  -EBADMSG);
		CHECK(all_zero(out, c.pt_len));
		c.tag[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	for (size_t bit = 0; bit < c.aad_len * 8; bit++, flips++) {
		c.aad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		CHECK_ERR(crypto_aead_open(c.aead, out, c.iv, c.aad, c.aad_len,
					   c.ct, c.pt_len, c.tag),
			  -EBADMSG);
		c.aad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	for (size_t bit = 0; bit < 96; bit++, flips++) {
		c.iv[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		CHECK_ERR(crypto_aead_open(c.aead, out, c.iv, c.aad, c.aad_len,
					   c.ct, c.pt_len, c.tag),
			  -EBADMSG);
		c.iv[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	/* Dropping the AAD, or one byte of ciphertext, also fails. */
	CHECK_ERR(crypto_aead_open(c.aead, out, c.iv, NULL, 0, c.ct, c.pt_len,
				   c.tag),
		  -EBADMSG);
	CHECK_ERR(crypto_aead_open(c.aead, out, c.iv, c.aad, c.aad_len, c.ct,
				   c.pt_len - 1, c.tag),
		  -EBADMSG);
	/* Untouched, it still opens: the aead recovered from every failure. */
	CHECK_OK(crypto_aead_open(c.aead, out, c.iv, c.aad, c.aad_len, c.ct,
				  c.pt_len, c.tag));
	CHECK_MEM_EQ(out, c.pt, c.pt_len);

	/* Bad parameters are -EINVAL, not a crash. */
	CHECK_ERR(crypto_aead_open(c.aead, out, c.iv, NULL, 5, c.ct, c.pt_len,
				   c.tag),
		  -EINVAL);
	CHECK_ERR(crypto_aead_seal(c.aead, out + 1, c.tag, c.iv, NULL, 0, out,
				   16),
		  -EINVAL); /* partial overlap */
	crypto_aead_free(c.aead);
	crypto_aead_free(NULL);
	fprintf(stderr, "gcm: %u single-bit tampers all -EBADMSG\n", flips);
}

/* ---- scrypt --------------------------------------------------------------- */

static void check_scrypt(const char *pass, const char *salt, uint32_t log2_n,
			 uint32_t r, uint32_t p, const char *want_hex)
{
	const struct crypto_scrypt_params params = {log2_n, r, p};
	uint8_t want[64], got[64];
	double t0 = now_seconds();

	CHECK_EQ(hex_decode(want, sizeof(want), want_hex), 64);
	CHECK_OK(crypto_scrypt(got, sizeof(got), &params, pass, strlen(pass),
			       (const uint8_t *)salt, strlen(salt)));
	CHECK_MEM_EQ(got, want, 64);
	fprintf(stderr, "scrypt: RFC 7914 N=2^%u r=%u p=%u ok (%.3f s)\n",
		log2_n, r, p, now_seconds() - t0);
}

static void test_scrypt_vectors(void)
{
	check_scrypt("", "", 4, 1, 1,
		     "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3f"
		     "ede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628"
		     "cf35e20c38d18906");
	check_scrypt("password", "NaCl", 10, 8, 16,
		     "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e7737663"
		     "4b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d"
		     "8360cbdfa2cc0640");
	check_scrypt("pleaseletmein", "SodiumChloride", 14, 8, 1,
		     "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6"
		     "545da1f2d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40"
		     "dfcf017b45575887");
}

static void test_scrypt_bounds(void)
{
	static const struct crypto_scrypt_params hostile[] = {
		{0, 8, 1},	     /* N = 1 */
		{21, 1, 1},	     /* N above 2^20 */
		{40, 8, 1},	     /* would be 128 TiB */
		{UINT32_MAX, 8, 1},  /* shift overflow */
		{10, 0, 1},	     /* r = 0 */
		{10, 17, 1},	     /* r above 16 */
		{10, UINT32_MAX, 1}, /* r overflow */
		{10, 8, 0},	     /* p = 0 */
		{10, 8, 17},	     /* p above 16 */
		{10, 8, UINT32_MAX}, /* p overflow */
		{20, 4, 1},	     /* 512 MiB */
		{18, 8, 4},	     /* work 2^23 */
		{20, 1, 8},	     /* work 2^23 */
		{20, 8, 1},	     /* RFC 7914 vector 4: 1 GiB */
	};
	struct crypto_scrypt_params def;
	struct crypto_key *key = NULL;
	uint8_t out[32];
	uint64_t work = 0;
	double t0 = now_seconds(), elapsed;

	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		CHECK_ERR(crypto_scrypt_params_check(&hostile[i], NULL),
			  -EINVAL);
		CHECK_ERR(crypto_scrypt(out, sizeof(out), &hostile[i], "pw", 2,
					(const uint8_t *)"salt", 4),
			  -EINVAL);
		CHECK_ERR(crypto_key_new_scrypt(&key, &hostile[i], "pw", 2,
						(const uint8_t *)"salt", 4),
			  -EINVAL);
		CHECK(key == NULL);
	}
	elapsed = now_seconds() - t0;
	/* Refused before any work: a handful of comparisons each. */
	CHECK(elapsed < 0.05);
	fprintf(stderr,
		"scrypt: %zu hostile parameter sets refused in %.6f s\n",
		sizeof(hostile) / sizeof(hostile[0]), elapsed);

	/* The corners that are allowed. */
	{
		const struct crypto_scrypt_params edge[] = {
			{20, 2, 2}, {1, 1, 1}, {17, 16, 2}, {14, 16, 16}};
		for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++)
			CHECK_OK(crypto_scrypt_params_check(&edge[i], NULL));
	}

	/* The defaults are the strong ones, and within bounds. */
	crypto_scrypt_params_default(&def);
	CHECK_EQ(def.log2_n, 17);
	CHECK_EQ(def.r, 8);
	CHECK_EQ(def.p, 1);
	CHECK_OK(crypto_scrypt_params_check(&def, &work));
	CHECK_EQ(work, 1u << 20);
	CHECK(128ull * def.r * (1ull << def.log2_n) == 128ull << 20);

	/* Bad lengths. */
	{
		const struct crypto_scrypt_params small = {4, 1, 1};
		CHECK_ERR(crypto_scrypt(out, 0, &small, "", 0, NULL, 0),
			  -EINVAL);
		CHECK_ERR(crypto_scrypt(out, 2048, &small, "", 0, NULL, 0),
			  -EINVAL);
		CHECK_ERR(crypto_scrypt(out, 32, &small, NULL, 3, NULL, 0),
			  -EINVAL);
		CHECK_ERR(crypto_scrypt(out, 32, NULL, "", 0, NULL, 0),
			  -EINVAL);
	}
}

/* Time one derivation at the default strength; informational, and bounds
 * the keyslot figures (no assertion on speed: machines differ). */
static void test_scrypt_default_timing(void)
{
	struct crypto_scrypt_params def;
	struct crypto_key *key;
	double t0;

	crypto_scrypt_params_default(&def);
	t0 = now_seconds();
	CHECK_OK(crypto_key_new_scrypt(
		&key, &def, "correct horse", 13,
		(const uint8_t *)"0123456789abcdef0123456789abcdef", 32));
	fprintf(stderr, "scrypt: default (N=2^17 r=8 p=1) took %.3f s\n",
		now_seconds() - t0);
	crypto_key_free(key);
}

/* ---- HKDF, sub-keys, HMAC -------------------------------------------------- */

static void test_hkdf(void)
{
	uint8_t ikm[22], salt[13], info[10], okm[42], want[42];

	memset(ikm, 0x0b, sizeof(ikm));
	for (unsigned i = 0; i < sizeof(salt); i++)
		salt[i] = (uint8_t)i;
	for (unsigned i = 0; i < sizeof(info); i++)
		info[i] = (uint8_t)(0xf0 + i);
	/* RFC 5869 A.1 */
	hex_decode(want, sizeof(want),
		   "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ec"
		   "c4c5bf34007208d5b887185865");
	CHECK_OK(crypto_hkdf_sha256(okm, sizeof(okm), ikm, sizeof(ikm), salt,
				    sizeof(salt), info, sizeof(info)));
	CHECK_MEM_EQ(okm, want, 42);
	/* RFC 5869 A.3: no salt, no info */
	hex_decode(want, sizeof(want),
		   "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c"
		   "738d2d9d201395faa4b61a96c8");
	CHECK_OK(crypto_hkdf_sha256(okm, sizeof(okm), ikm, sizeof(ikm), NULL, 0,
				    NULL, 0));
	CHECK_MEM_EQ(okm, want, 42);
	CHECK_ERR(
		crypto_hkdf_sha256(okm, 0, ikm, sizeof(ikm), NULL, 0, NULL, 0),
		-EINVAL);
	CHECK_ERR(
		crypto_hkdf_sha256(okm, sizeof(okm), ikm, 0, NULL, 0, NULL, 0),
		-EINVAL);
	fprintf(stderr, "hkdf: RFC 5869 A.1 and A.3 ok\n");
}

/* Identify a key by sealing a fixed block: equal keys give equal tags. */
static void key_probe(const struct crypto_key *key, uint8_t out_tag[16])
{
	static const uint8_t nonce[12];
	struct crypto_aead *aead;

	CHECK_OK(crypto_aead_new(key, &aead));
	CHECK_OK(crypto_aead_seal(aead, NULL, out_tag, nonce,
				  (const uint8_t *)"probe", 5, NULL, 0));
	crypto_aead_free(aead);
}

static void test_subkeys(void)
{
	uint8_t master_bytes[32], uuid_a[16], uuid_b[16], raw[32];
	uint8_t tags[6][16], tag[16], id[16], id2[16];
	struct crypto_key *master, *k, *expect;
	const enum crypto_subkey purposes[3] = {CRYPTO_SUBKEY_DATA,
						CRYPTO_SUBKEY_METADATA,
						CRYPTO_SUBKEY_SUPERBLOCK_MAC};
	const char *labels[3] = {"hangar v1 data", "hangar v1 metadata",
				 "hangar v1 superblock mac"};

	for (unsigned i = 0; i < 32; i++)
		master_bytes[i] = (uint8_t)(0x40 + i);
	memset(uuid_a, 0xa5, sizeof(uuid_a));
	memset(uuid_b, 0x5a, sizeof(uuid_b));
	CHECK_OK(crypto_key_new_from_bytes(&master, master_bytes, 32));

	for (unsigned i = 0; i < 3; i++) {
		/* Derived key == HKDF(master, uuid, label), as documented. */
		CHECK_OK(
			crypto_key_derive(&k, master, purposes[i], uuid_a, 16));
		key_probe(k, tags[i]);
		crypto_key_free(k);
		CHECK_OK(crypto_hkdf_sha256(raw, 32, master_bytes, 32, uuid_a,
					    16, (const uint8_t *)labels[i],
					    strlen(labels[i])));
		CHECK_OK(crypto_key_new_from_bytes(&expect, raw, 32));
		key_probe(expect, tag);
		CHECK_MEM_EQ(tag, tags[i], 16);
		crypto_key_free(expect);
		/* Another container's uuid gives another key. */
		CHECK_OK(
			crypto_key_derive(&k, master, purposes[i], uuid_b, 16));
		key_probe(k, tags[3 + i]);
		crypto_key_free(k);
	}
	for (unsigned i = 0; i < 6; i++)
		for (unsigned j = i + 1; j < 6; j++)
			CHECK(memcmp(tags[i], tags[j], 16) != 0);
	/* Deterministic. */
	CHECK_OK(crypto_key_derive(&k, master, CRYPTO_SUBKEY_DATA, uuid_a, 16));
	key_probe(k, tag);
	CHECK_MEM_EQ(tag, tags[0], 16);
	crypto_key_free(k);
	CHECK_ERR(crypto_key_derive(&k, master, (enum crypto_subkey)9, uuid_a,
				    16),
		  -EINVAL);
	CHECK(k == NULL);

	/* Fingerprint == HKDF(master, no salt, "hangar v1 key id"). */
	CHECK_OK(crypto_key_fingerprint(master, id));
	CHECK_OK(crypto_hkdf_sha256(id2, 16, master_bytes, 32, NULL, 0,
				    (const uint8_t *)"hangar v1 key id", 16));
	CHECK_MEM_EQ(id, id2, 16);
	crypto_key_free(master);
	fprintf(stderr, "hkdf: sub-keys match their labels, distinct per "
			"purpose and container\n");
}

static void test_hmac(void)
{
	uint8_t key_bytes[32], mac[32], want[32];
	static const char data[] = "hangar superblock";
	struct crypto_key *key;

	for (unsigned i = 0; i < 32; i++)
		key_bytes[i] = (uint8_t)i;
	hex_decode(want, sizeof(want),
		   "147276810bda83ac3c6c5c9fce1a95260d36abb31f29269c2cbfb50d2f"
		   "a2c20d");
	CHECK_OK(crypto_key_new_from_bytes(&key, key_bytes, 32));
	CHECK_OK(crypto_mac_compute(key, mac, data, strlen(data)));
	CHECK_MEM_EQ(mac, want, 32);
	CHECK_OK(crypto_mac_verify(key, want, data, strlen(data)));
	for (unsigned bit = 0; bit < 256; bit++) {
		want[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		CHECK_ERR(crypto_mac_verify(key, want, data, strlen(data)),
			  -EBADMSG);
		want[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	CHECK_ERR(crypto_mac_verify(key, want, data, strlen(data) - 1),
		  -EBADMSG);
	crypto_key_free(key);
	fprintf(stderr, "hmac: known answer, 256 flips refused\n");
}

/* ---- keys, wrapping, AAD, nonces ---------------------------------------------- */

static void test_keys_and_wrap(void)
{
	struct crypto_key *a, *b, *kek, *kek2, *unwrapped;
	struct crypto_aead *aead, *aead2;
	uint8_t ida[16], idb[16], idu[16], wrapped[32], tag[16], nonce[12];
	static const uint8_t aad[] = "slot header";

	CHECK_OK(crypto_key_generate(&a));
	CHECK_OK(crypto_key_generate(&b));
	fprintf(stderr, "keys: mlock %s\n",
		crypto_key_is_locked(a) ? "in effect" : "refused (RLIMIT?)");
	CHECK_OK(crypto_key_fingerprint(a, ida));
	CHECK_OK(crypto_key_fingerprint(b, idb));
	CHECK(memcmp(ida, idb, 16) != 0);

	CHECK_OK(crypto_key_generate(&kek));
	CHECK_OK(crypto_key_generate(&kek2));
	CHECK_OK(crypto_aead_new(kek, &aead));
	CHECK_OK(crypto_aead_new(kek2, &aead2));
	CHECK_OK(crypto_random_bytes(nonce, sizeof(nonce)));
	CHECK_OK(crypto_key_wrap(aead, wrapped, tag, nonce, aad, sizeof(aad),
				 a));
	CHECK_OK(crypto_key_unwrap(aead, &unwrapped, nonce, aad, sizeof(aad),
				   wrapped, tag));
	CHECK_OK(crypto_key_fingerprint(unwrapped, idu));
	CHECK_MEM_EQ(idu, ida, 16);
	crypto_key_free(unwrapped);
	/* Wrong kek, wrong AAD, tampered wrap: -EBADMSG and no key. */
	CHECK_ERR(crypto_key_unwrap(aead2, &unwrapped, nonce, aad, sizeof(aad),
				    wrapped, tag),
		  -EBADMSG);
	CHECK(unwrapped == NULL);
	CHECK_ERR(crypto_key_unwrap(aead, &unwrapped, nonce, aad,
				    sizeof(aad) - 1, wrapped, tag),
		  -EBADMSG);
	wrapped[7] ^= 0x10;
	CHECK_ERR(crypto_key_unwrap(aead, &unwrapped, nonce, aad, sizeof(aad),
				    wrapped, tag),
		  -EBADMSG);
	CHECK(unwrapped == NULL);

	CHECK_ERR(crypto_key_new_from_bytes(&unwrapped, wrapped, 31), -EINVAL);
	CHECK_ERR(crypto_random_bytes(NULL, 4), -EINVAL);
	CHECK_OK(crypto_random_bytes(nonce, 0));

	crypto_aead_free(aead);
	crypto_aead_free(aead2);
	crypto_key_free(kek);
	crypto_key_free(kek2);
	crypto_key_free(a);
	crypto_key_free(b);
	crypto_key_free(NULL);
}

static void test_aad_layout(void)
{
	struct crypto_aad aad = {
		.kind = CRYPTO_AAD_MAP_NODE,
		.level = 2,
		.object_id = 0x0102030405060708ull,
		.index = 0x1112131415161718ull,
		.generation = 0x2122232425262728ull,
		.length = 0x31323334u,
	};
	uint8_t out[CRYPTO_AAD_LEN];

	for (unsigned i = 0; i < 16; i++)
		aad.uuid[i] = (uint8_t)(0xc0 + i);
	memset(out, 0xee, sizeof(out));
	crypto_aad_encode(out, &aad);
	CHECK_MEM_EQ(out, "HGE1", 4);
	CHECK_EQ(out[4], 3);
	CHECK_EQ(out[5], 0);
	CHECK_EQ(out[6], 2);
	CHECK_EQ(out[8], 0xc0);
	CHECK_EQ(out[23], 0xcf);
	CHECK_EQ(out[24], 0x08);
	CHECK_EQ(out[31], 0x01);
	CHECK_EQ(out[32], 0x18);
	CHECK_EQ(out[40], 0x28);
	CHECK_EQ(out[47], 0x21);
	CHECK_EQ(out[48], 0x34);
	CHECK_EQ(out[51], 0x31);
	CHECK(all_zero(out + 52, 12));
}

static void test_nonces(void)
{
	struct crypto_nonce ns, ns2;
	uint8_t n1[12], n2[12], last[12];
	uint64_t limit, used_max = 0;

	/* A fresh container: nothing reserved, nothing usable. */
	CHECK_OK(crypto_nonce_start(&ns, 0));
	CHECK_ERR(crypto_nonce_take(&ns, n1), -ENOBUFS);
	CHECK_OK(crypto_nonce_reservation(&ns, &limit));
	CHECK_EQ(limit, CRYPTO_NONCE_RESERVE);
	/* ...the superblock carrying `limit` is written and synced... */
	crypto_nonce_reserved(&ns, limit);
	CHECK_OK(crypto_nonce_take(&ns, n1));
	CHECK_OK(crypto_nonce_take(&ns, n2));
	CHECK_EQ(le32_get(n1), ns.salt);
	CHECK(memcmp(n1, n2, 12) != 0);
	CHECK_EQ(n1[4], 0);
	CHECK_EQ(n2[4], 1);
	for (unsigned i = 0; i < 1000; i++)
		CHECK_OK(crypto_nonce_take(&ns, last));
	used_max = ns.next - 1;
	/* A commit moves the limit on; a stale, smaller "reserved" is
	 * ignored. */
	CHECK_OK(crypto_nonce_reservation(&ns, &limit));
	CHECK(limit > used_max);
	crypto_nonce_reserved(&ns, limit);
	crypto_nonce_reserved(&ns, 5);
	CHECK_EQ(ns.durable, limit);

	/* Crash, reopen from the last durable limit: counters start above
	 * everything used, with a new salt (equal with p = 2^-32). */
	CHECK_OK(crypto_nonce_start(&ns2, limit));
	CHECK(ns2.next > used_max);
	CHECK_ERR(crypto_nonce_take(&ns2, n1), -ENOBUFS);

	/* Exhausting a reservation says -ENOBUFS, never wraps. */
	ns.next = ns.durable - 1;
	CHECK_OK(crypto_nonce_take(&ns, n1));
	CHECK_ERR(crypto_nonce_take(&ns, n1), -ENOBUFS);
	/* The end of the counter space. */
	CHECK_ERR(crypto_nonce_start(&ns2, UINT64_MAX - 5), -EOVERFLOW);
	ns.next = UINT64_MAX - 5;
	CHECK_ERR(crypto_nonce_reservation(&ns, &limit), -EOVERFLOW);
	fprintf(stderr, "nonce: reservation protocol ok\n");
}

int main(void)
{
	double t0 = now_seconds();

	test_gcm_vectors();
	test_gcm_tamper();
	test_scrypt_vectors();
	test_scrypt_bounds();
	test_scrypt_default_timing();
	test_hkdf();
	test_subkeys();
	test_hmac();
	test_keys_and_wrap();
	test_aad_layout();
	test_nonces();
	fprintf(stderr, "test_crypto: ok (%.2f s)\n", now_seconds() - t0);
	return 0;
}
