"""What the HTTP door tells its operator: an access log line per request (text or JSON, never a
secret), Prometheus metrics for Domain Admins, readiness that touches the store, and a port in use
said before anything is served."""

from __future__ import annotations

import json
import logging
import socket
import ssl
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from openmps.app import Deployment
from openmps.cli.main import app as cli
from openmps.web.app import create_app
from openmps.web.telemetry import JsonFormatter
from support import ADMIN_PASSWORD, USER_PASSWORD, AsgiClient, World, he, mail_stores, org_path, rm

ADMIN = ("administrator@fabrikam.com", ADMIN_PASSWORD)
SECRET = "Sup3r-Secret-Passw0rd!"


@pytest.fixture
def client(world: World) -> AsgiClient:
    return AsgiClient(create_app(world.deployment))


def create_user(client: AsgiClient, upn: str) -> Any:
    document = he(
        "CreateBusinessUser",
        container=org_path("WH", "alpineskihouse"),
        userPrincipalName=upn,
        isAdmin=False,
        newPassword=SECRET,
    )
    return client.post(
        "/provisioning", content=document.encode(), auth=ADMIN, headers={"content-type": "text/xml"}
    )


def test_each_request_is_one_access_line_with_its_request_id_and_never_a_secret(
    client: AsgiClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="openmps.access"):
        response = create_user(client, "ann@alpineskihouse.com")
        client.post("/provisioning", content=b"<request/>", auth=("nobody@x.example", "wrong"))
    assert response.status_code == 200
    lines = [r for r in caplog.records if r.name == "openmps.access"]
    assert len(lines) == 2
    made, refused = (r.access for r in lines)
    assert made["request_id"] == response.headers["x-request-id"]
    assert (made["caller"], made["procedure"], made["outcome"], made["code"]) == (
        "administrator@fabrikam.com",
        "Hosted Exchange::CreateBusinessUser Managed Active Directory::CreateUser",  # nested calls too
        "success",
        "0x00000000",
    )
    assert (refused["caller"], refused["outcome"], refused["code"]) == (
        "nobody@x.example",
        "sign-in failure",
        "0x8007052E",
    )
    assert SECRET not in caplog.text
    as_json = [json.loads(JsonFormatter().format(r)) for r in lines]
    assert as_json[0]["request_id"] == made["request_id"] and as_json[0]["logger"] == "openmps.access"


def test_a_caller_name_cannot_forge_a_log_line(client: AsgiClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="openmps.access"):
        client.post("/provisioning", content=b"<request/>", auth=("evil\nforged line", "x"))
    line = next(r.getMessage() for r in caplog.records if r.name == "openmps.access")
    assert "\n" not in line and "evil\\nforged line" in line


def test_metrics_count_requests_by_procedure_and_outcome_for_domain_admins_only(
    client: AsgiClient, world: World
) -> None:
    stores = mail_stores(("EXBE01", "BusinessMailStore1", 1000, True))
    assert world.deployment.submit(rm("AddExchangeResources", mailStores=stores)).ok
    create_user(client, "bo@alpineskihouse.com")
    create_user(client, "bo@alpineskihouse.com")  # taken: a failure
    client.post("/provisioning", content=b"<request/>", auth=("nobody@x.example", "wrong"))
    response: Any = client.get("/metrics", auth=ADMIN)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    procedure = 'procedure="Hosted Exchange::CreateBusinessUser"'
    assert f'openmps_requests_total{{code="0x00000000",outcome="success",{procedure}}} 1.0' in text
    assert f'openmps_requests_total{{code="0x80071392",outcome="failure",{procedure}}} 1.0' in text
    assert "openmps_sign_in_failures_total 1.0" in text
    assert 'openmps_request_duration_seconds_count{outcome="success"}' in text
    store = 'kind="business",server="EXBE01",store="BusinessMailStore1"'
    assert f"openmps_store_capacity_bytes{{{store}}} 1.048576e+09" in text  # read when scraped
    boss = world.callers["customer_admin"]
    assert boss is not None
    assert client.get("/metrics", auth=(boss.name, USER_PASSWORD)).status_code == 403
    assert client.get("/metrics").status_code == 401


