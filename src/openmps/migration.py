"""Bulk migration: an LDIF export of organizations and users brought under management at once.

``openmps import`` reads the file, checks everything before anything is written (a dry run
reports every conflict: duplicate UPNs, proxy addresses or sAMAccountNames, users in the wrong
place, mailboxes without a size or on unknown stores, storage shortfall), then adds the raw
entries that are not there yet in one transaction, and imports the organizations, their
departments and their users through the MPS Import procedures, called through the engine's
Python door (``Engine.run``: the roles, audit and rollback of a request, no XML): batches in one
transaction each, in which each item stands alone in a savepoint, so one bad item does not stop
the others.  A run can be repeated safely: what is there already is left alone (the procedures
are idempotent).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from openmps.app import Deployment
from openmps.delegation.layout import OrgType
from openmps.delegation.session import Providers
from openmps.directory.interface import normalize_value
from openmps.engine.engine import Transaction
from openmps.errors import MpsError
from openmps.hosting.domain_claims import free_domain
from openmps.hosting.organizations import holds_directly
from openmps.hosting.render import OrgInfo
from openmps.namespaces.mps_import.results import ImportedUser
from openmps.namespaces.mps_import.users import IMPORTED_FROM
from openmps.resources.interface import BUSINESS
from openmps.types import DN, parse_int

Entries = Sequence[tuple[DN, dict[str, list[str]]]]
UNIQUE = ("userPrincipalName", "sAMAccountName", "proxyAddresses")
DEPARTMENT = "department"  # an OU inside a business organization (ImportOrganization policy default)
PER_REQUEST = 200  # items of one batch: one transaction, a savepoint each


@dataclass(frozen=True)
class Conflict:
    dn: DN
    problem: str


@dataclass(frozen=True)
class Item:
    kind: str  # organization | user
    dn: DN
    ok: bool
    detail: str
    already_managed: bool = False  # as its import procedure answered: a re-run found it done


@dataclass
class Report:
    conflicts: list[Conflict] = field(default_factory=list)
    added: int = 0
    items: list[Item] = field(default_factory=list)

    def count(self, kind: str, ok: bool, *, already_managed: bool | None = None) -> int:
        """Items of ``kind`` that succeeded (or failed); with ``already_managed``, only those the
        procedure found under management already (True) or brought under it (False)."""
        return sum(
            1
            for i in self.items
            if i.kind == kind
            and i.ok == ok
            and (already_managed is None or i.already_managed == already_managed)
        )


def _get(attrs: dict[str, list[str]], name: str) -> list[str]:
    return next((v for k, v in attrs.items() if k.lower() == name.lower()), [])


def _classes(attrs: dict[str, list[str]]) -> set[str]:
    return {c.lower() for c in _get(attrs, "objectClass")}


def imported_as(providers: Providers, entries: Entries) -> dict[DN, DN]:
    """Users of the file an earlier run has imported, and renamed ``CN=<UPN>``: where they are now."""
    moved = {}
    for dn, attrs in entries:
        upn = _get(attrs, "userPrincipalName")
        if "user" in _classes(attrs) and upn and not providers.directory.exists(dn):
            renamed = dn.parent.child("CN", upn[0])
            found = providers.directory.find(renamed) if renamed != dn else None
            if found is not None and DN.parse(found.first(IMPORTED_FROM) or "CN=-") == dn:
                moved[dn] = renamed
    return moved


def check(providers: Providers, entries: Entries) -> tuple[list[DN], list[DN], list[Conflict]]:
    """(organizations, users, conflicts) of a migration, from the file and the directory as it is."""
    directory = providers.directory
    hosting = providers.layout.hosting
    conflicts: list[Conflict] = []
    in_file = {dn: attrs for dn, attrs in entries}
    moved = imported_as(providers, entries)
    kinds: dict[DN, OrgType | str] = {}  # organizations and departments (of the file, and found)

    def kind_of(dn: DN) -> OrgType | str | None:
        if dn in kinds:
            return kinds[dn]
        chain = providers.org_chain(dn)
        if chain and chain[0].dn == dn:
            kinds[dn] = chain[0].kind
        elif chain and chain[0].kind is OrgType.CUSTOMER and holds_directly(providers, chain[0], dn):
            kinds[dn] = DEPARTMENT  # remembered: every user of the department asks again
        return kinds.get(dn)

    orgs: list[DN] = []
    users: list[DN] = []
    for dn, attrs in sorted(entries, key=lambda e: len(e[0].rdns)):
        if dn.parent not in in_file and not directory.exists(dn.parent):
            conflicts.append(
                Conflict(dn, f"its parent {dn.parent} is neither in the file nor in the directory")
            )
            continue
        classes = _classes(attrs)
        parent_kind = kind_of(dn.parent)
        if "organizationalunit" in classes:
            if dn.parent == hosting:
                kinds[dn] = OrgType.RESELLER
            elif parent_kind is OrgType.RESELLER:
                kinds[dn] = OrgType.CUSTOMER
            elif parent_kind in (OrgType.CUSTOMER, DEPARTMENT):
                kinds[dn] = DEPARTMENT
            else:
                conflicts.append(
                    Conflict(
                        dn,
                        "an organization goes directly below Hosting or a reseller, "
                        "a department inside a business organization",
                    )
                )
                continue
            orgs.append(dn)
        elif "user" in classes:
            if parent_kind not in (OrgType.CUSTOMER, DEPARTMENT):
                conflicts.append(
                    Conflict(
                        dn, "a user goes directly into a business organization or one of its departments"
                    )
                )
                continue
            users.append(moved.get(dn, dn))
    conflicts += _duplicates(providers, entries, moved)
    conflicts += _domains(providers, [(dn, in_file[dn]) for dn in orgs if kinds[dn] is OrgType.CUSTOMER])
    wanted = set(users)
    conflicts += _mailboxes(
        providers, [(moved.get(dn, dn), in_file[dn]) for dn, _ in entries if moved.get(dn, dn) in wanted]
    )
    return orgs, users, conflicts


def _duplicates(providers: Providers, entries: Entries, moved: dict[DN, DN]) -> list[Conflict]:
    conflicts = []
    for attr in UNIQUE:
        seen: Counter[str] = Counter()
        for _, attrs in entries:
            seen.update({normalize_value(attr.lower(), v) for v in _get(attrs, attr)})
        for dn, attrs in entries:
            for value in _get(attrs, attr):
                if seen[normalize_value(attr.lower(), value)] > 1:
                    conflicts.append(Conflict(dn, f"{attr} '{value}' appears more than once in the file"))
                holder = providers.directory.holder(attr, value)
                if holder is not None and holder not in (dn, moved.get(dn)):
                    conflicts.append(Conflict(dn, f"{attr} '{value}' is already in use"))
    return conflicts


def _domains(providers: Providers, orgs: Entries) -> list[Conflict]:
    """Business organizations' UPN suffixes that are the provider's names or someone else's: the
    rule ImportOrganization applies (hosted_exchange/domains.py), told for all before any write."""
    conflicts = []
    seen: Counter[str] = Counter(s.lower() for _, attrs in orgs for s in _get(attrs, "uPNSuffixes"))
    for dn, attrs in orgs:
        existing = providers.directory.find(dn)
        for suffix in _get(attrs, "uPNSuffixes"):
            if seen[suffix.lower()] > 1:
                conflicts.append(Conflict(dn, f"uPNSuffixes '{suffix}' appears more than once in the file"))
            try:
                free_domain(providers, suffix, owner=existing.guid if existing is not None else None)
            except MpsError as error:
                conflicts.append(Conflict(dn, error.description))
    return conflicts


def _mailboxes(providers: Providers, users: Entries) -> list[Conflict]:
    conflicts = []
    ledger = providers.resources
    stores = {s.store_name.casefold(): s for s in ledger.stores(BUSINESS)}
    needed: dict[str, int] = defaultdict(int)
    for dn, attrs in users:
        home = _get(attrs, "homeMDB")
        if not home:
            continue
        store = stores.get(DN.parse(home[0]).rdn_value.casefold())
        if store is None:
            conflicts.append(
                Conflict(dn, f"its mailbox store '{DN.parse(home[0]).rdn_value}' is not registered")
            )
            continue
        size = parse_int((_get(attrs, "mDBOverQuotaLimit") or _get(attrs, "mDBStorageQuota") or [""])[0])
        if not size:
            conflicts.append(Conflict(dn, "its mailbox has no size (mDBOverQuotaLimit)"))
            continue
        existing = providers.directory.find(dn)
        if existing is None or ledger.mailbox(existing.guid) is None:
            needed[store.store_name.casefold()] += size
    for name, kilobytes in needed.items():
        if kilobytes > stores[name].free_kb:
            conflicts.append(
                Conflict(
                    DN.parse(f"CN={stores[name].store_name}"),
                    f"its mailboxes need {kilobytes} KB, {stores[name].free_kb} KB are free",
                )
            )
    return conflicts


def migrate(
    d: Deployment,
    entries: Entries,
    *,
    dry_run: bool = False,
    plan: str | None = None,
    progress: Callable[[Item], None] = lambda item: None,
) -> Report:
    """Check, then (unless ``dry_run`` or a conflict) add what is missing and import every item."""
    report = Report()
    with d.transaction() as providers:
        orgs, users, report.conflicts = check(providers, entries)
        if plan is not None:
            try:
                plan = providers.plans.plan(plan).name
            except MpsError as error:
                report.conflicts.append(Conflict(providers.layout.hosting, error.description))
        if report.conflicts or dry_run:
            return report
        existing = providers.directory.find_many([dn for dn, _ in entries], attributes=("objectClass",))
        moved = imported_as(providers, entries)
        for dn, attrs in sorted(entries, key=lambda e: len(e[0].rdns)):
            if dn not in existing and dn not in moved:
                providers.directory.add(dn, attrs)
                report.added += 1
    in_file = {moved.get(dn, dn): attrs for dn, attrs in entries}
    work: list[tuple[str, str, DN, dict[str, object]]] = [
        ("organization", "ImportOrganization", dn, {"path": dn}) for dn in orgs
    ]
    for dn in users:
        arguments: dict[str, object] = {"path": dn, "isAdmin": False}
        if plan is not None and _get(in_file[dn], "homeMDB"):
            arguments["planName"] = plan
        work.append(("user", "ImportUser", dn, arguments))
    # Organizations come first, parents before children: the batches run in this order.
    for start in range(0, len(work), PER_REQUEST):
        chunk = work[start : start + PER_REQUEST]
        for procedure in dict.fromkeys(p for _, p, _, _ in chunk):
            batch = [(kind, dn, arguments) for kind, p, dn, arguments in chunk if p == procedure]
            if procedure == "ImportUser" and plan is not None:
                _offer(d, plan, [dn for _, dn, arguments in batch if "planName" in arguments])
            for item in _bulk(d, "MPS Import", procedure, batch):
                report.items.append(item)
                progress(item)
    return report


def _offer(d: Deployment, plan: str, users: Sequence[DN]) -> None:
    """Make ``plan`` available to the organizations of ``users`` (--plan): a user can only get a
    plan its organization offers.  Failures show on the users' own items."""
    with d.transaction() as providers:
        orgs = {chain[0].dn for chain in map(providers.org_chain, users) if chain}
    if not orgs:
        return
    batch = [("organization", dn, {"path": dn}) for dn in sorted(orgs, key=str)]
    _bulk(d, "Hosted Exchange", "AddAvailablePlans", batch, availablePlans=(plan,))


def _bulk(
    d: Deployment,
    namespace: str,
    procedure: str,
    batch: Sequence[tuple[str, DN, Mapping[str, object]]],
    **common: object,
) -> list[Item]:
    """One transaction running ``procedure`` for every item of ``batch`` (with the ``common``
    arguments), each item standing alone: a failed one is undone and reported, the rest go on."""

    def run_items(tx: Transaction) -> list[Item]:
        done = []
        for kind, dn, arguments in batch:
            try:
                with tx.savepoint():
                    result = tx.call(namespace, procedure, {**arguments, **common})
            except MpsError as error:
                done.append(Item(kind, dn, False, error.description))
            else:
                managed = isinstance(result, OrgInfo | ImportedUser) and bool(result.already_managed)
                done.append(Item(kind, dn, True, "", managed))
        return done

    try:
        return d.engine.run(d.administrator(), run_items)
    except MpsError as error:  # the batch as a whole failed (the store busy, an internal error)
        return [Item(kind, dn, False, error.description) for kind, dn, _ in batch]
