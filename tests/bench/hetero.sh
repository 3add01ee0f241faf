#!/usr/bin/env bash
# The heterogeneous cluster benchmark (doc/benchmarks.md, "The board
# cluster"): real builds on the emulated board cluster of tests/bed/bed.sh
# (doc/cluster-bed.md), stock distcc 3.4 and tinydcc side by side.
#   A. the board drives the build, hosts `localhost/2 x86/4 board2/2 board3/2`
#      (the reference list's order): the board alone (make -j2); stock
#      distcc with stock distccd; stock distcc-pump (when Debian's include
#      server works); stock distcc with tinydcc daemons; tinydcc plain;
#      tinydcc pump; tinydcc pump taking localhost slots in list order
#      (TINYDCC_LOCAL=always, distcc's way); tinydcc pump with its own host choice
#      (TINYDCC_CHOOSE=measured, when the binary knows it). Distributed
#      rows run make -j20, the user's own setting for this list.
#   B. the x86 drives, the boards help, `localhost/2 board/2 board2/2
#      board3/2`: the x86 alone (make -j2 on its core); stock distcc; tinydcc
#      plain; tinydcc pump.
# Workloads (built for ARM with arm-linux-gnueabihf-gcc, the boards' gcc):
#   kernel  Linux 6.1 tinyconfig ARCH=arm, the directories kernel/ mm/ lib/
#           (HETERO_KERNEL_DIRS), from linux-source-6.1
#   sed     GNU sed 4.9 from Debian's source package (apt-get source; a
#           deb-src line for the configured mirror is added once)
# Every object is compared with a local build's; a mismatch, a failed
# build or a distributed row whose helpers got no job fails the row, and
# any failed row makes the script exit 1. Prints "@bench hetero.*" lines.
# Needs root (the bed).
# Environment:
#   HETERO_SMOKE=1         HETERO_SMOKE_OBJECTS (default 6) objects per
#                          workload, every row: a few minutes, a check
#   HETERO_WORKLOADS       default "kernel sed"
#   HETERO_CACHE           trees and downloads (default /var/tmp/tinydcc-hetero)
#   HETERO_ROWS            only these rows (e.g. "a-alone b-tiny-pump"; default all)
#   HETERO_KEEP=DIR        keep each row's files there (daemon logs, stamps,
#                          build output)
#   TINYDCC                the tinydcc binary (default: cargo build --release)
#   HETERO_DAEMON_ARGS     more words for every tinydcc daemon (e.g. "--stats":
#                          load reports, with its CPUs, for the clients)
#   HETERO_CLIENT_ENV      more NAME=VALUE words for every row's client (e.g.
#                          "DISTCC_LOG=/tmp/c.log DISTCC_VERBOSE=1": why a
#                          job started when it did)
#   BED_*                  the bed's parameters (tests/bed/bed.sh); in smoke
#                          mode the roles' CPU weight defaults to 1, as any
#                          other process's (the machine may be shared)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/bench/lib.sh
. "$here/lib.sh"
bed=$bench_repo/tests/bed/bed.sh
smoke=${HETERO_SMOKE:-0}
smoke_n=${HETERO_SMOKE_OBJECTS:-6}
workloads=${HETERO_WORKLOADS:-kernel sed}
kdirs=${HETERO_KERNEL_DIRS:-kernel mm lib}
cache=${HETERO_CACHE:-/var/tmp/tinydcc-hetero}
cross=arm-linux-gnueabihf-
real_cc=$(command -v ${cross}gcc || true)
started=$(date +%s)

