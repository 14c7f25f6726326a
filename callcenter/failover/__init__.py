"""Calls survive the controller: leadership by a PostgreSQL advisory lock (:mod:`.leadership`)
and re-adoption of the calls a previous controller (or connection) left in the PBX (:mod:`.adoption`)."""
