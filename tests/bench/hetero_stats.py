#!/usr/bin/env python3
"""One row of tests/bench/hetero.sh: from the row's files, the per-host
numbers as "@bench KEY VALUE" lines.

Usage: hetero_stats.py PREFIX ROWDIR CLIENT HOST... with ROWDIR holding
  times          "T0 T1" (the build's start and end, CLOCK_REALTIME seconds)
  cpu            "ROLE NANOSECONDS" per role: CPU its cgroup used in the build
  capacity       "ROLE CORES" per role: the CPU the bed gives it
  net            "TX RX": bytes the client's eth0 sent and received
  local.stamps   jobstamp's lines "START END STATUS OUTPUT" (client's compiles)
  HOST.stamped   each daemon's log, every line prefixed by when it was written
"""
import os
import re
import statistics
import sys

prefix, rowdir, client, hosts = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]


def read(name):
    path = os.path.join(rowdir, name)
    return open(path).read() if os.path.exists(path) else ""


def emit(key, value):
    print(f"@bench {prefix}.{key} {value}")


t0, t1 = (float(x) for x in read("times").split())
wall = t1 - t0
cpu = {r: int(n) / 1e9 for r, n in (line.split() for line in read("cpu").splitlines())}
cap = {r: float(c) for r, c in (line.split() for line in read("capacity").splitlines())}

# Jobs: (host, start, end). A local compile is one jobstamp line whose output
# is an object of the build (kbuild's probes write .tmp_* files, not .o), or
# a straggler's local copy that won (its output: `.NAME.o.tinydcc-copy-XXX`,
# renamed to NAME.o after; a copy that lost was killed, status not 0).
copy_name = re.compile(r"\.tinydcc-copy-\w+$")
jobs = []
for line in read("local.stamps").splitlines():
    parts = line.split(" ", 3)
    if len(parts) < 4 or parts[2] != "0":
        continue
    out = copy_name.sub("", parts[3])
    if out.endswith(".o") and ".tmp_" not in out:
        jobs.append((client, float(parts[0]), float(parts[1])))
# A daemon job is distccd's job line; its end is when the line was written.
job_line = re.compile(r"^(\d+\.\d+) .*client: \S+ (\w+) exit:\S+ sig:\S+ core:\S+ ret:\S+ time:(\d+)ms")
errors = 0
p3 = 0
dropped = 0  # a straggler's original or copy that lost, its compiler killed
for h in hosts:
    for line in read(f"{h}.stamped").splitlines():
        if "protocol 3 request" in line:
            p3 += 1
        dropped += "disconnected before the reply; job abandoned" in line
        m = job_line.match(line)
        if not m:
            continue
        if m.group(2) != "COMPILE_OK":
            # Not the readiness probe's connection (stock distccd logs it).
            errors += m.group(2) in ("COMPILE_ERROR", "COMPILE_TIMEOUT", "CLI_DISCONN")
            continue
        end = float(m.group(1))
        if t0 <= end <= t1 + 5:
            jobs.append((h, end - int(m.group(3)) / 1000, min(end, t1)))

emit("wall", f"{wall:.1f}")
remote = sum(1 for j in jobs if j[0] != client)
emit("jobs.local", sum(1 for j in jobs if j[0] == client))
emit("jobs.remote", remote)
emit("jobs.errors", errors)
emit("jobs.dropped", dropped)
emit("protocol3", p3)
for h in [client] + hosts:
    name = "local" if h == client else h
    if h != client:
        emit(f"jobs.{name}", sum(1 for j in jobs if j[0] == h))
    if h in cpu and h in cap and wall > 0:
        emit(f"cpu.{name}", f"{cpu[h]:.1f}")
        emit(f"busy.{name}", f"{100 * cpu[h] / (wall * cap[h]):.0f}")
emit("client_cpu", f"{cpu.get(client, 0):.1f}")
if jobs:
    emit("median_job", f"{statistics.median(j[2] - j[1] for j in jobs):.2f}")
# The idle tail: how long the host that compiled last kept the build
# waiting after every other host had finished its last job.
last = {}
for h, _, end in jobs:
    last[h] = max(last.get(h, 0), end)
if len(last) >= 2:
    order = sorted(last.items(), key=lambda kv: kv[1])
    emit("tail", f"{order[-1][1] - order[-2][1]:.1f}")
    emit("tail_host", "local" if order[-1][0] == client else order[-1][0])
elif last:
    emit("tail", "0.0")
    emit("tail_host", "local" if client in last else next(iter(last)))
net = read("net").split()
if remote and len(net) == 2:
    emit("tx_per_job", f"{int(net[0]) / remote:.0f}")
    emit("rx_per_job", f"{int(net[1]) / remote:.0f}")
