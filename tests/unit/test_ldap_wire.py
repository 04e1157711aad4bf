"""The LDAP writes' BER written directly (directory/ldap/wire.py) is, byte for byte, what ldap3
sends for the same request: DNs with escapes and non-ASCII names, binary values, lengths in the
short and long forms, several changes of one attribute, a delete of all values, message ids
across the octet boundaries."""

from __future__ import annotations

from typing import Any

import pytest
from ldap3 import MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE
from ldap3.operation.add import add_operation
from ldap3.operation.modify import modify_operation
from ldap3.protocol.rfc4511 import LDAPMessage, MessageID, ProtocolOp
from ldap3.utils.dn import safe_dn
from pyasn1.codec.ber import encoder

from openmps.directory.ldap import wire
from openmps.types import DN

IDS = [1, 2, 127, 128, 255, 256, 32767, 32768, 65535, 2**31 - 1]
USER = DN.parse("CN=Smith\\, Zoë+sn=x,OU=Ünïcode org,OU=Hosting,DC=fabrikam,DC=com")
ATTRIBUTES = {
    "objectClass": [b"top", b"person", b"organizationalPerson", b"user"],
    "cn": ["Smith, Zoë".encode()],
    "objectGUID": [bytes(range(16))],
    "description": [b"x" * 127],
    "info": [b"y" * 300],
    "proxyAddresses": [f"smtp:a{i}@example.com".encode() for i in range(40)],  # a SET past 255 octets
    "msExchMailboxSecurityDescriptor": [bytes(range(256)) * 300],  # a length in three octets
}


def ldap3_sends(kind: str, request: Any, message_id: int) -> bytes:
    message = LDAPMessage()
    message["messageID"] = MessageID(message_id)
    message["protocolOp"] = ProtocolOp().setComponentByName(kind, request)
    return bytes(encoder.encode(message))


@pytest.mark.parametrize("message_id", IDS)
def test_an_add_is_sent_as_ldap3_sends_it(message_id: int) -> None:
    dn = str(USER)
    theirs = ldap3_sends(
        "addRequest", add_operation(safe_dn(dn), ATTRIBUTES, True, check_names=True), message_id
    )
    assert wire.message(message_id, wire.add_request(dn, ATTRIBUTES)) == theirs


@pytest.mark.parametrize("message_id", IDS)
def test_a_modify_is_sent_as_ldap3_sends_it(message_id: int) -> None:
    dn = str(USER)
    changes = {
        "member": [
            (MODIFY_DELETE, [b"CN=a,DC=fabrikam,DC=com"]),
            (MODIFY_ADD, [b"CN=b,DC=fabrikam,DC=com", b"CN=c,DC=fabrikam,DC=com"]),
        ],
        "description": [(MODIFY_DELETE, [])],  # every value
        "info": [(MODIFY_REPLACE, [b"y" * 300])],
        "msExchMailboxSecurityDescriptor": [(MODIFY_REPLACE, ATTRIBUTES["msExchMailboxSecurityDescriptor"])],
    }
    request = modify_operation(safe_dn(dn), changes, True, check_names=True)
    assert wire.message(message_id, wire.modify_request(dn, changes)) == ldap3_sends(
        "modifyRequest", request, message_id
    )


@pytest.mark.parametrize("rdn", ["CN=evil\\,OU=x", "CN=a\\+b\\=c\\;d\\<e\\>", "CN=*)(cn=*"])
def test_a_dn_is_sent_escaped_as_ldap3_sends_it(rdn: str) -> None:
    """ldap3 escapes an ``=`` in a value too (``safe_dn``), which Samba requires of a DN."""
    dn = str(DN.parse(f"{rdn},OU=x,DC=fabrikam,DC=com"))
    added = add_operation(safe_dn(dn), ATTRIBUTES, True, check_names=True)
    assert wire.message(3, wire.add_request(dn, ATTRIBUTES)) == ldap3_sends("addRequest", added, 3)
    changes = {"info": [(MODIFY_REPLACE, [b"y"])]}
    modified = modify_operation(safe_dn(dn), changes, True, check_names=True)
    assert wire.message(4, wire.modify_request(dn, changes)) == ldap3_sends("modifyRequest", modified, 4)
