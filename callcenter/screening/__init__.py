"""Restricted callers (限制呼入): supervisors put a number that harasses the hotline on a list, with
a reason and an end date; the IVR's ``screen`` node sends such callers to a notice and a recorded
message instead of the agents' queues, so every call is still answered and the message still
becomes a work order, while agents are left to the other callers.  Every change is kept (who, when,
why) and logged."""
