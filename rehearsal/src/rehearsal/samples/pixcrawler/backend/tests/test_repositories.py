from backend.repositories.project_repository import InMemoryProjectRepository


def test_ids_increase_and_items_are_kept_in_order() -> None:
    repository = InMemoryProjectRepository()
    first = repository.add("a", "")
    second = repository.add("b", "bee")
    assert (first.id, second.id) == (1, 2)
    assert repository.list_all() == [first, second]
    assert repository.get(2) == second
    assert repository.get(3) is None


def test_remove() -> None:
    repository = InMemoryProjectRepository()
    project = repository.add("a", "")
    assert repository.remove(project.id) is True
    assert repository.remove(project.id) is False
