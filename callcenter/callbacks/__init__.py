"""Satisfaction callbacks (回访) as database jobs, dialled over AMI.

- :mod:`callcenter.callbacks.jobs` — the ``callback_jobs`` table and its
  transitions (schedule, claim with SKIP LOCKED, attempt failed, result);
- :mod:`callcenter.callbacks.worker` — the Twisted service that claims due
  jobs, places the ``Originate`` and records the survey's answer;
- :mod:`callcenter.callbacks.outbox` and :mod:`callcenter.callbacks.notify` —
  webhook notifications stored with the result and delivered with retries.
"""
