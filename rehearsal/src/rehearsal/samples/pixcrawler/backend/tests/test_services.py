import pytest

from backend.repositories.project_repository import InMemoryProjectRepository
from backend.schemas.project import ProjectCreate
from backend.services.project_service import ProjectNotFoundError, ProjectService


def make_service() -> ProjectService:
    return ProjectService(InMemoryProjectRepository())


def test_create_trims_name_and_counts() -> None:
    service = make_service()
    project = service.create_project(ProjectCreate(name="  flowers "))
    assert project.name == "flowers"
    assert service.count() == 1
    assert service.list_projects() == [project]


def test_get_and_delete_missing_project_raise() -> None:
    service = make_service()
    with pytest.raises(ProjectNotFoundError) as info:
        service.get_project(7)
    assert info.value.project_id == 7
    with pytest.raises(ProjectNotFoundError):
        service.delete_project(7)


def test_delete_project() -> None:
    service = make_service()
    project = service.create_project(ProjectCreate(name="trees"))
    service.delete_project(project.id)
    assert service.count() == 0
