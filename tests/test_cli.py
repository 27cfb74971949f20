"""The ``stemme`` command line, run in-process against a SQLite file (plus one real process)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import tomllib
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.cli import main
from bot.config import Settings
from storage import audit, migrate
from storage.db import make_engine, utcnow
from storage.directory import (
    add_site,
    add_team,
    create_invite,
    get_member_by_telegram_id,
    list_sites,
    list_teams,
    redeem_invite,
    remove_member,
)
from storage.models import Invite, Role
from tests.factories import id_of

REPO = Path(__file__).resolve().parent.parent
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
# Anything shaped like a bot token: digits, a colon, a long run of token characters.
TOKEN_SHAPE = re.compile(r"\d{6,}:[A-Za-z0-9_-]{20,}")


@dataclass(frozen=True)
class Result:
    """What one command did: its exit code and what it wrote."""

    code: int
    out: str
    err: str

    def json(self) -> dict[str, Any]:
        """Parses stdout, which must be exactly one JSON object."""
        payload = json.loads(self.out)
        assert isinstance(payload, dict)
        return payload


@pytest.fixture
def cli_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Points the CLI at a new SQLite file, in English, with no token and no .env file."""
    for name in list(os.environ):
        if name.startswith("STEMME_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("STEMME_DATABASE_URL", url)
    monkeypatch.setenv("STEMME_LOCALE", "en")
    monkeypatch.setenv("STEMME_TIMEZONE", "Europe/Copenhagen")
    return url


@pytest.fixture
def upgraded(cli_url: str) -> str:
    """The CLI's database, migrated."""
    migrate.upgrade(cli_url)
    return cli_url


Cli = Callable[..., Result]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """Runs ``stemme`` in-process: ``cli("site", "list")`` returns a ``Result``."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code=code, out=captured.out, err=captured.err)

    return run


@contextmanager
def _session(url: str) -> Iterator[Session]:
    """A session of its own on the CLI's database, to set up or check what is stored."""
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield session
    finally:
        engine.dispose()


def _team(url: str, site_name: str = "Egebo", team_name: str = "Dag") -> int:
    with _session(url) as session:
        site = add_site(session=session, name=site_name)
        team = add_team(session=session, site=site, name=team_name)
        session.commit()
        assert team.id is not None
        return team.id


# ---------------------------------------------------------------- db


def test_db_upgrade_creates_the_tables(cli_url: str, cli: Cli) -> None:
    assert migrate.current(cli_url) is None

    result = cli("db", "upgrade")

    assert result.code == 0
    assert migrate.current(cli_url) == migrate.head()
    assert str(migrate.head()) in result.out
    with _session(cli_url) as session:
        assert list_sites(session=session) == []


def test_db_upgrade_and_current_report_the_revision_as_json(cli_url: str, cli: Cli) -> None:
    before = cli("db", "current", "--json")
    upgraded = cli("db", "upgrade", "--json")
    after = cli("db", "current", "--json")

    assert before.json()["database"]["revision"] is None
    assert before.json()["database"]["up_to_date"] is False
    assert upgraded.json() == {"database": {"revision": migrate.head(), "up_to_date": True}}
    assert after.json()["database"] == {
        "revision": migrate.head(),
        "head": migrate.head(),
        "up_to_date": True,
    }


def test_admin_commands_ask_for_an_upgrade_on_a_new_database(cli_url: str, cli: Cli) -> None:
    result = cli("site", "add", "Egebo")

    assert result.code == 1
    assert "stemme db upgrade" in result.err
    assert migrate.current(cli_url) is None


def test_an_unreachable_database_is_reported_without_its_password(
    cli_url: str, cli: Cli, monkeypatch: pytest.MonkeyPatch, data_key: str
) -> None:
    monkeypatch.setenv(
        "STEMME_DATABASE_URL", "postgresql://stemme:hunter2@127.0.0.1:9/stemme?connect_timeout=2"
    )
    monkeypatch.setenv("STEMME_DATA_KEY", data_key)

    result = cli("db", "upgrade")

    assert result.code == 1
    assert "127.0.0.1" in result.err
    assert "hunter2" not in result.err + result.out


# ---------------------------------------------------------------- sites


def test_site_add_stores_the_site(upgraded: str, cli: Cli) -> None:
    result = cli("site", "add", "Solhaven", "Nord", "--kind", "home_care")

    assert result.code == 0
    assert "Solhaven Nord" in result.out
    with _session(upgraded) as session:
        sites = list_sites(session=session)
    assert [(site.name, site.kind) for site in sites] == [("Solhaven Nord", "home_care")]
    assert f"id {sites[0].id}" in result.out


def test_site_add_json_prints_the_stored_site(upgraded: str, cli: Cli) -> None:
    result = cli("site", "add", "Egebo", "--json")

    assert result.code == 0
    site = result.json()["site"]
    with _session(upgraded) as session:
        stored = list_sites(session=session)
    assert site == {"id": stored[0].id, "name": "Egebo", "kind": "care_home"}


def test_site_add_refuses_a_name_in_use(upgraded: str, cli: Cli) -> None:
    cli("site", "add", "Egebo")

    text = cli("site", "add", "Egebo")
    as_json = cli("site", "add", "Egebo", "--json")

    assert text.code == as_json.code == 1
    assert "Egebo" in text.err
    assert text.out == ""
    assert "Egebo" in as_json.json()["error"]
    with _session(upgraded) as session:
        assert len(list_sites(session=session)) == 1


@pytest.mark.parametrize("name", ["   ", "x" * 121])
def test_site_add_refuses_an_empty_or_too_long_name(upgraded: str, cli: Cli, name: str) -> None:
    result = cli("site", "add", name, "--json")

    assert result.code == 1
    assert "error" in result.json()
    with _session(upgraded) as session:
        assert list_sites(session=session) == []


def test_site_list_shows_every_site(upgraded: str, cli: Cli) -> None:
    cli("site", "add", "Skovly")
    cli("site", "add", "Egebo", "--kind", "home_care")

    text = cli("site", "list")
    as_json = cli("site", "list", "--json")

    assert text.code == 0
    assert text.out.index("Egebo") < text.out.index("Skovly")
    assert "home care" in text.out
    assert [(site["name"], site["kind"]) for site in as_json.json()["sites"]] == [
        ("Egebo", "home_care"),
        ("Skovly", "care_home"),
    ]


# ---------------------------------------------------------------- teams


def test_team_add_finds_the_site_by_name_or_id(upgraded: str, cli: Cli) -> None:
    site_id = cli("site", "add", "Egebo", "--json").json()["site"]["id"]

    by_name = cli("team", "add", "--site", "Egebo", "Dag", "--json")
    by_id = cli("team", "add", "--site", str(site_id), "Aften", "hold")

    assert by_name.code == by_id.code == 0
    assert by_name.json()["team"]["site_id"] == site_id
    assert "Aften hold" in by_id.out
    with _session(upgraded) as session:
        teams = list_teams(session=session)
    assert [(team.name, team.site_id) for team in teams] == [
        ("Aften hold", site_id),
        ("Dag", site_id),
    ]


def test_team_add_refuses_an_unknown_site(upgraded: str, cli: Cli) -> None:
    text = cli("team", "add", "--site", "Nowhere", "Dag")
    as_json = cli("team", "add", "--site", "Nowhere", "Dag", "--json")

    assert text.code == as_json.code == 1
    assert "Nowhere" in text.err
    assert "Nowhere" in as_json.json()["error"]
    with _session(upgraded) as session:
        assert list_teams(session=session) == []


def test_team_add_refuses_a_name_in_use_at_that_site(upgraded: str, cli: Cli) -> None:
    cli("site", "add", "Egebo")
    cli("site", "add", "Skovly")
    cli("team", "add", "--site", "Egebo", "Dag")

    same_site = cli("team", "add", "--site", "Egebo", "Dag")
    other_site = cli("team", "add", "--site", "Skovly", "Dag")

    assert same_site.code == 1
    assert "Dag" in same_site.err
    assert other_site.code == 0


def test_team_list_shows_site_and_team_and_filters_by_site(upgraded: str, cli: Cli) -> None:
    _team(upgraded, "Egebo", "Dag")
    _team(upgraded, "Skovly", "Nat")

    everything = cli("team", "list")
    one_site = cli("team", "list", "--site", "Skovly", "--json")

    assert "Egebo/Dag" in everything.out
    assert "Skovly/Nat" in everything.out
    assert [(team["site"], team["name"]) for team in one_site.json()["teams"]] == [
        ("Skovly", "Nat")
    ]


# ---------------------------------------------------------------- invites


def test_invite_json_has_code_link_and_expiry(
    upgraded: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    team_id = _team(upgraded)
    monkeypatch.setenv("STEMME_BOT_USERNAME", "@stemme_test_bot")
    before = utcnow()

    result = cli(
        "invite", "--team", "Egebo/Dag", "--role", "lead", "--uses", "3", "--days", "2", "--json"
    )

    assert result.code == 0
    invite = result.json()["invite"]
    assert invite["link"] == f"https://t.me/stemme_test_bot?start={invite['code']}"
    assert (invite["team_id"], invite["role"], invite["max_uses"]) == (team_id, "lead", 3)
    assert invite["expires_at"].endswith("+00:00")
    with _session(upgraded) as session:
        stored = session.exec(select(Invite).where(Invite.code == invite["code"])).one()
    assert (stored.team_id, stored.role, stored.max_uses, stored.uses) == (team_id, "lead", 3, 0)
    assert before + timedelta(days=2) <= stored.expires_at <= utcnow() + timedelta(days=2)
    assert invite["expires_at"] == stored.expires_at.isoformat(timespec="seconds")


def test_invite_text_shows_code_local_expiry_and_link(
    upgraded: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    _team(upgraded)
    monkeypatch.setenv("STEMME_BOT_USERNAME", "stemme_test_bot")
    monkeypatch.setenv("STEMME_TIMEZONE", "America/Nuuk")

    result = cli("invite", "--team", "Dag", "--role", "staff")

    assert result.code == 0
    with _session(upgraded) as session:
        stored = session.exec(select(Invite)).one()
    local = stored.expires_at.astimezone(Settings().tz)
    assert stored.code in result.out
    assert f"https://t.me/stemme_test_bot?start={stored.code}" in result.out
    assert local.strftime("%H:%M") in result.out
    assert "America/Nuuk" in result.out
    assert (stored.max_uses, stored.role) == (1, "staff")
    assert timedelta(days=7) - (stored.expires_at - stored.created_at) < timedelta(seconds=5)


def test_invite_without_username_or_token_omits_the_link_and_says_why(
    upgraded: str, cli: Cli
) -> None:
    _team(upgraded)

    result = cli("invite", "--team", "Dag", "--role", "staff", "--json")

    assert result.code == 0
    assert result.json()["invite"]["link"] is None
    assert "STEMME_BOT_USERNAME" in result.err
    assert len(result.err.strip().splitlines()) == 1


@dataclass
class FakeTelegram:
    """A Bot API stand-in that answers getMe; ``paths`` holds the paths it was asked."""

    base_url: str
    paths: list[str]
    refuse_token: bool = False


GET_ME = {
    "ok": True,
    "result": {
        "id": 123456789,
        "is_bot": True,
        "first_name": "Stemme",
        "username": "stemme_test_bot",
    },
}
UNAUTHORIZED = {"ok": False, "error_code": 401, "description": "Unauthorized"}


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    """Serves getMe for a bot called stemme_test_bot on a local port (or refuses the token)."""
    fake = FakeTelegram(base_url="", paths=[])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            fake.paths.append(self.path)
            body = json.dumps(UNAUTHORIZED if fake.refuse_token else GET_ME).encode()
            self.send_response(401 if fake.refuse_token else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    fake.base_url = f"http://{host!s}:{port}/bot"
    yield fake
    server.shutdown()
    server.server_close()


def test_invite_asks_telegram_for_the_username_without_showing_the_token(
    upgraded: str, cli: Cli, monkeypatch: pytest.MonkeyPatch, fake_telegram: FakeTelegram
) -> None:
    _team(upgraded)
    monkeypatch.setenv("STEMME_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("STEMME_API_BASE_URL", fake_telegram.base_url)

    as_json = cli("invite", "--team", "Dag", "--role", "staff", "--json")
    text = cli("invite", "--team", "Dag", "--role", "staff")

    invite = as_json.json()["invite"]
    assert invite["link"] == f"https://t.me/stemme_test_bot?start={invite['code']}"
    assert "https://t.me/stemme_test_bot?start=" in text.out
    assert fake_telegram.paths == [f"/bot{TOKEN}/getMe"] * 2
    for output in [as_json.out, as_json.err, text.out, text.err]:
        assert TOKEN not in output
        assert not TOKEN_SHAPE.search(output)


def test_invite_with_a_token_telegram_refuses_omits_the_link_and_hides_the_token(
    upgraded: str, cli: Cli, monkeypatch: pytest.MonkeyPatch, fake_telegram: FakeTelegram
) -> None:
    _team(upgraded)
    fake_telegram.refuse_token = True
    monkeypatch.setenv("STEMME_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("STEMME_API_BASE_URL", fake_telegram.base_url)

    result = cli("invite", "--team", "Dag", "--role", "staff", "--json")

    assert result.code == 0
    assert result.json()["invite"]["link"] is None
    assert fake_telegram.paths == [f"/bot{TOKEN}/getMe"]
    assert "STEMME_BOT_USERNAME" in result.err
    assert not TOKEN_SHAPE.search(result.out + result.err)


def test_invite_when_telegram_cannot_be_reached_omits_the_link(
    upgraded: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    _team(upgraded)
    monkeypatch.setenv("STEMME_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("STEMME_API_BASE_URL", "http://127.0.0.1:9/bot")

    result = cli("invite", "--team", "Dag", "--role", "lead", "--json")

    assert result.code == 0
    assert result.json()["invite"]["link"] is None
    assert "STEMME_BOT_USERNAME" in result.err
    assert not TOKEN_SHAPE.search(result.out + result.err)


@pytest.mark.parametrize(
    ("option", "value"),
    [("--uses", "0"), ("--uses", "-1"), ("--uses", "two"), ("--uses", "1001"), ("--days", "0")],
)
def test_invite_refuses_a_bad_number(upgraded: str, cli: Cli, option: str, value: str) -> None:
    _team(upgraded)

    text = cli("invite", "--team", "Dag", "--role", "staff", option, value)
    as_json = cli("invite", "--team", "Dag", "--role", "staff", option, value, "--json")

    assert text.code == as_json.code == 1
    assert option in text.err
    assert option in as_json.json()["error"]
    with _session(upgraded) as session:
        assert session.exec(select(Invite)).all() == []


def test_invite_refuses_an_unknown_or_ambiguous_team(upgraded: str, cli: Cli) -> None:
    _team(upgraded, "Egebo", "Dag")
    _team(upgraded, "Skovly", "Dag")

    unknown = cli("invite", "--team", "Nat", "--role", "staff", "--json")
    ambiguous = cli("invite", "--team", "Dag", "--role", "staff")
    precise = cli("invite", "--team", "Skovly/Dag", "--role", "staff", "--json")

    assert unknown.code == ambiguous.code == 1
    assert "Nat" in unknown.json()["error"]
    assert "Site/Team" in ambiguous.err
    assert precise.code == 0


def test_invite_is_audited(upgraded: str, cli: Cli) -> None:
    team_id = _team(upgraded)

    cli("invite", "--team", str(team_id), "--role", "staff")

    with _session(upgraded) as session:
        actions = [(entry.action, entry.actor) for entry in audit.entries(session=session)]
    assert actions[0] == ("invite.create", "cli")


# ---------------------------------------------------------------- members


def test_members_lists_active_members_with_ids_and_roles(upgraded: str, cli: Cli) -> None:
    team_id = _team(upgraded)
    big_id = 2**40 + 5
    with _session(upgraded) as session:
        team = list_teams(session=session)[0]
        staff_invite = create_invite(session=session, team=team, role=Role.STAFF, max_uses=3)
        for telegram_id, name in [(big_id, "Bo"), (7, "Anne"), (8, "Gone")]:
            redeem_invite(
                session=session,
                code=staff_invite.code,
                telegram_id=telegram_id,
                name=name,
                language="da",
            )
        lead_invite = create_invite(session=session, team=team, role=Role.LEAD)
        lead = redeem_invite(
            session=session, code=lead_invite.code, telegram_id=9, name="Zara", language="en"
        )
        gone = get_member_by_telegram_id(session=session, telegram_id=8)
        assert gone is not None
        remove_member(
            session=session,
            team_id=team_id,
            member_id=id_of(gone),
            actor_member_id=id_of(lead.member),
        )
        session.commit()

    text = cli("members", "--team", "Egebo/Dag")
    as_json = cli("members", "--team", "Egebo/Dag", "--json")

    assert text.code == as_json.code == 0
    members = as_json.json()["members"]
    assert [(row["name"], row["telegram_id"], row["role"]) for row in members] == [
        ("Zara", 9, "lead"),
        ("Anne", 7, "staff"),
        ("Bo", big_id, "staff"),
    ]
    assert as_json.json()["team"]["id"] == team_id
    assert str(big_id) in text.out
    assert "Gone" not in text.out
    assert text.out.index("Zara") < text.out.index("Anne") < text.out.index("Bo")


def test_members_of_an_empty_team_says_so(upgraded: str, cli: Cli) -> None:
    _team(upgraded)

    text = cli("members", "--team", "Dag")
    as_json = cli("members", "--team", "Dag", "--json")

    assert text.code == 0
    assert "stemme invite" in text.out
    assert as_json.json()["members"] == []


# ---------------------------------------------------------------- run


@pytest.mark.parametrize("token", [None, "", "   "])
def test_run_without_a_token_explains_how_to_get_one(
    cli_url: str, cli: Cli, monkeypatch: pytest.MonkeyPatch, token: str | None
) -> None:
    if token is not None:
        monkeypatch.setenv("STEMME_BOT_TOKEN", token)

    result = cli("run")

    assert result.code == 2
    assert result.out == ""
    for step in ["@BotFather", "/newbot", '"bot"', "STEMME_BOT_TOKEN=", ".env"]:
        assert step in result.err
    assert not TOKEN_SHAPE.search(result.err)
    assert migrate.current(cli_url) is None


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """Stands in for ``bot.polling``: each ``run(settings)`` is recorded instead of polling."""
    runs: list[Settings] = []
    fake_polling = types.ModuleType("bot.polling")
    fake_polling.run = runs.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bot.polling", fake_polling)
    return runs


def test_run_upgrades_the_database_and_starts_the_bot(
    cli_url: str, cli: Cli, monkeypatch: pytest.MonkeyPatch, started: list[Settings]
) -> None:
    monkeypatch.setenv("STEMME_BOT_TOKEN", TOKEN)

    result = cli("run")

    assert result.code == 0
    assert migrate.current(cli_url) == migrate.head()
    assert [settings.token for settings in started] == [TOKEN]
    assert TOKEN not in result.out + result.err


def test_run_reads_the_token_from_a_dotenv_file_in_this_folder(
    cli_url: str, cli: Cli, tmp_path: Path, started: list[Settings]
) -> None:
    (tmp_path / ".env").write_text(f"STEMME_BOT_TOKEN={TOKEN}\n")

    result = cli("run")

    assert result.code == 0
    assert [settings.token for settings in started] == [TOKEN]


def test_run_with_webhook_is_not_supported_yet(
    cli_url: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEMME_BOT_TOKEN", TOKEN)

    result = cli("run", "--webhook")

    assert result.code == 2
    assert "--webhook" in result.err
    assert TOKEN not in result.err


# ---------------------------------------------------------------- usage and configuration


def test_no_command_prints_usage_and_exits_2(cli_url: str, cli: Cli) -> None:
    result = cli()

    assert result.code == 2
    assert "usage: stemme" in result.err


def test_help_lists_the_commands_and_exits_0(cli_url: str, cli: Cli) -> None:
    result = cli("--help")

    assert result.code == 0
    for command in ["run", "db", "site", "team", "invite", "members"]:
        assert command in result.out


def test_an_invalid_setting_is_named_and_exits_2(
    cli_url: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEMME_TIMEZONE", "Mars/Olympus_Mons")
    monkeypatch.setenv("STEMME_BOT_TOKEN", TOKEN)

    result = cli("site", "list")

    assert result.code == 2
    assert "STEMME_TIMEZONE" in result.err
    assert TOKEN not in result.err


def test_the_console_script_points_at_main() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())

    assert pyproject["project"]["scripts"]["stemme"] == "bot.cli:main"


def test_the_installed_command_adds_a_site(cli_url: str, tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "stemme"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "bot"]
    migrate.upgrade(cli_url)
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    finished = subprocess.run(
        [*command, "site", "add", "Egebo", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout)["site"]["name"] == "Egebo"
    with _session(cli_url) as session:
        assert [site.name for site in list_sites(session=session)] == ["Egebo"]
