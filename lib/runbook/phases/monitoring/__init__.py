"""Monitor phase (checklist "Deployment Steps" §1.3, §2.5, §3.3, §3.4, §3.5; "Monitoring and
Alerting" §1, §5): Azure Monitor metrics, Application Insights logs and metric alert rules over a
look-back window ending now, judged fail-closed, with the raw series kept for re-judging."""
