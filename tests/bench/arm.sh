#!/usr/bin/env bash
# ARM build benchmark: builds the static armv7 binary once per opt-level
# (cross/build-armv7.sh, one target dir per level so the normal build's cache
# is left alone), then prints its size and per-job latencies under
# qemu-arm-static as a markdown table. Numbers, not assertions; not part of
# tests/run. qemu-user translates ARM code as it first runs, so startup cost
# grows with the code that runs, and steady-state speed follows the code's
# quality: both show up in a per-job time.
#   tests/bench/arm.sh [RUNS] [VARIANTS...]     (default: 20 z s 3 z+lzo1x=3)
# A variant is an opt-level, optionally with per-crate overrides:
# z+lzo1x=3 is opt-level z with the lzo1x crate at opt-level 3; z+deps=3
# puts every crate but tinydcc (std included: it is built from source) at 3;
# z+std=optimize_for_size builds std with those features (ARM_STD_FEATURES;
# z+std= with none); z+flags= builds without the script's size rustflags,
# z+flags=-Zfmt-debug=none,-Zlocation-detail=none with those
# (STATIC_SIZE_RUSTFLAGS). Without std= or flags=, the script's defaults.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
runs=${1:-20}
shift || true
levels=("$@")
[ ${#levels[@]} -gt 0 ] || levels=(z s 3 z+lzo1x=3)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
need=()
for t in distcc:distcc gcc:gcc qemu-arm-static:qemu-user-static \
         arm-linux-gnueabihf-gcc:gcc-arm-linux-gnueabihf; do
  command -v "${t%%:*}" >/dev/null || need+=("${t#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi

# The x86 daemon and client the ARM binary talks to.
cargo build --release -q
x86=$(cargo metadata --no-deps --format-version 1 | python3 -c \
  'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/tinydcc

bench_root=${CARGO_TARGET_DIR:-$repo/target}/bench-arm-opt
declare -A bin
mkdir -p "$bench_root"
for l in "${levels[@]}"; do
  echo "==> $l" >&2
  IFS=+ read -r -a parts <<<"$l"
  extra=()
  envs=()
  for o in "${parts[@]:1}"; do
    if [ "${o%%=*}" = std ]; then envs+=("ARM_STD_FEATURES=${o#*=}"); continue; fi
    if [ "${o%%=*}" = flags ]; then v=${o#*=}; envs+=("STATIC_SIZE_RUSTFLAGS=${v//,/ }"); continue; fi
    v=${o#*=}; case $v in [0-9]) ;; *) v="\"$v\"" ;; esac  # TOML: 3, or "z"
    pkg=${o%%=*}; [ "$pkg" != deps ] || pkg='"*"'  # deps: every crate but ours, std too
    extra+=(--config "profile.release.package.$pkg.opt-level=$v")
  done
  env ${envs[@]+"${envs[@]}"} CARGO_TARGET_DIR="$bench_root/$l" CARGO_PROFILE_RELEASE_OPT_LEVEL="${parts[0]}" \
    cross/build-armv7.sh -- ${extra[@]+"${extra[@]}"} >"$bench_root/$l.log" 2>&1 \
    || { cat "$bench_root/$l.log" >&2; exit 1; }
  bin[$l]=$(CARGO_TARGET_DIR=$bench_root/$l cross/build-armv7.sh --print-path)
done

work=$(mktemp -d /tmp/tinydcc-armbench.XXXXXX)
chmod 777 "$work"  # daemons started as root drop to nobody
pids=()
cleanup() {
  for p in ${pids[@]+"${pids[@]}"}; do kill -- -"$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
mkdir -m 777 tmp dd wl
for c in gcc x86_64-linux-gnu-gcc arm-linux-gnueabihf-gcc; do ln -s "$(command -v $c)" "wl/$c"; done
printf '#include <stdio.h>\n\nint main(void)\n{\n\tprintf("Hello distcc\\n");\n\treturn 0;\n}\n' > hello_distcc.c
# A large source that compiles in a few ms: ~1 MB of string literals in,
# a ~0.9 MB object back, so the time goes to our LZO and I/O paths on both
# sides, not to gcc. Half random, half repetitive: it compresses about as
# well as preprocessed C.
python3 - <<'PY'
import random
r = random.Random(1)
alpha = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:"
with open("data.c", "w") as f:
    f.write("const char text[] =\n")
    for i in range(8192):
        line = "".join(r.choice(alpha) for _ in range(60)) + ("int x%d = %d; " % (i, i)) * 3
        f.write('  "' + line[:120] + '"\n')
    f.write(";\n")
PY

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start() {  # start LOG CMD...: a daemon in its own session; waits for its port
  local log=$1 p=$2; shift 2
  TMPDIR=$work/tmp setsid "$@" --daemon --no-detach --listen 127.0.0.1 --port "$p" \
    --allow 127.0.0.1 -j 2 --whitelist-dir "$work/wl" --log-file "$work/$log" &
  pids+=($!)
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null && return; sleep 0.1; done
  echo "daemon $log did not start" >&2; cat "$work/$log" >&2; exit 1
}
xp=$(port)
start x86.log "$xp" "$x86"
args=()
for l in "${levels[@]}"; do
  ap=$(port)
  start "arm-$l.log" "$ap" qemu-arm-static "${bin[$l]}"
  args+=("$l" "${bin[$l]}" "$ap")
done

# Every measure runs once per variant in turn, RUNS times over: on a shared
# machine the load drifts, and interleaving spreads it over all variants.
python3 - "$runs" "$xp" "$x86" "$work" "${args[@]}" <<'PY'
import datetime, os, platform, statistics, subprocess, sys, time
runs, xp, x86, work = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
v = sys.argv[5:]
variants = [(v[i], v[i + 1], v[i + 2]) for i in range(0, len(v), 3)]
env = dict(os.environ, DISTCC_DIR=f"{work}/dd", DISTCC_FALLBACK="0")
cc = "arm-linux-gnueabihf-gcc"
def cmds(name, binary, ap):
    q = ["qemu-arm-static", binary]
    return {
        "version": (q + ["--version"], None),
        "arm-client-hello": (q + [cc, "-c", "hello_distcc.c", "-o", f"c-{name}.o"], f"127.0.0.1:{xp}"),
        "arm-client-lzo-1MB": (q + [cc, "-c", "data.c", "-o", f"d-{name}.o"], f"127.0.0.1:{xp},lzo"),
        "arm-daemon-hello": (["distcc", cc, "-c", "hello_distcc.c", "-o", f"e-{name}.o"], f"127.0.0.1:{ap}"),
        "arm-daemon-lzo-1MB": (["distcc", cc, "-c", "data.c", "-o", f"f-{name}.o"], f"127.0.0.1:{ap},lzo"),
    }
def once(argv, hosts):
    e = dict(env, DISTCC_HOSTS=hosts) if hosts else env
    t = time.perf_counter()
    subprocess.run(argv, env=e, check=True, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - t) * 1000
base = {"local-cross": ([cc, "-c", "hello_distcc.c", "-o", "l.o"], None),
        "x86-client-x86-daemon": ([x86, cc, "-c", "hello_distcc.c", "-o", "b.o"], f"127.0.0.1:{xp}")}
table = {n: cmds(n, b, p) for n, b, p in variants}
times = {(n, k): [] for n in list(table) + ["base"] for k in list(table[variants[0][0]]) + list(base)}
for warm in range(3 + runs):
    for k, (argv, hosts) in base.items():
        t = once(argv, hosts)
        if warm >= 3: times[("base", k)].append(t)
    for k in table[variants[0][0]]:
        for n in table:
            argv, hosts = table[n][k]
            t = once(argv, hosts)
            if warm >= 3: times[(n, k)].append(t)
ref = open("l.o", "rb").read()
for n in table:
    for o in (f"c-{n}.o", f"e-{n}.o"):
        assert open(o, "rb").read() == ref, f"{o} differs from a local cross compile"
med = lambda n, k: statistics.median(times[(n, k)])
q = subprocess.run(["qemu-arm-static", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
print(f"## ARM opt-level benchmark ({datetime.date.today()}, {platform.machine()}, {os.cpu_count()} cores, "
      f"{q}, {runs} runs interleaved; tests/bench/arm.sh)")
print()
print(f"Baselines (median): local {cc} -c hello {med('base', 'local-cross'):.1f} ms; "
      f"x86 tinydcc client to x86 daemon {med('base', 'x86-client-x86-daemon'):.1f} ms.")
print()
rows = [("size (bytes)", None), ("--version under qemu (ms)", "version"),
        ("ARM client -> x86 daemon, hello (ms)", "arm-client-hello"),
        ("ARM client -> x86 daemon, 1 MB source, lzo (ms)", "arm-client-lzo-1MB"),
        ("x86 distcc -> ARM daemon, hello (ms)", "arm-daemon-hello"),
        ("x86 distcc -> ARM daemon, 1 MB source, lzo (ms)", "arm-daemon-lzo-1MB")]
print("| median | " + " | ".join(f"opt-level {n}" for n in table) + " |")
print("|---|" + "---|" * len(table))
for label, k in rows:
    if k is None:
        cells = [f"{os.path.getsize(b):,}" for _, b, _ in variants]
    else:
        cells = [f"{med(n, k):.1f}" for n in table]
    print(f"| {label} | " + " | ".join(cells) + " |")
PY
