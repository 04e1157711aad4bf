"""Directory rules that hold whatever the backend: uniqueness, naming, DACLs, tokens.

Procedures and the delegation model talk to this service, never to a backend directly, so the
embedded store and a real LDAP server behave the same.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import BinaryIO

from openmps.directory import acl, ldif, wellknown
from openmps.directory.filters import Filter
from openmps.directory.interface import Change, Directory, Entry, Scope
from openmps.directory.naming import is_reserved, sam_candidates
from openmps.errors import ConstraintViolation, InvalidArgument, NotFound
from openmps.types import DN, Secret, shown

SECURITY_DESCRIPTOR = "nTSecurityDescriptor"
SAM_ACCOUNT_NAME = "sAMAccountName"
WELL_KNOWN = "otherWellKnownObjects"


class DirectoryService:
    """The directory as everything above it sees it; the backend is private to it, so no caller
    can step around the rules (reserved names, DACL caches) by writing to the backend itself."""

    def __init__(self, backend: Directory) -> None:
        self._backend = backend
        self._dacls: dict[DN, tuple[acl.Dacl, frozenset[str]] | None] = {}

    # --- plain access -----------------------------------------------------------------------------

    def get(self, dn: DN) -> Entry:
        return self._backend.get(dn)

    def find(self, dn: DN) -> Entry | None:
        return self._backend.find(dn)

    def exists(self, dn: DN) -> bool:
        return self._backend.exists(dn)

    def search(
        self,
        base: DN,
        scope: Scope = Scope.SUBTREE,
        filter: Filter | None = None,
        *,
        limit: int | None = None,
    ) -> list[Entry]:
        return self._backend.search(base, scope, filter, limit=limit)

    def find_many(self, dns: Sequence[DN], *, attributes: Collection[str] | None = None) -> dict[DN, Entry]:
        return self._backend.find_many(dns, attributes=attributes)

    def member_of(self, dn: DN) -> list[DN]:
        """The groups that list ``dn`` as a member (direct membership only)."""
        return self._backend.member_of(dn)

    def holder(self, attr: str, value: str) -> DN | None:
        """The entry holding ``value`` in the unique attribute ``attr`` (case-insensitive), if any."""
        return self._backend.holder(attr, value)

    def find_holder(self, attr: str, value: str, *, attributes: Collection[str]) -> Entry | None:
        """The entry holding ``value`` in the unique attribute ``attr``, with only ``attributes``
        (plus objectGUID and objectSid), in one round trip: the sign-in's read of its account."""
        return self._backend.find_holder(attr, value, attributes=attributes)

    def token_groups(self, dn: DN) -> frozenset[str]:
        """The SIDs of every group ``dn`` belongs to, nested ones too (AD's tokenGroups)."""
        return self._backend.token_groups(dn)

    def set_password(self, dn: DN, password: Secret) -> None:
        """The server's own password of the new account ``dn`` (see the backends)."""
        self._backend.set_password(dn, password)

    def modify(self, dn: DN, changes: Sequence[Change]) -> None:
        self._backend.modify(dn, changes)
        self._dacls.pop(dn, None)

    def delete(self, dn: DN) -> None:
        self._backend.delete(dn)
        self._dacls.pop(dn, None)

    def ensure_containers(self, dn: DN, below: DN) -> None:
        """Make ``dn`` and its missing ancestors under ``below`` plain containers (idempotent)."""
        for at in [*reversed(list(dn.ancestors())), dn]:
            if at.is_within(below, strict=True) and not self.exists(at):
                self.add(at, {"objectClass": ["top", "container"], "cn": [at.rdn_value]})

    def move(self, dn: DN, new_dn: DN) -> None:
        """Rename or move an entry (and its subtree); the naming attribute is the caller's to set."""
        self._backend.move(dn, new_dn)
        self._dacls.clear()

    def add(self, dn: DN, attributes: Mapping[str, Iterable[str]], *, builtin: bool = False) -> Entry:
        """Add an entry.  Unique values (``UNIQUE_ATTRIBUTES``) are the backend's guarantee: each
        backend enforces them atomically and answers ConstraintViolation (see the contract tests).

        An account, group or contact may not take a reserved name (``naming.is_reserved``) as its
        cn, sAMAccountName or the local part of its userPrincipalName, unless ``builtin``: the
        bootstrap's and the organization builder's own principals."""
        if not builtin:
            attributes = _refuse_reserved(attributes)
        return self._backend.add(dn, attributes)

    # --- naming -----------------------------------------------------------------------------------

    def add_account(
        self, dn: DN, attributes: Mapping[str, Iterable[str]], seed: str, *, builtin: bool = False
    ) -> Entry:
        """Add a user or group with the first free sAMAccountName of the MPS algorithm for ``seed``
        (seed 003), or ConstraintViolation.

        The add is the test: the store refuses a taken name in the statement that writes it, so
        the usual case costs no lookup, and two requests can never both be told a name is free.
        """
        tried = []
        for candidate in _candidates(seed):
            try:
                return self.add(dn, {**attributes, SAM_ACCOUNT_NAME: [candidate]}, builtin=builtin)
            except ConstraintViolation as exc:
                if str(exc.fields.get("attr", "")).lower() != SAM_ACCOUNT_NAME.lower():
                    raise
            tried.append(candidate)
        raise _no_free_name(seed, tried)

    def allocate_sam_account_name(self, seed: str) -> str:
        """A sAMAccountName for ``seed`` that is free now, to modify an existing entry with
        (:meth:`add_account` for a new one)."""
        tried = []
        for candidate in _candidates(seed):
            if self._backend.holder(SAM_ACCOUNT_NAME, candidate) is None:
                return candidate
            tried.append(candidate)
        raise _no_free_name(seed, tried)

    # --- LDIF -------------------------------------------------------------------------------------

    def export_ldif(self, base: DN, out: BinaryIO) -> int:
        """Write ``base`` and its subtree to ``out`` as LDIF content records (``ldif.export_ldif``)."""
        return ldif.export_ldif(self._backend, base, out)

    def import_ldif(self, source: BinaryIO) -> ldif.ImportResult:
        """Apply LDIF records straight to the backend, as a directory administrator: no rule of
        this service applies (``ldif.import_ldif``); the caller's transaction holds them all."""
        return ldif.import_ldif(self._backend, source)

    # --- well-known objects -----------------------------------------------------------------------

    def well_known(self, entry: Entry, name: str) -> DN | None:
        return wellknown.lookup(entry.get(WELL_KNOWN), name)

    # --- security ---------------------------------------------------------------------------------

    def dacl_of(self, entry: Entry) -> acl.Dacl:
        return acl.parse_sddl(entry.first(SECURITY_DESCRIPTOR) or "")

    def token_of(self, entry: Entry) -> frozenset[str]:
        """The SIDs a principal acts with: its own, its groups' (nested ones too), Everyone and
        Authenticated Users."""
        return frozenset({entry.sid, acl.EVERYONE, acl.AUTHENTICATED_USERS}) | self._backend.token_groups(
            entry.dn
        )

    def check_access(self, token: frozenset[str], dn: DN, desired: acl.Right) -> bool:
        """Whether ``token`` is granted ``desired`` on ``dn`` by its DACL and the inherited ones."""
        nodes = [dn, *dn.ancestors()]
        missing = [n for n in nodes if n not in self._dacls]
        if missing:
            found = self._backend.find_many(missing, attributes=(SECURITY_DESCRIPTOR, "objectClass"))
            for node in missing:
                entry = found.get(node)
                self._dacls[node] = (self.dacl_of(entry), entry.object_classes) if entry else None
        if self._dacls[dn] is None:
            raise NotFound(f"no such object: {dn.ldap_path}", dn=str(dn))
        chain = [item for item in (self._dacls[n] for n in nodes) if item is not None]
        return acl.check_access(token=token, chain=chain, desired=desired)


