"""``@procedure`` declarations and ``ProcedureSpec.bind``: every argument kind, every binding error
(exact class, description naming the element), and the Registry."""

from __future__ import annotations

import re
from typing import Annotated, Any

import pytest
from lxml import etree

from openmps.app import registry as app_registry
from openmps.engine.declaration import (
    ProcedureSpec,
    Properties,
    Property,
    Registry,
    Role,
    Xml,
    procedure,
    spec_of,
    summary,
)
from openmps.errors import InvalidArgument, MissingArgument, NotImplementedYet, UnknownProcedure
from openmps.types import DN, Secret, Upn

NS = "Toy Space"


@procedure(NS, "Everything", requires=Role.USER_CREATOR, scope="target")
class Everything:
    """Every argument kind.

    A second paragraph that is not the summary.
    """

    text: Annotated[str, Xml("text", "free text")]
    flag: Annotated[bool, Xml("flag")]
    count: Annotated[int, Xml("count")]
    target: Annotated[DN, Xml("target")]
    upn: Annotated[Upn, Xml("upn")]
    secret: Annotated[Secret, Xml("secret")]
    plans: Annotated[tuple[str, ...], Xml("plans", item="planName")]
    properties: Annotated[Properties, Xml("properties")]
    node: Annotated[etree._Element, Xml("node")]
    maybe_text: Annotated[str | None, Xml("maybeText")]
    default_count: Annotated[int, Xml("defaultCount")] = 7
    default_flag: Annotated[bool, Xml("defaultFlag")] = False
    later: Annotated[str | None, Xml("later", not_yet="arrives with the next release")] = None
    not_an_argument: int = 3
    annotated_but_no_xml: Annotated[int, "just a note"] = 4

    def run(self, ctx: Any) -> None:
        return None


@procedure(NS, "Small", requires=Role.AUTHENTICATED, kind="read", access="private")
class Small:
    name: Annotated[str, Xml("name")]

    def run(self, ctx: Any) -> None:
        return None


@procedure("Other Space", "Small", requires=Role.DOMAIN_ADMIN)
class OtherSmall:
    """Same procedure name, other namespace."""

    name: Annotated[str, Xml("name")]


@procedure("toy SPACE", "EVERYTHING", requires=Role.USER)
class EverythingAgain:
    """The same key as Everything, spelled differently."""

    x: Annotated[str, Xml("x")]


@procedure(NS, "Described", requires=Role.AUTHENTICATED)
class Described:
    name: Annotated[str, Xml("name")]
    description: Annotated[str | None, Xml("description")] = None
    display_name: Annotated[str | None, Xml("displayName")] = None


SPEC = spec_of(Everything)
REQUIRED = (
    "<text>hello</text><flag>true</flag><count>42</count>"
    "<target>LDAP://dc01.fabrikam.com:389/OU=a,DC=fabrikam,DC=com</target>"
    "<upn>bob@fabrikam.com</upn><secret>Pa55word!</secret>"
    "<plans><planName>Gold</planName><planName>Silver</planName></plans>"
    "<properties/><node><anything x='1'><deep/></anything></node>"
)


def data(inner: str) -> etree._Element:
    return etree.fromstring(f"<executeData>{inner}</executeData>")


def bind(inner: str, spec: ProcedureSpec = SPEC) -> Any:
    return spec.bind(data(inner))


def with_(element: str, xml: str) -> str:
    """REQUIRED with ``<element>…</element>`` replaced by ``xml`` (dropped when ``xml`` is empty)."""
    root = data(REQUIRED)
    old = root.find(element)
    if xml:
        old.addprevious(etree.fromstring(xml))
    root.remove(old)
    return "".join(etree.tostring(c).decode() for c in root)


def raises(exc_type: type[Exception], inner: str, *fragments: str) -> Exception:
    with pytest.raises(exc_type) as info:
        bind(inner)
    assert type(info.value) is exc_type
    description = info.value.description  # type: ignore[attr-defined]
    for fragment in fragments:
        assert fragment in description, (fragment, description)
    return info.value


# --- the declaration ---------------------------------------------------------------------------------


