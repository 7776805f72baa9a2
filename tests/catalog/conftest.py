"""Catalog databases for tests: a SQLite file, and a throwaway database on the local PostgreSQL.

PostgreSQL tests are marked `postgres`. When the server cannot be reached they are skipped, except
under CI (`CI` set), where they fail: CI must test the production database.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from courtcast.catalog.service import Catalog
from tests.catalog.helpers import World, make_world

PG_ADMIN_URL = os.environ.get(
    "COURTCAST_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        engine.dispose()
        reason = (
            f"PostgreSQL not reachable at {PG_ADMIN_URL} (set COURTCAST_TEST_POSTGRES): {error}"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    yield engine
    engine.dispose()


@contextmanager
def throwaway_database(admin: Engine) -> Iterator[str]:
    """A new empty database on the server of `admin`; dropped afterwards, connections or not."""
    name = f"courtcast_test_{secrets.token_hex(6)}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, not migrated: a SQLite file or a PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'catalog.db'}"
        return
    with throwaway_database(request.getfixturevalue("pg_admin")) as url:
        yield url


@pytest.fixture(scope="session")
def pg_catalog_url(pg_admin: Engine) -> Iterator[str]:
    """One migrated PostgreSQL database for the session; `catalog` empties it for each test."""
    with throwaway_database(pg_admin) as url:
        catalog = Catalog(url)
        catalog.migrate()
        catalog.close()
        yield url


@pytest.fixture(params=BACKENDS)
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    """A migrated, empty catalog: a new SQLite file, or the session's PostgreSQL database
    truncated (ids restart at 1), which is ten times faster than a new database per test."""
    if request.param == "sqlite":
        catalog = Catalog(f"sqlite:///{tmp_path / 'data' / 'catalog.db'}")
        catalog.migrate()
    else:
        catalog = Catalog(request.getfixturevalue("pg_catalog_url"))
        _truncate(catalog.engine)
    yield catalog
    catalog.close()


def _truncate(engine: Engine) -> None:
    tables = [name for name in inspect(engine).get_table_names() if name != "alembic_version"]
    with engine.begin() as connection:
        names = ", ".join(f'"{name}"' for name in tables)
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def world(catalog: Catalog) -> World:
    return make_world(catalog)
