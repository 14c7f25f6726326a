"""The SMS outbox's figures on ``/metrics`` (no numbers, only kinds and states)."""
from prometheus_client import Counter

from callcenter.metrics import REGISTRY

SMS_ATTEMPTS = Counter("hotline_sms_attempts", "sendsms requests to Kannel by message kind and result (sent, "
                       "pending = retry, dead).", ["kind", "result"], registry=REGISTRY)
SMS_REPORTS = Counter("hotline_sms_reports", "Kannel delivery reports by the state they left the message in "
                      "(delivered, failed, sent).", ["state"], registry=REGISTRY)
SMS_SUPPRESSED = Counter("hotline_sms_suppressed", "Notifications not sent because the number opted out (TD/STOP).",
                         registry=REGISTRY)
SMS_OPT_OUTS = Counter("hotline_sms_opt_outs", "Citizens' replies that opted a number out (TD, 退订, STOP).",
                       registry=REGISTRY)
