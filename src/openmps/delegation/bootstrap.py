"""``openmps init``: the domain, the hosting organization and the administrator account."""

from __future__ import annotations

from openmps.delegation.layout import OrgType
from openmps.delegation.organizations import INHERIT, build_organization
from openmps.delegation.session import Providers
from openmps.directory import acl
from openmps.directory.acl import Ace, Dacl, Right
from openmps.directory.interface import Change
from openmps.directory.service import SECURITY_DESCRIPTOR
from openmps.types import Secret

NORMAL_ACCOUNT = "512"


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
    directory.modify(layout.domain_admins, [Change.add("member", str(layout.administrator))])
    build_organization(providers, parent=None, dn=layout.hosting, kind=OrgType.HOSTING)
    types_dn = layout.org_type(OrgType.HOSTING).parent
    directory.add(types_dn, {"objectClass": ["top", "container"], "cn": ["WatOrgTypes"]})
    for kind in OrgType:
        directory.add(layout.org_type(kind), {"objectClass": ["top", "container"], "cn": [kind.value]})
    directory.modify(layout.hosting, [Change.add("description", "Hosting organization")])
