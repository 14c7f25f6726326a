"""HTTP faces of the work-order engine: the JSON API, Open311 GeoReport v2,
the OpenAPI document and the department portal (``/dept``)."""
