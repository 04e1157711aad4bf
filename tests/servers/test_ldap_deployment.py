"""A deployment whose hosting directory is a directory server (``openmps init --directory``), on
OpenLDAP and on a Samba AD domain controller: requests create organizations, users and mailboxes
there; a user created with a password binds to the server with it (on AD with its UPN, over LDAPS
and StartTLS, the certificate checked) and a disabled one cannot, a mailbox is found by its proxy
address as a mail server looks it up, a request failing at any of its writes leaves no trace, and
the SQL store keeps no entry.  A password Managed Active Directory sets or changes binds too;
a process killed before its commit has its writes undone at the next start, and ``openmps
check`` repairs drift made on the server behind OpenMPS's back."""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ldap3 import BASE, MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE, SUBTREE, Connection, Server, Tls
from sqlalchemy import func, select
from typer.testing import CliRunner

from openmps.app import (
    Deployment,
    DirectoryServerChoice,
    init_deployment,
    journal_fsync,
    open_deployment,
)
from openmps.check import check
from openmps.cli.main import app
from openmps.db.schema import directory_commits, entries, settings
from openmps.directory.interface import Change, Directory
from openmps.errors import ConstraintViolation, InternalError, InvalidOperation, NotAuthenticated
from openmps.hosting.accounts import ACCOUNT_DISABLED, NORMAL_ACCOUNT
from openmps.types import Secret
from openmps.web.app import create_app
from support import (
    ADMIN_PASSWORD,
    USER_PASSWORD,
    DirectoryServer,
    create_user,
    fast_passwords,
    he,
    make_alpineskihouse,
    ok,
    org_path,
    request_xml,
    snapshot,
    wipe_samba,
    wipe_server,
)

ALPINE = org_path("WH", "alpineskihouse")
REQUESTS_SUFFIX = "DC=fabrikam,DC=com"  # the domain the tests' requests (tests/support.py) name
# What AD changes by itself, even when a write is undone: its change stamps, the RIDs it handed out
# (never given back), and what its undelete records on an entry brought back from its tombstone
AD_BOOKKEEPING = frozenset(
    {
        "whenchanged",
        "usnchanged",
        "dscorepropagationdata",
        "badpwdcount",
        "ridnextrid",
        "lastknownparent",
        "admincount",
        "operatorcount",
    }
)


@dataclass(frozen=True)
class Hosted:
    """A directory server and the domain OpenMPS hosts on it: OpenLDAP's suffix is fabrikam.com;
    the session's one Samba DC is example.com's (the contract suite's), whose domain OpenMPS must
    host, so the same requests are sent with its suffix."""

    kind: str
    server: DirectoryServer
    domain: str

    @property
    def suffix(self) -> str:
        return ",".join(f"DC={label}" for label in self.domain.split("."))

    def choice(self, password_file: Path | None = None) -> DirectoryServerChoice:
        return DirectoryServerChoice(
            self.server.url,
            self.server.bind_dn,
            password_file or self.server.password_file,
            ca_file=self.server.ca_file,
        )

    def connect(self, user: str, password: str, *, url: str | None = None) -> Connection:
        tls = (
            Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(self.server.ca_file))
            if self.server.ca_file
            else None
        )
        return Connection(
            Server(url or self.server.url, get_info=None, connect_timeout=5, tls=tls),
            user,
            password,
            receive_timeout=10,
            auto_referrals=False,
        )

    def admin(self) -> Connection:
        conn = self.connect(self.server.bind_dn, self.server.password)
        assert conn.bind(), conn.result
        return conn

    def wipe(self) -> None:
        """The server as before OpenMPS: its entries deleted; on AD, the DC's own entries OpenMPS
        took over handed back (support.wipe_samba)."""
        if self.kind == "openldap":
            wipe_server(self.server, self.suffix)
        else:
            wipe_samba(self.server, self.suffix)

    @property
    def configuration(self) -> str:
        """Where Exchange's configuration is kept (on AD a naming context of its own)."""
        return f"CN=Configuration,{self.suffix}"

    def entries(self, base: str | None = None) -> dict[str, dict[str, list[bytes]]]:
        """Every entry under the suffix (or ``base``) with its values (AD's own bookkeeping left out)."""
        conn = self.admin()
        try:
            conn.search(base or self.suffix, "(objectClass=*)", SUBTREE, attributes=["*"])
            return {
                e["dn"].lower(): {
                    k.lower(): sorted(v)
                    for k, v in e["raw_attributes"].items()
                    if k.lower() not in AD_BOOKKEEPING
                }
                for e in conn.response
                if e.get("type") == "searchResEntry"
            }
        finally:
            conn.unbind()

    def addressed_document(self, document: str) -> str:
        """The tests' ``document`` sent to this server's domain."""
        return document.replace(REQUESTS_SUFFIX, self.suffix)

    def addressed(self, deployment: Deployment) -> Deployment:
        """``deployment`` with the tests' requests sent to this server's domain."""
        if self.suffix != REQUESTS_SUFFIX:
            submit: Callable[..., Any] = deployment.submit
            deployment.submit = lambda document, *a, **kw: submit(  # type: ignore[method-assign]
                self.addressed_document(document), *a, **kw
            )
        return deployment


