"""The directory contract: what every backend of :class:`openmps.directory.interface.Directory` does.

Only the protocol is used here (no SQL, no LDAP), so the same tests run against every backend
listed in ``conftest.BACKENDS``.  Each test starts from an EMPTY directory and creates its own
naming context, ``DC=example,DC=com``.
"""

from __future__ import annotations

import re
import tempfile
import uuid
from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openmps.directory import filters as f
from openmps.directory.interface import Change, Directory, Entry, Scope
from openmps.errors import (
    AlreadyExists,
    ConstraintViolation,
    InvalidArgument,
    MpsError,
    NotEmpty,
    NotFound,
)
from openmps.hosting.attributes import COMMON_ATTRIBUTES, OU_ATTRIBUTES, USER_ATTRIBUTES
from openmps.types import DN

NC = DN.parse("DC=example,DC=com")
# An integer attribute that orders numerically on every server (the schema's, as a real server
# refuses attribute types it does not define).
N = "mDBStorageQuota"
# A text attribute that orders (core.schema's sn has no ordering rule; AD's extension attributes do).
S = "extensionAttribute1"
# A multi-valued text attribute of users (AD keeps a user's or group's description single-valued).
M = "otherTelephone"
GUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


# --- helpers --------------------------------------------------------------------------------------


def _settable_value(name: str) -> str:
    """A value of attribute ``name`` as its syntax on an LDAP server takes it."""
    if "phone" in name or name in (
        "mobile",
        "pager",
        "othermobile",
        "otherpager",
        "facsimiletelephonenumber",
    ):
        return "+1 555 0100"
    return {"c": "DE", "countrycode": "276", "seealso": str(NC), "manager": str(NC)}.get(
        name, "Zoë"
    )  # initials: 6 at most


def dn(text: str) -> DN:
    """A DN relative to the naming context: ``dn("CN=u,OU=People")``."""
    return DN.parse(f"{text},{NC}") if text else NC


def make_nc(d: Directory) -> Entry:
    return d.add(NC, {"objectClass": ["top", "domain", "domainDNS"], "dc": ["example"]})


def add_ou(d: Directory, where: DN, **extra: Iterable[str]) -> DN:
    d.add(where, {"objectClass": ["top", "organizationalUnit"], "ou": [where.rdn_value], **extra})
    return where


def add_user(d: Directory, where: DN, **extra: Iterable[str]) -> DN:
    d.add(where, {"objectClass": ["top", "person", "user"], "cn": [where.rdn_value], **extra})
    return where


def add_group(d: Directory, where: DN, *members: DN | str, **extra: Iterable[str]) -> DN:
    attrs: dict[str, Iterable[str]] = {"objectClass": ["top", "group"], "cn": [where.rdn_value], **extra}
    if members:
        attrs["member"] = [str(m) for m in members]
    d.add(where, attrs)
    return where


def dns(entries: Iterable[Entry]) -> list[DN]:
    return [e.dn for e in entries]


def folded(values: Iterable[str]) -> set[str]:
    return {v.casefold() for v in values}


def dnset(values: Iterable[str]) -> set[DN]:
    return {DN.parse(v) for v in values}


def assert_error(
    exc_info: pytest.ExceptionInfo[MpsError], cls: type[MpsError], *named: object, hidden: Iterable[str] = ()
) -> MpsError:
    """The exception is exactly ``cls`` and its description names each of ``named`` (case-insensitive).

    A DN in ``named`` counts as named when its string form appears in the description.
    """
    exc = exc_info.value
    assert type(exc) is cls, f"expected {cls.__name__}, got {type(exc).__name__}: {exc!r}"
    text = exc.description.casefold()
    for item in named:
        assert str(item).casefold() in text, f"{exc.description!r} does not name {str(item)!r}"
    for secret in hidden:
        assert secret.casefold() not in text, f"{exc.description!r} reveals {secret!r}"
    return exc


def assert_parents_first(found: list[Entry]) -> None:
    seen: set[DN] = set()
    listed = {e.dn for e in found}
    for entry in found:
        for ancestor in entry.dn.ancestors():
            if ancestor in listed:
                assert ancestor in seen, f"{ancestor} comes after its child {entry.dn}"
        seen.add(entry.dn)


@pytest.fixture
def d(directory: Directory) -> Directory:
    """The directory with its naming context created."""
    make_nc(directory)
    return directory


# --- add ------------------------------------------------------------------------------------------


