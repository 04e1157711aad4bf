"""What the Hosted Exchange procedures share: the namespace name, settable attributes, checks."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Annotated

from openmps.delegation.layout import OrgType
from openmps.delegation.session import Org, Providers
from openmps.directory.interface import Entry
from openmps.directory.service import WELL_KNOWN
from openmps.engine.declaration import Property, Xml
from openmps.errors import InvalidArgument, NotFound
from openmps.types import DN

NAMESPACE = "Hosted Exchange"
# Every Hosted Exchange procedure accepts MPS's domain-controller hint; OpenMPS has one directory.
PreferredDC = Annotated[
    str | None, Xml("preferredDomainController", "accepted for MPS compatibility; OpenMPS has one directory")
]

# Attributes a caller may set through <properties>, by object kind.  Everything else — identity,
# security, membership, Exchange and password attributes — is set by the procedures themselves.
COMMON_ATTRIBUTES = frozenset(
    a.lower()
    for a in (
        "description",
        "displayName",
        "telephoneNumber",
        "otherTelephone",
        "facsimileTelephoneNumber",
        "street",
        "streetAddress",
        "postalAddress",
        "postalCode",
        "postOfficeBox",
        "l",
        "st",
        "c",
        "co",
        "countryCode",
        "physicalDeliveryOfficeName",
        "wWWHomePage",
        "url",
        "info",
        "company",
    )
)
USER_ATTRIBUTES = COMMON_ATTRIBUTES | frozenset(
    a.lower()
    for a in (
        "givenName",
        "sn",
        "initials",
        "middleName",
        "title",
        "department",
        "employeeID",
        "employeeNumber",
        "employeeType",
        "homePhone",
        "otherHomePhone",
        "mobile",
        "otherMobile",
        "pager",
        "otherPager",
        "ipPhone",
        "otherIpPhone",
        "homePostalAddress",
        "personalTitle",
        "generationQualifier",
        "preferredLanguage",
        *(f"extensionAttribute{i}" for i in range(1, 16)),
    )
)
OU_ATTRIBUTES = COMMON_ATTRIBUTES | frozenset({"businesscategory", "seealso"})

MAX_NAME_LENGTH = 64


def property_attributes(
    properties: Iterable[Property], allowed: frozenset[str], kind: str
) -> dict[str, list[str]]:
    """<properties> as attributes, refusing anything not settable on ``kind`` objects."""
    attrs: dict[str, list[str]] = {}
    for prop in properties:
        if prop.name.lower() not in allowed:
            raise InvalidArgument(
                f"property '{prop.name}' is not a settable attribute of {kind} objects", property=prop.name
            )
        if not prop.values:
            raise InvalidArgument(f"property '{prop.name}' has no value", property=prop.name)
        attrs.setdefault(prop.name, []).extend(prop.values)
    return attrs


def check_name(name: str, what: str) -> str:
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidArgument(f"{what} '{name[:20]}…' is longer than {MAX_NAME_LENGTH} characters")
    if any(ord(c) < 32 for c in name):
        raise InvalidArgument(f"{what} must not contain control characters")
    if name.strip() != name or not name:
        raise InvalidArgument(f"{what} '{name}' must not be empty or start or end with spaces")
    return name


def org_at(providers: Providers, dn: DN, *kinds: OrgType) -> Org:
    """The organization whose root is ``dn``; InvalidArgument when it is not one of ``kinds``."""
    chain = providers.org_chain(dn)
    if not chain or chain[0].dn != dn:
        if not providers.directory.exists(dn):
            raise NotFound(f"no such object: {dn.ldap_path}", dn=str(dn))
        raise InvalidArgument(f"{dn.ldap_path} is not an organization", dn=str(dn))
    if kinds and chain[0].kind not in kinds:
        wanted = " or ".join(k.value for k in kinds)
        raise InvalidArgument(
            f"{dn.ldap_path} is a {chain[0].kind.value} organization, not a {wanted} organization", dn=str(dn)
        )
    return chain[0]


def holds_directly(providers: Providers, org: Org, container: DN) -> bool:
    """Whether ``container`` is ``org`` or one of its departments (MPS Import policy ``default``)."""
    if container == org.dn:
        return True
    directory = providers.directory
    entry = directory.find(container)
    return (  # _Private points at its organization too, but it is a container, not an OU
        entry is not None
        and entry.has_class("organizationalUnit")
        and directory.well_known(entry, "ThisOrganizationRoot") == org.dn
    )


def org_entry(
    providers: Providers,
    path: DN,
    object_class: str,
    *,
    attributes: Collection[str] | None = None,
    directly: bool = False,
) -> tuple[Org, Entry]:
    """The ``object_class`` entry at ``path`` (all its attributes, or ``attributes`` and
    objectClass) and its business organization; InvalidArgument unless it is one of that
    organization's (``directly`` in its OU or in one of its departments, as MPS Import needs them)."""
    if attributes is None:
        entry = providers.directory.get(path)
    else:
        wanted = ("objectClass", WELL_KNOWN, *attributes)  # the pointers: org_chain needs them
        found = providers.directory.find_many([path], attributes=wanted).get(path)
        if found is None:
            raise NotFound(f"no such object: {path.ldap_path}", dn=str(path))
        entry = found
    chain = providers.org_chain(path, entry)
    inside = (
        bool(chain)
        and chain[0].kind is OrgType.CUSTOMER
        and (not directly or holds_directly(providers, chain[0], path.parent))
    )
    if not entry.has_class(object_class) or not inside:
        where = (
            "directly in a business organization or one of its departments (not in the right place)"
            if directly
            else "of a business organization"
        )
        raise InvalidArgument(f"{path.ldap_path} is not a {object_class} {where}", dn=str(path))
    return chain[0], entry


def business_user(
    providers: Providers, path: DN, attributes: Collection[str] | None = None
) -> tuple[Org, Entry]:
    """The user at ``path`` and its business organization (see :func:`org_entry`)."""
    return org_entry(providers, path, "user", attributes=attributes)
