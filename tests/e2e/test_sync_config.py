"""Service Provisioning: an organization's sync connection and rules, its runs, litigation holds."""

from __future__ import annotations

import os
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from lxml import etree
from test_sync import ALPINE, forest

from openmps.app import Deployment
from openmps.errors import InvalidOperation
from openmps.sync.ldif_source import LdifSource
from openmps.sync.runner import organization, sync
from openmps.types import DN
from support import RawXml, World, make_alpineskihouse, ok, org_path, refused, request_xml, snapshot

SP = "Service Provisioning"
ASH = org_path("WH", "alpineskihouse")
CANARY = "Bind-Passw0rd-canary"
INVALID_OPERATION = f"{InvalidOperation.code:#010X}".replace("0X", "0x")


def sp(procedure: str, /, **args: object) -> str:
    return request_xml(SP, procedure, **args)


def connect(**extra: object) -> str:
    return sp(
        "SetSyncConnection",
        organization=ASH,
        sourceURL="ldaps://dc1.corp.example:636",
        bindDN="CN=sync,CN=Users,DC=corp,DC=example",
        bindPassword=CANARY,
        includeOUs=RawXml("<ou>OU=Staff,DC=corp,DC=example</ou>"),
        excludeOUs=RawXml("<ou>OU=Old,OU=Staff,DC=corp,DC=example</ou>"),
        **extra,
    )


def every_file_under(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file() and p.name != "sync.key")


def test_the_bind_password_is_stored_encrypted_and_never_answered_logged_or_audited(world: World) -> None:
    d = world.deployment
    answer = ok(world.submit(connect(), "reseller_admin"))
    text = etree.tostring(answer, encoding="unicode")
    assert CANARY not in text
    config = ok(world.submit(sp("GetSyncConfiguration", organization=ASH), "customer_admin"))
    assert config.findtext("data/sourceURL") == "ldaps://dc1.corp.example:636"
    assert config.findtext("data/bindPasswordSet") == "true"
    assert [ou.text for ou in config.findall("data/includeOUs/ou")] == ["OU=Staff,DC=corp,DC=example"]
    assert CANARY not in etree.tostring(config, encoding="unicode")
    assert d.home is not None
    d.audit.flush(timeout=30)
    # neither the database (WAL included), nor the audit, nor any other file of the home holds it
    assert CANARY.encode() not in every_file_under(d.home)
    assert oct(os.stat(d.home / "sync.key").st_mode & 0o777) == "0o600"
    org_guid, _ = organization(d, DN.from_path(ASH))
    with d.transaction() as providers:  # the runner alone reads it back
        secret = providers.sync.password(org_guid)
    assert secret is not None and secret.reveal() == CANARY and CANARY not in repr(secret)


def test_only_the_organizations_providers_configure_it_and_its_admins_read_it(world: World) -> None:
    assert world.submit(connect(), "customer_admin").error.hex_code == "0x80070005"  # type: ignore[union-attr]
    assert world.submit(connect(), "other_reseller_admin").error.hex_code == "0x80072030"  # type: ignore[union-attr]
    ok(world.submit(connect(), "hosting_admin"))
    read = sp("GetSyncConfiguration", organization=ASH)
    assert world.submit(read, "user").error.hex_code == "0x80070005"  # type: ignore[union-attr]
    assert world.submit(read, "other_customer_admin").error.hex_code == "0x80072030"  # type: ignore[union-attr]
    ok(world.submit(sp("RemoveSyncConnection", organization=ASH), "reseller_admin"))
    config = ok(world.submit(read, "customer_admin"))
    assert config.findtext("data/sourceURL") == "" and config.findtext("data/bindPasswordSet") == "false"
    refused(world, sp("RemoveSyncConnection", organization=ASH), "0x80072030", "has no sync connection")


