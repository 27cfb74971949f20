"""The conversation engine: flows whose progress lives in the database.

python-telegram-bot's ``ConversationHandler`` keeps each user's state in process
memory and its persistence writes on an interval, so a ``kill -9`` loses progress
and a second worker process never sees it. Here a single ``Router`` handler
receives every update, opens one database session for it, and

1. resolves who is writing (member, current team, role, language) and applies the
   one input guard (strangers, CPR numbers) before anything is stored;
2. loads the user's ``Conversation`` row (flow, state, collected data; locked on
   PostgreSQL), offers the update to that flow's handlers for that state, and
3. commits the new state and data in the same transaction as whatever the step
   stored. A step is therefore all or nothing, and the next update continues
   exactly there, after a restart or in another process. When the receiver can have
   the update delivered again (``DELIVERY``: webhook workers, stemme's polling loop),
   the update's id is recorded in that transaction too, a redelivery is skipped, and
   an unavailable database leaves the update for the next delivery.

A flow is declared like a ``ConversationHandler``: entry points and a
``states={...}`` table of ordinary python-telegram-bot handlers, whose callbacks
return the next state (``None`` to stay, ``END`` to finish).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any, Protocol, TypeVar, cast
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session
from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden
from telegram.ext import Application, BaseHandler, CallbackContext, ExtBot

from flows.core.i18n import Texts, texts
from storage import conversations, health, updates
from storage.db import one_writer, session_scope, utcnow
from storage.directory import resolve
from storage.models import Member, Membership, Prompt, Role, Team

logger = logging.getLogger(__name__)

END = "__end__"
SERVICES_KEY = "stemme.services"
# The team a conversation belongs to, kept with its data.
TEAM_KEY = "_team"
# A conversation left alone this long is over; the next message starts afresh.
CONVERSATION_TIMEOUT = timedelta(hours=12)

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove
T = TypeVar("T")


# Renders one timed prompt (a reminder, a check-in) and sends it; the prompt dispatcher in
# bot/prompts.py calls it. A renderer reads what it needs (member, language, meeting) in
# the session, sends one message, and neither commits nor swallows Telegram's errors. Each
# flow module with prompts offers ``renderers()``.
Renderer = Callable[[Bot, Prompt, Session], Awaitable[None]]


class FlowSettings(Protocol):
    """What flows read of the installation's configuration (``bot.config.Settings``)."""

    @property
    def tz(self) -> ZoneInfo: ...

    @property
    def locale(self) -> str: ...

    @property
    def admins(self) -> list[int]: ...

    @property
    def privacy_contact(self) -> str | None: ...

    @property
    def dashboard_url(self) -> str | None: ...


class Outcomes(Protocol):
    """Where the router counts what became of each update (``bot.metrics`` in the bot)."""

    def update(self, outcome: str) -> None:
        """One update handled, failed, unreachable, a duplicate, or to be tried again."""

    def handler_error(self, error_type: str) -> None:
        """A step failed with an error of this type."""


class _Uncounted:
    """Counts nothing: for a router built without the bot's metrics (tools, tests)."""

    def update(self, outcome: str) -> None:
        """Counts nothing."""

    def handler_error(self, error_type: str) -> None:
        """Counts nothing."""


def _no_wake() -> None:
    """Nothing to wake: no prompt dispatcher runs."""


@dataclass(frozen=True)
class Services:
    """What every step may use besides the update, given by the wiring (``bot.app``):
    configuration, the database, where outcomes are counted, and a way to wake the
    prompt dispatcher so prompts a step queued go out at once."""

    settings: FlowSettings
    engine: Engine
    outcomes: Outcomes = field(default_factory=_Uncounted)
    wake_prompts: Callable[[], None] = _no_wake


class StemmeContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The context every step receives: the session, who is writing, and their texts.

    The router fills these in before any step runs; they live for one update only.
    """

    session: Session
    member: Member | None
    membership: Membership | None
    team: Team | None
    texts: Texts
    flow_data: dict[str, Any]
    # The flow the user is in when the update arrives (None outside any flow).
    flow_name: str | None
    is_admin: bool
    # Work that must wait until the step is committed (tidying the chat, a confirmation).
    post_commit: list[Callable[[], Awaitable[None]]]

    @property
    def services(self) -> Services:
        """Configuration and database engine of the running application."""
        return cast(Services, self.application.bot_data[SERVICES_KEY])

    def after_commit(self, action: Callable[[], Awaitable[None]]) -> None:
        """Runs ``action`` once the step's transaction is committed; a failure in it is
        logged and never undoes what the step stored."""
        self.post_commit.append(action)

    @property
    def is_lead(self) -> bool:
        """True when the member leads their current team."""
        return self.membership is not None and self.membership.role == Role.LEAD

    def require_member(self) -> tuple[Member, Membership, Team]:
        """Returns the member, membership and team; the router guarantees them in flows."""
        if self.member is None or self.membership is None or self.team is None:
            raise RuntimeError("step reached without an active member")
        return self.member, self.membership, self.team


Step = Callable[[Update, StemmeContext], Coroutine[Any, Any, str | None]]
Guard = Callable[[Update, StemmeContext], Awaitable[bool]]


@dataclass
class Flow:
    """One conversation: how it starts, and which handlers serve each state.

    ``hints`` holds, per state, a msgid told to the user when their input does not
    fit that state (a sticker where text is expected); the flow stays where it was.
    ``lead_only`` flows refuse staff at the entry point.
    """

    name: str
    entry_points: Sequence[BaseHandler[Update, StemmeContext, Any]]
    states: Mapping[str, Sequence[BaseHandler[Update, StemmeContext, Any]]] = field(
        default_factory=dict
    )
    hints: Mapping[str, str] = field(default_factory=dict)
    # Handlers for edited messages while the user is anywhere in this flow.
    edits: Sequence[BaseHandler[Update, StemmeContext, Any]] = ()
    lead_only: bool = False
    # Entry points that strangers (no membership) may use, e.g. /start with an invite.
    open_to_strangers: bool = False
    # Only for administrators (STEMME_ADMINS), who need no team membership.
    admin_only: bool = False


@dataclass
class Gates:
    """Answers the router gives on its own; provided by the flows that own the texts."""

    stranger: Callable[[Update, StemmeContext], Awaitable[None]]
    cpr_refused: Callable[[Update, StemmeContext], Awaitable[None]]
    lead_only: Callable[[Update, StemmeContext], Awaitable[None]]
    stale_button: Callable[[Update, StemmeContext], Awaitable[None]]
    unexpected: Callable[[Update, StemmeContext, str | None], Awaitable[None]]
    not_understood: Callable[[Update, StemmeContext], Awaitable[None]]
    failed: Callable[[Update, StemmeContext], Awaitable[None]]
    contains_cpr: Callable[[str], bool]


@dataclass
class Delivery:
    """Set (in ``DELIVERY``) by a receiver that gets an update again if it is not processed:
    the router then records the update id in the step's transaction and skips an update
    recorded before (``duplicate``), and when the database is unavailable it leaves the
    update unanswered for the receiver to have it delivered again (``unavailable``)."""

    duplicate: bool = False
    unavailable: BaseException | None = None
    # Set by a receiver that knows the update was never delivered before (polling, after
    # its first batch): it is recorded as usual, but not looked up first.
    new: bool = False


DELIVERY: ContextVar[Delivery | None] = ContextVar("stemme_delivery", default=None)


@dataclass(frozen=True)
class Loaded:
    """The user's conversation row as loaded in this update's session (``None``: none)."""

    conversation: conversations.Position | None


class Router(BaseHandler[Update, StemmeContext, None]):
    """Receives every update and runs it through the guard and the user's flow."""

    def __init__(
        self,
        *,
        always: Sequence[BaseHandler[Update, StemmeContext, Any]],
        flows: Sequence[Flow],
        gates: Gates,
    ) -> None:
        super().__init__(self._dispatch, block=True)
        self.always = list(always)
        self.flows = {flow.name: flow for flow in flows}
        if len(self.flows) != len(flows):
            raise ValueError("two flows share a name")
        self.gates = gates

    def check_update(self, update: object) -> bool:
        """Takes messages, edited messages and button presses that have a sender and a chat.

        Other updates (a user blocking or unblocking the bot, chat member changes) are
        not conversation input and get no answer.
        """
        return (
            isinstance(update, Update)
            and (
                update.message is not None
                or update.edited_message is not None
                or update.callback_query is not None
            )
            and update.effective_user is not None
            and update.effective_chat is not None
        )

    async def _dispatch(self, update: Update, context: StemmeContext) -> None:
        services = context.services
        context.post_commit = []
        delivery = DELIVERY.get()
        try:
            # SQLite: one step or prompt works with the database at a time (storage/db.py).
            async with one_writer(services.engine):
                with session_scope(services.engine) as session:
                    if delivery is not None and not updates.begin(
                        session=session, update_id=update.update_id, new=delivery.new
                    ):
                        delivery.duplicate = True
                        services.outcomes.update("duplicate")
                        logger.info("Update %s was processed before: skipped", update.update_id)
                        return
                    await self._dispatch_in(update, context, session, services.settings)
                    if delivery is not None:
                        updates.finish(session=session, update_id=update.update_id)
        except Exception as error:
            if delivery is not None and health.database_unavailable(error):
                # Nothing is stored and nobody is told: the update comes again.
                delivery.unavailable = error
                services.outcomes.update("retry")
                logger.warning(
                    "Update %s not processed, the database is unavailable: %s",
                    update.update_id,
                    type(error).__name__,
                )
                return
            if isinstance(error, Forbidden):
                # The user blocked the bot or deleted their account: no one to tell.
                services.outcomes.update("unreachable")
                logger.info("Update %s: the chat does not accept messages", update.update_id)
                return
            services.outcomes.update("failed")
            services.outcomes.handler_error(type(error).__name__)
            # The step's transaction is rolled back: the user is still at the step before.
            logger.error(
                "Update %s failed: %s", update.update_id, type(error).__name__, exc_info=error
            )
            if not hasattr(context, "texts"):
                context.texts = texts(services.settings.locale, services.settings.tz)
            await self.gates.failed(update, context)
            return
        services.outcomes.update("handled")
        for action in context.post_commit:
            try:
                await action()
            except Exception as error:  # the step is stored; only its aftermath failed
                logger.warning(
                    "After update %s: %s", update.update_id, type(error).__name__, exc_info=error
                )

    async def _dispatch_in(
        self, update: Update, context: StemmeContext, session: Session, settings: FlowSettings
    ) -> None:
        user = update.effective_user
        chat = update.effective_chat
        assert user is not None and chat is not None  # check_update guarantees both
        conversation = self._resolve(update, context, session, settings)

        free_text = _free_text(update)
        if free_text is not None and self.gates.contains_cpr(free_text):
            logger.warning("Update %s refused: it contains a CPR number", update.update_id)
            await self.gates.cpr_refused(update, context)
            return

        # Whether ``conversation`` is the user's row as it stands in this session (strangers'
        # rows are not loaded; a step that makes them a member loads it when storing).
        loaded = context.member is not None
        if conversation is not None and not self._still_current(conversation, context):
            conversations.remove(session=session, conversation=conversation)
            conversation = None
        current = Loaded(conversation) if loaded else None
        flow = self.flows.get(conversation.flow) if conversation else None
        state = conversation.state if conversation else None
        context.flow_data = copy.deepcopy(conversation.data) if conversation and flow else {}
        context.flow_name = flow.name if flow is not None else None

        if update.edited_message is not None:
            # An edit is not a new answer. Only the user's current flow may take it into
            # account (a typo fixed in a draft); the CPR check above applied either way.
            if flow is not None and context.membership is not None:
                for handler in flow.edits:
                    check = handler.check_update(update)
                    if check is not None and check is not False:
                        await self._run(update, context, flow, handler, check, session, current)
                        return
            return

        # Commands that work from anywhere, for anyone (/start, /help, /cancel, /language).
        for handler in self.always:
            check = handler.check_update(update)
            if check is not None and check is not False:
                result = await handler.handle_update(update, _application(context), check, context)
                if result == END and conversation is not None:
                    conversations.remove(session=session, conversation=conversation)
                return

        in_team = context.membership is not None
        if flow is not None and state is not None and in_team:
            for handler in flow.states.get(state, ()):
                check = handler.check_update(update)
                if check is not None and check is not False:
                    if _is_command(update):
                        break  # a command starts its own flow below
                    await self._run(update, context, flow, handler, check, session, current)
                    return

        for candidate in self.flows.values():
            if candidate.admin_only and not context.is_admin:
                continue
            if not in_team and not (candidate.open_to_strangers or candidate.admin_only):
                continue
            for handler in candidate.entry_points:
                check = handler.check_update(update)
                if check is None or check is False:
                    continue
                if candidate.lead_only and not context.is_lead:
                    await self.gates.lead_only(update, context)
                    return
                if flow is not None and candidate is not flow:
                    context.flow_data = {}
                await self._run(update, context, candidate, handler, check, session, current)
                return

        if not in_team:
            await self.gates.stranger(update, context)
            return
        if flow is not None and state is not None and not _is_command(update):
            if update.callback_query is not None:
                await self.gates.stale_button(update, context)
            else:
                await self.gates.unexpected(update, context, flow.hints.get(state))
            return
        if update.callback_query is not None:
            await self.gates.stale_button(update, context)
            return
        if chat.type == ChatType.PRIVATE:
            await self.gates.not_understood(update, context)

    @staticmethod
    def _still_current(conversation: conversations.Position, context: StemmeContext) -> bool:
        """A conversation ends when it was left alone too long or the member changed team,
        so an old "write the alias" step never swallows a message days later."""
        if utcnow() - conversation.updated_at > CONVERSATION_TIMEOUT:
            return False
        team_id = conversation.data.get(TEAM_KEY)
        return team_id is None or (context.team is not None and context.team.id == team_id)

    def _resolve(
        self, update: Update, context: StemmeContext, session: Session, settings: FlowSettings
    ) -> conversations.Position | None:
        """Fills in who is writing: member, current team and role, language; returns an
        active member's conversation in this chat (locked on PostgreSQL)."""
        user = update.effective_user
        chat = update.effective_chat
        assert user is not None and chat is not None
        context.session = session
        context.is_admin = user.id in settings.admins
        member, context.membership, context.team, conversation = resolve(
            session=session, telegram_id=user.id, chat_id=chat.id
        )
        context.member = member if member is not None and member.active else None
        language = context.member.language if context.member else _telegram_language(user)
        context.texts = texts(language or settings.locale, settings.tz)
        context.flow_data = {}
        context.flow_name = None
        return conversation

    async def _run(
        self,
        update: Update,
        context: StemmeContext,
        flow: Flow,
        handler: BaseHandler[Update, StemmeContext, Any],
        check: object,
        session: Session,
        loaded: Loaded | None,
    ) -> None:
        """Runs one step and stores where the conversation goes next.

        ``loaded`` holds the user's conversation row as the router found it in this session
        (``None``: not looked up, e.g. for a stranger); it is not loaded a second time.
        """
        user = update.effective_user
        chat = update.effective_chat
        assert user is not None and chat is not None
        next_state = await handler.handle_update(update, _application(context), check, context)
        # A trace of every step: DEBUG, as writing a log line per update costs as much as a
        # database query (the errors, refusals and saved notes stay at INFO and above).
        logger.debug(
            "Update %s handled by %s -> %s", update.update_id, flow.name, next_state or "(stay)"
        )
        if context.member is None:
            return  # strangers never get a conversation row
        if loaded is None:
            loaded = Loaded(
                conversations.load(session=session, telegram_id=user.id, chat_id=chat.id)
            )
        current = loaded.conversation
        if next_state == END:
            conversations.remove(session=session, conversation=current)
            return
        if next_state is None:
            if current is None or current.flow != flow.name:
                return  # a one-shot entry point: nothing to continue
            next_state = current.state
        data = dict(context.flow_data)
        if context.team is not None:
            data[TEAM_KEY] = context.team.id
        conversations.write(
            session=session,
            conversation=current,
            telegram_id=user.id,
            chat_id=chat.id,
            flow=flow.name,
            state=str(next_state),
            data=data,
        )


