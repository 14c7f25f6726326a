"""Personal-data governance (个人信息保护): the audit log of who read or exported citizens' personal
data unmasked (``record_access``, ``/supervisor/audit``, ``GET /api/v1/audit``), and retention: after
``[retention] personal_data_days`` a finished order's caller number and name are anonymised and its
recordings and transcripts deleted (``callcenter retention run``, and a daily job in the hotline)."""
