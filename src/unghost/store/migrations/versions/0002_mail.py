"""mail: mailboxes, send attempts, and what the outbox needs to send exactly once

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 15:13:11.767335
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mailboxes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("from_name", sa.String(length=200), nullable=True),
        sa.Column("smtp_host", sa.String(length=253), nullable=False),
        sa.Column("smtp_port", sa.Integer(), nullable=False),
        sa.Column("smtp_tls", sa.String(length=8), nullable=False),
        sa.Column("smtp_user", sa.String(length=320), nullable=True),
        sa.Column("smtp_password", sa.Text(), nullable=True),
        sa.Column("imap_host", sa.String(length=253), nullable=True),
        sa.Column("imap_port", sa.Integer(), nullable=True),
        sa.Column("imap_tls", sa.String(length=8), nullable=True),
        sa.Column("imap_user", sa.String(length=320), nullable=True),
        sa.Column("imap_password", sa.Text(), nullable=True),
        sa.Column("sent_folder", sa.String(length=200), nullable=False),
        sa.Column("copy_to_sent", sa.Boolean(), nullable=False),
        sa.Column("per_day", sa.Integer(), nullable=False),
        sa.Column("per_minute", sa.Integer(), nullable=False),
        sa.Column("paused_until", sa.DateTime(), nullable=True),
        sa.Column("pause_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_mailboxes_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailboxes")),
        sa.UniqueConstraint("owner_id", name=op.f("uq_mailboxes_owner_id")),
    )
    op.create_table(
        "send_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("code", sa.Integer(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["mailbox_id"],
            ["mailboxes.id"],
            name=op.f("fk_send_attempts_mailbox_id_mailboxes"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["outbox.id"],
            name=op.f("fk_send_attempts_outbox_id_outbox"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_attempts")),
    )
    with op.batch_alter_table("send_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_send_attempts_mailbox_id_at", ["mailbox_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_send_attempts_outbox_id"), ["outbox_id"], unique=False)

    # New outbox columns arrive nullable, are filled for any existing row, then tightened.
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deal_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("mailbox_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("from_address", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("to_addresses", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("raw", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("last_attempt_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("copied_at", sa.DateTime(), nullable=True))
    op.execute(
        "UPDATE outbox SET deal_id = (SELECT steps.deal_id FROM steps WHERE steps.id = "
        "outbox.step_id), to_addresses = '[]'"
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("deal_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("to_addresses", existing_type=sa.JSON(), nullable=False)
        batch_op.create_index(batch_op.f("ix_outbox_deal_id"), ["deal_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_mailbox_id"), ["mailbox_id"], unique=False)
        batch_op.create_index(
            "ix_outbox_state_next_attempt_at", ["state", "next_attempt_at"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_mailbox_id_mailboxes"),
            "mailboxes",
            ["mailbox_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_deal_id_deals"), "deals", ["deal_id"], ["id"], ondelete="CASCADE"
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("postal_address", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("postal_address")

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_outbox_deal_id_deals"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_outbox_mailbox_id_mailboxes"), type_="foreignkey")
        batch_op.drop_index("ix_outbox_state_next_attempt_at")
        batch_op.drop_index(batch_op.f("ix_outbox_mailbox_id"))
        batch_op.drop_index(batch_op.f("ix_outbox_deal_id"))
        for column in (
            "copied_at",
            "claimed_by",
            "last_attempt_at",
            "raw",
            "to_addresses",
            "from_address",
            "mailbox_id",
            "deal_id",
        ):
            batch_op.drop_column(column)

    with op.batch_alter_table("send_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_send_attempts_outbox_id"))
        batch_op.drop_index("ix_send_attempts_mailbox_id_at")

    op.drop_table("send_attempts")
    op.drop_table("mailboxes")
