"""Configuration from ``STEMME_*`` environment variables and an optional ``.env`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATA_DIR = Path("data")
DEFAULT_DATABASE_URL = f"sqlite:///{DEFAULT_DATA_DIR / 'stemme.db'}"
TELEGRAM_API_BASE_URL = "https://api.telegram.org/bot"
SUPPORTED_LOCALES = ("da", "en")


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
