"""Initial catalog: courts, courtrooms, cases, hearings, segments, API tokens.

Written by hand to match `courtcast.catalog.models`; `tests/catalog/test_db.py` compares the
migrated schema with the models on SQLite and PostgreSQL. Constraints carry names so that later
migrations can drop or alter them (SQLite batch mode needs the names).

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), primary_key=True)


def _created_at() -> sa.Column[datetime]:
    return sa.Column("created_at", sa.DateTime(), nullable=False)


def _index(table: str, *columns: str) -> None:
    op.create_index(f"ix_{table}_{'_'.join(columns)}", table, list(columns))


def upgrade() -> None:
    op.create_table(
        "court",
        _id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("region", sa.String(200), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(20), nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(["parent_id"], ["court.id"], name="fk_court_parent_id_court"),
    )
    for column in ("name", "level", "region", "parent_id"):
        _index("court", column)

    op.create_table(
        "courtroom",
        _id(),
        sa.Column("court_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(["court_id"], ["court.id"], name="fk_courtroom_court_id_court"),
    )
    _index("courtroom", "court_id")

    op.create_table(
        "case",
        _id(),
        sa.Column("court_id", sa.Integer(), nullable=False),
        sa.Column("case_number", sa.String(100), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("case_type", sa.String(50), nullable=False),
        sa.Column("cause", sa.String(200), nullable=False),
        sa.Column("parties", sa.String(1000), nullable=False),
        sa.Column("judges", sa.String(500), nullable=False),
        sa.Column("restriction", sa.String(30), nullable=True),
        sa.Column("restriction_reason", sa.String(1000), nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(["court_id"], ["court.id"], name="fk_case_court_id_court"),
        sa.UniqueConstraint("case_number", name="uq_case_case_number"),
    )
    for column in ("court_id", "case_type", "cause"):
        _index("case", column)

    op.create_table(
        "hearing",
        _id(),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("courtroom_id", sa.Integer(), nullable=False),
        sa.Column("scheduled_start", sa.DateTime(), nullable=False),
        sa.Column("scheduled_end", sa.DateTime(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("stream_key", sa.String(64), nullable=False),
        sa.Column("record_token", sa.String(64), nullable=False),
        sa.Column("delay_seconds", sa.Integer(), nullable=False),
        sa.Column("profile", sa.String(20), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("view_count", sa.Integer(), nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name="fk_hearing_case_id_case"),
        sa.ForeignKeyConstraint(
            ["courtroom_id"], ["courtroom.id"], name="fk_hearing_courtroom_id_courtroom"
        ),
        sa.UniqueConstraint("stream_key", name="uq_hearing_stream_key"),
    )
    _index("hearing", "case_id")
    _index("hearing", "courtroom_id")
    op.create_index("ix_hearing_status_start", "hearing", ["status", "scheduled_start"])

    op.create_table(
        "segment",
        _id(),
        sa.Column("hearing_id", sa.Integer(), nullable=False),
        sa.Column("rendition", sa.String(20), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("uri", sa.String(200), nullable=False),
        sa.Column("init_uri", sa.String(200), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("program_date_time", sa.DateTime(), nullable=False),
        sa.Column("discontinuity", sa.Boolean(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["hearing_id"], ["hearing.id"], name="fk_segment_hearing_id_hearing"
        ),
        sa.UniqueConstraint(
            "hearing_id", "rendition", "sequence", name="uq_segment_hearing_id_rendition_sequence"
        ),
    )
    _index("segment", "hearing_id")

    op.create_table(
        "apitoken",
        _id(),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        _created_at(),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_apitoken_token_hash"),
    )


def downgrade() -> None:
    for table in ("apitoken", "segment", "hearing", "case", "courtroom", "court"):
        op.drop_table(table)  # their indexes and constraints go with them
