"""Test helpers: request builders, a small hosting world of tenants, an in-process HTTP client."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from argon2 import PasswordHasher
from lxml import etree
from sqlalchemy import Engine

from openmps.app import Deployment
from openmps.delegation.passwords import Passwords
from openmps.engine.context import Caller
from openmps.engine.engine import Outcome
from openmps.types import DN

ADMIN_PASSWORD = "Adm1nPassw0rd!"
USER_PASSWORD = "Us3rPassw0rd!"
SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
HOSTING = "LDAP://OU=Hosting,DC=fabrikam,DC=com"


def fast_passwords() -> Passwords:
    """Argon2id with minimal cost: the same code path, without 50 ms per hash in every test."""
    return Passwords(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


def request_xml(namespace: str, procedure: str, /, **args: object) -> str:
    """A request document calling one procedure, in the seeds' canonical shape."""
    parts = []
    for name, value in args.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        if isinstance(value, RawXml):
            parts.append(f"<{name}>{value.xml}</{name}>")
        else:
            parts.append(f"<{name}>{escape(str(value))}</{name}>")
    return (
        f'<request><procedure><execute namespace="{namespace}" procedure="{procedure}" impersonate="1">'
        f"<executeData>{''.join(parts)}</executeData>"
        '<after source="executeData" destination="data" mode="merge"/></execute></procedure></request>'
    )


@dataclass(frozen=True)
class DirectoryServer:
    """A directory server of a test session's own (tests/conftest.py), as its script printed it."""

    url: str
    bind_dn: str
    password_file: Path
    ca_file: Path | None = None  # the CA of a server with a certificate of its own (the Samba DC)

    @property
    def password(self) -> str:
        return self.password_file.read_text()


def wipe_server(server: DirectoryServer, suffix: str) -> None:
    """Delete every entry of ``server`` under (and at) ``suffix``, deepest first."""
    from ldap3 import SUBTREE, Connection, Server

    conn = Connection(
        Server(server.url, get_info=None, connect_timeout=5),
        server.bind_dn,
        server.password,
        receive_timeout=30,
    )
    conn.bind()
    try:
        conn.search(suffix, "(objectClass=*)", SUBTREE, attributes=["1.1"])
        for dn in sorted((e["dn"] for e in conn.response), key=lambda dn: -dn.count(",")):
            conn.delete(dn)
    finally:
        conn.unbind()


# How the DC's own entries that OpenMPS took over are told from OpenMPS's: AD's critical objects,
# those it forbids to delete (CN=Services), and a naming context's head (CN=Configuration)
AD_OWN_MARKS = ("isCriticalSystemObject", "systemFlags", "instanceType")


def ad_own(raw: dict[str, list[bytes]]) -> bool:
    flags = int((raw.get("systemFlags") or [b"0"])[0]) & 0x80000000
    head = int((raw.get("instanceType") or [b"0"])[0]) & 1
    return bool(raw.get("isCriticalSystemObject") or flags or head)


def wipe_samba(server: DirectoryServer, suffix: str) -> None:
    """A Samba DC as before OpenMPS: the entries OpenMPS made under ``suffix`` and in its
    configuration partition deleted, deepest first; the DC's own entries it took over (the domain
    root, CN=Users, Domain Admins, Administrator, CN=Configuration, CN=Services) handed back."""
    import ssl

    from ldap3 import MODIFY_DELETE, SUBTREE, Connection, Server, Tls

    tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(server.ca_file)) if server.ca_file else None
    conn = Connection(
        Server(server.url, get_info=None, connect_timeout=5, tls=tls),
        server.bind_dn,
        server.password,
        receive_timeout=30,
        auto_referrals=False,
    )
    assert conn.bind(), conn.result
    try:
        ours = ["openmpsSecurityDescriptor", "openmpsWellKnownObjects"]
        found = []
        for base in (suffix, f"CN=Configuration,{suffix}"):  # AD's configuration: a naming context
            conn.search(base, "(objectClass=openmpsHosted)", SUBTREE, attributes=[*ours, *AD_OWN_MARKS])
            found += [e for e in conn.response if e.get("type") == "searchResEntry"]
        for entry in sorted(found, key=lambda e: -e["dn"].count(",")):
            raw = entry["raw_attributes"]
            if ad_own(raw) or entry["dn"].lower() == suffix.lower():
                changes = {name: [(MODIFY_DELETE, [])] for name in ours if raw.get(name)}
                changes["objectClass"] = [(MODIFY_DELETE, ["openmpsHosted"])]
                assert conn.modify(entry["dn"], changes), conn.result
            else:
                assert conn.delete(entry["dn"]), conn.result
    finally:
        conn.unbind()


