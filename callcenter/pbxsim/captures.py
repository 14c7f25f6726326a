"""Reading the ``ami-capture/1`` recordings in ``../shared/ami-captures``.

A capture is JSON Lines: a meta record, then ``open``/``data``/``close``/
``note`` records in the order they happened (see the README beside them).
These helpers give the client's writes, the server's frames, and a parsed
view of each AMI message as ordered ``(key, value)`` pairs.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Capture:
    path: Path
    meta: dict
    records: list

    @property
    def flow(self) -> str:
        return self.meta["flow"]

    def connections(self) -> list[int]:
        """AMI connections (those whose data is text), in opening order."""
        out = []
        for r in self.records:
            if r["type"] == "open" and not self.is_binary(r["conn"]) and r["conn"] not in out:
                out.append(r["conn"])
        return out

    def is_binary(self, conn: int) -> bool:
        return any(r["type"] == "data" and r["conn"] == conn and "hex" in r for r in self.records)

    def wire_bytes(self, conn: int, direction: str) -> bytes:
        """Everything one side sent on one connection, exactly as sent."""
        out = b""
        for r in self.records:
            if r["type"] == "data" and r["conn"] == conn and r["dir"] == direction:
                out += r["data"].encode("utf-8") if "data" in r else bytes.fromhex(r["hex"])
        return out

    def client_writes(self) -> list[tuple[float, int, bytes]]:
        """``(t, conn, bytes)`` of every client write on an AMI connection."""
        return [(r["t"], r["conn"], r["data"].encode("utf-8")) for r in self.records
                if r["type"] == "data" and r["dir"] == "C" and "data" in r]

    def opens(self) -> list[tuple[float, int]]:
        return [(r["t"], r["conn"]) for r in self.records if r["type"] == "open" and not self.is_binary(r["conn"])]

    def server_messages(self, conn: int) -> list[list[tuple[str, str]]]:
        """The server's AMI messages on ``conn`` (greeting left out), parsed."""
        return split_messages(self.wire_bytes(conn, "S"))

    def binary_frames(self, conn: int) -> list[bytes]:
        return [bytes.fromhex(r["hex"]) for r in self.records
                if r["type"] == "data" and r["conn"] == conn and "hex" in r]

    def end_time(self) -> float:
        return max(r.get("t", 0.0) for r in self.records)


def load(path: str | Path) -> Capture:
    path = Path(path)
    with open(path, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    meta = records[0]
    if meta.get("format") != "ami-capture/1":
        raise ValueError(f"{path}: not an ami-capture/1 file")
    return Capture(path, meta, records[1:])


def load_all(directory: str | Path) -> list[Capture]:
    return [load(p) for p in sorted(Path(directory).glob("*.jsonl"))]


def parse_pairs(frame: str) -> list[tuple[str, str]]:
    """One message (no terminator) as ordered pairs, split at the first ``": "``."""
    pairs = []
    for line in frame.split("\r\n"):
        if not line:
            continue
        key, sep, value = line.partition(": ")
        if not sep:
            key, _, value = line.partition(":")
        pairs.append((key, value))
    return pairs


def split_messages(stream: bytes) -> list[list[tuple[str, str]]]:
    """A server byte stream → messages; the greeting line (no blank line) is dropped."""
    text = stream.decode("utf-8", "replace")
    if text.startswith("Asterisk Call Manager/"):
        text = text.split("\r\n", 1)[1]
    return [parse_pairs(f) for f in text.split("\r\n\r\n") if f.strip()]
