"""Hostile input end to end: every refusal answers the exact documented code, names what was wrong,
writes nothing (the whole store except the audit log is unchanged), and never shows a traceback.

Values that are legal (a comma in an organization name, a ``*`` in a UPN) must be stored as the
literal text in exactly one new RDN: a value can never become structure (another RDN, a filter).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import select

from openmps.app import Deployment
from openmps.db.schema import audit_log
from openmps.directory.interface import Change
from openmps.engine.engine import Outcome
from openmps.errors import NotAuthenticated
from openmps.types import DN, escape_dn_value
from openmps.web.app import create_app
from support import (
    ADMIN_PASSWORD,
    HOSTING,
    USER_PASSWORD,
    AsgiClient,
    RawXml,
    World,
    build_world,
    directory_dns,
    directory_values,
    he,
    ok,
    org_path,
    peak_memory_growth,
    request_xml,
    stores_snapshot,
)

# docs/errors.md
INVALID = "0x80070057"
MALFORMED = "0xC00CE500"
REJECTED = "0xC00CE501"  # RequestRejected and RequestTooLarge
UNKNOWN = "0x80070032"
NOT_FOUND = "0x80072030"
CONSTRAINT = "0x8007202F"
ACCESS_DENIED = "0x80070005"
POLICY = "0x800708C5"

ASH = org_path("WH", "alpineskihouse")
CONTOSO = org_path("WH", "contoso")
FOURTH = org_path("R2", "fourthcoffee")
TEN_MB = 10 * 1024 * 1024


def user_path(upn: str, org: str = ASH) -> str:
    return DN.from_path(org).child("CN", upn).ldap_path


WORKER = user_path("worker@alpineskihouse.com")
BOSS = user_path("boss@alpineskihouse.com")
CONTOSO_BOSS = user_path("boss@contoso.com", CONTOSO)


# --- fixtures and helpers ---------------------------------------------------------------------------


@pytest.fixture
def world(unchanged_world: World) -> World:
    """One world for the module: its tests' requests are refused, and ``refused`` holds that each
    changed nothing (on both stores), so a case needs no deployment of its own."""
    return unchanged_world


@pytest.fixture
def fresh_world(deployment: Deployment) -> World:
    """A world of the case's own: for the tests whose requests may be accepted and that look at
    what the world holds in all (another case's writes would show there)."""
    return build_world(deployment)


def response_text(outcome: Outcome) -> str:
    return outcome.to_bytes().decode()


def assert_no_traceback(text: str) -> None:
    assert "Traceback" not in text and 'File "' not in text, text


def refused(
    world: World | Deployment,
    document: str | bytes,
    code: str,
    *names: str,
    persona: str = "domain_admin",
) -> str:
    """Submit ``document``; assert it fails with ``code``, its description holds every one of
    ``names``, nothing was written and no traceback shows.  Returns the description."""
    d = world.deployment if isinstance(world, World) else world
    before = stores_snapshot(d)
    outcome = world.submit(document, persona) if isinstance(world, World) else d.submit(document)
    text = response_text(outcome)
    assert_no_traceback(text)
    context = outcome.response.find("errorContext")
    assert context is not None, text
    assert context.get("code") == code, text
    assert outcome.error is not None and outcome.error.hex_code == code
    description = context.get("description", "")
    for name in names:
        assert name in description, (name, description)
    assert stores_snapshot(d) == before, "a refused request changed the store"
    return description


def user_properties(world: World, path: str) -> dict[str, list[str]]:
    response = ok(world.submit(he("GetBusinessUser", path=path)))
    return {p.get("name"): [v.text for v in p] for p in response.iter("property")}


def created_or_refused(world: World, document: str, argument: str) -> Outcome | None:
    """A hostile but possibly legal value: either InvalidArgument naming ``argument`` with nothing
    written, or success (returned for the caller's literal checks)."""
    d = world.deployment
    before = stores_snapshot(d)
    outcome = world.submit(document)
    assert_no_traceback(response_text(outcome))
    if outcome.error is None:
        return outcome
    context = outcome.response.find("errorContext")
    assert context.get("code") == INVALID, response_text(outcome)
    assert argument in context.get("description", ""), context.get("description")
    assert stores_snapshot(d) == before
    return None


# --- XML ----------------------------------------------------------------------------------------------

GET_USERS = (
    '<request><procedure><execute namespace="Hosted Exchange" procedure="GetBusinessUsers">'
    "<executeData><path>{path}</path></executeData></execute></procedure></request>"
)
XXE_SYSTEM = (
    '<?xml version="1.0"?><!DOCTYPE request [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    + GET_USERS.format(path="&xxe;")
)
_LOL = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE request [' + "".join(_LOL) + "]>" + GET_USERS.format(path="&lol9;")
)
EXTERNAL_DTD = '<?xml version="1.0"?><!DOCTYPE request SYSTEM "http://evil.example/request.dtd"><request/>'
PARAMETER_ENTITIES = (
    '<?xml version="1.0"?><!DOCTYPE request [<!ENTITY % remote SYSTEM "http://evil.example/x.dtd">'
    "%remote;]>" + GET_USERS.format(path=HOSTING)
)
XXE_UTF16 = XXE_SYSTEM.replace('"1.0"?>', '"1.0" encoding="UTF-16"?>').encode("utf-16")


@pytest.mark.parametrize(
    "document",
    [XXE_SYSTEM, BILLION_LAUGHS, EXTERNAL_DTD, PARAMETER_ENTITIES, XXE_UTF16],
    ids=["xxe-system", "billion-laughs", "external-dtd", "parameter-entities", "xxe-utf16"],
)
def test_dtds_and_entities_are_rejected(world: World, document: str | bytes) -> None:
    description = refused(world, document, REJECTED, "DTD", "entity")
    assert "root:" not in description


def test_undeclared_entity_reference_is_malformed(world: World) -> None:
    refused(world, GET_USERS.format(path="&xxe;"), MALFORMED, "Entity 'xxe' not defined")


def test_body_over_ten_megabytes_is_rejected_in_process(world: World) -> None:
    body = "<request>" + " " * (TEN_MB + 1 - len("<request></request>")) + "</request>"
    assert len(body.encode()) == TEN_MB + 1
    refused(world, body, REJECTED, f"{TEN_MB + 1} bytes", str(TEN_MB))
    # exactly at the limit the size is fine: what refuses the document then is the parser
    at_limit = body.replace(" ", "", 1)
    description = refused(world, at_limit, MALFORMED, "not well-formed")
    assert str(TEN_MB) not in description


def test_body_over_ten_megabytes_is_413_over_http(world: World) -> None:
    d = world.deployment
    client = AsgiClient(create_app(d))
    before = stores_snapshot(d)
    body = b"<request>" + b" " * (TEN_MB + 1 - len("<request></request>")) + b"</request>"
    response = client.post(
        "/provisioning",
        content=body,
        auth=("administrator@fabrikam.com", ADMIN_PASSWORD),
        headers={"content-type": "text/xml"},
    )
    assert response.status_code == 413
    assert_no_traceback(response.text)
    context = etree.fromstring(response.content).find("errorContext")
    assert context.get("code") == REJECTED
    assert str(TEN_MB) in context.get("description")
    assert stores_snapshot(d) == before


def test_a_body_streaming_far_past_the_limit_is_cut_off_as_it_arrives(tmp_path: Path) -> None:
    """64 MB sent in chunks, with no Content-Length to refuse it by: the app stops reading past
    10 MB, so the server's peak grows by about that much, not by the body (twice, once joined)."""
    growth = peak_memory_growth(
        f"""
        import asyncio
        from pathlib import Path
        import httpx
        from openmps.app import init_deployment
        from openmps.types import Secret
        from openmps.web.app import create_app
        from support import ADMIN_PASSWORD, fast_passwords

        home = Path({str(tmp_path / "home")!r})
        d = init_deployment(
            home, domain="fabrikam.com", admin_password=Secret(ADMIN_PASSWORD), passwords=fast_passwords()
        )
        app = create_app(d)
        d.authenticator.authenticate("administrator@fabrikam.com", ADMIN_PASSWORD)

        async def body():
            yield b"<request>"
            for _ in range(64 * 16):
                yield b"<e/>" * (16 * 1024)  # 64 KB

        async def post():
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://openmps.test") as client:
                return await client.post(
                    "/provisioning", content=body(), auth=("administrator@fabrikam.com", ADMIN_PASSWORD)
                )
        """,
        f"""
        response = asyncio.run(post())
        assert response.status_code == 413, response.text
        assert "{REJECTED}" in response.text and "{TEN_MB}" in response.text, response.text
        """,
    )
    assert growth < 60, f"the peak grew by {growth:.0f} MB"


def test_nesting_deeper_than_64_is_rejected(world: World) -> None:
    deep = "<request>" + "<a>" * 64 + "</a>" * 64 + "</request>"  # 65 levels
    refused(world, deep, REJECTED, "deeper than 64", "max_depth")
    # 64 levels pass the parser and fail as an MPF request, naming the stray element
    refused(world, deep.replace("<a>", "", 1).replace("</a>", "", 1), MALFORMED, "unknown child", "a")


def test_nul_byte_is_malformed(world: World) -> None:
    refused(world, b"<request>\x00</request>", MALFORMED, "not well-formed", "0x0")


@pytest.mark.parametrize("document", ["this is not XML", '{"request": 1}', "", "<request><procedure>"])
def test_non_xml_is_malformed(world: World, document: str) -> None:
    refused(world, document, MALFORMED, "well-formed")


@pytest.mark.parametrize("declared", [True, False], ids=["declared", "bom-only"])
def test_utf16_with_bom_is_accepted(fresh_world: World, declared: bool) -> None:
    document = he("CreateResellerOrganization", container=HOSTING, name="Utf16")
    if declared:
        document = '<?xml version="1.0" encoding="UTF-16"?>' + document
    raw = document.encode("utf-16")
    assert raw[:2] in (b"\xff\xfe", b"\xfe\xff")
    response = ok(fresh_world.deployment.submit(raw))
    assert response.find("data/org").get("path") == org_path("Utf16")


# --- DN and filter injection in every name and path argument ------------------------------------------

HOSTILE = {
    "comma-rdn": "evil,OU=Hosting",
    "dc-suffix": "x,DC=fabrikam,DC=com",
    "filter": "*)(objectClass=*",
    "star": "*",
    "backslash": "\\",
    "quoted": '"quoted"',
    "hash-lead": "#lead",
    "space-lead": " lead",
    "space-trail": "trail ",
    "nul": "a\x00b",
    "long": "n" * 300,
    "control-soh": "a\x01b",
    "control-tab": "a\tb",
    "control-newline": "a\nb",
    "control-del": "a\x7fb",
}
# Characters XML 1.0 cannot carry at all: such a request never reaches argument binding.
XML_ILLEGAL = {"nul", "control-soh"}
# Values that may never be stored, whatever else is allowed.
MUST_REFUSE = {"long", "control-tab", "control-newline"}


def _xml_illegal(world: World, document: str) -> None:
    description = refused(world, document.encode(), MALFORMED, "not well-formed")
    assert "Char" in description  # libxml2 names the offending character and its position


@pytest.mark.parametrize("key", list(HOSTILE))
@pytest.mark.parametrize("procedure", ["CreateResellerOrganization", "CreateBusinessOrganization"])
def test_org_name_is_one_literal_rdn_or_refused(shared_world: World, procedure: str, key: str) -> None:
    d = shared_world.deployment
    value = HOSTILE[key]
    reseller = procedure == "CreateResellerOrganization"
    container = DN.from_path(HOSTING if reseller else org_path("WH"))
    extra = {} if reseller else {"SMTPDomain": f"literal-{key}.example"}  # a domain per case: one world
    document = he(procedure, container=container.ldap_path, name=value, **extra)
    if key in XML_ILLEGAL:
        _xml_illegal(shared_world, document)
        return
    dns_before = directory_dns(d)
    hosting_before = directory_values(d, d.layout.hosting)
    container_before = directory_values(d, container)
    outcome = created_or_refused(shared_world, document, "name")
    if outcome is None:
        return
    assert key not in MUST_REFUSE, f"{value!r} was accepted as an organization name"
    expected = container.child("OU", value)
    org = outcome.response.find("data/org")
    assert org.get("name") == value, "the organization's name is not the literal text given"
    assert DN.from_path(org.get("path")) == expected
    # exactly one new RDN, directly below the container
    assert expected.rdns[0] == (("OU", value),)
    assert expected.parent == container and len(expected) == len(container) + 1
    new = directory_dns(d) - dns_before
    assert expected in new
    assert all(dn.is_within(expected) for dn in new), sorted(map(str, new))
    # the real OU=Hosting (and the container) were not touched, and no other OU=Hosting appeared
    assert directory_values(d, d.layout.hosting) == hosting_before
    assert directory_values(d, container) == container_before
    named_hosting = [
        dn
        for dn in directory_dns(d)
        if len(dn.rdns[0]) == 1 and dn.rdn_attr.lower() == "ou" and dn.rdn_value == "Hosting"
    ]
    assert named_hosting == [d.layout.hosting]
    # and it reads back under its literal name
    read = ok(shared_world.submit(he("GetBusinessOrganization", path=expected.ldap_path)))
    assert read.find("data/org").get("name") == value


DN_ARGUMENTS: dict[tuple[str, str], dict[str, object]] = {
    ("CreateResellerOrganization", "container"): {"name": "R9"},
    ("CreateBusinessOrganization", "container"): {"name": "org9", "SMTPDomain": "org9.example"},
    ("CreateBusinessUser", "container"): {"userPrincipalName": "new@alpineskihouse.com", "isAdmin": False},
    ("DeleteBusinessOrganization", "path"): {},
    ("DeleteResellerOrganization", "path"): {},
    ("GetBusinessOrganization", "path"): {},
    ("DeleteBusinessUser", "path"): {},
    ("GetBusinessUser", "path"): {},
    ("GetBusinessUsers", "path"): {},
}

DN_IDS = [f"{p}.{a}" for p, a in DN_ARGUMENTS]


@pytest.mark.parametrize("key", list(HOSTILE))
@pytest.mark.parametrize(("procedure", "argument"), list(DN_ARGUMENTS), ids=DN_IDS)
def test_malformed_path_is_invalid_argument_naming_it(
    world: World, procedure: str, argument: str, key: str
) -> None:
    document = he(procedure, **{argument: HOSTILE[key], **DN_ARGUMENTS[(procedure, argument)]})
    if key in XML_ILLEGAL:
        _xml_illegal(world, document)
        return
    # stray whitespace is refused as such; everything else as a malformed path
    reason = (
        "must not start or end with whitespace" if key in ("space-lead", "space-trail") else "not a valid"
    )
    refused(world, document, INVALID, f"'{argument}'", reason)


@pytest.mark.parametrize("key", list(HOSTILE))
@pytest.mark.parametrize(("procedure", "argument"), list(DN_ARGUMENTS), ids=DN_IDS)
def test_hostile_rdn_value_in_a_well_formed_path_finds_nothing(
    world: World, procedure: str, argument: str, key: str
) -> None:
    value = HOSTILE[key]
    attr = "CN" if procedure in ("DeleteBusinessUser", "GetBusinessUser") else "OU"
    path = f"LDAP://{attr}={escape_dn_value(value)},{ASH[7:]}"
    document = he(procedure, **{argument: path, **DN_ARGUMENTS[(procedure, argument)]})
    if key == "nul":  # an escaped NUL (\00) reaches the DN parser, which refuses it
        refused(world, document, INVALID, f"'{argument}'", "NUL")
        return
    refused(world, document, NOT_FOUND, "no such object")


@pytest.mark.parametrize(
    "path",
    [
        "LDAP://OU=*,OU=WH,OU=Hosting,DC=fabrikam,DC=com",
        "LDAP://OU=*)(objectClass=*),OU=WH,OU=Hosting,DC=fabrikam,DC=com",
        "LDAP://OU=alpineskihouse\\,OU=WH,OU=WH,OU=Hosting,DC=fabrikam,DC=com",
        "LDAP://OU=alpineskihouse+OU=contoso,OU=WH,OU=Hosting,DC=fabrikam,DC=com",
        "LDAP://OU=alpineskihouse,OU=WH,OU=Hosting,DC=fabrikam,DC=com,DC=evil",
        "LDAP://OU=Hosting,DC=contoso,DC=com",
    ],
)
@pytest.mark.parametrize(
    "procedure", ["GetBusinessUsers", "GetBusinessOrganization", "DeleteBusinessOrganization"]
)
def test_wildcards_and_smuggled_rdns_match_nothing(world: World, procedure: str, path: str) -> None:
    refused(world, he(procedure, path=path), NOT_FOUND, "no such object")


# (persona, procedure, arguments, code): well-formed paths outside the caller's scope
OUT_OF_SCOPE = [
    ("reseller_admin", "GetBusinessOrganization", {"path": FOURTH}, NOT_FOUND),
    ("reseller_admin", "GetBusinessUsers", {"path": FOURTH}, NOT_FOUND),
    ("reseller_admin", "DeleteBusinessOrganization", {"path": FOURTH}, NOT_FOUND),
    ("reseller_admin", "DeleteResellerOrganization", {"path": org_path("R2")}, NOT_FOUND),
    (
        "reseller_admin",
        "CreateBusinessOrganization",
        {"container": org_path("R2"), "name": "x", "SMTPDomain": "x.example"},
        NOT_FOUND,
    ),
    (
        "reseller_admin",
        "CreateBusinessUser",
        {"container": FOURTH, "userPrincipalName": "x@fourthcoffee.com", "isAdmin": False},
        NOT_FOUND,
    ),
    ("reseller_admin", "GetBusinessUsers", {"path": "LDAP://CN=Users,DC=fabrikam,DC=com"}, NOT_FOUND),
    ("customer_admin", "GetBusinessOrganization", {"path": CONTOSO}, NOT_FOUND),
    ("customer_admin", "GetBusinessUser", {"path": CONTOSO_BOSS}, NOT_FOUND),
    ("customer_admin", "DeleteBusinessUser", {"path": CONTOSO_BOSS}, NOT_FOUND),
    (
        "customer_admin",
        "CreateBusinessOrganization",
        {"container": org_path("WH"), "name": "x", "SMTPDomain": "x.example"},
        NOT_FOUND,
    ),
    ("customer_admin", "CreateResellerOrganization", {"container": HOSTING, "name": "x"}, NOT_FOUND),
    ("user", "GetBusinessUsers", {"path": CONTOSO}, NOT_FOUND),
    ("user", "DeleteBusinessUser", {"path": BOSS}, ACCESS_DENIED),
    (
        "user",
        "CreateBusinessUser",
        {"container": ASH, "userPrincipalName": "x@alpineskihouse.com", "isAdmin": False},
        ACCESS_DENIED,
    ),
]


@pytest.mark.parametrize(
    ("persona", "procedure", "arguments", "code"),
    OUT_OF_SCOPE,
    ids=[f"{p}-{proc}-{i}" for i, (p, proc, _, _) in enumerate(OUT_OF_SCOPE)],
)
def test_well_formed_path_outside_scope(
    world: World, persona: str, procedure: str, arguments: dict[str, object], code: str
) -> None:
    path = str(arguments.get("path") or arguments.get("container"))
    description = refused(world, he(procedure, **arguments), code, persona=persona)
    if code == NOT_FOUND:
        assert "no such object" in description and DN.from_path(path).ldap_path in description
    else:
        assert "role" in description


def test_domain_admin_container_that_is_no_organization(world: World) -> None:
    refused(
        world,
        he(
            "CreateBusinessUser",
            container="LDAP://CN=Users,DC=fabrikam,DC=com",
            userPrincipalName="x@alpineskihouse.com",
            isAdmin=False,
        ),
        INVALID,
        "CN=Users,DC=fabrikam,DC=com",
        "not an organization",
    )


@pytest.mark.parametrize("key", list(HOSTILE))
def test_upn_is_literal_or_refused(shared_world: World, key: str) -> None:
    upn = HOSTILE[key] + "@alpineskihouse.com"
    document = he("CreateBusinessUser", container=ASH, userPrincipalName=upn, isAdmin=False)
    if key in XML_ILLEGAL:
        _xml_illegal(shared_world, document)
        return
    outcome = created_or_refused(shared_world, document, "'userPrincipalName'")
    if outcome is None:
        return
    assert key not in MUST_REFUSE
    user = outcome.response.find("data/user")
    expected = DN.from_path(ASH).child("CN", upn)
    assert user.get("name") == upn, "the user's name is not the literal UPN given"
    assert DN.from_path(user.get("path")) == expected
    props = user_properties(shared_world, expected.ldap_path)
    assert props["userPrincipalName"] == [upn]


def test_star_upn_is_no_wildcard_for_sign_in(fresh_world: World) -> None:
    d = fresh_world.deployment
    with pytest.raises(NotAuthenticated):
        d.authenticator.authenticate("*@alpineskihouse.com", USER_PASSWORD)
    ok(
        d.submit(
            he(
                "CreateBusinessUser",
                container=ASH,
                userPrincipalName="*@alpineskihouse.com",
                isAdmin=False,
                newPassword="St4r-Passw0rd",
            )
        )
    )
    with pytest.raises(NotAuthenticated):  # not worker's or boss's password
        d.authenticator.authenticate("*@alpineskihouse.com", USER_PASSWORD)
    caller = d.authenticator.authenticate("*@alpineskihouse.com", "St4r-Passw0rd")
    assert caller.dn == DN.from_path(ASH).child("CN", "*@alpineskihouse.com")
    users = ok(d.submit(he("GetBusinessUsers", path=ASH))).findall("data/users/user")
    assert sorted(u.get("name") for u in users) == [
        "*@alpineskihouse.com",
        "boss@alpineskihouse.com",
        "worker@alpineskihouse.com",
    ]


@pytest.mark.parametrize("key", list(HOSTILE))
def test_explicit_sam_account_name_is_literal_or_refused(shared_world: World, key: str) -> None:
    value = HOSTILE[key]
    document = he(
        "CreateBusinessUser",
        container=ASH,
        userPrincipalName=f"samtest-{key}@alpineskihouse.com",  # a user per case: one world
        isAdmin=False,
        sAMAccountName=value,
    )
    if key in XML_ILLEGAL:
        _xml_illegal(shared_world, document)
        return
    outcome = created_or_refused(shared_world, document, "'sAMAccountName'")
    if outcome is None:
        return
    assert key not in MUST_REFUSE
    props = user_properties(shared_world, user_path(f"samtest-{key}@alpineskihouse.com"))
    assert props["sAMAccountName"] == [value], "the sAMAccountName is not the literal text given"


@pytest.mark.parametrize("key", list(HOSTILE))
def test_display_name_is_literal_or_refused(shared_world: World, key: str) -> None:
    value = HOSTILE[key]
    document = he(
        "CreateBusinessUser",
        container=ASH,
        userPrincipalName=f"shown-{key}@alpineskihouse.com",  # a user per case: one world
        isAdmin=False,
        displayName=value,
    )
    if key in XML_ILLEGAL:
        _xml_illegal(shared_world, document)
        return
    outcome = created_or_refused(shared_world, document, "displayName")
    if outcome is None:
        return
    assert key not in MUST_REFUSE
    props = user_properties(shared_world, user_path(f"shown-{key}@alpineskihouse.com"))
    assert props["displayName"] == [value], "the displayName is not the literal text given"


# --- userPrincipalName -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("upn", "why"),
    [
        ("a@b", "at least two labels"),
        ("@x.com", "local part is empty"),
        ("a@@x.com", "exactly one '@'"),
        ("a b@x.com", "whitespace"),
        ("a@-x.com", "'-'"),
    ],
)
def test_malformed_upn(world: World, upn: str, why: str) -> None:
    refused(
        world,
        he("CreateBusinessUser", container=ASH, userPrincipalName=upn, isAdmin=False),
        INVALID,
        "'userPrincipalName'",
        f"'{upn}'",
        why,
    )


