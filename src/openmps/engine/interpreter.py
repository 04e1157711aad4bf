"""The MPF procedure language: runs the steps of a <request> against a StepRunner.

The interpreter owns only the XML side of a request (data, procedureData, executeData, context and
the transforms that move nodes between them); every provider call and every unit of work goes through
the StepRunner, so this module never touches a store.  The whole procedure is checked before the first
step runs, so a malformed request fails without side effects.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from typing import NoReturn, Protocol

from lxml import etree

from openmps.errors import (
    InvalidArgument,
    MalformedRequest,
    MpsError,
    NotImplementedYet,
    RequestRejected,
    RollbackFailed,
)

__all__ = ["RunLimits", "StepRunner", "run_request"]

XSL_NS = "http://www.w3.org/1999/XSL/Transform"
_XSL_TEMPLATE = f"{{{XSL_NS}}}template"
_FIXED_ROOTS = ("data", "procedureData", "context")
_MODES = ("insert", "merge", "replace", "move")
_IF_NULL = ("fail", "ignore", "skip")
_SIMPLE_PATH = re.compile(r"[^\W\d][\w.-]*(?:/[^\W\d][\w.-]*)*")
_NOT_XML_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class StepRunner(Protocol):
    """What the interpreter needs from the engine: run one procedure, open a savepoint."""

    def execute(
        self, namespace: str, procedure: str, execute_data: etree._Element, *, impersonate: int
    ) -> None:
        """Run one procedure: read arguments from execute_data, append outputs to it IN PLACE.

        Raises MpsError.
        """

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested unit of work: on exception it undoes everything done inside it, then re-raises."""


@dataclass(frozen=True)
class RunLimits:
    """Bounds on the work one request may cause; passing one rejects the whole request."""

    max_steps: int = 1_000_000  # executes actually run, over all forEach iterations and batch items
    max_iterations: int = 2_000_000  # step iterations attempted, including ones skipped by ifNull="skip"
    max_copied_elements: int = 10_000_000  # elements deep-copied by transforms, snapshots and XSLT


# --- the compiled procedure -------------------------------------------------------------------------


@dataclass
class _Path:
    text: str
    xpath: etree.XPath
    label: str  # "<before> (line 3) sourcePath", for messages


@dataclass
class _When:
    select: str | None
    case: str | None
    source: str | None
    path: _Path | None


@dataclass
class _Transform:
    label: str
    source: str
    destination: str
    source_path: _Path | None
    destination_path: _Path | None
    mode: str
    if_null: str
    allow_null: bool
    xslt: etree.XSLT | None
    whens: list[_When]


@dataclass
class _ForEach:
    label: str
    name: str
    root: str
    path: _Path
    if_null: str


@dataclass
class _Repeat:
    source: str
    path: _Path | None


@dataclass
class _Execute:
    namespace: str
    procedure: str
    impersonate: int
    execute_data: etree._Element | None
    before: list[_Transform] = field(default_factory=list)
    after: list[_Transform] = field(default_factory=list)
    for_each: list[_ForEach] = field(default_factory=list)
    whens: list[_When] = field(default_factory=list)  # evaluated once, before any forEach
    item_whens: list[_When] = field(default_factory=list)  # name a forEach: evaluated per item
    repeat: _Repeat | None = None


@dataclass
class _Try:
    body: list[_Step]
    handler: list[_Step]


_Step = _Execute | _Try | _Transform


@dataclass
class _Select:
    source: str
    path: _Path | None
    default_case: str | None
    if_null_case: str | None
    cases: list[tuple[str, str]]


# --- compiling: every structural error is found here, before any step runs ---------------------------


def _name(el: etree._Element) -> str:
    qname = etree.QName(el)
    if el.prefix:
        return f"{el.prefix}:{qname.localname}"
    return el.tag if qname.namespace is None else f"{{{qname.namespace}}}{qname.localname}"


def _where(el: etree._Element) -> str:
    return f"<{_name(el)}>" + (f" (line {el.sourceline})" if el.sourceline else "")


