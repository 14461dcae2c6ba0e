"""Probes: how the runbook talks to the target."""
