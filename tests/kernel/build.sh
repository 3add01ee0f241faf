#!/usr/bin/env bash
# Build Linux 6.1 tinyconfig `vmlinux` from Debian's linux-source-6.1, once
# locally and once through tinydcc, and compare every object file.
#   tests/kernel/build.sh MODE CLIENT [ARCH]     tests/kernel/build.sh local [ARCH]
#     MODE:   pump | plain          CLIENT: tinydcc | distcc
#     ARCH:   x86 (default) | arm   (arm: CROSS_COMPILE=arm-linux-gnueabihf-)
#   DAEMON=tinydcc (default) | stock   which daemon compiles (stock: distccd)
#   KERNEL_JOBS (default 4): make -j and the daemon's slots.
#   CACHE=1    the tinydcc daemon keeps a result cache (--cache-dir, private)
#   HEADER_STORE=0  the tinydcc daemon runs with --no-header-store (pump
#              mode as before the store: "today's" in issue 16 §3); its
#              keys get ".nostore". A tinydcc daemon's --stats counters are
#              emitted after each build (bytes and header files per job).
#   CCACHE=1   ccache on the client (CCACHE_PREFIX=the client, private
#              CCACHE_DIR; plain mode)
#   SCRATCH=tmp  the daemon's TMPDIR under /tmp, not /dev/shm (below)
#   KEY_TAG=T  appended to the @bench keys (runs of another section)
#   REBUILD=1  after the build, `make clean` and build again through the same
#              daemon (and cache): timed and checked as "KEY.warm"
# `local` times a local -j2 build and checks it against the recorded one.
# Measured values are also printed as "@bench KEY VALUE" lines
# (tests/bench/run collects them).
# Needs: linux-source-6.1 bc flex bison (and gcc-arm-linux-gnueabihf for arm),
# a built tinydcc (TINYDCC, default target/release/tinydcc). Prints the wall
# times and "objects: N identical"; exits non-zero on any difference.
# The source tree and the local build's checksums are cached under
# $KERNEL_CACHE (default /var/tmp/tinydcc-kernel) for later runs; the
# checksums are keyed on the compiler's and linker's versions and the
# source package, so another toolchain never compares against stale ones.
# Runs on the same tree wait for each other (a lock per arch in the cache).
set -euo pipefail
mode=${1:?mode}
if [ "$mode" = local ]; then client=; arch=${2:-x86}; else client=${2:?client}; arch=${3:-x86}; fi
daemon=${DAEMON:-tinydcc}
case $mode in local|plain|pump) ;; *) echo "unknown mode $mode" >&2; exit 2 ;; esac
case $daemon in tinydcc|stock) ;; *) echo "unknown DAEMON $daemon" >&2; exit 2 ;; esac
emit() { printf '@bench %s %s\n' "$1" "$2"; }
here=$(cd "$(dirname "$0")/../.." && pwd)
tiny=${TINYDCC:-$here/target/release/tinydcc}
cache=${KERNEL_CACHE:-/var/tmp/tinydcc-kernel}
jobs=${KERNEL_JOBS:-4}
mkdir -p "$cache"
exec 9>"$cache/lock-$arch"
if ! flock -n 9; then
  echo "waiting for another kernel build in $cache (arch $arch)" >&2
  flock 9
