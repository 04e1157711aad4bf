"""LDIF export/import of the raw directory (openmps.directory.ldif)."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import ldif
import pytest
from argon2 import PasswordHasher
from sqlalchemy import insert

from openmps.app import FIRST_RID, Deployment, init_deployment, open_deployment
from openmps.db.schema import settings
from openmps.db.store import make_engine, migrate, sqlite_url
from openmps.delegation.passwords import Passwords
from openmps.directory.ldif import ImportResult
from openmps.directory.service import DirectoryService
from openmps.errors import AlreadyExists, ConstraintViolation, InvalidArgument, NotEmpty, NotFound
from openmps.types import DN, Secret

T = TypeVar("T")
DOMAIN = DN.parse("DC=fabrikam,DC=com")
HOSTING = DN.parse("OU=Hosting,DC=fabrikam,DC=com")


def fast_passwords() -> Passwords:
    return Passwords(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Deployment]:
    d = init_deployment(
        tmp_path / "a",
        domain="fabrikam.com",
        admin_password=Secret("Adm1nPassw0rd!"),
        passwords=fast_passwords(),
    )
    yield d
    d.sql.dispose()


def empty_store(home: Path, like: Deployment) -> Deployment:
    """A migrated store with the settings of ``like`` but no entries (init without the directory)."""
    home.mkdir()
    sql = make_engine(sqlite_url(home / "openmps.db"))
    migrate(sql)
    with sql.begin() as conn:
        conn.execute(
            insert(settings),
            [
                {"name": "domain", "value": like.layout.dns_name},
                {"name": "domain_sid", "value": like.domain_sid},
                {"name": "next_rid", "value": str(FIRST_RID)},
            ],
        )
    sql.dispose()
    return open_deployment(home, passwords=fast_passwords())


def write(d: Deployment, work: Callable[[DirectoryService], T]) -> T:
    with d.transaction() as providers:
        return work(providers.directory)


def dump(d: Deployment, base: DN = DOMAIN) -> bytes:
    buffer = io.BytesIO()
    d.read(lambda directory: directory.export_ldif(base, buffer))
    return buffer.getvalue()


def load(d: Deployment, text: str | bytes) -> ImportResult:
    data = text.encode() if isinstance(text, str) else text
    return write(d, lambda directory: directory.import_ldif(io.BytesIO(data)))


def entry(d: Deployment, dn: str) -> dict[str, tuple[str, ...]]:
    found = d.read(lambda directory: directory.find(DN.parse(dn)))
    assert found is not None, dn
    return dict(found.attributes)


def exists(d: Deployment, dn: str) -> bool:
    return d.read(lambda directory: directory.exists(DN.parse(dn)))


def add_tricky_entries(d: Deployment) -> None:
    def work(directory: DirectoryService) -> None:
        ou = HOSTING.child("OU", 'Zoë, "Ltd" + co')
        directory.add(ou, {"objectClass": ["top", "organizationalUnit"], "ou": ['Zoë, "Ltd" + co']})
        directory.add(
            ou.child("CN", "Group"),
            {
                "objectClass": ["top", "group"],
                "cn": ["Group"],
                "sAMAccountName": ["grp"],
                "member": [str(d.layout.administrator)],
                "description": [
                    "line one\nline two",
                    " leading space",
                    "trailing space ",
                    ":colon first",
                    "<angle first",
                    "x" * 300,
                    "",
                ],
                "zzzLast": ["z"],
                "aaaFirst": ["a"],
            },
        )

    write(d, work)


# --- export ---------------------------------------------------------------------------------------


def test_export_writes_parents_first_with_stable_attribute_order(store: Deployment) -> None:
    data = dump(store)
    records = list(ldif.LDIFParser(io.BytesIO(data)).parse())
    dns = [DN.parse(dn) for dn, _ in records[1:]]  # the first block is "version: 1"
    assert dns[0] == DOMAIN
    for index, dn in enumerate(dns):
        assert dn == DOMAIN or dn.parent in dns[:index], dn
    assert data.startswith(b"version: 1\n\ndn: DC=fabrikam,DC=com\nobjectClass: top\n")
    for _, attrs in records[1:]:
        names = list(attrs)
        assert names[0] == "objectClass"
        assert names[1:] == sorted(names[1:], key=str.lower)
        assert "memberOf" not in attrs
        assert "objectGUID" in attrs and "objectSid" in attrs
    admin = dict(records[1:])[str(store.layout.administrator)]
    assert admin["userPassword"][0].startswith("{ARGON2")
    assert dict(records[1:])["DC=fabrikam,DC=com"]["nTSecurityDescriptor"][0].startswith(("D:", "O:"))


def test_export_returns_the_count_and_is_repeatable(store: Deployment) -> None:
    buffer = io.BytesIO()
    count = store.read(lambda directory: directory.export_ldif(HOSTING, buffer))
    assert count == buffer.getvalue().count(b"\ndn: ") + buffer.getvalue().count(b"\ndn:: ")
    assert count >= 1
    assert dump(store, HOSTING) == buffer.getvalue()
    assert b"OU=Hosting,DC=fabrikam,DC=com\n" in buffer.getvalue()
    assert b"CN=Users" not in buffer.getvalue()


def test_export_of_a_missing_base_is_not_found(store: Deployment) -> None:
    with pytest.raises(NotFound):
        dump(store, DN.parse("OU=Nowhere,DC=fabrikam,DC=com"))


def test_export_encodes_unsafe_values_and_folds_long_lines(store: Deployment) -> None:
    add_tricky_entries(store)
    data = dump(store)
    assert all(len(line) <= 76 for line in data.split(b"\n"))
    assert b"description:: " in data  # newline, leading space, trailing space, ':' and '<' need base64
    assert b"dn:: " in data  # a non-ASCII DN
    text = data.decode("ascii")  # everything non-ASCII went base64
    assert "trailing space " not in text


# --- round trip -----------------------------------------------------------------------------------


def test_round_trip_into_an_empty_store_is_byte_identical(store: Deployment, tmp_path: Path) -> None:
    add_tricky_entries(store)
    exported = dump(store)
    other = empty_store(tmp_path / "b", store)
    try:
        result = load(other, exported)
        assert result == ImportResult(added=exported.count(b"\ndn"), modified=0, deleted=0)
        assert dump(other) == exported
        group = 'CN=Group,OU=Zoë\\, \\"Ltd\\" \\+ co,OU=Hosting,DC=fabrikam,DC=com'
        assert entry(other, group)["description"] == entry(store, group)["description"]
        assert (
            entry(other, str(store.layout.administrator))["memberof"]
            == entry(store, str(store.layout.administrator))["memberof"]
        )
    finally:
        other.sql.dispose()


def test_reimporting_into_the_same_store_says_already_exists(store: Deployment) -> None:
    with pytest.raises(AlreadyExists, match="DC=fabrikam,DC=com"):
        load(store, dump(store))


# --- change records -------------------------------------------------------------------------------

ADD_OU = """version: 1

