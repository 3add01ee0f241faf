#!/usr/bin/env bash
# The heterogeneous cluster test bed: the board cluster
# emulated on one machine, for tests (tests/common/bed.rs) and benchmarks.
# See doc/cluster-bed.md.
#
#   bed.sh up                 make a bed, print its id (export it as BED)
#   bed.sh run ROLE CMD...    run CMD on ROLE's host (network, /etc/hosts,
#                             CPU set, quota and memory limit of the role)
#   bed.sh cpu ROLE           CPU nanoseconds ROLE's processes used so far
#   bed.sh describe           each role's address and limits, read back
#   bed.sh path ROLE CTRL     ROLE's cgroup directory for cpu, cpuset,
#                             cpuacct or memory
#   bed.sh ns ROLE | addr ROLE
#   bed.sh down               remove the bed $BED: processes, namespaces,
#                             links, cgroups
#
# Roles: board (the client board), x86 (the x86 helper), board2 and board3
# (helper boards), x86client (the x86 as the client, second scenario).
# Every role is a network namespace with one veth to a bridge in a switch
# namespace, on 198.18.0.0/24 (RFC 2544's benchmarking range); nothing is
# added to the root namespace. Each role's processes run in a cgroup of
# their own in every controller used.
#
# Parameters (environment of `up`), per role R in BOARD X86 BOARD2 BOARD3
# X86CLIENT, or BED_BOARDS_* for the three boards at once:
#   BED_R_CPUS    CPU list (cpuset)            boards 0, x86 roles 1
#   BED_R_QUOTA   % of one CPU, or max         boards 25, x86 roles max
#   BED_R_MEM     memory limit, or max         boards 1G, x86 roles max
#   BED_R_RATE    link rate (tc tbf), or max   boards 100mbit, x86 roles 1gbit
#   BED_R_WEIGHT  CPU weight, in multiples of an ordinary process's: 100,
#                 so the machine's other work does not take a role's CPU
# BED_OWNER: the pid whose bed this is (default: the caller). `up` removes
# beds whose owner is gone. BED_CGROUP_ROOT: where the cgroup controllers
# are mounted (default /sys/fs/cgroup).
set -euo pipefail

ROLES=(board x86 board2 board3 x86client)
PREFIX=tdbed
CG=${BED_CGROUP_ROOT:-/sys/fs/cgroup}
V1_CTRLS=(cpu cpuset cpuacct memory)

die() {
  echo "bed: $*" >&2
  exit 1
}

addr_of() {
  case $1 in
    x86) echo 198.18.0.1 ;;
    x86client) echo 198.18.0.2 ;;
    board) echo 198.18.0.80 ;;
    board2) echo 198.18.0.81 ;;
    board3) echo 198.18.0.82 ;;
    *) die "no role '$1' (roles: ${ROLES[*]})" ;;
  esac
}

is_board() { [[ $1 == board* ]]; }

# param ROLE KEY: BED_ROLE_KEY, else BED_BOARDS_KEY for a board, else the default.
param() {
  local role=$1 key=$2 v
  v="BED_${role^^}_$key"
  if [ -n "${!v:-}" ]; then echo "${!v}"; return; fi
  if is_board "$role"; then
    v="BED_BOARDS_$key"
    if [ -n "${!v:-}" ]; then echo "${!v}"; return; fi
  fi
  case $key:$(is_board "$role" && echo board || echo x86) in
    CPUS:board) echo 0 ;;
    CPUS:x86) echo 1 ;;
    QUOTA:board) echo 25 ;;
    QUOTA:x86) echo max ;;
    MEM:board) echo 1G ;;
    MEM:x86) echo max ;;
    RATE:board) echo 100mbit ;;
    RATE:x86) echo 1gbit ;;
    WEIGHT:*) echo 100 ;;
  esac
}

