"""Performance phase (checklist §2.4 Performance Tests, §3.4 Monitor Production): a load probe
that measures the server and not itself, vectorized window statistics, gate checks, figures.

The probe's worker processes (`performance.worker`) import only what they need, so they start
without pandas or matplotlib.
"""
