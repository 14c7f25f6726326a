"""Speech recognition: models, WAV input, live AudioSocket streams and batch jobs.

The public interface for other parts:

- :func:`transcribe_file` ``(path, model=None) -> Transcript`` (blocking);
- :class:`Transcript` / :class:`Segment` (text, ``words=[(word, start, end, conf)]``);
- :class:`AudioError` / :class:`ModelError` (typed, with ``error_id``);
- :mod:`callcenter.asr.live` and :mod:`callcenter.asr.audiosocket` for live calls;
- :mod:`callcenter.asr.jobs` for the database-backed batch queue.

Importing this package does not load Vosk; the service keeps running without
a model and only speech features report the missing model.
"""
from callcenter.asr.errors import AsrError, AudioError, ModelError
from callcenter.asr.transcript import Segment, Transcript


def transcribe_file(path, model=None, **kwargs) -> Transcript:
    from callcenter.asr.batch import transcribe_file as _transcribe_file

    return _transcribe_file(path, model, **kwargs)


transcribe_file.__doc__ = "Transcribe one WAV file; see :func:`callcenter.asr.batch.transcribe_file`."

__all__ = ["AsrError", "AudioError", "ModelError", "Segment", "Transcript", "transcribe_file"]
