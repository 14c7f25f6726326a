"""Satisfaction callbacks (回访): the pure scheduling policy."""
from ticketing.callbacks.policy import ANSWERED, CallbackPolicy, Decision, survey_result

__all__ = ["ANSWERED", "CallbackPolicy", "Decision", "survey_result"]
