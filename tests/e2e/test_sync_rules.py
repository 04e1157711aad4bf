"""Sync by the organization's stored rules: mailbox rules, explicit deprovisioning, scope, attribute
flow, address lists, OCS entitlement, and the lifecycle (retention, purge, IM threshold, litigation
hold, automatic service reconnection)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import Result
from test_sync import ALPINE, AMY, forest
from typer.testing import CliRunner

from openmps.app import Deployment, init_deployment
from openmps.cli.main import app
from openmps.directory import wellknown
from openmps.directory.interface import Entry
from openmps.sync.interface import DISCONNECTED, PURGED, Link
from openmps.sync.ldif_source import LdifSource
from openmps.sync.runner import Run, organization, state_of, stored_connection, sync
from openmps.types import DN, Secret
from support import (
    ADMIN_PASSWORD,
    RawXml,
    create_database,
    fast_passwords,
    make_alpineskihouse,
    ok,
    request_xml,
)

runner = CliRunner()
SP = "Service Provisioning"
ASH = ALPINE.ldap_path
AMY_DN = ALPINE.child("CN", "amy@alpineskihouse.com")
PRIVATE = ALPINE.child("CN", "_Private").child("CN", "Disconnected")
NEW_AMY = "99999999-9999-9999-9999-999999999999"


def sp(procedure: str, /, **args: object) -> str:
    return request_xml(SP, procedure, **args)


def rules(d: Deployment, **arguments: object) -> None:
    ok(d.submit(sp("SetSyncRules", organization=ASH, **arguments)))


def connect(d: Deployment, **scope: object) -> None:
    ok(
        d.submit(
            sp(
                "SetSyncConnection",
                organization=ASH,
                sourceURL="ldap://dc1.corp.example",
                bindDN="CN=sync,DC=corp,DC=example",
                bindPassword="Bind-Passw0rd",
                **scope,
            )
        )
    )


def entry(d: Deployment, dn: DN) -> Entry | None:
    with d.transaction() as providers:
        return providers.directory.find(dn)


def has_mailbox(d: Deployment, dn: DN) -> bool:
    with d.transaction() as providers:
        found = providers.directory.find(dn)
        return found is not None and providers.resources.mailbox(found.guid) is not None


def link_of(d: Deployment, guid: str) -> Link:
    org_guid, _ = organization(d, ALPINE)
    with state_of(d) as state:
        return state.links(org_guid)[guid]


def clean(run: Run) -> Run:
    assert run.errors == [], run.errors
    return run


def amy_with(extra: str) -> bytes:
    return forest().replace(b"displayName: Amy Rusko\n", b"displayName: Amy Rusko\n" + extra.encode())


def test_the_explicit_mailbox_rule_gives_a_mailbox_only_where_the_attribute_says_so(
    deployment: Deployment,
) -> None:
    make_alpineskihouse(deployment, exchange=True)
    rules(deployment, mailboxRule="explicit", mailboxCondition="extensionAttribute1=createMSOmailbox")
    clean(sync(deployment, ALPINE, LdifSource(amy_with("extensionAttribute1: CreateMSOMailbox\n"))))
    assert has_mailbox(deployment, AMY_DN)
    ben = ALPINE.child("CN", "ben@alpineskihouse.com")
    assert entry(deployment, ben) is not None and not has_mailbox(deployment, ben)  # identity only
    # the rule met later: the mailbox comes then
    later = forest().replace(
        b"displayName: Ben Smith\n", b"displayName: Ben Smith\nextensionAttribute1: createMSOmailbox\n"
    )
    assert clean(sync(deployment, ALPINE, LdifSource(later))).counts["update"] >= 1
    assert has_mailbox(deployment, ben)


def test_the_new_hire_rule_gives_new_users_in_an_inclusion_domain_a_mailbox(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    ok(
        deployment.submit(
            request_xml("Hosted Exchange", "CreateSMTPDomain", path=ASH, SMTPDomain="hires.example")
        )
    )
    rules(deployment, mailboxRule="none")
    run = sync(deployment, ALPINE, LdifSource(forest()))
    # a user without a mailbox is no mail recipient: the list cannot hold it (an object error)
    assert [e.source_dn for e in run.errors] == ["CN=Sales,OU=Staff,DC=corp,DC=example"]
    assert not has_mailbox(deployment, AMY_DN)  # before the rule: identities only
    rules(deployment, newHire=True, inclusionDomains=RawXml("<domain>hires.example</domain>"))
    dan = (
        "\ndn: CN=Dan,OU=Staff,DC=corp,DC=example\nobjectClass: user\ncn: Dan\n"
        "objectGUID: 66666666-6666-6666-6666-666666666666\nmail: dan@hires.example\n"
    )
    sync(deployment, ALPINE, LdifSource(forest() + dan.encode()))
    assert has_mailbox(deployment, ALPINE.child("CN", "dan@hires.example"))
    assert not has_mailbox(deployment, AMY_DN)  # not a new hire


def test_the_explicit_deprovisioning_rule_removes_the_mailbox_and_keeps_the_identity(
    deployment: Deployment,
) -> None:
    make_alpineskihouse(deployment, exchange=True)
    rules(deployment, deprovisioningCondition="extensionAttribute1=removeMSOmailbox")
    clean(sync(deployment, ALPINE, LdifSource(forest())))
    assert has_mailbox(deployment, AMY_DN)
    run = clean(sync(deployment, ALPINE, LdifSource(amy_with("extensionAttribute1: removeMSOmailbox\n"))))
    assert run.counts["update"] == 1
    amy = entry(deployment, AMY_DN)
    assert amy is not None and not amy.get("homeMDB")  # the identity stays, without its mailbox
    assert not has_mailbox(deployment, AMY_DN)  # its storage went back through the Resource Manager
    assert (
        sync(deployment, ALPINE, LdifSource(amy_with("extensionAttribute1: removeMSOmailbox\n"))).actions
        == []
    )


def test_the_stored_scope_and_attribute_flow_apply_to_an_ldif_snapshot(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    ok(
        deployment.submit(
            request_xml("Hosted Exchange", "CreateSMTPDomain", path=ASH, SMTPDomain="ski.example")
        )
    )
    connect(
        deployment,
        includeOUs=RawXml("<ou>OU=Staff,DC=corp,DC=example</ou>"),
        excludeOUs=RawXml("<ou>OU=Leavers,OU=Staff,DC=corp,DC=example</ou>"),
    )
    flowing = amy_with(
        "title: Ski Instructor\ndepartment: Slopes\ntelephoneNumber: +1 555 0100\n"
        "proxyAddresses: SMTP:amy@alpineskihouse.com\nproxyAddresses: smtp:amy.r@ski.example\n"
        "proxyAddresses: smtp:amy@partner.example\nproxyAddresses: X400:c=US;a= ;p=Corp\n"
    )
    outside = "\ndn: CN=Eve,OU=Else,DC=corp,DC=example\nobjectClass: user\ncn: Eve\nobjectGUID: " + (
        "88888888-8888-8888-8888-888888888888\nmail: eve@alpineskihouse.com\n"
    )
    run = clean(sync(deployment, ALPINE, LdifSource(flowing + outside.encode())))
    assert ("CN=Eve,OU=Else,DC=corp,DC=example", "outside the source OUs in scope") in run.skipped
    amy = entry(deployment, AMY_DN)
    assert amy is not None
    assert (amy.first("title"), amy.first("department"), amy.first("telephoneNumber")) == (
        "Ski Instructor",
        "Slopes",
        "+1 555 0100",
    )
    proxies = {p.lower() for p in amy.get("proxyAddresses")}
    assert "smtp:amy.r@ski.example" in proxies and not any("partner.example" in p for p in proxies)
    # every mail-enabled object is in the organization's own address lists
    with deployment.transaction() as providers:
        org = providers.directory.get(ALPINE)
        gal = wellknown.lookup(org.get("otherWellKnownObjects"), "OrganizationGAL")
        assert gal is not None
        for cn in ("amy@alpineskihouse.com", "Partner", "Sales"):
            shown = providers.directory.get(ALPINE.child("CN", cn)).get("showInAddressBook")
            assert gal in {DN.parse(s) for s in shown}, (cn, shown)
    # moved out of scope: deprovisioned
    left = flowing.replace(b"CN=Amy,OU=Staff", b"CN=Amy,OU=Leavers,OU=Staff")
    gone = clean(sync(deployment, ALPINE, LdifSource(left + outside.encode())))
    assert gone.counts["delete"] == 1 and link_of(deployment, AMY).state == DISCONNECTED


def test_retention_then_purge_returns_the_storage(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    rules(deployment, retentionDays=10)
    clean(sync(deployment, ALPINE, LdifSource(forest())))
    without = LdifSource(forest(without=(AMY,)))
    clean(sync(deployment, ALPINE, without))
    kept = PRIVATE.child("CN", "amy@alpineskihouse.com")
    assert has_mailbox(deployment, kept)
    soon = datetime.now(UTC) + timedelta(days=9)
    assert clean(sync(deployment, ALPINE, without, now=soon)).actions == []  # within retention: kept
    later = datetime.now(UTC) + timedelta(days=11)
    run = clean(sync(deployment, ALPINE, without, now=later))
    assert run.counts["purge"] == 1
    assert entry(deployment, kept) is None
    with deployment.transaction() as providers:
        assert all("amy" not in str(m.mailbox) for m in providers.resources.mailboxes())
    assert link_of(deployment, AMY).state == PURGED


def test_a_new_object_matching_a_disconnected_one_reconnects_its_mailbox(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    clean(sync(deployment, ALPINE, LdifSource(forest())))
    amy = entry(deployment, AMY_DN)
    assert amy is not None
    clean(sync(deployment, ALPINE, LdifSource(forest(without=(AMY,)))))
    # the user moved to another forest: a new objectGUID, the same mail
    moved = (
        forest().replace(AMY.encode(), NEW_AMY.encode()).replace(b"OU=Staff,DC=corp", b"OU=Staff,DC=new", 1)
    )
    run = clean(sync(deployment, ALPINE, LdifSource(moved)))
    assert run.counts["reconnect"] == 1 and run.counts["create"] == 0
    back = entry(deployment, AMY_DN)
    assert back is not None and back.guid == amy.guid  # the same user and mailbox, not a new one
    assert has_mailbox(deployment, AMY_DN) and not back.get("msExchHideFromAddressLists")
    assert link_of(deployment, NEW_AMY).managed_dn == str(AMY_DN)
    assert clean(sync(deployment, ALPINE, LdifSource(moved))).actions == []


def test_litigation_hold_blocks_every_trigger_and_reconnection_keeps_it(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    rules(deployment, deprovisioningCondition="extensionAttribute1=removeMSOmailbox")
    clean(sync(deployment, ALPINE, LdifSource(forest())))
    ok(deployment.submit(sp("SetLitigationHold", user=AMY_DN.ldap_path, reason="case 7")))
    for snapshot in (
        amy_with("extensionAttribute1: removeMSOmailbox\n"),  # the explicit deprovisioning rule
        forest(without=(AMY,)),  # deleted at the source
        forest(without=(AMY,)),  # … every run, until resolved
    ):
        run = sync(deployment, ALPINE, LdifSource(snapshot))
        assert [e.source_dn for e in run.errors] == ["CN=Amy,OU=Staff,DC=corp,DC=example"]
        assert "litigation hold" in run.errors[0].reason and "amy@alpineskihouse.com" in run.errors[0].reason
        assert has_mailbox(deployment, AMY_DN)
    # the user reappears with a new objectGUID (another forest): its held mailbox is reconnected
    moved = forest().replace(AMY.encode(), NEW_AMY.encode())
    run = clean(sync(deployment, ALPINE, LdifSource(moved)))
    assert run.counts["reconnect"] == 1
    held = ok(
        deployment.submit(sp("SetLitigationHold", user=AMY_DN.ldap_path)).__class__
        and deployment.submit(sp("ClearLitigationHold", user=AMY_DN.ldap_path))
    )
    assert held is not None  # the hold was still on it after the reconnection
    gone = clean(
        sync(deployment, ALPINE, LdifSource(forest(without=(AMY,)).replace(AMY.encode(), NEW_AMY.encode())))
    )
    assert gone.counts["delete"] == 1  # hold cleared: the rules apply again
    assert entry(deployment, PRIVATE.child("CN", "amy@alpineskihouse.com")) is not None


def test_ocs_entitlement_and_the_im_profile_threshold(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    ocs = "Managed Office Communications Server"
    ok(deployment.submit(request_xml(ocs, "Initialize")))
    ok(deployment.submit(request_xml(ocs, "AddSharedPool", poolFQDN="pool1.fabrikam.com")))
    ok(deployment.submit(request_xml(ocs, "CreateSipDomain", organization=ASH, address="alpineskihouse.com")))
    rules(deployment, ocsEntitlement=True, imThresholdDays=1)
    clean(sync(deployment, ALPINE, LdifSource(forest())))
    amy = entry(deployment, AMY_DN)
    assert amy is not None and amy.first("msRTCSIP-PrimaryUserAddress") == "sip:amy@alpineskihouse.com"
    assert amy.first("msRTCSIP-UserEnabled") == "TRUE"
    clean(sync(deployment, ALPINE, LdifSource(forest(without=(AMY,)))))
    kept = entry(deployment, PRIVATE.child("CN", "amy@alpineskihouse.com"))
    assert kept is not None and kept.first("msRTCSIP-UserEnabled") == "FALSE"  # kept, disabled
    after = datetime.now(UTC) + timedelta(days=2)
    run = clean(sync(deployment, ALPINE, LdifSource(forest(without=(AMY,))), now=after))
    assert run.counts["expire IM"] == 1
    kept = entry(deployment, PRIVATE.child("CN", "amy@alpineskihouse.com"))
    assert kept is not None and not kept.get("msRTCSIP-PrimaryUserAddress")  # the IM profile is gone
    assert has_mailbox(deployment, PRIVATE.child("CN", "amy@alpineskihouse.com"))  # the mailbox is not
    ben = entry(deployment, ALPINE.child("CN", "ben@alpineskihouse.com"))
    assert ben is not None and ben.first("msRTCSIP-UserEnabled") == "TRUE"


def test_the_command_line_applies_the_stored_configuration(deployment: Deployment, tmp_path: Path) -> None:
    make_alpineskihouse(deployment, exchange=True)
    home = str(Path(str(deployment.sql.url.database)).parent)
    connect(deployment, startTLS=True, excludeOUs=RawXml("<ou>OU=Leavers,DC=corp,DC=example</ou>"))
    rules(deployment, deletionThreshold=1)
    connection = stored_connection(deployment, ALPINE)
    assert connection is not None and connection.password.reveal() == "Bind-Passw0rd"
    assert connection.start_tls and connection.exclude_ous == ("OU=Leavers,DC=corp,DC=example",)
    snapshot = tmp_path / "forest.ldif"
    snapshot.write_bytes(forest().replace(b"CN=Ben,OU=Staff", b"CN=Ben,OU=Leavers"))

    def cli(*arguments: str) -> Result:
        return runner.invoke(app, ["--home", home, "sync", *arguments], env={"COLUMNS": "250"})

    done = cli("run", "--org", ASH, "--from-ldif", str(snapshot))
    assert done.exit_code == 0, done.output
    assert "skipped CN=Ben,OU=Leavers,DC=corp,DC=example: outside the source OUs in scope" in done.output
    snapshot.write_bytes(
        forest(without=(AMY,), list_members=()).replace(b"objectClass: contact", b"objectClass: x")
    )
    stopped = cli("run", "--org", ASH, "--from-ldif", str(snapshot))
    assert stopped.exit_code == 1 and "more than the threshold of 1" in stopped.output
    confirmed = cli("run", "--org", ASH, "--from-ldif", str(snapshot), "--confirm-deletes")
    assert confirmed.exit_code == 0, confirmed.output
    assert link_of(deployment, AMY).state == DISCONNECTED


def test_mail_enabled_security_groups_become_security_groups(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    groups = (
        "\ndn: CN=Auditors,OU=Staff,DC=corp,DC=example\nobjectClass: group\ncn: Auditors\n"
        "objectGUID: 12121212-1212-1212-1212-121212121212\ngroupType: -2147483640\n"
        "mail: auditors@alpineskihouse.com\nmember: CN=Amy,OU=Staff,DC=corp,DC=example\n"
        "\ndn: CN=Admins,OU=Staff,DC=corp,DC=example\nobjectClass: group\ncn: Admins\n"
        "objectGUID: 13131313-1313-1313-1313-131313131313\ngroupType: -2147483646\n"
    )
    run = clean(sync(deployment, ALPINE, LdifSource(forest() + groups.encode())))
    assert ("CN=Admins,OU=Staff,DC=corp,DC=example", "a security group without mail is not provisioned") in (
        run.skipped
    )
    auditors = entry(deployment, ALPINE.child("CN", "Auditors"))
    assert auditors is not None and auditors.first("groupType") == "-2147483640"
    assert {DN.parse(m) for m in auditors.get("member")} == {AMY_DN}
    recipients = ok(deployment.submit(request_xml("Hosted Exchange", "GetRecipients", path=ASH)))
    assert "Auditors" in {e.get("name") for e in recipients.iter() if e.get("name")}


def test_the_lifecycle_on_postgresql(postgres_server: str, tmp_path: Path) -> None:
    """The configuration, the connector space's timers and services, holds and runs on PostgreSQL."""
    d = init_deployment(
        tmp_path / "home",
        domain="fabrikam.com",
        admin_password=Secret(ADMIN_PASSWORD),
        url=create_database(postgres_server, "sync_lifecycle"),
        passwords=fast_passwords(),
    )
    make_alpineskihouse(d, exchange=True)
    rules(d, retentionDays=5)
    connect(d, includeOUs=RawXml("<ou>OU=Staff,DC=corp,DC=example</ou>"))
    clean(sync(d, ALPINE, LdifSource(forest())))
    clean(sync(d, ALPINE, LdifSource(forest(without=(AMY,)))))
    amy = link_of(d, AMY)
    assert amy.state == DISCONNECTED and amy.services == frozenset({"mailbox"}) and amy.anchor
    moved = forest().replace(AMY.encode(), NEW_AMY.encode())
    assert clean(sync(d, ALPINE, LdifSource(moved))).counts["reconnect"] == 1
    ok(d.submit(sp("SetLitigationHold", user=AMY_DN.ldap_path)))
    held = sync(d, ALPINE, LdifSource(forest(without=(AMY,))))
    assert "litigation hold" in held.errors[0].reason
    status = ok(d.submit(sp("GetSyncStatus", organization=ASH)))
    assert [r.get("outcome") for r in status.findall("data/runs/run")][:2] == ["errors", "completed"]
    d.sql.dispose()