def test_rules_are_set_piecewise_and_bad_ones_change_nothing(world: World) -> None:
    ok(world.submit(he_domain("spare.example")))
    explicit = sp("SetSyncRules", organization=ASH, mailboxRule="explicit")
    refused(world, explicit, "0x80070057", "the explicit mailbox rule needs 'mailboxCondition'")
    done = ok(
        world.submit(
            sp(
                "SetSyncRules",
                organization=ASH,
                mailboxRule="explicit",
                mailboxCondition="extensionAttribute1=createMSOmailbox",
                inclusionDomains=RawXml("<domain>Spare.Example</domain>"),
                newHire=True,
            ),
            "reseller_admin",
        )
    )
    assert done.findtext("data/mailboxRule") == "explicit"
    assert done.findtext("data/retentionDays") == "30" and done.findtext("data/deletionThreshold") == "500"
    later = ok(world.submit(sp("SetSyncRules", organization=ASH, retentionDays=60, ocsEntitlement=True)))
    assert later.findtext("data/mailboxCondition") == "extensionAttribute1=createMSOmailbox"
    assert later.findtext("data/retentionDays") == "60" and later.findtext("data/ocsEntitlement") == "true"
    assert [d.text for d in later.findall("data/inclusionDomains/domain")] == ["spare.example"]
    rule = sp(
        "SetSyncRules", organization=ASH, deprovisioningCondition="extensionAttribute1=removeMSOmailbox"
    )
    assert (
        ok(world.submit(rule)).findtext("data/deprovisioningCondition")
        == "extensionAttribute1=removeMSOmailbox"
    )
    ok(world.submit(sp("SetSyncRules", organization=ASH, deprovisioningCondition="none")))
    cleared = ok(world.submit(sp("GetSyncConfiguration", organization=ASH)))
    assert cleared.findtext("data/deprovisioningCondition") == ""
    for arguments, fragment in (
        ({"inclusionDomains": RawXml("<domain>contoso.com</domain>")}, "'contoso.com' is not an SMTP domain"),
        ({"mailboxRule": "sometimes"}, "is not one of default, explicit, none"),
        ({"mailboxCondition": "createMSOmailbox"}, "is not ATTRIBUTE=VALUE"),
        ({"deprovisioningCondition": "=x"}, "is not ATTRIBUTE=VALUE"),
        ({"retentionDays": 0}, "'retentionDays' must be between 1 and 3650"),
        ({"deletionThreshold": -1}, "'deletionThreshold' must be between"),
        ({"reconnectionAnchor": "mail)(x"}, "is not an attribute name"),
    ):
        refused(world, sp("SetSyncRules", organization=ASH, **arguments), "0x80070057", fragment)


def he_user(upn: str) -> str:
    return request_xml(
        "Hosted Exchange", "CreateBusinessUser", container=ASH, userPrincipalName=upn, isAdmin=False
    )


def he_domain(domain: str) -> str:
    return request_xml("Hosted Exchange", "CreateSMTPDomain", path=ASH, SMTPDomain=domain)


def test_a_bad_connection_is_refused_naming_what_is_wrong(world: World) -> None:
    for change, fragment in (
        (("ldaps://dc1.corp.example:636", "http://dc1.corp.example"), "is not ldap://host"),
        (("ldaps://dc1.corp.example:636", "ldap://dc1:port"), "has a bad port"),
        (("CN=sync,CN=Users", "not a dn"), "'bindDN'"),
        ((CANARY, ""), "'bindPassword' is empty"),
        (("OU=Old,OU=Staff", "OU=Old,OU=Elsewhere"), "is not inside an OU in scope"),
    ):
        refused(world, connect().replace(*change), "0x80070057", fragment)
    tls = connect(startTLS=True)
    refused(world, tls, "0x80070057", "'startTLS' is for ldap:// URLs")
    refused(world, connect().replace(ASH, org_path("WH")), "0x80070057", "not a business organization")


