#!/usr/bin/env bash
# Build Linux 6.1 tinyconfig `vmlinux` from Debian's linux-source-6.1, locally
# or through one daemon on 127.0.0.1, and compare every object file with the
# local build's.
#   tests/kernel/build.sh local [ARCH]
#   tests/kernel/build.sh MODE CLIENT [ARCH]
#     MODE:   pump | plain          CLIENT: tinydcc | distcc
#     ARCH:   x86 (default) | arm   (arm: CROSS_COMPILE=arm-linux-gnueabihf-)
#   DAEMON=tinydcc (default) | stock   which daemon compiles (stock: distccd)
#   KERNEL_JOBS (default 4): make -j and the daemon's slots; KERNEL_LOCAL_JOBS
#   (default 2): make -j of the local build.
# Needs: linux-source-6.1 bc flex bison (and gcc-arm-linux-gnueabihf for arm),
# a built tinydcc (TINYDCC, default target/release/tinydcc), stock distccd's
# compiler links (update-distcc-symlinks) for DAEMON=stock.
# `local` times a local build and records (or, when recorded, checks) the
# checksums of its objects. The other modes build the local one first when
# nothing is recorded, then build through the daemon; they print the wall
# time, how many jobs the daemon ran and how many arrived as protocol 3
# (tinydcc's daemon only), and "objects: N identical", and exit non-zero on
# any difference. Measured values are also printed as "@bench KEY VALUE"
# lines (tests/bench/run collects them).
# The source tree and the local build's checksums are cached under
# $KERNEL_CACHE (default /var/tmp/tinydcc-kernel) for later runs; a lock
# there keeps two builds from sharing the tree at once.
set -euo pipefail
mode=${1:?mode}
if [ "$mode" = local ]; then client=; arch=${2:-x86}; else client=${2:?client}; arch=${3:-x86}; fi
daemon=${DAEMON:-tinydcc}
here=$(cd "$(dirname "$0")/../.." && pwd)
tiny=${TINYDCC:-$here/target/release/tinydcc}
cache=${KERNEL_CACHE:-/var/tmp/tinydcc-kernel}
jobs=${KERNEL_JOBS:-4}
local_jobs=${KERNEL_LOCAL_JOBS:-2}
case $mode in local|plain|pump) ;; *) echo "unknown mode $mode" >&2; exit 2 ;; esac
case $daemon in tinydcc|stock) ;; *) echo "unknown DAEMON $daemon" >&2; exit 2 ;; esac
mkdir -p "$cache"
src=$cache/linux-$arch
exec 9>"$src.lock"
flock 9
if [ ! -f "$src/Makefile" ]; then
  rm -rf "$src.tmp"; mkdir -p "$src.tmp"
  tar -xf /usr/src/linux-source-6.1.tar.xz -C "$src.tmp" --strip-components=1
  mv "$src.tmp" "$src"
fi
cd "$src"
export KBUILD_BUILD_TIMESTAMP='2026-01-01' KBUILD_BUILD_USER=tinydcc KBUILD_BUILD_HOST=tinydcc KBUILD_BUILD_VERSION=1
kmake=(make -s)
cross=
if [ "$arch" = arm ]; then
  kmake+=(ARCH=arm CROSS_COMPILE=arm-linux-gnueabihf-)
  cross=arm-linux-gnueabihf-
