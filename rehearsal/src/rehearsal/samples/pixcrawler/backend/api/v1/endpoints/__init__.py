"""Endpoints: HTTP in, service call, HTTP out. No data access here."""
