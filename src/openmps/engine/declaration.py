"""Declaring procedures: one class per procedure, every surface derived from it.

A procedure is a class whose annotated fields are its arguments::

    @procedure("Hosted Exchange", "DeleteBusinessUser", requires=Role.USER_CREATOR, scope="path")
    class DeleteBusinessUser:
        '''Delete a business user of an organization.'''
        path: Annotated[DN, Xml("path")]
        def run(self, ctx: ProcedureContext[Hosting]) -> None: ...

A structured argument is a frozen dataclass whose fields are declared the same way (a child
element, ``Xml("@name")`` an attribute, ``Xml(".")`` the element's own text; a tuple of such
dataclasses with ``Xml(name, item=…)`` is a list of repeated child elements)::

    @dataclass(frozen=True)
    class SourceStore:
        server: Annotated[str, Xml("serverName")]
        megabytes: Annotated[int, Xml("megabytes")]

    sources: Annotated[tuple[SourceStore, ...], Xml("sourceMailStores", item="sourceMailStore")]

It is bound before ``run()``, from XML or from a nested call's Python values, and an error names
the value's whole path (``mailStore/sourceMailStores/sourceMailStore[2]/megabytes``).

From the declaration come the XML argument validation (errors name the element), the role check
the engine makes before ``run()``, ``docs/api/`` and the committed signature snapshot.  Nothing
is registered at import time: namespaces list their classes and the composition root registers
them in a :class:`Registry`.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import types
import typing
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    Literal,
    Protocol,
    TypeVar,
    get_args,
    get_origin,
    get_type_hints,
)

from lxml import etree

from openmps.errors import InvalidArgument, MissingArgument, NotImplementedYet, UnknownProcedure
from openmps.types import DN, Secret, Upn, parse_int, shown

if TYPE_CHECKING:
    from openmps.engine.context import ProcedureContext


class Role(Enum):
    """The role a caller must hold on a procedure's target (reference §5.2)."""

    AUTHENTICATED = "any authenticated caller"
    USER = "member of the target organization (AllUsers@Org) or above"
    USER_CREATOR = "UserCreator: admin of the target organization or of an organization above it"
    ORG_CREATOR = "OrgCreator: admin of the hosting or reseller organization the target lies in"
    DOMAIN_ADMIN = "Domain Admins"
    SERVICE = "the engine itself (private procedures)"


@dataclass(frozen=True)
class Xml:
    """How an argument appears in ``<executeData>``."""

    name: str
    doc: str = ""
    item: str | None = None  # list arguments: the repeated child element (e.g. planName)
    not_yet: str | None = None  # documented by MPS, not provided by this release: a clear error
    # a field of a structured argument that reads its text its own way: (path, text) -> value,
    # raising InvalidArgument that names the path (a size in whole megabytes, a 0/1 flag …)
    parse: Callable[[str, str], Any] | None = None
    # results only: how a value is written as text (default: str, a DN's LDAP path, true/false),
    # and whether an empty list is left out rather than answered as an empty element
    show: Callable[[Any], str] | None = None
    omit_empty: bool = False


@dataclass(frozen=True)
class Property:
    """One ``<property name="…"><value>…</value></property>`` of a ``<properties>`` argument."""

    name: str
    values: tuple[str, ...]
    append: bool = False


Properties = tuple[Property, ...]


@dataclass(frozen=True)
class ArgSpec:
    attr: str
    xml: Xml
    # str | bool | int | dn | upn | secret | list | properties | model | models; node (the element
    # itself) is left for the engine's own tests: no procedure declares one (a unit test holds it)
    kind: str
    required: bool
    default: Any
    model: type | None = None  # model(s): the dataclass of the structured value

    @property
    def type_name(self) -> str:
        if self.model is not None:
            name = self.model.__name__
            return f"list of <{self.xml.item}> ({name})" if self.kind == "models" else name
        return {"list": f"list of <{self.xml.item}>", "node": "XML", "properties": "properties"}.get(
            self.kind, self.kind
        )

    @property
    def signature(self) -> str:
        """The kind as the signature snapshot shows it: a model by its name, a list as ``[Name]``."""
        if self.model is None:
            return self.kind
        return f"[{self.model.__name__}]" if self.kind == "models" else self.model.__name__


