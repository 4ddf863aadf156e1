/*
 * compress.h -- zstd compression of clusters (the only file that talks zstd).
 *
 * A compressor holds one zstd compression and one decompression context; it
 * is NOT thread-safe: use one per thread, or guard it (the container keeps a
 * small pool).  Decompression is bounded: a frame whose content would exceed
 * `out_capacity` is an error, never an overflow, so hostile frames cannot
 * make us allocate or write more than one cluster.
 * Errors: -ENOMEM, -EINVAL (bad level), -ENOSPC (output does not fit:
 * compress_cluster uses it to say "store raw"), -EBADMSG (corrupt frame or
 * wrong decompressed size).
 *
 * Ownership: compressor_new() gives the caller a compressor to free with
 * compressor_free(); every buffer passed in stays the caller's.
 * Locking: none inside (see above); the container's pool has its own lock.
 */
#ifndef HANGAR_COMPRESS_H
#define HANGAR_COMPRESS_H

#include <stdbool.h>
#include <stddef.h>

struct compressor;

/* compressor_new - a new compressor at zstd `level` (1..19). */
int compressor_new(int level, struct compressor **out_compressor);

/* compressor_free - accepts NULL. */
void compressor_free(struct compressor *cz);

/*
 * compress_cluster - compress `in_len` bytes into `out` (capacity
 * `out_capacity`), setting *out_len.  -ENOSPC if the result would not fit.
 */
int compress_cluster(struct compressor *cz, void *out, size_t out_capacity,
		     const void *in, size_t in_len, size_t *out_len);

/*
 * compress_promising - a quick guess, from a sample of about 4 KiB spread
 * over `in`, whether compress_cluster could shrink it: false means "store
 * it raw without trying" (compress.c, "Incompressible data").  Costs a
 * small fraction of a full try, and nothing (always true) while this
 * compressor's last compress_cluster fitted; always true for inputs under
 * 8 KiB.
 */
bool compress_promising(struct compressor *cz, const void *in, size_t in_len);

/*
 * decompress_cluster - decompress one frame of `in_len` bytes; it must
 * produce exactly `expected_len` bytes into `out` (-EBADMSG otherwise).
 */
int decompress_cluster(struct compressor *cz, void *out, size_t expected_len,
		       const void *in, size_t in_len);

#endif /* HANGAR_COMPRESS_H */
