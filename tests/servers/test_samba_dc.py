"""The Samba AD DC of scripts/samba-dc.sh is real: users get AD's own objectGUID/objectSid, a password
set as unicodePwd over TLS lets an enabled user bind with its UPN and a disabled one not, AD
refuses a taken sAMAccountName or UPN (not a taken proxy or SIP address: AD never did), and
OpenMPS's schema extension can be set and searched."""

from __future__ import annotations

import secrets
import ssl
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from ldap3 import BASE, MODIFY_REPLACE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPConstraintViolationResult, LDAPEntryAlreadyExistsResult

from support import DirectoryServer

BASE_DN = "DC=example,DC=com"
TLS = Tls(validate=ssl.CERT_NONE)  # Samba's self-signed certificate


def server(url: str) -> Server:
    return Server(url, get_info=None, tls=TLS, connect_timeout=5)


@contextmanager
def connect(dc: DirectoryServer) -> Iterator[Connection]:
    conn = Connection(
        server(dc.url), dc.bind_dn, dc.password, auto_bind=True, raise_exceptions=True, receive_timeout=20
    )
    try:
        yield conn
    finally:
        conn.unbind()


def can_bind(url: str, user: str, password: str, *, start_tls: bool = False) -> bool:
    conn = Connection(server(url), user, password, receive_timeout=20)
    try:
        conn.open()
        if start_tls:
            conn.start_tls()
        return bool(conn.bind())
    finally:
        conn.unbind()


def unicode_pwd(password: str) -> bytes:
    return f'"{password}"'.encode("utf-16-le")


