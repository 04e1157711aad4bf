"""``openmps check``: does the directory agree with the Resource Manager and the plans database?

Reads everything in one transaction and reports each drift it finds; with ``repair`` it also fixes
what can be fixed without a choice to make, in the same transaction, and audits that it did:

* a customer record whose object is gone → the record is marked Deleted (the soft delete every
  delete procedure makes);
* a user of a business organization missing from its AllUsers@ group → added;
* a mailbox allocation whose user is gone → the space goes back to the organization;
* a mailbox whose quota differs from its allocation → the quota is set to the allocation (the
  Resource Manager's ledger is what was booked).

On a directory server, the unique values claimed in SQL are checked against those the entries hold
(a claim no entry bears out → released; a value no claim covers → claimed).

The configuration partition is read too (``CN=Configuration``: on AD a naming context of its own,
which no search of the domain enters), where OpenMPS keeps the organizations' web virtual directories
(``hosting/virtual_directories.py``): one whose organization is gone, or on a server the Resource
Manager no longer knows → removed; one whose binding is not its ``/exchange/<domain>`` → set again.

Reported only: a value two entries hold, an organization missing a well-known object
(``openmps import`` repairs an organization with MPS Import's EnableOrganizationForHosting), a
user with a mailbox and no allocation (which store it is on is a choice).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from openmps.app import Deployment
from openmps.delegation.layout import OrgType
from openmps.delegation.session import Org, Providers
from openmps.directory import filters
from openmps.directory.interface import Change, Entry, Scope
from openmps.engine.audit import AuditRecord
from openmps.errors import InvalidArgument
from openmps.hosting import exchange, multigroup, virtual_directories
from openmps.types import DN

ORGANIZATIONS = ("BusinessOrganization", "ResellerOrganization")
WELL_KNOWN = ("ThisOrganizationRoot", "ForeignOwnerOrg", "UserCreators", "ChildOrgCreators", "OrgType")
QUOTAS = ("mDBStorageQuota", "mDBOverQuotaLimit")


@dataclass(frozen=True)
class Finding:
    kind: str  # a short name scripts can match: "user-not-in-all-users", …
    subject: str  # the object's LDAP path, or the GUID of what has none
    problem: str
    repaired: bool = False


def check(d: Deployment, *, repair: bool = False) -> list[Finding]:
    """Every drift between the stores; fixed where it safely can be when ``repair``."""
    started = time.perf_counter()
    with d.transaction() as providers:
        findings = _customers(providers, repair)
        for org in _business_organizations(providers):
            findings += _members(providers, org, repair)
        findings += _mailboxes(providers, repair)
        findings += _virtual_directories(providers, repair)
    findings += [
        Finding(
            drift.kind,
            drift.dn,
            f"{drift.attr} '{drift.value}': {_CLAIMS[drift.kind]}",
            _fixed(drift.kind, repair),
        )
        for drift in d.claims_drift(repair=repair)
    ]
    if repair and any(f.repaired for f in findings):
        d.audit.write(
            AuditRecord(
                request_id=str(uuid.uuid4()),
                at=datetime.now(UTC),
                caller="openmps check --repair",
                procedures=tuple(sorted({f"repair:{f.kind}" for f in findings if f.repaired})),
                outcome="success",
                duration_ms=(time.perf_counter() - started) * 1000,
            )
        )
    return findings


_CLAIMS = {  # on a directory server, the claims of unique values (directory/sql/claims.py)
    "claim-without-holder": "claimed in SQL for an entry that does not hold it",
    "value-not-claimed": "held by the entry but not claimed in SQL (written behind OpenMPS's back)",
    "value-held-twice": "held by another entry too: which one keeps it is a choice",
}


def _fixed(kind: str, repair: bool) -> bool:
    return repair and kind != "value-held-twice"


def _customers(providers: Providers, repair: bool) -> list[Finding]:
    """Customer records without their object; organizations without their well-known objects."""
    findings = []
    directory = providers.directory
    for record in providers.plans.customers():
        if record.status == "Deleted":
            continue
        entry = _by_guid(providers, record.guid)
        if entry is None:
            if repair:
                providers.plans.set_status(record.guid, "Deleted")
            problem = f"the {record.customer_type} record '{record.name}' has no object in the directory"
            findings.append(Finding("customer-record-without-object", record.guid, problem, repair))
            continue
        if record.customer_type in ORGANIZATIONS:
            held = {name for name in WELL_KNOWN if directory.well_known(entry, name) is not None}
            missing = [name for name in WELL_KNOWN if name not in held]
            if missing:
                problem = f"the organization lacks its well-known objects {', '.join(missing)}"
                findings.append(Finding("organization-missing-well-known", entry.dn.ldap_path, problem))
    return findings


def _business_organizations(providers: Providers) -> list[Org]:
    found = providers.directory.search(
        providers.layout.hosting, Scope.SUBTREE, filters.eq("objectClass", "organizationalUnit")
    )
    orgs = []
    for entry in found:
        chain = providers.org_chain(entry.dn)
        if chain and chain[0].dn == entry.dn and chain[0].kind is OrgType.CUSTOMER:
            orgs.append(chain[0])
    return orgs


def _members(providers: Providers, org: Org, repair: bool) -> list[Finding]:
    """Users of ``org`` missing from its AllUsers@ group."""
    directory = providers.directory
    members = {DN.parse(m) for m in directory.get(org.names.all_users).get("member")}
    spread = multigroup.spread_of(org, multigroup.USER_N)
    for sub in multigroup.sub_groups(providers, spread):  # an expanded group's members are nested
        members |= {DN.parse(m) for m in directory.get(sub).get("member")}
    findings = []
    for user in directory.search(org.dn, Scope.SUBTREE, filters.eq("objectClass", "user")):
        if user.dn in members or user.dn.is_within(org.names.private):
            continue
        if repair:
            multigroup.join(providers, org, user.dn)
        problem = f"not a member of {org.names.all_users.rdn_value}"
        findings.append(Finding("user-not-in-all-users", user.dn.ldap_path, problem, repair))
    return findings


def _mailboxes(providers: Providers, repair: bool) -> list[Finding]:
    """Allocations against the users' mailboxes, both ways."""
    directory = providers.directory
    resources = providers.resources
    findings = []
    placed = set()
    for place in resources.mailboxes():
        placed.add(place.mailbox)
        user = _by_guid(providers, place.mailbox)
        if user is None:
            if repair:
                resources.release_mailbox(place.mailbox)
            where = place.store.store_name
            problem = f"{place.size_kb} KB on {where} are allocated to a mailbox whose user is gone"
            findings.append(Finding("allocation-without-mailbox", place.mailbox, problem, repair))
            continue
        quota = user.first("mDBStorageQuota")
        if quota != str(place.size_kb):
            if repair:
                directory.modify(user.dn, [Change.replace(name, str(place.size_kb)) for name in QUOTAS])
            problem = f"its quota is {quota or 'unset'} KB, its allocation {place.size_kb} KB"
            findings.append(Finding("mailbox-quota-differs", user.dn.ldap_path, problem, repair))
    mailboxes = directory.search(providers.layout.hosting, Scope.SUBTREE, filters.present("homeMDB"))
    for user in mailboxes:
        if user.has_class("user") and user.guid not in placed:
            problem = "it has a mailbox (homeMDB) but no allocation in the Resource Manager"
            findings.append(Finding("mailbox-without-allocation", user.dn.ldap_path, problem))
    return findings


