"""Loading the byte-exact AMI captures in ../shared/ami-captures."""
from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import SHARED

CAPTURES = SHARED / "ami-captures"


def capture_paths() -> list[Path]:
    return sorted(CAPTURES.glob("*.jsonl"))


def load(path: Path):
    with open(path, encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    return records[0], records[1:]


def record_bytes(record) -> bytes:
    return record["data"].encode("utf-8") if "data" in record else bytes.fromhex(record["hex"])


def wire_bytes(records, conn, direction) -> bytes:
    """Everything one side sent on one connection, exactly as sent."""
    return b"".join(
        record_bytes(r)
        for r in records
        if r["type"] == "data" and r["conn"] == conn and r["dir"] == direction
    )


def ami_connections(meta, records) -> list[int]:
    """Connections that carry AMI (the AudioSocket ones in 19 do not)."""
    conns = []
    for r in records:
        if r["type"] == "data" and r["dir"] == "S" and r["conn"] not in conns:
            if "data" in r and r["data"].startswith("Asterisk Call Manager/"):
                conns.append(r["conn"])
    return conns


def server_frames(records, conn) -> list[bytes]:
    """The server's frames as recorded (greeting first)."""
    return [record_bytes(r) for r in records if r["type"] == "data" and r["conn"] == conn and r["dir"] == "S"]
