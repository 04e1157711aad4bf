"""Value types shared by every layer: distinguished names, user principal names, secrets, GUIDs.

These are the only way OpenMPS code handles a DN, a UPN or a password.  Parsing validates once, at
the edge, and rejects anything ambiguous with an :class:`~openmps.errors.InvalidArgument` that names
the offending text; building a DN from user input goes through :meth:`DN.child`, which takes the value
verbatim and escapes it when rendered, so a value can never smuggle in another RDN.
This module imports nothing of openmps but the errors.
"""

from __future__ import annotations

import functools
import hmac
import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar, TypeAlias

from openmps.errors import InvalidArgument

__all__ = [
    "DN",
    "MAX_DN_LENGTH",
    "Secret",
    "Upn",
    "escape_dn_value",
    "fold",
    "is_valid_dns_name",
    "parse_int",
    "shown",
]

MAX_DN_LENGTH = 4096

AVA: TypeAlias = tuple[str, str]
RDN: TypeAlias = tuple[AVA, ...]

_ATTR_TYPE_RE = re.compile(r"[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)*")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
# RFC 4514 §3: the characters a backslash may precede (besides a hex pair).
_DN_ESCAPABLE = frozenset('\\"+,;<>=# ')
_DN_MUST_ESCAPE = frozenset('\\"+,;<>')
_DN_UNESCAPED_FORBIDDEN = frozenset('";<>')
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_SERVER_RE = re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::([0-9]{{1,5}}))?")
_DNS_LABEL_RE = re.compile(r"[A-Za-z0-9-]+")
_UPN_LOCAL_SPECIALS = frozenset("._-'!#$%&*+/=?^`{|}~")
_UPN_FORBIDDEN = frozenset('(),:;<>[]\\"')


def fold(text: str) -> str:
    """The form an identifier is compared in: NFKC, casefolded, NFKC again (Unicode's NFKC_Casefold,
    as PRECIS compares user names), so ``ａｄｍｉｎ`` (full width), ``ADMIN`` and ``admin`` are one name.

    Values keep the form the client gave (as AD keeps what was written); only keys and comparisons
    use this one.  ASCII, nearly every name, folds to its lower case without the Unicode tables.
    """
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


SHOWN_LIMIT = 64


def shown(text: str, limit: int = SHOWN_LIMIT) -> str:
    """``text`` as an error may quote client input: quoted, at most ``limit`` characters (then
    ``…`` and the full length), unprintable characters escaped, so a megabyte of input or a
    right-to-left override never reaches a response or a log as it is."""
    part = text if len(text) <= limit else text[:limit]
    body = "".join(c if c.isprintable() else repr(c)[1:-1] for c in part)
    suffix = "" if len(text) <= limit else f"… ({len(text)} characters)"
    return f"'{body}'{suffix}"


_ASCII_INT = re.compile(r"[+-]?[0-9]{1,18}")
_ASCII_NATURAL = re.compile(r"[0-9]{1,18}")


def parse_int(text: str, *, signed: bool = False) -> int | None:
    """The integer ``text`` writes in ASCII digits (after a ``+``/``-`` if ``signed``), or None.

    Python's ``int()`` and ``str.isdigit()`` also take ``1_000``, Arabic-Indic or full-width digits
    (``isdigit`` even superscripts, which ``int`` then refuses): a size read that way resized a store.
    At most 18 digits, so every value fits a 64-bit column."""
    pattern = _ASCII_INT if signed else _ASCII_NATURAL
    return int(text) if pattern.fullmatch(text) else None


def _show(text: str) -> str:
    """A DN or UPN quoted in its own error: whole up to the 256 characters a UPN may have."""
    return shown(text, 256)


def _dn_error(text: str, reason: str, **fields: object) -> InvalidArgument:
    return InvalidArgument(f"{_show(text)} is not a valid distinguished name: {reason}", text=text, **fields)