class Procedure(Protocol):
    """What ``@procedure`` declares: an instance bound from its arguments runs, and returns its
    typed result (a frozen dataclass, ``openmps.engine.results``) or None.  mypy checks every
    declared class against it; a procedure names its own context and result types."""

    def run(self, ctx: ProcedureContext[Any], /) -> object: ...


class Prepares(Protocol):
    def prepare(self, providers: Any, /) -> None:
        """CPU-only work before the store's write lock is taken (hashing a password)."""


@dataclass(frozen=True)
class ProcedureSpec:
    namespace: str
    name: str
    cls: type
    requires: Role
    scope: str | None
    access: Literal["public", "private"]
    kind: Literal["read", "write"]
    args: tuple[ArgSpec, ...]
    doc: str = field(default="")
    right: str | None = None  # the ADS right the target's DACL must grant the caller
    result: type | None = None  # the dataclass run() returns; None: it answers nothing
    prepares: bool = False  # it has prepare(providers), run before the write lock
    extension: bool = False  # OpenMPS's own: MPS documents no such procedure (docs/api says so)

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace.casefold(), self.name.casefold())

    @functools.cached_property
    def secrets(self) -> frozenset[str]:
        return frozenset(a.xml.name for a in self.args if a.kind == "secret")

    @functools.cached_property
    def _by_name(self) -> dict[str, ArgSpec]:
        return {a.xml.name: a for a in self.args}

    def bind(self, execute_data: etree._Element) -> Procedure:
        """An instance of the procedure class with its arguments read from ``execute_data``."""
        given: dict[str, etree._Element] = {}
        for child in execute_data:
            if not isinstance(child.tag, str):
                continue
            self._known(child.tag)
            if child.tag in given:
                raise InvalidArgument(f"{shown(child.tag)} is given more than once", argument=child.tag)
            given[child.tag] = child
        return self._instance(given, _convert)

    def bind_values(self, given: Mapping[str, Any]) -> Procedure:
        """The same from Python values (a nested call's ``args``): values already of the argument's
        type (a DN, an int, an element) are taken as they are, text is read as from XML."""
        return self._instance(given, _coerce)

    def _known(self, name: str) -> None:
        if name not in self._by_name:
            raise InvalidArgument(
                f"{shown(name)} is not an argument of {self.namespace}::{self.name}", argument=name
            )

    def _instance(self, given: Mapping[str, Any], convert: Callable[[ArgSpec, Any], Any]) -> Procedure:
        for name in given:
            self._known(name)
        values: dict[str, Any] = {}
        for spec in self.args:
            value = given.get(spec.xml.name)
            if value is None:
                if spec.required:
                    raise MissingArgument(f"'{spec.xml.name}' is required", argument=spec.xml.name)
                values[spec.attr] = spec.default
                continue
            if spec.xml.not_yet:
                raise NotImplementedYet(f"'{spec.xml.name}' is not supported yet: {spec.xml.not_yet}")
            values[spec.attr] = convert(spec, value)
        instance: Procedure = object.__new__(self.cls)
        instance.__dict__.update(values)
        return instance


def _text(spec: ArgSpec, element: etree._Element) -> str:
    if len(element):
        raise InvalidArgument(f"'{spec.xml.name}' must be text, not XML", argument=spec.xml.name)
    text = element.text or ""
    if spec.kind in ("bool", "int"):
        return text.strip()  # XML Schema collapses whitespace for these types
    return _exact(spec.xml.name, text)


def _exact(name: str, text: str) -> str:
    """A text value as given: names and paths with stray whitespace are refused, not silently trimmed,
    so what is stored is what the response echoes."""
    if "\x00" in text:
        raise InvalidArgument(f"'{name}' must not contain NUL characters", argument=name)
    if text != text.strip():
        raise InvalidArgument(f"'{name}' must not start or end with whitespace", argument=name)
    return text


