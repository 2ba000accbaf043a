"""counsellor co-validation (issue 18): what the counsellor said of each coding segment shown
to them (agreed, contested, reformulated), with the segment's coding as it was then

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('co_validation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('annotation_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('words', sa.String(), nullable=False),
    sa.Column('start_ms', sa.Integer(), nullable=False),
    sa.Column('end_ms', sa.Integer(), nullable=False),
    sa.Column('codes', sa.JSON(), nullable=False),
    sa.Column('proposed_code_ids', sa.JSON(), nullable=False),
    sa.Column('said_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['annotation_id'], ['annotation.id'], name=op.f('fk_co_validation_annotation_id_annotation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['app_user.id'], name=op.f('fk_co_validation_recorded_by_id_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['said_by_id'], ['app_user.id'], name=op.f('fk_co_validation_said_by_id_app_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_co_validation')),
    sa.UniqueConstraint('annotation_id', name=op.f('uq_co_validation_annotation_id'))
    )


def downgrade() -> None:
    op.drop_table('co_validation')
