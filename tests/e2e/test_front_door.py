"""A front door calls the core as docs/ARCHITECTURE.md says: its example runs as written, and the
Python door makes no XML, nested calls included."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from openmps.app import Deployment
from support import USER_PASSWORD, make_alpineskihouse, make_user, org_path

ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "ARCHITECTURE.md"


def test_the_architecture_example_creates_a_user_through_the_python_door(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = ARCHITECTURE.read_text()
    section = text[text.index("## How a front door calls the core") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    make_alpineskihouse(deployment, exchange=True)
    make_user(deployment, org_path("WH", "alpineskihouse"), "admin@alpineskihouse.com", admin=True)
    assert deployment.home is not None
    monkeypatch.setenv("OPENMPS_HOME", str(deployment.home))
    # the example's password stands for the administrator's own
    exec(code.group(1).replace('"P4ssw0rd!"', repr(USER_PASSWORD)), {})  # noqa: S102
    printed = capsys.readouterr().out
    assert "CN=ann@alpineskihouse.com,OU=alpineskihouse" in printed
    assert "mDBStorageQuota" in printed  # the BaseMail mailbox's stamp, read as values


def test_the_python_door_and_nested_calls_make_no_xml(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Engine.call, and every ctx.call under it (CreateBusinessUser → CreateMailbox → the Resource
    Manager's AllocateMailbox), pass values: the renderer is never reached, nor the parser."""
    from openmps.engine import results, xmlsafe
    from openmps.namespaces.hosted_exchange.results import CreatedUser
    from openmps.types import DN, Upn

    make_alpineskihouse(deployment, exchange=True)
    admin = deployment.administrator()

    def no_xml(*args: object, **kwargs: object) -> None:
        raise AssertionError("XML was made or parsed on the Python door")

    monkeypatch.setattr(results, "_fill", no_xml)
    monkeypatch.setattr(xmlsafe, "parse_document", no_xml)
    created = deployment.engine.call(
        "Hosted Exchange",
        "CreateBusinessUser",
        {
            "container": DN.from_path(org_path("WH", "alpineskihouse")),
            "userPrincipalName": Upn.parse("bo@alpineskihouse.com"),
            "isAdmin": False,
            "planName": "GoldMail",
        },
        caller=admin,
        returns=CreatedUser,
    )
    assert created.mailbox is not None and created.user.path.rdn_value == "bo@alpineskihouse.com"
