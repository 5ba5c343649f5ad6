"""What ``spicepy screenshot`` spends inside the window replay-server times.

The window (``../shared/tools/replay-server``): from the display channel's
first data-phase byte to the PONG answering the PING the server appends.
Whole-process counts (``bench_instructions.py --live``) hide it under
start-up, imports and the link; this probe marks it in the client itself:
it starts at the display machine's ``receive_data`` call that completes the
link (the link result and the first data arrive there) and ends at each write
that carries a display PONG.

Two measures, both in the same client processes as the benchmark's command:

- ``--callgrind``: instructions (Ir) inside the window, split by object
  file.  A small C helper (built at run time with ``gcc`` against
  ``valgrind/callgrind.h``) zeroes and starts collection at the window's
  start and dumps at every display PONG; the window is the sum of those
  dumps.  Repeatable under load (same input, same hash seed).
  ``--all-threads``: collection runs from the process start and the helper
  only zeroes the counts at the window's start, so the workers (image
  look-ahead, video decoders, spice-gtk's threads) count too: callgrind keeps
  its on/off switch per thread, and the switch turned on in the loop thread
  leaves them out (so the default's count moves with what the image
  look-ahead took: photos-quic 58.6M or 67.3M Ir, its QUIC 47.4M or 56.2M).
  Its counts are not comparable with the default's: on photos-quic the
  loop thread counts ~20M Ir more in libpython (88.1M in all, QUIC 56.2M;
  a like gap after the window; cause not found), so compare a change only
  with counts of the same mode.
- default: minor page faults, user and system CPU ms in the window
  (``getrusage``), median of ``--runs`` fresh clients.  A fresh page costs a
  fault plus zeroing; under load the system time moves a lot (and
  ``getrusage`` splits user/system by clock ticks: a 10 ms window is a few
  ticks), the fault count does not.
- ``--by-call``: where the window's page faults happen, one client per
  capture: the connections' read buffers (``_get_buffer``: a new one while
  the machine still holds views of the old), the display machine's
  ``receive_data`` (framing, reassembling messages), ``DisplayDriver.apply``
  by message class and, inside it, the image decodes by SPICE image type
  (calls and faults of each).

- ``--gtk``: spice-gtk's window too, the same measures in the reference
  client (``make-captures client``: SpiceClientGLib through Debian's
  python3-gi), its runs alternating with spicepy's.  A small ``LD_PRELOAD``
  library (built with ``gcc``) watches the client's socket calls: the window
  starts at the first read of the display connection after its ticket went
  (the link result and the first data) and ends at each write carrying a
  PONG (it follows the client's 6-byte mini headers); it reports the same
  ``getrusage`` numbers, and under ``--callgrind`` starts and dumps
  collection there.

Run (from the checkout; the replay-server's 10 s link timeout needs a host
that is not overloaded under callgrind)::

    .venv/bin/python -P benchmarks/bench_window.py text-off cursor-auto_glz
    .venv/bin/python -P benchmarks/bench_window.py text-off --callgrind
    .venv/bin/python -P benchmarks/bench_window.py photos-lz4 --by-call
    .venv/bin/python -P benchmarks/bench_window.py photos-lz4 --gtk [--callgrind]

The pytest form (``pytest benchmarks/bench_window.py -o
python_files='bench_*.py'``) is a smoke test: one capture, one run, the
probe must see a window.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # run as a script with -P: the sibling modules
    sys.path.insert(0, str(HERE))
from replay_server import captures_dir, replay_server, tools_dir  # noqa: E402

SMOKE_CAPTURE = "cursor-auto_glz"
#: the probes' report line (stderr of spicepy, the shim's file for spice-gtk)
WINDOW_LINE = re.compile(r"^(?:spicepy|spice-gtk)-window: (.*)$", re.M)
#: the Python with python3-gi that runs spice-gtk (as gtk-replay-bench does)
GI_PYTHON = "/usr/bin/python3"
#: ``--by-call``: one line per counted call site, after each window line
CALL_LINE = "spicepy-window-call: "

_HELPER_C = """\
#include <valgrind/callgrind.h>
void cg_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_TOGGLE_COLLECT; }
void cg_zero(void) { CALLGRIND_ZERO_STATS; }
void cg_dump(void) { CALLGRIND_DUMP_STATS_AT("display PONG"); }
"""


#: ``--gtk``: the window probe inside spice-gtk's process (``LD_PRELOAD``)
_GTK_SHIM_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

/* per fd: 0 not a display link, 1 display linking, 2 display data phase */
#define MAXFD 4096
static unsigned char state[MAXFD], ticket[MAXFD];
static unsigned char hdr[MAXFD][6];
static int hlen[MAXFD];
static unsigned long skip[MAXFD];
static int started, out = -1;
static struct rusage ru0;
static struct timespec t0;

static ssize_t (*real_recv)(int, void *, size_t, int);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_recvmsg)(int, struct msghdr *, int);
static ssize_t (*real_send)(int, const void *, size_t, int);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static int (*real_close)(int);

static void init(void) {
    if (real_close) return;
    real_recv = dlsym(RTLD_NEXT, "recv");
    real_read = dlsym(RTLD_NEXT, "read");
    real_recvmsg = dlsym(RTLD_NEXT, "recvmsg");
    real_send = dlsym(RTLD_NEXT, "send");
    real_write = dlsym(RTLD_NEXT, "write");
    real_sendmsg = dlsym(RTLD_NEXT, "sendmsg");
    real_writev = dlsym(RTLD_NEXT, "writev");
    real_close = dlsym(RTLD_NEXT, "close");
}

static double ms(struct timeval a, struct timeval b) {
    return (a.tv_sec - b.tv_sec) * 1e3 + (a.tv_usec - b.tv_usec) / 1e3;
}

static void report(void) {
    struct rusage ru;
    struct timespec t;
    char line[200];
    CALLGRIND_DUMP_STATS_AT("display PONG");
    getrusage(RUSAGE_SELF, &ru);
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (out < 0) {
        const char *path = getenv("SPICEPY_GTK_WINDOW_OUT");
        out = path ? open(path, O_WRONLY | O_CREAT | O_APPEND, 0644) : 2;
    }
    int n = snprintf(line, sizeof line,
        "spice-gtk-window: faults=%ld user_ms=%.2f sys_ms=%.2f wall_ms=%.2f\n",
        ru.ru_minflt - ru0.ru_minflt, ms(ru.ru_utime, ru0.ru_utime),
        ms(ru.ru_stime, ru0.ru_stime),
        (t.tv_sec - t0.tv_sec) * 1e3 + (t.tv_nsec - t0.tv_nsec) / 1e6);
    real_write(out, line, n);
}

static void received(int fd, ssize_t n) {
    if (n <= 0 || fd < 0 || fd >= MAXFD || state[fd] != 1 || !ticket[fd]) return;
    state[fd] = 2;  /* the link result, maybe with the first data */
    if (!started) {
        started = 1;
        getrusage(RUSAGE_SELF, &ru0);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        CALLGRIND_ZERO_STATS;
        if (!getenv("SPICEPY_WINDOW_ALL_THREADS")) CALLGRIND_TOGGLE_COLLECT;
    }
}

static void sent(int fd, const unsigned char *b, size_t n) {
    int pong = 0;
    if (fd < 0 || fd >= MAXFD) return;
    if (state[fd] == 0) {  /* SpiceLinkHeader (16) + SpiceLinkMess: type at 20 */
        if (n >= 22 && memcmp(b, "REDQ", 4) == 0 && b[20] == 2) state[fd] = 1;
        return;
    }
    if (state[fd] == 1) {  /* the 128-byte ticket (after a 4-byte mechanism) */
        if (n == 128 || n == 132) ticket[fd] = 1;
        return;
    }
    while (n) {  /* the data phase: u16 type, u32 size, body */
        if (skip[fd]) {
            size_t k = n < skip[fd] ? n : skip[fd];
            skip[fd] -= k, b += k, n -= k;
            continue;
        }
        hdr[fd][hlen[fd]++] = *b++, n--;
        if (hlen[fd] == 6) {
            hlen[fd] = 0;
            skip[fd] = hdr[fd][2] | hdr[fd][3] << 8 | hdr[fd][4] << 16
                       | (unsigned long)hdr[fd][5] << 24;
            pong |= (hdr[fd][0] | hdr[fd][1] << 8) == 3;  /* SPICE_MSGC_PONG */
        }
    }
    if (pong && started) report();
}

ssize_t recv(int fd, void *b, size_t n, int f) {
    init(); ssize_t r = real_recv(fd, b, n, f); received(fd, r); return r;
}
ssize_t read(int fd, void *b, size_t n) {
    init(); ssize_t r = real_read(fd, b, n); received(fd, r); return r;
}
ssize_t recvmsg(int fd, struct msghdr *m, int f) {
    init(); ssize_t r = real_recvmsg(fd, m, f); received(fd, r); return r;
}
ssize_t send(int fd, const void *b, size_t n, int f) {
    init(); ssize_t r = real_send(fd, b, n, f); if (r > 0) sent(fd, b, r); return r;
}
ssize_t write(int fd, const void *b, size_t n) {
    init(); ssize_t r = real_write(fd, b, n); if (r > 0) sent(fd, b, r); return r;
}
static void sent_iov(int fd, const struct iovec *v, size_t count, ssize_t r) {
    for (size_t i = 0; r > 0 && i < count; i++) {
        size_t k = v[i].iov_len < (size_t)r ? v[i].iov_len : (size_t)r;
        sent(fd, v[i].iov_base, k);
        r -= k;
    }
}
ssize_t sendmsg(int fd, const struct msghdr *m, int f) {
    init();
    ssize_t r = real_sendmsg(fd, m, f);
    sent_iov(fd, m->msg_iov, m->msg_iovlen, r);
    return r;
}
ssize_t writev(int fd, const struct iovec *v, int c) {
    init(); ssize_t r = real_writev(fd, v, c); sent_iov(fd, v, c, r); return r;
}
int close(int fd) {
    init();
    if (fd >= 0 && fd < MAXFD) state[fd] = ticket[fd] = hlen[fd] = skip[fd] = 0;
    return real_close(fd);
}
"""


