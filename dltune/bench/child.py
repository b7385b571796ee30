"""A watched child process: a fresh interpreter that runs jobs sent to it, one at a time.

The parent never runs user code. It sends a job, then waits for the answer on a pipe while it
watches the time, the machine's free memory and the PSS of the child and its DataLoader workers
(about once a second; RSS, a cheap upper bound, in between), and kills the whole process tree on a
hang or a memory overrun. A child that was killed, or whose job failed, is not reused: the next job
starts a fresh one.

One job per child is the sweep's isolation (``run_child``); ``WatchedProcess`` keeps one child for
many jobs, which saves the interpreter start, the torch import and the dataset module's import per
measurement (what tuning does: about 2.5 s a trial on a 2-core machine).

The child is started with spawn but without re-running the parent's ``__main__``: spawn would run
the parent's script again in the child, which for the ``dltune`` console script imports the whole
command line (about a second), and for a user's script without an ``if __name__ == "__main__"``
guard would run their program again.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import glob
import importlib
import multiprocessing as mp
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
import types
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import psutil

from dltune.bench.failures import Failure
from dltune.bench.measure import pss_of

Job = Callable[[dict[str, Any]], dict[str, Any]]

# ---------------------------------------------------------------- in the child ---------------------


def _resolve(job: str) -> Job:
    module, _, name = job.partition(":")
    fn: Job = getattr(importlib.import_module(module), name)
    return fn


def _reap_workers(wait_s: float = 5.0) -> None:
    """Make sure the job's DataLoader workers are gone before the next job (or the answer) starts."""
    gc.collect()  # a loader caught in a reference cycle shuts its workers down when collected
    me = psutil.Process()
    with contextlib.suppress(psutil.Error):
        left = me.children(recursive=True)
        _, alive = psutil.wait_procs(left, timeout=wait_s)
        for p in alive:
            with contextlib.suppress(psutil.Error):
                p.kill()


