"""Attributes callers may set on the objects procedures make or change, and the checks of names.

Hosted Exchange's Create* procedures and Managed Active Directory's Create* and Modify* take the
same ``<properties>``: one list, here, so a value one accepts the other accepts too.
"""

from __future__ import annotations

from collections.abc import Iterable

from openmps.engine.declaration import Property
from openmps.errors import InvalidArgument

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
