# tests/ceph/ceph.bash -- a real single-node Ceph cluster for the multi-host
# tests: sourced (after tests/lib.bash), not run; ctest runs only *.sh.
#
# What it starts, without systemd, from Debian's packages (ceph-mon,
# ceph-mgr, ceph-osd, ceph-mds, ceph-fuse, ceph-common), all on 127.0.0.1
# under CEPH_DIR (inside the test's WORK): one mon, one mgr, one OSD on
# memstore (RAM: no disk to format, nothing left behind), one MDS, pools of
# size 1, cephx on, short timers; then a CephFS.  Each "host" is one
# ceph-fuse client with its own cephx name and its own mount point: two
# hosts are two clients of one cluster on one kernel, which is what the MDS
# sees of two machines (capabilities, locks, sessions, eviction).
#
#   ceph_start            start the cluster and create the CephFS; skips the
#                         test (77) when Ceph cannot start here (not root, a
#                         package missing); fails when it should but did not
#   ceph_mount NAME DIR   mount the CephFS on DIR as client.NAME (one host)
#   ceph_kill NAME        SIGKILL that client's ceph-fuse (a host crash) and
#                         detach its dead mount point
#   ceph_evict NAME       evict client.NAME at the MDS (and so blocklist it)
#   ceph_stop             unmount every client, stop every daemon we started,
#                         by PID; run by the EXIT trap, so also on failure
#   ceph_cmd ARGS...      the `ceph` command as client.admin of this cluster
#   ceph_wait_unlocked P  wait until P (on a hangarfs mount) opens read-write
#   ceph_host_bin NAME    a directory of wrappers (hangarfs, hangar) that run
#                         the programs with host name NAME (their own UTS
#                         namespace) and the per-host lock directory
#                         WORK/run-NAME (HANGAR_LOCK_DIR): two "hosts" on one
#                         machine then differ by name and by /run/hangar
#                         too, as the holder record, the per-host control
#                         socket and the per-host store lock need
#
# Call it after work_setup (or fs_setup): ceph_start replaces the EXIT trap
# with work_cleanup_ceph, which undoes lib.bash's mounts and daemons first
# (they sit on the CephFS), then Ceph, then deletes WORK.  Only the PIDs
# recorded in CEPH_PIDS (daemons) and CEPH_FUSE_PID[NAME] (clients) are ever
# signalled.  Measured on 2 cores shared with other suites (load 5-13): the
# cluster and two clients are up in 6-22 s (every key is made offline, so
# the only `ceph` round trips are the OSD's id, the pools, the file system
# and the waits), about 0.5 GB of RAM (64 MiB of data held), down in about
# 4 s.
#
# Pitfalls met on the way (Ceph 16.2): monmaptool --add with a port other
# than 6789 makes a v2 address, which msgr2-less daemons cannot reach (hence
# --addv with v1:); each daemon's keyring= sits in its own section and the
# clients' in [client] (one in [global] would be every daemon's);
# the OSD's id and key come from `ceph osd new` before --mkfs; the full
# ratios must be ordered and below the failsafe ratio, or health is ERR.

CEPH_HOSTS=${CEPH_HOSTS:-"hosta hostb"} # the client names ceph_mount takes
CEPH_DIR=
CEPH_CONF=
CEPH_PIDS=()
declare -A CEPH_FUSE_PID=()
declare -A CEPH_FUSE_MNT=()

# ceph_cmd ARGS... : the ceph CLI on our cluster, as client.admin.
ceph_cmd() {
	timeout 30 ceph -c "$CEPH_CONF" --connect-timeout 20 "$@"
}

# ceph_daemon NAME ARGS... : start a Ceph daemon in the foreground, in the
# background of this shell (so its PID is ours), output to its own log.
ceph_daemon() {
	local name=$1
	shift
	"$@" -f -c "$CEPH_CONF" >>"$CEPH_DIR/log/$name.out" 2>&1 &
	CEPH_PIDS+=("$!")
}

