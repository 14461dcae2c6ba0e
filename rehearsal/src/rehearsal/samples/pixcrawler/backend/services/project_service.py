"""Project use cases."""

from backend.repositories.project_repository import InMemoryProjectRepository
from backend.schemas.project import Project, ProjectCreate


class ProjectNotFoundError(LookupError):
    """No project with that id."""

    def __init__(self, project_id: int) -> None:
        super().__init__(f"project {project_id} not found")
        self.project_id = project_id


class ProjectService:
    """Create, read, list and delete projects."""

    def __init__(self, repository: InMemoryProjectRepository) -> None:
        self._repository = repository

    def list_projects(self) -> list[Project]:
        """Every project, oldest first."""
        return self._repository.list_all()

    def create_project(self, payload: ProjectCreate) -> Project:
        """Store a new project; names are trimmed."""
        return self._repository.add(payload.name.strip(), payload.description)

    def get_project(self, project_id: int) -> Project:
        """One project, or ProjectNotFoundError."""
        project = self._repository.get(project_id)
        if project is None:
            raise ProjectNotFoundError(project_id)
        return project

    def delete_project(self, project_id: int) -> None:
        """Delete a project, or ProjectNotFoundError."""
        if not self._repository.remove(project_id):
            raise ProjectNotFoundError(project_id)

    def count(self) -> int:
        """How many projects exist."""
        return len(self._repository.list_all())
