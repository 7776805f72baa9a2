"""Engines and migrations on SQLite and PostgreSQL; the migrated schema must equal the models."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, String, inspect, text
from sqlmodel import SQLModel

from courtcast.catalog import db
from courtcast.catalog.service import Catalog, token_hash
from tests.catalog.helpers import run_in_threads
from tests.postgres import throwaway_database

HEAD = ScriptDirectory.from_config(db.alembic_config()).get_current_head()


def schema_differences(engine: Engine, metadata: MetaData = SQLModel.metadata) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_sqlite_engine_settings(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'new' / 'dir' / 'catalog.db'}")
    with engine.connect() as connection:
        pragma = {
            name: connection.execute(text(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout")
        }
    engine.dispose()
    assert (tmp_path / "new" / "dir" / "catalog.db").exists()  # the directory was made
    assert pragma == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 15000}


def test_in_memory_sqlite_is_one_database_for_all_threads() -> None:
    catalog = Catalog("sqlite://")
    catalog.migrate()
    ids: list[int | None] = []
    create = partial(catalog.create_court, name="c", level="high", region="r")
    assert run_in_threads(lambda _: ids.append(create().id), 1) == []
    assert [court.id for court in catalog.courts()] == ids
    catalog.close()


@pytest.mark.postgres
def test_postgres_engine_pings_pooled_connections(pg_admin: Engine) -> None:
    with throwaway_database(pg_admin) as url:
        engine = db.make_engine(url)
        assert engine.pool._pre_ping
        engine.dispose()


def test_fresh_migration_matches_the_models(database_url: str) -> None:
    engine = db.make_engine(database_url)
    assert db.current_revision(engine) is None
    db.migrate(engine)
    assert db.current_revision(engine) == HEAD
    assert schema_differences(engine) == []
    engine.dispose()


def test_migrating_again_keeps_schema_and_data(database_url: str) -> None:
    catalog = Catalog(database_url)
    catalog.migrate()
    court = catalog.create_court(name="北京市高级人民法院", level="high", region="北京市")
    catalog.migrate()  # every start migrates: must be a no-op on a current database
    catalog.close()

    again = Catalog(database_url)
    again.migrate()
    assert again.court(court.id or 0).name == "北京市高级人民法院"
    assert db.current_revision(again.engine) == HEAD
    assert schema_differences(again.engine) == []
    again.close()


def test_downgrade_to_base_and_up_again(database_url: str) -> None:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    config = db.alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(SQLModel.metadata.tables) & set(_tables(engine)) == set()
    db.migrate(engine)
    assert schema_differences(engine) == []
    engine.dispose()


def test_unversioned_tables_are_refused_with_advice(database_url: str) -> None:
    engine = db.make_engine(database_url)
    SQLModel.metadata.create_all(engine)  # how a database made before migrations would look
    with pytest.raises(db.MigrationError, match="alembic stamp"):
        db.migrate(engine)
    engine.dispose()


def test_the_comparison_sees_model_changes(tmp_path: Path) -> None:
    """Guards the guard: a model change without a migration must show up as a difference."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    db.migrate(engine)
    changed = MetaData()
    for table in SQLModel.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["court"].c.name.type = String(300)
    hearing = changed.tables["hearing"]
    hearing.indexes = {ix for ix in hearing.indexes if ix.name != "ix_hearing_status_start"}
    kinds = {_kind(diff) for diff in schema_differences(engine, changed)}
    assert kinds == {"modify_type", "remove_index"}
    engine.dispose()


@pytest.mark.postgres
def test_concurrent_first_migrations_do_not_collide(pg_admin: Engine) -> None:
    with throwaway_database(pg_admin) as url:
        engines = [db.make_engine(url) for _ in range(3)]
        assert run_in_threads(lambda index: db.migrate(engines[index]), 3) == []
        assert schema_differences(engines[0]) == []
        for engine in engines:
            engine.dispose()


def _tables(engine: Engine) -> list[str]:
    return inspect(engine).get_table_names()


def _kind(diff: object) -> str:
    # compare_metadata gives tuples, or lists of tuples for column modifications
    first = diff[0] if isinstance(diff, list) else diff
    assert isinstance(first, tuple)
    return str(first[0])


def test_upgrade_from_0001_keeps_data_and_gives_old_tokens_an_account(database_url: str) -> None:
    """A catalog made before accounts: its replay stays public and its token keeps working."""
    engine = db.make_engine(database_url)
    db.migrate(engine, "0001")
    with engine.begin() as connection:
        for statement in _REVISION_0001_ROWS:
            connection.execute(text(statement))
    db.migrate(engine)
    assert schema_differences(engine) == []
    engine.dispose()
    catalog = Catalog(database_url)
    (view,) = catalog.hearing_views()  # approved at its creation by the migration
    assert view.hearing.approved_at is not None and view.hearing.approved_by is None
    assert len(catalog.segments(view.hearing.id or 0)) == 1
    actor = catalog.token_actor("cc_old")
    assert actor is not None and actor.username == "builtin-admin" and actor.is_admin
    catalog.close()


_NOW = "'2026-03-02 09:00:00'"
_REVISION_0001_ROWS = [
    f"INSERT INTO court (name, level, region, code, created_at) VALUES ('c', 'basic', 'r', '', "
    f"{_NOW})",
    f"INSERT INTO courtroom (court_id, name, created_at) VALUES (1, 'r', {_NOW})",
    'INSERT INTO "case" (court_id, case_number, title, case_type, cause, parties, judges, '
    f"restriction_reason, created_at) VALUES (1, 'n', 't', 'civil', 'c', '', '', '', {_NOW})",
    "INSERT INTO hearing (case_id, courtroom_id, scheduled_start, scheduled_end, public, status, "
    "stream_key, record_token, delay_seconds, profile, view_count, created_at) VALUES "
    f"(1, 1, {_NOW}, {_NOW}, true, 'ended', 'k', 't', 0, 'passthrough', 0, {_NOW})",
    "INSERT INTO segment (hearing_id, rendition, sequence, uri, init_uri, duration, "
    "program_date_time, discontinuity, size, created_at) VALUES "
    f"(1, 'source', 0, 'a.m4s', 'i.mp4', 2.0, {_NOW}, false, 1, {_NOW})",
    "INSERT INTO apitoken (token_hash, role, label, created_at) VALUES "
    f"('{token_hash('cc_old')}', 'admin', '', {_NOW})",
]
