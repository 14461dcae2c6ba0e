"""success."""
