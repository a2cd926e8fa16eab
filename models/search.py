"""Full-text search over posts with Swedish stemming: FTS5 on SQLite, tsvector on PostgreSQL.

On SQLite the virtual table `post_search` holds each post's subject and new text as Snowball
stems (rowid = post id); ORM events keep it current as posts arrive (the mail gateway, which
inserts posts with Core, calls `index_new_post` itself), and a trigger forgets deleted posts.
On PostgreSQL the generated column `post.search_vector`, with a GIN index, is
`to_tsvector('swedish', subject || ' ' || new_text)` and current by itself (stored, so ranking
does not parse every matching post again). Neither is part of the models: migration 0002 makes
them. Both drop the same Swedish stop words, so a query means the same thing on either database.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import snowballstemmer
from sqlalchemy import (
    Connection,
    Engine,
    Float,
    Integer,
    Select,
    bindparam,
    column,
    event,
    func,
    inspect,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.orm import Mapper, Session
from sqlalchemy.sql.elements import ColumnElement

from models.post import Post, Tag, thread_tag
from models.topic import Topic

SEARCH_TABLE = "post_search"
POSTGRES_COLUMN = "search_vector"
POSTGRES_INDEX = "ix_post_search_swedish"
# The FTS5 table and the shadow tables SQLite keeps for it; Alembic must leave them alone.
_SHADOWS = ("data", "idx", "content", "docsize", "config")
SQLITE_OBJECTS = frozenset([SEARCH_TABLE, *(f"{SEARCH_TABLE}_{part}" for part in _SHADOWS)])
MAX_QUERY_TERMS = 16
_INDEX_BATCH = 1000

_WORD = re.compile(r"\w+")

# Snowball's Swedish stop list, the one PostgreSQL's `swedish` configuration uses.
_STOP_LIST = """
    och det att i en jag hon som han på den med var sig för så till är men ett om hade de av
    icke mig du henne då sin nu har inte hans honom skulle hennes där min man ej vid kunde något
    från ut när efter upp vi dem vara vad över än dig kan sina här ha mot alla under någon eller
    allt mycket sedan ju denna själv detta åt utan varit hur ingen mitt ni bli blev oss din dessa
    några deras blir mina samma vilken er sådan vår blivit dess inom mellan sådant varför varje
    vilka ditt vem vilket sitta sådana vart dina vars vårt våra ert era vilkas
"""
STOP_WORDS = frozenset(_STOP_LIST.split())

# Snowball stemmers keep state while they work: one per thread.
_local = threading.local()


def _stemmer() -> Any:
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = snowballstemmer.stemmer("swedish")
    return stemmer


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Swedish stem of one word: `Måltiderna` → `måltid`."""
    return str(_stemmer().stemWord(word.casefold()))


def words(text: str) -> Iterator[re.Match[str]]:
    """Every word in `text`, with where it stands (for highlighting)."""
    return _WORD.finditer(text)


def stems(text: str) -> list[str]:
    """The stems that stand for `text` in the index: stop words left out."""
    found = []
    for match in words(text):
        word = match.group().casefold()
        if word not in STOP_WORDS:
            found.append(stem(word))
    return found


def query_stems(query: str) -> list[str]:
    """What a query looks for, without repeats, at most MAX_QUERY_TERMS of them."""
    return list(dict.fromkeys(stems(query)))[:MAX_QUERY_TERMS]


def document(subject: str, new_text: str) -> str:
    """The text a post is found by: its subject and what it newly says, not what it quotes."""
    return f"{subject} {new_text}"


@dataclass(frozen=True)
class SearchHit:
    post_id: int
    thread_id: int
    rank: float


@dataclass(frozen=True)
class SearchResult:
    hits: tuple[SearchHit, ...]
    total: int  # threads that matched, for paging


