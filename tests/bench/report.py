#!/usr/bin/env python3
"""Turn the "@bench KEY VALUE" lines of one tests/bench/run into its
markdown results. Every number comes from those lines; each row's target
is the project's goal for that figure, written in the row.
Usage: report.py VALUES > results.md"""
import sys

vals = {}
for line in open(sys.argv[1]):
    if line.startswith("@bench "):
        parts = line.rstrip("\n").split(" ", 2)
        vals[parts[1]] = parts[2] if len(parts) > 2 else ""


def num(key):
    try:
        return float(vals[key])
    except (KeyError, ValueError):
        return None


def text(key, default="—"):
    return vals.get(key, default)


def f1(x, unit=""):
    return "not run" if x is None else f"{x:.1f}{unit}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}"


def met(ok):
    if ok is None:
        return "not run"
    return "**yes**" if ok else "**no**"


def sub(a, b):
    return None if a is None or b is None else a - b


def le(a, b):
    return None if a is None or b is None else a <= b


def no_pump(prefix):
    """A met cell's note when not one job went out as a pump job."""
    return " (no job went as pump: plain jobs measured)" if num(prefix + ".protocol3") == 0 else ""


def jobs_line(prefix):
    p3, n = num(prefix + ".protocol3"), num(prefix + ".daemon_jobs")
    if p3 is None or n is None:
        return "not run"
    return f"{p3:.0f} of {n:.0f}"


out = []
w = out.append
runs = text("meta.runs", "?")
w(f"Run {text('meta.date')} on {text('meta.machine')}; {text('meta.os')}.  ")
w(f"Command: `{text('meta.command')}` ({num('meta.seconds') or 0:.0f} s in all; "
  f"load average {text('meta.load')}).  ")
w(f"Versions: {text('meta.versions')}.  ")
w("tinydcc here is the static x86_64 musl build (`cross/build-static.sh x86_64-unknown-linux-musl`), "
  "made as the boards' armv7 binary is; the glibc `cargo build --release` build is timed beside it in section 1.")
for k in sorted(vals):
    if k.startswith("failed."):
        w(f"\n**Section {k[7:]} failed in this run; its numbers are missing or partial.**")
    if k.startswith("skipped."):
        w(f"\n*Section {k[8:]} was skipped in this run.*")
w("")

# 1. Per-job wall time.
h = lambda n: num(f"hello.{n}.mean_ms")


def hs(n):
    """A hello mean with its standard deviation."""
    m, sd = h(n), num(f"hello.{n}.sd_ms")
    return f1(m) if m is None or sd is None else f"{m:.1f} ± {sd:.1f}"


L = h("local")
tp, sp, tl, sl, tpump = h("tinydcc-plain"), h("stock-plain"), h("tinydcc-lzo"), h("stock-lzo"), h("tinydcc-pump")
t_over, s_over = sub(tp, L), sub(sp, L)
tl_over, sl_over = sub(tl, L), sub(sl, L)
# The pump run has its own local gcc -c, timed beside it.
pump_over = sub(tpump, h("local-for-tinydcc-pump") or L)
stock_pump = text("hello.stock-pump.status", "not run")
w(f"**1. Per-job wall time of hello_distcc.c** (hyperfine, mean of {runs} runs after 3 warm-ups ± standard deviation, ms; "
  "each client with its own daemon on 127.0.0.1, `-j 2`)")
w("")
w("| measure | tinydcc | stock distcc | tinydcc/stock | target | met |")
w("|---|---|---|---|---|---|")
w(f"| local `gcc -c` (the overheads are over this) | {hs('local')} | | | | |")
w(f"| plain, per job | {hs('tinydcc-plain')} | {hs('stock-plain')} | {ratio(tp, sp)} | | |")
w(f"| plain, overhead over local | {f1(t_over)} | {f1(s_over)} | {ratio(t_over, s_over)} | ≤0.5× stock | "
  f"{met(None if t_over is None or s_over is None else t_over <= 0.5 * s_over)} |")
