#!/usr/bin/env bash
# Resident memory of the static musl daemon, measured natively: the boards'
# build (cross/build-static.sh: same std, profile, size flags and zig musl
# libc) made for x86_64-unknown-linux-musl, so /proc shows what the daemon
# keeps resident without qemu-user's own memory in the way. Prints:
#   static_rss_idle_kib=N   VmRSS of the daemon, idle after start
#   static_rss_busy_kib=N   its peak VmRSS (VmHWM) over 2 big compiles at
#                           once (lzo) and 20 small jobs; compilers not counted
# Numbers, not assertions; not part of tests/run. The build goes to cargo's
# target dir ($CARGO_TARGET_DIR, else target/), build log on stderr on failure.
#   tests/bench/static-rss.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
for t in gcc python3; do
  command -v "$t" >/dev/null || { echo "error: $t is needed" >&2; exit 1; }
done

target=x86_64-unknown-linux-musl
log=$(mktemp)
cross/build-static.sh "$target" >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; exit 1; }
rm -f "$log"
bin=$(cross/build-static.sh "$target" --print-path)

work=$(mktemp -d /tmp/tinydcc-rss.XXXXXX)
chmod 777 "$work"  # a daemon started as root drops to nobody
daemon=""
cleanup() {
  [ -z "$daemon" ] || kill "$daemon" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
mkdir dd
printf '#include <stdio.h>\n\nint main(void)\n{\n\tprintf("Hello distcc\\n");\n\treturn 0;\n}\n' > hello.c
python3 - <<'PY'
with open("big.c", "w") as f:
    for i in range(3000):
        f.write(f"int f{i}(int x) {{ int s = 0; for (int j = 0; j < x; j++) s += j * {i} % 7; return s; }}\n")
PY
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

"$bin" --daemon --no-detach --listen 127.0.0.1 --port "$port" --allow 127.0.0.1 -j 2 \
  --log-file "$work/daemon.log" &
daemon=$!
for _ in $(seq 100); do
  grep -q listening daemon.log 2>/dev/null && break
  sleep 0.05
done
grep -q listening daemon.log || { cat daemon.log >&2; echo "error: the daemon did not start" >&2; exit 1; }
sleep 0.5
kib() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$daemon/status"; }
idle=$(kib VmRSS)

export DISTCC_DIR=$work/dd DISTCC_FALLBACK=0
big=()
for i in 1 2; do
  DISTCC_HOSTS="127.0.0.1:$port/2,lzo" "$bin" gcc -O2 -c big.c -o "big$i.o" & big+=($!)
done
for i in $(seq 20); do
  DISTCC_HOSTS="127.0.0.1:$port/2" "$bin" gcc -c hello.c -o "hello$i.o"
done
for p in "${big[@]}"; do wait "$p"; done
busy=$(kib VmHWM)

echo "static_rss_idle_kib=$idle"
echo "static_rss_busy_kib=$busy"