# -- the probe (runs inside the client: ``--child``) -------------------------------


def _child(argv: list[str]) -> int:
    """Run the spicepy CLI with the window probe installed."""
    import ctypes
    import resource
    import time

    from spicepy.canvas.images import ImageResolver
    from spicepy.channels._state import ChannelState
    from spicepy.channels.display import DisplayChannel
    from spicepy.cli import main
    from spicepy.session.connection import ChannelConnection
    from spicepy.session.core import DisplayDriver
    from spicepy.wire.enums import CommonMsg

    helper = os.environ.get("SPICEPY_WINDOW_HELPER")
    lib = ctypes.CDLL(helper) if helper else None
    start: list[Any] = []
    receive = DisplayChannel.receive_data
    flush = ChannelConnection._flush
    linking = (ChannelState.AUTHENTICATING, ChannelState.READY)

    #: --by-call: label -> [calls, page faults], inside the window only
    calls: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])

    def counted(inner: Any, label: Any) -> Any:
        """``inner`` counting its calls and faults under ``label(args)``."""

        def wrapper(self: Any, *args: Any) -> Any:
            if not start:
                return inner(self, *args)
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            try:
                return inner(self, *args)
            finally:
                count = calls[label(args)]
                count[0] += 1
                count[1] += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

        return wrapper

    if os.environ.get("SPICEPY_WINDOW_BY_CALL"):
        receive = counted(receive, lambda a: "receive_data")
        ChannelConnection._get_buffer = counted(  # type: ignore[method-assign]
            ChannelConnection._get_buffer, lambda a: "read buffers (all channels)"
        )
        DisplayDriver.apply = counted(  # type: ignore[method-assign]
            DisplayDriver.apply, lambda a: f"apply {type(a[0]).__name__}"
        )
        # inside apply: decodes (an in-place one is inside its copy_onto)
        ImageResolver._decode = counted(  # type: ignore[method-assign]
            ImageResolver._decode, lambda a: f"decode type {a[1].type}"
        )
        ImageResolver.copy_onto = counted(  # type: ignore[method-assign]
            ImageResolver.copy_onto, lambda a: "copy_onto (tried)"
        )

    def probed_receive(self: DisplayChannel, data: Any) -> None:
        if not start and self.state in linking:
            start.append(resource.getrusage(resource.RUSAGE_SELF))
            start.append(time.perf_counter())
            if lib is not None:
                if os.environ.get("SPICEPY_WINDOW_ALL_THREADS"):
                    lib.cg_zero()
                else:
                    lib.cg_start()
        receive(self, data)

    def probed_flush(self: ChannelConnection) -> None:
        flush(self)
        machine: Any = self.machine
        if not start or not isinstance(machine, DisplayChannel):
            return
        pings = machine.message_counts[CommonMsg.PING]
        if pings == getattr(self, "_probe_pings", 0):
            return
        self._probe_pings = pings  # type: ignore[attr-defined]
        if lib is not None:
            lib.cg_dump()
        now, ru0 = resource.getrusage(resource.RUSAGE_SELF), start[0]
        print(
            "spicepy-window: "
            f"faults={now.ru_minflt - ru0.ru_minflt} "
            f"user_ms={(now.ru_utime - ru0.ru_utime) * 1e3:.2f} "
            f"sys_ms={(now.ru_stime - ru0.ru_stime) * 1e3:.2f} "
            f"wall_ms={(time.perf_counter() - start[1]) * 1e3:.2f}",
            file=sys.stderr,
            flush=True,
        )
        # the outer calls first (receive_data, apply ...), then what nests in apply
        order = sorted(calls.items(), key=lambda kv: (kv[0][0] in "cd", -kv[1][1]))
        for label, (n, faults) in order:
            print(f"{CALL_LINE}{label}: {n} calls, {faults} faults", file=sys.stderr)

    DisplayChannel.receive_data = probed_receive  # type: ignore[method-assign,assignment]
    ChannelConnection._flush = probed_flush  # type: ignore[method-assign]
    return main(argv)


