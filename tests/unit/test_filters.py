"""Unit tests for openmps.directory.filters: RFC 4515 parse, render, match."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openmps.directory.filters import (
    And,
    Approx,
    Equal,
    Filter,
    GreaterOrEqual,
    LessOrEqual,
    Not,
    Or,
    Present,
    Substring,
    and_,
    eq,
    escape_filter_value,
    matches,
    not_,
    or_,
    parse,
    present,
    render,
)
from openmps.errors import InvalidArgument

ENTRY = {
    "objectclass": ["top", "person", "user"],
    "cn": ["Alice Smith"],
    "mail": ["alice@fabrikam.com", "asmith@fabrikam.com"],
    "usnchanged": ["120"],
    "description": [],
}

NO_NUL = st.text(st.characters(exclude_characters="\x00"))
SPECIAL_TEXT = st.text("*()\\ =&|!a\u00e9")
ATTRS = st.sampled_from(["cn", "CN", "objectClass", "msExchHideFromAddressLists", "2.5.4.3", "cn;lang-en"])


# --- parsing --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(cn=a)", Equal("cn", "a")),
        ("cn=a", Equal("cn", "a")),
        ("(cn=*)", Present("cn")),
        ("(cn~=a)", Approx("cn", "a")),
        ("(cn>=a)", GreaterOrEqual("cn", "a")),
        ("(cn<=a)", LessOrEqual("cn", "a")),
        ("(cn=)", Equal("cn", "")),
        ("(cn=a*)", Substring("cn", "a", (), None)),
        ("(cn=*a)", Substring("cn", None, (), "a")),
        ("(cn=*a*)", Substring("cn", None, ("a",), None)),
        ("(cn=a*b*c*d)", Substring("cn", "a", ("b", "c"), "d")),
        ("(cn=a=b)", Equal("cn", "a=b")),
        ("(cn=a:=b)", Equal("cn", "a:=b")),
        ("(cn= spaced )", Equal("cn", " spaced ")),
        ("(cn=\\2a\\28\\29\\5c)", Equal("cn", "*()\\")),
        ("(cn=\\C3\\A9t\\c3\\a9)", Equal("cn", "été")),
        ("(cn=\\e2\\82\\ac)", Equal("cn", "€")),
        ("(2.5.4.3=x)", Equal("2.5.4.3", "x")),
        ("(userCertificate;binary=*)", Present("userCertificate;binary")),
        ("(&)", And(())),
        ("(|)", Or(())),
        (
            "(&(a=b)(|(c=d)(!(e=*))))",
            And((Equal("a", "b"), Or((Equal("c", "d"), Not(Present("e")))))),
        ),
        ("  (&(a=b) (c=d) )  ", And((Equal("a", "b"), Equal("c", "d")))),
        ("(! (a=b) )", Not(Equal("a", "b"))),
    ],
)
def test_parse(text: str, expected: Filter) -> None:
    assert parse(text) == expected
    assert parse(render(expected)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "(cn=a)",
        "(&(objectClass=user)(|(cn=a*)(mail=*@fabrikam.com))(!(msExchHideFromAddressLists=TRUE)))",
        "(cn=\\2a\\28\\29\\5c)",
        "(uSNChanged>=100)",
        "(uSNChanged<=100)",
        "(cn~=smith)",
        "(cn=a*b*c)",
        "(&)",
        "(|)",
    ],
)
def test_render_is_canonical(text: str) -> None:
    assert render(parse(text)) == text


def test_render_canonicalises() -> None:
    assert render(parse("cn=a")) == "(cn=a)"
    assert render(parse("(cn=\\C3\\A9)")) == "(cn=é)"
    assert render(parse("(cn=\\41)")) == "(cn=A)"
    assert render(parse(" (& (a=b) ) ")) == "(&(a=b))"


def test_attr_key() -> None:
    assert eq("objectClass", "user").attr_key == "objectclass"
    assert parse("(CN=*)").attr_key == "cn"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty filter"),
        ("   ", "empty filter"),
        ("()", "empty filter component"),
        ("(", "missing ')'"),
        ("(cn=a", "unbalanced"),
        ("(&(cn=a)", "unbalanced"),
        ("(!(cn=a)", "unbalanced"),
        ("(cn=a))", "unexpected ')'"),
        ("(cn=a)(cn=b)", "unexpected '('"),
        ("cn=a)", "unescaped ')'"),
        ("(cn=a(b)", "unescaped '('"),
        ("(cn>=a*)", "unescaped '*'"),
        ("(cn~=*)", "unescaped '*'"),
        ("(cn<=*a)", "unescaped '*'"),
        ("(cn=a**b)", "consecutive '*'"),
        ("(cn=**)", "consecutive '*'"),
        ("(cn=a\x00)", "NUL"),
        ("(cn=a\\00)", "NUL"),
        ("(cn=\\zz)", "bad escape"),
        ("(cn=\\4)", "bad escape"),
        ("(cn=\\", "trailing backslash"),
        ("(cn=\\ff)", "UTF-8"),
        ("(cn=\\c3)", "UTF-8"),
        ("(cn:=a)", "extensible match is not supported"),
        ("(cn:dn:=a)", "extensible match is not supported"),
        ("(:caseExactMatch:=a)", "extensible match is not supported"),
        ("(=a)", "missing attribute name"),
        ("(cn)", "missing comparison operator"),
        ("(cn~a)", "invalid comparison operator"),
        ("(cn<a)", "invalid comparison operator"),
        ("(1cn=a)", "invalid attribute name"),
        ("(c n=a)", "invalid attribute name"),
        ("(c_n=a)", "invalid attribute name"),
        ("(*=a)", "invalid attribute name"),
        ("(!cn=a)", "'!' must be followed"),
        ("(&cn=a)", "expected '(' or ')'"),
        ("(&(cn=a)x)", "expected '(' or ')'"),
    ],
)
def test_parse_errors_name_filter_and_position(text: str, reason: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse(text)
    err = info.value
    shown = text.replace("\x00", "\\x00")
    assert f"'{shown}'" in err.description
    assert reason in err.description
    assert "position" in err.description
    assert err.fields["filter"] == text
    assert isinstance(err.fields["position"], int)


def test_length_and_depth_limits() -> None:
    long_filter = "(cn=" + "a" * 8188 + ")"
    assert len(long_filter) == 8193
    with pytest.raises(InvalidArgument) as info:
        parse(long_filter)
    assert "8192" in info.value.description
    assert long_filter[:50] in info.value.description
    parse(long_filter[:-2] + ")")

    def nested(depth: int) -> str:
        return "(!" * (depth - 1) + "(cn=a)" + ")" * (depth - 1)

    assert isinstance(parse(nested(32)), Not)
    with pytest.raises(InvalidArgument) as info:
        parse(nested(33))
    assert "deeper than 32" in info.value.description
    with pytest.raises(InvalidArgument):
        parse(None)  # type: ignore[arg-type]


# --- building and escaping ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("plain", "plain"),
        ("*", "\\2a"),
        ("(", "\\28"),
        (")", "\\29"),
        ("\\", "\\5c"),
        ("\x00", "\\00"),
        ("a*b(c)d\\e", "a\\2ab\\28c\\29d\\5ce"),
        ("é=&|!", "é=&|!"),
    ],
)
def test_escape_filter_value(value: str, escaped: str) -> None:
    assert escape_filter_value(value) == escaped


def test_builders() -> None:
    f = and_(eq("objectClass", "user"), or_(present("mail"), not_(eq("cn", "x"))))
    assert f == And((Equal("objectClass", "user"), Or((Present("mail"), Not(Equal("cn", "x"))))))
    assert render(f) == "(&(objectClass=user)(|(mail=*)(!(cn=x))))"
    assert and_() == And(())
    assert or_() == Or(())


def test_builders_validate() -> None:
    with pytest.raises(InvalidArgument) as info:
        eq("bad name", "x")
    assert "bad name" in info.value.description
    with pytest.raises(InvalidArgument):
        eq("cn", "a\x00b")
    with pytest.raises(InvalidArgument):
        present("(cn")
    with pytest.raises(InvalidArgument):
        and_("(cn=a)")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        Substring("cn", None, (), None)
    with pytest.raises(InvalidArgument):
        Substring("cn", "a", ("",), None)
    assert Substring("cn", "", ("b",), "") == Substring("cn", None, ("b",), None)


def test_filter_injection_is_inert() -> None:
    hostile = eq("cn", "*)(objectClass=*")
    text = render(hostile)
    assert text == "(cn=\\2a\\29\\28objectClass=\\2a)"
    assert parse(text) == hostile
    assert not matches(hostile, {"cn": ["foo"], "objectclass": ["user"]})
    assert matches(hostile, {"cn": ["*)(objectclass=*"]})
    combined = and_(eq("objectClass", "user"), eq("cn", "x)(|(cn=*"))
    assert parse(render(combined)) == combined
    assert not matches(combined, {"objectclass": ["user"], "cn": ["bob"]})


@given(ATTRS, NO_NUL | SPECIAL_TEXT)
def test_equal_round_trips(attr: str, value: str) -> None:
    f = eq(attr, value)
    assert parse(render(f)) == f
    assert matches(eq("cn", value), {"cn": [value]})


@given(NO_NUL | SPECIAL_TEXT, st.lists(NO_NUL.filter(bool) | SPECIAL_TEXT.filter(bool), max_size=3), NO_NUL)
def test_substring_round_trips_and_matches_its_own_concatenation(
    initial: str, middle: list[str], final: str
) -> None:
    if not (initial or middle or final):
        return
    f = Substring("cn", initial, tuple(middle), final)
    assert parse(render(f)) == f
    assert matches(f, {"cn": [initial + "".join(middle) + final]})


# --- matching -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(objectClass=*)", True),
        ("(objectClass=USER)", True),
        ("(objectClass~=user)", True),
        ("(objectClass=group)", False),
        ("(cn=alice smith)", True),
        ("(CN=Alice Smith)", True),
        ("(missing=*)", False),
        ("(description=*)", False),  # present only with at least one value
        ("(mail=*@fabrikam.com)", True),
        ("(mail=asmith*)", True),
        ("(mail=bob*)", False),
        ("(cn=A*S*H)", True),
        ("(cn=*ice*mi*)", True),
        ("(cn=*mi*ice*)", False),  # parts must appear in order
        ("(cn=Alice*ice Smith)", False),  # initial and final may not overlap
        ("(cn=Al*e*ith)", True),
        ("(uSNChanged>=100)", True),
        ("(uSNChanged>=99)", True),  # numeric: "120" >= "99"
        ("(uSNChanged<=99)", False),
        ("(uSNChanged<=120)", True),
        ("(uSNChanged>=121)", False),
        ("(cn>=b)", False),
        ("(cn<=B)", True),
        ("(cn>=alice)", True),
        ("(&)", True),
        ("(|)", False),
        ("(!(&))", False),
        ("(&(objectClass=user)(mail=alice@*))", True),
        ("(&(objectClass=user)(mail=bob@*))", False),
        ("(|(objectClass=group)(cn=alice*))", True),
        ("(!(objectClass=group))", True),
        ("(!(missing=x))", True),
    ],
)
def test_matches(text: str, expected: bool) -> None:
    assert matches(parse(text), ENTRY) is expected


def test_matches_without_object_class() -> None:
    assert not matches(present("objectClass"), {"cn": ["x"]})
    assert matches(and_(), {})
    assert not matches(or_(), {})


def test_matching_is_casefolded() -> None:
    assert matches(eq("cn", "STRASSE"), {"cn": ["Straße"]})
    assert matches(parse("(cn=stra*)"), {"cn": ["STRAẞE"]})
