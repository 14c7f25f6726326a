"""Benchmarks run by `callcenter bench NAME`.

Each module here has ``add_arguments(parser)`` and ``run(args)``, which yields
dicts; the command prints them as JSON lines.  Peers are measured in the same
run so the README's comparisons come from one machine and one moment.
"""