# a comment
#  folded
dn: OU=Tenants,OU=Hosting,DC=fabrikam,DC=com
objectClass: top
objectClass: organizationalUnit
ou: Tenants
description: first
  folded

dn: CN=Alice,OU=Tenants,OU=Hosting,DC=fabrikam,DC=com
changetype: add
objectClass: top
objectClass: user
cn: Alice
sAMAccountName: alice
mail: alice@example.com
mail: a@example.com
memberOf: CN=Domain Admins,CN=Users,DC=fabrikam,DC=com
"""


def test_content_and_add_records(store: Deployment) -> None:
    assert load(store, ADD_OU) == ImportResult(2, 0, 0)
    ou = entry(store, "OU=Tenants,OU=Hosting,DC=fabrikam,DC=com")
    assert ou["description"] == ("first folded",)
    alice = entry(store, "CN=Alice,OU=Tenants,OU=Hosting,DC=fabrikam,DC=com")
    assert alice["mail"] == ("alice@example.com", "a@example.com")
    assert "memberof" not in alice  # memberOf in the input is skipped: it is computed


def test_modify_add_delete_replace_and_delete(store: Deployment) -> None:
    load(store, ADD_OU)
    result = load(
        store,
        """dn: CN=Alice,OU=Tenants,OU=Hosting,DC=fabrikam,DC=com