fi
src=$cache/linux-$arch
tarball=/usr/src/linux-source-6.1.tar.xz
# The tree is extracted again when the package is updated.
source_id=$(stat -c '%n %s %Y' "$tarball")
if [ ! -f "$src/Makefile" ] || [ "$(cat "$src/.tinydcc-source" 2>/dev/null)" != "$source_id" ]; then
  rm -rf "$src" "$src.tmp"; mkdir -p "$src.tmp"
  tar -xf "$tarball" -C "$src.tmp" --strip-components=1
  echo "$source_id" > "$src.tmp/.tinydcc-source"
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
# The compiler by its full name, in the local build too: the kernel puts
# `$(CC) --version` into the config and the banner (init/version.o), and
# distcc runs `gcc --version` as x86_64-linux-gnu-gcc, so with a bare
# `gcc` the two builds would differ in that string alone.
ccname=${cross:-$(gcc -dumpmachine)-}gcc
kmake+=(CC="$ccname")
key=$({ "$ccname" --version; "${cross}ld" -v; echo "${kmake[*]}"; echo "$source_id"; } | sha256sum | cut -c1-16)
local_sums=$cache/local-$arch-$key.sums
local_deps=$cache/local-$arch-$key.deps
sums() { find . -name '*.o' ! -name vmlinux.o -exec sha256sum {} + | sort -k2; }
# What kbuild recorded of each compile's dependency file (fixdep's .cmd
# files, less the command line itself, which names the client): pump mode
# must give make the same dependencies as a local build.
deps() {
  find . \( -name '.*.o.cmd' -o -name '.*.s.cmd' \) -print0 | python3 -c '
import hashlib, sys
for f in sorted(sys.stdin.buffer.read().split(b"\0")):
    if f:
        body = open(f, "rb").read().split(b"\n", 1)[-1]
        print(hashlib.sha256(body).hexdigest(), f.decode(errors="replace"))'
}
# `make clean` deletes every .o, kconfig's too, but kconfig is rebuilt only
# when the config must be synced again (a new $(CC) does that): without
# its auto.conf it always is, so every build makes the same objects.
clean() { "${kmake[@]}" clean; rm -f include/config/auto.conf; }
# User + system seconds of the children, from bash's `times` output.
cpu_of() { sed -n 2p "$1" | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%.1f", t }'; }
# daemon_stats: the tinydcc daemon's --stats counters, "NAME VALUE" lines.
daemon_stats() {
  python3 - "$stats_port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
page = b""
while chunk := s.recv(65536):
    page += chunk
for line in page.decode(errors="replace").splitlines():
    if line.startswith("dcc_"):
        print(line)
PY
}
# store_figures PREFIX: what this build moved the daemon's counters by
# (stats.before, stats.after), per job: bytes the client sent per
# connection, contents written into job directories and laid out from the
# header store per pump job; and whether the client used the store form
# (its record of this host says version 1: else it sent plain protocol 3).
store_figures() {
  local prefix=$1 record
  record=$(cat "$work/distcc/store/hsto_tcp_127.0.0.1_${port}_0" 2>/dev/null || echo 0)
  awk -v p="$prefix" -v rec="$record" '
    FNR == NR { before[$1] = $2; next }
    { d[$1] = $2 - before[$1] }
    END {
      jobs = d["dcc_tcp_accept"]; pump = d["dcc_pump_jobs"]
      printf "@bench %s.request_bytes %d\n", p, d["dcc_request_bytes"]
      if (jobs > 0) printf "@bench %s.bytes_per_job %.0f\n", p, d["dcc_request_bytes"] / jobs
      printf "@bench %s.pump_jobs %d\n", p, pump
      if (pump > 0) {
        printf "@bench %s.files_written_per_job %.1f\n", p, d["dcc_pump_files_written"] / pump
        printf "@bench %s.files_linked_per_job %.1f\n", p, d["dcc_pump_files_linked"] / pump
      }
      printf "@bench %s.store_form %d\n", p, rec + 0
    }' "$work/stats.before" "$work/stats.after"
}
# local_build: time a local build; record its objects and dependencies,
# or (when recorded) check them.
local_build() {
  local t0 t1 s
  [ -f .config ] || "${kmake[@]}" tinyconfig >/dev/null
  clean
  t0=$(date +%s.%N)
  ( "${kmake[@]}" -j2 vmlinux >/dev/null; st=$?; times > "$cache/local-$arch.times"; exit $st )
  t1=$(date +%s.%N)
  s=$(echo "$t1 - $t0" | bc)
  echo "local -j2: $s s (cpu: $(cpu_of "$cache/local-$arch.times") s)"
  emit "kernel.$arch.local.seconds" "$s"
  emit "kernel.$arch.local.jobs" 2
  emit "kernel.$arch.local.load" "$(cut -d' ' -f1 /proc/loadavg)"
  emit "kernel.$arch.local.cpu" "$(cpu_of "$cache/local-$arch.times")"
  if [ -f "$local_sums" ] && [ -f "$local_deps" ]; then
    sums | diff "$local_sums" - >&2 || { echo "local build differs from the recorded one" >&2; exit 1; }
    echo "objects: $(wc -l < "$local_sums") as recorded"
  else
    rm -f "$cache"/local-"$arch"-*.sums "$cache"/local-"$arch"-*.deps
    sums > "$local_sums.tmp"
    deps > "$local_deps"
    mv "$local_sums.tmp" "$local_sums"
  fi
}
if [ "$mode" = local ]; then
  local_build
  exit 0
fi
if [ ! -f "$local_sums" ] || [ ! -f "$local_deps" ]; then
  local_build
fi
nostore=
if [ "${HEADER_STORE:-1}" = 0 ]; then nostore=.nostore; fi
key=$mode.$client.$daemon${CACHE:+.cache}${CCACHE:+.ccache}$nostore${KEY_TAG:+.$KEY_TAG}
clean

work=$(mktemp -d /tmp/tinydcc-kernel.XXXXXX)
chmod 777 "$work"
# The daemon's job directories on tmpfs where there is one: a kernel TU
# in pump mode is ~900 headers laid out and deleted again, which on a busy
# ext4 cost ~0.3 s of kernel time per job (its inode allocator), more than
# all the daemon's other work. (Not on a small /dev/shm, such as a
# container's 64 MB: four jobs' files and the include server's copies.)
# SCRATCH=tmp keeps them under /tmp, as a daemon with the default TMPDIR
# has them (issue 13 asks for that, whatever file system /tmp is on).
shm_free=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')
if [ "${SCRATCH:-}" != tmp ] && [ -w /dev/shm ] && [ "${shm_free:-0}" -ge 1048576 ]; then
  scratch=$(mktemp -d /dev/shm/tinydcc-kernel.XXXXXX)
else
  scratch=$work/scratch
fi
daemon_pid=
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$work" "$scratch"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
mkdir -p "$scratch" "$work/distcc"
chmod 777 "$scratch"
# (Without the lock's fd: a daemon left behind must not hold it.)
case $daemon in
  tinydcc) dcmd=("$tiny" --daemon) ;;
  stock) dcmd=(distccd --daemon) ;;
