"""study set-up: how labels speak of a person (conseillère / conseiller / conseiller·e), and
accounts created with a one-time password (changed at first sign-in)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gender', sa.String(length=16), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_column('must_change_password')
        batch_op.drop_column('gender')
