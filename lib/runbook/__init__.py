"""pixcrawler-runbook: the deployment checklist as executable, evidence-producing notebooks."""

__version__ = "0.1.0"
