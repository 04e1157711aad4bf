"""Structured arguments: frozen dataclasses bound by the declaration from XML and from a nested
call's Python values, every error naming the value's whole path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import pytest
from lxml import etree

from openmps.app import registry
from openmps.cli.docgen import _signature, render, xsd
from openmps.engine.declaration import Role, Xml, model_fields, procedure, spec_of, verbatim
from openmps.errors import InvalidArgument, MissingArgument
from openmps.types import DN


def _positive(where: str, text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise InvalidArgument(f"'{where}' must be a positive whole number, not '{text}'", argument=where)
    return int(text)


@dataclass(frozen=True)
class Source:
    """One store and how much of it."""

    server: Annotated[str, Xml("serverName")]
    megabytes: Annotated[int, Xml("megabytes", "whole megabytes", parse=_positive)]
    op: Annotated[str, Xml("@op")] = "allocate"


@dataclass(frozen=True)
class Storage:
    megabytes: Annotated[int | None, Xml("megabytes")]
    shared: Annotated[bool, Xml("shared")] = True
    algorithm: Annotated[str | None, Xml("@algorithm")] = None
    sources: Annotated[tuple[Source, ...] | None, Xml("sourceMailStores", item="sourceMailStore")] = None
    owner: Annotated[DN | None, Xml("owner")] = None
    tags: Annotated[tuple[str, ...], Xml("tags", item="tag")] = ()


@dataclass(frozen=True)
class Feature:
    name: Annotated[str, Xml("@name")]
    value: Annotated[str, Xml(".", parse=lambda _where, text: text.strip())]


@procedure("Toy Space", "Nested", requires=Role.AUTHENTICATED)
class Nested:
    """Structured arguments of every shape."""

    mail_store: Annotated[Storage, Xml("mailStore", "how much, or where")]
    public_stores: Annotated[tuple[Source, ...] | None, Xml("publicStores", item="publicStore")] = None
    features: Annotated[tuple[Feature, ...], Xml("features", item="feature")] = ()
    addresses: Annotated[tuple[str, ...] | None, Xml("addresses", item="value", parse=verbatim)] = None

    def run(self, ctx: Any) -> None:
        return None


SPEC = spec_of(Nested)
SOURCE = "<sourceMailStore><serverName>EX{n}</serverName><megabytes>{mb}</megabytes></sourceMailStore>"


def bind(body: str) -> Any:
    return SPEC.bind(etree.fromstring(f"<executeData>{body}</executeData>"))


def test_good_values_from_xml() -> None:
    sources = SOURCE.format(n=1, mb=10) + SOURCE.format(n=2, mb=20).replace(">", ' op="deallocate">', 1)
    bound = bind(
        f'<mailStore algorithm="level"><shared>0</shared><sourceMailStores>{sources}</sourceMailStores>'
        "<owner>LDAP://OU=A,DC=x</owner><tags><tag>a</tag><tag>b</tag></tags></mailStore>"
        '<features><feature name="MailboxSize"> 100 </feature></features>'
    )
    assert bound.mail_store == Storage(
        megabytes=None,
        shared=False,
        algorithm="level",
        sources=(Source("EX1", 10), Source("EX2", 20, op="deallocate")),
        owner=DN.from_path("LDAP://OU=A,DC=x"),
        tags=("a", "b"),
    )
    assert bound.public_stores is None
    assert bound.features == (Feature("MailboxSize", "100"),)


def test_optional_fields_take_their_defaults() -> None:
    bound = bind("<mailStore><megabytes>5</megabytes></mailStore><publicStores/>")
    assert bound.mail_store == Storage(megabytes=5)
    assert bound.public_stores == ()


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        (
            "<mailStore><sourceMailStores>"
            + SOURCE.format(n=1, mb=1)
            + SOURCE.format(n=2, mb="x")
            + "</sourceMailStores></mailStore>",
            InvalidArgument,
            "'mailStore/sourceMailStores/sourceMailStore[2]/megabytes' must be a positive whole number, not 'x'",
        ),
        (
            "<mailStore><sourceMailStores>" + SOURCE.format(n=1, mb=0) + "</sourceMailStores></mailStore>",
            InvalidArgument,
            "'mailStore/sourceMailStores/sourceMailStore/megabytes' must be a positive whole number, not '0'",
        ),
        (
            "<mailStore><sourceMailStores><sourceMailStore><megabytes>1</megabytes>"
            "</sourceMailStore></sourceMailStores></mailStore>",
            MissingArgument,
            "'mailStore/sourceMailStores/sourceMailStore/serverName' is required",
        ),
        (
            "<mailStore><megabytes>ten</megabytes></mailStore>",
            InvalidArgument,
            "'mailStore/megabytes' must be an integer of at most 18 ASCII digits, not 'ten'",
        ),
        (
            "<mailStore><shared>maybe</shared></mailStore>",
            InvalidArgument,
            "'mailStore/shared' must be true or false, not 'maybe'",
        ),
        (
            "<mailStore><megabytes> 5</megabytes></mailStore>",
            InvalidArgument,
            "'mailStore/megabytes' must be non-empty text without stray whitespace",
        ),
        (
            "<mailStore><megabytes>1</megabytes><megabytes>2</megabytes></mailStore>",
            InvalidArgument,
            "'mailStore/megabytes' is given more than once",
        ),
        ("<mailStore><disk/></mailStore>", InvalidArgument, "<disk> is not part of <mailStore>"),
        (
            "<mailStore><sourceMailStores><disk/></sourceMailStores></mailStore>",
            InvalidArgument,
            "<sourceMailStores> may only hold <sourceMailStore> elements, not <disk>",
        ),
        (
            "<mailStore><owner>not a path</owner></mailStore>",
            InvalidArgument,
            "'mailStore/owner': ",
        ),
        (
            "<mailStore><tags><tag>a\u202eb</tag></tags></mailStore>",
            InvalidArgument,
            "'tag' must not contain the invisible formatting character U+202E",
        ),
        (
            "<mailStore/><publicStores>"
            + "<publicStore><serverName>P</serverName><megabytes>1</megabytes></publicStore>" * 2
            + "<publicStore><serverName>P\u202e</serverName><megabytes>1</megabytes></publicStore>"
            + "</publicStores>",
            InvalidArgument,
            "'publicStore[3]/serverName' must not contain the invisible formatting character U+202E",
        ),
        ("<publicStores/>", MissingArgument, "'mailStore' is required"),
        (
            "<mailStore/><features><feature><x/></feature></features>",
            InvalidArgument,
            "<x> is not part of <feature>",
        ),
        (
            "<mailStore/><features><feature>1</feature></features>",
            MissingArgument,
            "'feature/@name' is required",
        ),
    ],
)
def test_each_error_names_its_path(body: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as caught:
        bind(body)
    assert str(getattr(caught.value, "description", caught.value)).startswith(message)


def test_from_values_instances_mappings_and_other_models() -> None:
    storage = Storage(megabytes=5)
    assert SPEC.bind_values({"mailStore": storage}).mail_store is storage

    @dataclass(frozen=True)
    class TheirSource:  # another namespace's model of the same shape
        server: Annotated[str, Xml("serverName")]
        megabytes: Annotated[int, Xml("megabytes")]

    bound = SPEC.bind_values(
        {
            "mailStore": {
                "megabytes": "7",
                "sourceMailStores": [TheirSource("EX1", 3), {"serverName": "EX2", "megabytes": 4}],
            },
            "publicStores": etree.fromstring(
                "<publicStores><publicStore><serverName>P</serverName><megabytes>2</megabytes></publicStore></publicStores>"
            ),
        }
    )
    assert bound.mail_store == Storage(megabytes=7, sources=(Source("EX1", 3), Source("EX2", 4)))
    assert bound.public_stores == (Source("P", 2),)


@pytest.mark.parametrize(
    ("given", "error", "message"),
    [
        (
            {
                "mailStore": {
                    "sourceMailStores": [
                        {"serverName": "A", "megabytes": 1},
                        {"serverName": "B", "megabytes": 0},
                    ]
                }
            },
            InvalidArgument,
            "'mailStore/sourceMailStores/sourceMailStore[2]/megabytes' must be a positive whole number, not '0'",
        ),
        (
            {"mailStore": {"sourceMailStores": [{"megabytes": 1}]}},
            MissingArgument,
            "'mailStore/sourceMailStores/sourceMailStore/serverName' is required",
        ),
        ({"mailStore": {"disk": 1}}, InvalidArgument, "<disk> is not part of <mailStore>"),
        ({"mailStore": {"megabytes": True}}, InvalidArgument, "'mailStore/megabytes' must be an integer"),
        ({"mailStore": "big"}, InvalidArgument, "'mailStore' must be structured, not 'big'"),
        (
            {"mailStore": {"sourceMailStores": "EX1"}},
            InvalidArgument,
            "'mailStore/sourceMailStores' must be a list",
        ),
        (
            {"mailStore": {}, "publicStores": [{"serverName": " P", "megabytes": 1}]},
            InvalidArgument,
            "'publicStore/serverName' must be non-empty",
        ),
    ],
)
def test_errors_from_values_name_their_path(
    given: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        SPEC.bind_values(given)
    assert str(getattr(caught.value, "description", caught.value)).startswith(message)


def test_a_model_needs_xml_on_every_field() -> None:
    @dataclass(frozen=True)
    class Bare:
        size: int

    with pytest.raises(TypeError, match="needs Xml"):
        model_fields(Bare)

    @dataclass(frozen=True)
    class Listless:
        items: Annotated[tuple[Source, ...], Xml("items")]

    with pytest.raises(TypeError, match="item"):
        model_fields(Listless)

    @dataclass
    class Mutable:
        size: Annotated[int, Xml("size")]

    with pytest.raises(TypeError, match="frozen dataclass"):
        model_fields(Mutable)


def test_docs_show_the_nested_types() -> None:
    assert _signature(SPEC) == (
        "Toy Space::Nested [public write AUTHENTICATED] mailStore:Storage! publicStores:[Source] features:[Feature] addresses:list -> none"
    )
    schema = etree.fromstring(xsd(SPEC).encode())
    names = [e.get("name") for e in schema.iter("{http://www.w3.org/2001/XMLSchema}element")]
    assert "sourceMailStore" in names and "serverName" in names
    assert "op" in [e.get("name") for e in schema.iter("{http://www.w3.org/2001/XMLSchema}attribute")]
    assert render()  # the real registry renders with its models


def test_a_list_of_text_read_its_own_way() -> None:
    """Items with an ``Xml.parse`` are given to it as they are, from XML and from values."""
    bound = bind("<mailStore/><addresses><value> a@x.org </value><value>b@x.org</value></addresses>")
    assert bound.addresses == (" a@x.org ", "b@x.org")
    assert SPEC.bind_values({"mailStore": {}, "addresses": ("c@x.org",)}).addresses == ("c@x.org",)
    with pytest.raises(InvalidArgument, match="'addresses' may only hold <value> elements, not <address>"):
        bind("<mailStore/><addresses><address>a@x.org</address></addresses>")
    with pytest.raises(InvalidArgument, match="'value' must be text, not XML"):
        bind("<mailStore/><addresses><value><b/></value></addresses>")
    nested = SPEC.bind_values({"mailStore": {"tags": ["a", "b"]}})
    assert nested.mail_store.tags == ("a", "b")
    with pytest.raises(InvalidArgument, match="'mailStore/tags/tag' must not start or end with whitespace"):
        SPEC.bind_values({"mailStore": {"tags": [" a"]}})


def test_no_procedure_takes_a_raw_xml_node() -> None:
    """Every structured argument is a declared model: none is handed to ``run()`` as XML to parse."""
    assert [
        f"{s.namespace}::{s.name} {a.xml.name}" for s in registry() for a in s.args if a.kind == "node"
    ] == []


def test_the_resource_managers_messages_name_the_whole_path() -> None:
    """The issue's example, on the real AllocateOrganization; MPS's messages are kept otherwise."""
    spec = registry().get("Exchange Resource Manager", "AllocateOrganization")
    store = "<sourceMailStore><serverName>EX</serverName><mailStoreName>MS{n}</mailStoreName><megabytes>{mb}</megabytes></sourceMailStore>"
    body = (
        "<executeData><organization>LDAP://OU=A,DC=x</organization><mailStore><sourceMailStores>"
        + store.format(n=1, mb=10)
        + store.format(n=2, mb="lots")
        + "</sourceMailStores></mailStore></executeData>"
    )
    with pytest.raises(InvalidArgument) as caught:
        spec.bind(etree.fromstring(body))
    assert caught.value.description == (
        "'mailStore/sourceMailStores/sourceMailStore[2]/megabytes' must be whole megabytes from 1 to "
        "1073741824 in ASCII digits, not 'lots'"
    )
    bound = spec.bind(etree.fromstring(body.replace("lots", "20")))
    assert [(s.name, s.megabytes, s.op) for s in bound.mail_store.sources] == [
        ("MS1", 10, "allocate"),
        ("MS2", 20, "allocate"),
    ]