@dataclass(frozen=True)
class RawXml:
    xml: str


def he(procedure: str, /, **args: object) -> str:
    return request_xml("Hosted Exchange", procedure, **args)


def ok(outcome: Outcome) -> etree._Element:
    assert outcome.error is None, etree.tostring(outcome.response).decode()
    return outcome.response


def org_path(*names: str) -> str:
    """LDAP path of an organization: org_path("WH", "alpineskihouse") → OU=alpineskihouse,OU=WH,…"""
    return "LDAP://" + ",".join(f"OU={n}" for n in reversed(names)) + ",OU=Hosting,DC=fabrikam,DC=com"


@dataclass
class World:
    """Two resellers, three customers, and a caller for each persona of the delegation model."""

    deployment: Deployment
    callers: dict[str, Caller | None]

    def submit(self, document: str, persona: str = "domain_admin") -> Outcome:
        caller = self.callers[persona]
        assert caller is not None
        return self.deployment.submit(document, caller)


def refused(target: Deployment | World, document: str, code: str, *fragments: str) -> None:
    """The request fails with ``code``, its description holds every fragment, and nothing changed."""
    deployment = target.deployment if isinstance(target, World) else target
    before = stores_snapshot(deployment)
    outcome = target.submit(document)
    assert outcome.error is not None, etree.tostring(outcome.response)
    assert outcome.error.hex_code == code, outcome.error
    for fragment in fragments:
        assert fragment in outcome.error.description, outcome.error.description
    assert stores_snapshot(deployment) == before


def create_user(d: Deployment, org: str, upn: str, *, admin: bool = False) -> None:
    document = he(
        "CreateBusinessUser", container=org, userPrincipalName=upn, isAdmin=admin, newPassword=USER_PASSWORD
    )
    ok(d.submit(document))


def make_user(d: Deployment, org: str, upn: str, *, admin: bool = False) -> Caller:
    create_user(d, org, upn, admin=admin)
    return d.authenticator.authenticate(upn, USER_PASSWORD)


def add_member(d: Deployment, group_dn: str, member_upn: str) -> None:
    from openmps.directory.interface import Change
    from openmps.types import DN

    with d.transaction() as providers:
        directory = providers.directory
        holder = directory.holder("userPrincipalName", member_upn)
        directory.modify(DN.parse(group_dn), [Change.add("member", str(holder))])


def make_alpineskihouse(d: Deployment, *, exchange: bool = False) -> None:
    """Reseller WH and its customer alpineskihouse (alpineskihouse.com), as in the seeds.

    With ``exchange``: stores EXBE01/BusinessMailStore1 and EXBE02/BusinessMailStore2 (1000 MB each)
    are registered, the org holds 50 MB on each, and BaseMail and GoldMail are available to it.
    """
    ok(d.submit(he("CreateResellerOrganization", container=HOSTING, name="WH")))
    mail: dict[str, object] = {}
    if exchange:
        stores = mail_stores(
            ("EXBE01", "BusinessMailStore1", 1000, True), ("EXBE02", "BusinessMailStore2", 1000, True)
        )
        ok(d.submit(rm("AddExchangeResources", mailStores=stores)))
        mail = {
            "mailStore": RawXml(
                "<sourceMailStores>"
                + "".join(
                    f"<sourceMailStore><serverName>{server}</serverName><mailStoreName>{name}</mailStoreName>"
                    "<megabytes>50</megabytes></sourceMailStore>"
                    for server, name in (("EXBE01", "BusinessMailStore1"), ("EXBE02", "BusinessMailStore2"))
                )
                + "</sourceMailStores>"
            ),
            "availablePlans": RawXml("<planName>BaseMail</planName><planName>GoldMail</planName>"),
        }
    ok(
        d.submit(
            he(
                "CreateBusinessOrganization",
                container=org_path("WH"),
                name="alpineskihouse",
                SMTPDomain="alpineskihouse.com",
                **mail,
            )
        )
    )


