#!/usr/bin/env bash
# Per-job wall time of hello_distcc.c (a distcc set-up's usual first test),
# client and daemon in pairs on 127.0.0.1: local `gcc -c`, stock distcc ->
# stock distccd and tinydcc -> tinydcc daemon, plain, LZO and pump
# (hyperfine, mean of RUNS runs after 3 warm-ups). Pump runs hyperfine itself under the pump wrapper,
# so every job sees INCLUDE_SERVER_PORT; the wrapper's summary line and the
# tinydcc daemon's "protocol 3 request" log lines say how many jobs really
# went out as pump jobs. Every object is compared with the local one.
# Prints "@bench KEY VALUE" lines (see lib.sh). Not part of tests/run.
#   tests/bench/hello.sh [RUNS]       (default 30)
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
runs=${1:-30}
[ "$runs" -ge 2 ] || { echo "hello.sh: RUNS must be at least 2" >&2; exit 2; }
bench_apt distcc distcc-pump hyperfine gcc python3
tiny=$(bench_tinydcc)

work=$(mktemp -d /tmp/tinydcc-bench-hello.XXXXXX)
chmod 777 "$work"  # daemons started as root drop privileges, then open their logs
pids=()
cleanup() {
  for p in ${pids[@]+"${pids[@]}"}; do kill -- -"$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
mkdir -m 777 scratch dd
bench_hello hello_distcc.c
gcc -c hello_distcc.c -o reference.o

slots=2
sp=$(bench_port); tp=$(bench_port)
TMPDIR=$work/scratch setsid distccd --daemon --no-detach --listen 127.0.0.1 --port "$sp" \
  --allow 127.0.0.1 -j $slots --log-file "$work/stock.log" & pids+=($!)
# debug: the daemon logs "protocol 3 request" only at that level.
TMPDIR=$work/scratch setsid "$tiny" --daemon --no-detach --listen 127.0.0.1 --port "$tp" \
  --allow 127.0.0.1 -j $slots --log-file "$work/tiny.log" --log-level debug & pids+=($!)
bench_wait_port "$sp"; bench_wait_port "$tp"

export DISTCC_DIR=$work/dd DISTCC_FALLBACK=0
hf=(hyperfine -N --style basic --warmup 3 --runs "$runs")
job() { # NAME HOSTS CLIENT...: a hyperfine "-n NAME CMD" pair
  local name=$1 hosts=$2; shift 2
  printf '%s\n' -n "$name" "env DISTCC_HOSTS=$hosts $* -c hello_distcc.c -o $name.o"
}
mapfile -t plain < <(
  printf '%s\n' -n local "gcc -c hello_distcc.c -o local.o"
  job stock-plain "127.0.0.1:$sp/$slots" distcc gcc
  job stock-lzo "127.0.0.1:$sp/$slots,lzo" distcc gcc
  job tinydcc-plain "127.0.0.1:$tp/$slots" "$tiny" gcc
  job tinydcc-lzo "127.0.0.1:$tp/$slots,lzo" "$tiny" gcc
  if [ -n "${TINYDCC_GLIBC:-}" ]; then
    job tinydcc-glibc-plain "127.0.0.1:$tp/$slots" "$TINYDCC_GLIBC" gcc
  fi)
"${hf[@]}" --export-json plain.json "${plain[@]}"

count() { grep -c "$1" tiny.log || true; }
# pump_run NAME WRAPPER HOSTS CLIENT...: hyperfine under a pump wrapper.
pump_run() {
  local name=$1 wrapper=$2 hosts=$3; shift 3
  local p3 ok w cmd
  p3=$(count 'protocol 3 request'); ok=$(count COMPILE_OK)
  read -r -a w <<<"$wrapper"
  # local gcc -c again in the same hyperfine run: the pump overhead is
  # taken against it, not against a batch run minutes earlier.
  mapfile -t cmd < <(printf '%s\n' -n "local-for-$name" "gcc -c hello_distcc.c -o local-for-$name.o"
    job "$name" "$hosts" "$@")
  DISTCC_HOSTS=$hosts "${w[@]}" "${hf[@]}" --export-json "$name.json" "${cmd[@]}" 2> "$name.err" \
    || { cat "$name.err" >&2; exit 1; }
  grep -v '^pump:' "$name.err" >&2 || true
  local summary; summary=$(grep '^pump:' "$name.err" || echo "pump: no summary")
  echo "$name: $summary"
  emit "hello.$name.jobs" $((runs + 3))
  emit "hello.$name.pump_sent" "$(sed -n 's/^pump: \([0-9]*\) compile(s) sent.*/\1/p' <<<"$summary")"
  if [ "$hosts" != "${hosts#127.0.0.1:"$tp"}" ]; then
    emit "hello.$name.daemon_jobs" $(($(count COMPILE_OK) - ok))
    emit "hello.$name.protocol3" $(($(count 'protocol 3 request') - p3))
  fi
}
# tinydcc client, our include server, our daemon.
pump_run tinydcc-pump "$tiny --pump" "127.0.0.1:$tp/$slots,lzo,cpp" "$tiny" gcc
if [ -n "${TINYDCC_GLIBC:-}" ]; then
  pump_run tinydcc-glibc-pump "$tiny --pump" "127.0.0.1:$tp/$slots,lzo,cpp" "$TINYDCC_GLIBC" gcc
fi
# Stock distcc client through our include server, to our daemon and to distccd.
pump_run stock-client-pump "$tiny --pump" "127.0.0.1:$tp/$slots,lzo,cpp" distcc gcc
pump_run stock-client-pump-distccd "$tiny --pump" "127.0.0.1:$sp/$slots,lzo,cpp" distcc gcc

# Stock pump (Debian's distcc-pump include server): timed only if it works.
DISTCC_HOSTS="127.0.0.1:$sp/$slots,lzo,cpp" distcc-pump \
  sh -c 'DISTCC_VERBOSE=1 distcc gcc -c hello_distcc.c -o stock-pump-check.o' > stock-pump-check.err 2>&1
if grep -q 'preprocessing locally' stock-pump-check.err; then
  why=$(grep -E '^[A-Za-z.]*Error: ' stock-pump-check.err | tail -1 | tr '|' '/')
  emit hello.stock-pump.status "Debian's include server fails (${why:-no reason given}), so every job is preprocessed locally"
else
  emit hello.stock-pump.status ok
  pump_run stock-pump distcc-pump "127.0.0.1:$sp/$slots,lzo,cpp" distcc gcc
fi

for o in *.o; do
  cmp -s "$o" reference.o || { echo "hello.sh: $o differs from a local gcc -c" >&2; exit 1; }
done
python3 - "$runs" ./*.json <<'PY'
import json, sys
runs = sys.argv[1]
for f in sys.argv[2:]:
    for r in json.load(open(f))["results"]:
        n = r["command"]
        assert len(r["times"]) >= int(runs), n
        print(f"@bench hello.{n}.mean_ms {r['mean'] * 1000:.2f}")
        print(f"@bench hello.{n}.sd_ms {r['stddev'] * 1000:.2f}")
        print(f"@bench hello.{n}.runs {len(r['times'])}")
PY
