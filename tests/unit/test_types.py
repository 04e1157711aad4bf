"""Unit tests for openmps.types: DN, Upn, Secret, DNS names."""

from __future__ import annotations

import functools
import operator
import uuid
from collections.abc import Callable

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from openmps.errors import InvalidArgument
from openmps.types import (
    _PLAIN_DN,
    DN,
    Secret,
    Upn,
    _parse_cached,
    _parse_dn,
    escape_dn_value,
    fold,
    is_valid_dns_name,
    new_guid,
)
from openmps.types import (
    shown as quoted,
)

BASE = DN.parse("OU=Hosting,DC=fabrikam,DC=com")


def _rejects(call: Callable[..., object], *args: str) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as info:
        call(*args)
    return info.value


# --- parsing and rendering ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "CN=Alice,OU=Hosting,DC=fabrikam,DC=com",
        "CN=a\\,b,OU=x",
        "CN=a+UID=b,OU=x",
        "CN=\\#hash,OU=x",
        "CN=\\ lead and trail\\ ,OU=x",
        'CN=\\"q\\"\\+\\;\\<\\>\\\\,OU=x',
        "CN=a=b,OU=x",
        "CN=Zoë/Ünïcode,DC=x",
        "2.5.4.3=oid,DC=x",
        "CN=,DC=x",
        "CN=a\\0Ab,DC=x",
    ],
)
def test_parse_str_round_trip(text: str) -> None:
    dn = DN.parse(text)
    assert str(dn) == text
    assert DN.parse(str(dn)) == dn
    assert DN.parse(str(dn)).rdns == dn.rdns


def test_escaped_comma_stays_in_one_rdn() -> None:
    dn = DN.parse("CN=a\\,b,OU=x")
    assert len(dn) == 2
    assert dn.rdn_attr == "CN"
    assert dn.rdn_value == "a,b"


def test_multi_valued_rdn() -> None:
    dn = DN.parse("CN=a + UID=b,OU=x")
    assert dn.rdns[0] == (("CN", "a"), ("UID", "b"))
    assert dn == DN.parse("uid=B+cn=A,ou=X")  # AVA order does not matter for equality


def test_hex_escapes_are_utf8() -> None:
    assert DN.parse("CN=\\C3\\A9t\\c3\\a9,DC=x").rdn_value == "été"
    assert DN.parse("CN=a\\2Cb,DC=x").rdn_value == "a,b"
    assert DN.parse("CN=a\\2Cb,DC=x") == DN.parse("CN=a\\,b,DC=x")


def test_spaces_are_tolerated_as_ad_does() -> None:
    dn = DN.parse("  CN = Alice Smith ,  OU = Hosting  , DC=com ")
    assert dn.rdns == ((("CN", "Alice Smith"),), (("OU", "Hosting"),), (("DC", "com"),))
    # escaped or hex-escaped edge spaces are kept
    assert DN.parse("CN=\\ a\\ ,DC=x").rdn_value == " a "
    assert DN.parse("CN=a\\20 ,DC=x").rdn_value == "a "


def test_root_dn() -> None:
    root = DN.parse("")
    assert len(root) == 0
    assert not root
    assert str(root) == ""
    assert root == DN(())
    assert list(root.ancestors()) == []
    assert root.relative_key() == ""
    with pytest.raises(InvalidArgument):
        _ = root.parent


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("plain", "plain"),
        ('a"b', 'a\\"b'),
        ("a+b", "a\\+b"),
        ("a,b", "a\\,b"),
        ("a;b", "a\\;b"),
        ("a<b>", "a\\<b\\>"),
        ("a\\b", "a\\\\b"),
        ("#a#", "\\#a#"),
        (" a ", "\\ a\\ "),
        (" ", "\\ "),
        ("a  b", "a  b"),
        ("a\x00b", "a\\00b"),
        ("a\nb\x7f", "a\\0Ab\\7F"),
        ("a=b/c", "a=b/c"),
        ("", ""),
    ],
)
def test_escape_dn_value(value: str, escaped: str) -> None:
    assert escape_dn_value(value) == escaped


