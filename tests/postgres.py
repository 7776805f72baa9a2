"""Throwaway databases on the local PostgreSQL server, for the tests of the production setup."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

PG_ADMIN_URL = os.environ.get(
    "COURTCAST_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)


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