die() { echo "hetero: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (the cluster bed: namespaces, cgroups, tc)"
for t in distcc distccd distcc-pump ${cross}gcc make bc flex bison python3 ip tc flock apt-get; do
  command -v "$t" >/dev/null || die "required tool '$t' is missing"
done
TINYDCC=$(bench_tinydcc)
mkdir -p "$cache"
exec 8>"$cache/lock"
flock -n 8 || { echo "hetero: waiting for another run using $cache" >&2; flock 8; }

work=$(mktemp -d /tmp/tinydcc-hetero.XXXXXX)
chmod 777 "$work"  # daemons started as root drop to nobody
# The compiler wrapper that times the client machine's own compiles.
wrap=$work/wrap
mkdir -p "$wrap"
gcc -O2 -o "$wrap/${cross}gcc" "$here/jobstamp.c"

# Teardown, whatever happens: daemons and log readers (each a process
# group of its own), then the bed.
groups=()
BED=
cleanup() {
  local p
  for p in ${groups[@]+"${groups[@]}"}; do kill -- -"$p" 2>/dev/null || true; done
  if [ -n "$BED" ]; then
    # Once more if anything is left (bed.sh says what); the next `bed.sh
    # up` also removes beds whose owner is gone.
    BED=$BED "$bed" down || BED=$BED "$bed" down || echo "hetero: bed $BED not fully removed" >&2
    if ip netns list | grep -q "^tdbed-$BED-"; then
      BED=$BED "$bed" down || echo "hetero: bed $BED not fully removed" >&2
    fi
  fi
  if [ -n "${HETERO_KEEP:-}" ]; then
    mkdir -p "$HETERO_KEEP" && cp -r "$work"/. "$HETERO_KEEP"/ && echo "hetero: row files kept in $HETERO_KEEP" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

addr() { "$bed" addr "$1"; }
netns() { "$bed" ns "$1"; }
iface_bytes() {  # iface_bytes ROLE: "TX RX" of its eth0
  ip netns exec "$(netns "$1")" sh -c 'echo "$(cat /sys/class/net/eth0/statistics/tx_bytes) $(cat /sys/class/net/eth0/statistics/rx_bytes)"'
}

# Debian 12's distcc-pump include server fails on its Python; the stock
# pump row runs only if it works here.
echo 'int main(void) { return 0; }' > "$work/probe.c"
(cd "$work" && DISTCC_DIR=$work DISTCC_HOSTS="127.0.0.1:1/1,lzo,cpp" timeout 60 distcc-pump \
  sh -c 'DISTCC_VERBOSE=1 distcc gcc -c probe.c -o probe.o' > pump-check.err 2>&1) || true
if grep -q 'preprocessing locally' "$work/pump-check.err"; then
  why=$(grep -E '^[A-Za-z.]*Error: ' "$work/pump-check.err" | tail -1 | tr '|' '/')
  stock_pump="not run: Debian 12's include server fails (${why:-no reason given}), every job would be preprocessed on the client"
else
  stock_pump=ok
fi
# Measured host choice: run when the binary reads TINYDCC_CHOOSE (an
# older build under test may not; --help does not list it).
if grep -aq TINYDCC_CHOOSE "$TINYDCC"; then choose=ok; else choose="n/a (this build has no TINYDCC_CHOOSE)"; fi

export KBUILD_BUILD_TIMESTAMP='2026-01-01' KBUILD_BUILD_USER=tinydcc KBUILD_BUILD_HOST=tinydcc KBUILD_BUILD_VERSION=1

# --- workloads: tree, make arguments, targets, objects ---------------------
# Each sets: tree, wmake (make and its fixed arguments), targets (what a
# full build makes), objects_of (prints the objects, relative to tree).
prepare_kernel() {
  tree=$cache/linux-arm
  local tarball=/usr/src/linux-source-6.1.tar.xz id
  [ -f "$tarball" ] || die "no $tarball (Debian package linux-source-6.1)"
  id=$(stat -c '%n %s %Y' "$tarball")
  if [ "$(cat "$tree/.hetero-source" 2>/dev/null)" != "$id" ]; then
    echo "hetero: unpacking $tarball" >&2
    rm -rf "$tree" "$tree.tmp"; mkdir -p "$tree.tmp"
    tar -xf "$tarball" -C "$tree.tmp" --strip-components=1
    nice make -s -C "$tree.tmp" ARCH=arm CROSS_COMPILE=$cross tinyconfig >/dev/null
    echo "$id" > "$tree.tmp/.hetero-source"
    mv "$tree.tmp" "$tree"
  fi
  wmake=(make -s -C "$tree" ARCH=arm CROSS_COMPILE=$cross)
  read -r -a targets <<<"$(for d in $kdirs; do printf '%s/ ' "$d"; done)"
  objects_of() { (cd "$tree" && find $kdirs -name '*.o' | sort); }
  clean_of() { (cd "$tree" && find $kdirs \( -name '*.o' -o -name '*.a' \) -delete); }
  # kbuild regenerates its configuration when CC changes: done untimed.
  prep_of() { nice "${wmake[@]}" CC="$1" prepare; }
}

prepare_sed() {
  local src=$cache/sed-src list=/etc/apt/sources.list.d/tinydcc-bench-src.list tarball uri suite
  tree=$src
  tarball=$(ls "$cache"/sed_*.orig.tar.* 2>/dev/null | head -1 || true)
  if [ -z "$tarball" ]; then
    # Debian's source package, from the mirror the machine already uses.
    if [ ! -f "$list" ]; then
      uri=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1 || true)
      suite=$(sed -n 's/^Suites: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 || true)
      [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list)
      [ -n "$suite" ] || suite=$(awk '$1 == "deb" && $2 !~ /security/ { print $3; exit }' /etc/apt/sources.list)
      [ -n "$uri" ] && [ -n "$suite" ] || die "no Debian mirror found in /etc/apt/sources.list*"
      echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $suite main" > "$list"
    fi
    # Only this list's index, the machine's others are left as they are.
    apt-get update -q -o Dir::Etc::sourcelist="$list" -o Dir::Etc::sourceparts=- \
      -o APT::Get::List-Cleanup=0 >&2
    (cd "$cache" && apt-get source --download-only -q sed >&2)
    tarball=$(ls "$cache"/sed_*.orig.tar.* | head -1)
  fi
  if [ "$(cat "$src/.hetero-source" 2>/dev/null)" != "$tarball" ]; then
    echo "hetero: unpacking and configuring $tarball" >&2
    # Configured where it lies (configure records its directory); the
    # marker, written last, says the tree is complete.
    rm -rf "$src"; mkdir -p "$src"
    tar -xf "$tarball" -C "$src" --strip-components=1
    # Cross-configured as the board would configure it natively; -O2
    # without -g, so objects do not carry the build directory.
    (cd "$src" && nice ./configure -q --host=arm-linux-gnueabihf CC=${cross}gcc CFLAGS=-O2 \
      --disable-nls --without-selinux >/dev/null)
    # Automake makes BUILT_SOURCES (gnulib's replacement headers) only for
    # `all`: made once here, so a build of sed/sed or of one object works.
    local built
    built=$(printf 'print-built:\n\t@echo $(BUILT_SOURCES)\n' | make -s -C "$src" -f Makefile -f - print-built)
    # shellcheck disable=SC2086
    nice make -s -C "$src" $built >/dev/null
    echo "$tarball" > "$src/.hetero-source"
  fi
  wmake=(make -s -C "$tree")
  targets=(sed/sed)
  objects_of() { (cd "$tree" && find . -name '*.o' | sed 's|^\./||' | sort); }
  clean_of() { (cd "$tree" && find . \( -name '*.o' -o -name '*.a' \) -delete && rm -f sed/sed); }
  prep_of() { :; }
}

# reference: the local build's objects (cached per tree and compiler).
reference() {
  local key ref
  key=$({ "$real_cc" --version; echo "${targets[*]}"; } | sha256sum | cut -c1-16)
  ref=$tree/.hetero-ref-$key.sums
  if [ ! -f "$ref" ]; then
    echo "hetero: $wl: local reference build (once, cached)" >&2
    clean_of
    prep_of "${cross}gcc" >/dev/null
    nice "${wmake[@]}" -j2 CC="${cross}gcc" "${targets[@]}" >/dev/null
    (cd "$tree" && objects_of | xargs sha256sum) > "$ref.tmp"
    mv "$ref.tmp" "$ref"
  fi
  ref_sums=$ref
}

# --- one row -----------------------------------------------------------------
rc=0
# row KEY CLIENT DAEMON JOBS HOSTS CC [PUMP] [ENV=VALUE...]
#   DAEMON: none | stock | tinydcc, on every host of HOSTS but localhost
#   PUMP: - | tinydcc | distcc (which include server wraps make)
row() {
  local key=$1 client=$2 daemon=$3 jobs=$4 hosts=$5 cc=$6 pump=${7:--}
  local answers down=
  if [ -n "${HETERO_ROWS:-}" ] && [[ " $HETERO_ROWS " != *" $key "* ]]; then return; fi
  shift 7 || shift $#
  # shellcheck disable=SC2206
  local extra=("$@" ${HETERO_CLIENT_ENV:-}) dir=$work/$wl/$key helpers=() h role slots p t0 t1 n0 n1 r
  local prefix=hetero.$wl.$key
  mkdir -p -m 777 "$dir" "$dir/dd"
  for h in $hosts; do
    role=${h%%/*}
    [ "$role" = localhost ] || helpers+=("$role")
  done
  echo "--- $wl $key: $client, $daemon daemons, make -j$jobs, CC='$cc' ${pump/-/}${extra[*]:+ ${extra[*]}}" >&2
  clean_of
  if ! DISTCC_HOSTS=localhost DISTCC_DIR=$dir/dd prep_of "$cc" > "$dir/prepare.log" 2>&1; then
    echo "hetero: $wl $key FAILED: make prepare" >&2
    tail -20 "$dir/prepare.log" >&2
    emit "$prefix.failed" "make prepare failed: $(tail -2 "$dir/prepare.log" | tr '\n' ' ')"
    rc=1
    return
  fi
  local pids=()
  if [ "$daemon" != none ]; then
    for h in $hosts; do
      role=${h%%/*}; slots=${h#*/}; slots=${slots%%,*}
      [ "$role" = localhost ] && continue
      install -m 666 /dev/null "$dir/$role.log"
      case $daemon in
        stock) setsid "$bed" run "$role" distccd --daemon --no-detach --allow 198.18.0.0/24 -j "$slots" \
                 --log-file "$dir/$role.log" --log-level info </dev/null 8>&- & ;;
        tinydcc) setsid "$bed" run "$role" "$TINYDCC" --daemon --no-detach --allow 198.18.0.0/24 -j "$slots" \
                 --log-file "$dir/$role.log" --log-level info ${HETERO_DAEMON_ARGS:-} </dev/null 8>&- & ;;
      esac
      groups+=($!); pids+=($!)
      # Each line of the log stamped as it is written: the logs have whole
      # seconds, the idle tail needs better.
      setsid bash -c 'tail -n +1 -F "$1" 2>/dev/null | while IFS= read -r l; do printf "%s %s\n" "$EPOCHREALTIME" "$l"; done > "$2"' \
        _ "$dir/$role.log" "$dir/$role.stamped" </dev/null 8>&- &
      groups+=($!); pids+=($!)
    done
    for role in "${helpers[@]}"; do
      answers=0
      for _ in $(seq 100); do
        ip netns exec "$(netns "$client")" bash -c "exec 3<>/dev/tcp/$(addr "$role")/3632" 2>/dev/null \
          && { answers=1; break; }
        sleep 0.1
      done
      # The build would fail without it; this says why.
      [ $answers = 1 ] || down+="the $daemon daemon on $role does not answer (its log: '$(tail -2 "$dir/$role.log" | tr '\n' ' ' | sed 's/ *$//')'); "
    done
  fi
  local wrapped=(make)
  case $pump in
    tinydcc) wrapped=("$TINYDCC" --pump make) ;;
    distcc) wrapped=(distcc-pump make) ;;
  esac
  : > "$dir/cpu.0"; : > "$dir/capacity"
  for r in "$client" "${helpers[@]}"; do
    echo "$r $("$bed" cpu "$r")" >> "$dir/cpu.0"
    echo "$r $(capacity "$r")" >> "$dir/capacity"
  done
  n0=$(iface_bytes "$client")
  t0=$EPOCHREALTIME
  local ok=1
  "$bed" run "$client" env PATH="$wrap:$PATH" HETERO_REAL_CC="$real_cc" HETERO_STAMPS="$dir/local.stamps" \
    DISTCC_HOSTS="$hosts" DISTCC_DIR="$dir/dd" DISTCC_FALLBACK=0 ${extra[@]+"${extra[@]}"} \
    "${wrapped[@]}" "${wmake[@]:1}" -j"$jobs" CC="$cc" "${build_targets[@]}" \
    > "$dir/build.log" 2>&1 8>&- </dev/null || ok=0
  t1=$EPOCHREALTIME
  n1=$(iface_bytes "$client")
  : > "$dir/cpu"
  while read -r r c; do echo "$r $(($("$bed" cpu "$r") - c))" >> "$dir/cpu"; done < "$dir/cpu.0"
  echo "$t0 $t1" > "$dir/times"
  read -r tx0 rx0 <<<"$n0"; read -r tx1 rx1 <<<"$n1"
  echo "$((tx1 - tx0)) $((rx1 - rx0))" > "$dir/net"
  # The last job lines reach the logs and their readers, then all stop.
  sleep 1
  for p in ${pids[@]+"${pids[@]}"}; do kill -- -"$p" 2>/dev/null || true; done
  for p in ${pids[@]+"${pids[@]}"}; do wait "$p" 2>/dev/null || true; done
  groups=()
  python3 "$here/hetero_stats.py" "$prefix" "$dir" "$client" "${helpers[@]}" > "$dir/stats"
  cat "$dir/stats"
  grep '^pump:' "$dir/build.log" | sed "s|^|@bench $prefix.pump_summary |" || true
  local why=
  if [ $ok = 0 ]; then
    why="${down}the build failed: $({ grep -v '^pump:' "$dir/build.log" || true; } | tail -3 | tr '\n' ' ')"
  else
    (cd "$tree" && sha256sum "${build_objects[@]}") > "$dir/sums" 2>"$dir/sums.err" || true
    if ! diff <(grep -F -f <(printf ' %s\n' "${build_objects[@]}") "$ref_sums") "$dir/sums" > "$dir/sums.diff"; then
      why="objects differ from the local build's (or are missing): $(grep -c '^<' "$dir/sums.diff" || true) of ${#build_objects[@]}: $({ grep '^<' "$dir/sums.diff" || true; } | head -3 | awk '{print $3}' | xargs)"
    elif [ ${#helpers[@]} -gt 0 ] && [ "$(sed -n "s/^@bench $prefix.jobs.remote //p" "$dir/stats")" = 0 ]; then
      why="${down}no job went to a helper"
    fi
  fi
  if [ -n "$why" ]; then
    echo "hetero: $wl $key FAILED: $why" >&2
    [ $ok = 1 ] || tail -20 "$dir/build.log" >&2
    emit "$prefix.failed" "$why"
    rc=1
  else
    emit "$prefix.objects" "${#build_objects[@]}"
  fi
}

# The host lists: the reference cluster's order, one daemon per helper.
remote() { local s=; for h in "$@"; do s+=" $h,lzo$opt"; done; echo "$s"; }
run_workload() {
  local opt=
  "prepare_$wl"
  reference
  mapfile -t all_objects < <(awk '{print $2}' "$ref_sums")
  if [ "$smoke" = 1 ]; then
    # A spread of a few objects, built as make targets of their own.
    local n=${#all_objects[@]} step i
    step=$(( n / smoke_n > 0 ? n / smoke_n : 1 ))
    build_objects=()
    for ((i = 0; i < n && ${#build_objects[@]} < smoke_n; i += step)); do build_objects+=("${all_objects[$i]}"); done
    build_targets=("${build_objects[@]}")
    clean_of() { (cd "$tree" && rm -f "${build_objects[@]}"); }
  else
    build_objects=("${all_objects[@]}")
    build_targets=("${targets[@]}")
  fi
  emit "hetero.$wl.objects_total" "${#build_objects[@]}"
  local a b ap bp
  a="localhost/2$(remote x86/4 board2/2 board3/2)"
  b="localhost/2$(remote board/2 board2/2 board3/2)"
  opt=,cpp
  ap="localhost/2$(remote x86/4 board2/2 board3/2)"
  bp="localhost/2$(remote board/2 board2/2 board3/2)"
  emit "hetero.$wl.hosts_a" "$a"
  emit "hetero.$wl.hosts_b" "$b"
  row a-alone board none 2 localhost/2 "${cross}gcc"
  # Distributed A rows run make -j20, the user's MAKEFLAGS for this list
  # (the seed notes): twice the slots, so make reaches a late big unit
  # (sed's regex.c, 50th of 66) while clients wait for slots. At -j10 the
  # x86 got regex.c at 2.7 s and its tail was 0.7-1.7 s; at -j20 0.0-1.0.
  row a-stock board stock 20 "$a" "distcc ${cross}gcc"
  if [ "$stock_pump" = ok ]; then
    row a-stock-pump board stock 20 "$ap" "distcc ${cross}gcc" distcc
  else
    emit "hetero.$wl.a-stock-pump.status" "$stock_pump"
  fi
  row a-stock-tinyd board tinydcc 20 "$a" "distcc ${cross}gcc"
  row a-tiny-plain board tinydcc 20 "$a" "$TINYDCC ${cross}gcc"
  row a-tiny-pump board tinydcc 20 "$ap" "$TINYDCC ${cross}gcc" tinydcc
  # The user's question: does the board gain by compiling too? This row
  # takes localhost slots in list order, as distcc does.
  row a-tiny-pump-local board tinydcc 20 "$ap" "$TINYDCC ${cross}gcc" tinydcc TINYDCC_LOCAL=always
  if [ "$choose" = ok ]; then
    row a-tiny-choose board tinydcc 20 "$ap" "$TINYDCC ${cross}gcc" tinydcc TINYDCC_CHOOSE=measured
  else
    emit "hetero.$wl.a-tiny-choose.status" "$choose"
  fi
  row b-alone x86client none 2 localhost/2 "${cross}gcc"
  row b-stock x86client stock 8 "$b" "distcc ${cross}gcc"
  row b-tiny-plain x86client tinydcc 8 "$b" "$TINYDCC ${cross}gcc"
  row b-tiny-pump x86client tinydcc 8 "$bp" "$TINYDCC ${cross}gcc" tinydcc
  if [ "$choose" = ok ]; then
    row b-tiny-choose x86client tinydcc 8 "$bp" "$TINYDCC ${cross}gcc" tinydcc TINYDCC_CHOOSE=measured
  else
    emit "hetero.$wl.b-tiny-choose.status" "$choose"
  fi
}

for wl in $workloads; do
  case $wl in kernel|sed) ;; *) die "unknown workload '$wl' (kernel, sed)" ;; esac
done
# Trees and local reference builds first (cached), so the bed is up only
# for the rows.
for wl in $workloads; do
  "prepare_$wl"
  reference
done
if [ "$smoke" = 1 ]; then
  for r in BOARD X86 BOARD2 BOARD3 X86CLIENT; do
    v=BED_${r}_WEIGHT
    [ -n "${!v:-}" ] || export "$v=1"
  done
fi
export BED_OWNER=$$
BED=$("$bed" up)
export BED
"$bed" describe > "$work/describe"
cat "$work/describe"
# capacity ROLE: the CPU the bed gives a role, in cores (its quota, or
# the size of its CPU set).
capacity() {
  awk -v r="$1" '$1 == r {
    for (i = 3; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    q = f["quota"] != "" ? f["quota"] : f["cpu.max"]
    if (q ~ /^max/) { n = 0; c = split(f["cpus"], parts, ","); for (j = 1; j <= c; j++) {
        if (split(parts[j], ab, "-") == 2) n += ab[2] - ab[1] + 1; else n++ } print n }
    else if (q ~ /%$/) print substr(q, 1, length(q) - 1) / 100
    else { split(q, qp, "/"); print qp[1] / qp[2] } }' "$work/describe"
}
for wl in $workloads; do
  run_workload
done
emit hetero.smoke "$smoke"
emit hetero.kernel_dirs "$kdirs"
emit hetero.seconds $(($(date +%s) - started))
exit $rc