changetype: modify
add: telephoneNumber
telephoneNumber: 1
telephoneNumber: 2
-
delete: mail
mail: a@example.com
-
replace: cn
cn: Alice A.
-
delete: sAMAccountName
-
replace: title
-

dn: CN=Domain Admins,CN=Users,DC=fabrikam,DC=com
changetype: modify
add: member
member: CN=Alice,OU=Tenants,OU=Hosting,DC=fabrikam,DC=com
-
add: memberOf
memberOf: CN=Whatever,DC=fabrikam,DC=com
-

dn: OU=Tenants,OU=Hosting,DC=fabrikam,DC=com
changetype: modify
delete: description

dn: CN=Users,DC=fabrikam,DC=com
changetype: modify
""",
    )
    assert result == ImportResult(0, 4, 0)
    alice = entry(store, "CN=Alice,OU=Tenants,OU=Hosting,DC=fabrikam,DC=com")
    assert alice["telephonenumber"] == ("1", "2")
    assert alice["mail"] == ("alice@example.com",)
    assert alice["cn"] == ("Alice A.",)
    assert "samaccountname" not in alice
    assert alice["memberof"] == ("CN=Domain Admins,CN=Users,DC=fabrikam,DC=com",)
    assert "description" not in entry(store, "OU=Tenants,OU=Hosting,DC=fabrikam,DC=com")

    assert load(
        store,
        "dn: CN=Alice,OU=Tenants,OU=Hosting,DC=fabrikam,DC=com\nchangetype: delete\n",
    ) == ImportResult(0, 0, 1)
    assert not exists(store, "CN=Alice,OU=Tenants,OU=Hosting,DC=fabrikam,DC=com")
    assert "member" not in entry(store, "CN=Domain Admins,CN=Users,DC=fabrikam,DC=com") or all(
        "Alice" not in m for m in entry(store, "CN=Domain Admins,CN=Users,DC=fabrikam,DC=com")["member"]
    )


def test_modrdn_and_moddn(store: Deployment) -> None:
    load(store, ADD_OU)
    load(
        store,
        """dn: CN=Domain Admins,CN=Users,DC=fabrikam,DC=com
changetype: modify
add: member
member: CN=Alice,OU=Tenants,OU=Hosting,DC=fabrikam,DC=com
-

dn: CN=Alice,OU=Tenants,OU=Hosting,DC=fabrikam,DC=com
changetype: modrdn
newrdn: CN=Alicia
deleteoldrdn: 1

