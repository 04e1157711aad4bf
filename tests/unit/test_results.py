"""Typed results: how a result dataclass renders at the XML edge, and what a declaration refuses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

import pytest
from lxml import etree

from openmps.engine.declaration import Properties, Property, Xml
from openmps.engine.results import check_result, flag, render
from openmps.types import DN, Secret

GROUP = DN.parse("CN=Admins@Alpine,OU=alpine,OU=Hosting,DC=fabrikam,DC=com")


@dataclass(frozen=True)
class Ref:
    group: Annotated[DN, Xml("@name")]


@dataclass(frozen=True)
class Store:
    XML_ELEMENT: ClassVar[str] = "mailStore"
    server: Annotated[str, Xml("serverName")]
    kilobytes: Annotated[int | None, Xml("kilobytes")] = None


@dataclass(frozen=True)
class Stamp:
    properties: Annotated[Properties, Xml("properties")]
    mail: Annotated[tuple[tuple[str, str], ...], Xml("mail")]


@dataclass(frozen=True)
class User:
    path: Annotated[DN, Xml("@path")]
    enabled: Annotated[bool, Xml("@enabled", show=flag)]
    admin: Annotated[bool, Xml("admin")]
    member_of: Annotated[tuple[Ref, ...], Xml(".", item="memberOfGroup")]
    addresses: Annotated[tuple[str, ...], Xml("proxyAddresses", item="value")]
    aliases: Annotated[tuple[str, ...], Xml("aliases", item="alias", omit_empty=True)] = ()
    note: Annotated[str | None, Xml("note")] = None


@dataclass(frozen=True)
class Created:
    stamp: Annotated[Stamp | None, Xml(".")]
    password: Annotated[Secret, Xml("newPassword")]
    store: Annotated[Store, Xml("mailStore")]
    user: Annotated[User, Xml("user")]


def xml(result: object) -> str:
    holder = etree.Element("executeData")
    holder.extend(render(result))
    return etree.tostring(holder).decode()


def test_every_kind_renders_in_declaration_order() -> None:
    user = User(GROUP.parent, True, False, (Ref(GROUP),), ("SMTP:a@b.c", "smtp:x@b.c"))
    stamp = Stamp(
        (Property("mDBUseDefaults", ("FALSE",)), Property("proxy", ("p",), append=True)), (("size", "5"),)
    )
    created = Created(stamp, Secret("S3cret!"), Store("EXCH01", 100), user)
    assert xml(created) == (
        "<executeData>"
        '<properties><property name="mDBUseDefaults"><value>FALSE</value></property>'
        '<property name="proxy" mode="append"><value>p</value></property></properties>'
        "<mail><size>5</size></mail>"
        '<newPassword do-not-log="1"/>'
        "<mailStore><serverName>EXCH01</serverName><kilobytes>100</kilobytes></mailStore>"
        f'<user path="{GROUP.parent.ldap_path}" enabled="1"><admin>false</admin>'
        f'<memberOfGroup name="{GROUP.ldap_path}"/>'
        "<proxyAddresses><value>SMTP:a@b.c</value><value>smtp:x@b.c</value></proxyAddresses></user>"
        "</executeData>"
    )


def test_a_secret_never_renders_its_value() -> None:
    created = Created(None, Secret("S3cret!"), Store("EXCH01"), User(GROUP, False, True, (), ()))
    assert "S3cret!" not in xml(created)


def test_none_is_left_out_and_an_empty_list_kept_unless_omitted() -> None:
    rendered = xml(Created(None, Secret("x"), Store("S"), User(GROUP, False, True, (), ())))
    assert "<proxyAddresses/>" in rendered  # an empty list is an answer
    assert "<aliases" not in rendered and "<note" not in rendered and "<kilobytes" not in rendered
    assert "<properties" not in rendered  # the flattened stamp was None


def test_a_result_naming_its_element_renders_as_it() -> None:
    assert xml(Store("EXCH01", 5)) == (
        "<executeData><mailStore><serverName>EXCH01</serverName><kilobytes>5</kilobytes></mailStore></executeData>"
    )
    assert render(None) == []


@dataclass
class NotFrozen:
    name: Annotated[str, Xml("name")]


@dataclass(frozen=True)
class Undeclared:
    name: str


@dataclass(frozen=True)
class AttributeList:
    names: Annotated[tuple[str, ...], Xml("@names", item="n")]


@dataclass(frozen=True)
class Holder:
    inner: Annotated[Undeclared, Xml("inner")]


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (NotFrozen, "frozen dataclass"),
        (Undeclared, "needs Xml"),
        (AttributeList, "attribute holds text"),
        (Holder, "needs Xml"),  # a nested model is checked too
    ],
)
def test_a_bad_result_declaration_is_refused(cls: type, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        check_result(cls)


@dataclass(frozen=True)
class Tree:
    name: Annotated[str, Xml("@name")]
    children: Annotated[tuple[Tree, ...], Xml("children", item="tree", omit_empty=True)] = ()


@dataclass(frozen=True)
class Forest:
    trees: Annotated[tuple[Tree, ...], Xml(".", item="tree")]


def test_a_recursive_result_is_declared_and_rendered() -> None:
    check_result(Forest)
    assert xml(Forest((Tree("a", (Tree("b", (Tree("c"),)),)),))) == (
        '<executeData><tree name="a"><children><tree name="b"><children><tree name="c"/></children>'
        "</tree></children></tree></executeData>"
    )


def test_a_result_of_outputs_has_no_attributes_or_text_of_its_own() -> None:
    with pytest.raises(TypeError, match="names no element"):
        check_result(Tree)  # its @name would have no element to go on
