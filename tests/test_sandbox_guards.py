"""The sandbox never touches real data and never reaches Telegram; the fast-forward exists
only in the sandbox.

``stemme sandbox`` refuses a bot token and any database but a sandbox's SQLite file, and
a sandbox file that holds sites other than the seeded care home; ``stemme run``'s servers
(polling with STEMME_LISTEN, and the webhook) have no route to move the clock.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from bot import health
from bot.app import build_application
from bot.cli import main
from bot.config import Settings
from bot.webhook import _app_for
from flows.core.i18n import texts
from sandbox import run
from storage import migrate
from storage.db import make_engine, session_scope
from storage.directory import add_site


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


def test_the_default_is_the_sandbox_file_and_may_start() -> None:
    settings = _settings()
    assert run.database_url(settings) == "sqlite:///data/sandbox.db"
    assert run.problems(settings, texts("en", settings.tz)) == []


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///data/stemme.db",
        "postgresql://postgres@127.0.0.1:5432/test",
        "postgresql://postgres@127.0.0.1:5432/sandbox.db",
        "sqlite://",
    ],
)
def test_a_database_that_is_not_a_sandbox_file_is_refused(url: str) -> None:
    settings = _settings(database_url=url)
    found = run.problems(settings, texts("en", settings.tz))
    assert len(found) == 1 and "not a sandbox database" in found[0]


def test_a_sandbox_file_elsewhere_is_accepted(tmp_path: Path) -> None:
    settings = _settings(database_url=f"sqlite:///{tmp_path / 'sandbox-demo.db'}")
    assert run.problems(settings, texts("en", settings.tz)) == []


def test_a_bot_token_is_refused_without_showing_it() -> None:
    settings = _settings(bot_token=SecretStr("4242:SECRET-never-shown"))
    found = run.problems(settings, texts("da", settings.tz))
    assert len(found) == 1 and "STEMME_BOT_TOKEN" in found[0]
    assert "SECRET-never-shown" not in found[0]


def test_stemme_sandbox_with_a_token_stops_with_exit_code_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STEMME_BOT_TOKEN", "4242:SECRET-never-shown")
    monkeypatch.setenv("STEMME_LOCALE", "en")

    assert main(["sandbox"]) == 2

    captured = capsys.readouterr()
    assert "the sandbox never talks to Telegram" in captured.err
    assert "SECRET-never-shown" not in captured.err + captured.out
    assert not (tmp_path / "data").exists()  # nothing created


def test_stemme_sandbox_against_real_data_stops_with_exit_code_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("STEMME_DATABASE_URL", "sqlite:///data/stemme.db")
    monkeypatch.delenv("STEMME_BOT_TOKEN", raising=False)
    monkeypatch.setenv("STEMME_LOCALE", "en")
    monkeypatch.chdir(tmp_path)

    assert main(["sandbox"]) == 2
    assert "not a sandbox database" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_a_sandbox_file_holding_other_sites_is_not_seeded_or_used(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sandbox.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        add_site(session=session, name="Plejecenter Rosen")
    engine.dispose()

    with pytest.raises(run.NotASandbox):
        run.prepare_database(_settings(database_url=url))


def test_stemme_run_serves_no_clock_route(tmp_path: Path) -> None:
    settings = _settings(
        bot_token=SecretStr("4242:TEST"),
        database_url=f"sqlite:///{tmp_path / 'stemme.db'}",
        webhook_url="https://bot.example.org/telegram",
        webhook_secret=SecretStr("secret"),
        listen="127.0.0.1:8443",
    )
    polling_paths = [route.path for route in health.routes(build_application(settings))]
    webhook_paths = [getattr(route, "path", "") for route in _app_for(settings).routes]

    assert polling_paths and webhook_paths
    for path in polling_paths + webhook_paths:
        assert "clock" not in path and not path.startswith("/api"), path
