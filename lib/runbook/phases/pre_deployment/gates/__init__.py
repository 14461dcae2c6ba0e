"""Pre-deployment gates: code quality, coverage per layer, documentation, no migrations.

Checklist "Pre-Deployment Checklist" §1–§3 and "Environment Configuration" §2. A notebook
calls one function per step:

    results = run_gates(params, evidence_dir)
    layers = coverage_checks(params, coverage_reports(results, evidence_dir))
    coverage_chart(layers)
    documentation_checks(params)
    migration_check(params)
"""
