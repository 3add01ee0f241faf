#!/usr/bin/env bash
# The static armv7 hard-float build for the boards: cross/build-static.sh with
# its default target, armv7-unknown-linux-musleabihf. Same options:
#   cross/build-armv7.sh [--print-path] [--manifest-path PATH] [-- EXTRA CARGO ARGS]
exec "$(dirname "${BASH_SOURCE[0]}")/build-static.sh" armv7-unknown-linux-musleabihf "$@"