_NEEDS_ESCAPE = re.compile(r'["+,;<>\\\x00-\x1f\x7f]|^[# ]| $')


def escape_dn_value(value: str) -> str:
    """Escape an attribute value for a DN string (RFC 4514 §2.4), so it parses back to itself.

    Escapes ``" + , ; < > \\``, a leading ``#`` or space, a trailing space, and control characters
    (NUL as ``\\00``, others as ``\\XX``).
    """
    if not _NEEDS_ESCAPE.search(value):
        return value  # the common case, on every DN rendered: skip the character loop
    out: list[str] = []
    last = len(value) - 1
    for index, char in enumerate(value):
        if char in _DN_MUST_ESCAPE:
            out.append("\\" + char)
        elif ord(char) < 0x20 or char == "\x7f":
            out.append(f"\\{ord(char):02X}")
        elif (index == 0 and char in "# ") or (index == last and char == " "):
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def _check_attr_type(attr: object, where: str) -> str:
    if not isinstance(attr, str) or not _ATTR_TYPE_RE.fullmatch(attr):
        raise InvalidArgument(
            f"{_show(str(attr))} is not a valid attribute type in {where}: expected a name or an OID",
            attr=attr,
        )
    return attr


def _check_value(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"{value!r} is not a valid RDN value in {where}: not a string", value=value)
    if "\x00" in value:
        raise InvalidArgument(
            f"{_show(value)} is not a valid RDN value: it contains a NUL character", value=value
        )
    return value


def _parse_dn(text: str) -> tuple[RDN, ...]:
    """Parse RFC 4514 text into RDNs, leaf first, values unescaped (the worker of :meth:`DN.parse`)."""
    n = len(text)
    if n == 0:
        return ()
    rdns: list[RDN] = []
    i = 0
    while True:
        rdn_start = i
        avas: list[AVA] = []
        while True:
            # --- attribute type, up to '=' ---
            j = i
            while j < n and text[j] not in "=,+":
                j += 1
            if j == n or text[j] != "=":
                if text[i:j].strip(" "):
                    raise _dn_error(
                        text, f"missing '=' after {_show(text[i:j].strip(' '))} at position {i}", position=i
                    )
                if not avas:
                    raise _dn_error(text, f"empty RDN at position {rdn_start}", position=rdn_start)
                raise _dn_error(
                    text, f"empty attribute value assertion after '+' at position {i}", position=i
                )
            attr = text[i:j].strip(" ")
            if not attr:
                raise _dn_error(text, f"empty attribute type at position {i}", position=i)
            if not _ATTR_TYPE_RE.fullmatch(attr):
                raise _dn_error(text, f"invalid attribute type {_show(attr)} at position {i}", position=i)
            # --- value, up to an unescaped ',' or '+' ---
            k = j + 1
            while k < n and text[k] == " ":
                k += 1
            if k < n and text[k] == "#":
                raise _dn_error(text, f"hex-encoded (BER) value at position {k} is not supported", position=k)
            chars: list[str] = []
            keep = 0  # length of `chars` once unescaped trailing spaces are dropped
            pending = bytearray()
            pending_at = k
            while k < n:
                char = text[k]
                if char == "\\":
                    if k + 1 == n:
                        raise _dn_error(text, f"trailing backslash at position {k}", position=k)
                    nxt = text[k + 1]
                    if nxt in _HEX_DIGITS:
                        if k + 2 == n or text[k + 2] not in _HEX_DIGITS:
                            raise _dn_error(text, f"bad escape at position {k}", position=k)
                        if not pending:
                            pending_at = k
                        pending.append(int(text[k + 1 : k + 3], 16))
                        k += 3
                        continue
                    if nxt not in _DN_ESCAPABLE:
                        raise _dn_error(text, f"bad escape '\\{nxt}' at position {k}", position=k)
                    if pending:
                        _flush(text, pending, pending_at, chars)
                    chars.append(nxt)
                    keep = len(chars)
                    k += 2
                    continue
                if char in ",+":
                    break
                if char in _DN_UNESCAPED_FORBIDDEN:
                    raise _dn_error(text, f"unescaped {char!r} at position {k}", position=k)
                if pending:
                    keep = _flush(text, pending, pending_at, chars)
                chars.append(char)
                if char != " ":
                    keep = len(chars)
                k += 1
            if pending:
                keep = _flush(text, pending, pending_at, chars)
            avas.append((attr, "".join(chars[:keep])))
            if k < n and text[k] == "+":
                i = k + 1
                continue
            break
        rdns.append(tuple(avas))
        if k == n:
            return tuple(rdns)
        i = k + 1  # past the ','


