"""Accounts as AD keeps them: the userAccountControl flags procedures set, and a new user's entry.

Managed Active Directory's CreateUser and Hosted Exchange's CreateConsumerUser make users the
same way: the attributes of :func:`user_attributes` at :func:`user_dn` (on one of the
organization's UPN suffixes), added by :func:`add_user`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, ClassVar

from openmps.delegation.session import Org, Providers
from openmps.directory.interface import Entry
from openmps.directory.naming import sam_seed
from openmps.engine.declaration import Properties, Xml
from openmps.errors import InvalidArgument
from openmps.hosting.attributes import USER_ATTRIBUTES, check_name, property_attributes
from openmps.hosting.render import MemberOf
from openmps.types import DN, Secret, Upn

NORMAL_ACCOUNT = 0x200
ACCOUNT_DISABLED = 0x2
USER_CLASSES = ("top", "person", "organizationalPerson", "user")


def checked_sam(name: str) -> str:
    """An explicit sAMAccountName, if it is one the MPS algorithm could have made (seed 003)."""
    if sam_seed(name) != name:
        raise InvalidArgument(
            f"'sAMAccountName': '{name}' must be at most 20 characters without "
            '"/\\[]:|<>+=;?,*@ and must not end with a dot',
            argument="sAMAccountName",
        )
    return name


def user_attributes(
    upn: str, names: Mapping[str, str | None], properties: Properties, password_hash: str | None
) -> dict[str, list[str]]:
    """A new user's entry: its settable ``properties``, its ``names`` (displayName, givenName …),
    its identity; enabled only with a password."""
    attrs = property_attributes(properties, USER_ATTRIBUTES, "user")
    for attr, value in names.items():
        if value is not None:
            attrs[attr] = [check_name(value, attr) if attr == "displayName" else value]
    control = NORMAL_ACCOUNT if password_hash else NORMAL_ACCOUNT | ACCOUNT_DISABLED
    attrs.update(
        objectClass=list(USER_CLASSES),
        cn=[upn],
        userPrincipalName=[upn],
        userAccountControl=[str(control)],
    )
    if password_hash:
        attrs["userPassword"] = [password_hash]
    return attrs


def user_dn(org: Org, container: DN, upn: Upn) -> DN:
    """Where a new user goes: ``CN=<UPN>`` in ``container``, the UPN on one of ``org``'s suffixes."""
    suffixes = {s.casefold() for s in org.entry.get("uPNSuffixes")}
    if upn.domain.casefold() not in suffixes:
        raise InvalidArgument(
            f"'userPrincipalName': '{upn.domain}' is not a domain of {org.dn.ldap_path}",
            argument="userPrincipalName",
        )
    return container.child("CN", str(upn))


def add_user(
    providers: Providers,
    dn: DN,
    upn: Upn,
    attrs: dict[str, list[str]],
    sam: str | None,
    password: Secret | None,
) -> Entry:
    """Add the user (an existing one: AlreadyExists from the add); ``sam`` None: generated from
    the UPN by the MPS algorithm.  Its ``password`` (hashed in ``attrs`` already) is also given to
    the server where it keeps one of its own (AD's unicodePwd), so the user binds there."""
    if sam is None:
        created = providers.directory.add_account(dn, attrs, str(upn))
    else:
        created = providers.directory.add(dn, {**attrs, "sAMAccountName": [sam]})
    if password is not None:
        providers.directory.set_password(dn, password)
    return created


@dataclass(frozen=True)
class CreatedContact:
    """A new contact (Managed Active Directory's CreateContact; Hosted Exchange reads it): its path
    and name."""

    XML_ELEMENT: ClassVar[str] = "contact"
    path: Annotated[DN, Xml("@path")]
    name: Annotated[str, Xml("@name")]


@dataclass(frozen=True)
class CreatedAccount:
    """A new user or group (Managed Active Directory's CreateUser, CreateGroup; Hosted Exchange
    reads it): its path, name, objectGUID and the groups it joined."""

    XML_ELEMENT: ClassVar[str] = "object"
    path: Annotated[DN, Xml("@path")]
    name: Annotated[str, Xml("@name")]
    guid: Annotated[str, Xml("@objectGUID")]
    member_of: Annotated[tuple[MemberOf, ...], Xml(".", item="memberOfGroup")] = ()