class TestAdd:
    def test_naming_context_needs_no_parent_and_is_readable(self, directory: Directory) -> None:
        assert not directory.exists(NC)
        assert directory.find(NC) is None
        make_nc(directory)
        assert directory.exists(NC)
        entry = directory.get(NC)
        assert entry.dn == NC
        assert entry.has_class("domainDNS")
        assert entry.first("dc") == "example"

    def test_entry_without_parent_is_not_found(self, d: Directory) -> None:
        child = dn("CN=u,OU=Missing")
        with pytest.raises(NotFound) as exc_info:
            add_user(d, child)
        assert_error(exc_info, NotFound, child.parent)
        assert not d.exists(child)

    def test_non_naming_context_without_any_parent_is_not_found(self, directory: Directory) -> None:
        with pytest.raises(NotFound) as exc_info:
            add_ou(directory, DN.parse("OU=orphan,DC=nowhere,DC=com"))
        assert_error(exc_info, NotFound, "DC=nowhere,DC=com")

    def test_duplicate_dn_is_already_exists_case_insensitively(self, d: Directory) -> None:
        add_ou(d, dn("OU=People"))
        again = DN.parse("ou=PEOPLE, dc=Example ,DC=COM")
        with pytest.raises(AlreadyExists) as exc_info:
            add_ou(d, again)
        assert_error(exc_info, AlreadyExists, dn("OU=People"))
        assert len(d.search(NC, Scope.ONELEVEL)) == 1

    def test_duplicate_dn_in_full_width_is_already_exists(self, d: Directory) -> None:
        add_ou(d, dn("OU=People"))
        with pytest.raises(AlreadyExists):
            add_ou(d, dn("OU=ＰＥＯＰＬＥ"))
        # a full-width comma folds to ',' inside one RDN value, never a second RDN
        add_ou(d, dn("OU=a\\,b"))
        with pytest.raises(AlreadyExists):
            add_ou(d, dn("OU=a，b"))
        assert len(d.search(NC, Scope.ONELEVEL)) == 2

    def test_guid_and_sid_are_assigned(self, d: Directory, domain_sid: str) -> None:
        add_ou(d, dn("OU=People"))
        returned = [d.add(dn(f"CN=u{i},OU=People"), {"objectClass": ["user"]}) for i in range(3)]
        stored = [d.get(dn(f"CN=u{i},OU=People")) for i in range(3)]
        sid_re = re.compile(re.escape(domain_sid) + r"-([0-9]+)")
        for ret, entry in zip(returned, stored, strict=True):
            assert GUID_RE.fullmatch(entry.guid), entry.guid
            assert uuid.UUID(entry.guid) == uuid.UUID(ret.guid)
            assert entry.sid == ret.sid
            assert sid_re.fullmatch(entry.sid), entry.sid
            assert entry.get("objectGUID") == (entry.guid,)
            assert entry.get("objectSid") == (entry.sid,)
        everything = [*stored, d.get(NC), d.get(dn("OU=People"))]
        assert len({uuid.UUID(e.guid) for e in everything}) == len(everything)
        assert len({e.sid for e in everything}) == len(everything)

    def test_given_guid_and_sid_are_honoured(self, d: Directory) -> None:
        guid = "6F9619FF-8B86-D011-B42D-00C04FC964FF"
        sid = "S-1-5-21-9-8-7-4242"
        try:
            ret = d.add(dn("CN=u"), {"objectClass": ["user"], "objectGUID": [guid], "objectSid": [sid]})
        except InvalidArgument as exc:  # AD assigns both itself: refused by name, nothing added
            assert "objectGUID" in exc.description
            assert not d.exists(dn("CN=u"))
            return
        entry = d.get(dn("CN=u"))
        assert uuid.UUID(entry.guid) == uuid.UUID(guid)
        assert uuid.UUID(ret.guid) == uuid.UUID(guid)
        assert entry.sid == sid == ret.sid

    def test_given_guid_already_used_is_refused(self, d: Directory) -> None:
        guid = d.get(NC).guid
        with pytest.raises(ConstraintViolation):
            d.add(dn("CN=u"), {"objectClass": ["user"], "objectGUID": [guid]})
        assert not d.exists(dn("CN=u"))

    def test_adds_after_refused_ones_get_sids_of_their_own(self, d: Directory) -> None:
        # a refused add may have reserved SIDs: whatever it rolled back, no SID is handed out twice
        add_user(d, dn("CN=first"), userPrincipalName=["taken@example.com"])
        for i in range(6):  # the embedded store's 4th and 8th adds start a block of RIDs
            with pytest.raises(ConstraintViolation):
                add_user(d, dn(f"CN=refused{i}"), userPrincipalName=["taken@example.com"])
        for i in range(20):
            add_user(d, dn(f"CN=u{i}"))
        sids = [e.sid for e in d.search(NC, filter=f.eq("objectClass", "user"))]
        assert len(sids) == 21 == len(set(sids))

    def test_attribute_names_are_case_insensitive_first_spelling_kept(self, d: Directory) -> None:
        add_user(d, dn("CN=u"), displayName=["Some One"], extensionAttribute1=["x"])
        entry = d.get(dn("CN=u"))
        assert all(key == key.lower() for key in entry.attributes)
        assert entry.get("DISPLAYNAME") == ("Some One",)
        assert entry.first("displayname") == "Some One"
        assert entry.names["displayname"] == "displayName"
        assert dict(entry.items())["extensionAttribute1"] == ("x",)
        d.modify(dn("CN=u"), [Change.add(M, "one"), Change.add(M.upper(), "Another")])
        entry = d.get(dn("CN=u"))
        assert entry.names[M.lower()] == M
        assert set(entry.get(M.title())) == {"one", "Another"}

    def test_repeated_value_is_stored_once(self, d: Directory) -> None:
        add_user(d, dn("CN=u"), otherTelephone=["same", "SAME", "same", "other"])
        values = d.get(dn("CN=u")).get(M)
        assert len(values) == 2
        assert folded(values) == {"same", "other"}

    def test_one_attribute_under_two_spellings_is_one_attribute(self, d: Directory) -> None:
        try:
            d.add(dn("CN=u"), {"objectClass": ["user"], "description": ["x"], "DESCRIPTION": ["X", "y"]})
        except InvalidArgument:
            return  # refusing the ambiguous request is fine too
        values = d.get(dn("CN=u")).get("description")
        assert sorted(v.casefold() for v in values) == ["x", "y"], values

    def test_a_person_is_as_in_ad(self, d: Directory) -> None:
        """AD's person needs no sn, its mail is a Unicode string, and its streetAddress is not its
        street (OpenLDAP: schema/ad-core.schema in place of core.schema's)."""
        add_user(d, dn("CN=zoë"), mail=["zoë.ünal@例え.jp"], streetAddress=["1 Main St\nSuite 2"])
        entry = d.get(dn("CN=zoë"))
        assert not entry.get("sn") and list(entry.get("mail")) == ["zoë.ünal@例え.jp"]
        assert list(entry.get("streetAddress")) == ["1 Main St\nSuite 2"] and not entry.get("street")
        d.modify(dn("CN=zoë"), [Change.replace("street", "Main St"), Change.replace("sn", "Ünal")])
        d.modify(dn("CN=zoë"), [Change.delete("sn")])
        entry = d.get(dn("CN=zoë"))
        assert list(entry.get("street")) == ["Main St"]
        assert list(entry.get("streetAddress")) == ["1 Main St\nSuite 2"] and not entry.get("sn")

    @pytest.mark.parametrize(
        ("classes", "settable"),
        [
            (["top", "person", "organizationalPerson", "user"], USER_ATTRIBUTES | {"manager"}),
            (["top", "person", "organizationalPerson", "contact"], USER_ATTRIBUTES),
            (["top", "group"], COMMON_ATTRIBUTES),
            (["top", "organizationalUnit"], OU_ATTRIBUTES),
        ],
        ids=["user", "contact", "group", "organizationalUnit"],
    )
    def test_every_settable_attribute_is_held(
        self, d: Directory, classes: list[str], settable: frozenset[str]
    ) -> None:
        """What <properties> may set on an object (openmps.hosting.attributes; ModifyUser's manager
        too) its class holds on every backend: a server's schema lacking one is a request refused
        there only."""
        naming = "ou" if "organizationalUnit" in classes else "cn"
        attrs = {name: [_settable_value(name)] for name in settable}
        d.add(dn(f"{naming.upper()}=all"), {"objectClass": classes, naming: ["all"], **attrs})
        entry = d.get(dn(f"{naming.upper()}=all"))
        assert {name: list(entry.get(name)) for name in settable} == attrs

    def test_nul_in_a_value_is_invalid(self, d: Directory) -> None:
        with pytest.raises(InvalidArgument) as exc_info:
            add_user(d, dn("CN=u"), description=["bad\x00value"])
        assert_error(exc_info, InvalidArgument, "description")
        assert not d.exists(dn("CN=u"))
        add_user(d, dn("CN=u"))
        with pytest.raises(InvalidArgument) as exc_info:
            d.modify(dn("CN=u"), [Change.add("description", "bad\x00value")])
        assert_error(exc_info, InvalidArgument, "description")
        assert d.get(dn("CN=u")).get("description") == ()

    @pytest.mark.parametrize("attr", ["memberOf", "MEMBEROF", "distinguishedName"])
    def test_computed_attributes_cannot_be_written(self, d: Directory, attr: str) -> None:
        add_group(d, dn("CN=g"))
        with pytest.raises(InvalidArgument) as exc_info:
            add_user(d, dn("CN=u"), **{attr: [str(dn("CN=g"))]})
        assert_error(exc_info, InvalidArgument, attr)
        assert not d.exists(dn("CN=u"))

    def test_member_value_must_be_a_dn(self, d: Directory) -> None:
        with pytest.raises(InvalidArgument):
            add_group(d, dn("CN=g"), "not a distinguished name")
        assert not d.exists(dn("CN=g"))

    def test_failed_add_leaves_nothing_behind(self, d: Directory) -> None:
        add_user(d, dn("CN=first"), userPrincipalName=["taken@example.com"])
        with pytest.raises(ConstraintViolation):
            add_user(d, dn("CN=second"), userPrincipalName=["taken@example.com"], description=["x"])
        assert not d.exists(dn("CN=second"))
        assert d.find(dn("CN=second")) is None
        assert dn("CN=second") not in dns(d.search(NC))
        add_user(d, dn("CN=second"), userPrincipalName=["free@example.com"])
        assert d.get(dn("CN=second")).get("description") == ()

    def test_failed_add_of_many_values_leaves_nothing_behind(self, d: Directory) -> None:
        # the taken value comes after 150 others: the embedded store writes them in chunks
        add_user(d, dn("CN=first"), userPrincipalName=["taken@example.com"])
        phones = [f"+1 555 {i:04d}" for i in range(150)]
        with pytest.raises(ConstraintViolation):
            add_user(d, dn("CN=second"), otherTelephone=phones, userPrincipalName=["taken@example.com"])
        assert d.find(dn("CN=second")) is None
        assert not d.search(NC, filter=f.eq("otherTelephone", phones[0]))
        add_user(d, dn("CN=second"), otherTelephone=phones[:1], userPrincipalName=["free@example.com"])
        assert d.get(dn("CN=second")).get("otherTelephone") == tuple(phones[:1])


# --- reads ----------------------------------------------------------------------------------------


