"""The container image, rehearsed without Docker (this project's CI machines have no Docker
daemon): the Dockerfile's instructions are replayed into a temporary directory standing
for the image's file system, and the result runs.

- every ``COPY`` copies what the Dockerfile names, into ``WORKDIR``;
- ``RUN pip install -e .`` is replayed as building the project's wheel from what has been
  copied at that point (the dependency layer: pyproject.toml, README and the empty
  packages), which is what the install needs; the dependencies themselves come from this
  test environment;
- every other ``RUN`` runs as written, except ``useradd`` (a system account);
- ``ENV`` is applied, with the image's ``/data`` volume mapped into the directory;
- the ``ENTRYPOINT`` then runs as a real process, importing stemme from the rehearsed
  ``/app`` only (``python -S`` with the dependencies' directory on ``PYTHONPATH``: this
  environment's editable install of the repository is a ``.pth`` hook, which ``-S`` leaves
  out): it migrates a new SQLite database in ``/data``, answers ``/start`` in
  Danish through the Bot API emulator (the catalogs compiled in the image are found), and
  stops on SIGTERM.

What this cannot show: the base image, the non-root user's permissions, and Docker itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.emulator import BotApiEmulator
from storage.crypto import new_key
from tests.e2e.conftest import BOT_USERNAME, TOKEN

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@dataclass
class Image:
    """What the replayed Dockerfile left: the file system, the environment, the command."""

    root: Path
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def inside(self, container_path: str) -> Path:
        """The rehearsal's directory for a path in the image."""
        return self.root / container_path.lstrip("/")

    def mapped(self, value: str) -> str:
        """An ENV value with the image's absolute /data and /app paths made local."""
        for container in ("/data", "/app"):
            value = value.replace(f"//{container}", f"//{self.inside(container)}")
        return value


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in dockerfile.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        result.append((keyword.upper(), rest.strip()))
    return result


def replay(dockerfile: Path, root: Path) -> Image:
    """Builds the rehearsal image in ``root`` (see the module docstring)."""
    image = Image(root=root, workdir=root)
    shell_env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    for keyword, argument in instructions(dockerfile):
        if keyword in ("FROM", "EXPOSE", "VOLUME", "USER", "CMD"):
            if keyword == "VOLUME":
                for volume in json.loads(argument):
                    image.inside(volume).mkdir(parents=True, exist_ok=True)
            continue
        if keyword == "WORKDIR":
            image.workdir = image.inside(argument)
            image.workdir.mkdir(parents=True, exist_ok=True)
        elif keyword == "ENV":
            for pair in shlex.split(argument):
                name, _, value = pair.partition("=")
                image.env[name] = image.mapped(value)
        elif keyword == "COPY":
            *sources, target = argument.split()
            destination = image.workdir / target
            for source in sources:
                origin = ROOT / source
                assert origin.exists(), f"COPY {source}: not in the repository"
                if origin.is_dir():
                    shutil.copytree(
                        origin,
                        destination,
                        dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.mo"),
                    )
                else:
                    into = destination / origin.name if target.endswith("/") else destination
                    into.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, into)
        elif keyword == "RUN":
            if argument.startswith("pip install"):
                wheels = root.parent / "wheels"
                built = subprocess.run(
                    [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
                    + ["--quiet", "--wheel-dir", str(wheels), "."],
                    cwd=image.workdir,
                    capture_output=True,
                    text=True,
                )
                assert built.returncode == 0, f"RUN {argument}:\n{built.stderr}"
            elif argument.startswith("useradd"):
                image.skipped.append(argument)
            else:
                ran = subprocess.run(
                    ["bash", "-c", argument],
                    cwd=image.workdir,
                    env=shell_env,
                    capture_output=True,
                    text=True,
                )
                assert ran.returncode == 0, f"RUN {argument}:\n{ran.stderr}"
        elif keyword == "ENTRYPOINT":
            image.entrypoint = json.loads(argument)
        else:
            raise AssertionError(f"the rehearsal does not know {keyword}; teach it")
    return image


def imported_from(env: dict[str, str], cwd: Path) -> list[str]:
    """Where a process with ``env`` finds stemme's modules."""
    imported = subprocess.run(
        [
            sys.executable,
            "-S",
            "-c",
            "import bot.cli, storage.db; print(bot.cli.__file__, storage.db.__file__)",
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return imported.stdout.split()


async def test_the_image_built_from_the_dockerfile_migrates_and_answers_in_danish(
    tmp_path: Path, emulator: BotApiEmulator
) -> None:
    image = replay(ROOT / "Dockerfile", tmp_path / "image")

    app = image.inside("/app")
    assert (app / "locales" / "da" / "LC_MESSAGES" / "stemme.mo").exists()
    assert image.entrypoint == ["stemme", "run"]
    assert any(skipped.startswith("useradd") for skipped in image.skipped)
    database = image.env["STEMME_DATABASE_URL"]
    assert database == f"sqlite:///{image.inside('/data')}/stemme.db"

    env = {key: value for key, value in os.environ.items() if not key.startswith("STEMME_")}
    env.update(image.env)
    env.update(
        {
            # Only the rehearsed /app: not the repository this test runs from.
            "PYTHONPATH": os.pathsep.join([str(app), sysconfig.get_paths()["purelib"]]),
            "PYTHONSAFEPATH": "1",
            "STEMME_BOT_TOKEN": TOKEN,
            "STEMME_BOT_USERNAME": BOT_USERNAME,
            "STEMME_API_BASE_URL": emulator.base_url,
            "STEMME_DATA_KEY": new_key(),
        }
    )
    assert imported_from(env, tmp_path) == [
        str(app / "bot" / "cli.py"),
        str(app / "storage" / "db.py"),
    ]
    # The console script ``stemme`` is ``bot.cli:main``; run the same without .pth files.
    assert image.entrypoint[0] == "stemme"
    command = [
        sys.executable,
        "-S",
        "-c",
        "import sys; from bot.cli import main; sys.argv[0] = 'stemme'; sys.exit(main())",
        *image.entrypoint[1:],
    ]
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=tmp_path,  # not the repository, nor /app: imports come from PYTHONPATH
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        for _ in range(300):
            if emulator.calls_for("getUpdates"):
                break
            assert process.returncode is None, "the entrypoint stopped"
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the bot never polled")
        user = emulator.user(7301, "Ida", language_code="da")
        reaction = await user.send("/start", timeout=30)
        assert "Jeg er stemme, plejeteamets værktøj" in reaction.text
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    log = output.decode(errors="replace")
    assert process.returncode == 0, log[-3000:]
    assert (image.inside("/data") / "stemme.db").exists()
    assert TOKEN not in log
