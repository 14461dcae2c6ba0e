"""Project models."""

from pydantic import BaseModel, Field


class ProjectCreate(BaseModel):
    """What a client sends to create a project."""

    name: str = Field(min_length=1, max_length=100)
    description: str = ""


class Project(ProjectCreate):
    """A stored project."""

    id: int
