"""live stops, comments, agenda, presence; the interview's own recording; recording category

Existing recordings are counselling sessions (category "session"); interviews get no recording of
their own until one is chosen.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 15:10:23.550740
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('live_agenda_item',
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('prepared_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['prepared_id'], ['annotation.id'], name=op.f('fk_live_agenda_item_prepared_id_annotation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['live_session.id'], name=op.f('fk_live_agenda_item_session_id_live_session'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', 'prepared_id', name=op.f('pk_live_agenda_item'))
    )
    op.create_table('live_presence',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['live_session.id'], name=op.f('fk_live_presence_session_id_live_session'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_live_presence_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_presence'))
    )
    with op.batch_alter_table('live_presence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_live_presence_session_id'), ['session_id'], unique=False)

    op.create_table('live_stop',
    sa.Column('annotation_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resumed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('prepared_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['annotation_id'], ['annotation.id'], name=op.f('fk_live_stop_annotation_id_annotation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prepared_id'], ['annotation.id'], name=op.f('fk_live_stop_prepared_id_annotation'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['live_session.id'], name=op.f('fk_live_stop_session_id_live_session'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('annotation_id', name=op.f('pk_live_stop'))
    )
    with op.batch_alter_table('live_stop', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_live_stop_session_id'), ['session_id'], unique=False)

    op.create_table('live_comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stop_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('speaker', sa.String(length=16), nullable=False),
    sa.Column('text', sa.String(), nullable=False),
    sa.Column('said_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['app_user.id'], name=op.f('fk_live_comment_author_id_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['stop_id'], ['live_stop.annotation_id'], name=op.f('fk_live_comment_stop_id_live_stop'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_comment')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('live_comment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_live_comment_stop_id'), ['stop_id'], unique=False)

    with op.batch_alter_table('interview', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ac_recording_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('ac_started_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_interview_ac_recording_id_recording'), 'recording', ['ac_recording_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('recording', schema=None) as batch_op:
        batch_op.add_column(sa.Column('category', sa.String(length=16), nullable=False, server_default='session'))



def downgrade() -> None:
    with op.batch_alter_table('recording', schema=None) as batch_op:
        batch_op.drop_column('category')

    with op.batch_alter_table('interview', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_interview_ac_recording_id_recording'), type_='foreignkey')
        batch_op.drop_column('ac_started_at')
        batch_op.drop_column('ac_recording_id')

    with op.batch_alter_table('live_comment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_live_comment_stop_id'))

    op.drop_table('live_comment')
    with op.batch_alter_table('live_stop', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_live_stop_session_id'))

    op.drop_table('live_stop')
    with op.batch_alter_table('live_presence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_live_presence_session_id'))

    op.drop_table('live_presence')
    op.drop_table('live_agenda_item')
