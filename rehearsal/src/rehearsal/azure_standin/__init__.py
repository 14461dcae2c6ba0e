"""A local HTTPS server speaking Azure Resource Manager REST for App Service (and, later, more).

The real Azure SDK clients talk to it over TLS with bearer auth, exactly as they would to
https://management.azure.com, so the runbook's Azure code runs unchanged in tests and rehearsals.
"""
