"""The citizens' own channel: the portal at the site root (submit, track, rate) with SMS codes.

``service`` holds the rules (codes, limits, the timeline a citizen may see, online rating as
the 回访 result); ``web`` the pages.  Messages go through the SMS outbox
(:mod:`callcenter.sms`); photos through the attachments store (:mod:`callcenter.attachments`).
"""
