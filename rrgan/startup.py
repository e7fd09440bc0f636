"""A quiet start for the console scripts and the demo: TensorFlow's start-up lines kept off the terminal.

Importing TensorFlow prints a screen of lines before anything of rrgan's (oneDNN, "Could not find
cuda drivers", CPU instructions, and ``E0000 ... failed call to cuInit`` on every machine without
a GPU), which a new user reads as a failure. Most are written by Abseil before its logging is
initialised, which no environment variable filters, so they are caught at the file descriptor:
stderr goes to a temporary file while TensorFlow loads and finds its devices, and is dropped when
that succeeded (printed when it failed). After that TensorFlow's C++ log shows fatal errors only
(its errors reach the user as Python exceptions; oneDNN logs an ``E0000 ... DT_HALF`` line at the
first graph on CPUs without AVX512-FP16, AMD's among them) and its Python logger errors. The catch
waits for TensorFlow's first import (an import hook), so ``--help`` and commands that need no
TensorFlow stay instant. ``--verbose`` or ``RRGAN_VERBOSE=1`` leaves it all as it is.

Also here: ``prefer_onednn``, with which ``rrgan-train`` asks for TensorFlow's oneDNN kernels.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import logging
import os
import sys
import tempfile
from contextlib import contextmanager

VERBOSE_VARIABLE = "RRGAN_VERBOSE"
ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"


def prefer_onednn() -> None:
    """Ask TensorFlow for its oneDNN kernels unless the user chose (``TF_ENABLE_ONEDNN_OPTS``).

    TensorFlow turns them on by itself only on CPUs with AVX-512 VNNI or BF16 or AMX. On an AVX2
    CPU ``rrgan-train`` runs 1.3-1.4x faster with them, but reflections come off a photo 1.2-1.5x
    slower (docs/benchmarks.md): training processes ask, the others do not.
    TensorFlow reads the variable when it loads; once it is loaded (``train_main`` called in a
    process that imported it) this does nothing, rather than reach only the process's children.
    """
    if "tensorflow" not in sys.modules:
        os.environ.setdefault(ONEDNN_VARIABLE, "1")


def verbose_requested(argv: list[str] | None = None) -> bool:
    """``--verbose`` in a command line (sys.argv's by default), or RRGAN_VERBOSE set to anything but 0."""
    argv = sys.argv[1:] if argv is None else argv
    return "--verbose" in argv or os.environ.get(VERBOSE_VARIABLE, "0") not in ("", "0")


def quiet_start(verbose: bool = False) -> None:
    """Make TensorFlow's first import in this process quiet (a TF_CPP_MIN_LOG_LEVEL the user set
    wins). Does nothing with ``verbose``, once TensorFlow is imported, or when already called."""
    if verbose or "tensorflow" in sys.modules or any(isinstance(f, _QuietFinder) for f in sys.meta_path):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.meta_path.insert(0, _QuietFinder())


@contextmanager
def _stderr_dropped():
    """File descriptor 2 into a temporary file for the block; its text is printed if the block raises."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            caught.seek(0)
            sys.stderr.write(caught.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as the other finders do, once, and wraps its loader in ``_QuietLoader``."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    """TensorFlow's own loader, run with stderr dropped, then its devices found (the CUDA probe logs
    its error there), then its Python logger set to errors."""

    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        with _stderr_dropped():
            self.loader.exec_module(module)
            module.config.list_physical_devices()
        module.get_logger().setLevel(logging.ERROR)
