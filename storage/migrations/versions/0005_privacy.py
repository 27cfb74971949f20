"""Privacy: free text encrypted at rest, retention and erasure choices per site

Revision ID: 0005_privacy
Revises: 0004_meetings
Create Date: 2026-11-23 01:40:00

- site.retention_days (default 180) and site.erase_authored_notes (default false);
- note.redacted_at, set when the retention job removed a note's text or voice;
- conversation.data becomes TEXT holding encrypted JSON, and the existing note texts and
  conversation data are encrypted with the configured data key (storage/crypto.py);
  a database with such rows cannot be upgraded without the key.

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.db
from storage import crypto

# revision identifiers, used by Alembic.
revision: str = "0005_privacy"
down_revision: str | Sequence[str] | None = "0004_meetings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Privacy: encrypted free text, retention and erasure choices per site."""
    # Plain ADD COLUMN: SQLite's batch mode would copy these tables, which others reference.
    op.add_column(
        "site", sa.Column("retention_days", sa.Integer(), nullable=True, server_default="180")
    )
    op.add_column(
        "site",
        sa.Column("erase_authored_notes", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("note", sa.Column("redacted_at", storage.db.UTCDateTime(), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE conversation ALTER COLUMN data TYPE TEXT USING data::text")
    else:
        with op.batch_alter_table("conversation") as batch:
            batch.alter_column("data", type_=sa.Text(), existing_nullable=False)
    _encrypt_column(bind, "note", "text")
    _encrypt_column(bind, "conversation", "data")


def downgrade() -> None:
    """Decrypts the free text again and drops the privacy columns."""
    bind = op.get_bind()
    _decrypt_column(bind, "note", "text")
    _decrypt_column(bind, "conversation", "data")
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE conversation ALTER COLUMN data TYPE JSON USING data::json")
    else:
        with op.batch_alter_table("conversation") as batch:
            batch.alter_column("data", type_=sa.JSON(), existing_nullable=False)
    op.drop_column("note", "redacted_at")
    op.drop_column("site", "erase_authored_notes")
    op.drop_column("site", "retention_days")


def _encrypt_column(bind: sa.engine.Connection, table: str, column: str) -> None:
    rows = bind.execute(sa.text(f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL"))
    for row_id, value in rows.fetchall():
        if not crypto.is_encrypted(value):
            bind.execute(
                sa.text(f"UPDATE {table} SET {column} = :value WHERE id = :id"),
                {"value": crypto.encrypt(value), "id": row_id},
            )


def _decrypt_column(bind: sa.engine.Connection, table: str, column: str) -> None:
    rows = bind.execute(sa.text(f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL"))
    for row_id, value in rows.fetchall():
        bind.execute(
            sa.text(f"UPDATE {table} SET {column} = :value WHERE id = :id"),
            {"value": crypto.decrypt(value), "id": row_id},
        )
