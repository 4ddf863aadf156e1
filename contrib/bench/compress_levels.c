/*
 * compress_levels.c -- measure zstd levels on cluster-sized pieces of a file,
 * the way hangar stores compressed clusters (one frame per cluster).
 *
 *   cc -O2 -o compress_levels compress_levels.c -lzstd
 *   ./compress_levels FILE [CLUSTER_SIZE]
 *
 * Prints, per level, MB/s of input compressed and decompressed on one core,
 * and stored/logical size (all-zero clusters count as stored-nothing, as in
 * hangar).  contrib/ may relax the core rules (docs/style.md, "contrib/").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE [CLUSTER_SIZE]\n", argv[0]);
		return 2;
	}
	size_t cs = argc > 2 ? strtoul(argv[2], NULL, 0) : 65536;
	FILE *f = fopen(argv[1], "rb");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	fseek(f, 0, SEEK_END);
	size_t len = (size_t)ftell(f);
	rewind(f);
	len -= len % cs;
	unsigned char *in = malloc(len), *out = malloc(cs), *back = malloc(cs);
	if (!in || !out || !back || fread(in, 1, len, f) != len)
		return 1;
	fclose(f);
	const int levels[] = {-1, 1, 3, 6};
	for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
		ZSTD_CCtx *cc = ZSTD_createCCtx();
		ZSTD_DCtx *dc = ZSTD_createDCtx();
		ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, levels[l]);
		ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
		size_t stored = 0;
		double t0 = now(), tc = 0, td = 0;
		for (size_t off = 0; off < len; off += cs) {
			const unsigned char *p = in + off;
			if (p[0] == 0 && memcmp(p, p + 1, cs - 1) == 0)
				continue;
			double a = now();
			size_t n = ZSTD_compress2(cc, out, cs, p, cs);
			double b = now();
			if (ZSTD_isError(n) || n > cs - 512) {
				stored += cs;
				tc += b - a;
				continue;
			}
			stored += (n + 511) & ~(size_t)511;
			ZSTD_decompressDCtx(dc, back, cs, out, n);
			td += now() - b;
			tc += b - a;
		}
		(void)t0;
		printf("level %2d: compress %7.0f MB/s, decompress %7.0f MB/s "
		       "(of logical bytes), stored/logical %.3f\n",
		       levels[l], (double)len / 1e6 / (tc > 0 ? tc : 1e-9),
		       (double)len / 1e6 / (td > 0 ? td : 1e-9),
		       (double)stored / (double)len);
		ZSTD_freeCCtx(cc);
		ZSTD_freeDCtx(dc);
	}
	return 0;
}
