"""Role checks on the hosting tree (reference §5.2), and the providers a request's procedures get.

A caller holds a role on a target when its token holds the SID of that role's group in the
target's organization or in an organization above it:

* Domain Admin — ``Domain Admins``; every role, everywhere.
* OrgCreator — ``UserCreators`` (``Admins@<Org>``) of the hosting or a reseller organization at or
  above the target.
* UserCreator — ``UserCreators`` of any organization at or above the target, or ``ChildOrgCreators``
  (``CSRAdmins@<Org>``) of an organization strictly above the target's (reseller CSRs).
* User — any of the above, or ``AllUsers@<Org>`` of the target's organization.

A caller that holds no role at all in the target's organization chain is told the target does not
exist — the same answer as for a DN that really does not exist — so tenants cannot probe each
other.  A caller that can see the target but lacks the role gets AccessDenied.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from openmps.delegation.execute_as import ExecuteAsStore
from openmps.delegation.layout import Layout, OrgNames, OrgType
from openmps.delegation.passwords import Passwords
from openmps.directory import acl
from openmps.directory.interface import Entry
from openmps.directory.service import DirectoryService
from openmps.engine.context import Caller
from openmps.engine.declaration import Role
from openmps.errors import AccessDenied, NotFound
from openmps.plans.interface import PlanCatalogue
from openmps.resources.interface import ResourceLedger
from openmps.syncconfig.interface import SyncConfigStore
from openmps.types import DN

CHAIN_ATTRIBUTES = ("objectClass", "otherWellKnownObjects", "uPNSuffixes")


@dataclass(frozen=True)
class Org:
    """An organization found above a target: its entry (``CHAIN_ATTRIBUTES`` only) and type."""

    entry: Entry
    kind: OrgType

    @property
    def dn(self) -> DN:
        return self.entry.dn

    @functools.cached_property
    def names(self) -> OrgNames:
        return _names(str(self.entry.dn))


@functools.lru_cache(maxsize=4096)
def _names(root: str) -> OrgNames:
    """One OrgNames per organization (by its DN as spelled): its DNs are built once, not once per
    user created in it."""
    return OrgNames(DN.parse(root))


@dataclass
class Providers:
    """What hosting procedures work with, bound to one unit of work."""

    directory: DirectoryService
    layout: Layout
    passwords: Passwords
    resources: ResourceLedger
    plans: PlanCatalogue
    execute_as: ExecuteAsStore
    sync: SyncConfigStore
    group_cap: int = 5000  # members one group may hold (Windows 2000's limit; MultiGroup nests past it)
    _orgs: dict[DN, list[Org]] = field(default_factory=dict)

    def org_chain(self, target: DN, entry: Entry | None = None) -> list[Org]:
        """The organizations containing ``target``, innermost first (the hosting org last).

        ``entry``, the target's own entry read with its ``otherWellKnownObjects``, spares the
        directory a round trip when its parent's chain is known already (a user of an
        organization this request has looked at).
        """
        if target in self._orgs:
            return self._orgs[target]
        parent = target.parent
        if entry is not None and parent in self._orgs and target.is_within(self.layout.hosting, strict=True):
            self._orgs[target] = self._orgs_among([entry]) + self._orgs[parent]
            return self._orgs[target]
        chain: list[Org] = []
        if target.is_within(self.layout.hosting):
            nodes = [n for n in (target, *target.ancestors()) if n.is_within(self.layout.hosting)]
            # one round trip for the whole chain, only what the role checks read
            found = self.directory.find_many(nodes, attributes=CHAIN_ATTRIBUTES)
            chain = self._orgs_among([found[n] for n in nodes if n in found])
        self._orgs[target] = chain
        return chain

    def _orgs_among(self, entries: list[Entry]) -> list[Org]:
        """The entries that are organizations (``_Private`` containers are not), in order."""
        orgs = []
        for entry in entries:
            kind = self.org_type_of(entry)
            if kind is not None and kind is not OrgType.PRIVATE:
                orgs.append(Org(entry, kind))
        return orgs

    def org_type_of(self, entry: Entry) -> OrgType | None:
        pointer = self.directory.well_known(entry, "OrgType")
        if pointer is None:
            return None
        try:
            return OrgType(pointer.rdn_value.lower())
        except ValueError:
            return None

    def forget(self, dn: DN) -> None:
        """Drop cached organization chains under ``dn`` (after the org was created or deleted)."""
        for key in [k for k in self._orgs if k.is_within(dn) or dn.is_within(k)]:
            del self._orgs[key]


class HostingSession:
    """The :class:`openmps.engine.context.Session` of the hosting namespaces."""

    def __init__(self, providers: Providers, domain_sid: str) -> None:
        self._providers = providers
        self._domain_admins_sid = f"{domain_sid}-512"
        self._sids: dict[DN, str] = {}  # SIDs never change: cache them for the request
        self._run_as: dict[tuple[str, str], str] | None = None  # SetExecuteAs's, as this request read them

    @property
    def providers(self) -> Providers:
        return self._providers

    def is_domain_admin(self, caller: Caller) -> bool:
        return self._domain_admins_sid in caller.token

    def require(self, caller: Caller, role: Role, target: DN | None, right: str | None = None) -> None:
        if self.is_domain_admin(caller):
            return  # a missing target is the procedure's NotFound, as for everyone
        if role is Role.AUTHENTICATED:
            return
        if role is Role.DOMAIN_ADMIN or target is None:
            raise AccessDenied("Insufficient Privilege! Not Domain Administrator", role=role.name)
        chain = self._providers.org_chain(target)
        held = self._held_roles(caller, chain)
        if not held or not self._providers.directory.exists(target):
            raise NotFound(f"no such object: {target.ldap_path}", dn=str(target))
        if role not in held:
            raise AccessDenied(
                f"{caller.name} does not hold the {_ROLE_NAMES[role]} role on {target.ldap_path}",
                role=role.name,
            )
        if right is not None and not self._granted(caller, target, acl.right_from_name(f"ADS_RIGHT_{right}")):
            raise AccessDenied(
                f"the DACL of {target.ldap_path} does not grant {right} to {caller.name}", right=right
            )

    def run_as(self, namespace: str, procedure: str) -> Caller | None:
        """The account assigned to the procedure (SetExecuteAs), with its current token; None when
        none is, or when its account is gone (deleting a credential un-assigns it, §1.12)."""
        if self._run_as is None:  # read once a request: a few rows, or none
            self._run_as = {
                (ns, proc): account for ns, proc, account in self._providers.execute_as.assignments()
            }
        account = self._run_as.get((namespace, procedure))
        if account is None:
            return None
        dn = self._providers.directory.holder("sAMAccountName", account)
        return None if dn is None else caller_for(self._providers.directory, dn)

    def _granted(self, caller: Caller, target: DN, right: acl.Right) -> bool:
        directory = self._providers.directory
        if directory.check_access(caller.token, target, right):
            return True
        # As in AD, DELETE_CHILD on the parent also allows deleting the object.
        deleting = right in (acl.Right.DELETE, acl.Right.DS_DELETE_TREE)
        return deleting and directory.check_access(caller.token, target.parent, acl.Right.DS_DELETE_CHILD)

    def _held_roles(self, caller: Caller, chain: list[Org]) -> set[Role]:
        held: set[Role] = set()
        token = caller.token
        directory = self._providers.directory
        for level, org in enumerate(chain):
            creators = directory.well_known(org.entry, "UserCreators")
            if creators is not None and self._sid_of(creators) in token:
                held |= {Role.USER, Role.USER_CREATOR}
                if org.kind in (OrgType.HOSTING, OrgType.RESELLER):
                    held.add(Role.ORG_CREATOR)
            csrs = directory.well_known(org.entry, "ChildOrgCreators")
            if csrs is not None and self._sid_of(csrs) in token:
                held.add(Role.USER)
                if level > 0:
                    held.add(Role.USER_CREATOR)
            if level == 0 and self._sid_of(org.names.all_users) in token:
                held.add(Role.USER)
        return held

    def _sid_of(self, dn: DN) -> str:
        if dn not in self._sids:
            # asked with an attribute the directory keeps across requests (as the org chain is),
            # its identity comes with it: a group's members are not read for its SID
            found = self._providers.directory.find_many([dn], attributes=("objectClass",))
            self._sids[dn] = found[dn].sid if dn in found else ""
        return self._sids[dn]


_ROLE_NAMES = {
    Role.AUTHENTICATED: "authenticated user",
    Role.USER: "User",
    Role.USER_CREATOR: "UserCreator",
    Role.ORG_CREATOR: "OrgCreator",
    Role.DOMAIN_ADMIN: "Domain Admin",
    Role.SERVICE: "service",
}


def caller_for(directory: DirectoryService, dn: DN) -> Caller:
    """The Caller of a directory principal, with its current token."""
    entry = directory.get(dn)
    return Caller(
        name=entry.first("userPrincipalName") or str(dn),
        dn=dn,
        sid=entry.sid,
        token=directory.token_of(entry),
    )
