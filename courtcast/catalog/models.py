"""Catalog tables.

Times are stored as naive UTC (`utcnow()`), because SQLite has no time zones; the API converts
to and from ISO 8601 with offsets at its edge. Schema changes go through the Alembic migrations
in `courtcast/catalog/migrations`, never through `create_all` on a live database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Column, DateTime, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# Every datetime column names its type: SQLModel >= 0.0.45 maps a bare `datetime` to its
# `UTCDateTime`, which rejects the naive UTC values this schema stores (and older versions map it
# to a naive `DateTime`), so without it the schema would depend on the installed SQLModel.
NAIVE_UTC = DateTime


class CourtLevel(StrEnum):
    SUPREME = "supreme"
    HIGH = "high"
    INTERMEDIATE = "intermediate"
    BASIC = "basic"
    SPECIAL = "special"  # maritime, intellectual property, internet, railway


class HearingStatus(StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    INTERRUPTED = "interrupted"
    ENDED = "ended"
    WITHDRAWN = "withdrawn"


class Profile(StrEnum):
    PASSTHROUGH = "passthrough"
    LADDER = "ladder"


class Restriction(StrEnum):
    STATE_SECRET = "state_secret"
    TRADE_SECRET = "trade_secret"
    PRIVACY = "privacy"
    JUVENILE = "juvenile"
    SEXUAL_OFFENCE = "sexual_offence"
    FAMILY = "family"
    OBJECTION_UPHELD = "objection_upheld"
    OTHER = "other"


class Court(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, index=True)
    level: str = Field(max_length=20, index=True)  # a CourtLevel value
    region: str = Field(max_length=200, index=True)  # "Beijing / Chaoyang"
    parent_id: int | None = Field(default=None, foreign_key="court.id", index=True)
    code: str = Field(default="", max_length=20)  # court code used in case numbers, e.g. 京0105
    created_at: datetime = Field(default_factory=utcnow, sa_type=NAIVE_UTC)


class Courtroom(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    court_id: int = Field(foreign_key="court.id", index=True)
    name: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=NAIVE_UTC)


class Case(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    court_id: int = Field(foreign_key="court.id", index=True)
    case_number: str = Field(sa_column=Column(String(100), unique=True, nullable=False))
    title: str = Field(max_length=500)
    case_type: str = Field(max_length=50, index=True)  # criminal, civil, administrative, ...
    cause: str = Field(max_length=200, index=True)  # cause of action, e.g. "contract dispute"
    parties: str = Field(default="", max_length=1000)  # as they may be shown publicly
    judges: str = Field(default="", max_length=500)  # presiding judge and panel
    restriction: str | None = Field(default=None, max_length=30)  # a Restriction value
    restriction_reason: str = Field(default="", max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=NAIVE_UTC)


class Hearing(SQLModel, table=True):
    __table_args__ = (Index("ix_hearing_status_start", "status", "scheduled_start"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    courtroom_id: int = Field(foreign_key="courtroom.id", index=True)
    scheduled_start: datetime = Field(sa_type=NAIVE_UTC)
    scheduled_end: datetime = Field(sa_type=NAIVE_UTC)
    public: bool = True
    status: str = Field(default=HearingStatus.SCHEDULED.value, max_length=20)
    stream_key: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    # Unguessable path component of the court's complete record in storage.
    record_token: str = Field(max_length=64)
    delay_seconds: int = 0
    profile: str = Field(default=Profile.PASSTHROUGH.value, max_length=20)
    started_at: datetime | None = Field(default=None, sa_type=NAIVE_UTC)  # first media received
    ended_at: datetime | None = Field(default=None, sa_type=NAIVE_UTC)
    view_count: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=NAIVE_UTC)


class Segment(SQLModel, table=True):
    """One media segment of a hearing's complete record, in order of `sequence`.

    `published_at` is set once the segment has been copied to the public location; the public
    playlist lists published segments only, so a gap in them is a cut in the public view.
    """

    __table_args__ = (UniqueConstraint("hearing_id", "rendition", "sequence"),)

    id: int | None = Field(default=None, primary_key=True)
    hearing_id: int = Field(foreign_key="hearing.id", index=True)
    rendition: str = Field(default="source", max_length=20)
    sequence: int
    uri: str = Field(max_length=200)  # file name relative to the rendition's directory
    init_uri: str = Field(max_length=200)  # EXT-X-MAP for fMP4
    duration: float
    program_date_time: datetime = Field(sa_type=NAIVE_UTC)  # wall clock of the first frame (UTC)
    discontinuity: bool = False  # the publisher reconnected or its configuration changed
    size: int = 0
    published_at: datetime | None = Field(default=None, sa_type=NAIVE_UTC)
    created_at: datetime = Field(default_factory=utcnow, sa_type=NAIVE_UTC)


class ApiToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    role: str = Field(max_length=20)  # "admin" (clerks arrive with accounts)
    label: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=NAIVE_UTC)
    revoked_at: datetime | None = Field(default=None, sa_type=NAIVE_UTC)
