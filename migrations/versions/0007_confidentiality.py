"""confidentiality: consent records, the audit log, study settings, co-validation, ids never reused

`recording.training_consent` becomes consent records: a recording that had it gets one record
per party with the scopes research and training, dated the day of the migration. Existing studies
keep playing as before (`consent_required` off); new studies start with it on. The audit log is
append-only: triggers refuse UPDATE and DELETE on both databases. Studies, recordings, interviews
and live sessions get AUTOINCREMENT on SQLite, so that an erased one's id never comes back.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 16:30:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_APPEND_ONLY_SQLITE = """
CREATE TRIGGER audit_event_no_{what} BEFORE {WHAT} ON audit_event
BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END
"""
_APPEND_ONLY_PG_FUNCTION = """
CREATE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'audit_event is append-only'; END
$$ LANGUAGE plpgsql
"""
_APPEND_ONLY_PG = """
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()
"""
_AUTOINCREMENT = ('study', 'recording', 'interview', 'live_session')


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    op.create_table('consent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recording_id', sa.Integer(), nullable=False),
    sa.Column('party', sa.String(length=16), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('given_on', sa.Date(), nullable=False),
    sa.Column('recorded_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_on', sa.Date(), nullable=True),
    sa.Column('withdrawn_by', sa.Integer(), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['recorded_by'], ['app_user.id'], name=op.f('fk_consent_recorded_by_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['recording_id'], ['recording.id'], name=op.f('fk_consent_recording_id_recording'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['withdrawn_by'], ['app_user.id'], name=op.f('fk_consent_withdrawn_by_app_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent')),
    sqlite_autoincrement=True,
    )
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_recording_id'), ['recording_id'], unique=False)

    op.create_table('audit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=True),
    sa.Column('recording_id', sa.Integer(), nullable=True),
    sa.Column('object_type', sa.String(length=32), nullable=False),
    sa.Column('object_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('credential', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event')),
    sqlite_autoincrement=True,
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_event_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_event_at'), ['at'], unique=False)
        batch_op.create_index('ix_audit_event_study_id_id', ['study_id', 'id'], unique=False)
    if sqlite:
        for what in ('update', 'delete'):
            op.execute(_APPEND_ONLY_SQLITE.format(what=what, WHAT=what.upper()))
    else:
        op.execute(_APPEND_ONLY_PG_FUNCTION)
        op.execute(_APPEND_ONLY_PG)

    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.add_column(sa.Column('co_validation', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('consent_required', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('code_pattern', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('code_example', sa.String(length=64), nullable=False, server_default=''))
    # Batch mode may copy the table: keep its AUTOINCREMENT (ids of annotations never return).
    with op.batch_alter_table(
        'annotation', schema=None, table_kwargs={'sqlite_autoincrement': True}
    ) as batch_op:
        batch_op.add_column(sa.Column('shown_to_counsellor', sa.Boolean(), nullable=False, server_default=sa.false()))

    consent = sa.table(
        'consent',
        sa.column('recording_id', sa.Integer()),
        sa.column('party', sa.String()),
        sa.column('scopes', sa.JSON()),
        sa.column('given_on', sa.Date()),
        sa.column('created_at', sa.DateTime(timezone=True)),
    )
    with_training = [
        row[0]
        for row in op.get_bind().execute(
            sa.text('SELECT id FROM recording WHERE training_consent ORDER BY id')
        )
    ]
    today, now = date.today(), datetime.now(UTC)
    rows = [
        {'recording_id': rid, 'party': party, 'scopes': ['research', 'training'],
         'given_on': today, 'created_at': now}
        for rid in with_training
        for party in ('counsellor', 'beneficiary')
    ]
    if rows:
        op.bulk_insert(consent, rows)
    with op.batch_alter_table('recording', schema=None) as batch_op:
        batch_op.drop_column('training_consent')

    if sqlite:
        for name in _AUTOINCREMENT:
            with op.batch_alter_table(
                name, recreate='always', table_kwargs={'sqlite_autoincrement': True}
            ):
                pass


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    with op.batch_alter_table('recording', schema=None) as batch_op:
        batch_op.add_column(sa.Column('training_consent', sa.Boolean(), nullable=False, server_default=sa.false()))
    # Back to the flag: off everywhere (a record's scopes are not read back; the safe side).
    with op.batch_alter_table(
        'annotation', schema=None, table_kwargs={'sqlite_autoincrement': True}
    ) as batch_op:
        batch_op.drop_column('shown_to_counsellor')
    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.drop_column('code_example')
        batch_op.drop_column('code_pattern')
        batch_op.drop_column('consent_required')
        batch_op.drop_column('co_validation')
    if not sqlite:
        op.execute('DROP TRIGGER audit_event_append_only ON audit_event')
        op.execute('DROP FUNCTION audit_event_append_only()')
    op.drop_table('audit_event')
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_recording_id'))
    op.drop_table('consent')