def test_equality_is_case_insensitive() -> None:
    a = DN.parse("OU=Hosting,DC=fabrikam,DC=Com")
    b = DN.parse("ou=hosting,dc=FABRIKAM,dc=com")
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    assert a.norm == "ou=hosting,dc=fabrikam,dc=com"
    assert str(a) == "OU=Hosting,DC=fabrikam,DC=Com"  # rendering keeps the case as written
    assert a != DN.parse("OU=Hosting2,DC=fabrikam,DC=com")
    assert a != "OU=Hosting,DC=fabrikam,DC=Com"


def test_repr_shows_the_dn() -> None:
    assert repr(DN.parse("CN=a,DC=x")) == "DN('CN=a,DC=x')"


# --- safe construction ----------------------------------------------------------------------------


def test_child_cannot_inject_an_rdn() -> None:
    dn = DN.parse("OU=x").child("CN", "evil,OU=Hosting")
    assert len(dn) == 2
    assert str(dn) == "CN=evil\\,OU=Hosting,OU=x"
    assert DN.parse(str(dn)) == dn
    assert not dn.is_within(DN.parse("OU=Hosting,OU=x"))


def test_child_with_filter_syntax_round_trips() -> None:
    dn = BASE.child("CN", "*)(objectClass=*")
    assert DN.parse(str(dn)).rdn_value == "*)(objectClass=*"
    assert dn.parent == BASE


def test_child_rejects_nul_and_bad_attribute() -> None:
    err = _rejects(BASE.child, "CN", "a\x00b")
    assert "a\\x00b" in err.description
    err = _rejects(BASE.child, "C N", "x")
    assert "C N" in err.description


@given(st.text(st.characters(exclude_characters="\x00")) | st.text(' ,+#\\"=;<>/\x01a'))
def test_child_round_trips_any_value(value: str) -> None:
    dn = BASE.child("CN", value)
    parsed = DN.parse(str(dn))
    assert parsed.rdn_value == value
    assert len(parsed) == len(BASE) + 1
    assert parsed == dn
    assert DN.from_path(dn.ldap_path).rdn_value == value


_PLAIN_VALUE = st.text(st.characters(exclude_characters=',+"\\<>;=\x00'), min_size=1)


@given(st.lists(st.tuples(st.sampled_from(["CN", "ou", "DC", "x-1"]), _PLAIN_VALUE), min_size=1, max_size=4))
def test_the_plain_dn_shortcut_parses_as_the_full_parser_does(pairs: list[tuple[str, str]]) -> None:
    text = ",".join(f"{a}={v}" for a, v in pairs)
    assume(_PLAIN_DN.fullmatch(text))
    parsed, full = _parse_cached(text), DN(_parse_dn(text))
    assert (parsed.rdns, parsed.norm, str(parsed)) == (full.rdns, full.norm, str(full))


@given(st.tuples(st.text(), st.text()).map("\x00".join))
def test_nul_values_are_rejected(value: str) -> None:
    with pytest.raises(InvalidArgument):
        BASE.child("CN", value)


# --- hierarchy ------------------------------------------------------------------------------------


def test_parent_rdn_and_ancestors() -> None:
    dn = DN.parse("CN=Alice,OU=Hosting,DC=fabrikam,DC=com")
    assert dn.parent == DN.parse("OU=Hosting,DC=fabrikam,DC=com")
    assert dn.rdn_attr == "CN"
    assert dn.rdn_value == "Alice"
    assert [str(a) for a in dn.ancestors()] == [
        "OU=Hosting,DC=fabrikam,DC=com",
        "DC=fabrikam,DC=com",
        "DC=com",
    ]
    assert DN.parse("DC=com").parent == DN.parse("")