# Which cgroup interface this machine has: v1 (one mount per controller)
# or v2 (one unified hierarchy with the controllers in it). Dies naming
# each missing controller and the places looked at.
cgroup_mode() {
  local c file missing=() v2=
  for c in "${V1_CTRLS[@]}"; do
    case $c in
      cpu) file=cpu.cfs_quota_us ;;
      cpuset) file=cpuset.cpus ;;
      cpuacct) file=cpuacct.usage ;;
      memory) file=memory.limit_in_bytes ;;
    esac
    [ -e "$CG/$c/$file" ] || missing+=("$c:$file")
  done
  if [ ${#missing[@]} -eq 0 ]; then echo v1; return; fi
  local v2missing=()
  if [ -r "$CG/cgroup.controllers" ]; then
    v2=$(cat "$CG/cgroup.controllers")
    for c in cpu cpuset memory; do
      [[ " $v2 " == *" $c "* ]] || v2missing+=("$c")
    done
    if [ ${#v2missing[@]} -eq 0 ]; then echo v2; return; fi
  fi
  local m
  for m in "${missing[@]}"; do
    echo "bed: no cgroup controller '${m%%:*}': no cgroup v1 mount at $CG/${m%%:*} (no ${m#*:})" >&2
  done
  if [ -r "$CG/cgroup.controllers" ]; then
    echo "bed: and cgroup v2 at $CG lacks ${v2missing[*]} (its cgroup.controllers: '$v2')" >&2
  else
    echo "bed: and no cgroup v2 hierarchy at $CG (no cgroup.controllers)" >&2
  fi
  exit 1
}

# The directory of group NAME in controller CTRL.
group_dir() {
  local ctrl=$1 name=$2
  case $MODE in
    v1) echo "$CG/$ctrl/$name" ;;
    v2) echo "$CG/$name" ;;
  esac
}

# Every directory of group NAME, once each (v2 and co-mounted v1
# controllers share one).
group_dirs() {
  local c d seen=" "
  for c in "${V1_CTRLS[@]}"; do
    d=$(group_dir "$c" "$1")
    if [ -d "$CG/$c" ] || [ "$MODE" = v2 ]; then
      d=$(realpath -m "$d")
      [[ $seen == *" $d "* ]] && continue
      seen+="$d "
      echo "$d"
    fi
  done
}

need_tools() {
  local t
  for t in ip tc realpath; do
    command -v "$t" >/dev/null || die "required tool '$t' is missing (Debian: iproute2, coreutils)"
  done
}

need_root() {
  [ "$(id -u)" = 0 ] || die "needs root (network namespaces, cgroups, tc)"
}

need_bed() {
  [ -n "${BED:-}" ] || die "no bed: set BED to the id 'bed.sh up' printed"
  [[ $BED =~ ^[0-9]+-[0-9]+$ ]] || die "BED='$BED' is not a bed id (PID-N)"
}

ns_of() { echo "$PREFIX-$1-$2"; }

# bits per second of a tc rate such as 100mbit, 1gbit, 512kbit, 1000000bit.
rate_bits() {
  local r=${1,,} n unit
  [[ $r =~ ^([1-9][0-9]*)(bit|kbit|mbit|gbit)?$ ]] || die "RATE '$1': NNNkbit, NNNmbit, NNNgbit or max"
  n=${BASH_REMATCH[1]}
  unit=${BASH_REMATCH[2]:-bit}
  case $unit in
    bit) echo "$n" ;;
    kbit) echo $((n * 1000)) ;;
    mbit) echo $((n * 1000000)) ;;
    gbit) echo $((n * 1000000000)) ;;
  esac
}

# shape NS DEV RATE: tbf on DEV's egress. The burst is 4 ms at that rate
# and at least 64 KiB: tbf drops any packet bigger than its burst, so the
# burst stays above the veth's MTU (1500) and a GSO packet's size.
shape() {
  local ns=$1 dev=$2 rate=$3 bits burst
  [ "$rate" = max ] && return 0
  bits=$(rate_bits "$rate")
  burst=$((bits / 8 / 250))
  [ "$burst" -ge 65536 ] || burst=65536
  tc -n "$ns" qdisc add dev "$dev" root tbf rate "$bits"bit burst "$burst" latency 50ms \
    || die "tc tbf on $dev in $ns failed (is the sch_tbf module available?)"
}

# write FILE VALUE, saying which file refused which value.
put() {
  printf '%s\n' "$2" > "$1" 2>/dev/null || die "cannot write '$2' to $1"
}