def _children(el: etree._Element) -> list[etree._Element]:
    return [child for child in el if isinstance(child.tag, str)]


def _required(el: etree._Element, attr: str) -> str:
    value = el.get(attr)
    if value is None or not value.strip():
        raise MalformedRequest(f"{_where(el)} is missing the required attribute '{attr}'")
    return value


def _choice(el: etree._Element, attr: str, allowed: tuple[str, ...], default: str) -> str:
    value = el.get(attr, default)
    if value not in allowed:
        raise MalformedRequest(f"{_where(el)} {attr}='{value}' is not one of {', '.join(allowed)}")
    return value


def _root_name(el: etree._Element, attr: str, allowed: tuple[str, ...]) -> str:
    value = _required(el, attr)
    if value not in allowed:
        raise MalformedRequest(f"{_where(el)} {attr}='{value}' is not one of {', '.join(allowed)}")
    return value


def _path(el: etree._Element, attr: str, *, required: bool = False) -> _Path | None:
    text = el.get(attr)
    if text is None or not text.strip():
        if required:
            raise MalformedRequest(f"{_where(el)} is missing the required attribute '{attr}'")
        return None
    label = f"{_where(el)} {attr}"
    namespaces = {prefix: uri for prefix, uri in el.nsmap.items() if prefix}
    try:
        xpath = etree.XPath(text, namespaces=namespaces, regexp=False, smart_strings=False)
    except etree.XPathError as error:
        raise InvalidArgument(f"{label} '{text}' is not a valid XPath expression: {error}") from None
    return _Path(text, xpath, label)


