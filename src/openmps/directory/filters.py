"""LDAP search filters (RFC 4515) as an immutable AST: parse, render, match.

Every backend receives a :data:`Filter`, never filter text, so a value is always data: code builds
filters with :func:`eq`, :func:`and_` and friends, and :func:`render` escapes values, so
``eq("cn", "*)(objectClass=*")`` cannot widen a search.  :func:`matches` evaluates a filter against
an entry in memory with AD's case-insensitive comparison, for the SQL backend and for tests.
This module imports nothing of openmps but the errors and value types.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from openmps.errors import InvalidArgument
from openmps.types import fold, shown

__all__ = [
    "MAX_FILTER_DEPTH",
    "MAX_FILTER_LENGTH",
    "And",
    "Approx",
    "Equal",
    "Filter",
    "GreaterOrEqual",
    "LessOrEqual",
    "Not",
    "Or",
    "Present",
    "Substring",
    "and_",
    "eq",
    "escape_filter_value",
    "matches",
    "not_",
    "or_",
    "parse",
    "present",
    "render",
]

MAX_FILTER_LENGTH = 8192
MAX_FILTER_DEPTH = 32

_ATTR_RE = re.compile(r"[A-Za-z][A-Za-z0-9;-]*|[0-9]+(?:\.[0-9]+)*")
_INT_RE = re.compile(r"[-+]?[0-9]+")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_ESCAPES = {ord("*"): "\\2a", ord("("): "\\28", ord(")"): "\\29", ord("\\"): "\\5c", 0: "\\00"}


def _check_attr(attr: object) -> None:
    if not isinstance(attr, str) or not _ATTR_RE.fullmatch(attr):
        raise InvalidArgument(
            f"{shown(str(attr))} is not a valid attribute name in a search filter", attr=attr
        )


def _check_value(value: object) -> None:
    if not isinstance(value, str):
        raise InvalidArgument(f"{value!r} is not a valid search filter value: not a string", value=value)
    if "\x00" in value:
        raise InvalidArgument(
            f"{shown(value)} is not a valid search filter value: it contains a NUL character", value=value
        )


class _Attr:
    """Mixin for the nodes that test one attribute."""

    __slots__ = ()
    attr: str

    @property
    def attr_key(self) -> str:
        """The attribute name lower-cased, as :func:`matches` looks it up."""
        return self.attr.lower()


@dataclass(frozen=True)
class And:
    items: tuple[Filter, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", _check_items(self.items))


@dataclass(frozen=True)
class Or:
    items: tuple[Filter, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", _check_items(self.items))


@dataclass(frozen=True)
class Not:
    item: Filter

    def __post_init__(self) -> None:
        _check_items((self.item,))


@dataclass(frozen=True)
class Equal(_Attr):
    attr: str
    value: str

    def __post_init__(self) -> None:
        _check_attr(self.attr)
        _check_value(self.value)


@dataclass(frozen=True)
class Present(_Attr):
    attr: str

    def __post_init__(self) -> None:
        _check_attr(self.attr)


@dataclass(frozen=True)
class Substring(_Attr):
    """``attr=initial*any1*any2*final``; an empty ``initial``/``final`` is normalised to None."""

    attr: str
    initial: str | None
    any: tuple[str, ...]
    final: str | None

    def __post_init__(self) -> None:
        _check_attr(self.attr)
        object.__setattr__(self, "initial", self.initial or None)
        object.__setattr__(self, "final", self.final or None)
        object.__setattr__(self, "any", tuple(self.any))
        for part in (self.initial, *self.any, self.final):
            if part is not None:
                _check_value(part)
        if any(not part for part in self.any):
            raise InvalidArgument(
                f"a substring filter on {self.attr!r} has an empty middle part", attr=self.attr
            )
        if self.initial is None and self.final is None and not self.any:
            raise InvalidArgument(
                f"a substring filter on {self.attr!r} has no parts: use a presence filter", attr=self.attr
            )


@dataclass(frozen=True)
class GreaterOrEqual(_Attr):
    attr: str
    value: str

    def __post_init__(self) -> None:
        _check_attr(self.attr)
        _check_value(self.value)


@dataclass(frozen=True)
class LessOrEqual(_Attr):
    attr: str
    value: str

    def __post_init__(self) -> None:
        _check_attr(self.attr)
        _check_value(self.value)


@dataclass(frozen=True)
class Approx(_Attr):
    """``attr~=value``; matched like :class:`Equal`."""

    attr: str
    value: str

    def __post_init__(self) -> None:
        _check_attr(self.attr)
        _check_value(self.value)


Filter: TypeAlias = And | Or | Not | Equal | Present | Substring | GreaterOrEqual | LessOrEqual | Approx
_FILTER_TYPES = (And, Or, Not, Equal, Present, Substring, GreaterOrEqual, LessOrEqual, Approx)


def _check_items(items: Sequence[Filter]) -> tuple[Filter, ...]:
    items = tuple(items)
    for item in items:
        if not isinstance(item, _FILTER_TYPES):
            raise InvalidArgument(f"{item!r} is not a search filter")
    return items


# --- building -------------------------------------------------------------------------------------


def eq(attr: str, value: str) -> Equal:
    """``(attr=value)`` with ``value`` as data: never parsed, so it cannot inject filter syntax."""
    return Equal(attr, value)


def present(attr: str) -> Present:
    """``(attr=*)``."""
    return Present(attr)


def and_(*items: Filter) -> And:
    """``(&...)``; with no items it is always true (RFC 4526)."""
    return And(items)


def or_(*items: Filter) -> Or:
    """``(|...)``; with no items it is always false (RFC 4526)."""
    return Or(items)


def not_(item: Filter) -> Not:
    """``(!item)``."""
    return Not(item)


# --- rendering ------------------------------------------------------------------------------------


def escape_filter_value(value: str) -> str:
    """Escape a value for filter text (RFC 4515 §3): ``*`` ``(`` ``)`` ``\\`` and NUL as ``\\XX``."""
    return value.translate(_ESCAPES)


def render(f: Filter) -> str:
    """The canonical RFC 4515 text of a filter, values escaped; :func:`parse` reads it back equal."""
    if isinstance(f, And):
        return "(&" + "".join(render(item) for item in f.items) + ")"
    if isinstance(f, Or):
        return "(|" + "".join(render(item) for item in f.items) + ")"
    if isinstance(f, Not):
        return "(!" + render(f.item) + ")"
    if isinstance(f, Equal):
        return f"({f.attr}={escape_filter_value(f.value)})"
    if isinstance(f, Present):
        return f"({f.attr}=*)"
    if isinstance(f, Substring):
        parts = [f.initial or "", *f.any, f.final or ""]
        return f"({f.attr}=" + "*".join(escape_filter_value(p) for p in parts) + ")"
    if isinstance(f, GreaterOrEqual):
        return f"({f.attr}>={escape_filter_value(f.value)})"
    if isinstance(f, LessOrEqual):
        return f"({f.attr}<={escape_filter_value(f.value)})"
    if isinstance(f, Approx):
        return f"({f.attr}~={escape_filter_value(f.value)})"
    raise InvalidArgument(f"{f!r} is not a search filter")


# --- parsing --------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)

    def error(self, reason: str, position: int) -> InvalidArgument:
        return InvalidArgument(
            f"{shown(self.text)} is not a valid search filter: {reason} at position {position}",
            filter=self.text,
            position=position,
        )

    def skip_spaces(self, i: int) -> int:
        while i < self.n and self.text[i] == " ":
            i += 1
        return i

    def parse(self) -> Filter:
        i = self.skip_spaces(0)
        if i == self.n:
            raise self.error("empty filter", i)
        if self.text[i] != "(":
            f, i = self.item(0, bare=True)  # "a=b" without the outer parentheses
            return f
        f, i = self.filter(i, 1)
        i = self.skip_spaces(i)
        if i != self.n:
            raise self.error(f"unexpected {self.text[i]!r} after the filter", i)
        return f

    def filter(self, start: int, depth: int) -> tuple[Filter, int]:
        """Parse ``( filtercomp )`` at ``start`` (a '('); return it and the position after ')'."""
        if depth > MAX_FILTER_DEPTH:
            raise self.error(f"filter nested deeper than {MAX_FILTER_DEPTH}", start)
        text, n = self.text, self.n
        i = start + 1
        if i == n:
            raise self.error("missing ')'", i)
        char = text[i]
        if char in "&|":
            items: list[Filter] = []
            i = self.skip_spaces(i + 1)
            while i < n and text[i] == "(":
                item, i = self.filter(i, depth + 1)
                items.append(item)
                i = self.skip_spaces(i)
            if i == n:
                raise self.error(f"unbalanced parentheses, no ')' closes the '(' at {start},", i)
            if text[i] != ")":
                raise self.error(f"expected '(' or ')' but found {text[i]!r}", i)
            return (And(tuple(items)) if char == "&" else Or(tuple(items))), i + 1
        if char == "!":
            i = self.skip_spaces(i + 1)
            if i == n or text[i] != "(":
                raise self.error("'!' must be followed by a parenthesized filter", i)
            item, i = self.filter(i, depth + 1)
            i = self.skip_spaces(i)
            if i == n or text[i] != ")":
                raise self.error(f"unbalanced parentheses, no ')' closes the '(' at {start},", i)
            return Not(item), i + 1
        if char == ")":
            raise self.error("empty filter component", i)
        f, i = self.item(i, bare=False)
        if i == n:
            raise self.error(f"unbalanced parentheses, no ')' closes the '(' at {start},", i)
        return f, i + 1

    def item(self, start: int, *, bare: bool) -> tuple[Filter, int]:
        """Parse ``attr op value`` at ``start``; return it and the position of its ')' (or the end)."""
        text, n = self.text, self.n
        i = start
        while i < n and text[i] not in "=~<>:()":
            i += 1
        attr = text[start:i]
        if i < n and text[i] == ":":
            raise self.error("extensible match is not supported", i)
        if not attr:
            raise self.error("missing attribute name", start)
        if i == n or text[i] in "()":
            raise self.error(f"missing comparison operator after {attr!r}", i)
        if not _ATTR_RE.fullmatch(attr):
            raise self.error(f"invalid attribute name {attr!r}", start)
        op = text[i]
        if op != "=":
            if i + 1 == n or text[i + 1] != "=":
                raise self.error(f"invalid comparison operator {text[i : i + 2]!r}", i)
            i += 1
        segments, i = self.value(i + 1, wildcards=op == "=", bare=bare)
        if len(segments) == 1:
            value = segments[0]
            if op == "=":
                return Equal(attr, value), i
            if op == "~":
                return Approx(attr, value), i
            if op == ">":
                return GreaterOrEqual(attr, value), i
            return LessOrEqual(attr, value), i
        if all(not s for s in segments) and len(segments) == 2:
            return Present(attr), i
        return Substring(attr, segments[0] or None, tuple(segments[1:-1]), segments[-1] or None), i

    def value(self, start: int, *, wildcards: bool, bare: bool) -> tuple[list[str], int]:
        """Decode an assertion value up to ')' (or the end): its segments between unescaped '*'."""
        text, n = self.text, self.n
        segments: list[str] = []
        chars: list[str] = []
        pending = bytearray()
        pending_at = start
        i = start
        while i < n:
            char = text[i]
            if char == "\\":
                pair = text[i + 1 : i + 3]
                if not pair:
                    raise self.error("trailing backslash", i)
                if len(pair) != 2 or pair[0] not in _HEX_DIGITS or pair[1] not in _HEX_DIGITS:
                    raise self.error("bad escape (expected a backslash and two hex digits)", i)
                if not pending:
                    pending_at = i
                pending.append(int(pair, 16))
                i += 3
                continue
            if char == ")" and not bare:
                break
            if char in "()":
                raise self.error(f"unescaped {char!r} in a value", i)
            self.flush(pending, pending_at, chars)
            if char == "*":
                if not wildcards:
                    raise self.error("unescaped '*' in a value", i)
                if segments and not chars:
                    raise self.error("consecutive '*' in a substring value", i)
                segments.append("".join(chars))
                chars = []
            else:
                chars.append(char)
            i += 1
        self.flush(pending, pending_at, chars)
        segments.append("".join(chars))
        return segments, i

    def flush(self, pending: bytearray, at: int, chars: list[str]) -> None:
        if not pending:
            return
        try:
            decoded = pending.decode("utf-8")
        except UnicodeDecodeError:
            raise self.error("escaped bytes are not valid UTF-8", at) from None
        if "\x00" in decoded:
            raise self.error("NUL character (\\00)", at)
        chars.extend(decoded)
        pending.clear()


def parse(text: str) -> Filter:
    """Parse RFC 4515 filter text (outer parentheses optional) into a :data:`Filter`.

    Rejects, naming the filter and the position: unbalanced parentheses, empty filters, misplaced
    ``(`` ``)`` ``*``, NUL, bad ``\\XX`` escapes or invalid UTF-8, extensible match, bad attribute
    names, more than 8192 characters or nesting deeper than 32.
    """
    if not isinstance(text, str):
        raise InvalidArgument(f"{text!r} is not a valid search filter: not a string", filter=text)
    parser = _Parser(text)
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidArgument(
            f"{shown(text)} is not a valid search filter: longer than {MAX_FILTER_LENGTH} characters",
            filter=text,
        )
    if "\x00" in text:
        raise parser.error("NUL character", text.index("\x00"))
    return parser.parse()


# --- matching -------------------------------------------------------------------------------------


def _compare(left: str, right: str) -> int:
    """-1, 0 or 1: numerically if both are integers, else by folded text."""
    if _INT_RE.fullmatch(left) and _INT_RE.fullmatch(right):
        a, b = int(left), int(right)
        return (a > b) - (a < b)
    x, y = fold(left), fold(right)
    return (x > y) - (x < y)


def _substring_matches(f: Substring, value: str) -> bool:
    text = fold(value)
    pos = 0
    if f.initial is not None:
        initial = fold(f.initial)
        if not text.startswith(initial):
            return False
        pos = len(initial)
    for part in f.any:
        part = fold(part)
        found = text.find(part, pos)
        if found < 0:
            return False
        pos = found + len(part)
    if f.final is not None:
        final = fold(f.final)
        return text.endswith(final) and len(text) - len(final) >= pos
    return True


def matches(f: Filter, attributes: Mapping[str, Sequence[str]]) -> bool:
    """True if an entry, given as values keyed by LOWER-CASED attribute name, satisfies ``f``.

    Values compare folded (:func:`~openmps.types.fold`: case and width ignored); ``>=``/``<=``
    compare as integers when both sides are.  An empty AND is true and an empty OR false
    (RFC 4526); a missing attribute simply fails to match.
    """
    if isinstance(f, And):
        return all(matches(item, attributes) for item in f.items)
    if isinstance(f, Or):
        return any(matches(item, attributes) for item in f.items)
    if isinstance(f, Not):
        return not matches(f.item, attributes)
    values = attributes.get(f.attr_key, ())
    if isinstance(f, Present):
        return len(values) > 0
    if isinstance(f, Equal | Approx):
        wanted = fold(f.value)
        return any(fold(v) == wanted for v in values)
    if isinstance(f, Substring):
        return any(_substring_matches(f, v) for v in values)
    if isinstance(f, GreaterOrEqual):
        return any(_compare(v, f.value) >= 0 for v in values)
    if isinstance(f, LessOrEqual):
        return any(_compare(v, f.value) <= 0 for v in values)
    raise InvalidArgument(f"{f!r} is not a search filter")