def server_snapshot(server: DirectoryServer) -> dict[str, dict[str, list[bytes]]]:
    """Every entry of an OpenLDAP ``server`` for fabrikam.com, with its values."""
    return Hosted("openldap", server, "fabrikam.com").entries()


def wipe(server: DirectoryServer) -> None:
    """An OpenLDAP ``server`` for fabrikam.com emptied."""
    Hosted("openldap", server, "fabrikam.com").wipe()


@pytest.fixture(params=["openldap", "samba"])
def hosted(request: pytest.FixtureRequest) -> Hosted:
    if request.param == "openldap":
        return Hosted("openldap", request.getfixturevalue("openldap_fabrikam"), "fabrikam.com")
    return Hosted("samba", request.getfixturevalue("samba_dc"), "example.com")


def user_xml(upn: str, **extra: object) -> str:
    return he("CreateBusinessUser", container=ALPINE, userPrincipalName=upn, **{"isAdmin": False, **extra})


@pytest.fixture
def deployment(hosted: Hosted, tmp_path: Path) -> Iterator[Deployment]:
    hosted.wipe()
    made = init_deployment(
        tmp_path / "home",
        domain=hosted.domain,
        admin_password=Secret(ADMIN_PASSWORD),
        passwords=fast_passwords(),
        directory=hosted.choice(),
    )
    yield hosted.addressed(made)
    made.close_directory()
    hosted.wipe()


def test_the_settings_name_the_server_and_the_password_file_never_the_password(
    deployment: Deployment, hosted: Hosted, tmp_path: Path
) -> None:
    with deployment.sql.connect() as conn:
        recorded = {row.name: row.value for row in conn.execute(select(settings.c.name, settings.c.value))}
        assert conn.execute(select(func.count()).select_from(entries)).scalar_one() == 0
    assert recorded["directory_url"] == hosted.server.url
    assert recorded["directory_password_file"] == str(hosted.server.password_file)
    assert recorded["directory_flavour"] == hosted.kind
    assert hosted.server.password not in recorded.values()
    reopened = open_deployment(tmp_path / "home")
    assert reopened.directory_server is not None
    assert reopened.directory_flavour.name == hosted.kind
    assert hosted.server.password not in repr(reopened.directory_server)


def bind_names(hosted: Hosted, upn: str) -> list[tuple[str, str | None]]:
    """(name, URL) pairs the user binds with: on AD its UPN, over LDAPS and over StartTLS; on
    OpenLDAP its DN, found by its UPN as a mail server or a portal does."""
    if hosted.kind == "samba":
        host = hosted.server.url.split("://", 1)[1]
        return [(upn, None), (upn, f"ldap://{host}")]
    admin = hosted.admin()
    try:
        admin.search(hosted.suffix, f"(userPrincipalName={upn})", SUBTREE, attributes=["1.1"])
        (found,) = admin.response
    finally:
        admin.unbind()
    return [(found["dn"], None)]


def can_bind(hosted: Hosted, name: str, url: str | None, password: str) -> bool:
    conn = hosted.connect(name, password, url=url)
    try:
        conn.open()
        if url is not None and url.startswith("ldap://"):
            assert conn.start_tls(), conn.result
        return bool(conn.bind())
    finally:
        conn.unbind()


def test_a_user_created_with_a_password_binds_to_the_server_and_a_disabled_one_cannot(
    deployment: Deployment, hosted: Hosted
) -> None:
    make_alpineskihouse(deployment)
    create_user(deployment, ALPINE, "ann@alpineskihouse.com")
    ok(deployment.submit(user_xml("cy@alpineskihouse.com")))  # no password: made disabled
    assert deployment.authenticator.authenticate("ann@alpineskihouse.com", USER_PASSWORD)
    for name, url in bind_names(hosted, "ann@alpineskihouse.com"):
        assert can_bind(hosted, name, url, USER_PASSWORD), (name, url)
        assert not can_bind(hosted, name, url, "Wrong-password-1"), (name, url)
    for name, url in bind_names(hosted, "cy@alpineskihouse.com"):
        assert not can_bind(hosted, name, url, USER_PASSWORD), (name, url)


def test_openmps_init_with_a_directory_server(hosted: Hosted, tmp_path: Path) -> None:
    hosted.wipe()
    home = tmp_path / "cli"
    base = ["--home", str(home), "init", "--domain", hosted.domain, "--admin-password", ADMIN_PASSWORD]
    server = ["--directory", hosted.server.url, "--directory-bind-dn", hosted.server.bind_dn]
    if hosted.server.ca_file is not None:
        server += ["--directory-ca-file", str(hosted.server.ca_file)]
    try:
        alone = CliRunner().invoke(app, [*base, *server])
        assert alone.exit_code == 1 and "--directory-password-file" in alone.output
        lax = tmp_path / "lax"
        lax.write_text(hosted.server.password)
        lax.chmod(0o644)
        refused = CliRunner().invoke(app, [*base, *server, "--directory-password-file", str(lax)])
        assert refused.exit_code == 1 and "0600" in refused.output
        done = CliRunner().invoke(
            app, [*base, *server, "--directory-password-file", str(hosted.server.password_file)]
        )
        assert done.exit_code == 0, done.output
        opened = open_deployment(home)
        try:
            assert opened.administrator().dn == opened.layout.administrator
        finally:
            opened.close_directory()
        admin = hosted.admin()
        try:  # what ldapsearch sees: the hosting organization's tree
            assert admin.search(f"OU=Hosting,{hosted.suffix}", "(objectClass=organizationalUnit)", BASE)
        finally:
            admin.unbind()
    finally:
        hosted.wipe()