w(f"| LZO, per job | {hs('tinydcc-lzo')} | {hs('stock-lzo')} | {ratio(tl, sl)} | | |")
w(f"| LZO, overhead over local | {f1(tl_over)} | {f1(sl_over)} | {ratio(tl_over, sl_over)} | | |")
sp_cell = "n/a: " + stock_pump if stock_pump != "ok" else f1(h("stock-pump"))
w(f"| pump (`,lzo,cpp`), per job | {hs('tinydcc-pump')} | {sp_cell} | | | |")
pump_ok = None
if pump_over is not None and s_over is not None:
    pump_ok = pump_over <= 0.15 * s_over and pump_over <= 2.0
w(f"| pump overhead over local (local `gcc -c` timed in the pump run: {hs('local-for-tinydcc-pump')}), "
  f"against stock's plain overhead | {f1(pump_over)} | {f1(s_over)} | "
  f"{ratio(pump_over, s_over)} | ≤0.15× stock plain and ≤2 ms | {met(pump_ok)}{no_pump('hello.tinydcc-pump')} |")
w(f"| pump jobs the daemon got as protocol 3 | {jobs_line('hello.tinydcc-pump')} | | | | |")
w("")

# Other pairings.
d = lambda n: num(f"daemon.hello.{n}.mean_ms")
dl = d("local")
w("Other pairings (same run; per job and overhead over local `gcc -c`, ms):")
w("")
w("| client → daemon | per job | overhead | jobs as protocol 3 |")
w("|---|---|---|---|")
if h("tinydcc-glibc-plain") is not None:
    w(f"| tinydcc's glibc development build (`cargo build --release`) → tinydcc daemon, plain | "
      f"{f1(h('tinydcc-glibc-plain'))} | {f1(sub(h('tinydcc-glibc-plain'), L))} | |")
if h("tinydcc-glibc-pump") is not None:
    w(f"| tinydcc's glibc development build → tinydcc daemon, pump (local in its run: "
      f"{f1(h('local-for-tinydcc-glibc-pump'))}) | {f1(h('tinydcc-glibc-pump'))} | "
      f"{f1(sub(h('tinydcc-glibc-pump'), h('local-for-tinydcc-glibc-pump')))} | "
      f"{jobs_line('hello.tinydcc-glibc-pump')} |")
w(f"| stock distcc → tinydcc daemon, plain (daemon.sh; local {f1(dl)}) | {f1(d('tinydcc-daemon'))} | "
  f"{f1(sub(d('tinydcc-daemon'), dl))} | |")
w(f"| stock distcc → stock distccd, plain (daemon.sh; same local) | {f1(d('stock-distccd'))} | "
  f"{f1(sub(d('stock-distccd'), dl))} | |")
w(f"| stock distcc, pump through tinydcc's include server → tinydcc daemon | {f1(h('stock-client-pump'))} | "
  f"{f1(sub(h('stock-client-pump'), L))} | {jobs_line('hello.stock-client-pump')} |")
w(f"| stock distcc, pump through tinydcc's include server → stock distccd | "
  f"{f1(h('stock-client-pump-distccd'))} | {f1(sub(h('stock-client-pump-distccd'), L))} | "
  f"{text('hello.stock-client-pump-distccd.pump_sent', '?')} sent with headers (include server) |")
if stock_pump != "ok":
    w(f"| stock distcc-pump (Debian's include server) → stock distccd | not measured | | {stock_pump} |")
else:
    w(f"| stock distcc-pump (Debian's include server) → stock distccd | {f1(h('stock-pump'))} | "
      f"{f1(sub(h('stock-pump'), L))} | |")
w("")

# 2. Kernel.
k = lambda key: num(f"kernel.x86.{key}")
kl = k("local.seconds")
ks, kt = k("plain.distcc.stock.seconds"), k("plain.tinydcc.tinydcc.seconds")
kp, kps = k("pump.tinydcc.tinydcc.seconds"), k("pump.distcc.tinydcc.seconds")
kj = next((vals[x] for x in sorted(vals) if x.startswith("kernel.x86.") and x.endswith(".jobs")
           and ".local." not in x), "?")
