"""Writing files so that a crash never leaves half of one: the one place for atomic writes and CSV logs."""

from __future__ import annotations

import csv
import os
from pathlib import Path


def atomic_write(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` beside ``path`` and rename it into place: readers see the old file or the new one."""
    path = Path(path)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
    return path


def append_csv(path: Path, header: list[str], rows: list[list]) -> None:
    """Append rows to a CSV log, writing ``header`` first when the file is new."""
    new_file = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.writer(handle)
        if new_file:
            writer.writerow(header)
        writer.writerows(rows)
