#!/usr/bin/env bash
# Build a fully static musl binary without Docker and without touching rustup:
#   Debian's rustc-web/cargo-web + rust-web-src, -Zbuild-std, zig cc (PyPI ziglang) as linker.
# The linker and rustflags come from .cargo/config.toml in the repo root.
#
# Usage: cross/build-static.sh [TARGET] [--print-path] [--manifest-path PATH] [-- EXTRA CARGO ARGS]
#   TARGET                armv7-unknown-linux-musleabihf (default; the boards'), or
#                         x86_64-unknown-linux-musl (the same build, run natively: memory use)
#   --print-path          only print the path of the binary this would build, then exit
#   --manifest-path PATH  build another crate's Cargo.toml (default: the repo's)
# The target dir is cargo's: $CARGO_TARGET_DIR, else target/ beside Cargo.toml.
# Host and static builds can share it (these artefacts go to
# <dir>/TARGET/release/, built by another rustc). cross/build-armv7.sh is this
# script for the default target.
#
# With Docker, `cross` works too (never on a shared machine: it changes rustup toolchains):
#   CROSS_CONFIG=cross/Cross.toml cross build --release --target armv7-unknown-linux-musleabihf
set -euo pipefail

TARGET=armv7-unknown-linux-musleabihf
case "${1-}" in
  -*|"") ;;
  *) TARGET=$1; shift ;;
esac
case "$TARGET" in
  armv7-unknown-linux-musleabihf)
    FILE_PATTERN='ELF 32-bit LSB executable, ARM, EABI5*statically linked*' ;;
  x86_64-unknown-linux-musl)
    FILE_PATTERN='ELF 64-bit LSB executable, x86-64*statically linked*' ;;
  *) echo "error: unsupported target $TARGET (armv7-unknown-linux-musleabihf, x86_64-unknown-linux-musl)" >&2
     exit 2 ;;
esac
# Pinned: the versions this route was verified with. zig comes from PyPI and
# is installed at exactly this version. Debian's rustc-web moves with
# bookworm-security (old versions leave the archive), so RUST_WEB_VERSION is
# asked for first and the archive's candidate taken, with a warning, when it
# is gone; rustc, cargo and the std source must always be the same version.
ZIGLANG_VERSION=0.17.1
RUST_WEB_VERSION=1.96.0+dfsg1-1~deb12u2
RUST_WEB_PACKAGES=(rustc-web cargo-web rust-web-src)
# std's cargo features for build-std. cargo's default adds "backtrace", whose
# symbolizer (gimli, addr2line, demangling: ~150 KB) can name nothing in a
# stripped binary anyway; a panic still prints its message.
# "panic-unwind" is not needed with panic = "abort". "optimize_for_size"
# picks std's small variants (heapsort and a small merge sort, plain digit
# loops in integer formatting: nothing tinydcc spends its time in; -27 KB).
# ARM_STD_FEATURES overrides this (tests/bench/arm.sh compares variants).
STD_FEATURES=${ARM_STD_FEATURES-optimize_for_size}
# Size flags for every crate, std included, added to .cargo/config.toml's
# (doc/size.md): -Zlocation-detail=none drops the file:line:col
# of every possible panic (-20 KB; a panic says "<redacted>" instead);
# -Zfmt-debug=none makes every {:?} print nothing (-9 KB): so tinydcc's own
# messages never use {:?}, only tests do, and a panic shows no Debug value.
# LLVM's machine outliner turns repeated instruction sequences into shared
# calls (-26 KB on armv7); a per-job cost under qemu within noise.
# -Cforce-unwind-tables=no: with panic = "abort" and no backtrace feature
# nothing reads ARM's unwind index (.ARM.exidx/.ARM.extab): -15,752 bytes.
# STATIC_SIZE_RUSTFLAGS overrides this (empty: none), one flag per word.
read -r -a SIZE_RUSTFLAGS <<<"${STATIC_SIZE_RUSTFLAGS--Zlocation-detail=none -Zfmt-debug=none -Cllvm-args=-enable-machine-outliner=always -Cforce-unwind-tables=no}"
APT_PACKAGES=("${RUST_WEB_PACKAGES[@]}" file)

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
MANIFEST="$REPO_ROOT/Cargo.toml"
PRINT_PATH=0
EXTRA_ARGS=()