class _Compiler:
    """Turns a <procedure> element into steps, checking every element and attribute."""

    def __init__(self, procedure: etree._Element) -> None:
        self.selects: dict[str, _Select] = {}
        self.procedure_data: etree._Element | None = None
        for child in _children(procedure):  # definitions first: a <when> may name a later <select>
            if child.tag == "select":
                self._select(child)
            elif child.tag == "procedureData":
                if self.procedure_data is not None:
                    raise MalformedRequest(f"{_where(child)}: <procedure> has more than one <procedureData>")
                self.procedure_data = child
        self.steps = self._block(procedure, top=True)

    def _select(self, el: etree._Element) -> None:
        name = _required(el, "name")
        if name in self.selects:
            raise MalformedRequest(f"{_where(el)}: a <select> named '{name}' is already defined")
        cases: list[tuple[str, str]] = []
        for child in _children(el):
            if child.tag != "where":
                raise MalformedRequest(f"{_where(child)} is not allowed in <select>")
            value = child.get("value")
            if value is None:
                raise MalformedRequest(f"{_where(child)} is missing the required attribute 'value'")
            cases.append((value, _required(child, "case").strip()))
        self.selects[name] = _Select(
            source=_root_name(el, "source", _FIXED_ROOTS),
            path=_path(el, "sourcePath"),
            default_case=(el.get("defaultCase") or "").strip() or None,
            if_null_case=(el.get("ifNullCase") or "").strip() or None,
            cases=cases,
        )

    def _block(self, parent: etree._Element, *, top: bool) -> list[_Step]:
        steps: list[_Step] = []
        children = _children(parent)
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
                    raise MalformedRequest(f"{_where(child)} must be immediately followed by its <catch>")
                steps.append(_Try(self._block(child, top=False), self._block(following, top=False)))
                index += 1
            elif tag == "catch":
                raise MalformedRequest(f"{_where(child)} is not immediately preceded by a <try>")
            elif tag == "queue":
                raise NotImplementedYet("<queue> (asynchronous requests) is not supported yet")
            elif not (top and tag in ("select", "procedureData", "schema")):
                raise MalformedRequest(f"{_where(child)} is not allowed in <{_name(parent)}>")
            index += 1
        return steps

    def _execute(self, el: etree._Element) -> _Execute:
        namespace, procedure = _required(el, "namespace"), _required(el, "procedure")
        impersonate = _choice(el, "impersonate", ("0", "1", "2"), "0")
        by_tag: dict[str, list[etree._Element]] = {}
        for child in _children(el):
            if child.tag not in ("executeData", "before", "after", "forEach", "when", "repeat"):
                raise MalformedRequest(f"{_where(child)} is not allowed in <execute>")
            by_tag.setdefault(child.tag, []).append(child)
        for single in ("executeData", "repeat"):
            if len(by_tag.get(single, [])) > 1:
                raise MalformedRequest(f"{_where(by_tag[single][1])}: <execute> allows only one <{single}>")
        data = by_tag.get("executeData", [])
        step = _Execute(namespace, procedure, int(impersonate), data[0] if data else None)
        names: list[str] = []
        for el_fe in by_tag.get("forEach", []):
            name = _required(el_fe, "name")
            if name in names or name in (*_FIXED_ROOTS, "executeData"):
                raise MalformedRequest(f"{_where(el_fe)} name '{name}' is already used in this <execute>")
            root = el_fe.get("root", "data")
            if root not in (*_FIXED_ROOTS, *names):
                raise MalformedRequest(
                    f"{_where(el_fe)} root='{root}' is not data, procedureData, context or an earlier forEach"
                )
            path = _path(el_fe, "path", required=True)
            assert path is not None
            if_null = _choice(el_fe, "ifNull", _IF_NULL, "fail")
            step.for_each.append(_ForEach(_where(el_fe), name, root, path, if_null))
            names.append(name)
        sources = (*_FIXED_ROOTS, *names)
        for el_when in by_tag.get("when", []):
            when = self._when(el_when, sources)
            (step.item_whens if when.source in names else step.whens).append(when)
        for el_repeat in by_tag.get("repeat", []):
            step.repeat = _Repeat(_root_name(el_repeat, "source", sources), _path(el_repeat, "sourcePath"))
        roots = (*_FIXED_ROOTS, "executeData", *names)
        step.before = [self._transform(t, roots, standalone=False) for t in by_tag.get("before", [])]
        step.after = [self._transform(t, roots, standalone=False) for t in by_tag.get("after", [])]
        return step

    def _when(self, el: etree._Element, sources: tuple[str, ...]) -> _When:
        select, source = el.get("select"), el.get("source")
        if (select is None) == (source is None):
            raise MalformedRequest(f"{_where(el)} needs either select+case or source+sourcePath")
        if select is not None:
            if select not in self.selects:
                raise MalformedRequest(f"{_where(el)} select='{select}' names no <select> of this procedure")
            return _When(select, _required(el, "case").strip(), None, None)
        return _When(None, None, _root_name(el, "source", sources), _path(el, "sourcePath"))

    def _transform(self, el: etree._Element, roots: tuple[str, ...], *, standalone: bool) -> _Transform:
        templates: list[etree._Element] = []
        whens: list[_When] = []
        for child in _children(el):
            if child.tag == _XSL_TEMPLATE:
                templates.append(child)
            elif standalone and child.tag == "when":
                whens.append(self._when(child, _FIXED_ROOTS))
            else:
                raise MalformedRequest(f"{_where(child)} is not allowed in <{_name(el)}>")
        return _Transform(
            label=_where(el),
            source=_root_name(el, "source", roots),
            destination=_root_name(el, "destination", roots),
            source_path=_path(el, "sourcePath"),
            destination_path=_path(el, "destinationPath"),
            mode=_choice(el, "mode", _MODES, "insert"),
            if_null=_choice(el, "ifNull", _IF_NULL, "fail"),
            allow_null=_choice(el, "allowNullTransform", ("0", "1", "false", "true"), "0") in ("1", "true"),
            xslt=_compile_xslt(el, templates) if templates else None,
            whens=whens,
        )


