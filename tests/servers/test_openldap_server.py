"""The OpenLDAP server of scripts/openldap.sh is real: the OpenMPS schema loads, AD-like entries go in,
equality searches find them, and slapo-unique refuses a taken unique value."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from argon2 import PasswordHasher
from ldap3 import BASE, MODIFY_ADD, MODIFY_REPLACE, Connection, Server
from ldap3.core.exceptions import LDAPConstraintViolationResult
from ldap3.utils.conv import escape_bytes

from support import DirectoryServer

SUFFIX = "dc=example,dc=com"
SDDL = "D:(A;;RPWP;;;S-1-5-21-1-2-3-512)"


@contextmanager
def connect(server: DirectoryServer) -> Iterator[Connection]:
    """Bound as the root DN; unbound at the end (ldap3's own ``with`` leaves a bound connection open)."""
    conn = Connection(
        Server(server.url, get_info=None, connect_timeout=5),
        server.bind_dn,
        server.password,
        auto_bind=True,
        raise_exceptions=True,
        receive_timeout=10,
    )
    try:
        yield conn
    finally:
        conn.unbind()


def can_bind(server: DirectoryServer, user: str, password: str) -> bool:
    conn = Connection(
        Server(server.url, get_info=None, connect_timeout=5), user, password, receive_timeout=10
    )
    try:
        return bool(conn.bind())
    finally:
        conn.unbind()


def argon2(password: str) -> str:
    """``password`` hashed as OpenMPS stores it (cheap parameters: a test's)."""
    return "{ARGON2}" + PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash(password)


def sid(rid: int) -> bytes:
    """A binary SID S-1-5-21-1-2-3-<rid>, as AD stores objectSid."""
    subs = (21, 1, 2, 3, rid)
    return bytes([1, len(subs), 0, 0, 0, 0, 0, 5]) + b"".join(s.to_bytes(4, "little") for s in subs)


class Tree:
    """One test's own organization under the suffix: its values carry the test's token, so tests
    sharing the session's server never meet a unique value of another."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.token = secrets.token_hex(3)
        self.org = f"OU=org{self.token},OU=Hosting,{SUFFIX}"
        self.domain = f"org{self.token}.example"

    def user(self, name: str, **extra: object) -> str:
        dn = f"CN={name}@{self.domain},{self.org}"
        attributes: dict[str, object] = {
            "objectClass": ["top", "person", "organizationalPerson", "user"],
            "sn": name,
            "sAMAccountName": f"{name}_{self.token}",
            "userPrincipalName": f"{name}@{self.domain}",
            "mail": f"{name}@{self.domain}",
            "proxyAddresses": [f"SMTP:{name}@{self.domain}", f"smtp:{name}.alias@{self.domain}"],
            "userAccountControl": 512,
            "objectGUID": uuid.uuid4().bytes_le,
            "objectSid": sid(secrets.randbelow(10**6) + 1000),
            "nTSecurityDescriptor": SDDL,
            **extra,
        }
        self.conn.add(dn, attributes=attributes)
        return dn


@pytest.fixture(scope="module")
def suffix(openldap_server: DirectoryServer) -> DirectoryServer:
    """The naming context's root and OU=Hosting, made once."""
    with connect(openldap_server) as conn:
        conn.add(
            SUFFIX,
            attributes={
                "objectClass": ["top", "domain", "domainDNS", "openmpsContainer"],
                "dc": "example",
                "objectGUID": uuid.uuid4().bytes_le,
                "objectSid": sid(0)[:-4],
                "nTSecurityDescriptor": SDDL,
                "uPNSuffixes": "example.com",
            },
        )
        conn.add(
            f"OU=Hosting,{SUFFIX}",
            attributes={
                "objectClass": ["top", "organizationalUnit", "openmpsContainer"],
                "otherWellKnownObjects": f"B:32:324FEC05675D558D895F203AB7DE3D5B:OU=Hosting,{SUFFIX}",
            },
        )
    return openldap_server


@pytest.fixture
def tree(suffix: DirectoryServer) -> Iterator[Tree]:
    with connect(suffix) as conn:
        yield from _tree(conn)


def _tree(conn: Connection) -> Iterator[Tree]:
    made = Tree(conn)
    conn.add(
        made.org,
        attributes={
            "objectClass": ["top", "organizationalUnit", "openmpsContainer"],
            "uPNSuffixes": made.domain,
            "objectGUID": uuid.uuid4().bytes_le,
            "nTSecurityDescriptor": SDDL,
        },
    )
    yield made


def test_the_root_dn_binds_with_the_generated_password(openldap_server: DirectoryServer) -> None:
    assert openldap_server.password_file.stat().st_mode & 0o777 == 0o600
    with connect(openldap_server) as conn:
        assert conn.bound
    assert not can_bind(openldap_server, openldap_server.bind_dn, "wrong")


def test_a_mailbox_user_goes_in_with_the_ad_like_attributes(tree: Tree) -> None:
    store = f"CN=Store1,CN=InformationStore,CN=EXBE01,CN=Servers,{SUFFIX}"
    mailbox_guid = uuid.uuid4()
    ann = tree.user(
        "ann",
        displayName="Ann",
        mailNickname="ann",
        homeMDB=store,
        mDBUseDefaults="TRUE",
        mDBStorageQuota=10000,
        msExchMailboxGuid=mailbox_guid.bytes_le,
        msExchHomeServerName="/o=fabrikam/ou=First Administrative Group/cn=Configuration/cn=Servers/cn=EXBE01",
        showInAddressBook=f"CN=org GAL,CN=All Global Address Lists,{SUFFIX}",
        **{"msRTCSIP-PrimaryUserAddress": f"sip:ann@{tree.domain}", "msRTCSIP-UserEnabled": "TRUE"},
        openmpsImportedFrom="CN=Ann,OU=old,DC=source,DC=example",
    )
    conn = tree.conn
    group = f"CN=Admins@{tree.token},{tree.org}"
    conn.add(
        group,
        attributes={
            "objectClass": ["top", "group"],
            "sAMAccountName": f"Admins_{tree.token}",
            "groupType": -2147483646,
            "member": ann,
            "managedBy": ann,
        },
    )
    # what a mail server asks: the mailbox behind an address, whatever its case
    conn.search(
        SUFFIX,
        f"(&(objectClass=user)(proxyAddresses=smtp:ANN.ALIAS@{tree.domain}))",
        attributes=["homeMDB", "mailNickname", "msExchMailboxGuid", "mDBStorageQuota"],
    )
    [found] = conn.entries
    assert found.entry_dn.lower() == ann.lower()  # slapd writes attribute types as its schema names
    assert found.homeMDB.value.lower() == store.lower()  # and in DN values ("cn=", not "CN=")
    assert found.mDBStorageQuota.value == "10000"  # no schema read by the client: text
    assert uuid.UUID(bytes_le=found.msExchMailboxGuid.value) == mailbox_guid
    for filter in (
        f"(sAMAccountName=ANN_{tree.token})",
        f"(userPrincipalName=ann@{tree.domain.upper()})",
        f"(msRTCSIP-PrimaryUserAddress=sip:ann@{tree.domain})",
        "(openmpsImportedFrom=cn=ann,ou=old,dc=source,dc=example)",
        f"(&(objectClass=person)(mailNickname=ann)(homeMDB={store}))",
    ):
        assert conn.search(tree.org, filter), filter
        assert [e.entry_dn.lower() for e in conn.entries] == [ann.lower()], filter
    assert conn.search(tree.org, f"(member={ann})")
    assert [e.entry_dn.lower() for e in conn.entries] == [group.lower()]
    conn.search(ann, "(objectClass=*)", BASE, attributes=["objectGUID"])
    guid = conn.entries[0].objectGUID.raw_values[0]
    assert conn.search(SUFFIX, f"(objectGUID={escape_bytes(guid)})")
    assert [e.entry_dn.lower() for e in conn.entries] == [ann.lower()]


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("sAMAccountName", "ANN_{token}"),
        ("userPrincipalName", "Ann@{domain}"),
        ("proxyAddresses", "SMTP:ANN.alias@{domain}"),
        ("msRTCSIP-PrimaryUserAddress", "sip:ANN@{domain}"),
    ],
)
def test_slapo_unique_refuses_a_taken_value(tree: Tree, attribute: str, value: str) -> None:
    tree.user("ann", **{"msRTCSIP-PrimaryUserAddress": f"sip:ann@{tree.domain}"})
    taken = value.format(token=tree.token, domain=tree.domain)
    with pytest.raises(LDAPConstraintViolationResult):
        tree.user("bob", **{attribute: [taken]})
    bob = tree.user("bob")
    change = MODIFY_ADD if attribute == "proxyAddresses" else MODIFY_REPLACE
    with pytest.raises(LDAPConstraintViolationResult):
        tree.conn.modify(bob, {attribute: [(change, [taken])]})


