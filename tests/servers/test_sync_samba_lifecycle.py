"""The rules and the lifecycle from a real forest (issue 14), as a provider runs them: the session's
Samba AD DC read through the organization's stored connection (SetSyncConnection, then the daemon's
``StoredSource``), its rules and holds set by Service Provisioning's procedures.  New-hire and OCS
entitlement; a user deleted at the DC disconnected and retained, reconnected when it returns with a
new objectGUID; litigation hold blocking the disconnection and the purge, every run until cleared;
the purge after retention returning the mailbox's storage to the Resource Manager."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import test_sync_samba as base
from ldap3 import Connection
from test_sync_samba import ALPINE, Forest, links, sp, store

from openmps.app import Deployment
from openmps.sync.daemon import StoredSource
from openmps.sync.interface import ACTIVE, DISCONNECTED, PURGED
from openmps.sync.runner import Run, organization, sync
from openmps.types import DN
from support import DirectoryServer, RawXml, make_alpineskihouse, ok, org_path, request_xml

conn = base.conn  # the fixture: a connection to change the DC's forest
ASH = org_path("WH", "alpineskihouse")
PRIVATE = ALPINE.child("CN", "_Private").child("CN", "Disconnected")
OCS = "Managed Office Communications Server"


def rules(d: Deployment, **arguments: object) -> None:
    ok(d.submit(sp("SetSyncRules", organization=ASH, **arguments)))


def run(d: Deployment, now: datetime | None = None) -> Run:
    """One run through the stored connection, as ``openmps sync daemon`` runs it."""
    return sync(d, ALPINE, StoredSource(d, ALPINE), now=now)


def clean(done: Run) -> Run:
    assert done.errors == [], done.errors
    return done


def user(d: Deployment, name: str, under: DN = ALPINE) -> dict[str, object] | None:
    """The managed user ``name`` under ``under``: its objectGUID, whether it has a mailbox, its
    SIP state; None when it is not there."""
    with d.transaction() as providers:
        found = providers.directory.find(under.child("CN", name))
        if found is None:
            return None
        return {
            "guid": found.guid,
            "mailbox": providers.resources.mailbox(found.guid) is not None,
            "sip": found.first("msRTCSIP-UserEnabled"),
        }


def used_kb(d: Deployment) -> int:
    """The storage the organization's mailboxes hold in the Resource Manager."""
    org_guid, _ = organization(d, ALPINE)
    with d.transaction() as providers:
        return sum(m.size_kb for m in providers.resources.mailboxes(org_guid))


def test_new_hires_get_a_mailbox_and_ocs_entitlement_sip_enables_them(
    deployment: Deployment, samba_dc: DirectoryServer, conn: Connection
) -> None:
    make_alpineskihouse(deployment, exchange=True)
    he = "Hosted Exchange"
    ok(deployment.submit(request_xml(he, "CreateSMTPDomain", path=ASH, SMTPDomain="hires.example")))
    ok(deployment.submit(request_xml(OCS, "Initialize")))
    ok(deployment.submit(request_xml(OCS, "AddSharedPool", poolFQDN="pool1.fabrikam.com")))
    for domain in ("alpineskihouse.com", "hires.example"):
        ok(deployment.submit(request_xml(OCS, "CreateSipDomain", organization=ASH, address=domain)))
    forest = Forest(conn)
    forest.user("amy", "amy@alpineskihouse.com")
    store(deployment, samba_dc, ASH, forest.dn)
    rules(deployment, mailboxRule="none", ocsEntitlement=True)
    assert clean(run(deployment)).counts["create"] == 1
    amy = user(deployment, "amy@alpineskihouse.com")
    assert amy is not None and amy["mailbox"] is False  # identities only: no mailbox rule
    assert amy["sip"] == "TRUE"  # OCS entitlement SIP-enables every provisioned user

    # the new-hire rule: a new user whose mail is in an inclusion-list domain gets a mailbox
    rules(deployment, newHire=True, inclusionDomains=RawXml("<domain>hires.example</domain>"))
    forest.user("dan", "dan@hires.example")
    forest.user("eve", "eve@alpineskihouse.com")  # new, but not in an inclusion-list domain
    delta = clean(run(deployment))
    assert delta.counts["create"] == 2 and delta.counts["update"] == 0  # amy is left as she is
    dan, eve = user(deployment, "dan@hires.example"), user(deployment, "eve@alpineskihouse.com")
    assert dan is not None and dan["mailbox"] is True and dan["sip"] == "TRUE"
    assert eve is not None and eve["mailbox"] is False and eve["sip"] == "TRUE"
    amy = user(deployment, "amy@alpineskihouse.com")
    assert amy is not None and amy["mailbox"] is False  # not a new hire


