"""The deploy phase (Deployment Steps §1.1, §2.1, §3.2): package, Kudu zip deploy, restart,
health, slot swap, and a zero-downtime probe running through all of it.
"""
