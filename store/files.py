"""Derived files beside the database (index, vectors), written temp-then-rename.

A reader never sees half a file: each write goes to a temporary name in the same folder and is
renamed over the old one, so a crash leaves the previous version or the new one.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def save_array(path: Path, array: np.ndarray) -> None:
    """np.save, atomically."""
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, np.asarray(array))
    os.replace(tmp, path)


def write_text(path: Path, text: str) -> None:
    """Path.write_text, atomically."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