# -- the driver -----------------------------------------------------------------


def _helper(scratch: Path) -> Path:
    source = scratch / "window_helper.c"
    source.write_text(_HELPER_C)
    lib = scratch / "window_helper.so"
    subprocess.run(
        ["gcc", "-O2", "-shared", "-fPIC", "-o", str(lib), str(source)], check=True
    )
    return lib


def run_once(
    name: str,
    scratch: Path,
    helper: Path | None,
    by_call: bool = False,
    all_threads: bool = False,
) -> dict[str, Any]:
    """One fresh client against replay-server; the last window it reported
    (``by_call``: its per-call lines under "calls")."""
    with replay_server(name, 600) as uri:
        cmd = [sys.executable, "-P", str(Path(__file__).resolve()), "--child"]
        cmd += ["screenshot", uri]
        cmd += ["-o", str(scratch / f"{name}.png"), "--timeout", "300"]
        env = dict(os.environ, PYTHONHASHSEED="0")
        if by_call:
            env["SPICEPY_WINDOW_BY_CALL"] = "1"
        cg = scratch / f"{name}.cg"
        if helper is not None:
            env["SPICEPY_WINDOW_HELPER"] = str(helper)
            if all_threads:
                env["SPICEPY_WINDOW_ALL_THREADS"] = "1"
            cmd = [
                "valgrind",
                "--tool=callgrind",
                f"--collect-atstart={'yes' if all_threads else 'no'}",
                f"--callgrind-out-file={cg}",
                *cmd,
                "--quiet-time",
                "3",
            ]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    windows = WINDOW_LINE.findall(done.stderr)
    if done.returncode or not windows:
        sys.exit(f"bench_window: {name} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = {
        k: float(v) for k, v in (f.split("=") for f in windows[-1].split())
    }
    if by_call:  # the lines after the last window line
        last = done.stderr.rsplit("spicepy-window: ", 1)[1]
        result["calls"] = [
            line[len(CALL_LINE) :]
            for line in last.splitlines()
            if line.startswith(CALL_LINE)
        ]
    if helper is not None:
        dumps = sorted(scratch.glob(f"{name}.cg.*"))  # one per display PONG
        costs: defaultdict[str, int] = defaultdict(int)
        for dump in dumps:
            for obj, ir in _self_cost_by_object(dump).items():
                costs[Path(obj).name] += ir
            dump.unlink()
        result["ir"] = sum(costs.values())
        result["objects"] = sorted(costs.items(), key=lambda kv: -kv[1])[:8]
    return result


