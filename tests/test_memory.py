import subprocess
import sys

from rrgan.memory import peak_rss_gib, rss_gib


def test_a_child_of_a_large_process_reports_its_own_peak():
    """What ru_maxrss gets wrong on Linux: the child would report the parent's 1 GiB."""
    held = b"\x01" * 2 ** 30
    assert rss_gib() >= 1.0 and peak_rss_gib() >= rss_gib()
    child = subprocess.run([sys.executable, "-c", "from rrgan.memory import peak_rss_gib; print(peak_rss_gib())"],
                           capture_output=True, text=True, check=True)
    assert 0.0 < float(child.stdout) < 0.5
    del held
