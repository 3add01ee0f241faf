#!/usr/bin/env bash
# Build Linux 6.1 tinyconfig `vmlinux` from Debian's linux-source-6.1, once
# locally and once through tinydcc, and compare every object file.
#   tests/kernel/build.sh MODE CLIENT [ARCH]
#     MODE:   pump | plain          CLIENT: tinydcc | distcc
#     ARCH:   x86 (default) | arm   (arm: CROSS_COMPILE=arm-linux-gnueabihf-)
# Needs: linux-source-6.1 bc flex bison (and gcc-arm-linux-gnueabihf for arm),
# a built tinydcc (TINYDCC, default target/release/tinydcc). Prints the wall
# times and "objects: N identical"; exits non-zero on any difference.
# The source tree and the local build's checksums are cached under
# $KERNEL_CACHE (default /var/tmp/tinydcc-kernel) for later runs.
set -euo pipefail
mode=${1:?mode}; client=${2:?client}; arch=${3:-x86}
here=$(cd "$(dirname "$0")/../.." && pwd)
tiny=${TINYDCC:-$here/target/release/tinydcc}
cache=${KERNEL_CACHE:-/var/tmp/tinydcc-kernel}
jobs=${KERNEL_JOBS:-4}
mkdir -p "$cache"
src=$cache/linux-$arch
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
sums() { find . -name '*.o' ! -name vmlinux.o -exec sha256sum {} + | sort -k2; }
if [ ! -f "$cache/local-$arch.sums" ]; then
  "${kmake[@]}" tinyconfig >/dev/null
  "${kmake[@]}" clean
  t0=$(date +%s.%N)
  "${kmake[@]}" -j2 vmlinux >/dev/null
  t1=$(date +%s.%N)
  sums > "$cache/local-$arch.sums.tmp"
  mv "$cache/local-$arch.sums.tmp" "$cache/local-$arch.sums"
  echo "local -j2: $(echo "$t1 - $t0" | bc) s"
fi
"${kmake[@]}" clean

work=$(mktemp -d /tmp/tinydcc-kernel.XXXXXX)
chmod 777 "$work"
daemon_pid=
cleanup() { [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/scratch" "$work/distcc"
chmod 777 "$work/scratch"
TMPDIR=$work/scratch "$tiny" --daemon --no-detach --listen 127.0.0.1 --port "$port" \
  --allow 127.0.0.1 -j "$jobs" --log-file "$work/daemon.log" --log-level info &
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
t0=$(date +%s.%N)
DISTCC_HOSTS=$hosts DISTCC_DIR=$work/distcc DISTCC_FALLBACK=0 \
  "${run[@]}" "${kmake[@]}" -j"$jobs" CC="${cc[*]}" vmlinux 2> "$work/build.err" || {
  tail -20 "$work/build.err" >&2; exit 1; }
t1=$(date +%s.%N)
grep '^pump:' "$work/build.err" || true
echo "$mode/$client $arch -j$jobs: $(echo "$t1 - $t0" | bc) s"
echo "daemon: $(grep -c COMPILE_OK "$work/daemon.log") compiles, $(grep -c 'protocol 3 request' "$work/daemon.log") as protocol 3"
sums > "$work/remote.sums"
if ! diff "$cache/local-$arch.sums" "$work/remote.sums" > "$work/diff"; then
  echo "objects differ from the local build:" >&2
  head -20 "$work/diff" >&2
  exit 1
fi
echo "objects: $(wc -l < "$work/remote.sums") identical"
