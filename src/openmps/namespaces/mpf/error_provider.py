"""Error Provider (reference §1.8): raise a coded error from a request, translate a code into what
it means for an operator or a user, and report an event into the audit log.

The codes are those of the stable table, ``openmps.errors`` (``docs/errors.md`` is generated from
it): a code there names one class, the first declared with it (``InvalidArgument`` before its
``MissingArgument``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from openmps.delegation.session import Providers
from openmps.engine.audit import AuditRecord
from openmps.engine.context import ProcedureContext
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import (
    InternalError,
    InvalidArgument,
    MalformedRequest,
    MethodNotAllowed,
    MpsError,
    NotAuthenticated,
    NotImplementedYet,
    RequestRejected,
    RollbackFailed,
    ServiceBusy,
    UnknownPath,
    all_error_classes,
)
from openmps.types import shown

NAMESPACE = "Error Provider"
Ctx = ProcedureContext[Providers]
_HRESULT = re.compile(r"0[xX][0-9A-Fa-f]{8}")
ENGLISH = 1033  # the only locale OpenMPS has messages in
# Errors about the door or the service, not about what a request asked: SetError may not raise
# them (a busy store or a failed rollback also passes every <catch>, a client would send again).
NOT_RAISED: tuple[type[MpsError], ...] = (
    MalformedRequest,
    RequestRejected,
    UnknownPath,
    MethodNotAllowed,
    NotAuthenticated,
    ServiceBusy,
    RollbackFailed,
)


def error_class(where: str, text: str) -> type[MpsError]:
    """The class of the table whose code ``text`` is (``0x`` and eight hex digits)."""
    if not _HRESULT.fullmatch(text):
        raise InvalidArgument(
            f"'{where}' must be an HRESULT such as 0x80070057, not {shown(text)}", argument=where
        )
    code = int(text, 16)
    for cls in all_error_classes():
        if cls.code == code and cls is not MpsError:
            return cls
    raise InvalidArgument(f"'{where}' {text} is not a code of docs/errors.md", argument=where)


def _meaning(cls: type[MpsError]) -> str:
    return " ".join((cls.__doc__ or cls.title).split())


@dataclass(frozen=True)
class ErrorSource:
    """One frame of an error's stack: the procedure it passed through."""

    namespace: Annotated[str, Xml("@namespace", "the procedure's namespace")]
    procedure: Annotated[str, Xml("@procedure", "the procedure")]


@dataclass(frozen=True)
class ErrorContext:
    """A response's ``<errorContext>``, as a ``<catch>`` finds it in the context."""

    code: Annotated[str, Xml("@code", "the HRESULT, 0x and eight hex digits")]
    description: Annotated[str | None, Xml("@description", "the error's own description")] = None
    sources: Annotated[
        tuple[ErrorSource, ...], Xml(".", "its stack, innermost first", item="errorSource")
    ] = ()


@dataclass(frozen=True)
class ErrorMessageContext:
    """The error to translate: its code and description as attributes, or the ``<errorContext>``
    a ``<catch>`` copied in (``<before source="context" sourcePath="errorContext"
    destinationPath="errorMessageContext" mode="insert"/>``)."""

    code: Annotated[str | None, Xml("@code", "the HRESULT, 0x and eight hex digits")] = None
    description: Annotated[str | None, Xml("@description", "the error's own description")] = None
    context: Annotated[ErrorContext | None, Xml("errorContext", "the error as a response answers it")] = None

    def error(self) -> ErrorContext:
        if (self.code is None) == (self.context is None):
            raise InvalidArgument(
                "'errorMessageContext' needs either its @code or an <errorContext>, not both",
                argument="errorMessageContext",
            )
        return self.context or ErrorContext(self.code or "", self.description)


@dataclass(frozen=True)
class ProvisioningErrorText:
    """What an error code means, for an operator."""

    code: Annotated[str, Xml("code", "the HRESULT, as docs/errors.md writes it")]
    name: Annotated[str, Xml("name", "its class in openmps.errors")]
    title: Annotated[str, Xml("title", "its short title")]
    meaning: Annotated[str, Xml("meaning", "what it means, from docs/errors.md")]
    http_status: Annotated[int, Xml("httpStatus", "the HTTP status it is answered with")]
    description: Annotated[str | None, Xml("description", "the error's own description, as given")] = None


@dataclass(frozen=True)
class UserErrorText:
    """What an error code means, in words for the person who met it: no detail of the system."""

    code: Annotated[str, Xml("code", "the HRESULT")]
    message: Annotated[str, Xml("message", "a plain message")]


