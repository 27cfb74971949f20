"""A bot process for the benchmark: ``python -m bench.botproc stemme|echo``.

``stemme`` is what ``python -m bot run`` runs (``build_application`` from the ``STEMME_*``
environment, long polling with ``bot.polling``'s loop), without the migration step;
``echo`` is a bare python-telegram-bot Application with one MessageHandler that replies
with the text and one CallbackQueryHandler that answers, against the same Bot API URL.

For measurement only, the built application's ``process_update`` is wrapped: after each
update the process writes ``<update_id> <nanoseconds>`` as one line on stdout. The
benchmark reads these lines to learn when the bot is done with an update and how long
``process_update`` took.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot import logs, polling
from bot.app import build_application
from bot.config import Settings

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
KINDS = ("stemme", "echo")


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Replies with the text the user sent."""
    message = update.effective_message
    if message is not None and message.text:
        await message.reply_text(message.text)


async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answers a button press."""
    if update.callback_query is not None:
        await update.callback_query.answer()


def build_echo(settings: Settings) -> AnyApplication:
    """The bare echo bot, built the way ``build_application`` builds stemme."""
    application = (
        ApplicationBuilder()
        .token(settings.token or "")
        .base_url(settings.api_base_url)
        .base_file_url(settings.api_base_file_url)
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, echo))
    application.add_handler(CallbackQueryHandler(answer))
    return application


def instrument(application: AnyApplication, fd: int) -> None:
    """Wraps ``process_update`` with a timer that reports every update on ``fd``."""
    original = application.process_update

    async def timed(update: object) -> None:
        start = time.perf_counter_ns()
        try:
            await original(update)
        finally:
            elapsed = time.perf_counter_ns() - start
            update_id = update.update_id if isinstance(update, Update) else -1
            os.write(fd, f"{update_id} {elapsed}\n".encode())

    # An instance attribute shadows the method; Application looks it up on the instance.
    application.process_update = timed  # type: ignore[method-assign]  # measurement only


def main(argv: list[str]) -> int:
    """Builds the bot named by ``argv[0]`` and polls until SIGTERM/SIGINT.

    With ``BENCH_PROFILE=<directory>`` in the environment the process runs under cProfile
    and writes ``<directory>/<kind>-<pid>.prof`` when it stops (for finding where the CPU
    time goes; the figures of such a run are not comparable)."""
    profile_dir = os.environ.get("BENCH_PROFILE")
    if profile_dir and len(argv) == 1:
        import cProfile

        profiler = cProfile.Profile()
        try:
            return profiler.runcall(_main, argv)
        finally:
            profiler.dump_stats(os.path.join(profile_dir, f"{argv[0]}-{os.getpid()}.prof"))
    return _main(argv)


def _main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in KINDS:
        sys.stderr.write(f"usage: python -m bench.botproc {'|'.join(KINDS)}\n")
        return 2
    settings = Settings()
    logs.configure(settings.log_level, [settings.token or ""])
    application: AnyApplication = (
        build_application(settings) if argv[0] == "stemme" else build_echo(settings)
    )
    instrument(application, sys.stdout.fileno())
    if argv[0] == "stemme":
        # As ``stemme run``: bot.polling's loop, which confirms an update once processed.
        asyncio.run(polling.serve(application, listen=None))
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
