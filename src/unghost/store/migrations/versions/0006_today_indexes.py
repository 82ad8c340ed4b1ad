"""today: indexes for open steps by due time, missed-meeting steps, meetings just passed

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 18:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("steps", schema=None) as batch_op:
        batch_op.drop_index("ix_steps_status_due")
        batch_op.create_index(
            "ix_steps_status_due_deal_id", ["status", "due", "deal_id"], unique=False
        )
        batch_op.create_index("ix_steps_play_status_due", ["play", "status", "due"], unique=False)
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.create_index("ix_meetings_status_at", ["status", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_index("ix_meetings_status_at")
    with op.batch_alter_table("steps", schema=None) as batch_op:
        batch_op.drop_index("ix_steps_play_status_due")
        batch_op.drop_index("ix_steps_status_due_deal_id")
        batch_op.create_index("ix_steps_status_due", ["status", "due"], unique=False)
