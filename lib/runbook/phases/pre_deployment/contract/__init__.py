"""API contract checks: the OpenAPI document and its docs pages (checklist §3), and backward
compatibility of the API against a baseline (checklist §4).
"""
