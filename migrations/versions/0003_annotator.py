"""annotator: layers, private prepared marks, verbatims, idempotent creates, the reaction
offset of a user

Existing annotations get the layer their origin and codes imply, and stay shared (they were
visible to every member before).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 12:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HAS_KIND = (
    "EXISTS (SELECT 1 FROM annotation_code ac JOIN code c ON c.id = ac.code_id "
    "JOIN codebook b ON b.id = c.codebook_id "
    "WHERE ac.annotation_id = annotation.id AND b.kind = '{kind}')"
)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    # On SQLite the table is rebuilt with AUTOINCREMENT, so that a deleted annotation's id is
    # never given again (a stale queued edit would otherwise reach the newer annotation).
    with op.batch_alter_table(
        'annotation',
        schema=None,
        recreate='always' if sqlite else 'auto',
        table_kwargs={'sqlite_autoincrement': True} if sqlite else {},
    ) as batch_op:
        batch_op.add_column(sa.Column('layer', sa.String(length=16), nullable=False, server_default='schemes'))
        batch_op.add_column(sa.Column('shared', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column('verbatims', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('client_key', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_annotation_client_key'), ['client_key'])

    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reaction_offset_ms', sa.Integer(), nullable=False, server_default='0'))

    op.execute(
        "UPDATE annotation SET layer = CASE origin WHEN 'prepared' THEN 'prepared' "
        "WHEN 'stop' THEN 'stops' WHEN 'transcript' THEN 'transcript' ELSE 'schemes' END"
    )
    for kind in ('phases', 'categories'):
        op.execute(
            f"UPDATE annotation SET layer = '{kind}' WHERE layer = 'schemes' "
            f"AND {_HAS_KIND.format(kind=kind)} AND NOT {_HAS_KIND.format(kind='schemes')}"
        )


def downgrade() -> None:
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_column('reaction_offset_ms')

    with op.batch_alter_table('annotation', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_annotation_client_key'), type_='unique')
        batch_op.drop_column('client_key')
        batch_op.drop_column('verbatims')
        batch_op.drop_column('shared')
        batch_op.drop_column('layer')
