"""Values at the server's edge: objectGUID, objectSid and msExchMailboxGuid are binary on an LDAP
server (text in OpenMPS: a GUID's canonical form, a SID's S-1-… form); everything else is UTF-8.
DNs come back as AD writes them (``CN=``): slapd writes an entry's DN and DN-syntax values with the
attribute types as its schema names them (``cn=``, ``ou=``, ``dc=``)."""

from __future__ import annotations

import uuid

from openmps.errors import InvalidArgument
from openmps.types import DN

GUID_ATTRIBUTES = frozenset({"objectguid", "msexchmailboxguid"})
SID_ATTRIBUTES = frozenset({"objectsid"})
BINARY_ATTRIBUTES = GUID_ATTRIBUTES | SID_ATTRIBUTES
# the DN-syntax attributes of schema/openmps.schema that OpenMPS writes
DN_VALUED = frozenset(
    {
        "member",
        "managedby",
        "homemdb",
        "showinaddressbook",
        "msexchquerybasedn",
        "msexchuseoab",
        "offlineabcontainers",
        "msrtcsip-primaryhomeserver",
    }
)


def sid_bytes(text: str) -> bytes:
    """``S-1-5-21-…`` as AD stores it (revision, count, 48-bit authority, little-endian subauthorities)."""
    parts = text.split("-")
    if len(parts) < 3 or parts[0].upper() != "S" or not all(p.isdigit() for p in parts[1:]):
        raise InvalidArgument(f"'{text}' is not a SID", attr="objectSid")
    subs = [int(p) for p in parts[3:]]
    return (
        bytes([int(parts[1]), len(subs)])
        + int(parts[2]).to_bytes(6, "big")
        + b"".join(s.to_bytes(4, "little") for s in subs)
    )


def sid_text(raw: bytes) -> str:
    count = raw[1]
    subs = [int.from_bytes(raw[8 + 4 * i : 12 + 4 * i], "little") for i in range(count)]
    return "-".join(["S", str(raw[0]), str(int.from_bytes(raw[2:8], "big")), *map(str, subs)])


def encode(key: str, value: str) -> bytes:
    """The bytes sent for ``value`` of the attribute ``key`` (lower-cased)."""
    if key in GUID_ATTRIBUTES:
        try:
            return uuid.UUID(value).bytes_le
        except ValueError:
            raise InvalidArgument(f"'{value}' is not a valid GUID", attr=key) from None
    if key in SID_ATTRIBUTES:
        return sid_bytes(value)
    return value.encode("utf-8")


def decode(key: str, raw: bytes) -> str:
    if key in GUID_ATTRIBUTES and len(raw) == 16:
        return str(uuid.UUID(bytes_le=raw))
    if key in SID_ATTRIBUTES and len(raw) >= 8:
        return sid_text(raw)
    text = raw.decode("utf-8", errors="replace")
    return str(ad_dn(text)) if key in DN_VALUED else text


def ad_dn(text: str) -> DN:
    """The DN ``text`` with its attribute types upper-cased, as AD writes them."""
    dn = DN.parse(text)
    if all(a.isupper() for rdn in dn.rdns for a, _v in rdn):
        return dn
    return DN(tuple(tuple((a.upper(), v) for a, v in rdn) for rdn in dn.rdns))
