"""The one place OpenMPS talks to an LDAP server (ldap3): a bound connection with timeouts, opened
again when the server dropped it, and the server's refusals mapped once to :mod:`openmps.errors`.

Nothing above this module sees an ldap3 type or result code.
"""

from __future__ import annotations

import contextlib
import ssl
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import ldap3
from ldap3.core.exceptions import (
    LDAPCommunicationError,
    LDAPException,
    LDAPSessionTerminatedByServerError,
)

from openmps.errors import (
    AlreadyExists,
    ConstraintViolation,
    InvalidArgument,
    MpsError,
    NotEmpty,
    NotFound,
    ServiceBusy,
)

T = TypeVar("T")

CONNECT_TIMEOUT = 5  # seconds
RECEIVE_TIMEOUT = 30


@dataclass(frozen=True)
class LdapSettings:
    """Where the directory server is and how OpenMPS binds to it.  ``url`` is ldap:// (optionally
    with ``start_tls``) or ldaps://; the password is read from a file, never stored."""

    url: str
    bind_dn: str
    password: str
    start_tls: bool = False
    verify_tls: bool = True
    ca_file: str | None = None  # the CA the server's certificate is checked against (default: the system's)

    def __repr__(self) -> str:  # never the password in a log
        return f"LdapSettings(url={self.url!r}, bind_dn={self.bind_dn!r}, start_tls={self.start_tls})"


# LDAP result codes (RFC 4511 §4.1.9) → the error OpenMPS answers
_REFERRAL = 10  # AD: the DN is in no naming context this server holds
NO_SUCH_ATTRIBUTE = 16
_UNDEFINED_TYPE = 17
_CONSTRAINT = 19
_VALUE_EXISTS = 20
_INVALID_SYNTAX = 21
_NO_SUCH_OBJECT = 32
_INVALID_DN = 34
_UNWILLING = 53
_NAMING = 64
_OBJECT_CLASS = 65
_NOT_LEAF = 66
_NOT_ON_RDN = 67
_ENTRY_EXISTS = 68


class LdapRefused(Exception):
    """A result code other than success, as the server sent it (mapped by :func:`mapped`)."""

    def __init__(self, code: int, message: str, what: str) -> None:
        super().__init__(f"{what}: {code} {message}")
        self.code = code
        self.message = message
        self.what = what


def mapped(refused: LdapRefused, **fields: Any) -> MpsError:
    """The OpenMPS error for a refusal; ``fields`` name what the caller knows (dn, attr, value)."""
    code, text = refused.code, f"{refused.what}: {refused.message or 'refused'}"
    if code in (_NO_SUCH_OBJECT, _REFERRAL):
        return NotFound(f"no such object: {refused.what}", **fields)
    if code in (_ENTRY_EXISTS, _VALUE_EXISTS):
        return AlreadyExists(text, **fields)
    if code in (_CONSTRAINT, NO_SUCH_ATTRIBUTE):
        return ConstraintViolation(text, **fields)
    if code == _NOT_LEAF:
        return NotEmpty(f"{refused.what} has children and cannot be deleted", **fields)
    if code in (
        _UNDEFINED_TYPE,
        _INVALID_SYNTAX,
        _INVALID_DN,
        _UNWILLING,
        _NAMING,
        _OBJECT_CLASS,
        _NOT_ON_RDN,
    ):
        return InvalidArgument(text, **fields)
    return MpsError(text, **fields)


def names_nothing(refused: LdapRefused) -> bool:
    """Whether a read's refusal means no entry has the DN it named: none has, or the server deems
    the DN invalid (slapd refuses a multi-valued RDN that repeats its attribute, ``OU=a+OU=b``,
    which OpenMPS's DNs and the SQL store take and find nothing at)."""
    return refused.code in (_NO_SUCH_OBJECT, _INVALID_DN)


class LdapConnection:
    """A lazily bound ldap3 connection.  An operation that finds the connection dropped binds
    again and is sent once more; a read is safe to repeat, and a write the server had applied
    before the drop answers AlreadyExists / NoSuchObject on the repeat, which the caller sees."""

    def __init__(self, settings: LdapSettings) -> None:
        self._settings = settings
        self._conn: Any = None
        self._closer: weakref.finalize[Any, Any] | None = None

    def _open(self) -> Any:
        s = self._settings
        validate = ssl.CERT_REQUIRED if s.verify_tls else ssl.CERT_NONE
        tls = ldap3.Tls(validate=validate, ca_certs_file=s.ca_file)
        server = ldap3.Server(
            s.url,
            get_info=ldap3.NONE,
            connect_timeout=CONNECT_TIMEOUT,
            tls=tls,
            use_ssl=s.url.startswith("ldaps:"),
        )
        conn = ldap3.Connection(
            server,
            s.bind_dn,
            s.password,
            receive_timeout=RECEIVE_TIMEOUT,
            auto_referrals=False,  # OpenMPS talks to one server; a referral is an answer
            raise_exceptions=False,
            read_only=False,
        )
        try:
            try:
                conn.open()
                if s.start_tls and not conn.start_tls():
                    raise ServiceBusy(f"StartTLS with {s.url} failed: {conn.result.get('message')}")
                if not conn.bind():
                    raise ServiceBusy(
                        f"binding to {s.url} as {s.bind_dn} failed: {conn.result.get('description')}"
                    )
            except LDAPException as exc:
                raise ServiceBusy(f"the directory server {s.url} cannot be reached: {exc}") from None
        except ServiceBusy:
            _unbind(conn)
            if conn.socket is not None:  # a refused connect's socket, which unbind leaves open
                conn.socket.close()
            raise
        return conn

    def run(self, what: str, operation: Callable[[Any], bool]) -> Any:
        """Run ``operation(conn)``; the connection on success, LdapRefused on a result code."""
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = self._open()
                # a connection nobody closed (a one-shot command's deployment) is unbound when
                # it is collected, not left to the socket's finalizer
                self._closer = weakref.finalize(self, _unbind, self._conn)
            try:
                operation(self._conn)
            except (LDAPCommunicationError, LDAPSessionTerminatedByServerError) as exc:
                self.close()
                if attempt == 2:
                    raise ServiceBusy(f"the directory server dropped the connection: {exc}") from None
                continue
            result = self._conn.result
            code = result.get("result", 0) if result else 0
            if code not in (0, 4):  # success, sizeLimitExceeded (a limit we asked for)
                raise LdapRefused(code, result.get("message") or result.get("description", ""), what)
            return self._conn
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._closer is not None:
            self._closer()  # runs _unbind once
            self._closer = None
        self._conn = None


def _unbind(conn: Any) -> None:
    # ``with conn:`` would leave it bound; a dropped connection has nothing to unbind
    with contextlib.suppress(Exception):
        conn.unbind()


def read_password_file(path: Path) -> str:
    """The bind password from ``path``, which only its owner may read (0600): the password itself
    is never stored in the deployment's settings nor logged."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise InvalidArgument(
            f"the directory password file '{path}' cannot be read: {exc.strerror}"
        ) from None
    if mode & 0o077:
        raise InvalidArgument(
            f"the directory password file '{path}' must be readable by its owner only (0600)"
        )
    return path.read_text().rstrip("\n")