def test_is_within() -> None:
    user = DN.parse("CN=Alice,OU=Hosting,DC=fabrikam,DC=com")
    assert user.is_within(BASE)
    assert user.is_within(DN.parse("ou=HOSTING,dc=fabrikam,dc=COM"), strict=True)
    assert BASE.is_within(BASE)
    assert not BASE.is_within(BASE, strict=True)
    assert not BASE.is_within(user)
    assert not DN.parse("OU=Hosting2,DC=fabrikam,DC=com").is_within(BASE)
    assert user.is_within(DN.parse(""))
    assert not DN.parse("").is_within(DN.parse(""), strict=True)


def test_relative_key_prefix_property() -> None:
    base = DN.parse("OU=A,DC=x")
    inside = [base, base.child("CN", "u1"), base.child("OU", "Sub").child("CN", "deep")]
    outside = [DN.parse("OU=AB,DC=x"), DN.parse("OU=A\\,B,DC=x"), DN.parse("DC=x"), DN.parse("OU=B,DC=x")]
    key = base.relative_key()
    assert key == "dc=x\x01ou=a\x01"
    for dn in inside:
        assert dn.relative_key().startswith(key)
    for dn in outside:
        assert not dn.relative_key().startswith(key)
    ordered = sorted(inside + outside, key=DN.relative_key)
    first = ordered.index(base)
    assert set(ordered[first : first + len(inside)]) == set(inside)
    assert DN.parse("ou=a,DC=X").relative_key() == key


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("CN=a,,OU=x", "empty RDN at position 5"),
        (",CN=a", "empty RDN at position 0"),
        ("CN=a,", "empty RDN at position 5"),
        ("   ", "empty RDN"),
        ("CN=a+,OU=x", "after '+'"),
        ("evil,,x", "missing '='"),
        ("CN", "missing '='"),
        ("=a,OU=x", "empty attribute type"),
        ("C N=a", "invalid attribute type"),
        ("1CN=a", "invalid attribute type"),
        ("C_N=a", "invalid attribute type"),
        ("2.5.=a", "invalid attribute type"),
        ("CN=a\x00b", "NUL"),
        ("CN=a\\00b", "NUL"),
        ("CN=a\\q", "bad escape"),
        ("CN=a\\4", "bad escape"),
        ("CN=a\\4g", "bad escape"),
        ("CN=a\\/b", "bad escape"),
        ("CN=a\\", "trailing backslash"),
        ("CN=\\ff", "UTF-8"),
        ("CN=#0403616263", "BER"),
        ('CN=a"b', "unescaped"),
        ("CN=a;OU=x", "unescaped"),
        ("CN=<a>", "unescaped"),
    ],
)
def test_parse_errors_name_the_input(text: str, reason: str) -> None:
    err = _rejects(DN.parse, text)
    shown = text.replace("\x00", "\\x00")
    assert f"'{shown}'" in err.description
    assert reason in err.description
    assert err.fields["text"] == text


def test_parse_rejects_too_long_and_non_strings() -> None:
    text = "CN=" + "a" * 4094
    assert len(text) == 4097
    err = _rejects(DN.parse, text)
    assert text[:100] in err.description
    assert "4096" in err.description
    DN.parse(text[:-1])  # exactly 4096 is fine
    with pytest.raises(InvalidArgument):
        DN.parse(None)  # type: ignore[arg-type]


def test_constructor_validates() -> None:
    with pytest.raises(InvalidArgument):
        DN(((),))
    with pytest.raises(InvalidArgument):
        DN(((("CN", "a\x00"),),))
    with pytest.raises(InvalidArgument):
        DN(((("bad type", "a"),),))


# --- ADSI paths -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "LDAP://CN=Alice,OU=Hosting,DC=fabrikam,DC=com",
        "ldap://CN=Alice,OU=Hosting,DC=fabrikam,DC=com",
        "LDAP://dc01/CN=Alice,OU=Hosting,DC=fabrikam,DC=com",
        "LDAP://dc01.fabrikam.com/CN=Alice,OU=Hosting,DC=fabrikam,DC=com",
        "LDAP://dc01.fabrikam.com:389/CN=Alice,OU=Hosting,DC=fabrikam,DC=com",
        "LDAP://10.0.0.1:636/CN=Alice,OU=Hosting,DC=fabrikam,DC=com",
        "LDAP:///CN=Alice,OU=Hosting,DC=fabrikam,DC=com",
        "CN=Alice,OU=Hosting,DC=fabrikam,DC=com",
    ],
)
def test_from_path(path: str) -> None:
    assert DN.from_path(path) == DN.parse("CN=Alice,OU=Hosting,DC=fabrikam,DC=com")


