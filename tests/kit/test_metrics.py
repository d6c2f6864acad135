"""GET /metrics (kit/metrics.py): Prometheus' text format, without a token and past the
admission; requests counted by route template (never the path), data points by ingestion
path and outcome, the database pool; with `--workers 2`, the sum of both processes."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from sodata.app import create_app
from sodata.config import Settings, sqlite_url
from sodata.demo import ids
from sodata.kit.admission import Admission
from sodata.kit.workers import dispatching
from tests.conftest import Server, client_as

DEVICES = "/api/v1/ca/{corporateAccountUuid}/devices"
REALM = "/realms/{realm}"
POOL = 2 + 4 + 2  # SODATA_MAX_READS + SODATA_MAX_WRITES + 2, per process

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(server: Server) -> Samples:
    answer = httpx.get(f"{server.url}/metrics", timeout=10)  # no token
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain"), answer.headers
    return parse(answer.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests(samples: Samples, route: str, method: str, status: int) -> float:
    return value(
        samples, "sodata_http_requests_total", route=route, method=method, status=str(status)
    )


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server("sqlite", tmp_path_factory.mktemp("metrics"))
    yield server
    server.stop()


def test_requests_are_counted_by_route_template(single: Server) -> None:
    before = scrape(single)
    stranger = uuid.uuid4()
    for _ in range(3):  # no token: 401, after routing
        answer = httpx.get(f"{single.url}/api/v1/ca/{stranger}/devices", timeout=10)
        assert answer.status_code == 401
    with client_as(single, ids.DEMO_EMAIL) as demo:
        for _ in range(2):
            answer = demo.get(f"/api/v1/ca/{ids.SOLINK}/devices", params={"take": 1})
            assert answer.status_code == 200, answer.text
    for path in ("/no/such/path", f"/no/such/{stranger}"):
        assert httpx.get(f"{single.url}{path}", timeout=10).status_code == 404
    assert httpx.get(f"{single.url}/auth/realms/sodata", timeout=10).status_code == 200
    assert httpx.get(f"{single.url}/health", timeout=10).status_code == 200
    text = httpx.get(f"{single.url}/metrics", timeout=10).text
    after = parse(text)

    def sent(route: str, method: str, status: int) -> float:
        return requests(after, route, method, status) - requests(before, route, method, status)

    assert sent(DEVICES, "GET", 401) == 3
    assert sent(DEVICES, "GET", 200) == 2
    assert sent("unmatched", "GET", 404) == 2
    assert sent("/auth/realms/{realm}", "GET", 200) == 1  # with the prefix of include_router
    assert sent("/health", "GET", 200) == 1
    assert sent("/metrics", "GET", 200) == 1  # the scrape before
    token = "/realms/{realm}/protocol/openid-connect/token"
    assert sent(token, "POST", 200) == 1
    count = "sodata_http_request_duration_seconds_count"
    timed = value(after, count, route=DEVICES, method="GET")
    assert timed - value(before, count, route=DEVICES, method="GET") == 5
    routes = {dict(labels)["route"] for name, labels in after if name.startswith("sodata_http")}
    assert all(r == "unmatched" or r.startswith("/") for r in routes), routes
    assert str(stranger) not in text and "/no/such" not in text  # never a path as a label
    assert str(ids.SOLINK) not in text


def test_ingestion_counts_the_points_accepted_and_rejected(single: Server) -> None:
    accepted = [{"at": f"2024-03-01T00:{m:02d}:00Z", "value": m} for m in range(7)]
    not_numbers = [{"at": f"2024-03-01T01:{m:02d}:00Z", "value": "high"} for m in range(2)]
    unknown = [{"at": f"2024-03-01T02:{m:02d}:00Z", "value": m} for m in range(3)]
    series = [
        {"variableUuid": str(ids.MASTERYS_OVERLOAD_VARIABLE), "data": accepted + not_numbers},
        {"mappingConfig": "Global|0|999999", "data": unknown},
    ]
    url = f"/api/v1/ca/{ids.SOLINK}/devices/{ids.MASTERYS_U2_CDS}/datapoints"
    with client_as(single, ids.DEMO_EMAIL) as demo:
        demo.get("/api/v1/ca", params={"take": 0})  # signs in before the first count
        before = scrape(single)
        answer = demo.post(url, json={"series": series})
        assert answer.status_code == 200, answer.text
        assert (answer.json()["accepted"], answer.json()["rejected"]) == (7, 5), answer.text
        assert demo.post(url, content=b"{not json").status_code == 400  # no point counted
    after = scrape(single)
    for outcome, count in (("accepted", 7), ("rejected", 5)):
        labels = {"path": "http", "outcome": outcome}
        got = value(after, "sodata_points_total", **labels)
        assert got - value(before, "sodata_points_total", **labels) == count, outcome
        assert ("sodata_points_total", frozenset({"path": "mqtt", **labels}.items())) in after


def test_the_pool_and_the_admission_are_shown(single: Server) -> None:
    samples = scrape(single)
    assert value(samples, "sodata_db_pool_size") == POOL
    assert value(samples, "sodata_db_connections_in_use") == 0  # every connection came back
    for kind in ("read", "write"):
        assert ("sodata_admission_waiting", frozenset({("kind", kind)})) in samples
        assert value(samples, "sodata_admission_refused_total", kind=kind) == 0
    assert ("sodata_mqtt_messages_in_flight", frozenset()) in samples
    assert ("sodata_mqtt_commit_to_ack_seconds_count", frozenset()) in samples


def test_metrics_answer_past_a_full_admission(tmp_path: Path) -> None:
    """With its one read turn held and no queue, a GET is refused (503, counted as an
    unmatched request and an admission refusal) while /metrics still answers."""
    settings = Settings(
        database_url=sqlite_url(tmp_path / "turns.db"), max_reads=1, max_writes=1, queue_length=0
    )
    app = create_app(settings)

    async def run() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            before = parse((await client.get("/metrics")).text)  # builds the stack
            layer, admission = app.middleware_stack, None
            while admission is None and layer is not None:
                admission = layer if isinstance(layer, Admission) else None
                layer = getattr(layer, "app", None)
            assert admission is not None, "the admission middleware is in the stack"
            await admission.reads.enter()
            try:
                assert (await client.get("/api/v1/ca")).status_code == 503
                answer = await client.get("/metrics")
                assert answer.status_code == 200
            finally:
                admission.reads.leave()
        after = parse(answer.text)
        refused = "sodata_admission_refused_total"
        assert value(after, refused, kind="read") - value(before, refused, kind="read") == 1
        assert (
            requests(after, "unmatched", "GET", 503) - requests(before, "unmatched", "GET", 503)
            == 1
        )

    asyncio.run(run())


def _record_in(directory: Path) -> None:
    """Leaves in `directory` the values of a process that has ended: 1000 requests."""
    script = (
        "from prometheus_client import Counter\n"
        "Counter('sodata_http_requests', '', ['route', 'method', 'status'])"
        f".labels({REALM!r}, 'GET', '200').inc(1000)\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    subprocess.run([sys.executable, "-c", script], env=env, check=True)
    assert list(directory.glob("counter_*.db"))


def _workers(server: Server, count: int, timeout: float = 60) -> list[int]:
    """The pids of the workers the parent has said ready, once `count` of them are alive."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        said = re.findall(r"worker (\d+) ready", server.log_path.read_text())
        alive = [int(pid) for pid in dict.fromkeys(said) if Path(f"/proc/{pid}").exists()]
        if len(alive) == count:
            return alive
        time.sleep(0.2)
    raise AssertionError(f"not {count} workers ready:\n{server.log_tail()}")


