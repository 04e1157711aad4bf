"""MPF's own namespaces: MPF Config lists what a caller may call; Error Provider raises, translates
and reports coded errors (reference §1.8, §1.12)."""

from __future__ import annotations

import pytest
from lxml import etree

from openmps.app import registry
from openmps.errors import all_error_classes
from support import World, he, ok, org_path, refused, request_xml, snapshot

ALPINE = org_path("WH", "alpineskihouse")


def config(procedure: str, /, **args: object) -> str:
    return request_xml("MPF Config", procedure, **args)


def errors(procedure: str, /, **args: object) -> str:
    return request_xml("Error Provider", procedure, **args)


def given(document: str, xml: str) -> str:
    """``document`` with ``xml`` (an argument with attributes) first in its executeData."""
    return document.replace("<executeData>", f"<executeData>{xml}", 1)


def listed(world: World, persona: str, namespace: str | None = None) -> set[str]:
    response = ok(world.submit(config("GetProcedures", namespace=namespace), persona))
    return {f"{p.get('namespace')}::{p.get('name')}" for p in response.iterfind("data/procedures/procedure")}


def test_a_domain_admin_is_listed_every_public_procedure_under_every_name(world: World) -> None:
    public = {f"{ns}::{s.name}" for ns, s in registry().answered() if s.access == "public"}
    assert listed(world, "domain_admin") == public
    assert "Exchange Resource Manager Ex::AllocateConsumerUserMailbox" in public  # the alias too
    assert not any(name.endswith("_") for name in public)  # private procedures are no API
    response = ok(world.submit(config("GetProcedures", namespace="hosted exchange")))
    one = response.find("data/procedures/procedure[@name='CreateBusinessUser']")
    assert one is not None and one.get("role") == "USER_CREATOR" and one.get("kind") == "write"
    assert one.text and one.text.startswith("Create a business user")
    namespaces = ok(world.submit(config("GetNamespaces"))).findall("data/namespaces/namespace")
    assert {n.text for n in namespaces} == {name.split("::")[0] for name in public}


def test_each_persona_is_listed_what_it_may_call(world: World) -> None:
    user = listed(world, "user")
    admin = listed(world, "customer_admin")
    reseller = listed(world, "reseller_admin")
    assert "Hosted Exchange::GetBusinessUser" in user and "Hosted Exchange::CreateBusinessUser" not in user
    assert "Error Provider::SetError" in user and "MPF Config::GetProcedures" in user
    assert "Hosted Exchange::CreateBusinessUser" in admin
    assert "Hosted Exchange::CreateBusinessOrganization" not in admin
    assert "Hosted Exchange::CreateBusinessOrganization" in reseller  # through Admins@WH
    for persona in ("user", "customer_admin", "reseller_admin", "hosting_admin"):
        got = listed(world, persona)
        assert not any(name.startswith(("Exchange Resource Manager", "MPS Import")) for name in got), persona
        assert "Hosted Exchange::CreateMailboxPlan" not in got  # Domain Admins only
    namespaces = ok(world.submit(config("GetNamespaces"), "user")).findall("data/namespaces/namespace")
    assert "MPS Import" not in {n.text for n in namespaces}


def test_an_unknown_namespace_is_named(world: World) -> None:
    refused(world, config("GetProcedures", namespace="Hosted Nothing"), "0x80070032", "'Hosted Nothing'")
    # a namespace the caller may call nothing of is an empty list, not an error
    assert listed(world, "user", "MPS Import") == set()


def test_set_error_answers_its_code_and_is_caught_by_a_try(world: World) -> None:
    refused(
        world,
        errors("SetError", hr="0x80072030", desc="no such plan here"),
        "0x80072030",
        "no such plan here",
    )
    refused(world, errors("SetError", hr="0x80070057"), "0x80070057", "Invalid argument")
    caught = (
        "<request><procedure><try>"
        f'<execute namespace="Hosted Exchange" procedure="CreateContact" impersonate="1"><executeData>'
        f"<container>{ALPINE}</container><name>Caught</name><targetAddress>c@x.example</targetAddress>"
        "</executeData></execute>"
        '<execute namespace="Error Provider" procedure="SetError"><executeData>'
        "<hr>0x80131509</hr><desc>stop here</desc></executeData></execute>"
        "</try><catch>"
        '<execute namespace="Error Provider" procedure="TranslateProvisioningError"><executeData><errorMessageContext/></executeData>'
        '<before source="context" sourcePath="errorContext" destination="executeData"'
        ' destinationPath="errorMessageContext" mode="insert"/>'
        '<after source="executeData" destination="data" mode="merge"/></execute>'
        "</catch></procedure></request>"
    )
    before = snapshot(world.deployment)
    response = ok(world.submit(caught))
    assert snapshot(world.deployment) == before  # the contact made in the <try> was undone
    assert response.findtext("data/name") == "InvalidOperation", etree.tostring(response).decode()
    assert response.findtext("data/description") == "stop here"


