"""A directory server's subtree as LDIF and back, for ``openmps backup`` and ``openmps restore``.

The export is the server's own answer to a paged subtree search (RFC 2696) of every user attribute,
values as the server holds them (objectGUID and objectSid binary, base64 in the LDIF), so a load
into another server recreates the same identities.  Operational attributes (entryUUID, entryCSN,
timestamps) are the server's own and are left out: no server takes them in an add.  A paged search
is not one snapshot; the caller makes it consistent by holding off every writer while it runs
(``openmps.backup``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import ldif
from ldap3 import BASE, SUBTREE

from openmps.directory.ldap.connection import LdapConnection, LdapRefused, mapped
from openmps.errors import InvalidOperation
from openmps.types import DN

PAGE = 500  # entries a page: a few hundred KB, far below any server's size limit
_PAGED = "1.2.840.113556.1.4.319"  # the paged results control


def _pages(connection: LdapConnection, base: DN, attributes: list[str]) -> Iterator[dict[str, Any]]:
    """Every entry of the subtree at ``base``, page by page, as ldap3 answers it."""
    cookie: bytes | None = None
    while True:

        def page(c: Any, cookie: bytes | None = cookie) -> bool:
            return bool(
                c.search(
                    str(base),
                    "(objectClass=*)",
                    SUBTREE,
                    attributes=attributes,
                    paged_size=PAGE,
                    paged_cookie=cookie,
                )
            )

        try:
            conn = connection.run(base.ldap_path, page)
        except LdapRefused as refused:
            raise mapped(refused, dn=str(base)) from None
        yield from (item for item in conn.response or () if item.get("type") == "searchResEntry")
        controls = (conn.result or {}).get("controls") or {}
        cookie = controls.get(_PAGED, {}).get("value", {}).get("cookie")
        if not cookie:
            return


def export_subtree(connection: LdapConnection, base: DN, out: BinaryIO) -> int:
    """Write the subtree at ``base`` to ``out`` as LDIF content records; how many entries."""
    writer = ldif.LDIFWriter(out)
    count = 0
    for item in _pages(connection, base, ["*"]):
        record = {
            name: [_text_or_bytes(v) for v in values] for name, values in item["raw_attributes"].items()
        }
        writer.unparse(item["dn"], record)
        count += 1
    return count


def _text_or_bytes(value: bytes) -> str | bytes:
    """Text stays readable in the LDIF (the writer base64-encodes what is not safe); binary values
    (a GUID, a SID) are base64 as they are."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value


def count_subtree(connection: LdapConnection, base: DN) -> int:
    """How many entries the subtree at ``base`` holds (0 when ``base`` is not there)."""
    try:
        connection.run(
            base.ldap_path, lambda c: c.search(str(base), "(objectClass=*)", BASE, attributes=["1.1"])
        )
    except LdapRefused as refused:
        if refused.code == 32:  # noSuchObject
            return 0
        raise mapped(refused, dn=str(base)) from None
    return sum(1 for _ in _pages(connection, base, ["1.1"]))


def load_subtree(connection: LdapConnection, base: DN, source: BinaryIO) -> list[str]:
    """Add every record of the LDIF ``source`` (an export of the subtree at ``base``) to a server
    where ``base`` is not there yet, parents before children; the DNs added, in order.  When one
    is refused, those added before it are deleted again: the server is left as it was."""
    if count_subtree(connection, base):
        raise InvalidOperation(f"{base} is already on the target directory server: restore into an empty one")
    records = []
    for dn, attrs in ldif.LDIFParser(source, encoding=None).parse():
        if dn is None or not DN.parse(dn).is_within(base):
            raise InvalidOperation(f"the directory export holds '{dn}', which is not below {base}")
        records.append((DN.parse(dn), dn, attrs))
    records.sort(key=lambda r: len(r[0].rdns))  # an entry moved below a later one comes after it
    added: list[str] = []
    try:
        for parsed, dn, attrs in records:

            def add(c: Any, dn: str = dn, attrs: dict[str, list[bytes]] = attrs) -> bool:
                return bool(c.add(dn, attributes=attrs))

            try:
                connection.run(parsed.ldap_path, add)
            except LdapRefused as refused:
                raise mapped(refused, dn=dn) from None
            added.append(dn)
    except BaseException:
        remove_entries(connection, added)
        raise
    return added


def remove_entries(connection: LdapConnection, dns: list[str]) -> None:
    """Delete ``dns`` (as :func:`load_subtree` added them), children first."""
    for dn in reversed(dns):

        def delete(c: Any, dn: str = dn) -> bool:
            return bool(c.delete(dn))

        connection.run(dn, delete)
