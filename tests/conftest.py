"""Fixtures shared by the catalog and end-to-end tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from tests.postgres import PG_ADMIN_URL


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    """The local PostgreSQL server; skipped when unreachable, except in CI where it must be."""
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


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 with its production cost (64 MiB, 3 passes) per account would slow the suite down;
    the algorithm and code path stay the same."""
    from argon2 import PasswordHasher

    from courtcast.catalog import accounts

    monkeypatch.setattr(accounts, "hasher", PasswordHasher(time_cost=1, memory_cost=256,
                                                           parallelism=1))
