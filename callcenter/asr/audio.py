"""WAV input: validation and conversion to what the decoder takes.

The decoder takes mono signed 16-bit little-endian PCM at 8 kHz (telephone,
AudioSocket, MixMonitor) or 16 kHz (wide-band recordings).  Anything else a
caller of :func:`open_wav` hands us is either converted here — stereo is
downmixed, other rates are linearly resampled in pure Python — or refused with
an :class:`AudioError` whose ``error_id`` says why.  Reading is chunked, so an
hour-long recording never sits in memory at once.
"""
from __future__ import annotations

import os
import struct
import sys
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from callcenter.asr.errors import AudioError

DECODER_RATES = (8000, 16000)
SAMPLE_WIDTH = 2
DEFAULT_MAX_SECONDS = 3 * 3600.0
_BIG_ENDIAN = sys.byteorder == "big"


@dataclass(frozen=True)
class WavInfo:
    """What the header says, and the rate the decoder will get."""

    path: str
    sample_rate: int
    channels: int
    sample_width: int
    frames: int
    target_rate: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate

    @property
    def converted(self) -> bool:
        return self.channels != 1 or self.sample_rate != self.target_rate


def target_rate_for(rate: int) -> int:
    """8 and 16 kHz pass through; anything else goes to the nearer decoder rate."""
    if rate in DECODER_RATES:
        return rate
    return 8000 if rate < 12000 else 16000


WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
#: The tail every standard WAVE sub-format GUID shares (the first two bytes are the format code).
_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


class _PcmReader(wave.Wave_read):
    """``wave``'s reader, also taking WAVE_FORMAT_EXTENSIBLE whose sub-format is PCM.

    Recorders (Audacity, ffmpeg, some PBX exports) write 16-bit mono PCM in the
    "extensible" header; Python 3.11's ``wave`` refuses it as ``unknown format: 65534``.
    """

    def _read_fmt_chunk(self, chunk):
        try:
            tag, self._nchannels, self._framerate, _rate, _align = struct.unpack_from("<HHLLH", chunk.read(14))
            bits = struct.unpack_from("<H", chunk.read(2))[0]
        except struct.error:
            raise EOFError from None
        if tag == WAVE_FORMAT_EXTENSIBLE:
            try:
                _size, _valid, _mask = struct.unpack_from("<HHL", chunk.read(8))
                guid = chunk.read(16)
            except struct.error:
                raise EOFError from None
            if len(guid) != 16 or guid[2:] != _GUID_TAIL or struct.unpack_from("<H", guid)[0] != WAVE_FORMAT_PCM:
                raise wave.Error(f"unknown format: extensible sub-format {guid[:2].hex() or 'missing'}")
        elif tag != WAVE_FORMAT_PCM:
            raise wave.Error(f"unknown format: {tag}")
        self._sampwidth = (bits + 7) // 8
        if not self._sampwidth:
            raise wave.Error("bad sample width")
        if not self._nchannels:
            raise wave.Error("bad # of channels")
        self._framesize = self._nchannels * self._sampwidth
        self._comptype = "NONE"
        self._compname = "not compressed"


def _fail(error_id: str, message: str, path: str, **details) -> AudioError:
    return AudioError(message, error_id=error_id, path=path, **details)


def probe_wav(path: str | os.PathLike, max_seconds: float | None = DEFAULT_MAX_SECONDS) -> WavInfo:
    """Check a WAV file without decoding it; raise :class:`AudioError` if it is unusable."""
    name = str(path)
    with _open(name) as (reader, data_start, file_size):
        return _check(reader, name, data_start, file_size, max_seconds)


class _open:
    """Context manager giving a ``wave`` reader plus where the data starts."""

    def __init__(self, name: str):
        self.name = name
        self.fh = None

    def __enter__(self):
        try:
            self.fh = open(self.name, "rb")
        except FileNotFoundError:
            raise _fail("asr.audio_missing", f"音频文件不存在 / no such audio file: {self.name}", self.name) from None
        except OSError as exc:
            raise _fail("asr.audio_unreadable", f"无法读取音频 / cannot read audio file {self.name}: {exc.strerror}", self.name) from None
        file_size = os.fstat(self.fh.fileno()).st_size
        if file_size == 0:
            self.fh.close()
            raise _fail("asr.audio_empty", f"音频文件为空 / audio file is empty (0 bytes): {self.name}", self.name)
        try:
            reader = _PcmReader(self.fh)
        except EOFError:
            self.fh.close()
            raise _fail("asr.audio_truncated", f"WAV 文件头不完整 / WAV header is truncated: {self.name}", self.name) from None
        except wave.Error as exc:
            self.fh.close()
            text = str(exc)
            if "unknown format" in text:
                raise _fail(
                    "asr.audio_encoding",
                    f"不支持的 WAV 编码 / unsupported WAV encoding ({text}) in {self.name}: "
                    "only PCM 16-bit is accepted (convert: sox IN.wav -b 16 -e signed-integer OUT.wav)",
                    self.name,
                ) from None
            raise _fail("asr.audio_not_wav", f"不是 WAV 文件 / not a WAV file ({text}): {self.name}", self.name) from None
        return reader, self.fh.tell(), file_size

    def __exit__(self, *exc):
        self.fh.close()
        return False


