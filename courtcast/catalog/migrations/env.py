"""Alembic environment of the catalog.

At run time `courtcast.catalog.db.migrate` passes its connection in
`config.attributes["connection"]`. From the command line (to write a new revision) run, from the
repository root: `alembic -c courtcast/catalog/migrations/alembic.ini revision --autogenerate -m
"..."` with `COURTCAST_DATABASE_URL` (or `-x url=...`) naming a database at the current head.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

import courtcast.catalog.models  # noqa: F401  (registers the tables in SQLModel.metadata)
from courtcast.catalog.db import make_engine

target_metadata = SQLModel.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get(
        "COURTCAST_DATABASE_URL"
    )
    if not url:
        raise RuntimeError("give the database with -x url=... or COURTCAST_DATABASE_URL")
    return url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    if context.is_offline_mode():
        context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


main()
