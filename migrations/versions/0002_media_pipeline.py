"""media pipeline: media jobs, probe facts and proxy of recordings

Recordings uploaded before this revision (status `uploaded`) get a queued job.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 10:01:11.891590
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('media_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recording_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('worker', sa.String(length=100), nullable=False),
    sa.Column('error', sa.String(), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['recording_id'], ['recording.id'], name=op.f('fk_media_job_recording_id_recording'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_media_job')),
    sa.UniqueConstraint('recording_id', name=op.f('uq_media_job_recording_id'))
    )
    with op.batch_alter_table('media_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_media_job_status'), ['status'], unique=False)

    with op.batch_alter_table('recording', schema=None) as batch_op:
        batch_op.add_column(sa.Column('media_info', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('proxy_key', sa.String(length=500), nullable=False, server_default=''))

    op.execute(
        "INSERT INTO media_job (recording_id, status, stage, progress, attempts, worker, created_at) "
        "SELECT id, 'queued', '', 0, 0, '', CURRENT_TIMESTAMP FROM recording WHERE status = 'uploaded'"
    )
    op.execute("UPDATE recording SET status = 'queued' WHERE status = 'uploaded'")



def downgrade() -> None:
    op.execute("UPDATE recording SET status = 'uploaded' WHERE status IN ('queued', 'processing')")
    with op.batch_alter_table('recording', schema=None) as batch_op:
        batch_op.drop_column('proxy_key')
        batch_op.drop_column('media_info')

    with op.batch_alter_table('media_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_media_job_status'))

    op.drop_table('media_job')
