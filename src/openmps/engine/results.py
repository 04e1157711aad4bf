"""A procedure's typed result, and the one place it becomes XML: at the edge, for an XML step.

A procedure's ``run()`` returns a frozen dataclass (or None: nothing to answer) whose fields are
declared as a structured argument's are, each field one output of the step, in order::

    @dataclass(frozen=True)
    class UserRef:
        path: Annotated[DN, Xml("@path")]
        name: Annotated[str, Xml("@name")]
        member_of: Annotated[tuple[GroupRef, ...], Xml(".", item="memberOfGroup")] = ()

    @dataclass(frozen=True)
    class CreatedUser:
        user: Annotated[UserRef, Xml("user")]

A result that is one element names it instead of wrapping it in a field::

    @dataclass(frozen=True)
    class SipDomain:
        XML_ELEMENT: ClassVar[str] = "sipDomain"
        name: Annotated[str, Xml("@name")]

A Python caller (``Engine.call``, ``ctx.call``) gets the dataclass itself.  An XML step gets it
rendered by :func:`render`: a child element per field (``@name`` an attribute, ``"."`` the
element's own text, or with ``item=`` repeated children directly inside it; a list of models
without ``item=`` holds several kinds, each item its own class's ``XML_ELEMENT``), None left out, an
empty list kept as an empty element unless ``omit_empty``.  A ``Secret`` field renders masked
(``do-not-log="1"``, no value), whoever reads the response: secrets are hidden by their type.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, cast

from lxml import etree

from openmps.engine.declaration import Property, Xml, kind_of, xml_fields
from openmps.engine.redaction import MARK
from openmps.types import DN

# Kinds a result field may have, beyond an argument's: pairs are (name, text) rendered as
# <name>text</name>, for outputs whose element names are data (a plan's stamped attributes).
_LISTS = frozenset({"list", "models", "properties", "pairs"})


@dataclass(frozen=True)
class Field:
    attr: str
    xml: Xml
    kind: str
    model: type | None
    doc: str


@functools.cache
def result_fields(cls: type) -> tuple[Field, ...]:
    """The declared fields of a result dataclass, in output order (errors at declaration time)."""
    found = []
    for f, tp, xml in xml_fields(cls, "a result"):
        kind, _, model = kind_of(tp, result=True)
        if kind == "node":
            raise TypeError(f"{cls.__name__}.{f.name}: a result holds values, not XML")
        if kind == "list" and xml.item is None:
            raise TypeError(f"{cls.__name__}.{f.name}: a list field needs Xml(item=...)")
        if xml.name.startswith("@") and kind in _LISTS | {"model"}:
            raise TypeError(f"{cls.__name__}.{f.name}: an attribute holds text")
        found.append(Field(f.name, xml, kind, model, xml.doc))
    return tuple(found)


def check_result(cls: type, seen: set[type] | None = None) -> None:
    """Declare ``cls`` and the models of its fields (recursive ones too): a bad field is an error
    when the engine starts, not at the first request that answers it."""
    if seen is None and element_of(cls) is None:
        for f in result_fields(cls):
            if f.xml.name.startswith("@") or (f.xml.name == "." and f.kind not in _LISTS | {"model"}):
                raise TypeError(
                    f"{cls.__name__}.{f.attr}: a result that names no element has no attributes or text"
                )
    seen = set() if seen is None else seen
    if cls in seen:
        return
    seen.add(cls)
    for f in result_fields(cls):
        if f.model is not None:
            check_result(f.model, seen)


def render(result: object) -> list[etree._Element]:
    """The elements ``result`` adds to its step's ``<executeData>`` (none for None)."""
    if result is None:
        return []
    holder = etree.Element("executeData")
    tag = element_of(cast(type, type(result)))
    _fill(holder if tag is None else etree.SubElement(holder, tag), result)
    return list(holder)


@functools.cache
def element_of(cls: type) -> str | None:
    """The element a result class renders as (its ``XML_ELEMENT``), or None: its fields are the
    outputs."""
    tag = cls.__dict__.get("XML_ELEMENT")
    return tag if isinstance(tag, str) else None


def checked_result(namespace: str, procedure: str, result: object, returns: type | None) -> Any:
    """``result`` if it is what the Python caller expects (a wrong expectation is a bug, not a
    client's error: the engine logs it and answers an internal error)."""
    if returns is not None and not isinstance(result, returns):
        raise TypeError(f"{namespace}::{procedure} answered {type(result).__name__}, not {returns.__name__}")
    return result


def _fill(element: etree._Element, value: object) -> None:
    for f in result_fields(cast(type, type(value))):
        v = getattr(value, f.attr)
        if v is None or (f.xml.omit_empty and f.kind in _LISTS and not v):
            continue
        name = f.xml.name
        if name.startswith("@"):
            element.set(name[1:], _text(f, v))
        elif name == ".":
            _content(element, f, v)
        else:
            _content(etree.SubElement(element, name), f, v)


def _content(element: etree._Element, f: Field, v: Any) -> None:
    kind = f.kind
    if kind == "model":
        _fill(element, v)
    elif kind == "models":
        for item in v:
            _fill(etree.SubElement(element, f.xml.item or _own_element(item)), item)
    elif kind == "list":
        for item in v:
            etree.SubElement(element, f.xml.item or "").text = _text(f, item)
    elif kind == "pairs":
        for name, text in v:
            etree.SubElement(element, name).text = text
    elif kind == "properties":
        _properties(element, v)
    elif kind == "secret":
        element.set(MARK, "1")
    else:
        element.text = _text(f, v)


def _own_element(item: object) -> str:
    tag = element_of(cast(type, type(item)))
    if tag is None:
        raise TypeError(f"{type(item).__name__}: an item of a list without Xml(item=...) needs XML_ELEMENT")
    return tag


def _properties(element: etree._Element, properties: tuple[Property, ...]) -> None:
    for p in properties:
        prop = etree.SubElement(element, "property", name=p.name)
        if p.append:
            prop.set("mode", "append")
        for value in p.values:
            etree.SubElement(prop, "value").text = value


def _text(f: Field, value: Any) -> str:
    if f.xml.show is not None:
        return f.xml.show(value)
    if isinstance(value, DN):
        return value.ldap_path
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def flag(value: bool) -> str:
    """An ``Xml.show`` for flags answered as 1/0 (as Exchange's attributes hold them)."""
    return "1" if value else "0"
