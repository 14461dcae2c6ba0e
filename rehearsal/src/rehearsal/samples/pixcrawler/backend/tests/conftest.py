"""Fixtures: a fresh app and repository for every test.

The application is imported inside the fixture, so that tests which need no app (the
architecture rules) do not pay for importing it.
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from fastapi.testclient import TestClient


@pytest.fixture
def client() -> Iterator["TestClient"]:
    from fastapi.testclient import TestClient

    from backend.api.dependencies import get_project_repository
    from backend.main import create_app

    get_project_repository.cache_clear()
    with TestClient(create_app()) as test_client:
        yield test_client
    get_project_repository.cache_clear()
