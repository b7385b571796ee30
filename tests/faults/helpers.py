"""What a fault test needs: run dltune as a user does, and list what it could leave behind."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def dltune(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dltune", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def one_error_line(r: subprocess.CompletedProcess[str]) -> str:
    """The error as the user sees it; asserts it is dltune's message, not a traceback."""
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    lines = [line for line in r.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, r.stderr[-3000:]
    return lines[0]


@dataclass(frozen=True)
class Snapshot:
    processes: frozenset[int]
    shm: frozenset[str]
    tmp: frozenset[str]

    @staticmethod
    def take() -> Snapshot:
        me = psutil.Process()
        procs = {p.pid for p in me.children(recursive=True)}
        for p in psutil.process_iter(["cmdline", "ppid"]):  # orphans: dltune processes whose parent is gone
            cmd = " ".join(p.info.get("cmdline") or [])
            orphan = p.info.get("ppid") in (0, 1) or not psutil.pid_exists(p.info.get("ppid") or 0)
            if orphan and ("dltune" in cmd or ("multiprocessing" in cmd and "spawn" in cmd)):
                procs.add(p.pid)
        shm = set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()
        # dltune's own temporary folders; a test session's example data (conftest) is not dltune's
        tmp = {
            n
            for n in os.listdir(tempfile.gettempdir())
            if n.startswith("dltune-") and not n.startswith("dltune-test-data-")
        }
        return Snapshot(frozenset(procs - {me.pid}), frozenset(shm), frozenset(tmp))

    def left_since(self, before: Snapshot) -> dict[str, set[object]]:
        alive = {pid for pid in self.processes - before.processes if psutil.pid_exists(pid)}
        alive = {p for p in alive if psutil.Process(p).status() != psutil.STATUS_ZOMBIE}
        return {
            k: v
            for k, v in {
                "processes": alive,
                "shm": set(self.shm - before.shm),
                "tmp": set(self.tmp - before.tmp),
            }.items()
            if v
        }


def nothing_left(before: Snapshot, settle_s: float = 5.0) -> None:
    """Assert no process, /dev/shm segment or temporary folder appeared since ``before`` (waiting up to
    ``settle_s`` for processes that are exiting)."""
    import time

    deadline = time.monotonic() + settle_s
    while True:
        left = Snapshot.take().left_since(before)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not left, f"left behind: {left}"
