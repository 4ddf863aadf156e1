#!/bin/bash
# tests/fs/fio.sh -- fio with verify=crc32c on a disk: psync and libaio,
# buffered and O_DIRECT, 4 jobs each, then a remount and a verify-only pass
# (every completed, fsync'd write must read back).  HANGAR_FIO_SIZE sets the
# disk size (default 1G, a real VM disk's size; about 90 s here).
. "$(dirname "$0")/../lib.bash"
fs_setup fio

SIZE=${HANGAR_FIO_SIZE:-1G}
cd "$WORK" || fail "cd"  # fio leaves its files in the current directory
fs_mount
mkdir "$MNT/web01" || fail "mkdir"
D=$MNT/web01/disk.raw
t truncate -s "$SIZE" "$D" || fail "truncate"

run_fio() { # NAME ENGINE DIRECT
	log "fio $1: ioengine=$2 direct=$3 numjobs=4 verify=crc32c"
	t fio --name="$1" --filename="$D" --ioengine="$2" \
		--direct="$3" --iodepth=8 --numjobs=4 --offset_increment=25% \
		--size=25% --rw=randwrite --bsrange=4k-64k --verify=crc32c \
		--verify_fatal=1 --do_verify=1 --fsync_on_close=1 --verify_state_save=0 \
		--group_reporting --output="$WORK/$1.out" ||
		{ cat "$WORK/$1.out"; fail "fio $1"; }
}
run_fio psync-buffered psync 0
run_fio psync-direct psync 1
run_fio libaio-direct libaio 1
run_fio libaio-buffered libaio 0

log "the last job's data verifies after a remount"
fs_remount
t fio --name=verify --filename="$D" --size=25% --offset_increment=25% \
	--numjobs=4 --ioengine=psync --direct=1 --rw=randwrite \
	--bsrange=4k-64k --verify=crc32c --verify_only=1 --verify_fatal=1 --verify_state_save=0 \
	--group_reporting --output="$WORK/verify.out" ||
	{ cat "$WORK/verify.out"; fail "verify after remount"; }
fs_umount
t "$HANGAR" check "$STORE" >/dev/null || fail "check"
echo PASS
