"""otherWellKnownObjects: named pointers from an organization to its parts (reference §5.3).

Stored in Active Directory's own syntax, DN-with-binary ``B:32:<GUID hex>:<DN>``, so the same values
work on a real AD or Samba backend.  MPS names each pointer (``wkName``); the GUID of a name is
fixed: MPS's published GUID where one exists, otherwise a UUIDv5 of the name.
"""

from __future__ import annotations

import functools
import uuid

from openmps.errors import InvalidArgument
from openmps.types import DN

_NAMESPACE = uuid.UUID("6f70656e-6d70-7300-8000-77656c6c6b6e")  # "openmps" + "wellkn"

PUBLISHED = {
    "OrganizationAddressList": "9E444526CB6F4D5C9A59C9A84E26B627",
    "OrganizationGAL": "89FB25B7DF784FC198A493E2E8A0EE7E",
    "OrganizationOAB": "D22DFCC5B73645E99E16C9AD3D61F34F",
    "OwningOrganization": "B7AE2ABCCBAD41A28973559FCA154DB0",
}


@functools.lru_cache(maxsize=256)
def guid_of(name: str) -> str:
    return PUBLISHED.get(name) or uuid.uuid5(_NAMESPACE, name).hex.upper()


_NAMES = {
    guid_of(n): n
    for n in (
        *PUBLISHED,
        "ThisOrganizationRoot",
        "ForeignOwnerOrg",
        "UserCreators",
        "ChildOrgCreators",
        "OrgType",
        "MultiGroupPointer",
    )
}


def encode(name: str, target: DN) -> str:
    return f"B:32:{guid_of(name)}:{target}"


def decode(value: str) -> tuple[str, DN]:
    """(wkName, target) of a stored value; unknown GUIDs come back as the GUID hex."""
    parts = value.split(":", 3)
    if len(parts) != 4 or parts[0] != "B" or parts[1] != "32" or len(parts[2]) != 32:
        raise InvalidArgument(f"'{value}' is not a well-known-object value (B:32:<GUID>:<DN>)")
    guid = parts[2].upper()
    return _NAMES.get(guid, guid), DN.parse(parts[3])


@functools.lru_cache(maxsize=4096)  # an organization's pointers are read for each of its users
def lookup(values: tuple[str, ...], name: str) -> DN | None:
    guid = guid_of(name)
    for value in values:
        parts = value.split(":", 3)
        if len(parts) == 4 and parts[2].upper() == guid:
            return DN.parse(parts[3])
    return None