def test_spec_lists_the_annotated_xml_fields_in_order() -> None:
    assert [(a.attr, a.xml.name, a.kind, a.required) for a in SPEC.args] == [
        ("text", "text", "str", True),
        ("flag", "flag", "bool", True),
        ("count", "count", "int", True),
        ("target", "target", "dn", True),
        ("upn", "upn", "upn", True),
        ("secret", "secret", "secret", True),
        ("plans", "plans", "list", True),
        ("properties", "properties", "properties", True),
        ("node", "node", "node", True),
        ("maybe_text", "maybeText", "str", False),
        ("default_count", "defaultCount", "int", False),
        ("default_flag", "defaultFlag", "bool", False),
        ("later", "later", "str", False),
    ]
    assert {a.attr: a.default for a in SPEC.args if not a.required} == {
        "maybe_text": None,
        "default_count": 7,
        "default_flag": False,
        "later": None,
    }
    assert [a.type_name for a in SPEC.args if a.kind in ("list", "node", "properties")] == [
        "list of <planName>",
        "properties",
        "XML",
    ]


def test_spec_metadata() -> None:
    assert SPEC.namespace == NS and SPEC.name == "Everything" and SPEC.cls is Everything
    assert SPEC.requires is Role.USER_CREATOR and SPEC.scope == "target"
    assert SPEC.access == "public" and SPEC.kind == "write"
    assert SPEC.key == ("toy space", "everything")
    assert SPEC.doc == "Every argument kind."
    assert SPEC.secrets == frozenset({"secret"})
    small = spec_of(Small)
    assert (small.access, small.kind, small.scope, small.doc) == ("private", "read", None, "")


def test_scope_must_name_an_argument() -> None:
    with pytest.raises(TypeError, match="scope 'nowhere' is not an argument"):

        @procedure(NS, "Bad", requires=Role.USER, scope="nowhere")
        class Bad:
            name: Annotated[str, Xml("name")]


def test_unsupported_argument_type_is_refused() -> None:
    with pytest.raises(TypeError, match="unsupported argument type"):

        @procedure(NS, "Bad", requires=Role.USER)
        class Bad:
            ratio: Annotated[float, Xml("ratio")]


def test_spec_of_an_undeclared_class() -> None:
    class Plain:
        pass

    with pytest.raises(TypeError, match="Plain is not declared with @procedure"):
        spec_of(Plain)


# --- binding every kind ------------------------------------------------------------------------------


def test_bind_every_kind() -> None:
    execute_data = data(REQUIRED)
    node = execute_data.find("node")
    bound = SPEC.bind(execute_data)
    assert isinstance(bound, Everything)
    assert bound.text == "hello"
    assert bound.flag is True
    assert bound.count == 42
    assert bound.target == DN.parse("OU=a,DC=fabrikam,DC=com")
    assert bound.upn == Upn("bob", "fabrikam.com")
    assert isinstance(bound.secret, Secret) and bound.secret.reveal() == "Pa55word!"
    assert "Pa55word!" not in repr(bound.secret) and "Pa55word!" not in f"{bound.secret}"
    assert bound.plans == ("Gold", "Silver")
    assert bound.properties == ()
    assert bound.node is node
    assert bound.maybe_text is None
    assert bound.default_count == 7 and bound.default_flag is False and bound.later is None
    assert bound.not_an_argument == 3  # class attributes stay reachable
    # binding does not touch the element: masking secrets is the engine's job
    assert execute_data.find("secret").text == "Pa55word!"


def test_nested_call_values_bind_as_their_xml_would() -> None:
    """``bind_values`` (``ctx.call(…, args(…))``): typed values as they are, text as from XML."""
    node = etree.fromstring("<node><x/></node>")
    plans = etree.fromstring("<plans><planName>Gold</planName><planName>Silver</planName></plans>")
    common = {"plans": plans, "properties": etree.fromstring("<properties/>"), "node": node}
    typed = SPEC.bind_values(
        {
            "text": "hello",
            "flag": True,
            "count": 42,
            "target": DN.parse("OU=a,DC=fabrikam,DC=com"),
            "upn": Upn("bob", "fabrikam.com"),
            "secret": Secret("Pa55word!"),
            **common,
        }
    )
    texts = {
        "text": "hello",
        "flag": "1",
        "count": " 42 ",
        "target": "LDAP://OU=a,DC=fabrikam,DC=com",
        "upn": "bob@fabrikam.com",
        "secret": "Pa55word!",
        **common,
    }
    as_text = SPEC.bind_values(texts)
    from_xml = bind(REQUIRED)
    for bound in (typed, as_text):
        assert bound.node is node
        for attr in (
            "text",
            "flag",
            "count",
            "target",
            "upn",
            "plans",
            "properties",
            "maybe_text",
            "default_count",
        ):
            assert getattr(bound, attr) == getattr(from_xml, attr), attr
        assert isinstance(bound.secret, Secret) and bound.secret.reveal() == "Pa55word!"
    with pytest.raises(InvalidArgument, match="'bogus' is not an argument"):
        SPEC.bind_values({"bogus": 1})
    with pytest.raises(MissingArgument, match="'text' is required"):
        SPEC.bind_values({})
    with pytest.raises(InvalidArgument, match="'count' must be an integer"):
        SPEC.bind_values({**texts, "count": "many"})
    with pytest.raises(InvalidArgument, match="must not start or end with whitespace"):
        SPEC.bind_values({**texts, "text": " padded"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("false", False),
        ("False", False),
        ("0", False),
        ("no", False),
    ],
)
def test_bool(text: str, expected: bool) -> None:
    assert bind(with_("flag", f"<flag>{text}</flag>")).flag is expected


