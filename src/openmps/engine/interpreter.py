"""The MPF procedure language: runs the steps of a <request> against a StepRunner.

The interpreter owns only the XML side of a request (data, procedureData, executeData, context and
the transforms that move nodes between them); every provider call and every unit of work goes through
the StepRunner, so this module never touches a store.  The whole procedure is checked before the first
step runs, so a malformed request fails without side effects.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from typing import NoReturn, Protocol

from lxml import etree

from openmps.engine.compiler import (
    NOT_XML_CHARS,
    SIMPLE_PATH,
    Compiler,
    Execute,
    ForEach,
    Repeat,
    Step,
    Transform,
    Try,
    When,
    XPathRef,
    element_children,
    where,
)
from openmps.engine.xsltsandbox import XsltFailed, XsltLimit, XsltSandbox
from openmps.errors import (
    InvalidArgument,
    MalformedRequest,
    MpsError,
    NotImplementedYet,
    RequestRejected,
    RollbackFailed,
    ServiceBusy,
)
from openmps.types import parse_int, shown

__all__ = ["RunLimits", "StepRunner", "run_request"]


class StepRunner(Protocol):
    """What the interpreter needs from the engine: run one procedure, open a savepoint."""

    def execute(
        self,
        namespace: str,
        procedure: str,
        execute_data: etree._Element,
        *,
        impersonate: int,
        outputs_read: bool,
    ) -> None:
        """Run one procedure: read arguments from execute_data, append outputs to it IN PLACE.

        ``outputs_read`` False: nothing reads the outputs (the step has no ``<after>``, so its
        executeData is thrown away), and the procedure may skip building them.  Raises MpsError.
        """

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested unit of work: on exception it undoes everything done inside it, then re-raises."""


@dataclass(frozen=True)
class RunLimits:
    """Bounds on the work one request may cause; passing one rejects the whole request.

    The deadline bounds the whole; the counts bound what one request may do even on a fast machine
    (a bulk request of ``openmps import`` runs 200 items, far below them).
    """

    deadline_seconds: float = 30.0  # wall time of the run: checked between steps, items and transforms
    max_steps: int = 100_000  # executes actually run, over all forEach iterations and batch items
    max_iterations: int = 200_000  # step iterations attempted, including ones skipped by ifNull="skip"
    max_copied_elements: int = 10_000_000  # elements deep-copied by transforms, snapshots and XSLT
    # work of one XPath evaluation in node visits, bounded from the expression and the queried
    # document (engine/xpathcost.py): about 0.2 s of libxml2's time, which nothing can interrupt
    max_xpath_cost: int = 10_000_000
    # one XSL transform, in a worker process (engine/xsltsandbox.py): wall time (never past the
    # deadline), the worker's address space, the size of the result it writes
    xslt_seconds: float = 5.0
    xslt_memory_bytes: int = 256 * 1024 * 1024
    xslt_output_bytes: int = 16 * 1024 * 1024


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
    description = NOT_XML_CHARS.sub("?", error.description)
    node = etree.SubElement(context, "errorContext", code=error.hex_code, description=description)
    for namespace, procedure in error.sources:
        etree.SubElement(node, "errorSource", namespace=namespace, procedure=procedure)


