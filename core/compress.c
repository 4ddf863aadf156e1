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
 * THREAD MODEL: a struct compressor is used by one thread at a time; it owns
 * one ZSTD_CCtx and one ZSTD_DCtx and nothing else.  Distinct compressors
 * share nothing.
 */
#include "compress.h"

#include <errno.h>
#include <stdlib.h>

#include <zstd.h>
#include <zstd_errors.h>

struct compressor {
	ZSTD_CCtx *cctx; /* owned; level and checksum set at creation */
	ZSTD_DCtx *dctx; /* owned */
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
			return -ENOSPC;
		case ZSTD_error_memory_allocation:
			return -ENOMEM;
		default:
			return -EINVAL;
		}
	}
	if (r > out_capacity) /* zstd's contract; cheap to be sure */
		return -ENOSPC;
	*out_len = r;
	return 0;
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