# The longest value of a text argument, by its element: AD's rangeUpper of the attribute it becomes
# (cn, givenName, sn, middleName, mailNickname 64; initials 6; description 1024; sAMAccountName 20,
# as AD allows for users and as MPS generates it).  Any other text argument is a name of at most 256.
MAX_TEXT = 256
MAX_TEXT_OF: dict[str, int] = {
    "name": 64,
    "givenName": 64,
    "sn": 64,
    "middleName": 64,
    "initials": 6,
    "alias": 64,
    "sAMAccountName": 20,
    "description": 1024,
    "planDescription": 1024,
    "caCertificate": 65536,  # PEM: a chain of a few certificates
}
# Free text may hold line breaks and tabs; names may not.
FREE_TEXT = frozenset({"description", "planDescription", "caCertificate"})
MAX_PROPERTY_VALUE = 4096  # one value of a <properties> argument (a street address, notes …)

_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ASCII_CONTROL_IN_FREE_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Unicode categories no text argument may hold: controls; format characters, among them the bidi
# embeddings, overrides, isolates and marks (U+202A–202E, U+2066–2069, U+200E/F, U+061C) and the
# zero-width ones (U+200B–200D, U+2060, U+FEFF), which make a name display as another or hide a
# difference; surrogates, private use and unassigned code points (PRECIS refuses them too).
_REFUSED_CATEGORIES = {"Cc": "control", "Cf": "invisible formatting", "Cs": "surrogate", "Co": "private-use"}


def _refused_character(text: str, *, free: bool) -> str | None:
    """What makes ``text`` unfit for a text argument (a character named by code point), or None."""
    if text.isascii():  # nearly every value: only ASCII controls to look for
        found = (_ASCII_CONTROL_IN_FREE_TEXT if free else _ASCII_CONTROL).search(text)
        return None if found is None else f"the control character U+{ord(found.group()):04X}"
    for index, char in enumerate(text):
        if free and char in "\t\n\r":
            continue
        category = unicodedata.category(char)
        if category == "Cn":
            return f"the unassigned character U+{ord(char):04X} (at position {index})"
        if category in _REFUSED_CATEGORIES:
            return f"the {_REFUSED_CATEGORIES[category]} character U+{ord(char):04X} (at position {index})"
    return None


def checked_text(name: str, text: str, *, limit: int | None = None, free: bool | None = None) -> str:
    """``text`` if it may be the value of the text argument ``name``: at most its length cap and
    without a control, bidi, zero-width or other invisible character (line breaks and tabs only
    in free text).  The one rule for every declared text argument, list item and property value."""
    limit = MAX_TEXT_OF.get(name, MAX_TEXT) if limit is None else limit
    if len(text) > limit:
        raise InvalidArgument(
            f"'{name}' must be at most {limit} characters long, not {len(text)}: {shown(text)}",
            argument=name,
            limit=limit,
        )
    problem = _refused_character(text, free=name in FREE_TEXT if free is None else free)
    if problem is not None:
        raise InvalidArgument(f"'{name}' must not contain {problem}", argument=name)
    return text


_TRUE = {"1", "true", "yes"}
_FALSE = {"0", "false", "no"}


def _convert(spec: ArgSpec, element: etree._Element) -> Any:
    name = spec.xml.name
    if spec.kind == "node":
        return element
    if spec.model is not None:  # a list argument's items are named from the item (MPS's messages)
        if spec.kind == "model":
            return _model_from_xml(spec.model, element, name)
        return _models_from_xml(spec, element, "")
    if spec.kind == "list":
        return tuple(_list_items(spec, element))
    if spec.kind == "properties":
        return tuple(_properties(element))
    if spec.kind == "secret":
        if len(element):
            raise InvalidArgument(f"'{name}' must be text, not XML", argument=name)
        return Secret(element.text or "")  # verbatim: spaces are part of a password
    return _from_text(spec, _text(spec, element))


_TYPES: dict[str, type] = {"dn": DN, "upn": Upn, "node": etree._Element, "secret": Secret}


