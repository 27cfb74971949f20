"""Noting micro-moments end to end: presses, content, markers, shift, chat hygiene."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.app import StemmeApplication
from sandbox.emulator import BotApiEmulator
from storage import conversations
from storage.models import Note, Resident
from storage.residents import list_residents
from tests.e2e.conftest import Admin
from tests.e2e.people import (
    METTE_ID,
    OMAR_ID,
    count_presses,
    join,
    notes_of,
    setup_team,
    staff_invite_code,
    take_note,
    team_with_residents,
)

COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def _expected_shift(moment: datetime) -> str:
    hour = moment.astimezone(COPENHAGEN).hour
    if 7 <= hour < 15:
        return "day"
    if 15 <= hour < 23:
        return "evening"
    return "night"


async def test_a_text_note_takes_three_presses_and_leaves_no_text_in_the_chat(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, _lise, omar = await team_with_residents(
        emulator, admin, "Fru H., stue 12", "Hr. J., stue 3"
    )
    presses = count_presses(omar)
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

    [(note, markers)] = notes_of(e2e_engine)
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
    await team_with_residents(emulator, admin, "Fru H., stue 12")
    presses = count_presses(omar := emulator.user(OMAR_ID, "Omar"))
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
    [(note, markers)] = notes_of(e2e_engine)
    assert note.text is None and note.voice_file_id and note.voice_duration == 9
    assert note.expression == "nonverbal" and note.for_team
    assert markers == ["naervaer"]


async def test_plain_text_outside_a_flow_is_offered_as_a_micro_moment(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    await team_with_residents(emulator, admin, "Fru H., stue 12", "Hr. J., stue 3")
    omar = emulator.user(OMAR_ID, "Omar")
    reaction = await omar.send("Hr. J. ville gerne selv smøre sin mad i dag.")
    assert "Gem dette som et mikroøjeblik? Hvem handler det om?" in reaction.text
    reaction = await omar.press("Hr. J., stue 3")
    assert "Hr. J., stue 3: Hr. J. ville gerne selv smøre sin mad i dag." in reaction.text
    await omar.press("Selvhjulpenhed")
    await omar.press("Gem ✔")
    [(note, markers)] = notes_of(e2e_engine)
    assert note.text == "Hr. J. ville gerne selv smøre sin mad i dag."
    assert markers == ["selvhjulpenhed"]


async def test_typing_filters_and_a_lead_adds_a_resident_on_the_spot(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, lise, omar = await team_with_residents(
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
    [(note, markers)] = notes_of(e2e_engine)
    assert markers == ["selvbestemmelse"]


async def test_an_over_long_text_is_kept_and_can_be_shortened_or_trimmed(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    await team_with_residents(emulator, admin, "Fru H., stue 12")
    omar = emulator.user(OMAR_ID, "Omar")
    await omar.send("/note")
    await omar.press("Fru H., stue 12")
    long_text = "Hun fortalte om sin have. " * 50  # 1,300 characters
    reaction = await omar.send(long_text)
    assert "højst have 1000" in reaction.text and "Jeg har gemt den" in reaction.text
    assert notes_of(e2e_engine) == []
    reaction = await omar.send("Hun fortalte om sin have og ville gerne ud.")
    assert "Vælg op til 3 markører" in reaction.text
    await omar.press("Gem ✔")

    await omar.send("/note")
    await omar.press("Fru H., stue 12")
    await omar.send(long_text)
    reaction = await omar.press("Behold de første 1000 tegn")
    assert "Vælg op til 3 markører" in reaction.text
    await omar.press("Gem ✔")
    (first, _), (second, _) = notes_of(e2e_engine)
    assert first.text == "Hun fortalte om sin have og ville gerne ud."
    assert second.text == long_text.strip()[:1000]


async def test_bad_input_keeps_the_step_and_cpr_numbers_are_refused(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    await team_with_residents(emulator, admin, "Fru H., stue 12")
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
    [(note, markers)] = notes_of(e2e_engine)
    assert markers == ["naervaer", "respekt", "tryghed"]
    assert "010190" not in (note.text or "")


async def test_a_resident_deactivated_mid_note_and_a_removed_member(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    _team_id, lise, omar = await team_with_residents(
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
    [(note, _markers)] = notes_of(e2e_engine)
    assert note.text == "Hun ville have vinduet åbent."

    mette, _ = await join(emulator, METTE_ID, "Mette", await staff_invite_code(lise), "da")
    await mette.send("/note")
    await mette.press("Hr. J., stue 3")
    await mette.send("Han sang med.")
    await lise.send("/team")
    await lise.press("Fjern et medlem")
    await lise.press("Mette")
    await lise.press("Ja, fjern")
    reaction = await mette.press("Gem ✔")
    assert "invitationslink" in (reaction.alert or "")
    assert len(notes_of(e2e_engine)) == 1


async def test_moments_and_the_card_show_the_team_its_own_notes_only(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    _team_id, _lise, omar = await team_with_residents(
        emulator, admin, "Fru H., stue 12", "Hr. J., stue 3"
    )
    first = await take_note(
        omar, "Fru H., stue 12", "Hun smilede ved kaffen.", "Nærvær", "Hjemlighed"
    )
    await take_note(
        omar, "Fru H., stue 12", "Hun ville selv vælge tøj.", "Selvbestemmelse", "Nærvær"
    )
    await take_note(omar, "Hr. J., stue 3", "Han sang med på radioen.")

    reaction = await omar.send("/moments")
    assert "Teamets mikroøjeblikke (3), nyeste først" in reaction.text
    text = reaction.text
    assert text.index("Han sang med") < text.index("selv vælge tøj") < text.index("kaffen")
    assert "Omar" in text and "Fru H., stue 12 — Nærvær, Hjemlighed" in text

    reaction = await omar.send("/card")
    reaction = await omar.press("Fru H., stue 12")
    card = reaction.text
    assert card.startswith("Det betyder noget for Fru H., stue 12\n2 mikroøjeblikke")
    assert "Nærvær · 2" in card and "Hjemlighed · 1" in card and "Selvbestemmelse · 1" in card
    assert card.index("Nærvær · 2") < card.index("Hjemlighed · 1")
    assert "Han sang" not in card
    assert len(card) < 1000, "the card fits a phone screen"

    # Another team's lead sees none of it, and forged buttons do nothing.
    _other_id, other_code = setup_team(admin, "Team Nord")
    karen, _ = await join(emulator, METTE_ID, "Karen", other_code, "da")
    reaction = await karen.send("/moments")
    assert "Teamets mikroøjeblikke (0)" in reaction.text and "kaffen" not in reaction.text
    with Session(e2e_engine) as session:
        resident_id = session.exec(select(Note.resident_id).where(Note.id == first)).one()
    for data in (
        f"mom:del!:{first}",
        f"mom:edit:{first}",
        f"mom:play:{first}",
        f"card:res:{resident_id}",
        f"mom:res:{resident_id}",
    ):
        reaction = await karen.press_data(data)
        assert reaction.alert == "Den knap er ikke længere aktiv. Intet blev ændret.", data
        assert "kaffen" not in reaction.text
    assert len(notes_of(e2e_engine)) == 3


async def test_the_author_edits_within_24_hours_and_not_after(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    _team_id, lise, omar = await team_with_residents(emulator, admin, "Fru H., stue 12")
    number = await take_note(omar, "Fru H., stue 12", "Hun ville have te.", "Tryghed")
    await omar.send("/moments")
    reaction = await omar.press(f"✏️ #{number}")
    assert f"Du ændrer #{number}" in reaction.text
    await omar.press("Respekt")
    # A marker change ends the edit: plain text now is a new micro-moment, not an edit.
    with Session(e2e_engine) as session:
        assert conversations.load(session=session, telegram_id=OMAR_ID, chat_id=OMAR_ID) is None
    await omar.press("✏️ Ret teksten")
    reaction = await omar.send("Hun ville have te med honning.")
    assert f"Ændret ✔ mikroøjeblik #{number}" in reaction.text
    visible = " ".join(message.text or "" for message in omar.chat_messages())
    assert "honning" not in visible, "the new text is tidied from the chat"
    [(note, markers)] = notes_of(e2e_engine)
    assert note.text == "Hun ville have te med honning." and note.edited_at is not None
    assert markers == ["respekt", "tryghed"]

    with Session(e2e_engine) as session:
        stored = session.get(Note, number)
        assert stored is not None
        stored.created_at = stored.created_at - timedelta(hours=25)
        session.add(stored)
        session.commit()
    reaction = await omar.press_data(f"mom:edit:{number}")
    assert "kun ændres af den, der skrev det, og kun i 24 timer" in (reaction.alert or "")
    reaction = await omar.press_data(f"mom:del!:{number}")
    assert "kun i 24 timer" in (reaction.alert or "")
    assert len(notes_of(e2e_engine)) == 1

    await lise.send("/moments")
    await lise.press(f"🗑 #{number}")
    reaction = await lise.press("Ja, slet")
    assert f"Mikroøjeblik #{number} er slettet" in reaction.text
    assert notes_of(e2e_engine) == []


async def test_a_lead_changes_shift_times_and_turns_chat_hygiene_off(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    _team_id, lise, omar = await team_with_residents(emulator, admin, "Fru H., stue 12")
    reaction = await omar.send("/settings")
    assert "Det kan kun teamlederen" in reaction.text
    reaction = await lise.send("/settings")
    assert "Vagter: dag fra 07:00, aften fra 15:00, nat fra 23:00" in reaction.text
    await lise.press("Skift vagttider")
    reaction = await lise.send("25 15 23")
    assert "Jeg kunne ikke læse tre tidspunkter" in reaction.text
    # Every hour of the day is the day shift now, whenever this test runs.
    reaction = await lise.send("00:00 23:58 23:59")
    assert "Vagttider gemt ✔" in reaction.text
    reaction = await lise.press("Slå oprydning fra")
    assert "fra: beskederne bliver i chatten" in reaction.text

    await take_note(omar, "Fru H., stue 12", "Hun nynnede.")
    [(note, _markers)] = notes_of(e2e_engine)
    local_minute = note.created_at.astimezone(COPENHAGEN)
    if (local_minute.hour, local_minute.minute) < (23, 58):
        assert note.shift == "day"
    visible = " ".join(message.text or "" for message in omar.chat_messages())
    assert "Hun nynnede." in visible, "with chat hygiene off the text stays in the chat"


async def test_a_failed_delete_never_loses_the_note(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    await team_with_residents(emulator, admin, "Fru H., stue 12")
    omar = emulator.user(OMAR_ID, "Omar")
    await omar.send("/note")
    await omar.press("Fru H., stue 12")
    await omar.send_document("plan.pdf")
    await omar.send("Hun ville høre nyheder i radioen.")
    emulator.fail_next(
        "deleteMessages", error_code=400, description="Bad Request: message can't be deleted"
    )
    reaction = await omar.press("Gem ✔")
    assert "Gemt ✔ mikroøjeblik #" in reaction.text
    assert any(call.status == 400 for call in emulator.calls_for("deleteMessages"))
    [(note, _markers)] = notes_of(e2e_engine)
    assert note.text == "Hun ville høre nyheder i radioen."


async def test_the_button_restarts_and_text_while_choosing_markers_replaces_the_content(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    await team_with_residents(emulator, admin, "Fru H., stue 12")
    omar = emulator.user(OMAR_ID, "Omar")
    await omar.send("/note")
    await omar.press("Fru H., stue 12")
    reaction = await omar.send("Mikroøjeblik")
    assert "Hvem handler det om?" in reaction.text, "the button starts afresh, it is no content"
    await omar.press("Fru H., stue 12")
    await omar.send("Hun ville have kaffe.")
    await omar.press("Tryghed")
    reaction = await omar.send("Hun ville have kaffe med mælk.")
    assert "Fru H., stue 12: Hun ville have kaffe med mælk." in reaction.text
    reaction = await omar.send_sticker()
    assert "Vælg markører med knapperne ovenfor" in reaction.text
    await omar.press("Gem ✔")
    [(note, markers)] = notes_of(e2e_engine)
    assert note.text == "Hun ville have kaffe med mælk." and markers == ["tryghed"]
    leftovers = [m for m in omar.chat_messages() if "Gemt ✔" not in (m.text or "")]
    leftover_texts = [m.text for m in leftovers if m.text and m.text != "Mikroøjeblik"]
    assert not any("kaffe" in text or "Vælg markører" in text for text in leftover_texts)
    assert not any(m.raw.get("sticker") for m in leftovers), "the sticker is tidied too"


async def test_a_search_pages_within_its_results_and_a_story_is_not_a_search(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    aliases = [f"Fru A{i:02d}" for i in range(10)] + ["Hr. B, stue 1", "Hr. C, stue 2"]
    await team_with_residents(emulator, admin, *aliases)
    omar = emulator.user(OMAR_ID, "Omar")
    await omar.send("/note")
    reaction = await omar.send("Fru A")
    assert reaction.messages[0].button_texts[:8] == [f"Fru A{i:02d}" for i in range(8)]
    reaction = await omar.press("Næste ▶")
    assert [t for t in reaction.edits[-1].button_texts if t.startswith(("Fru", "Hr"))] == [
        "Fru A08",
        "Fru A09",
    ]
    await omar.send("/cancel")

    await omar.send("/note")
    story = "Hr. B ville gerne sidde ved vinduet og se fuglene i dag."
    reaction = await omar.send(story)
    assert "Gem dette som et mikroøjeblik? Hvem handler det om?" in reaction.text
    reaction = await omar.send("stue 1")
    reaction = await omar.press("Hr. B, stue 1")
    assert f"Hr. B, stue 1: {story}" in reaction.text


async def test_cancel_keeps_the_button_and_tidies_the_draft(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    await team_with_residents(emulator, admin, "Fru H., stue 12")
    omar = emulator.user(OMAR_ID, "Omar")
    await omar.send("/note")
    await omar.press("Fru H., stue 12")
    await omar.send("Hun græd lidt i morges.")
    reaction = await omar.send("/cancel")
    assert "Stoppet" in reaction.text
    assert reaction.message.reply_keyboard == [["Mikroøjeblik"]]
    visible = " ".join(message.text or "" for message in omar.chat_messages())
    assert "græd" not in visible and "Fru H." not in visible
    assert notes_of(e2e_engine) == []


async def test_an_over_long_text_on_the_fast_path_is_shortened_before_anything_else(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    await team_with_residents(emulator, admin, "Fru H., stue 12")
    omar = emulator.user(OMAR_ID, "Omar")
    presses = count_presses(omar)
    reaction = await omar.send("Hun talte om sin mand. " * 60)
    assert "Behold de første 1000 tegn" in reaction.text or reaction.messages[0].button_texts == [
        "Behold de første 1000 tegn"
    ]
    reaction = await omar.press("Behold de første 1000 tegn")
    assert "Hvem handler det om?" in reaction.text
    await omar.press("Fru H., stue 12")
    await omar.press("Nærvær")
    await omar.press("Gem ✔")
    assert presses["n"] == 4
    [(note, _markers)] = notes_of(e2e_engine)
    assert len(note.text or "") == 1000


async def test_the_card_counts_every_marker_and_shows_each_note_once(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    await team_with_residents(emulator, admin, "Fru H., stue 12")
    omar = emulator.user(OMAR_ID, "Omar")
    labels = [
        "Tryghed",
        "Nærvær",
        "Respekt",
        "Selvbestemmelse",
        "Hjemlighed",
        "Hverdagsliv",
        "Professionalisme",
        "Sundhed",
        "Selvhjulpenhed",
        "Kontinuitet",
        "Sammenhæng",
    ]
    for index in range(10):
        chosen = labels[index % 11 : index % 11 + 2] or labels[:1]
        await take_note(
            omar, "Fru H., stue 12", f"Note nummer {index} om en lang dag. " * 3, *chosen
        )
    await omar.send("/card")
    reaction = await omar.press("Fru H., stue 12")
    card = reaction.text
    for label in labels:
        assert f"{label} · " in card, label
    assert len(card) < 1200 and card.count("\n") <= 26
    examples = [line for line in card.splitlines() if line.startswith("  – ")]
    assert len(examples) == len(set(examples)), "no note is shown twice"


async def test_a_typo_fixed_by_editing_the_message_is_what_gets_saved(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    await team_with_residents(emulator, admin, "Fru H., stue 12")
    omar = emulator.user(OMAR_ID, "Omar")
    await omar.send("/note")
    await omar.press("Fru H., stue 12")
    await omar.send("Hun vil ha te")
    sent = [m for m in omar.chat_messages() if not m.from_bot and m.text == "Hun vil ha te"][0]
    reaction = await emulator.inject_update(
        {"edited_message": sent.raw | {"text": "Hun ville have te.", "edit_date": 1_800_000_000}}
    )
    assert "Rettet ✔ Jeg gemmer den nye tekst." in reaction.text
    await omar.press("Gem ✔")
    [(note, _markers)] = notes_of(e2e_engine)
    assert note.text == "Hun ville have te."


async def test_a_failed_confirmation_keeps_the_note_and_brings_no_apology(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    await team_with_residents(emulator, admin, "Fru H., stue 12")
    omar = emulator.user(OMAR_ID, "Omar")
    await omar.send("/note")
    await omar.press("Fru H., stue 12")
    await omar.send("Hun ville sidde i solen.")
    emulator.fail_next("sendMessage", error_code=500, description="Internal Server Error")
    reaction = await omar.press("Gem ✔")
    assert "Beklager" not in reaction.text, "the note is stored: nothing to apologise for"
    [(note, _markers)] = notes_of(e2e_engine)
    assert note.text == "Hun ville sidde i solen."
    with Session(e2e_engine) as session:
        assert conversations.load(session=session, telegram_id=OMAR_ID, chat_id=OMAR_ID) is None
