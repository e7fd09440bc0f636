import os
import subprocess
import sys

import pytest

from rrgan import EXAMPLE_PHOTO
from rrgan.startup import _stderr_dropped, prefer_onednn, verbose_requested

REMOVE = "import sys; from rrgan.cli import remove_main; sys.exit(remove_main())"  # what the console script runs


def _remove_example(tmp_path, *flags, **env):
    """rrgan-remove on the example photo in a fresh process, as a new user runs it first."""
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("TF_CPP_MIN_LOG_LEVEL", "RRGAN_VERBOSE")}
    return subprocess.run([sys.executable, "-c", REMOVE, str(EXAMPLE_PHOTO), "-o", str(tmp_path / "clean"), *flags],
                          capture_output=True, text=True, env={**environment, **env}, cwd=tmp_path, timeout=300)


def test_remove_prints_only_its_own_lines(tmp_path):
    run = _remove_example(tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"wrote 1 photo(s) to {tmp_path / 'clean'}\n"
    lines = [line for line in run.stderr.replace("\r", "\n").splitlines() if line.strip()]
    assert lines and all(line.startswith("removing reflections") for line in lines), run.stderr
    assert (tmp_path / "clean" / "window.jpg").is_file()


def test_verbose_brings_tensorflow_lines_back(tmp_path):
    """(RRGAN_VERBOSE=1 takes the same path: test_verbose_requested.)"""
    run = _remove_example(tmp_path, "--quiet", "--verbose")
    assert run.returncode == 0, run.stderr
    assert run.stderr.strip(), "TensorFlow logs something at start-up; --verbose should let it through"


def test_verbose_requested(monkeypatch):
    monkeypatch.delenv("RRGAN_VERBOSE", raising=False)
    assert verbose_requested(["photo.jpg", "--verbose"]) and not verbose_requested(["photo.jpg"])
    monkeypatch.setenv("RRGAN_VERBOSE", "0")
    assert not verbose_requested(["photo.jpg"])
    monkeypatch.setenv("RRGAN_VERBOSE", "1")
    assert verbose_requested(["photo.jpg"])


def test_dropped_stderr_comes_back_when_the_start_fails(capfd):
    with _stderr_dropped():
        os.write(2, b"I0000 start-up noise\n")
    assert capfd.readouterr().err == ""
    with pytest.raises(RuntimeError), _stderr_dropped():
        os.write(2, b"E0000 why it failed\n")
        raise RuntimeError("import failed")
    assert "why it failed" in capfd.readouterr().err


def test_console_scripts_import_no_tensorflow_before_their_quiet_start():
    """What cli.py imports at the top must not load TensorFlow: it would print its start-up lines
    before quiet_start, and make --help take seconds."""
    check = "import sys, rrgan.cli, rrgan.startup; assert 'tensorflow' not in sys.modules, 'imported'"
    assert subprocess.run([sys.executable, "-c", check], capture_output=True, text=True).returncode == 0


@pytest.mark.parametrize("choice, enabled", [(None, "True"), ("0", "False")])
def test_rrgan_train_turns_on_onednn_unless_the_user_chose(choice, enabled):
    """TensorFlow leaves its oneDNN kernels off on AVX2 CPUs, where rrgan-train runs 1.3-1.4x faster with them."""
    check = ("from rrgan.cli import train_main\n"
             "try:\n    train_main(['--help'])\nexcept SystemExit:\n    pass\n"
             "from tensorflow.python.util import _pywrap_util_port\n"
             "print(_pywrap_util_port.IsMklEnabled())")
    environment = {key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}
    if choice is not None:
        environment["TF_ENABLE_ONEDNN_OPTS"] = choice
    run = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, env=environment, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == enabled


def test_once_tensorflow_is_loaded_prefer_onednn_changes_nothing(monkeypatch):
    """Too late for this process; the variable would only reach its children (a test's rrgan-remove)."""
    import tensorflow  # noqa: F401
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    prefer_onednn()
    assert "TF_ENABLE_ONEDNN_OPTS" not in os.environ