def test_bool_empty_element_is_a_set_flag() -> None:
    assert bind(with_("flag", "<flag/>")).flag is True
    assert bind(REQUIRED + "<defaultFlag/>").default_flag is True


@pytest.mark.parametrize("text", ["maybe", "2", "on", "t"])
def test_bool_refuses_other_words(text: str) -> None:
    error = raises(
        InvalidArgument, with_("flag", f"<flag>{text}</flag>"), "'flag'", f"'{text}'", "true or false"
    )
    assert error.fields == {"argument": "flag"}  # type: ignore[attr-defined]


@pytest.mark.parametrize(("text", "expected"), [("0", 0), ("-5", -5), ("12345678901234", 12345678901234)])
def test_int(text: str, expected: int) -> None:
    assert bind(with_("count", f"<count>{text}</count>")).count == expected


@pytest.mark.parametrize("text", ["4.2", "forty", "0x10", "1e3"])
def test_int_refuses_non_integers(text: str) -> None:
    raises(InvalidArgument, with_("count", f"<count>{text}</count>"), "'count'", "integer", f"'{text}'")


@pytest.mark.parametrize(
    "text",
    [
        "1_000",  # int() reads it as 1000
        "\u0661\u0660\u0660\u0660",  # Arabic-Indic 1000
        "\uff11\uff10",  # full-width 10
        "\u00b2",  # isdigit() says yes, int() then fails
        "1 000",
        "9" * 19,  # past a 64-bit column
    ],
)
def test_int_takes_ascii_digits_only(text: str) -> None:
    raises(InvalidArgument, with_("count", f"<count>{text}</count>"), "'count'", "ASCII digits")


def test_int_sign_and_collapsed_whitespace() -> None:
    assert bind(with_("count", "<count> +12 </count>")).count == 12
    assert bind(with_("count", "<count>" + "9" * 18 + "</count>")).count == int("9" * 18)


def test_int_default_is_overridden_when_given() -> None:
    assert bind(REQUIRED + "<defaultCount>9</defaultCount>").default_count == 9


@pytest.mark.parametrize(
    "text",
    [
        "LDAP://server/OU=a,DC=fabrikam,DC=com",
        "LDAP://dc01.fabrikam.com:389/OU=a,DC=fabrikam,DC=com",
        "ldap://OU=a,DC=fabrikam,DC=com",
        "LDAP://OU=a,DC=fabrikam,DC=com",
        "OU=a,DC=fabrikam,DC=com",
        "ou=A, dc=Fabrikam, dc=COM",
    ],
)
def test_dn_from_path_or_bare(text: str) -> None:
    assert bind(with_("target", f"<target>{text}</target>")).target == DN.parse("OU=a,DC=fabrikam,DC=com")


def test_dn_keeps_an_escaped_comma_in_one_rdn() -> None:
    target = bind(with_("target", r"<target>LDAP://OU=evil\,OU=Hosting,DC=fabrikam,DC=com</target>")).target
    assert target.rdn_value == "evil,OU=Hosting" and len(target) == 3


@pytest.mark.parametrize(
    "text",
    ["evil", "LDAP://", "LDAP://bad host/OU=a,DC=b", "OU=a,,DC=b", "OU=a\\", "LDAP://server:99999/OU=a"],
)
def test_dn_refuses_malformed_paths(text: str) -> None:
    raises(InvalidArgument, with_("target", f"<target>{text}</target>"), "'target'", "not a valid")


def test_upn() -> None:
    assert bind(with_("upn", "<upn>Alice.B@Sub.Fabrikam.com</upn>")).upn == Upn("Alice.B", "Sub.Fabrikam.com")


