"""An LDIF snapshot of a customer's forest as a source: every object of the file is in scope."""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence

from openmps.directory.ldif import read_entries
from openmps.errors import InvalidArgument
from openmps.sync.source import CONTACT, GROUP, USER, Snapshot, SourceObject


def kind_of(classes: set[str]) -> str:
    if "computer" in classes:
        return "other"
    if "user" in classes:
        return USER
    if "contact" in classes:
        return CONTACT
    if "group" in classes:
        return GROUP
    return "other"


def anchor(value: str) -> str:
    """An objectGUID as text, however the file gives it (text or the 16 raw bytes)."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raw = value.encode("latin-1", "replace")
        if len(raw) == 16:
            return str(uuid.UUID(bytes_le=raw))
        raise


class LdifSource:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, cookie: str | None = None, *, attributes: Sequence[str] = ()) -> Snapshot:
        """Every object of the snapshot, with all its attributes."""
        return Snapshot(self._objects())

    def reread(self, guids: Sequence[str], *, attributes: Sequence[str] = ()) -> Snapshot:
        """The objects ``guids`` of the snapshot; those it does not hold, deleted."""
        wanted = set(guids)
        found = [o for o in self._objects() if o.guid in wanted]
        gone = wanted - {o.guid for o in found}
        return Snapshot(found, deleted=sorted(gone), full=False)

    def _objects(self) -> list[SourceObject]:
        objects = []
        for dn, attrs in read_entries(io.BytesIO(self._data)):
            classes = {c.lower() for k, v in attrs.items() if k.lower() == "objectclass" for c in v}
            guid = next((v for k, v in attrs.items() if k.lower() == "objectguid"), [])
            kind = kind_of(classes)
            if kind == "other":
                continue
            if not guid:
                raise InvalidArgument(f"{dn}: no objectGUID: objects are matched by it, never by name")
            try:
                source_guid = anchor(guid[0])
            except ValueError:
                raise InvalidArgument(f"{dn}: objectGUID '{guid[0]}' is not a GUID") from None
            objects.append(SourceObject(source_guid, str(dn), kind, attrs))
        return objects