def test_from_path_slashes() -> None:
    assert DN.from_path("LDAP://CN=a\\/b,DC=x").rdn_value == "a/b"
    assert DN.from_path("LDAP://srv/CN=a\\/b,DC=x").rdn_value == "a/b"
    assert DN.from_path("LDAP://CN=a/b,DC=x").rdn_value == "a/b"
    assert DN.from_path("LDAP://CN=a\\\\\\/b,DC=x").rdn_value == "a\\/b"
    dn = BASE.child("CN", "a/b\\/c")
    assert dn.ldap_path == "LDAP://CN=a\\/b\\\\\\/c,OU=Hosting,DC=fabrikam,DC=com"
    assert DN.from_path(dn.ldap_path) == dn


def test_ldap_path() -> None:
    assert BASE.ldap_path == "LDAP://OU=Hosting,DC=fabrikam,DC=com"


@pytest.mark.parametrize(
    "path",
    [
        "LDAP://",
        "LDAP://dc01",
        "LDAP://dc01/",
        "LDAP://dc01:389/ ",
        "LDAP://bad_host/CN=a",
        "LDAP://h:99999/CN=a",
    ],
)
def test_from_path_errors(path: str) -> None:
    err = _rejects(DN.from_path, path)
    assert f"'{path}'" in err.description


def test_from_path_wraps_dn_errors() -> None:
    err = _rejects(DN.from_path, "LDAP://srv/CN=a,,DC=x")
    assert "'LDAP://srv/CN=a,,DC=x'" in err.description
    assert "empty RDN" in err.description


# --- UPN and DNS names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "admin@alpineskihouse.com",
        "first.last@sub.example.co.uk",
        "o'brien@x.com",
        "a_b-c+tag@x-y.com",
        "zoë@fabrikam.com",
        "1234@x.com",
        "a@x.co",
        "a@123.com",
        "x" * 64 + "@x.com",
    ],
)
def test_upn_valid(text: str) -> None:
    upn = Upn.parse(text)
    assert str(upn) == text
    assert upn.norm == text.casefold()
    assert Upn.parse(str(upn)) == upn


@pytest.mark.parametrize(
    "text",
    [
        "a@b",
        "@x.com",
        "a@",
        "a@@x.com",
        "a@b@x.com",
        "ax.com",
        "a b@x.com",
        "a\t@x.com",
        "a@-x.com",
        "a@x-.com",
        "a@x..com",
        "a@.x.com",
        "a@x.com.",
        "a@x.123",
        "a\x00@x.com",
        ".a@x.com",
        "a.@x.com",
        "a..b@x.com",
        "a(b)@x.com",
        "a,b@x.com",
        "a:b@x.com",
        "a;b@x.com",
        "a<b>@x.com",
        "a[b]@x.com",
        "a\\b@x.com",
        'a"b@x.com',
        "x" * 65 + "@x.com",
        "a@x_y.com",
        "a@" + "x" * 64 + ".com",
        "a@" + ".".join(["abcdefgh"] * 30) + ".com",
        "a@zoë.com",
        "",
    ],
)
def test_upn_invalid(text: str) -> None:
    err = _rejects(Upn.parse, text)
    shown = text.replace("\x00", "\\x00").replace("\t", "\\t")
    assert shown[:200] in err.description
    assert "user principal name" in err.description


