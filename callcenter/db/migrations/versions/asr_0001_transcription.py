"""Speech: the transcription job queue and stored transcripts.

Revision ID: asr_0001_transcription
Revises: 0001_base
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "asr_0001_transcription"
down_revision = "0001_base"
branch_labels = ("asr",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transcription_jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("recording_path", sa.String(1024), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("claimed_by", sa.String(128), nullable=True),
        sa.Column("claimed_at", sa.DateTime, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=True),
        sa.Column("error_id", sa.String(64), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_transcription_jobs"),
    )
    op.create_index("ix_transcription_jobs_call_id", "transcription_jobs", ["call_id"])
    op.create_index("ix_transcription_jobs_status_id", "transcription_jobs", ["status", "id"])
    op.create_table(
        "transcripts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(64), nullable=True),
        sa.Column("job_id", sa.Integer, nullable=True),
        sa.Column("recording_path", sa.String(1024), nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("words", sa.JSON, nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("duration", sa.Float, nullable=False),
        sa.Column("rtf", sa.Float, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_transcripts"),
        sa.ForeignKeyConstraint(["job_id"], ["transcription_jobs.id"], ondelete="SET NULL",
                                name="fk_transcripts_job_id_transcription_jobs"),
    )
    op.create_index("ix_transcripts_call_id", "transcripts", ["call_id"])


def downgrade() -> None:
    op.drop_index("ix_transcripts_call_id", table_name="transcripts")
    op.drop_table("transcripts")
    op.drop_index("ix_transcription_jobs_status_id", table_name="transcription_jobs")
    op.drop_index("ix_transcription_jobs_call_id", table_name="transcription_jobs")
    op.drop_table("transcription_jobs")
