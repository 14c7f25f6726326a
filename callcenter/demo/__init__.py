"""`callcenter demo` and `callcenter serve`: the whole hotline in one process.

:mod:`callcenter.demo.world` runs the PBX simulator with every service and a
simulated city around it; :mod:`callcenter.demo.population` decides who calls
and how departments behave (pure, seeded); :mod:`callcenter.demo.actors` are
those people acting through the service layer; :mod:`callcenter.demo.summary`
reads the run back from the database; :mod:`callcenter.demo.production` builds
the same services against a real Asterisk for ``serve``.
"""
