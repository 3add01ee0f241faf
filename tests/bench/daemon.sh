#!/usr/bin/env bash
# Daemon benchmark: tinydcc's daemon against Debian's distccd, side by side
# in one run on this machine. Prints a markdown table of measured values
# and ratios, and "@bench KEY VALUE" lines (lib.sh) for tests/bench/run.
# Not part of tests/run (numbers, not assertions).
#   tests/bench/daemon.sh [RUNS]
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
runs=${1:-40}
bench_apt distcc hyperfine gcc python3
tiny=$(bench_tinydcc)

work=$(mktemp -d /tmp/tinydcc-bench.XXXXXX)
chmod 777 "$work"  # the stock daemon opens its log after dropping root
pids=()
cleanup() { for p in ${pids[@]+"${pids[@]}"}; do kill -- -"$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
bench_hello hello_distcc.c
# A heavier TU for "busy" RSS: a few seconds of compile each.
python3 - <<'PY'
with open("big.c", "w") as f:
    for i in range(3000):
        f.write(f"int f{i}(int x) {{ int s = 0; for (int j = 0; j < x; j++) s += j * {i} % 7; return s; }}\n")
PY

jobs=2
tp=$(bench_port); sp=$(bench_port)
setsid "$tiny" --daemon --no-detach --listen 127.0.0.1 --port "$tp" --allow 127.0.0.1 -j $jobs --log-file "$work/tiny.log" & pids+=($!)
setsid distccd --daemon --no-detach --listen 127.0.0.1 --port "$sp" --allow 127.0.0.1 -j $jobs --log-file "$work/stock.log" & pids+=($!)
bench_wait_port "$tp"; bench_wait_port "$sp"
sleep 1  # distccd's preforked children

# Sum of VmRSS and Pss over a daemon's whole process group (stock preforks).
mem() {
  local pg=$1 rss=0 pss=0 pid
  for pid in $(pgrep -g "$pg"); do
    r=$(awk '/^VmRSS/{print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    p=$(awk '/^Pss:/{print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)
    rss=$((rss + r)); pss=$((pss + p))
  done
  echo "$rss $pss $(pgrep -g "$pg" | wc -l)"
}
read -r t_rss t_pss t_n < <(mem "${pids[0]}")
read -r s_rss s_pss s_n < <(mem "${pids[1]}")

# Busy: $jobs big compiles in flight on each daemon (client: stock distcc).
busy() {
  local p=$1 pg=$2 i
  for i in $(seq $jobs); do
    DISTCC_HOSTS=127.0.0.1:$p DISTCC_DIR=$work/dd DISTCC_FALLBACK=0 distcc gcc -O2 -c big.c -o "big$i.o" &
  done
  sleep 1.5
  mem "$pg"
  wait
}
mkdir -p dd
# $(...), not < <(...): busy waits for its compiles, and so must we.
line=$(busy "$tp" "${pids[0]}"); read -r tb_rss tb_pss _ <<<"$line"
line=$(busy "$sp" "${pids[1]}"); read -r sb_rss sb_pss _ <<<"$line"

# Per-job latency of hello_distcc.c with the same (stock) client.
hyperfine -N -w 5 -r "$runs" --export-json lat.json \
  -n local "gcc -c hello_distcc.c -o l.o" \
  -n stock-distccd "env DISTCC_HOSTS=127.0.0.1:$sp DISTCC_DIR=$work/dd DISTCC_FALLBACK=0 distcc gcc -c hello_distcc.c -o s.o" \
  -n tinydcc-daemon "env DISTCC_HOSTS=127.0.0.1:$tp DISTCC_DIR=$work/dd DISTCC_FALLBACK=0 distcc gcc -c hello_distcc.c -o t.o" \
  >/dev/null
cmp s.o t.o

python3 - "$t_rss" "$t_pss" "$t_n" "$s_rss" "$s_pss" "$s_n" "$tb_rss" "$tb_pss" "$sb_rss" "$sb_pss" <<'PY'
import json, sys, datetime, platform, os
t_rss, t_pss, t_n, s_rss, s_pss, s_n, tb_rss, tb_pss, sb_rss, sb_pss = map(int, sys.argv[1:])
r = {x["command"]: x for x in json.load(open("lat.json"))["results"]}
med = lambda n: r[n]["median"] * 1000
print(f"## Daemon benchmark ({datetime.date.today()}, {platform.machine()}, {os.cpu_count()} cores; tests/bench/daemon.sh)")
print()
print("| measure | tinydcc daemon | stock distccd | ratio |")
print("|---|---|---|---|")
print(f"| processes idle | {t_n} | {s_n} | |")
print(f"| RSS idle, all processes (KiB) | {t_rss} | {s_rss} | {t_rss/s_rss:.2f} |")
print(f"| PSS idle, all processes (KiB) | {t_pss} | {s_pss} | {t_pss/s_pss:.2f} |")
print(f"| RSS with -j 2 compiles running, daemon only (KiB) | {tb_rss} | {sb_rss} | {tb_rss/sb_rss:.2f} |")
print(f"| PSS with -j 2 compiles running, daemon only (KiB) | {tb_pss} | {sb_pss} | {tb_pss/sb_pss:.2f} |")
lo = med("local")
print(f"| hello_distcc.c per job, median (ms; local gcc -c {lo:.1f}) | {med('tinydcc-daemon'):.1f} | {med('stock-distccd'):.1f} | {med('tinydcc-daemon')/med('stock-distccd'):.2f} |")
for k, v in [("rss_idle_kib", t_rss), ("pss_idle_kib", t_pss), ("procs_idle", t_n),
             ("rss_busy_kib", tb_rss), ("pss_busy_kib", tb_pss)]:
    print(f"@bench daemon.tinydcc.{k} {v}")
for k, v in [("rss_idle_kib", s_rss), ("pss_idle_kib", s_pss), ("procs_idle", s_n),
             ("rss_busy_kib", sb_rss), ("pss_busy_kib", sb_pss)]:
    print(f"@bench daemon.stock.{k} {v}")
for n in ("local", "stock-distccd", "tinydcc-daemon"):
    print(f"@bench daemon.hello.{n}.mean_ms {r[n]['mean'] * 1000:.2f}")
print(f"@bench daemon.hello.runs {len(r['local']['times'])}")
print(f"| overhead over local (ms) | {med('tinydcc-daemon')-lo:.1f} | {med('stock-distccd')-lo:.1f} | {(med('tinydcc-daemon')-lo)/(med('stock-distccd')-lo):.2f} |")
PY

# The boards' static musl daemon, built and measured natively by its own script.
static=$("$bench_repo/tests/bench/static-rss.sh")
idle=$(sed -n 's/^static_rss_idle_kib=//p' <<<"$static")
busy=$(sed -n 's/^static_rss_busy_kib=//p' <<<"$static")
echo
echo "static musl daemon idle RSS: $idle KiB" \
  "(peak with 2 big lzo compiles and 20 small jobs: $busy KiB; tests/bench/static-rss.sh)"
echo "@bench daemon.static.rss_idle_kib $idle"
echo "@bench daemon.static.rss_busy_kib $busy"