class _Interpreter:
    """Runs compiled steps for each data node; counts work so a request cannot run away."""

    def __init__(
        self, compiler: Compiler, runner: StepRunner, limits: RunLimits, *, started: float, xslt: XsltSandbox
    ) -> None:
        self.selects = compiler.selects
        self.runner = runner
        self.limits = limits
        self.xslt = xslt
        self.deadline = started + limits.deadline_seconds
        self.steps = 0
        self.iterations = 0
        self.copied = 0
        self.aborted = False

    # -- limits and copies

    def _abort(self, message: str, limit: str) -> NoReturn:
        self.aborted = True  # no <catch> may swallow a hardening limit
        raise RequestRejected(message, limit=limit)

    def check_time(self) -> None:
        """Refuse to go on past the request's deadline (work already running cannot be stopped:
        each piece of it is bounded on its own)."""
        if time.monotonic() > self.deadline:
            self._abort(
                f"the request ran longer than {self.limits.deadline_seconds:g} seconds (deadline_seconds)",
                "deadline_seconds",
            )

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

    def evaluate(self, path: XPathRef, node: etree._Element, root: str) -> object:
        if path.cost.superlinear:  # one visit of the document is bounded by the copy budget already
            self.check_xpath_cost(path, node, root)
        try:
            return path.xpath(node)
        except etree.XPathError as error:
            raise InvalidArgument(f"{path.label} '{path.text}' failed on '{root}': {error}") from None

    def check_xpath_cost(self, path: XPathRef, node: etree._Element, root: str) -> None:
        """Refuse an evaluation whose work on this document could pass the budget (libxml2 cannot be
        stopped once it runs); measuring the document is linear, so only expressions that may be
        worse pay for it."""
        nodes = text = 0
        for el in node.getroottree().getroot().iter():
            nodes += 1 + len(el.attrib)
            text += len(el.text or "") + len(el.tail or "") + sum(len(value) for value in el.attrib.values())
        units = path.cost.units(nodes, text)
        if units > self.limits.max_xpath_cost:
            self._abort(
                f"{path.label} '{path.shown}' on '{root}' ({nodes} nodes, {text} characters) could take "
                f"{units} units of work, more than {self.limits.max_xpath_cost} (max_xpath_cost)",
                "max_xpath_cost",
            )

    def elements(self, path: XPathRef, node: etree._Element, root: str) -> list[etree._Element]:
        result = self.evaluate(path, node, root)
        if not isinstance(result, list):
            return []
        return [item for item in result if isinstance(item, etree._Element) and isinstance(item.tag, str)]

    def string_value(self, path: XPathRef | None, node: etree._Element, root: str) -> str | None:
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

    def when_true(self, when: When, scope: _Scope) -> bool:
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

    def run_block(self, steps: list[Step], frame: _Frame) -> None:
        for step in steps:
            self.check_time()
            if isinstance(step, Execute):
                self.run_execute(step, frame)
            elif isinstance(step, Try):
                self.run_try(step, frame)
            else:
                scope = _Scope(frame, None, {})
                if all(self.when_true(when, scope) for when in step.whens):
                    with suppress(_Skip):
                        self.apply(step, scope)

    def run_try(self, step: Try, frame: _Frame) -> None:
        saved = self.snapshot(frame)
        caught = self.attempt(lambda: self.run_block(step.body, frame))
        if caught is None:
            return
        # The savepoint undid the store's work; undo the try's XML work too, then hand over to <catch>.
        self.restore(frame, saved)
        _write_error_context(frame.context, caught)
        self.run_block(step.handler, frame)

    def attempt(self, work: Callable[[], None]) -> MpsError | None:
        """Run ``work`` in a savepoint; an MpsError it raises is undone and returned (a hardening
        limit, a failed rollback or a busy store never is: the client sends the request again whole)."""
        try:
            with self.runner.savepoint():
                work()
        except (RollbackFailed, ServiceBusy):
            raise
        except MpsError as error:
            if self.aborted:
                raise
            return error
        return None

    def snapshot(self, frame: _Frame) -> tuple[etree._Element, ...]:
        return self.copy(frame.data), self.copy(frame.procedure_data), self.copy(frame.context)

    def restore(self, frame: _Frame, saved: tuple[etree._Element, ...]) -> None:
        for target, source in zip((frame.data, frame.procedure_data, frame.context), saved, strict=True):
            _replace_content(target, source)

    def run_execute(self, step: Execute, frame: _Frame) -> None:
        if not all(self.when_true(when, _Scope(frame, None, {})) for when in step.whens):
            return
        for items in self.iterations_of(step, frame):
            self.check_time()
            scope = _Scope(frame, None, items)
            if not all(self.when_true(when, scope) for when in step.item_whens):
                continue
            if step.isolated:
                self.run_item_alone(step, frame, items)
            else:
                self.run_item(step, frame, items)

    def run_item(self, step: Execute, frame: _Frame, items: dict[str, etree._Element]) -> None:
        count = 1 if step.repeat is None else self.repeat_count(step.repeat, _Scope(frame, None, items))
        for _ in range(count):
            self.run_once(step, frame, items)

    def run_item_alone(self, step: Execute, frame: _Frame, items: dict[str, etree._Element]) -> None:
        """forEach onError="continue": a failed item leaves nothing behind but its <errorContext>.

        A savepoint undoes its store work, a copy of the item its XML work (the compiler made sure
        the item's transforms change nothing but executeData and the item).
        """
        item = items[step.for_each[-1].name]
        saved = self.copy(item)
        caught = self.attempt(lambda: self.run_item(step, frame, items))
        if caught is not None:
            _replace_content(item, saved)
            _write_error_context(item, caught)

    def iterations_of(self, step: Execute, frame: _Frame) -> Iterator[dict[str, etree._Element]]:
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
        self, loop: ForEach, frame: _Frame, items: dict[str, etree._Element]
    ) -> list[etree._Element]:
        nodes = self.elements(loop.path, _Scope(frame, None, items).node(loop.root), loop.root)
        if not nodes and loop.if_null == "fail":
            raise InvalidArgument(f"{loop.label} path '{loop.path.text}' selected nothing in '{loop.root}'")
        return nodes

    def repeat_count(self, repeat: Repeat, scope: _Scope) -> int:
        value = self.string_value(repeat.path, scope.node(repeat.source), repeat.source)
        where = f"<repeat> sourcePath '{repeat.path.text if repeat.path else '.'}' in '{repeat.source}'"
        if value is None:
            raise InvalidArgument(f"{where} selected nothing")
        count = parse_int(value.strip(), signed=True)
        if count is None:
            raise InvalidArgument(f"{where} is {shown(value)}, not a whole number in ASCII digits")
        if count < 0:
            raise InvalidArgument(f"{where} is {count}, a negative count")
        if count > self.limits.max_iterations:
            self._abort(f"{where} asks for {count} runs (max_iterations)", "max_iterations")
        return count

    def run_once(self, step: Execute, frame: _Frame, items: dict[str, etree._Element]) -> None:
        self.check_time()
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
            self.runner.execute(
                step.namespace,
                step.procedure,
                execute_data,
                impersonate=step.impersonate,
                outputs_read=bool(step.after),
            )
            try:
                for transform in step.after:
                    self.apply(transform, scope)
            except _Skip:
                return
        except MpsError as error:
            _push_source(error, step.namespace, step.procedure)
            raise

    # -- transforms

    def apply(self, t: Transform, scope: _Scope) -> None:
        self.check_time()
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
        t: Transform,
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
                parent = node.getparent()
                if parent is not None:
                    parent.remove(node)
        for node in nodes:
            destination.append(node)
            node.tail = None

    def destination(self, t: Transform, scope: _Scope) -> etree._Element:
        root = scope.node(t.destination)
        if t.destination_path is None:
            return root
        found = self.elements(t.destination_path, root, t.destination)
        if found:
            return found[0]
        text = t.destination_path.text.strip()
        if not SIMPLE_PATH.fullmatch(text):
            raise InvalidArgument(f"{t.label} destinationPath '{text}' selected nothing in '{t.destination}'")
        node = root
        for name in text.split("/"):
            child = next((c for c in node if c.tag == name), None)
            node = child if child is not None else etree.SubElement(node, name)
        return node

    def xsl(self, t: Transform, node: etree._Element) -> etree._Element | None:
        assert t.stylesheet is not None
        self.charge(node)
        left = self.deadline - time.monotonic()
        timeout = min(self.limits.xslt_seconds, left)
        try:
            output = self.xslt.transform(
                t.stylesheet,
                etree.tostring(node, with_tail=False),
                max_output=self.limits.xslt_output_bytes,
                timeout=timeout,
            )
        except XsltFailed as error:
            raise InvalidArgument(f"{t.label} XSL transform of '{t.source}' failed: {error}") from None
        except XsltLimit as error:
            limit = {
                "seconds": "xslt_seconds" if timeout < left else "deadline_seconds",
                "memory": "xslt_memory_bytes",
                "output": "xslt_output_bytes",
                "depth": "xslt_depth",
            }[error.limit]
            self._abort(f"{t.label} XSL transform of '{t.source}': {error} ({limit})", limit)
        if output is None:
            return None
        try:  # written by our own worker, yet parsed as carefully as a request
            root = etree.fromstring(output, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError as error:
            raise InvalidArgument(f"{t.label} XSL transform of '{t.source}' wrote no XML: {error}") from None
        self.charge(root)
        return root


# --- entry point ---------------------------------------------------------------------------------------


def run_request(
    request: etree._Element,
    runner: StepRunner,
    limits: RunLimits = RunLimits(),
    xslt: XsltSandbox | None = None,
) -> etree._Element:
    """Run a <request> and return its <response> element (<response><data>…</data></response>).

    XSL transforms run in ``xslt``'s workers (without one, in workers of this request alone).
    Raises MpsError on failure (the caller renders <errorContext> and rolls back).
    """
    if xslt is None:
        own = XsltSandbox(memory_bytes=limits.xslt_memory_bytes)
        try:
            return run_request(request, runner, limits, own)
        finally:
            own.close()
    if request.tag != "request":
        raise MalformedRequest(f"the document element is <{request.tag}>, not <request> (no namespace)")
    datas: list[etree._Element] = []
    contexts: list[etree._Element] = []
    procedures: list[etree._Element] = []
    unknown: list[str] = []
    for child in element_children(request):
        if child.tag == "data":
            datas.append(child)
        elif child.tag == "context":
            contexts.append(child)
        elif child.tag == "procedure":
            procedures.append(child)
        elif child.tag == "globalData":
            raise NotImplementedYet("<globalData> (queued batch requests) is not supported yet")
        else:
            unknown.append(where(child))
    if unknown:
        raise MalformedRequest(f"<request> has unknown child element(s): {', '.join(unknown)}")
    if not procedures:
        raise MalformedRequest("request has no <procedure>")
    if len(procedures) > 1:
        raise MalformedRequest(f"request has {len(procedures)} <procedure> elements; exactly one is allowed")
    if len(contexts) > 1:
        raise MalformedRequest(f"request has {len(contexts)} <context> elements; at most one is allowed")

    started = time.monotonic()
    compiler = Compiler(procedures[0])
    interpreter = _Interpreter(compiler, runner, limits, started=started, xslt=xslt)
    response = etree.Element("response")
    for data in datas or [etree.Element("data")]:
        interpreter.check_time()
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
