"""The catalog service: validated writes, the hearing lifecycle and the portal's reads.

`Catalog` is synchronous and thread-safe: each call opens its own session on the shared engine,
so async code calls it through `asyncio.to_thread`. Returned objects are detached plain models.

Times: datetimes given to writes must carry an offset and are stored as naive UTC; query
arguments (`now`, `at`, `start_from`, ...) may also be naive, and are then taken as UTC. Returned
datetimes are naive UTC.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, or_, select
from sqlmodel.sql.expression import Select, SelectOfScalar

from courtcast.catalog.accounts import (
    BUILTIN_ADMIN,
    SYSTEM_ACTOR,
    TOKEN_PREFIX,
    AccountsMixin,
    Actor,
    InvalidLogin,
    SignedIn,
    Throttled,
)
from courtcast.catalog.audit import AuditMixin, AuditQuery
from courtcast.catalog.casenumber import bracket_variants
from courtcast.catalog.common import (
    CatalogBase,
    CatalogError,
    Conflict,
    Invalid,
    NotFound,
    Restricted,
    to_naive_utc,
    token_hash,
)
from courtcast.catalog.common import aware as _aware
from courtcast.catalog.common import choice as _choice
from courtcast.catalog.common import flag as _flag
from courtcast.catalog.common import ident as _id
from courtcast.catalog.common import integer as _int
from courtcast.catalog.common import optional_choice as _optional_choice
from courtcast.catalog.common import text as _text
from courtcast.catalog.models import (
    Account,
    Case,
    Court,
    CourtLevel,
    Courtroom,
    Hearing,
    HearingStatus,
    Profile,
    Restriction,
    Segment,
    ServerSecret,
    utcnow,
)

__all__ = [
    "BUILTIN_ADMIN",
    "MAX_DELAY_SECONDS",
    "RETENTION_REASON",
    "SYSTEM_ACTOR",
    "TOKEN_PREFIX",
    "Actor",
    "AuditQuery",
    "Catalog",
    "CatalogError",
    "Conflict",
    "CourtNode",
    "HearingView",
    "Invalid",
    "InvalidLogin",
    "NotFound",
    "Restricted",
    "SignedIn",
    "Throttled",
    "broadcast_refusal",
    "to_naive_utc",
    "token_hash",
]

S = HearingStatus
# Status changes `set_status` allows; setting the current status again is a no-op. ENDED is final
# for the broadcast (its playlists are closed). WITHDRAWN (a court order) is left only through
# `restore`, so that a late "ended" from the pipeline can never undo it.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.SCHEDULED: frozenset({S.LIVE, S.ENDED, S.WITHDRAWN}),
    S.LIVE: frozenset({S.INTERRUPTED, S.ENDED, S.WITHDRAWN}),
    S.INTERRUPTED: frozenset({S.LIVE, S.ENDED, S.WITHDRAWN}),
    S.ENDED: frozenset({S.WITHDRAWN}),
    S.WITHDRAWN: frozenset(),
}
ORDERS = ("start_asc", "start_desc", "views_desc", "ended_desc")
MAX_LIMIT = 500
MAX_DELAY_SECONDS = 1800
MAX_RETENTION_DAYS = 36500
RETENTION_REASON = "retention period ended"
_CHUNK = 500  # bound parameters per IN (...): SQLite's limit is 999 on old builds


@dataclass(frozen=True)
class HearingView:
    hearing: Hearing
    case: Case
    court: Court
    courtroom: Courtroom


@dataclass(frozen=True)
class CourtNode:
    court: Court
    children: list[CourtNode]


def _restricted_message(case: Case) -> str:
    return (
        f"case {case.case_number} is restricted ({case.restriction}): "
        "its hearings are never broadcast"
    )


def new_stream_key() -> str:
    return secrets.token_urlsafe(24)  # 32 URL-safe characters, 192 bits


def _court_settings(
    court: Court, retention_days: int | None, default_profile: str | None, overlay: bool
) -> None:
    if retention_days is not None:
        _int("retention_days", retention_days, 1, MAX_RETENTION_DAYS)
    court.retention_days = retention_days
    court.default_profile = _optional_choice("default_profile", default_profile, Profile)
    court.timestamp_overlay = _flag("timestamp_overlay", overlay)


def broadcast_refusal(view: HearingView) -> tuple[str, str] | None:
    """Why ingest must refuse this hearing's broadcast, as (code, message); None if it may go
    on air. Restriction first: a restricted case is never broadcast, approved or not."""
    if view.case.restriction is not None:
        return "restricted", _restricted_message(view.case)
    if view.hearing.approved_at is None:
        return "not_approved", f"hearing {view.hearing.id} has not been approved for broadcast"
    return None


def _chunks(values: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _views_query() -> Select[Hearing, Case, Court, Courtroom]:
    # One query with the three joins: lists of hearings never load their case/court one by one.
    return (
        select(Hearing, Case, Court, Courtroom)
        .join(Case, col(Case.id) == col(Hearing.case_id))
        .join(Court, col(Court.id) == col(Case.court_id))
        .join(Courtroom, col(Courtroom.id) == col(Hearing.courtroom_id))
    )


def _public_filters() -> list[ColumnElement[bool]]:
    # Keep in step with `courtcast.web.context.publicly_visible`.
    return [
        col(Hearing.public).is_(True),
        col(Case.restriction).is_(None),
        col(Hearing.status) != S.WITHDRAWN,
        col(Hearing.approved_at).is_not(None),  # the court has not decided to show it yet
    ]


def _search_filter(search: str) -> ColumnElement[bool]:
    terms = bracket_variants(search)  # （2024） and (2024) find the same case number
    columns = (Case.title, Case.parties, Case.case_number, Case.cause)
    return or_(*(col(c).icontains(term, autoescape=True) for c in columns for term in terms))


_ORDER_BY: dict[str, tuple[Any, ...]] = {
    "start_asc": (col(Hearing.scheduled_start).asc(), col(Hearing.id).asc()),
    "start_desc": (col(Hearing.scheduled_start).desc(), col(Hearing.id).desc()),
    "views_desc": (
        col(Hearing.view_count).desc(),
        col(Hearing.scheduled_start).desc(),
        col(Hearing.id).desc(),
    ),
    "ended_desc": (
        func.coalesce(col(Hearing.ended_at), col(Hearing.scheduled_end)).desc(),
        col(Hearing.id).desc(),
    ),
}


class Catalog(AccountsMixin, AuditMixin, CatalogBase):
    """The catalog: hearings and their disclosure here; accounts, sessions and tokens in
    `accounts.py`; the audit log in `audit.py`."""

    # --- writes -------------------------------------------------------------------------------

    def create_court(
        self,
        *,
        name: str,
        level: str,
        region: str,
        parent_id: int | None = None,
        code: str = "",
        retention_days: int | None = None,
        default_profile: str | None = None,
        timestamp_overlay: bool = False,
    ) -> Court:
        court = Court(
            name=_text(Court, "name", name),
            level=_choice("level", level, CourtLevel),
            region=_text(Court, "region", region),
            code=_text(Court, "code", code, required=False),
        )
        _court_settings(court, retention_days, default_profile, timestamp_overlay)
        with self._session() as session:
            if parent_id is not None:
                court.parent_id = self._get(session, Court, parent_id, "parent_id").id
            return self._insert(session, court)

    def update_court_settings(
        self,
        court_id: int,
        *,
        retention_days: int | None,
        default_profile: str | None,
        timestamp_overlay: bool,
    ) -> Court:
        """Set the court's retention period, default transcoding profile and overlay flag."""
        with self._session() as session:
            court = self._get(session, Court, court_id)
            _court_settings(court, retention_days, default_profile, timestamp_overlay)
            return self._insert(session, court)

    def create_courtroom(self, *, court_id: int, name: str) -> Courtroom:
        room = Courtroom(court_id=_id("court_id", court_id), name=_text(Courtroom, "name", name))
        with self._session() as session:
            self._get(session, Court, court_id, "court_id")
            return self._insert(session, room)

    def create_case(
        self,
        *,
        court_id: int,
        case_number: str,
        title: str,
        case_type: str,
        cause: str,
        parties: str = "",
        judges: str = "",
        restriction: str | None = None,
        restriction_reason: str = "",
    ) -> Case:
        case = Case(
            court_id=_id("court_id", court_id),
            case_number=_text(Case, "case_number", case_number),
            title=_text(Case, "title", title),
            case_type=_text(Case, "case_type", case_type),
            cause=_text(Case, "cause", cause),
            parties=_text(Case, "parties", parties, required=False),
            judges=_text(Case, "judges", judges, required=False),
            restriction=_optional_choice("restriction", restriction, Restriction),
            restriction_reason=_text(
                Case, "restriction_reason", restriction_reason, required=False
            ),
        )
        with self._session() as session:
            self._get(session, Court, court_id, "court_id")
            self._check_case_number_free(session, case.case_number)
            try:
                return self._insert(session, case)
            except IntegrityError as error:  # a concurrent insert of the same number
                raise self._duplicate(case.case_number) from error

    @staticmethod
    def _duplicate(case_number: str, case_id: int | None = None) -> Conflict:
        which = f" (case {case_id})" if case_id else ""
        return Conflict(f"case_number {case_number} exists already{which}", field="case_number")

    @classmethod
    def _check_case_number_free(cls, session: Session, case_number: str) -> None:
        query = select(Case.id).where(col(Case.case_number).in_(bracket_variants(case_number)))
        existing = session.exec(query).first()
        if existing is not None:
            raise cls._duplicate(case_number, existing)

    def create_hearing(
        self,
        *,
        case_id: int,
        courtroom_id: int,
        scheduled_start: datetime,
        scheduled_end: datetime,
        public: bool = True,
        delay_seconds: int = 0,
        profile: str | None = None,
        noindex: bool = False,
    ) -> Hearing:
        """A scheduled hearing, not yet approved. `profile` None takes the court's default
        profile, or passthrough when the court has none."""
        start = _aware("scheduled_start", scheduled_start)
        end = _aware("scheduled_end", scheduled_end)
        if end <= start:
            raise Invalid("scheduled_end must be after scheduled_start", field="scheduled_end")
        hearing = Hearing(
            case_id=_id("case_id", case_id),
            courtroom_id=_id("courtroom_id", courtroom_id),
            scheduled_start=start,
            scheduled_end=end,
            public=_flag("public", public),
            noindex=_flag("noindex", noindex),
            delay_seconds=_int("delay_seconds", delay_seconds, 0, MAX_DELAY_SECONDS),
            profile=_optional_choice("profile", profile, Profile) or "",
            stream_key=new_stream_key(),
            record_token=secrets.token_urlsafe(24),
        )
        with self._session() as session:
            case = self._get(session, Case, case_id, "case_id")
            room = self._get(session, Courtroom, courtroom_id, "courtroom_id")
            if room.court_id != case.court_id:
                raise Invalid(
                    f"courtroom_id: courtroom {room.id} belongs to court {room.court_id}, "
                    f"not to court {case.court_id} of case {case.id}",
                    field="courtroom_id",
                )
            if not hearing.profile:
                court = self._get(session, Court, case.court_id)
                hearing.profile = court.default_profile or Profile.PASSTHROUGH.value
            return self._insert(session, hearing)

    # --- disclosure: approval, withdrawal, keys, retention ------------------------------------

    def approve_hearing(
        self, hearing_id: int, *, account_id: int, at: datetime | None = None
    ) -> Hearing:
        """Approve the broadcast, recording who and when. Restricted (409 `restricted`) for a
        restricted case; Conflict once ended or withdrawn. Approving again keeps the first."""
        moment = to_naive_utc(at) if at is not None else utcnow()
        with self._session() as session:
            hearing = self._get(session, Hearing, hearing_id)
            case = self._get(session, Case, hearing.case_id)
            self._get(session, Account, account_id, "account_id")
            if case.restriction is not None:
                raise Restricted(_restricted_message(case))
            if hearing.status in (S.ENDED, S.WITHDRAWN):
                raise Conflict(f"hearing {hearing_id} is {hearing.status}: too late to approve")
            if hearing.approved_at is None:
                # Conditional, so two clerks approving at once both see the first approval.
                session.exec(
                    update(Hearing)
                    .where(col(Hearing.id) == hearing_id, col(Hearing.approved_at).is_(None))
                    .values(approved_at=moment, approved_by=account_id)
                )
                session.commit()
            return self._get(session, Hearing, hearing_id)

    def withdraw(self, hearing_id: int, *, reason: str, at: datetime | None = None) -> Hearing:
        """Withdraw the hearing from the public (a court order): status WITHDRAWN with the
        reason. Storage is the broadcaster's part (`BroadcastControl.withdraw`)."""
        why = _text(Hearing, "withdrawn_reason", reason)
        moment = to_naive_utc(at) if at is not None else utcnow()

        def target(hearing: Hearing) -> str | None:
            if hearing.status == S.WITHDRAWN:
                return None
            return S.WITHDRAWN

        extra = {"withdrawn_reason": why, "withdrawn_at": moment}
        return self._transition(hearing_id, target, moment, extra)

    def rotate_stream_key(self, hearing_id: int) -> Hearing:
        """A new stream key; the old one is refused from now on (a publisher already connected
        is the broadcaster's to keep or drop)."""
        with self._session() as session:
            hearing = self._get(session, Hearing, hearing_id)
            if hearing.status in (S.ENDED, S.WITHDRAWN):
                raise Conflict(f"hearing {hearing_id} is {hearing.status}: its key has expired")
            hearing.stream_key = new_stream_key()
            return self._insert(session, hearing)

    def replays_due_to_expire(self, now: datetime) -> list[Hearing]:
        """Ended hearings whose court's retention period has passed since they ended (by
        `ended_at`, else the scheduled end): to be withdrawn with RETENTION_REASON."""
        moment = to_naive_utc(now)
        ended = func.coalesce(col(Hearing.ended_at), col(Hearing.scheduled_end))
        with self._session() as session:
            periods = session.exec(
                select(Court.retention_days)
                .where(col(Court.retention_days).is_not(None))
                .distinct()
            )
            # One query per distinct period (a handful), not per court.
            conditions = [
                and_(col(Court.retention_days) == days, ended < moment - timedelta(days=days))
                for days in periods
                if days is not None
            ]
            if not conditions:
                return []
            query = (
                select(Hearing)
                .join(Case, col(Case.id) == col(Hearing.case_id))
                .join(Court, col(Court.id) == col(Case.court_id))
                .where(col(Hearing.status) == S.ENDED, or_(*conditions))
                .order_by(col(Hearing.id))
            )
            return list(session.exec(query))

    def server_secret(self, name: str) -> bytes:
        """A random 256-bit secret shared by every process on this catalog, made on first use."""
        with self._session() as session:
            found = session.get(ServerSecret, name)
            if found is None:
                try:
                    found = self._insert(
                        session, ServerSecret(name=name, value=secrets.token_hex(32))
                    )
                except IntegrityError:  # another process made it first
                    session.rollback()
                    found = self._get_secret(session, name)
            return bytes.fromhex(found.value)

    @staticmethod
    def _get_secret(session: Session, name: str) -> ServerSecret:
        found = session.get(ServerSecret, name)
        assert found is not None
        return found

    # --- hearing lifecycle (live pipeline) ----------------------------------------------------

    def hearing(self, hearing_id: int) -> Hearing:
        return self._get_one(Hearing, hearing_id)

    def hearing_by_stream_key(self, stream_key: str) -> Hearing | None:
        if not stream_key:
            return None
        with self._session() as session:
            return session.exec(
                select(Hearing).where(col(Hearing.stream_key) == stream_key)
            ).first()

    def set_status(self, hearing_id: int, status: str, *, at: datetime | None = None) -> Hearing:
        """Move a hearing to `status` (see TRANSITIONS; else Conflict). The first LIVE sets
        `started_at`; ENDED, and WITHDRAWN of a running broadcast, set `ended_at`.

        ENDED on a withdrawn hearing changes nothing: it is over already. LIVE from INTERRUPTED
        is the clerk's resume, so ingest must not set LIVE on a reconnect of a cut hearing."""
        status = _choice("status", status, HearingStatus)

        def target(hearing: Hearing) -> str | None:
            if hearing.status == status or (hearing.status, status) == (S.WITHDRAWN, S.ENDED):
                return None
            if status not in TRANSITIONS[hearing.status]:
                raise Conflict(f"hearing {hearing_id} cannot go from {hearing.status} to {status}")
            return status

        return self._transition(hearing_id, target, at)

    def restore(self, hearing_id: int, *, at: datetime | None = None) -> Hearing:
        """Undo a withdrawal: back to ENDED, or to SCHEDULED when it was never broadcast."""

        def target(hearing: Hearing) -> str:
            if hearing.status != S.WITHDRAWN:
                raise Conflict(f"hearing {hearing_id} is {hearing.status}, not withdrawn")
            return S.SCHEDULED if hearing.started_at is None else S.ENDED

        extra = {"withdrawn_reason": "", "withdrawn_at": None}
        return self._transition(hearing_id, target, at, extra)

    def _transition(
        self,
        hearing_id: int,
        target: Callable[[Hearing], str | None],
        at: datetime | None,
        extra: dict[str, Any] | None = None,
    ) -> Hearing:
        moment = to_naive_utc(at) if at is not None else utcnow()
        with self._session() as session:
            for _attempt in range(5):
                hearing = session.get(
                    Hearing, _id("hearing_id", hearing_id), populate_existing=True
                )
                if hearing is None:
                    raise NotFound(f"hearing {hearing_id} not found")
                status = target(hearing)
                if status is None:
                    return hearing
                if self._compare_and_set(session, hearing, status, moment, extra or {}):
                    return self._get(session, Hearing, hearing_id)
        raise Conflict(f"hearing {hearing_id}: its status keeps changing, try again")

    @staticmethod
    def _compare_and_set(
        session: Session, hearing: Hearing, status: str, at: datetime, extra: dict[str, Any]
    ) -> bool:
        values: dict[str, Any] = {"status": status, **extra}
        if status == S.LIVE and hearing.started_at is None:
            values["started_at"] = at
        running = hearing.status in (S.LIVE, S.INTERRUPTED)
        if hearing.ended_at is None and (status == S.ENDED or (status == S.WITHDRAWN and running)):
            values["ended_at"] = at
        # Conditional on the status read: after a concurrent change the caller re-reads.
        statement = (
            update(Hearing)
            .where(col(Hearing.id) == hearing.id, col(Hearing.status) == hearing.status)
            .values(**values)
        )
        changed = session.exec(statement).rowcount == 1
        session.commit()
        session.expire(hearing)
        return changed

    def add_segment(self, segment: Segment) -> Segment:
        segment.program_date_time = to_naive_utc(segment.program_date_time)
        if segment.published_at is not None:
            segment.published_at = to_naive_utc(segment.published_at)
        with self._session() as session:
            try:
                return self._insert(session, segment)
            except IntegrityError as error:
                session.rollback()
                self._get(session, Hearing, segment.hearing_id, "hearing_id")
                raise Conflict(
                    f"segment {segment.sequence} of hearing {segment.hearing_id} "
                    f"({segment.rendition}) exists already",
                    field="sequence",
                ) from error

    def mark_published(
        self, hearing_id: int, sequences: list[int], rendition: str = "source"
    ) -> None:
        """Set `published_at` on these segments (those published already keep their time)."""
        moment = utcnow()
        with self._session() as session:
            for chunk in _chunks(sorted(set(sequences))):
                session.exec(
                    update(Segment)
                    .where(
                        col(Segment.hearing_id) == hearing_id,
                        col(Segment.rendition) == rendition,
                        col(Segment.sequence).in_(chunk),
                        col(Segment.published_at).is_(None),
                    )
                    .values(published_at=moment)
                )
            session.commit()

    def segments(
        self, hearing_id: int, *, rendition: str | None = "source", published_only: bool = False
    ) -> list[Segment]:
        """One rendition's segments in order; `rendition=None`: every rendition's, by name."""
        query = select(Segment).where(col(Segment.hearing_id) == hearing_id)
        if rendition is not None:
            query = query.where(col(Segment.rendition) == rendition)
        if published_only:
            query = query.where(col(Segment.published_at).is_not(None))
        with self._session() as session:
            ordered = query.order_by(col(Segment.rendition), col(Segment.sequence))
            return list(session.exec(ordered))

    def next_sequence(self, hearing_id: int, rendition: str = "source") -> int:
        """The sequence number after the last stored one, or 0: a restarted pipeline goes on."""
        query = select(func.max(Segment.sequence)).where(
            col(Segment.hearing_id) == hearing_id, col(Segment.rendition) == rendition
        )
        with self._session() as session:
            last = session.exec(query).one()
        return 0 if last is None else last + 1

    def set_public_media(
        self, hearing_id: int, *, poster: bool | None = None, previews: bool | None = None
    ) -> None:
        """Record whether the hearing's poster / seek-bar previews are in the public location."""
        values = {k: v for k, v in (("has_poster", poster), ("has_previews", previews))
                  if v is not None}
        with self._session() as session:
            session.exec(update(Hearing).where(col(Hearing.id) == hearing_id).values(**values))
            session.commit()

    def add_view(self, hearing_id: int) -> None:
        # One UPDATE in the database: concurrent viewers never lose each other's counts.
        statement = (
            update(Hearing)
            .where(col(Hearing.id) == hearing_id)
            .values(view_count=col(Hearing.view_count) + 1)
        )
        with self._session() as session:
            updated = session.exec(statement).rowcount
            session.commit()
        if updated == 0:
            raise NotFound(f"hearing {hearing_id} not found")

    def hearings_due_to_end(
        self,
        now: datetime,
        *,
        grace: timedelta = timedelta(minutes=30),
        idle: timedelta = timedelta(minutes=5),
    ) -> list[Hearing]:
        """Live or interrupted hearings past `scheduled_end + grace` that stored no segment
        within `idle`: broadcasts whose publisher is gone. A trial running over its schedule
        keeps sending media and is never ended by a janitor."""
        moment = to_naive_utc(now)
        recent = select(Segment.id).where(
            col(Segment.hearing_id) == col(Hearing.id), col(Segment.created_at) >= moment - idle
        )
        query = (
            select(Hearing)
            .where(
                col(Hearing.status).in_([S.LIVE, S.INTERRUPTED]),
                col(Hearing.scheduled_end) < moment - grace,
                ~recent.exists(),
            )
            .order_by(col(Hearing.scheduled_end), col(Hearing.id))
        )
        with self._session() as session:
            return list(session.exec(query))

    # --- reads (portal, API) ------------------------------------------------------------------

    def case(self, case_id: int) -> Case:
        return self._get_one(Case, case_id)

    def case_by_number(self, case_number: str) -> Case | None:
        """The case with this number, in any bracket spelling."""
        query = select(Case).where(col(Case.case_number).in_(bracket_variants(case_number)))
        with self._session() as session:
            return session.exec(query).first()

    def hearings_for_case(self, case_id: int) -> list[Hearing]:
        query = select(Hearing).where(col(Hearing.case_id) == case_id)
        with self._session() as session:
            return list(session.exec(query.order_by(col(Hearing.scheduled_start), col(Hearing.id))))

    def hearing_view(self, hearing_id: int) -> HearingView:
        with self._session() as session:
            row = session.exec(_views_query().where(col(Hearing.id) == hearing_id)).first()
        if row is None:
            raise NotFound(f"hearing {hearing_id} not found")
        return HearingView(*row)

    def hearing_views(
        self,
        *,
        statuses: Sequence[str] | None = None,
        court_id: int | None = None,
        public_only: bool = True,
        start_from: datetime | None = None,
        start_to: datetime | None = None,
        order: str = "start_asc",
        limit: int = 50,
        offset: int = 0,
        courtroom_id: int | None = None,
        court_level: str | None = None,
        region: str | None = None,
        case_type: str | None = None,
        cause: str | None = None,
        search: str | None = None,
        court_ids: Collection[int] | None = None,
        also_court_ids: Collection[int] = (),
    ) -> list[HearingView]:
        """Hearings with their case, court and courtroom. `public_only` leaves out hearings that
        are not public, not approved, of restricted cases, or withdrawn, except those of
        `also_court_ids` (a clerk's own courts). `court_ids` keeps only these courts.
        `start_from` <= start < `start_to`; `region` matches its start ("北京市" finds
        "北京市 / 朝阳区"); `search` looks in title, parties, case number and cause."""
        filters: list[ColumnElement[bool]] = []
        if public_only and also_court_ids:
            own = col(Case.court_id).in_(sorted(also_court_ids))
            filters.append(or_(and_(*_public_filters()), own))
        elif public_only:
            filters += _public_filters()
        if court_ids is not None:
            filters.append(col(Case.court_id).in_(sorted(court_ids)))
        if statuses is not None:
            values = [_choice("statuses", status, HearingStatus) for status in statuses]
            filters.append(col(Hearing.status).in_(values))
        if start_from is not None:
            filters.append(col(Hearing.scheduled_start) >= to_naive_utc(start_from))
        if start_to is not None:
            filters.append(col(Hearing.scheduled_start) < to_naive_utc(start_to))
        filters += self._case_filters(court_id, courtroom_id, court_level, region, case_type, cause)
        if search and search.strip():
            filters.append(_search_filter(search.strip()))
        return self._views(filters, order, limit, offset)

    @staticmethod
    def _case_filters(
        court_id: int | None,
        courtroom_id: int | None,
        court_level: str | None,
        region: str | None,
        case_type: str | None,
        cause: str | None,
    ) -> list[ColumnElement[bool]]:
        filters: list[ColumnElement[bool]] = []
        if court_id is not None:
            filters.append(col(Case.court_id) == court_id)
        if courtroom_id is not None:
            filters.append(col(Hearing.courtroom_id) == courtroom_id)
        if court_level is not None:
            filters.append(col(Court.level) == _choice("court_level", court_level, CourtLevel))
        if region:
            filters.append(col(Court.region).startswith(region, autoescape=True))
        if case_type:
            filters.append(col(Case.case_type) == case_type)
        if cause:
            filters.append(col(Case.cause) == cause)
        return filters

    def _views(
        self, filters: list[ColumnElement[bool]], order: str, limit: int, offset: int
    ) -> list[HearingView]:
        if order not in _ORDER_BY:
            raise Invalid(f"order must be one of {', '.join(ORDERS)}; got {order!r}", field="order")
        _int("limit", limit, 1, MAX_LIMIT)
        _int("offset", offset, 0, 2**31 - 1)
        query = (
            _views_query().where(*filters).order_by(*_ORDER_BY[order]).limit(limit).offset(offset)
        )
        with self._session() as session:
            return [HearingView(*row) for row in session.exec(query)]

    def live_now(self, limit: int = 50) -> list[HearingView]:
        """Public hearings on air, the interrupted ones included (the portal shows the cut)."""
        return self.hearing_views(statuses=[S.LIVE, S.INTERRUPTED], limit=limit)

    def upcoming(self, *, now: datetime, limit: int = 50) -> list[HearingView]:
        """Public scheduled hearings whose window has not passed, soonest first: a hearing that
        should have started but has no media yet is still expected."""
        filters = [
            *_public_filters(),
            col(Hearing.status) == S.SCHEDULED,
            col(Hearing.scheduled_end) >= to_naive_utc(now),
        ]
        return self._views(filters, "start_asc", limit, 0)

    def recent_replays(self, limit: int = 50) -> list[HearingView]:
        """Public ended hearings, the latest ended first."""
        return self.hearing_views(statuses=[S.ENDED], order="ended_desc", limit=limit)

    def court(self, court_id: int) -> Court:
        return self._get_one(Court, court_id)

    def courts(self) -> list[Court]:
        """All courts, in order of creation."""
        with self._session() as session:
            return list(session.exec(select(Court).order_by(col(Court.id))))

    def court_tree(self) -> list[CourtNode]:
        """All courts as a forest, children in order of creation."""
        courts = self.courts()
        nodes = {court.id: CourtNode(court, []) for court in courts}
        roots: list[CourtNode] = []
        for court in courts:
            parent = nodes.get(court.parent_id)
            (parent.children if parent else roots).append(nodes[court.id])
        return roots

    def court_path(self, court_id: int) -> list[Court]:
        """The court's ancestors and itself, from the root: breadcrumbs, in one query."""
        ancestors = (
            select(col(Court.id), col(Court.parent_id), literal(0).label("depth"))
            .where(col(Court.id) == court_id)
            .cte("ancestors", recursive=True)
        )
        parent = aliased(Court)
        ancestors = ancestors.union_all(
            select(parent.id, parent.parent_id, ancestors.c.depth + 1).where(
                parent.id == ancestors.c.parent_id,
                ancestors.c.depth < 64,  # guards a cycle
            )
        )
        query: SelectOfScalar[Court] = (
            select(Court)
            .join(ancestors, col(Court.id) == ancestors.c.id)
            .order_by(ancestors.c.depth.desc())
        )
        with self._session() as session:
            path = list(session.exec(query))
        if not path:
            raise NotFound(f"court {court_id} not found")
        return path

    def cases(self, *, court_ids: Collection[int] | None = None, limit: int = 500) -> list[Case]:
        """Cases (of these courts), the newest first: what a clerk schedules hearings for."""
        query = select(Case).order_by(col(Case.id).desc()).limit(_int("limit", limit, 1, 5000))
        if court_ids is not None:
            query = query.where(col(Case.court_id).in_(sorted(court_ids)))
        with self._session() as session:
            return list(session.exec(query))

    def courtrooms_of(self, court_ids: Collection[int] | None = None) -> list[Courtroom]:
        """Courtrooms of these courts (all when None), by court then creation."""
        query = select(Courtroom).order_by(col(Courtroom.court_id), col(Courtroom.id))
        if court_ids is not None:
            query = query.where(col(Courtroom.court_id).in_(sorted(court_ids)))
        with self._session() as session:
            return list(session.exec(query))

    def indexable_hearings(self, limit: int = 50_000) -> list[tuple[int, datetime]]:
        """(id, last change) of public hearings search engines may list (not `noindex`)."""
        changed = func.coalesce(
            col(Hearing.ended_at), col(Hearing.started_at), col(Hearing.created_at)
        )
        query = (
            select(Hearing.id, changed)
            .join(Case, col(Case.id) == col(Hearing.case_id))
            .where(*_public_filters(), col(Hearing.noindex).is_(False))
            .order_by(col(Hearing.id).desc())
            .limit(limit)
        )
        with self._session() as session:
            return [(int(hid or 0), moment) for hid, moment in session.exec(query)]

    def courtrooms(self, court_id: int) -> list[Courtroom]:
        query = (
            select(Courtroom).where(col(Courtroom.court_id) == court_id).order_by(col(Courtroom.id))
        )
        with self._session() as session:
            self._get(session, Court, court_id)
            return list(session.exec(query))
