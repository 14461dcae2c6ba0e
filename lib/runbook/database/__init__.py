"""Database monitoring read from PostgreSQL itself (checklist "Monitoring and Alerting" §2
Database Monitoring and the connection pool / database performance boxes of the phases).

Exports load lazily: importing the parameters does not import psycopg.
"""

from runbook.lazy_exports import lazy_exports

_EXPORTS = {
    "AZURE_SPECS": "runbook.database.azure_metrics",
    "DATABASE_SPECS": "runbook.database.checks",
    "PoolSeries": "runbook.database.pool_window",
    "azure_database_checks": "runbook.database.azure_metrics",
    "pool_figure": "runbook.database.figures",
    "pool_stability_check": "runbook.database.pool_window",
    "sample_pool": "runbook.database.pool_window",
    "DatabaseParams": "runbook.database.params",
    "database_checks": "runbook.database.checks",
    "read_database": "runbook.database.postgres",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