def make_contoso(d: Deployment) -> None:
    """A second customer of WH (after :func:`make_alpineskihouse` with ``exchange``): contoso
    (contoso.com), 50 MB on each store, BaseMail available."""
    stores = "".join(
        f"<sourceMailStore><serverName>{server}</serverName><mailStoreName>{name}</mailStoreName>"
        "<megabytes>50</megabytes></sourceMailStore>"
        for server, name in (("EXBE01", "BusinessMailStore1"), ("EXBE02", "BusinessMailStore2"))
    )
    ok(
        d.submit(
            he(
                "CreateBusinessOrganization",
                container=org_path("WH"),
                name="contoso",
                SMTPDomain="contoso.com",
                mailStore=RawXml(f"<sourceMailStores>{stores}</sourceMailStores>"),
                availablePlans=RawXml("<planName>BaseMail</planName>"),
            )
        )
    )


def build_world(d: Deployment) -> World:
    admin = d.administrator()
    for reseller in ("WH", "R2"):
        ok(d.submit(he("CreateResellerOrganization", container=HOSTING, name=reseller)))
    for reseller, customer, domain in (
        ("WH", "alpineskihouse", "alpineskihouse.com"),
        ("WH", "contoso", "contoso.com"),
        ("R2", "fourthcoffee", "fourthcoffee.com"),
    ):
        ok(
            d.submit(
                he(
                    "CreateBusinessOrganization",
                    container=org_path(reseller),
                    name=customer,
                    SMTPDomain=domain,
                )
            )
        )
    # Hosting and reseller admins are users of the organizations they administer (MPS convention:
    # Admins@<Org> holds them); they live in a customer org of their own here for simplicity.
    ok(
        d.submit(
            he(
                "CreateBusinessOrganization",
                container=org_path("WH"),
                name="staff",
                SMTPDomain="staff.example",
            )
        )
    )
    for upn in (
        "hoster@staff.example",
        "wh-admin@staff.example",
        "wh-csr@staff.example",
        "r2-admin@staff.example",
    ):
        # created now, signed in only after joining their groups: a token is computed at sign-in
        create_user(d, org_path("WH", "staff"), upn)
    add_member(d, "CN=Admins@Hosting,OU=Hosting,DC=fabrikam,DC=com", "hoster@staff.example")
    add_member(d, "CN=Admins@WH,OU=WH,OU=Hosting,DC=fabrikam,DC=com", "wh-admin@staff.example")
    add_member(d, "CN=CSRAdmins@WH,OU=WH,OU=Hosting,DC=fabrikam,DC=com", "wh-csr@staff.example")
    add_member(d, "CN=Admins@R2,OU=R2,OU=Hosting,DC=fabrikam,DC=com", "r2-admin@staff.example")
    callers: dict[str, Caller | None] = {
        "domain_admin": admin,
        "hosting_admin": d.authenticator.authenticate("hoster@staff.example", USER_PASSWORD),
        "reseller_admin": d.authenticator.authenticate("wh-admin@staff.example", USER_PASSWORD),
        "reseller_csr": d.authenticator.authenticate("wh-csr@staff.example", USER_PASSWORD),
        "other_reseller_admin": d.authenticator.authenticate("r2-admin@staff.example", USER_PASSWORD),
        "customer_admin": make_user(
            d, org_path("WH", "alpineskihouse"), "boss@alpineskihouse.com", admin=True
        ),
        "other_customer_admin": make_user(d, org_path("WH", "contoso"), "boss@contoso.com", admin=True),
        "user": make_user(d, org_path("WH", "alpineskihouse"), "worker@alpineskihouse.com"),
        "anonymous": None,
    }
    return World(d, callers)


