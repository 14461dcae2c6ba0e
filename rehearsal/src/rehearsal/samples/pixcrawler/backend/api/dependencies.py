"""Dependency wiring: the only place where services meet their repositories."""

from functools import lru_cache

from backend.repositories.project_repository import InMemoryProjectRepository
from backend.services.project_service import ProjectService


@lru_cache(maxsize=1)
def get_project_repository() -> InMemoryProjectRepository:
    """The process-wide project repository."""
    return InMemoryProjectRepository()


def get_project_service() -> ProjectService:
    """A project service bound to the process-wide repository."""
    return ProjectService(get_project_repository())