_PRINCIPAL_CLASSES = frozenset({"user", "group", "contact", "person", "computer", "inetorgperson"})
_NAMED_BY = ("cn", "samaccountname", "userprincipalname")


def _refuse_reserved(attributes: Mapping[str, Iterable[str]]) -> Mapping[str, Iterable[str]]:
    """``attributes`` (with the values read here as lists) if they name no principal by a reserved
    name, else InvalidArgument naming the name and the attribute."""
    values = {k: v if isinstance(v, list | tuple) else list(v) for k, v in attributes.items()}
    by_key = {k.lower(): k for k in values}
    classes = {c.lower() for c in values.get(by_key.get("objectclass", ""), ())}
    if not classes & _PRINCIPAL_CLASSES:
        return values
    for key in _NAMED_BY:
        for value in values.get(by_key.get(key, ""), ()):
            name = value.rpartition("@")[0] if key == "userprincipalname" else value
            if is_reserved(name, role_shape=key != "cn" or "user" not in classes):
                attr = by_key[key]
                raise InvalidArgument(
                    f"{shown(name)} ({attr}) is a name reserved for the directory's own accounts and groups",
                    attr=attr,
                    value=name,
                )
    return values


def _candidates(seed: str) -> Iterator[str]:
    for candidate in sam_candidates(seed):
        if not candidate:
            return
        yield candidate


def _no_free_name(seed: str, tried: list[str]) -> ConstraintViolation:
    return ConstraintViolation(
        f"no free sAMAccountName for '{seed}' (tried {', '.join(tried) or 'nothing usable'})", seed=seed
    )
