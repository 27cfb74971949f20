"""Messages as the Bot API handles them: sending text, documents, photos and voice, editing and
deleting, callback answers, files and chat actions."""

from __future__ import annotations

import copy
import dataclasses
import html
import mimetypes
import re
from typing import Any

from sandbox.emulator.actors import EmuChat
from sandbox.emulator.base import EmulatorBase
from sandbox.emulator.records import ApiCall, EmuMessage, StoredFile, UploadedFile
from sandbox.emulator.wire import (
    _CALLBACK_TOO_OLD,
    _CHAT_ACTIONS,
    _NOT_MODIFIED,
    MAX_CAPTION_LENGTH,
    MAX_TEXT_LENGTH,
    JSONDict,
    _bad_request,
    _inline_markup_or_none,
    _int_param,
    _without_reply,
    parse_html,
    validate_reply_markup,
)


class MessageMethods(EmulatorBase):
    """sendMessage, editMessage*, deleteMessage(s), answerCallbackQuery, getFile and friends."""

    @staticmethod
    def _render(
        text: Any, parse_mode: Any, entities: Any, *, caption: bool
    ) -> tuple[str, list[JSONDict], str]:
        """Plain text, entities and HTML for a text or caption parameter."""
        source = "" if text is None else str(text)
        mode = str(parse_mode or "").lower()
        if mode == "html":
            plain, parsed = parse_html(source)
            html_text = source
        else:
            plain = source
            parsed = list(entities) if isinstance(entities, list) else []
            html_text = html.escape(source, quote=False)
        if caption:
            if len(plain) > MAX_CAPTION_LENGTH:
                raise _bad_request("message caption is too long")
        else:
            if not plain.strip():
                raise _bad_request("message text is empty")
            if len(plain) > MAX_TEXT_LENGTH:
                raise _bad_request("message is too long")
        return plain, parsed, html_text

    def _reply_target(self, chat: EmuChat, params: JSONDict) -> JSONDict | None:
        reply = params.get("reply_parameters")
        message_id: Any = None
        allow = bool(params.get("allow_sending_without_reply"))
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow = allow or bool(reply.get("allow_sending_without_reply"))
        elif params.get("reply_to_message_id") is not None:
            message_id = params["reply_to_message_id"]
        if message_id is None:
            return None
        replied = chat.messages.get(int(message_id))
        if replied is None:
            if allow:
                return None
            raise _bad_request("message to be replied not found")
        return _without_reply(replied.raw)

    def _store_bot_message(
        self,
        chat: EmuChat,
        call: ApiCall,
        params: JSONDict,
        content: JSONDict,
        *,
        html_text: str,
        markup: JSONDict | None,
        document: StoredFile | None = None,
        photo: StoredFile | None = None,
        voice: StoredFile | None = None,
    ) -> JSONDict:
        reply_to = self._reply_target(chat, params)
        raw: JSONDict = {
            "message_id": chat.take_message_id(),
            "from": self._bot_user(),
            "chat": chat.as_dict(),
            "date": int(self.clock()),
            **content,
        }
        if reply_to is not None:
            raw["reply_to_message"] = reply_to
        inline = _inline_markup_or_none(markup)
        if inline:
            raw["reply_markup"] = inline
        message = EmuMessage(
            raw=raw,
            from_bot=True,
            html=html_text,
            markup=markup,
            document=document,
            photo=photo,
            voice=voice,
        )
        chat.messages[message.message_id] = message
        call.message = message
        return copy.deepcopy(raw)

    def _caption_content(self, params: JSONDict) -> tuple[JSONDict, str]:
        if params.get("caption") is None:
            return {}, ""
        plain, entities, html_text = self._render(
            params.get("caption"),
            params.get("parse_mode"),
            params.get("caption_entities"),
            caption=True,
        )
        content: JSONDict = {"caption": plain}
        if entities:
            content["caption_entities"] = entities
        return content, html_text

    def _input_file(self, params: JSONDict, key: str, kind: str) -> StoredFile:
        value = params.get(key)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value[len("attach://") :])
        if isinstance(value, UploadedFile):
            return self._store_file(kind, value.data, value.filename, value.mime_type)
        if isinstance(value, str) and value in self.files:
            return self.files[value]
        if isinstance(value, str) and re.match(r"https?://", value):
            name = value.rsplit("/", 1)[-1] or None
            return self._store_file(kind, b"", name, mimetypes.guess_type(value)[0])
        if value is None or value == "":
            raise _bad_request(f"there is no {kind} in the request")
        raise _bad_request("wrong file identifier/HTTP URL specified")

    async def _send_message(self, params: JSONDict, call: ApiCall) -> Any:
        chat = self._chat_for(params, sending=True)
        plain, entities, html_text = self._render(
            params.get("text"), params.get("parse_mode"), params.get("entities"), caption=False
        )
        markup = validate_reply_markup(params.get("reply_markup"))
        content: JSONDict = {"text": plain}
        if entities:
            content["entities"] = entities
        return self._store_bot_message(
            chat, call, params, content, html_text=html_text, markup=markup
        )

    async def _send_document(self, params: JSONDict, call: ApiCall) -> Any:
        chat = self._chat_for(params, sending=True)
        markup = validate_reply_markup(params.get("reply_markup"))
        content, html_text = self._caption_content(params)
        stored = self._input_file(params, "document", "document")
        content["document"] = stored.as_file()
        return self._store_bot_message(
            chat, call, params, content, html_text=html_text, markup=markup, document=stored
        )

    async def _send_photo(self, params: JSONDict, call: ApiCall) -> Any:
        chat = self._chat_for(params, sending=True)
        markup = validate_reply_markup(params.get("reply_markup"))
        content, html_text = self._caption_content(params)
        stored = self._input_file(params, "photo", "photo")
        content["photo"] = [stored.as_photo_size()]
        return self._store_bot_message(
            chat, call, params, content, html_text=html_text, markup=markup, photo=stored
        )

    async def _send_voice(self, params: JSONDict, call: ApiCall) -> Any:
        chat = self._chat_for(params, sending=True)
        markup = validate_reply_markup(params.get("reply_markup"))
        content, html_text = self._caption_content(params)
        stored = self._input_file(params, "voice", "voice")
        voice = stored.as_file()
        voice.pop("file_name", None)
        voice["duration"] = _int_param(params, "duration", default=0)
        voice.setdefault("mime_type", "audio/ogg")
        content["voice"] = voice
        return self._store_bot_message(
            chat, call, params, content, html_text=html_text, markup=markup, voice=stored
        )

    def _apply_edit(
        self,
        chat: EmuChat,
        old: EmuMessage,
        call: ApiCall,
        changes: JSONDict,
        markup: JSONDict | None,
        html_text: str | None,
    ) -> JSONDict:
        raw = copy.deepcopy(old.raw)
        for key, value in changes.items():
            if value is None:
                raw.pop(key, None)
            else:
                raw[key] = value
        inline = _inline_markup_or_none(markup)
        if inline:
            raw["reply_markup"] = inline
        else:
            raw.pop("reply_markup", None)
        unchanged = dict(raw)
        unchanged.pop("edit_date", None)
        previous = dict(old.raw)
        previous.pop("edit_date", None)
        if unchanged == previous:
            raise _bad_request(_NOT_MODIFIED)
        raw["edit_date"] = int(self.clock())
        message = dataclasses.replace(
            old,
            raw=raw,
            markup=inline,
            html=old.html if html_text is None else html_text,
        )
        chat.messages[message.message_id] = message
        call.message = message
        return copy.deepcopy(raw)

    def _editable(self, params: JSONDict) -> tuple[EmuChat, EmuMessage]:
        chat = self._chat_for(params, sending=True)
        message = self._message_for(chat, params, "message to edit not found")
        if not message.from_bot:
            raise _bad_request("message can't be edited")
        return chat, message

    async def _edit_message_text(self, params: JSONDict, call: ApiCall) -> Any:
        chat, message = self._editable(params)
        plain, entities, html_text = self._render(
            params.get("text"), params.get("parse_mode"), params.get("entities"), caption=False
        )
        if "text" not in message.raw:
            raise _bad_request("there is no text in the message to edit")
        markup = validate_reply_markup(params.get("reply_markup"), inline_only=True)
        changes = {"text": plain, "entities": entities or None}
        return self._apply_edit(chat, message, call, changes, markup, html_text)

    async def _edit_message_caption(self, params: JSONDict, call: ApiCall) -> Any:
        chat, message = self._editable(params)
        if "text" in message.raw:
            raise _bad_request("there is no caption in the message to edit")
        markup = validate_reply_markup(params.get("reply_markup"), inline_only=True)
        content, html_text = self._caption_content(params)
        changes = {
            "caption": content.get("caption"),
            "caption_entities": content.get("caption_entities"),
        }
        return self._apply_edit(chat, message, call, changes, markup, html_text)

    async def _edit_message_reply_markup(self, params: JSONDict, call: ApiCall) -> Any:
        chat, message = self._editable(params)
        markup = validate_reply_markup(params.get("reply_markup"), inline_only=True)
        return self._apply_edit(chat, message, call, {}, markup, None)

    def _delete(self, chat: EmuChat, message_id: int) -> None:
        message = chat.messages.get(message_id)
        if message is None:
            raise _bad_request("message to delete not found")
        if not message.from_bot and chat.type != "private" and not chat.bot_is_admin:
            raise _bad_request("message can't be deleted")
        del chat.messages[message_id]
        chat.deleted.append(message_id)

    async def _delete_message(self, params: JSONDict, call: ApiCall) -> Any:
        chat = self._chat_for(params, sending=False)
        self._delete(chat, _int_param(params, "message_id"))
        return True

    async def _delete_messages(self, params: JSONDict, call: ApiCall) -> Any:
        chat = self._chat_for(params, sending=False)
        ids = params.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise _bad_request("message_ids must be a non-empty list of at most 100 ids")
        deleted = 0
        for message_id in ids:
            if int(message_id) in chat.messages:
                self._delete(chat, int(message_id))
                deleted += 1
        if not deleted:
            raise _bad_request("message to delete not found")
        return True

    async def _answer_callback_query(self, params: JSONDict, call: ApiCall) -> Any:
        query_id = str(params.get("callback_query_id") or "")
        if self._callback_queries.get(query_id, True):
            raise _bad_request(_CALLBACK_TOO_OLD)
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise _bad_request("MESSAGE_TOO_LONG")
        self._callback_queries[query_id] = True
        self.callback_answers[query_id] = dict(params)
        return True

    async def _get_file(self, params: JSONDict, call: ApiCall) -> Any:
        stored = self.files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise _bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    async def _send_chat_action(self, params: JSONDict, call: ApiCall) -> Any:
        self._chat_for(params, sending=True)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        return True
