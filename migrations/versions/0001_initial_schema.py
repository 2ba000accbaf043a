"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 08:23:24.346234
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_user')),
    sa.UniqueConstraint('username', name=op.f('uq_app_user_username'))
    )
    op.create_table('study',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.String(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_study'))
    )
    op.create_table('auth_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_auth_token_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_auth_token_token_hash'))
    )
    with op.batch_alter_table('auth_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_token_user_id'), ['user_id'], unique=False)

    op.create_table('codebook',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_codebook_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_codebook'))
    )
    with op.batch_alter_table('codebook', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_codebook_study_id'), ['study_id'], unique=False)

    op.create_table('membership',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_membership_study_id_study'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_membership_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_membership')),
    sa.UniqueConstraint('study_id', 'user_id', name=op.f('uq_membership_study_id_user_id'))
    )
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_membership_study_id'), ['study_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_membership_user_id'), ['user_id'], unique=False)

    op.create_table('structure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('city', sa.String(length=200), nullable=False),
    sa.Column('centre', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_structure_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_structure')),
    sa.UniqueConstraint('study_id', 'code', name=op.f('uq_structure_study_id_code'))
    )
    with op.batch_alter_table('structure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_structure_study_id'), ['study_id'], unique=False)

    op.create_table('code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('codebook_id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=300), nullable=False),
    sa.Column('description', sa.String(), nullable=False),
    sa.Column('color', sa.String(length=7), nullable=False),
    sa.Column('hotkey', sa.String(length=16), nullable=True),
    sa.Column('archived', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['codebook_id'], ['codebook.id'], name=op.f('fk_code_codebook_id_codebook'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['parent_id'], ['code.id'], name=op.f('fk_code_parent_id_code'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_code'))
    )
    with op.batch_alter_table('code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_code_codebook_id'), ['codebook_id'], unique=False)

    op.create_table('counsellor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('structure_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['structure_id'], ['structure.id'], name=op.f('fk_counsellor_structure_id_structure'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_counsellor_study_id_study'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_counsellor_user_id_app_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_counsellor')),
    sa.UniqueConstraint('study_id', 'code', name=op.f('uq_counsellor_study_id_code'))
    )
    with op.batch_alter_table('counsellor', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_counsellor_structure_id'), ['structure_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_counsellor_study_id'), ['study_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_counsellor_user_id'), ['user_id'], unique=False)

    op.create_table('interview',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('counsellor_id', sa.Integer(), nullable=True),
    sa.Column('notes', sa.String(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['counsellor_id'], ['counsellor.id'], name=op.f('fk_interview_counsellor_id_counsellor'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_interview_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_interview')),
    sa.UniqueConstraint('study_id', 'code', name=op.f('uq_interview_study_id_code'))
    )
    with op.batch_alter_table('interview', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_interview_counsellor_id'), ['counsellor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_interview_study_id'), ['study_id'], unique=False)

    op.create_table('recording',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('counsellor_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.String(), nullable=True),
    sa.Column('original_filename', sa.String(length=255), nullable=False),
    sa.Column('original_size', sa.Integer(), nullable=False),
    sa.Column('original_sha256', sa.String(length=64), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('storage_key', sa.String(length=500), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['counsellor_id'], ['counsellor.id'], name=op.f('fk_recording_counsellor_id_counsellor'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], name=op.f('fk_recording_created_by_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_recording_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recording')),
    sa.UniqueConstraint('study_id', 'code', name=op.f('uq_recording_study_id_code'))
    )
    with op.batch_alter_table('recording', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recording_counsellor_id'), ['counsellor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_recording_study_id'), ['study_id'], unique=False)

    op.create_table('annotation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recording_id', sa.Integer(), nullable=False),
    sa.Column('start_ms', sa.Integer(), nullable=False),
    sa.Column('end_ms', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(), nullable=False),
    sa.Column('speaker', sa.String(length=100), nullable=True),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['app_user.id'], name=op.f('fk_annotation_author_id_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['recording_id'], ['recording.id'], name=op.f('fk_annotation_recording_id_recording'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annotation'))
    )
    with op.batch_alter_table('annotation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_annotation_author_id'), ['author_id'], unique=False)
        batch_op.create_index('ix_annotation_recording_id_start_ms', ['recording_id', 'start_ms'], unique=False)

    op.create_table('interview_recording',
    sa.Column('interview_id', sa.Integer(), nullable=False),
    sa.Column('recording_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['interview_id'], ['interview.id'], name=op.f('fk_interview_recording_interview_id_interview'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recording_id'], ['recording.id'], name=op.f('fk_interview_recording_recording_id_recording'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('interview_id', 'recording_id', name=op.f('pk_interview_recording'))
    )
    with op.batch_alter_table('interview_recording', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_interview_recording_recording_id'), ['recording_id'], unique=False)

    op.create_table('annotation_code',
    sa.Column('annotation_id', sa.Integer(), nullable=False),
    sa.Column('code_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['annotation_id'], ['annotation.id'], name=op.f('fk_annotation_code_annotation_id_annotation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['code_id'], ['code.id'], name=op.f('fk_annotation_code_code_id_code'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('annotation_id', 'code_id', name=op.f('pk_annotation_code'))
    )
    with op.batch_alter_table('annotation_code', schema=None) as batch_op:
        batch_op.create_index('ix_annotation_code_code_id_annotation_id', ['code_id', 'annotation_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('annotation_code', schema=None) as batch_op:
        batch_op.drop_index('ix_annotation_code_code_id_annotation_id')

    op.drop_table('annotation_code')
    with op.batch_alter_table('interview_recording', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_interview_recording_recording_id'))

    op.drop_table('interview_recording')
    with op.batch_alter_table('annotation', schema=None) as batch_op:
        batch_op.drop_index('ix_annotation_recording_id_start_ms')
        batch_op.drop_index(batch_op.f('ix_annotation_author_id'))

    op.drop_table('annotation')
    with op.batch_alter_table('recording', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recording_study_id'))
        batch_op.drop_index(batch_op.f('ix_recording_counsellor_id'))

    op.drop_table('recording')
    with op.batch_alter_table('interview', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_interview_study_id'))
        batch_op.drop_index(batch_op.f('ix_interview_counsellor_id'))

    op.drop_table('interview')
    with op.batch_alter_table('counsellor', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_counsellor_user_id'))
        batch_op.drop_index(batch_op.f('ix_counsellor_study_id'))
        batch_op.drop_index(batch_op.f('ix_counsellor_structure_id'))

    op.drop_table('counsellor')
    with op.batch_alter_table('code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_code_codebook_id'))

    op.drop_table('code')
    with op.batch_alter_table('structure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_structure_study_id'))

    op.drop_table('structure')
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_membership_user_id'))
        batch_op.drop_index(batch_op.f('ix_membership_study_id'))

    op.drop_table('membership')
    with op.batch_alter_table('codebook', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_codebook_study_id'))

    op.drop_table('codebook')
    with op.batch_alter_table('auth_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_token_user_id'))

    op.drop_table('auth_token')
    op.drop_table('study')
    op.drop_table('app_user')

