"""The live wallboard: a read-side projection of ACD, call and work-order events."""