class TestReads:
    def test_get_missing_is_not_found(self, d: Directory) -> None:
        missing = dn("CN=ghost")
        with pytest.raises(NotFound) as exc_info:
            d.get(missing)
        assert_error(exc_info, NotFound, missing)
        assert d.find(missing) is None
        assert not d.exists(missing)

    def test_a_multi_valued_rdn_repeating_its_attribute_names_nothing(self, d: Directory) -> None:
        """``OU=a+OU=b`` is no entry's name (slapd deems it an invalid DN): reads find nothing."""
        add_ou(d, dn("OU=a"))
        odd = dn("OU=a+OU=b")
        assert d.find(odd) is None and not d.exists(odd)
        with pytest.raises(NotFound):
            d.get(odd)
        with pytest.raises(NotFound):
            d.search(odd)

    def test_lookups_are_case_and_space_insensitive(self, d: Directory) -> None:
        add_user(d, dn("CN=Some User"), description=["x"])
        variant = DN.parse("cn=SOME USER , dc=EXAMPLE,dc=com")
        assert d.exists(variant)
        assert d.get(variant).dn == dn("CN=Some User")
        assert d.get(variant).dn.rdn_value == "Some User"  # the stored spelling comes back
        found = d.find(variant)
        assert found is not None and found.first("description") == "x"

    @pytest.mark.parametrize("rdn", [r"CN=a\,b", r"CN=evil\,OU=x", "CN=*)(cn=*", r"CN=a\+b\=c\;d\<e\>"])
    def test_escaped_specials_in_dns(self, d: Directory, rdn: str) -> None:
        add_ou(d, dn("OU=x"))
        target = dn(rdn)
        add_user(d, target)
        entry = d.get(target)
        assert entry.dn == target
        assert entry.dn.rdn_value == target.rdn_value
        assert entry.first("cn") == target.rdn_value
        assert d.exists(DN.parse(str(target).upper()))
        # the escaped comma is part of the value: no other entry is addressed
        assert d.find(dn("CN=evil,OU=x")) is None
        assert target not in dns(d.search(dn("OU=x")))
        assert dns(d.search(NC, Scope.SUBTREE, f.eq("cn", target.rdn_value))) == [target]

    def test_find_many(self, d: Directory) -> None:
        add_user(d, dn("CN=u1"), description=["one"], displayName=["User One"])
        add_group(d, dn("CN=g"), dn("CN=u1"))  # AD refuses a member that names no entry
        add_user(d, dn("CN=u2"), description=["two"])
        wanted = [DN.parse("cn=U1,dc=example,dc=com"), dn("CN=u2"), dn("CN=ghost")]
        found = d.find_many(wanted)
        assert set(found) == {dn("CN=u1"), dn("CN=u2")}
        one = found[dn("CN=u1")]
        assert one.dn == dn("CN=u1")
        assert one.first("description") == "one"
        assert one.first("displayName") == "User One"
        assert one.guid == d.get(dn("CN=u1")).guid
        assert one.sid == d.get(dn("CN=u1")).sid
        assert one.get("memberOf") == ()  # find_many does not compute memberOf
        assert d.find_many([]) == {}

    def test_find_many_with_attributes(self, d: Directory) -> None:
        add_user(d, dn("CN=u1"), description=["one"], displayName=["User One"])
        found = d.find_many([dn("CN=u1")], attributes=["DisplayName"])
        one = found[dn("CN=u1")]
        assert one.first("displayName") == "User One"
        assert one.get("description") == ()
        assert one.get("objectClass") == ()
        assert one.guid and one.sid  # always included
        assert d.find_many([dn("CN=u1")], attributes=[])[dn("CN=u1")].guid == one.guid


# --- search ---------------------------------------------------------------------------------------


@pytest.fixture
def tree(d: Directory) -> Directory:
    """NC ─ OU=A ─ OU=A1 ─ CN=a11
    │        └ CN=a1
    ├ OU=AB ─ CN=ab1
    └ OU=B ─ CN=b1
    """
    add_ou(d, dn("OU=A"))
    add_ou(d, dn("OU=A1,OU=A"))
    add_user(d, dn("CN=a11,OU=A1,OU=A"), mDBStorageQuota=["9"], extensionAttribute1=["Miller"])
    add_user(d, dn("CN=a1,OU=A"), mDBStorageQuota=["10"], extensionAttribute1=["adams"])
    add_ou(d, dn("OU=AB"))
    add_user(d, dn("CN=ab1,OU=AB"), mDBStorageQuota=["100"], extensionAttribute1=["Zed"])
    add_ou(d, dn("OU=B"))
    add_user(d, dn("CN=b1,OU=B"), extensionAttribute1=["baker"])
    return d