kh = next((vals[x] for x in sorted(vals) if x.startswith("kernel.x86.plain.") and x.endswith(".hosts")), "?")
w(f"**2. Linux 6.1 tinyconfig `make vmlinux`** (wall time, s; `linux-source-6.1`; local `-j"
  f"{text('kernel.x86.local.jobs', '?')}`, distributed `-j{kj}` through one daemon on this machine, "
  f"hosts `{kh}` (pump: `,cpp` added); every object checked against the local build's)")
w("")
w("| measure | tinydcc | stock distcc | tinydcc/stock | target | met |")
w("|---|---|---|---|---|---|")
w(f"| local `make -j{text('kernel.x86.local.jobs', '?')}` | {f1(kl)} | | | | |")
w(f"| plain `-j{kj}` | {f1(kt)} | {f1(ks)} | {ratio(kt, ks)} | ≤0.9× stock | "
  f"{met(None if kt is None or ks is None else kt <= 0.9 * ks)} |")
w(f"| pump `-j{kj}`, against local | {f1(kp)} | | {ratio(kp, kl)} of local | ≤ local | {met(le(kp, kl))}{no_pump('kernel.x86.pump.tinydcc.tinydcc')} |")
w(f"| pump jobs the daemon got as protocol 3 | {jobs_line('kernel.x86.pump.tinydcc.tinydcc')} | | | | |")
w(f"| stock distcc, pump through tinydcc's include server → tinydcc daemon | {f1(kps)} | | "
  f"{ratio(kps, kl)} of local | | |")
w(f"| … of which jobs as protocol 3 | {jobs_line('kernel.x86.pump.distcc.tinydcc')} | | | | |")
objs = [text(f"kernel.x86.{m}.objects", None) for m in
        ("plain.distcc.stock", "plain.tinydcc.tinydcc", "pump.tinydcc.tinydcc", "pump.distcc.tinydcc")]
if all(objs):
    w(f"| objects identical to the local build's, per run (host tools in scripts/ not compared) | "
      f"{', '.join(objs[1:])} | {objs[0]} (init/version*.o left out: stock distcc runs `gcc --version` "
      "as x86_64-linux-gnu-gcc) | | all | **yes** |")
elif "skipped.kernel" in vals:
    w("| objects identical to the local build's, per run | not run | | | all | not run |")
else:
    w("| objects identical to the local build's, per run | not every run got through its check | | | all | **no** |")
loads = [(name, text(f"kernel.x86.{key}.load", None)) for name, key in
         (("local", "local"), ("stock plain", "plain.distcc.stock"), ("tinydcc plain", "plain.tinydcc.tinydcc"),
          ("tinydcc pump", "pump.tinydcc.tinydcc"), ("stock distcc pump", "pump.distcc.tinydcc"))]
if any(v for _, v in loads):
    w("")
    w("1-minute load average at the end of each build (a shared machine): "
      + ", ".join(f"{n} {v}" for n, v in loads if v) + ".")


def cpu_row(name, key):
    """CPU seconds of one build: all of it, make's side, the daemon with all
    it ran, tinydcc's daemon alone; and that total spread over the cores."""
    if key == "local":
        total = k("local.cpu")
        return f"| {name} | {f1(total)} | {f1(total)} | | | {f1(None if total is None else total / cores)} |"
    b, d, own = k(f"{key}.cpu_build"), k(f"{key}.cpu_daemon_all"), k(f"{key}.cpu_daemon_own")
    total = None if b is None or d is None else b + d
    own_cell = f1(own) if key.endswith(".tinydcc") else "(not separable)"
    return (f"| {name} | {f1(total)} | {f1(b)} | {f1(d)} | {own_cell} | "
            f"{f1(None if total is None else total / cores)} |")


