"""A customer's Active Directory (or Samba AD) forest read over LDAP with DirSync.

DirSync (control 1.2.840.113556.1.4.841) rather than polling ``uSNChanged``: the server keeps the
watermark in an opaque cookie, valid on any DC of the domain (a USN is one DC's), and it answers
deletions itself as tombstones (``isDeleted``), where USN polling needs a second search of the
Deleted Objects container; a read with nothing changed is one search answering no entry.  The
cookie travels in :attr:`Snapshot.cookie` and the runner keeps it per organization.

DirSync searches a whole partition, so the scope (include/exclude OUs) is applied here: an object
outside it is not listed, and one changed or moved out of it is listed as deleted.  Samba answers a
moved object only when ``name`` is asked for, and a delta carries only what changed, so every
object a delta lists is read again whole by ``<GUID=…>``; where an object is (``name``,
``parentGUID``) is never one of its attributes, so a move is no change of them.

Every failure of the server or of the connection is mapped here, once, to :mod:`openmps.errors`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import ssl
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import ldap3
from ldap3.core.exceptions import LDAPException, LDAPStartTLSError
from ldap3.protocol.microsoft import dir_sync_control, extended_dn_control, show_deleted_control
from ldap3.utils.conv import escape_filter_chars

from openmps.directory.ldap.connection import read_password_file
from openmps.errors import InvalidArgument, MpsError, NotFound, ServiceBusy
from openmps.sync.ldif_source import kind_of
from openmps.sync.rules import DN_VALUED, source_attributes
from openmps.sync.source import Snapshot, SourceConnection, SourceObject
from openmps.syncconfig.interface import SyncRules
from openmps.types import DN

__all__ = ["LdapSource", "read_password_file"]

FILTER = "(|(objectClass=user)(objectClass=contact)(objectClass=group))"
# what reading needs besides what the rules read (``rules.source_attributes``): ``name`` for Samba
# to answer moves, ``isDeleted`` for tombstones
MECHANICS = ("name", "isDeleted", "objectClass", "objectGUID")
_LEFT_OUT = {"name", "isdeleted", "parentguid", "instancetype"}  # where it is, not what it is
CONNECT_TIMEOUT = 10  # seconds
RECEIVE_TIMEOUT = 120  # a full read of a large forest answers in pages of this server's size
_INVALID_CREDENTIALS = 49
_INSUFFICIENT_ACCESS = 50
_NO_SUCH_OBJECT = 32
_CHUNK = 200  # objectGUIDs per search when a delta's objects are read again whole


class LdapSource:
    """One organization's forest as ``connection`` reaches it."""

    def __init__(self, connection: SourceConnection) -> None:
        self.connection = connection

    def read(self, cookie: str | None = None, *, attributes: Sequence[str] = ()) -> Snapshot:
        """``attributes`` (none: the default rules') are read; a cookie read for another set of
        them, as for another scope, reads everything again (a rule naming a new attribute sees its
        values at once)."""
        wanted = _wanted(attributes)
        with self._bound() as conn:
            domain = self._domain(conn)
            includes, excludes = self._scope(conn, domain)
            fingerprint = _fingerprint(self.connection.url, domain, includes, excludes, wanted)
            watermark = _watermark(cookie, fingerprint)
            try:
                changed, deleted, next_watermark = _dir_sync(conn, domain, watermark, wanted)
            except _Refused:
                if watermark is None:
                    raise
                # a cookie the server does not take (another domain, restored DC): read it all
                watermark = None
                changed, deleted, next_watermark = _dir_sync(conn, domain, None, wanted)
            full = watermark is None
            in_scope = {g: dn for g, (dn, _) in changed.items() if _within(dn, includes, excludes)}
            if not full:  # changed out of scope (moved), or outside it: gone for this organization
                deleted |= changed.keys() - in_scope.keys()
            # a full read has them whole; a delta only what changed of them
            raws = (
                {g: changed[g][1] for g in in_scope}
                if full
                else {g: raw for g, (_, raw) in _whole(conn, domain, list(in_scope), wanted).items()}
            )
            if not full:  # a changed group's nested groups too: a loop through them is seen whole
                _nested(conn, domain, raws, in_scope, includes, excludes, wanted)
            objects = [
                obj
                for g, dn in in_scope.items()
                if g in raws and (obj := _object(g, dn, raws[g])) is not None
            ]
            deleted |= in_scope.keys() - raws.keys()  # gone between the two reads
            text = base64.b64encode(next_watermark).decode() if next_watermark else None
            return Snapshot(
                objects,
                deleted=sorted(deleted),
                full=full,
                cookie=json.dumps({"scope": fingerprint, "dirsync": text}) if text else None,
            )

    def reread(self, guids: Sequence[str], *, attributes: Sequence[str] = ()) -> Snapshot:
        """The objects ``guids`` searched by objectGUID in the domain (a chunk of them per search,
        no DirSync): those in scope whole, with the groups in scope nested in theirs (a loop
        through them is seen whole); the rest — tombstones are not answered without the Show
        Deleted control, or out of scope — deleted."""
        wanted = _wanted(attributes)
        with self._bound() as conn:
            domain = self._domain(conn)
            includes, excludes = self._scope(conn, domain)
            found = _whole(conn, domain, list(guids), wanted)
            in_scope = {g: dn for g, (dn, _) in found.items() if _within(dn, includes, excludes)}
            raws = {g: found[g][1] for g in in_scope}
            _nested(conn, domain, raws, in_scope, includes, excludes, wanted)
            objects = [obj for g, dn in in_scope.items() if (obj := _object(g, dn, raws[g])) is not None]
            return Snapshot(objects, deleted=sorted(set(guids) - in_scope.keys()), full=False)

    @contextmanager
    def _bound(self) -> Iterator[Any]:
        c = self.connection
        if not c.url.lower().startswith(("ldap://", "ldaps://")):
            raise InvalidArgument(f"the source URL '{c.url}' is not ldap:// or ldaps://", argument="url")
        try:
            tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=c.ca_file, ca_certs_data=c.ca_data)
        except LDAPException as exc:
            raise InvalidArgument(
                f"the CA file '{c.ca_file}' of the source {c.url} cannot be used: {exc}", argument="ca_file"
            ) from None
        try:
            server = ldap3.Server(
                c.url,
                get_info=ldap3.NONE,
                tls=tls,
                connect_timeout=CONNECT_TIMEOUT,
                use_ssl=c.url.lower().startswith("ldaps:"),
            )
        except LDAPException as exc:
            raise InvalidArgument(f"the source URL '{c.url}' is not usable: {exc}", argument="url") from None
        conn = ldap3.Connection(
            server, c.bind_dn, c.password.reveal(), receive_timeout=RECEIVE_TIMEOUT, raise_exceptions=False
        )
        try:
            try:
                conn.open()
                if c.start_tls:
                    conn.start_tls()
            except (LDAPStartTLSError, LDAPException) as exc:
                raise self._failed(exc) from None
            if not conn.bind():
                if conn.result.get("result") == _INVALID_CREDENTIALS:
                    raise InvalidArgument(
                        f"the source {c.url} refused the bind of '{c.bind_dn}': wrong password "
                        "or no such account",
                        argument="password",
                    )
                raise InvalidArgument(
                    f"the source {c.url} refused the bind of '{c.bind_dn}': "
                    f"{conn.result.get('message') or conn.result.get('description')}",
                    argument="bind_dn",
                )
            try:
                yield conn
            except _Refused as refused:
                raise self._refusal(refused) from None
            except LDAPException as exc:
                raise self._failed(exc) from None
        finally:
            with suppress(LDAPException):
                conn.unbind()
            if getattr(conn, "socket", None) is not None:  # a TLS handshake that failed leaves it
                conn.socket.close()

    def _failed(self, exc: LDAPException) -> MpsError:
        """The connection itself failed: TLS (a configuration to fix) or the network (to retry)."""
        url = self.connection.url
        text = str(exc)
        if isinstance(exc, LDAPStartTLSError) or "ssl" in text.lower() or "certificate" in text.lower():
            return InvalidArgument(
                f"TLS with the source {url} failed (is ca_file the certificate authority of its "
                f"certificate?): {text}",
                argument="ca_file",
            )
        return ServiceBusy(f"the source {url} cannot be reached: {text}", retry_after=60)

    def _refusal(self, refused: _Refused) -> MpsError:
        c = self.connection
        if refused.code == _INSUFFICIENT_ACCESS:
            return InvalidArgument(
                f"'{c.bind_dn}' may not read the changes of {c.url}: it needs the right to "
                f"replicate directory changes ({refused.message})",
                argument="bind_dn",
            )
        return MpsError(f"the source {c.url} refused {refused.what}: {refused.code} {refused.message}")

    def _domain(self, conn: Any) -> DN:
        """The partition root DirSync searches from: the rootDSE's default naming context."""
        _search(conn, "the rootDSE", "", "(objectClass=*)", ldap3.BASE, ["defaultNamingContext"])
        for entry in conn.response or []:
            values = entry.get("raw_attributes", {}).get("defaultNamingContext")
            if values:
                return DN.parse(values[0].decode())
        raise MpsError(f"the source {self.connection.url} names no default naming context")

    def _scope(self, conn: Any, domain: DN) -> tuple[list[DN], list[DN]]:
        """The include and exclude OUs, each checked to exist in the domain; nothing included: all."""
        c = self.connection
        found = []
        for argument, ous in (("include_ous", c.include_ous), ("exclude_ous", c.exclude_ous)):
            dns = []
            for text in ous:
                try:
                    dn = DN.parse(text)
                except (ValueError, MpsError):
                    raise InvalidArgument(f"{argument}: '{text}' is not a DN", argument=argument) from None
                if not dn.is_within(domain) or not _exists(conn, dn):
                    raise NotFound(
                        f"{argument}: the source OU '{text}' does not exist in {domain} at {c.url}",
                        argument=argument,
                        dn=text,
                    )
                dns.append(dn)
            found.append(dns)
        return found[0] or [domain], found[1]


