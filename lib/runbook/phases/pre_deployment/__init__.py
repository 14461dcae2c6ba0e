"""pre_deployment."""
