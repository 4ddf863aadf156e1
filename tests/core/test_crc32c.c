/*
 * test_crc32c.c -- CRC-32C: known vectors, chaining, the slicing tables
 * against a bitwise reference, and hardware vs. software agreement on random
 * buffers of random lengths and alignments.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "crc32c.h"
#include "crc32c_internal.h"
#include "harness.h"

/* Bit-at-a-time reference: the definition, with no tables to get wrong. */
static uint32_t crc32c_bitwise(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t c = ~crc;

	while (len-- > 0) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
	}
	return ~c;
}

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static void check_vectors(crc_fn fn, const char *label)
{
	unsigned char buf[64];

	fprintf(stderr, "vectors: %s\n", label);
	CHECK_EQ(fn(0, "123456789", 9), 0xE3069283u);
	CHECK_EQ(fn(0, "", 0), 0u);
	CHECK_EQ(fn(0, "a", 1), 0xC1D04330u);
	/* RFC 3720 (iSCSI) B.4 test vectors. */
	memset(buf, 0, 32);
	CHECK_EQ(fn(0, buf, 32), 0x8A9136AAu);
	memset(buf, 0xff, 32);
	CHECK_EQ(fn(0, buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (unsigned char)i;
	CHECK_EQ(fn(0, buf, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (unsigned char)(31 - i);
	CHECK_EQ(fn(0, buf, 32), 0x113FDB5Cu);
	/* Chaining: crc(a || b) == crc(crc(a), b). */
	CHECK_EQ(fn(fn(0, "1234", 4), "56789", 5), 0xE3069283u);
}

int main(void)
{
	enum { BUF_MAX = 4096 + 64 };
	static unsigned char buf[BUF_MAX];
	uint64_t seed = test_seed();
	const bool hw = crc32c_hw_available();

	check_vectors(crc32c, "crc32c");
	check_vectors(crc32c_sw, "crc32c_sw");
	check_vectors(crc32c_bitwise, "bitwise reference");
	if (hw)
		check_vectors(crc32c_hw, "crc32c_hw");
	else
		fprintf(stderr, "no SSE4.2: hardware path not tested\n");

	/* Every single byte value (exercises each table-0 entry) and every
	 * byte in every position of an 8-byte word (tables 1..7). */
	for (int v = 0; v < 256; v++) {
		unsigned char word[16];

		CHECK_EQ(crc32c_sw(0, &(unsigned char){(unsigned char)v}, 1),
			 crc32c_bitwise(0, &(unsigned char){(unsigned char)v},
					1));
		for (int pos = 0; pos < 16; pos++) {
			memset(word, 0, sizeof(word));
			word[pos] = (unsigned char)v;
			CHECK_EQ(crc32c_sw(0x12345678u, word, sizeof(word)),
				 crc32c_bitwise(0x12345678u, word,
						sizeof(word)));
		}
	}

	/* Random buffers, lengths and alignments: all paths agree. */
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)test_rand(&seed);
	for (int iter = 0; iter < 20000; iter++) {
		const size_t align = test_rand(&seed) % 16;
		const size_t len =
			iter < 100 ? (size_t)iter : test_rand(&seed) % 4096;
		const uint32_t start = (uint32_t)test_rand(&seed);
		const uint32_t want = crc32c_bitwise(start, buf + align, len);

		CHECK_EQ(crc32c_sw(start, buf + align, len), want);
		CHECK_EQ(crc32c(start, buf + align, len), want);
		if (hw)
			CHECK_EQ(crc32c_hw(start, buf + align, len), want);
		/* Split at a random point: chaining agrees too. */
		if (len > 0) {
			const size_t cut = test_rand(&seed) % len;
			uint32_t c = crc32c(start, buf + align, cut);

			CHECK_EQ(crc32c(c, buf + align + cut, len - cut), want);
		}
	}

	/* A single flipped bit always changes the checksum. */
	for (int iter = 0; iter < 2000; iter++) {
		const size_t len = 1 + test_rand(&seed) % 512;
		const size_t bit = test_rand(&seed) % (len * 8);
		const uint32_t before = crc32c(0, buf, len);

		buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		CHECK(crc32c(0, buf, len) != before);
		buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
	}
	fprintf(stderr, "test_crc32c: ok\n");
	return 0;
}
