"""The IVR: declarative call flows (YAML) stepped by a pure engine and run on
live calls over AsyncAGI.

- :mod:`ivr.flow` loads and validates flow files (errors carry file and line);
- :mod:`ivr.engine` steps a call: ``(state, event, now) -> (state, commands)``,
  no I/O, commands and events are plain data;
- :mod:`ivr.prompts` turns prompt text into speech-ready strings (status
  words, deadlines, phone masking) and lists every prompt for rendering;
- :mod:`ivr.library` holds the flows in service (all-or-nothing reload);
- :mod:`ivr.tts` renders prompt text to 8 kHz WAV (espeak-ng + sox);
- :mod:`ivr.agi` is the AGI wire format (command strings, result parsing);
- :mod:`ivr.runner` drives sessions over the AMI client;
- :mod:`ivr.services` connects the runner to ticketing and the ACD
  (:func:`ivr.services.build_runner`); :mod:`ivr.store` keeps visits for reports.
"""
