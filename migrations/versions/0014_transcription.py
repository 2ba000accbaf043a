"""automatic transcription (issue 21): its jobs, and the draft cues the researcher corrects

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('transcription_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recording_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('worker', sa.String(length=100), nullable=False),
    sa.Column('error', sa.String(), nullable=True),
    sa.Column('model', sa.String(length=200), nullable=False),
    sa.Column('requested_by', sa.Integer(), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['recording_id'], ['recording.id'], name=op.f('fk_transcription_job_recording_id_recording'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by'], ['app_user.id'], name=op.f('fk_transcription_job_requested_by_app_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transcription_job')),
    sa.UniqueConstraint('recording_id', name=op.f('uq_transcription_job_recording_id'))
    )
    op.create_index(op.f('ix_transcription_job_status'), 'transcription_job', ['status'], unique=False)
    op.create_table('draft_cue',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recording_id', sa.Integer(), nullable=False),
    sa.Column('start_ms', sa.Integer(), nullable=False),
    sa.Column('end_ms', sa.Integer(), nullable=False),
    sa.Column('speaker', sa.String(length=100), nullable=False),
    sa.Column('text', sa.String(), nullable=False),
    sa.Column('words', sa.JSON(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['recording_id'], ['recording.id'], name=op.f('fk_draft_cue_recording_id_recording'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_draft_cue')),
    sqlite_autoincrement=True
    )
    op.create_index(op.f('ix_draft_cue_recording_id'), 'draft_cue', ['recording_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_draft_cue_recording_id'), table_name='draft_cue')
    op.drop_table('draft_cue')
    op.drop_index(op.f('ix_transcription_job_status'), table_name='transcription_job')
    op.drop_table('transcription_job')