class AsgiClient:
    """A synchronous HTTP client for the ASGI app, in-process (httpx over ASGITransport)."""

    def __init__(self, app: object) -> None:
        self._app = app

    def request(self, method: str, url: str, **kwargs: object) -> object:
        import asyncio

        import httpx

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self._app)  # type: ignore[arg-type]
            async with httpx.AsyncClient(transport=transport, base_url="http://openmps.test") as client:
                return await client.request(method, url, **kwargs)  # type: ignore[arg-type]

        return asyncio.run(go())

    def post(self, url: str, **kwargs: object) -> object:
        return self.request("POST", url, **kwargs)

    def get(self, url: str, **kwargs: object) -> object:
        return self.request("GET", url, **kwargs)


def snapshot(d: Deployment) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table but the audit log and the directory's generation (renewed after a
    rollback that undid writes to a directory server): equal snapshots mean nothing was written."""
    from sqlalchemy import select

    from openmps.db.schema import audit_log, metadata, settings
    from openmps.directory.sql.generation import NAME as GENERATION

    with d.sql.connect() as conn:
        return {
            t.name: sorted(
                tuple(r) for r in conn.execute(select(t)) if t is not settings or r.name != GENERATION
            )
            for t in metadata.sorted_tables
            if t is not audit_log
        }


def stores_snapshot(d: Deployment) -> dict[str, list[tuple[object, ...]]]:
    """``snapshot``, and on a directory server every entry of the domain with its values: equal
    snapshots mean nothing was written to either store."""
    rows = snapshot(d)
    server = d.directory_server
    if server is not None:  # read raw, as the server holds it (through OpenMPS: 5 times as long)
        from ldap3 import SUBTREE, Connection, Server

        conn = Connection(
            Server(server.url, get_info=None, connect_timeout=5),
            server.bind_dn,
            server.password,
            auto_bind=True,
            receive_timeout=20,
        )
        try:
            conn.search(str(d.layout.domain), "(objectClass=*)", SUBTREE, attributes=["*"])
            rows["directory server"] = sorted(
                (
                    e["dn"].lower(),
                    *sorted((k.lower(), tuple(sorted(v))) for k, v in e["raw_attributes"].items()),
                )
                for e in conn.response
                if e.get("type") == "searchResEntry"
            )
        finally:
            conn.unbind()
    return rows


def directory_dns(d: Deployment) -> set[DN]:
    """The DNs of every entry of the deployment's domain, on whichever store holds it."""
    return {e.dn for e in d.read(lambda directory: directory.search(d.layout.domain))}


def directory_values(d: Deployment, dn: DN) -> list[tuple[str, tuple[str, ...]]]:
    """An entry's attributes and values, sorted, on whichever store holds it."""
    entry = d.read(lambda directory: directory.get(dn))
    return sorted((name, tuple(sorted(values))) for name, values in entry.attributes.items())


def peak_memory_growth(setup: str, measured: str) -> float:
    """How many MB the peak resident size of a fresh Python process grows while ``measured`` runs,
    after ``setup`` (both Python source, run with the tests' modules importable).

    A process of its own, as lxml's memory is invisible to tracemalloc and a peak never goes down;
    ``measured`` raises (an AssertionError) when its outcome is not the expected one."""
    import subprocess
    import sys
    import textwrap

    script = "\n".join(
        [
            "import resource",
            textwrap.dedent(setup),
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss",
            textwrap.dedent(measured),
            "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss",
            "print((after - before) / 1024)",  # ru_maxrss is in kB on Linux
        ]
    )
    tests = str(Path(__file__).resolve().parent)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tests, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return float(done.stdout.split()[-1])


def rm(procedure: str, /, **args: object) -> str:
    return request_xml("Exchange Resource Manager", procedure, **args)


def mail_stores(*stores: tuple[str, str, int, bool]) -> RawXml:
    """<mailStores> for AddExchangeResources from (server, name, megabytes, shared)."""
    return RawXml(
        "".join(
            f"<mailStore><serverName>{server}</serverName><mailStoreName>{name}</mailStoreName>"
            f"<megabytes>{mb}</megabytes><shared>{int(shared)}</shared></mailStore>"
            for server, name, mb, shared in stores
        )
    )