@pytest.mark.parametrize("text", ["a@b", "nobody", "a@@b.com", "a b@b.com", "@b.com"])
def test_upn_refuses_malformed(text: str) -> None:
    raises(InvalidArgument, with_("upn", f"<upn>{text}</upn>"), "'upn'", "not a valid user principal name")


@pytest.mark.parametrize("text", ["", "  Pa55 word  ", "x"])
def test_secret_takes_the_text_verbatim_even_empty(text: str) -> None:
    bound = bind(with_("secret", f"<secret>{text}</secret>"))
    assert bound.secret.reveal() == text


def test_secret_empty_element() -> None:
    assert bind(with_("secret", "<secret/>")).secret.reveal() == ""


def test_list_items_in_order_comments_skipped() -> None:
    bound = bind(with_("plans", "<plans><planName>A</planName><!-- c --><planName>B</planName></plans>"))
    assert bound.plans == ("A", "B")
    assert bind(with_("plans", "<plans/>")).plans == ()


def test_list_refuses_other_children() -> None:
    raises(
        InvalidArgument,
        with_("plans", "<plans><planName>A</planName><plan>B</plan></plans>"),
        "'plans'",
        "<planName>",
        "<plan>",
    )


def test_list_item_must_be_text() -> None:
    raises(
        InvalidArgument, with_("plans", "<plans><planName><b/></planName></plans>"), "'planName'", "not XML"
    )


def test_list_item_must_not_be_empty() -> None:
    raises(InvalidArgument, with_("plans", "<plans><planName/></plans>"), "'planName'", "empty")


def test_properties_with_value_children_and_direct_text() -> None:
    xml = (
        "<properties>"
        '<property name="otherHomePhone"><value>1</value><value>2</value></property>'
        '<property name="street">1703 NE 91st</property>'
        '<property name="info" mode="append"><value>x</value></property>'
        '<property name="empty"/>'
        "</properties>"
    )
    assert bind(with_("properties", xml)).properties == (
        Property("otherHomePhone", ("1", "2")),
        Property("street", ("1703 NE 91st",)),
        Property("info", ("x",), append=True),
        Property("empty", ()),
    )


def test_properties_value_children_win_over_direct_text() -> None:
    xml = '<properties><property name="a">ignored<value>v</value></property></properties>'
    assert bind(with_("properties", xml)).properties == (Property("a", ("v",)),)


@pytest.mark.parametrize(
    "xml",
    [
        "<properties><prop name='a'>x</prop></properties>",
        "<properties><property>x</property></properties>",
        "<properties><property name=''>x</property></properties>",
    ],
)
def test_properties_refuse_anything_but_named_property(xml: str) -> None:
    raises(InvalidArgument, with_("properties", xml), "'properties'", "<property name=")


def test_node_is_the_element_itself() -> None:
    bound = bind(with_("node", "<node>text only</node>"))
    assert etree.tostring(bound.node) == b"<node>text only</node>"


# --- binding errors ----------------------------------------------------------------------------------


def test_str_must_be_text_not_xml() -> None:
    raises(InvalidArgument, with_("text", "<text>a<b/>c</text>"), "'text'", "must be text, not XML")


def test_empty_str_is_refused() -> None:
    raises(InvalidArgument, with_("text", "<text/>"), "'text'", "must not be empty")
    raises(InvalidArgument, with_("count", "<count></count>"), "'count'", "must not be empty")


@pytest.mark.parametrize("element", [a.xml.name for a in SPEC.args if a.required])
def test_missing_required_argument(element: str) -> None:
    error = raises(MissingArgument, with_(element, ""), f"'{element}' is required")
    assert isinstance(error, InvalidArgument) and error.hex_code == "0x80070057"
    assert error.fields == {"argument": element}  # type: ignore[attr-defined]


def test_unknown_argument() -> None:
    error = raises(
        InvalidArgument, REQUIRED + "<bogus>1</bogus>", "'bogus'", "not an argument of Toy Space::Everything"
    )
    assert error.fields == {"argument": "bogus"}  # type: ignore[attr-defined]


def test_argument_names_are_case_sensitive() -> None:
    raises(InvalidArgument, with_("text", "<Text>x</Text>"), "'Text'", "not an argument")


@pytest.mark.parametrize("element", ["text", "secret", "plans", "defaultCount"])
def test_argument_given_twice(element: str) -> None:
    inner = REQUIRED + ("<defaultCount>1</defaultCount>" if element == "defaultCount" else "")
    duplicate = etree.tostring(data(inner).find(element)).decode()
    raises(InvalidArgument, inner + duplicate, f"'{element}'", "more than once")


