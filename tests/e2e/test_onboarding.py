"""A care team comes on board: admin CLI, a lead and two staff, residents, bad input.

Each test plays what people do in Telegram against the unmodified application and
checks what they see and what was stored.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.app import StemmeApplication
from sandbox.emulator import BotApiEmulator
from storage import conversations
from storage.directory import team_members
from storage.models import Conversation, Member, Resident, Role
from storage.residents import list_residents
from tests.e2e.conftest import BOT_USERNAME, Admin
from tests.e2e.people import (
    LEAD_ID,
    METTE_ID,
    OMAR_ID,
    STRANGER_ID,
    join,
    member_of,
    setup_team,
    staff_invite_code,
)


async def test_a_lead_joins_by_invite_in_danish_and_invites_two_staff(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, code = setup_team(admin)
    lise = emulator.user(LEAD_ID, "Lise", language_code="da")

    reaction = await lise.send(f"/start {code}")
    assert reaction.messages[0].button_texts == ["Dansk", "English"]
    assert "Vælg dit sprog" in reaction.text
    assert member_of(e2e_engine, LEAD_ID) is None, "nothing is stored before the user joins"

    reaction = await lise.press("Dansk")
    assert "Velkommen til Team Syd, Lise!" in reaction.text
    assert "teamleder" in reaction.text
    lead_menu = emulator.commands_for({"type": "chat", "chat_id": LEAD_ID}, None)
    assert "invite" in [command["command"] for command in lead_menu]

    staff_code = await staff_invite_code(lise)
    omar, reaction = await join(emulator, OMAR_ID, "Omar", staff_code, "en")
    assert "Welcome to Team Syd, Omar!" in reaction.text
    mette, reaction = await join(emulator, METTE_ID, "Mette", staff_code, "da")
    assert "Velkommen til Team Syd, Mette!" in reaction.text
    staff_menu = emulator.commands_for({"type": "chat", "chat_id": OMAR_ID}, None)
    assert "invite" not in [command["command"] for command in staff_menu]
    assert "Your team" in " ".join(command["description"] for command in staff_menu)

    with Session(e2e_engine) as session:
        members = team_members(session=session, team_id=team_id)
    assert [(row.member.name, row.membership.role) for row in members] == [
        ("Lise", Role.LEAD),
        ("Mette", Role.STAFF),
        ("Omar", Role.STAFF),
    ]
    assert member_of(e2e_engine, OMAR_ID).language == "en"  # type: ignore[union-attr]

    reaction = await omar.send("/team")
    assert "Team leads: Lise" in reaction.text
    assert "Staff (2): Mette, Omar" in reaction.text
    reaction = await mette.send("/help")
    assert "/residents" in reaction.text and "/invite" not in reaction.text
    reaction = await lise.send("/help")
    assert "/invite" in reaction.text


async def test_residents_are_managed_by_the_lead_and_seen_by_staff(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, code = setup_team(admin)
    lise, _ = await join(emulator, LEAD_ID, "Lise", code, "da")
    omar, _ = await join(emulator, OMAR_ID, "Omar", await staff_invite_code(lise), "en")

    reaction = await lise.send("/residents")
    assert "Team Syd har ingen borgere endnu" in reaction.text
    reaction = await lise.press("➕ Tilføj borger")
    assert "Skriv borgerens kaldenavn" in reaction.text
    reaction = await lise.send("Fru H., stue 12")
    assert "Tilføjet: Fru H., stue 12" in reaction.text
    await lise.send("/residents")
    await lise.press("➕ Tilføj borger")
    reaction = await lise.send("fru h., STUE 12")
    assert "Teamet har allerede en borger med det kaldenavn" in reaction.text
    reaction = await lise.send("Hr. J., stue 3")
    assert "Tilføjet: Hr. J., stue 3" in reaction.text

    reaction = await omar.send("/residents")
    assert "Fru H., stue 12" in reaction.text and "Hr. J., stue 3" in reaction.text
    assert reaction.messages[0].buttons == []

    await lise.send("/residents")
    await lise.press("✏️ Omdøb")
    await lise.press("Hr. J., stue 3")
    reaction = await lise.send("Hr. J., stue 4")
    assert "Omdøbt: Hr. J., stue 3 hedder nu Hr. J., stue 4" in reaction.text

    await lise.send("/residents")
    await lise.press("Deaktivér")
    await lise.press("Fru H., stue 12")
    reaction = await lise.press("Ja, deaktivér")
    assert "Deaktiveret: Fru H., stue 12" in reaction.text

    with Session(e2e_engine) as session:
        aliases = [r.alias for r in list_residents(session=session, team_id=team_id)]
    assert aliases == ["Hr. J., stue 4"]


async def test_staff_and_other_teams_cannot_use_forged_buttons(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, code = setup_team(admin)
    lise, _ = await join(emulator, LEAD_ID, "Lise", code, "da")
    omar, _ = await join(emulator, OMAR_ID, "Omar", await staff_invite_code(lise), "en")
    await lise.send("/residents")
    await lise.press("➕ Tilføj borger")
    await lise.send("Fru H., stue 12")
    with Session(e2e_engine) as session:
        resident = list_residents(session=session, team_id=team_id)[0]

    # Staff pressing a lead's buttons, with data they made up.
    reaction = await omar.press_data(f"res:off!:{resident.id}")
    assert reaction.alert == "Only the team lead can do that."
    reaction = await omar.press_data("res:add")
    assert reaction.alert == "Only the team lead can do that."
    lise_id = member_of(e2e_engine, LEAD_ID).id  # type: ignore[union-attr]
    reaction = await omar.press_data(f"team:remove!:{team_id}:{lise_id}")
    assert reaction.alert == "Only the team lead can do that."

    # The lead of another team, pressing a button for this team's resident.
    _other_team, other_code = setup_team(admin, "Team Nord")
    karen, _ = await join(emulator, METTE_ID, "Karen", other_code, "da")
    reaction = await karen.press_data(f"res:off!:{resident.id}")
    assert reaction.alert == "Den knap er ikke længere aktiv. Intet blev ændret."
    reaction = await karen.press_data(f"team:switch:{team_id}")
    assert reaction.alert == "Den knap er ikke længere aktiv. Intet blev ændret."
    reaction = await karen.press_data("res:off!:not-a-number")
    assert reaction.alert == "Den knap er ikke længere aktiv. Intet blev ændret."

    with Session(e2e_engine) as session:
        assert session.get(Resident, resident.id).active  # type: ignore[union-attr]
        assert member_of(e2e_engine, METTE_ID).current_team_id != team_id  # type: ignore[union-attr]


async def test_a_stranger_gets_the_access_explanation_and_nothing_is_stored(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    setup_team(admin)
    stranger = emulator.user(STRANGER_ID, "Ukendt", language_code="da")
    for text in ("/start", "hej", "/residents", "/help", "/team"):
        reaction = await stranger.send(text)
        assert "Bed din teamleder om et invitationslink" in reaction.text, text
    reaction = await stranger.send_voice(duration=4)
    assert "invitationslink" in reaction.text
    reaction = await stranger.press_data("res:add")
    assert "invite link" in (reaction.alert or "") or "invitationslink" in (reaction.alert or "")
    # Strangers see the default menu, set at start in Danish and in English.
    danish_menu = emulator.commands_for({"type": "default"}, None)
    english_menu = emulator.commands_for({"type": "default"}, "en")
    assert [c["command"] for c in danish_menu] == ["start", "help"]
    assert danish_menu[1]["description"] == "Hvad jeg kan hjælpe dig med"
    assert english_menu[1]["description"] == "What I can do for you"
    english = emulator.user(STRANGER_ID + 1, "Stranger", language_code="en")
    reaction = await english.send("/start")
    assert "ask your team lead for an invite link" in reaction.text

    with Session(e2e_engine) as session:
        assert session.exec(select(Member)).all() == []
        assert session.exec(select(Conversation)).all() == []


async def test_bad_invite_codes_get_a_clear_answer(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, _code = setup_team(admin)
    single = admin("invite", "--team", str(team_id), "--role", "staff", "--uses", "1")["invite"]
    newcomer = emulator.user(OMAR_ID, "Omar", language_code="da")
    reaction = await newcomer.send("/start doesnotexist99")
    assert "Jeg kender ikke dette invitationslink" in reaction.text
    await newcomer.send(f"/start {single['code']}")
    await newcomer.press("Dansk")
    late = emulator.user(METTE_ID, "Mette", language_code="da")
    reaction = await late.send(f"/start {single['code']}")
    assert "allerede brugt" in reaction.text
    # A forged language button with a made-up code joins nothing.
    reaction = await late.press_data("lang:da:madeupcode1")
    assert "Jeg kender ikke dette invitationslink" in reaction.text
    assert member_of(e2e_engine, METTE_ID) is None


async def test_cpr_numbers_are_refused_deleted_and_the_flow_continues(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, code = setup_team(admin)
    lise, _ = await join(emulator, LEAD_ID, "Lise", code, "da")
    await lise.send("/residents")
    await lise.press("➕ Tilføj borger")
    reaction = await lise.send("Fru H. 010190-1234")
    assert "Det ligner et CPR-nummer" in reaction.text
    assert reaction.deletions, "the message with the CPR number is deleted from the chat"
    assert all("010190" not in (m.text or "") for m in lise.chat_messages())
    reaction = await lise.send("Fru H., stue 12")
    assert "Tilføjet: Fru H., stue 12" in reaction.text
    with Session(e2e_engine) as session:
        assert [r.alias for r in list_residents(session=session, team_id=team_id)] == [
            "Fru H., stue 12"
        ]


async def test_wrong_input_keeps_the_step_and_cancel_ends_it(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    _team_id, code = setup_team(admin)
    lise, _ = await join(emulator, LEAD_ID, "Lise", code, "da")
    await lise.send("/residents")
    await lise.press("➕ Tilføj borger")
    reaction = await lise.send_sticker()
    assert "Skriv borgerens kaldenavn som tekst" in reaction.text
    reaction = await lise.send("x" * 61)
    assert "Et kaldenavn skal være 1 til 60 tegn" in reaction.text
    reaction = await lise.send("/help")
    assert "/residents" in reaction.text
    reaction = await lise.send("/cancel")
    assert "Stoppet" in reaction.text
    with Session(e2e_engine) as session:
        assert conversations.load(session=session, telegram_id=LEAD_ID, chat_id=LEAD_ID) is None
    reaction = await lise.send("/cancel")
    assert "Der er ikke noget at stoppe" in reaction.text


async def test_a_lead_removes_a_member_who_then_loses_access(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, code = setup_team(admin)
    lise, _ = await join(emulator, LEAD_ID, "Lise", code, "da")
    mette, _ = await join(emulator, METTE_ID, "Mette", await staff_invite_code(lise), "da")
    await lise.send("/team")
    await lise.press("Fjern et medlem")
    reaction = await lise.press("Mette")
    assert "Fjern Mette fra Team Syd?" in reaction.text
    reaction = await lise.press("Ja, fjern")
    assert "Mette er ikke længere medlem af Team Syd" in reaction.text
    reaction = await mette.send("/residents")
    assert "Du er ikke længere medlem af et team" in reaction.text
    assert emulator.commands_for({"type": "chat", "chat_id": METTE_ID}, None) == []
    with Session(e2e_engine) as session:
        assert [row.member.name for row in team_members(session=session, team_id=team_id)] == [
            "Lise"
        ]


async def test_a_temp_in_two_teams_switches_team_with_a_button(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    south_id, south_code = setup_team(admin, "Team Syd")
    north_id, north_code = setup_team(admin, "Team Nord")
    lise, _ = await join(emulator, LEAD_ID, "Lise", south_code, "da")
    karen, _ = await join(emulator, METTE_ID, "Karen", north_code, "da")
    south_staff = await staff_invite_code(lise)
    north_staff = await staff_invite_code(karen)
    vikar, _ = await join(emulator, OMAR_ID, "Vikar", south_staff, "da")
    await vikar.send(f"/start {north_staff}")
    assert member_of(e2e_engine, OMAR_ID).current_team_id == north_id  # type: ignore[union-attr]

    reaction = await vikar.send("/team")
    assert "Team Nord" in reaction.text
    reaction = await vikar.press("Skift til Team Syd")
    assert "Du arbejder nu i Team Syd" in reaction.text
    assert member_of(e2e_engine, OMAR_ID).current_team_id == south_id  # type: ignore[union-attr]


async def test_language_can_be_switched(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    _team_id, code = setup_team(admin)
    lise, _ = await join(emulator, LEAD_ID, "Lise", code, "da")
    reaction = await lise.send("/language")
    assert reaction.messages[0].button_texts == ["Dansk", "English"]
    reaction = await lise.press("English")
    assert "I will speak English with you from now on." in reaction.text
    reaction = await lise.send("/residents")
    assert "Team Syd has no residents yet" in reaction.text
    menu = emulator.commands_for({"type": "chat", "chat_id": LEAD_ID}, None)
    assert "Invite staff to the team" in [command["description"] for command in menu]


async def test_an_administrator_sees_every_team_and_invites_a_lead(
    emulator: BotApiEmulator, e2e_database_url: str, admin: Admin, e2e_engine: Engine
) -> None:
    from bot.app import build_application
    from tests.e2e.conftest import e2e_settings, running

    south_id, code = setup_team(admin, "Team Syd")
    setup_team(admin, "Team Nord")
    settings = e2e_settings(emulator, e2e_database_url).model_copy(update={"admins": [42]})
    async with running(build_application(settings)):
        await join(emulator, LEAD_ID, "Lise", code, "da")
        consultant = emulator.user(42, "Konsulent", language_code="da")
        reaction = await consultant.send("/help")
        assert "/teams" in reaction.text
        reaction = await consultant.send("/teams")
        assert "Plejecenter Rosen Team Syd / Team Syd: 1 aktive, 1 ledere" in reaction.text
        assert "Team Nord: 0 aktive, 0 ledere" in reaction.text
        reaction = await consultant.press("Lederinvitation til Team Syd")
        assert f"https://t.me/{BOT_USERNAME}?start=" in reaction.text
        # A lead of a team is no administrator.
        lise = emulator.user(LEAD_ID, "Lise", language_code="da")
        reaction = await lise.send("/teams")
        assert "Det forstod jeg ikke" in reaction.text
        reaction = await lise.press_data(f"admin:lead:{south_id}")
        assert reaction.alert == "Den knap er ikke længere aktiv. Intet blev ændret."
    with Session(e2e_engine) as session:
        from storage.audit import entries

        actors = [entry.actor for entry in entries(session=session, team_id=south_id)]
    assert "admin:42" in actors


async def test_a_lead_of_two_teams_cannot_act_on_the_other_team_with_an_old_button(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    south_id, south_code = setup_team(admin, "Team Syd")
    north_id, _north_code = setup_team(admin, "Team Nord")
    lise, _ = await join(emulator, LEAD_ID, "Lise", south_code, "da")
    omar, _ = await join(emulator, OMAR_ID, "Omar", await staff_invite_code(lise), "da")
    north_lead = admin("invite", "--team", str(north_id), "--role", "lead")["invite"]["code"]
    await lise.send(f"/start {north_lead}")
    await omar.send(f"/start {await staff_invite_code(lise)}")  # Omar joins Nord too
    await lise.send("/team")
    await lise.press("Skift til Team Syd")
    await lise.send("/team")
    await lise.press("Fjern et medlem")
    reaction = await lise.press("Omar")
    assert "Fjern Omar fra Team Syd?" in reaction.text
    confirm = reaction.messages[-1] if reaction.messages else reaction.edits[-1]
    await lise.send("/team")
    await lise.press("Skift til Team Nord")
    reaction = await lise.press("Ja, fjern", message_id=confirm.message_id)
    assert reaction.alert == "Den knap er ikke længere aktiv. Intet blev ændret."
    with Session(e2e_engine) as session:
        for team_id in (south_id, north_id):
            names = [row.member.name for row in team_members(session=session, team_id=team_id)]
            assert "Omar" in names, team_id