def test_nul_in_upn(world: World) -> None:
    document = he("CreateBusinessUser", container=ASH, userPrincipalName="a\x00b@x.com", isAdmin=False)
    _xml_illegal(world, document)


def test_upn_domain_not_of_the_organization(world: World) -> None:
    refused(
        world,
        he("CreateBusinessUser", container=ASH, userPrincipalName="bob@contoso.com", isAdmin=False),
        INVALID,
        "'userPrincipalName'",
        "contoso.com",
        "not a domain of",
    )


def test_upn_used_in_another_org_does_not_reveal_it(fresh_world: World) -> None:
    d = fresh_world.deployment
    # Give contoso alpineskihouse.com as a second suffix (as an operator might), so that the domain
    # check passes and the directory's uniqueness is what must refuse.
    with d.transaction() as providers:
        providers.directory.modify(DN.from_path(CONTOSO), [Change.add("uPNSuffixes", "alpineskihouse.com")])
    description = refused(
        fresh_world,
        he(
            "CreateBusinessUser",
            container=CONTOSO,
            userPrincipalName="worker@alpineskihouse.com",
            isAdmin=False,
        ),
        CONSTRAINT,
        "userPrincipalName",
        "worker@alpineskihouse.com",
        persona="other_customer_admin",
    )
    assert "ou=alpineskihouse" not in description.lower()
    assert "LDAP://" not in description


