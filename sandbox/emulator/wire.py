"""The Bot API's wire format as the emulator checks it: limits, parameter decoding, Telegram's
HTML parse mode, reply markup validation and error payloads."""

from __future__ import annotations

import contextlib
import copy
import json
import re
import struct
from html.parser import HTMLParser
from typing import Any

JSONDict = dict[str, Any]


DEFAULT_TOKEN = "123456:TEST-TOKEN"


DEFAULT_USERNAME = "stemme_test_bot"


MAX_TEXT_LENGTH = 4096


MAX_CAPTION_LENGTH = 1024


MAX_CALLBACK_DATA_BYTES = 64


MAX_INLINE_BUTTONS = 100


_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


_CALLBACK_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"


# Parameters whose form value is a JSON-encoded string (see telegram.request.RequestParameter).
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "commands",
        "scope",
        "media",
        "allowed_updates",
        "message_ids",
        "menu_button",
        "link_preview_options",
        "reply_parameters",
        "results",
        "permissions",
        "reaction",
        "options",
    }
)


_INT_PARAMS = frozenset(
    {
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "user_id",
        "reply_to_message_id",
        "message_thread_id",
        "duration",
        "from_chat_id",
        "cache_time",
        "max_connections",
        "width",
        "height",
        "until_date",
        "retry_after",
    }
)


_FLOAT_PARAMS = frozenset({"latitude", "longitude", "horizontal_accuracy", "timeout"})


_BOOL_PARAMS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "show_alert",
        "drop_pending_updates",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "has_spoiler",
        "disable_content_type_detection",
        "revoke_messages",
        "show_caption_above_media",
        "allow_paid_broadcast",
    }
)


_INT_RE = re.compile(r"-?\d+")


_URL_RE = re.compile(r"(https?|tg)://\S+", re.IGNORECASE)


_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")


_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")


_INLINE_ACTIONS = (
    "callback_data",
    "url",
    "login_url",
    "web_app",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


_SCOPE_TYPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)


_SEND_METHODS = frozenset({"sendMessage", "sendDocument", "sendPhoto", "sendVoice"})


_EDIT_METHODS = frozenset({"editMessageText", "editMessageReplyMarkup", "editMessageCaption"})


_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


_FAKE_OGG = b"OggS\x00\x02" + bytes(58)


_FAKE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(32) + b"\xff\xd9"


class ApiError(Exception):
    """A Bot API error response: ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(
        self, error_code: int, description: str, parameters: JSONDict | None = None
    ) -> None:
        super().__init__(f"{error_code} {description}")
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSONDict:
        """The JSON body Telegram sends for this error."""
        body: JSONDict = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(reason: str, parameters: JSONDict | None = None) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}", parameters)


def utf16_len(text: str) -> int:
    """The length of ``text`` in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _without_reply(raw: JSONDict) -> JSONDict:
    replied = copy.deepcopy(raw)
    replied.pop("reply_to_message", None)
    return replied


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


class _TelegramHtml(HTMLParser):
    """Turns Telegram-flavoured HTML into plain text plus entities (UTF-16 offsets)."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self._source = source
        self._chunks: list[str] = []
        self._offset = 0
        self._stack: list[tuple[str, int, dict[str, str | None]]] = []
        self._entities: list[JSONDict] = []

    def _byte_offset(self) -> int:
        line, column = self.getpos()
        lines = self._source.split("\n")
        prefix = "".join(part + "\n" for part in lines[: line - 1]) + lines[line - 1][:column]
        return len(prefix.encode("utf-8"))

    def _fail(self, reason: str) -> ApiError:
        return _bad_request(f"can't parse entities: {reason}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Opens an entity."""
        attributes = dict(attrs)
        if tag not in _HTML_TAGS or (tag == "span" and attributes.get("class") != "tg-spoiler"):
            raise self._fail(f'Unsupported start tag "{tag}" at byte offset {self._byte_offset()}')
        self._stack.append((tag, self._offset, attributes))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """A self-closing tag: an empty entity, dropped (unsupported tags fail)."""
        self.handle_starttag(tag, attrs)
        self._stack.pop()

    def handle_endtag(self, tag: str) -> None:
        """Closes an entity."""
        if not self._stack:
            raise self._fail(f'Unexpected end tag "{tag}" at byte offset {self._byte_offset()}')
        open_tag, start, attributes = self._stack.pop()
        if open_tag != tag:
            raise self._fail(
                f"Unmatched end tag at byte offset {self._byte_offset()}, "
                f'expected "</{open_tag}>", found "</{tag}>"'
            )
        css_class = attributes.get("class") or ""
        if (
            tag == "code"
            and self._stack
            and self._stack[-1][0] == "pre"
            and css_class.startswith("language-")
        ):
            self._stack[-1][2]["language"] = css_class[len("language-") :]
            return
        length = self._offset - start
        if length == 0:
            return
        entity: JSONDict = {"type": _HTML_TAGS[tag], "offset": start, "length": length}
        if tag == "a":
            entity["url"] = attributes.get("href") or ""
        elif tag == "pre" and attributes.get("language"):
            entity["language"] = attributes["language"]
        elif tag == "blockquote" and "expandable" in attributes:
            entity["type"] = "expandable_blockquote"
        elif tag == "tg-emoji":
            entity["custom_emoji_id"] = attributes.get("emoji-id") or ""
        self._entities.append(entity)

    def handle_data(self, data: str) -> None:
        """Plain text between tags."""
        self._chunks.append(data)
        self._offset += utf16_len(data)

    def parse(self) -> tuple[str, list[JSONDict]]:
        """Parses the source; raises :class:`ApiError` like Telegram for bad markup."""
        self.feed(self._source)
        self.close()
        if self._stack:
            raise self._fail(
                f'Can\'t find end tag corresponding to start tag "{self._stack[-1][0]}"'
            )
        entities = sorted(self._entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self._chunks), entities


