"""What every part of the catalog service shares: errors, input validation, sessions on the engine.

`courtcast.catalog.service.Catalog` is assembled from `CatalogBase` and the mixins of
`accounts.py` and `audit.py`; callers import everything from `service`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import Engine, inspect
from sqlmodel import Session, SQLModel

from courtcast.catalog import db

_M = TypeVar("_M", bound=SQLModel)


class CatalogError(Exception):
    """Base of the catalog's errors; `code` is stable for API answers, `message` is for people."""

    code: str = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field  # the offending input field, where there is one


class NotFound(CatalogError):
    code = "not_found"


class Conflict(CatalogError):
    code = "conflict"


class Invalid(CatalogError):
    code = "invalid"


class Restricted(Conflict):
    """The case carries a disclosure restriction: its hearings are never broadcast."""

    code = "restricted"


def to_naive_utc(moment: datetime) -> datetime:
    """`moment` in UTC without tzinfo, as stored; a naive `moment` is taken as UTC already."""
    if moment.utcoffset() is None:
        return moment.replace(tzinfo=None)
    return moment.astimezone(UTC).replace(tzinfo=None)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- input validation: each raises Invalid naming the field ---------------------------------


def max_length(model: type[SQLModel], field: str) -> int:
    length = getattr(inspect(model).columns[field].type, "length", None)
    assert isinstance(length, int), f"{model.__name__}.{field} has no length"
    return length


def text(model: type[SQLModel], field: str, value: object, *, required: bool = True) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{field} must be a string", field=field)
    value = value.strip()
    if required and not value:
        raise Invalid(f"{field} must not be empty", field=field)
    limit = max_length(model, field)
    if len(value) > limit:
        raise Invalid(f"{field} must be at most {limit} characters, not {len(value)}", field=field)
    return value


def choice(field: str, value: object, allowed: type[StrEnum]) -> str:
    values = [member.value for member in allowed]
    if value not in values:
        raise Invalid(f"{field} must be one of {', '.join(values)}; got {value!r}", field=field)
    return str(value)


def optional_choice(field: str, value: object, allowed: type[StrEnum]) -> str | None:
    return None if value is None else choice(field, value, allowed)


def integer(field: str, value: object, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        message = f"{field} must be an integer from {low} to {high}; got {value!r}"
        raise Invalid(message, field=field)
    return value


def ident(field: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise Invalid(f"{field} must be an integer id; got {value!r}", field=field)
    return value


def flag(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"{field} must be true or false", field=field)
    return value


def aware(field: str, value: object) -> datetime:
    if not isinstance(value, datetime):
        raise Invalid(f"{field} must be a datetime", field=field)
    if value.utcoffset() is None:
        raise Invalid(f"{field} must include a UTC offset", field=field)
    return to_naive_utc(value)


class CatalogBase:
    """The engine and the session helpers every part of the service uses."""

    def __init__(self, database_url: str) -> None:
        self.engine: Engine = db.make_engine(database_url)

    def migrate(self) -> None:
        db.migrate(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @staticmethod
    def _get(session: Session, model: type[_M], key: object, field: str | None = None) -> _M:
        kind = model.__name__.lower()
        found = session.get(model, ident(field or f"{kind}_id", key))
        if found is None:
            prefix = f"{field}: " if field else ""
            raise NotFound(f"{prefix}{kind} {key} not found", field=field)
        return found

    def _get_one(self, model: type[_M], key: int) -> _M:
        with self._session() as session:
            return self._get(session, model, key)

    @staticmethod
    def _insert(session: Session, row: _M) -> _M:
        session.add(row)
        session.commit()
        return row
