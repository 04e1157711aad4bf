"""LDIF (RFC 2849) export and import of the raw directory, for migration, backup and repair.

Export writes a subtree as content records, parents before children, in a stable order (objectClass
first, then the other attributes sorted case-insensitively, values in stored order), so two exports
of the same state are byte-identical and can be diffed.  ``objectGUID`` and ``objectSid`` are
included (an import recreates the same identities); the computed ``memberOf`` never is.

Import applies content records (adds) and change records (add, modify, delete, modrdn/moddn)
straight to a :class:`~openmps.directory.interface.Directory` backend, as a directory administrator
would: no provisioning rules, naming or role checks.  The whole file is parsed and checked before
the first write, so malformed input changes nothing; a failing directory operation stops the import,
and the caller's unit of work decides whether the records before it stay.  Values must be UTF-8;
``:<`` URL values and LDAP controls are refused (an import never reads other files).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import ldif

from openmps.directory.interface import Change, Directory, Entry, Scope, normalize_value
from openmps.errors import InvalidArgument, MpsError
from openmps.types import DN

__all__ = ["ImportResult", "export_ldif", "import_ldif"]

_COLS = 76
_SKIPPED = frozenset({"memberof"})  # computed by the backend: never exported, ignored on import
_ATTR_RE = re.compile(r"[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)*")
_LINE_ATTR_RE = re.compile(r"[A-Za-z0-9;.-]+")  # what may precede a line's colon (options too)
_MOD_OPS = {"add": Change.add, "delete": Change.delete, "replace": Change.replace}


# --- export ---------------------------------------------------------------------------------------


def export_ldif(directory: Directory, base: DN, out: BinaryIO) -> int:
    """Write ``base`` and its subtree, parents before children, as LDIF content records; return the count.

    Attribute order is stable: objectClass first, then the rest sorted case-insensitively; values
    keep their stored order.  NotFound if ``base`` is absent.
    """
    found = directory.search(base, Scope.SUBTREE)
    writer = ldif.LDIFWriter(out, cols=_COLS)
    out.write(b"version: 1\n\n")
    for entry in found:
        writer.unparse(str(entry.dn), _content(entry))
    return len(found)


def _content(entry: Entry) -> dict[str, list[str | bytes]]:
    items = [(name, values) for name, values in entry.items() if name.lower() not in _SKIPPED]
    items.sort(key=lambda item: (item[0].lower() != "objectclass", item[0].lower()))
    # The library base64-encodes bytes; it does not notice a trailing space, which a plain
    # SAFE-STRING would lose in most parsers (RFC 2849 note 8), so such values go as bytes.
    return {name: [v.encode("utf-8") if v.endswith(" ") else v for v in values] for name, values in items}


# --- import ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    added: int
    modified: int
    deleted: int


@dataclass(frozen=True)
class _Line:
    number: int  # where the (unfolded) line starts, 1-based
    attr: str  # "-" for the separator of modify parts
    value: bytes


@dataclass(frozen=True)
class _Add:
    dn: DN
    line: int
    attributes: dict[str, list[str]]


@dataclass(frozen=True)
class _Modify:
    dn: DN
    line: int
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class _Delete:
    dn: DN
    line: int


@dataclass(frozen=True)
class _Move:
    dn: DN
    line: int
    new_dn: DN
    delete_old_rdn: bool


_Op = _Add | _Modify | _Delete | _Move


def read_entries(source: BinaryIO) -> list[tuple[DN, dict[str, list[str]]]]:
    """The content records of an LDIF file, in file order; InvalidArgument (naming the line) for
    malformed input or a change record (a migration brings entries, not changes)."""
    entries = []
    for op in _parse(source):
        if not isinstance(op, _Add):
            raise InvalidArgument(f"line {op.line}: {op.dn}: only content records can be imported")
        entries.append((op.dn, op.attributes))
    return entries


def import_ldif(directory: Directory, source: BinaryIO) -> ImportResult:
    """Apply an LDIF file of content and/or change records to ``directory``; see the module docstring.

    InvalidArgument (naming the line and DN) for malformed input, before anything is written;
    NotFound, AlreadyExists, ConstraintViolation, NotEmpty from the directory, with the record's DN
    added to the description when the backend did not name it.
    """
    ops = list(_parse(source))
    added = modified = deleted = 0
    for op in ops:
        try:
            if isinstance(op, _Add):
                directory.add(op.dn, op.attributes)
                added += 1
            elif isinstance(op, _Modify):
                directory.modify(op.dn, op.changes)
                modified += 1
            elif isinstance(op, _Delete):
                directory.delete(op.dn)
                deleted += 1
            else:
                _move(directory, op)
                modified += 1
        except MpsError as exc:
            if not op.dn or str(op.dn) not in exc.description:
                exc.description = f"{exc.description} (LDIF record '{op.dn}' at line {op.line})"
                exc.args = (exc.description,)
            exc.fields.setdefault("line", op.line)
            raise
    return ImportResult(added, modified, deleted)


def _move(directory: Directory, op: _Move) -> None:
    """modrdn/moddn: move the subtree, then keep the RDN attribute values in step as LDAP does."""
    directory.move(op.dn, op.new_dn)
    entry = directory.get(op.new_dn)
    new_avas = {(a.lower(), normalize_value(a.lower(), v)) for a, v in op.new_dn.rdns[0]}
    changes: list[Change] = []
    if op.delete_old_rdn:
        for attr, value in op.dn.rdns[0]:
            key = attr.lower()
            norm = normalize_value(key, value)
            stored = [v for v in entry.get(attr) if normalize_value(key, v) == norm]
            if (key, norm) not in new_avas and stored:
                changes.append(Change.delete(attr, stored[0]))
    for attr, value in op.new_dn.rdns[0]:
        key = attr.lower()
        if all(normalize_value(key, v) != normalize_value(key, value) for v in entry.get(attr)):
            changes.append(Change.add(attr, value))
    if changes:
        directory.modify(op.new_dn, changes)


# --- parsing --------------------------------------------------------------------------------------


def _parse(source: BinaryIO) -> Iterator[_Op]:
    first = True
    for record in _records(source):
        if first and record[0][1].lower().startswith(b"version:"):
            version = _split(*record[0])
            if version.attr.lower() != "version" or version.value.strip() != b"1":
                raise InvalidArgument(f"line {version.number}: only LDIF version 1 is supported")
            record = record[1:]
        first = False
        if record:
            yield _op(record)


def _op(record: list[tuple[int, bytes]]) -> _Op:
    head = _split(*record[0])
    if head.attr.lower() != "dn":
        raise InvalidArgument(f"line {head.number}: a record must start with 'dn:', not '{head.attr}:'")
    try:
        dn = DN.parse(_text(head, "the DN"))
    except InvalidArgument as exc:
        raise InvalidArgument(f"line {head.number}: {exc.description}", line=head.number) from None
    rest = [_split(number, text, dn) for number, text in record[1:]]
    if rest and rest[0].attr.lower() == "control":
        raise _bad(dn, rest[0], "LDAP controls are not supported")
    if not rest or rest[0].attr.lower() != "changetype":
        return _Add(dn, head.number, _attributes(dn, rest, head))
    changetype = _text(rest[0], "changetype", dn).strip().lower()
    body = rest[1:]
    if changetype == "add":
        return _Add(dn, head.number, _attributes(dn, body, rest[0]))
    if changetype == "delete":
        if body:
            raise _bad(dn, body[0], "a delete record takes no further lines")
        return _Delete(dn, head.number)
    if changetype == "modify":
        return _Modify(dn, head.number, tuple(_changes(dn, body)))
    if changetype in ("modrdn", "moddn"):
        return _rename(dn, head.number, body, rest[0])
    raise _bad(dn, rest[0], f"unknown changetype '{changetype}'")


def _attributes(dn: DN, lines: list[_Line], head: _Line) -> dict[str, list[str]]:
    attrs: dict[str, list[str]] = {}
    names: dict[str, str] = {}  # lower-cased → as first written
    for line in lines:
        key = _check_attr(dn, line)
        if key in ("dn", "changetype", "-"):
            raise _bad(dn, line, f"unexpected '{line.attr}' line in an entry")
        value = _text(line, f"attribute '{line.attr}'", dn)
        if key in _SKIPPED:
            continue
        if key == "distinguishedname":
            if _dn_value(dn, line, value) != dn:
                raise _bad(dn, line, "distinguishedName differs from the record's DN")
            continue
        attrs.setdefault(names.setdefault(key, line.attr), []).append(value)
    if not attrs:
        raise _bad(dn, head, "the entry has no attributes")
    return attrs


def _changes(dn: DN, lines: list[_Line]) -> Iterator[Change]:
    i = 0
    while i < len(lines):
        op_line = lines[i]
        make = _MOD_OPS.get(op_line.attr.lower())
        if make is None:
            raise _bad(dn, op_line, f"expected 'add:', 'delete:' or 'replace:', not '{op_line.attr}:'")
        attr = _text(op_line, op_line.attr, dn).strip()
        if not _ATTR_RE.fullmatch(attr):
            raise _bad(dn, op_line, f"'{attr}' is not an attribute type")
        values: list[str] = []
        i += 1
        while i < len(lines) and lines[i].attr != "-":
            line = lines[i]
            if line.attr.lower() != attr.lower():
                raise _bad(dn, line, f"expected a value of '{attr}' or '-', not '{line.attr}:'")
            values.append(_text(line, f"attribute '{attr}'", dn))
            i += 1
        i += 1  # past "-" (optional after the last part)
        if op_line.attr.lower() == "add" and not values:
            raise _bad(dn, op_line, f"'add: {attr}' needs at least one value")
        if attr.lower() not in _SKIPPED:
            yield make(attr, *values)


def _rename(dn: DN, number: int, lines: list[_Line], head: _Line) -> _Move:
    fields: dict[str, tuple[_Line, str]] = {}
    for line in lines:
        key = line.attr.lower()
        if key not in ("newrdn", "deleteoldrdn", "newsuperior"):
            raise _bad(dn, line, f"unexpected '{line.attr}:' in a modrdn record")
        if key in fields:
            raise _bad(dn, line, f"'{line.attr}:' is given twice")
        fields[key] = (line, _text(line, line.attr, dn))
    if "newrdn" not in fields or "deleteoldrdn" not in fields:
        raise _bad(dn, head, "a modrdn record needs 'newrdn:' and 'deleteoldrdn:'")
    if not dn:
        raise _bad(dn, head, "the root DN cannot be renamed")
    line, text = fields["deleteoldrdn"]
    if text.strip() not in ("0", "1"):
        raise _bad(dn, line, "deleteoldrdn must be 0 or 1")
    rdn = _dn_value(dn, *fields["newrdn"])
    if len(rdn) != 1:
        raise _bad(dn, fields["newrdn"][0], "newrdn must be exactly one RDN")
    parent = _dn_value(dn, *fields["newsuperior"]) if "newsuperior" in fields else dn.parent
    new_dn = DN(rdn.rdns + parent.rdns)
    if new_dn == dn:
        raise _bad(dn, head, "the new DN equals the old one (case-only renames are not supported)")
    return _Move(dn, number, new_dn, text.strip() == "1")


def _dn_value(dn: DN, line: _Line, text: str) -> DN:
    try:
        return DN.parse(text)
    except InvalidArgument as exc:
        raise _bad(dn, line, exc.description) from None


def _check_attr(dn: DN, line: _Line) -> str:
    if line.attr != "-" and not _ATTR_RE.fullmatch(line.attr):
        reason = "attribute options are not supported" if ";" in line.attr else "not an attribute type"
        raise _bad(dn, line, f"'{line.attr}': {reason}")
    return line.attr.lower()


def _text(line: _Line, what: str, dn: DN | None = None) -> str:
    try:
        return line.value.decode("utf-8")
    except UnicodeDecodeError:
        where = f" of '{dn}'" if dn is not None else ""
        raise InvalidArgument(
            f"line {line.number}: the value of {what}{where} is not valid UTF-8",
            line=line.number,
            dn=str(dn) if dn is not None else None,
        ) from None


def _bad(dn: DN, line: _Line, message: str) -> InvalidArgument:
    return InvalidArgument(f"LDIF record '{dn}', line {line.number}: {message}", dn=str(dn), line=line.number)


def _records(source: Iterable[bytes]) -> Iterator[list[tuple[int, bytes]]]:
    """Records as lists of unfolded lines, comments dropped (RFC 2849: folding, ``#``, blank lines)."""
    pending: list[tuple[int, bytearray]] = []
    in_comment = False
    for number, raw in enumerate(source, 1):
        line = raw[:-1] if raw.endswith(b"\n") else raw
        line = line[:-1] if line.endswith(b"\r") else line
        if line.startswith(b" "):
            if in_comment:
                continue  # a folded comment
            if pending:
                pending[-1][1].extend(line[1:])
            elif line.strip(b" "):
                raise InvalidArgument(f"line {number}: a continuation line (leading space) continues nothing")
            continue  # else: stray spaces between records
        in_comment = line.startswith(b"#")
        if in_comment:
            continue
        if line:
            pending.append((number, bytearray(line)))
        elif pending:
            yield [(n, bytes(text)) for n, text in pending]
            pending = []
    if pending:
        yield [(n, bytes(text)) for n, text in pending]


def _split(number: int, line: bytes, dn: DN | None = None) -> _Line:
    """One unfolded line as (attribute, raw value); base64 decoded.  ``dn`` names the record in errors."""
    where = f"line {number}" if dn is None else f"LDIF record '{dn}', line {number}"
    if line.rstrip(b" ") == b"-":
        return _Line(number, "-", b"")
    colon = line.find(b":")
    attr = line[:colon].decode("ascii", "replace").strip(" ") if colon > 0 else ""
    if not attr or not _LINE_ATTR_RE.fullmatch(attr):
        shown = line[:60].decode("utf-8", "replace")
        raise InvalidArgument(f"{where}: expected 'attribute: value', got '{shown}'", line=number)
    rest = line[colon + 1 :]
    if rest.startswith(b":"):
        try:
            value = base64.b64decode(rest[1:].strip(b" "), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidArgument(f"{where}: bad base64 value of '{attr}'", line=number) from None
    elif rest.startswith(b"<"):
        raise InvalidArgument(f"{where}: values by URL ('{attr}:<') are not supported", line=number)
    else:
        value = rest.lstrip(b" ")
    return _Line(number, attr, value)
