"""The call recordings of a work order, for playing on its page (:mod:`.web`)."""