class _Refused(Exception):
    """A result code other than success (mapped at the source's edge, :meth:`LdapSource._refusal`)."""

    def __init__(self, code: int, message: str, what: str) -> None:
        super().__init__(f"{what}: {code} {message}")
        self.code, self.message, self.what = code, message, what


def _search(
    conn: Any, what: str, base: str, filter: str, scope: Any, attributes: list[str], **kw: Any
) -> None:
    conn.search(base, filter, scope, attributes=attributes, **kw)
    code = conn.result.get("result", 0)
    if code != 0:
        raise _Refused(code, conn.result.get("message") or conn.result.get("description", ""), what)


def _exists(conn: Any, dn: DN) -> bool:
    try:
        _search(conn, f"the search of {dn}", str(dn), "(objectClass=*)", ldap3.BASE, ["objectClass"])
    except _Refused as refused:
        if refused.code == _NO_SUCH_OBJECT:
            return False
        raise
    return bool(conn.response)


def _dir_sync(
    conn: Any, domain: DN, watermark: bytes | None, attributes: list[str]
) -> tuple[dict[str, tuple[DN, dict[str, list[bytes]]]], set[str], bytes | None]:
    """Every object changed since ``watermark`` (all: None), by objectGUID, with its DN and what
    changed of it; the deleted objectGUIDs; the next watermark."""
    changed: dict[str, tuple[DN, dict[str, list[bytes]]]] = {}
    deleted: set[str] = set()
    cookie = watermark
    more = True
    while more:
        controls = [
            dir_sync_control(
                criticality=True,
                object_security=False,
                ancestors_first=True,
                public_data_only=False,
                incremental_values=False,
                max_length=2147483647,
                cookie=cookie,
            ),
            extended_dn_control(criticality=False, hex_format=False),
            show_deleted_control(criticality=False),
        ]
        _search(
            conn,
            "the DirSync search",
            str(domain),
            FILTER,
            ldap3.SUBTREE,
            attributes,
            controls=controls,
        )
        control = (conn.result.get("controls") or {}).get("1.2.840.113556.1.4.841")
        if control is None:
            raise _Refused(
                0, "no DirSync control in the answer (is it an Active Directory?)", "the DirSync search"
            )
        more = bool(control["value"]["more_results"])
        cookie = control["value"]["cookie"] or cookie
        for entry in conn.response or []:
            if entry.get("type") != "searchResEntry":
                continue
            guid, rest = _extended_dn(entry["dn"])
            raw = entry["raw_attributes"]
            if _true(raw.get("isDeleted")):  # a tombstone: its DN is mangled (\\0ADEL:…)
                deleted.add(guid)
                changed.pop(guid, None)
            else:
                changed[guid] = (DN.parse(rest), raw)
                deleted.discard(guid)
    return changed, deleted, cookie