def _flush(text: str, pending: bytearray, at: int, chars: list[str]) -> int:
    """Decode the pending ``\\XX`` bytes as UTF-8 onto ``chars``; return the new kept length."""
    if pending:
        try:
            decoded = pending.decode("utf-8")
        except UnicodeDecodeError:
            raise _dn_error(text, f"hex escapes at position {at} are not valid UTF-8", position=at) from None
        if "\x00" in decoded:
            raise _dn_error(text, f"NUL character (\\00) at position {at}", position=at)
        chars.extend(decoded)
        pending.clear()
    return len(chars)


def _unescape_slashes(text: str) -> str:
    """Turn the ADSI path escape ``\\/`` into ``/``, leaving every other escape untouched."""
    if "\\/" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append("/" if text[i + 1] == "/" else text[i : i + 2])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


@dataclass(frozen=True, eq=False, repr=False)
class DN:
    """A distinguished name: RDNs leaf first, each a tuple of ``(attrType, value)`` with raw values.

    Equality and hashing go by :attr:`norm`, so ``OU=Hosting,DC=Com`` equals ``ou=hosting,dc=com``.
    The root (empty) DN has no RDNs and is falsy.
    """

    rdns: tuple[RDN, ...]
    _norm_rdns: tuple[str, ...] = field(init=False, repr=False)
    _norm: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rdns = tuple(tuple((a, v) for a, v in rdn) for rdn in self.rdns)
        where = "a distinguished name"
        norm_rdns: list[str] = []
        for rdn in rdns:
            if not rdn:
                raise InvalidArgument("a distinguished name cannot contain an empty RDN")
            parts = sorted(
                f"{_check_attr_type(a, where).lower()}={escape_dn_value(fold(_check_value(v, where)))}"
                for a, v in rdn
            )
            norm_rdns.append("+".join(parts))
        object.__setattr__(self, "rdns", rdns)
        object.__setattr__(self, "_norm_rdns", tuple(norm_rdns))
        object.__setattr__(self, "_norm", ",".join(norm_rdns))

    @classmethod
    def _trusted(cls, rdns: tuple[RDN, ...], norm_rdns: tuple[str, ...], text: str | None = None) -> DN:
        """A DN from parts of an already validated DN: no re-validation (DNs are built on hot paths).
        ``text``: its rendering, when the caller already has it."""
        dn = object.__new__(cls)
        object.__setattr__(dn, "rdns", rdns)
        object.__setattr__(dn, "_norm_rdns", norm_rdns)
        object.__setattr__(dn, "_norm", ",".join(norm_rdns))
        if text is not None:
            dn.__dict__["_text"] = text  # the cached_property's slot
        return dn

    @classmethod
    def parse(cls, text: str) -> DN:
        """Parse an RFC 4514 string, tolerating spaces around ``,`` ``=`` ``+`` as AD does.

        ``""`` is the root DN.  Rejects empty RDNs, missing ``=``, bad attribute types, NUL (raw or
        ``\\00``), bad or trailing escapes, the ``#`` hex (BER) form and text over 4096 characters.
        """
        if not isinstance(text, str):
            raise InvalidArgument(f"{text!r} is not a valid distinguished name: not a string", text=text)
        if len(text) > MAX_DN_LENGTH:
            raise _dn_error(text, f"longer than {MAX_DN_LENGTH} characters", length=len(text))
        if "\x00" in text:
            at = text.index("\x00")
            raise _dn_error(text, f"NUL character at position {at}", position=at)
        return _parse_cached(text)

    @classmethod
    def from_path(cls, path: str) -> DN:
        """Parse an ADSI path (``LDAP://[server[:port]/]<dn>``) or a bare DN; the server is dropped.

        The part after ``LDAP://`` up to the first ``/`` is a server only if it has no ``=``.  In the
        DN, ``\\/`` stands for ``/`` as ADSI writes it.
        """
        if not isinstance(path, str):
            raise InvalidArgument(f"{path!r} is not a valid LDAP path: not a string", path=path)
        rest = path
        if path[:7].lower() == "ldap://":
            rest = path[7:]
            slash = rest.find("/")
            head = rest if slash < 0 else rest[:slash]
            if "=" not in head:
                match = _SERVER_RE.fullmatch(head)
                if head and (match is None or (match.group(1) and not 0 < int(match.group(1)) < 65536)):
                    raise InvalidArgument(
                        f"{_show(path)} is not a valid LDAP path: {_show(head)} is not a server[:port]",
                        path=path,
                    )
                rest = "" if slash < 0 else rest[slash + 1 :]
            if not rest.strip(" "):
                raise InvalidArgument(f"{_show(path)} is not a valid LDAP path: it names no DN", path=path)
        try:
            return cls.parse(_unescape_slashes(rest))
        except InvalidArgument as exc:
            raise InvalidArgument(
                f"{_show(path)} is not a valid LDAP path: {exc.description}", path=path, **exc.fields
            ) from None

    def __str__(self) -> str:
        return self._text

    @functools.cached_property
    def _text(self) -> str:  # DNs are immutable and rendered often: render once
        return ",".join("+".join(f"{a}={escape_dn_value(v)}" for a, v in rdn) for rdn in self.rdns)

    def __repr__(self) -> str:
        return f"DN({str(self)!r})"

    @property
    def ldap_path(self) -> str:
        """``LDAP://`` + the DN, with ``/`` written ``\\/`` as ADSI does (see :meth:`from_path`)."""
        return "LDAP://" + str(self).replace("/", "\\/")

    @property
    def norm(self) -> str:
        """Canonical form for comparison and keys: types lower-cased, values folded (:func:`fold`)
        and escaped, the AVAs of a multi-valued RDN sorted, no spaces."""
        return self._norm

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DN):
            return NotImplemented
        return self._norm == other._norm

    def __hash__(self) -> int:
        return hash(self._norm)

    def __len__(self) -> int:
        return len(self.rdns)

    def __bool__(self) -> bool:
        return bool(self.rdns)

    @property
    def parent(self) -> DN:
        """The DN one level up; the root DN has none."""
        if not self.rdns:
            raise InvalidArgument("the root DN has no parent")
        return DN._trusted(self.rdns[1:], self._norm_rdns[1:])

    @property
    def rdn_attr(self) -> str:
        """Attribute type of the first AVA of the leaf RDN, as written."""
        if not self.rdns:
            raise InvalidArgument("the root DN has no RDN")
        return self.rdns[0][0][0]

    @property
    def rdn_value(self) -> str:
        """Unescaped value of the first AVA of the leaf RDN."""
        if not self.rdns:
            raise InvalidArgument("the root DN has no RDN")
        return self.rdns[0][0][1]

    def child(self, attr: str, value: str) -> DN:
        """The DN one level below, with ``value`` taken verbatim: the safe way to build from user input.

        ``base.child("CN", "evil,OU=Hosting")`` is ONE RDN whose value contains a comma.
        """
        _check_attr_type(attr, "a new RDN")
        _check_value(value, "a new RDN")
        norm = f"{attr.lower()}={escape_dn_value(fold(value))}"
        leaf = f"{attr}={escape_dn_value(value)}"
        text = f"{leaf},{self}" if self.rdns else leaf
        return DN._trusted((((attr, value),), *self.rdns), (norm, *self._norm_rdns), text)

    def is_within(self, other: DN, *, strict: bool = False) -> bool:
        """True if this DN equals ``other`` or lies below it (only below if ``strict``), ignoring case."""
        depth = len(other._norm_rdns)
        if len(self._norm_rdns) < depth + (1 if strict else 0):
            return False
        return depth == 0 or self._norm_rdns[-depth:] == other._norm_rdns

    def ancestors(self) -> Iterator[DN]:
        """Parent, grandparent, ... up to but excluding the root DN."""
        for index in range(1, len(self.rdns)):
            yield DN._trusted(self.rdns[index:], self._norm_rdns[index:])

    def relative_key(self) -> str:
        """A key under which every descendant of this DN sorts right after it.

        It is the norm RDNs root first, each followed by ``"\\x01"``, so the keys of the subtree of B
        are exactly those starting with ``B.relative_key()`` (a SQL prefix range scan).  Norm values
        escape every control character, so the separator is unambiguous; it is not NUL because
        PostgreSQL text cannot hold NUL.
        """
        return "".join(r + "\x01" for r in reversed(self._norm_rdns))


