"""SMS to citizens through Kannel: a durable outbox, delivery reports, opt-out, quiet hours.

``policy`` is the pure part (numbers, templates, quiet hours, back-off, opt-out words);
``outbox`` the table operations; ``kannel`` the HTTP ``sendsms`` client; ``worker`` the
Twisted service that sweeps orders into the outbox and delivers it; ``web`` the callbacks
Kannel makes (delivery reports, citizens' replies); ``gateway`` starts bearerbox, smsbox
and the fake SMSC on loopback for the tests and the demo.
"""
