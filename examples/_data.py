"""Where the examples keep the data they generate on first use (``DLTUNE_DATA_DIR`` overrides)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def data_dir(name: str) -> Path:
    root = Path(os.environ.get("DLTUNE_DATA_DIR", Path(__file__).parent / "data"))
    return root / name


def ensure(name: str, make: Callable[[Path], None]) -> Path:
    """Create the data folder once, atomically: concurrent first uses never see a half-written set."""
    final = data_dir(name)
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=final.parent))
    try:
        make(tmp)
        os.replace(tmp, final)
    except OSError:
        if not final.is_dir():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
