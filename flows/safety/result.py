"""The pulse's result as people read it: Edmondson's seven statements, the lead's result
text (the count only below the site's threshold), the chart, and the questions to talk
about for the weakest statements. Used by the /pulse flow and by its timed prompts."""

from __future__ import annotations

import asyncio

from flows.core.i18n import N_, Texts
from flows.safety.chart import ITEM_LABELS, format_score, render_chart
from storage import pulse as pulses
from storage.models import Team

CAPTION_LIMIT = 1024
CHART_FILENAME = "pulse.png"

STATEMENTS = {
    1: N_("If you make a mistake on this team, it is often held against you."),
    2: N_("Members of this team are able to bring up problems and tough issues."),
    3: N_("People on this team sometimes reject others for being different."),
    4: N_("It is safe to take a risk on this team."),
    5: N_("It is difficult to ask other members of this team for help."),
    6: N_("No one on this team would deliberately act in a way that undermines my efforts."),
    7: N_(
        "Working with members of this team, my unique skills and talents are valued and utilized."
    ),
}

# Reflection questions for the weakest statements, one per statement.
QUESTIONS = {
    1: N_("What happens in our team when someone makes a mistake, and what would we like?"),
    2: N_("Which problem have we not talked about yet, and what would make it easier?"),
    3: N_("How do we make room for colleagues who work, think or speak differently?"),
    4: N_("What small new thing would we like to try, and how do we back each other up?"),
    5: N_("When did you last ask a colleague for help, and what made it easy or hard?"),
    6: N_("What helps us trust that everyone supports each other's work, across shifts too?"),
    7: N_("Which skills in our team do we use too little, and how could we use them?"),
}


def trend(texts_: Texts, now: float, before: float | None) -> str:
    if before is None:
        return ""
    difference = now - before
    arrow = "↑" if difference >= 0.05 else "↓" if difference <= -0.05 else "→"
    return " " + texts_._("({arrow} from {before})").format(
        arrow=arrow, before=format_score(texts_, before)
    )


def result_text(texts_: Texts, team: Team, shown: pulses.PulseResult) -> str:
    """The lead's result: the count only below the threshold; else score, items,
    previous pulse and two or three questions for the weakest statements."""
    _ = texts_._
    day = texts_.day(shown.pulse.opens_at)
    answered = texts_.ngettext(
        "{count} member answered.", "{count} members answered.", shown.answers
    ).format(count=shown.answers)
    if not shown.visible or shown.score is None:
        return "\n\n".join(
            [
                _("The pulse of {day} in {team} is closed.").format(day=day, team=team.name),
                answered,
                _(
                    "Results are shown only when at least {threshold} have answered, so that "
                    "nobody's answers can be seen. Next time, remind the team that the pulse "
                    "is anonymous."
                ).format(threshold=shown.threshold),
            ]
        )
    lines = [
        _("Psychological safety in {team}: the pulse of {day}").format(team=team.name, day=day),
        answered,
        "",
        _("Team score: {score} of 7").format(score=format_score(texts_, shown.score))
        + trend(texts_, shown.score, shown.previous_score),
        "",
        _("Statement by statement (7 is the safest; 1, 3 and 5 are turned around):"),
    ]
    for item in shown.items:
        lines.append(
            _("{number}. {label}: {mean} (spread {spread})").format(
                number=item.item,
                label=_(ITEM_LABELS[item.item]),
                mean=format_score(texts_, item.mean),
                spread=format_score(texts_, item.spread),
            )
            + trend(texts_, item.mean, item.previous)
        )
    lines += ["", _("To talk about in the team:")]
    lines += ["• " + _(QUESTIONS[item]) for item in shown.weakest()]
    return "\n".join(lines)


async def chart_png(texts_: Texts, team: Team, shown: pulses.PulseResult) -> bytes:
    """The chart of a visible result, drawn off the event loop."""
    return await asyncio.to_thread(
        render_chart,
        texts=texts_,
        team=team.name,
        history=shown.history,
        items=shown.items,
        weakest=shown.weakest(),
    )


def shorten_caption(text: str) -> str:
    """Keeps a caption within Telegram's 1,024 characters (line breaks kept)."""
    return text if len(text) <= CAPTION_LIMIT else text[: CAPTION_LIMIT - 1] + "…"