fi
emit() { printf '@bench %s %s\n' "$1" "$2"; }
sums() { find . -name '*.o' ! -name vmlinux.o -exec sha256sum {} + | sort -k2; }
now() { date +%s.%N; }
# check SUMS: every object as the local build made it. Host programs'
# objects under scripts/ are left out: HOSTCC builds them, never the client,
# and `make clean` removes scripts/kconfig's, which only come back when
# Kconfig runs again (when CC changed since the last build). Stock distcc runs
# even `gcc --version` as x86_64-linux-gnu-gcc (it rewrites the compiler's
# name before deciding where to run), so Kconfig's CONFIG_CC_VERSION_TEXT,
# and with it the banner in init/version*.o, names that compiler: with
# CLIENT=distcc those two objects are left out, and said so.
check() {
  local skip=' \./scripts/' n
  if [ "$client" = distcc ]; then skip="$skip| \\./init/version(-timestamp)?\\.o\$"; fi
  if ! diff <(grep -Ev "$skip" "$cache/local-$arch.sums") <(grep -Ev "$skip" "$1") > "$1.diff"; then
    echo "objects differ from the local build:" >&2
    head -20 "$1.diff" >&2
    exit 1
  fi
  n=$(grep -Evc "$skip" "$1")
  if [ "$client" = distcc ]; then
    echo "objects: $n identical (scripts/ not compared); init/version.o and" \
      "init/version-timestamp.o not compared (their banner names the compiler as stock distcc ran \`gcc --version\`)"
  else
    echo "objects: $n identical (scripts/ not compared)"
  fi
  emit "kernel.$arch.$key.objects" "$n"
}
local_build() {
  if [ ! -f .config ] || [ ! -f "$cache/local-$arch.sums" ]; then
    "${kmake[@]}" tinyconfig >/dev/null
  fi
  "${kmake[@]}" clean
  local t0 t1 s
  t0=$(now)
  "${kmake[@]}" -j"$local_jobs" vmlinux >/dev/null
  t1=$(now)
  s=$(echo "$t1 - $t0" | bc)
  echo "local -j$local_jobs: $s s"
  emit "kernel.$arch.local.seconds" "$s"
  emit "kernel.$arch.local.jobs" "$local_jobs"
  emit "kernel.$arch.local.load" "$(cut -d' ' -f1 /proc/loadavg)"
  if [ -f "$cache/local-$arch.sums" ]; then
    sums > "$cache/local-$arch.sums.new"
    key=local check "$cache/local-$arch.sums.new"
    rm -f "$cache/local-$arch.sums.new" "$cache/local-$arch.sums.new.diff"
  else
    sums > "$cache/local-$arch.sums.tmp"
    mv "$cache/local-$arch.sums.tmp" "$cache/local-$arch.sums"
    echo "objects: $(wc -l < "$cache/local-$arch.sums") recorded"
  fi
}
if [ "$mode" = local ]; then
  local_build
  exit 0
fi
[ -f "$cache/local-$arch.sums" ] || local_build
"${kmake[@]}" clean
key=$mode.$client.$daemon

work=$(mktemp -d /tmp/tinydcc-kernel.XXXXXX)
chmod 777 "$work"  # daemons started as root drop privileges, then open their logs
daemon_pid=
cleanup() {
  [ -z "$daemon_pid" ] || kill -- -"$daemon_pid" 2>/dev/null || kill "$daemon_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/scratch" "$work/distcc"
chmod 777 "$work/scratch"
case $daemon in
  # debug: "protocol 3 request" is logged at that level.
  tinydcc) dcmd=("$tiny" --daemon --log-level debug) ;;
  stock) dcmd=(distccd --daemon --log-level info) ;;
esac
TMPDIR=$work/scratch setsid "${dcmd[@]}" --no-detach --listen 127.0.0.1 --port "$port" \
  --allow 127.0.0.1 -j "$jobs" --log-file "$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done

case $client in
  tinydcc) cc=("$tiny" "${cross}gcc") ;;
  distcc) cc=(distcc "${cross}gcc") ;;
  *) echo "unknown client $client" >&2; exit 2 ;;
esac
hosts="127.0.0.1:$port/$jobs,lzo"
run=()
if [ "$mode" = pump ]; then hosts="$hosts,cpp"; run=("$tiny" --pump); fi
t0=$(now)
DISTCC_HOSTS=$hosts DISTCC_DIR=$work/distcc DISTCC_FALLBACK=0 \
  ${run[@]+"${run[@]}"} "${kmake[@]}" -j"$jobs" CC="${cc[*]}" vmlinux 2> "$work/build.err" || {
  tail -20 "$work/build.err" >&2; exit 1; }
t1=$(now)
s=$(echo "$t1 - $t0" | bc)
echo "$mode/$client -> $daemon daemon, $arch -j$jobs: $s s"
emit "kernel.$arch.$key.seconds" "$s"
emit "kernel.$arch.$key.jobs" "$jobs"
emit "kernel.$arch.$key.load" "$(cut -d' ' -f1 /proc/loadavg)"
emit "kernel.$arch.$key.hosts" "${hosts/:$port/:PORT}"
if grep '^pump:' "$work/build.err"; then
  emit "kernel.$arch.$key.pump_sent" "$(sed -n 's/^pump: \([0-9]*\) compile(s) sent.*/\1/p' "$work/build.err")"
fi
compiles=$(grep -c COMPILE_OK "$work/daemon.log" || true)
emit "kernel.$arch.$key.daemon_jobs" "$compiles"
if [ "$daemon" = tinydcc ]; then
  p3=$(grep -c 'protocol 3 request' "$work/daemon.log" || true)
  echo "daemon: $compiles compiles, $p3 as protocol 3"
  emit "kernel.$arch.$key.protocol3" "$p3"
else
  echo "daemon: $compiles compiles"
fi
sums > "$work/remote.sums"
check "$work/remote.sums"
