"""Where each user is in a flow: saved per (user, chat), read back after a restart, cleared."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from storage import conversations
from storage.db import make_engine, session_scope, utcnow
from storage.directory import resolve
from tests.factories import make_draft, make_member, make_membership, make_team

USER = 2**40 + 17  # Telegram user ids are above 2**31
GROUP_CHAT = -1_001_234_567_890  # supergroup chat ids are large and negative


def test_a_saved_conversation_is_read_back_by_a_new_session(
    session: Session, engine: Engine
) -> None:
    conversations.save(
        session=session,
        telegram_id=USER,
        chat_id=USER,
        flow="micromoment",
        state="micromoment.text",
        data={"resident_id": 3, "text": "Hun nød kaffen på altanen ☕ æøå"},
    )
    session.commit()

    with Session(engine) as fresh:
        loaded = conversations.load(session=fresh, telegram_id=USER, chat_id=USER)

    assert loaded is not None
    assert (loaded.flow, loaded.state) == ("micromoment", "micromoment.text")
    assert loaded.data == {"resident_id": 3, "text": "Hun nød kaffen på altanen ☕ æøå"}
    assert loaded.updated_at.tzinfo is not None


def test_saving_again_moves_the_same_conversation_on(session: Session) -> None:
    first = conversations.save(
        session=session, telegram_id=USER, chat_id=USER, flow="f", state="one", data={"a": 1}
    )

    second = conversations.save(
        session=session, telegram_id=USER, chat_id=USER, flow="f", state="two", data={"b": 2}
    )

    assert second.id == first.id
    loaded = conversations.load(session=session, telegram_id=USER, chat_id=USER)
    assert loaded is not None
    assert (loaded.state, loaded.data) == ("two", {"b": 2})


def test_each_user_has_one_conversation_per_chat(session: Session) -> None:
    other_user = USER + 1
    places = [(USER, USER), (USER, GROUP_CHAT), (other_user, GROUP_CHAT)]
    for number, (user, chat) in enumerate(places):
        conversations.save(
            session=session, telegram_id=user, chat_id=chat, flow="f", state=str(number), data={}
        )

    states = []
    for user, chat in places:
        loaded = conversations.load(session=session, telegram_id=user, chat_id=chat)
        assert loaded is not None
        assert (loaded.telegram_id, loaded.chat_id) == (user, chat)
        states.append(loaded.state)

    assert states == ["0", "1", "2"]
    assert conversations.load(session=session, telegram_id=other_user, chat_id=USER) is None


def test_clearing_ends_only_that_users_conversation_in_that_chat(
    session: Session, engine: Engine
) -> None:
    for user, chat in [(USER, GROUP_CHAT), (USER, USER), (USER + 1, GROUP_CHAT)]:
        conversations.save(
            session=session, telegram_id=user, chat_id=chat, flow="f", state="s", data={}
        )
    session.commit()

    conversations.clear(session=session, telegram_id=USER, chat_id=GROUP_CHAT)
    session.commit()

    with Session(engine) as fresh:
        assert conversations.load(session=fresh, telegram_id=USER, chat_id=GROUP_CHAT) is None
        assert conversations.load(session=fresh, telegram_id=USER, chat_id=USER) is not None
        assert conversations.load(session=fresh, telegram_id=USER + 1, chat_id=GROUP_CHAT)


def test_clearing_when_there_is_no_conversation_does_nothing(session: Session) -> None:
    conversations.clear(session=session, telegram_id=USER, chat_id=USER)

    assert conversations.load(session=session, telegram_id=USER, chat_id=USER) is None


def test_data_changed_in_place_is_still_saved(session: Session) -> None:
    """A list inside the data, appended to in place, reaches the database."""
    data: dict[str, object] = {"markers": ["tryghed"]}
    conversations.save(
        session=session, telegram_id=7, chat_id=7, flow="note", state="note.details", data=data
    )
    session.commit()
    loaded = conversations.load(session=session, telegram_id=7, chat_id=7)
    assert loaded is not None
    markers = loaded.data["markers"]
    markers.append("respekt")
    conversations.save(
        session=session,
        telegram_id=7,
        chat_id=7,
        flow="note",
        state="note.details",
        data=loaded.data,
    )
    session.commit()
    session.expire_all()
    reloaded = conversations.load(session=session, telegram_id=7, chat_id=7)
    assert reloaded is not None and reloaded.data["markers"] == ["tryghed", "respekt"]


def test_stale_conversations_are_purged_and_fresh_ones_kept(session: Session) -> None:
    make_draft(session=session, telegram_id=1, idle=timedelta(hours=13))
    make_draft(session=session, telegram_id=2)
    purged = conversations.purge_stale(session=session, older_than=utcnow() - timedelta(hours=12))
    session.commit()
    assert purged == 1
    assert conversations.load(session=session, telegram_id=1, chat_id=1) is None
    assert conversations.load(session=session, telegram_id=2, chat_id=2) is not None


def test_resolve_finds_the_member_their_team_and_their_conversation_in_that_chat(
    session: Session,
) -> None:
    team = make_team(session=session, name="Team Nord")
    writer = make_member(session=session, team=team, telegram_id=USER)
    conversations.save(
        session=session, telegram_id=USER, chat_id=USER, flow="note", state="s", data={"a": 1}
    )
    session.commit()

    member, membership, found_team, position = resolve(
        session=session, telegram_id=USER, chat_id=USER
    )
    assert member is not None and member.id == writer.member.id
    assert membership is not None and membership.id == writer.membership.id
    assert found_team is not None and found_team.id == team.id
    assert position is not None and (position.flow, position.data) == ("note", {"a": 1})
    # No conversation in another chat; the member is found all the same.
    member, _membership, found_team, position = resolve(
        session=session, telegram_id=USER, chat_id=GROUP_CHAT
    )
    assert member is not None and found_team is not None and position is None


def test_resolve_repairs_a_stale_team_and_gives_no_conversation_to_the_inactive(
    session: Session,
) -> None:
    left = make_team(session=session, name="Team A")
    stays = make_team(session=session, name="Team B")
    writer = make_member(session=session, team=left, telegram_id=USER, active_membership=False)
    make_membership(session=session, member=writer.member, team=stays)
    conversations.save(
        session=session, telegram_id=USER, chat_id=USER, flow="f", state="s", data={}
    )
    session.commit()

    _member, _membership, team, position = resolve(session=session, telegram_id=USER, chat_id=USER)
    # The current team was one they left: the team they are in becomes current.
    assert team is not None and team.id == stays.id
    assert writer.member.current_team_id == stays.id and position is not None

    writer.member.active = False
    session.add(writer.member)
    session.commit()
    member, membership, team, position = resolve(session=session, telegram_id=USER, chat_id=USER)
    assert member is not None and (membership, team, position) == (None, None, None)
    assert resolve(session=session, telegram_id=USER + 5, chat_id=USER + 5) == (
        None,
        None,
        None,
        None,
    )


def test_on_postgresql_resolve_locks_only_that_conversation(postgres_database_url: str) -> None:
    engine = make_engine(postgres_database_url)
    try:
        with session_scope(engine) as session:
            team = make_team(session=session, name="Team Nord")
            make_member(session=session, team=team, telegram_id=USER)
            for chat_id in (USER, GROUP_CHAT):
                conversations.save(
                    session=session,
                    telegram_id=USER,
                    chat_id=chat_id,
                    flow="f",
                    state="s",
                    data={},
                )
        with session_scope(engine) as first:
            assert resolve(session=first, telegram_id=USER, chat_id=USER)[3] is not None
            # Another worker, meanwhile: the same chat waits (given up after 200 ms here),
            # the member's other chat does not.
            with pytest.raises(OperationalError), session_scope(engine) as second:
                second.execute(text("SET LOCAL lock_timeout = 200"))
                resolve(session=second, telegram_id=USER, chat_id=USER)
            with session_scope(engine) as third:
                third.execute(text("SET LOCAL lock_timeout = 200"))
                position = resolve(session=third, telegram_id=USER, chat_id=GROUP_CHAT)[3]
                assert position is not None and position.chat_id == GROUP_CHAT
    finally:
        engine.dispose()
