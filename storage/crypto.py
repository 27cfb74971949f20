"""Encryption at rest for free text: note text, conversation drafts and the other fields
people type (docs/privacy.md lists them).

The key is ``STEMME_DATA_KEY``: one or more Fernet keys, comma-separated. The first
encrypts; every key decrypts, so a key is rotated by putting a new one in front, running
``stemme privacy rotate-key`` (which re-encrypts every encrypted value with the new key)
and then removing the old one. Without ``STEMME_DATA_KEY`` an embedded installation on
SQLite gets a key file next to its database (``stemme.key``, readable by its owner only),
created on first start; PostgreSQL installations must set the key, because several
processes on several hosts must share it.

Values are stored as ``enc1:<Fernet token>``: a database file or a backup shows no text.
Fernet is AES-128-CBC with an HMAC-SHA256, so a changed value is refused, not misread.
The key ring is process-wide state, configured once at start (``configure``), like
logging: the column types below have no other way to reach it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.types import TypeDecorator

PREFIX = "enc1:"
KEY_FILE_NAME = "stemme.key"


class KeyProblem(RuntimeError):
    """The data key is missing, malformed, or does not open a stored value; ``code`` says
    which ("missing", "malformed", "wrong") for a caller that explains it to people."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


_ring: MultiFernet | None = None
_fingerprints: tuple[str, ...] = ()


def new_key() -> str:
    """A fresh random key in the form ``STEMME_DATA_KEY`` takes."""
    return Fernet.generate_key().decode("ascii")


def parse_keys(value: str) -> list[str]:
    """Splits ``STEMME_DATA_KEY`` into its keys; raises ``KeyProblem`` on a malformed one."""
    keys = [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
    if not keys:
        raise KeyProblem("STEMME_DATA_KEY is empty", "missing")
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode("ascii"))
        except (ValueError, UnicodeEncodeError) as error:
            raise KeyProblem(
                f"key {position} in STEMME_DATA_KEY is not a Fernet key (32 bytes, url-safe "
                "base64); make one with: stemme privacy new-key",
                "malformed",
            ) from error
    return keys


def configure(keys: Sequence[str]) -> None:
    """Sets the process's key ring: the first key encrypts, all of them decrypt."""
    global _ring, _fingerprints
    checked = parse_keys(",".join(keys))
    _ring = MultiFernet([Fernet(key.encode("ascii")) for key in checked])
    _fingerprints = tuple(fingerprint(key) for key in checked)


def configured_fingerprints() -> tuple[str, ...]:
    """Short, non-secret names of the configured keys (for logs and the CLI)."""
    return _fingerprints


def fingerprint(key: str) -> str:
    """A non-secret name for a key: the first 8 hex digits of its SHA-256."""
    return hashlib.sha256(key.encode("ascii")).hexdigest()[:8]


def key_file_for(database_url: str) -> Path | None:
    """Where an embedded installation keeps its key: next to its SQLite file."""
    parsed = make_url(database_url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:":
        return None
    return Path(database).resolve().parent / KEY_FILE_NAME


def resolve_keys(data_key: str | None, database_url: str) -> list[str]:
    """The keys to use: ``STEMME_DATA_KEY`` when set, else the SQLite key file (created
    with owner-only permissions the first time). PostgreSQL without a key is refused."""
    if data_key:
        return parse_keys(data_key)
    path = key_file_for(database_url)
    if path is None:
        raise KeyProblem(
            "STEMME_DATA_KEY is not set. With PostgreSQL every process needs the same key: "
            "make one with 'stemme privacy new-key' and set STEMME_DATA_KEY to it.",
            "missing",
        )
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(new_key() + "\n")
    return parse_keys(path.read_text(encoding="ascii"))


def _require_ring() -> MultiFernet:
    if _ring is None:
        raise KeyProblem("no data key configured: call storage.crypto.configure first", "missing")
    return _ring


def encrypt(text: str) -> str:
    """Encrypts one value with the current key."""
    token = _require_ring().encrypt(text.encode("utf-8")).decode("ascii")
    return PREFIX + token


def decrypt(stored: str) -> str:
    """Decrypts one stored value; a value without the prefix is returned as it is (text
    stored before encryption was turned on, until ``rotate-key`` encrypts it)."""
    if not stored.startswith(PREFIX):
        return stored
    try:
        return _require_ring().decrypt(stored[len(PREFIX) :].encode("ascii")).decode("utf-8")
    except InvalidToken as error:
        raise KeyProblem(
            "a stored value does not open with the configured STEMME_DATA_KEY "
            "(was a key removed before 'stemme privacy rotate-key' ran?)",
            "wrong",
        ) from error


def reencrypt(stored: str) -> str:
    """Returns the value encrypted with the current key (plain text gets encrypted)."""
    if not stored.startswith(PREFIX):
        return encrypt(stored)
    token = stored[len(PREFIX) :].encode("ascii")
    try:
        return PREFIX + _require_ring().rotate(token).decode("ascii")
    except InvalidToken as error:
        raise KeyProblem(
            "a stored value does not open with the configured keys", "wrong"
        ) from error


def is_encrypted(stored: str | None) -> bool:
    """True when a raw column value is encrypted (or empty)."""
    return stored is None or stored.startswith(PREFIX)


class EncryptedText(TypeDecorator[str]):
    """Free text, encrypted with the data key before it reaches the database."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else decrypt(value)


class EncryptedJSON(TypeDecorator[dict[str, Any]]):
    """A JSON object (a conversation's collected data), encrypted as a whole."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: dict[str, Any] | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return encrypt(json.dumps(value, ensure_ascii=False, separators=(",", ":")))

    def process_result_value(self, value: str | None, dialect: Dialect) -> dict[str, Any] | None:
        if value is None:
            return None
        loaded = json.loads(decrypt(value))
        return loaded if isinstance(loaded, dict) else {}


def raw_values(values: Iterable[str | None]) -> list[str]:
    """The stored values that are not encrypted yet (for checks and tests)."""
    return [value for value in values if value is not None and not is_encrypted(value)]
