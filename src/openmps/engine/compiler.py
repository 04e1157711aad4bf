"""Compiling an MPF <procedure>: every structural error is found before the first step runs.

The compiled form (executes, transforms, forEach, repeat, when/select, try/catch) is what the
interpreter runs; compiling it first means a malformed request fails without side effects.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field

from lxml import etree

from openmps.engine import xpathcost
from openmps.errors import InvalidArgument, MalformedRequest, NotImplementedYet, RequestRejected
from openmps.types import shown

XSL_NS = "http://www.w3.org/1999/XSL/Transform"
_XSL_TEMPLATE = f"{{{XSL_NS}}}template"
_FIXED_ROOTS = ("data", "procedureData", "context")
_MODES = ("insert", "merge", "replace", "move")
_IF_NULL = ("fail", "ignore", "skip")
SIMPLE_PATH = re.compile(r"[^\W\d][\w.-]*(?:/[^\W\d][\w.-]*)*")
NOT_XML_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# --- the compiled procedure -------------------------------------------------------------------------


@dataclass
class XPathRef:
    text: str
    xpath: etree.XPath
    label: str  # "<before> (line 3) sourcePath", for messages
    cost: xpathcost.XPathCost  # the shape of its work (engine/xpathcost.py)

    @property
    def shown(self) -> str:
        """The expression as messages quote it: cut after 80 characters."""
        return _shown(self.text)


def _shown(text: str) -> str:
    return text if len(text) <= 80 else text[:80] + "…"


@dataclass
class When:
    select: str | None
    case: str | None
    source: str | None
    path: XPathRef | None


@dataclass
class Transform:
    label: str
    source: str
    destination: str
    source_path: XPathRef | None
    destination_path: XPathRef | None
    mode: str
    if_null: str
    allow_null: bool
    xslt: etree.XSLT | None  # compiled here to find errors before a step runs
    whens: list[When]
    stylesheet: bytes | None = None  # what runs: in a worker process (engine/xsltsandbox.py)


@dataclass
class ForEach:
    label: str
    name: str
    root: str
    path: XPathRef
    if_null: str
    on_error: str  # "fail": one bad item fails the request; "continue": each item stands alone


@dataclass
class Repeat:
    source: str
    path: XPathRef | None


@dataclass
class Execute:
    namespace: str
    procedure: str
    impersonate: int
    execute_data: etree._Element | None
    before: list[Transform] = field(default_factory=list)
    after: list[Transform] = field(default_factory=list)
    for_each: list[ForEach] = field(default_factory=list)
    whens: list[When] = field(default_factory=list)  # evaluated once, before any forEach
    item_whens: list[When] = field(default_factory=list)  # name a forEach: evaluated per item
    repeat: Repeat | None = None

    @property
    def isolated(self) -> bool:
        return bool(self.for_each) and self.for_each[-1].on_error == "continue"


@dataclass
class Try:
    body: list[Step]
    handler: list[Step]


Step = Execute | Try | Transform


@dataclass
class Select:
    source: str
    path: XPathRef | None
    default_case: str | None
    if_null_case: str | None
    cases: list[tuple[str, str]]


# --- compiling: every structural error is found here, before any step runs ---------------------------


def _name(el: etree._Element) -> str:
    qname = etree.QName(el)
    if el.prefix:
        return f"{el.prefix}:{qname.localname}"
    return el.tag if qname.namespace is None else f"{{{qname.namespace}}}{qname.localname}"


def where(el: etree._Element) -> str:
    return f"<{_name(el)}>" + (f" (line {el.sourceline})" if el.sourceline else "")


def element_children(el: etree._Element) -> list[etree._Element]:
    return [child for child in el if isinstance(child.tag, str)]


def _required(el: etree._Element, attr: str) -> str:
    value = el.get(attr)
    if value is None or not value.strip():
        raise MalformedRequest(f"{where(el)} is missing the required attribute '{attr}'")
    return value


# The longest namespace or procedure name a request may name: MPS's longest is under 50, and the
# name comes back in <errorSource> when it is unknown.
MAX_PROCEDURE_NAME = 128


def _procedure_name(el: etree._Element, attr: str) -> str:
    value = _required(el, attr)
    if len(value) > MAX_PROCEDURE_NAME:
        raise MalformedRequest(
            f"{where(el)}: the {attr} name {shown(value)} is longer than {MAX_PROCEDURE_NAME} characters"
        )
    return value


def _choice(el: etree._Element, attr: str, allowed: tuple[str, ...], default: str) -> str:
    value = el.get(attr, default)
    if value not in allowed:
        raise MalformedRequest(f"{where(el)} {attr}='{value}' is not one of {', '.join(allowed)}")
    return value


def _root_name(el: etree._Element, attr: str, allowed: tuple[str, ...]) -> str:
    value = _required(el, attr)
    if value not in allowed:
        raise MalformedRequest(f"{where(el)} {attr}='{value}' is not one of {', '.join(allowed)}")
    return value


def _path(el: etree._Element, attr: str, *, required: bool = False) -> XPathRef | None:
    text = el.get(attr)
    if text is None or not text.strip():
        if required:
            raise MalformedRequest(f"{where(el)} is missing the required attribute '{attr}'")
        return None
    label = f"{where(el)} {attr}"
    namespaces = {prefix: uri for prefix, uri in el.nsmap.items() if prefix}
    try:
        xpath = etree.XPath(text, namespaces=namespaces, regexp=False, smart_strings=False)
    except etree.XPathError as error:
        raise InvalidArgument(f"{label} '{text}' is not a valid XPath expression: {error}") from None
    return XPathRef(text, xpath, label, _cost(text, label))


def _cost(text: str, label: str) -> xpathcost.XPathCost:
    """The degree of the expression's work, refusing ones whose cost can explode on any document."""
    shown = _shown(text)
    if len(text) > xpathcost.MAX_LENGTH:
        raise RequestRejected(
            f"{label} is {len(text)} characters long, more than {xpathcost.MAX_LENGTH} (max_xpath_length)",
            limit="max_xpath_length",
        )
    try:
        cost = xpathcost.estimate(text)
    except xpathcost.UnreadableXPath as error:
        raise RequestRejected(
            f"{label} '{shown}': the cost of this XPath expression cannot be bounded ({error}) "
            "(max_xpath_degree)",
            limit="max_xpath_degree",
        ) from None
    degree = cost.degree
    if degree > xpathcost.MAX_DEGREE:
        raise RequestRejected(
            f"{label} '{shown}' nests document walks (//, absolute paths, other axes than child and "
            f"attribute) {degree} deep, so its work grows as N^{degree} for N nodes; at most "
            f"{xpathcost.MAX_DEGREE} are allowed (max_xpath_degree)",
            limit="max_xpath_degree",
        )
    return cost