def test_im_that_cannot_be_given_is_an_error_and_the_user_stays(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    rules(deployment, ocsEntitlement=True)  # no pool, no SIP domain yet
    run = sync(deployment, ALPINE, LdifSource(forest()))
    assert sorted(e.source_dn for e in run.errors) == [
        "CN=Amy,OU=Staff,DC=corp,DC=example",
        "CN=Ben,OU=Staff,DC=corp,DC=example",
    ]
    assert all(e.reason.startswith("IM: ") for e in run.errors)
    assert has_mailbox(deployment, AMY_DN)  # the user and its mailbox are there
    ocs = "Managed Office Communications Server"
    ok(deployment.submit(request_xml(ocs, "Initialize")))
    ok(deployment.submit(request_xml(ocs, "AddSharedPool", poolFQDN="pool1.fabrikam.com")))
    ok(deployment.submit(request_xml(ocs, "CreateSipDomain", organization=ASH, address="alpineskihouse.com")))
    again = clean(sync(deployment, ALPINE, LdifSource(forest())))
    assert again.counts["update"] == 2  # the next run gives them IM
    amy = entry(deployment, AMY_DN)
    assert amy is not None and amy.first("msRTCSIP-UserEnabled") == "TRUE"


def test_reconnection_within_the_im_threshold_brings_the_im_profile_back(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    ocs = "Managed Office Communications Server"
    ok(deployment.submit(request_xml(ocs, "Initialize")))
    ok(deployment.submit(request_xml(ocs, "AddSharedPool", poolFQDN="pool1.fabrikam.com")))
    ok(deployment.submit(request_xml(ocs, "CreateSipDomain", organization=ASH, address="alpineskihouse.com")))
    rules(deployment, ocsEntitlement=True)
    clean(sync(deployment, ALPINE, LdifSource(forest())))
    instance = entry(deployment, AMY_DN)
    assert instance is not None
    clean(sync(deployment, ALPINE, LdifSource(forest(without=(AMY,)))))
    moved = forest().replace(AMY.encode(), NEW_AMY.encode())
    assert clean(sync(deployment, ALPINE, LdifSource(moved))).counts["reconnect"] == 1
    back = entry(deployment, AMY_DN)
    assert back is not None and back.first("msRTCSIP-UserEnabled") == "TRUE"
    # the same IM profile, not a new one
    assert back.first("msRTCSIP-InstanceId") == instance.first("msRTCSIP-InstanceId")


def test_mailboxes_the_deprovisioning_rule_would_take_count_against_the_threshold(
    deployment: Deployment,
) -> None:
    make_alpineskihouse(deployment, exchange=True)
    clean(sync(deployment, ALPINE, LdifSource(forest(list_members=("Partner",)))))
    rules(deployment, deletionThreshold=1, deprovisioningCondition="objectClass=user")  # wrong: everyone
    stopped = sync(deployment, ALPINE, LdifSource(forest(list_members=("Partner",))))
    assert stopped.outcome == "stopped" and "2 objects or mailboxes" in stopped.stopped
    assert has_mailbox(deployment, AMY_DN)
    previewed = sync(deployment, ALPINE, LdifSource(forest(list_members=("Partner",))), preview=True)
    assert previewed.outcome == "stopped"
    status = ok(deployment.submit(sp("GetSyncStatus", organization=ASH, last=2)))
    runs = [(r.get("outcome"), r.get("preview")) for r in status.findall("data/runs/run")]
    assert runs == [("stopped", "true"), ("stopped", "false")]


def test_a_disconnected_mailbox_put_on_hold_is_not_purged(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    clean(sync(deployment, ALPINE, LdifSource(forest())))
    without = LdifSource(forest(without=(AMY,)))
    clean(sync(deployment, ALPINE, without))
    kept = PRIVATE.child("CN", "amy@alpineskihouse.com")
    ok(deployment.submit(sp("SetLitigationHold", user=kept.ldap_path, reason="case 9")))
    later = datetime.now(UTC) + timedelta(days=31)
    for _ in range(2):  # every run, until resolved
        run = sync(deployment, ALPINE, without, now=later)
        assert [e.source_dn for e in run.errors] == ["CN=Amy,OU=Staff,DC=corp,DC=example"]
        assert "litigation hold" in run.errors[0].reason and "purge" in run.errors[0].reason
        assert has_mailbox(deployment, kept)
    ok(deployment.submit(sp("ClearLitigationHold", user=kept.ldap_path)))
    assert clean(sync(deployment, ALPINE, without, now=later)).counts["purge"] == 1
    assert entry(deployment, kept) is None


def test_changed_attributes_flow_and_a_removed_one_goes(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    clean(sync(deployment, ALPINE, LdifSource(amy_with("title: Instructor\ndepartment: Slopes\n"))))
    run = clean(sync(deployment, ALPINE, LdifSource(amy_with("title: Head Instructor\n"))))
    assert run.counts["update"] == 1
    amy = entry(deployment, AMY_DN)
    assert amy is not None and amy.first("title") == "Head Instructor" and not amy.get("department")
    assert amy.first("displayName") == "Amy Rusko"  # what did not change stays
    audit = deployment.audit.search(procedure="ModifyUser", outcome="success")
    assert audit  # through Managed Active Directory's procedure, audited as every request
