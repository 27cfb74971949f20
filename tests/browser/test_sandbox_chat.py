"""The sandbox's web chat in a real headless Chromium at phone size: a micro-moment noted by
presses, a vote by two personas, the clock moved to a meeting's reminder, the pulse chart.

Each scenario runs the unmodified bot against the emulator with the web chat in front of it
(``tests.sandbox_chat``) and plays it the way a person would: choosing a persona, typing,
pressing the buttons the page shows. Screenshots go to docs/ for the README.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from bot.config import Settings
from flows.core.i18n import texts
from sandbox import run
from storage import cases, decisions, pulse
from storage.db import session_scope, utcnow
from storage.models import Note, Pulse, Vote
from storage.residents import list_residents
from tests.sandbox_chat import (
    LEAD_ID,
    METTE_ID,
    OMAR_ID,
    RESIDENTS,
    member_ids,
    running_chat,
    wake,
)

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs"
PHONE = {"width": 390, "height": 844}
COPENHAGEN = ZoneInfo("Europe/Copenhagen")
da = texts("da", COPENHAGEN)._


async def phone_page(browser: Any, url: str, persona: str) -> Any:
    """A phone-sized page showing ``persona``'s chat."""
    context = await browser.new_context(viewport=PHONE, device_scale_factor=2)
    page = await context.new_page()
    await page.goto(f"{url}#{persona}")
    await page.wait_for_selector("#banner:not(:empty)")
    return page


async def type_and_send(page: Any, text: str) -> None:
    await page.fill("#text", text)
    await page.click("#send")


async def press(page: Any, label: str, counter: dict[str, int] | None = None) -> None:
    """Presses the newest inline button with that label."""
    button = page.locator(".keyboard button", has_text=label).last
    await button.wait_for()
    await button.click()
    if counter is not None:
        counter["n"] += 1


async def press_data(page: Any, data: str, wait_ms: float = 15_000) -> None:
    """Presses the newest inline button with that callback data."""
    button = page.locator(f'.keyboard button[data-callback="{data}"]').last
    await button.wait_for(timeout=wait_ms)
    await button.click()


async def bot_says(page: Any, text: str, wait_ms: float = 15_000) -> None:
    """Waits until a bot message containing ``text`` is shown."""
    await page.locator(".msg.in .text", has_text=text).last.wait_for(timeout=wait_ms)


