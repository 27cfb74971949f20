"""Logging set-up: no token, no note text, no request URLs that carry the token."""

from __future__ import annotations

import logging

REDACTED = "[REDACTED]"


class RedactSecrets(logging.Filter):
    """Replaces the bot token wherever it would appear in a log record."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [secret for secret in secrets if secret]

    def redact(self, text: str) -> str:
        """Returns the text with every secret replaced."""
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        if any(secret in message for secret in self.secrets):
            record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            # Tracebacks are formatted after filters run; format and redact them here.
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
        return True


def configure(level: str, secrets: list[str]) -> None:
    """Configures root logging once, with the token filter on every handler."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    redact = RedactSecrets(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
    # httpx logs every request URL, and Bot API URLs contain the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # At DEBUG, python-telegram-bot logs whole updates and request parameters, which hold
    # what users typed: keep its loggers at INFO whatever the configured level.
    for name in ("telegram", "telegram.ext", "apscheduler"):
        logger = logging.getLogger(name)
        logger.setLevel(max(logging.INFO, logging.getLogger().level))
