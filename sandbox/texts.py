"""The web chat's own words (its chrome, not the bot's): marked for extraction here and served
translated to the page by ``GET /api/texts?lang=da``."""

from __future__ import annotations

from flows.core.i18n import LANGUAGES, N_, catalog

PAGE_TEXTS: dict[str, str] = {
    "banner": N_("Sandbox: a made-up care home with made-up people. Nothing here is real."),
    "persona": N_("You are"),
    "role_lead": N_("Team lead"),
    "role_staff": N_("Staff"),
    "role_stranger": N_("Not in the team"),
    "role_group": N_("The team's group"),
    "placeholder": N_("Message"),
    "send": N_("Send the message"),
    "record": N_("Record a voice message"),
    "recording": N_("Recording… press again to send"),
    "sample_sent": N_("No microphone: a sample voice message was sent."),
    "edited": N_("edited"),
    "download": N_("Download"),
    "bot_status": N_("bot in the sandbox"),
    "fast_forward": N_("Fast-forward"),
    "sandbox_time": N_("Sandbox time"),
    "step_hour": N_("+1 hour"),
    "step_day": N_("+1 day"),
    "step_week": N_("+1 week"),
    "step_next": N_("To the next reminder"),
    "step_meeting": N_("To the next meeting"),
    "nothing_ahead": N_("Nothing is planned ahead: the clock stays."),
    "language": N_("Language"),
    "empty_chat": N_("No messages yet. Write /start to begin."),
    "error": N_("Something went wrong. Try again."),
    "group_sender": N_("You write in the group as {name}."),
    "dashboard": N_("Dashboard"),
    "close": N_("Close"),
}


def page_texts(language: str) -> dict[str, str]:
    """The page's texts translated into ``language`` (Danish for unknown ones)."""
    chosen = language if language in LANGUAGES else "da"
    translations = catalog(chosen)
    return {key: translations.gettext(msgid) for key, msgid in PAGE_TEXTS.items()}
