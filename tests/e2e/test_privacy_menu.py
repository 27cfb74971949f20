"""/privacy end to end: every member reads what is stored, the site's retention and whom to
ask; a lead reads the team's privacy log and erases a resident who has moved out, and a
forged, stale or cancelled press erases nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.app import StemmeApplication, build_application
from flows.core.i18n import texts
from sandbox.emulator import BotApiEmulator, EmuUser
from storage.directory import get_team
from storage.models import AuditEntry, Membership, Note, Resident, Role
from tests.e2e.conftest import Admin, e2e_settings, running
from tests.e2e.people import LEAD_ID, OMAR_ID, member_of, take_note, team_with_residents
from tests.factories import make_resident

TZ = ZoneInfo("Europe/Copenhagen")
da = texts("da", TZ)
_ = da._
CONTACT = "DPO, Aarhus Kommune, dpo@aarhus.dk"
FRU_H, HR_B = "Fru H., stue 12", "Hr. B, stue 3"
SITE = "Plejecenter Rosen Team Syd"  # the site tests.e2e.people.setup_team creates
ERASE = _("Erase a resident who has moved out")


async def _eventually(check: Callable[[], bool], seconds: float = 10) -> None:
    """Waits for the step's commit: the answer can come before it."""
    for _attempt in range(int(seconds * 20)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the database never showed the change")


def _notes_about(engine: Engine, alias: str) -> int:
    with Session(engine) as session:
        resident = session.exec(select(Resident).where(col(Resident.alias) == alias)).first()
        if resident is None:
            return 0
        return len(session.exec(select(Note).where(col(Note.resident_id) == resident.id)).all())


def _erasures(engine: Engine) -> list[AuditEntry]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(AuditEntry).where(col(AuditEntry.action) == "privacy.erase_resident")
            ).all()
        )


def _resident_id(engine: Engine, alias: str) -> int:
    with Session(engine) as session:
        resident = session.exec(select(Resident).where(col(Resident.alias) == alias)).one()
        assert resident.id is not None
        return resident.id


async def _deactivate(lise: EmuUser, alias: str) -> None:
    await lise.send("/residents")
    await lise.press(_("Deactivate"))
    await lise.press(alias)
    reaction = await lise.press(_("Yes, deactivate"))
    assert _("Deactivated: {alias}").format(alias=alias) in reaction.text


async def _to_confirmation(lise: EmuUser, alias: str) -> str:
    await lise.send("/privacy")
    await lise.press(ERASE)
    reaction = await lise.press(alias)
    return reaction.text


async def test_a_staff_member_reads_the_retention_and_whom_to_ask_without_lead_buttons(
    emulator: BotApiEmulator, e2e_database_url: str, admin: Admin
) -> None:
    settings = e2e_settings(emulator, e2e_database_url).model_copy(
        update={"privacy_contact": CONTACT}
    )
    async with running(build_application(settings)):
        team_id, lise, omar = await team_with_residents(emulator, admin, FRU_H)
        admin("privacy", "retention", "--site", SITE, "--days", "90")

        reaction = await omar.send("/privacy")
        shown = reaction.message
        assert "Teksten i mikroøjeblikke slettes efter 90 dage" in shown.text
        assert CONTACT in shown.text
        assert "CPR" in shown.text and "Telegram" in shown.text
        assert shown.inline_keyboard == []
        staff_menu = emulator.commands_for({"type": "chat", "chat_id": OMAR_ID}, None)
        assert "privacy" in [command["command"] for command in staff_menu]

        # A staff member's forged lead button does nothing.
        reaction = await omar.press_data(f"prv:log:{team_id}:0")
        assert reaction.alert == _("Only the team lead can do that.")
        reaction = await omar.press_data(f"prv:gone:{team_id}")
        assert reaction.alert == _("Only the team lead can do that.")

        # The lead gets the same message with the two buttons.
        reaction = await lise.send("/privacy")
        assert "90 dage" in reaction.text
        assert reaction.message.button_texts == [_("Privacy log"), ERASE]


async def test_without_retention_or_contact_the_text_says_so(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin
) -> None:
    _team_id, _lise, omar = await team_with_residents(emulator, admin)
    admin("privacy", "retention", "--site", SITE, "--keep")
    admin("privacy", "member-notes", "--site", SITE, "erase")

    text = (await omar.send("/privacy")).text
    assert _("Micro-moments are kept until someone deletes them.") in text
    assert _("If a member is erased, the micro-moments they wrote are erased too.") in text
    assert "teamleder" in text and "databeskyttelsesrådgiver" in text


