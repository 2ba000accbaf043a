"""login throttling: failed sign-ins, counted per account and per address in the database;
a recording's category wide enough for "autoconfrontation" (17 characters: PostgreSQL refused it)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _recording():
    """The recording table, rebuilt on SQLite (no ALTER COLUMN there) with its AUTOINCREMENT."""
    sqlite = op.get_bind().dialect.name == 'sqlite'
    return op.batch_alter_table(
        'recording',
        schema=None,
        recreate='always' if sqlite else 'auto',
        table_kwargs={'sqlite_autoincrement': True} if sqlite else {},
    )


def upgrade() -> None:
    op.create_table('login_failure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failure')),
    )
    with op.batch_alter_table('login_failure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_failure_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_failure_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_failure_username'), ['username'], unique=False)
    with _recording() as batch_op:
        batch_op.alter_column(
            'category', existing_type=sa.String(length=16), type_=sa.String(length=32),
            existing_nullable=False, existing_server_default='session',
        )


def downgrade() -> None:
    with _recording() as batch_op:
        batch_op.alter_column(
            'category', existing_type=sa.String(length=32), type_=sa.String(length=16),
            existing_nullable=False, existing_server_default='session',
        )
    op.drop_table('login_failure')
