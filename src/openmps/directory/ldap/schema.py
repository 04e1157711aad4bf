"""What of OpenMPS's schema a directory server must hold, checked when a deployment is made or
opened: a server without it refuses the first request that writes one of its attributes with an
objectClass violation, far from the cause; refused at ``openmps init`` and at every start instead,
in one line naming what is missing and the fix.

OpenLDAP loads schema/openmps.schema whole from its configuration (scripts/openldap.sh), so its
attributes and classes are there or not: their names are looked for in the subschema subentry.
A Samba AD DC takes schema/samba-extension.ldif entry by entry (scripts/samba-dc.sh, which
brings an older DC's extension up to date), which can stop part way: there the attribute entries,
the marker class's ``mayContain`` and the ``auxiliaryClass`` of AD's classes that carry it are read,
by one search of the schema naming context for those names.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from typing import Any

from openmps.directory.ldap.connection import LdapConnection, LdapRefused, mapped
from openmps.directory.ldap.servers import Flavour

# The attributes both schema files define for Exchange, OCS and OpenMPS (tests/unit/test_schema_files.py
# holds that they are these); AD's extension adds the flavour's ``stored_as`` attributes too.
ATTRIBUTES = frozenset(
    {
        "mailNickname",
        "homeMDB",
        "mDBStorageQuota",
        "mDBOverQuotaLimit",
        "mDBUseDefaults",
        "msExchHomeServerName",
        "msExchMailboxGuid",
        "msExchQueryBaseDN",
        "msExchUseOAB",
        "msExchUserAccountControl",
        "msExchHideFromAddressLists",
        "msExchMailboxFolderSet",
        "targetAddress",
        "offLineABContainers",
        "protocolSettings",
        "folderPathname",
        "msRTCSIP-PrimaryUserAddress",
        "msRTCSIP-PrimaryHomeServer",
        "msRTCSIP-UserEnabled",
        "msRTCSIP-FederationEnabled",
        "msRTCSIP-InternetAccessEnabled",
        "msRTCSIP-OptionFlags",
        "msRTCSIP-InstanceId",
        "msRTCSIP-PoolState",
        "msRTCSIP-UserPolicy",
        "openmpsImportedFrom",
        *(f"extensionAttribute{n}" for n in range(1, 16)),
    }
)
OPENLDAP_CLASSES = ("openmpsContainer",)  # the auxiliary class OpenMPS's containers carry there
# AD's classes of the entries OpenMPS writes, which must take its marker class as an auxiliary one
MARKED_CLASSES = ("user", "group", "contact", "organizationalUnit", "container", "domainDNS")
SHOWN = 6  # names listed in the error before "and N more"
_NAME = re.compile(r"\bNAME\s+(?:'([^']+)'|\(([^)]*)\))")

FIXES = {
    "openldap": "load schema/openmps.schema (scripts/openldap.sh start DIR PORT DOMAIN loads this "
    "checkout's, keeping the entries)",
    "samba": "apply schema/samba-extension.ldif (scripts/samba-dc.sh start DIR DOMAIN brings a DC's "
    "extension up to date)",
}


def lacking(connection: LdapConnection, flavour: Flavour) -> str | None:
    """What of OpenMPS's schema the server lacks, with the fix, in one line; None when it holds it."""
    missing = (
        _lacking_ad(connection, flavour) if flavour.marker is not None else _lacking_openldap(connection)
    )
    if not missing:
        return None
    return f"the directory server's schema lacks {'; '.join(missing)}: {FIXES[flavour.name]}"


def _search(
    connection: LdapConnection, base: str, scope: str, text: str, attributes: list[str]
) -> list[dict[str, Any]]:
    """The raw attributes of each entry found."""
    try:
        found = connection.run(
            base or "the server's rootDSE",
            lambda c: c.search(base, text, scope, attributes=attributes),
        ).response
    except LdapRefused as refused:
        raise mapped(refused, dn=base) from None
    return [item["raw_attributes"] for item in found or () if item.get("type") == "searchResEntry"]


def _root_dse(connection: LdapConnection, attribute: str) -> str:
    for raw in _search(connection, "", "BASE", "(objectClass=*)", [attribute]):
        for value in raw.get(attribute, []):
            return bytes(value).decode()
    return ""


def _lacking_openldap(connection: LdapConnection) -> list[str]:
    subschema = _root_dse(connection, "subschemaSubentry") or "cn=Subschema"
    found = _search(
        connection, subschema, "BASE", "(objectClass=subschema)", ["attributeTypes", "objectClasses"]
    )
    raw = found[0] if found else {}
    attributes = _defined(raw.get("attributeTypes", []))
    classes = _defined(raw.get("objectClasses", []))
    return [
        *_named("the attribute", "the attributes", _absent(ATTRIBUTES, attributes)),
        *_named("the class", "the classes", _absent(OPENLDAP_CLASSES, classes)),
    ]


def _defined(definitions: Iterable[bytes]) -> set[str]:
    """The lower-cased names RFC 4512 definitions give (``NAME 'a'`` or ``NAME ( 'a' 'b' )``)."""
    names: set[str] = set()
    for definition in definitions:
        match = _NAME.search(bytes(definition).decode("utf-8", "replace"))
        if match is not None:
            names.update(n.lower() for n in (match.group(1) or match.group(2).replace("'", " ")).split())
    return names


def _lacking_ad(connection: LdapConnection, flavour: Flavour) -> list[str]:
    assert flavour.marker is not None
    marker = flavour.marker
    attributes = sorted(ATTRIBUTES | {theirs for _ours, theirs in flavour.stored_as})
    schema = _root_dse(connection, "schemaNamingContext")
    wanted = (
        "(|" + "".join(f"(lDAPDisplayName={name})" for name in (*attributes, marker, *MARKED_CLASSES)) + ")"
    )
    entries = {}
    for raw in _search(
        connection, schema, "LEVEL", wanted, ["lDAPDisplayName", "mayContain", "auxiliaryClass"]
    ):
        for name in raw.get("lDAPDisplayName", []):
            entries[bytes(name).decode().lower()] = {
                key.lower(): {bytes(v).decode().lower() for v in values} for key, values in raw.items()
            }
    missing = _named("the attribute", "the attributes", _absent(attributes, entries))
    if marker.lower() not in entries:
        return [*missing, f"the class {marker}"]
    may = entries[marker.lower()].get("maycontain", set())
    held = [a for a in attributes if a.lower() in entries]  # an absent one is named once, above
    missing += _named(f"{marker}'s mayContain", f"{marker}'s mayContain", _absent(held, may))
    unmarked = [
        c
        for c in MARKED_CLASSES
        if marker.lower() not in entries.get(c.lower(), {}).get("auxiliaryclass", set())
    ]
    missing += _named(f"{marker} as an auxiliaryClass of", f"{marker} as an auxiliaryClass of", unmarked)
    return missing


def _absent(names: Iterable[str], present: Collection[str]) -> list[str]:
    return sorted(name for name in names if name.lower() not in present)


def _named(one: str, many: str, names: list[str]) -> list[str]:
    """``names`` as one phrase of the error ("the attributes a, b and 3 more"), or none."""
    if not names:
        return []
    shown = ", ".join(names[:SHOWN]) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")
    return [f"{one if len(names) == 1 else many} {shown}"]
