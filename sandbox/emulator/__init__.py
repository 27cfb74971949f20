"""An in-process emulator of the Telegram Bot API: the sandbox runs stemme against it, and the
end-to-end tests and benchmarks drive it.

:class:`BotApiEmulator` is a small aiohttp server on ``127.0.0.1`` (random free port) that
answers ``/bot<token>/<method>`` and ``/file/bot<token>/<file_path>`` the way the real Bot API
does, closely enough that an unmodified python-telegram-bot ``Application`` built with
``.base_url(emu.base_url).base_file_url(emu.base_file_url)`` works against it, in polling or
in webhook mode, in this process or in a subprocess.

The test side drives it in-process::

    async with BotApiEmulator() as emu:
        anna = emu.user(1001, "Anna", language_code="da")
        reaction = await anna.send("/start")
        assert "Velkommen" in reaction.text
        reaction = await anna.press("Dansk")
        assert reaction.answer is not None

Every user action injects one update, waits until the bot fetched it (``getUpdates``) or the
webhook accepted it, and then collects the API calls the bot made until it went quiet for
``settle`` seconds: a :class:`Reaction`. ``getUpdates`` polls are not part of a reaction; file
downloads are recorded in ``emu.calls`` with the method name ``"file"``. Methods the emulator
does not implement answer 404 "Not Found: method not found" (and are recorded), like Telegram
does for unknown methods.

Only what the bot needs is emulated; ``parse_mode`` ``HTML`` is parsed into entities like
Telegram does (unsupported or unbalanced tags are a 400), other parse modes keep the text as is.

The parts, by what they emulate: ``wire`` (limits, parameters, HTML, reply markup, errors),
``records`` (files, calls, messages, reactions), ``actors`` (users and chats), ``base`` (state
and the test-side API), ``messages``, ``updates`` (polling and webhooks), ``profile`` (getMe,
commands, menu button, getChat) and ``server`` (the HTTP app that joins them).
"""

from sandbox.emulator.actors import EmuChat, EmuUser
from sandbox.emulator.records import ApiCall, EmuMessage, Reaction, StoredFile, UploadedFile
from sandbox.emulator.server import BotApiEmulator
from sandbox.emulator.wire import ApiError, parse_html, utf16_len, validate_reply_markup

__all__ = [
    "ApiCall",
    "ApiError",
    "BotApiEmulator",
    "EmuChat",
    "EmuMessage",
    "EmuUser",
    "Reaction",
    "StoredFile",
    "UploadedFile",
    "parse_html",
    "utf16_len",
    "validate_reply_markup",
]
