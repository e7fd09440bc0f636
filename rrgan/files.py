"""Writing files so that a crash never leaves half of one: the one place for atomic writes and CSV logs."""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike, folder: bool = False) -> Iterator[Path]:
    """A temporary path beside ``final`` (a new empty folder with ``folder``) that is renamed to
    ``final`` when the block succeeds: readers see the old file or the whole new one. A block that
    removes the temporary (or never creates a file there) renames nothing."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    if folder:
        temporary = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o777 & ~umask)  # mkdtemp's 0700 would hide a model from a TF Serving user
    else:
        temporary = final.with_name(f".{final.name}.tmp")
    try:
        yield temporary
        if temporary.exists():
            os.replace(temporary, final)
    finally:
        if temporary.is_dir():
            shutil.rmtree(temporary, ignore_errors=True)
        else:
            temporary.unlink(missing_ok=True)


def atomic_write(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write text or bytes to ``path`` atomically."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data.encode() if isinstance(data, str) else data)
    return Path(path)


def append_csv(path: Path, header: list[str], rows: list[list]) -> None:
    """Append rows to a CSV log, writing ``header`` first when the file is new. A log begun with
    fewer columns (by an older rrgan, then resumed) keeps its own: new columns are left out of it."""
    if path.exists():
        with path.open(newline="") as handle:
            columns = next(csv.reader(handle), header)
    else:
        columns = None
    with path.open("a", newline="") as handle:
        writer = csv.writer(handle)
        if columns is None:
            writer.writerow(header)
            columns = header
        writer.writerows([[dict(zip(header, row)).get(column, "") for column in columns] for row in rows])
