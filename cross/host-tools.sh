#!/bin/sh
# What `cargo build --release` and `tinydcc --check` need on this machine,
# installed from Debian's archive only when missing (never rustup):
#   - Rust >= 1.85 (Cargo.toml's rust-version): Debian 12's rustc 1.63 is too
#     old, so rustc-web and cargo-web (1.85 in bookworm, newer in
#     bookworm-security), the packages cross/build-static.sh uses too;
#   - gcc and libc6-dev: rustc links through cc, and --check compiles with gcc;
#   - ca-certificates: cargo downloads the dependencies from crates.io.
# A Rust from rustup that is new enough is used as it is.
#   cross/host-tools.sh && cargo build --release && ./target/release/tinydcc --check
set -eu

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# "rustc 1.96.0 (...)" -> 96; 0 when there is no usable rustc.
rust_minor() {
	rustc --version 2>/dev/null | sed -n 's/^rustc 1\.\([0-9]*\)\..*/\1/p' | grep . || echo 0
}

packages=""
if ! command -v cargo >/dev/null 2>&1 || [ "$(rust_minor)" -lt 85 ]; then
	if command -v rustup >/dev/null 2>&1 && [ "$(command -v cargo)" != /usr/bin/cargo ]; then
		echo "cross/host-tools.sh: rustup's Rust is older than 1.85: run 'rustup update stable'" >&2
		exit 1
	fi
	packages="rustc-web cargo-web"
fi
command -v gcc >/dev/null 2>&1 || packages="$packages gcc"
[ -e /usr/include/stdio.h ] || packages="$packages libc6-dev"
# cargo fetches crates over https: cargo-web only recommends the CA list.
[ -e /etc/ssl/certs/ca-certificates.crt ] || packages="$packages ca-certificates"

if [ -n "$packages" ]; then
	command -v apt-get >/dev/null 2>&1 || {
		echo "cross/host-tools.sh: please install$packages (Rust >= 1.85, gcc, C headers)" >&2
		exit 1
	}
	echo "cross/host-tools.sh: installing $packages"
	as_root apt-get update -q
	# shellcheck disable=SC2086 # a list of package names
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $packages
fi
if [ "$(rust_minor)" -lt 85 ]; then
	echo "cross/host-tools.sh: $(command -v rustc || echo rustc) is $(rustc --version 2>/dev/null || echo missing); tinydcc needs Rust 1.85 or newer" >&2
	exit 1
fi