# Every role's parameters are well-formed (before anything is made).
check_params() {
  local r v
  for r in "${ROLES[@]}"; do
    v=$(param "$r" CPUS)
    [[ $v =~ ^[0-9]+([-,][0-9]+)*$ ]] || die "CPUS '$v' for $r: a CPU list such as 0 or 0-1"
    v=$(param "$r" QUOTA)
    [[ $v == max || $v =~ ^[1-9][0-9]*$ ]] || die "QUOTA '$v' for $r: a percentage of one CPU, or max"
    v=$(param "$r" MEM)
    [[ $v == max || $v =~ ^[1-9][0-9]*[KMG]?$ ]] || die "MEM '$v' for $r: bytes with K, M or G, or max"
    v=$(param "$r" WEIGHT)
    [[ $v =~ ^[1-9][0-9]*$ ]] || die "WEIGHT '$v' for $r: a positive number"
    v=$(param "$r" RATE)
    [ "$v" = max ] || rate_bits "$v" >/dev/null
  done
}

# The cgroups of one role, with its limits.
make_groups() {
  local role=$1 name=$2 cpus quota mem weight d
  cpus=$(param "$role" CPUS)
  quota=$(param "$role" QUOTA)
  mem=$(param "$role" MEM)
  weight=$(param "$role" WEIGHT)
  case $MODE in
    v1)
      for d in $(group_dirs "$name"); do mkdir -p "$d"; done
      d=$(group_dir cpuset "$name")
      put "$d/cpuset.mems" "$(cat "$CG/cpuset/cpuset.mems")"
      put "$d/cpuset.cpus" "$cpus"
      d=$(group_dir cpu "$name")
      put "$d/cpu.cfs_period_us" 100000
      if [ "$quota" = max ]; then put "$d/cpu.cfs_quota_us" -1; else put "$d/cpu.cfs_quota_us" $((quota * 1000)); fi
      put "$d/cpu.shares" $((weight * 1024 > 262144 ? 262144 : weight * 1024))
      d=$(group_dir memory "$name")
      if [ "$mem" != max ]; then
        put "$d/memory.limit_in_bytes" "$mem"
        # No swap beyond the limit either: a board has 1 GB, full stop.
        [ ! -e "$d/memory.memsw.limit_in_bytes" ] || put "$d/memory.memsw.limit_in_bytes" "$mem"
      fi
      ;;
    v2)
      put "$CG/cgroup.subtree_control" "+cpu +cpuset +memory"
      d=$(group_dir cpu "$name")
      mkdir -p "$d"
      put "$d/cpuset.cpus" "$cpus"
      if [ "$quota" = max ]; then put "$d/cpu.max" "max 100000"; else put "$d/cpu.max" "$((quota * 1000)) 100000"; fi
      put "$d/cpu.weight" $((weight * 100 > 10000 ? 10000 : weight * 100))
      if [ "$mem" != max ]; then
        put "$d/memory.max" "$mem"
        [ ! -e "$d/memory.swap.max" ] || put "$d/memory.swap.max" 0
      fi
      ;;
  esac
}

etc_hosts() {
  local r
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n'
  for r in "${ROLES[@]}"; do printf '%s\t%s\n' "$(addr_of "$r")" "$r"; done
}

# Every bed id present on the machine, from namespaces, /etc/netns and cgroups.
all_beds() {
  local f
  {
    for f in /run/netns/$PREFIX-* /etc/netns/$PREFIX-* "$CG"/*/$PREFIX-* "$CG"/$PREFIX-*; do
      [ -e "$f" ] || continue
      f=${f##*/}
      [[ $f =~ ^$PREFIX-([0-9]+-[0-9]+)- ]] && echo "${BASH_REMATCH[1]}"
    done
  } | sort -u
}

# kill_all PIDS...: SIGKILL, never this script itself.
kill_all() {
  local p
  for p in "$@"; do
    [ "$p" = $$ ] || kill -9 "$p" 2>/dev/null || true
  done
}

