"""Database monitoring read from PostgreSQL itself (checklist "Monitoring and Alerting" §2
Database Monitoring and the connection pool / database performance boxes of the phases).

Exports load lazily: importing the parameters does not import psycopg.
"""
