"""Accounts, sessions, audit log and disclosure controls.

Adds accounts and their court assignments, portal sessions, sign-in failures, the append-only
audit log (triggers refuse UPDATE/DELETE on SQLite and PostgreSQL), server secrets; hearing
approval, withdrawal reason and `noindex`; per-court retention, default profile and timestamp
overlay; and the owning account of each API token.

Existing data: API tokens made before accounts are given to the built-in administrator account
(as `courtcast token create --role admin` now does), and existing hearings count as approved at
their creation (they were scheduled when no approval existed), with no approver.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUILTIN_ADMIN = "builtin-admin"  # courtcast.catalog.accounts.BUILTIN_ADMIN, frozen here
APPEND_ONLY_MESSAGE = "the audit log is append-only"


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), primary_key=True)


def _at(name: str = "created_at", nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(), nullable=nullable)


def _index(table: str, *columns: str) -> None:
    op.create_index(f"ix_{table}_{'_'.join(columns)}", table, list(columns))


def upgrade() -> None:
    _create_accounts()
    _create_sessions_and_failures()
    _create_audit()
    op.create_table(
        "serversecret",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
        _at(),
    )
    _alter_court()
    _alter_hearing()
    _alter_apitoken()


def _create_accounts() -> None:
    op.create_table(
        "account",
        _id(),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("can_approve", sa.Boolean(), nullable=False),
        _at("disabled_at", nullable=True),
        _at(),
        sa.UniqueConstraint("username", name="uq_account_username"),
    )
    op.create_table(
        "accountcourt",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("court_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "court_id", name="pk_accountcourt"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name="fk_accountcourt_account_id_account"
        ),
        sa.ForeignKeyConstraint(["court_id"], ["court.id"], name="fk_accountcourt_court_id_court"),
    )
    _index("accountcourt", "court_id")


def _create_sessions_and_failures() -> None:
    op.create_table(
        "websession",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        _at(),
        _at("last_seen_at"),
        _at("expires_at"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name="fk_websession_account_id_account"
        ),
    )
    _index("websession", "account_id")
    _index("websession", "expires_at")
    op.create_table(
        "loginfailure",
        _id(),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        _at("at"),
    )
    _index("loginfailure", "username", "at")
    _index("loginfailure", "ip", "at")


def _create_audit() -> None:
    op.create_table(
        "auditentry",
        _id(),
        _at("at"),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("court_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("hearing_id", sa.Integer(), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
    )
    for column in ("at", "account_id", "action", "court_id", "hearing_id"):
        _index("auditentry", column)
    _append_only("auditentry")


def _append_only(table: str) -> None:
    """Triggers that refuse UPDATE and DELETE (TRUNCATE, a superuser's tool, stays possible)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
        )
        return
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"
            )


def _alter_court() -> None:
    with op.batch_alter_table("court") as batch:
        batch.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("default_profile", sa.String(20), nullable=True))
        batch.add_column(
            sa.Column(
                "timestamp_overlay", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def _alter_hearing() -> None:
    with op.batch_alter_table("hearing") as batch:
        batch.add_column(_at("approved_at", nullable=True))
        batch.add_column(sa.Column("approved_by", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("noindex", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(_at("withdrawn_at", nullable=True))
        batch.add_column(
            sa.Column("withdrawn_reason", sa.String(1000), nullable=False, server_default="")
        )
        batch.create_foreign_key(
            "fk_hearing_approved_by_account", "account", ["approved_by"], ["id"]
        )
    hearing = sa.table("hearing", sa.column("approved_at"), sa.column("created_at"))
    op.execute(hearing.update().values(approved_at=hearing.c.created_at))


def _alter_apitoken() -> None:
    bind = op.get_bind()
    tokens = bind.execute(sa.text("SELECT count(*) FROM apitoken")).scalar_one()
    with op.batch_alter_table("apitoken") as batch:
        batch.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
    if tokens:
        account = sa.table(
            "account",
            *(sa.column(name) for name in ("username", "display_name", "role", "password_hash",
                                             "can_approve", "created_at")),
        )
        op.execute(account.insert().values(
            username=BUILTIN_ADMIN, display_name="Built-in administrator (command-line tokens)",
            role="admin", password_hash="", can_approve=True,
            created_at=datetime.now(UTC).replace(tzinfo=None),
        ))
        op.execute(
            "UPDATE apitoken SET account_id = "
            f"(SELECT id FROM account WHERE username = '{BUILTIN_ADMIN}')"
        )
    with op.batch_alter_table("apitoken") as batch:
        batch.alter_column("account_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            "fk_apitoken_account_id_account", "account", ["account_id"], ["id"]
        )
        batch.create_index("ix_apitoken_account_id", ["account_id"])


def downgrade() -> None:
    with op.batch_alter_table("apitoken") as batch:
        batch.drop_index("ix_apitoken_account_id")
        batch.drop_constraint("fk_apitoken_account_id_account", type_="foreignkey")
        batch.drop_column("account_id")
    with op.batch_alter_table("hearing") as batch:
        batch.drop_constraint("fk_hearing_approved_by_account", type_="foreignkey")
        for column in ("withdrawn_reason", "withdrawn_at", "noindex", "approved_by",
                       "approved_at"):
            batch.drop_column(column)
    with op.batch_alter_table("court") as batch:
        for column in ("timestamp_overlay", "default_profile", "retention_days"):
            batch.drop_column(column)
    for table in ("serversecret", "auditentry", "loginfailure", "websession", "accountcourt",
                  "account"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS auditentry_append_only()")