class TestSearch:
    def test_scopes(self, tree: Directory) -> None:
        assert dns(tree.search(dn("OU=A"), Scope.BASE)) == [dn("OU=A")]
        assert set(dns(tree.search(dn("OU=A"), Scope.ONELEVEL))) == {dn("OU=A1,OU=A"), dn("CN=a1,OU=A")}
        sub = tree.search(dn("OU=A"), Scope.SUBTREE)
        assert set(dns(sub)) == {dn("OU=A"), dn("OU=A1,OU=A"), dn("CN=a11,OU=A1,OU=A"), dn("CN=a1,OU=A")}
        assert_parents_first(sub)
        assert tree.search(dn("CN=a1,OU=A"), Scope.ONELEVEL) == []

    def test_default_scope_is_subtree(self, tree: Directory) -> None:
        assert set(dns(tree.search(dn("OU=B")))) == {dn("OU=B"), dn("CN=b1,OU=B")}

    def test_prefix_trap(self, tree: Directory) -> None:
        """OU=AB is no descendant of OU=A though its key starts with OU=A's."""
        found = dns(tree.search(dn("OU=A"), Scope.SUBTREE))
        assert dn("OU=AB") not in found
        assert dn("CN=ab1,OU=AB") not in found
        assert dns(tree.search(dn("OU=AB"), Scope.SUBTREE)) == [dn("OU=AB"), dn("CN=ab1,OU=AB")]

    def test_whole_tree_parents_first(self, tree: Directory) -> None:
        found = tree.search(NC)
        assert len(found) == 9
        assert found[0].dn == NC
        assert_parents_first(found)

    def test_base_lookup_is_case_insensitive(self, tree: Directory) -> None:
        found = dns(tree.search(DN.parse("ou=a , DC=EXAMPLE,dc=com"), Scope.ONELEVEL))
        assert set(found) == {dn("OU=A1,OU=A"), dn("CN=a1,OU=A")}

    def test_absent_base_is_not_found(self, tree: Directory) -> None:
        for scope in Scope:
            with pytest.raises(NotFound) as exc_info:
                tree.search(dn("OU=Nope"), scope)
            assert_error(exc_info, NotFound, dn("OU=Nope"))

    def test_limit(self, tree: Directory) -> None:
        found = tree.search(NC, Scope.SUBTREE, limit=3)
        assert len(found) == 3
        assert found[0].dn == NC
        assert_parents_first(found)
        assert len(tree.search(NC, Scope.SUBTREE, f.present("objectClass"), limit=2)) == 2
        # a filter the backend may evaluate in memory still honours the limit
        assert len(tree.search(NC, Scope.SUBTREE, f.GreaterOrEqual(N, "0"), limit=2)) == 2

    def test_search_results_carry_identity_and_values(self, tree: Directory) -> None:
        (entry,) = tree.search(dn("CN=a1,OU=A"), Scope.BASE)
        got = tree.get(dn("CN=a1,OU=A"))
        assert entry.guid == got.guid and entry.sid == got.sid
        assert entry.first(S) == "adams"
        assert entry.names[S.lower()] == S

    def _find(self, d: Directory, flt: f.Filter, base: DN = NC) -> set[DN]:
        return set(dns(d.search(base, Scope.SUBTREE, flt)))

    def test_equality_is_case_insensitive(self, tree: Directory) -> None:
        assert self._find(tree, f.eq(S, "MILLER")) == {dn("CN=a11,OU=A1,OU=A")}
        assert self._find(tree, f.eq(S.upper(), "miller")) == {dn("CN=a11,OU=A1,OU=A")}
        assert self._find(tree, f.eq(S, "mill")) == set()
        assert self._find(tree, f.Approx(S, "miller")) == {dn("CN=a11,OU=A1,OU=A")}

    def test_presence(self, tree: Directory) -> None:
        assert self._find(tree, f.present(N)) == {
            dn("CN=a11,OU=A1,OU=A"),
            dn("CN=a1,OU=A"),
            dn("CN=ab1,OU=AB"),
        }
        assert self._find(tree, f.present("objectClass")) == set(dns(tree.search(NC)))
        assert self._find(tree, f.present("doesNotExist")) == set()

    def test_substring(self, d: Directory) -> None:
        values = {
            "s1": "100% sure",
            "s2": "1000 sure",
            "s3": "a_b",
            "s4": "axb",
            "s5": "back\\slash",
            "s6": "backXslash",
            "s7": "Hello World",
        }
        for name, value in values.items():
            add_user(d, dn(f"CN={name}"), description=[value])

        def names(flt: f.Filter) -> set[str]:
            return {e.dn.rdn_value for e in d.search(NC, Scope.SUBTREE, flt)}

        sub = f.Substring
        assert names(sub("description", "100%", (), None)) == {"s1"}
        assert names(sub("description", None, ("_",), None)) == {"s3"}
        assert names(sub("description", "a", (), "b")) == {"s3", "s4"}
        assert names(sub("description", None, ("\\",), None)) == {"s5"}
        assert names(sub("description", "back", (), "slash")) == {"s5", "s6"}
        assert names(sub("description", "HELLO", (), None)) == {"s7"}
        assert names(sub("description", None, (), "WORLD")) == {"s7"}
        assert names(sub("description", "h", ("LL", "o w"), "d")) == {"s7"}
        assert names(sub("description", "hello world", (), "world")) == set()  # parts may not overlap
        assert names(f.parse("(description=*%*)")) == {"s1"}
        assert names(f.parse(r"(description=*\5c*)")) == {"s5"}

    def test_ordering_numeric_and_text(self, tree: Directory) -> None:
        a11, a1, ab1, b1 = dn("CN=a11,OU=A1,OU=A"), dn("CN=a1,OU=A"), dn("CN=ab1,OU=AB"), dn("CN=b1,OU=B")
        assert self._find(tree, f.GreaterOrEqual(N, "10")) == {a1, ab1}  # numerically: 9 < 10 < 100
        assert self._find(tree, f.LessOrEqual(N, "10")) == {a11, a1}
        assert self._find(tree, f.GreaterOrEqual(N, "101")) == set()
        assert self._find(tree, f.LessOrEqual(S, "b")) == {a1}  # text, case-insensitive
        assert self._find(tree, f.GreaterOrEqual(S, "m")) == {a11, ab1}
        assert self._find(tree, f.GreaterOrEqual(S, "BAKER")) == {a11, ab1, b1}

    def test_boolean_combinations(self, tree: Directory) -> None:
        a11, a1, ab1, b1 = dn("CN=a11,OU=A1,OU=A"), dn("CN=a1,OU=A"), dn("CN=ab1,OU=AB"), dn("CN=b1,OU=B")
        users = f.eq("objectClass", "user")
        assert self._find(tree, f.and_(users, f.eq(S, "zed"))) == {ab1}
        assert self._find(tree, f.or_(f.eq(S, "zed"), f.eq(S, "baker"))) == {ab1, b1}
        assert self._find(tree, f.and_(users, f.not_(f.present(N)))) == {b1}
        assert self._find(tree, f.and_(users, f.not_(f.eq(S, "ZED")))) == {a11, a1, b1}
        assert self._find(tree, f.and_()) == set(dns(tree.search(NC)))
        assert self._find(tree, f.or_()) == set()
        assert self._find(tree, f.and_(users, f.GreaterOrEqual(N, "10"), f.eq(S, "zed"))) == {ab1}
        assert self._find(tree, f.or_(f.GreaterOrEqual(N, "100"), f.eq(S, "baker"))) == {ab1, b1}

    def test_negated_ordering(self, tree: Directory) -> None:
        """(!(n>=10)) is every entry without a value >= 10: n=9 and the entries without n."""
        a11, a1, ab1, b1 = dn("CN=a11,OU=A1,OU=A"), dn("CN=a1,OU=A"), dn("CN=ab1,OU=AB"), dn("CN=b1,OU=B")
        users = f.eq("objectClass", "user")
        assert self._find(tree, f.and_(users, f.not_(f.GreaterOrEqual(N, "10")))) == {a11, b1}
        assert self._find(tree, f.and_(users, f.not_(f.LessOrEqual(N, "9")))) == {a1, ab1, b1}

    def test_negated_substring(self, tree: Directory) -> None:
        a1, ab1, b1 = dn("CN=a1,OU=A"), dn("CN=ab1,OU=AB"), dn("CN=b1,OU=B")
        users = f.eq("objectClass", "user")
        assert self._find(tree, f.and_(users, f.not_(f.Substring(S, "m", (), None)))) == {a1, ab1, b1}

    def test_filters_match_as_the_in_memory_matcher_does(self, tree: Directory) -> None:
        """Every entry a search returns satisfies filters.matches and vice versa (plain attributes)."""
        everything = tree.search(NC)
        candidates = [
            f.eq(S, "adams"),
            f.present(S),
            f.Substring(S, None, ("e",), None),
            f.GreaterOrEqual(N, "10"),
            f.LessOrEqual(S, "m"),
            f.not_(f.GreaterOrEqual(N, "10")),
            f.not_(f.Substring(S, None, ("e",), None)),
            f.or_(f.not_(f.present(N)), f.LessOrEqual(N, "9")),
            f.and_(f.present(S), f.not_(f.and_(f.present(N), f.GreaterOrEqual(N, "50")))),
        ]
        for flt in candidates:
            expected = {e.dn for e in everything if f.matches(flt, e.attributes)}
            assert self._find(tree, flt) == expected, f.render(flt)

    def test_filter_injection_through_eq_matches_nothing(self, tree: Directory) -> None:
        evil = "*)(objectClass=*"
        assert self._find(tree, f.eq("cn", evil)) == set()
        assert self._find(tree, f.eq(S, evil)) == set()
        assert self._find(tree, f.parse(f.render(f.eq("cn", evil)))) == set()
        assert self._find(tree, f.and_(f.eq("objectClass", "user"), f.eq("cn", evil))) == set()
        add_user(tree, dn("CN=x,OU=B"), description=[evil])
        assert self._find(tree, f.eq("description", evil)) == {dn("CN=x,OU=B")}

    def test_distinguished_name_filter(self, tree: Directory) -> None:
        target = dn("CN=a1,OU=A")
        variant = "cn=A1 , ou=a,dc=EXAMPLE,dc=com"
        assert self._find(tree, f.eq("distinguishedName", variant)) == {target}
        assert self._find(tree, f.eq("distinguishedName", str(dn("CN=zz")))) == set()
        assert self._find(tree, f.eq("distinguishedName", "not a dn")) == set()
        assert self._find(tree, f.or_(f.eq("distinguishedName", str(target)), f.eq(S, "zed"))) == {
            target,
            dn("CN=ab1,OU=AB"),
        }

    def test_distinguished_name_filter_combined_with_ordering(self, tree: Directory) -> None:
        target = dn("CN=a1,OU=A")
        flt = f.and_(f.eq("distinguishedName", str(target)), f.GreaterOrEqual(N, "1"))
        assert self._find(tree, flt) == {target}

    def test_object_guid_and_sid_filters(self, tree: Directory) -> None:
        entry = tree.get(dn("CN=b1,OU=B"))
        assert self._find(tree, f.eq("objectGUID", entry.guid)) == {entry.dn}
        assert self._find(tree, f.eq("objectGUID", entry.guid.upper())) == {entry.dn}
        assert self._find(tree, f.eq("objectGUID", str(uuid.uuid4()))) == set()
        assert self._find(tree, f.eq("objectSid", entry.sid)) == {entry.dn}
        assert self._find(tree, f.and_(f.eq("objectGUID", entry.guid), f.eq(S, "nope"))) == set()


# --- modify ---------------------------------------------------------------------------------------