def test_not_yet_argument_given() -> None:
    error = raises(
        NotImplementedYet,
        REQUIRED + "<later>x</later>",
        "'later' is not supported yet",
        "arrives with the next release",
    )
    assert error.hex_code == "0x80004001"


def test_not_yet_argument_refused_even_when_empty() -> None:
    raises(NotImplementedYet, REQUIRED + "<later/>", "'later'")


def test_comments_and_processing_instructions_are_not_arguments() -> None:
    bound = bind("<!-- note -->" + REQUIRED + "<?pi x?>")
    assert bound.text == "hello"


def test_unknown_argument_is_reported_before_missing_ones() -> None:
    raises(InvalidArgument, "<bogus/>", "'bogus'")


# --- the registry ------------------------------------------------------------------------------------


def test_registry_lookup_is_case_insensitive() -> None:
    registry = Registry([Everything, Small, OtherSmall])
    assert registry.get("toy space", "EVERYTHING") is SPEC
    assert registry.get("TOY SPACE", "everything") is SPEC
    assert registry.get("Other Space", "small") is spec_of(OtherSmall)
    assert registry.get("toy space", "small") is spec_of(Small)


def test_registry_unknown_namespace() -> None:
    registry = Registry([Everything])
    with pytest.raises(UnknownProcedure) as info:
        registry.get("Nope Space", "Everything")
    assert info.value.description == "unknown namespace 'Nope Space'"
    assert info.value.fields == {"namespace": "Nope Space"}
    assert info.value.hex_code == "0x80070032"


def test_registry_unknown_procedure_in_a_known_namespace() -> None:
    registry = Registry([Everything])
    with pytest.raises(UnknownProcedure) as info:
        registry.get("toy space", "Nothing")
    assert info.value.description == "unknown procedure 'Nothing' in namespace 'toy space'"
    assert info.value.fields == {"procedure": "Nothing"}


def test_registry_refuses_duplicates() -> None:
    with pytest.raises(ValueError, match="Toy Space::Everything is declared twice"):
        Registry([Everything, Everything])
    with pytest.raises(ValueError, match="declared twice"):
        Registry([Everything, EverythingAgain])  # same key, other spelling


def test_registry_alias_namespace() -> None:
    registry = Registry([Everything])
    registry.add(Everything, alias_namespace="Alias Space")
    assert registry.get("alias space", "everything") is SPEC
    with pytest.raises(ValueError, match="declared twice"):
        registry.add(Everything, alias_namespace="ALIAS SPACE")


def test_registry_iterates_sorted() -> None:
    registry = Registry([Small, OtherSmall, Everything])
    assert [(s.namespace, s.name) for s in registry] == [
        ("Other Space", "Small"),
        ("Toy Space", "Everything"),
        ("Toy Space", "Small"),
    ]


def test_registry_refuses_undeclared_classes() -> None:
    with pytest.raises(TypeError, match="not declared with @procedure"):
        Registry([int])


def test_arguments_and_defaults_may_come_from_a_base_class() -> None:
    class Shared:
        plans: Annotated[tuple[str, ...], Xml("plans", item="planName")] = ()
        hint: Annotated[str | None, Xml("hint")] = None

    @procedure("Toy Space", "Inherits", requires=Role.AUTHENTICATED)
    class Inherits(Shared):
        """Uses shared arguments."""

        name: Annotated[str, Xml("name")]

    spec = spec_of(Inherits)
    assert {a.xml.name: a.required for a in spec.args} == {"plans": False, "hint": False, "name": True}
    bound = spec.bind(etree.fromstring(b"<executeData><name>x</name></executeData>"))
    assert (bound.plans, bound.hint, bound.name) == ((), None, "x")


# --- what a text argument may hold ---------------------------------------------------------------

DESCRIBED = spec_of(Described)


def bind_described(inner: str) -> Any:
    return DESCRIBED.bind(data(inner))