@pytest.mark.parametrize(
    ("hr", "fault"),
    [
        ("0x800705AA", "the door's or the service's"),  # ServiceBusy passes every <catch>
        ("0x8004D00E", "the door's or the service's"),  # RollbackFailed
        ("0xC00CE501", "the door's or the service's"),
        ("0x12345678", "is not a code of docs/errors.md"),
        ("80070057", "must be an HRESULT"),
        ("0x8007005G", "must be an HRESULT"),
    ],
)
def test_set_error_refuses_what_is_not_a_requests_error(world: World, hr: str, fault: str) -> None:
    refused(world, errors("SetError", hr=hr), "0x80070057", fault)


def test_translations_come_from_the_error_table(world: World) -> None:
    for cls in all_error_classes()[1:]:
        code = f"0x{cls.code:08X}"
        document = given(
            errors("TranslateProvisioningError"),
            f'<errorMessageContext code="{code.lower()}" description="d"/>',
        )
        response = ok(world.submit(document, "user"))
        assert response.findtext("data/code") == code
        assert response.findtext("data/description") == "d"
        named = next(c for c in all_error_classes()[1:] if c.code == cls.code)  # the first of a code
        assert response.findtext("data/name") == named.__name__
        assert response.findtext("data/httpStatus") == str(named.http_status)
    user = given(
        errors("TranslateUserError", locId=1033),
        '<errorMessageContext code="0x80070005" description="secret DN"/>',
    )
    response = ok(world.submit(user, "user"))
    assert response.findtext("data/message") == "Access denied"
    assert b"secret DN" not in etree.tostring(response.find("data/message"))
    refused(
        world,
        given(errors("TranslateUserError", locId=1036), '<errorMessageContext code="0x80070005"/>'),
        "0x80004001",
        "'locId' 1036",
    )
    refused(world, errors("TranslateUserError"), "0x80070057", "errorMessageContext")
    both = '<errorMessageContext code="0x80070005"><errorContext code="0x80070005"/></errorMessageContext>'
    refused(world, given(errors("TranslateUserError"), both), "0x80070057", "not both")


def test_report_event_is_kept_in_the_audit_log_even_when_the_request_fails(world: World) -> None:
    d = world.deployment
    ok(world.submit(errors("ReportEvent", message="nightly check passed", eventId=7), "user"))
    failing = (
        "<request><procedure>"
        '<execute namespace="Error Provider" procedure="ReportEvent"><executeData>'
        "<message>about to fail</message><eventType>warning</eventType></executeData></execute>"
        '<execute namespace="Error Provider" procedure="SetError"><executeData><hr>0x80004005</hr>'
        "</executeData></execute></procedure></request>"
    )
    assert world.submit(failing).error is not None
    events = d.audit.search(procedure="Error Provider::ReportEvent")
    by_text = {e.error_description: e for e in events if e.outcome.startswith("event")}
    assert by_text["nightly check passed"].outcome == "event info"
    assert by_text["nightly check passed"].error_code == "7"
    assert by_text["nightly check passed"].caller == "worker@alpineskihouse.com"
    assert by_text["about to fail"].outcome == "event warning"
    refused(world, errors("ReportEvent", message="m", eventType="Fatal"), "0x80070057", "'eventType'")
    refused(world, errors("ReportEvent", message="m", eventId=70000), "0x80070057", "'eventId'")
    refused(world, errors("ReportEvent", message="a\u202eb"), "0x80070057", "'message'")
    assert he  # (the Hosted Exchange helper is used by the <try> above through its namespace)


def test_the_schema_takes_an_error_context_with_its_stack() -> None:
    """An ``<errorContext>`` holds its ``<errorSource>`` frames in itself (``Xml(".", item=…)``)."""
    from openmps.cli.docgen import xsd

    spec = next(s for s in registry() if s.name == "TranslateProvisioningError")
    checker = etree.XMLSchema(etree.fromstring(xsd(spec).encode()))
    data = etree.fromstring(
        '<executeData><errorMessageContext><errorContext code="0x80070005" description="d">'
        '<errorSource namespace="A" procedure="B"/><errorSource namespace="C" procedure="D"/>'
        "</errorContext></errorMessageContext><locId>1033</locId></executeData>"
    )
    assert checker.validate(data), checker.error_log
    bound = spec.bind(data)
    sources = bound.error.context.sources  # type: ignore[attr-defined]
    assert [(s.namespace, s.procedure) for s in sources] == [("A", "B"), ("C", "D")]


def test_an_event_after_a_write_is_written_once_the_request_has_ended(world: World) -> None:
    """The event is written after the request's own record, outside its write lock."""
    document = (
        "<request><procedure>"
        f'<execute namespace="Hosted Exchange" procedure="CreateContact"><executeData><container>{ALPINE}'
        "</container><name>Evented</name><targetAddress>e@x.example</targetAddress></executeData></execute>"
        '<execute namespace="Error Provider" procedure="ReportEvent"><executeData>'
        "<message>contact made</message></executeData></execute></procedure></request>"
    )
    ok(world.submit(document))
    events = world.deployment.audit.search(procedure="Error Provider::ReportEvent")
    assert [(e.outcome, e.error_description) for e in events] == [
        ("event info", "contact made"),
        ("success", None),
    ]
