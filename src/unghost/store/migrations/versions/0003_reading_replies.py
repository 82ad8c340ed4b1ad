"""replies: reading them back over IMAP (cursors, reactions, one ingest per message)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 15:22:24.658423
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "imap_cursors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), nullable=False),
        sa.Column("folder", sa.String(length=200), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.Column("failed_uid", sa.BigInteger(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mailbox_id"],
            ["mailboxes.id"],
            name=op.f("fk_imap_cursors_mailbox_id_mailboxes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imap_cursors")),
        sa.UniqueConstraint("mailbox_id", "folder", name=op.f("uq_imap_cursors_mailbox_id_folder")),
    )
    with op.batch_alter_table("replies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reaction", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("referred_contact_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            "ix_replies_owner_id_message_id", ["owner_id", "message_id"], unique=True
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_replies_referred_contact_id_contacts"),
            "contacts",
            ["referred_contact_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("replies", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_replies_referred_contact_id_contacts"), type_="foreignkey"
        )
        batch_op.drop_index("ix_replies_owner_id_message_id")
        batch_op.drop_column("referred_contact_id")
        batch_op.drop_column("reaction")

    op.drop_table("imap_cursors")