class Org:
    """One test's own organizational unit; its names carry the test's token."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.token = secrets.token_hex(3)
        self.dn = f"OU=org{self.token},{BASE_DN}"
        self.domain = f"org{self.token}.example"
        conn.add(self.dn, ["top", "organizationalUnit"])

    def user(self, name: str, **extra: object) -> str:
        dn = f"CN={name}@{self.domain},{self.dn}"
        self.conn.add(
            dn,
            ["top", "person", "organizationalPerson", "user"],
            {
                "sAMAccountName": f"{name}{self.token}",
                "userPrincipalName": f"{name}@{self.domain}",
                "mail": f"{name}@{self.domain}",
                "proxyAddresses": [f"SMTP:{name}@{self.domain}", f"smtp:{name}.alias@{self.domain}"],
                **extra,
            },
        )
        return dn


@pytest.fixture
def org(samba_dc: DirectoryServer) -> Iterator[Org]:
    with connect(samba_dc) as conn:
        yield Org(conn)


def test_the_administrator_binds_over_ldaps_and_starttls(samba_dc: DirectoryServer) -> None:
    assert samba_dc.url.startswith("ldaps://")
    assert samba_dc.password_file.stat().st_mode & 0o777 == 0o600
    plain = f"ldap://{urlsplit(samba_dc.url).hostname}"
    assert can_bind(samba_dc.url, samba_dc.bind_dn, samba_dc.password)
    assert can_bind(plain, samba_dc.bind_dn, samba_dc.password, start_tls=True)
    assert not can_bind(samba_dc.url, samba_dc.bind_dn, "wrong")


def test_a_user_with_a_password_binds_with_its_upn_and_a_disabled_one_cannot(
    samba_dc: DirectoryServer, org: Org
) -> None:
    password = "Aa1!" + secrets.token_urlsafe(12)
    org.user("ann", unicodePwd=unicode_pwd(password), userAccountControl=512)
    org.user("bob", unicodePwd=unicode_pwd(password), userAccountControl=514)
    plain = f"ldap://{urlsplit(samba_dc.url).hostname}"
    assert can_bind(samba_dc.url, f"ann@{org.domain}", password)
    assert can_bind(plain, f"ann@{org.domain}", password, start_tls=True)
    assert not can_bind(samba_dc.url, f"ann@{org.domain}", password + "x")
    assert not can_bind(samba_dc.url, f"bob@{org.domain}", password)


def test_ad_gives_identities_and_finds_users_by_address_and_account_name(org: Org) -> None:
    ann = org.user("ann")
    conn = org.conn
    conn.search(
        BASE_DN,
        f"(&(objectClass=user)(proxyAddresses=smtp:ANN.ALIAS@{org.domain}))",
        attributes=["objectGUID", "objectSid", "userAccountControl"],
    )
    [found] = conn.entries
    assert found.entry_dn.lower() == ann.lower()
    # AD's own identities, binary (no schema read by the client): a 16-byte GUID, a SID S-1-5-21-…
    [guid] = found.objectGUID.raw_values
    assert len(guid) == 16 and uuid.UUID(bytes_le=guid).version == 4
    [sid] = found.objectSid.raw_values
    assert (sid[0], int.from_bytes(sid[2:8], "big"), int.from_bytes(sid[8:12], "little")) == (1, 5, 21)
    assert found.userAccountControl.value == "546"  # made without a password: disabled
    assert conn.search(BASE_DN, f"(sAMAccountName=ANN{org.token})")
    assert [e.entry_dn.lower() for e in conn.entries] == [ann.lower()]


def test_a_taken_account_name_or_upn_is_refused(org: Org) -> None:
    org.user("ann")
    with pytest.raises(LDAPEntryAlreadyExistsResult):
        org.user("bob", sAMAccountName=f"ANN{org.token}")
    with pytest.raises(LDAPConstraintViolationResult, match="userPrincipalName"):
        org.user("bob", userPrincipalName=f"ANN@{org.domain}")


def test_ad_itself_lets_two_entries_share_a_proxy_or_sip_address(org: Org) -> None:
    """As in Windows AD, where Exchange checks them: OpenMPS must keep these two unique itself."""
    org.user("ann", **{"msRTCSIP-PrimaryUserAddress": f"sip:ann@{org.domain}"})
    org.user("bob", proxyAddresses=[f"smtp:ann@{org.domain}"])
    org.user("cy", **{"msRTCSIP-PrimaryUserAddress": f"sip:ann@{org.domain}"})


def test_the_schema_extension_can_be_set_and_searched(org: Org) -> None:
    # AD keeps DN values pointing at real entries (a missing one is a constraint violation)
    store = f"CN=Store1,{org.dn}"
    org.conn.add(store, ["top", "container"])
    mailbox_guid = uuid.uuid4()
    ann = org.user(
        "ann",
        mailNickname="ann",
        homeMDB=store,
        mDBUseDefaults="TRUE",
        mDBStorageQuota=10000,
        msExchMailboxGuid=mailbox_guid.bytes_le,
        **{"msRTCSIP-PrimaryUserAddress": f"sip:ann@{org.domain}", "msRTCSIP-UserEnabled": "TRUE"},
        openmpsImportedFrom="CN=Ann,OU=old,DC=source,DC=example",
    )
    conn = org.conn
    conn.modify(org.dn, {"openmpsImportedFrom": [(MODIFY_REPLACE, ["OU=old,DC=source,DC=example"])]})
    group = f"CN=Admins{org.token},{org.dn}"
    conn.add(
        group,
        ["top", "group"],
        {"sAMAccountName": f"Admins{org.token}", "member": ann, "mailNickname": "admins"},
    )
    for base, filter, wanted in (
        (BASE_DN, f"(msRTCSIP-PrimaryUserAddress=SIP:ann@{org.domain})", ann),
        (org.dn, f"(&(mailNickname=ann)(homeMDB={store})(mDBStorageQuota=10000))", ann),
        (
            org.dn,
            "(&(objectClass=organizationalUnit)(openmpsImportedFrom=ou=old,dc=source,dc=example))",
            org.dn,
        ),
        (org.dn, "(&(objectClass=group)(mailNickname=admins))", group),
    ):
        assert conn.search(base, filter), filter
        assert [e.entry_dn.lower() for e in conn.entries] == [wanted.lower()], filter
    conn.search(ann, "(objectClass=*)", BASE, attributes=["msExchMailboxGuid", "mDBUseDefaults"])
    assert conn.entries[0].msExchMailboxGuid.raw_values == [mailbox_guid.bytes_le]
    assert conn.entries[0].mDBUseDefaults.value == "TRUE"