class FailingWrite:
    """The directory, refusing its ``n``-th write: the request fails after ``n - 1`` writes were
    sent to the server, which its rollback must undo."""

    WRITES = frozenset({"add", "modify", "delete", "move"})

    def __init__(self, inner: Directory, n: int, counter: list[int]) -> None:
        self._inner, self._n, self._counter = inner, n, counter

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in self.WRITES:
            return attr

        def write(*args: Any, **kwargs: Any) -> Any:
            self._counter[0] += 1
            if self._counter[0] == self._n:
                raise InternalError(f"injected: write {self._n} ({name}) fails")
            return attr(*args, **kwargs)

        return write


@pytest.mark.parametrize(
    "request_xml",
    [
        he("CreateBusinessOrganization", container=org_path("WH"), name="contoso", SMTPDomain="contoso.com"),
        user_xml("bob@alpineskihouse.com", isAdmin=True, newPassword=USER_PASSWORD),
    ],
    ids=["CreateBusinessOrganization", "CreateBusinessUser"],
)
def test_a_request_failing_after_any_of_its_writes_leaves_no_trace(
    deployment: Deployment, hosted: Hosted, request_xml: str
) -> None:
    make_alpineskihouse(deployment)
    sql_before, ldap_before = snapshot(deployment), hosted.entries()
    n = 0
    while True:
        n += 1
        counter = [0]
        deployment.directory_wrapper = lambda inner: FailingWrite(inner, n, counter)  # noqa: B023
        outcome = deployment.submit(request_xml)
        if outcome.error is None:
            break  # n is past the request's last write
        assert snapshot(deployment) == sql_before, f"SQL changed when write {n} failed"
        assert hosted.entries() == ldap_before, f"LDAP changed when write {n} failed"
        assert n < 100
    assert n > 2  # the request wrote, and each of its prefixes was undone


def test_a_mailbox_user_is_found_by_a_proxy_address_on_the_server(
    deployment: Deployment, hosted: Hosted
) -> None:
    make_alpineskihouse(deployment, exchange=True)
    ok(deployment.submit(user_xml("carol@alpineskihouse.com", planName="GoldMail")))
    admin = hosted.admin()
    try:  # what a mail server's recipient lookup does
        admin.search(
            hosted.suffix,
            "(&(objectClass=user)(proxyAddresses=smtp:CAROL@AlpineSkiHouse.com))",
            SUBTREE,
            attributes=["mail", "mailNickname"],
        )
        (found,) = [e for e in admin.response if e.get("type") == "searchResEntry"]
    finally:
        admin.unbind()
    assert found["dn"].lower().startswith("cn=carol@alpineskihouse.com,")
    assert found["attributes"]["mail"] in (["carol@alpineskihouse.com"], "carol@alpineskihouse.com")
    assert found["attributes"]["mailNickname"] in (["carol"], "carol")


def test_an_undone_delete_brings_the_entry_back_as_it_was(deployment: Deployment, hosted: Hosted) -> None:
    """On AD from its tombstone, with its objectGUID and objectSid (which the SQL records name)."""
    make_alpineskihouse(deployment)
    ok(deployment.submit(user_xml("dan@alpineskihouse.com")))
    dan = (
        deployment.layout.hosting.child("OU", "WH")
        .child("OU", "alpineskihouse")
        .child("CN", "dan@alpineskihouse.com")
    )
    before = hosted.entries()
    with pytest.raises(InternalError), deployment.transaction() as providers:
        providers.directory.delete(dan)
        assert not providers.directory.exists(dan)
        raise InternalError("the request fails after the delete")
    assert hosted.entries() == before


def test_a_disabled_user_cannot_bind_to_the_server(deployment: Deployment, hosted: Hosted) -> None:
    """OpenMPS disables an account as AD does (userAccountControl's 0x2); the server refuses its bind
    while it is disabled (OpenLDAP: by an ACL) and takes it again once enabled, as OpenMPS's own
    sign-in does."""
    make_alpineskihouse(deployment)
    create_user(deployment, ALPINE, "ann@alpineskihouse.com")
    ann = deployment.read(lambda d: d.holder("userPrincipalName", "ann@alpineskihouse.com"))
    assert ann is not None

    def set_control(flags: int) -> None:
        with deployment.transaction() as providers:
            providers.directory.modify(ann, [Change.replace("userAccountControl", str(flags))])

    for flags, binds in ((NORMAL_ACCOUNT | ACCOUNT_DISABLED, False), (NORMAL_ACCOUNT, True)):
        set_control(flags)
        if binds:
            assert deployment.authenticator.authenticate("ann@alpineskihouse.com", USER_PASSWORD)
        else:
            with pytest.raises(NotAuthenticated):
                deployment.authenticator.authenticate("ann@alpineskihouse.com", USER_PASSWORD)
        for name, url in bind_names(hosted, "ann@alpineskihouse.com"):
            assert can_bind(hosted, name, url, USER_PASSWORD) is binds, (flags, name, url)


