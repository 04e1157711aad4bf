"""A deployment whose hosting directory is an OpenLDAP server (``openmps init --directory``):
requests create organizations, users and mailboxes there; a user created with a password binds to
the server with it, a mailbox is found by its proxy address as a mail server looks it up, a
request failing at any of its writes leaves no trace, and the SQL store keeps no entry."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ldap3 import MODIFY_ADD, MODIFY_DELETE, SUBTREE, Connection, Server
from sqlalchemy import func, select
from typer.testing import CliRunner

from openmps.app import Deployment, DirectoryServerChoice, init_deployment, open_deployment
from openmps.check import check
from openmps.cli.main import app
from openmps.db.schema import entries, settings
from openmps.directory.interface import Change, Directory
from openmps.errors import InternalError, NotAuthenticated
from openmps.hosting.accounts import ACCOUNT_DISABLED, NORMAL_ACCOUNT
from openmps.types import Secret
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
    snapshot,
    wipe_server,
)

SUFFIX = "dc=fabrikam,dc=com"
ALPINE = org_path("WH", "alpineskihouse")


def user_xml(upn: str, **extra: object) -> str:
    return he("CreateBusinessUser", container=ALPINE, userPrincipalName=upn, **{"isAdmin": False, **extra})


def connect(server: DirectoryServer, user: str, password: str) -> Connection:
    return Connection(
        Server(server.url, get_info=None, connect_timeout=5), user, password, receive_timeout=10
    )


def wipe(server: DirectoryServer) -> None:
    wipe_server(server, SUFFIX)


@pytest.fixture
def deployment(openldap_fabrikam: DirectoryServer, tmp_path: Path) -> Iterator[Deployment]:
    wipe(openldap_fabrikam)
    choice = DirectoryServerChoice(
        openldap_fabrikam.url, openldap_fabrikam.bind_dn, openldap_fabrikam.password_file
    )
    made = init_deployment(
        tmp_path / "home",
        domain="fabrikam.com",
        admin_password=Secret(ADMIN_PASSWORD),
        passwords=fast_passwords(),
        directory=choice,
    )
    yield made
    made.close_directory()
    wipe(openldap_fabrikam)


def test_the_settings_name_the_server_and_the_password_file_never_the_password(
    deployment: Deployment, openldap_fabrikam: DirectoryServer, tmp_path: Path
) -> None:
    with deployment.sql.connect() as conn:
        recorded = {row.name: row.value for row in conn.execute(select(settings.c.name, settings.c.value))}
        assert conn.execute(select(func.count()).select_from(entries)).scalar_one() == 0
    assert recorded["directory_url"] == openldap_fabrikam.url
    assert recorded["directory_password_file"] == str(openldap_fabrikam.password_file)
    assert openldap_fabrikam.password not in recorded.values()
    reopened = open_deployment(tmp_path / "home")
    assert reopened.directory_server is not None
    assert openldap_fabrikam.password not in repr(reopened.directory_server)


def test_a_user_created_with_a_password_binds_to_the_server(
    deployment: Deployment, openldap_fabrikam: DirectoryServer
) -> None:
    make_alpineskihouse(deployment)
    create_user(deployment, ALPINE, "ann@alpineskihouse.com")
    assert deployment.authenticator.authenticate("ann@alpineskihouse.com", USER_PASSWORD)
    admin = connect(openldap_fabrikam, openldap_fabrikam.bind_dn, openldap_fabrikam.password)
    admin.bind()
    try:  # what a mail server or a portal does: find the DN by the UPN, then bind as it
        admin.search(SUFFIX, "(userPrincipalName=ann@alpineskihouse.com)", SUBTREE, attributes=["1.1"])
        (found,) = admin.response
    finally:
        admin.unbind()
    for password, binds in ((USER_PASSWORD, True), ("Wrong-password-1", False)):
        user = connect(openldap_fabrikam, found["dn"], password)
        try:
            assert user.bind() is binds
        finally:
            user.unbind()


def test_a_disabled_user_cannot_bind_to_the_server(
    deployment: Deployment, openldap_fabrikam: DirectoryServer
) -> None:
    """OpenMPS disables an account as AD does (userAccountControl's 0x2); the server refuses its bind
    while it is disabled and takes it again once enabled, as OpenMPS's own sign-in does."""
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
        user = connect(openldap_fabrikam, str(ann), USER_PASSWORD)
        try:
            assert user.bind() is binds, flags
        finally:
            user.unbind()


def test_openmps_init_with_a_directory_server(openldap_fabrikam: DirectoryServer, tmp_path: Path) -> None:
    wipe(openldap_fabrikam)
    home = tmp_path / "cli"
    base = ["--home", str(home), "init", "--domain", "fabrikam.com", "--admin-password", ADMIN_PASSWORD]
    server = ["--directory", openldap_fabrikam.url, "--directory-bind-dn", openldap_fabrikam.bind_dn]
    try:
        alone = CliRunner().invoke(app, [*base, *server])
        assert alone.exit_code == 1 and "--directory-password-file" in alone.output
        lax = tmp_path / "lax"
        lax.write_text(openldap_fabrikam.password)
        lax.chmod(0o644)
        refused = CliRunner().invoke(app, [*base, *server, "--directory-password-file", str(lax)])
        assert refused.exit_code == 1 and "0600" in refused.output
        done = CliRunner().invoke(
            app, [*base, *server, "--directory-password-file", str(openldap_fabrikam.password_file)]
        )
        assert done.exit_code == 0, done.output
        opened = open_deployment(home)
        try:
            assert opened.administrator().dn == opened.layout.administrator
        finally:
            opened.close_directory()
    finally:
        wipe(openldap_fabrikam)


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


def server_snapshot(server: DirectoryServer) -> dict[str, dict[str, list[bytes]]]:
    conn = connect(server, server.bind_dn, server.password)
    conn.bind()
    try:
        conn.search(SUFFIX, "(objectClass=*)", SUBTREE, attributes=["*"])
        return {
            e["dn"].lower(): {k.lower(): sorted(v) for k, v in e["raw_attributes"].items()}
            for e in conn.response
        }
    finally:
        conn.unbind()


@pytest.mark.parametrize(
    "request_xml",
    [
        he("CreateBusinessOrganization", container=org_path("WH"), name="contoso", SMTPDomain="contoso.com"),
        user_xml("bob@alpineskihouse.com", isAdmin=True, newPassword=USER_PASSWORD),
    ],
    ids=["CreateBusinessOrganization", "CreateBusinessUser"],
)
def test_a_request_failing_after_any_of_its_writes_leaves_no_trace(
    deployment: Deployment, openldap_fabrikam: DirectoryServer, request_xml: str
) -> None:
    make_alpineskihouse(deployment)
    sql_before, ldap_before = snapshot(deployment), server_snapshot(openldap_fabrikam)
    n = 0
    while True:
        n += 1
        counter = [0]
        deployment.directory_wrapper = lambda inner: FailingWrite(inner, n, counter)  # noqa: B023
        outcome = deployment.submit(request_xml)
        if outcome.error is None:
            break  # n is past the request's last write
        assert snapshot(deployment) == sql_before, f"SQL changed when write {n} failed"
        assert server_snapshot(openldap_fabrikam) == ldap_before, f"LDAP changed when write {n} failed"
        assert n < 100
    assert n > 2  # the request wrote, and each of its prefixes was undone


def test_a_mailbox_user_is_found_by_a_proxy_address_on_the_server(
    deployment: Deployment, openldap_fabrikam: DirectoryServer
) -> None:
    make_alpineskihouse(deployment, exchange=True)
    ok(deployment.submit(user_xml("carol@alpineskihouse.com", planName="GoldMail")))
    admin = connect(openldap_fabrikam, openldap_fabrikam.bind_dn, openldap_fabrikam.password)
    admin.bind()
    try:  # what a mail server's recipient lookup does
        admin.search(SUFFIX, "(proxyAddresses=smtp:CAROL@AlpineSkiHouse.com)", SUBTREE, attributes=["mail"])
        (found,) = admin.response
    finally:
        admin.unbind()
    assert found["dn"].lower().startswith("cn=carol@alpineskihouse.com,")
    assert found["attributes"]["mail"] == ["carol@alpineskihouse.com"]


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
    journal.IntentLog.end = lambda self, clean: os._exit(9) if self.used else None
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
    deployment: Deployment, openldap_fabrikam: DirectoryServer, tmp_path: Path
) -> None:
    """Killed after each of CreateBusinessUser's directory writes in turn: the server holds what it
    wrote, SQL nothing; the next start undoes it from the intent log (the request's id is not among
    the committed ones), leaving both stores as before and no log."""
    make_alpineskihouse(deployment)
    deployment.close_directory()
    home = tmp_path / "home"
    document = user_xml("dan@alpineskihouse.com", isAdmin=True, newPassword=USER_PASSWORD)
    sql_before, ldap_before = snapshot(deployment), server_snapshot(openldap_fabrikam)
    n = 0
    while True:
        n += 1
        code = die(home, n, document)
        if code == 0:
            break  # n is past the request's last write
        assert code == 9, code
        assert server_snapshot(openldap_fabrikam) != ldap_before, f"write {n} left nothing to repair"
        assert snapshot(deployment) == sql_before, f"SQL committed before write {n}"
        assert len(list((home / "directory-journal").glob("*.log"))) == 1
        restarted = open_deployment(home, passwords=fast_passwords())  # the next start
        assert restarted.recover_directory() == []  # the start settled the log itself
        restarted.close_directory()
        assert server_snapshot(openldap_fabrikam) == ldap_before, f"write {n} was not undone"
        assert snapshot(deployment) == sql_before
        assert not list((home / "directory-journal").glob("*.log"))
        assert n < 100
    assert n > 3  # the request wrote that many times, and each prefix was repaired
    audit = deployment.audit.search(caller="openmps start: directory journal")
    assert len(audit) == n - 1