def parse_html(source: str) -> tuple[str, list[JSONDict]]:
    """Plain text and entities for a ``parse_mode=HTML`` text, as Telegram computes them."""
    return _TelegramHtml(source).parse()


def validate_reply_markup(markup: Any, *, inline_only: bool = False) -> JSONDict | None:
    """Checks a reply_markup like Telegram; returns it (``None`` for no markup)."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request("can't parse inline keyboard button: field must be an Array")
        count = 0
        for row in rows:
            for button in row:
                _validate_inline_button(button)
                count += 1
        if count > MAX_INLINE_BUTTONS:
            raise _bad_request("reply markup is too long")
        return {"inline_keyboard": rows}
    if inline_only:
        raise _bad_request("inline keyboard expected")
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request("can't parse keyboard button: field must be an Array")
        for row in rows:
            for button in row:
                text = button.get("text") if isinstance(button, dict) else button
                if not isinstance(text, str) or not text:
                    raise _bad_request("can't parse keyboard button: Text must be non-empty")
        return dict(markup)
    if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
        return dict(markup)
    raise _bad_request("can't parse reply keyboard markup JSON object")


def _validate_inline_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise _bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    text = button.get("text")
    if not isinstance(text, str) or not text:
        raise _bad_request("can't parse inline keyboard button: Text must be non-empty")
    actions = [key for key in _INLINE_ACTIONS if key in button]
    if not actions:
        raise _bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if len(actions) > 1:
        raise _bad_request(
            "can't parse inline keyboard button: exactly one of the optional fields must be used"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
            raise _bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not _URL_RE.fullmatch(url):
            raise _bad_request("BUTTON_URL_INVALID")


def _inline_markup_or_none(markup: JSONDict | None) -> JSONDict | None:
    """The markup Telegram echoes in a Message: only non-empty inline keyboards."""
    if markup and any(markup.get("inline_keyboard") or []):
        return markup
    return None


def _decode_params(raw: dict[str, Any]) -> JSONDict:
    params: JSONDict = {}
    for key, value in raw.items():
        if isinstance(value, str):
            if key in _JSON_PARAMS:
                try:
                    value = json.loads(value)
                except ValueError:
                    what = "reply keyboard markup" if key == "reply_markup" else key
                    raise _bad_request(f"can't parse {what} JSON object") from None
            elif key in _INT_PARAMS and _INT_RE.fullmatch(value.strip()):
                value = int(value)
            elif key in _FLOAT_PARAMS:
                with contextlib.suppress(ValueError):
                    value = float(value)
            elif key in _BOOL_PARAMS and value.lower() in ("true", "false", "1", "0"):
                value = value.lower() in ("true", "1")
        params[key] = value
    return params


def _int_param(params: JSONDict, key: str, *, default: int | None = None) -> int:
    value = params.get(key)
    if value is None or value == "":
        if default is not None:
            return default
        raise _bad_request(f"{key} is empty")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _bad_request(f'field "{key}" must be of type Integer')
    try:
        return int(value)
    except ValueError:
        raise _bad_request(f'field "{key}" must be of type Integer') from None


def _png_size(data: bytes) -> tuple[int | None, int | None]:
    if data.startswith(_PNG_SIGNATURE) and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    return None, None


def _commands_key(scope: JSONDict | None, language_code: str | None) -> tuple[str, str]:
    canonical = json.dumps(scope or {"type": "default"}, sort_keys=True, separators=(",", ":"))
    return canonical, language_code or ""