def mad(procedure: str, /, **args: object) -> str:
    return request_xml("Managed Active Directory", procedure, **args)


def test_a_password_managed_active_directory_sets_or_changes_binds_to_the_server(
    deployment: Deployment, hosted: Hosted
) -> None:
    """CreateUser's password, then ChangeUserPassword's (an administrator's reset, then the user's
    own change): each binds to the server (on AD as unicodePwd) and the one before it no longer does."""
    make_alpineskihouse(deployment)
    upn = "hal@alpineskihouse.com"
    create = mad("CreateUser", container=ALPINE, userPrincipalName=upn, newPassword=USER_PASSWORD)
    made = ok(deployment.submit(create))
    path = made.find("data/object").get("path")
    names = bind_names(hosted, upn)
    for name, url in names:
        assert can_bind(hosted, name, url, USER_PASSWORD), (name, url)
    reset, changed = "N3w-passw0rd!", "Th1rd-passw0rd!"
    ok(deployment.submit(mad("ChangeUserPassword", path=path, newPassword=reset)))
    own = mad("ChangeUserPassword", path=path, newPassword=changed, oldPassword=reset)
    ok(deployment.submit(own, deployment.authenticator.authenticate(upn, reset)))
    assert deployment.authenticator.authenticate(upn, changed)
    for name, url in names:
        assert can_bind(hosted, name, url, changed), (name, url)
        assert not can_bind(hosted, name, url, USER_PASSWORD), (name, url)
        if hosted.kind == "openldap":  # AD takes the one before for an hour ("old password allowed period")
            assert not can_bind(hosted, name, url, reset), (name, url)


def test_a_password_change_is_not_sent_when_a_later_step_of_its_request_fails(
    deployment: Deployment, hosted: Hosted
) -> None:
    """ChangeUserPassword, then a procedure of the same request that fails (a UPN in use): AD's
    unicodePwd cannot be put back, so it is sent last, before the commit, and was never sent; the
    old password still binds, the new one does not.  Alone, the same change binds."""
    make_alpineskihouse(deployment)
    upn = "ivy@alpineskihouse.com"
    create = mad("CreateUser", container=ALPINE, userPrincipalName=upn, newPassword=USER_PASSWORD)
    path = ok(deployment.submit(create)).find("data/object").get("path")
    new = "N3w-passw0rd!"
    change = mad("ChangeUserPassword", path=path, newPassword=new)
    taken = mad("CreateUser", container=ALPINE, userPrincipalName=upn, newPassword=new)
    executes = "".join(d.split("<procedure>")[1].split("</procedure>")[0] for d in (change, taken))
    failed = deployment.submit(f"<request><procedure>{executes}</procedure></request>")
    assert failed.error is not None and "already" in failed.error.description, failed.error
    names = bind_names(hosted, upn)
    for name, url in names:
        assert can_bind(hosted, name, url, USER_PASSWORD), (name, url)
        assert not can_bind(hosted, name, url, new), (name, url)
    ok(deployment.submit(change))
    for name, url in names:
        assert can_bind(hosted, name, url, new), (name, url)


def test_virtual_directories_are_made_where_a_forest_keeps_exchanges_configuration(
    deployment: Deployment, hosted: Hosted
) -> None:
    """EnsureExchangeVirtualDirectories writes one serviceConnectionPoint per Exchange server under
    ``CN=1,CN=HTTP,CN=Protocols,CN=<server>,…,CN=Microsoft Exchange,CN=Services,CN=Configuration``,
    where a real forest keeps them: on AD in its configuration partition, whose head and
    ``CN=Services`` are the DC's own (taken over as its domain root is, handed back by an undo).  A
    request failing after it leaves that partition as it was; run again, nothing changes."""
    make_alpineskihouse(deployment, exchange=True)
    before = hosted.entries(hosted.configuration)
    ensure = he("EnsureExchangeVirtualDirectories", path=ALPINE)
    gone = mad("ChangeUserPassword", path=f"CN=nobody,{ALPINE}", newPassword=USER_PASSWORD)
    executes = "".join(d.split("<procedure>")[1].split("</procedure>")[0] for d in (ensure, gone))
    assert deployment.submit(f"<request><procedure>{executes}</procedure></request>").error is not None
    assert hosted.entries(hosted.configuration) == before
    answered = ok(deployment.submit(ensure)).findall("data/virtualDirectories/virtualDirectory")
    assert sorted((v.get("serverName"), v.get("path")) for v in answered) == [
        ("EXBE01", "/exchange/alpineskihouse.com"),
        ("EXBE02", "/exchange/alpineskihouse.com"),
    ]
    conn = hosted.admin()
    try:
        text = "(&(objectClass=serviceConnectionPoint)(serviceClassName=HTTP Virtual Directory))"
        conn.search(hosted.configuration, text, SUBTREE, attributes=["serviceBindingInformation"])
        made = sorted(e["dn"].lower() for e in conn.response if e.get("type") == "searchResEntry")
    finally:
        conn.unbind()
    exchange = f"CN={hosted.domain.split('.')[0]},CN=Microsoft Exchange,CN=Services,{hosted.configuration}"
    groups = f"CN=Servers,CN=First Administrative Group,CN=Administrative Groups,{exchange}"
    assert made == [
        f"CN=alpineskihouse.com,CN=1,CN=HTTP,CN=Protocols,CN={server},{groups}".lower()
        for server in ("EXBE01", "EXBE02")
    ]
    after = hosted.entries(hosted.configuration)
    ok(deployment.submit(ensure))
    assert hosted.entries(hosted.configuration) == after


