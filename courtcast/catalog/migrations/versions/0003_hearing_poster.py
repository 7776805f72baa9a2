"""Hearing poster flag: whether a poster image is in the public location.

The portal shows a poster only when one exists, instead of probing for it (a missing image
would be a failed request in every viewer's browser).

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
        batch.add_column(
            sa.Column("has_poster", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("hearing") as batch:
        batch.drop_column("has_poster")
