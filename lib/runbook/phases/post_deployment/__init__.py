"""post_deployment."""
