"""Into the care record end to end: the lead keeps a trial action about a resident and gets
"Kopiér til journal"; the ready text (a handlingsanvisning, in a code block) holds the
alias, the markers the team noted most and the agreed approach, and nothing else: no
member's name, no note's words, no CPR number. The resident card offers the same for every
kept approach; a member who reads stemme in English gets the text in Danish (the record's
language); a forged button for another team's decision sends nothing."""

from __future__ import annotations

import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.app import StemmeApplication
from flows.core.i18n import texts
from flows.moments.micromoment import MARKER_LABELS
from sandbox.emulator import BotApiEmulator, EmuMessage, EmuUser
from storage import decisions, trials, voting
from storage.db import require_id, utcnow
from storage.models import Marker
from storage.residents import list_residents
from tests.e2e.conftest import Admin
from tests.e2e.people import join, member_of, setup_team, take_note, team_with_residents

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
ALIAS = "Fru H., stue 12"
NOTE_TEXT = "Hun smilede, da Omar ventede med at tage tøjet frem"
da = texts("da", COPENHAGEN)._
en = texts("en", COPENHAGEN)._
REFUSED = "That button is no longer active. Nothing was changed."


def _trial_about_resident(
    engine: Engine, team_id: int, lead_telegram_id: int, *, title: str, action: str
) -> int:
    """A decision about the team's resident, voted on and tried (storage, as the chat's
    earlier steps leave it): the lead evaluates it in the test."""
    lead = member_of(engine, lead_telegram_id)
    assert lead is not None
    lead_id = require_id(lead)
    now = utcnow()
    with Session(engine) as session:
        (resident,) = list_residents(session=session, team_id=team_id)
        decision = decisions.start_decision(
            session=session,
            team_id=team_id,
            resident_id=require_id(resident),
            origin="case",
            origin_id=7,
            title=title,
            created_by_member_id=lead_id,
        )
        did = require_id(decision)
        proposal = decisions.add_proposal(
            session=session, decision_id=did, author_member_id=lead_id, text=action
        )
        voting.open_vote(
            session=session, decision_id=did, closes_at=now + timedelta(days=1), now=now
        )
        voting.cast_vote(
            session=session,
            decision_id=did,
            member_id=lead_id,
            proposal_id=require_id(proposal),
            now=now,
        )
        voting.close_vote(session=session, decision_id=did, now=now)
        trials.start_trial(
            session=session,
            decision_id=did,
            aim="Fru H. vælger selv sit tøj",
            measure="Hun peger selv på tøjet de fleste morgener",
            action=action,
            starts_on=now.date() - timedelta(days=14),
            ends_on=now.date(),
            follow_up_member_id=lead_id,
            checkin_every_days=3,
            by_member_id=lead_id,
            now=now,
            tz=COPENHAGEN,
        )
        session.commit()
        return did


def _record(message: EmuMessage) -> str:
    """The part of the message in the code block: what the copy button copies."""
    (entity,) = message.entities
    assert entity["type"] == "pre"
    raw = message.text.encode("utf-16-le")
    start, length = entity["offset"] * 2, entity["length"] * 2
    return raw[start : start + length].decode("utf-16-le")


async def _press_for_record(user: EmuUser, label: str) -> EmuMessage:
    """Presses the button and returns the message with the ready text (the newest with a
    code block: the dispatcher's notices may arrive around it)."""
    await user.press(label)
    with_text = [m for m in user.chat_messages() if any(e["type"] == "pre" for e in m.entities)]
    assert with_text, "no ready text was sent"
    return with_text[-1]


