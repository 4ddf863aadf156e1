/*
 * crc32c.c -- CRC-32C (Castagnoli), the checksum of every metadata block.
 *
 * What: crc32c(crc, data, len) with zlib-style chaining: `crc` is a finished
 * CRC (0 to start), so crc32c(crc32c(0, a), b) == crc32c(0, a || b).
 *
 * Why two paths: the SSE4.2 crc32 instruction does 8 bytes per instruction
 * and is what every x86-64 server we target has; the slicing-by-8 table path
 * keeps other CPUs (and tests) working with identical results.
 *
 * Invariants:
 *   1. crc32c_sw() and crc32c_hw() return the same value for every input
 *      (tests/core/test_crc32c.c checks it on random buffers and alignments).
 *   2. No mutable state: the tables are static const data; the CPU check
 *      reads libgcc's/compiler-rt's CPU model, initialised before main and
 *      made idempotent by __builtin_cpu_init().  Hence thread-safe with no
 *      locking and no allocation.
 *
 * The hardware function carries __attribute__((target("sse4.2"))) so the
 * file builds without -msse4.2 and the instruction is only ever executed
 * after __builtin_cpu_supports("sse4.2") said yes.
 */
#include "crc32c.h"

#include <string.h>

#include "crc32c_internal.h"
#include "crc32c_table.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#define CRC32C_HAVE_HW 1
#else
#define CRC32C_HAVE_HW 0
#endif

/* Load 8 bytes little-endian without alignment or aliasing assumptions. */
static inline uint64_t load_le64(const unsigned char *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	       (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 |
	       (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	       (uint64_t)p[7] << 56;
}

uint32_t crc32c_sw(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t c = ~crc;

	while (len >= 8) {
		const uint64_t w = load_le64(p) ^ c;

		c = crc32c_table[7][w & 0xff] ^
		    crc32c_table[6][(w >> 8) & 0xff] ^
		    crc32c_table[5][(w >> 16) & 0xff] ^
		    crc32c_table[4][(w >> 24) & 0xff] ^
		    crc32c_table[3][(w >> 32) & 0xff] ^
		    crc32c_table[2][(w >> 40) & 0xff] ^
		    crc32c_table[1][(w >> 48) & 0xff] ^
		    crc32c_table[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len > 0) {
		c = (c >> 8) ^ crc32c_table[0][(c ^ *p) & 0xff];
		p++;
		len--;
	}
	return ~c;
}

#if CRC32C_HAVE_HW

bool crc32c_hw_available(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("sse4.2");
}

__attribute__((target("sse4.2"))) uint32_t
crc32c_hw(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t c = ~crc;

	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		c = _mm_crc32_u8((uint32_t)c, *p);
		p++;
		len--;
	}
	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, sizeof(w)); /* aligned now; memcpy keeps it
					     free of aliasing questions */
		c = _mm_crc32_u64(c, w);
		p += 8;
		len -= 8;
	}
	while (len > 0) {
		c = _mm_crc32_u8((uint32_t)c, *p);
		p++;
		len--;
	}
	return ~(uint32_t)c;
}

#else /* !CRC32C_HAVE_HW */

bool crc32c_hw_available(void)
{
	return false;
}

uint32_t crc32c_hw(uint32_t crc, const void *data, size_t len)
{
	return crc32c_sw(crc, data, len);
}

#endif /* CRC32C_HAVE_HW */

uint32_t crc32c(uint32_t crc, const void *data, size_t len)
{
	if (crc32c_hw_available())
		return crc32c_hw(crc, data, len);
	return crc32c_sw(crc, data, len);
}
