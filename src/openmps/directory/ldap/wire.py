"""The BER of the LDAP writes OpenMPS sends most (RFC 4511 §4.6 modify, §4.7 add), written directly.

ldap3 builds a pyasn1 object per element of a request, encodes the tree, then decodes it back
into a dict it keeps as ``connection.request``: for an add of a user or a modify of a mailbox's
attributes that was most of the client's cost of the write (about 0.5 ms here, the server's own
work aside).  These bytes are the ones ldap3 sends for the same request (BER, definite lengths,
values in the order given; tests/unit/test_ldap_wire.py compares them with ldap3's encoding), and
the answer is read by ldap3 as for any request (:func:`send`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ldap3.core.exceptions import LDAPSocketOpenError, LDAPSocketSendError
from ldap3.utils.dn import safe_dn

Changes = Mapping[str, Sequence[tuple[str, Sequence[bytes]]]]  # name → (ldap3's MODIFY_*, values)

_SEQUENCE, _SET, _OCTETS, _INTEGER, _ENUMERATED = 0x30, 0x31, 0x04, 0x02, 0x0A
_ADD_REQUEST, _MODIFY_REQUEST = 0x68, 0x66  # [APPLICATION 8], [APPLICATION 6], constructed
_OPERATIONS = {"MODIFY_ADD": 0, "MODIFY_DELETE": 1, "MODIFY_REPLACE": 2}


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(octets),)) + octets


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + _length(len(content)) + content


def _integer(tag: int, n: int) -> bytes:
    """A non-negative INTEGER (or ENUMERATED) in the fewest octets, a leading 0 keeping it positive."""
    return _tlv(tag, n.to_bytes(n.bit_length() // 8 + 1, "big"))


def _attribute(name: str, values: Iterable[bytes]) -> bytes:
    """PartialAttribute: the type and its SET OF values."""
    vals = b"".join(_tlv(_OCTETS, v) for v in values)
    return _tlv(_SEQUENCE, _tlv(_OCTETS, name.encode()) + _tlv(_SET, vals))


def _dn(dn: str) -> bytes:
    """The entry's DN as ldap3 sends it (``safe_dn``): an ``=`` in a value escaped too, which
    Samba requires (``CN=a\\,OU=x`` is an invalid DN to it, ``CN=a\\,OU\\=x`` is not)."""
    return _tlv(_OCTETS, safe_dn(dn).encode())


def add_request(dn: str, attributes: Mapping[str, Sequence[bytes]]) -> bytes:
    body = b"".join(_attribute(name, values) for name, values in attributes.items())
    return _tlv(_ADD_REQUEST, _dn(dn) + _tlv(_SEQUENCE, body))


def modify_request(dn: str, changes: Changes) -> bytes:
    """``changes`` as ldap3 takes them: by attribute, its (operation, values) in order."""
    body = b"".join(
        _tlv(_SEQUENCE, _integer(_ENUMERATED, _OPERATIONS[operation]) + _attribute(name, values))
        for name, each in changes.items()
        for operation, values in each
    )
    return _tlv(_MODIFY_REQUEST, _dn(dn) + _tlv(_SEQUENCE, body))


def message(message_id: int, operation: bytes) -> bytes:
    """LDAPMessage: the id and the request, no controls."""
    return _tlv(_SEQUENCE, _integer(_INTEGER, message_id) + operation)


def send(conn: Any, kind: str, operation: bytes) -> bool:
    """Send ``operation`` (a request of ldap3's ``kind``, e.g. ``modifyRequest``) on the bound
    ldap3 connection ``conn`` and read its answer as ldap3 does (``conn.result``); True on success.
    A socket that fails raises ldap3's communication errors, as its own sends do."""
    with conn.connection_lock:
        if not conn.listening:
            raise LDAPSocketOpenError("unable to send message, socket is not open")
        message_id = conn.server.next_message_id()
        conn.request = {"type": kind}
        conn.strategy._outstanding[message_id] = conn.request
        try:
            conn.socket.sendall(message(message_id, operation))
        except OSError as exc:
            raise LDAPSocketSendError(f"socket sending error {exc}") from None
        conn.post_send_single_response(message_id)
        return bool(conn.result and conn.result.get("result") == 0)