def _coerce(spec: ArgSpec, value: Any) -> Any:
    """A Python value for ``spec``: as it is when already of its type, else read as XML would be."""
    wanted = _TYPES.get(spec.kind)
    if wanted is not None and isinstance(value, wanted):
        return value
    if spec.model is not None:
        if spec.kind == "model":
            return _model_from_value(spec.model, value, spec.xml.name)
        return _models_from_value(spec, value, "")
    if spec.kind == "bool" and isinstance(value, bool):
        return value
    if spec.kind == "list" and isinstance(value, (tuple, list)):
        return _list_values(spec, value)
    if spec.kind == "properties" and isinstance(value, (tuple, list)):
        if not all(isinstance(p, Property) for p in value):
            raise InvalidArgument(f"'{spec.xml.name}' takes Property values", argument=spec.xml.name)
        return tuple(value)
    if spec.kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if spec.kind == "properties" and isinstance(value, tuple) and all(isinstance(p, Property) for p in value):
        return value  # bound already (a procedure handing its own <properties> on)
    if isinstance(value, etree._Element):
        return _convert(spec, value)
    text = (
        value.reveal()
        if isinstance(value, Secret)
        else value.ldap_path
        if isinstance(value, DN)
        else str(value)
    )
    if spec.kind == "secret":
        return Secret(text)
    if spec.kind in ("str", "bool", "int", "dn", "upn"):
        return _from_text(spec, text.strip() if spec.kind in ("bool", "int") else _exact(spec.xml.name, text))
    element = etree.Element(spec.xml.name)
    element.text = text
    return _convert(spec, element)


def _from_text(spec: ArgSpec, text: str) -> Any:
    name = spec.xml.name
    if spec.kind == "bool":
        if text == "" or text.lower() in _TRUE:  # an empty element is a flag that is set
            return True
        if text.lower() in _FALSE:
            return False
        raise InvalidArgument(f"'{name}' must be true or false, not {shown(text)}", argument=name)
    if text == "":
        raise InvalidArgument(f"'{name}' must not be empty", argument=name)
    if spec.kind == "int":
        value = parse_int(text, signed=True)
        if value is None:
            raise InvalidArgument(
                f"'{name}' must be an integer of at most 18 ASCII digits, not {shown(text)}", argument=name
            )
        return value
    if spec.kind == "dn":
        try:
            return DN.from_path(text)
        except InvalidArgument as exc:
            raise InvalidArgument(f"'{name}': {exc.description}", argument=name) from None
    if spec.kind == "upn":
        try:
            return Upn.parse(text)
        except InvalidArgument as exc:
            raise InvalidArgument(f"'{name}': {exc.description}", argument=name) from None
    return checked_text(name, text)


def verbatim(where: str, text: str) -> str:
    """An ``Xml.parse`` that takes a value as given, for the procedure to check as a value (an
    address list whose items are checked against the organization's domains)."""
    return text


def _list_values(spec: ArgSpec, values: Iterable[Any]) -> tuple[str, ...]:
    """A list argument from a nested call's values: each item by the rule of an XML item."""
    item = spec.xml.item or spec.xml.name
    if spec.xml.parse is not None:
        return tuple(spec.xml.parse(item, str(v)) for v in values)
    return tuple(checked_text(item, _exact(item, str(v))) for v in values)


def _list_items(spec: ArgSpec, element: etree._Element) -> Iterator[str]:
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if child.tag != spec.xml.item:
            raise InvalidArgument(
                f"'{spec.xml.name}' may only hold <{spec.xml.item}> elements, not <{child.tag}>",
                argument=spec.xml.name,
            )
        if spec.xml.parse is not None:  # items the procedure reads its own way (addresses)
            if len(child):
                raise InvalidArgument(f"'{spec.xml.item}' must be text, not XML", argument=spec.xml.name)
            yield spec.xml.parse(spec.xml.item or "", child.text or "")
            continue
        item = _text(ArgSpec(spec.attr, Xml(spec.xml.item or ""), "str", True, None), child)
        if not item:
            raise InvalidArgument(f"'{spec.xml.item}' must not be empty", argument=spec.xml.name)
        yield checked_text(spec.xml.item or spec.xml.name, item)


