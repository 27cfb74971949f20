"""The deployment files agree with the code: every STEMME_ variable they (and the docs)
mention exists, the Dockerfile copies what exists, and the commands they run parse."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.config import Settings
from flows.core.i18n import texts
from tests.test_texts import COPENHAGEN

ROOT = Path(__file__).resolve().parent.parent
DEPLOY_FILES = [
    ROOT / "Dockerfile",
    ROOT / "compose.yaml",
    ROOT / "README.md",
    *sorted((ROOT / "deploy").iterdir()),
    *sorted((ROOT / "docs").glob("*.md")),
]
# Read by the tests and the benchmark only, not by the bot.
NOT_SETTINGS = {"STEMME_TEST_POSTGRES_URL", "STEMME_BENCH_POSTGRES_URL"}


def _settings_variables() -> set[str]:
    return {f"STEMME_{name.upper()}" for name in Settings.model_fields}


@pytest.mark.parametrize("path", DEPLOY_FILES, ids=lambda path: path.name)
def test_every_stemme_variable_mentioned_is_a_setting(path: Path) -> None:
    mentioned = set(re.findall(r"STEMME_[A-Z_]+[A-Z]", path.read_text(encoding="utf-8")))
    unknown = mentioned - _settings_variables() - NOT_SETTINGS
    assert unknown == set(), f"{path.name} mentions variables stemme does not read"


def test_the_dockerfile_copies_files_that_exist() -> None:
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.startswith("COPY "):
            sources = line.split()[1:-1]
            for source in sources:
                assert (ROOT / source).exists(), source


def test_the_commands_the_unit_and_image_run_are_stemme_commands() -> None:
    parser = build_parser(texts("en", COPENHAGEN))
    unit = (ROOT / "deploy" / "stemme.service").read_text(encoding="utf-8")
    commands = [
        shlex.split(line.split("=", 1)[1])[1:]
        for line in unit.splitlines()
        if line.startswith(("ExecStart=", "ExecStartPre="))
    ]
    commands.append(["run"])  # the image's ENTRYPOINT
    commands.append(["run", "--webhook"])
    for argv in commands:
        parser.parse_args(argv)
    assert '"stemme", "run"' in (ROOT / "Dockerfile").read_text(encoding="utf-8")