def check_invariants(sql: object) -> None:
    """The Resource Manager's invariants, straight from the tables: allocations within each store's
    capacity, mailboxes within each organization's allocation, one organization per unshared store."""
    from sqlalchemy import Engine, func, select

    from openmps.db.schema import rm_allocations, rm_mailboxes, rm_stores

    assert isinstance(sql, Engine)
    with sql.connect() as conn:
        for store in conn.execute(select(rm_stores)):
            held, holders = conn.execute(
                select(func.coalesce(func.sum(rm_allocations.c.allocated_kb), 0), func.count()).where(
                    rm_allocations.c.store_id == store.id
                )
            ).one()
            assert held == store.allocated_kb <= store.capacity_kb, store
            assert store.shared or holders <= 1, store
        for alloc in conn.execute(select(rm_allocations)):
            used = conn.execute(
                select(func.coalesce(func.sum(rm_mailboxes.c.size_kb), 0)).where(
                    rm_mailboxes.c.org_guid == alloc.org_guid, rm_mailboxes.c.store_id == alloc.store_id
                )
            ).scalar()
            assert used == alloc.used_kb <= alloc.allocated_kb, alloc


def create_database(server: str, name: str) -> str:
    """A new, empty database ``name`` on the PostgreSQL server at ``server`` (the ``postgres_server``
    fixture's URL): its URL."""
    from sqlalchemy import create_engine, text

    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return server.rsplit("/", 1)[0] + "/" + name


def migrated_store(request: Any, folder: Path, name: str) -> Engine:
    """A migrated store of the test's own, as the fixture's ``request.param`` says: an SQLite file
    ``name`` in ``folder`` (``"sqlite"``), or a database ``name`` on the session's PostgreSQL
    server (``"postgresql"``)."""
    from openmps.db.store import make_engine, migrate, sqlite_url

    if request.param == "sqlite":
        made = make_engine(sqlite_url(folder / f"{name}.sqlite"))
    else:
        made = make_engine(create_database(request.getfixturevalue("postgres_server"), name))
    migrate(made)
    return made


def answered(
    submit: Callable[[str], Outcome], documents: list[str], masks: Sequence[tuple[re.Pattern[str], str]] = ()
) -> list[tuple[str, str]]:
    """Each request with its whole response (succeeding), values that change between runs (GUIDs,
    SIDs, times) masked: what a golden file of responses pins."""
    found = []
    for document in documents:
        text = etree.tostring(ok(submit(document)), encoding="unicode")
        for pattern, mask in masks:
            text = pattern.sub(mask, text)
        found.append((document, text))
    return found


def golden_text(answers: list[tuple[str, str]]) -> str:
    """Requests and responses as a golden file holds them."""
    return "".join(f"<!-- {doc} -->\n{text}\n\n" for doc, text in answers)


# A business mail store's DN as Exchange writes homeMDB (make_alpineskihouse registers the store).
STORE_DN = (
    "CN=BusinessMailStore1,CN=First Storage Group,CN=InformationStore,CN=EXBE01,CN=Servers,"
    "CN=First Administrative Group,CN=Administrative Groups,CN=fabrikam,CN=Microsoft Exchange,CN=Services,"
    "CN=Configuration,DC=fabrikam,DC=com"
)


def migrated_user(
    d: Deployment, cn: str, upn: str, under: str = org_path("WH", "alpineskihouse"), **attrs: list[str]
) -> str:
    """A user as ADMT and the Exchange Migration Wizard leave it (CN not the UPN, a mailbox)."""
    from openmps.types import DN

    dn = DN.from_path(under).child("CN", cn)
    with d.transaction() as providers:
        providers.directory.add(
            dn,
            {
                "objectClass": ["top", "person", "organizationalPerson", "user"],
                "cn": [cn],
                "userPrincipalName": [upn],
                "nTSecurityDescriptor": ["D:(A;;RP;;;S-1-5-11)(A;;RPWP;;;PS)"],
                **attrs,
            },
        )
    return dn.ldap_path
