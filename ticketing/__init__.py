"""Work orders (工单): a pure domain core, taxonomy data, the SLA calendar,
persistence, and the service facade the web layer calls (``ticketing.service``)."""