# remove ID: kill what runs there, delete its namespaces (their veths and
# qdiscs go with them), /etc/netns entries and cgroups. Says what is left.
remove() {
  local id=$1 r ns d pids i left=()
  local names=()
  for r in sw "${ROLES[@]}"; do names+=("$(ns_of "$id" "$r")"); done
  for i in $(seq 100); do
    pids=()
    for ns in "${names[@]}"; do
      [ -e "/run/netns/$ns" ] && pids+=($(ip netns pids "$ns" 2>/dev/null || true))
      for d in $(group_dirs "$ns"); do
        [ -r "$d/cgroup.procs" ] && pids+=($(cat "$d/cgroup.procs" 2>/dev/null || true))
      done
    done
    [ ${#pids[@]} -eq 0 ] && break
    kill_all "${pids[@]}"
    sleep 0.1
  done
  for ns in "${names[@]}"; do
    [ -e "/run/netns/$ns" ] && ip netns del "$ns" 2>/dev/null
    rm -rf "/etc/netns/$ns"
    for d in $(group_dirs "$ns"); do
      # A killed process leaves its group a moment after it died.
      for i in $(seq 50); do
        [ -d "$d" ] || break
        rmdir "$d" 2>/dev/null && break
        sleep 0.1
      done
    done
  done
  for ns in "${names[@]}"; do
    [ -e "/run/netns/$ns" ] && left+=("namespace $ns")
    [ -e "/etc/netns/$ns" ] && left+=("/etc/netns/$ns")
    for d in $(group_dirs "$ns"); do [ -d "$d" ] && left+=("cgroup $d"); done
  done
  [ ${#left[@]} -eq 0 ] || die "bed $id not fully removed: ${left[*]}"
}

cmd_up() {
  MODE=$(cgroup_mode)
  need_tools
  need_root
  check_params
  local owner=${BED_OWNER:-$PPID} old n r ns sw addr err
  [[ $owner =~ ^[0-9]+$ ]] || die "BED_OWNER='$owner' is not a pid"
  for old in $(all_beds); do
    # A subshell: what cannot be removed is said, and `up` goes on.
    [ -e "/proc/${old%%-*}" ] || (remove "$old") || true
  done
  # Claim an id: creating the switch namespace fails if it exists (a
  # parallel `up` of the same owner may take it first).
  NEW_ID=
  for n in $(seq 0 999); do
    sw=$(ns_of "$owner-$n" sw)
    [ -e "/run/netns/$sw" ] && continue
    if err=$(ip netns add "$sw" 2>&1); then
      NEW_ID=$owner-$n
      break
    fi
    [ -e "/run/netns/$sw" ] || die "ip netns add $sw: $err"
  done
  [ -n "$NEW_ID" ] || die "no free bed id for owner $owner"
  # A failure from here on removes what was made.
  trap 'rc=$?; trap - EXIT; if [ $rc -ne 0 ]; then (remove "$NEW_ID") || true; fi; exit $rc' EXIT
  ip -n "$sw" link set lo up
  ip -n "$sw" link add br0 type bridge
  ip -n "$sw" link set br0 up
  for r in "${ROLES[@]}"; do
    ns=$(ns_of "$NEW_ID" "$r")
    addr=$(addr_of "$r")
    ip netns add "$ns"
    ip -n "$sw" link add "p-$r" type veth peer name eth0 netns "$ns"
    ip -n "$sw" link set "p-$r" master br0
    ip -n "$sw" link set "p-$r" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$addr/24" dev eth0
    ip -n "$ns" link set eth0 up
    # Both directions: what the host sends (its eth0) and what it
    # receives (the switch's port towards it).
    shape "$ns" eth0 "$(param "$r" RATE)"
    shape "$sw" "p-$r" "$(param "$r" RATE)"
    mkdir -p "/etc/netns/$ns"
    etc_hosts > "/etc/netns/$ns/hosts"
    make_groups "$r" "$ns"
  done
  echo "$NEW_ID"
}

cmd_run() {
  [ $# -ge 2 ] || die "usage: bed.sh run ROLE CMD..."
  need_bed
  MODE=$(cgroup_mode)
  local role=$1 ns d
  shift
  addr_of "$role" >/dev/null
  ns=$(ns_of "$BED" "$role")
  [ -e "/run/netns/$ns" ] || die "bed $BED has no $role (namespace $ns)"
  # Join the role's groups here, outside the namespace: `ip netns exec`
  # remounts /sys, hiding /sys/fs/cgroup. The groups stick across exec.
  for d in $(group_dirs "$ns"); do put "$d/cgroup.procs" $$; done
  # ip netns exec execs CMD in place (same pid) with /etc/netns/NS/hosts
  # as /etc/hosts. In its private mount namespace, mount the controllers
  # again where programs look for them, as on a real host: a daemon's
  # memory admission reads its cgroup's limit, a client's local-slot
  # choice its CPU quota, CPU set and usage.
  local remount
  if [ "$MODE" = v1 ]; then
    remount='mount -t tmpfs -o mode=755 bed-cgroup /sys/fs/cgroup && for c in memory cpu cpuacct cpuset; do mkdir /sys/fs/cgroup/$c && mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c; done'
  else
    remount='mount -t cgroup2 cgroup2 /sys/fs/cgroup'
  fi
  exec ip netns exec "$ns" sh -c "{ $remount; } 2>/dev/null; exec \"\$@\"" sh "$@"
}

cmd_cpu() {
  [ $# -eq 1 ] || die "usage: bed.sh cpu ROLE"
  need_bed
  MODE=$(cgroup_mode)
  addr_of "$1" >/dev/null
  local name d
  name=$(ns_of "$BED" "$1")
  d=$(group_dir cpuacct "$name")
  [ -d "$d" ] || die "bed $BED has no $1 (no $d)"
  case $MODE in
    v1) cat "$d/cpuacct.usage" ;;
    v2) echo $(($(sed -n 's/^usage_usec //p' "$d/cpu.stat") * 1000)) ;;
  esac
}

cmd_describe() {
  need_bed
  MODE=$(cgroup_mode)
  local r name ns d q m l
  for r in "${ROLES[@]}"; do
    name=$(ns_of "$BED" "$r")
    case $MODE in
      v1)
        q=$(cat "$(group_dir cpu "$name")/cpu.cfs_quota_us")
        [ "$q" = -1 ] && q=max || q="$((q / 1000))%"
        m=$(cat "$(group_dir memory "$name")/memory.limit_in_bytes")
        # v1 reads "no limit" as the largest page-aligned number.
        [ ${#m} -lt 19 ] || m=max
        printf '%s %s cpus=%s quota=%s mem=%s' "$r" "$(addr_of "$r")" \
          "$(cat "$(group_dir cpuset "$name")/cpuset.cpus")" "$q" "$m"
        ;;
      v2)
        d=$(group_dir cpu "$name")
        printf '%s %s cpus=%s cpu.max=%s mem=%s' "$r" "$(addr_of "$r")" \
          "$(cat "$d/cpuset.cpus")" "$(cat "$d/cpu.max" | tr ' ' /)" "$(cat "$d/memory.max")"
        ;;
    esac
    ns=$(ns_of "$BED" "$r")
    l=$(tc -n "$ns" qdisc show dev eth0 | sed -n 's/.* rate \([^ ]*\).*/\1/p')
    printf ' link=%s\n' "${l:-max}"
  done
}

cmd_path() {
  [ $# -eq 2 ] || die "usage: bed.sh path ROLE cpu|cpuset|cpuacct|memory"
  need_bed
  MODE=$(cgroup_mode)
  addr_of "$1" >/dev/null
  [[ " ${V1_CTRLS[*]} " == *" $2 "* ]] || die "no controller '$2' (${V1_CTRLS[*]})"
  group_dir "$2" "$(ns_of "$BED" "$1")"
}

cmd_down() {
  need_bed
  MODE=$(cgroup_mode)
  need_root
  remove "$BED"
}

[ $# -ge 1 ] || die "usage: bed.sh up|run ROLE CMD...|cpu ROLE|describe|path ROLE CTRL|ns ROLE|addr ROLE|down"
cmd=$1
shift
case $cmd in
  up) cmd_up "$@" ;;
  run) cmd_run "$@" ;;
  cpu) cmd_cpu "$@" ;;
  describe) cmd_describe ;;
  path) cmd_path "$@" ;;
  ns) need_bed; addr_of "$1" >/dev/null; ns_of "$BED" "$1" ;;
  addr) addr_of "$1" ;;
  down) cmd_down ;;
  *) die "unknown command '$cmd'" ;;
esac