def search(
    session: Session,
    query: str,
    *,
    topic: str | None = None,
    tag: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> SearchResult:
    """The best-matching post of each matching thread, best first.

    `topic` is a topic slug and `tag` a tag name; both narrow the search when given.
    """
    terms = query_stems(query)
    if not terms:
        return SearchResult(hits=(), total=0)
    if session.get_bind().dialect.name == "postgresql":
        matches = _postgres_matches(query)
    else:
        matches = _sqlite_matches(terms)
    if topic is not None:
        matches = matches.join(Topic, Topic.id == Post.topic_id).where(Topic.slug == topic)
    if tag is not None:
        tagged = (
            select(thread_tag.c.thread_id)
            .join(Tag, Tag.id == thread_tag.c.tag_id)
            .where(Tag.name == tag)
        )
        matches = matches.where(Post.thread_id.in_(tagged))
    found = matches.subquery("found")
    ranked = select(
        found.c.post_id,
        found.c.thread_id,
        found.c.rank,
        func.row_number()
        .over(partition_by=found.c.thread_id, order_by=(found.c.rank.desc(), found.c.post_id))
        .label("place"),
    ).subquery("ranked")
    best = (
        select(
            ranked.c.post_id,
            ranked.c.thread_id,
            ranked.c.rank,
            func.count().over().label("total"),
        )
        .where(ranked.c.place == 1)
        .order_by(ranked.c.rank.desc(), ranked.c.post_id.desc())
        .limit(limit)
        .offset(offset)
    )
    rows = session.execute(best).all()
    total = rows[0].total if rows else (_count(session, best) if offset else 0)
    return SearchResult(
        hits=tuple(SearchHit(row.post_id, row.thread_id, float(row.rank)) for row in rows),
        total=total,
    )


def _count(session: Session, best: Select[Any]) -> int:
    counted = best.limit(None).offset(None).order_by(None).subquery()
    return session.scalar(select(func.count()).select_from(counted)) or 0


def _sqlite_matches(terms: list[str]) -> Select[int, int, float]:
    index = table(SEARCH_TABLE, column("rowid", Integer))
    # Every term quoted: FTS5 then reads it as a word, never as AND/OR/NEAR or a column filter.
    expression = " ".join(f'"{term}"' for term in terms)
    rank: ColumnElement[float] = literal_column(f"-bm25({SEARCH_TABLE})", Float)
    return (
        select(Post.id.label("post_id"), Post.thread_id.label("thread_id"), rank.label("rank"))
        .select_from(index)
        .join(Post, Post.id == index.c.rowid)
        .where(literal_column(SEARCH_TABLE).op("MATCH")(bindparam("match", expression)))
    )


def _postgres_matches(query: str) -> Select[int, int, float]:
    tsquery = func.plainto_tsquery(
        literal_column("'swedish'::regconfig"), bindparam("search_query", query)
    )
    vector: ColumnElement[Any] = literal_column(f"post.{POSTGRES_COLUMN}")
    return (
        select(
            Post.id.label("post_id"),
            Post.thread_id.label("thread_id"),
            # Normalisation 1 (by the log of the length) ranks much like SQLite's bm25.
            func.ts_rank(vector, tsquery, literal_column("1")).label("rank"),
        )
        .select_from(Post)
        .where(vector.op("@@")(tsquery))
    )


# -- keeping the SQLite index current ------------------------------------------------------

# Engines known to have the FTS table; checked once, so a database migrated before 0002
# (or a bare test schema) still takes posts.
_indexed_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def _has_index(connection: Connection) -> bool:
    if connection.dialect.name != "sqlite":
        return False
    if connection.engine in _indexed_engines:
        return True
    found = connection.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"),
        {"name": SEARCH_TABLE},
    ).first()
    if found is not None:
        _indexed_engines.add(connection.engine)
    return found is not None


_INSERT = text(f"INSERT INTO {SEARCH_TABLE} (rowid, stems) VALUES (:id, :stems)")


def _insert(connection: Connection, rows: Iterable[tuple[int, str, str]]) -> int:
    batch = [
        {"id": post_id, "stems": " ".join(stems(document(subject, new_text)))}
        for post_id, subject, new_text in rows
    ]
    if batch:
        connection.execute(_INSERT, batch)
    return len(batch)


def _delete(connection: Connection, post_id: int) -> None:
    connection.execute(text(f"DELETE FROM {SEARCH_TABLE} WHERE rowid = :id"), {"id": post_id})


def index_new_post(connection: Connection, post_id: int, subject: str, new_text: str) -> None:
    """Index a post inserted without the ORM, which the events below do not see."""
    if _has_index(connection):
        _insert(connection, [(post_id, subject, new_text)])


@event.listens_for(Post, "after_insert")
def _index_new_post(mapper: Mapper[Post], connection: Connection, post: Post) -> None:
    index_new_post(connection, post.id, post.subject, post.new_text)


@event.listens_for(Post, "after_update")
def _index_changed_post(mapper: Mapper[Post], connection: Connection, post: Post) -> None:
    state = inspect(post)
    changed = any(state.attrs[name].history.has_changes() for name in ("subject", "new_text"))
    if changed and _has_index(connection):
        _delete(connection, post.id)
        _insert(connection, [(post.id, post.subject, post.new_text)])


def index_all(connection: Connection) -> int:
    """Fill the SQLite index from every stored post; the migration and `reindex` use it."""
    rows = connection.execute(
        select(Post.id, Post.subject, Post.new_text).order_by(Post.id)
    ).yield_per(_INDEX_BATCH)
    count = 0
    for partition in rows.partitions():
        count += _insert(connection, [(row[0], row[1], row[2]) for row in partition])
    return count


def reindex(session: Session) -> int:
    """Build the index again from the posts (after bulk imports or a restore); returns posts.

    Inside the caller's transaction; commit it to keep the result.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"REINDEX INDEX {POSTGRES_INDEX}"))
        return session.scalar(select(func.count()).select_from(Post)) or 0
    if not _has_index(connection):
        return 0
    connection.execute(text(f"DELETE FROM {SEARCH_TABLE}"))
    return index_all(connection)


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """For Alembic's autogenerate: the search index is made by migration 0002, not the models."""
    if type_ == "table":
        return name not in SQLITE_OBJECTS
    if type_ == "index":
        return name != POSTGRES_INDEX
    if type_ == "column":
        return not (name == POSTGRES_COLUMN and parent_names.get("table_name") == "post")
    return True
