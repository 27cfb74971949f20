"""The pulse's timed prompts: the invitation and the reminder to members who have not
answered, the lead's notice that it closed, the opening of a planned pulse of a series,
and the result a lead shared. Each checks at send time that the member is still active
and the pulse still in the state the prompt was for."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from sqlmodel import Session
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup

from flows.core.engine import Renderer
from flows.core.i18n import Texts, texts
from flows.safety.chart import format_score
from flows.safety.result import (
    CHART_FILENAME,
    QUESTIONS,
    chart_png,
    result_text,
    shorten_caption,
    trend,
)
from storage import directory
from storage import pulse as pulses
from storage.db import require_id, utcnow
from storage.models import Member, Prompt, Pulse, Role

logger = logging.getLogger(__name__)

DEFAULT_ZONE = "Europe/Copenhagen"


def _prompt_zone(prompt: Prompt) -> ZoneInfo:
    return ZoneInfo(str(prompt.payload.get("tz") or DEFAULT_ZONE))


def _member_texts(member: Member, tz: ZoneInfo) -> Texts:
    return texts(member.language, tz)


def _active_member(session: Session, prompt: Prompt) -> Member | None:
    """The prompt's member while still active in the prompt's team, else None."""
    if prompt.member_id is None:
        return None
    member = directory.get_member(session=session, member_id=prompt.member_id)
    membership = directory.get_membership(
        session=session, member_id=prompt.member_id, team_id=prompt.team_id
    )
    if member is None or not member.active or membership is None or not membership.active:
        return None
    return member


def _prompt_pulse(session: Session, prompt: Prompt) -> Pulse | None:
    pulse = pulses.get_pulse(session=session, pulse_id=int(prompt.payload.get("pulse_id", 0)))
    return pulse if pulse is not None and pulse.team_id == prompt.team_id else None


async def _send_invitation(bot: Bot, prompt: Prompt, session: Session, *, reminder: bool) -> None:
    member = _active_member(session, prompt)
    pulse = _prompt_pulse(session, prompt)
    if member is None or pulse is None or not pulses.is_open(pulse, utcnow()):
        return
    if pulses.has_answered(
        session=session, pulse_id=require_id(pulse), member_id=require_id(member)
    ):
        return
    team = directory.get_team(session=session, team_id=pulse.team_id)
    texts_ = _member_texts(member, _prompt_zone(prompt))
    _ = texts_._
    threshold = pulses.threshold_for_team(session=session, team_id=pulse.team_id)
    if reminder:
        text = _(
            "A reminder: the team's pulse is open until {when}. Seven statements, one press "
            "each, under a minute. Anonymous: your name is never stored with your answers."
        ).format(when=texts_.when(pulses.ends_at(pulse)))
    else:
        text = _(
            "How safe is it to speak up in {team}? Seven short statements, one press each, "
            "under a minute.\n\nYour answers are anonymous: they are stored without your "
            "name, only as the team's numbers, and the result is shown only if at least "
            "{threshold} answer. Open until {when}."
        ).format(
            team=team.name if team else "",
            threshold=threshold,
            when=texts_.when(pulses.ends_at(pulse)),
        )
    await bot.send_message(
        member.telegram_id,
        text,
        reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton(_("Answer now"), callback_data=f"pul:go:{pulse.id}")]]
        ),
    )


async def render_invite(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Invites a member to answer the open pulse."""
    await _send_invitation(bot, prompt, session, reminder=False)


async def render_reminder(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Reminds a member who has not answered yet."""
    await _send_invitation(bot, prompt, session, reminder=True)


async def render_closed(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Tells a lead the pulse closed, with the count and a button to the result."""
    member = _active_member(session, prompt)
    pulse = _prompt_pulse(session, prompt)
    if member is None or pulse is None or not pulses.is_closed(pulse, utcnow()):
        return
    membership = directory.get_membership(
        session=session, member_id=require_id(member), team_id=pulse.team_id
    )
    if membership is None or membership.role != Role.LEAD:
        return
    texts_ = _member_texts(member, _prompt_zone(prompt))
    shown = pulses.result(session=session, pulse=pulse, now=utcnow())
    team = directory.get_team(session=session, team_id=pulse.team_id)
    assert team is not None
    if not shown.visible:
        await bot.send_message(member.telegram_id, result_text(texts_, team, shown))
        return
    await bot.send_message(
        member.telegram_id,
        texts_.ngettext(
            "The pulse of {day} is closed: {count} member answered. The result is ready.",
            "The pulse of {day} is closed: {count} members answered. The result is ready.",
            shown.answers,
        ).format(day=texts_.day(pulse.opens_at), count=shown.answers),
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        texts_._("See the result"), callback_data=f"pul:res:{pulse.id}"
                    )
                ]
            ]
        ),
    )


async def render_open(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Opens a planned pulse of a repeating series, plans the next one, and tells the
    lead who scheduled it."""
    pulse = _prompt_pulse(session, prompt)
    if pulse is None or pulse.opened:
        return
    tz = _prompt_zone(prompt)
    invited = pulses.open_pulse(session=session, pulse=pulse, now=utcnow(), tz=tz)
    member = _active_member(session, prompt)
    if member is not None:
        pulses.plan_next(session=session, pulse=pulse, lead_member_id=require_id(member), tz=tz)
    logger.info("Planned pulse %s opened in team %s", pulse.id, pulse.team_id)
    if member is None:
        return
    texts_ = _member_texts(member, tz)
    await bot.send_message(
        member.telegram_id,
        texts_.ngettext(
            "The team's pulse is open until {when}: {count} member got the invitation.",
            "The team's pulse is open until {when}: {count} members got the invitation.",
            invited,
        ).format(when=texts_.when(pulse.closes_at), count=invited),
    )


async def render_shared(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Sends a member the result the lead shared: the chart with a short caption."""
    member = _active_member(session, prompt)
    pulse = _prompt_pulse(session, prompt)
    if member is None or pulse is None:
        return
    shown = pulses.result(session=session, pulse=pulse, now=utcnow())
    team = directory.get_team(session=session, team_id=pulse.team_id)
    if not shown.visible or shown.score is None or team is None:
        return
    texts_ = _member_texts(member, _prompt_zone(prompt))
    _ = texts_._
    lines = [
        _("Your team lead shares the result of the pulse of {day}.").format(
            day=texts_.day(pulse.opens_at)
        ),
        texts_.ngettext(
            "{count} member answered.", "{count} members answered.", shown.answers
        ).format(count=shown.answers),
        _("Team score: {score} of 7").format(score=format_score(texts_, shown.score))
        + trend(texts_, shown.score, shown.previous_score),
        "",
        _("To talk about in the team:"),
        *("• " + _(QUESTIONS[item]) for item in shown.weakest()),
    ]
    png = await chart_png(texts_, team, shown)
    await bot.send_photo(
        member.telegram_id,
        png,
        caption=shorten_caption("\n".join(lines)),
        filename=CHART_FILENAME,
    )


def renderers() -> dict[str, Renderer]:
    """The timed prompt kinds of the pulse."""
    return {
        pulses.KIND_INVITE: render_invite,
        pulses.KIND_REMINDER: render_reminder,
        pulses.KIND_CLOSED: render_closed,
        pulses.KIND_OPEN: render_open,
        pulses.KIND_SHARED: render_shared,
    }
