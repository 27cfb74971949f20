"""The people of the end-to-end tests and what they do in Telegram, shared by the tests:
a team set up with the real CLI, members joining by invite, notes taken by buttons."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from sandbox.emulator import BotApiEmulator, EmuUser
from storage.directory import get_member_by_telegram_id
from storage.models import Member, Note, NoteMarker
from tests.e2e.conftest import BOT_USERNAME, Admin

LEAD_ID, OMAR_ID, METTE_ID, STRANGER_ID = (
    5_000_000_001,
    5_000_000_002,
    5_000_000_003,
    5_000_000_009,
)


def setup_team(admin: Admin, name: str = "Team Syd") -> tuple[int, str]:
    site = admin("site", "add", f"Plejecenter Rosen {name}")["site"]
    team = admin("team", "add", "--site", str(site["id"]), name)["team"]
    invite = admin("invite", "--team", str(team["id"]), "--role", "lead")["invite"]
    return int(team["id"]), str(invite["code"])


def member_of(engine: Engine, telegram_id: int) -> Member | None:
    with Session(engine) as session:
        return get_member_by_telegram_id(session=session, telegram_id=telegram_id)


async def join(emulator: BotApiEmulator, user_id: int, name: str, code: str, lang: str) -> Any:
    user = emulator.user(user_id, name, language_code=lang)
    await user.send(f"/start {code}")
    return user, await user.press("Dansk" if lang == "da" else "English")


async def staff_invite_code(lead: Any, label: str = "5 personer") -> str:
    reaction = await lead.send("/invite")
    assert "Hvor mange må bruge linket?" in reaction.text
    reaction = await lead.press(label)
    prefix = f"https://t.me/{BOT_USERNAME}?start="
    assert prefix in reaction.text
    return str(reaction.text.split(prefix, 1)[1].split()[0])


async def team_with_residents(
    emulator: BotApiEmulator, admin: Admin, *aliases: str, name: str = "Team Syd"
) -> tuple[int, EmuUser, EmuUser]:
    team_id, code = setup_team(admin, name)
    lise, _ = await join(emulator, LEAD_ID, "Lise", code, "da")
    omar, _ = await join(emulator, OMAR_ID, "Omar", await staff_invite_code(lise), "da")
    for alias in aliases:
        await lise.send("/residents")
        await lise.press("➕ Tilføj borger")
        await lise.send(alias)
    return team_id, lise, omar


def notes_of(engine: Engine) -> list[tuple[Note, list[str]]]:
    with Session(engine) as session:
        notes = session.exec(select(Note).order_by(Note.id)).all()  # type: ignore[arg-type]
        result = []
        for note in notes:
            markers = session.exec(
                select(NoteMarker.marker).where(NoteMarker.note_id == note.id)
            ).all()
            result.append((note, sorted(markers)))
        return result


def count_presses(user: EmuUser) -> Any:
    """Counts the presses a user makes from now on."""
    counter = {"n": 0}
    original = user.press

    async def counting(*args: Any, **kwargs: Any) -> Any:
        counter["n"] += 1
        return await original(*args, **kwargs)

    user.press = counting  # type: ignore[method-assign]
    return counter


async def take_note(user: EmuUser, alias: str, text: str, *markers: str) -> int:
    await user.send("/note")
    await user.press(alias)
    await user.send(text)
    for marker in markers:
        await user.press(marker)
    reaction = await user.press("Gem ✔")
    confirmation = reaction.text
    if "#" not in confirmation:
        # On a loaded machine the confirmation, sent after the commit, can come after the
        # reaction went quiet: wait for the bot to finish, then read it from the chat.
        await user.emulator.wait_idle(settle=0.5)
        confirmation = " ".join(m.text or "" for m in user.chat_messages() if m.from_bot)
    return int(confirmation.rsplit("#", 1)[1].split()[0])
