"""Every console-script command in the README, the pages it sends a newcomer to and the scripts
they run parses as written: no flag, choice or subcommand that does not exist. (rrgan-remove on
the example, the README's first command, runs for real in test_startup.py.)"""

import argparse
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from rrgan import cli

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", "export/README.md", "docs/shipped-model.md", "docs/benchmarks.md"]
SCRIPTS = ["experiments/reproduce_shipped.sh"]
MAINS = {"rrgan-data": cli.data_main, "rrgan-train": cli.train_main, "rrgan-remove": cli.remove_main,
         "rrgan-eval": cli.eval_main, "rrgan-export": cli.export_main, "rrgan-demo": cli.demo_main}


def _commands():
    for page in PAGES:
        for block in re.findall(r"```bash\n(.*?)```", (ROOT / page).read_text(), re.DOTALL):
            for line in block.replace("\\\n", " ").splitlines():
                for part in line.split("&&"):
                    words = shlex.split(part, comments=True)
                    if words and words[0] in MAINS:
                        yield pytest.param(words, id=f"{page}: {' '.join(words)}")
    for script in SCRIPTS:
        for words in _script_commands(ROOT / script):
            if words[0] in MAINS:
                yield pytest.param(words, id=f"{script}: {' '.join(words)}")


def _script_commands(script: Path) -> list[list[str]]:
    """The commands ``script`` runs, with its variables expanded by bash itself: each console script
    is a shell function there that prints its words instead of running."""
    stubs = "".join(f"{name}() {{ printf '%q ' {name} \"$@\"; echo; }}; " for name in MAINS)
    printed = subprocess.run(["bash", "-c", f"{stubs}source {shlex.quote(str(script))}"],
                             capture_output=True, text=True, check=True).stdout
    return [shlex.split(line) for line in printed.splitlines()]


class _Parsed(Exception):
    pass


@pytest.fixture
def parse_only(monkeypatch):
    """argparse parses and then stops the program with _Parsed (a wrong flag exits with its message)."""
    original = argparse.ArgumentParser.parse_args

    def parse(self, args=None, namespace=None):
        original(self, args, namespace)
        raise _Parsed

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse)


@pytest.mark.parametrize("words", list(_commands()))
def test_readme_command_parses(words, parse_only):
    with pytest.raises(_Parsed):
        MAINS[words[0]](words[1:])


def test_the_readme_has_commands_to_check():
    names = {words[0] for param in _commands() for words in param.values}
    assert names == set(MAINS)