# --- sAMAccountName --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sam",
    [*(f"a{c}b" for c in '"/\\[]:|<>+=;?,*@'), "trailingdot.", "x" * 21],
)
def test_explicit_sam_account_name_refused(world: World, sam: str) -> None:
    refused(
        world,
        he(
            "CreateBusinessUser",
            container=ASH,
            userPrincipalName="samx@alpineskihouse.com",
            isAdmin=False,
            sAMAccountName=sam,
        ),
        INVALID,
        "'sAMAccountName'",
        f"'{sam}'",
    )


@pytest.mark.parametrize("sam", ["worker_alpineskihous", "WORKER_ALPINESKIHOUS"])
def test_duplicate_sam_account_name_in_another_org(world: World, sam: str) -> None:
    description = refused(
        world,
        he(
            "CreateBusinessUser",
            container=CONTOSO,
            userPrincipalName="dup@contoso.com",
            isAdmin=False,
            sAMAccountName=sam,
        ),
        CONSTRAINT,
        "sAMAccountName",
        sam,
        persona="other_customer_admin",
    )
    assert "alpineskihouse," not in description.lower() and "LDAP://" not in description


# --- SMTPDomain ------------------------------------------------------------------------------------


@pytest.mark.parametrize("domain", ["not a domain", "1.2.3.4", "-x.com", "x..com", "evil,OU=Hosting"])
def test_invalid_smtp_domain(world: World, domain: str) -> None:
    refused(
        world,
        he("CreateBusinessOrganization", container=org_path("WH"), name="neworg", SMTPDomain=domain),
        INVALID,
        "'SMTPDomain'",
        f"'{domain}'",
    )