class Compiler:
    """Turns a <procedure> element into steps, checking every element and attribute."""

    def __init__(self, procedure: etree._Element) -> None:
        self.selects: dict[str, Select] = {}
        self.procedure_data: etree._Element | None = None
        for child in element_children(procedure):  # definitions first: a <when> may name a later <select>
            if child.tag == "select":
                self._select(child)
            elif child.tag == "procedureData":
                if self.procedure_data is not None:
                    raise MalformedRequest(f"{where(child)}: <procedure> has more than one <procedureData>")
                self.procedure_data = child
        self.steps = self._block(procedure, top=True)

    def _select(self, el: etree._Element) -> None:
        name = _required(el, "name")
        if name in self.selects:
            raise MalformedRequest(f"{where(el)}: a <select> named '{name}' is already defined")
        cases: list[tuple[str, str]] = []
        for child in element_children(el):
            if child.tag != "where":
                raise MalformedRequest(f"{where(child)} is not allowed in <select>")
            value = child.get("value")
            if value is None:
                raise MalformedRequest(f"{where(child)} is missing the required attribute 'value'")
            cases.append((value, _required(child, "case").strip()))
        self.selects[name] = Select(
            source=_root_name(el, "source", _FIXED_ROOTS),
            path=_path(el, "sourcePath"),
            default_case=(el.get("defaultCase") or "").strip() or None,
            if_null_case=(el.get("ifNullCase") or "").strip() or None,
            cases=cases,
        )

    def _block(self, parent: etree._Element, *, top: bool) -> list[Step]:
        steps: list[Step] = []
        children = element_children(parent)
        index = 0
        while index < len(children):
            child = children[index]
            tag = child.tag
            if tag == "execute":
                steps.append(self._execute(child))
            elif tag == "transform":
                steps.append(self._transform(child, _FIXED_ROOTS, standalone=True))
            elif tag == "try":
                following = children[index + 1] if index + 1 < len(children) else None
                if following is None or following.tag != "catch":
                    raise MalformedRequest(f"{where(child)} must be immediately followed by its <catch>")
                steps.append(Try(self._block(child, top=False), self._block(following, top=False)))
                index += 1
            elif tag == "catch":
                raise MalformedRequest(f"{where(child)} is not immediately preceded by a <try>")
            elif tag == "queue":
                raise NotImplementedYet("<queue> (asynchronous requests) is not supported yet")
            elif not (top and tag in ("select", "procedureData", "schema")):
                raise MalformedRequest(f"{where(child)} is not allowed in <{_name(parent)}>")
            index += 1
        return steps

    def _execute(self, el: etree._Element) -> Execute:
        namespace, procedure = _procedure_name(el, "namespace"), _procedure_name(el, "procedure")
        impersonate = _choice(el, "impersonate", ("0", "1", "2"), "0")
        by_tag: dict[str, list[etree._Element]] = {}
        for child in element_children(el):
            if child.tag not in ("executeData", "before", "after", "forEach", "when", "repeat"):
                raise MalformedRequest(f"{where(child)} is not allowed in <execute>")
            by_tag.setdefault(child.tag, []).append(child)
        for single in ("executeData", "repeat"):
            if len(by_tag.get(single, [])) > 1:
                raise MalformedRequest(f"{where(by_tag[single][1])}: <execute> allows only one <{single}>")
        data = by_tag.get("executeData", [])
        step = Execute(namespace, procedure, int(impersonate), data[0] if data else None)
        names: list[str] = []
        for el_fe in by_tag.get("forEach", []):
            name = _required(el_fe, "name")
            if name in names or name in (*_FIXED_ROOTS, "executeData"):
                raise MalformedRequest(f"{where(el_fe)} name '{name}' is already used in this <execute>")
            root = el_fe.get("root", "data")
            if root not in (*_FIXED_ROOTS, *names):
                raise MalformedRequest(
                    f"{where(el_fe)} root='{root}' is not data, procedureData, context or an earlier forEach"
                )
            path = _path(el_fe, "path", required=True)
            assert path is not None
            if_null = _choice(el_fe, "ifNull", _IF_NULL, "fail")
            on_error = _choice(el_fe, "onError", ("fail", "continue"), "fail")
            step.for_each.append(ForEach(where(el_fe), name, root, path, if_null, on_error))
            names.append(name)
        # An isolated iteration is one run of the procedure, so only the innermost loop may ask for it.
        for loop in step.for_each[:-1]:
            if loop.on_error == "continue":
                raise MalformedRequest(
                    f"{loop.label} onError='continue' is allowed only on the last <forEach> of an <execute>"
                )
        sources = (*_FIXED_ROOTS, *names)
        for el_when in by_tag.get("when", []):
            when = self._when(el_when, sources)
            (step.item_whens if when.source in names else step.whens).append(when)
        for el_repeat in by_tag.get("repeat", []):
            step.repeat = Repeat(_root_name(el_repeat, "source", sources), _path(el_repeat, "sourcePath"))
        roots = (*_FIXED_ROOTS, "executeData", *names)
        step.before = [self._transform(t, roots, standalone=False) for t in by_tag.get("before", [])]
        step.after = [self._transform(t, roots, standalone=False) for t in by_tag.get("after", [])]
        if step.isolated:
            # A failed item is undone from a copy of itself, so it may change nothing else.
            item = step.for_each[-1].name
            for t in (*step.before, *step.after):
                if not _writes_within(t, item):
                    raise MalformedRequest(
                        f"{t.label} changes more than executeData and the inside of the forEach item "
                        f"'{item}'; with onError='continue' each item may change only itself"
                    )
        return step

    def _when(self, el: etree._Element, sources: tuple[str, ...]) -> When:
        select, source = el.get("select"), el.get("source")
        if (select is None) == (source is None):
            raise MalformedRequest(f"{where(el)} needs either select+case or source+sourcePath")
        if select is not None:
            if select not in self.selects:
                raise MalformedRequest(f"{where(el)} select='{select}' names no <select> of this procedure")
            return When(select, _required(el, "case").strip(), None, None)
        return When(None, None, _root_name(el, "source", sources), _path(el, "sourcePath"))

    def _transform(self, el: etree._Element, roots: tuple[str, ...], *, standalone: bool) -> Transform:
        templates: list[etree._Element] = []
        whens: list[When] = []
        for child in element_children(el):
            if child.tag == _XSL_TEMPLATE:
                templates.append(child)
            elif standalone and child.tag == "when":
                whens.append(self._when(child, _FIXED_ROOTS))
            else:
                raise MalformedRequest(f"{where(child)} is not allowed in <{_name(el)}>")
        xslt = _compile_xslt(el, templates) if templates else None
        return Transform(
            label=where(el),
            source=_root_name(el, "source", roots),
            destination=_root_name(el, "destination", roots),
            source_path=_path(el, "sourcePath"),
            destination_path=_path(el, "destinationPath"),
            mode=_choice(el, "mode", _MODES, "insert"),
            if_null=_choice(el, "ifNull", _IF_NULL, "fail"),
            allow_null=_choice(el, "allowNullTransform", ("0", "1", "false", "true"), "0") in ("1", "true"),
            xslt=xslt[0] if xslt else None,
            whens=whens,
            stylesheet=xslt[1] if xslt else None,
        )


