"""The directory seam: what every backend (embedded SQL, OpenLDAP, Samba AD) provides.

Nothing above this module sees SQL or LDAP.  A backend is bound to one unit of work (one request):
its writes commit or roll back with the request.  Rules that must hold whatever the backend
(naming, tenancy, DACL evaluation) live above it, in :mod:`openmps.directory.service`; a backend
only stores, searches and enforces uniqueness of the attributes in :data:`UNIQUE_ATTRIBUTES` as a
second line of defence.

Errors (all from :mod:`openmps.errors`):
``NotFound`` — the entry (or the parent of an entry being added) does not exist;
``AlreadyExists`` — an entry with that DN exists;
``ConstraintViolation`` — a unique attribute value is taken (``fields``: attribute, value);
``NotEmpty`` — deleting an entry that has children.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple, Protocol

from openmps.directory.filters import Filter
from openmps.types import DN, Secret, fold

# Values unique across the whole directory.  sAMAccountName is unique per domain in AD; one OpenMPS
# deployment serves one domain, so "per domain" and "global" coincide.
UNIQUE_ATTRIBUTES: frozenset[str] = frozenset(
    {"samaccountname", "userprincipalname", "proxyaddresses", "msrtcsip-primaryuseraddress"}
)

# Attributes whose values are DNs (compared and stored in DN-normalized form).
DN_ATTRIBUTES: frozenset[str] = frozenset({"member", "managedby", "distinguishedname"})

# Computed by the backend, never written by callers.
OPERATIONAL_ATTRIBUTES: frozenset[str] = frozenset({"memberof", "distinguishedname"})


def normalize_value(attr_key: str, value: str) -> str:
    """The form a value is compared and indexed in: DNs canonical, everything else folded
    (:func:`~openmps.types.fold`), so look-alike names collide in the unique index."""
    if attr_key in DN_ATTRIBUTES:
        return DN.parse(value).norm
    return fold(value)


class Scope(Enum):
    BASE = "base"
    ONELEVEL = "one"
    SUBTREE = "sub"


class ChangeOp(Enum):
    ADD = "add"
    DELETE = "delete"
    REPLACE = "replace"


class Change(NamedTuple):
    """One modification: ADD values, DELETE values (all values when empty), REPLACE all values.

    A named tuple, built without its keyword-handling constructor: stamping a mailbox makes a
    dozen of these per user."""

    op: ChangeOp
    attr: str
    values: tuple[str, ...] = ()

    @classmethod
    def add(cls, attr: str, *values: str) -> Change:
        return tuple.__new__(cls, (ChangeOp.ADD, attr, values))

    @classmethod
    def delete(cls, attr: str, *values: str) -> Change:
        return tuple.__new__(cls, (ChangeOp.DELETE, attr, values))

    @classmethod
    def replace(cls, attr: str, *values: str) -> Change:
        return tuple.__new__(cls, (ChangeOp.REPLACE, attr, values))


def replacements(entry: Entry, wanted: Mapping[str, Sequence[str]]) -> list[Change]:
    """REPLACE changes for the attributes of ``wanted`` whose values ``entry`` does not already
    have (compared case-insensitively, in any order); empty ones are skipped.  Writing only these
    makes a repeated step write nothing."""
    return [
        Change.replace(name, *values)
        for name, values in wanted.items()
        if values and sorted(v.casefold() for v in entry.get(name)) != sorted(v.casefold() for v in values)
    ]


@dataclass(frozen=True)
class Entry:
    """A snapshot of one entry.  Attribute names are matched case-insensitively."""

    dn: DN
    attributes: Mapping[str, tuple[str, ...]]  # keyed by lower-cased name
    names: Mapping[str, str] = field(default_factory=dict)  # lower-cased → name as first written

    def get(self, attr: str) -> tuple[str, ...]:
        return self.attributes.get(attr.lower(), ())

    def first(self, attr: str, default: str | None = None) -> str | None:
        values = self.attributes.get(attr.lower())
        return values[0] if values else default

    def has_class(self, object_class: str) -> bool:
        wanted = object_class.casefold()
        return any(v.casefold() == wanted for v in self.get("objectClass"))

    @property
    def object_classes(self) -> frozenset[str]:
        return frozenset(v.lower() for v in self.get("objectClass"))

    @property
    def guid(self) -> str:
        return self.first("objectGUID") or ""

    @property
    def sid(self) -> str:
        return self.first("objectSid") or ""

    def items(self) -> Iterator[tuple[str, tuple[str, ...]]]:
        """(name as written, values) pairs, for export."""
        for key, values in self.attributes.items():
            yield self.names.get(key, key), values


class Directory(Protocol):
    """A directory backend bound to one unit of work."""

    def get(self, dn: DN) -> Entry:
        """The entry at ``dn`` with all its attributes, ``memberOf`` included.  NotFound if absent."""
        ...

    def find(self, dn: DN) -> Entry | None:
        """Like :meth:`get`, but None when absent."""
        ...

    def exists(self, dn: DN) -> bool: ...

    def find_many(self, dns: Sequence[DN], *, attributes: Collection[str] | None = None) -> dict[DN, Entry]:
        """The entries among ``dns`` that exist, in one round trip where the backend can.

        Only ``attributes`` (all stored ones when None) plus objectGUID and objectSid; memberOf is
        not computed here — use :meth:`get` for it.
        """
        ...

    def search(
        self,
        base: DN,
        scope: Scope = Scope.SUBTREE,
        filter: Filter | None = None,
        *,
        limit: int | None = None,
    ) -> list[Entry]:
        """Entries under ``base`` matching ``filter``, parents first.  NotFound if base is absent."""
        ...

    def add(self, dn: DN, attributes: Mapping[str, Iterable[str]]) -> Entry:
        """Create an entry.  The backend assigns objectGUID and objectSid when they are not given."""
        ...

    def modify(self, dn: DN, changes: Sequence[Change]) -> None:
        """Apply ``changes`` atomically."""
        ...

    def delete(self, dn: DN) -> None:
        """Delete a leaf entry; NotEmpty when it has children.  Its DN leaves every group's member."""
        ...

    def move(self, dn: DN, new_dn: DN) -> None:
        """Rename or move an entry and its subtree; member values pointing into it follow."""
        ...

    def member_of(self, dn: DN) -> list[DN]:
        """The groups that list ``dn`` in their ``member`` attribute (direct membership only)."""
        ...

    def holder(self, attr: str, value: str) -> DN | None:
        """The entry holding ``value`` in ``attr`` (case-insensitive), if any: for unique attributes."""
        ...

    def find_holder(self, attr: str, value: str, *, attributes: Collection[str]) -> Entry | None:
        """The entry holding ``value`` in the unique attribute ``attr`` (case-insensitive), with
        only ``attributes`` plus objectGUID and objectSid, in one round trip where the backend
        can: a sign-in reads its account this way on every request."""
        ...

    def token_groups(self, dn: DN) -> frozenset[str]:
        """The SIDs of every group ``dn`` belongs to, directly or through nested groups (AD's
        ``tokenGroups``), in one round trip where the backend can."""
        ...

    def set_password(self, dn: DN, password: Secret) -> None:
        """Give the account ``dn`` the password the server itself binds it with, where the server
        keeps one of its own (AD's write-only unicodePwd); nothing where the userPassword hash
        OpenMPS stores is that password (the SQL store, OpenLDAP).  A new account's is undone with
        the account; a changed one cannot be put back (AD never shows it), so it is written last."""
        ...