def _compile_xslt(el: etree._Element, templates: list[etree._Element]) -> etree.XSLT:
    """Wrap the xsl:template children in a stylesheet; no file or network access, no regexps."""
    nsmap: dict[str | None, str] = {}
    for template in templates:
        for prefix, uri in template.nsmap.items():
            nsmap.setdefault(prefix, uri)
    nsmap["xsl"] = XSL_NS
    stylesheet = etree.Element(f"{{{XSL_NS}}}stylesheet", nsmap=nsmap, version="1.0")
    stylesheet.extend(copy.deepcopy(template) for template in templates)
    try:
        return etree.XSLT(stylesheet, regexp=False, access_control=etree.XSLTAccessControl.DENY_ALL)
    except etree.XSLTError as error:
        raise InvalidArgument(f"{_where(el)} holds an invalid XSL template: {error}") from None


# --- running -------------------------------------------------------------------------------------------


class _Skip(Exception):
    """ifNull="skip": abandon the rest of the current iteration."""


@dataclass
class _Frame:
    """The XML state of one data node of the request."""

    data: etree._Element
    procedure_data: etree._Element
    context: etree._Element


@dataclass
class _Scope:
    """The nodes a transform can name: the frame's, the current executeData and forEach items."""

    frame: _Frame
    execute_data: etree._Element | None
    items: dict[str, etree._Element]

    def node(self, name: str) -> etree._Element:
        if name == "data":
            return self.frame.data
        if name == "procedureData":
            return self.frame.procedure_data
        if name == "context":
            return self.frame.context
        if name == "executeData" and self.execute_data is not None:
            return self.execute_data
        return self.items[name]

    def is_root(self, el: etree._Element) -> bool:
        frame = self.frame
        return any(
            el is root for root in (frame.data, frame.procedure_data, frame.context, self.execute_data)
        )


def _append_text(parent: etree._Element, text: str) -> None:
    if len(parent):
        parent[-1].tail = (parent[-1].tail or "") + text
    else:
        parent.text = (parent.text or "") + text


def _replace_content(target: etree._Element, source: etree._Element) -> None:
    """Give target the attributes, text and children of source (moved, not copied); keep its tag."""
    tail = target.tail
    target.clear()
    target.tail = tail
    target.text = source.text
    for key, value in source.attrib.items():
        target.set(key, value)
    target.extend(list(source))


def _push_source(error: MpsError, namespace: str, procedure: str) -> None:
    if not error.sources or error.sources[-1] != (namespace, procedure):
        error.sources.append((namespace, procedure))


def _write_error_context(context: etree._Element, error: MpsError) -> None:
    for old in context.findall("errorContext"):
        context.remove(old)
    description = _NOT_XML_CHARS.sub("?", error.description)
    node = etree.SubElement(context, "errorContext", code=error.hex_code, description=description)
    for namespace, procedure in error.sources:
        etree.SubElement(node, "errorSource", namespace=namespace, procedure=procedure)


