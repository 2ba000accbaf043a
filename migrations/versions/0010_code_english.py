"""codes in English too: an optional label and description, for the interface in English and
the ELAN vocabularies (existing codes get "": no English)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('code', schema=None) as batch_op:
        batch_op.add_column(sa.Column('label_en', sa.String(length=300), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('description_en', sa.String(), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('code', schema=None) as batch_op:
        batch_op.drop_column('description_en')
        batch_op.drop_column('label_en')