cores = num("meta.cores") or 2
if k("local.cpu") is not None:
    w("")
    w(f"Where the time goes: CPU seconds of each build (user + system). On {cores:.0f} cores no build can take "
      "less wall time than its CPU spread over them, and the daemon here shares the cores with the client: "
      "plain mode does all of the local build's work plus a second compiler start and the `.i` round trip, "
      "pump mode the same compiles plus the include server's scans and the daemon's header trees.")
    w("")
    w("| build | CPU, all | make's side (make, clients, cpp, include server) | daemon and all it ran | "
      "tinydcc's daemon alone | CPU ÷ cores |")
    w("|---|---|---|---|---|---|")
    for name, key in (("local", "local"), ("stock plain", "plain.distcc.stock"),
                      ("tinydcc plain", "plain.tinydcc.tinydcc"), ("tinydcc pump", "pump.tinydcc.tinydcc"),
                      ("stock distcc pump → tinydcc daemon", "pump.distcc.tinydcc")):
        w(cpu_row(name, key))
w("")

# 2b. The daemon's result cache (tests/bench/cache.sh).
kc = lambda mode, tag: num(f"kernel.x86.{mode}.tinydcc.tinydcc{tag}.c.seconds")
if any(x.startswith("kernel.x86.") and ".c." in x for x in vals) or "skipped.cache" in vals:
    w("**2b. The daemon's result cache** (same kernel and daemon set-up, wall time, s; `--cache-dir` "
      "empty for the cold build; warm: `make clean` and the same build again through the same daemon; "
      "every object checked against the local build's)")
    w("")
    w("| measure | without cache | with cache | ratio | target | met |")
    w("|---|---|---|---|---|---|")
    for mode, target in (("pump", 0.35), ("plain", 0.6)):
        off, cold = kc(mode, ""), kc(mode, ".cache")
        warm = num(f"kernel.x86.{mode}.tinydcc.tinydcc.cache.c.warm.seconds")
        hits = text(f"kernel.x86.{mode}.tinydcc.tinydcc.cache.c.warm.cache_hits", "?")
        jobs = text(f"kernel.x86.{mode}.tinydcc.tinydcc.cache.c.warm.daemon_jobs", "?")
        w(f"| {mode}, cold | {f1(off)} | {f1(cold)} | {ratio(cold, off)} | ≤1.03× without | "
          f"{met(None if cold is None or off is None else cold <= 1.03 * off)} |")
        w(f"| {mode}, warm rebuild ({hits} of {jobs} jobs from the cache) | | {f1(warm)} | "
          f"{ratio(warm, off)} of cold without | ≤{target}× | "
          f"{met(None if warm is None or off is None else warm <= target * off)} |")
    cc_cold = num("kernel.x86.plain.tinydcc.tinydcc.ccache.c.seconds")
    cc_warm = num("kernel.x86.plain.tinydcc.tinydcc.ccache.c.warm.seconds")
    off = kc("plain", "")
    w(f"| ccache on the client (`CCACHE_PREFIX=tinydcc`), plain, cold | {f1(off)} | {f1(cc_cold)} | "
      f"{ratio(cc_cold, off)} | | |")
    w(f"| ccache on the client, warm rebuild | | {f1(cc_warm)} | {ratio(cc_warm, off)} of cold without | | |")
    w("")
    # The pump header store: the same warm pump rebuild through a daemon
    # with the store and one with --no-header-store ("today's").
    hs_on, hs_off = "kernel.x86.pump.tinydcc.tinydcc.c.warm", "kernel.x86.pump.tinydcc.tinydcc.nostore.c.warm"
    if any(x.startswith(hs_on + ".") or x.startswith(hs_off + ".") for x in vals):
        form = lambda k: {"1": "store form", "0": "plain protocol 3"}.get(text(k + ".store_form", ""), "?")
        w("**2c. The pump header store** (pump, no result cache, warm daemon: `make clean` and the same "
          "build again through the same daemon; today's = a daemon with `--no-header-store`. Per job: the "
          "daemon's `--stats` counters moved by the rebuild, divided by its connections (bytes) or its pump "
          f"jobs (files). What the client sent: {form(hs_off)} today, {form(hs_on)} with the store)")
        w("")
        w("| measure (warm rebuild) | today | with the store | ratio | target | met |")
        w("|---|---|---|---|---|---|")
        for label, k, limit in (("bytes the client sends per job", "bytes_per_job", 0.05),
                                ("files the daemon writes per pump job", "files_written_per_job", 0.10),
                                ("pump build wall time, s", "seconds", 0.9)):
            a, b = num(f"{hs_off}.{k}"), num(f"{hs_on}.{k}")
            cell = lambda x: "not run" if x is None else (f"{x:.1f}" if x < 100 else f"{x:.0f}")
            # Three decimals: 0.045 against a 0.05 target must not read 0.05.
            r = "—" if a is None or b is None or a == 0 else f"{b / a:.3f}"
            w(f"| {label} | {cell(a)} | {cell(b)} | {r} | ≤{limit}× | "
              f"{met(None if a is None or b is None else b <= limit * a)} |")
        w(f"| files laid out from the store per pump job | {f1(num(hs_off + '.files_linked_per_job'))} | "
          f"{f1(num(hs_on + '.files_linked_per_job'))} | | | |")
        w("")

