/*
 * crc32c.h -- CRC-32C (Castagnoli), the checksum of every metadata block.
 *
 * Uses the SSE4.2 crc32 instruction when the CPU has it (asked on each call
 * with __builtin_cpu_supports, which reads what libgcc detected once at
 * start-up) and a table-driven fallback otherwise; both give identical
 * results.
 * Ownership and locking: no state of its own, no allocation, no lock; the
 * data is borrowed for the call.  Thread-safe.
 * crc32c("123456789") == 0xE3069283.
 */
#ifndef HANGAR_CRC32C_H
#define HANGAR_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* crc32c - checksum of `len` bytes, continuing from `crc` (0 to start). */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

#endif /* HANGAR_CRC32C_H */