esac
cache_opts=()
if [ -n "${CACHE:-}" ]; then
  [ "$daemon" = tinydcc ] || { echo "CACHE=1 needs DAEMON=tinydcc" >&2; exit 2; }
  cache_opts=(--cache-dir "$work/cache" --cache-size 2G)
fi
if [ -n "$nostore" ]; then
  [ "$daemon" = tinydcc ] || { echo "HEADER_STORE=0 needs DAEMON=tinydcc" >&2; exit 2; }
  cache_opts+=(--no-header-store)
fi
# tinydcc's daemon: its --stats page, for the bytes and files per job.
stats_port=
if [ "$daemon" = tinydcc ]; then
  stats_port=$(free_port)
  cache_opts+=(--stats --stats-port "$stats_port")
fi
TMPDIR=$scratch "${dcmd[@]}" "${cache_opts[@]}" --no-detach --listen 127.0.0.1 --port "$port" \
  --allow 127.0.0.1 -j "$jobs" --log-file "$work/daemon.log" --log-level info 9>&- &
daemon_pid=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done

case $client in
  tinydcc) cc=("$tiny" "$ccname") ;;
  distcc) cc=(distcc "$ccname") ;;
  *) echo "unknown client $client" >&2; exit 2 ;;
esac
if [ -n "${CCACHE:-}" ]; then
  [ "$mode" = plain ] || { echo "CCACHE=1 is for plain mode" >&2; exit 2; }
  export CCACHE_PREFIX=${cc[0]} CCACHE_DIR=$work/ccache CCACHE_BASEDIR=$src
  cc=(ccache "$ccname")
fi
hosts="127.0.0.1:$port/$jobs,lzo"
run=()
if [ "$mode" = pump ]; then hosts="$hosts,cpp"; run=("$tiny" --pump); fi
hz=$(getconf CLK_TCK)
# daemon_ticks: the daemon's CPU so far in clock ticks, user + system of
# itself and of the children it reaped (utime stime cutime cstime). stock
# distccd's preforked workers are not reaped until they exit: its figure
# counts only the parent.
daemon_ticks() { awk '{ print $14 + $15 + $16 + $17 }' "/proc/$daemon_pid/stat"; }
# remote_build KEY: one timed build through the daemon, its figures as
# KEY's, its objects and dependencies checked against the local build.
remote_build() {
local key=$1 log_from
log_from=$(wc -l < "$work/daemon.log")
cpu_from=$(daemon_ticks)
[ -z "$stats_port" ] || daemon_stats > "$work/stats.before"
# The daemon's log lines of this build only.
newlog() { tail -n +"$((log_from + 1))" "$work/daemon.log"; }
t0=$(date +%s.%N)
( DISTCC_HOSTS=$hosts DISTCC_DIR=$work/distcc DISTCC_FALLBACK=0 \
    "${run[@]}" "${kmake[@]}" -j"$jobs" CC="${cc[*]}" vmlinux 2> "$work/build.err"
  st=$?; times > "$work/times"; exit $st ) || {
  tail -20 "$work/build.err" >&2; exit 1; }
t1=$(date +%s.%N)
grep '^pump:' "$work/build.err" || true
# The daemon's own CPU and its compilers' (utime stime cutime cstime).
daemon_cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f s (its compilers %.1f s)", ($14 + $15) / hz, ($16 + $17) / hz }' "/proc/$daemon_pid/stat")
s=$(echo "$t1 - $t0" | bc)
echo "$mode/$client -> $daemon daemon, $arch -j$jobs: $s s (cpu: build side $(cpu_of "$work/times") s, daemon $daemon_cpu)"
emit "kernel.$arch.$key.seconds" "$s"
emit "kernel.$arch.$key.jobs" "$jobs"
emit "kernel.$arch.$key.load" "$(cut -d' ' -f1 /proc/loadavg)"
emit "kernel.$arch.$key.scratch_fs" "$(stat -f -c %T "$scratch")"
emit "kernel.$arch.$key.hosts" "${hosts/:$port/:PORT}"
# CPU of the whole build: make's side, plus the daemon and all it ran
# (stock distccd's preforked workers are still alive: count them too).
emit "kernel.$arch.$key.cpu_build" "$(cpu_of "$work/times")"
emit "kernel.$arch.$key.cpu_daemon_all" "$(for p in "$daemon_pid" $(pgrep -P "$daemon_pid"); do
  cat "/proc/$p/stat"; done | awk -v hz="$(getconf CLK_TCK)" '{ t += $14 + $15 + $16 + $17 } END { printf "%.1f", t / hz }')"