# 2d. The daemon's CPU per job (tests/kernel/build.sh's daemon_cpu_per_job:
# the daemon and the compilers it reaped, over the jobs it answered).
def cpu_job(key):
    """CPU per job in ms of one kernel build (cache.sh's, else tests/bench/run's)."""
    for tag in (".c", ""):
        x = num(f"kernel.x86.{key}{tag}.daemon_cpu_per_job")
        if x is not None:
            return x * 1000
    return None


def cpu_pair(label, a, b, target="", limit=None):
    x, y = cpu_job(a), cpu_job(b)
    r = "—" if x is None or y is None or x == 0 else f"{y / x:.2f}"
    w(f"| {label} | {f1(x)} | {f1(y)} | {r} | {target} | "
      f"{met(None if x is None or y is None else y <= limit * x) if limit else ''} |")


if any(x.endswith(".daemon_cpu_per_job") for x in vals):
    w("**2d. The daemon's CPU per job** (ms, user + system of the daemon and of the compilers it reaped, "
      "the server's cpp included, over the jobs it answered in that build; the whole kernel build each; "
      f"the daemon's TMPDIR on {text('kernel.x86.pump.tinydcc.tinydcc.c.scratch_fs', '?')}: "
      "issue 13 asks for the default TMPDIR, `SCRATCH=tmp`)")
    w("")
    w("| measure | A | B | B/A | target | met |")
    w("|---|---|---|---|---|---|")
    t = "tinydcc.tinydcc"
    cpu_pair("A plain cold, B pump cold (issue 13)", f"plain.{t}", f"pump.{t}", "≤1.3×", 1.3)
    cpu_pair("A plain cold without cache, B with `--cache-dir`", f"plain.{t}", f"plain.{t}.cache")
    cpu_pair("A pump cold without cache, B with `--cache-dir`", f"pump.{t}", f"pump.{t}.cache")
    cpu_pair("A pump warm `--no-header-store`, B with the store", f"pump.{t}.nostore.c.warm", f"pump.{t}.c.warm")
    cpu_pair("A pump cold `--no-header-store`, B with the store", f"pump.{t}.nostore", f"pump.{t}")
    w("")

# 3. Client, daemon, size.
c = lambda key: num(f"client.{key}")
w(f"**3. Cost** (client: mean per job over {text('client.jobs', '?')} jobs against one stock distccd, "
  "CPU = user+sys of the client and the children it waits for, from wait4; \"cpp stubbed\" replaces "
  "`gcc -E` with a canned .i so only the clients' own work counts. Daemon: sum over all its processes, "
  "`-j 2`, busy = two `-O2` compiles running, compilers not counted)")
w("")
w("| measure | tinydcc | stock distcc | tinydcc/stock | target | met |")
w("|---|---|---|---|---|---|")


