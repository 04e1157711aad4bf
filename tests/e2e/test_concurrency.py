"""Several processes provision into one store at once (a service and CLI tools side by side):
every request succeeds, nothing is lost, generated names stay unique."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from openmps.app import Deployment, open_deployment
from openmps.types import DN
from support import fast_passwords, he, make_alpineskihouse, ok, org_path

WORKERS = 3
PER_WORKER = 15
ORG = org_path("WH", "alpineskihouse")


def _worker(home: str, worker: int) -> list[str]:
    d = open_deployment(Path(home), passwords=fast_passwords())
    admin = d.administrator()
    errors = []
    for i in range(PER_WORKER):
        # the first 20 characters are the same for everyone: every name after the first collides
        upn = f"{'a' * 20}{worker}x{i}@alpineskihouse.com"
        outcome = d.submit(
            he("CreateBusinessUser", container=ORG, userPrincipalName=upn, isAdmin=i % 2 == 0), admin
        )
        if outcome.error is not None:
            errors.append(f"{upn}: {outcome.error!r}")
    return errors


def test_processes_provisioning_at_once(deployment: Deployment, tmp_path: Path) -> None:
    make_alpineskihouse(deployment)
    home = str(tmp_path / "home")
    with multiprocessing.get_context("spawn").Pool(WORKERS) as pool:
        results = pool.starmap(_worker, [(home, w) for w in range(WORKERS)])
    assert [e for errors in results for e in errors] == []
    users = ok(deployment.submit(he("GetBusinessUsers", path=ORG))).findall("data/users/user")
    assert len(users) == WORKERS * PER_WORKER
    sams = [u.get("sAMAccountName") for u in users]
    assert len(set(s.lower() for s in sams)) == len(sams)
    assert sum(s == "a" * 20 for s in sams) == 1  # one got the seed itself, the rest seed + digits
    org = DN.from_path(ORG)
    members = deployment.read(
        lambda directory: {
            group: len(directory.get(dn).get("member"))
            for group, dn in (
                ("all", org.child("CN", "_Private").child("CN", "AllUsers@alpineskihouse")),
                ("admins", org.child("CN", "Admins@alpineskihouse")),
            )
        }
    )
    assert members == {"all": WORKERS * PER_WORKER, "admins": WORKERS * ((PER_WORKER + 1) // 2)}
