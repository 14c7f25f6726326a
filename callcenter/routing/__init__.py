"""The ACD: who talks to whom, and when.

``skills`` and ``policy`` are the pure routing core (stdlib only, ``now``
passed in), ``agent`` is the agent state machine, ``store`` records what
happened for reports, and ``acd`` is the Twisted queue controller that makes
Asterisk carry out the decisions.
"""
