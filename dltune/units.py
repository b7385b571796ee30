"""Human-readable units (pure)."""

from __future__ import annotations

import math


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def parse_bytes(text: str) -> int:
    """'8G', '512MiB', '1.5GB', '1000' -> bytes (binary multiples for K/M/G/T)."""
    s = text.strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    scale = 1
    if s and s[-1] in mult:
        s, scale = s[:-1], mult[s[-1]]
    value = float(s) * scale
    if not math.isfinite(value) or value < 1:
        raise ValueError(f"{text!r} is not a positive, finite size")
    return int(value)
