#!/usr/bin/env bash
# The tinydcc daemon's CPU per job on a few kernel sources (issues 13, 16):
# a small trial beside tests/kernel/build.sh's whole-build figures.
#   tests/bench/daemon-cpu.sh MODE [N] [RUNS]     MODE: plain | pump | gcc
#   gcc: no daemon; the same units compiled here from their sources and
#        from their .i (made first, untimed), RUNS times each, alternating:
#        the compiler's own CPU per job both ways, the floor of pump's
#        ratio to plain (a pump job's compiler preprocesses, a plain job's
#        does not)
#   CACHE=1          the daemon keeps a result cache (private, empty)
#   HEADER_STORE=0   --no-header-store
#   DAEMON_OPTS=...  more daemon options
#   PROFILE=strace | perf   the last pass under `strace -c` (the daemon's
#                    own system calls) or `perf record` (its own CPU;
#                    the data is left in /tmp/daemon-cpu.perf.data)
# Compiles the first N (default 20) kernel/ units of the tree build.sh
# leaves in $KERNEL_CACHE (default /var/tmp/tinydcc-kernel), one at a
# time, RUNS (default 3) times through one daemon with its TMPDIR under
# /tmp (the default). The first pass warms the header store; each pass
# after it is measured (with CACHE=1 the later passes are hits, so the
# cold figure is the first pass's: see the "pass 1" line). Prints the
# daemon's CPU per job in ms: its own (utime+stime) and its reaped
# compilers' (cutime+cstime), from /proc/PID/stat.
# Needs the kernel tree built by build.sh and a built tinydcc (TINYDCC).
set -euo pipefail
mode=${1:?mode}
n=${2:-20}
runs=${3:-3}
here=$(cd "$(dirname "$0")/../.." && pwd)
tiny=${TINYDCC:-$here/target/release/tinydcc}
cache=${KERNEL_CACHE:-/var/tmp/tinydcc-kernel}
src=$cache/linux-x86
[ -f "$src/include/generated/autoconf.h" ] || { echo "no built kernel tree in $src: run tests/kernel/build.sh" >&2; exit 2; }
# build.sh's `make clean` must not run under us.
exec 9>"$cache/lock-x86"
flock 9
work=$(mktemp -d /tmp/tinydcc-cpu.XXXXXX)
chmod 777 "$work"
mkdir -m 777 "$work/tmp" "$work/out" "$work/distcc"
daemon_pid=
cleanup() { [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
cd "$src"
# The units' compile commands, from kbuild's .cmd files, with the client
# prefix dropped and the outputs moved into $work/out.
i=0
for f in $(ls kernel/.*.o.cmd | head -n "$n"); do
  i=$((i + 1))
  sed -n '1s/^cmd_[^ ]* := .*\(x86_64-linux-gnu-gcc .*\)$/\1/p' "$f" \
    | sed -e "s|-Wp,-MMD,[^ ]*|-Wp,-MMD,$work/out/$i.d|" -e "s| -o [^ ]*\.o | -o $work/out/$i.o |"
done > "$work/cmds"
if [ "$mode" = gcc ]; then
  i=0
  while read -r c; do
    i=$((i + 1))
    src=${c##* }
    eval "$(sed -e 's| -c | -E |' -e "s| -o [^ ]*\.o | -o $work/out/$i.i |" -e 's|-Wp,-MMD,[^ ]*||' <<< "$c")"
    sed -e 's|-Wp,-MMD,[^ ]*||' -e "s| $src\$| $work/out/$i.i|" <<< "$c"
  done < "$work/cmds" > "$work/icmds"
  # The children's user and system seconds of one pass over a command file.
  cpu() { bash -c 'while read -r c; do eval "$c -pipe" || exit 1; done < "$1"; times' _ "$1" \
    | awk 'NR == 2 { gsub(/[ms]/, " "); print ($1 * 60 + $2 + $3 * 60 + $4) }'; }
  for _ in $(seq "$runs"); do echo "source $(cpu "$work/cmds")"; echo "i $(cpu "$work/icmds")"; done \
    | awk -v n="$n" '{ t[$1] += $2; k[$1]++ }
      END { s = t["source"] / k["source"] / n * 1000; i = t["i"] / k["i"] / n * 1000
            printf "gcc alone, CPU per job: from source %.1f ms, from .i %.1f ms: ratio %.2f (%d passes each)\n", s, i, s / i, k["i"] }'
  exit 0
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
opts=()
[ -n "${CACHE:-}" ] && opts+=(--cache-dir "$work/cache")
[ "${HEADER_STORE:-1}" = 0 ] && opts+=(--no-header-store)
# shellcheck disable=SC2206
opts+=(${DAEMON_OPTS:-})
TMPDIR=$work/tmp "$tiny" --daemon "${opts[@]}" --no-detach --listen 127.0.0.1 --port "$port" \
  --allow 127.0.0.1 -j 1 --log-file "$work/daemon.log" --log-level info 9>&- &
daemon_pid=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
hosts="127.0.0.1:$port/1,lzo"
run=()
if [ "$mode" = pump ]; then hosts="$hosts,cpp"; run=("$tiny" --pump); fi
hz=$(getconf CLK_TCK)
ticks() { awk '{ print $14 + $15, $16 + $17, $14, $15, $16 }' "/proc/$daemon_pid/stat"; }
jobs=$(wc -l < "$work/cmds")
for r in $(seq "$runs"); do
  prof=
  if [ "$r" = "$runs" ] && [ -n "${PROFILE:-}" ]; then
    case $PROFILE in
      strace) strace -c -o "$work/profile" -p "$daemon_pid" & prof=$! ;;
      perf) perf record -q -i -g -o "$work/perf.data" -p "$daemon_pid" 2>/dev/null & prof=$! ;;
    esac
    sleep 0.5
  fi
  read -r own0 kids0 u0 s0 cu0 < <(ticks)
  DISTCC_HOSTS=$hosts DISTCC_DIR=$work/distcc DISTCC_FALLBACK=0 TINYDCC=$tiny CMDS=$work/cmds \
    "${run[@]}" bash -c 'while read -r line; do eval "$TINYDCC $line" || exit 1; done < "$CMDS"' \
    2> "$work/err" || { tail "$work/err" >&2; exit 1; }
  read -r own1 kids1 u1 s1 cu1 < <(ticks)
  if [ -n "$prof" ]; then
    kill -INT "$prof"; wait "$prof" || true
    case $PROFILE in
      strace) head -40 "$work/profile" ;;
      perf) cp "$work/perf.data" /tmp/daemon-cpu.perf.data; perf report -q -i "$work/perf.data" --no-children --percent-limit 1 --stdio -g none 2>/dev/null | head -60 ;;
    esac
  fi
  awk -v r="$r" -v n="$jobs" -v hz="$hz" -v o=$((own1 - own0)) -v k=$((kids1 - kids0)) \
    -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v cu=$((cu1 - cu0)) 'BEGIN {
    printf "pass %d: %d jobs, daemon CPU per job %.1f ms (own %.1f: user %.1f sys %.1f; compilers %.1f: user %.1f sys %.1f)\n",
      r, n, (o + k) * 1000 / hz / n, o * 1000 / hz / n, u * 1000 / hz / n, s * 1000 / hz / n, k * 1000 / hz / n,
      cu * 1000 / hz / n, (k - cu) * 1000 / hz / n }'
done
echo "daemon: $(grep -c COMPILE_OK "$work/daemon.log") compiles, $(grep -c 'protocol 3 request' "$work/daemon.log" || true) as protocol 3, $(grep -c '(cache hit)$' "$work/daemon.log" || true) cache hits"
