#!/usr/bin/env bash
# Client cost per job, tinydcc vs stock distcc, in one run against the same
# stock distccd on 127.0.0.1: mean CPU time (user+sys) and peak RSS of the
# client process, per remote job. cpp is replaced by a tiny stand-in that
# prints a canned .i (the same for both clients), so the numbers are the
# clients' own work: host list, locks, fork/exec of cpp, connect, send,
# receive, write the object. Not run by tests/run (it prints ratios and
# asserts nothing). Usage: tests/bench/client-cost.sh [JOBS]   (default 300)
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs=${1:-300}
target=${CARGO_TARGET_DIR:-target}
cargo build --release -q
tiny=$(realpath "$target/release/tinydcc")
stock=$(command -v distcc)
work=$(mktemp -d "${TMPDIR:-/tmp}/tinydcc-bench.XXXXXX")
daemon_pid=
cleanup() { [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cc -O2 -o "$work/runstat" tests/bench/runstat.c
mkdir "$work/fake"
cc -O2 -o "$work/fake/gcc" tests/bench/fakecpp.c
ln -s gcc "$work/fake/x86_64-linux-gnu-gcc"
printf '#include <stdio.h>\n\nint main(void)\n{\n\tprintf("Hello distcc\\n");\n\treturn 0;\n}\n' > "$work/hello_distcc.c"
gcc -E "$work/hello_distcc.c" -o "$work/hello.i"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 39632)
distccd --daemon --no-detach --listen 127.0.0.1 --port "$port" --allow 127.0.0.1 \
  --jobs 4 --log-stderr 2>"$work/distccd.log" &
daemon_pid=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

measure() { # name client hosts
  mkdir -p "$work/dir-$1"
  (cd "$work" && env PATH="$work/fake:$PATH" BENCH_I="$work/hello.i" \
    DISTCC_HOSTS="$3" DISTCC_DIR="$work/dir-$1" DISTCC_FALLBACK=0 \
    "$work/runstat" "$jobs" "$2" gcc -c hello_distcc.c -o "hello-$1.o")
}
echo "client cost per remote job ($jobs jobs each, same stock distccd, cpp stubbed)"
printf '%-22s %12s %14s %12s\n' mode "cpu ms/job" "mean RSS KiB" "max RSS KiB"
for mode in plain lzo; do
  hosts="127.0.0.1:$port"; [ "$mode" = lzo ] && hosts="$hosts,lzo"
  measure warm "$tiny" "$hosts" >/dev/null   # page cache, lock dir
  read -r s_cpu s_rss s_max < <(measure "stock-$mode" "$stock" "$hosts")
  read -r t_cpu t_rss t_max < <(measure "tiny-$mode" "$tiny" "$hosts")
  printf '%-22s %12s %14s %12s\n' "stock distcc ($mode)" "$s_cpu" "$s_rss" "$s_max"
  printf '%-22s %12s %14s %12s\n' "tinydcc ($mode)" "$t_cpu" "$t_rss" "$t_max"
  awk -v a="$t_cpu" -v b="$s_cpu" -v c="$t_rss" -v d="$s_rss" -v m="$mode" \
    'BEGIN { printf "ratio tinydcc/stock (%s): cpu %.2f, peak RSS %.2f\n", m, a / b, c / d }'
done
cmp -s "$work/hello-stock-plain.o" "$work/hello-tiny-plain.o" && echo "objects identical" || echo "objects DIFFER"