class TestModify:
    @pytest.fixture
    def user(self, d: Directory) -> DN:
        return add_user(d, dn("CN=u"), otherTelephone=["one", "two"])

    def test_add_values(self, d: Directory, user: DN) -> None:
        d.modify(user, [Change.add(M, "three", "four"), Change.add("mail", "u@example.com")])
        entry = d.get(user)
        assert set(entry.get(M)) == {"one", "two", "three", "four"}
        assert entry.get("mail") == ("u@example.com",)

    def test_add_present_value_is_already_exists(self, d: Directory, user: DN) -> None:
        with pytest.raises(AlreadyExists) as exc_info:
            d.modify(user, [Change.add(M.title(), "ONE")])
        assert_error(exc_info, AlreadyExists, M, "one")
        assert set(d.get(user).get(M)) == {"one", "two"}

    def test_delete_specific_values(self, d: Directory, user: DN) -> None:
        d.modify(user, [Change.delete(M.upper(), "ONE")])
        assert d.get(user).get(M) == ("two",)

    def test_delete_absent_value_is_constraint_violation(self, d: Directory, user: DN) -> None:
        with pytest.raises(ConstraintViolation) as exc_info:
            d.modify(user, [Change.delete(M, "missing")])
        assert_error(exc_info, ConstraintViolation, M, user)
        assert set(d.get(user).get(M)) == {"one", "two"}

    def test_delete_absent_value_names_the_value(self, d: Directory, user: DN) -> None:
        with pytest.raises(ConstraintViolation) as exc_info:
            d.modify(user, [Change.delete(M, "missing")])
        assert_error(exc_info, ConstraintViolation, "missing")

    def test_delete_of_present_and_absent_values_deletes_nothing(self, d: Directory, user: DN) -> None:
        with pytest.raises(ConstraintViolation):
            d.modify(user, [Change.delete(M, "one", "missing")])
        assert set(d.get(user).get(M)) == {"one", "two"}

    def test_delete_all_values(self, d: Directory, user: DN) -> None:
        d.modify(user, [Change.delete(M)])
        entry = d.get(user)
        assert entry.get(M) == ()
        assert M.lower() not in entry.attributes
        assert user not in dns(d.search(NC, Scope.SUBTREE, f.present(M)))

    def test_replace(self, d: Directory, user: DN) -> None:
        d.modify(user, [Change.replace(M, "new", "NEW", "other")])
        assert folded(d.get(user).get(M)) == {"new", "other"}
        assert len(d.get(user).get(M)) == 2
        d.modify(user, [Change.replace("title", "Boss")])  # replace creates an absent attribute
        assert d.get(user).get("title") == ("Boss",)

    def test_replace_with_nothing_removes(self, d: Directory, user: DN) -> None:
        d.modify(user, [Change.replace(M)])
        assert d.get(user).get(M) == ()
        assert d.search(NC, Scope.SUBTREE, f.eq(M, "one")) == []

    def test_changes_apply_in_order(self, d: Directory, user: DN) -> None:
        d.modify(
            user,
            [
                Change.delete(M),
                Change.add(M, "one"),
                Change.add("extensionAttribute2", "1"),
            ],
        )
        entry = d.get(user)
        assert entry.get(M) == ("one",)
        assert entry.get("extensionAttribute2") == ("1",)

    def test_modify_is_atomic(self, d: Directory, user: DN) -> None:
        with pytest.raises(AlreadyExists):
            d.modify(user, [Change.replace("title", "Boss"), Change.add(M, "one")])
        entry = d.get(user)
        assert entry.get("title") == (), "the first change of a failed modify was kept"
        assert set(entry.get(M)) == {"one", "two"}

    def test_missing_entry_is_not_found(self, d: Directory) -> None:
        with pytest.raises(NotFound) as exc_info:
            d.modify(dn("CN=ghost"), [Change.replace(M, "x")])
        assert_error(exc_info, NotFound, dn("CN=ghost"))

    @pytest.mark.parametrize("attr", ["objectGUID", "objectSid", "memberOf", "distinguishedName"])
    @pytest.mark.parametrize("op", ["add", "delete", "replace"])
    def test_identity_and_computed_attributes_cannot_be_modified(
        self, d: Directory, user: DN, attr: str, op: str
    ) -> None:
        before = d.get(user)
        value = {"objectGUID": str(uuid.uuid4()), "objectSid": "S-1-5-21-1-2-3-4"}.get(attr, str(NC))
        with pytest.raises(InvalidArgument) as exc_info:
            d.modify(user, [getattr(Change, op)(attr, value)])
        assert_error(exc_info, InvalidArgument, attr)
        after = d.get(user)
        assert (after.guid, after.sid) == (before.guid, before.sid)


# --- member / memberOf ----------------------------------------------------------------------------


class TestMembership:
    @pytest.fixture
    def people(self, d: Directory) -> Directory:
        add_ou(d, dn("OU=People"))
        add_user(d, dn("CN=u1,OU=People"))
        add_user(d, dn("CN=u2,OU=People"))
        add_group(d, dn("CN=g1"), " cn=U1 ,  ou=people,DC=EXAMPLE, dc=com", dn("CN=u2,OU=People"))
        add_group(d, dn("CN=g2"), dn("CN=u1,OU=People"))
        return d

    def test_member_of_is_computed(self, people: Directory) -> None:
        u1, u2 = dn("CN=u1,OU=People"), dn("CN=u2,OU=People")
        assert dnset(people.get(u1).get("memberOf")) == {dn("CN=g1"), dn("CN=g2")}
        assert len(people.get(u1).get("memberOf")) == 2
        assert dnset(people.get(u2).get("memberOf")) == {dn("CN=g1")}
        assert set(people.member_of(u1)) == {dn("CN=g1"), dn("CN=g2")}
        assert set(people.member_of(DN.parse("CN=U2,OU=PEOPLE,DC=example,DC=com"))) == {dn("CN=g1")}
        assert people.get(dn("CN=g1")).get("memberOf") == ()
        assert people.member_of(dn("CN=g1")) == []
        by_search = {e.dn: e for e in people.search(dn("OU=People"))}
        assert dnset(by_search[u1].get("memberOf")) == {dn("CN=g1"), dn("CN=g2")}
        assert dnset(by_search[u2].get("memberOf")) == {dn("CN=g1")}
        assert by_search[dn("OU=People")].get("memberOf") == ()

    def test_member_of_filter(self, people: Directory) -> None:
        u1, u2 = dn("CN=u1,OU=People"), dn("CN=u2,OU=People")
        found = set(dns(people.search(NC, Scope.SUBTREE, f.eq("memberOf", str(dn("CN=g1"))))))
        assert found == {u1, u2}
        variant = "cn=G2 , dc=Example,DC=COM"
        assert set(dns(people.search(NC, Scope.SUBTREE, f.eq("memberOf", variant)))) == {u1}
        assert set(dns(people.search(NC, Scope.SUBTREE, f.present("memberOf")))) == {u1, u2}
        assert people.search(NC, Scope.SUBTREE, f.eq("memberOf", str(dn("CN=nogroup")))) == []
        combined = f.and_(f.eq("memberOf", variant), f.present("objectClass"))
        assert set(dns(people.search(NC, Scope.SUBTREE, combined))) == {u1}

    def test_member_of_filter_combined_with_ordering(self, people: Directory) -> None:
        u1 = dn("CN=u1,OU=People")
        people.modify(u1, [Change.add(N, "5")])
        flt = f.and_(f.eq("memberOf", "cn=G2 , dc=Example,DC=COM"), f.GreaterOrEqual(N, "1"))
        assert set(dns(people.search(NC, Scope.SUBTREE, flt))) == {u1}

    def test_member_filter_compares_dns(self, people: Directory) -> None:
        found = people.search(NC, Scope.SUBTREE, f.eq("member", "CN=U1,OU=People , DC=example,DC=com"))
        assert set(dns(found)) == {dn("CN=g1"), dn("CN=g2")}

    def test_member_values_compare_as_dns(self, people: Directory) -> None:
        g1 = dn("CN=g1")
        with pytest.raises(AlreadyExists) as exc_info:
            people.modify(g1, [Change.add("member", "CN=U1,OU=PEOPLE,DC=example,DC=com")])
        assert_error(exc_info, AlreadyExists, "member", "CN=U1,OU=PEOPLE,DC=example,DC=com", g1)
        people.modify(g1, [Change.delete("member", "cn=u1, ou=People, dc=example, dc=com")])
        assert dnset(people.get(g1).get("member")) == {dn("CN=u2,OU=People")}
        assert set(people.member_of(dn("CN=u1,OU=People"))) == {dn("CN=g2")}
        people.modify(
            g1, [Change.replace("member", str(dn("CN=u1,OU=People")), "cn=U1,ou=People,dc=example,dc=com")]
        )
        assert len(people.get(g1).get("member")) == 1

    def test_deleting_a_member_removes_it_from_groups(self, people: Directory) -> None:
        u1 = dn("CN=u1,OU=People")
        people.delete(u1)
        assert dnset(people.get(dn("CN=g1")).get("member")) == {dn("CN=u2,OU=People")}
        assert people.get(dn("CN=g2")).get("member") == ()
        add_user(people, u1)  # a new object under the old DN inherits nothing
        assert people.member_of(u1) == []
        assert people.get(u1).get("memberOf") == ()

    def test_deleting_a_group_removes_member_of(self, people: Directory) -> None:
        people.delete(dn("CN=g2"))
        assert set(people.member_of(dn("CN=u1,OU=People"))) == {dn("CN=g1")}
        assert dnset(people.get(dn("CN=u1,OU=People")).get("memberOf")) == {dn("CN=g1")}

    def test_token_groups_are_transitive_and_cycle_safe(self, people: Directory) -> None:
        u1, u2 = dn("CN=u1,OU=People"), dn("CN=u2,OU=People")
        sid = {name: people.get(dn(f"CN={name}")).sid for name in ("g1", "g2")}
        assert people.token_groups(u1) == {sid["g1"], sid["g2"]}
        assert people.token_groups(u2) == {sid["g1"]}
        outer = add_group(people, dn("CN=outer"), dn("CN=g1"))
        top = add_group(people, dn("CN=top"), outer)
        people.modify(outer, [Change.add("member", str(top))])  # a cycle: outer ∋ top ∋ outer
        nested = {people.get(outer).sid, people.get(top).sid}
        assert people.token_groups(u2) == {sid["g1"], *nested}
        assert people.token_groups(outer) == {people.get(top).sid}
        assert people.token_groups(dn("OU=People")) == frozenset()
        people.modify(dn("CN=g1"), [Change.delete("member", str(u2))])
        assert people.token_groups(u2) == frozenset()


