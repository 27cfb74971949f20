"""A team's Telegram group: linked by the lead with /link, votes posted there, a member's
press counted as their vote, a non-member's press alerted, the supergroup upgrade followed,
and an unlinked group left alone."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.app import StemmeApplication
from flows.core.i18n import texts
from sandbox.emulator import BotApiEmulator
from storage import decisions
from storage.db import require_id
from storage.models import TeamChat, Vote
from tests.e2e.conftest import Admin
from tests.e2e.people import STRANGER_ID, team_with_residents
from tests.e2e.test_decisions import (
    ALIAS,
    bot_message,
    member_id,
    open_vote,
    proposals,
    propose,
    start_case_decision,
    wake,
)

da = texts("da", ZoneInfo("Europe/Copenhagen"))._
GROUP_ID = -4_000_000_001
SUPERGROUP_ID = -1_004_000_000_001


def texts_da_votes(count: int) -> str:
    return (
        texts("da", ZoneInfo("Europe/Copenhagen"))
        .ngettext("{count} vote", "{count} votes", count)
        .format(count=count)
    )


def linked_chat(engine: Engine, team_id: int) -> int | None:
    with Session(engine) as session:
        link = session.exec(select(TeamChat).where(col(TeamChat.team_id) == team_id)).first()
        return link.chat_id if link else None


async def test_a_group_vote_counts_members_alerts_strangers_and_follows_the_supergroup(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, lise, omar = await team_with_residents(emulator, admin, ALIAS)
    stranger = emulator.user(STRANGER_ID, "Ukendt")
    group = emulator.group(GROUP_ID, "Team Syd")

    # Unlinked: only /link and /help get an answer; a staff member cannot link it.
    quiet = await omar.send("/proposals", chat=group, expect_reaction=False)
    assert quiet.messages == []
    reaction = await stranger.send("/help", chat=group)
    assert reaction.text == da(
        "This group is not linked to a team. A team lead can send /link here; then I post "
        "the team's votes in this group."
    )
    reaction = await omar.send("/link", chat=group)
    assert reaction.text == da("Only the team lead can link this group to the team.")
    assert linked_chat(e2e_engine, team_id) is None
    reaction = await lise.send("/link", chat=group)
    assert "Team Syd" in reaction.text
    assert linked_chat(e2e_engine, team_id) == GROUP_ID

    # A vote is posted in the group as well as to every member.
    did = start_case_decision(e2e_engine, team_id, lise.id)
    await propose(omar, did, "Radio om morgenen.")
    await propose(lise, did, "Hun vælger selv.")
    first, second = (require_id(p) for p in proposals(e2e_engine, did))
    await open_vote(lise, did)
    wake(bot)
    posted = await bot_message(group, "Morgenen")
    assert len(posted.inline_keyboard) == 2

    # A member's press in the group is their vote; a stranger's is alerted and not counted.
    reaction = await omar.press(f"grp:vote:{did}:{first}", chat=group)
    assert reaction.alert is None
    assert da("{voted} of {eligible} have voted.").format(voted=1, eligible=2) in reaction.text
    reaction = await stranger.press(f"grp:vote:{did}:{second}", chat=group)
    assert reaction.alert == da("Only members of the team can vote here. Nothing was counted.")
    assert reaction.edits == [] and reaction.messages == []
    # The same member pressing again in their private chat changes the same vote.
    await bot_message(omar.chat, "Morgenen")
    await omar.press(f"dec:vote:{did}:{second}")
    with Session(e2e_engine) as session:
        rows = session.exec(select(Vote).where(col(Vote.decision_id) == did)).all()
        assert [(v.member_id, v.proposal_id) for v in rows] == [
            (member_id(e2e_engine, omar.id), second)
        ]

    # The group's message shows the count after the private change too.
    await emulator.wait_idle()
    counted = group.messages[posted.message_id].text
    assert "1. Radio om morgenen. · " + texts_da_votes(0) in counted
    assert "2. Hun vælger selv. · " + texts_da_votes(1) in counted

    # The group becomes a supergroup: the link and the vote's message follow.
    await group.migrate_to_supergroup(SUPERGROUP_ID, by=lise, expect_reaction=False)
    await emulator.wait_idle()
    assert linked_chat(e2e_engine, team_id) == SUPERGROUP_ID
    with Session(e2e_engine) as session:
        decision = decisions.get_decision(session=session, decision_id=did)
        assert decision is not None and decision.group_chat_id == SUPERGROUP_ID
    # The last member's vote closes the vote; the result is posted in the supergroup.
    await lise.press(f"dec:vote:{did}:{second}")
    wake(bot)
    supergroup = emulator.chat(SUPERGROUP_ID)
    result = await bot_message(supergroup, "Hun vælger selv.")
    assert result.text == da("The vote is closed. The team tries: {text}").format(
        text="Hun vælger selv."
    )


async def test_a_missed_supergroup_upgrade_is_followed_when_the_vote_is_posted(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, lise, omar = await team_with_residents(emulator, admin, ALIAS)
    group = emulator.group(GROUP_ID, "Team Syd")
    await lise.send("/link", chat=group)
    await group.migrate_to_supergroup(SUPERGROUP_ID, by=lise, expect_reaction=False)
    await emulator.wait_idle()
    # As if the bot had been down during the upgrade: the old id is still stored.
    with Session(e2e_engine) as session:
        link = session.exec(select(TeamChat).where(col(TeamChat.team_id) == team_id)).one()
        link.chat_id = GROUP_ID
        session.add(link)
        session.commit()

    did = start_case_decision(e2e_engine, team_id, lise.id)
    await propose(omar, did, "Radio om morgenen.")
    await open_vote(lise, did)
    wake(bot)

    posted = await bot_message(emulator.chat(SUPERGROUP_ID), "Morgenen")
    assert len(posted.inline_keyboard) == 1
    assert linked_chat(e2e_engine, team_id) == SUPERGROUP_ID
    with Session(e2e_engine) as session:
        decision = decisions.get_decision(session=session, decision_id=did)
        assert decision is not None
        assert (decision.group_chat_id, decision.group_message_id) == (
            SUPERGROUP_ID,
            posted.message_id,
        )