@pytest.mark.parametrize(
    ("char", "kind"),
    [
        ("\u202e", "invisible formatting character U+202E"),  # right-to-left override
        ("\u2067", "invisible formatting character U+2067"),  # right-to-left isolate
        ("\u200f", "invisible formatting character U+200F"),  # right-to-left mark
        ("\u061c", "invisible formatting character U+061C"),  # Arabic letter mark
        ("\u200b", "invisible formatting character U+200B"),  # zero-width space
        ("\u200d", "invisible formatting character U+200D"),  # zero-width joiner
        ("\u2060", "invisible formatting character U+2060"),  # word joiner
        ("\ufeff", "invisible formatting character U+FEFF"),  # zero-width no-break space
        ("\x07", "control character U+0007"),
        ("\n", "control character U+000A"),
        ("\u0085", "control character U+0085"),  # C1
        ("\ue000", "private-use character U+E000"),
        ("\U000e0001", "invisible formatting character U+E0001"),  # language tag
    ],
)
def test_names_refuse_control_bidi_and_zero_width_characters(char: str, kind: str) -> None:
    if char != "\x07":  # XML 1.0 cannot carry it, even as &#7;: only a nested call can
        text = f"ad{char}min".replace("\n", "&#10;")
        with pytest.raises(InvalidArgument) as info:
            bind_described(f"<name>{text}</name>")
        assert info.value.description.startswith(f"'name' must not contain the {kind}")
        assert info.value.fields["argument"] == "name"
        with pytest.raises(InvalidArgument, match="'planName' must not contain"):
            bind(with_("plans", f"<plans><planName>Gold{text}</planName></plans>"))
    with pytest.raises(InvalidArgument, match=re.escape(f"'displayName' must not contain the {kind}")):
        DESCRIBED.bind_values({"name": "x", "displayName": f"x{char}y"})  # a nested call's value too


def test_free_text_keeps_line_breaks_but_not_other_controls() -> None:
    bound = bind_described("<name>n</name><description>line one&#10;line two&#9;tabbed</description>")
    assert bound.description == "line one\nline two\ttabbed"
    with pytest.raises(InvalidArgument, match="'description' must not contain the invisible"):
        bind_described("<name>n</name><description>evil\u202etxt.exe</description>")
    assert bind_described("<name>Zoë Ünal 山田 محمد</name>").name == "Zoë Ünal 山田 محمد"


@pytest.mark.parametrize(("element", "cap"), [("name", 64), ("displayName", 256), ("description", 1024)])
def test_text_arguments_are_capped_by_kind(element: str, cap: int) -> None:
    inner = "" if element == "name" else "<name>n</name>"
    assert bind_described(f"{inner}<{element}>{'x' * cap}</{element}>").name
    with pytest.raises(InvalidArgument) as info:
        bind_described(f"{inner}<{element}>{'x' * (cap + 1)}</{element}>")
    quoted = "'" + "x" * (cap + 1) + "'" if cap < 64 else "'" + "x" * 64 + f"'… ({cap + 1} characters)"
    assert (
        info.value.description
        == f"'{element}' must be at most {cap} characters long, not {cap + 1}: {quoted}"
    )
    assert info.value.fields == {"argument": element, "limit": cap}


def test_property_values_refuse_markup_and_are_capped() -> None:
    with pytest.raises(InvalidArgument, match="property 'street' may only hold <value> elements of text"):
        bind(
            with_(
                "properties",
                '<properties><property name="street"><value><b>x</b></value></property></properties>',
            )
        )
    with pytest.raises(InvalidArgument, match="property 'street' may only hold <value>"):
        bind(with_("properties", '<properties><property name="street"><other/></property></properties>'))
    big = "x" * 4097
    with pytest.raises(InvalidArgument, match="at most 4096 characters long, not 4097"):
        bind(
            with_(
                "properties",
                f'<properties><property name="info"><value>{big}</value></property></properties>',
            )
        )
    ok = bind(
        with_(
            "properties", '<properties><property name="info"><value>a&#10;b</value></property></properties>'
        )
    )
    assert ok.properties == (Property("info", ("a\nb",)),)


def test_unknown_names_are_quoted_by_a_short_prefix() -> None:
    registry = Registry([Everything])
    with pytest.raises(UnknownProcedure) as info:
        registry.get(NS, "P" * 1_000_000)
    assert len(info.value.description) < 150
    assert "… (1000000 characters)" in info.value.description
    with pytest.raises(UnknownProcedure) as info:
        registry.get("N" * 1_000_000, "x")
    assert len(info.value.description) < 150


def test_every_procedure_summary_is_a_whole_paragraph() -> None:
    # docs/api shows spec.doc: a docstring's first line alone cut 13 summaries mid-sentence
    assert (
        summary("Create a user;\n    give it a mailbox.\n\n    More detail.")
        == "Create a user; give it a mailbox."
    )
    for spec in app_registry():
        assert spec.doc.endswith((".", ")")), f"{spec.namespace}::{spec.name}: {spec.doc!r}"
