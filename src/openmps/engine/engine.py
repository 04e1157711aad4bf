"""The provisioning engine: one request in, one response out, one transaction in between.

``Engine.submit`` parses the document (hardened), runs it with the MPF interpreter, and for each
step binds the procedure's declared arguments, checks the caller's role on the target, then runs
it.  Any error rolls the whole request back (SQL rollback plus compensating steps in reverse
order) and is answered as ``<errorContext>`` with its ``<errorSource>`` stack; anything that is not
an :class:`MpsError` is logged with the request id and answered as an internal error, never as a
traceback.  Every request is audited, failed ones included.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar, cast, overload

from lxml import etree

from openmps.engine.admission import Admission
from openmps.engine.audit import AuditRecord, AuditSink, RequestObserver, tell
from openmps.engine.context import (
    SERVICE,
    Arguments,
    Caller,
    ProcedureContext,
    Session,
    StoreConflict,
    UnitOfWork,
)
from openmps.engine.declaration import Prepares, ProcedureSpec, Registry, Role
from openmps.engine.interpreter import RunLimits, run_request
from openmps.engine.redaction import redact
from openmps.engine.results import check_result, checked_result, render
from openmps.engine.xmlsafe import XmlLimits, parse_document
from openmps.engine.xsltsandbox import XsltSandbox
from openmps.errors import AccessDenied, InternalError, MpsError, ServiceBusy, UnknownProcedure

log = logging.getLogger("openmps.engine")
T = TypeVar("T")
R = TypeVar("R")

# Names masked in every response whatever the client marked (declared secrets are added per registry).
ALWAYS_SECRET = frozenset({"password", "newPassword", "oldPassword"})
# A procedure's <properties> output joins the caller's own <properties>: MPS procedures stamp the
# attributes they set into the request's property list (seed 003's CreateBusinessUser response).
MERGED_OUTPUTS = frozenset({"properties"})


@dataclass(frozen=True)
class Outcome:
    request_id: str
    response: etree._Element
    error: MpsError | None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_bytes(self) -> bytes:
        return etree.tostring(self.response, xml_declaration=True, encoding="utf-8", pretty_print=True)


class OpenUnitOfWork(Protocol):
    def __call__(self, *, optimistic: bool = False) -> UnitOfWork:
        """A new unit of work; ``optimistic``: it reads without the write lock until told
        ``will_write`` and may raise StoreConflict, else it takes the lock at its first access."""
        ...


class Engine:
    def __init__(
        self,
        registry: Registry,
        *,
        open_uow: OpenUnitOfWork,
        open_session: Callable[[UnitOfWork], Session[Any]],
        audit: AuditSink,
        xml_limits: XmlLimits | None = None,
        run_limits: RunLimits | None = None,
        admission: Admission | None = None,
    ) -> None:
        self.registry = registry
        self._open_uow = open_uow
        self._open_session = open_session
        self._audit = audit
        self.observers: list[RequestObserver] = []  # told of each request once it has ended
        self.xml_limits = xml_limits or XmlLimits()
        self._run_limits = run_limits or RunLimits()
        self.admission = admission
        # XSL transforms run in worker processes of this engine, started on first use
        self._xslt = XsltSandbox(memory_bytes=self._run_limits.xslt_memory_bytes)
        self.secret_names = ALWAYS_SECRET | {name for spec in registry for name in spec.secrets}
        for spec in registry:  # a badly declared result is an error at start, not at a request
            if spec.result is not None:
                check_result(spec.result)

    def submit(
        self, document: bytes | str, caller: Caller, *, client: str | None = None, dry_run: bool = False
    ) -> Outcome:
        """Run one XML request as one transaction (the MPF door).

        ``dry_run`` runs it whole, answers what it would answer, then rolls it back: conflicts
        between items of one request (two users claiming one address, storage running out) show
        exactly as a real run would meet them.
        """
        request_id = str(uuid.uuid4())

        def body(invocation: Invocation) -> etree._Element:
            root = parse_document(document, self.xml_limits)  # again on a re-run: it is changed
            return run_request(root, invocation, self._run_limits, self._xslt)

        error: MpsError | None = None
        try:
            response = self._transact(request_id, caller, body, client=client, dry_run=dry_run)
        except MpsError as exc:
            error = exc
            response = error_response(exc)
        if dry_run:
            response.set("dryRun", "true")
        redact(response, self.secret_names)
        return Outcome(request_id, response, error)

    def run(
        self,
        caller: Caller,
        body: Callable[[Transaction], T],
        *,
        client: str | None = None,
        dry_run: bool = False,
    ) -> T:
        """Run ``body`` as one transaction of typed calls (the Python door every other door uses).

        Same admission, authorization, audit and compensation as an XML request: ``body`` calls
        procedures with ``tx.call`` and may try a part in ``tx.savepoint()``.  It may be run twice
        (after a StoreConflict everything is rolled back and it starts again), so it keeps its
        effects to the transaction.  Raises the procedure's MpsError (its ``sources`` the
        errorSource stack); anything else is logged and raised as InternalError.
        """
        request_id = str(uuid.uuid4())
        return self._transact(
            request_id,
            caller,
            lambda invocation: body(Transaction(invocation)),
            client=client,
            dry_run=dry_run,
        )

    @overload
    def call(
        self,
        namespace: str,
        procedure: str,
        arguments: Arguments | Mapping[str, Any],
        *,
        caller: Caller,
        returns: type[R],
        client: str | None = None,
    ) -> R: ...

    @overload
    def call(
        self,
        namespace: str,
        procedure: str,
        arguments: Arguments | Mapping[str, Any],
        *,
        caller: Caller,
        returns: None = None,
        client: str | None = None,
    ) -> object: ...

    def call(
        self,
        namespace: str,
        procedure: str,
        arguments: Arguments | Mapping[str, Any],
        *,
        caller: Caller,
        returns: type[R] | None = None,
        client: str | None = None,
    ) -> object:
        """Run one procedure in its own transaction and answer its typed result (``returns``:
        the result class the caller expects, checked)."""
        return self.run(
            caller, lambda tx: tx.call(namespace, procedure, arguments, returns=returns), client=client
        )

    def _transact(
        self,
        request_id: str,
        caller: Caller,
        body: Callable[[Invocation], T],
        *,
        client: str | None,
        dry_run: bool,
    ) -> T:
        """``body`` in one unit of work: admitted, re-run once on a StoreConflict, committed with
        its audit record (rolled back for a dry run), audited apart when it fails."""
        started = time.perf_counter()
        runs: list[Invocation] = []  # the last one tells the audit record what ran

        def attempt(optimistic: bool) -> T:
            uow = self._open_uow(optimistic=optimistic)
            invocation = Invocation(self, caller, uow, self._open_session(uow), request_id)
            runs.append(invocation)
            try:
                answer = body(invocation)
                record = self._record(request_id, caller, invocation, None, started, client, dry_run)
                if dry_run:
                    uow.rollback()
                    self._audit.write(record)
                else:
                    self._audit.write(record, uow)  # in the same transaction: nothing commits unaudited
                    uow.commit()
            except BaseException:
                uow.rollback()
                raise
            return answer

        try:
            with self.admission.admit(caller) if self.admission else nullcontext():
                answer = _rerun_on_conflict(attempt)
            self._write_events(runs[-1])
            if self.observers:
                tell(
                    self.observers, self._record(request_id, caller, runs[-1], None, started, client, dry_run)
                )
            return answer
        except MpsError as exc:
            error: MpsError = exc
        except Exception:
            log.exception("request %s failed with an internal error", request_id)
            error = InternalError(
                f"internal error; the server log has the details under request {request_id}"
            )
        record = self._record(request_id, caller, runs[-1] if runs else None, error, started, client, dry_run)
        try:
            self._audit.write(record)
        except Exception:  # the answer still goes out; the log tells the operator
            log.exception("could not write the audit record of request %s", request_id)
        if runs:
            self._write_events(runs[-1])
        tell(self.observers, record)
        raise error

    def _write_events(self, invocation: Invocation) -> None:
        """The events the request reported (ReportEvent), each a record of its own, written once it
        has ended, committed or not: no lock of its is held then, and a rollback keeps them."""
        for event in invocation.events:
            try:
                self._audit.write(event)
            except Exception:
                log.exception("could not write an event of request %s", invocation.request_id)

    @staticmethod
    def _record(
        request_id: str,
        caller: Caller,
        invocation: Invocation | None,
        error: MpsError | None,
        started: float,
        client: str | None,
        dry_run: bool = False,
    ) -> AuditRecord:
        outcome = "success" if error is None else "failure"
        return AuditRecord(
            request_id=request_id,
            at=datetime.now(UTC),
            caller=caller.name,
            procedures=tuple(invocation.procedures) if invocation else (),
            outcome=f"dry-run {outcome}" if dry_run else outcome,
            duration_ms=(time.perf_counter() - started) * 1000,
            error_code=error.hex_code if error else None,
            error_description=error.description if error else None,
            client=client,
        )


class Invocation:
    """One request in flight: the interpreter's step runner and the engine behind ``ctx.call``."""

    def __init__(
        self, engine: Engine, caller: Caller, uow: UnitOfWork, session: Session[Any], request_id: str
    ):
        self.engine = engine
        self.caller = caller
        self.uow = uow
        self.session = session
        self.request_id = request_id
        self.procedures: list[str] = []
        self.events: list[AuditRecord] = []  # reported by the request, written once it has ended

    # StepRunner
    def execute(
        self,
        namespace: str,
        procedure: str,
        execute_data: etree._Element,
        *,
        impersonate: int,
        outputs_read: bool,
    ) -> None:
        if impersonate == 2:
            # Running as the engine's account is for procedures that have checked their caller
            # first; a client asking for it would bypass every role check.
            raise AccessDenied(
                "impersonate='2' (run as the service account) is not allowed in a client request"
            )
        result = self.invoke(
            namespace, procedure, execute_data, caller=self.caller, nested=False, outputs_read=outputs_read
        )
        if not outputs_read:
            return
        for output in render(result):  # MPF: outputs join the step's executeData, for <after>
            existing = execute_data.find(output.tag) if output.tag in MERGED_OUTPUTS else None
            if existing is not None:
                existing.extend(list(output))
            else:
                execute_data.append(output)

    def savepoint(self) -> Any:
        return self.uow.savepoint()

    def invoke(
        self,
        namespace: str,
        procedure: str,
        execute_data: etree._Element | Arguments,
        *,
        caller: Caller,
        nested: bool,
        outputs_read: bool = True,
    ) -> object:
        """Run one procedure on ``execute_data`` (a Python call's ``args``); its typed result (which
        it may leave out when ``outputs_read`` is False)."""
        try:
            spec = self.engine.registry.get(namespace, procedure)
            if spec.access == "private" and not nested:
                # Indistinguishable from an unknown procedure: private names are not an API.
                raise UnknownProcedure(f"unknown procedure '{procedure}' in namespace '{namespace}'")
            self.procedures.append(f"{spec.namespace}::{spec.name}")
            return self._run(spec, execute_data, caller, outputs_read, nested)
        except MpsError as exc:
            exc.sources.append((namespace, procedure))
            raise

    def _run(
        self,
        spec: ProcedureSpec,
        execute_data: etree._Element | Arguments,
        caller: Caller,
        outputs_read: bool,
        nested: bool,
    ) -> object:
        if isinstance(execute_data, Arguments):  # a Python call: its secrets are never XML
            instance = spec.bind_values(execute_data.values)
        else:
            instance = spec.bind(execute_data)
            # Bound: from here on no transform reads a secret's value, whatever name it copies it
            # under (the response's sweep finds only the names it knows).
            redact(execute_data, spec.secrets)
        if spec.prepares:
            # CPU-only work (password hashing) before the store's write lock is taken
            cast(Prepares, instance).prepare(self.session.providers)
        if spec.kind == "write" and not nested:
            # its role checks and reads then run under the lock, serializable with its writes
            self.uow.will_write()
        if caller is SERVICE and nested and spec.requires is not Role.SERVICE:
            # MPF's execute-as: a step run as a service runs under the credential assigned to its
            # procedure, with that account's rights, not the engine's
            caller = self.session.run_as(spec.namespace, spec.name) or caller
        if spec.requires is Role.SERVICE:
            if not caller.is_service:
                raise AccessDenied(f"{spec.namespace}::{spec.name} runs only as the service account")
        elif not caller.is_service:
            target = getattr(instance, spec.scope) if spec.scope else None
            self.session.require(caller, spec.requires, target, spec.right)
        context = ProcedureContext(self, caller, self.session.providers, outputs_read=outputs_read)
        return instance.run(context)