def _properties(element: etree._Element) -> Iterator[Property]:
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if child.tag != "property" or not child.get("name"):
            raise InvalidArgument(
                "'properties' may only hold <property name=\"…\"> elements", argument="properties"
            )
        name = checked_text("property name", child.get("name", ""))
        where = f"property {shown(name)}"
        texts = []
        for value in child:
            if not isinstance(value.tag, str):
                continue
            if value.tag != "value" or len(value):
                # markup would otherwise be read as the empty text before it, and stored so
                raise InvalidArgument(
                    f"{where} may only hold <value> elements of text, not XML", argument="properties"
                )
            texts.append(value.text or "")
        if not texts and (child.text or "").strip():
            texts = [child.text or ""]  # <property name="street">1703 NE 91st</property>
        values = tuple(
            checked_text(where, _exact(where, t), limit=MAX_PROPERTY_VALUE, free=True) for t in texts
        )
        yield Property(name, values, append=child.get("mode") == "append")


# Structured arguments ------------------------------------------------------------------------
#
# A model's fields are bound before ``run()`` as a simple argument is, and every error names the
# value's path from the argument down: ``mailStore/sourceMailStores/sourceMailStore[2]/megabytes``.
# An item's index (from 1, as in XPath) is shown when its list holds more than one.  The items of
# a list *argument* are named from the item (``mailStore[2]/megabytes`` in ``<mailStores>``), as
# MPS's own messages name them.  Element text inside a model is non-empty text without stray
# whitespace, then read by the field's type (or its ``Xml.parse``).

TEXT_KINDS = frozenset({"str", "bool", "int", "dn", "upn"})


def xml_fields(cls: type, what: str) -> Iterator[tuple[dataclasses.Field[Any], Any, Xml]]:
    """(field, its type, its Xml) of each field of the frozen dataclass ``cls``, in order; a
    ``TypeError`` naming ``what`` it is (a structured argument, a result) when it is not one."""
    params = getattr(cls, "__dataclass_params__", None)
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)) or not params or not params.frozen:
        raise TypeError(f"{cls!r}: {what} is a frozen dataclass")
    hints = get_type_hints(cls, include_extras=True)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        xml = next((m for m in get_args(hint)[1:] if isinstance(m, Xml)), None)
        if get_origin(hint) is not Annotated or xml is None:
            raise TypeError(f"{cls.__name__}.{f.name}: a field of {what} needs Xml(...)")
        yield f, get_args(hint)[0], xml


@functools.cache
def model_fields(cls: type) -> tuple[ArgSpec, ...]:
    """The declared fields of a structured argument's frozen dataclass, in order."""
    # a bound value is a value: nothing in run() may change what the caller sent
    found = []
    for f, tp, xml in xml_fields(cls, "a structured argument"):
        kind, optional, model = kind_of(tp)
        in_place = xml.name == "." and kind == "models"  # items standing in the element itself
        text_only = (xml.name.startswith("@") or xml.name == ".") and not in_place
        if kind in ("secret", "properties", "node") or (text_only and kind not in TEXT_KINDS):
            raise TypeError(f"{cls.__name__}.{f.name}: {kind} is not a field kind of a structured argument")
        if kind in ("models", "list") and xml.item is None:
            raise TypeError(f"{cls.__name__}.{f.name}: a list field needs Xml(item=...)")
        has_default = f.default is not dataclasses.MISSING
        default = f.default if has_default else None
        found.append(ArgSpec(f.name, xml, kind, not (optional or has_default), default, model))
    return tuple(found)


@functools.cache
def _element_names(cls: type) -> frozenset[str]:
    names = {f.xml.name for f in model_fields(cls) if f.xml.name[:1] not in ("@", ".")}
    return frozenset(names | {f.xml.item for f in model_fields(cls) if _in_place(f) and f.xml.item})


def _in_place(spec: ArgSpec) -> bool:
    """A list field ``Xml(".", item=…)``: its items stand in the element itself, not in a wrapper
    (``<errorContext>``'s ``<errorSource>`` frames)."""
    return spec.kind == "models" and spec.xml.name == "."


def _joined(path: str, name: str) -> str:
    return f"{path}/{name}" if path else name


def _item_paths(path: str, item: str, count: int) -> list[str]:
    base = _joined(path, item)
    return [base] if count == 1 else [f"{base}[{n}]" for n in range(1, count + 1)]


def _typed_text(spec: ArgSpec, text: str, where: str) -> Any:
    """A field's text read by its ``parse`` or its type; errors name ``where``."""
    if spec.xml.parse is not None:
        return spec.xml.parse(where, text)
    if spec.kind == "str":  # an element's text is non-empty already; an attribute may be empty
        return checked_text(where, text)
    return _from_text(ArgSpec(spec.attr, Xml(where), spec.kind, True, None), text)


