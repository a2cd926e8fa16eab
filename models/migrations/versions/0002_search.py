"""search: Swedish full-text search over posts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 09:00:00

SQLite gets an FTS5 table of Snowball stems, filled from the posts already stored and kept
current by models.search; PostgreSQL gets a generated tsvector column, to_tsvector('swedish',
subject || ' ' || new_text), with a GIN index.
"""

from collections.abc import Sequence

from alembic import op

from models import search

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # No diacritics folding: "mål" and "mal" are different words in Swedish.
        op.execute(
            f"CREATE VIRTUAL TABLE {search.SEARCH_TABLE} USING fts5("
            "stems, tokenize = 'unicode61 remove_diacritics 0')"
        )
        # Deleted posts leave the index too, however they are deleted (GDPR Art. 17).
        op.execute(
            f"CREATE TRIGGER {search.SEARCH_TABLE}_forget AFTER DELETE ON post BEGIN "
            f"DELETE FROM {search.SEARCH_TABLE} WHERE rowid = old.id; END"
        )
        search.index_all(bind)
    elif bind.dialect.name == "postgresql":
        # Stored, so ranking reads the vector instead of parsing every matching post again.
        op.execute(
            f"ALTER TABLE post ADD COLUMN {search.POSTGRES_COLUMN} tsvector GENERATED ALWAYS AS "
            "(to_tsvector('swedish'::regconfig, subject || ' ' || new_text)) STORED"
        )
        op.execute(
            f"CREATE INDEX {search.POSTGRES_INDEX} ON post USING gin ({search.POSTGRES_COLUMN})"
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute(f"DROP TRIGGER IF EXISTS {search.SEARCH_TABLE}_forget")
        op.execute(f"DROP TABLE IF EXISTS {search.SEARCH_TABLE}")
    elif bind.dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {search.POSTGRES_INDEX}")
        op.execute(f"ALTER TABLE post DROP COLUMN IF EXISTS {search.POSTGRES_COLUMN}")
