/*
 * test_units.c -- common/units.c: sizes as coreutils and qemu-img read
 * them (binary K/M/G/T/P/E and KiB..., decimal KB/MB/GB..., exact
 * fractions such as 1.5T), disk sizes in whole 512-byte sectors, and
 * bounded decimal integers, each as a table of text -> result.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "units.h"

#define KIB 1024ull
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)
#define TIB (GIB * 1024)
#define PIB (TIB * 1024)
#define EIB (PIB * 1024)

struct size_case {
	const char *text;
	int ret;	 /* 0, -EINVAL or -ERANGE */
	uint64_t bytes;	 /* when ret == 0 */
	const char *why; /* a word of the reason, when ret != 0 */
};

static const struct size_case sizes[] = {
	{"0", 0, 0, NULL},
	{"4096", 0, 4096, NULL},
	{"4096B", 0, 4096, NULL},
	{"1K", 0, KIB, NULL},
	{"1k", 0, KIB, NULL},
	{"1KiB", 0, KIB, NULL},
	{"1kib", 0, KIB, NULL},
	{"1KB", 0, 1000, NULL},
	{"1kB", 0, 1000, NULL},
	{"512M", 0, 512 * MIB, NULL},
	{"10G", 0, 10 * GIB, NULL},
	{"10GiB", 0, 10 * GIB, NULL},
	{"10GB", 0, 10000000000ull, NULL},
	{"10gb", 0, 10000000000ull, NULL},
	{"1T", 0, TIB, NULL},
	{"1.5T", 0, 3 * TIB / 2, NULL},
	{"1.5TB", 0, 1500000000000ull, NULL},
	{"0.5G", 0, GIB / 2, NULL},
	{"2.25M", 0, 9 * MIB / 4, NULL},
	{"1.50000000000000000000000G", 0, 3 * GIB / 2, NULL},
	{"2.0", 0, 2, NULL},
	{"1P", 0, PIB, NULL},
	{"15E", 0, 15 * EIB, NULL},
	{"18446744073709551615", 0, UINT64_MAX, NULL},
	{"18446744073709551615B", 0, UINT64_MAX, NULL},
	{"16E", -ERANGE, 0, "too large"},
	{"18446744073709551616", -ERANGE, 0, "too large"},
	{"99999999999999999999999", -ERANGE, 0, "too large"},
	{"18EB", 0, 18000000000000000000ull, NULL},
	{"19EB", -ERANGE, 0, "too large"},
	{"1.1K", -EINVAL, 0, "whole number of bytes"},
	{"1.5", -EINVAL, 0, "whole number of bytes"},
	{"", -EINVAL, 0, "not a size"},
	{"G", -EINVAL, 0, "not a size"},
	{".5G", -EINVAL, 0, "not a size"},
	{"-1", -EINVAL, 0, "not a size"},
	{"+1G", -EINVAL, 0, "not a size"},
	{" 1G", -EINVAL, 0, "not a size"},
	{"1.G", -EINVAL, 0, "decimal point"},
	{"1 G", -EINVAL, 0, "unknown unit"},
	{"1G ", -EINVAL, 0, "unknown unit"},
	{"1b", -EINVAL, 0, "unknown unit"},
	{"1X", -EINVAL, 0, "unknown unit"},
	{"1GG", -EINVAL, 0, "unknown unit"},
	{"1GiBB", -EINVAL, 0, "unknown unit"},
	{"1iB", -EINVAL, 0, "unknown unit"},
	{"0x10", -EINVAL, 0, "unknown unit"},
	{"1e9", -EINVAL, 0, "unknown unit"},
};

struct disk_case {
	const char *text;
	int ret;
	uint64_t bytes;
};

static const struct disk_case disks[] = {
	{"0", 0, 0},
	{"512", 0, 512},
	{"1.5T", 0, 3 * TIB / 2},
	{"10GB", 0, 10000000000ull},
	{"1000", -EINVAL, 0},
	{"1KB", -EINVAL, 0},
	{"513", -EINVAL, 0},
	{"1.1K", -EINVAL, 0},
};

struct uint_case {
	const char *text;
	uint64_t min, max;
	int ret;
	uint64_t value;
};

static const struct uint_case uints[] = {
	{"0", 0, 86400, 0, 0},
	{"5", 0, 86400, 0, 5},
	{"86400", 0, 86400, 0, 86400},
	{"86401", 0, 86400, -ERANGE, 0},
	{"4294967295", 0, 86400, -ERANGE, 0},
	{"18446744073709551616", 0, UINT64_MAX, -ERANGE, 0},
	{"18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX},
	{"0", 1, 10, -ERANGE, 0},
	{"-1", 0, 86400, -EINVAL, 0},
	{"+1", 0, 86400, -EINVAL, 0},
	{" 1", 0, 86400, -EINVAL, 0},
	{"1s", 0, 86400, -EINVAL, 0},
	{"0x10", 0, 86400, -EINVAL, 0},
	{"", 0, 86400, -EINVAL, 0},
};

int main(void)
{
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		const struct size_case *t = &sizes[i];
		uint64_t bytes = 12345;
		const char *why = NULL;
		int ret = units_parse_size(t->text, &bytes, &why);

		if (ret != t->ret || (ret == 0 && bytes != t->bytes)) {
			fprintf(stderr,
				"units_parse_size(\"%s\"): %d %llu (%s), "
				"want %d %llu\n",
				t->text, ret, (unsigned long long)bytes,
				why ? why : "-", t->ret,
				(unsigned long long)t->bytes);
			return 1;
		}
		if (ret == 0) {
			CHECK(why == NULL);
		} else {
			CHECK(why != NULL);
			CHECK_EQ(bytes, 12345); /* untouched on error */
			if (!strstr(why, t->why)) {
				fprintf(stderr,
					"units_parse_size(\"%s\"): reason "
					"'%s' lacks '%s'\n",
					t->text, why, t->why);
				return 1;
			}
		}
	}
	CHECK_EQ(units_parse_size(NULL, &(uint64_t){0}, NULL), -EINVAL);

	for (size_t i = 0; i < sizeof(disks) / sizeof(disks[0]); i++) {
		const struct disk_case *t = &disks[i];
		uint64_t bytes = 0;
		const char *why = NULL;
		int ret = units_parse_disk_size(t->text, &bytes, &why);

		if (ret != t->ret || (ret == 0 && bytes != t->bytes)) {
			fprintf(stderr,
				"units_parse_disk_size(\"%s\"): %d %llu, "
				"want %d %llu\n",
				t->text, ret, (unsigned long long)bytes, t->ret,
				(unsigned long long)t->bytes);
			return 1;
		}
	}
	{
		const char *why = NULL;
		uint64_t bytes;

		CHECK_EQ(units_parse_disk_size("1000", &bytes, &why), -EINVAL);
		CHECK(why && strstr(why, "multiple of 512"));
	}

	for (size_t i = 0; i < sizeof(uints) / sizeof(uints[0]); i++) {
		const struct uint_case *t = &uints[i];
		uint64_t value = 777;
		const char *why = NULL;
		int ret =
			units_parse_uint(t->text, t->min, t->max, &value, &why);

		if (ret != t->ret || (ret == 0 && value != t->value) ||
		    (ret != 0 && (value != 777 || !why))) {
			fprintf(stderr,
				"units_parse_uint(\"%s\", %llu, %llu): %d "
				"%llu, want %d %llu\n",
				t->text, (unsigned long long)t->min,
				(unsigned long long)t->max, ret,
				(unsigned long long)value, t->ret,
				(unsigned long long)t->value);
			return 1;
		}
	}
	printf("PASS\n");
	return 0;
}
