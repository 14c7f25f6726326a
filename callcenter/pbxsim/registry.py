"""The dialplan application registry: every application the simulator runs, by lower-case name.

:mod:`callcenter.pbxsim.apps` registers them all (the big ones are run by
their own rooms: ``AGI`` by :mod:`~callcenter.pbxsim.agi`, ``Queue`` by
:mod:`~callcenter.pbxsim.queues`, ``AudioSocket`` by
:mod:`~callcenter.pbxsim.audiosocket`); the simulator runs what it finds here,
and AGI's ``EXEC`` asks here whether an application exists.
"""
from __future__ import annotations

APPLICATIONS: dict = {}


def application(name):
    def register(fn):
        APPLICATIONS[name.lower()] = fn
        return fn
    return register