while [ $# -gt 0 ]; do
  case "$1" in
    --print-path) PRINT_PATH=1; shift ;;
    --manifest-path) [ $# -ge 2 ] || { echo "error: --manifest-path needs a value" >&2; exit 2; }
                     MANIFEST=$2; shift 2 ;;
    --manifest-path=*) MANIFEST=${1#*=}; shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^#/p}' "$0"; exit 0 ;;
    --) shift; EXTRA_ARGS=("$@"); break ;;
    *) echo "error: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
MANIFEST=$(cd "$(dirname "$MANIFEST")" && pwd)/$(basename "$MANIFEST")
[ -f "$MANIFEST" ] || { echo "error: no such manifest: $MANIFEST" >&2; exit 2; }

# Path of the release binary: target dir and bin name from `cargo metadata` when
# Debian's cargo is there, else from Cargo.toml (never via rustup's cargo proxy).
binary_path() {
  local meta=""
  if [ -x /usr/bin/cargo ]; then
    meta=$(RUSTC=/usr/bin/rustc /usr/bin/cargo metadata --no-deps --format-version 1 \
             --manifest-path "$MANIFEST" 2>/dev/null) || meta=""
  fi
  MANIFEST="$MANIFEST" TARGET="$TARGET" python3 -c '
import json, os, sys
manifest, target, meta = os.environ["MANIFEST"], os.environ["TARGET"], sys.stdin.read().strip()
if meta:
    m = json.loads(meta)
    tdir = m["target_directory"]
    pkg = next(p for p in m["packages"] if os.path.samefile(p["manifest_path"], manifest))
    bins = [t["name"] for t in pkg["targets"] if "bin" in t["kind"]]
    name = pkg["name"]
else:
    import tomllib
    with open(manifest, "rb") as f:
        c = tomllib.load(f)
    tdir = os.environ.get("CARGO_TARGET_DIR") or os.path.join(os.path.dirname(manifest), "target")
    name = c["package"]["name"]
    bins = [b["name"] for b in c.get("bin", [])] or [name]
if not bins:
    sys.exit("error: %s has no binary target" % manifest)
b = name if name in bins else bins[0]
print(os.path.join(tdir, target, "release", b))
' <<<"$meta"
}

if [ "$PRINT_PATH" = 1 ]; then
  binary_path
  exit 0
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
quiet() { "$@" >"$log" 2>&1 || { cat "$log" >&2; echo "error: failed: $*" >&2; exit 1; }; }

# --- Debian packages (apt-get update only when something is missing) ---
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
apt_install() { quiet $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"; }
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> apt-get install ${missing[*]}"
  quiet $SUDO apt-get update -qq
  pinned=()
  for p in "${missing[@]}"; do
    case " ${RUST_WEB_PACKAGES[*]} " in
      *" $p "*) pinned+=("$p=$RUST_WEB_VERSION") ;;
      *) pinned+=("$p") ;;
    esac
  done
  if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
       "${pinned[@]}" >"$log" 2>&1; then
    echo "warning: $RUST_WEB_VERSION is not in the archive any more; installing its candidate" >&2
    apt_install "${missing[@]}"
  fi
fi
# The std source must match the compiler exactly, or build-std fails in odd ways.
versions=$(dpkg-query -W -f='${Version}\n' "${RUST_WEB_PACKAGES[@]}" | sort -u)
if [ "$(printf '%s\n' "$versions" | wc -l)" != 1 ]; then
  echo "error: ${RUST_WEB_PACKAGES[*]} differ in version:" $versions >&2
  echo "       apt-get install ${RUST_WEB_PACKAGES[*]/%/=<one version>}" >&2
  exit 1
fi
[ "$versions" = "$RUST_WEB_VERSION" ] \
  || echo "warning: using rustc-web $versions; this script was verified with $RUST_WEB_VERSION" >&2

