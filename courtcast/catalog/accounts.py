"""Accounts, court assignments, passwords, portal sessions, sign-in throttling and API tokens.

Rights follow the account, not the credential: a token or session of a disabled account stops
working at once, and a clerk's courts are read on every request. Assignment to a court does NOT
cover its child courts: a higher court supervises lower courts but does not run their
courtrooms, so each court a clerk acts for is assigned explicitly (and shows in the audit log).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, delete, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from courtcast.catalog.common import (
    CatalogBase,
    CatalogError,
    Conflict,
    Invalid,
    choice,
    flag,
    text,
    to_naive_utc,
    token_hash,
)
from courtcast.catalog.models import (
    Account,
    AccountCourt,
    ApiToken,
    Court,
    LoginFailure,
    Role,
    WebSession,
    utcnow,
)

# argon2id with the library's RFC 9106 defaults (64 MiB, 3 passes): a stolen catalog costs an
# attacker that much memory per guess. Module-level so tests can swap in a cheap hasher.
hasher = PasswordHasher()

TOKEN_PREFIX = "cc_"
BUILTIN_ADMIN = "builtin-admin"  # owns `courtcast token create --role admin` tokens
SYSTEM_ACTOR = "system"  # automatic actions (retention) in the audit log
RESERVED_USERNAMES = frozenset({BUILTIN_ADMIN, SYSTEM_ACTOR})
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{1,99}")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # hashing megabytes of "password" is a denial of service

SESSION_LIFETIME = timedelta(hours=12)  # absolute: a clerk signs in once a working day
SESSION_IDLE = timedelta(hours=2)
_SESSION_TOUCH = timedelta(minutes=5)  # last_seen_at is written at most this often

LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USERNAME = 5
# Generous: behind a reverse proxy every clerk may share one address.
MAX_FAILURES_PER_IP = 50


class InvalidLogin(CatalogError):
    """Wrong user name or password; deliberately does not say which."""

    code = "invalid_login"


class Throttled(CatalogError):
    code = "throttled"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Actor:
    """Who acts: an account with its role, its courts and its right to approve."""

    account_id: int
    username: str
    role: str
    court_ids: frozenset[int]
    can_approve: bool

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def manages(self, court_id: int) -> bool:
        """May act for this court (schedule, cut, end, withdraw, see ingest details)."""
        return self.is_admin or court_id in self.court_ids

    def may_approve(self, court_id: int) -> bool:
        return self.manages(court_id) and (self.is_admin or self.can_approve)


@dataclass(frozen=True)
class SignedIn:
    actor: Actor
    csrf_token: str


def _username(value: object) -> str:
    name = text(Account, "username", value).lower()
    if not _USERNAME.fullmatch(name):
        raise Invalid(
            "username must be 2-100 characters: lowercase letters, digits and . _ @ -",
            field="username",
        )
    return name


def _password(value: object) -> str:
    if not isinstance(value, str) or not MIN_PASSWORD <= len(value) <= MAX_PASSWORD:
        raise Invalid(
            f"password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters", field="password"
        )
    return value


@cache
def _dummy_hash(current: PasswordHasher) -> str:
    return current.hash("an unknown user's password")


def _verify(stored: str, password: str) -> bool:
    try:
        return hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


class AccountsMixin(CatalogBase):
    # --- accounts -----------------------------------------------------------------------------

    def create_account(
        self,
        *,
        username: str,
        role: str,
        password: str | None = None,
        display_name: str = "",
        court_ids: Collection[int] = (),
        can_approve: bool = False,
    ) -> Account:
        """A new account; without a password it cannot sign in (it can still hold tokens)."""
        name = _username(username)
        if name in RESERVED_USERNAMES:
            raise Conflict(f"username {name} is reserved", field="username")
        account = Account(
            username=name,
            role=choice("role", role, Role),
            display_name=text(Account, "display_name", display_name, required=False),
            password_hash=hasher.hash(_password(password)) if password is not None else "",
            can_approve=flag("can_approve", can_approve),
        )
        with self._session() as session:
            session.add(account)
            try:
                session.flush()
            except IntegrityError as error:
                raise Conflict(f"username {name} exists already", field="username") from error
            assert account.id is not None
            self._assign(session, account.id, court_ids)
            session.commit()
        return account

    @staticmethod
    def _assign(session: Session, account_id: int, court_ids: Collection[int]) -> None:
        session.exec(delete(AccountCourt).where(col(AccountCourt.account_id) == account_id))
        for court_id in sorted(set(court_ids)):
            CatalogBase._get(session, Court, court_id, "court_ids")
            session.add(AccountCourt(account_id=account_id, court_id=court_id))

    def update_account(
        self,
        account_id: int,
        *,
        role: str | None = None,
        display_name: str | None = None,
        can_approve: bool | None = None,
        court_ids: Collection[int] | None = None,
        disabled: bool | None = None,
        password: str | None = None,
    ) -> Account:
        """Change what is given. Disabling signs the account out everywhere at once."""
        with self._session() as session:
            account = self._get(session, Account, account_id, "account_id")
            if role is not None:
                account.role = choice("role", role, Role)
            if display_name is not None:
                account.display_name = text(Account, "display_name", display_name, required=False)
            if can_approve is not None:
                account.can_approve = flag("can_approve", can_approve)
            if password is not None:
                account.password_hash = hasher.hash(_password(password))
            if disabled is not None:
                account.disabled_at = (account.disabled_at or utcnow()) if disabled else None
            if court_ids is not None:
                self._assign(session, account_id, court_ids)
            if disabled or password is not None:
                session.exec(delete(WebSession).where(col(WebSession.account_id) == account_id))
            session.add(account)
            session.commit()
            return account

    def account(self, account_id: int) -> Account:
        return self._get_one(Account, account_id)

    def account_by_username(self, username: str) -> Account | None:
        query = select(Account).where(col(Account.username) == username.strip().lower())
        with self._session() as session:
            return session.exec(query).first()

    def accounts(self) -> list[Account]:
        """Every account but the built-in one, by user name."""
        query = select(Account).where(col(Account.username) != BUILTIN_ADMIN)
        with self._session() as session:
            return list(session.exec(query.order_by(col(Account.username))))

    def account_court_ids(self, account_ids: Iterable[int]) -> dict[int, list[int]]:
        ids = list(account_ids)
        found: dict[int, list[int]] = {account_id: [] for account_id in ids}
        query = select(AccountCourt).where(col(AccountCourt.account_id).in_(ids))
        with self._session() as session:
            for row in session.exec(query.order_by(col(AccountCourt.court_id))):
                found[row.account_id].append(row.court_id)
        return found

    def actor(self, account_id: int) -> Actor | None:
        """The account as an actor; None when it is unknown or disabled."""
        with self._session() as session:
            account = session.get(Account, account_id)
            if account is None or account.disabled_at is not None:
                return None
            return self._actor(session, account)

    @staticmethod
    def _actor(session: Session, account: Account) -> Actor:
        assert account.id is not None
        query = select(AccountCourt.court_id).where(col(AccountCourt.account_id) == account.id)
        return Actor(
            account_id=account.id,
            username=account.username,
            role=account.role,
            court_ids=frozenset(session.exec(query)),
            can_approve=account.can_approve,
        )

    def builtin_admin(self) -> Account:
        """The administrator account that owns command-line tokens (made on first use)."""
        with self._session() as session:
            return self._builtin_admin(session)

    @staticmethod
    def _builtin_admin(session: Session) -> Account:
        query = select(Account).where(col(Account.username) == BUILTIN_ADMIN)
        found = session.exec(query).first()
        if found is not None:
            return found
        account = Account(
            username=BUILTIN_ADMIN,
            display_name="Built-in administrator (command-line tokens)",
            role=Role.ADMIN.value,
            can_approve=True,
        )
        try:
            return CatalogBase._insert(session, account)
        except IntegrityError:  # another process made it first
            session.rollback()
            return session.exec(query).one()

    # --- sign-in ------------------------------------------------------------------------------

    def authenticate(
        self, username: str, password: str, *, ip: str, now: datetime | None = None
    ) -> Actor:
        """The actor for a correct user name and password; InvalidLogin otherwise, Throttled
        after too many failures (even for the right password, so guessing gains nothing)."""
        moment = to_naive_utc(now) if now is not None else utcnow()
        name = username.strip().lower()[:100]
        ip = ip[:64]
        with self._session() as session:
            self._check_throttle(session, name, ip, moment)
            account = session.exec(select(Account).where(col(Account.username) == name)).first()
            usable = (
                account is not None and bool(account.password_hash) and not account.disabled_at
            )
            # An unknown user costs a hash too: timing must not tell which user names exist.
            stored = account.password_hash if account is not None and usable else None
            correct = _verify(stored or _dummy_hash(hasher), password[:MAX_PASSWORD]) and usable
            if not correct or account is None:
                session.add(LoginFailure(username=name, ip=ip, at=moment))
                session.commit()
                raise InvalidLogin("wrong user name or password")
            if hasher.check_needs_rehash(account.password_hash):
                account.password_hash = hasher.hash(password)
                session.add(account)
            session.exec(delete(LoginFailure).where(col(LoginFailure.username) == name))
            session.commit()
            return self._actor(session, account)

    def change_password(self, account_id: int, current: str, new: str, *, ip: str) -> None:
        """The account holder's own change: the current password first, and its failures count
        towards the sign-in throttle (a stolen session must not become a guessing oracle).
        Every session of the account ends, as with an administrator's reset."""
        moment = utcnow()
        with self._session() as session:
            account = self._get(session, Account, account_id, "account_id")
            self._check_throttle(session, account.username, ip[:64], moment)
            if not account.password_hash or not _verify(account.password_hash,
                                                        current[:MAX_PASSWORD]):
                session.add(LoginFailure(username=account.username, ip=ip[:64], at=moment))
                session.commit()
                raise InvalidLogin("the current password is wrong")
            if new == current:
                raise Invalid("choose a password different from the current one",
                              field="password")
        self.update_account(account_id, password=new)

    @staticmethod
    def _check_throttle(session: Session, username: str, ip: str, now: datetime) -> None:
        since = now - LOGIN_WINDOW
        session.exec(delete(LoginFailure).where(col(LoginFailure.at) < since))
        for column, value, limit in (
            (LoginFailure.username, username, MAX_FAILURES_PER_USERNAME),
            (LoginFailure.ip, ip, MAX_FAILURES_PER_IP),
        ):
            query = select(func.count(), func.min(LoginFailure.at)).where(
                col(column) == value, col(LoginFailure.at) >= since
            )
            count, oldest = session.exec(query).one()
            if count >= limit and oldest is not None:
                wait = int((oldest + LOGIN_WINDOW - now).total_seconds()) + 1
                raise Throttled("too many failed sign-ins; try again later", retry_after=wait)
        session.commit()

    # --- portal sessions ----------------------------------------------------------------------

    def open_session(self, account_id: int, *, ip: str = "") -> str:
        """A new session for the account; returns the cookie value (stored only hashed)."""
        cookie = secrets.token_urlsafe(32)
        now = utcnow()
        row = WebSession(
            id=token_hash(cookie),
            account_id=account_id,
            csrf_token=secrets.token_urlsafe(32),
            ip=ip[:64],
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
        with self._session() as session:
            self._get(session, Account, account_id, "account_id")
            self._insert(session, row)
        self.purge_sessions(now)  # sign-ins are rare: a good moment to drop the stale ones
        return cookie

    def session_actor(self, cookie: str, *, now: datetime | None = None) -> SignedIn | None:
        """Who holds this session cookie; None when unknown, expired, idle or disabled."""
        moment = to_naive_utc(now) if now is not None else utcnow()
        query = (
            select(WebSession, Account)
            .join(Account, col(Account.id) == col(WebSession.account_id))
            .where(col(WebSession.id) == token_hash(cookie))
        )
        with self._session() as session:
            row = session.exec(query).first()
            if row is None:
                return None
            web_session, account = row
            idle = web_session.last_seen_at + SESSION_IDLE < moment
            if account.disabled_at is not None or web_session.expires_at < moment or idle:
                session.delete(web_session)
                session.commit()
                return None
            if web_session.last_seen_at + _SESSION_TOUCH < moment:
                web_session.last_seen_at = moment
                session.add(web_session)
                session.commit()
            return SignedIn(self._actor(session, account), web_session.csrf_token)

    def close_session(self, cookie: str) -> None:
        with self._session() as session:
            session.exec(delete(WebSession).where(col(WebSession.id) == token_hash(cookie)))
            session.commit()

    def purge_sessions(self, now: datetime | None = None) -> int:
        """Delete expired sessions; returns how many."""
        moment = to_naive_utc(now) if now is not None else utcnow()
        statement = delete(WebSession).where(
            (col(WebSession.expires_at) < moment)
            | (col(WebSession.last_seen_at) < moment - SESSION_IDLE)
        )
        with self._session() as session:
            count = session.exec(statement).rowcount
            session.commit()
        return count

    # --- API tokens ---------------------------------------------------------------------------

    def create_token(
        self, *, role: str | None = None, label: str = "", account_id: int | None = None
    ) -> str:
        """A new API token of `account_id`, or of the built-in administrator when no account is
        given (then `role` must be admin). Only its hash is stored: the plaintext is returned
        once."""
        if role is not None and (not isinstance(role, str) or role not in set(Role)):
            raise Invalid(f"role must be one of admin, clerk; got {role!r}", field="role")
        label = text(ApiToken, "label", label, required=False)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._session() as session:
            if account_id is None:
                if role not in (None, Role.ADMIN):
                    raise Invalid("a token without an account must have role admin", field="role")
                account = self._builtin_admin(session)
            else:
                account = self._get(session, Account, account_id, "account_id")
            if role is not None and role != account.role:
                raise Invalid(f"account {account.username} has role {account.role}", field="role")
            if account.disabled_at is not None:
                raise Conflict(f"account {account.username} is disabled", field="account_id")
            assert account.id is not None
            row = ApiToken(
                token_hash=token_hash(token), role=account.role, account_id=account.id, label=label
            )
            self._insert(session, row)
        return token

    @staticmethod
    def _token_query(token: str) -> Select[ApiToken, Account]:
        return (
            select(ApiToken, Account)
            .join(Account, col(Account.id) == col(ApiToken.account_id))
            .where(
                col(ApiToken.token_hash) == token_hash(token),
                col(ApiToken.revoked_at).is_(None),
                col(Account.disabled_at).is_(None),
            )
        )

    def check_token(self, token: str) -> ApiToken | None:
        """The token's row when it is known, not revoked and its account is enabled."""
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
            return None
        with self._session() as session:
            row = session.exec(self._token_query(token)).first()
        return row[0] if row is not None else None

    def token_actor(self, token: str) -> Actor | None:
        """Who acts with this token; None when it is unknown, revoked or its account disabled."""
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
            return None
        with self._session() as session:
            row = session.exec(self._token_query(token)).first()
            return self._actor(session, row[1]) if row is not None else None

    def revoke_token(self, token: str) -> bool:
        """Revoke a token; False when it is unknown or was revoked already."""
        return self._revoke(col(ApiToken.token_hash) == token_hash(token))

    def revoke_token_id(self, token_id: int, *, account_id: int | None = None) -> bool:
        """Revoke by id (of `account_id` only, when given); False when nothing was revoked."""
        condition = col(ApiToken.id) == token_id
        if account_id is not None:
            condition = condition & (col(ApiToken.account_id) == account_id)
        return self._revoke(condition)

    def _revoke(self, condition: ColumnElement[bool]) -> bool:
        statement = (
            update(ApiToken)
            .where(condition, col(ApiToken.revoked_at).is_(None))
            .values(revoked_at=utcnow())
        )
        with self._session() as session:
            revoked = session.exec(statement).rowcount
            session.commit()
        return revoked > 0

    def tokens(self, account_id: int) -> list[ApiToken]:
        """The account's tokens, newest first, revoked ones included (their hashes only)."""
        query = select(ApiToken).where(col(ApiToken.account_id) == account_id)
        with self._session() as session:
            return list(session.exec(query.order_by(col(ApiToken.id).desc())))

    def token(self, token_id: int) -> ApiToken:
        return self._get_one(ApiToken, token_id)
