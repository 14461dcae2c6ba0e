"""Azure checks driven through the real Azure SDKs (App Service settings, later more)."""