def _writes_within(t: Transform, item: str) -> bool:
    """Whether ``t`` changes nothing but executeData and the inside of the forEach item ``item``."""
    if t.destination not in ("executeData", item):
        return False
    if t.mode == "replace" and t.destination == item and t.destination_path is None:
        return False  # swaps the item itself in its parent
    # A move takes nodes out of its source: only executeData's, or the item's own (not the item itself).
    return t.mode != "move" or t.source == "executeData" or (t.source == item and t.source_path is not None)


def _compile_xslt(el: etree._Element, templates: list[etree._Element]) -> tuple[etree.XSLT, bytes]:
    """Wrap the xsl:template children in a stylesheet; no file or network access, no regexps.

    Answers it compiled (its errors are the request's, found before a step runs) and serialized."""
    nsmap: dict[str | None, str] = {}
    for template in templates:
        for prefix, uri in template.nsmap.items():
            nsmap.setdefault(prefix, uri)
    nsmap["xsl"] = XSL_NS
    stylesheet = etree.Element(f"{{{XSL_NS}}}stylesheet", nsmap=nsmap, version="1.0")  # type: ignore[arg-type]
    stylesheet.extend(copy.deepcopy(template) for template in templates)
    try:
        compiled = etree.XSLT(stylesheet, regexp=False, access_control=etree.XSLTAccessControl.DENY_ALL)  # type: ignore[attr-defined]
    except etree.XSLTError as error:
        raise InvalidArgument(f"{where(el)} holds an invalid XSL template: {error}") from None
    return compiled, etree.tostring(stylesheet)
