"""live sessions: the shared playhead of an auto-confrontation and its event stream

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 14:03:56.300205
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('live_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('interview_id', sa.Integer(), nullable=True),
    sa.Column('recording_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('playing', sa.Boolean(), nullable=False),
    sa.Column('position_ms', sa.Integer(), nullable=False),
    sa.Column('position_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rate', sa.Float(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], name=op.f('fk_live_session_created_by_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['interview_id'], ['interview.id'], name=op.f('fk_live_session_interview_id_interview'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['recording_id'], ['recording.id'], name=op.f('fk_live_session_recording_id_recording'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_live_session_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_session')),
    sa.UniqueConstraint('code', name=op.f('uq_live_session_code'))
    )
    with op.batch_alter_table('live_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_live_session_interview_id'), ['interview_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_live_session_recording_id'), ['recording_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_live_session_study_id'), ['study_id'], unique=False)

    op.create_table('live_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['app_user.id'], name=op.f('fk_live_event_author_id_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['live_session.id'], name=op.f('fk_live_event_session_id_live_session'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_event')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('live_event', schema=None) as batch_op:
        batch_op.create_index('ix_live_event_session_id_id', ['session_id', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('live_event', schema=None) as batch_op:
        batch_op.drop_index('ix_live_event_session_id_id')

    op.drop_table('live_event')
    with op.batch_alter_table('live_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_live_session_study_id'))
        batch_op.drop_index(batch_op.f('ix_live_session_recording_id'))
        batch_op.drop_index(batch_op.f('ix_live_session_interview_id'))

    op.drop_table('live_session')