def test_deprovisioning_retention_reconnection_hold_and_purge(
    deployment: Deployment, samba_dc: DirectoryServer, conn: Connection
) -> None:
    make_alpineskihouse(deployment, exchange=True)
    forest = Forest(conn)
    amy, ben = (forest.user(name, f"{name}@alpineskihouse.com") for name in ("amy", "ben"))
    store(deployment, samba_dc, ASH, forest.dn)
    rules(deployment, retentionDays=10)  # a disconnected mailbox is kept 10 days
    assert clean(run(deployment)).counts["create"] == 2
    first = user(deployment, "amy@alpineskihouse.com")
    assert first is not None and first["mailbox"] is True
    two = used_kb(deployment)
    amy_guid, ben_guid = forest.guid(amy), forest.guid(ben)

    # deleted at the DC: the identity leaves the organization's tree, its mailbox is retained
    conn.delete(amy)
    assert clean(run(deployment)).counts["delete"] == 1
    assert links(deployment, ALPINE)[amy_guid] == DISCONNECTED
    assert user(deployment, "amy@alpineskihouse.com") is None
    kept = user(deployment, "amy@alpineskihouse.com", PRIVATE)
    assert kept is not None and kept["mailbox"] is True and used_kb(deployment) == two

    # she returns (recreated: a new objectGUID, the same mail): the same user and mailbox reconnected
    back = forest.user("amy", "amy@alpineskihouse.com")
    returned = clean(run(deployment))
    assert returned.counts["reconnect"] == 1 and returned.counts["create"] == 0
    again = user(deployment, "amy@alpineskihouse.com")
    assert again is not None and again["guid"] == first["guid"] and again["mailbox"] is True
    assert links(deployment, ALPINE)[forest.guid(back)] == ACTIVE

    # litigation hold: ben deleted at the DC is not disconnected, and every run says so
    ben_dn = ALPINE.child("CN", "ben@alpineskihouse.com")
    ok(deployment.submit(sp("SetLitigationHold", user=ben_dn.ldap_path, reason="case 7")))
    conn.delete(ben)
    for _ in range(2):
        held = run(deployment)
        assert [e.source_dn for e in held.errors] == [ben]
        reason = held.errors[0].reason
        assert "litigation hold" in reason and "ben@alpineskihouse.com" in reason
        assert user(deployment, "ben@alpineskihouse.com") is not None
        assert links(deployment, ALPINE)[ben_guid] == ACTIVE
    ok(deployment.submit(sp("ClearLitigationHold", user=ben_dn.ldap_path)))
    assert clean(run(deployment)).counts["delete"] == 1
    assert links(deployment, ALPINE)[ben_guid] == DISCONNECTED

    # retained, then on hold again: the purge waits for the hold, then returns the storage
    kept_ben = PRIVATE.child("CN", "ben@alpineskihouse.com")
    ok(deployment.submit(sp("SetLitigationHold", user=kept_ben.ldap_path, reason="case 8")))
    within = datetime.now(UTC) + timedelta(days=9)
    assert clean(run(deployment, within)).actions == []  # within retention: nothing to do
    later = datetime.now(UTC) + timedelta(days=11)
    blocked = run(deployment, later)
    assert [e.source_dn for e in blocked.errors] == [ben] and "purge" in blocked.errors[0].reason
    assert user(deployment, "ben@alpineskihouse.com", PRIVATE) is not None and used_kb(deployment) == two
    ok(deployment.submit(sp("ClearLitigationHold", user=kept_ben.ldap_path)))
    assert clean(run(deployment, later)).counts["purge"] == 1
    assert user(deployment, "ben@alpineskihouse.com", PRIVATE) is None
    assert links(deployment, ALPINE)[ben_guid] == PURGED
    assert 0 < used_kb(deployment) < two  # ben's mailbox's storage is back; amy's is held still
