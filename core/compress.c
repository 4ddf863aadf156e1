/*
 * compress.c -- zstd compression of clusters; the only file that talks zstd
 * (docs/style.md: ZSTD_isError and zstd's error codes stop here).
 *
 * What: compress_cluster() turns one cluster into one zstd frame, or says
 * -ENOSPC ("store it raw") when the frame would not fit the caller's
 * capacity; decompress_cluster() turns one frame back into exactly the
 * expected number of bytes or fails with -EBADMSG.
 *
 * Frames we write carry the content size (single-shot ZSTD_compress2 always
 * records it) and a content checksum (XXH64, checked by zstd on decode), so
 * a bit flip in a compressed cluster is -EBADMSG, not silently wrong data.
 *
 * Invariants (the input of decompress_cluster is untrusted disk bytes):
 *   1. Never write more than expected_len bytes to `out`: the declared
 *      content size is checked before decoding, and the decoder is handed a
 *      capacity of exactly expected_len, so a frame that lies about its size
 *      stops at the capacity with an error.
 *   2. Succeed only if the input is exactly one complete frame (no trailing
 *      bytes, no second frame) and decoding produced exactly expected_len
 *      bytes.
 *   3. Single-shot decoding writes straight into `out` and allocates no
 *      window buffer, so a frame's declared window size cannot make us
 *      allocate memory.
 *
 * Incompressible data (compress_promising).  zstd gives up on random bytes
 * quickly, yet a whole 64 KiB attempt still costs ~50 us of CPU per
 * cluster, all of it in vain when the cluster is then stored raw; on a
 * guest that writes already-compressed or encrypted data that was most of
 * a compressed disk's write cost.  So a cluster is first judged by a
 * sample: COMPRESS_SAMPLE_SLICES slices of COMPRESS_SAMPLE_SLICE bytes,
 * spread over it and over the phases of a 4 KiB page (not only its first
 * bytes: a cluster may hold random bytes and then zeros, every page may,
 * or it may repeat one block, whose redundancy only shows across the
 * cluster) and compressed together at zstd's level 1.  A
 * sample that saves less than 1/COMPRESS_SAMPLE_MIN_SAVING of its size says
 * "store it raw without trying".  The guess may be wrong both ways; wrong
 * is only ever a cluster stored raw that could have shrunk a little (never
 * wrong bytes), and the full attempt still decides for every cluster the
 * sample lets through.
 * The sample costs 5-10 % of a full try on compressible data (measured:
 * contrib/bench/RESULTS.md), so a compressor samples only while it is
 * `suspicious`: from its creation, and after a full try that did not fit,
 * until a full try fits again.  A compressible stream thus pays nothing,
 * an incompressible one one full try per compressor and then samples.
 *
 * THREAD MODEL: a struct compressor is used by one thread at a time; it owns
 * one ZSTD_CCtx (clusters and samples), one ZSTD_DCtx and a sample buffer.
 * Distinct compressors share nothing.
 */
#include "compress.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>
#include <zstd_errors.h>

/* The sample compress_promising compresses: 8 slices of 512 bytes, one
 * per eighth of the cluster, at 4 phases within a 4 KiB page (see
 * compress_promising). */
#define COMPRESS_SAMPLE_SLICES 8u
#define COMPRESS_SAMPLE_SLICE  512u
#define COMPRESS_SAMPLE_PHASES 4u
#define COMPRESS_SAMPLE_PAGE   4096u
#define COMPRESS_SAMPLE	       (COMPRESS_SAMPLE_SLICES * COMPRESS_SAMPLE_SLICE)
/* A sample must save at least 1/64 (64 of 4 KiB) to be worth a full try;
 * a cluster must save one sector of 512 bytes in 64 KiB (1/128) to be
 * stored compressed, and a small sample compresses a little worse than
 * its cluster (its own Huffman table, no matches from far away). */
#define COMPRESS_SAMPLE_MIN_SAVING 64u
#define COMPRESS_SAMPLE_LEVEL	   1

struct compressor {
	ZSTD_CCtx *cctx; /* owned; level and checksum set at creation */
	ZSTD_DCtx *dctx; /* owned */
	int level;	 /* cctx's, restored after a sample */
	uint8_t sample[COMPRESS_SAMPLE];
	uint8_t sample_out[COMPRESS_SAMPLE]; /* no room: it did not shrink */
	bool suspicious; /* sample first: the last full try did not fit */
};

#define COMPRESS_LEVEL_MIN 1
#define COMPRESS_LEVEL_MAX 19

int compressor_new(int level, struct compressor **out_compressor)
{
	struct compressor *cz;
	int ret;

	*out_compressor = NULL;
	if (level < COMPRESS_LEVEL_MIN || level > COMPRESS_LEVEL_MAX)
		return -EINVAL;

	cz = calloc(1, sizeof(*cz));
	if (cz == NULL)
		return -ENOMEM;
	cz->cctx = ZSTD_createCCtx();
	cz->dctx = ZSTD_createDCtx();
	if (cz->cctx == NULL || cz->dctx == NULL) {
		ret = -ENOMEM;
		goto out_free;
	}
	if (ZSTD_isError(ZSTD_CCtx_setParameter(
		    cz->cctx, ZSTD_c_compressionLevel, level)) ||
	    ZSTD_isError(
		    ZSTD_CCtx_setParameter(cz->cctx, ZSTD_c_checksumFlag, 1)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(cz->cctx,
						ZSTD_c_contentSizeFlag, 1))) {
		ret = -EINVAL;
		goto out_free;
	}
	cz->level = level;
	cz->suspicious = true;
	*out_compressor = cz;
	return 0;

out_free:
	compressor_free(cz);
	return ret;
}