def crow(label, key_t, key_s, unit, target=None, limit=None, note=""):
    a, b = c(key_t), c(key_s)
    ok = None if a is None or b is None or limit is None else a <= limit * b
    w(f"| {label} | {f1(a) if unit == 'ms' else fi(a)} | {f1(b) if unit == 'ms' else fi(b)} | {ratio(a, b)} | "
      f"{target or ''} | {met(ok) + note if target else ''} |")


def fi(x):
    return "not run" if x is None else f"{x:,.0f}"


crow("client CPU ms per job, plain, cpp stubbed", "tiny-plain.cpu_ms", "stock-plain.cpu_ms", "ms", "≤ stock", 1.0)
crow("client peak RSS KiB per job, plain, cpp stubbed", "tiny-plain.rss_mean_kib", "stock-plain.rss_mean_kib",
     "KiB", "≤ stock", 1.0)
crow("client CPU ms per job, LZO, cpp stubbed", "tiny-lzo.cpu_ms", "stock-lzo.cpu_ms", "ms", "≤ stock", 1.0)
crow("client peak RSS KiB per job, LZO, cpp stubbed", "tiny-lzo.rss_mean_kib", "stock-lzo.rss_mean_kib",
     "KiB", "≤ stock", 1.0)
crow("client CPU ms per job, plain, real `gcc -E`", "real-tiny-plain.cpu_ms", "real-stock-plain.cpu_ms", "ms")
crow("client CPU ms per job: tinydcc pump against stock plain (real gcc)", "real-tiny-pump.cpu_ms",
     "real-stock-plain.cpu_ms", "ms", "≤0.25× stock plain", 0.25,
     " (no job went as pump: plain jobs measured)" if num("client.real-tiny-pump.pump_sent") == 0 else "")
w(f"| … pump jobs sent with their headers (include server's count) | "
  f"{text('client.real-tiny-pump.pump_sent', 'not run')} of {text('client.jobs', '?')} | | | | |")
crow("stock distcc's client CPU ms per job, pump through tinydcc's include server, against stock plain",
     "real-stock-pump.cpu_ms", "real-stock-plain.cpu_ms", "ms")
dm = lambda who, key: num(f"daemon.{who}.{key}")
t_idle, s_idle = dm("tinydcc", "rss_idle_kib"), dm("stock", "rss_idle_kib")
st_idle, st_busy = dm("static", "rss_idle_kib"), dm("static", "rss_busy_kib")
w(f"| daemon RSS idle, KiB: the boards' static musl build (x86_64-unknown-linux-musl, tests/bench/static-rss.sh) | "
  f"{fi(st_idle)} | | | ≤1.5 MB (1,536 KiB) | {met(None if st_idle is None else st_idle <= 1536)} |")
w(f"| daemon RSS peak, KiB: static musl build, 2 big lzo compiles + 20 small jobs | {fi(st_busy)} | | | | |")
w(f"| daemon RSS idle, KiB (the benchmarked x86_64 static build, beside stock distccd; processes: "
  f"{fi(dm('tinydcc', 'procs_idle'))} / {fi(dm('stock', 'procs_idle'))}) | "
  f"{fi(t_idle)} | {fi(s_idle)} | {ratio(t_idle, s_idle)} | | |")
for key, label in (("pss_idle_kib", "daemon PSS idle, KiB"), ("rss_busy_kib", "daemon RSS busy, KiB"),
                   ("pss_busy_kib", "daemon PSS busy, KiB")):
    a, b = dm("tinydcc", key), dm("stock", key)
    w(f"| {label} | {fi(a)} | {fi(b)} | {ratio(a, b)} | | |")
x86, arm = num("size.x86.bytes"), num("size.armv7.bytes")
w(f"| binary size, bytes: x86_64 static build ({text('size.x86.file', '?')}) | {fi(x86)} | | | | |")
w(f"| binary size, bytes: static armv7 (`cross/build-armv7.sh`) | {fi(arm)} | | | ≤600 KB (600,000 bytes) | "
  f"{met(None if arm is None else arm <= 600000)} |")

