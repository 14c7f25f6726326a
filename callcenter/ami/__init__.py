"""AMI (Asterisk Manager Interface) client: codec, framing, protocol, events.

Layers, bottom up: :mod:`.message` (codec, shared with the PBX simulator),
:mod:`.framing` (byte stream to frames), :mod:`.protocol` (one connection:
actions, responses, event lists, login, keepalive), :mod:`.events` (typed
events), :mod:`.client` (reconnecting facade used by the IVR, ACD and
callback services).
"""