@pytest.mark.parametrize("hosted", ["openldap"], indirect=True)
def test_issue_16s_procedures_write_what_the_server_schema_takes(deployment: Deployment) -> None:
    """Virtual directories, UI role groups, service pointers, a mail-enabled group and an adopted
    public folder, made by requests on OpenLDAP: every attribute they write is in its schema."""
    from support import RawXml, rm

    make_alpineskihouse(deployment, exchange=True)
    ok(deployment.submit(he("EnsureExchangeVirtualDirectories", path=ALPINE)))
    ok(deployment.submit(request_xml("Managed Helpers", "InitializeADForHosting")))
    pointer = request_xml(
        "Managed Helpers",
        "CreateServicePointer",
        organization=ALPINE,
        serviceType="Services",
        name="p.example",
    )
    ok(deployment.submit(pointer))
    team = deployment.layout.hosting.child("OU", "WH").child("OU", "alpineskihouse").child("CN", "Team")
    with deployment.transaction() as providers:
        providers.directory.add(team, {"objectClass": ["top", "group"], "cn": ["Team"], "groupType": ["8"]})
    ok(deployment.submit(request_xml("Hosted Email 2007", "MailEnableGroup", path=team.ldap_path)))
    public = RawXml("<publicStore><serverName>EXBE03</serverName><megabytes>100</megabytes></publicStore>")
    ok(deployment.submit(rm("AddExchangeResources", publicStores=public)))
    ok(deployment.submit(he("CreatePublicFolder", path=ALPINE, megabytes=10)))
    adopt = request_xml("Hosted Email 2007 Import", "ImportRootPublicFolder", organization=ALPINE)
    ok(deployment.submit(adopt))
    listed = ok(deployment.submit(request_xml("Managed Hosting", "GetOrgType", path=team.ldap_path)))
    assert listed.find("data/org").get("orgType") == "customer"


# A process that dies at a chosen point of a request: after its n-th directory write (before its
# SQL commit), or just after its commit (before its intent log is removed).  A real kill, in a
# process of its own, so nothing of it runs after that point.
DYING = """
import os, sys
from pathlib import Path
from openmps.app import open_deployment
from openmps.directory.ldap import journal
from support import fast_passwords

home, n, document = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
writes = [0]

class Dying:
    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if name not in ("add", "modify", "delete", "move"):
            return attr

        def write(*args, **kwargs):
            result = attr(*args, **kwargs)
            writes[0] += 1
            if writes[0] == n:
                os._exit(9)
            return result

        return write

if n == 0:  # after the commit, before the log is removed
    journal.IntentLog.end = lambda self, clean, **_: os._exit(9) if self.used else None
d = open_deployment(home, passwords=fast_passwords(), directory_wrapper=Dying)
outcome = d.submit(document)
os._exit(0 if outcome.error is None else 1)
"""


def die(home: Path, n: int, document: str) -> int:
    tests = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": f"{tests}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run([sys.executable, "-c", DYING, str(home), str(n), document], env=env, timeout=120)
    return done.returncode


def test_a_process_killed_before_its_commit_has_its_directory_writes_undone_at_the_next_start(
    deployment: Deployment, hosted: Hosted, tmp_path: Path
) -> None:
    """Killed after each of CreateBusinessUser's directory writes in turn: the server holds what it
    wrote, SQL nothing; the next start undoes it from the intent log (the request's id is not among
    the committed ones), leaving both stores as before and no log."""
    make_alpineskihouse(deployment)
    deployment.close_directory()
    home = tmp_path / "home"
    document = hosted.addressed_document(
        user_xml("dan@alpineskihouse.com", isAdmin=True, newPassword=USER_PASSWORD)
    )
    sql_before, ldap_before = snapshot(deployment), hosted.entries()
    n = 0
    while True:
        n += 1
        code = die(home, n, document)
        if code == 0:
            break  # n is past the request's last write
        assert code == 9, code
        assert hosted.entries() != ldap_before, f"write {n} left nothing to repair"
        assert snapshot(deployment) == sql_before, f"SQL committed before write {n}"
        assert len(list((home / "directory-journal").glob("*.log"))) == 1
        restarted = open_deployment(home, passwords=fast_passwords())  # the next start
        assert restarted.recover_directory() == []  # the start settled the log itself
        restarted.close_directory()
        assert hosted.entries() == ldap_before, f"write {n} was not undone"
        assert snapshot(deployment) == sql_before
        assert not list((home / "directory-journal").glob("*.log"))
        assert n < 100
    assert n > 3  # the request wrote that many times, and each prefix was repaired
    audit = deployment.audit.search(caller="openmps start: directory journal")
    assert len(audit) == n - 1