void compressor_free(struct compressor *cz)
{
	if (cz == NULL)
		return;
	ZSTD_freeCCtx(cz->cctx);
	ZSTD_freeDCtx(cz->dctx);
	free(cz);
}

int compress_cluster(struct compressor *cz, void *out, size_t out_capacity,
		     const void *in, size_t in_len, size_t *out_len)
{
	size_t r;

	*out_len = 0;
	r = ZSTD_compress2(cz->cctx, out, out_capacity, in, in_len);
	if (ZSTD_isError(r)) {
		/* A failed ZSTD_compress2 leaves the session mid-frame; reset
		 * it (parameters are kept) so the next call starts clean. */
		ZSTD_CCtx_reset(cz->cctx, ZSTD_reset_session_only);
		switch (ZSTD_getErrorCode(r)) {
		case ZSTD_error_dstSize_tooSmall:
			cz->suspicious = true;
			return -ENOSPC;
		case ZSTD_error_memory_allocation:
			return -ENOMEM;
		default:
			return -EINVAL;
		}
	}
	if (r > out_capacity) /* zstd's contract; cheap to be sure */
		return -ENOSPC;
	cz->suspicious = false;
	*out_len = r;
	return 0;
}

bool compress_promising(struct compressor *cz, const void *in, size_t in_len)
{
	const uint8_t *src = in;
	const size_t step = in_len / COMPRESS_SAMPLE_SLICES;
	size_t phase = COMPRESS_SAMPLE_PAGE / COMPRESS_SAMPLE_PHASES;
	size_t r;

	if (!cz->suspicious || in_len < 2 * COMPRESS_SAMPLE)
		return true; /* the sample would cost half a full try */
	/* Slice i starts at phase (i % 4) of a 4 KiB page of its eighth:
	 * slices at one phase only would misjudge data laid out in pages
	 * (random bytes then zeros in every page: a sample of page starts
	 * sees only the random bytes), and slices i and i + 4 share their
	 * phase modulo every power of two up to half the cluster, so a
	 * repeated block shows as a repeated slice.  Small clusters get
	 * closer phases, so the last slice still ends inside `in`. */
	if (phase >
	    (step - COMPRESS_SAMPLE_SLICE) / (COMPRESS_SAMPLE_PHASES - 1))
		phase = (step - COMPRESS_SAMPLE_SLICE) /
			(COMPRESS_SAMPLE_PHASES - 1);
	for (size_t i = 0; i < COMPRESS_SAMPLE_SLICES; i++)
		memcpy(cz->sample + i * COMPRESS_SAMPLE_SLICE,
		       src + i * step + (i % COMPRESS_SAMPLE_PHASES) * phase,
		       COMPRESS_SAMPLE_SLICE);
	/* room for just under what must be saved: a sample that does not
	 * shrink enough fails with dstSize_tooSmall, which zstd reports
	 * early for incompressible blocks */
	/* the cluster context at the sample's level, then back: a second
	 * context would cost its own workspace per compressor, and the
	 * level-1 tables of a 4 KiB input fit in the cluster's */
	if (ZSTD_isError(ZSTD_CCtx_setParameter(
		    cz->cctx, ZSTD_c_compressionLevel, COMPRESS_SAMPLE_LEVEL)))
		return true;
	r = ZSTD_compress2(cz->cctx, cz->sample_out,
			   COMPRESS_SAMPLE -
				   COMPRESS_SAMPLE / COMPRESS_SAMPLE_MIN_SAVING,
			   cz->sample, COMPRESS_SAMPLE);
	if (ZSTD_isError(r))
		ZSTD_CCtx_reset(cz->cctx, ZSTD_reset_session_only);
	/* between frames: setting the level back cannot fail */
	(void)ZSTD_CCtx_setParameter(cz->cctx, ZSTD_c_compressionLevel,
				     cz->level);
	if (!ZSTD_isError(r))
		return true;
	/* out of memory is no verdict on the data: let the full try decide */
	return ZSTD_getErrorCode(r) != ZSTD_error_dstSize_tooSmall;
}

int decompress_cluster(struct compressor *cz, void *out, size_t expected_len,
		       const void *in, size_t in_len)
{
	unsigned long long content_size;
	size_t frame_len;
	size_t r;

	/* Invariant 2: exactly one frame, nothing after it. */
	frame_len = ZSTD_findFrameCompressedSize(in, in_len);
	if (ZSTD_isError(frame_len) || frame_len != in_len)
		return -EBADMSG;

	/* Invariant 1: the declared size must be the expected size.  Frames
	 * with no declared size (not ours) are still bounded by the capacity
	 * passed below and by the exact-size check after. */
	content_size = ZSTD_getFrameContentSize(in, in_len);
	if (content_size == ZSTD_CONTENTSIZE_ERROR)
		return -EBADMSG;
	if (content_size != ZSTD_CONTENTSIZE_UNKNOWN &&
	    content_size != (unsigned long long)expected_len)
		return -EBADMSG;

	r = ZSTD_decompressDCtx(cz->dctx, out, expected_len, in, in_len);
	if (ZSTD_isError(r)) {
		ZSTD_DCtx_reset(cz->dctx, ZSTD_reset_session_only);
		if (ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation)
			return -ENOMEM;
		return -EBADMSG;
	}
	if (r != expected_len)
		return -EBADMSG;
	return 0;
}
