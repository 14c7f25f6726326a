"""The agent desk (``/agent``): live call screen, work-order draft from speech, state, transfer.

:mod:`callcenter.desk.service` holds the live side (:class:`DeskService`),
:mod:`callcenter.desk.web` the page, the event stream and the JSON actions.
"""
