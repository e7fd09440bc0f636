"""This process's memory, as benchmarks and tests measure it.

Read from /proc/self/status, not ``resource.getrusage``: Linux keeps ``ru_maxrss`` across fork
and exec, so a child started by a large process (pytest, a benchmark's parent) reports its
parent's peak; ``VmHWM`` belongs to the process's own address space. Elsewhere (macOS) the
rusage figure is the best there is.
"""

from __future__ import annotations

import re
import resource
import sys
from pathlib import Path

_STATUS = Path("/proc/self/status")


def _status_gib(field: str) -> float | None:
    if not _STATUS.exists():
        return None
    found = re.search(rf"^{field}:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    return int(found.group(1)) / 2 ** 20 if found else None


def peak_rss_gib() -> float:
    """The most resident memory this process has had, in GiB."""
    peak = _status_gib("VmHWM")
    if peak is not None:
        return peak
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # bytes on macOS, KiB elsewhere
    return maxrss / 2 ** (30 if sys.platform == "darwin" else 20)


def rss_gib() -> float:
    """The resident memory of this process now, in GiB (its peak where /proc is missing)."""
    now = _status_gib("VmRSS")
    return now if now is not None else peak_rss_gib()
