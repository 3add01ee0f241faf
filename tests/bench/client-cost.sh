#!/usr/bin/env bash
# Client cost per job, tinydcc vs stock distcc, in one run against the same
# stock distccd on 127.0.0.1: mean CPU time (user+sys, the client and the
# children it waits for) and peak RSS of the client, per remote job.
#  - "stubbed": cpp is replaced by a tiny stand-in that prints a canned .i
#    (the same for both clients), so the numbers are the clients' own work:
#    host list, locks, fork/exec of cpp, connect, send, receive, write the
#    object. Plain and LZO.
#  - "real cpp": the real gcc, so a plain-mode job includes its local
#    `gcc -E`, and pump mode (hosts ,lzo,cpp under `tinydcc --pump`) shows
#    what the client saves by not preprocessing. The include server is not
#    the client's child and is not counted (it serves the whole build).
# Prints a table and "@bench KEY VALUE" lines (lib.sh). Not run by
# tests/run (it prints ratios and asserts nothing).
#   tests/bench/client-cost.sh [JOBS]   (default 300)
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
jobs=${1:-300}
bench_apt distcc gcc python3
tiny=$(bench_tinydcc)
stock=$(command -v distcc)
work=$(mktemp -d "${TMPDIR:-/tmp}/tinydcc-bench.XXXXXX")
daemon_pid=
cleanup() { [ -z "$daemon_pid" ] || kill "$daemon_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cc -O2 -o "$work/runstat" "$bench_repo/tests/bench/runstat.c"
mkdir "$work/fake"
cc -O2 -o "$work/fake/gcc" "$bench_repo/tests/bench/fakecpp.c"
ln -s gcc "$work/fake/x86_64-linux-gnu-gcc"
bench_hello "$work/hello_distcc.c"
gcc -E "$work/hello_distcc.c" -o "$work/hello.i"

port=$(bench_port)
distccd --daemon --no-detach --listen 127.0.0.1 --port "$port" --allow 127.0.0.1 \
  --jobs 4 --log-stderr 2>"$work/distccd.log" &
daemon_pid=$!
bench_wait_port "$port"

measure() { # name client hosts [wrapper...]: "cpu-ms mean-rss-KiB max-rss-KiB"
  local name=$1 client=$2 hosts=$3 path=$PATH; shift 3
  [ "${name#real-}" != "$name" ] || path=$work/fake:$PATH
  mkdir -p "$work/dir-$name"
  (cd "$work" && env PATH="$path" BENCH_I="$work/hello.i" \
    DISTCC_HOSTS="$hosts" DISTCC_DIR="$work/dir-$name" DISTCC_FALLBACK=0 \
    "$@" "$work/runstat" "$jobs" "$client" gcc -c hello_distcc.c -o "hello-$name.o" \
    2>"$work/$name.err") || { cat "$work/$name.err" >&2; return 1; }
}
declare -A cpu rss
row() { # label name client hosts [wrapper...]
  local label=$1 name=$2 line c r max; shift
  line=$(measure "$@")  # not read < <(...): that would not wait for the pump summary
  read -r c r max <<<"$line"
  cpu[$name]=$c; rss[$name]=$r
  printf '%-40s %12s %14s %12s\n' "$label" "$c" "$r" "$max"
  emit "client.$name.cpu_ms" "$c"
  emit "client.$name.rss_mean_kib" "$r"
  emit "client.$name.rss_max_kib" "$max"
  if grep -q '^pump:' "$work/$name.err"; then
    grep '^pump:' "$work/$name.err"
    emit "client.$name.pump_sent" "$(sed -n 's/^pump: \([0-9]*\) compile(s) sent.*/\1/p' "$work/$name.err")"
  fi
}
emit client.jobs "$jobs"
echo "client cost per remote job ($jobs jobs each, same stock distccd)"
printf '%-40s %12s %14s %12s\n' mode "cpu ms/job" "mean RSS KiB" "max RSS KiB"
hosts="127.0.0.1:$port"
measure warm "$tiny" "$hosts" >/dev/null   # page cache, lock dir
row "stock distcc (plain, cpp stubbed)" stock-plain "$stock" "$hosts"
row "tinydcc (plain, cpp stubbed)" tiny-plain "$tiny" "$hosts"
row "stock distcc (lzo, cpp stubbed)" stock-lzo "$stock" "$hosts,lzo"
row "tinydcc (lzo, cpp stubbed)" tiny-lzo "$tiny" "$hosts,lzo"
row "stock distcc (plain, real cpp)" real-stock-plain "$stock" "$hosts"
row "tinydcc (plain, real cpp)" real-tiny-plain "$tiny" "$hosts"
row "tinydcc (pump, real gcc)" real-tiny-pump "$tiny" "$hosts,lzo,cpp" "$tiny" --pump
row "stock distcc (pump via tinydcc's server)" real-stock-pump "$stock" "$hosts,lzo,cpp" "$tiny" --pump
ratio() { # label a b
  awk -v l="$1" -v a="$2" -v b="$3" 'BEGIN { printf "ratio tinydcc/stock, %s: %.2f\n", l, a / b }'
}
ratio "cpu, plain, cpp stubbed" "${cpu[tiny-plain]}" "${cpu[stock-plain]}"
ratio "peak RSS, plain, cpp stubbed" "${rss[tiny-plain]}" "${rss[stock-plain]}"
ratio "cpu, lzo, cpp stubbed" "${cpu[tiny-lzo]}" "${cpu[stock-lzo]}"
ratio "cpu, plain, real cpp" "${cpu[real-tiny-plain]}" "${cpu[real-stock-plain]}"
ratio "cpu, tinydcc pump / stock plain, real cpp" "${cpu[real-tiny-pump]}" "${cpu[real-stock-plain]}"
for o in "$work"/hello-*.o; do
  cmp -s "$o" "$work/hello-real-stock-plain.o" || { echo "client-cost.sh: $o differs" >&2; exit 1; }
done
echo "objects identical"
