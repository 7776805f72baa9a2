"""Catalog tables.

Times are stored as naive UTC (`utcnow()`), because SQLite has no time zones; the API converts
to and from ISO 8601 with offsets at its edge. Schema changes go through the Alembic migrations
in `courtcast/catalog/migrations`, never through `create_all` on a live database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Column, DateTime, Index, String, Text, UniqueConstraint, false
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


class Role(StrEnum):
    ADMIN = "admin"  # everything, in every court
    CLERK = "clerk"  # only for the courts assigned to the account (not their child courts)


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
    # Days public replays stay up after the hearing ended; None keeps them.
    retention_days: int | None = None
    default_profile: str | None = Field(default=None, max_length=20)  # a Profile value
    timestamp_overlay: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
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
    # Broadcast approval by the court: ingest refuses a hearing without it.
    approved_at: datetime | None = Field(default=None, sa_type=NAIVE_UTC)
    approved_by: int | None = Field(default=None, foreign_key="account.id")
    noindex: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # Public media beyond the playlists: the portal shows them only when they exist.
    has_poster: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    has_previews: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    withdrawn_at: datetime | None = Field(default=None, sa_type=NAIVE_UTC)
    withdrawn_reason: str = Field(
        default="", max_length=1000, sa_column_kwargs={"server_default": ""}
    )
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


class Account(SQLModel, table=True):
    """An administrator or court clerk. An empty `password_hash` can never log in (the built-in
    account that owns command-line tokens)."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_column=Column(String(100), unique=True, nullable=False))
    display_name: str = Field(default="", max_length=200)
    role: str = Field(max_length=20)  # a Role value
    password_hash: str = Field(default="", max_length=200)  # argon2id, PHC string format
    can_approve: bool = False  # a clerk's right to approve broadcasts; admins always may
    disabled_at: datetime | None = Field(default=None, sa_type=NAIVE_UTC)
    created_at: datetime = Field(default_factory=utcnow, sa_type=NAIVE_UTC)


class AccountCourt(SQLModel, table=True):
    """A clerk's assignment to one court."""

    account_id: int = Field(foreign_key="account.id", primary_key=True)
    court_id: int = Field(foreign_key="court.id", primary_key=True, index=True)


class ApiToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    role: str = Field(max_length=20)  # the account's role when the token was made (a record)
    account_id: int = Field(foreign_key="account.id", index=True)  # whose rights it carries
    label: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=NAIVE_UTC)
    revoked_at: datetime | None = Field(default=None, sa_type=NAIVE_UTC)


class WebSession(SQLModel, table=True):
    """A signed-in portal session. `id` is the SHA-256 of the cookie value, so a leaked table
    does not let anyone sign in."""

    id: str = Field(primary_key=True, max_length=64)
    account_id: int = Field(foreign_key="account.id", index=True)
    csrf_token: str = Field(max_length=64)
    ip: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=NAIVE_UTC)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=NAIVE_UTC)
    expires_at: datetime = Field(sa_type=NAIVE_UTC, index=True)


class LoginFailure(SQLModel, table=True):
    """Failed sign-ins, counted to slow down password guessing (by user name and by address)."""

    __table_args__ = (
        Index("ix_loginfailure_username_at", "username", "at"),
        Index("ix_loginfailure_ip_at", "ip", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100)
    ip: str = Field(max_length=64)
    at: datetime = Field(default_factory=utcnow, sa_type=NAIVE_UTC)


class AuditEntry(SQLModel, table=True):
    """One action of a clerk, an administrator or the system. Append-only: no code updates or
    deletes rows, and database triggers refuse it (migration 0002). Ids are not foreign keys, so
    the log outlives whatever it names."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=NAIVE_UTC, index=True)
    account_id: int | None = Field(default=None, index=True)  # None: the system itself
    actor: str = Field(max_length=100)  # the user name at the time, or "system"
    action: str = Field(max_length=50, index=True)  # e.g. "hearing.cut"
    ip: str = Field(default="", max_length=64)
    court_id: int | None = Field(default=None, index=True)
    case_id: int | None = None
    hearing_id: int | None = Field(default=None, index=True)
    details: str = Field(default="{}", sa_type=Text)  # JSON object


class ServerSecret(SQLModel, table=True):
    """Random keys shared by every process on this catalog (e.g. for signed record URLs)."""

    name: str = Field(primary_key=True, max_length=50)
    value: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=NAIVE_UTC)
