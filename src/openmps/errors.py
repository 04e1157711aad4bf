"""The one error hierarchy of OpenMPS.

Every error a client can see is an :class:`MpsError`: it carries a stable MPS-style HRESULT ``code``,
a ``description`` that names what was wrong, structured ``fields`` for tests and logs, and the HTTP
status the web layer answers with.  Backends map their native errors onto these classes once, at
their edge; nothing above them ever sees a SQLAlchemy or LDAP exception.

The codes are the ones MPS itself answers with where it has one (reference §1.8), so existing MPS
clients keep working; ``docs/errors.md`` lists them.  This module imports nothing of openmps.
"""

from __future__ import annotations

from typing import Any, ClassVar


class MpsError(Exception):
    """Base of every error a request can answer with."""

    code: ClassVar[int] = 0x80004005
    http_status: ClassVar[int] = 500
    title: ClassVar[str] = "Unspecified error"

    def __init__(self, description: str, **fields: Any) -> None:
        super().__init__(description)
        self.description = description
        self.fields = fields
        # The <errorSource> stack, innermost procedure first; the engine appends a frame as the
        # error passes up through each nested call.
        self.sources: list[tuple[str, str]] = []

    @property
    def hex_code(self) -> str:
        return f"0x{self.code:08X}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.hex_code}, {self.description!r})"


# --- the request itself ---------------------------------------------------------------------------


class MalformedRequest(MpsError):
    """The request document is not well-formed XML, or not a request."""

    code = 0xC00CE500
    http_status = 400
    title = "Malformed request"


class RequestRejected(MpsError):
    """The document is refused by a hardening rule (DTD, entity, size, depth, element count), or the
    request passes its budget (wall time, steps, copies, XPath or XSLT work); ``limit`` names which."""

    code = 0xC00CE501
    http_status = 400
    title = "Request rejected"


class RequestTooLarge(RequestRejected):
    http_status = 413
    title = "Request too large"


class UnsupportedMediaType(RequestRejected):
    """The body is declared as something other than XML (``Content-Type``)."""

    http_status = 415
    title = "Unsupported media type"


class UnknownPath(MpsError):
    """No door answers at this HTTP path."""

    code = 0x80070002  # ERROR_FILE_NOT_FOUND
    http_status = 404
    title = "Unknown path"


class MethodNotAllowed(MpsError):
    """The path exists but does not answer this HTTP method; ``allowed`` lists those it does."""

    code = 0x80070001  # ERROR_INVALID_FUNCTION
    http_status = 405
    title = "Method not allowed"


# --- arguments ------------------------------------------------------------------------------------


class InvalidArgument(MpsError):
    """An argument is present but wrong: unknown, mistyped, malformed, out of range."""

    code = 0x80070057
    http_status = 400
    title = "Invalid argument"


class MissingArgument(InvalidArgument):
    title = "Missing argument"


class UnknownProcedure(MpsError):
    """No such namespace or procedure, or a private procedure called from outside."""

    code = 0x80070032
    http_status = 404
    title = "Unknown procedure"


class NotImplementedYet(MpsError):
    """A documented argument or feature this release does not provide yet."""

    code = 0x80004001
    http_status = 501
    title = "Not implemented"


class PasswordPolicyViolation(InvalidArgument):
    code = 0x800708C5
    title = "Password does not meet the policy"


# --- state ----------------------------------------------------------------------------------------


class NotFound(MpsError):
    """No such object (the caller may not know it exists), or a plan not available to the organization."""

    code = 0x80072030
    http_status = 404
    title = "No such object"


class AlreadyExists(MpsError):
    code = 0x80071392
    http_status = 409
    title = "Object already exists"


class ConstraintViolation(MpsError):
    """A unique or structural constraint of the directory would break."""

    code = 0x8007202F
    http_status = 409
    title = "Constraint violation"


class NotEmpty(MpsError):
    """The operation needs an empty container (an org that still has users, a non-leaf entry)."""

    code = 0x80072015
    http_status = 409
    title = "Object is not empty"


class InvalidOperation(MpsError):
    code = 0x80131509
    http_status = 409
    title = "Invalid operation"


class QuotaExceeded(MpsError):
    code = 0x80070070
    http_status = 409
    title = "Not enough space"


# --- who is asking --------------------------------------------------------------------------------


class NotAuthenticated(MpsError):
    code = 0x8007052E
    http_status = 401
    title = "Logon failure"


class AccessDenied(MpsError):
    code = 0x80070005
    http_status = 403
    title = "Access denied"


# --- load ---------------------------------------------------------------------------------------


class ServiceBusy(MpsError):
    """The service cannot take the request now (store locked, too many requests of the tenant,
    too many sign-ins): nothing was changed, and the same request may be sent again after
    ``retry_after`` seconds (HTTP ``Retry-After``)."""

    code = 0x800705AA  # ERROR_NO_SYSTEM_RESOURCES
    http_status = 503
    title = "Service busy, retry later"

    def __init__(self, description: str, *, retry_after: int = 1, **fields: Any) -> None:
        super().__init__(description, retry_after=retry_after, **fields)
        self.retry_after = retry_after


class SignInThrottled(ServiceBusy):
    """Too many failed sign-ins for one account name or from one address: further attempts are
    refused unverified until ``retry_after`` seconds have passed, whether or not the account
    exists (docs/security.md, "Sign-in, revocation and lockout")."""

    code = 0x80070775  # ERROR_ACCOUNT_LOCKED_OUT
    http_status = 429
    title = "Too many failed sign-ins, retry later"


# --- everything else ------------------------------------------------------------------------------


class InternalError(MpsError):
    """Answered for any exception that is not an MpsError; the details go to the log only."""

    code = 0x80004005
    http_status = 500
    title = "Internal error"


class RollbackFailed(InternalError):
    """A compensating step failed: the state may be inconsistent and an operator must look."""

    code = 0x8004D00E
    title = "Rollback failed"


def all_error_classes() -> list[type[MpsError]]:
    """Every public error class of this module, for the documented table of codes."""
    seen: list[type[MpsError]] = []
    stack: list[type[MpsError]] = [MpsError]
    while stack:
        cls = stack.pop(0)
        if cls.__module__ == __name__:  # not subclasses made elsewhere (tests inject their own)
            seen.append(cls)
        stack.extend(cls.__subclasses__())
    return seen