# ceph_wait SECONDS WHAT CMD... : poll CMD every 0.2 s until it succeeds.
ceph_wait() {
	local seconds=$1 what=$2 deadline=$((SECONDS + $1))
	shift 2
	while ((SECONDS < deadline)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	ceph_show_logs >&2
	fail "ceph: $what not within $seconds s"
}

ceph_show_logs() {
	local f
	for f in "$CEPH_DIR"/log/*; do
		[ -s "$f" ] || continue
		echo "--- $f (last 15 lines):"
		tail -n 15 "$f"
	done
}

ceph_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

ceph_mds_active() {
	ceph_cmd fs dump -f json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if any(i["state"] == "up:active" for f in d["filesystems"]
	for i in f["mdsmap"]["info"].values()) else 1)'
}

ceph_start() {
	local bin fsid port secret uuid id host key
	[ "$(id -u)" -eq 0 ] || skip "Ceph's daemons and ceph-fuse need root"
	[ -c /dev/fuse ] || skip "/dev/fuse is missing"
	for bin in ceph ceph-mon ceph-mgr ceph-osd ceph-mds ceph-fuse \
		ceph-authtool monmaptool uuidgen python3; do
		command -v "$bin" >/dev/null ||
			skip "$bin is missing (apt-get install ceph-mon ceph-mgr ceph-osd ceph-mds ceph-fuse ceph-common)"
	done
	[ -n "${WORK:-}" ] || work_setup
	# The daemons must go after every hangarfs mount on top of the CephFS:
	# ceph_stop runs after lib.bash's cleanup, before WORK is deleted.
	trap 'work_cleanup_ceph' EXIT
	CEPH_DIR=$WORK/ceph
	CEPH_CONF=$CEPH_DIR/ceph.conf
	mkdir -p "$CEPH_DIR"/{log,run,mon/a,mgr/x,osd/0,mds/a,mnt}
	fsid=$(uuidgen)
	port=$(ceph_free_port)
	cat >"$CEPH_CONF" <<EOF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$port
public addr = 127.0.0.1
ms bind msgr2 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
run dir = $CEPH_DIR/run
admin socket = $CEPH_DIR/run/\$name.asok
log file = $CEPH_DIR/log/\$name.log
log to stderr = false
err to stderr = true
pid file =
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
auth allow insecure global id reclaim = false
mon allow pool delete = true
mon data avail warn = 1
mon data avail crit = 0
mon osd full ratio = 0.99
osd failsafe full ratio = 0.995
mon osd backfillfull ratio = 0.98
mon osd nearfull ratio = 0.97
mon tick interval = 1
paxos propose interval = 0.1
mon osd report timeout = 30
osd objectstore = memstore
memstore device bytes = 4294967296
osd op num shards = 1
osd op num threads per shard = 1
mds beacon interval = 1
mgr initial modules =
[mon]
mon data = $CEPH_DIR/mon/a
keyring = $CEPH_DIR/mon/keyring
[mgr]
mgr data = $CEPH_DIR/mgr/x
keyring = $CEPH_DIR/mgr/keyring
[osd]
osd data = $CEPH_DIR/osd/0
keyring = $CEPH_DIR/osd/keyring
[mds]
mds data = $CEPH_DIR/mds/a
keyring = $CEPH_DIR/mds/keyring
[client]
keyring = $CEPH_DIR/client.keyring
client mount timeout = 20
EOF
	# keys: the mon's, the admin's (imported into the mon's keyring)
	ceph-authtool --create-keyring "$CEPH_DIR/mon/keyring" --gen-key \
		-n mon. --cap mon 'allow *' >/dev/null || fail "ceph-authtool mon"
	ceph-authtool --create-keyring "$CEPH_DIR/client.keyring" --gen-key \
		-n client.admin --cap mon 'allow *' --cap osd 'allow *' \
		--cap mds 'allow *' --cap mgr 'allow *' >/dev/null ||
		fail "ceph-authtool admin"
	# Every other key is made here too and imported with the admin's, so
	# the mon knows them from its first start: a `ceph auth` round trip
	# costs about a second each on a busy 2-core machine.
	ceph-authtool --create-keyring "$CEPH_DIR/mgr/keyring" --gen-key \
		-n mgr.x --cap mon 'allow profile mgr' --cap osd 'allow *' \
		--cap mds 'allow *' >/dev/null || fail "ceph-authtool mgr"
	ceph-authtool --create-keyring "$CEPH_DIR/mds/keyring" --gen-key \
		-n mds.a --cap mon 'allow profile mds' --cap osd 'allow rwx' \
		--cap mds 'allow *' --cap mgr 'allow profile mds' >/dev/null ||
		fail "ceph-authtool mds"
	for host in $CEPH_HOSTS; do
		ceph-authtool "$CEPH_DIR/client.keyring" --gen-key \
			-n "client.$host" --cap mon 'allow r' \
			--cap mds 'allow rw' --cap osd 'allow rw' >/dev/null ||
			fail "ceph-authtool client.$host"
	done
	for key in client mgr/keyring mds/keyring; do
		[ "$key" = client ] && key=client.keyring
		ceph-authtool "$CEPH_DIR/mon/keyring" \
			--import-keyring "$CEPH_DIR/$key" >/dev/null ||
			fail "ceph-authtool import $key"
	done
	monmaptool --create --addv a "v1:127.0.0.1:$port" --fsid "$fsid" \
		"$CEPH_DIR/monmap" >/dev/null || fail "monmaptool"
	ceph-mon -c "$CEPH_CONF" --mkfs -i a --monmap "$CEPH_DIR/monmap" \
		--keyring "$CEPH_DIR/mon/keyring" >>"$CEPH_DIR/log/mkfs.out" 2>&1 ||
		fail "ceph-mon --mkfs: $(tail -n 5 "$CEPH_DIR/log/mkfs.out")"
	ceph_daemon mon.a ceph-mon -i a
	ceph_wait 30 "the monitor answering" ceph_cmd mon stat

	ceph_daemon mgr.x ceph-mgr -i x

	# the OSD: its id and key from `ceph osd new`, then --mkfs
	uuid=$(uuidgen)
	secret=$(ceph-authtool --gen-print-key)
	id=$(echo "{\"cephx_secret\": \"$secret\"}" |
		ceph_cmd osd new "$uuid" -i -) || fail "ceph osd new"
	ceph-authtool --create-keyring "$CEPH_DIR/osd/keyring" \
		--name "osd.$id" --add-key "$secret" >/dev/null ||
		fail "osd keyring"
	ceph-osd -c "$CEPH_CONF" -i "$id" --mkfs --osd-uuid "$uuid" \
		>>"$CEPH_DIR/log/mkfs.out" 2>&1 ||
		fail "ceph-osd --mkfs: $(tail -n 5 "$CEPH_DIR/log/mkfs.out")"
	ceph_daemon "osd.$id" ceph-osd -i "$id"

	ceph_daemon mds.a ceph-mds -i a

	ceph_cmd osd pool create cephfs_metadata 8 >/dev/null 2>&1 &&
		ceph_cmd osd pool create cephfs_data 8 >/dev/null 2>&1 ||
		fail "pool create"
	ceph_cmd fs new cephfs cephfs_metadata cephfs_data >/dev/null 2>&1 ||
		fail "ceph fs new"
	ceph_wait 60 "an active MDS" ceph_mds_active
}

# ceph_mount NAME DIR : client.NAME (one of CEPH_HOSTS, whose keys ceph_start
# made: rw on the whole CephFS) mounts the CephFS on DIR with ceph-fuse, in
# the foreground so its PID is ours.
ceph_mount() {
	local name=$1 dir=$2 i
	case " $CEPH_HOSTS " in
	*" $name "*) ;;
	*) fail "ceph_mount: $name is not one of CEPH_HOSTS ($CEPH_HOSTS)" ;;
	esac
	mkdir -p "$dir"
	ceph-fuse -f -c "$CEPH_CONF" --id "$name" "$dir" \
		>>"$CEPH_DIR/log/client.$name.out" 2>&1 &
	CEPH_FUSE_PID[$name]=$!
	CEPH_FUSE_MNT[$name]=$dir
	for ((i = 0; i < 150; i++)); do
		mountpoint -q "$dir" && return 0
		kill -0 "${CEPH_FUSE_PID[$name]}" 2>/dev/null || break
		sleep 0.2
	done
	ceph_show_logs >&2
	fail "ceph-fuse for client.$name did not mount $dir"
}

# ceph_client_id NAME : client.NAME's numeric session id at the MDS.
ceph_client_id() {
	ceph_cmd tell mds.a client ls -f json 2>/dev/null | python3 -c '
import json, sys
for s in json.load(sys.stdin):
    if s.get("client_metadata", {}).get("entity_id") == sys.argv[1]:
        print(s["id"])
        break' "$1"
}

# ceph_kill NAME : a host crash, as far as its Ceph client goes: SIGKILL of
# its ceph-fuse (no session close reaches the MDS), then the dead mount
# point detached so nothing on this machine hangs on it.
ceph_kill() {
	local pid=${CEPH_FUSE_PID[$1]}
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	CEPH_FUSE_PID[$1]=
	timeout 10 fusermount3 -u -z "${CEPH_FUSE_MNT[$1]}" 2>/dev/null ||
		umount -l "${CEPH_FUSE_MNT[$1]}" 2>/dev/null
	return 0
}

# ceph_evict NAME : evict client.NAME's session at the MDS, which also
# blocklists its address at the OSDs (fencing).  The id is looked up while
# the MDS still lists the session.
ceph_evict() {
	local id
	id=$(ceph_client_id "$1")
	[ -n "$id" ] || fail "ceph: no MDS session of client.$1"
	ceph_cmd tell mds.a client evict "id=$id" >/dev/null 2>&1 ||
		fail "ceph: evicting client.$1 (id $id)"
}

# ceph_any_alive PID... : 0 while any of them runs.  A child that exited
# stays a zombie until waited for, and kill -0 succeeds on a zombie: read
# the state from /proc instead.
ceph_any_alive() {
	local pid state
	for pid in "$@"; do
		state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
		[ "${state%% *}" != Z ] && return 0
	done
	return 1
}

# ceph_stop : clients first (a daemon gone under a mounted client would
# hang its unmount), then the daemons.  Only our PIDs.  Safe to call twice.
ceph_stop() {
	local name pid i
	[ -n "$CEPH_DIR" ] || return 0
	for name in "${!CEPH_FUSE_MNT[@]}"; do
		# not `mountpoint`: it stats the directory, and an evicted
		# client's mount answers ESHUTDOWN, a dead one ENOTCONN
		if findmnt -rn --mountpoint "${CEPH_FUSE_MNT[$name]}" \
			>/dev/null 2>&1; then
			timeout 20 fusermount3 -u "${CEPH_FUSE_MNT[$name]}" ||
				timeout 10 fusermount3 -u -z "${CEPH_FUSE_MNT[$name]}" ||
				umount -l "${CEPH_FUSE_MNT[$name]}"
		fi
	done
	for name in "${!CEPH_FUSE_PID[@]}"; do
		pid=${CEPH_FUSE_PID[$name]}
		[ -n "$pid" ] || continue
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		CEPH_FUSE_PID[$name]=
	done
	# Nothing of the cluster outlives the test (memstore keeps its objects
	# in RAM), so there is no state to shut down cleanly: TERM, 2 s for
	# all of them together, then KILL.
	for pid in "${CEPH_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for ((i = 0; i < 20; i++)); do
		ceph_any_alive "${CEPH_PIDS[@]}" || break
		sleep 0.1
	done
	for pid in "${CEPH_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	CEPH_PIDS=()
}

# The EXIT trap once Ceph runs: lib.bash's cleanup undoes every hangarfs
# mount and daemon first (they sit on the CephFS), then Ceph stops, then
# WORK goes (work_cleanup deletes it; with Ceph still mounted it could not).
work_cleanup_ceph() {
	local work=$WORK i
	WORK=$WORK/.keep # work_cleanup's rm -rf: a directory that is not there
	work_cleanup
	# work_cleanup signalled the other hangarfs daemons; until they have
	# closed their containers the CephFS mount is busy.
	for ((i = 0; i < 100; i++)); do
		ceph_any_alive "${OTHER_PIDS[@]}" || break
		sleep 0.1
	done
	ceph_stop
	rm -rf --one-file-system "$work"
}

# ceph_wait_unlocked PATH : wait (up to 10 s) until PATH, a file on a
# mount of a hangarfs, opens read-write: ceph-fuse drops the container lock
# of a `hangar` command that just exited at the MDS a moment later, and
# until then the open is EBUSY.
ceph_wait_unlocked() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(errno_of "os.close(os.open('$1', os.O_RDWR))")" = EBUSY ] ||
			return 0
		sleep 0.1
	done
	fail "$1 stayed EBUSY for 10 s"
}

# ceph_host_bin NAME : print a directory holding `hangarfs` and `hangar`
# wrappers that exec the built programs in a new UTS namespace whose host
# name is NAME (unshare execs without forking: the PID is the program's),
# with HANGAR_LOCK_DIR=WORK/run-NAME: the per-host store lock's directory
# (/run/hangar on a real host), which one machine's "hosts" must not share.
ceph_host_bin() {
	local dir=$WORK/bin-$1 prog real
	if [ ! -d "$dir" ]; then
		mkdir -p "$dir"
		for prog in hangarfs hangar; do
			real=$HANGARFS
			[ "$prog" = hangar ] && real=$HANGAR
			printf '#!/bin/sh\nexport HANGAR_LOCK_DIR=%s\nexec unshare --uts -- /bin/sh -c %s %s %s "$@"\n' \
				"$WORK/run-$1" \
				"'hostname \"\$0\" && exec \"\$@\"'" "$1" "$real" \
				>"$dir/$prog"
			chmod +x "$dir/$prog"
		done
	fi
	echo "$dir"
}

# ceph_two_hosts DISK : after ceph_start, the scene most Ceph tests start
# from: host A's and host B's ceph-fuse mounts at HOST_A and HOST_B (their
# wrapped binaries in BIN_A and BIN_B, ceph_host_bin), a store on CephFS
# with one guest g1 whose disk is DISK (e.g. 64M), and each host's
# hangarfs serving it at $WORK/mnt-a (PID HFS_A, log HFS_LOG) and
# $WORK/mnt-b (PID HFS_B, log $WORK/hangarfs-b.log).
ceph_two_hosts() {
	HOST_A=$WORK/host-a
	HOST_B=$WORK/host-b
	ceph_mount hosta "$HOST_A"
	ceph_mount hostb "$HOST_B"
	BIN_A=$(ceph_host_bin hosta)
	BIN_B=$(ceph_host_bin hostb)
	t "$HANGAR" init "$HOST_A/store" >/dev/null || fail "hangar init on CephFS"
	t "$HANGAR" create "$HOST_A/store" g1 --disk "$1" >/dev/null || fail "create"
	HFS_LOG=$WORK/hangarfs-a.log
	HANGARFS=$BIN_A/hangarfs fs_mount_other "$HOST_A/store" "$WORK/mnt-a" \
		"$HFS_LOG" -o commit_interval=1 || fail "hangarfs on host A"
	HFS_A=$OTHER_PID
	HANGARFS=$BIN_B/hangarfs fs_mount_other "$HOST_B/store" "$WORK/mnt-b" \
		"$WORK/hangarfs-b.log" -o commit_interval=1 || fail "hangarfs on host B"
	HFS_B=$OTHER_PID
}
