"""HTTP's edges answer in the one error format of the MPF door: an unknown path or method is an
``<errorContext>``, a trailing slash is not redirected, and a body declared as something other
than XML is refused before it is read, changing nothing."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from openmps.app import Deployment
from openmps.web.app import create_app
from support import ADMIN_PASSWORD, AsgiClient, he, snapshot

AUTH = ("administrator@fabrikam.com", ADMIN_PASSWORD)


@pytest.fixture
def client(deployment: Deployment) -> AsgiClient:
    return AsgiClient(create_app(deployment))


def error_of(response: Any) -> tuple[int, str, str]:
    assert response.headers["content-type"].startswith("text/xml")
    context = etree.fromstring(response.content).find("errorContext")
    assert context is not None, response.text
    return response.status_code, context.get("code", ""), context.get("description", "")


@pytest.mark.parametrize(
    ("method", "path", "status", "code", "fragment"),
    [
        ("GET", "/provisioning", 405, "0x80070001", "answers POST, not 'GET'"),
        ("PUT", "/health", 405, "0x80070001", "answers GET, HEAD, not 'PUT'"),
        ("POST", "/provisioning/", 404, "0x80070002", "nothing answers at '/provisioning/'"),
        ("GET", "/api", 404, "0x80070002", "the MPF door is POST /provisioning"),
        ("GET", "/%01%E2%80%AEevil", 404, "0x80070002", r"'/\x01\u202eevil'"),
    ],
)
def test_unknown_paths_and_methods_answer_an_error_context(
    client: AsgiClient, method: str, path: str, status: int, code: str, fragment: str
) -> None:
    response: Any = client.request(method, path, auth=AUTH, content=b"<request/>", follow_redirects=False)
    got_status, got_code, description = error_of(response)
    assert (got_status, got_code) == (status, code)
    assert fragment in description, description
    if status == 405:
        assert response.headers["allow"] in ("POST", "GET, HEAD")


def test_a_body_declared_as_another_type_is_refused_and_changes_nothing(
    client: AsgiClient, deployment: Deployment
) -> None:
    document = he("CreateResellerOrganization", container="LDAP://OU=Hosting,DC=fabrikam,DC=com", name="WH")
    before = snapshot(deployment)
    for declared in ("application/json", "text/plain; charset=utf-8", "application/x-www-form-urlencoded"):
        response: Any = client.post(
            "/provisioning", content=document.encode(), auth=AUTH, headers={"content-type": declared}
        )
        status, code, description = error_of(response)
        assert (status, code) == (415, "0xC00CE501")
        assert "takes an MPF request as text/xml or application/xml" in description
        assert declared.split(";")[0] in description
    assert snapshot(deployment) == before


@pytest.mark.parametrize(
    "declared", ["text/xml", "application/xml; charset=utf-8", "application/soap+xml", None]
)
def test_xml_in_any_of_its_types_or_undeclared_is_taken(client: AsgiClient, declared: str | None) -> None:
    headers = {"content-type": declared} if declared else {}
    document = he("CreateResellerOrganization", container="LDAP://OU=Hosting,DC=fabrikam,DC=com", name="WH")
    response: Any = client.post("/provisioning", content=document.encode(), auth=AUTH, headers=headers)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("size", [1_000, 200_000], ids=["read-with-the-headers", "read-after-sign-in"])
def test_the_answers_keep_their_order_whatever_the_body_size(client: AsgiClient, size: int) -> None:
    """A small body is read before the sign-in (one hop to a worker thread for both), a larger one
    after it; either way the sign-in is answered first, then the query, then the body's type."""
    document = ("<request>" + " " * size + "</request>").encode()
    wrong = {"content-type": "application/json"}
    anonymous: Any = client.post("/provisioning?dryRun=maybe", content=document, headers=wrong)
    assert error_of(anonymous)[0] == 401
    query: Any = client.post("/provisioning?dryRun=maybe", content=document, auth=AUTH, headers=wrong)
    assert error_of(query)[:2] == (400, "0x80070057")
    declared: Any = client.post("/provisioning", content=document, auth=AUTH, headers=wrong)
    assert error_of(declared)[:2] == (415, "0xC00CE501")
    read: Any = client.post("/provisioning?dryRun=1", content=document, auth=AUTH)
    assert error_of(read) == (400, "0xC00CE500", "request has no <procedure>")  # the body, whole
