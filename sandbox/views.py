"""What the web chat shows of an emulated chat: each message as a view model (its text as safe
HTML built from the message's entities, its buttons, files and edit state), and the keyboard
the bot left under the chat.

The text is never trusted as HTML: it is escaped piece by piece and only the tags of the
entities Telegram defines are put around the pieces (see :func:`entities_html`).
"""

from __future__ import annotations

import hashlib
import html
import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date

from sandbox.emulator import EmuChat, EmuMessage

JSONDict = dict[str, Any]

COPENHAGEN = ZoneInfo("Europe/Copenhagen")

# Entity type -> (opening tag, closing tag); links and code blocks are handled apart.
_SIMPLE_TAGS: dict[str, tuple[str, str]] = {
    "bold": ("<b>", "</b>"),
    "italic": ("<i>", "</i>"),
    "underline": ("<u>", "</u>"),
    "strikethrough": ("<s>", "</s>"),
    "spoiler": ('<span class="spoiler">', "</span>"),
    "code": ("<code>", "</code>"),
    "blockquote": ("<blockquote>", "</blockquote>"),
    "expandable_blockquote": ("<blockquote>", "</blockquote>"),
}
_SAFE_SCHEMES = ("http://", "https://", "tg://", "mailto:")


def _safe_href(url: str) -> str | None:
    return html.escape(url, quote=True) if url.lower().startswith(_SAFE_SCHEMES) else None


def _tags(entity: JSONDict, units: bytes) -> tuple[str, str]:
    kind = entity.get("type")
    if kind in _SIMPLE_TAGS:
        return _SIMPLE_TAGS[str(kind)]
    if kind == "pre":
        language = entity.get("language")
        if language:
            attribute = html.escape(f"language-{language}", quote=True)
            return f'<pre><code class="{attribute}">', "</code></pre>"
        return "<pre>", "</pre>"
    if kind in ("text_link", "url"):
        if kind == "url":
            start, length = int(entity["offset"]), int(entity["length"])
            url = units[2 * start : 2 * (start + length)].decode("utf-16-le", "replace")
        else:
            url = str(entity.get("url", ""))
        href = _safe_href(url)
        if href is None:
            return "", ""
        return f'<a href="{href}" target="_blank" rel="noopener noreferrer">', "</a>"
    return "", ""


def entities_html(text: str, entities: list[JSONDict]) -> str:
    """The text as HTML: every piece escaped, Telegram's entities (UTF-16 offsets) as tags.

    Entities that overlap without nesting are cut at their parent's end, as a browser would.
    """
    units = text.encode("utf-16-le")
    size = len(units) // 2
    spans: list[tuple[int, int, str, str]] = []
    for entity in entities:
        try:
            start, length = int(entity["offset"]), int(entity["length"])
        except (KeyError, TypeError, ValueError):
            continue
        if length <= 0 or start < 0 or start >= size:
            continue
        opening, closing = _tags(entity, units)
        if opening:
            spans.append((start, min(start + length, size), opening, closing))
    spans.sort(key=lambda span: (span[0], -span[1]))

    def piece(start: int, end: int) -> str:
        return html.escape(units[2 * start : 2 * end].decode("utf-16-le", "replace"), quote=False)

    out: list[str] = []
    stack: list[tuple[int, str]] = []  # (end, closing tag)
    boundaries = sorted({0, size, *(s for s, *_ in spans), *(e for _, e, *_ in spans)})
    position = 0
    index = 0
    for boundary in boundaries:
        out.append(piece(position, boundary))
        position = boundary
        while stack and stack[-1][0] <= boundary:
            out.append(stack.pop()[1])
        while index < len(spans) and spans[index][0] == boundary:
            start, end, opening, closing = spans[index]
            index += 1
            if stack:
                end = min(end, stack[-1][0])
            if end > start:
                out.append(opening)
                stack.append((end, closing))
    while stack:
        out.append(stack.pop()[1])
    return "".join(out)


def file_url(file_id: str) -> str:
    """Where the page fetches a stored file."""
    return f"/api/files/{file_id}"


def _sender(message: EmuMessage, bot_name: str) -> str:
    if message.from_bot:
        return bot_name
    sender = message.raw.get("from") or {}
    return " ".join(str(sender.get(k)) for k in ("first_name", "last_name") if sender.get(k))


def _keyboard(message: EmuMessage) -> list[list[JSONDict]]:
    rows = []
    for row in message.inline_keyboard:
        buttons = []
        for button in row:
            shown: JSONDict = {"text": str(button.get("text", ""))}
            if "callback_data" in button:
                shown["data"] = str(button["callback_data"])
            elif "web_app" in button:
                # Opens the dashboard (sandbox.miniapp signs the persona's initData).
                shown["web_app"] = True
            elif "url" in button and _safe_href(str(button["url"])):
                shown["url"] = str(button["url"])
            buttons.append(shown)
        rows.append(buttons)
    return rows


def _revision(message: EmuMessage) -> str:
    """Changes whenever the message does (two edits within a second share an edit_date)."""
    content = json.dumps(message.raw, sort_keys=True, default=str).encode()
    return f"{message.message_id}:{hashlib.sha1(content, usedforsecurity=False).hexdigest()}"


def message_view(message: EmuMessage, *, bot_name: str, language: str = "da") -> JSONDict:
    """One message as the page shows it."""
    raw = message.raw
    sent = datetime.fromtimestamp(message.date, UTC).astimezone(COPENHAGEN)
    view: JSONDict = {
        "id": message.message_id,
        "key": _revision(message),
        "from_bot": message.from_bot,
        "sender": _sender(message, bot_name),
        "html": entities_html(message.text, message.entities),
        "time": sent.strftime("%H:%M"),
        "date": sent.date().isoformat(),
        "day": format_date(sent.date(), "d MMMM", locale=language),
        "edited": message.edited,
        "keyboard": _keyboard(message),
    }
    document = raw.get("document")
    if isinstance(document, dict) and document.get("file_id"):
        view["document"] = {
            "name": str(document.get("file_name") or "file"),
            "url": file_url(str(document["file_id"])),
            "size": int(document.get("file_size") or 0),
        }
    photo = raw.get("photo")
    if isinstance(photo, list) and photo:
        view["photo"] = {"url": file_url(str(photo[-1]["file_id"]))}
    voice = raw.get("voice")
    if isinstance(voice, dict) and voice.get("file_id"):
        view["voice"] = {
            "url": file_url(str(voice["file_id"])),
            "duration": int(voice.get("duration") or 0),
        }
    if not view["html"] and "sticker" in raw:
        view["html"] = html.escape(str(raw["sticker"].get("emoji", "")), quote=False)
    return view


def reply_keyboard(chat: EmuChat) -> list[list[str]] | None:
    """The reply keyboard the bot's newest messages leave under the chat, if any."""
    for message in reversed(chat.bot_messages()):
        if message.removes_keyboard:
            return None
        rows = message.reply_keyboard
        if rows is not None:
            return rows
    return None


def chat_view(chat: EmuChat, *, bot_name: str, version: int, language: str = "da") -> JSONDict:
    """The whole chat: its messages, oldest first, and the keyboard under it."""
    return {
        "chat_id": chat.id,
        "version": version,
        "messages": [
            message_view(m, bot_name=bot_name, language=language) for m in chat.chat_messages()
        ],
        "reply_keyboard": reply_keyboard(chat),
    }