# A DN with nothing to unescape: ``type=value`` pairs, values without specials or edge spaces.
_PLAIN_EDGE = r'[^\s,+"\\<>;=#\x00-\x1f\x7f]'  # a value's first or last character
_PLAIN_INNER = r'[^,+"\\<>;=\x00-\x1f\x7f]'
_PLAIN_RDN = rf"[A-Za-z][A-Za-z0-9-]*={_PLAIN_EDGE}(?:{_PLAIN_INNER}*{_PLAIN_EDGE})?"
_PLAIN_DN = re.compile(f"{_PLAIN_RDN}(?:,{_PLAIN_RDN})*")


@functools.lru_cache(maxsize=65536)
def _parse_cached(text: str) -> DN:
    """DNs are immutable and the same few thousand are parsed over and over: parse each once."""
    # the common case, split without the RFC 4514 state machine; ASCII only, as folding anything
    # else may make a special character (a full-width comma folds to ',') that needs escaping
    if text.isascii() and _PLAIN_DN.fullmatch(text):
        # Nothing in it to check or escape (the pattern admits no NUL, special or edge space):
        # the text is its own rendering and each norm RDN is just its lower-cased pair.
        pairs = [part.split("=", 1) for part in text.split(",")]
        return DN._trusted(
            tuple(((a, v),) for a, v in pairs), tuple(f"{a.lower()}={v.lower()}" for a, v in pairs), text
        )
    return DN(_parse_dn(text))