def _element_text(spec: ArgSpec, element: etree._Element, where: str) -> Any:
    text = element.text or ""
    if len(element) or not text or text != text.strip() or "\x00" in text:
        raise InvalidArgument(f"'{where}' must be non-empty text without stray whitespace", argument=where)
    return _typed_text(spec, text, where)


def _model_from_xml(cls: type, element: etree._Element, path: str) -> Any:
    names = _element_names(cls)
    children: dict[str, list[etree._Element]] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if child.tag not in names:
            raise InvalidArgument(f"<{child.tag}> is not part of <{element.tag}>", argument=child.tag)
        children.setdefault(child.tag, []).append(child)
    values: dict[str, Any] = {}
    for spec in model_fields(cls):
        name = spec.xml.name
        where = _joined(path, name)
        value: Any = None
        if name.startswith("@"):
            raw = element.get(name[1:])
            value = None if raw is None else _typed_text(spec, raw, where)
        elif _in_place(spec):
            assert spec.model is not None and spec.xml.item is not None
            found = children.get(spec.xml.item, [])
            paths = _item_paths(path, spec.xml.item, len(found))
            value = tuple(_model_from_xml(spec.model, c, p) for c, p in zip(found, paths, strict=True))
        elif name == ".":
            value = _typed_text(spec, element.text or "", where)
        elif name in children:
            found = children[name]
            if len(found) > 1:
                raise InvalidArgument(f"'{where}' is given more than once", argument=where)
            value = _field_from_xml(spec, found[0], where)
        values[spec.attr] = _given_or_default(spec, value, where)
    return cls(**values)


def _field_from_xml(spec: ArgSpec, element: etree._Element, where: str) -> Any:
    if spec.kind == "model":
        assert spec.model is not None
        return _model_from_xml(spec.model, element, where)
    if spec.kind == "models":
        return _models_from_xml(spec, element, where)
    if spec.kind == "list":
        return tuple(
            _list_items(dataclasses.replace(spec, xml=dataclasses.replace(spec.xml, name=where)), element)
        )
    return _element_text(spec, element, where)


def _models_from_xml(spec: ArgSpec, element: etree._Element, where: str) -> tuple[Any, ...]:
    assert spec.model is not None and spec.xml.item is not None
    item = spec.xml.item
    found = []
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if child.tag != item:
            raise InvalidArgument(f"<{element.tag}> may only hold <{item}> elements, not <{child.tag}>")
        found.append(child)
    paths = _item_paths(where, item, len(found))
    return tuple(_model_from_xml(spec.model, child, p) for child, p in zip(found, paths, strict=True))


def _given_or_default(spec: ArgSpec, value: Any, where: str) -> Any:
    if value is not None:
        return value
    if spec.required:
        raise MissingArgument(f"'{where}' is required", argument=where)
    return spec.default


