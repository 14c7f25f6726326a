"""Attachments of work orders (photos and PDFs): :mod:`.store` checks and keeps them,
:mod:`.web` serves them to whoever may see the order.  Reuse from other features::

    from callcenter.attachments.store import AttachmentStore, AttachmentError, sniff
    from callcenter.attachments.web import store_of      # the app's store (deps.extras)
    meta = store_of(deps).add(number, data, "photo.jpg", by=user, role=role, now=now, source="open311")
"""