# 4. The board cluster (tests/bench/hetero.sh on the bed of tests/bed/bed.sh).
hx = lambda key: vals.get(f"hetero.{key}")
hn = lambda key: num(f"hetero.{key}")
hetero_wls = [wl for wl in ("kernel", "sed") if hx(f"{wl}.objects_total") is not None]
if hetero_wls or "skipped.hetero" in vals or "failed.hetero" in vals:
    w("")
    smoke = text("hetero.smoke", "0") == "1"
    w("**4. The board cluster** (`tests/bench/hetero.sh`, wall time, s; the emulated cluster of "
      "doc/cluster-bed.md: each board 25% of one core, 1 GB, 100 Mbit; the x86 one core, 1 Gbit; "
      f"{text('hetero.seconds', '?')} s for the section"
      + ("; **a smoke run: a few objects per workload, the ratios mean nothing**" if smoke else "") + ")")
    w("")
    wl_names = {"kernel": f"Linux 6.1 tinyconfig ARM, `{text('hetero.kernel_dirs', '?')}`",
                "sed": "GNU sed 4.9 (Debian's source), ARM"}
    w("Workloads: " + "; ".join(f"{wl_names[wl]}: {text(f'hetero.{wl}.objects_total', '?')} objects"
                                for wl in hetero_wls) + ", each compared with a local build's.")
    if hetero_wls:
        wl0 = hetero_wls[0]
        w(f"Host lists: A `{text(f'hetero.{wl0}.hosts_a')}`, B `{text(f'hetero.{wl0}.hosts_b')}` "
          "(pump rows: `,cpp` added); `make -j20` in A (the user's setting), in B `-j` the sum "
          "of the slots, `-j2` alone.")
    scen = {
        "a": ("A. The board drives the build", ["local", "x86", "board2", "board3"],
              [("a-alone", "the board alone (`make -j2`)"), ("a-stock", "stock distcc 3.4 → stock distccd"),
               ("a-stock-pump", "stock distcc-pump → stock distccd"),
               ("a-stock-tinyd", "stock distcc → tinydcc daemons"), ("a-tiny-plain", "tinydcc plain"),
               ("a-tiny-pump", "tinydcc pump"),
               ("a-tiny-pump-local", "tinydcc pump, `localhost` slots in list order (`TINYDCC_LOCAL=always`)"),
               ("a-tiny-choose", "tinydcc pump, its own host choice (`TINYDCC_CHOOSE=measured`)")]),
        "b": ("B. The x86 drives, the boards help", ["local", "board", "board2", "board3"],
              [("b-alone", "the x86 alone (`make -j2`)"), ("b-stock", "stock distcc 3.4 → stock distccd"),
               ("b-tiny-plain", "tinydcc plain"), ("b-tiny-pump", "tinydcc pump"),
               ("b-tiny-choose", "tinydcc pump, its own host choice (`TINYDCC_CHOOSE=measured`)")]),
    }

    def slash(wl, key, what, hosts, fmt):
        cells = [hx(f"{wl}.{key}.{what}.{h}") for h in hosts]
        return "/".join("–" if c is None else fmt(c) for c in cells)

    for s, (title, hosts, rows) in scen.items():
        w("")
        w(f"{title} (per host: {'/'.join(hosts)})")
        w("")
        w("| workload, build | wall | ×stock | ×alone | jobs | busy % | idle tail (host) | median job | "
          "bytes out/in per remote job | client CPU | objects |")
        w("|---|---|---|---|---|---|---|---|---|---|---|")
        for wl in hetero_wls:
            stock, alone = hn(f"{wl}.{s}-stock.wall"), hn(f"{wl}.{s}-alone.wall")
            for key, label in rows:
                name = f"{wl}: {label}"
                status = hx(f"{wl}.{key}.status")
                if status is not None:
                    w(f"| {name} | {status} | | | | | | | | | |")
                    continue
                wall = hn(f"{wl}.{key}.wall")
                if wall is None:
                    w(f"| {name} | not run | | | | | | | | | |")
                    continue
                failed = hx(f"{wl}.{key}.failed")
                tail = hx(f"{wl}.{key}.tail")
                tail_cell = "–" if tail is None else f"{tail} ({hx(f'{wl}.{key}.tail_host')})"
                tx, rx = hx(f"{wl}.{key}.tx_per_job"), hx(f"{wl}.{key}.rx_per_job")
                bytes_cell = "–" if tx is None else f"{float(tx):,.0f} / {float(rx):,.0f}"
                jobs = slash(wl, key, "jobs", hosts, str)
                busy = slash(wl, key, "busy", hosts, str)
                objects = f"**FAILED: {failed}**" if failed else f"{hx(f'{wl}.{key}.objects')} identical"
                pump = hx(f"{wl}.{key}.pump_summary")
                if pump:
                    name += f" ({pump.removeprefix('pump: ')})"
                # A failed build's time compares with nothing.
                x_stock, x_alone = ("—", "—") if failed else (ratio(wall, stock), ratio(wall, alone))
                w(f"| {name} | {f1(wall)} | {x_stock} | {x_alone} | {jobs} | {busy} | "
                  f"{tail_cell} | {hx(f'{wl}.{key}.median_job') or '–'} | {bytes_cell} | "
                  f"{hx(f'{wl}.{key}.client_cpu') or '–'} | {objects} |")
    w("")
    w("How each number is measured: wall, the client's `make` from start to end; jobs, the daemons' "
      "job lines (`COMPILE_OK`, `--log-file`) and, for the client's own compiles, a wrapper in front "
      "of the compiler (tests/bench/jobstamp.c); busy, the role's CPU (cgroup `cpuacct`) over the wall "
      "time and the CPU the bed gives it (25% of a core for a board); idle tail, how long the host that "
      "finished last still compiled after every other host's last job ended (job lines stamped as the "
      "daemons write them); median job, over all jobs of the build, each daemon's `time:` (tinydcc's from the compiler's start to its end, stock distccd's from the connection, the request's transfer included) and the wrapper's for the client's own; bytes, the client's `eth0` counters "
      "over the remote jobs; client CPU, the client role's cgroup (make, the client, cpp or the include "
      "server, and its own compiles), s.")
    if hetero_wls and not smoke:
        w("")
        w("| target (issue 13 §4) | measured | target | met |")
        w("|---|---|---|---|")
        kp, ks, ka = hn("kernel.a-tiny-pump.wall"), hn("kernel.a-stock.wall"), hn("kernel.a-alone.wall")
        w(f"| board client, kernel: tinydcc pump against stock distcc | {ratio(kp, ks)} | ≤0.45× | "
          f"{met(None if kp is None or ks is None else kp <= 0.45 * ks)} |")
        w(f"| board client, kernel: tinydcc pump against the board alone | {ratio(kp, ka)} | ≤0.25× | "
          f"{met(None if kp is None or ka is None else kp <= 0.25 * ka)} |")
        bt = [x for x in (hn("kernel.b-tiny-plain.wall"), hn("kernel.b-tiny-pump.wall")) if x is not None]
        bt_best = min(bt) if bt else None
        bx = hn("kernel.b-alone.wall")
        w(f"| x86 client, kernel: tinydcc (the faster mode) against the x86 alone (stock: "
          f"{ratio(hn('kernel.b-stock.wall'), bx)}) | {ratio(bt_best, bx)} | ≤0.75× | "
          f"{met(None if bt_best is None or bx is None else bt_best <= 0.75 * bx)} |")
        for wl in hetero_wls:
            for key in ("a-tiny-pump", "b-tiny-pump"):
                t, m = hn(f"{wl}.{key}.tail"), hn(f"{wl}.{key}.median_job")
                w(f"| {wl}, {key}: idle tail against the median job | {f1(t)} s, median {m if m is not None else '–'} s | "
                  f"≤2× | {met(None if t is None or m is None else t <= 2 * m)} |")
        any_failed = any(k.startswith("hetero.") and k.endswith(".failed") and k.count(".") == 3 for k in vals)
        w(f"| objects identical to the local build's, every row | {'no' if any_failed else 'all'} | all | "
          f"{met(not any_failed)} |")
print("\n".join(out))