dn: OU=Tenants,OU=Hosting,DC=fabrikam,DC=com
changetype: moddn
newrdn: OU=Customers
deleteoldrdn: 0
newsuperior: CN=Users,DC=fabrikam,DC=com
""",
    )
    moved = "CN=Alicia,OU=Customers,CN=Users,DC=fabrikam,DC=com"
    assert entry(store, moved)["cn"] == ("Alicia",)
    assert entry(store, "OU=Customers,CN=Users,DC=fabrikam,DC=com")["ou"] == ("Tenants", "Customers")
    assert not exists(store, "OU=Tenants,OU=Hosting,DC=fabrikam,DC=com")
    assert DN.parse(moved) in [
        DN.parse(m) for m in entry(store, "CN=Domain Admins,CN=Users,DC=fabrikam,DC=com")["member"]
    ]


def test_a_failing_record_in_one_unit_of_work_applies_nothing(store: Deployment) -> None:
    before = dump(store)
    with pytest.raises(NotFound, match="CN=Ghost"):
        load(
            store,
            ADD_OU
            + "\ndn: CN=Ghost,OU=Tenants,OU=Hosting,DC=fabrikam,DC=com\nchangetype: delete\n\n"
            + "dn: CN=Late,OU=Hosting,DC=fabrikam,DC=com\ncn: Late\n",
        )
    assert dump(store) == before


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("cn: x\n", r"line 1: a record must start with 'dn:'"),
        ("dn: CN=x,OU=Hosting,DC=fabrikam,DC=com\nno colon here\n", r"line 2: expected 'attribute: value'"),
        ("dn: CN=x,OU=Hosting,DC=fabrikam,DC=com\ncn:: ***\n", r"line 2: bad base64 value of 'cn'"),
        ("dn: CN=x,OU=Hosting,DC=fabrikam,DC=com\ncn:< file:///etc/passwd\n", r"line 2: values by URL"),
        (" continued\n", r"line 1: a continuation line"),
        ("dn: CN=x,,DC=com\ncn: x\n", r"line 1: .*not a valid distinguished name"),
        ("dn: CN=x,OU=Hosting,DC=fabrikam,DC=com\n", r"'CN=x,OU=Hosting,DC=fabrikam,DC=com', line 1: .*no a"),
        ("dn: CN=x,OU=Hosting,DC=fabrikam,DC=com\ncn;lang-en: x\n", r"line 2: .*options are not supported"),
        ("dn: CN=x,OU=Hosting,DC=fabrikam,DC=com\nchangetype: frob\n", r"line 2: unknown changetype 'frob'"),
        ("dn: CN=x,OU=Hosting,DC=fabrikam,DC=com\ncontrol: 1.2.3 true\nchangetype: delete\n", r"controls"),
        ("dn: CN=x,OU=Hosting,DC=fabrikam,DC=com\nchangetype: delete\ncn: x\n", r"line 3: a delete record"),
        ("dn: CN=x,OU=Hosting,DC=fabrikam,DC=com\ncn: x\nchangetype: add\n", r"line 3: unexpected 'change"),
        (
            "dn: CN=x,OU=Hosting,DC=fabrikam,DC=com\nchangetype: modify\nadd: mail\ncn: x\n-\n",
            r"line 4: expected a value of 'mail'",
        ),
        (
            "dn: CN=x,OU=Hosting,DC=fabrikam,DC=com\nchangetype: modify\nfrob: mail\n-\n",
            r"line 3: expected 'add:', 'delete:' or 'replace:'",
        ),
        ("dn: CN=x,OU=Hosting,DC=fabrikam,DC=com\nchangetype: modify\nadd: mail\n-\n", r"at least one value"),
        ("dn: CN=x,OU=Hosting,DC=fabrikam,DC=com\nchangetype: modrdn\nnewrdn: CN=y\n", r"deleteoldrdn"),
        (
            "dn: CN=x,OU=Hosting,DC=fabrikam,DC=com\nchangetype: modrdn\nnewrdn: CN=y,CN=z\n"
            "deleteoldrdn: 1\n",
            r"line 3: newrdn must be exactly one RDN",
        ),
        (
            "dn: CN=x,OU=Hosting,DC=fabrikam,DC=com\nchangetype: modrdn\nnewrdn: CN=y\ndeleteoldrdn: 2\n",
            r"line 4: deleteoldrdn must be 0 or 1",
        ),
        ("version: 2\n\ndn: CN=x,OU=Hosting,DC=fabrikam,DC=com\ncn: x\n", r"line 1: only LDIF version 1"),
        (
            "dn: CN=x,OU=Hosting,DC=fabrikam,DC=com\ncn: x\ndistinguishedName: CN=y,DC=com\n",
            r"line 3: distinguishedName differs",
        ),
    ],
)
def test_malformed_input_is_rejected_naming_the_line(store: Deployment, text: str, match: str) -> None:
    before = dump(store)
    with pytest.raises(InvalidArgument, match=match):
        load(store, text)
    assert dump(store) == before  # parsed in full before the first write


def test_malformed_record_at_the_end_writes_nothing_even_without_a_transaction(store: Deployment) -> None:
    data = (ADD_OU + "\ndn: CN=bad\nno colon\n").encode()
    uow = store.open_uow()
    try:
        with pytest.raises(InvalidArgument, match="line 23"):
            store.providers(uow).directory.import_ldif(io.BytesIO(data))
        uow.commit()  # commit whatever was applied: nothing
    finally:
        uow.rollback()
    assert not exists(store, "OU=Tenants,OU=Hosting,DC=fabrikam,DC=com")


def test_non_utf8_value_names_the_dn_and_attribute(store: Deployment) -> None:
    data = b"dn: CN=x,OU=Hosting,DC=fabrikam,DC=com\ncn: x\ndescription: caf\xe9\n"
    with pytest.raises(InvalidArgument, match=r"line 3: the value of attribute 'description' of 'CN=x,OU"):
        load(store, data)
    with pytest.raises(InvalidArgument, match=r"line 1: the value of the DN is not valid UTF-8"):
        load(store, b"dn:: " + base64.b64encode(b"CN=\xff") + b"\ncn: x\n")


def test_missing_parent_is_not_found_naming_the_dn(store: Deployment) -> None:
    with pytest.raises(NotFound, match=r"CN=x,OU=Nowhere,DC=fabrikam,DC=com"):
        load(store, "dn: CN=x,OU=Nowhere,DC=fabrikam,DC=com\ncn: x\n")
    with pytest.raises(NotFound, match=r"CN=Nobody,OU=Hosting"):
        load(store, "dn: CN=Nobody,OU=Hosting,DC=fabrikam,DC=com\nchangetype: modify\nadd: cn\ncn: x\n")


def test_directory_errors_gain_the_record_dn(store: Deployment) -> None:
    with pytest.raises(ConstraintViolation) as caught:
        load(store, "dn: CN=Dup,OU=Hosting,DC=fabrikam,DC=com\ncn: Dup\nsAMAccountName: Administrator\n")
    assert "CN=Dup,OU=Hosting,DC=fabrikam,DC=com" in caught.value.description
    assert caught.value.fields["line"] == 1
    with pytest.raises(NotEmpty, match="OU=Hosting"):
        load(store, "dn: OU=Hosting,DC=fabrikam,DC=com\nchangetype: delete\n")
    with pytest.raises(InvalidArgument, match="objectGUID"):
        load(
            store, "dn: CN=Users,DC=fabrikam,DC=com\nchangetype: modify\nreplace: objectGUID\nobjectGUID: 1\n"
        )


def test_crlf_base64_dn_and_missing_final_separator(store: Deployment) -> None:
    data = (
        b"version: 1\r\n\r\ndn:: "
        + base64.b64encode("OU=Zoë,OU=Hosting,DC=fabrikam,DC=com".encode())
        + b"\r\nobjectClass: organizationalUnit\r\nou:: "
        + base64.b64encode("Zoë".encode())
        + b"\r\n\r\n\r\ndn: OU=Zo\xc3\xab,OU=Hosting,DC=fabrikam,DC=com\r\nchangetype: modify\r\n"
        + b"replace: description\r\ndescription: raw UTF-8 \xc3\xa9"
    )
    assert load(store, data) == ImportResult(1, 1, 0)
    zoe = entry(store, "OU=Zoë,OU=Hosting,DC=fabrikam,DC=com")
    assert zoe["ou"] == ("Zoë",)
    assert zoe["description"] == ("raw UTF-8 é",)
