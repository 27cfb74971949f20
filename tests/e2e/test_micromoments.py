"""Noting micro-moments end to end: presses, content, markers, shift, chat hygiene."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.app import StemmeApplication
from storage.models import Note, NoteMarker, Resident
from storage.residents import list_residents
from tests.e2e.conftest import Admin
from tests.e2e.test_onboarding import (
    LEAD_ID,
    METTE_ID,
    OMAR_ID,
    _join,
    _setup_team,
    _staff_invite_code,
)
from tests.emulator import BotApiEmulator, EmuUser

COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def _expected_shift(moment: datetime) -> str:
    hour = moment.astimezone(COPENHAGEN).hour
    if 7 <= hour < 15:
        return "day"
    if 15 <= hour < 23:
        return "evening"
    return "night"


async def _team_with_residents(
    emulator: BotApiEmulator, admin: Admin, *aliases: str, name: str = "Team Syd"
) -> tuple[int, EmuUser, EmuUser]:
    team_id, code = _setup_team(admin, name)
    lise, _ = await _join(emulator, LEAD_ID, "Lise", code, "da")
    omar, _ = await _join(emulator, OMAR_ID, "Omar", await _staff_invite_code(lise), "da")
    for alias in aliases:
        await lise.send("/residents")
        await lise.press("➕ Tilføj borger")
        await lise.send(alias)
    return team_id, lise, omar


def _notes(engine: Engine) -> list[tuple[Note, list[str]]]:
    with Session(engine) as session:
        notes = session.exec(select(Note).order_by(Note.id)).all()  # type: ignore[arg-type]
        result = []
        for note in notes:
            markers = session.exec(
                select(NoteMarker.marker).where(NoteMarker.note_id == note.id)
            ).all()
            result.append((note, sorted(markers)))
        return result


def _presses(user: EmuUser) -> Any:
    """Counts the presses a user makes from now on."""
    counter = {"n": 0}
    original = user.press

    async def counting(*args: Any, **kwargs: Any) -> Any:
        counter["n"] += 1
        return await original(*args, **kwargs)

    user.press = counting  # type: ignore[method-assign]
    return counter


async def test_a_text_note_takes_three_presses_and_leaves_no_text_in_the_chat(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, _lise, omar = await _team_with_residents(
        emulator, admin, "Fru H., stue 12", "Hr. J., stue 3"
    )
    presses = _presses(omar)
    reaction = await omar.send("/note")
    assert "Hvem handler det om?" in reaction.text
    assert reaction.messages[0].button_texts[:2] == ["Fru H., stue 12", "Hr. J., stue 3"]
    reaction = await omar.press("Fru H., stue 12")
    assert "Fru H., stue 12: Hvad skete der" in reaction.text
    reaction = await omar.send("Hun lyste op, da jeg satte hendes musik på under morgenplejen.")
    assert "Vælg op til 3 markører" in reaction.text
    await omar.press("Tryghed")
    reaction = await omar.press("Gem ✔")
    assert presses["n"] == 3

    [(note, markers)] = _notes(e2e_engine)
    assert "Gemt ✔ mikroøjeblik #" + str(note.id) in reaction.text
    assert "Fru H." not in reaction.message.text, "the confirmation names no resident"
    assert reaction.message.reply_keyboard == [["Mikroøjeblik"]]
    with Session(e2e_engine) as session:
        resident = session.get(Resident, note.resident_id)
    assert resident is not None and resident.alias == "Fru H., stue 12"
    assert note.team_id == team_id and resident.team_id == team_id
    assert note.text == "Hun lyste op, da jeg satte hendes musik på under morgenplejen."
    assert note.shift == _expected_shift(note.created_at)
    assert note.expression == "verbal" and not note.for_team
    assert markers == ["tryghed"]
    assert abs((datetime.now(UTC) - note.created_at).total_seconds()) < 60
    visible = " ".join(message.text or "" for message in omar.chat_messages())
    assert "musik" not in visible and "Fru H." not in visible


async def test_a_voice_note_with_markers_nonverbal_and_for_the_team(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    await _team_with_residents(emulator, admin, "Fru H., stue 12")
    presses = _presses(omar := emulator.user(OMAR_ID, "Omar"))
    reaction = await omar.send("Mikroøjeblik")
    assert "Hvem handler det om?" in reaction.text
    await omar.press("Fru H., stue 12")
    reaction = await omar.send_voice(duration=9)
    assert "Talebesked, 9 sekunder" in reaction.text
    await omar.press("Nærvær")
    await omar.press("○ Vist uden ord")
    await omar.press("☐ Tag med til teamet")
    reaction = await omar.press("Gem ✔")
    assert presses["n"] == 5
    assert "Det kommer med på teamets næste møde" in reaction.text
    [(note, markers)] = _notes(e2e_engine)
    assert note.text is None and note.voice_file_id and note.voice_duration == 9
    assert note.expression == "nonverbal" and note.for_team
    assert markers == ["naervaer"]


async def test_plain_text_outside_a_flow_is_offered_as_a_micro_moment(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    await _team_with_residents(emulator, admin, "Fru H., stue 12", "Hr. J., stue 3")
    omar = emulator.user(OMAR_ID, "Omar")
    reaction = await omar.send("Hr. J. ville gerne selv smøre sin mad i dag.")
    assert "Gem dette som et mikroøjeblik? Hvem handler det om?" in reaction.text
    reaction = await omar.press("Hr. J., stue 3")
    assert "Hr. J., stue 3: Hr. J. ville gerne selv smøre sin mad i dag." in reaction.text
    await omar.press("Selvhjulpenhed")
    await omar.press("Gem ✔")
    [(note, markers)] = _notes(e2e_engine)
    assert note.text == "Hr. J. ville gerne selv smøre sin mad i dag."
    assert markers == ["selvhjulpenhed"]


async def test_typing_filters_and_a_lead_adds_a_resident_on_the_spot(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, lise, omar = await _team_with_residents(
        emulator, admin, "Fru H., stue 12", "Hr. J., stue 3", "Fru Ø, stue 7"
    )
    await omar.send("/note")
    reaction = await omar.send("stue 7")
    assert reaction.messages[0].button_texts == ["Fru Ø, stue 7"]
    assert "➕ Ny borger" not in reaction.messages[0].button_texts, "staff cannot add residents"

    reaction = await lise.send("/note")
    reaction = await lise.press("➕ Ny borger")
    reaction = await lise.send("Hr. K., stue 9")
    assert "Hr. K., stue 9: Hvad skete der" in reaction.text
    await lise.send("Han ville sove længe.")
    await lise.press("Selvbestemmelse")
    await lise.press("Gem ✔")
    with Session(e2e_engine) as session:
        aliases = [r.alias for r in list_residents(session=session, team_id=team_id)]
    assert "Hr. K., stue 9" in aliases
    [(note, markers)] = _notes(e2e_engine)
    assert markers == ["selvbestemmelse"]


async def test_an_over_long_text_is_kept_and_can_be_shortened_or_trimmed(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    await _team_with_residents(emulator, admin, "Fru H., stue 12")
    omar = emulator.user(OMAR_ID, "Omar")
    await omar.send("/note")
    await omar.press("Fru H., stue 12")
    long_text = "Hun fortalte om sin have. " * 50  # 1,300 characters
    reaction = await omar.send(long_text)
    assert "højst have 1000" in reaction.text and "Jeg har gemt den" in reaction.text
    assert _notes(e2e_engine) == []
    reaction = await omar.send("Hun fortalte om sin have og ville gerne ud.")
    assert "Vælg op til 3 markører" in reaction.text
    await omar.press("Gem ✔")

    await omar.send("/note")
    await omar.press("Fru H., stue 12")
    await omar.send(long_text)
    reaction = await omar.press("Behold de første 1000 tegn")
    assert "Vælg op til 3 markører" in reaction.text
    await omar.press("Gem ✔")
    (first, _), (second, _) = _notes(e2e_engine)
    assert first.text == "Hun fortalte om sin have og ville gerne ud."
    assert second.text == long_text.strip()[:1000]


async def test_bad_input_keeps_the_step_and_cpr_numbers_are_refused(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    await _team_with_residents(emulator, admin, "Fru H., stue 12")
    omar = emulator.user(OMAR_ID, "Omar")
    await omar.send("/note")
    await omar.press("Fru H., stue 12")
    for send in (omar.send_sticker, omar.send_photo):
        reaction = await send()
        assert "Klistermærker, billeder og filer kan ikke gemmes" in reaction.text
    reaction = await omar.send_location(55.68, 12.57)
    assert "Klistermærker, billeder og filer kan ikke gemmes" in reaction.text
    reaction = await omar.send("Fru H. (010190-1234) ville ikke spise")
    assert "Det ligner et CPR-nummer" in reaction.text
    reaction = await omar.send("Fru H. ville ikke spise morgenmad i dag")
    assert "Vælg op til 3 markører" in reaction.text
    for marker in ("Tryghed", "Nærvær", "Respekt"):
        await omar.press(marker)
    reaction = await omar.press("Selvbestemmelse")
    assert reaction.alert == "Højst 3 markører. Fjern en først."
    await omar.press("Gem ✔")
    [(note, markers)] = _notes(e2e_engine)
    assert markers == ["naervaer", "respekt", "tryghed"]
    assert "010190" not in (note.text or "")


async def test_a_resident_deactivated_mid_note_and_a_removed_member(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    _team_id, lise, omar = await _team_with_residents(
        emulator, admin, "Fru H., stue 12", "Hr. J., stue 3"
    )
    await omar.send("/note")
    await omar.press("Fru H., stue 12")
    await omar.send("Hun ville have vinduet åbent.")
    await lise.send("/residents")
    await lise.press("Deaktivér")
    await lise.press("Fru H., stue 12")
    await lise.press("Ja, deaktivér")
    reaction = await omar.press("Gem ✔")
    assert reaction.alert == "Den borger er ikke længere på teamets liste. Vælg en anden."
    reaction = await omar.press("Hr. J., stue 3")
    assert "Hr. J., stue 3: Hun ville have vinduet åbent." in reaction.text
    await omar.press("Gem ✔")
    [(note, _markers)] = _notes(e2e_engine)
    assert note.text == "Hun ville have vinduet åbent."

    mette, _ = await _join(emulator, METTE_ID, "Mette", await _staff_invite_code(lise), "da")
    await mette.send("/note")
    await mette.press("Hr. J., stue 3")
    await mette.send("Han sang med.")
    await lise.send("/team")
    await lise.press("Fjern et medlem")
    await lise.press("Mette")
    await lise.press("Ja, fjern")
    reaction = await mette.press("Gem ✔")
    assert "invitationslink" in (reaction.alert or "")
    assert len(_notes(e2e_engine)) == 1
