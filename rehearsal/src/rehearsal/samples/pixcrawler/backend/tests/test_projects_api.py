from fastapi.testclient import TestClient


def test_create_and_list_projects(client: TestClient) -> None:
    created = client.post("/api/v1/projects/", json={"name": " cats ", "description": "c"})
    assert created.status_code == 201
    assert created.json() == {"id": 1, "name": "cats", "description": "c"}
    listed = client.get("/api/v1/projects/")
    assert listed.status_code == 200
    assert [p["name"] for p in listed.json()] == ["cats"]


def test_create_rejects_empty_name(client: TestClient) -> None:
    assert client.post("/api/v1/projects/", json={"name": ""}).status_code == 422


def test_get_project(client: TestClient) -> None:
    client.post("/api/v1/projects/", json={"name": "dogs"})
    assert client.get("/api/v1/projects/1").json()["name"] == "dogs"
    assert client.get("/api/v1/projects/99").status_code == 404


def test_delete_project(client: TestClient) -> None:
    client.post("/api/v1/projects/", json={"name": "birds"})
    assert client.delete("/api/v1/projects/1").status_code == 204
    assert client.delete("/api/v1/projects/1").status_code == 404
