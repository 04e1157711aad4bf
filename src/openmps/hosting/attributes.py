"""Attributes callers may set on the objects procedures make or change, and the checks of names.

Hosted Exchange's Create* procedures and Managed Active Directory's Create* and Modify* take the
same ``<properties>``: one list, here, so a value one accepts the other accepts too; the Modify*
procedures of both namespaces read and compare an edit the same way (``requested_edits``,
``changes_to``).
"""

from __future__ import annotations

from collections.abc import Iterable

from openmps.directory.interface import Change, Entry
from openmps.engine.declaration import Property
from openmps.errors import InvalidArgument
from openmps.types import shown

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


def requested_edits(
    named: dict[str, str | None], properties: Iterable[Property], allowed: frozenset[str], kind: str
) -> dict[str, tuple[str, ...]]:
    """What an edit procedure (Modify*) is asked to write (an empty tuple: remove), named arguments
    and properties together; InvalidArgument for an attribute not settable on ``kind`` objects or
    given twice, or a display name MPS would refuse."""
    edits: dict[str, tuple[str, ...]] = {n: (v,) for n, v in named.items() if v is not None}
    seen = {name.lower() for name in edits}
    for prop in properties:
        key = prop.name.lower()
        if key not in allowed:
            raise InvalidArgument(
                f"property {shown(prop.name)} is not a settable attribute of {kind} objects",
                property=prop.name,
            )
        if key in seen:
            raise InvalidArgument(f"'{prop.name}' is given twice", property=prop.name)
        seen.add(key)
        edits[prop.name] = prop.values
    if "displayname" in seen:
        name = next(k for k in edits if k.lower() == "displayname")
        for value in edits[name]:
            check_name(value, "displayName")
    return edits


def changes_to(entry: Entry, edits: dict[str, tuple[str, ...]]) -> list[Change]:
    """What differs from ``entry``: replaced values (compared case-insensitively, in any order), or
    the attribute removed; nothing when every value is already so (a repeated edit writes nothing)."""
    changes = []
    for name, values in edits.items():
        have = sorted(v.casefold() for v in entry.get(name))
        if not values:
            if have:
                changes.append(Change.delete(name))
        elif have != sorted(v.casefold() for v in values):
            changes.append(Change.replace(name, *values))
    return changes