def test_the_status_of_runs_and_litigation_hold(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    bad = forest().replace(b"ben@alpineskihouse.com", b"ben@elsewhere.example")
    sync(deployment, ALPINE, LdifSource(bad))
    status = ok(deployment.submit(sp("GetSyncStatus", organization=ASH)))
    run = status.find("data/runs/run")
    assert run is not None and run.get("outcome") == "errors" and run.get("preview") == "false"
    counts = {c.get("action"): c.get("objects") for c in run.findall("counts/count")}
    assert counts["create"] == "4" and counts["skipped"] == "1"
    error = run.find("errors/error")
    assert error is not None and error.get("object") == "CN=Ben,OU=Staff,DC=corp,DC=example"
    amy = ASH.replace("LDAP://", "LDAP://CN=amy@alpineskihouse.com,")
    ok(deployment.submit(sp("SetLitigationHold", user=amy, reason="case 42")))
    refused(deployment, sp("SetLitigationHold", user=amy), "0x80071392", "already on litigation hold")
    refused(deployment, sp("DisconnectUser", user=amy), INVALID_OPERATION, "on litigation hold")
    records = deployment.audit.search(procedure="SetLitigationHold", outcome="success")
    assert len(records) == 1
    ok(deployment.submit(sp("ClearLitigationHold", user=amy)))
    refused(deployment, sp("ClearLitigationHold", user=amy), "0x80072030", "is not on litigation hold")
    refused(deployment, sp("GetSyncStatus", organization=ASH, last=0), "0x80070057", "'last'")


FOREST = forest(list_members=("Partner",))  # users without a mailbox are no list members


def lines(ldif: bytes) -> RawXml:
    return RawXml("".join(f"<line>{escape(line)}</line>" for line in ldif.decode().split("\n")))


def test_preview_sync_plans_a_snapshot_in_the_request_and_writes_nothing(world: World) -> None:
    d = world.deployment
    org = DN.from_path(ASH)
    ok(world.submit(sp("SetSyncRules", organization=ASH, mailboxRule="none"), "reseller_admin"))
    before = snapshot(d)
    preview = ok(world.submit(sp("PreviewSync", organization=ASH, snapshot=lines(FOREST)), "customer_admin"))
    assert snapshot(d) == before  # nothing written, not even a run record
    actions = {(a.get("action"), a.get("object")) for a in preview.findall("data/actions/action")}
    assert ("create", "CN=Amy,OU=Staff,DC=corp,DC=example") in actions
    counts = {c.get("action"): c.get("objects") for c in preview.findall("data/counts/count")}
    assert counts == {"create": "4"}
    skipped = preview.find("data/skipped/object")
    assert skipped is not None and skipped.get("object") == "CN=Cal,OU=Staff,DC=corp,DC=example"
    assert "without mail" in (skipped.text or "")
    # what it plans is the next run's plan
    run = sync(d, org, LdifSource(FOREST))
    assert run.errors == [] and {(v, dn) for v, _, dn in run.actions} == actions
    again = ok(world.submit(sp("PreviewSync", organization=ASH, snapshot=lines(FOREST))))
    assert again.findall("data/actions/action") == []
    assert world.submit(
        sp("PreviewSync", organization=ASH, snapshot=lines(FOREST)), "user"
    ).error.hex_code == ("0x80070005")
    refused(
        world,
        sp("PreviewSync", organization=ASH, snapshot=lines(b"dn: not a dn\nx")),
        "0x80070057",
        "'snapshot'",
    )


def test_disconnect_and_reconnect_refuse_what_does_not_fit(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    sync(deployment, ALPINE, LdifSource(forest()))
    amy = ASH.replace("LDAP://", "LDAP://CN=amy@alpineskihouse.com,")
    refused(deployment, sp("ReconnectUser", user=amy), INVALID_OPERATION, "is not disconnected")
    sales = ALPINE.child("CN", "Sales")

    def groups_of(path: str) -> set[str]:
        with deployment.transaction() as providers:
            return {
                DN.parse(g).rdn_value for g in providers.directory.get(DN.from_path(path)).get("memberOf")
            }

    before = groups_of(amy)
    assert "Sales" in before
    gone = ok(deployment.submit(sp("DisconnectUser", user=amy))).findtext("data/path")
    assert gone is not None and "CN=Disconnected,CN=_Private" in gone
    # out of its distribution lists; its other groups (AllUsers, a security group) keep it
    assert groups_of(gone) == before - {"Sales"} != set()
    with deployment.transaction() as providers:
        assert providers.directory.get(sales).get("member") == ("CN=Partner," + str(ALPINE),)
    refused(deployment, sp("DisconnectUser", user=gone), INVALID_OPERATION, "is disconnected already")
    # its names stay its own while it is disconnected: nobody else can take them meanwhile
    taken = he_user("amy@alpineskihouse.com")
    refused(deployment, taken, "0x8007202F", "already in use")


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        (connect().replace("CN=sync,CN=Users", "CN=sync\u202e,CN=Users"), "'bindDN'"),
        (connect().replace("ldaps://dc1.corp.example:636", "ldaps://dc1.corp.example:636/?x"), "'sourceURL'"),
        (connect().replace("ldaps://dc1.corp.example:636", "ldap://" + "a" * 300), "'sourceURL'"),
        (connect().replace("<ou>OU=Staff,DC=corp", "<ou>OU=Staff,,DC=corp"), "'includeOUs'"),
        (sp("SetSyncRules", organization=ASH, mailboxCondition="mail)(|(x=*)=y"), "'mailboxCondition'"),
        (sp("SetSyncRules", organization=ASH, retentionDays=10**12), "'retentionDays'"),
        (
            sp(
                "SetLitigationHold",
                user=ASH.replace("LDAP://", "LDAP://CN=worker@alpineskihouse.com,"),
                reason="x" * 2000,
            ),
            "'reason'",
        ),
        (sp("PreviewSync", organization=ASH, snapshot=RawXml("<line>dn: CN=a\u202e,DC=x</line>")), "'line'"),
        (
            connect(caCertificate="-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----"),
            "'caCertificate'",
        ),
        (connect(caCertificate="-----BEGIN CERTIFICATE-----\n" + "A" * 70000), "'caCertificate'"),
        (connect(caCertificate="ldap://evil/cert.pem"), "'caCertificate'"),
    ],
    ids=[
        "bidi-in-dn",
        "url-with-query",
        "long-url",
        "empty-rdn-in-ou",
        "filter-in-condition",
        "huge-days",
        "long-reason",
        "control-in-snapshot",
        "garbled-ca-certificate",
        "huge-ca-certificate",
        "ca-certificate-not-pem",
    ],
)
def test_hostile_input_is_refused_naming_it_and_changes_nothing(
    world: World, document: str, fragment: str
) -> None:
    refused(world, document, "0x80070057", fragment)