class _Interpreter:
    """Runs compiled steps for each data node; counts work so a request cannot run away."""

    def __init__(self, compiler: _Compiler, runner: StepRunner, limits: RunLimits) -> None:
        self.selects = compiler.selects
        self.runner = runner
        self.limits = limits
        self.steps = 0
        self.iterations = 0
        self.copied = 0
        self.aborted = False

    # -- limits and copies

    def _abort(self, message: str, limit: str) -> NoReturn:
        self.aborted = True  # no <catch> may swallow a hardening limit
        raise RequestRejected(message, limit=limit)

    def copy(self, el: etree._Element) -> etree._Element:
        self.charge(el)
        duplicate = copy.deepcopy(el)
        duplicate.tail = None
        return duplicate

    def charge(self, el: etree._Element) -> None:
        self.copied += sum(1 for _ in el.iter())
        if self.copied > self.limits.max_copied_elements:
            self._abort(
                f"the request copies more than {self.limits.max_copied_elements} elements "
                "(max_copied_elements)",
                "max_copied_elements",
            )

    # -- XPath

    def evaluate(self, path: _Path, node: etree._Element, root: str) -> object:
        try:
            return path.xpath(node)
        except etree.XPathError as error:
            raise InvalidArgument(f"{path.label} '{path.text}' failed on '{root}': {error}") from None

    def elements(self, path: _Path, node: etree._Element, root: str) -> list[etree._Element]:
        result = self.evaluate(path, node, root)
        if not isinstance(result, list):
            return []
        return [item for item in result if isinstance(item, etree._Element) and isinstance(item.tag, str)]

    def string_value(self, path: _Path | None, node: etree._Element, root: str) -> str | None:
        """XPath string value of the first node selected (None when nothing is selected)."""
        result = self.evaluate(path, node, root) if path is not None else [node]
        if isinstance(result, list):
            if not result:
                return None
            first = result[0]
            return str(first.xpath("string()")) if isinstance(first, etree._Element) else str(first)
        if isinstance(result, bool):
            return "true" if result else "false"
        if isinstance(result, float) and result.is_integer():
            return str(int(result))
        return str(result)

    # -- conditions

    def select_case(self, name: str, scope: _Scope) -> str | None:
        select = self.selects[name]
        value = self.string_value(select.path, scope.node(select.source), select.source)
        if value is None:
            return select.if_null_case if select.if_null_case is not None else select.default_case
        return next((case for match, case in select.cases if match == value), select.default_case)

    def when_true(self, when: _When, scope: _Scope) -> bool:
        if when.select is not None:
            return self.select_case(when.select, scope) == when.case
        assert when.source is not None
        if when.path is None:
            return True
        result = self.evaluate(when.path, scope.node(when.source), when.source)
        if isinstance(result, float):
            return result == result and result != 0  # XPath boolean(): NaN is false
        return bool(result)

    # -- steps

    def run_block(self, steps: list[_Step], frame: _Frame) -> None:
        for step in steps:
            if isinstance(step, _Execute):
                self.run_execute(step, frame)
            elif isinstance(step, _Try):
                self.run_try(step, frame)
            else:
                scope = _Scope(frame, None, {})
                if all(self.when_true(when, scope) for when in step.whens):
                    with suppress(_Skip):
                        self.apply(step, scope)

    def run_try(self, step: _Try, frame: _Frame) -> None:
        saved = (self.copy(frame.data), self.copy(frame.procedure_data), self.copy(frame.context))
        try:
            with self.runner.savepoint():
                self.run_block(step.body, frame)
            return
        except RollbackFailed:
            raise
        except MpsError as error:
            if self.aborted:
                raise
            caught = error
        # The savepoint undid the store's work; undo the try's XML work too, then hand over to <catch>.
        for target, source in zip((frame.data, frame.procedure_data, frame.context), saved, strict=True):
            _replace_content(target, source)
        _write_error_context(frame.context, caught)
        self.run_block(step.handler, frame)

    def run_execute(self, step: _Execute, frame: _Frame) -> None:
        if not all(self.when_true(when, _Scope(frame, None, {})) for when in step.whens):
            return
        for items in self.iterations_of(step, frame):
            scope = _Scope(frame, None, items)
            if not all(self.when_true(when, scope) for when in step.item_whens):
                continue
            count = 1 if step.repeat is None else self.repeat_count(step.repeat, scope)
            for _ in range(count):
                self.run_once(step, frame, items)

    def iterations_of(self, step: _Execute, frame: _Frame) -> Iterator[dict[str, etree._Element]]:
        """Bindings of forEach names to items, nested loops in declaration order (iteratively)."""
        items: dict[str, etree._Element] = {}
        loops = step.for_each
        if not loops:
            yield items
            return
        stack = [iter(self.items_of(loops[0], frame, items))]
        while stack:
            loop = loops[len(stack) - 1]
            node = next(stack[-1], None)
            if node is None:
                stack.pop()
                items.pop(loop.name, None)
            elif len(stack) == len(loops):
                items[loop.name] = node
                yield items
            else:
                items[loop.name] = node
                stack.append(iter(self.items_of(loops[len(stack)], frame, items)))

    def items_of(
        self, loop: _ForEach, frame: _Frame, items: dict[str, etree._Element]
    ) -> list[etree._Element]:
        nodes = self.elements(loop.path, _Scope(frame, None, items).node(loop.root), loop.root)
        if not nodes and loop.if_null == "fail":
            raise InvalidArgument(f"{loop.label} path '{loop.path.text}' selected nothing in '{loop.root}'")
        return nodes

    def repeat_count(self, repeat: _Repeat, scope: _Scope) -> int:
        value = self.string_value(repeat.path, scope.node(repeat.source), repeat.source)
        where = f"<repeat> sourcePath '{repeat.path.text if repeat.path else '.'}' in '{repeat.source}'"
        if value is None:
            raise InvalidArgument(f"{where} selected nothing")
        try:
            count = int(value.strip())
        except ValueError:
            raise InvalidArgument(f"{where} is {value!r}, not a whole number") from None
        if count < 0:
            raise InvalidArgument(f"{where} is {count}, a negative count")
        if count > self.limits.max_iterations:
            self._abort(f"{where} asks for {count} runs (max_iterations)", "max_iterations")
        return count

    def run_once(self, step: _Execute, frame: _Frame, items: dict[str, etree._Element]) -> None:
        self.iterations += 1
        if self.iterations > self.limits.max_iterations:
            limit = self.limits.max_iterations
            self._abort(f"the request runs more than {limit} iterations (max_iterations)", "max_iterations")
        try:
            if step.execute_data is not None:
                execute_data = self.copy(step.execute_data)
            else:
                execute_data = etree.Element("executeData")
            scope = _Scope(frame, execute_data, items)
            try:
                for transform in step.before:
                    self.apply(transform, scope)
            except _Skip:
                return
            self.steps += 1
            if self.steps > self.limits.max_steps:
                limit = self.limits.max_steps
                self._abort(f"the request runs more than {limit} steps (max_steps)", "max_steps")
            self.runner.execute(step.namespace, step.procedure, execute_data, impersonate=step.impersonate)
            try:
                for transform in step.after:
                    self.apply(transform, scope)
            except _Skip:
                return
        except MpsError as error:
            _push_source(error, step.namespace, step.procedure)
            raise

    # -- transforms

    def apply(self, t: _Transform, scope: _Scope) -> None:
        origin = scope.node(t.source)
        nodes = self.elements(t.source_path, origin, t.source) if t.source_path else [origin]
        if not nodes:
            if t.if_null == "ignore":
                return
            if t.if_null == "skip":
                raise _Skip
            path = t.source_path.text if t.source_path else "."
            raise InvalidArgument(f"{t.label} sourcePath '{path}' selected nothing in '{t.source}'")
        originals = nodes
        if t.xslt is not None:
            results = [self.xsl(t, node) for node in nodes]
            nodes = [node for node in results if node is not None]
            if len(nodes) < len(results) and not t.allow_null:
                raise InvalidArgument(f"{t.label} XSL transform of '{t.source}' produced no element")
            if not nodes:
                return
        destination = self.destination(t, scope)
        if t.mode == "insert":
            for duplicate in [self.copy(node) for node in nodes]:
                destination.append(duplicate)
        elif t.mode == "merge":
            for duplicate in [self.copy(node) for node in nodes]:
                for key, value in duplicate.attrib.items():
                    destination.set(key, value)
                if duplicate.text:
                    _append_text(destination, duplicate.text)
                destination.extend(list(duplicate))
        elif t.mode == "replace":
            self.replace(destination, self.copy(nodes[0]), scope)
        else:
            self.move(t, nodes, originals, destination, scope)

    def replace(self, destination: etree._Element, new: etree._Element, scope: _Scope) -> None:
        parent = destination.getparent()
        if scope.is_root(destination) or parent is None:
            _replace_content(destination, new)
            return
        new.tail = destination.tail
        parent.replace(destination, new)
        for name, item in scope.items.items():
            if item is destination:
                scope.items[name] = new

    def move(
        self,
        t: _Transform,
        nodes: list[etree._Element],
        originals: list[etree._Element],
        destination: etree._Element,
        scope: _Scope,
    ) -> None:
        ancestors = [destination, *destination.iterancestors()]
        for node in originals:
            if scope.is_root(node) or node.getparent() is None:
                raise InvalidArgument(f"{t.label} cannot move the root '{t.source}'; give a sourcePath")
            if t.xslt is None and any(node is ancestor for ancestor in ancestors):
                raise InvalidArgument(f"{t.label} cannot move a node into itself or its own descendant")
        if t.xslt is not None:  # the transformed nodes arrive; the originals leave
            for node in originals:
                node.getparent().remove(node)
        for node in nodes:
            destination.append(node)
            node.tail = None

    def destination(self, t: _Transform, scope: _Scope) -> etree._Element:
        root = scope.node(t.destination)
        if t.destination_path is None:
            return root
        found = self.elements(t.destination_path, root, t.destination)
        if found:
            return found[0]
        text = t.destination_path.text.strip()
        if not _SIMPLE_PATH.fullmatch(text):
            raise InvalidArgument(f"{t.label} destinationPath '{text}' selected nothing in '{t.destination}'")
        node = root
        for name in text.split("/"):
            child = next((c for c in node if c.tag == name), None)
            node = child if child is not None else etree.SubElement(node, name)
        return node

    def xsl(self, t: _Transform, node: etree._Element) -> etree._Element | None:
        assert t.xslt is not None
        try:
            result = t.xslt(etree.ElementTree(self.copy(node)))
        except etree.XSLTError as error:
            raise InvalidArgument(f"{t.label} XSL transform of '{t.source}' failed: {error}") from None
        root = result.getroot()
        if root is not None:
            self.charge(root)
        return root


