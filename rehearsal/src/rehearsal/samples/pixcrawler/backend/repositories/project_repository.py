"""Project storage (in memory in the sample; Supabase/PostgreSQL in PixCrawler)."""

from backend.schemas.project import Project


class InMemoryProjectRepository:
    """Projects kept in a dict, ids from a counter."""

    def __init__(self) -> None:
        self._items: dict[int, Project] = {}
        self._next_id = 1

    def add(self, name: str, description: str) -> Project:
        """Store a project and return it with its new id."""
        project = Project(id=self._next_id, name=name, description=description)
        self._items[project.id] = project
        self._next_id += 1
        return project

    def get(self, project_id: int) -> Project | None:
        """The project with that id, or None."""
        return self._items.get(project_id)

    def list_all(self) -> list[Project]:
        """Every project in insertion order."""
        return list(self._items.values())

    def remove(self, project_id: int) -> bool:
        """Remove a project; False when there was none."""
        return self._items.pop(project_id, None) is not None
