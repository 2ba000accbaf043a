"""signals between app processes sharing an SQLite database (issue 20): media grants taken
back, heard by every process

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('process_signal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('origin', sa.String(length=32), nullable=False),
    sa.Column('topic', sa.String(length=16), nullable=False),
    sa.Column('message', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_process_signal')),
    sqlite_autoincrement=True
    )


def downgrade() -> None:
    op.drop_table('process_signal')