def _wanted(attributes: Sequence[str]) -> list[str]:
    return list(dict.fromkeys((*MECHANICS, *(attributes or source_attributes(SyncRules())))))


def _whole(
    conn: Any, domain: DN, guids: list[str], attributes: list[str]
) -> dict[str, tuple[DN, dict[str, list[bytes]]]]:
    """The objects (by objectGUID) read whole, with their DNs, a chunk of them per search."""
    found: dict[str, tuple[DN, dict[str, list[bytes]]]] = {}
    for start in range(0, len(guids), _CHUNK):
        chunk = guids[start : start + _CHUNK]
        filter = "(|" + "".join(f"(objectGUID={_escaped(g)})" for g in chunk) + ")"
        _search(conn, "the read of changed objects", str(domain), filter, ldap3.SUBTREE, attributes)
        for entry in conn.response or []:
            if entry.get("type") == "searchResEntry":
                raw = entry["raw_attributes"]
                found[str(uuid.UUID(bytes_le=raw["objectGUID"][0]))] = (DN.parse(entry["dn"]), raw)
    return found


def _nested(
    conn: Any,
    domain: DN,
    raws: dict[str, dict[str, list[bytes]]],
    in_scope: dict[str, DN],
    includes: list[DN],
    excludes: list[DN],
    attributes: list[str],
) -> None:
    """Add to ``raws`` and ``in_scope`` the groups in scope nested in theirs, at any depth (by
    their ``memberOf``, one search per group)."""
    queue = [in_scope[g] for g, raw in raws.items() if _is_group(raw)]
    while queue:
        group = queue.pop()
        filter = f"(&(objectClass=group)(memberOf={escape_filter_chars(str(group))}))"
        _search(conn, "the read of nested groups", str(domain), filter, ldap3.SUBTREE, attributes)
        for entry in conn.response or []:
            if entry.get("type") != "searchResEntry":
                continue
            raw = entry["raw_attributes"]
            guid, dn = str(uuid.UUID(bytes_le=raw["objectGUID"][0])), DN.parse(entry["dn"])
            if guid not in raws and _within(dn, includes, excludes):
                raws[guid], in_scope[guid] = raw, dn
                queue.append(dn)


