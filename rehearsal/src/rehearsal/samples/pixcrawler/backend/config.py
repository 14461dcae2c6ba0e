"""Backend settings read from the environment."""

import os
from dataclasses import dataclass

ENVIRONMENTS = ("development", "staging", "production", "test")


@dataclass(frozen=True)
class Settings:
    """The few settings the sample backend needs."""

    environment: str = "development"
    version: str = "1.0.0"

    @classmethod
    def from_env(cls) -> "Settings":
        """Read `ENVIRONMENT`; an unknown value is refused."""
        environment = os.environ.get("ENVIRONMENT", "development")
        if environment not in ENVIRONMENTS:
            raise ValueError(f"ENVIRONMENT must be one of {ENVIRONMENTS}, got {environment!r}")
        return cls(environment=environment)


settings = Settings.from_env()
