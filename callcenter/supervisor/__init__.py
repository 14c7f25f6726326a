"""The supervisor page: live agents with listen/whisper/barge, queues, abandoned calls, SLA risk."""