def _virtual_directories(providers: Providers, repair: bool) -> list[Finding]:
    """The virtual directories in the configuration partition against their organizations and
    the Exchange servers the Resource Manager knows."""
    directory = providers.directory
    base = exchange.exchange_organization(providers.layout)
    if not directory.exists(base):
        return []
    servers = {name.casefold() for name in virtual_directories.servers(providers)}
    mine = filters.and_(
        filters.eq("objectClass", virtual_directories.SCP),
        filters.eq("serviceClassName", virtual_directories.VDIR_CLASS),
    )
    findings = []
    for entry in directory.search(base, Scope.SUBTREE, mine):
        path = entry.dn.ldap_path
        server = entry.first("serviceDNSName") or ""
        if not _organization_exists(providers, entry.first("description") or ""):
            problem = f"its organization '{entry.first('description') or ''}' is gone"
            kind = "virtual-directory-without-organization"
        elif server.casefold() not in servers:
            problem = f"its server '{server}' is not one the Resource Manager knows"
            kind = "virtual-directory-of-unknown-server"
        else:
            binding = f"/exchange/{entry.dn.rdn_value}"
            if entry.get("serviceBindingInformation") == (binding,):
                continue
            if repair:
                directory.modify(entry.dn, [Change.replace("serviceBindingInformation", binding)])
            shown = ", ".join(entry.get("serviceBindingInformation")) or "none"
            problem = f"its binding is {shown}, not {binding}"
            findings.append(Finding("virtual-directory-differs", path, problem, repair))
            continue
        if repair:
            directory.delete(entry.dn)
        findings.append(Finding(kind, path, problem, repair))
    return findings


def _organization_exists(providers: Providers, text: str) -> bool:
    try:
        dn = DN.parse(text)
    except InvalidArgument:  # written behind OpenMPS's back: no organization's DN
        return False
    return providers.directory.exists(dn)


def _by_guid(providers: Providers, guid: str) -> Entry | None:
    found = providers.directory.search(providers.layout.domain, Scope.SUBTREE, filters.eq("objectGUID", guid))
    return found[0] if found else None
