"""Into the care record without retyping: "Kopiér til journal" turns a resident's kept
trial actions into a ready instruction for action (handlingsanvisning) that staff paste
into the record system (Nexus, FSIII) themselves. stemme never connects to the record.

```mermaid
flowchart LR
    K["dec:ev:ID:keep"] -->|"📋 Kopiér til journal"| D["rec:dec:ID"]
    C["/card"] -->|"📋 Kopiér til journal"| R["rec:res:ID"]
    D --> T["the ready text in a code block (copy button)"]
    R --> T
```

The text holds the resident's alias, the quality-compass markers the team noted most
(labels, never a note's words), and the agreed approach: what we want to achieve, what we
do, how we see whether it works, since when. No member's name, no note text, and, as
everywhere, no CPR number (the approach's fields were refused one when written; the text
is checked again before it is sent). It is always in Danish: the record is kept in Danish,
whatever language the member reads stemme in.
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, MessageEntity, Update
from telegram.ext import CallbackQueryHandler

from flows.core.engine import END, Flow, StemmeContext, alert, answering
from flows.core.guard import stale_button
from flows.core.i18n import N_, Texts, texts
from flows.moments.micromoment import marker_label
from storage import trials
from storage.cpr import contains_cpr
from storage.db import require_id
from storage.decisions import get_team_decision
from storage.models import Decision, Outcome, Resident
from storage.notes import marker_counts
from storage.residents import get_team_resident

logger = logging.getLogger(__name__)

BUTTON_LABEL = N_("📋 Copy for the care record")
# How many of the markers noted most the text names as what matters to the resident.
MARKERS_SHOWN = 3


def record_button(
    texts_: Texts, *, decision_id: int | None = None, resident_id: int | None = None
) -> InlineKeyboardButton:
    """The button under a kept trial action (one approach) or a resident card (all kept)."""
    data = f"rec:dec:{decision_id}" if decision_id is not None else f"rec:res:{resident_id}"
    return InlineKeyboardButton(texts_._(BUTTON_LABEL), callback_data=data)


def record_text(
    record: Texts, *, alias: str, markers: list[str], approaches: list[trials.Approach]
) -> str:
    """The instruction for action for the record, from the kept approaches (newest first)."""
    _ = record._
    lines = [_("Instruction for action: {alias}").format(alias=alias)]
    if markers:
        lines.append(
            _("What matters to {alias} (from the team's micro-moments): {markers}").format(
                alias=alias, markers=", ".join(marker_label(record, m) for m in markers)
            )
        )
    for number, approach in enumerate(approaches, start=1):
        trial = approach.trial
        lines.append("")
        if len(approaches) > 1:
            lines.append(f"{number}.")
        lines += [
            _("Agreed by the care team: {title}").format(title=approach.decision.title),
            _("What we want to achieve for {alias}: {aim}").format(alias=alias, aim=trial.aim),
            _("What we do: {action}").format(action=trial.action),
            _("How we see whether it works: {measure}").format(measure=trial.measure),
            _("In force since {day}, after a trial from {start} to {end}.").format(
                day=record.day(approach.decision.updated_at),
                start=record.day(trial.starts_on),
                end=record.day(trial.ends_on),
            ),
        ]
    return "\n".join(lines)


def _markers(context: StemmeContext, resident: Resident) -> list[str]:
    counts = marker_counts(
        session=context.session, team_id=resident.team_id, resident_id=require_id(resident)
    )
    return [marker for marker, _count in counts[:MARKERS_SHOWN]]


def _kept(context: StemmeContext, resident: Resident) -> list[trials.Approach]:
    found = trials.approaches_for_resident(
        session=context.session, team_id=resident.team_id, resident_id=require_id(resident)
    )
    return found.kept


async def _send(
    update: Update, context: StemmeContext, resident: Resident, approaches: list[trials.Approach]
) -> None:
    """Sends the explanation and the ready text as one message, the text in a code block
    (Telegram shows a copy button on it; a long press copies it everywhere)."""
    record = texts("da", context.texts.tz)
    body = record_text(
        record, alias=resident.alias, markers=_markers(context, resident), approaches=approaches
    )
    if contains_cpr(body):
        # stemme's own input checks refuse a CPR number before it is stored; a row from
        # elsewhere (an import, an old version) is refused here rather than passed on.
        logger.error(
            "Care record text for resident %s refused: it holds a CPR number", resident.id
        )
        await alert(
            update,
            context.texts._(
                "The agreed approach holds what looks like a CPR number, so stemme does not "
                "offer it for the care record. The lead can adjust the trial action in a new "
                "round."
            ),
        )
        return
    intro = context.texts._(
        "Ready for the care record: copy the text below and paste it into the record system "
        "yourself (for example Nexus). stemme sends nothing to the record."
    )
    text = f"{intro}\n\n{body}"
    offset = len(f"{intro}\n\n".encode("utf-16-le")) // 2
    length = len(body.encode("utf-16-le")) // 2
    entity = MessageEntity(MessageEntity.PRE, offset, length)
    chat = update.effective_chat
    assert chat is not None
    call = chat.send_message(text, entities=[entity])
    if update.callback_query is not None:
        await answering(update.callback_query, call)
    else:
        await call
    logger.info(
        "Care record text for resident %s (%s approaches) shown to member %s",
        resident.id,
        len(approaches),
        context.member.id if context.member else None,
    )


def _team_resident(context: StemmeContext, resident_id: int | None) -> Resident | None:
    _member, _membership, team = context.require_member()
    if resident_id is None:
        return None
    return get_team_resident(
        session=context.session,
        team_id=require_id(team),
        resident_id=resident_id,
        active_only=False,
    )


async def from_decision(update: Update, context: StemmeContext) -> str | None:
    """Sends the ready text for one kept trial action about a resident."""
    _member, _membership, team = context.require_member()
    assert context.matches
    decision_id = int(context.matches[0].group(1))
    decision: Decision | None = get_team_decision(
        session=context.session, team_id=require_id(team), decision_id=decision_id
    )
    resident = _team_resident(context, decision.resident_id if decision else None)
    approach = (
        next((a for a in _kept(context, resident) if a.decision.id == decision_id), None)
        if resident is not None
        else None
    )
    if (
        decision is None
        or resident is None
        or approach is None
        or (decision.outcome != Outcome.KEEP)
    ):
        logger.warning(
            "Refused care record button for decision %s from member %s (update %s)",
            decision_id,
            context.member.id if context.member else None,
            update.update_id,
        )
        await stale_button(update, context)
        return END
    await _send(update, context, resident, [approach])
    return END


async def from_resident(update: Update, context: StemmeContext) -> str | None:
    """Sends the ready text for all of a resident's kept trial actions."""
    assert context.matches
    resident_id = int(context.matches[0].group(1))
    resident = _team_resident(context, resident_id)
    kept = _kept(context, resident) if resident is not None else []
    if resident is None or not kept:
        logger.warning(
            "Refused care record button for resident %s from member %s (update %s)",
            resident_id,
            context.member.id if context.member else None,
            update.update_id,
        )
        await stale_button(update, context)
        return END
    await _send(update, context, resident, kept)
    return END


def build_flow() -> Flow:
    """The "Kopiér til journal" buttons."""
    return Flow(
        name="care_record",
        entry_points=[
            CallbackQueryHandler(from_decision, pattern=r"^rec:dec:(\d{1,9})$"),
            CallbackQueryHandler(from_resident, pattern=r"^rec:res:(\d{1,9})$"),
        ],
        states={},
    )
