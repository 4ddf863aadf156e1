/*
 * fuzz_decompress.c -- libFuzzer target: compressed-cluster decoding.
 *
 * Input: byte 0 chooses the expected (decompressed) size, byte 1 the mode,
 * the rest is the frame.  Sizes 1 << (b0 % 22) (1 B .. 2 MiB, the cluster
 * sizes and more), or b0 * 269 for odd ones.  The output buffer is exactly
 * that size (a heap block, so ASan sees any overflow).
 *   mode even: decompress_cluster(frame) gives 0 with exactly the expected
 *              size written, or -EBADMSG; nothing else.
 *   mode odd:  the payload is compressed with compress_cluster into a buffer
 *              of the expected size (-ENOSPC allowed) and must come back
 *              byte for byte.
 */
#include <stdint.h>

#include "compress.h"
#include "fuzz_common.h"

static struct compressor *cz;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > (1u << 21) + 2)
		return 0;
	if (!cz && compressor_new(1, &cz))
		abort();
	size_t expected = data[0] < 200 ? (size_t)1 << (data[0] % 22)
					: (size_t)data[0] * 269;
	const uint8_t *in = data + 2;
	size_t in_len = size - 2;
	uint8_t *out = malloc(expected);
	if (!out)
		abort();
	if (!(data[1] & 1)) {
		int ret = decompress_cluster(cz, out, expected, in, in_len);
		FUZZ_ASSERT(ret == 0 || ret == -EBADMSG, "decompress: %d", ret);
	} else if (in_len > 0) {
		size_t len = in_len, frame_len = 0;
		uint8_t *frame = malloc(expected);
		if (!frame)
			abort();
		int ret = compress_cluster(cz, frame, expected, in, len,
					   &frame_len);
		FUZZ_ASSERT(ret == 0 || ret == -ENOSPC, "compress: %d", ret);
		if (ret == 0) {
			FUZZ_ASSERT(frame_len <= expected, "frame %zu > %zu",
				    frame_len, expected);
			uint8_t *back = malloc(len);
			if (!back)
				abort();
			ret = decompress_cluster(cz, back, len, frame,
						 frame_len);
			FUZZ_ASSERT(ret == 0 && !memcmp(back, in, len),
				    "round trip failed: %d", ret);
			/* a wrong expected size is refused */
			if (len > 1) {
				ret = decompress_cluster(cz, back, len - 1,
							 frame, frame_len);
				FUZZ_ASSERT(ret == -EBADMSG,
					    "short expected size: %d", ret);
			}
			free(back);
		}
		free(frame);
	}
	free(out);
	return 0;
}