def _check(reader, name: str, data_start: int, file_size: int, max_seconds: float | None) -> WavInfo:
    rate, channels, width, frames = (
        reader.getframerate(), reader.getnchannels(), reader.getsampwidth(), reader.getnframes(),
    )
    if width != SAMPLE_WIDTH:
        raise _fail(
            "asr.audio_encoding",
            f"只支持 16 位 PCM / only 16-bit PCM is accepted, {name} has {8 * width}-bit samples "
            "(convert: sox IN.wav -b 16 OUT.wav)",
            name, sample_width=width,
        )
    if not 4000 <= rate <= 192000:
        raise _fail("asr.audio_rate", f"采样率不可用 / unusable sample rate {rate} Hz in {name}", name, sample_rate=rate)
    if channels < 1 or channels > 8:
        raise _fail("asr.audio_channels", f"声道数不可用 / unusable channel count {channels} in {name}", name, channels=channels)
    if frames == 0:
        raise _fail("asr.audio_empty", f"音频没有采样 / audio has no samples: {name}", name)
    declared = frames * channels * width
    available = file_size - data_start
    if available < declared:
        raise _fail(
            "asr.audio_truncated",
            f"音频被截断 / audio is truncated: header promises {frames / rate:.2f} s, "
            f"file holds {max(0, available) // (channels * width) / rate:.2f} s ({name})",
            name, declared_bytes=declared, available_bytes=available,
        )
    info = WavInfo(name, rate, channels, width, frames, target_rate_for(rate))
    if max_seconds is not None and info.duration > max_seconds:
        raise _fail(
            "asr.audio_too_long",
            f"音频过长 / audio too long: {info.duration:.0f} s > limit {max_seconds:.0f} s ({name}); "
            "split it (sox IN.wav OUT.wav trim 0 3600 : newfile : restart) or raise asr.max_audio_seconds",
            name, duration=info.duration, limit=max_seconds,
        )
    return info


def to_samples(pcm: bytes) -> array:
    """Little-endian s16 bytes as an ``array('h')`` in host order."""
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if _BIG_ENDIAN:
        samples.byteswap()
    return samples


def to_bytes(samples: array) -> bytes:
    if _BIG_ENDIAN:
        samples = array("h", samples)
        samples.byteswap()
    return samples.tobytes()


def downmix(pcm: bytes, channels: int) -> bytes:
    """Average interleaved channels into one (integer mean, no clipping possible)."""
    if channels == 1:
        return pcm
    samples = to_samples(pcm)
    usable = len(samples) - len(samples) % channels
    columns = [samples[c:usable:channels] for c in range(channels)]
    mixed = array("h", (sum(frame) // channels for frame in zip(*columns)))
    return to_bytes(mixed)


class LinearResampler:
    """Streaming linear-interpolation resampler for mono s16 audio.

    Keeps the last input sample and the fractional read position between
    chunks, so chunk boundaries leave no clicks or gaps.  Linear interpolation
    is enough for speech going into a recogniser that itself works on a
    telephone-band or 16 kHz filterbank.
    """

    def __init__(self, source_rate: int, target_rate: int):
        if source_rate <= 0 or target_rate <= 0:
            raise ValueError("sample rates must be positive")
        self.source_rate = source_rate
        self.target_rate = target_rate
        self.produced = 0       # output samples so far
        self.base = 0           # input index of buf[0] (the kept tail, after the first chunk)
        self.tail: int | None = None

    def process(self, pcm: bytes) -> bytes:
        samples = to_samples(pcm)
        if not samples:
            return b""
        if self.tail is None:
            buf = samples
        else:
            buf = array("h", [self.tail]) + samples
        out = array("h")
        src, dst, base, n, last = self.source_rate, self.target_rate, self.base, self.produced, len(buf) - 1
        # Output sample n sits at input position n*src/dst: integer arithmetic, so
        # chunking never changes a single sample.
        while True:
            whole, rest = divmod(n * src, dst)
            i = whole - base
            if i >= last:
                break
            a = buf[i]
            out.append(a + (buf[i + 1] - a) * rest // dst)
            n += 1
        self.produced = n
        self.base = base + last
        self.tail = buf[-1]
        return to_bytes(out)


def iter_pcm(info: WavInfo, chunk_seconds: float = 0.5) -> Iterator[bytes]:
    """Mono s16le PCM at ``info.target_rate`` in chunks of about ``chunk_seconds``."""
    frames_per_chunk = max(1, int(info.sample_rate * chunk_seconds))
    resampler = None
    if info.sample_rate != info.target_rate:
        resampler = LinearResampler(info.sample_rate, info.target_rate)
    with _open(info.path) as (reader, _start, _size):
        remaining = info.frames
        while remaining > 0:
            raw = reader.readframes(min(frames_per_chunk, remaining))
            if not raw:
                break
            remaining -= len(raw) // (info.channels * info.sample_width)
            pcm = downmix(raw, info.channels)
            if resampler is not None:
                pcm = resampler.process(pcm)
            if pcm:
                yield pcm


def read_pcm(path: str | os.PathLike, max_seconds: float | None = DEFAULT_MAX_SECONDS) -> tuple[WavInfo, bytes]:
    """The whole file converted (for short clips: prompts, tests, streaming clients)."""
    info = probe_wav(path, max_seconds)
    return info, b"".join(iter_pcm(info))


def convert_pcm(pcm: bytes, source_rate: int, target_rate: int, channels: int = 1) -> bytes:
    """One-shot conversion of in-memory PCM (downmix, then resample)."""
    pcm = downmix(pcm, channels)
    if source_rate == target_rate:
        return pcm
    return LinearResampler(source_rate, target_rate).process(pcm)


def write_wav(path: str | os.PathLike, pcm: bytes, sample_rate: int, channels: int = 1) -> Path:
    """Write s16le PCM as a WAV file (spool files, tests, prompts)."""
    path = Path(path)
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(SAMPLE_WIDTH)
        writer.setframerate(sample_rate)
        writer.writeframes(pcm)
    return path