def test_readiness_reads_the_store(
    client: AsgiClient, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready: Any = client.get("/health/ready")
    assert (ready.status_code, ready.text) == (200, "ready")

    def broken(work: object) -> None:
        raise OSError("disk I/O error")

    monkeypatch.setattr(deployment, "inspect", broken)
    down: Any = client.get("/health/ready")
    assert down.status_code == 503 and "disk" not in down.text  # the details go to the log only
    assert client.get("/health").status_code == 200  # alive all the same


def test_a_port_in_use_is_said_before_anything_is_served(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["--home", str(tmp_path / "home"), "serve", "--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "Serving on" not in result.output
    assert not (tmp_path / "home").exists()  # nothing was initialized either


def _self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_serve_speaks_tls_with_the_operators_certificate(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "openmps",
        "--home",
        str(tmp_path / "home"),
        "serve",
        "--port",
        str(port),
    ]
    server = subprocess.Popen(
        [*command, "--tls-cert", str(cert), "--tls-key", str(key)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        context = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(verify=context, timeout=5) as client:
            for _ in range(200):
                try:
                    answer = client.get(f"https://127.0.0.1:{port}/health")
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            else:
                pytest.fail("the TLS server did not answer")
        assert answer.text == "ok"
        with pytest.raises(httpx.TransportError):  # plain HTTP is not answered on a TLS port
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=10)
    assert f"Serving on https://127.0.0.1:{port}/provisioning" in output.replace("\n", " ")


def test_a_wrong_tls_key_is_said_before_anything_is_served(tmp_path: Path) -> None:
    cert, _ = _self_signed(tmp_path)
    home = ["--home", str(tmp_path / "home")]
    wrong = CliRunner().invoke(
        cli, [*home, "serve", "--port", "1", "--tls-cert", str(cert), "--tls-key", str(cert)]
    )
    assert wrong.exit_code == 1 and "cannot serve TLS" in wrong.output and "Serving on" not in wrong.output
    alone = CliRunner().invoke(cli, [*home, "serve", "--tls-cert", str(cert)])
    assert alone.exit_code == 2 and "--tls-cert and --tls-key go together" in alone.output


@pytest.mark.parametrize(("threads", "at_once"), [(1, 1), (None, 4)])
def test_a_worker_runs_as_many_requests_at_once_as_its_threads(
    world: World, monkeypatch: pytest.MonkeyPatch, threads: int | None, at_once: int
) -> None:
    """With ``threads=1`` (serve --workers N on SQLite) requests wait their turn in the event loop,
    not in threads contending for the interpreter's lock; without, they run side by side."""
    import asyncio
    import threading

    engine = world.deployment.engine
    submit = engine.submit
    lock, running, most = threading.Lock(), [0], [0]

    def counted(*args: Any, **kwargs: Any) -> Any:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            time.sleep(0.2)  # long enough for the other requests to come in beside it, if let
            return submit(*args, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(engine, "submit", counted)
    document = he("GetBusinessUsers", path=org_path("WH", "alpineskihouse")).encode()

    async def four() -> list[int]:
        transport = httpx.ASGITransport(app=create_app(world.deployment, threads=threads))
        async with httpx.AsyncClient(transport=transport, base_url="http://openmps.test") as http:
            answers = await asyncio.gather(
                *(
                    http.post(
                        "/provisioning", content=document, auth=ADMIN, headers={"content-type": "text/xml"}
                    )
                    for _ in range(4)
                )
            )
        return [a.status_code for a in answers]

    assert asyncio.run(four()) == [200] * 4
    assert most[0] == at_once


def test_several_workers_on_sqlite_run_one_request_at_a_time_each(world: World) -> None:
    from openmps.web.app import default_threads

    d = world.deployment
    cpu_bound = d.sql.dialect.name == "sqlite" and d.directory_server is None
    # a directory server's or PostgreSQL's waits are overlapped by threads
    assert default_threads(d, 2) == (1 if cpu_bound else None)
    assert default_threads(d, 1) is None  # one process: threads overlap what waits there is


def test_workers_share_the_store_and_their_metrics(tmp_path: Path) -> None:
    """serve --workers 2: two processes answer on one port and one store; /metrics sums them."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    home = tmp_path / "home"
    init = CliRunner().invoke(
        cli, ["--home", str(home), "init", "--domain", "fabrikam.com", "--admin-password", ADMIN_PASSWORD]
    )
    assert init.exit_code == 0, init.output
    command = [
        sys.executable,
        "-m",
        "openmps",
        "--home",
        str(home),
        "serve",
        "--port",
        str(port),
        "--workers",
        "2",
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            try:
                if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        names = [f"R{i}" for i in range(12)]

        def create(name: str) -> int:
            document = he(
                "CreateResellerOrganization", container="LDAP://OU=Hosting,DC=fabrikam,DC=com", name=name
            )
            headers = {"content-type": "text/xml"}
            return httpx.post(
                f"{base}/provisioning", content=document.encode(), auth=ADMIN, headers=headers, timeout=30
            ).status_code

        with ThreadPoolExecutor(4) as pool:
            assert list(pool.map(create, names)) == [200] * len(names)
        metrics = httpx.get(f"{base}/metrics", auth=ADMIN, timeout=10).text
        total = 'openmps_requests_total{code="0x00000000",outcome="success",procedure="Hosted Exchange::CreateResellerOrganization"}'
        assert f"{total} 12.0" in metrics
    finally:
        server.terminate()
        _, log = server.communicate(timeout=15)
    assert log.count("OpenMPS is serving") == 2 and log.count("OpenMPS stopped") == 2
    assert len({line.split("request=")[-1] for line in log.splitlines() if "request=" in line}) == 12