async def test_in_the_seeded_sandbox_a_moment_noted_by_staff_is_on_the_leads_card(
    browser: Any, tmp_path: Path
) -> None:
    """What ``make run`` without a token gives: Solgården, nothing configured by hand."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]  # pydantic-settings' init-only option
        database_url=f"sqlite:///{tmp_path / 'sandbox.db'}",
    )
    async with run.running(settings, address=("127.0.0.1", 0)) as sandbox:
        home = sandbox.care_home
        ahmed, lead, resident = home.staff[0], home.lead, home.residents[0].alias
        page = await phone_page(browser, sandbox.url, ahmed.key)
        presses = {"n": 0}
        await type_and_send(page, "/note")
        await bot_says(page, "Hvem handler det om?")
        await press(page, resident, presses)
        await bot_says(page, "Hvad skete der")
        await type_and_send(page, "Hun fortalte om sin tid som syerske, da vi så på kjolen.")
        await bot_says(page, "Vælg op til 3 markører")
        await press(page, "Respekt", presses)
        await press(page, "Gem ✔", presses)
        await bot_says(page, "Gemt ✔ mikroøjeblik #")
        assert presses["n"] <= 5

        lead_page = await phone_page(browser, sandbox.url, lead.key)
        await type_and_send(lead_page, "/card")
        await press(lead_page, resident)
        await bot_says(lead_page, "som syerske")
        await lead_page.screenshot(path=str(DOCS / "sandbox-card.png"))


async def test_a_staff_member_notes_a_micro_moment_in_a_few_presses(
    browser: Any, tmp_path: Path
) -> None:
    async with running_chat(tmp_path) as sandbox:
        page = await phone_page(browser, sandbox.url, "omar")
        presses = {"n": 0}
        await type_and_send(page, "/note")
        await bot_says(page, "Hvem handler det om?")
        await press(page, RESIDENTS[0], presses)
        await bot_says(page, "Hvad skete der")
        await type_and_send(page, "Hun lyste op, da jeg satte hendes musik på.")
        await bot_says(page, "Vælg op til 3 markører")
        await press(page, "Tryghed", presses)
        await page.locator(".keyboard button", has_text="✓").last.wait_for()
        await page.wait_for_timeout(300)
        await page.screenshot(path=str(DOCS / "sandbox-chat.png"))
        await press(page, "Gem ✔", presses)
        await bot_says(page, "Gemt ✔ mikroøjeblik #")
        assert presses["n"] <= 5
        with Session(sandbox.engine) as session:
            notes = session.exec(select(Note)).all()
        assert [n.text for n in notes] == ["Hun lyste op, da jeg satte hendes musik på."]

        # The lead sees it on the resident's card.
        await page.select_option("#persona", "lise")
        await type_and_send(page, "/card")
        await press(page, RESIDENTS[0])
        await bot_says(page, f"Det betyder noget for {RESIDENTS[0]}")
        assert "Tryghed · 1" in await page.locator(".msg.in .text").last.inner_text()


async def test_two_personas_vote_on_the_page(browser: Any, tmp_path: Path) -> None:
    async with running_chat(tmp_path) as sandbox:
        ids = member_ids(sandbox.engine)
        with session_scope(sandbox.engine) as session:
            resident = list_residents(session=session, team_id=sandbox.team_id)[0]
            decision = decisions.start_decision(
                session=session,
                team_id=sandbox.team_id,
                resident_id=resident.id,
                origin="case",
                origin_id=None,
                title="Morgenen",
                created_by_member_id=ids[LEAD_ID],
            )
            for author, text in (
                (OMAR_ID, "Vi banker på og venter på svar."),
                (METTE_ID, "Hun vælger selv, hvornår hun vil op."),
            ):
                decisions.add_proposal(
                    session=session,
                    decision_id=decision.id or 0,
                    author_member_id=ids[author],
                    text=text,
                )
            did = decision.id or 0

        # The lead opens the vote by buttons.
        page = await phone_page(browser, sandbox.url, "lise")
        await type_and_send(page, "/proposals")
        await press_data(page, f"dec:show:{did}")
        await press(page, da("🗳 Open the vote"))
        await press_data(page, f"dec:dl:{did}:3d")
        await bot_says(
            page,
            da(
                "The vote is open until {when}. Every member gets a message with the proposals."
            ).split("{when}")[0],
        )
        wake(sandbox.application)

        # Omar and Mette vote for different proposals on their ballots.
        for persona, number in (("omar", 1), ("mette", 2)):
            await page.select_option("#persona", persona)
            await page.locator(".keyboard button", has_text=f"{number}. ").last.wait_for(
                timeout=20_000
            )
            await press(page, f"{number}. ")
            await page.locator(".toast:not([hidden])").wait_for()
            if persona == "mette":
                await page.wait_for_timeout(500)
                await page.screenshot(path=str(DOCS / "sandbox-vote.png"))
        # In the team's group the lead sends a voice message: without a microphone (headless)
        # the page sends the sample, shown as a playable bar.
        await page.select_option("#persona", "gruppe")
        await page.click("#mic")
        await page.locator(".msg.out .voice audio").wait_for(state="attached")
        with Session(sandbox.engine) as session:
            votes = session.exec(select(Vote).where(Vote.decision_id == did)).all()
        assert sorted(v.member_id for v in votes) == sorted([ids[OMAR_ID], ids[METTE_ID]])


async def test_fast_forward_to_the_next_meetings_reminder(browser: Any, tmp_path: Path) -> None:
    async with running_chat(tmp_path) as sandbox:
        page = await phone_page(browser, sandbox.url, "lise")
        # The lead plans a weekly meeting in six days by buttons; everyone gets the .ics.
        day = (utcnow().astimezone(COPENHAGEN) + timedelta(days=6)).date()
        await type_and_send(page, "/meeting")
        await press(page, "➕ Planlæg et møde")
        await press_data(page, f"mtg:day:{day:%Y%m%d}")
        for label in ("14:00", "60 min.", "Intet sted", "Hver uge", "Gem ✔"):
            await press(page, label)
        wake(sandbox.application)
        await page.locator(".msg.in .doc").first.wait_for(timeout=20_000)

        await page.click("#ff-button")
        before = await page.inner_text("#ff-time")
        await page.click('#ff-steps button[data-step="meeting"]')
        reminders = (
            da("Time to prepare the team's reflection meeting."),
            da("The agenda for the next reflection meeting:"),
        )
        reminder = page.locator(".msg.in .text", has_text=reminders[0]).or_(
            page.locator(".msg.in .text", has_text=reminders[1])
        )
        await reminder.first.wait_for(timeout=20_000)
        assert await page.inner_text("#ff-time") > before
        await page.wait_for_timeout(300)
        await page.screenshot(path=str(DOCS / "sandbox-meeting.png"))


async def test_the_pulse_chart_is_shown_to_the_lead(browser: Any, tmp_path: Path) -> None:
    async with running_chat(tmp_path) as sandbox:
        ids = member_ids(sandbox.engine)
        page = await phone_page(browser, sandbox.url, "lise")
        await type_and_send(page, "/pulse")
        await press_data(page, "pul:new:none")
        for _ in range(150):  # the press reaches the bot as an update: wait until stored
            with session_scope(sandbox.engine) as session:
                if session.exec(select(Pulse)).first() is not None:
                    break
            await page.wait_for_timeout(100)
        with session_scope(sandbox.engine) as session:
            started = session.exec(select(Pulse)).one()
            pulse_id = started.id or 0
            # Lise and Mette answered on their phones; Omar answers on the page.
            for telegram_id in (LEAD_ID, METTE_ID):
                pulse.record_answers(
                    session=session,
                    pulse=started,
                    member_id=ids[telegram_id],
                    values=[5, 6, 4, 5, 6, 3, 5],
                    now=utcnow(),
                    tz=COPENHAGEN,
                )
        wake(sandbox.application)
        await page.select_option("#persona", "omar")
        await press_data(page, f"pul:go:{pulse_id}", wait_ms=20_000)
        for item in range(1, 8):
            await press_data(page, f"pul:a:{item}:6")
        await page.select_option("#persona", "lise")
        await type_and_send(page, "/pulse")
        await press_data(page, f"pul:close:{pulse_id}")
        await press_data(page, f"pul:close!:{pulse_id}")
        chart = page.locator(".msg.in .photo img").last
        await chart.wait_for(timeout=20_000)
        await page.wait_for_function(
            "() => [...document.querySelectorAll('.photo img')].some(i => i.naturalWidth > 0)"
        )
        await chart.scroll_into_view_if_needed()
        await page.wait_for_timeout(300)
        await page.screenshot(path=str(DOCS / "sandbox-pulse.png"))


async def test_in_the_sandbox_the_dashboard_opens_from_the_chat_as_a_mini_app(
    browser: Any, tmp_path: Path
) -> None:
    """/dashboard's button and the menu button open the dashboard over the chat, signed for
    the persona: the lead sees Team Rosen's residents, and a perspective written there by
    staff is stored."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]  # pydantic-settings' init-only option
        database_url=f"sqlite:///{tmp_path / 'sandbox.db'}",
    )
    async with run.running(settings, address=("127.0.0.1", 0)) as sandbox:
        home = sandbox.care_home
        page = await phone_page(browser, sandbox.url, home.lead.key)
        await type_and_send(page, "/dashboard")
        await bot_says(page, "Teamets overblik")
        await page.locator(".keyboard button.web-app", has_text="Overblik").last.click()
        frame = page.frame_locator("#mini-app-frame")
        await frame.locator(".resident").first.wait_for()
        assert await frame.locator("#team-name").text_content() == "Team Rosen"
        aliases = await frame.locator(".resident h3").all_text_contents()
        assert sorted(aliases) == sorted(r.alias for r in home.residents)
        await page.screenshot(path=str(DOCS / "sandbox-dashboard.png"))
        await page.click("#mini-app-close")
        assert await page.locator("#mini-app").is_hidden()

        ahmed = home.staff[0]
        await page.select_option("#persona", ahmed.key)
        await page.click("#menu-button")
        frame = page.frame_locator("#mini-app-frame")
        await frame.locator('nav button[data-view="board"]').click()
        case = frame.locator(f'.case[data-id="{home.team_case_id}"]')
        await case.locator(".add-perspective").click()
        await case.locator("textarea").fill("Hun spiser bedre, når radioen er slukket.")
        await case.locator(".save-perspective").click()
        await case.locator(".saved").wait_for()
        with Session(sandbox.chat.engine) as session:
            stored = cases.get_perspective(
                session=session, case_id=home.team_case_id, member_id=ahmed.member_id or 0
            )
        assert stored is not None and stored.text == "Hun spiser bedre, når radioen er slukket."