# --- entry point ---------------------------------------------------------------------------------------


def run_request(
    request: etree._Element, runner: StepRunner, limits: RunLimits = RunLimits()
) -> etree._Element:
    """Run a <request> and return its <response> element (<response><data>…</data></response>).

    Raises MpsError on failure (the caller renders <errorContext> and rolls back).
    """
    if request.tag != "request":
        raise MalformedRequest(f"the document element is <{request.tag}>, not <request> (no namespace)")
    datas: list[etree._Element] = []
    contexts: list[etree._Element] = []
    procedures: list[etree._Element] = []
    unknown: list[str] = []
    for child in _children(request):
        if child.tag == "data":
            datas.append(child)
        elif child.tag == "context":
            contexts.append(child)
        elif child.tag == "procedure":
            procedures.append(child)
        elif child.tag == "globalData":
            raise NotImplementedYet("<globalData> (queued batch requests) is not supported yet")
        else:
            unknown.append(_where(child))
    if unknown:
        raise MalformedRequest(f"<request> has unknown child element(s): {', '.join(unknown)}")
    if not procedures:
        raise MalformedRequest("request has no <procedure>")
    if len(procedures) > 1:
        raise MalformedRequest(f"request has {len(procedures)} <procedure> elements; exactly one is allowed")
    if len(contexts) > 1:
        raise MalformedRequest(f"request has {len(contexts)} <context> elements; at most one is allowed")

    compiler = _Compiler(procedures[0])
    interpreter = _Interpreter(compiler, runner, limits)
    response = etree.Element("response")
    for data in datas or [etree.Element("data")]:
        frame = _Frame(
            data=interpreter.copy(data),
            procedure_data=(
                interpreter.copy(compiler.procedure_data)
                if compiler.procedure_data is not None
                else etree.Element("procedureData")
            ),
            context=interpreter.copy(contexts[0]) if contexts else etree.Element("context"),
        )
        interpreter.run_block(compiler.steps, frame)
        response.append(frame.data)
    return response
