# shellcheck shell=bash
# Helpers shared by the benchmark scripts (sourced, never run).
# A measured value is printed as one line "@bench KEY VALUE"; tests/bench/run
# collects those lines into its results table, everything else is for people.

bench_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# bench_apt PACKAGE...: install those of Debian's packages that are missing.
bench_apt() {
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "bench: installing ${missing[*]}" >&2
  as_root apt-get update -q >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}" >&2
}

# bench_tinydcc_static: the static x86_64 musl build, made the way the
# boards' armv7 binary is (cross/build-static.sh): what tinydcc ships as.
bench_tinydcc_static() {
  local log; log=$(mktemp)
  (cd "$bench_repo" && nice cross/build-static.sh x86_64-unknown-linux-musl) >"$log" 2>&1 \
    || { cat "$log" >&2; rm -f "$log"; return 1; }
  rm -f "$log"
  (cd "$bench_repo" && cross/build-static.sh x86_64-unknown-linux-musl --print-path)
}

# bench_tinydcc: the release binary's path, built unless $TINYDCC names one.
bench_tinydcc() {
  if [ -n "${TINYDCC:-}" ]; then echo "$TINYDCC"; return; fi
  (cd "$bench_repo" && nice cargo build --release -q) >&2
  realpath "${CARGO_TARGET_DIR:-$bench_repo/target}/release/tinydcc"
}

bench_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# bench_wait_port PORT: until something listens there (10 s at most).
bench_wait_port() {
  local _
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench: nothing listens on 127.0.0.1:$1" >&2
  return 1
}

# hello_distcc.c, the usual first test of a distcc set-up.
bench_hello() {
  printf '#include <stdio.h>\n\nint main(void)\n{\n\tprintf("Hello distcc\\n");\n\treturn 0;\n}\n' > "$1"
}

emit() { printf '@bench %s %s\n' "$1" "$2"; }