@pytest.mark.parametrize("domain", ["contoso.com", "CONTOSO.com"])
def test_smtp_domain_owned_by_another_org(world: World, domain: str) -> None:
    refused(
        world,
        he("CreateBusinessOrganization", container=org_path("WH"), name="neworg", SMTPDomain=domain),
        CONSTRAINT,
        "contoso.com",
    )


def test_smtp_domain_owned_by_another_resellers_customer_does_not_reveal_it(world: World) -> None:
    """WH's admin must learn that fourthcoffee.com is taken, not which tenant of R2 holds it."""
    description = refused(
        world,
        he(
            "CreateBusinessOrganization",
            container=org_path("WH"),
            name="neworg",
            SMTPDomain="fourthcoffee.com",
        ),
        CONSTRAINT,
        "fourthcoffee.com",
        persona="reseller_admin",
    )
    assert "OU=R2" not in description and "OU=fourthcoffee" not in description, description


# --- properties ------------------------------------------------------------------------------------

PROTECTED = [
    "objectClass",
    "member",
    "userPassword",
    "nTSecurityDescriptor",
    "otherWellKnownObjects",
    "sAMAccountName",
    "unicodePwd",
    "USERPASSWORD",
    "uPNSuffixes",
    "objectSid",
    "memberOf",
]
PROPERTY_TARGETS = {
    "CreateBusinessUser": {"container": ASH, "userPrincipalName": "p@alpineskihouse.com", "isAdmin": False},
    "CreateBusinessOrganization": {"container": org_path("WH"), "name": "porg", "SMTPDomain": "porg.example"},
    "CreateResellerOrganization": {"container": HOSTING, "name": "PR"},
}