@functools.lru_cache(maxsize=4096)
def _dns_name_problem(text: str) -> str | None:
    """Why ``text`` is not a DNS name as OpenMPS accepts it, or None if it is one."""
    if not text:
        return "the domain is empty"
    if len(text) > 253:
        return "the domain is longer than 253 characters"
    labels = text.split(".")
    if len(labels) < 2:
        return "the domain needs at least two labels"
    for label in labels:
        if not label:
            return "the domain has an empty label"
        if len(label) > 63:
            return f"the domain label {_show(label)} is longer than 63 characters"
        if not _DNS_LABEL_RE.fullmatch(label):
            return f"the domain label {_show(label)} has characters other than letters, digits and '-'"
        if label[0] == "-" or label[-1] == "-":
            return f"the domain label {label!r} starts or ends with '-'"
    if labels[-1].isdigit():
        return f"the top-level label {labels[-1]!r} is all digits"
    return None


def is_valid_dns_name(text: str) -> bool:
    """True if ``text`` is a DNS name as UPN and SMTP domains need it.

    Two or more labels of 1..63 ``[A-Za-z0-9-]`` not starting or ending with ``-``, at most 253
    characters in all, and a top-level label that is not all digits.
    """
    return isinstance(text, str) and _dns_name_problem(text) is None


