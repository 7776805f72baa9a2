"""The JSON wire format: time conversion, request-body validation and error values.

The catalog keeps naive UTC datetimes; everything crossing the API carries an explicit offset.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

MAX_ID = 2**63 - 1  # SQL BIGINT; larger path ids cannot exist and would overflow the driver


class ApiError(Exception):
    """An error the API answers as `{"error": {"code", "message"}}` with `status`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})


def invalid(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid", f"{field}: {message}", field=field)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with offset; naive values are the catalog's UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime, treating naive values as the catalog's UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_time(text: object, field: str) -> datetime:
    """An aware UTC datetime from ISO 8601 text that must carry an offset (or Z)."""
    if not isinstance(text, str):
        raise invalid(field, "must be an ISO 8601 string with an offset")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise invalid(field, f"not an ISO 8601 date-time: {text!r}") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise invalid(field, f"needs a UTC offset such as +08:00 or Z: {text!r}")
    return value.astimezone(UTC)


def path_id(request: web.Request, name: str = "id") -> int:
    value = int(request.match_info[name])  # the route pattern admits digits only
    if value > MAX_ID:
        raise ApiError(404, "not_found", f"no such {name.removesuffix('_id') or 'object'}")
    return value


async def read_json_object(request: web.Request) -> Body:
    text = await request.text()
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ApiError(400, "bad_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_json", "the body must be a JSON object")
    return Body(data)



class Body:
    """Field-named presence and JSON-type checks; the catalog validates values and lengths.

    Unknown fields are ignored, so clients may send fields a later version understands.
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data

    def _get(self, name: str, required: bool) -> Any:
        value = self.data.get(name)
        if required and value is None:
            raise invalid(name, "is required")
        return value

    def text(self, name: str, *, required: bool = True, default: str = "") -> str:
        value = self._get(name, required)
        if value is None:
            return default
        if not isinstance(value, str):
            raise invalid(name, "must be a string")
        return value

    def optional_text(self, name: str) -> str | None:
        """A string or null (null meaning 'none', e.g. no restriction)."""
        return None if self.data.get(name) is None else self.text(name)

    def integer(self, name: str, *, required: bool = True, default: int = 0) -> int:
        value = self._get(name, required)
        if value is None:
            return default
        # bool is an int subclass in Python but not a number on the wire.
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid(name, "must be an integer")
        if not -MAX_ID <= value <= MAX_ID:
            raise invalid(name, "is out of range")
        return value

    def optional_id(self, name: str) -> int | None:
        return None if self.data.get(name) is None else self.integer(name)

    def flag(self, name: str, *, default: bool) -> bool:
        value = self._get(name, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise invalid(name, "must be true or false")
        return value

    def optional_flag(self, name: str) -> bool | None:
        """true, false, or None when absent (a PATCH leaves it as it is)."""
        return None if self.data.get(name) is None else self.flag(name, default=False)

    def optional_ids(self, name: str) -> list[int] | None:
        """A list of ids, or None when absent."""
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_ID for v in value
        ):
            raise invalid(name, "must be a list of ids")
        return list(value)

    def time(self, name: str) -> datetime:
        return parse_time(self._get(name, True), name)