@pytest.mark.parametrize("attribute", PROTECTED)
@pytest.mark.parametrize("procedure", list(PROPERTY_TARGETS))
def test_protected_property_is_refused(world: World, procedure: str, attribute: str) -> None:
    properties = RawXml(f'<property name="{attribute}"><value>x</value></property>')
    refused(
        world,
        he(procedure, **PROPERTY_TARGETS[procedure], properties=properties),
        INVALID,
        f"'{attribute}'",
    )


# --- arguments, procedures, impersonation, policy: and the password never leaks ----------------------


def _secret_absent(world: World, outcome_text: str, secret: str, caplog: pytest.LogCaptureFixture) -> None:
    assert secret not in outcome_text
    with world.deployment.sql.connect() as conn:
        rows = conn.execute(select(audit_log)).all()
    assert rows, "every request is audited"
    assert all(secret not in str(v) for row in rows for v in row)
    assert secret not in caplog.text
    assert all(secret not in str(r.args) for r in caplog.records)


def _create_user(password: str, **overrides: object) -> dict[str, object]:
    args: dict[str, object] = {
        "container": ASH,
        "userPrincipalName": "carol@alpineskihouse.com",
        "isAdmin": True,
        "newPassword": password,
    }
    args.update(overrides)
    return {k: v for k, v in args.items() if v is not None}