def test_a_user_binds_with_its_argon2_password_and_not_with_another(
    openldap_server: DirectoryServer, tree: Tree
) -> None:
    ann = tree.user("ann", userPassword=argon2("Secret-1"))
    assert can_bind(openldap_server, ann, "Secret-1")
    assert not can_bind(openldap_server, ann, "Secret-2")


def test_a_disabled_account_cannot_bind_and_binds_again_once_enabled(
    openldap_server: DirectoryServer, tree: Tree
) -> None:
    """slapd ignores userAccountControl; the script's ACL makes AD's ACCOUNTDISABLE bit (0x2) refuse
    the bind, whatever the other bits, for an account created disabled or disabled later."""
    ann = tree.user("ann", userPassword=argon2("Secret-1"), userAccountControl=512 | 2)
    assert not can_bind(openldap_server, ann, "Secret-1")
    for control, binds in ((512, True), (512 | 0x10000 | 2, False), (512 | 0x10000, True)):
        tree.conn.modify(ann, {"userAccountControl": [(MODIFY_REPLACE, [control])]})
        assert can_bind(openldap_server, ann, "Secret-1") is binds, control
    assert not can_bind(openldap_server, ann, "Secret-2")


def test_password_hashes_are_read_by_their_owner_only(openldap_server: DirectoryServer, tree: Tree) -> None:
    ann = tree.user("ann", userPassword=argon2("Secret-1"))
    bob = tree.user("bob", userPassword=argon2("Secret-1"))
    for who, sees in ((ann, True), (bob, False), ("", False)):
        conn = Connection(
            Server(openldap_server.url, get_info=None, connect_timeout=5),
            who or None,
            "Secret-1" if who else None,
            auto_bind=True,
            receive_timeout=10,
        )
        try:
            conn.search(ann, "(objectClass=*)", BASE, attributes=["userPassword", "mail"])
            [found] = conn.response
            assert found["raw_attributes"]["mail"]  # the rest of the entry stays readable
            assert bool(found["raw_attributes"].get("userPassword")) is sees, who
        finally:
            conn.unbind()
