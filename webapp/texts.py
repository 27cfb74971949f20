"""The dashboard page's own words (its tabs, buttons and labels; the data's words come
translated with the data), marked for extraction here and sent to the page with
``GET /app/api/me`` in the viewer's language."""

from __future__ import annotations

from flows.core.i18n import N_, Texts

PAGE_TEXTS: dict[str, str] = {
    "tab_residents": N_("Residents"),
    "tab_board": N_("Cases"),
    "tab_trials": N_("Trial actions"),
    "tab_moments": N_("Moments"),
    "tab_pulse": N_("Pulse"),
    "tab_meetings": N_("Meetings"),
    "tab_overview": N_("All teams"),
    "loading": N_("Loading…"),
    "back": N_("Back"),
    "moments_count": N_("micro-moments"),
    "no_residents": N_("The team has no residents yet."),
    "no_cases": N_("No cases"),
    "no_trials": N_("No trial actions running or ended lately."),
    "no_moments": N_("No micro-moments match."),
    "no_pulse": N_("No pulse has closed yet."),
    "no_meetings": N_("No meetings in the last two weeks or the next five."),
    "nothing_noted": N_("Nothing noted yet."),
    "add_perspective": N_("Add your perspective"),
    "your_perspective": N_("Your perspective"),
    "perspective_placeholder": N_("What do you see when you help the resident?"),
    "save": N_("Save"),
    "saved": N_("Saved ✔"),
    "cancel": N_("Cancel"),
    "aim": N_("What we want to achieve"),
    "measure": N_("How we will know"),
    "action": N_("What we do"),
    "period": N_("Period"),
    "days_left": N_("days left"),
    "checkins": N_("Check-ins"),
    "answered_by": N_("members answered"),
    "all_residents": N_("All residents"),
    "all_markers": N_("All markers"),
    "show_more": N_("Show more"),
    "score": N_("Team score (1-7)"),
    "answers": N_("answers"),
    "statements": N_("The statements (mean, 7 = safest)"),
    "minutes": N_("Minutes"),
    "minutes_hint": N_("Tick the points the team discussed and write what was decided."),
    "decision_placeholder": N_("What did the team decide? (optional)"),
    "save_minutes": N_("Save the minutes"),
    "minutes_saved": N_("Minutes saved ✔ The decisions go to the team."),
    "decided": N_("Decided"),
    "nothing_on_agenda": N_("Nothing on the agenda yet."),
    "team": N_("Team"),
    "moments_30": N_("Moments"),
    "residents_noted": N_("Residents noted"),
    "cases_opened": N_("Cases opened"),
    "cases_closed": N_("Cases closed"),
    "open_cases": N_("Open cases"),
    "trials_running": N_("Trials running"),
    "kept_adjusted_dropped": N_("Kept / adjusted / dropped"),
    "meetings_held": N_("Meetings with minutes"),
    "pulse": N_("Pulse"),
    "overview_note": N_("Counts only: never a note, a resident or a name."),
    "switch_team": N_("Team"),
    "error": N_("Something went wrong. Try again."),
}


def page_texts(texts: Texts) -> dict[str, str]:
    """The page's texts in the viewer's language."""
    return {key: texts._(msgid) for key, msgid in PAGE_TEXTS.items()}