class Transaction:
    """The Python door's handle on one transaction (``Engine.run``): typed calls and savepoints."""

    def __init__(self, invocation: Invocation) -> None:
        self._invocation = invocation

    @property
    def request_id(self) -> str:
        return self._invocation.request_id

    @property
    def unit_of_work(self) -> UnitOfWork:
        """The transaction's unit of work: what a caller writes through it (its own state in the
        same store) commits or rolls back with the procedures' work, never one without the other."""
        return self._invocation.uow

    @overload
    def call(
        self, namespace: str, procedure: str, arguments: Arguments | Mapping[str, Any], *, returns: type[R]
    ) -> R: ...

    @overload
    def call(
        self,
        namespace: str,
        procedure: str,
        arguments: Arguments | Mapping[str, Any],
        *,
        returns: None = None,
    ) -> object: ...

    def call(
        self,
        namespace: str,
        procedure: str,
        arguments: Arguments | Mapping[str, Any],
        *,
        returns: type[R] | None = None,
    ) -> object:
        """Run one public procedure as the transaction's caller, as an XML step would run it
        (arguments by their XML names, Python values or text); its typed result."""
        given = arguments if isinstance(arguments, Arguments) else Arguments(dict(arguments))
        invocation = self._invocation
        result = invocation.invoke(namespace, procedure, given, caller=invocation.caller, nested=False)
        return checked_result(namespace, procedure, result, returns)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A part that fails alone: on an exception everything done inside is undone, then the
        exception goes on (catch the MpsError outside to carry on with the rest)."""
        with self._invocation.uow.savepoint():
            yield


def _rerun_on_conflict(run: Callable[[bool], T]) -> T:
    """``run(optimistic)`` once optimistic; after a StoreConflict (everything rolled back) once more
    with the lock taken at the first access, which no concurrent writer can refuse again."""
    try:
        return run(True)
    except StoreConflict:
        pass
    try:
        return run(False)
    except StoreConflict:  # PostgreSQL may pick it as a deadlock victim twice
        raise ServiceBusy("the store refused the request twice; send it again") from None


def error_response(error: MpsError) -> etree._Element:
    response = etree.Element("response")
    context = etree.SubElement(response, "errorContext", code=error.hex_code, description=error.description)
    for namespace, procedure in error.sources:
        etree.SubElement(context, "errorSource", namespace=namespace, procedure=procedure)
    return response
