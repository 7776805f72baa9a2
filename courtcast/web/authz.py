"""Who may do what: one table that the JSON API and the clerk and admin pages both consult.

An administrator may do everything. A clerk acts for the courts assigned to them (not their
child courts, see `courtcast.catalog.accounts`). Approving a broadcast, and restoring a
withdrawn hearing (which shows it again), also need the account's approval right.
"""

from __future__ import annotations

from enum import Enum

from courtcast.catalog.service import Actor


class Scope(Enum):
    ADMIN = "administrators only"
    COURT = "the court's clerks"
    APPROVER = "the court's clerks with the approval right"


RULES: dict[str, Scope] = {
    "court.create": Scope.ADMIN,
    "court.update": Scope.ADMIN,
    "courtroom.create": Scope.COURT,
    "case.create": Scope.COURT,
    "case.read_private": Scope.COURT,  # the restriction and its reason
    "hearing.create": Scope.COURT,
    "hearing.read_private": Scope.COURT,  # stream key, ingest URLs, record_url
    "hearing.approve": Scope.APPROVER,
    "hearing.cut": Scope.COURT,
    "hearing.resume": Scope.COURT,
    "hearing.end": Scope.COURT,
    "hearing.withdraw": Scope.COURT,
    "hearing.restore": Scope.APPROVER,
    "hearing.rotate_key": Scope.COURT,
    "hearing.publish": Scope.COURT,  # the browser publisher page, which holds the stream key
    "hearing.monitor": Scope.COURT,  # the low-delay WHEP monitor
    "account.manage": Scope.ADMIN,
    "audit.read": Scope.ADMIN,
}


class Denied(Exception):
    """The actor may not do this: 403 from the API and the pages alike."""

    def __init__(self, actor: Actor, action: str, court_id: int | None) -> None:
        where = f" for court {court_id}" if court_id is not None else ""
        message = f"{actor.username} may not {action}{where}: {RULES[action].value} may"
        super().__init__(message)
        self.message = message


def allowed(actor: Actor | None, action: str, court_id: int | None = None) -> bool:
    if actor is None:
        return False
    scope = RULES[action]
    if scope is Scope.ADMIN or court_id is None:
        return actor.is_admin
    if scope is Scope.APPROVER:
        return actor.may_approve(court_id)
    return actor.manages(court_id)


def require(actor: Actor, action: str, court_id: int | None = None) -> None:
    if not allowed(actor, action, court_id):
        raise Denied(actor, action, court_id)