def _detach() -> None:
    """Lead a process group of our own, which the DataLoader workers join, so that the parent can kill
    every process of a trial at once, even workers busy in user code after this process died (kernel
    OOM kill, segfault); and die with the parent, however it ends (Linux: PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    die_with_parent()


def die_with_parent() -> None:
    """Be killed when the parent process ends, however it ends (Linux: PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        parent = os.getppid()
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the line above: do not outlive it
            os._exit(1)


PR_SET_PDEATHSIG = 1
READY_JOB = "dltune.bench.child:ready_job"


def ready_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Nothing: answering it says the interpreter has booted (its imports are done)."""
    return {}


KEEP_WORKERS = "keep_workers"
"""A job that answers with this key set keeps its DataLoader workers alive for the next job (a live
loader measured window by window); any other job's workers are reaped before it answers."""


def _serve(conn: Any) -> None:
    """The child's loop: run each ``(job, payload)`` received, answer, until ``None`` or a closed pipe."""
    _detach()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        job, payload = message
        try:
            result = _resolve(job)(payload)
        except BaseException as exc:  # never let the child die silently: the parent reports this
            result = {
                "failure": asdict(
                    Failure(
                        "failed",
                        f"dltune's trial process raised {type(exc).__name__}: {exc}",
                        "".join(traceback.format_exception(exc)[-4:]),
                    )
                )
            }
        if not (isinstance(result, dict) and result.pop(KEEP_WORKERS, False)):
            _reap_workers()
        try:
            conn.send(result)
        except (BrokenPipeError, OSError):
            return


# ---------------------------------------------------------------- in the parent --------------------

_CONTEXT: Any = None


def _context() -> Any:
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = mp.get_context("spawn")
    return _CONTEXT


@contextlib.contextmanager
def _main_not_rerun() -> Iterator[None]:
    """While a spawn child starts, show multiprocessing a ``__main__`` with neither a file nor a spec."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    """This process's environment with ``env`` set, while a child starts (the child copies it)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@dataclass
class ChildOutcome:
    result: dict[str, Any] | None
    exitcode: int | None
    watchdog: str | None
    peak_main: int
    peak_workers: int
    duration_s: float
    memory_limit: int
    stderr: str = ""
    """The end of what the job's processes printed to stderr, when it failed without an answer (a hang,
    a kill): a hung loader's workers often said why (``STDERR_LOG``)."""


STDERR_LOG = "DLTUNE_STDERR_LOG"
"""Environment variable naming the file a child's jobs send their (and their workers') stderr to: in the
child's own temporary folder, where the parent reads it when a job is stopped without an answer."""


def tail_of_file(path: str, size: int = 8192) -> str:
    """The last ``size`` bytes of a text file ('' when it cannot be read)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - size))
            return f.read().decode(errors="replace")
    except OSError:
        return ""


SHM = "/dev/shm"


def remove_orphan_segments(pids: set[int], root: str = SHM) -> list[str]:
    """Remove the shared-memory segments torch named after processes of a failed job that are gone
    (``torch_<pid>_*``): a worker killed between creating a segment and handing it over (or one out of
    open files) leaves it behind, holding RAM until the machine restarts. Returns what it removed."""
    removed = []
    for pid in pids:
        if psutil.pid_exists(pid):
            continue
        for path in glob.glob(os.path.join(root, f"torch_{pid}_*")):
            with contextlib.suppress(OSError):
                os.unlink(path)
                removed.append(path)
    return removed


def _rss(family: list[psutil.Process]) -> int:
    total = 0
    for p in family:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def kill_tree(proc: psutil.Process) -> None:
    """Kill a trial process, its descendants and its process group (workers it may have lost)."""
    try:
        family = proc.children(recursive=True) + [proc]
    except psutil.Error:
        family = [proc]
    for p in family:
        with contextlib.suppress(psutil.Error):
            p.kill()
    kill_group(proc.pid)
    psutil.wait_procs(family, timeout=5)


def kill_group(pgid: int) -> None:
    """SIGKILL what is left of the process group a trial process led (nothing, usually)."""
    if pgid != os.getpgid(0):  # never our own group
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)


PSS_SHARE = 0.02
"""The watcher's PSS readings may take at most this share of one core. They cost CPU the trial's own loader
needs: 0.13 s a reading for a loader with 16 workers (17 processes, measured on the 2-core development VM),
so one a second took 6% of that machine from a CPU-bound pipeline, and more the more workers it has (the
mixed case's trials read 16 workers level with 8, where long in-process windows read them 11% apart)."""


def pss_interval(cost_s: float, floor_s: float) -> float:
    """Seconds until the next PSS reading, after one that cost ``cost_s`` of CPU: at least ``floor_s``, and
    long enough that readings stay within ``PSS_SHARE`` of a core (the cheap RSS check between them still
    guards the memory limit)."""
    return max(floor_s, cost_s / PSS_SHARE)


class WatchedProcess:
    """One fresh interpreter that runs jobs in turn, each watched; restarted after a failure."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self._env = env or {}
        """Environment variables the child interpreter starts with (on top of this process's)."""
        self._proc: Any = None
        self._conn: Any = None
        self._submitted = 0.0
        self._watched: psutil.Process | None = None
        self._tmp: str | None = None
        self._log = ""
        """The file the child's jobs send stderr to (``STDERR_LOG``), in ``_tmp``."""
        self.started = 0
        """How many interpreters this object has started (a test and a benchmark read it)."""

    def __enter__(self) -> WatchedProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def alive(self) -> bool:
        """Whether an interpreter is running (a failed job's was closed)."""
        return self._proc is not None and self._proc.is_alive()

    def start(self) -> None:
        """Start the interpreter now, unless one is running (``run`` does it otherwise): two started
        one after the other boot at the same time."""
        if not self.alive:
            self.close()
            self._start()

    def _start(self) -> None:
        ctx = _context()
        mine, theirs = ctx.Pipe(duplex=True)
        proc = ctx.Process(target=_serve, args=(theirs,), daemon=False)
        # the child's temporary files (multiprocessing's pymp-* folders, which killed workers leave
        # behind, torchelastic's logs, the dataset's own) live in a folder removed with the child
        self._tmp = tempfile.mkdtemp(prefix="dltune-child-")
        self._log = os.path.join(self._tmp, "stderr.log")
        with _main_not_rerun(), _environment({**self._env, "TMPDIR": self._tmp, STDERR_LOG: self._log}):
            proc.start()
        theirs.close()
        self._proc, self._conn, self._watched = proc, mine, psutil.Process(proc.pid)
        self.started += 1

    def run(self, job: str, payload: dict[str, Any], **watch: Any) -> ChildOutcome:
        """Run ``job`` (``'module:function'``, called with ``payload`` in the child) and watch it
        (``watch``: the keyword arguments of ``wait``)."""
        self.submit(job, payload)
        return self.wait(**watch)

    def submit(self, job: str, payload: dict[str, Any]) -> None:
        """Send ``job`` without waiting for it: two children given jobs one after the other run them
        at the same time. ``wait`` watches it and takes the answer."""
        self.start()
        self._submitted = time.monotonic()
        with contextlib.suppress(OSError):  # the child is gone: wait() finds it dead, says how it ended
            self._conn.send((job, payload))

    def wait(
        self,
        *,
        timeout_s: float,
        memory_limit: int,
        reserve: int,
        poll_s: float = 0.2,
        pss_every_s: float = 1.0,
    ) -> ChildOutcome:
        """Watch the job ``submit`` sent until it answers, or kill the child on a hang or overrun."""
        proc, conn, watched = self._proc, self._conn, self._watched
        assert watched is not None
        start = self._submitted
        result: dict[str, Any] | None = None
        watchdog: str | None = None
        peak_main = peak_workers = main = workers = 0
        next_pss = start
        pids: set[int] = set()
        try:
            while True:
                now = time.monotonic()
                try:
                    family = [watched, *watched.children(recursive=True)]
                except psutil.Error:
                    family = [watched]
                pids.update(p.pid for p in family)
                if now >= next_pss or _rss(family) > memory_limit:  # RSS >= PSS: a cheap upper bound
                    # reading PSS walks every mapping of a process under its memory lock: not too often
                    cpu0 = time.process_time()
                    main = pss_of(watched)
                    peak_main = max(peak_main, main)
                    workers = sum(pss_of(c) for c in family[1:])
                    peak_workers = max(peak_workers, workers)
                    next_pss = now + pss_interval(time.process_time() - cpu0, pss_every_s)
                if now - start > timeout_s:
                    watchdog = "timeout"
                elif main + workers > memory_limit or psutil.virtual_memory().available < reserve:
                    watchdog = "memory"
                if watchdog:
                    kill_tree(watched)
                    break
                if conn.poll(poll_s):
                    result = conn.recv()
                    break
                if not proc.is_alive():
                    break
        except (EOFError, BrokenPipeError, ConnectionResetError):
            result = None  # the child died while we talked to it; its exit code says how
        except BaseException:  # Ctrl-C, SIGTERM (Terminated), anything: the trial must not outlive us
            kill_tree(watched)
            self.close()
            raise
        failed = result is None or "failure" in result
        exitcode, stderr = None, ""
        if failed:
            if result is None:  # stopped or dead: what it printed may say why
                stderr = tail_of_file(self._log)
            self.close()  # never reuse a child whose job went wrong: its state is unknown
            exitcode = proc.exitcode
            remove_orphan_segments(pids)
        return ChildOutcome(
            result,
            exitcode,
            watchdog,
            peak_main,
            peak_workers,
            time.monotonic() - start,
            memory_limit,
            stderr,
        )

    def release(self) -> None:
        """Ask the child to exit after the jobs sent so far, without waiting (``close`` waits): two
        children released one after the other shut down at the same time."""
        if self._conn is not None:
            with contextlib.suppress(OSError, ValueError):
                self._conn.send(None)

    def close(self) -> None:
        """Ask the child to exit; kill its tree if it does not within 10 s."""
        proc, conn = self._proc, self._conn
        self._proc = self._conn = self._watched = None
        if proc is None:
            return
        with contextlib.suppress(OSError, ValueError):
            conn.send(None)
        proc.join(10)
        if proc.is_alive():  # workers slow to shut down, or a child stuck in user code
            with contextlib.suppress(psutil.Error):
                kill_tree(psutil.Process(proc.pid))
            proc.join(5)
        kill_group(proc.pid)  # workers that outlived a child killed by the kernel
        with contextlib.suppress(OSError):
            conn.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def run_child(job: str, payload: dict[str, Any], **watch: Any) -> ChildOutcome:
    """Run one job in a fresh, watched interpreter of its own."""
    with WatchedProcess() as child:
        out = child.run(job, payload, **watch)
    return out