def test_a_process_killed_after_its_commit_keeps_its_writes(
    deployment: Deployment, hosted: Hosted, tmp_path: Path
) -> None:
    """Killed between the SQL commit and the removal of its log: the next start finds the request
    committed and only removes the log."""
    make_alpineskihouse(deployment)
    deployment.close_directory()
    home = tmp_path / "home"
    document = hosted.addressed_document(user_xml("eve@alpineskihouse.com", newPassword=USER_PASSWORD))
    assert die(home, 0, document) == 9
    assert len(list((home / "directory-journal").glob("*.log"))) == 1
    restarted = open_deployment(home, passwords=fast_passwords())
    try:
        assert not list((home / "directory-journal").glob("*.log"))
        assert restarted.authenticator.authenticate("eve@alpineskihouse.com", USER_PASSWORD)
        assert restarted.read(lambda d: d.holder("userPrincipalName", "eve@alpineskihouse.com"))
    finally:
        restarted.close_directory()


@pytest.mark.parametrize("hosted", ["openldap"], indirect=True)
def test_requests_one_after_another_reuse_one_log_file_and_drop_the_marks_before(
    deployment: Deployment, hosted: Hosted, tmp_path: Path
) -> None:
    """Making a file per request cost more than its records: a process keeps its log files, each
    request's first record replaces the steps of the one before, whose commit mark is then dropped;
    a process that ends removes its files and their marks."""
    make_alpineskihouse(deployment)
    folder = tmp_path / "home" / "directory-journal"
    for n in range(4):
        create_user(deployment, ALPINE, f"u{n}@alpineskihouse.com")
        assert len(list(folder.glob("*.log"))) == 1
        with deployment.sql.connect() as conn:
            assert conn.execute(select(func.count()).select_from(directory_commits)).scalar_one() <= 2
    deployment.close_directory()
    assert not list(folder.glob("*.log"))
    with deployment.sql.connect() as conn:
        assert conn.execute(select(func.count()).select_from(directory_commits)).scalar_one() == 0


@pytest.mark.parametrize("hosted", ["openldap"], indirect=True)
@pytest.mark.parametrize("setting", ["on", "off"])
def test_the_intent_logs_are_synced_to_disk_unless_the_operator_turns_it_off(
    deployment: Deployment, hosted: Hosted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    """``OPENMPS_JOURNAL_FSYNC=off`` (the risk PostgreSQL's ``fsync=off`` takes): a request that
    commits and one rolled back after a write sync nothing in the home, nor does the end of the
    process that removes its log; on (the default) each step and the folder's names are synced."""
    make_alpineskihouse(deployment)
    deployment.close_directory()
    home = tmp_path / "home"
    synced: list[str] = []
    for name in ("fsync", "fdatasync"):
        real = getattr(os, name)
        monkeypatch.setattr(
            os, name, lambda fd, real=real: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real(fd))[1]
        )
    monkeypatch.setenv("OPENMPS_JOURNAL_FSYNC", setting)
    d = hosted.addressed(open_deployment(home, passwords=fast_passwords()))
    try:
        create_user(d, ALPINE, "synced@alpineskihouse.com")
        twice = user_xml("twice@alpineskihouse.com")
        step = twice[twice.index("<execute") : twice.index("</procedure>")]
        failed = d.submit(f"<request><procedure>{step}{step}</procedure></request>")  # the second refused
        assert failed.error is not None
    finally:
        d.close_directory()
    journal = home / "directory-journal"
    assert not list(journal.glob("*.log"))
    in_home = [path for path in synced if Path(path).is_relative_to(home)]
    if setting == "off":
        assert in_home == []
    else:
        assert any(path.endswith(".log") for path in in_home), in_home  # the steps
        assert str(journal) in in_home  # the log removed at the end


def test_a_journal_fsync_setting_other_than_on_or_off_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPENMPS_JOURNAL_FSYNC", "false")
    with pytest.raises(InvalidOperation, match="OPENMPS_JOURNAL_FSYNC='false' is not on or off"):
        journal_fsync()


@pytest.mark.parametrize("hosted", ["openldap"], indirect=True)
def test_openmps_submit_leaves_no_log_file_nor_mark_behind(
    deployment: Deployment, hosted: Hosted, tmp_path: Path
) -> None:
    """``openmps submit`` (a process of its own) ends as ``openmps serve`` does: its idle log file,
    which held its committed request's steps, is removed with its mark, not left for the next
    start's sweep; after a failed request too."""
    make_alpineskihouse(deployment)
    deployment.close_directory()
    home = tmp_path / "home"
    for upn, code in (("cli@alpineskihouse.com", 0), ("cli@alpineskihouse.com", 1)):  # the second: taken
        document = tmp_path / "request.xml"
        document.write_text(hosted.addressed_document(user_xml(upn)))
        done = subprocess.run(
            [sys.executable, "-m", "openmps", "--home", str(home), "submit", str(document)],
            capture_output=True,
            timeout=120,
        )
        assert done.returncode == code, done.stdout + done.stderr
        assert not list((home / "directory-journal").glob("*.log"))
        with deployment.sql.connect() as conn:
            assert conn.execute(select(func.count()).select_from(directory_commits)).scalar_one() == 0
    assert deployment.read(lambda d: d.holder("userPrincipalName", "cli@alpineskihouse.com"))


