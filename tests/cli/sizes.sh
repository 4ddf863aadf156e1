#!/bin/bash
# tests/cli/sizes.sh -- sizes as coreutils and qemu-img read them, through
# `hangar create --disk` and `hangar init --cluster-size`: 1.5T, 10GB =
# 10^9 bytes, 10G = 10GiB = 2^30; a size that is not whole 512-byte
# sectors, a fraction that is not whole bytes and an unknown unit are
# refused (exit 2) with the reason and the text as typed.  (The parser's
# full table is tests/common/test_units.c.)
source "$(dirname "$0")/../lib.bash"
cli_setup

h init store
expect_rc 0 "init"

# create_bytes GUEST SIZE BYTES : --disk SIZE makes a disk of BYTES bytes.
create_bytes() {
	h create store "$1" --disk "$2" --bytes
	expect_rc 0 "create --disk $2"
	expect_out "^created guest $1: disk.raw $3\$" "--disk $2 is $3 bytes"
}
create_bytes g1 1.5T 1649267441664
create_bytes g2 10GB 10000000000
create_bytes g3 10G 10737418240
create_bytes g4 10GiB 10737418240
create_bytes g5 4096B 4096
create_bytes g6 2.5M 2621440
create_bytes g7 1k 1024

# refused SIZE REASON : --disk SIZE is a usage error naming SIZE and why.
refused() {
	h create store bad --disk "$1"
	expect_rc 2 "create --disk $1"
	expect_err "bad disk size '$1': $2" "why --disk $1 is refused"
}
refused 1000 "not a multiple of 512 bytes"
refused 1KB "not a multiple of 512 bytes"
refused 1.1K "not a whole number of bytes"
refused 12Q "unknown unit"
refused 1b "unknown unit"
refused -1G "not a size"
refused 20E "too large"
h ls store
expect_rc 0 "ls"
grep -q '^bad ' "$OUT" && fail "a refused size created a guest"

# The cluster size: the refusal quotes what was typed.
h init store2 --cluster-size 3K
expect_rc 2 "cluster size 3K"
expect_err "not '3K'" "the cluster-size refusal quotes what was typed"
h init store2 --cluster-size 0.5K
expect_rc 2 "cluster size 0.5K"
expect_err "not '0.5K'" "the cluster-size refusal quotes what was typed"
h init store2 --cluster-size 4KB
expect_rc 2 "cluster size 4KB (4000 bytes)"
h init store2 --cluster-size 0.125M
expect_rc 0 "cluster size 0.125M (128K)"
expect_out 'cluster size 128K' "0.125M is 128K"

# Descriptors and slots are whole numbers too, read by the same module
# (init's atoi read 'x' as 0, stdin).
h init store3 --encrypt --passphrase-fd x
expect_rc 2 "--passphrase-fd x"
expect_err "bad descriptor 'x': not a whole number" "--passphrase-fd x refusal"
[ ! -e store3 ] || fail "a refused init created the store"
h key remove store --slot -1
expect_rc 2 "--slot -1"
expect_err "bad slot '-1': not a whole number" "--slot -1 refusal"
h key add store --new-passphrase-fd 2147483648
expect_rc 2 "--new-passphrase-fd over INT_MAX"
expect_err "bad descriptor '2147483648': out of range" "--new-passphrase-fd refusal"

echo "PASS"
