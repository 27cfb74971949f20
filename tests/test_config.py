"""``stemme run`` checks its configuration before it starts: clear messages in the
configured language, exit code 2, and never the token or the secret in the output."""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Settings, is_loopback, parse_listen, run_problems
from flows.core.i18n import texts

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET = "Kx7_webhook-SECRET-value"


@dataclass
class Result:
    code: int
    out: str
    err: str


Cli = Callable[..., Result]


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Settings]]:
    """Stands in for bot.app and bot.webhook: each run is recorded instead of served."""
    runs: dict[str, list[Settings]] = {"polling": [], "webhook": []}
    for module, key in (("bot.app", "polling"), ("bot.webhook", "webhook")):
        fake = types.ModuleType(module)
        fake.run = runs[key].append  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, module, fake)
    return runs


@pytest.fixture
def cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Cli:
    """``stemme`` in-process on a new SQLite file, with a token, in English by default."""
    for name in list(os.environ):
        if name.startswith("STEMME_") and name != "STEMME_DATA_KEY":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STEMME_DATABASE_URL", f"sqlite:///{tmp_path / 'stemme.db'}")
    monkeypatch.setenv("STEMME_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("STEMME_LOCALE", "en")

    def run(*args: str, **env: str) -> Result:
        for name, value in env.items():
            monkeypatch.setenv(f"STEMME_{name.upper()}", value)
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def test_webhook_mode_starts_with_an_https_url_a_secret_and_a_listen_address(
    cli: Cli, started: dict[str, list[Settings]]
) -> None:
    result = cli(
        "run",
        "--webhook",
        webhook_url="https://bot.example.dk/telegram/hook",
        webhook_secret=SECRET,
        listen="0.0.0.0:8443",
    )

    assert result.code == 0, result.err
    assert [s.webhook_url for s in started["webhook"]] == ["https://bot.example.dk/telegram/hook"]
    assert started["polling"] == []


def test_webhook_mode_without_url_and_secret_names_both_and_exits_2(
    cli: Cli, started: dict[str, list[Settings]]
) -> None:
    result = cli("run", "--webhook")

    assert result.code == 2
    assert "STEMME_WEBHOOK_URL" in result.err
    assert "STEMME_WEBHOOK_SECRET" in result.err
    assert started == {"polling": [], "webhook": []}
    assert TOKEN not in result.err + result.out


@pytest.mark.parametrize(
    "url",
    [
        "http://bot.example.dk/hook",  # not https
        "bot.example.dk/hook",  # no scheme
        "https:///hook",  # no host
        "ftp://bot.example.dk/hook",
    ],
)
def test_a_bad_webhook_url_is_refused(cli: Cli, url: str) -> None:
    result = cli("run", "--webhook", webhook_url=url, webhook_secret=SECRET)

    assert result.code == 2
    assert "STEMME_WEBHOOK_URL must be an https:// address" in result.err


def test_plain_http_is_allowed_on_loopback_only() -> None:
    t = texts("en", Settings(_env_file=None).tz)  # type: ignore[call-arg]
    for url, ok in (
        ("http://127.0.0.1:8443/hook", True),
        ("http://localhost/hook", True),
        ("http://[::1]:8080/hook", True),
        ("http://10.0.0.5/hook", False),
    ):
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            webhook_url=url,
            webhook_secret=SECRET,  # type: ignore[arg-type]
        )
        assert (run_problems(settings, webhook=True, t=t) == []) is ok, url


@pytest.mark.parametrize("secret", ["has space", "ümlaut", "semi;colon", "x" * 257])
def test_a_secret_telegram_would_refuse_is_refused_without_printing_it(
    cli: Cli, secret: str
) -> None:
    result = cli(
        "run", "--webhook", webhook_url="https://bot.example.dk/hook", webhook_secret=secret
    )

    assert result.code == 2
    assert "STEMME_WEBHOOK_SECRET may only hold" in result.err
    assert secret not in result.err + result.out


@pytest.mark.parametrize("listen", ["8443", "0.0.0.0", "0.0.0.0:0", "host:99999", ":8080", "a:b"])
def test_a_bad_listen_address_is_refused_in_either_mode(cli: Cli, listen: str) -> None:
    assert cli("run", listen=listen).code == 2
    result = cli(
        "run",
        "--webhook",
        webhook_url="https://bot.example.dk/hook",
        webhook_secret=SECRET,
        listen=listen,
    )
    assert result.code == 2
    assert "STEMME_LISTEN must be host:port" in result.err


def test_listen_addresses_are_parsed() -> None:
    assert parse_listen("0.0.0.0:8443") == ("0.0.0.0", 8443)
    assert parse_listen("[::1]:8080") == ("::1", 8080)
    assert parse_listen("localhost:80") == ("localhost", 80)
    assert is_loopback("127.0.0.2") and is_loopback("::1") and not is_loopback("example.dk")


def test_an_unreachable_database_is_named_without_its_password_and_exits_2(
    cli: Cli, started: dict[str, list[Settings]]
) -> None:
    result = cli("run", database_url="postgresql://stemme:hunter2@127.0.0.1:9/stemme", data_key="")

    assert result.code == 2
    assert "cannot be reached (OperationalError)" in result.err
    assert "127.0.0.1" in result.err
    assert "hunter2" not in result.err + result.out
    assert started["polling"] == []


def test_the_messages_are_in_danish_by_default(cli: Cli) -> None:
    result = cli("run", "--webhook", locale="da", webhook_url="http://bot.example.dk/hook")

    assert result.code == 2
    assert "STEMME_WEBHOOK_URL skal være en https://-adresse" in result.err
    assert "STEMME_WEBHOOK_SECRET" in result.err


def test_the_dashboard_lives_beside_the_webhook_unless_its_address_is_set() -> None:
    def settings(**values: str) -> Settings:
        return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]

    beside = settings(webhook_url="https://bot.example.dk/telegram/hook")
    assert beside.dashboard_url == "https://bot.example.dk/app/"
    chosen = settings(
        webhook_url="https://bot.example.dk/hook", dashboard_url="https://app.example.dk/app/"
    )
    assert chosen.dashboard_url == "https://app.example.dk/app/"
    assert settings().dashboard_url is None