# --- delete ---------------------------------------------------------------------------------------


class TestDelete:
    def test_delete_leaf(self, d: Directory) -> None:
        add_ou(d, dn("OU=A"))
        add_user(d, dn("CN=u,OU=A"))
        d.delete(DN.parse("cn=U,ou=a,dc=example,dc=com"))
        assert not d.exists(dn("CN=u,OU=A"))
        assert dns(d.search(dn("OU=A"))) == [dn("OU=A")]

    def test_delete_with_children_is_not_empty(self, d: Directory) -> None:
        add_ou(d, dn("OU=A"))
        add_user(d, dn("CN=u,OU=A"))
        with pytest.raises(NotEmpty) as exc_info:
            d.delete(dn("OU=A"))
        assert_error(exc_info, NotEmpty, dn("OU=A"))
        assert d.exists(dn("OU=A")) and d.exists(dn("CN=u,OU=A"))

    def test_delete_missing_is_not_found(self, d: Directory) -> None:
        with pytest.raises(NotFound) as exc_info:
            d.delete(dn("CN=ghost"))
        assert_error(exc_info, NotFound, dn("CN=ghost"))

    def test_delete_frees_the_dn(self, d: Directory) -> None:
        add_user(d, dn("CN=u"))
        guid = d.get(dn("CN=u")).guid
        d.delete(dn("CN=u"))
        add_user(d, dn("CN=u"))
        assert d.get(dn("CN=u")).guid != guid


# --- move -----------------------------------------------------------------------------------------


class TestMove:
    @pytest.fixture
    def moving(self, d: Directory) -> Directory:
        add_ou(d, dn("OU=A"))
        add_ou(d, dn("OU=Sub,OU=A"))
        add_user(d, dn("CN=u1,OU=Sub,OU=A"), description=["deep"])
        add_user(d, dn("CN=u2,OU=A"))
        add_ou(d, dn("OU=B"))
        add_group(d, dn("CN=g"), dn("CN=u1,OU=Sub,OU=A"), dn("CN=u2,OU=A"), dn("OU=B"))
        add_group(d, dn("CN=inner,OU=A"), dn("OU=B"), dn("CN=u2,OU=A"))
        return d

    def test_rename_leaf(self, moving: Directory) -> None:
        old, new = dn("CN=u2,OU=A"), dn("CN=renamed,OU=A")
        guid = moving.get(old).guid
        moving.move(old, new)
        assert not moving.exists(old)
        entry = moving.get(new)
        assert entry.guid == guid
        assert entry.dn.rdn_value == "renamed"
        assert dnset(moving.get(dn("CN=g")).get("member")) == {
            dn("CN=u1,OU=Sub,OU=A"),
            new,
            dn("OU=B"),
        }
        assert set(moving.member_of(new)) == {dn("CN=g"), dn("CN=inner,OU=A")}
        assert moving.member_of(old) == []

    def test_move_subtree(self, moving: Directory) -> None:
        guids = {e.dn: e.guid for e in moving.search(dn("OU=A"))}
        moving.move(dn("OU=A"), dn("OU=A2,OU=B"))
        with pytest.raises(NotFound):
            moving.search(dn("OU=A"))
        assert not moving.exists(dn("CN=u1,OU=Sub,OU=A"))
        moved = moving.search(dn("OU=A2,OU=B"))
        assert_parents_first(moved)
        expected = {
            dn("OU=A2,OU=B"),
            dn("OU=Sub,OU=A2,OU=B"),
            dn("CN=u1,OU=Sub,OU=A2,OU=B"),
            dn("CN=u2,OU=A2,OU=B"),
            dn("CN=inner,OU=A2,OU=B"),
        }
        assert set(dns(moved)) == expected
        old_of = {
            dn("OU=A2,OU=B"): dn("OU=A"),
            dn("OU=Sub,OU=A2,OU=B"): dn("OU=Sub,OU=A"),
            dn("CN=u1,OU=Sub,OU=A2,OU=B"): dn("CN=u1,OU=Sub,OU=A"),
            dn("CN=u2,OU=A2,OU=B"): dn("CN=u2,OU=A"),
            dn("CN=inner,OU=A2,OU=B"): dn("CN=inner,OU=A"),
        }
        for entry in moved:
            assert entry.guid == guids[old_of[entry.dn]]
        assert moving.get(dn("CN=u1,OU=Sub,OU=A2,OU=B")).first("description") == "deep"
        # the subtree is where it says: under OU=B, one level below OU=A2, and searchable
        assert set(dns(moving.search(dn("OU=B"), Scope.ONELEVEL))) == {dn("OU=A2,OU=B")}
        assert set(dns(moving.search(dn("OU=A2,OU=B"), Scope.ONELEVEL))) == {
            dn("OU=Sub,OU=A2,OU=B"),
            dn("CN=u2,OU=A2,OU=B"),
            dn("CN=inner,OU=A2,OU=B"),
        }
        assert dn("OU=A2,OU=B") not in dns(moving.search(NC, Scope.ONELEVEL))
        assert dns(moving.search(NC, Scope.SUBTREE, f.eq("description", "deep"))) == [
            dn("CN=u1,OU=Sub,OU=A2,OU=B")
        ]
        # member values pointing into the subtree follow; others stay
        assert dnset(moving.get(dn("CN=g")).get("member")) == {
            dn("CN=u1,OU=Sub,OU=A2,OU=B"),
            dn("CN=u2,OU=A2,OU=B"),
            dn("OU=B"),
        }
        assert dnset(moving.get(dn("CN=inner,OU=A2,OU=B")).get("member")) == {
            dn("OU=B"),
            dn("CN=u2,OU=A2,OU=B"),
        }
        assert set(moving.member_of(dn("CN=u2,OU=A2,OU=B"))) == {dn("CN=g"), dn("CN=inner,OU=A2,OU=B")}
        assert moving.search(NC, Scope.SUBTREE, f.eq("member", str(dn("CN=u2,OU=A")))) == []
        # the moved tree keeps working: children can be added, leaves deleted
        add_user(moving, dn("CN=u3,OU=Sub,OU=A2,OU=B"))
        moving.delete(dn("CN=u1,OU=Sub,OU=A2,OU=B"))
        with pytest.raises(NotEmpty):
            moving.delete(dn("OU=A2,OU=B"))
        # and the old place is free again
        add_ou(moving, dn("OU=A"))
        assert dns(moving.search(dn("OU=A"))) == [dn("OU=A")]

    def test_move_below_itself_is_refused(self, moving: Directory) -> None:
        with pytest.raises(InvalidArgument) as exc_info:
            moving.move(dn("OU=A"), dn("OU=X,OU=Sub,OU=A"))
        assert_error(exc_info, InvalidArgument, dn("OU=A"))
        assert moving.exists(dn("CN=u1,OU=Sub,OU=A"))

    def test_target_exists_is_already_exists(self, moving: Directory) -> None:
        with pytest.raises(AlreadyExists) as exc_info:
            moving.move(dn("CN=u2,OU=A"), DN.parse("cn=G,dc=example,dc=com"))
        assert_error(exc_info, AlreadyExists, dn("CN=g"))
        assert moving.exists(dn("CN=u2,OU=A"))

    def test_missing_source_or_target_parent_is_not_found(self, moving: Directory) -> None:
        with pytest.raises(NotFound) as exc_info:
            moving.move(dn("CN=ghost"), dn("CN=ghost2"))
        assert_error(exc_info, NotFound, dn("CN=ghost"))
        with pytest.raises(NotFound) as exc_info:
            moving.move(dn("CN=u2,OU=A"), dn("CN=u2,OU=Nowhere"))
        assert_error(exc_info, NotFound, dn("OU=Nowhere"))
        assert moving.exists(dn("CN=u2,OU=A"))

    def test_prefix_sibling_is_not_moved(self, moving: Directory) -> None:
        add_ou(moving, dn("OU=AB"))
        add_user(moving, dn("CN=x,OU=AB"))
        moving.move(dn("OU=A"), dn("OU=A2,OU=B"))
        assert moving.exists(dn("CN=x,OU=AB"))
        assert dns(moving.search(dn("OU=AB"))) == [dn("OU=AB"), dn("CN=x,OU=AB")]


