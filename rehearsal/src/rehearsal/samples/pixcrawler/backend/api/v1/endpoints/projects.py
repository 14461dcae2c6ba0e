"""Project endpoints under `/api/v1/projects/`."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status

from backend.api.dependencies import get_project_service
from backend.schemas.project import Project, ProjectCreate
from backend.services.project_service import ProjectNotFoundError, ProjectService

router = APIRouter()

Service = Annotated[ProjectService, Depends(get_project_service)]


@router.get("/")
def list_projects(service: Service) -> list[Project]:
    """Every project, oldest first."""
    return service.list_projects()


@router.post("/", status_code=status.HTTP_201_CREATED)
def create_project(payload: ProjectCreate, service: Service) -> Project:
    """Create a project."""
    return service.create_project(payload)


@router.get("/{project_id}")
def get_project(project_id: int, service: Service) -> Project:
    """One project, or 404."""
    try:
        return service.get_project(project_id)
    except ProjectNotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_project(project_id: int, service: Service) -> None:
    """Delete a project, or 404."""
    try:
        service.delete_project(project_id)
    except ProjectNotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
