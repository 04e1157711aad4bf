"""What a running procedure sees: the caller, its providers, and the engine to call back into."""

from __future__ import annotations

import copy
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload

from lxml import etree

from openmps.engine.audit import AuditRecord
from openmps.engine.declaration import Registry, Role
from openmps.engine.results import checked_result
from openmps.errors import AccessDenied, NotFound
from openmps.types import DN

if TYPE_CHECKING:
    from openmps.engine.engine import Invocation


@dataclass(frozen=True)
class Caller:
    """An authenticated principal and its security token (its SID and its groups' SIDs)."""

    name: str
    dn: DN | None
    sid: str
    token: frozenset[str] = field(default_factory=frozenset)
    is_service: bool = False

    def __str__(self) -> str:
        return self.name


SERVICE = Caller(name="OpenMPS service account", dn=None, sid="S-1-5-18", is_service=True)


class StoreConflict(BaseException):
    """The store refused this request's transaction because a concurrent one got there first (on
    SQLite: its read snapshot could not become a write).  Everything it did is rolled back and the
    engine runs the request again from scratch, the write lock taken up front.

    A ``BaseException``, as ``GeneratorExit`` is: it must unwind the whole request, so no
    ``<try>``/``<catch>``, no ``forEach onError="continue"`` and no procedure catching ``MpsError``
    or ``Exception`` can swallow it into a partial success.
    """


class UnitOfWork(Protocol):
    """One request's transaction (see ``openmps.db.store.SqlUnitOfWork``).

    Any store access may raise :class:`StoreConflict` (run the request again) or
    :class:`~openmps.errors.ServiceBusy` (the store could not take it in time).
    """

    def savepoint(self) -> AbstractContextManager[None]: ...

    def will_write(self) -> None:
        """A procedure that writes is about to run: take the write lock at its first store access
        if nothing was written yet (a read snapshot taken before is let go)."""
        ...

    def on_rollback(self, undo: Callable[[], None], label: str) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


P_co = TypeVar("P_co", covariant=True)


class Session(Protocol[P_co]):
    """The providers bound to one unit of work, and the checks that need them.

    Built by the composition root; the engine only calls :meth:`require`.
    """

    @property
    def providers(self) -> P_co: ...

    def require(self, caller: Caller, role: Role, target: DN | None, right: str | None = None) -> None:
        """Check ``role`` on ``target``, then that the target's DACL grants ``right`` (an ADS right
        name such as ``DS_CREATE_CHILD``).  Raise AccessDenied, or NotFound when the caller may not
        even see the target."""
        ...


P = TypeVar("P")
R = TypeVar("R")


class ProcedureContext(Generic[P]):
    """Handed to ``run()``: who is calling, the providers, and ``call`` for nested procedures."""

    def __init__(
        self, invocation: Invocation, caller: Caller, providers: P, *, outputs_read: bool = True
    ) -> None:
        self._invocation = invocation
        self.caller = caller
        self.providers = providers
        # False when nothing reads this run's outputs (a request step with no <after>, whose
        # executeData is thrown away): a procedure may then skip building outputs that cost, as
        # CreateMailbox skips its <properties>.  Ignoring it is always correct, only slower.
        self.outputs_read = outputs_read

    @property
    def request_id(self) -> str:
        return self._invocation.request_id

    @property
    def registry(self) -> Registry:
        """The procedures this deployment answers (MPF Config lists them)."""
        return self._invocation.engine.registry

    def holds(self, role: Role, target: DN | None) -> bool:
        """Whether the caller holds ``role`` on ``target``: the engine's own check, answered
        instead of raised (for listing what a caller may do, never instead of the declared role)."""
        try:
            self._invocation.session.require(self.caller, role, target)
        except (AccessDenied, NotFound):
            return False
        return True

    def audit_apart(self, record: AuditRecord) -> None:
        """Have ``record`` written to the audit log apart from this request's transaction, once the
        request has ended: it stays whether the request commits or not, as an event in MPF's
        event log does (only the last run's, if the engine ran the request again)."""
        self._invocation.events.append(record)

    @overload
    def call(
        self,
        namespace: str,
        procedure: str,
        arguments: Arguments,
        *,
        returns: type[R],
        as_service: bool = False,
        outputs_read: bool = True,
    ) -> R: ...

    @overload
    def call(
        self,
        namespace: str,
        procedure: str,
        arguments: Arguments,
        *,
        returns: None = None,
        as_service: bool = False,
        outputs_read: bool = True,
    ) -> object: ...

    def call(
        self,
        namespace: str,
        procedure: str,
        arguments: Arguments,
        *,
        returns: type[R] | None = None,
        as_service: bool = False,
        outputs_read: bool = True,
    ) -> object:
        """Run another procedure in this transaction: roles re-checked, ``<errorSource>`` frame
        pushed; its typed result (``returns``: the class expected, checked).  No XML is made.

        ``as_service`` runs it as the engine's own account (MPF ``impersonate="2"``); use it only
        after this procedure has checked the caller's rights on everything the callee touches.
        ``outputs_read`` False: this procedure reads nothing the callee answers (see
        :attr:`outputs_read`).
        """
        caller = SERVICE if as_service else self.caller
        result = self._invocation.invoke(
            namespace, procedure, arguments, caller=caller, nested=True, outputs_read=outputs_read
        )
        return checked_result(namespace, procedure, result, returns)


@dataclass(frozen=True)
class Arguments:
    """A nested call's arguments as Python values, bound without an XML round trip (``args``)."""

    values: dict[str, Any]


def args(**values: Any) -> Arguments:
    """Arguments for ``ctx.call`` from keyword arguments; None values are left out.  An element is
    passed under its own tag, as it would stand in ``<executeData>``, and as a copy: nothing the
    callee does (an output made of it moves it) reaches the caller's XML."""
    given: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, etree._Element):
            given[value.tag] = copy.deepcopy(value)
        elif value is not None:
            given[name] = value
    return Arguments(given)
