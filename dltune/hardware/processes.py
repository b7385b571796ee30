"""How many more processes this user may start: RLIMIT_NPROC and the cgroup's pids.max, less those running."""

from __future__ import annotations

import resource
from pathlib import Path

from dltune.hardware.cpu import _candidates, _read, cgroup_paths


def process_headroom(root: Path = Path("/")) -> int | None:
    """Processes that can still be started before a limit refuses a fork (None: no limit found)."""
    limits: list[int] = []
    soft, _ = resource.getrlimit(resource.RLIMIT_NPROC)
    if soft != resource.RLIM_INFINITY and soft > 0:
        import psutil

        limits.append(soft - len(psutil.pids()))  # counts every user's processes: an upper bound on ours
    v2, v1 = cgroup_paths(root)
    for folder in _candidates(root / "sys/fs/cgroup", v2) + _candidates(
        root / "sys/fs/cgroup/pids", v1.get("pids")
    ):
        limit, current = _read(folder / "pids.max"), _read(folder / "pids.current")
        if limit and limit.isdigit() and current and current.isdigit():
            limits.append(int(limit) - int(current))
            break
    return max(0, min(limits)) if limits else None