def test_upn_too_long_and_constructor_validates() -> None:
    with pytest.raises(InvalidArgument):
        Upn.parse("a@" + "b" * 250 + ".com")
    with pytest.raises(InvalidArgument):
        Upn("a b", "x.com")
    assert Upn("Admin", "Fabrikam.com").norm == "admin@fabrikam.com"


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("fabrikam.com", True),
        ("mail.sub.fabrikam.co.uk", True),
        ("x-1.example", True),
        ("localhost", False),
        ("", False),
        ("-a.com", False),
        ("a..com", False),
        ("a.1", False),
        ("a b.com", False),
        ("a" * 64 + ".com", False),
        ("a" * 63 + ".com", True),
    ],
)
def test_is_valid_dns_name(name: str, valid: bool) -> None:
    assert is_valid_dns_name(name) is valid


# --- secrets --------------------------------------------------------------------------------------


def test_secret_never_shows_its_value() -> None:
    secret = Secret("hunter2")
    assert secret.reveal() == "hunter2"
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r}", f"{secret:>20}", format(secret)):
        assert "hunter2" not in shown
    assert repr(secret) == "Secret('********')"
    assert str(secret) == "********"
    assert "hunter2" not in repr([secret, {"password": secret}])


def test_secret_equality_and_unhashable() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert Secret("a") != "a"
    assert Secret("é") == Secret("é")
    with pytest.raises(TypeError):
        hash(Secret("a"))
    with pytest.raises(AttributeError):
        Secret("a").other = 1  # type: ignore[attr-defined]


@given(
    st.lists(
        st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=12), min_size=1, max_size=5
    )
)
def test_the_plain_dn_fast_path_agrees_with_the_full_parser(values: list[str]) -> None:
    from openmps.types import _parse_dn

    dn = DN.parse("DC=example")
    for value in values:
        dn = dn.child("CN", value)
    text = str(dn)
    assert DN.parse(text).rdns == DN(_parse_dn(text)).rdns == dn.rdns


def test_new_guids_are_random_version_4_uuids_in_their_canonical_text() -> None:
    drawn = [new_guid() for _ in range(2000)]
    assert len(set(drawn)) == len(drawn)
    for text in drawn:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)
    # every one of the 122 random bits turns up both ways
    ones = functools.reduce(operator.or_, (uuid.UUID(t).int for t in drawn))
    zeros = functools.reduce(operator.or_, (~uuid.UUID(t).int & (1 << 128) - 1 for t in drawn))
    assert bin(ones & zeros).count("1") == 122


# --- folding and quoting --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Admin", "admin"),
        ("ａｄｍｉｎ", "admin"),  # full width
        ("ＡＤＭＩＮ", "admin"),
        ("ﬁle", "file"),  # ligature
        ("Straße", "strasse"),
        ("Ａ\u0301", "á"),  # a combining accent composes
        ("ㅤ", "ᅠ"),  # compatibility Hangul filler
    ],
)
def test_fold_makes_look_alikes_one_key(text: str, folded: str) -> None:
    assert fold(text) == folded
    assert fold(fold(text)) == fold(text)


def test_look_alike_dns_and_upns_are_equal() -> None:
    assert DN.parse("CN=ａｄｍｉｎ,OU=Hosting,DC=fabrikam,DC=com") == BASE.child("CN", "Admin")
    assert BASE.child("CN", "ａ，b") == BASE.child("CN", "a,b")  # one RDN, the comma escaped in the key
    assert len(DN.parse("CN=ａ，b,DC=x,DC=com")) == 3
    assert Upn.parse("ａｄｍｉｎ@fabrikam.com").norm == Upn.parse("Admin@fabrikam.com").norm
    assert str(Upn.parse("ａｄｍｉｎ@fabrikam.com")) == "ａｄｍｉｎ@fabrikam.com"  # the form given is kept


def test_shown_cuts_long_input_and_escapes_controls() -> None:
    assert quoted("abc") == "'abc'"
    long = "x" * 1_000_000
    cut = quoted(long)
    assert cut == "'" + "x" * 64 + "'… (1000000 characters)"
    assert quoted("a\u202eb\x00") == "'a\\u202eb\\x00'"
