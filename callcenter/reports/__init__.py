"""Supervisor reports (daily/monthly per queue, agent, department, category), hot topics and surge alerts.

Pure figures and detectors live in :mod:`figures` and :mod:`hottopics`;
:mod:`queries` reads the database (SQLAlchemy Core, run in a thread pool);
:mod:`web` renders ``/reports`` pages with inline SVG charts and CSV export.
"""
