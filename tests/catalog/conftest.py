"""Catalog databases for tests: a SQLite file, and a throwaway database on the local PostgreSQL.

PostgreSQL tests are marked `postgres`. When the server cannot be reached they are skipped, except
under CI (`CI` set), where they fail: CI must test the production database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from courtcast.catalog.service import Catalog
from tests.catalog.helpers import World, make_world
from tests.postgres import throwaway_database

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


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
