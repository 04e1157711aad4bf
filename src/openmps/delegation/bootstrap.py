"""``openmps init``: the domain, the hosting organization and the administrator account."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from openmps.delegation.layout import OrgType
from openmps.delegation.organizations import INHERIT, build_organization
from openmps.delegation.session import Providers
from openmps.directory import acl
from openmps.directory.acl import Ace, Dacl, Right
from openmps.directory.interface import Change
from openmps.directory.service import SECURITY_DESCRIPTOR
from openmps.types import DN, Secret

NORMAL_ACCOUNT = "512"
FIRST_LOGON_FILE = "initial-admin-password"


@contextmanager
def private_files() -> Iterator[None]:
    """Files and folders created meanwhile are the owner's alone (0600, 0700) from their first
    byte: the store holds password hashes, and a chmod afterwards leaves a window open.  The umask
    is process-wide, so this wraps only creation at start-up, before any request thread runs."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


@dataclass(frozen=True)
class InitialPassword:
    """The generated password of the built-in administrator, kept in a file of the data folder
    (readable by its owner only) until the administrator first signs in: after that it is no longer
    needed, and a copy lying around is one more place to steal it from."""

    path: Path
    account: DN

    @classmethod
    def of(cls, home: Path, account: DN) -> InitialPassword:
        return cls(home / FIRST_LOGON_FILE, account)

    def write(self, password: str) -> None:
        with private_files():
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(password + "\n")

    def read(self) -> str | None:
        try:
            return self.path.read_text().strip() or None
        except FileNotFoundError:
            return None

    def signed_in(self, dn: DN) -> None:
        """A password of ``dn`` was verified: if it is the administrator, forget the file."""
        if dn == self.account:
            self.path.unlink(missing_ok=True)


def initialize_directory(providers: Providers, *, domain_sid: str, admin_password: Secret) -> None:
    """Create ``DC=…``, ``CN=Users`` with Domain Admins and Administrator, and ``OU=Hosting``."""
    directory = providers.directory
    layout = providers.layout
    domain_admins_sid = f"{domain_sid}-512"
    root_dacl = Dacl((Ace.grant(domain_admins_sid, Right.GENERIC_ALL, flags=INHERIT),))
    directory.add(
        layout.domain,
        {
            "objectClass": ["top", "domain", "domainDNS"],
            "dc": [layout.domain.rdn_value],
            "objectSid": [domain_sid],
            SECURITY_DESCRIPTOR: [acl.to_sddl(root_dacl)],
        },
    )
    directory.add(layout.users, {"objectClass": ["top", "container"], "cn": ["Users"]})
    directory.add(
        layout.domain_admins,
        {
            "objectClass": ["top", "group"],
            "cn": ["Domain Admins"],
            "sAMAccountName": ["Domain Admins"],
            "groupType": ["-2147483646"],
            "objectSid": [domain_admins_sid],
        },
        builtin=True,
    )
    upn = f"administrator@{layout.dns_name}"
    providers.passwords.check_policy(admin_password, account_names=("administrator",))
    directory.add(
        layout.administrator,
        {
            "objectClass": ["top", "person", "organizationalPerson", "user"],
            "cn": ["Administrator"],
            "sAMAccountName": ["Administrator"],
            "userPrincipalName": [upn],
            "userAccountControl": [NORMAL_ACCOUNT],
            "userPassword": [providers.passwords.hash(admin_password)],
            "objectSid": [f"{domain_sid}-500"],
        },
        builtin=True,
    )
    members = {DN.parse(m) for m in directory.get(layout.domain_admins).get("member")}
    if layout.administrator not in members:  # on AD, the DC's own Domain Admins has it already
        directory.modify(layout.domain_admins, [Change.add("member", str(layout.administrator))])
    build_organization(providers, parent=None, dn=layout.hosting, kind=OrgType.HOSTING)
    types_dn = layout.org_type(OrgType.HOSTING).parent
    directory.add(types_dn, {"objectClass": ["top", "container"], "cn": ["WatOrgTypes"]})
    for kind in OrgType:
        directory.add(layout.org_type(kind), {"objectClass": ["top", "container"], "cn": [kind.value]})
    directory.modify(layout.hosting, [Change.add("description", "Hosting organization")])
