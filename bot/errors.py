"""The global error handler: log first (no personal data), then tell the user."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.ext import CallbackContext

from bot import metrics
from flows.core.engine import SERVICES_KEY, Services
from flows.core.guard import apologise
from flows.core.i18n import Texts, texts

logger = logging.getLogger(__name__)


async def handle_error(update: object, context: CallbackContext[Any, Any, Any, Any]) -> None:
    """Logs the error type and update id, then apologises to the user in their language."""
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    # Only the type and the traceback: messages of database errors can hold parameters,
    # which the engine hides, and Telegram errors never hold the user's text.
    logger.error(
        "Error while handling update %s: %s", update_id, type(error).__name__, exc_info=error
    )
    metrics.HANDLER_ERRORS.inc(type=type(error).__name__)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    user_texts = getattr(context, "texts", None)
    if not isinstance(user_texts, Texts):
        services: Services = context.application.bot_data[SERVICES_KEY]
        user_texts = texts(services.settings.locale, services.settings.tz)
    await apologise(update, user_texts)
