#!/usr/bin/env bash
# The daemon's result cache on Linux 6.1 tinyconfig (issue 16 §3), through
# one tinydcc daemon on this machine, by tests/kernel/build.sh (every build's
# objects checked against the local build's):
#   pump and plain, cold: without the cache, then with --cache-dir (empty);
#   warm: `make clean` and the same build again through that daemon and cache;
#   ccache on the client (CCACHE_PREFIX=tinydcc, private CCACHE_DIR), plain,
#   cold then warm, beside it;
#   the pump header store (§3, last bullet): pump without the cache, warm
#   (REBUILD=1), with the store (the default) and with --no-header-store
#   ("today's"), the daemon's --stats counters per job beside the times.
# Keys: kernel.x86.MODE.tinydcc.tinydcc[.cache|.ccache|.nostore].c[.warm].*
#   tests/bench/cache.sh        (tests/bench/run runs it; BENCH_SKIP=cache)
# Environment: KERNEL_JOBS, KERNEL_CACHE as for build.sh; CACHE_BENCH_MODES
# (default "pump plain") for a shorter trial.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=tests/kernel/build.sh
# The daemon's job directories under /tmp, as its default TMPDIR has them
# (issues 13 and 16 measure that, whatever file system /tmp is on).
export SCRATCH=${SCRATCH:-tmp}
rc=0
for mode in ${CACHE_BENCH_MODES:-pump plain}; do
  if [ "$mode" = pump ]; then
    KEY_TAG=c REBUILD=1 "$build" pump tinydcc || rc=1
    KEY_TAG=c HEADER_STORE=0 REBUILD=1 "$build" pump tinydcc || rc=1
  else
    KEY_TAG=c "$build" "$mode" tinydcc || rc=1
  fi
  KEY_TAG=c CACHE=1 REBUILD=1 "$build" "$mode" tinydcc || rc=1
  if [ "$mode" = plain ]; then
    KEY_TAG=c CCACHE=1 REBUILD=1 "$build" plain tinydcc || rc=1
  fi
done
exit $rc