def _realm_requests(path: Path) -> float:
    """The requests to /realms/{realm} one process recorded in its file."""
    for family in MultiProcessCollector.merge([str(path)]):
        for sample in family.samples:
            if sample.name == "sodata_http_requests_total" and sample.labels["route"] == REALM:
                return sample.value
    return 0.0


@pytest.mark.skipif(not dispatching(), reason="connections are dealt to the processes in turn")
def test_two_workers_are_summed(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    _record_in(directory)  # an earlier run's: removed at the start
    server = Server(
        "sqlite",
        tmp_path,
        env={"PROMETHEUS_MULTIPROC_DIR": str(directory)},
        args=["--workers", "2", "--log-level", "info"],
    )
    try:
        workers = _workers(server, 2)
        for _ in range(20):  # a connection each: dealt to the workers in turn
            assert httpx.get(f"{server.url}/realms/sodata", timeout=10).status_code == 200
        # A request is counted once its answer is sent: the client may read it a moment before.
        deadline = time.monotonic() + 10
        files = [directory / f"counter_{pid}.db" for pid in workers]
        while sum(each := [_realm_requests(path) for path in files]) < 20:
            assert time.monotonic() < deadline, each
            time.sleep(0.1)
        assert sum(each) == 20 and min(each) > 0, each  # both processes answered some
        for _ in range(4):  # whichever process answers /metrics, the sum of both
            samples = scrape(server)
            assert requests(samples, REALM, "GET", 200) == 20
            assert value(samples, "sodata_db_pool_size") == 2 * POOL

        os.kill(workers[0], 9)  # its counters stay; its gauges go with it
        deadline = time.monotonic() + 10
        while Path(f"/proc/{workers[0]}").exists():  # until the parent has seen it exit
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert workers[0] not in _workers(server, 2)
        while value(samples := scrape(server), "sodata_db_pool_size") != 2 * POOL:
            assert time.monotonic() < deadline, value(samples, "sodata_db_pool_size")
            time.sleep(0.2)
        assert requests(samples, REALM, "GET", 200) == 20
    finally:
        server.stop()