def _doc(password: str, **overrides: object) -> str:
    return he("CreateBusinessUser", **_create_user(password, **overrides))


# (id, document builder taking the password, expected code, description fragments, persona)
ARGUMENT_CASES: list[tuple[str, Any, str, tuple[str, ...], str]] = [
    (
        "unknown-argument",
        lambda p: _doc(p, bogus="1"),
        INVALID,
        ("'bogus'", "not an argument"),
        "domain_admin",
    ),
    (
        "given-twice",
        lambda p: _doc(p).replace(
            "<isAdmin>true</isAdmin>", "<isAdmin>true</isAdmin><isAdmin>false</isAdmin>"
        ),
        INVALID,
        ("'isAdmin'", "more than once"),
        "domain_admin",
    ),
    (
        "password-twice",
        lambda p: _doc(p).replace("</newPassword>", f"</newPassword><newPassword>{p}</newPassword>"),
        INVALID,
        ("'newPassword'", "more than once"),
        "domain_admin",
    ),
    ("missing-required", lambda p: _doc(p, isAdmin=None), INVALID, ("'isAdmin'", "required"), "domain_admin"),
    ("wrong-type", lambda p: _doc(p, isAdmin="maybe"), INVALID, ("'isAdmin'", "'maybe'"), "domain_admin"),
    (
        "unknown-namespace",
        lambda p: request_xml("Hosted Exchange 2", "CreateBusinessUser", **_create_user(p)),
        UNKNOWN,
        ("'Hosted Exchange 2'", "namespace"),
        "domain_admin",
    ),
    (
        "unknown-procedure",
        lambda p: he("CreateBusinessUserX", **_create_user(p)),
        UNKNOWN,
        ("'CreateBusinessUserX'",),
        "domain_admin",
    ),
    (
        "impersonate-2",
        lambda p: _doc(p).replace('impersonate="1"', 'impersonate="2"'),
        ACCESS_DENIED,
        ("impersonate='2'",),
        "customer_admin",
    ),
    (
        "other-customer-org",
        lambda p: _doc(p, container=CONTOSO, userPrincipalName="carol@contoso.com"),
        NOT_FOUND,
        ("no such object", "OU=contoso"),
        "customer_admin",
    ),
    ("too-short", lambda p: _doc(p), POLICY, ("8 to 256 characters",), "customer_admin"),
    ("no-complexity", lambda p: _doc(p), POLICY, ("three of",), "customer_admin"),
    ("contains-upn-name", lambda p: _doc(p), POLICY, ("account name",), "customer_admin"),
    (
        "contains-sam-name",
        lambda p: _doc(p, sAMAccountName="zebra42"),
        POLICY,
        ("account name",),
        "customer_admin",
    ),
]
PASSWORDS = {
    "too-short": "Ab1!xyz",
    "no-complexity": "onlylowercaseletters",
    "contains-upn-name": "xxCAROL2024!",
    "contains-sam-name": "Zebra42!Stripes",
}


@pytest.mark.parametrize(
    ("name", "build", "code", "fragments", "persona"), ARGUMENT_CASES, ids=[c[0] for c in ARGUMENT_CASES]
)
def test_argument_errors_never_leak_the_password(
    world: World,
    caplog: pytest.LogCaptureFixture,
    name: str,
    build: Any,
    code: str,
    fragments: tuple[str, ...],
    persona: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = PASSWORDS.get(name, f"Leak-Canary-{name}-9x!")
    document = build(secret)
    assert secret in document
    refused(world, document, code, *fragments, persona=persona)
    before_audit = len(world.deployment.audit.recent(1000))
    outcome = world.submit(document, persona)
    assert len(world.deployment.audit.recent(1000)) == before_audit + 1
    _secret_absent(world, response_text(outcome), secret, caplog)


def test_successful_create_does_not_leak_the_password(
    fresh_world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "Fine-Passw0rd-canary"
    outcome = fresh_world.submit(_doc(secret), "customer_admin")
    ok(outcome)
    _secret_absent(fresh_world, response_text(outcome), secret, caplog)
