"""Engines for the catalog database and its Alembic migrations, run from code.

SQLite (the embedded default) and PostgreSQL (production) are both supported. `migrate` brings
any database to the newest schema and does nothing on one that is already there, so it can run at
every start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 15_000
# A constant shared by all CourtCast processes: serialises concurrent `migrate` on PostgreSQL.
_PG_MIGRATION_LOCK = 0x436F757274  # "Court"


class MigrationError(RuntimeError):
    """The database cannot be migrated as it is; the message says what to do."""


def make_engine(url: str) -> Engine:
    """An engine for `url` with the settings CourtCast relies on for its backend."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database)
    if parsed.get_backend_name() == "postgresql":
        # Connections die with server restarts and idle timeouts of proxies: test before use.
        return create_engine(url, pool_pre_ping=True)
    return create_engine(url)


def _sqlite_engine(url: str, database: str | None) -> Engine:
    in_memory = not database or database == ":memory:" or database.startswith("file::memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if in_memory:
        kwargs["poolclass"] = StaticPool  # one shared connection, or each one sees its own empty db
    else:
        Path(database or "").parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _sqlite_on_connect)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers (the portal) go on while a writer (the live pipeline) commits.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # In WAL mode NORMAL stays consistent after a power loss (only the last commits may be
        # lost) and saves an fsync per commit: the live pipeline commits every segment.
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def alembic_config() -> Config:
    """An Alembic configuration built in code: no alembic.ini is needed at run time."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to `revision`; a database already there is left as it is."""
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch migrations copy a table and drop the old one: with foreign keys enforced
            # that drop fails once other tables reference rows (Alembic's advice: turn them
            # off). Only outside a transaction does SQLite accept the pragma.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                _upgrade(connection, revision)
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise MigrationError("the migration left rows with broken foreign keys")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def _upgrade(connection: Connection, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        # Two processes starting at once must not both create the tables.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    tables = set(inspect(connection).get_table_names())
    if "court" in tables and "alembic_version" not in tables:
        raise MigrationError(
            "the catalog tables exist but were not made by the migrations (no alembic_version "
            "table); if they match the first migration, mark them with `alembic stamp 0001`"
        )
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None before the first migration."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
