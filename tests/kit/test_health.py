"""GET /health and GET /ready: unauthenticated, outside /api/v1, past the admission's turns, and
documented under the "Operations" tag. (While the database is down: tests/kit/test_outage.py.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from sodata.app import create_app
from sodata.config import Settings, sqlite_url
from sodata.kit.admission import Admission
from tests.conftest import Server


def test_health_answers_ok_without_credentials(server: Server) -> None:
    r = httpx.get(f"{server.url}/health", timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_ready_answers_ready_without_credentials(server: Server) -> None:
    r = httpx.get(f"{server.url}/ready", timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready" and body["database"] == server.backend, body
    assert 0 <= body["latencyMs"] < 2000, body


def test_only_get_is_answered(server: Server) -> None:
    r = httpx.post(f"{server.url}/health", timeout=10)
    assert r.status_code == 405 and set(r.json()) == {"statusCode", "message", "error"}


def test_they_are_documented_under_operations(server: Server) -> None:
    document = httpx.get(f"{server.url}/swagger-api-json/v1", timeout=10).json()
    assert "Operations" in [tag["name"] for tag in document["tags"]]
    for path in ("/health", "/ready"):
        operation = document["paths"][path]["get"]
        assert operation["tags"] == ["Operations"] and "security" not in operation, path
    unavailable = document["paths"]["/ready"]["get"]["responses"]["503"]
    assert "Retry-After" in unavailable["headers"]
    schema = unavailable["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/ErrorBody"}


def test_they_answer_when_every_turn_is_taken(tmp_path: Path) -> None:
    """With its one read and one write turn held and no queue, the server refuses the API at
    once (503) but still answers /health and /ready."""
    settings = Settings(
        database_url=sqlite_url(tmp_path / "turns.db"),
        max_reads=1,
        max_writes=1,
        queue_length=0,
    )
    app = create_app(settings)

    async def run() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/health")).status_code == 200  # builds the stack
            layer, admission = app.middleware_stack, None
            while admission is None and layer is not None:
                admission = layer if isinstance(layer, Admission) else None
                layer = getattr(layer, "app", None)
            assert admission is not None, "the admission middleware is in the stack"
            await admission.reads.enter()
            await admission.writes.enter()
            try:
                refused = await client.get("/api/v1/ca")
                assert refused.status_code == 503, refused.text
                assert refused.headers["retry-after"].isdigit()
                health = await client.get("/health")
                assert health.status_code == 200 and health.json() == {"status": "ok"}
                ready = await client.get("/ready")
                assert ready.status_code == 200 and ready.json()["status"] == "ready", ready.text
            finally:
                admission.reads.leave()
                admission.writes.leave()

    asyncio.run(run())
