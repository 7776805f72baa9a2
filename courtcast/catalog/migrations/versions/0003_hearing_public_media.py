"""Hearing media flags: whether a poster and seek-bar previews are in the public location.

The portal shows a poster (or previews) only when they exist, instead of probing for them (a
missing image would be a failed request in every viewer's browser).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hearing") as batch:
        for column in ("has_poster", "has_previews"):
            batch.add_column(
                sa.Column(column, sa.Boolean(), nullable=False, server_default=sa.false())
            )


def downgrade() -> None:
    with op.batch_alter_table("hearing") as batch:
        batch.drop_column("has_previews")
        batch.drop_column("has_poster")
