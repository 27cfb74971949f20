"""The bot's profile and chats' metadata: getMe, commands, name and descriptions, menu button,
getChat and leaveChat."""

from __future__ import annotations

import copy
import re
from typing import Any

from sandbox.emulator.base import EmulatorBase
from sandbox.emulator.records import ApiCall, Handler
from sandbox.emulator.wire import _COMMAND_RE, _SCOPE_TYPES, JSONDict, _bad_request, _commands_key


class ProfileMethods(EmulatorBase):
    """getMe, *MyCommands, *MyName/Description, *ChatMenuButton, getChat, leaveChat."""

    async def _true(self, params: JSONDict, call: ApiCall) -> Any:
        return True

    async def _get_me(self, params: JSONDict, call: ApiCall) -> Any:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _set_my_commands(self, params: JSONDict, call: ApiCall) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad_request("can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict):
                raise _bad_request("can't parse BotCommand: BotCommand must be an Object")
            name = command.get("command")
            description = command.get("description")
            if not isinstance(name, str) or not _COMMAND_RE.fullmatch(name):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(params)
        if commands:
            self.commands[key] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        else:
            self.commands.pop(key, None)
        return True

    def _commands_key(self, params: JSONDict) -> tuple[str, str]:
        scope = params.get("scope")
        if scope is not None and (
            not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES
        ):
            raise _bad_request("can't parse BotCommandScope JSON object")
        language = params.get("language_code")
        if language and not re.fullmatch(r"[a-z]{2}", str(language)):
            raise _bad_request("invalid language code specified")
        return _commands_key(scope, language)

    async def _delete_my_commands(self, params: JSONDict, call: ApiCall) -> Any:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _get_my_commands(self, params: JSONDict, call: ApiCall) -> Any:
        return copy.deepcopy(self.commands.get(self._commands_key(params), []))

    async def _get_chat(self, params: JSONDict, call: ApiCall) -> Any:
        chat = self._chat_for(params, sending=False)
        return {
            **chat.as_dict(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def _leave_chat(self, params: JSONDict, call: ApiCall) -> Any:
        chat = self._chat_for(params, sending=False)
        if chat.type == "private":
            raise _bad_request("chat member status can't be changed in private chats")
        chat.bot_is_member = False
        return True

    def _profile_setter(self, field_name: str, limit: int) -> Handler:
        async def setter(params: JSONDict, call: ApiCall) -> Any:
            value = str(params.get(field_name) or "")
            if len(value) > limit:
                raise _bad_request(f"{field_name.upper()}_INVALID")
            key = (field_name, str(params.get("language_code") or ""))
            if value:
                self.profile[key] = value
            else:
                self.profile.pop(key, None)
            return True

        return setter

    def _profile_getter(self, field_name: str) -> Handler:
        async def getter(params: JSONDict, call: ApiCall) -> Any:
            language = str(params.get("language_code") or "")
            value = self.profile.get((field_name, language), self.profile.get((field_name, "")))
            if value is None and field_name == "name":
                value = self.first_name
            return {field_name: value or ""}

        return getter

    async def _set_chat_menu_button(self, params: JSONDict, call: ApiCall) -> Any:
        button = params.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in (
            "default",
            "commands",
            "web_app",
        ):
            raise _bad_request("can't parse menu button JSON object")
        if params.get("chat_id") is None:
            self.default_menu_button = (
                {"type": "commands"} if button["type"] == "default" else button
            )
        else:
            self._chat_for(params, sending=False).menu_button = (
                None if button["type"] == "default" else button
            )
        return True

    async def _get_chat_menu_button(self, params: JSONDict, call: ApiCall) -> Any:
        if params.get("chat_id") is None:
            return self.default_menu_button
        chat = self._chat_for(params, sending=False)
        return chat.menu_button or self.default_menu_button
