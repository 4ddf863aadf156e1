/*
 * crc32c_internal.h -- the two CRC-32C implementations behind crc32c(),
 * exposed so tests can check that they agree.  Not part of the public API.
 * Same rules as crc32c.h: stateless, thread-safe, data borrowed.
 */
#ifndef HANGAR_CRC32C_INTERNAL_H
#define HANGAR_CRC32C_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* crc32c_sw - portable slicing-by-8 implementation; same contract as
 * crc32c(). */
uint32_t crc32c_sw(uint32_t crc, const void *data, size_t len);

/* crc32c_hw_available - true if this CPU has SSE4.2 (x86-64 only). */
bool crc32c_hw_available(void);

/* crc32c_hw - SSE4.2 implementation; call only if crc32c_hw_available(). */
uint32_t crc32c_hw(uint32_t crc, const void *data, size_t len);

#endif /* HANGAR_CRC32C_INTERNAL_H */
