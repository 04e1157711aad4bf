"""What a source of a customer's forest answers: its objects in scope, matched by objectGUID."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from openmps.types import Secret

USER, CONTACT, GROUP = "user", "contact", "group"


@dataclass(frozen=True)
class SourceObject:
    """One object of the customer's forest: its objectGUID (the anchor), DN, kind and attributes."""

    guid: str
    dn: str
    kind: str  # user | contact | group | other
    attributes: dict[str, list[str]]
    # by lower-cased name, made once: planning asks each object for a dozen attributes
    _by_name: dict[str, list[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, list[str]] = {}
        for k, v in self.attributes.items():
            by_name.setdefault(k.lower(), v)  # of two spellings, the first (as a scan finds it)
        object.__setattr__(self, "_by_name", by_name)

    def get(self, name: str) -> list[str]:
        return self._by_name.get(name.lower(), [])

    def first(self, name: str) -> str | None:
        values = self.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class Snapshot:
    """What a read found: the objects in scope, and (for a delta) the objectGUIDs deleted.

    A full read lists every object; what is managed and no longer listed was deleted or left scope.
    """

    objects: list[SourceObject]
    deleted: list[str] = field(default_factory=list)
    full: bool = True
    cookie: str | None = None


class Source(Protocol):
    def read(self, cookie: str | None = None, *, attributes: Sequence[str] = ()) -> Snapshot:
        """Every object in scope (``cookie`` None, or one this source cannot continue from), or what
        changed since the read that answered ``cookie``; the answer's cookie continues from it.
        ``attributes``: those the caller reads (``rules.source_attributes``; a source may answer
        more, and one that must choose reads the default rules' without them)."""
        ...

    def reread(self, guids: Sequence[str], *, attributes: Sequence[str] = ()) -> Snapshot:
        """The objects ``guids`` as they are now, by objectGUID alone (a delta of them, no cookie):
        those in scope listed, those deleted or out of scope listed deleted.  The runner retries
        the objects whose last run failed so, the cookie having moved past them."""
        ...


@dataclass(frozen=True)
class SourceConnection:
    """How to reach one organization's forest over LDAP: ``url`` ldaps:// (or ldap:// with
    ``start_tls``), an account allowed to replicate directory changes, and the OUs in scope (none
    included: the whole domain), each with what lies under it; ``ca_file`` the certificates the
    server's is checked against (None: the system's), or ``ca_data`` those certificates as PEM
    (an organization's stored connection keeps them so)."""

    url: str
    bind_dn: str
    password: Secret
    include_ous: tuple[str, ...] = ()
    exclude_ous: tuple[str, ...] = ()
    start_tls: bool = False
    ca_file: str | None = None
    ca_data: str | None = None
