"""Performance phase (checklist §2.4 Performance Tests, §3.4 Monitor Production): a load probe
that measures the server and not itself, vectorized window statistics, gate checks, figures.

Exports load lazily so the probe's worker processes (`runbook.phases.performance.worker`) start without
pandas or matplotlib.
"""
