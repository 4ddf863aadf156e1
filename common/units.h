/*
 * units.h -- numbers as a person types them on a command line: sizes
 * ("20G", "1.5T", "10GB") and bounded integers ("commit_interval=5").
 * Shared by cli/ (hangar --disk, --cluster-size, --passphrase-fd) and fs/
 * (hangarfs -o commit_interval=, passphrase_fd=), so both programs read a
 * number the same way and refuse a bad one with the same reason.
 *
 * Sizes read as coreutils (truncate -s, dd) and qemu-img read them:
 *   1234, 1234B          bytes
 *   K M G T P E          powers of 1024 (also k, and KiB, MiB, ... GiB)
 *   KB MB GB TB PB EB    powers of 1000 (kB too)
 *   1.5T, 0.5G           a decimal fraction, when the result is a whole
 *                        number of bytes (1.5T is; 1.1K is not)
 * Letters are case-insensitive (10gb, 4k), except that "b" alone is
 * refused: coreutils reads it as 512-byte blocks and qemu-img as bytes,
 * so either reading would surprise someone; "B" alone means bytes.  No
 * sign, no spaces, no hex, no exponent.
 *
 * Integers are plain decimal (no sign, no unit, no leading '+' or spaces:
 * strtoul would read "-1" as 18446744073709551615).
 *
 * Nothing here prints: every function returns 0 or a negative errno and,
 * through `out_why` (may be NULL), a static sentence a program can quote
 * after the value ("bad disk size '1.1K': not a whole number of bytes").
 * No state, no allocation: callable from any thread.
 */
#ifndef HANGAR_COMMON_UNITS_H
#define HANGAR_COMMON_UNITS_H

#include <stdint.h>

/* What a disk size must be a multiple of: a sector. */
#define UNITS_SECTOR_SIZE 512u

/*
 * units_parse_size - `text` as a size in bytes.  -EINVAL for text that is
 * not a size (empty, a bad unit, a fraction that is not whole bytes),
 * -ERANGE for a size over 2^64 - 1 bytes.
 */
int units_parse_size(const char *text, uint64_t *out_bytes,
		     const char **out_why);

/*
 * units_parse_disk_size - units_parse_size, and a whole number of
 * UNITS_SECTOR_SIZE sectors (-EINVAL "not a multiple of 512 bytes ...":
 * a guest sees its disk in sectors, and qemu refuses other sizes).
 */
int units_parse_disk_size(const char *text, uint64_t *out_bytes,
			  const char **out_why);

/*
 * units_parse_uint - `text` as a decimal integer in [min, max].  -EINVAL
 * when it is not one, -ERANGE when it is outside (the sentence then says
 * "out of range"; the caller names the range, it knows its units).
 */
int units_parse_uint(const char *text, uint64_t min, uint64_t max,
		     uint64_t *out_value, const char **out_why);

#endif /* HANGAR_COMMON_UNITS_H */