def gtk_available() -> str | None:
    """Why spice-gtk cannot be probed here, or None."""
    if not shutil.which("gcc"):
        return "no gcc for the LD_PRELOAD probe"
    probe = "import gi; gi.require_version('SpiceClientGLib', '2.0')"
    try:
        subprocess.run([GI_PYTHON, "-c", probe], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return f"{GI_PYTHON} has no python3-gi with SpiceClientGLib 2.0"
    return None


def _gtk_shim(scratch: Path) -> Path:
    source = scratch / "gtk_window.c"
    source.write_text(_GTK_SHIM_C)
    lib = scratch / "gtk_window.so"
    subprocess.run(
        ["gcc", "-O2", "-shared", "-fPIC", "-o", str(lib), str(source), "-ldl"],
        check=True,
    )
    return lib


def run_gtk_once(
    name: str,
    scratch: Path,
    shim: Path,
    callgrind: bool = False,
    all_threads: bool = False,
) -> dict[str, Any]:
    """One fresh spice-gtk client against replay-server, as ``run_once``:
    once its reports stop (the final PONG), it saves and exits."""
    report = scratch / f"{name}.gtk-window"
    report.unlink(missing_ok=True)
    cg = scratch / f"{name}.gtk.cg"
    settle = 5.0 if callgrind else 1.0
    with replay_server(name, 600) as uri:
        cmd = [GI_PYTHON, str(tools_dir() / "make-captures"), "client"]
        cmd += ["--host", "127.0.0.1", "--port", uri.rsplit(":", 1)[1]]
        if callgrind:
            cmd = [
                "valgrind",
                "--tool=callgrind",
                f"--collect-atstart={'yes' if all_threads else 'no'}",
                f"--callgrind-out-file={cg}",
                *cmd,
            ]
        env = dict(
            os.environ,
            LD_PRELOAD=str(shim),
            SPICEPY_GTK_WINDOW_OUT=str(report),
            PYTHONHASHSEED="0",
        )
        if all_threads:
            env["SPICEPY_WINDOW_ALL_THREADS"] = "1"
        client = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert client.stdin is not None
        # done once the reports stop; none at all within `limit`: failed
        limit = 120.0 if callgrind else 30.0
        seen, quiet_since = "", time.monotonic()
        while client.poll() is None:
            time.sleep(0.05)
            text = report.read_text() if report.exists() else ""
            if text != seen:
                seen, quiet_since = text, time.monotonic()
            elif time.monotonic() - quiet_since >= (settle if seen else limit):
                break
        try:  # make-captures client: "save PNG", then EOF ends it
            client.stdin.write(f"save {scratch / name}.gtk.png\n")
            client.stdin.close()
            client.wait(60)
        except (OSError, subprocess.TimeoutExpired):
            client.kill()
            client.wait()
    windows = WINDOW_LINE.findall(seen)
    if not windows:
        sys.exit(f"bench_window: spice-gtk saw no window on {name}")
    result: dict[str, Any] = {
        k: float(v) for k, v in (f.split("=") for f in windows[-1].split())
    }
    if callgrind:
        costs: defaultdict[str, int] = defaultdict(int)
        for dump in sorted(scratch.glob(f"{name}.gtk.cg.*")):
            for obj, ir in _self_cost_by_object(dump).items():
                costs[Path(obj).name] += ir
            dump.unlink()
        cg.unlink(missing_ok=True)
        result["ir"] = sum(costs.values())
        result["objects"] = sorted(costs.items(), key=lambda kv: -kv[1])[:8]
    return result


def _self_cost_by_object(out_file: Path) -> dict[str, int]:
    """Instructions spent in each object file's own code (a callgrind dump)."""
    names: dict[str, str] = {}
    costs: defaultdict[str, int] = defaultdict(int)
    current, skip_next = "?", False
    with out_file.open() as f:
        for line in f:
            c = line[:1]
            if c.isdigit() or c in "+-*":
                if skip_next:  # a call's inclusive cost: not self cost
                    skip_next = False
                    continue
                parts = line.split()
                if len(parts) > 1:
                    costs[current] += int(parts[1])
            elif line.startswith(("ob=", "cob=")):
                m = re.match(r"c?ob=\((\d+)\)\s*(.*)", line.strip())
                if m and m.group(2):
                    names[m.group(1)] = m.group(2)
                if line.startswith("ob="):
                    current = names.get(m.group(1), "?") if m else line[3:].strip()
            elif line.startswith("calls="):
                skip_next = True
    return dict(costs)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--child"]:
        return _child(args[1:])
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("captures", nargs="+")
    p.add_argument("--runs", type=int, default=5, help="fresh clients (default)")
    p.add_argument("--callgrind", action="store_true", help="Ir, one run each")
    p.add_argument(
        "--all-threads",
        action="store_true",
        help="--callgrind: count every thread (see the module docstring)",
    )
    p.add_argument(
        "--by-call", action="store_true", help="faults by call site, one run each"
    )
    p.add_argument(
        "--gtk", action="store_true", help="spice-gtk's window too, runs alternating"
    )
    ns = p.parse_args(args)
    if ns.callgrind and not shutil.which("valgrind"):
        sys.exit("bench_window: --callgrind needs valgrind")
    why_not = gtk_available() if ns.gtk else None
    if why_not is not None:
        print(f"bench_window: spice-gtk skipped: {why_not}", file=sys.stderr)
    gtk = ns.gtk and why_not is None
    with tempfile.TemporaryDirectory(prefix="bench_window.") as tmp:
        scratch = Path(tmp)
        helper = _helper(scratch) if ns.callgrind else None
        shim = _gtk_shim(scratch) if gtk else None
        for name in ns.captures:
            if ns.by_call:
                r = run_once(name, scratch, None, by_call=True)
                print(f"{name}: {r['faults']:.0f} page faults in the window")
                for line in r["calls"]:
                    print(f"  {line}")
                continue
            if helper is not None:
                every = ns.all_threads
                results = [
                    ("spicepy", run_once(name, scratch, helper, all_threads=every))
                ]
                if shim is not None:
                    gtk_run = run_gtk_once(name, scratch, shim, True, every)
                    results.append(("spice-gtk", gtk_run))
                for client, r in results:
                    objects = ", ".join(f"{k} {v:,}" for k, v in r["objects"][:5])
                    print(
                        f"{name} {client}: {int(r['ir']):,} Ir in the window "
                        f"({objects})"
                    )
                continue
            runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for _ in range(ns.runs):  # alternating: both see the same load
                runs["spicepy"].append(run_once(name, scratch, None))
                if shim is not None:
                    runs["spice-gtk"].append(run_gtk_once(name, scratch, shim))
            for client, rs in runs.items():
                med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
                print(
                    f"{name} {client}: median of {ns.runs}: "
                    f"{med['faults']:.0f} page faults, CPU {med['user_ms']:.1f} ms "
                    f"user + {med['sys_ms']:.1f} ms system, "
                    f"wall {med['wall_ms']:.1f} ms"
                )
    return 0


def test_window_probe_smoke() -> None:
    """One capture once: the probe sees a window (faults and CPU counted)."""
    if not (captures_dir() / f"{SMOKE_CAPTURE}.pcap").is_file():
        pytest.skip("../shared/captures not present (set SPICEPY_CAPTURES)")
    if not (tools_dir() / "replay-server").is_file():
        pytest.skip("../shared/tools not present (set SPICEPY_TOOLS)")
    with tempfile.TemporaryDirectory(prefix="bench_window.") as tmp:
        result = run_once(SMOKE_CAPTURE, Path(tmp), None)
    assert result["faults"] > 0
    assert result["user_ms"] + result["sys_ms"] > 0


def test_gtk_window_probe_smoke() -> None:
    """spice-gtk once: the LD_PRELOAD probe sees its display window."""
    if not (captures_dir() / f"{SMOKE_CAPTURE}.pcap").is_file():
        pytest.skip("../shared/captures not present (set SPICEPY_CAPTURES)")
    if not (tools_dir() / "replay-server").is_file():
        pytest.skip("../shared/tools not present (set SPICEPY_TOOLS)")
    why_not = gtk_available()
    if why_not is not None:
        pytest.skip(why_not)
    with tempfile.TemporaryDirectory(prefix="bench_window.") as tmp:
        scratch = Path(tmp)
        result = run_gtk_once(SMOKE_CAPTURE, scratch, _gtk_shim(scratch))
    assert result["faults"] > 0
    assert result["wall_ms"] > 0


if __name__ == "__main__":
    sys.exit(main())
