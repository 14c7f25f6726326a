"""`callcenter demo`: the whole hotline in one process, with a simulated city around it.

:mod:`callcenter.demo.world` runs the PBX simulator with every service and a
simulated city around it; :mod:`callcenter.demo.population` decides who calls
and how departments behave (pure, seeded); :mod:`callcenter.demo.actors` are
those people acting through the service layer; :mod:`callcenter.demo.summary`
reads the run back from the database; the services themselves are
built by the composition root :mod:`callcenter.app`, exactly as ``serve`` builds them.
"""