emit "kernel.$arch.$key.cpu_daemon_own" "$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$daemon_pid/stat")"
if grep -q '^pump:' "$work/build.err"; then
  emit "kernel.$arch.$key.pump_sent" "$(sed -n 's/^pump: \([0-9]*\) compile(s) sent.*/\1/p' "$work/build.err")"
fi
daemon_jobs=$(newlog | grep -c COMPILE_OK || true)
emit "kernel.$arch.$key.daemon_jobs" "$daemon_jobs"
# This build's share of the daemon's CPU (issue 13, 16): its own and its
# reaped compilers' (the server's cpp in pump mode included), from the
# ticks before the build; per job over the jobs it answered (cache hits
# too). The daemon stays up for a REBUILD, so the warm build is a
# difference as well.
cpu_ticks=$(( $(daemon_ticks) - cpu_from ))
emit "kernel.$arch.$key.daemon_cpu" "$(awk -v t="$cpu_ticks" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')"
if [ "$daemon_jobs" -gt 0 ]; then
  emit "kernel.$arch.$key.daemon_cpu_per_job" \
    "$(awk -v t="$cpu_ticks" -v hz="$hz" -v n="$daemon_jobs" 'BEGIN { printf "%.4f", t / hz / n }')"
fi
emit "kernel.$arch.$key.protocol3" "$(newlog | grep -c 'protocol 3 request' || true)"
emit "kernel.$arch.$key.cache_hits" "$(newlog | grep -c '(cache hit)$' || true)"
if [ -n "$stats_port" ]; then
  daemon_stats > "$work/stats.after"
  store_figures "kernel.$arch.$key"
fi
# Every compile (-c, or -S for asm-offsets) make ran through the client,
# by source file, from the .cmd files kbuild keeps; and which of them did
# not reach the daemon as protocol 3 (stock distcc runs .S files locally).
{ find . \( -name '.*.o.cmd' -o -name '.*.s.cmd' \) -exec grep -hF " := ${cc[*]} " {} + || true; } \
  | { grep -o ' -o [^ ]* [^ ;]*' || true; } | awk '{print $3}' | sort -u > "$work/tus"
newlog | sed -n 's/.*protocol 3 request for \(.*\): [0-9]* files and links$/\1/p' \
  | sort -u > "$work/p3"
comm -23 "$work/tus" "$work/p3" > "$work/not-p3"
echo "TUs: $(wc -l < "$work/tus") compiled through $client"
echo "daemon: $(newlog | grep -c COMPILE_OK) compiles, $(newlog | grep -c 'protocol 3 request') as protocol 3, $(newlog | grep -c '(cache hit)$') cache hits"
if [ -s "$work/not-p3" ]; then
  echo "not as protocol 3: $(wc -l < "$work/not-p3") ($(sed 's/.*\.//' "$work/not-p3" | sort | uniq -c | awk '{printf "%s%s .%s", (NR > 1 ? ", " : ""), $1, $2}')): $(head -5 "$work/not-p3" | tr '\n' ' ')"
fi
# same_as_local WHAT RECORDED THIS: stop unless this build's list equals
# the local build's.
same_as_local() {
  diff "$2" "$3" > "$work/diff" && return
  echo "$1 differ from the local build:" >&2
  head -20 "$work/diff" >&2
  exit 1
}
sums > "$work/remote.sums"
same_as_local objects "$local_sums" "$work/remote.sums"
echo "objects: $(wc -l < "$work/remote.sums") identical"
emit "kernel.$arch.$key.objects" "$(wc -l < "$work/remote.sums")"
deps > "$work/remote.deps"
same_as_local "dependency files" "$local_deps" "$work/remote.deps"
echo "dependencies: $(wc -l < "$work/remote.deps") .cmd files identical"
}
remote_build "$key"
if [ -n "${REBUILD:-}" ]; then
  clean
  echo "rebuild after make clean, same daemon:"
  remote_build "$key.warm"
fi