@pytest.mark.parametrize("hosted", ["openldap"], indirect=True)
def test_a_running_server_sweeps_the_log_of_a_process_that_died_beside_it(
    deployment: Deployment, hosted: Hosted, tmp_path: Path
) -> None:
    """``openmps serve`` runs for months: another process on the same deployment dies after two of
    its writes, and the server's periodic sweep undoes them (no restart), while a log of its own
    request in flight would be skipped (held under its lock)."""
    make_alpineskihouse(deployment)
    deployment.close_directory()
    home = tmp_path / "home"
    document = hosted.addressed_document(user_xml("sid@alpineskihouse.com", newPassword=USER_PASSWORD))
    ldap_before = hosted.entries()
    app = create_app(deployment, journal_sweep=0.1)

    async def serve_a_while() -> None:
        async with app.router.lifespan_context(app):
            assert await asyncio.to_thread(die, home, 2, document) == 9
            for _ in range(300):
                if not list((home / "directory-journal").glob("*.log")):
                    return
                await asyncio.sleep(0.1)

    asyncio.run(serve_a_while())
    assert not list((home / "directory-journal").glob("*.log"))
    assert hosted.entries() == ldap_before
    assert deployment.audit.search(caller="openmps serve's sweep: directory journal")


def test_openmps_check_reports_and_repairs_drift_on_the_server(
    deployment: Deployment, hosted: Hosted
) -> None:
    """Drift made on the server behind OpenMPS's back (a user taken out of AllUsers@, a mailbox
    user deleted, an address added) is reported by ``openmps check`` and repaired by ``--repair``:
    the claims of unique values in SQL follow the directory."""
    make_alpineskihouse(deployment, exchange=True)
    ok(deployment.submit(user_xml("fay@alpineskihouse.com", planName="GoldMail")))
    ok(deployment.submit(user_xml("gus@alpineskihouse.com")))
    admin = hosted.admin()
    try:
        users = {}
        for upn in ("fay", "gus"):
            admin.search(
                hosted.suffix, f"(userPrincipalName={upn}@alpineskihouse.com)", SUBTREE, attributes=["1.1"]
            )
            (user,) = [e for e in admin.response if e.get("type") == "searchResEntry"]
            users[upn] = user["dn"]
            admin.search(hosted.suffix, f"(member={user['dn']})", SUBTREE, attributes=["1.1"])
            for group in [e for e in admin.response if e.get("type") == "searchResEntry"]:
                assert admin.modify(group["dn"], {"member": [(MODIFY_DELETE, [user["dn"]])]})
        assert admin.delete(users["fay"])
        assert admin.modify(
            users["gus"], {"proxyAddresses": [(MODIFY_ADD, ["smtp:gus.alias@alpineskihouse.com"])]}
        )
    finally:
        admin.unbind()
    found = check(deployment)
    assert sorted({f.kind for f in found}) == [
        "allocation-without-mailbox",
        "claim-without-holder",  # fay's UPN, sAMAccountName, addresses
        "customer-record-without-object",
        "user-not-in-all-users",
        "value-not-claimed",  # gus's new address
    ]
    assert [f.problem for f in found if f.kind == "value-not-claimed"] == [
        "proxyaddresses 'smtp:gus.alias@alpineskihouse.com': held by the entry but not claimed in SQL"
        " (written behind OpenMPS's back)"
    ]
    assert all(f.repaired for f in check(deployment, repair=True))
    assert check(deployment) == []


def test_openmps_check_reads_the_configuration_partition(deployment: Deployment, hosted: Hosted) -> None:
    """The organizations' virtual directories are in ``CN=Configuration`` (on AD a naming context
    of its own, which no search of the domain enters): one whose binding was changed behind
    OpenMPS's back, and one pointing at an organization that is gone, are reported by ``openmps
    check`` and repaired by ``--repair``."""
    make_alpineskihouse(deployment, exchange=True)
    ok(deployment.submit(he("EnsureExchangeVirtualDirectories", path=ALPINE)))
    assert check(deployment) == []
    text = "(&(objectClass=serviceConnectionPoint)(serviceClassName=HTTP Virtual Directory))"
    admin = hosted.admin()
    try:
        admin.search(hosted.configuration, text, SUBTREE, attributes=["1.1"])
        first, second = sorted(e["dn"] for e in admin.response if e.get("type") == "searchResEntry")
        binding = {"serviceBindingInformation": [(MODIFY_REPLACE, ["/exchange/evil.example"])]}
        assert admin.modify(first, binding), admin.result
        orphan = {"description": [(MODIFY_REPLACE, [f"OU=gone,OU=WH,OU=Hosting,{hosted.suffix}"])]}
        assert admin.modify(second, orphan), admin.result
    finally:
        admin.unbind()
    found = {(f.kind, f.subject.lower()) for f in check(deployment)}
    assert found == {
        ("virtual-directory-differs", f"LDAP://{first}".lower()),
        ("virtual-directory-without-organization", f"LDAP://{second}".lower()),
    }
    assert all(f.repaired for f in check(deployment, repair=True))
    assert check(deployment) == []
    answered = ok(deployment.submit(he("EnsureExchangeVirtualDirectories", path=ALPINE)))
    paths = {v.get("path") for v in answered.findall("data/virtualDirectories/virtualDirectory")}
    assert paths == {"/exchange/alpineskihouse.com"}  # the removed one made again, as it was