async def test_a_kept_trial_action_is_offered_as_a_ready_text_for_the_care_record(
    bot: StemmeApplication,
    emulator: BotApiEmulator,
    admin: Admin,
    e2e_engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    team_id, lise, omar = await team_with_residents(emulator, admin, ALIAS)
    self_determination = da(MARKER_LABELS[Marker.SELF_DETERMINATION])
    respect = da(MARKER_LABELS[Marker.RESPECT])
    await take_note(omar, ALIAS, NOTE_TEXT, self_determination, respect)
    await take_note(omar, ALIAS, "Hun ville selv vælge den blå bluse", self_determination)
    did = _trial_about_resident(
        e2e_engine,
        team_id,
        lise.id,
        title="Morgenen",
        action="Vi lægger to sæt tøj frem og venter på, at hun vælger",
    )

    await lise.press_data(f"dec:evalnow:{did}")
    with caplog.at_level(logging.INFO):
        kept = await lise.press_data(f"dec:ev:{did}:keep")
        assert (
            da("Kept. It is now the team's standing approach, on the resident card for everyone.")
            in kept.text
        )
        message = await _press_for_record(lise, da("📋 Copy for the care record"))

    assert message.text.startswith(
        da(
            "Ready for the care record: copy the text below and paste it into the record "
            "system yourself (for example Nexus). stemme sends nothing to the record."
        )
    )
    record = _record(message)
    today = texts("da", COPENHAGEN).day(utcnow())
    start = texts("da", COPENHAGEN).day(utcnow() - timedelta(days=14))
    assert record.splitlines() == [
        f"Handlingsanvisning: {ALIAS}",
        f"Det betyder noget for {ALIAS} (fra teamets mikroøjeblikke): "
        f"{self_determination}, {respect}",
        "",
        "Aftalt i plejeteamet: Morgenen",
        f"Det vil vi opnå for {ALIAS}: Fru H. vælger selv sit tøj",
        "Det gør vi: Vi lægger to sæt tøj frem og venter på, at hun vælger",
        "Sådan ser vi, om det virker: Hun peger selv på tøjet de fleste morgener",
        f"Gælder fra {today}, efter en prøvehandling fra {start} til {today}.",
    ]
    for secret in ("Lise", "Omar", NOTE_TEXT, "blå bluse"):
        assert secret not in message.text
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "Vi lægger to sæt tøj frem" not in logged and ALIAS not in logged
    assert "Care record text for resident" in logged

    # The card offers the same text, for every approach the team kept about her.
    second = _trial_about_resident(
        e2e_engine, team_id, lise.id, title="Aftenen", action="Vi slukker loftlyset kl. 21"
    )
    await lise.press_data(f"dec:evalnow:{second}")
    await lise.press_data(f"dec:ev:{second}:keep")
    await omar.send("/card")
    await omar.press(ALIAS)
    message = await _press_for_record(omar, da("📋 Copy for the care record"))
    record = _record(message)
    assert record.count("Aftalt i plejeteamet:") == 2
    assert "1.\nAftalt i plejeteamet: Aftenen" in record
    assert "2.\nAftalt i plejeteamet: Morgenen" in record
    assert NOTE_TEXT not in message.text and "Omar" not in message.text


async def test_english_readers_get_the_record_text_in_danish_and_a_dropped_action_no_button(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, code = setup_team(admin, "Team Øst")
    anne, _ = await join(emulator, 5_000_000_201, "Anne", code, "en")
    await anne.send("/residents")
    await anne.press(en("➕ Add resident"))
    await anne.send(ALIAS)
    dropped = _trial_about_resident(
        e2e_engine, team_id, anne.id, title="Badet", action="Vi bader om aftenen"
    )
    await anne.press_data(f"dec:evalnow:{dropped}")
    reaction = await anne.press_data(f"dec:ev:{dropped}:drop")
    assert en("Dropped. The trial action is no longer on the card.") in reaction.text
    dropped_text = en("Dropped. The trial action is no longer on the card.")
    (shown,) = [m for m in anne.chat_messages() if m.text == dropped_text]
    assert shown.inline_keyboard == []
    await anne.send("/card")
    await anne.press(ALIAS)
    card = anne.last_bot_message()
    assert card is not None and card.text.startswith(
        en("What matters to {alias}").format(alias=ALIAS)
    )
    assert en("📋 Copy for the care record") not in card.button_texts

    kept = _trial_about_resident(
        e2e_engine, team_id, anne.id, title="Morgenen", action="Vi venter på, at hun vælger"
    )
    await anne.press_data(f"dec:evalnow:{kept}")
    await anne.press_data(f"dec:ev:{kept}:keep")
    message = await _press_for_record(anne, en("📋 Copy for the care record"))

    assert message.text.startswith("Ready for the care record: copy the text below")
    record = _record(message)
    assert record.startswith(f"Handlingsanvisning: {ALIAS}\n")
    assert "Det gør vi: Vi venter på, at hun vælger" in record
    assert "Badet" not in record


async def test_a_forged_record_button_for_another_team_sends_nothing_and_is_logged(
    bot: StemmeApplication,
    emulator: BotApiEmulator,
    admin: Admin,
    e2e_engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _team_id, _lise, omar = await team_with_residents(emulator, admin, ALIAS)
    other_team, other_code = setup_team(admin, "Team Nord")
    karen, _ = await join(emulator, 5_000_000_101, "Karen", other_code, "da")
    await karen.send("/residents")
    await karen.press(da("➕ Add resident"))
    await karen.send("Hr. B.")
    theirs = _trial_about_resident(
        e2e_engine, other_team, karen.id, title="Deres morgen", action="Deres aftale"
    )
    await karen.press_data(f"dec:evalnow:{theirs}")
    await karen.press_data(f"dec:ev:{theirs}:keep")
    with Session(e2e_engine) as session:
        (their_resident,) = list_residents(session=session, team_id=other_team)

    await omar.send("/card")
    with caplog.at_level(logging.INFO):
        by_decision = await omar.press_data(f"rec:dec:{theirs}")
        by_resident = await omar.press_data(f"rec:res:{their_resident.id}")

    assert by_decision.alert == da(REFUSED)
    assert by_resident.alert == da(REFUSED)
    assert all("Handlingsanvisning" not in m.text for m in omar.chat_messages())
    assert all("Deres aftale" not in m.text for m in omar.chat_messages())
    logged = [r.getMessage() for r in caplog.records if "Refused care record" in r.getMessage()]
    assert len(logged) == 2
    assert all("Hr. B." not in line and "Deres" not in line for line in logged)


async def test_an_approach_holding_a_cpr_number_is_never_offered_for_the_record(
    bot: StemmeApplication,
    emulator: BotApiEmulator,
    admin: Admin,
    e2e_engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    team_id, lise, _omar = await team_with_residents(emulator, admin, ALIAS)
    did = _trial_about_resident(
        e2e_engine, team_id, lise.id, title="Morgenen", action="Vi venter på hende"
    )
    await lise.press_data(f"dec:evalnow:{did}")
    await lise.press_data(f"dec:ev:{did}:keep")
    # A row written past stemme's input checks (an import, say): the aim holds a CPR number.
    with Session(e2e_engine) as session:
        trial = trials.get_trial(session=session, decision_id=did)
        assert trial is not None
        trial.aim = "Gælder 010190-1234"
        session.add(trial)
        session.commit()

    with caplog.at_level(logging.INFO):
        reaction = await lise.press(da("📋 Copy for the care record"))

    assert reaction.alert == da(
        "The agreed approach holds what looks like a CPR number, so stemme does not offer it "
        "for the care record. The lead can adjust the trial action in a new round."
    )
    assert all("Handlingsanvisning" not in m.text for m in lise.chat_messages())
    assert all("010190" not in record.getMessage() for record in caplog.records)