# --- uniqueness -----------------------------------------------------------------------------------


UNIQUE_CASES = [
    ("sAMAccountName", "jdoe", "JDOE"),
    ("userPrincipalName", "jdoe@example.com", "JDoe@Example.COM"),
    ("proxyAddresses", "SMTP:a@x.com", "smtp:A@X.com"),
    # look-alikes: full-width and compatibility forms fold (NFKC + casefold) to the same key
    ("sAMAccountName", "jdoe", "ＪＤＯＥ"),
    ("userPrincipalName", "jdoe@example.com", "ｊｄｏｅ@example.com"),
    ("proxyAddresses", "SMTP:a@x.com", "smtp:ａ@x.com"),
]


class TestUniqueness:
    @pytest.fixture
    def holder_dn(self, d: Directory) -> DN:
        add_ou(d, dn("OU=TenantOne"))
        add_ou(d, dn("OU=TenantTwo"))
        return add_user(
            d,
            dn("CN=Secret Holder,OU=TenantOne"),
            sAMAccountName=["jdoe"],
            userPrincipalName=["jdoe@example.com"],
            proxyAddresses=["SMTP:a@x.com", "smtp:b@x.com"],
        )

    def _check(self, exc_info: pytest.ExceptionInfo[MpsError], attr: str, value: str) -> None:
        exc = assert_error(
            exc_info, ConstraintViolation, hidden=["Secret Holder", "TenantOne", str(dn("OU=TenantOne"))]
        )
        fields = {k: str(v) for k, v in exc.fields.items() if k not in ("holder",)}
        assert fields.get("attr", "").lower() == attr.lower(), exc.fields
        assert fields.get("value", "").casefold() == value.casefold(), exc.fields
        assert attr.lower() in exc.description.lower()

    @pytest.mark.parametrize(("attr", "value", "variant"), UNIQUE_CASES)
    def test_on_add(self, d: Directory, holder_dn: DN, attr: str, value: str, variant: str) -> None:
        other = dn("CN=other,OU=TenantTwo")
        with pytest.raises(ConstraintViolation) as exc_info:
            add_user(d, other, **{attr: [variant]})
        self._check(exc_info, attr, variant)

    @pytest.mark.parametrize(("attr", "value", "variant"), UNIQUE_CASES)
    def test_on_modify_add(self, d: Directory, holder_dn: DN, attr: str, value: str, variant: str) -> None:
        other = add_user(d, dn("CN=other,OU=TenantTwo"))
        with pytest.raises(ConstraintViolation) as exc_info:
            d.modify(other, [Change.add(attr, variant)])
        self._check(exc_info, attr, variant)

    @pytest.mark.parametrize(("attr", "value", "variant"), UNIQUE_CASES)
    def test_on_modify_replace(
        self, d: Directory, holder_dn: DN, attr: str, value: str, variant: str
    ) -> None:
        other = add_user(d, dn("CN=other,OU=TenantTwo"), **{attr: ["mine-" + value]})
        with pytest.raises(ConstraintViolation) as exc_info:
            d.modify(other, [Change.replace(attr, variant)])
        self._check(exc_info, attr, variant)

    @pytest.mark.parametrize("how", ["add", "modify-add", "modify-replace"])
    def test_refused_unique_value_changes_nothing(self, d: Directory, holder_dn: DN, how: str) -> None:
        """A write refused for a taken value leaves the directory as it was."""
        other = dn("CN=other,OU=TenantTwo")
        if how != "add":
            add_user(d, other, userPrincipalName=["mine@example.com"], description=["before"])
        before = d.get(other) if how != "add" else None
        with pytest.raises(ConstraintViolation):
            if how == "add":
                add_user(d, other, userPrincipalName=["JDOE@example.com"])
            elif how == "modify-add":
                d.modify(other, [Change.add("userPrincipalName", "JDOE@example.com")])
            else:
                d.modify(other, [Change.replace("userPrincipalName", "JDOE@example.com")])
        if before is None:
            assert not d.exists(other)
        else:
            after = d.get(other)
            assert after.get("userPrincipalName") == ("mine@example.com",)
            assert after.attributes == before.attributes
        assert d.holder("userPrincipalName", "jdoe@example.com") == holder_dn
        assert d.holder("userPrincipalName", "mine@example.com") == (None if before is None else other)

    @pytest.mark.parametrize(("attr", "value", "variant"), UNIQUE_CASES)
    def test_holder(self, d: Directory, holder_dn: DN, attr: str, value: str, variant: str) -> None:
        assert d.holder(attr, variant) == holder_dn
        assert d.holder(attr.upper(), value) == holder_dn
        assert d.holder(attr, "nobody-" + value) is None

    def test_find_holder_reads_only_the_attributes_asked_for(self, d: Directory, holder_dn: DN) -> None:
        d.modify(holder_dn, [Change.add("description", "kept out")])
        found = d.find_holder("userPrincipalName", "JDOE@EXAMPLE.COM", attributes=("sAMAccountName", "CN"))
        assert found is not None and found.dn == holder_dn
        whole = d.get(holder_dn)
        assert found.get("samaccountname") == whole.get("sAMAccountName")
        assert found.get("cn") == whole.get("cn")
        assert (found.sid, found.guid) == (whole.sid, whole.guid) != ("", "")
        assert found.get("description") == () and found.get("memberOf") == ()
        assert d.find_holder("userPrincipalName", "nobody@example.com", attributes=("cn",)) is None
        bare = d.find_holder("sAMAccountName", "jdoe", attributes=("telephoneNumber",))
        assert bare is not None and bare.dn == holder_dn and bare.get("telephoneNumber") == ()

    def test_the_taken_one_of_several_values_is_named(self, d: Directory, holder_dn: DN) -> None:
        """Free values beside a taken one (one search asks for all of them where the backend checks
        itself): the error names the taken value, and the entry is not added."""
        other = dn("CN=other,OU=TenantTwo")
        with pytest.raises(ConstraintViolation) as exc_info:
            add_user(
                d,
                other,
                userPrincipalName=["free@example.com"],
                sAMAccountName=["free"],
                proxyAddresses=["SMTP:free@x.com", "smtp:b@X.com"],
            )
        assert_error(exc_info, ConstraintViolation, "smtp:b@X.com")
        assert not d.exists(other)
        assert d.holder("userPrincipalName", "free@example.com") is None

    def test_holder_of_second_proxy_address(self, d: Directory, holder_dn: DN) -> None:
        assert d.holder("proxyaddresses", "SMTP:B@X.COM") == holder_dn

    def test_owner_may_rewrite_its_own_values(self, d: Directory, holder_dn: DN) -> None:
        d.modify(holder_dn, [Change.replace("proxyAddresses", "smtp:a@x.com", "SMTP:c@x.com")])
        d.modify(holder_dn, [Change.replace("sAMAccountName", "JDOE")])
        assert d.holder("proxyAddresses", "smtp:c@x.com") == holder_dn
        assert d.holder("proxyAddresses", "smtp:b@x.com") is None
        assert d.get(holder_dn).get("sAMAccountName") == ("JDOE",)

    def test_value_is_free_after_delete_or_modify(self, d: Directory, holder_dn: DN) -> None:
        d.modify(holder_dn, [Change.delete("proxyAddresses", "smtp:B@x.com")])
        add_user(d, dn("CN=second,OU=TenantTwo"), proxyAddresses=["smtp:b@x.com"])
        assert d.holder("proxyAddresses", "smtp:b@x.com") == dn("CN=second,OU=TenantTwo")
        d.delete(holder_dn)
        assert d.holder("userPrincipalName", "jdoe@example.com") is None
        add_user(d, dn("CN=third,OU=TenantTwo"), userPrincipalName=["JDOE@example.com"])
        assert d.holder("userPrincipalName", "jdoe@example.com") == dn("CN=third,OU=TenantTwo")

    def test_values_of_different_attributes_do_not_collide(self, d: Directory, holder_dn: DN) -> None:
        add_user(d, dn("CN=other,OU=TenantTwo"), description=["jdoe"], mail=["jdoe@example.com"])
        # (not a UPN without '@' beside the account name: AD takes one for the other)
        add_user(d, dn("CN=third,OU=TenantTwo"), proxyAddresses=["jdoe"], sAMAccountName=["jdoe@example.com"])
        assert d.holder("proxyAddresses", "jdoe") == dn("CN=third,OU=TenantTwo")
        assert d.holder("sAMAccountName", "jdoe@example.com") == dn("CN=third,OU=TenantTwo")
        assert d.holder("description", "jdoe") == dn("CN=other,OU=TenantTwo")

    def test_non_unique_attributes_may_repeat(self, d: Directory, holder_dn: DN) -> None:
        add_user(d, dn("CN=a,OU=TenantTwo"), mail=["same@example.com"], displayName=["Same"])
        add_user(d, dn("CN=b,OU=TenantTwo"), mail=["SAME@example.com"], displayName=["Same"])
        assert len(d.search(NC, Scope.SUBTREE, f.eq("mail", "same@example.com"))) == 2


