"""coding together (issue 18): coding rounds (blind or not; each segment remembers its
round), and the consensus decisions with their provenance

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 17:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('coding_round',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('layer', sa.String(length=16), nullable=False),
    sa.Column('blind', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revealed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], name=op.f('fk_coding_round_created_by_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_coding_round_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coding_round'))
    )
    with op.batch_alter_table('coding_round', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coding_round_study_id'), ['study_id'], unique=False)

    op.create_table('coding_round_coder',
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['round_id'], ['coding_round.id'], name=op.f('fk_coding_round_coder_round_id_coding_round'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_coding_round_coder_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('round_id', 'user_id', name=op.f('pk_coding_round_coder'))
    )
    with op.batch_alter_table('coding_round_coder', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coding_round_coder_user_id'), ['user_id'], unique=False)

    op.create_table('coding_round_recording',
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('recording_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['recording_id'], ['recording.id'], name=op.f('fk_coding_round_recording_recording_id_recording'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['round_id'], ['coding_round.id'], name=op.f('fk_coding_round_recording_round_id_coding_round'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('round_id', 'recording_id', name=op.f('pk_coding_round_recording'))
    )
    with op.batch_alter_table('coding_round_recording', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coding_round_recording_recording_id'), ['recording_id'], unique=False)

    op.create_table('consensus_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recording_id', sa.Integer(), nullable=False),
    sa.Column('annotation_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('start_ms', sa.Integer(), nullable=False),
    sa.Column('end_ms', sa.Integer(), nullable=False),
    sa.Column('sources', sa.JSON(), nullable=False),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['annotation_id'], ['annotation.id'], name=op.f('fk_consensus_decision_annotation_id_annotation'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['decided_by'], ['app_user.id'], name=op.f('fk_consensus_decision_decided_by_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['recording_id'], ['recording.id'], name=op.f('fk_consensus_decision_recording_id_recording'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consensus_decision'))
    )
    with op.batch_alter_table('consensus_decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consensus_decision_annotation_id'), ['annotation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consensus_decision_recording_id'), ['recording_id'], unique=False)

    op.create_table('consensus_source',
    sa.Column('decision_id', sa.Integer(), nullable=False),
    sa.Column('annotation_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['annotation_id'], ['annotation.id'], name=op.f('fk_consensus_source_annotation_id_annotation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decision_id'], ['consensus_decision.id'], name=op.f('fk_consensus_source_decision_id_consensus_decision'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('decision_id', 'annotation_id', name=op.f('pk_consensus_source'))
    )
    with op.batch_alter_table('consensus_source', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consensus_source_annotation_id'), ['annotation_id'], unique=False)

    # Recreated on SQLite: keep AUTOINCREMENT (an id never comes back after a delete).
    with op.batch_alter_table(
        'annotation', schema=None, table_kwargs={'sqlite_autoincrement': True}
    ) as batch_op:
        batch_op.add_column(sa.Column('coding_round_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_annotation_coding_round_id'), ['coding_round_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_annotation_coding_round_id_coding_round'), 'coding_round', ['coding_round_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table(
        'annotation', schema=None, table_kwargs={'sqlite_autoincrement': True}
    ) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_annotation_coding_round_id_coding_round'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_annotation_coding_round_id'))
        batch_op.drop_column('coding_round_id')

    with op.batch_alter_table('consensus_source', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consensus_source_annotation_id'))

    op.drop_table('consensus_source')
    with op.batch_alter_table('consensus_decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consensus_decision_recording_id'))
        batch_op.drop_index(batch_op.f('ix_consensus_decision_annotation_id'))

    op.drop_table('consensus_decision')
    with op.batch_alter_table('coding_round_recording', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coding_round_recording_recording_id'))

    op.drop_table('coding_round_recording')
    with op.batch_alter_table('coding_round_coder', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coding_round_coder_user_id'))

    op.drop_table('coding_round_coder')
    with op.batch_alter_table('coding_round', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coding_round_study_id'))

    op.drop_table('coding_round')