def _locale(loc_id: int | None) -> None:
    if loc_id is not None and loc_id != ENGLISH:
        raise NotImplementedYet(
            f"'locId' {loc_id}: OpenMPS has messages in English (1033) only", argument="locId"
        )


LocId = Annotated[int | None, Xml("locId", "the locale of the text; 1033 (English) is the only one")]


@procedure(NAMESPACE, "TranslateProvisioningError", requires=Role.AUTHENTICATED, kind="read")
class TranslateProvisioningError:
    """What an error's code means, from the stable table of docs/errors.md, with its description."""

    error: Annotated[ErrorMessageContext, Xml("errorMessageContext", "the error: its code, its description")]
    loc_id: LocId = None

    def run(self, ctx: Ctx) -> ProvisioningErrorText:
        _locale(self.loc_id)
        error = self.error.error()
        cls = error_class("errorMessageContext/@code", error.code)
        return ProvisioningErrorText(
            f"0x{cls.code:08X}", cls.__name__, cls.title, _meaning(cls), cls.http_status, error.description
        )


@procedure(NAMESPACE, "TranslateUserError", requires=Role.AUTHENTICATED, kind="read")
class TranslateUserError:
    """A message for the person who met an error: its class's title only, never its description
    (which may name objects and systems a user need not see)."""

    error: Annotated[ErrorMessageContext, Xml("errorMessageContext", "the error: its code")]
    loc_id: LocId = None

    def run(self, ctx: Ctx) -> UserErrorText:
        _locale(self.loc_id)
        cls = error_class("errorMessageContext/@code", self.error.error().code)
        message = (
            "The request failed; the service's operator has the details."
            if cls is InternalError
            else cls.title
        )
        return UserErrorText(f"0x{cls.code:08X}", message)


@procedure(NAMESPACE, "SetError", requires=Role.AUTHENTICATED, kind="read")
class SetError:
    """Fail with a coded error of the table: a request's own check (or a ``<catch>`` that passes an
    error on as another) answers as any procedure's error would, and a ``<try>`` around it catches it."""

    hr: Annotated[str, Xml("hr", "the HRESULT, a code of docs/errors.md")]
    desc: Annotated[str | None, Xml("desc", "the description (default: the code's title)")] = None

    def run(self, ctx: Ctx) -> None:
        cls = error_class("hr", self.hr)
        if issubclass(cls, NOT_RAISED):
            raise InvalidArgument(
                f"'hr' {self.hr} ({cls.__name__}) is the door's or the service's to answer, not a request's",
                argument="hr",
            )
        raise cls(self.desc or cls.title, raised_by="SetError")


EventType = Literal["info", "warning", "error"]  # as the audit record's outcome says it (16 characters)
_EVENT_TYPES: dict[str, EventType] = {"information": "info", "warning": "warning", "error": "error"}


@procedure(NAMESPACE, "ReportEvent", requires=Role.AUTHENTICATED, kind="read")
class ReportEvent:
    """Write an event into the audit log (MPF writes it to the event log): a record of its own,
    outcome ``event info``, ``event warning`` or ``event error``, kept whether the request then
    commits or fails.  The message is the client's text: it must not hold a secret."""

    message: Annotated[str, Xml("message", "what happened")]
    event_type: Annotated[str, Xml("eventType", "Information (default), Warning or Error")] = "Information"
    event_id: Annotated[int | None, Xml("eventId", "a number of the client's, 0 to 65535")] = None

    def run(self, ctx: Ctx) -> None:
        kind = _EVENT_TYPES.get(self.event_type.casefold())
        if kind is None:
            raise InvalidArgument(
                f"'eventType' must be Information, Warning or Error, not {shown(self.event_type)}",
                argument="eventType",
            )
        if self.event_id is not None and not 0 <= self.event_id <= 0xFFFF:
            raise InvalidArgument(f"'eventId' must be 0 to 65535, not {self.event_id}", argument="eventId")
        ctx.audit_apart(
            AuditRecord(
                request_id=ctx.request_id,
                at=datetime.now(UTC),
                caller=ctx.caller.name,
                procedures=(f"{NAMESPACE}::ReportEvent",),
                outcome=f"event {kind}",
                duration_ms=0.0,
                error_code=None if self.event_id is None else str(self.event_id),
                error_description=self.message,
            )
        )


PROCEDURES: tuple[type, ...] = (TranslateProvisioningError, TranslateUserError, SetError, ReportEvent)