# --- a model-based property test ------------------------------------------------------------------


NAMES = ["a", "A", "b", "ab"]
VALUES = ["x", "X", "y", "z"]

_index = st.integers(min_value=0, max_value=30)
_op = st.one_of(
    st.tuples(st.just("add"), _index, st.sampled_from(NAMES)),
    st.tuples(st.just("add_value"), _index, st.sampled_from(VALUES)),
    st.tuples(st.just("delete_value"), _index, st.sampled_from(VALUES)),
    st.tuples(st.just("delete_all"), _index),
    st.tuples(st.just("replace"), _index, st.lists(st.sampled_from(VALUES), max_size=3)),
    st.tuples(st.just("delete"), _index),
    st.tuples(st.just("move"), _index, _index, st.sampled_from(NAMES)),
)


class Model:
    """The directory as a dict: DN → casefolded description values."""

    def __init__(self) -> None:
        self.entries: dict[DN, set[str]] = {NC: set()}

    def pick(self, index: int) -> DN:
        ordered = sorted(self.entries, key=lambda x: x.norm)
        return ordered[index % len(ordered)]

    def has_children(self, target: DN) -> bool:
        return any(len(x) == len(target) + 1 and x.is_within(target) for x in self.entries)

    def move(self, old: DN, new: DN) -> None:
        depth = len(old)
        moved: dict[DN, set[str]] = {}
        for key, values in self.entries.items():
            if key.is_within(old):
                moved[DN(key.rdns[: len(key) - depth] + new.rdns)] = values
            else:
                moved[key] = values
        self.entries = moved


def _apply(d: Directory, model: Model, op: tuple) -> None:  # type: ignore[type-arg]
    kind = op[0]
    if kind == "add":
        target = model.pick(op[1]).child("OU", op[2])
        if target in model.entries:
            with pytest.raises(AlreadyExists):
                add_ou(d, target)
        else:
            add_ou(d, target)
            model.entries[target] = set()
        return
    target = model.pick(op[1])
    values = model.entries[target]
    if kind == "add_value":
        if op[2].casefold() in values:
            with pytest.raises(AlreadyExists):
                d.modify(target, [Change.add("description", op[2])])
        else:
            d.modify(target, [Change.add("description", op[2])])
            values.add(op[2].casefold())
    elif kind == "delete_value":
        if op[2].casefold() in values:
            d.modify(target, [Change.delete("description", op[2])])
            values.discard(op[2].casefold())
        else:
            with pytest.raises(ConstraintViolation):
                d.modify(target, [Change.delete("description", op[2])])
    elif kind == "delete_all":
        d.modify(target, [Change.delete("description")])
        values.clear()
    elif kind == "replace":
        d.modify(target, [Change.replace("description", *op[2])])
        values.clear()
        values.update(v.casefold() for v in op[2])
    elif kind == "delete":
        if target == NC:
            return
        if model.has_children(target):
            with pytest.raises(NotEmpty):
                d.delete(target)
        else:
            d.delete(target)
            del model.entries[target]
    elif kind == "move":
        if target == NC:
            return
        new = model.pick(op[2]).child("OU", op[3])
        if new in model.entries:
            with pytest.raises((AlreadyExists, InvalidArgument)):
                d.move(target, new)
        elif new.is_within(target):
            with pytest.raises(InvalidArgument):
                d.move(target, new)
        else:
            d.move(target, new)
            model.move(target, new)


def _check_model(d: Directory, model: Model) -> None:
    found = d.search(NC, Scope.SUBTREE)
    assert_parents_first(found)
    assert len(found) == len(model.entries)
    assert {e.dn: folded(e.get("description")) for e in found} == model.entries
    with_x = {e.dn for e in d.search(NC, Scope.SUBTREE, f.eq("description", "X"))}
    assert with_x == {k for k, v in model.entries.items() if "x" in v}
    for key in model.entries:
        assert d.exists(key)
        children = {x for x in model.entries if len(x) == len(key) + 1 and x.is_within(key)}
        assert set(dns(d.search(key, Scope.ONELEVEL))) == children


@settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(ops=st.lists(_op, max_size=20))
def test_random_operations_match_a_model(backend_factory: object, ops: list[tuple]) -> None:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as tmp, backend_factory.open(Path(tmp)) as opened:  # type: ignore[attr-defined]
        d: Directory = opened.directory
        make_nc(d)
        model = Model()
        for op in ops:
            _apply(d, model, op)
            _check_model(d, model)