# A local part of letters, digits, '_' and '-' in dot-separated runs: valid, no need to look closer.
_PLAIN_LOCAL = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")


def _upn_local_problem(local: str) -> str | None:
    if len(local) <= 64 and _PLAIN_LOCAL.fullmatch(local):
        return None
    if not local:
        return "the local part is empty"
    if len(local) > 64:
        return "the local part is longer than 64 characters"
    for index, char in enumerate(local):
        if unicodedata.category(char).startswith("C"):
            return f"control character {char!r} at position {index}"
        if char.isspace():
            return f"whitespace at position {index}"
        if char in _UPN_FORBIDDEN:
            return f"character {char!r} at position {index} is not allowed"
        if not (char.isalpha() or char in "0123456789" or char in _UPN_LOCAL_SPECIALS):
            return f"character {char!r} at position {index} is not allowed"
    if local[0] == "." or local[-1] == ".":
        return "the local part starts or ends with '.'"
    if ".." in local:
        return "the local part contains '..'"
    return None


@dataclass(frozen=True)
class Upn:
    """A userPrincipalName ``local@domain``, validated on construction."""

    local: str
    domain: str

    def __post_init__(self) -> None:
        if not isinstance(self.local, str) or not isinstance(self.domain, str):
            raise InvalidArgument(f"{self.local!r}@{self.domain!r} is not a valid user principal name")
        problem = _upn_local_problem(self.local) or _dns_name_problem(self.domain)
        if problem is not None:
            text = f"{self.local}@{self.domain}"
            raise InvalidArgument(f"{_show(text)} is not a valid user principal name: {problem}", upn=text)

    @classmethod
    def parse(cls, text: str) -> Upn:
        """Parse ``local@domain``: exactly one ``@``, a 1..64 character local part, a DNS domain."""
        if not isinstance(text, str):
            raise InvalidArgument(f"{text!r} is not a valid user principal name: not a string", upn=text)
        if len(text) > 256:
            raise InvalidArgument(
                f"{_show(text)} is not a valid user principal name: longer than 256 characters", upn=text
            )
        if text.count("@") != 1:
            raise InvalidArgument(
                f"{_show(text)} is not a valid user principal name: it must contain exactly one '@'", upn=text
            )
        local, domain = text.split("@")
        return cls(local, domain)

    def __str__(self) -> str:
        return f"{self.local}@{self.domain}"

    @property
    def norm(self) -> str:
        """The folded UPN (:func:`fold`), for comparison and keys."""
        return fold(str(self))


class Secret:
    """A sensitive string (a password) that never shows itself in repr, str, f-strings or logs."""

    __slots__ = ("_value",)
    __hash__ = None  # type: ignore[assignment]  # unhashable: a secret is no key
    _MASK: ClassVar[str] = "********"

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise InvalidArgument("a secret must be a string")
        self._value = value

    def reveal(self) -> str:
        """The wrapped value; call it only where the value is actually needed."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{self._MASK}')"

    def __str__(self) -> str:
        return self._MASK

    def __format__(self, format_spec: str) -> str:
        return format(self._MASK, format_spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(
            self._value.encode("utf-8", "surrogatepass"), other._value.encode("utf-8", "surrogatepass")
        )


_V4 = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant
_V4_CLEARED = ~((0xF000 << 64) | (0xC000 << 48))


def new_guid() -> str:
    """A random (version 4) GUID as text, exactly as ``str(uuid.uuid4())`` writes it, in half the
    time: a bulk request draws two for every mailbox user."""
    text = f"{int.from_bytes(os.urandom(16), 'big') & _V4_CLEARED | _V4:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