def _model_from_value(cls: type, value: Any, path: str) -> Any:
    """A model from a nested call's value: an instance as it is, an element as XML, and a mapping
    by XML names, or another model of the same shape (a namespace's own), field by field."""
    if isinstance(value, cls):
        return value
    if isinstance(value, etree._Element):
        return _model_from_xml(cls, value, path)
    if isinstance(value, Mapping):
        given = dict(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        given = {f.xml.name: getattr(value, f.attr) for f in model_fields(type(value))}
    else:
        raise InvalidArgument(f"'{path}' must be structured, not {shown(str(value))}", argument=path)
    tag = path.rsplit("/", 1)[-1].split("[", 1)[0]
    fields = model_fields(cls)
    known = {f.xml.name for f in fields}
    for name in given:
        if name not in known:
            raise InvalidArgument(f"<{name}> is not part of <{tag}>", argument=name)
    values: dict[str, Any] = {}
    for spec in fields:
        where = _joined(path, spec.xml.name)
        values[spec.attr] = _given_or_default(
            spec, _field_from_value(spec, given.get(spec.xml.name), where), where
        )
    return cls(**values)


def _field_from_value(spec: ArgSpec, value: Any, where: str) -> Any:
    if value is None or isinstance(value, etree._Element):
        return None if value is None else _field_from_xml(spec, value, where)
    if spec.model is not None:
        if spec.kind == "model":
            return _model_from_value(spec.model, value, where)
        return _models_from_value(spec, value, where)
    if spec.kind == "list":
        item = _joined(where, spec.xml.item or "")
        return _list_values(dataclasses.replace(spec, xml=dataclasses.replace(spec.xml, item=item)), value)
    # a typed value is taken as it is; text (a str field's value too) passes the rule of its kind
    typed = isinstance(value, _VALUE_TYPES[spec.kind]) and (spec.kind == "bool") == isinstance(value, bool)
    if typed and spec.kind != "str" and spec.xml.parse is None:
        return value
    text = value.ldap_path if isinstance(value, DN) else str(value)
    if spec.xml.name[:1] not in ("@", ".") and (not text or text != text.strip() or "\x00" in text):
        raise InvalidArgument(f"'{where}' must be non-empty text without stray whitespace", argument=where)
    return _typed_text(spec, text, where)


_VALUE_TYPES: dict[str, type] = {"str": str, "bool": bool, "int": int, "dn": DN, "upn": Upn}


def _models_from_value(spec: ArgSpec, value: Any, where: str) -> tuple[Any, ...]:
    assert spec.model is not None and spec.xml.item is not None
    if isinstance(value, etree._Element):
        return _models_from_xml(spec, value, where)
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise InvalidArgument(
            f"'{where or spec.xml.name}' must be a list of <{spec.xml.item}>", argument=where
        )
    items = list(value)
    paths = _item_paths(where, spec.xml.item, len(items))
    return tuple(_model_from_value(spec.model, v, p) for v, p in zip(items, paths, strict=True))


_KINDS: dict[Any, str] = {str: "str", bool: "bool", int: "int", DN: "dn", Upn: "upn", Secret: "secret"}


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def kind_of(tp: Any, *, result: bool = False) -> tuple[str, bool, type | None]:
    """(kind, optional, model) of an annotation; ``result``: of a result's field, which may also
    hold pairs (``tuple[tuple[str, str], ...]``, elements named by data)."""
    optional = False
    if get_origin(tp) in (types.UnionType, typing.Union):
        members = [a for a in get_args(tp) if a is not type(None)]
        optional = len(members) != len(get_args(tp))
        tp = members[0]
    if tp in _KINDS:
        return _KINDS[tp], optional, None
    if tp is etree._Element:
        return "node", optional, None
    if _is_model(tp) and tp is not Property:
        if not result:
            model_fields(tp)  # a bad field is an error at declaration, not at the first request
        return "model", optional, tp
    if get_origin(tp) is tuple and get_args(tp)[:1] == (str,):
        return "list", optional, None
    if get_origin(tp) is tuple and get_args(tp)[:1] == (Property,):
        return "properties", optional, None
    if get_origin(tp) is tuple and _is_model(get_args(tp)[0]):
        if not result:
            model_fields(get_args(tp)[0])
        return "models", optional, get_args(tp)[0]
    if result and get_origin(tp) is tuple and get_args(tp)[:1] == (tuple[str, str],):
        return "pairs", optional, None
    raise TypeError(f"unsupported argument type {tp!r}")


C = TypeVar("C", bound=type[Procedure])


def procedure(
    namespace: str,
    name: str,
    *,
    requires: Role,
    scope: str | None = None,
    access: Literal["public", "private"] = "public",
    kind: Literal["read", "write"] = "write",
    right: str | None = None,
    extension: bool = False,
) -> Callable[[C], C]:
    """Declare a class as an MPF procedure (see the module docstring).

    ``requires`` is the MPS role checked on the ``scope`` argument; ``right`` (e.g.
    ``"DS_CREATE_CHILD"``) is the right the target's DACL must also grant, as AD would enforce it
    on an impersonated caller.  ``extension``: a procedure MPS does not document, added by OpenMPS
    in the same style (docs/api marks it so clients written against MPS know not to expect it).
    """

    def wrap(cls: C) -> C:
        hints = get_type_hints(cls, include_extras=True)
        args = []
        for attr, hint in hints.items():
            if get_origin(hint) is not Annotated:
                continue
            base, *meta = get_args(hint)
            xml = next((m for m in meta if isinstance(m, Xml)), None)
            if xml is None:
                continue
            arg_kind, optional, model = kind_of(base)
            if arg_kind == "models" and xml.item is None:
                raise TypeError(f"{cls.__name__}.{attr}: a list of structured values needs Xml(item=...)")
            # defaults may come from a base class that groups arguments several procedures share
            owner = next((k for k in cls.__mro__ if attr in k.__dict__), None)
            has_default = owner is not None
            default = owner.__dict__[attr] if owner is not None else None
            args.append(ArgSpec(attr, xml, arg_kind, not (optional or has_default), default, model))
        if scope is not None and scope not in {a.attr for a in args}:
            raise TypeError(f"{cls.__name__}: scope '{scope}' is not an argument")
        doc = summary(cls.__doc__)
        result = _result_type(cls)
        prepares = callable(getattr(cls, "prepare", None))
        spec = ProcedureSpec(
            namespace,
            name,
            cls,
            requires,
            scope,
            access,
            kind,
            tuple(args),
            doc,
            right,
            result,
            prepares,
            extension,
        )
        setattr(cls, "__mps_spec__", spec)  # noqa: B010  (a class attribute mypy need not know)
        return cls

    return wrap


def _result_type(cls: type[Procedure]) -> type | None:
    """The result dataclass ``run()`` is annotated to return (None: it answers nothing)."""
    run = getattr(cls, "run", None)  # (the engine's own tests declare classes without one)
    hint = get_type_hints(run).get("return") if run is not None else None
    if get_origin(hint) in (types.UnionType, typing.Union):  # X | None: it may answer nothing
        hint = next((a for a in get_args(hint) if a is not type(None)), None)
    if hint is None or hint is type(None):
        return None
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return hint
    raise TypeError(f"{cls.__name__}.run() must return a result dataclass or None, not {hint!r}")


def summary(docstring: str | None) -> str:
    """A docstring's first paragraph on one line: the whole summary, not its first wrapped line."""
    paragraph = (docstring or "").strip().split("\n\n", 1)[0]
    return " ".join(paragraph.split())


def spec_of(cls: type) -> ProcedureSpec:
    spec = getattr(cls, "__mps_spec__", None)
    if not isinstance(spec, ProcedureSpec):
        raise TypeError(f"{cls.__name__} is not declared with @procedure")
    return spec


class Registry:
    """The namespaces and procedures a deployment answers."""

    def __init__(self, classes: Iterable[type] = ()) -> None:
        self._specs: dict[tuple[str, str], ProcedureSpec] = {}
        self._namespaces: dict[str, str] = {}
        for cls in classes:
            self.add(cls)

    def add(self, cls: type, *, alias_namespace: str | None = None) -> None:
        spec = spec_of(cls)
        namespace = alias_namespace or spec.namespace
        key = (namespace.casefold(), spec.name.casefold())
        if key in self._specs:
            raise ValueError(f"{namespace}::{spec.name} is declared twice")
        self._specs[key] = spec
        self._namespaces[namespace.casefold()] = namespace

    def get(self, namespace: str, name: str) -> ProcedureSpec:
        spec = self._specs.get((namespace.casefold(), name.casefold()))
        if spec is None:
            if namespace.casefold() not in self._namespaces:
                raise UnknownProcedure(f"unknown namespace {shown(namespace)}", namespace=namespace)
            raise UnknownProcedure(
                f"unknown procedure {shown(name)} in namespace '{namespace}'", procedure=name
            )
        return spec

    def answered(self) -> Iterator[tuple[str, ProcedureSpec]]:
        """Each (namespace, procedure) a client may name, an alias namespace's too, sorted."""
        named = ((self._namespaces[ns], spec) for (ns, _), spec in self._specs.items())
        return iter(sorted(named, key=lambda pair: (pair[0], pair[1].name)))

    def __iter__(self) -> Iterator[ProcedureSpec]:
        """Each declared procedure once (a procedure answered under an alias namespace too)."""
        unique = {id(s): s for s in self._specs.values()}.values()
        return iter(sorted(unique, key=lambda s: (s.namespace, s.name)))