def _application(context: StemmeContext) -> Application[Any, StemmeContext, Any, Any, Any, Any]:
    return cast(Application[Any, StemmeContext, Any, Any, Any, Any], context.application)


def _telegram_language(user: Any) -> str | None:
    code = (getattr(user, "language_code", None) or "").lower()
    if code.startswith("en"):
        return "en"
    if code.startswith("da"):
        return "da"
    return None


def _is_command(update: Update) -> bool:
    message = update.effective_message
    return bool(
        update.callback_query is None
        and message is not None
        and message.text
        and message.text.startswith("/")
    )


def _free_text(update: Update) -> str | None:
    """The text a user typed (message text or caption), if any."""
    if update.callback_query is not None:
        return None
    message = update.effective_message
    if message is None:
        return None
    return message.text or message.caption


# ------------------------------------------------------------------ answering


async def respond(
    update: Update,
    text: str,
    markup: Markup | None = None,
    *,
    edit: bool = True,
) -> Message | None:
    """Answers the user: edits the message a button was pressed on, or sends a new one.

    A button press is answered (its spinner stopped) while the message is edited or sent:
    the two Bot API round trips run at once.
    """
    query = update.callback_query
    chat = update.effective_chat
    if (
        query is not None
        and edit
        and not isinstance(markup, ReplyKeyboardMarkup | ReplyKeyboardRemove)
    ):
        try:
            edited = await answering(
                query,
                query.edit_message_text(
                    text, reply_markup=markup if isinstance(markup, InlineKeyboardMarkup) else None
                ),
            )
        except BadRequest as error:
            if "not modified" in str(error).lower():
                return None
            logger.info("Could not edit message, sending a new one: %s", error.message)
        else:
            return edited if isinstance(edited, Message) else None
    elif query is not None:
        if chat is None:
            await _answer_quietly(query)
            return None
        return await answering(query, chat.send_message(text, reply_markup=markup))
    if chat is None:
        return None
    return await chat.send_message(text, reply_markup=markup)


async def answering(query: CallbackQuery, call: Awaitable[T]) -> T:
    """Awaits ``call`` while the button press is answered, both at once; fails as the two
    would one after the other (the call's error first; a refused answer is only logged)."""
    answered, result = await asyncio.gather(_answer_quietly(query), call, return_exceptions=True)
    if isinstance(result, BaseException):
        raise result
    if isinstance(answered, BaseException):
        raise answered
    return result


async def _answer_quietly(query: CallbackQuery) -> None:
    try:
        await query.answer()
    except BadRequest as error:
        logger.info("Callback query could not be answered: %s", error.message)


async def alert(update: Update, text: str) -> None:
    """Shows a short alert on a button press (or replies, for a message)."""
    query = update.callback_query
    if query is not None:
        try:
            await query.answer(text, show_alert=True)
        except BadRequest as error:
            logger.info("Callback query could not be answered: %s", error.message)
        return
    chat = update.effective_chat
    if chat is not None:
        await chat.send_message(text)


def register(application: Application[Any, Any, Any, Any, Any, Any], services: Services) -> None:
    """Makes the services available to every step."""
    application.bot_data[SERVICES_KEY] = services


class States(StrEnum):
    """Base for a flow's states; values are "<flow>.<step>" and never change once used."""
