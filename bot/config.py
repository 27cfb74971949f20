"""Configuration from ``STEMME_*`` environment variables and an optional ``.env`` file."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from storage import crypto

DEFAULT_DATA_DIR = Path("data")
DEFAULT_DATABASE_URL = f"sqlite:///{DEFAULT_DATA_DIR / 'stemme.db'}"
TELEGRAM_API_BASE_URL = "https://api.telegram.org/bot"
SUPPORTED_LOCALES = ("da", "en")
DEFAULT_LISTEN = "127.0.0.1:8080"
# What Telegram accepts as a webhook's secret_token.
WEBHOOK_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")

if TYPE_CHECKING:
    from flows.core.i18n import Texts


class Settings(BaseSettings):
    """Everything an installation can set. Read once at start; passed explicitly after."""

    model_config = SettingsConfigDict(
        env_prefix="STEMME_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    bot_token: SecretStr | None = Field(
        default=None, description="The token BotFather gave you for the bot."
    )
    bot_username: str | None = Field(
        default=None,
        description="The bot's username, for invite links (asked from Telegram if unset).",
    )
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: the SQLite file by default, or postgresql://…",
    )
    api_base_url: str = Field(
        default=TELEGRAM_API_BASE_URL,
        description="Bot API base URL as python-telegram-bot's base_url takes it.",
    )
    timezone: str = Field(default="Europe/Copenhagen", description="Time zone shown to users.")
    locale: str = Field(default="da", description="Language for new users: da or en.")
    admins: Annotated[list[int], NoDecode] = Field(
        default_factory=list, description="Telegram user ids of administrators, comma-separated."
    )
    log_level: str = Field(default="INFO", description="Python logging level.")
    # Webhook mode (stemme run --webhook); checked by ``run_problems`` when the bot starts.
    webhook_url: str | None = Field(
        default=None, description="The public https:// address Telegram posts updates to."
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="Secret Telegram sends with every update (A-Z a-z 0-9 _ -)."
    )
    listen: str | None = Field(
        default=None,
        description="host:port of the webhook, /healthz and /metrics (polling: only if set).",
    )
    webhook_workers: int = Field(
        default=1, ge=1, le=64, description="Worker processes uvicorn starts in webhook mode."
    )
    data_key: SecretStr | None = Field(
        default=None,
        description=(
            "Fernet key(s) encrypting free text at rest, comma-separated, newest first "
            "(stemme privacy new-key). Unset on SQLite: a key file next to the database."
        ),
    )
    privacy_contact: str | None = Field(
        default=None,
        description=(
            "Whom staff contact about their data, shown by /privacy, e.g. "
            '"DPO, Aarhus Kommune, dpo@aarhus.dk". Unset: ask the team lead or the DPO.'
        ),
    )

    dashboard_url: str | None = Field(
        default=None,
        description=(
            "The public https:// address of the dashboard (the Mini App under /app/). "
            "Unset: the webhook's origin + /app/, or no dashboard button when polling."
        ),
    )

    @model_validator(mode="after")
    def _dashboard_beside_the_webhook(self) -> Settings:
        if not self.dashboard_url and self.webhook_url:
            parts = urlsplit(self.webhook_url.strip())
            if parts.scheme and parts.netloc:
                self.dashboard_url = f"{parts.scheme}://{parts.netloc}/app/"
        return self

    @field_validator("admins", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.replace(";", ",").split(",")]
            return [int(part) for part in parts if part]
        if isinstance(value, int):
            return [value]
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @field_validator("locale")
    @classmethod
    def _supported_locale(cls, value: str) -> str:
        if value not in SUPPORTED_LOCALES:
            raise ValueError(f"locale must be one of {', '.join(SUPPORTED_LOCALES)}")
        return value

    @field_validator("api_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("api_base_url must start with http:// or https://")
        return value

    def data_keys(self) -> list[str]:
        """The data keys: ``STEMME_DATA_KEY``, or the SQLite installation's key file
        (created on first use). Raises ``storage.crypto.KeyProblem`` when there is none."""
        secret = self.data_key.get_secret_value() if self.data_key else None
        return crypto.resolve_keys(secret, self.database_url)

    @property
    def tz(self) -> ZoneInfo:
        """The configured time zone."""
        return ZoneInfo(self.timezone)

    @property
    def token(self) -> str | None:
        """The bot token as plain text, for the one place that needs it."""
        return self.bot_token.get_secret_value() if self.bot_token else None

    @property
    def api_base_file_url(self) -> str:
        """The file download base URL that belongs to ``api_base_url``."""
        base = self.api_base_url.rstrip("/")
        if base.endswith("/bot"):
            return base[: -len("/bot")] + "/file/bot"
        return base + "/file/bot"


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8080`` for IPv6) as a host and a port; ValueError if malformed."""
    host, separator, port = value.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not separator or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError("not host:port")
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine (localhost or a loopback address)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_problems(settings: Settings, *, webhook: bool, t: Texts) -> list[str]:
    """What is wrong with the configuration for ``stemme run`` (``--webhook`` or not), in
    the user's language; empty when it can start. Never quotes the token or the secret."""
    problems: list[str] = []
    if settings.listen is not None:
        try:
            parse_listen(settings.listen)
        except ValueError:
            problems.append(
                t._(
                    "STEMME_LISTEN must be host:port, e.g. 127.0.0.1:8080 or 0.0.0.0:8443, "
                    "with a port from 1 to 65535."
                )
            )
    if not webhook:
        return problems
    url = (settings.webhook_url or "").strip()
    if not url:
        problems.append(
            t._(
                "stemme run --webhook needs STEMME_WEBHOOK_URL: the public https:// address "
                "Telegram sends the updates to."
            )
        )
    else:
        parts = urlsplit(url)
        loopback = parts.scheme == "http" and is_loopback(parts.hostname or "")
        if not parts.hostname or not (parts.scheme == "https" or loopback):
            problems.append(
                t._(
                    "STEMME_WEBHOOK_URL must be an https:// address with a host name, e.g. "
                    "https://bot.example.dk/telegram (http:// only on 127.0.0.1 or localhost, "
                    "for tests)."
                )
            )
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    if not secret:
        problems.append(
            t._(
                "stemme run --webhook needs STEMME_WEBHOOK_SECRET, so that only Telegram can "
                "send updates: 1 to 256 of the characters A-Z, a-z, 0-9, _ and -."
            )
        )
    elif not WEBHOOK_SECRET_RE.fullmatch(secret):
        problems.append(
            t._(
                "STEMME_WEBHOOK_SECRET may only hold 1 to 256 of the characters A-Z, a-z, "
                "0-9, _ and -: Telegram refuses anything else."
            )
        )
    return problems


def _main(argv: list[str]) -> int:
    """``python -m bot.config has-token``: exit 0 when a bot token is configured (the
    environment or .env), 1 when not; the Makefile's ``run`` picks the bot or the sandbox
    by it. Never prints the token."""
    if argv != ["has-token"]:
        return 2
    try:
        return 0 if Settings().token else 1
    except ValueError:  # an invalid configuration: let `stemme run` explain it
        return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(_main(sys.argv[1:]))