def two_password_changes(deployment: Deployment, names: tuple[str, ...]) -> tuple[str, str]:
    """Users ``names`` made with USER_PASSWORD; one request changing each one's password in turn."""
    make_alpineskihouse(deployment)
    changes = []
    for name in names:
        upn = f"{name}@alpineskihouse.com"
        create = mad("CreateUser", container=ALPINE, userPrincipalName=upn, newPassword=USER_PASSWORD)
        path = ok(deployment.submit(create)).find("data/object").get("path")
        changes.append(
            mad("ChangeUserPassword", path=path, newPassword=f"N3w-{len(name)}{name[0]}-passw0rd!")
        )
    executes = "".join(d.split("<procedure>")[1].split("</procedure>")[0] for d in changes)
    return f"<request><procedure>{executes}</procedure></request>", "N3w-{}-passw0rd!"


@pytest.mark.parametrize("hosted", ["samba"], indirect=True)
def test_passwords_sent_before_a_refused_one_do_not_stay_as_the_failed_request_set_them(
    deployment: Deployment, hosted: Hosted, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request changing two users' passwords, the DC refusing the second (fault injection): the
    first was sent already and AD cannot put it back; it is reset to an unknown password, so
    neither the old nor the failed request's binds, and the request's error (audited) names it.
    The refused user keeps its old one."""
    from openmps.directory.ldap.backend import LdapDirectory

    document, new = two_password_changes(deployment, ("kim", "lou"))
    journaled = LdapDirectory._journaled

    def refusing(self: LdapDirectory, label: str, inverse: dict[str, Any], send: Any, **how: Any) -> None:
        if inverse["op"] == "password" and inverse["dn"].startswith("CN=lou@"):

            def send() -> None:
                raise ConstraintViolation("the DC refused the password (injected)")

        journaled(self, label, inverse, send, **how)

    monkeypatch.setattr(LdapDirectory, "_journaled", refusing)
    failed = deployment.submit(hosted.addressed_document(document))
    monkeypatch.undo()
    assert failed.error is not None, failed.error
    assert "reset to unknown ones: LDAP://CN=kim@alpineskihouse.com" in failed.error.description
    deployment.audit.flush()
    (record,) = deployment.audit.search(outcome="failure", limit=1)
    assert "CN=kim@alpineskihouse.com" in (record.error_description or "")
    for name, url in bind_names(hosted, "kim@alpineskihouse.com"):
        assert not can_bind(hosted, name, url, USER_PASSWORD), (name, url)
        assert not can_bind(hosted, name, url, new.format("3k")), (name, url)
    for name, url in bind_names(hosted, "lou@alpineskihouse.com"):
        assert can_bind(hosted, name, url, USER_PASSWORD), (name, url)
        assert not can_bind(hosted, name, url, new.format("3l")), (name, url)


DYING_AFTER_A_PASSWORD = """
import os, sys
from pathlib import Path
from openmps.app import open_deployment
from openmps.directory.ldap.backend import LdapDirectory
from support import fast_passwords

home, document = Path(sys.argv[1]), sys.argv[2]
journaled = LdapDirectory._journaled

def dying(self, label, inverse, send, **how):  # killed once the first password is on the DC
    journaled(self, label, inverse, send, **how)
    if inverse["op"] == "password":
        os._exit(9)

LdapDirectory._journaled = dying
d = open_deployment(home, passwords=fast_passwords())
outcome = d.submit(document)
os._exit(0 if outcome.error is None else 1)
"""


@pytest.mark.parametrize("hosted", ["samba"], indirect=True)
def test_a_process_killed_after_sending_a_password_has_it_reset_at_the_next_start(
    deployment: Deployment, hosted: Hosted, tmp_path: Path
) -> None:
    """Killed between a password's send and the SQL commit: the next start finds in the intent log
    that it was sent for a request that did not commit, and resets it to an unknown password
    (AD's unicodePwd has no undo), naming the account in its audit record; the other user's
    password, never sent, is unchanged."""
    document, new = two_password_changes(deployment, ("max", "ned"))
    deployment.close_directory()
    home = tmp_path / "home"
    tests = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": f"{tests}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    script = [sys.executable, "-c", DYING_AFTER_A_PASSWORD, str(home), hosted.addressed_document(document)]
    assert subprocess.run(script, env=env, timeout=120).returncode == 9
    max_names = bind_names(hosted, "max@alpineskihouse.com")
    assert any(can_bind(hosted, name, url, new.format("3m")) for name, url in max_names)  # sent
    restarted = open_deployment(home, passwords=fast_passwords())  # the next start
    restarted.close_directory()
    for name, url in max_names:
        assert not can_bind(hosted, name, url, new.format("3m")), (name, url)
        assert not can_bind(hosted, name, url, USER_PASSWORD), (name, url)
    for name, url in bind_names(hosted, "ned@alpineskihouse.com"):
        assert can_bind(hosted, name, url, USER_PASSWORD), (name, url)
    (record,) = deployment.audit.search(caller="openmps start: directory journal")
    assert "now reset to unknown ones: CN=max@alpineskihouse.com" in (record.error_description or "")