def test_a_process_killed_after_its_commit_keeps_its_writes(
    deployment: Deployment, openldap_fabrikam: DirectoryServer, tmp_path: Path
) -> None:
    """Killed between the SQL commit and the removal of its log: the next start finds the request
    committed and only removes the log."""
    make_alpineskihouse(deployment)
    deployment.close_directory()
    home = tmp_path / "home"
    assert die(home, 0, user_xml("eve@alpineskihouse.com", newPassword=USER_PASSWORD)) == 9
    assert len(list((home / "directory-journal").glob("*.log"))) == 1
    restarted = open_deployment(home, passwords=fast_passwords())
    try:
        assert not list((home / "directory-journal").glob("*.log"))
        assert restarted.authenticator.authenticate("eve@alpineskihouse.com", USER_PASSWORD)
        assert restarted.read(lambda d: d.holder("userPrincipalName", "eve@alpineskihouse.com"))
    finally:
        restarted.close_directory()


def test_openmps_check_reports_and_repairs_drift_on_the_server(
    deployment: Deployment, openldap_fabrikam: DirectoryServer
) -> None:
    """Drift made on the server behind OpenMPS's back (a user taken out of AllUsers@, a mailbox
    user deleted, an address added) is reported by ``openmps check`` and repaired by ``--repair``:
    the claims of unique values in SQL follow the directory."""
    make_alpineskihouse(deployment, exchange=True)
    ok(deployment.submit(user_xml("fay@alpineskihouse.com", planName="GoldMail")))
    ok(deployment.submit(user_xml("gus@alpineskihouse.com")))
    admin = connect(openldap_fabrikam, openldap_fabrikam.bind_dn, openldap_fabrikam.password)
    admin.bind()
    try:
        users = {}
        for upn in ("fay", "gus"):
            admin.search(SUFFIX, f"(userPrincipalName={upn}@alpineskihouse.com)", SUBTREE, attributes=["1.1"])
            (user,) = admin.response
            users[upn] = user["dn"]
            admin.search(SUFFIX, f"(member={user['dn']})", SUBTREE, attributes=["1.1"])
            for group in admin.response:
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
