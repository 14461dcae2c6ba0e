import pytest

from backend.config import Settings


def test_environment_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "staging")
    assert Settings.from_env().environment == "staging"
    monkeypatch.setenv("ENVIRONMENT", "prod")
    with pytest.raises(ValueError, match="ENVIRONMENT must be one of"):
        Settings.from_env()
