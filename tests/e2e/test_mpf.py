"""MPF's own namespaces: MPF Config lists what a caller may call; Error Provider raises, translates
and reports coded errors (reference §1.8, §1.12)."""

from __future__ import annotations

import pytest
from lxml import etree

from openmps.app import open_deployment, registry
from openmps.errors import all_error_classes
from openmps.types import DN
from support import World, fast_passwords, he, ok, org_path, refused, request_xml, snapshot

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
    # the SQL store as it was, but for the commit mark of this request on a directory server (a
    # request that caught its failure commits), and no contact in the directory
    before = {k: v for k, v in snapshot(world.deployment).items() if k != "directory_commits"}
    response = ok(world.submit(caught))
    assert {k: v for k, v in snapshot(world.deployment).items() if k != "directory_commits"} == before
    contact = DN.parse(f"CN=Caught,{ALPINE.removeprefix('LDAP://')}")
    assert not world.deployment.read(lambda directory: directory.exists(contact))  # undone
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


def execute_as(procedure: str, username: str | None) -> str:
    return config(
        "SetExecuteAs", namespace="managed active directory", procedure=procedure, username=username
    )


def test_a_procedure_run_as_a_service_runs_as_its_execute_as_account(world: World) -> None:
    """CreateBusinessUser runs Managed AD's CreateUser as a service: assigned to an account without
    rights on the organization, the step is refused with that account's rights, not the engine's;
    assigned to one with them, it runs; un-assigned, the engine's account runs it again."""
    create = he(
        "CreateBusinessUser", container=ALPINE, userPrincipalName="runas@alpineskihouse.com", isAdmin=False
    )
    set_to_worker = ok(world.submit(execute_as("CreateUser", "worker@alpineskihouse.com")))
    procedure = set_to_worker.find("data/procedure[@name]")
    credential = set_to_worker.find("data/credential")
    assert procedure is not None and credential is not None
    assert procedure.get("namespace") == "Managed Active Directory" and procedure.get("name") == "CreateUser"
    assert procedure.get("runAsCredentialID") == credential.get("id")
    assert credential.get("domain") == "fabrikam.com" and credential.get("username")
    # another process on the same store (a worker) runs it so too: read from the store, not remembered
    assert world.deployment.home is not None
    other = open_deployment(world.deployment.home, passwords=fast_passwords())
    try:
        refused(other, create, "0x80070005")
    finally:
        other.sql.dispose()
    outcome = world.submit(create, "customer_admin")
    assert outcome.error is not None and outcome.error.hex_code == "0x80070005"
    sources = [(e.get("namespace"), e.get("procedure")) for e in outcome.response.iterfind(".//errorSource")]
    assert ("Managed Active Directory", "CreateUser") in sources

    ok(world.submit(execute_as("CreateUser", f"FABRIKAM\\{credential_of(world, 'boss@alpineskihouse.com')}")))
    ok(world.submit(create, "customer_admin"))
    listing = ok(world.submit(config("GetCredentials")))
    assert [c.get("username") for c in listing.iterfind("data/credentials/credential")] == [
        credential_of(world, "boss@alpineskihouse.com")
    ]
    text = etree.tostring(listing).decode()
    assert "userPassword" not in text and "$argon2" not in text and "Password" not in text
    cleared = ok(world.submit(execute_as("CreateUser", None)))
    assert cleared.find("data/credential") is None
    assert cleared.find("data/procedure[@name]").get("runAsCredentialID") is None  # type: ignore[union-attr]
    assert ok(world.submit(config("GetCredentials"))).find("data/credentials/credential") is None
    ok(world.submit(he("DeleteBusinessUser", path="LDAP://CN=runas@alpineskihouse.com," + ALPINE[7:])))
    ok(world.submit(create, "customer_admin"))


def credential_of(world: World, upn: str) -> str:
    with world.deployment.transaction() as providers:
        dn = providers.directory.holder("userPrincipalName", upn)
        assert dn is not None
        return providers.directory.get(dn).first("sAMAccountName") or ""


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        ({"procedure": "CreateUser", "username": "nobody@alpineskihouse.com"}, "0x80072030", "'nobody@"),
        ({"procedure": "CreateUser", "username": "CONTOSO\\Administrator"}, "0x80070057", "'CONTOSO'"),
        ({"procedure": "CreateUser", "username": "AllUsers@alpineskihouse"}, "0x80072030", "no user"),
        ({"procedure": "MakeNothing", "username": "Administrator"}, "0x80070032", "'MakeNothing'"),
    ],
)
def test_set_execute_as_refuses_what_it_cannot_assign(
    world: World, args: dict[str, str], code: str, fragment: str
) -> None:
    refused(world, config("SetExecuteAs", namespace="Managed Active Directory", **args), code, fragment)