def _is_group(raw: dict[str, list[bytes]]) -> bool:
    return any(c.lower() == b"group" for k, v in raw.items() if k.lower() == "objectclass" for c in v)


def _escaped(guid: str) -> str:
    return "".join(f"\\{b:02x}" for b in uuid.UUID(guid).bytes_le)


def _within(dn: DN, includes: list[DN], excludes: list[DN]) -> bool:
    return any(dn.is_within(i) for i in includes) and not any(dn.is_within(x) for x in excludes)


def _fingerprint(url: str, domain: DN, includes: list[DN], excludes: list[DN], attributes: list[str]) -> str:
    """The scope and attributes a cookie was read for: other ones (or another server) read
    everything again."""
    text = json.dumps(
        [
            url.lower(),
            str(domain).lower(),
            sorted(str(d).lower() for d in includes),
            sorted(str(d).lower() for d in excludes),
            sorted(a.lower() for a in attributes),
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _watermark(cookie: str | None, fingerprint: str) -> bytes | None:
    if not cookie:
        return None
    try:
        kept = json.loads(cookie)
        if kept.get("scope") != fingerprint:
            return None
        return base64.b64decode(kept["dirsync"], validate=True)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None  # not one of ours: read everything


def _true(values: list[bytes] | None) -> bool:
    return bool(values) and values[0].upper() == b"TRUE"  # type: ignore[index]


def _extended_dn(text: str) -> tuple[str, str]:
    """``<GUID=…>;<SID=…>;CN=…`` (Extended DN control): the objectGUID and the plain DN."""
    guid = ""
    rest = text
    while rest.startswith("<"):
        part, _, rest = rest.partition(">")
        rest = rest.removeprefix(";")
        if part[1:].upper().startswith("GUID="):
            guid = str(uuid.UUID(part[6:]))
    return guid, rest


def _plain(value: str) -> str:
    """A DN value without the Extended DN control's ``<GUID=…>;`` prefixes."""
    while value.startswith("<"):
        value = value.partition(">")[2].removeprefix(";")
    return value


_NAMING = frozenset({"member", *(a.lower() for a in DN_VALUED)})


def _object(guid: str, dn: DN, raw: dict[str, list[bytes]]) -> SourceObject | None:
    attributes: dict[str, list[str]] = {}
    for name, values in raw.items():
        key = name.split(";", 1)[0]
        if key.lower() in _LEFT_OUT or not values:
            continue
        if key.lower() == "objectguid":
            attributes[key] = [str(uuid.UUID(bytes_le=v)) for v in values]
        elif key.lower() in _NAMING:  # DN-valued: the Extended DN control prefixed them
            attributes[key] = [_plain(v.decode("utf-8", "replace")) for v in values]
        else:
            attributes[key] = [v.decode("utf-8", "replace") for v in values]
    classes = {c.lower() for c in attributes.get("objectClass", [])}
    kind = kind_of(classes)
    if kind == "other":
        return None
    return SourceObject(guid, str(dn), kind, attributes)
