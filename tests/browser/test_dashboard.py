"""The dashboard (Mini App) in a real headless Chromium at phone size, on the sandbox's seeded
care home, opened as Telegram opens it: the page at /app/ with a signed initData in the URL
fragment. A lead, a staff member and an administrator each see what they may and do what
they may; a forged initData sees nothing. Screenshots of each view go to docs/.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import uvicorn
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool
from sqlmodel import Session, select
from starlette.applications import Starlette

from bot.dashboard import serving
from flows.core.i18n import texts
from sandbox.seed import CareHome, seed_care_home
from storage import agenda, cases
from storage.db import make_engine, session_scope, utcnow
from storage.migrate import upgrade
from storage.models import Note
from webapp.api import Dashboard
from webapp.initdata import sign

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs"
PHONE = {"width": 390, "height": 844}
TZ = ZoneInfo("Europe/Copenhagen")
TOKEN = "777000:dashboard-browser-token"
ADMIN_ID = 880001
THEME = '{"bg_color":"#ffffff","text_color":"#1c1c1e","button_color":"#2481cc"}'


@dataclass
class Served:
    url: str
    engine: Engine
    home: CareHome


@asynccontextmanager
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    url = f"sqlite:///{tmp_path / 'dashboard.db'}"
    upgrade(url)
    engine = make_engine(url, poolclass=NullPool)
    with session_scope(engine) as session:
        home = seed_care_home(session=session, now=utcnow(), tz=TZ)
    dashboard = Dashboard(engine=engine, bot_token=TOKEN, admins=[ADMIN_ID], texts=texts("da", TZ))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=serving(dashboard)), log_config=None, access_log=False, lifespan="off"
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.05)
    try:
        yield Served(f"http://127.0.0.1:{port}/app/", engine, home)
    finally:
        server.should_exit = True
        await task
        sock.close()
        engine.dispose()


def fragment(telegram_id: int, *, token: str = TOKEN, view: str | None = None) -> str:
    signed = sign(
        telegram_id=telegram_id, bot_token=token, auth_date=utcnow() - timedelta(minutes=2)
    )
    parts = [f"tgWebAppData={quote(signed, safe='')}", f"tgWebAppThemeParams={quote(THEME)}"]
    if view:
        parts.append(f"view={view}")
    return "#" + "&".join(parts)


async def open_page(browser: Any, url: str) -> Any:
    context = await browser.new_context(viewport=PHONE, device_scale_factor=2)
    page = await context.new_page()
    await page.goto(url)
    return page


async def tab(page: Any, name: str) -> None:
    await page.click(f'nav button[data-view="{name}"]')
    await page.wait_for_function(
        "!document.querySelector('main').textContent.includes('Indlæser')"
    )


async def shot(page: Any, name: str) -> None:
    await page.screenshot(path=str(DOCS / f"dashboard-{name}.png"), full_page=False)


async def test_the_lead_sees_the_team_and_writes_the_minutes(browser: Any, tmp_path: Path) -> None:
    async with served(tmp_path) as app:
        home = app.home
        page = await open_page(browser, app.url + fragment(home.lead.telegram_id))
        await page.wait_for_selector(".resident")
        assert await page.text_content("#team-name") == "Team Rosen"
        tabs = await page.locator("nav button").all_text_contents()
        assert tabs == ["Borgere", "Forløb", "Prøvehandlinger", "Mikroøjeblikke", "Puls", "Møder"]
        aliases = await page.locator(".resident h3").all_text_contents()
        assert sorted(aliases) == sorted(r.alias for r in home.residents)

        with Session(app.engine) as session:
            trying = cases.get_team_case(
                session=session, team_id=home.team_id, case_id=home.trying_case_id
            )
        assert trying is not None
        await page.click(f'.resident[data-id="{trying.resident_id}"]')
        await page.wait_for_selector("#approach")
        heading = await page.text_content("#approach h3")
        assert heading is not None and heading.startswith("Sådan møder vi")
        assert "Det betyder noget for" in (await page.text_content("#matters") or "")
        await shot(page, "cards")

        await tab(page, "board")
        for step, case_id in (
            (1, home.listening_case_id),
            (2, home.team_case_id),
            (3, home.deciding_case_id),
            (4, home.trying_case_id),
        ):
            assert (
                await page.locator(
                    f'.column[data-step="{step}"] .case[data-id="{case_id}"]'
                ).count()
                == 1
            )
        await shot(page, "board")

        await tab(page, "trials")
        trial = page.locator(f'.trial[data-id="{home.trial_decision_id}"]')
        await trial.wait_for()
        assert "Det vil vi opnå" in (await trial.text_content() or "")
        assert await trial.locator("svg.chart").count() == 1
        await shot(page, "trials")

        await tab(page, "moments")
        await page.wait_for_selector("#notes .note")
        assert await page.locator("svg.chart").count() == 1
        first_alias = home.residents[0].alias
        await page.select_option("#filter-resident", str(home.residents[0].resident_id))
        await page.wait_for_selector("#notes .note")
        shown = set(await page.locator("#notes .note strong").all_text_contents())
        assert shown == {first_alias}
        await page.select_option("#filter-resident", "")
        await page.wait_for_selector("#notes .note")
        await shot(page, "moments")

        await tab(page, "pulse")
        await page.wait_for_selector("#pulse-score")
        assert await page.locator(".statement").count() == 7
        # Scores are written as Danish writes them: one decimal, a decimal comma.
        assert re.fullmatch(r"\d,\d", await page.locator("#pulse-score").inner_text())
        means = await page.locator(".statement strong").all_text_contents()
        assert all(re.fullmatch(r"\d,\d", mean) for mean in means), means
        chart_labels = await page.locator("svg text.value").all_text_contents()
        assert chart_labels and all(re.fullmatch(r"\d,\d", v) for v in chart_labels)
        await shot(page, "pulse")

        await tab(page, "meetings")
        meeting = page.locator(f'.meeting[data-id="{home.meeting_occurrence_id}"]')
        await meeting.wait_for()
        boxes = meeting.locator("input[type=checkbox]")
        assert await boxes.count() >= 2
        await boxes.nth(0).check()
        await boxes.nth(1).check()
        await meeting.locator("textarea.decision").fill("Vi spørger Fru H. om morgenen først.")
        await page.evaluate("window.scrollTo(0, 0)")
        await shot(page, "meetings")
        ticked = [
            (
                await boxes.nth(i).get_attribute("data-kind"),
                await boxes.nth(i).get_attribute("data-ref"),
            )
            for i in range(2)
        ]
        await meeting.locator(".save-minutes").click()
        await page.wait_for_selector(
            f'.meeting[data-id="{home.meeting_occurrence_id}"] .entries li'
        )
        saved = f'.meeting[data-id="{home.meeting_occurrence_id}"] .save-minutes'
        await page.wait_for_selector(saved, state="detached")
        with Session(app.engine) as session:
            minutes = agenda.get_minutes(session=session, occurrence_id=home.meeting_occurrence_id)
        assert minutes is not None
        assert minutes.decision == "Vi spørger Fru H. om morgenen først."
        assert agenda.discussed_of(minutes) == [(str(k), int(str(r))) for k, r in ticked]


async def test_staff_sees_no_minutes_form_and_adds_a_perspective(
    browser: Any, tmp_path: Path
) -> None:
    async with served(tmp_path) as app:
        home = app.home
        staff = home.staff[-1]
        page = await open_page(browser, app.url + fragment(staff.telegram_id, view="meetings"))
        await page.wait_for_selector(".meeting")
        assert await page.locator(".save-minutes").count() == 0
        assert await page.locator(".meeting input[type=checkbox]").count() == 0
        assert "overview" not in await page.locator("nav").inner_html()

        await tab(page, "board")
        case = page.locator(f'.case[data-id="{home.team_case_id}"]')
        await case.locator(".add-perspective").click()
        text = "Hun bliver roligere, når vi sætter os ned først."
        await case.locator("textarea").fill(text)
        await case.locator(".save-perspective").click()
        await case.locator(".saved").wait_for()
        with Session(app.engine) as session:
            stored = cases.get_perspective(
                session=session, case_id=home.team_case_id, member_id=staff.member_id or 0
            )
        assert stored is not None and stored.text == text


async def test_the_administrator_sees_every_teams_counts_and_nothing_personal(
    browser: Any, tmp_path: Path
) -> None:
    async with served(tmp_path) as app:
        home = app.home
        page = await open_page(browser, app.url + fragment(ADMIN_ID))
        await page.wait_for_selector(".team-figures")
        tabs = await page.locator("nav button").all_text_contents()
        assert tabs == ["Alle teams"]
        rosen = page.locator(f'.team-figures[data-id="{home.team_id}"]')
        assert await rosen.locator("h3").text_content() == "Team Rosen"
        figures = await rosen.locator("dd").all_text_contents()
        with Session(app.engine) as session:
            recent = [
                n
                for n in session.exec(select(Note).where(Note.team_id == home.team_id)).all()
                if utcnow() - n.created_at < timedelta(days=30)
            ]
        assert figures[0] == str(len(recent))
        assert re.fullmatch(r"\d,\d", figures[-1]), figures[-1]  # the pulse, "5,1"
        body = await page.inner_text("body")
        with Session(app.engine) as session:
            note_texts = [
                n.text
                for n in session.exec(select(Note).where(Note.team_id == home.team_id)).all()
                if n.text
            ]
        people = [home.lead.first_name, *(p.first_name for p in home.staff)]
        assert all(r.alias not in body for r in home.residents)
        assert all(name not in body for name in people)
        assert all(text[:30] not in body for text in note_texts)
        await shot(page, "overview")


async def test_a_forged_init_data_sees_nothing_of_the_team(browser: Any, tmp_path: Path) -> None:
    async with served(tmp_path) as app:
        page = await open_page(
            browser, app.url + fragment(app.home.lead.telegram_id, token="1:another-bot")
        )
        await page.wait_for_selector("#error")
        assert await page.text_content("#error") == "Åbn overblikket fra stemme i Telegram."
        body = await page.inner_text("body")
        assert all(r.alias not in body for r in app.home.residents)
