from fastapi.testclient import TestClient


def test_root_health(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "healthy", "service": "PixCrawler API"}


def test_v1_health(client: TestClient) -> None:
    body = client.get("/api/v1/health/").json()
    assert body["status"] == "healthy"
    assert body["environment"] == "development"
    assert set(body) == {"status", "timestamp", "version", "environment"}
