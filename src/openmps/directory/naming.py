"""Names the directory derives (sAMAccountName as MPS generates it, seed 003) and names it keeps
for its own principals."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

from openmps.types import fold

ILLEGAL_SAM_CHARACTERS = frozenset('"/\\[]:|<>+=;?,*')
MAX_SAM_LENGTH = 20


def sam_seed(name: str) -> str:
    """Steps 1–3: drop illegal characters, '@' → '_', at most 20 characters, no trailing '.'."""
    cleaned = "".join("_" if c == "@" else c for c in name if c not in ILLEGAL_SAM_CHARACTERS and c >= " ")
    cleaned = cleaned[:MAX_SAM_LENGTH]
    if cleaned.endswith("."):
        cleaned = cleaned[:-1] + "_"
    return cleaned


def sam_candidates(name: str, *, digits: Callable[[int], str] | None = None) -> Iterator[str]:
    """The six trial names of step 4–5: the seed itself, 3 × (17 chars + 3 random digits),
    2 × (15 chars + 5 random digits)."""
    draw = digits or (lambda n: "".join(secrets.choice("0123456789") for _ in range(n)))
    seed = sam_seed(name)
    yield seed
    for _ in range(3):
        yield seed[:17] + draw(3)
    for _ in range(2):
        yield seed[:15] + draw(5)


# The names Windows gives its built-in accounts and groups, and the directory's service principals.
# An account or group of a tenant by one of these names would pass for the provider's own in a
# list, a log or an ACL editor; only the bootstrap and the organization builder create them.
_BUILTIN_NAMES = (
    "krbtgt",
    "Administrator",
    "Guest",
    "DefaultAccount",
    "WDAGUtilityAccount",
    "Administrators",
    "Users",
    "Guests",
    "Domain Admins",
    "Domain Users",
    "Domain Guests",
    "Domain Computers",
    "Domain Controllers",
    "Enterprise Admins",
    "Schema Admins",
    "Enterprise Read-only Domain Controllers",
    "Read-only Domain Controllers",
    "Cloneable Domain Controllers",
    "Group Policy Creator Owners",
    "Cert Publishers",
    "Protected Users",
    "Key Admins",
    "Enterprise Key Admins",
    "DnsAdmins",
    "DnsUpdateProxy",
    "RAS and IAS Servers",
    "Allowed RODC Password Replication Group",
    "Denied RODC Password Replication Group",
    "Account Operators",
    "Server Operators",
    "Print Operators",
    "Backup Operators",
    "Replicator",
    "Remote Desktop Users",
    "Network Configuration Operators",
    "Pre-Windows 2000 Compatible Access",
    "Incoming Forest Trust Builders",
    "Windows Authorization Access Group",
    "Everyone",
    "Authenticated Users",
    "SYSTEM",
    "MPFServiceAcct",
)
RESERVED_NAMES: frozenset[str] = frozenset(fold(name) for name in _BUILTIN_NAMES)
# OpenMPS's role groups are ``<Role>@<Organization>`` (delegation/layout.py): no tenant's name may
# take that shape, whatever the organization.
ROLE_GROUP_ROLES: frozenset[str] = frozenset(
    fold(role)
    for role in (
        "Admins",
        "CSRAdmins",
        "AllUsers",
        "AllCustomers",
        "AllCustomerAdminsGroups",
        "AllCustomerCSRAdminsGroups",
    )
)


def is_reserved(name: str, *, role_shape: bool = True) -> bool:
    """Whether ``name`` (compared folded) is a built-in principal's or, if ``role_shape``, has a
    role group's shape (a user's cn is its UPN, where ``admins@…`` is an ordinary mailbox)."""
    key = fold(name)
    if key in RESERVED_NAMES:
        return True
    role, at, _ = key.partition("@")
    return role_shape and bool(at) and role in ROLE_GROUP_ROLES