# --- zig from the PyPI ziglang package, pinned ---
zig_in_python() {
  python3 - "$ZIGLANG_VERSION" <<'PY' 2>/dev/null
import sys, os
from importlib import metadata
if metadata.version("ziglang") != sys.argv[1]:
    sys.exit(1)
import ziglang
print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))
PY
}
ZIG_BIN=$(zig_in_python) || ZIG_BIN=""
if [ -z "$ZIG_BIN" ] && ! python3 -m pip --version >/dev/null 2>&1; then
  echo "==> apt-get install python3-pip"
  quiet $SUDO apt-get update -qq
  apt_install python3-pip
fi
if [ -z "$ZIG_BIN" ]; then
  echo "==> pip install ziglang==$ZIGLANG_VERSION"
  if python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
       "ziglang==$ZIGLANG_VERSION" >"$log" 2>&1; then
    ZIG_BIN=$(zig_in_python) || ZIG_BIN=""
  fi
  if [ -z "$ZIG_BIN" ]; then
    # python3 without pip, or an externally managed one: install beside, not into it.
    zdir="${XDG_CACHE_HOME:-$HOME/.cache}/tinydcc/ziglang-$ZIGLANG_VERSION"
    if [ ! -x "$zdir/ziglang/zig" ]; then
      quiet python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
        --target "$zdir" "ziglang==$ZIGLANG_VERSION"
    fi
    ZIG_BIN="$zdir/ziglang/zig"
  fi
fi
[ -x "$ZIG_BIN" ] || { echo "error: zig binary not found at $ZIG_BIN" >&2; exit 1; }
export ZIG="$ZIG_BIN"

# A RUSTFLAGS in the environment would replace the config.toml rustflags and break the link.
if [ -n "${RUSTFLAGS:-}${CARGO_ENCODED_RUSTFLAGS:-}" ]; then
  echo "warning: ignoring RUSTFLAGS/CARGO_ENCODED_RUSTFLAGS (.cargo/config.toml sets the flags)" >&2
  unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS
fi

echo "==> versions"
dpkg-query -W -f='    ${Package} ${Version}\n' "${APT_PACKAGES[@]}"
echo "    ziglang $ZIGLANG_VERSION (zig $("$ZIG" version)) at $ZIG"
echo "    $(/usr/bin/rustc --version), $(/usr/bin/cargo --version)"

# --- build: Debian's rustc/cargo by absolute path (rustup's shadow them on PATH) ---
echo "==> cargo build --release --target $TARGET (-Zbuild-std, std features: '$STD_FEATURES')"
cd "$REPO_ROOT"
started=$(date +%s)
# --locked: Debian's cargo must build exactly the crates in Cargo.lock and
# never rewrite it (a crate without a Cargo.lock gets a fresh one).
locked=()
[ ! -f "$(dirname "$MANIFEST")/Cargo.lock" ] || locked=(--locked)
# The size flags as a --config: cargo appends them to config.toml's rustflags.
flags=()
for f in ${SIZE_RUSTFLAGS[@]+"${SIZE_RUSTFLAGS[@]}"}; do flags+=("\"$f\""); done
size_config=()
[ ${#flags[@]} = 0 ] || size_config=(--config "target.$TARGET.rustflags=[$(IFS=,; echo "${flags[*]}")]")
echo "    size rustflags: ${SIZE_RUSTFLAGS[*]-}"
RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 /usr/bin/cargo build --release ${locked[@]+"${locked[@]}"} \
  -Zbuild-std=std,panic_abort -Zbuild-std-features="$STD_FEATURES" \
  --target "$TARGET" --manifest-path "$MANIFEST" ${size_config[@]+"${size_config[@]}"} \
  ${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}

BIN=$(binary_path)
[ -f "$BIN" ] || { echo "error: build produced no $BIN" >&2; exit 1; }
desc=$(file -b "$BIN")
echo "==> $BIN"
echo "    size: $(stat -c %s "$BIN") bytes, built in $(( $(date +%s) - started )) s"
echo "    file: $desc"
# shellcheck disable=SC2254 # FILE_PATTERN is a glob on purpose
case "$desc" in
  $FILE_PATTERN) ;;
  *) echo "error: $BIN is not a statically linked $TARGET executable" >&2; exit 1 ;;
esac