async def test_a_lead_erases_a_resident_who_has_moved_out(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, lise, omar = await team_with_residents(emulator, admin, FRU_H, HR_B)
    await take_note(omar, FRU_H, "Hun smilede, da vi sang")
    await take_note(omar, FRU_H, "Hun ville selv vælge tøj")
    await take_note(omar, HR_B, "Han sad ved vinduet")
    await _deactivate(lise, FRU_H)

    await lise.send("/privacy")
    reaction = await lise.press(ERASE)
    offered = lise.last_bot_message()
    assert offered is not None
    assert FRU_H in offered.button_texts and HR_B not in offered.button_texts
    assert "/residents" in reaction.text

    reaction = await lise.press(FRU_H)
    assert da.ngettext("{count} micro-moment", "{count} micro-moments", 2).format(count=2) in (
        reaction.text
    )
    # /help in the middle answers and leaves the confirmation where it was.
    reaction = await lise.send("/help")
    assert "/privacy" in reaction.text
    reaction = await lise.press(_("Yes, erase everything about {alias}").format(alias=FRU_H))
    assert _("Erased ✔ Everything about {alias} is deleted:").format(alias=FRU_H) in (
        reaction.text
    )

    await _eventually(lambda: len(_erasures(e2e_engine)) == 1)
    assert _notes_about(e2e_engine, FRU_H) == 0
    assert _notes_about(e2e_engine, HR_B) == 1
    lead = member_of(e2e_engine, LEAD_ID)
    assert lead is not None
    [entry] = _erasures(e2e_engine)
    assert entry.actor == f"member:{lead.id}"
    assert entry.detail["removed"]["note"] == 2

    # Two more entries: eleven in all, so the log has a second, older page.
    for _number in range(2):
        admin("invite", "--team", str(team_id), "--role", "staff")
    await lise.send("/privacy")
    reaction = await lise.press(_("Privacy log"))
    erased_line = da.ngettext(
        "{who} erased a resident and everything about them ({count} micro-moment)",
        "{who} erased a resident and everything about them ({count} micro-moments)",
        2,
    ).format(who="Lise", count=2)
    log = reaction.text
    assert erased_line in log
    assert _("{who} deactivated a resident").format(who="Lise") in log
    assert FRU_H not in log and "smilede" not in log  # ids and counts only
    assert log.index(erased_line) < log.index(_("{who} deactivated a resident").format(who="Lise"))
    created = _("{who} created the team").format(who=_("CLI/IT"))
    assert created not in log
    reaction = await lise.press(_("Older ▶"))
    assert created in reaction.text and erased_line not in reaction.text
    reaction = await lise.press(_("◀ Newer"))
    assert erased_line in reaction.text
    # The log took the /privacy message's place; its other button is still there.
    assert reaction.edits[-1].button_texts == [_("Older ▶"), ERASE]


async def test_forged_and_stale_presses_erase_nothing(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, lise, omar = await team_with_residents(emulator, admin, FRU_H)
    await take_note(omar, FRU_H, "Hun smilede, da vi sang")
    await _deactivate(lise, FRU_H)
    other_team = admin("team", "add", "--site", SITE, "Team Nord")["team"]
    with Session(e2e_engine) as session:
        team = get_team(session=session, team_id=int(other_team["id"]))
        assert team is not None
        stranger = make_resident(session=session, team=team, alias="Hr. Nord", active=False)
        session.commit()
        stranger_id = stranger.id

    # Another team's resident, named in forged buttons.
    reaction = await lise.press_data(f"prv:pick:{stranger_id}")
    assert reaction.alert is not None and "Intet blev ændret" in reaction.alert
    reaction = await lise.press_data(f"prv:erase:{stranger_id}")
    assert reaction.alert == _("That button is no longer active. Nothing was changed.")
    # A log button of another team.
    reaction = await lise.press_data(f"prv:log:{other_team['id']}:0")
    assert reaction.alert == _("That button is no longer active. Nothing was changed.")

    # In the confirmation of her own resident, a forged id is refused too.
    await _to_confirmation(lise, FRU_H)
    reaction = await lise.press_data(f"prv:erase:{stranger_id}")
    assert reaction.alert == _("That button is no longer active. Nothing was changed.")

    # Reactivated meanwhile: nothing is erased.
    await _to_confirmation(lise, FRU_H)
    with Session(e2e_engine) as session:
        resident = session.get(Resident, _resident_id(e2e_engine, FRU_H))
        assert resident is not None
        resident.active = True
        session.add(resident)
        session.commit()
    reaction = await lise.press(_("Yes, erase everything about {alias}").format(alias=FRU_H))
    assert "/residents" in reaction.text and "aktiv" in reaction.text

    # No longer lead: nothing is erased.
    await _deactivate(lise, FRU_H)
    await _to_confirmation(lise, FRU_H)
    with Session(e2e_engine) as session:
        lead = member_of(e2e_engine, LEAD_ID)
        assert lead is not None
        membership = session.exec(
            select(Membership).where(
                col(Membership.member_id) == lead.id, col(Membership.team_id) == team_id
            )
        ).one()
        membership.role = Role.STAFF
        session.add(membership)
        session.commit()
    reaction = await lise.press(_("Yes, erase everything about {alias}").format(alias=FRU_H))
    assert reaction.alert == _("Only the team lead can do that.")

    await lise.send("/help")  # processed after the presses above: they are committed
    assert _erasures(e2e_engine) == []
    assert _notes_about(e2e_engine, FRU_H) == 1
    with Session(e2e_engine) as session:
        assert session.get(Resident, stranger_id) is not None


async def test_cancel_in_the_confirmation_keeps_the_resident(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    _team_id, lise, omar = await team_with_residents(emulator, admin, FRU_H)
    await take_note(omar, FRU_H, "Hun smilede, da vi sang")
    await _deactivate(lise, FRU_H)

    text = await _to_confirmation(lise, FRU_H)
    assert _("Erase {alias} for good? This deletes:").format(alias=FRU_H) in text
    reaction = await lise.send("/cancel")
    assert _("Stopped. What you had already saved is kept.") in reaction.text
    # The confirmation's button no longer erases.
    reaction = await lise.press(_("Yes, erase everything about {alias}").format(alias=FRU_H))
    assert reaction.alert == _("That button is no longer active. Nothing was changed.")

    # "Cancel erasing" keeps the resident as well.
    await _to_confirmation(lise, FRU_H)
    reaction = await lise.press(_("Cancel erasing"))
    assert _("Nothing was erased.") in reaction.text

    await lise.send("/help")  # processed after the presses above: they are committed
    assert _erasures(e2e_engine) == []
    assert _notes_about(e2e_engine, FRU_H) == 1
