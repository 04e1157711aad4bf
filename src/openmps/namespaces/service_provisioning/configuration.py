"""An organization's sync connection (where its forest is read, as whom, which OUs) and its rules.

The bind password is a declared secret argument: masked in every response and audit record,
stored only encrypted (``openmps.syncconfig.keys``), never answered — GetSyncConfiguration says
whether one is set, nothing more.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, replace
from typing import Annotated
from urllib.parse import urlsplit

from openmps.delegation.session import Providers
from openmps.engine.context import ProcedureContext
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import InvalidArgument, NotFound
from openmps.namespaces.service_provisioning.common import NAMESPACE, business_org
from openmps.syncconfig.interface import (
    EXPLICIT,
    MAILBOX_RULES,
    Condition,
    Connection,
    SyncConfig,
    attribute_name,
)
from openmps.types import DN, Secret

Ctx = ProcedureContext[Providers]
MAX_DAYS = 3650


@dataclass(frozen=True)
class SyncConfiguration:
    """An organization's sync connection (without its password) and rules."""

    organization: Annotated[DN, Xml("organization")]
    source_url: Annotated[str, Xml("sourceURL", "empty: no connection (LDIF snapshots only)")]
    bind_dn: Annotated[str, Xml("bindDN")]
    password_set: Annotated[bool, Xml("bindPasswordSet", "whether a bind password is stored")]
    start_tls: Annotated[bool, Xml("startTLS")]
    include_ous: Annotated[tuple[str, ...], Xml("includeOUs", "source OUs in scope; none: all", item="ou")]
    exclude_ous: Annotated[tuple[str, ...], Xml("excludeOUs", "source OUs out of scope", item="ou")]
    ca_certificate: Annotated[str, Xml("caCertificate", "PEM; empty: the system's authorities")]
    inclusion_domains: Annotated[tuple[str, ...], Xml("inclusionDomains", item="domain")]
    mailbox_rule: Annotated[str, Xml("mailboxRule", "default | explicit | none")]
    mailbox_condition: Annotated[str, Xml("mailboxCondition", "the explicit rule: ATTRIBUTE=VALUE")]
    new_hire: Annotated[bool, Xml("newHire")]
    deprovisioning_condition: Annotated[str, Xml("deprovisioningCondition", "ATTRIBUTE=VALUE")]
    ocs_entitlement: Annotated[bool, Xml("ocsEntitlement")]
    retention_days: Annotated[int, Xml("retentionDays")]
    im_threshold_days: Annotated[int, Xml("imThresholdDays")]
    deletion_threshold: Annotated[int, Xml("deletionThreshold")]
    reconnection_anchor: Annotated[str, Xml("reconnectionAnchor")]

    @classmethod
    def of(cls, org: DN, config: SyncConfig, *, password_set: bool) -> SyncConfiguration:
        c, r = config.connection, config.rules
        return cls(
            org,
            c.url if c else "",
            c.bind_dn if c else "",
            password_set,
            c.start_tls if c else False,
            c.include_ous if c else (),
            c.exclude_ous if c else (),
            c.ca_certificate if c else "",
            r.inclusion_domains,
            r.mailbox_rule,
            r.mailbox_condition,
            r.new_hire,
            r.deprovision_condition,
            r.ocs,
            r.retention_days,
            r.im_threshold_days,
            r.deletion_threshold,
            r.anchor,
        )


def _answer(ctx: Ctx, org: DN, guid: str) -> SyncConfiguration:
    store = ctx.providers.sync
    config = store.config(guid)
    return SyncConfiguration.of(org, config, password_set=config.connection is not None)


def _url(text: str) -> str:
    parts = urlsplit(text.strip())
    extra = parts.path not in ("", "/") or parts.query or parts.fragment or parts.username is not None
    if parts.scheme.lower() not in ("ldap", "ldaps") or not parts.hostname or extra:
        raise InvalidArgument(
            f"'sourceURL': '{text[:80]}' is not ldap://host[:port] or ldaps://host[:port]",
            argument="sourceURL",
        )
    try:
        parts.port  # noqa: B018  # a port that is not a number raises here
    except ValueError:
        raise InvalidArgument(f"'sourceURL': '{text[:80]}' has a bad port", argument="sourceURL") from None
    return f"{parts.scheme.lower()}://{parts.netloc}"


def _pem(text: str) -> str:
    """Certificates a TLS context takes (PEM; the engine caps its length), or empty."""
    text = text.strip()
    if not text:
        return ""
    bad = InvalidArgument(
        "'caCertificate' is not one or more PEM certificates (-----BEGIN CERTIFICATE-----)",
        argument="caCertificate",
    )
    if not text.startswith("-----BEGIN CERTIFICATE-----"):
        raise bad
    try:
        ssl.create_default_context(cadata=text)
    except (ssl.SSLError, ValueError):
        raise bad from None
    return text


def _dn(text: str, argument: str) -> str:
    try:
        return str(DN.parse(text))
    except InvalidArgument:
        raise InvalidArgument(
            f"'{argument}': '{text[:80]}' is not a distinguished name", argument=argument
        ) from None


@procedure(
    NAMESPACE, "SetSyncConnection", requires=Role.ORG_CREATOR, scope="organization", right="DS_WRITE_PROP"
)
class SetSyncConnection:
    """Set where the organization's forest is read (an LDAP URL), the bind account and its password
    (kept encrypted, never answered), and the source OUs in scope."""

    organization: Annotated[DN, Xml("organization", "LDAP path of the business organization")]
    source_url: Annotated[str, Xml("sourceURL", "ldap://host[:port] or ldaps://host[:port]")]
    bind_dn: Annotated[str, Xml("bindDN", "the account sync binds as, in the customer's forest")]
    bind_password: Annotated[Secret, Xml("bindPassword", "its password: stored encrypted, never echoed")]
    start_tls: Annotated[bool, Xml("startTLS", "StartTLS on an ldap:// URL")] = False
    include_ous: Annotated[
        tuple[str, ...], Xml("includeOUs", "source OUs in scope; none: all", item="ou")
    ] = ()
    exclude_ous: Annotated[tuple[str, ...], Xml("excludeOUs", "source OUs out of scope", item="ou")] = ()
    ca_certificate: Annotated[
        str,
        Xml(
            "caCertificate",
            "PEM certificates of the authority the source's TLS certificate is checked against;"
            " empty: the system's",
        ),
    ] = ""

    def run(self, ctx: Ctx) -> SyncConfiguration | None:
        org = business_org(ctx.providers, self.organization)
        if not self.bind_password.reveal():
            raise InvalidArgument("'bindPassword' is empty", argument="bindPassword")
        url = _url(self.source_url)
        if url.startswith("ldaps") and self.start_tls:
            raise InvalidArgument(
                "'startTLS' is for ldap:// URLs; ldaps:// is TLS already", argument="startTLS"
            )
        include = tuple(dict.fromkeys(_dn(ou, "includeOUs") for ou in self.include_ous))
        exclude = tuple(dict.fromkeys(_dn(ou, "excludeOUs") for ou in self.exclude_ous))
        for ou in exclude:
            if include and not any(DN.parse(ou).is_within(DN.parse(i), strict=True) for i in include):
                raise InvalidArgument(
                    f"'excludeOUs': '{ou}' is not inside an OU in scope", argument="excludeOUs"
                )
        connection = Connection(
            url, _dn(self.bind_dn, "bindDN"), self.start_tls, include, exclude, _pem(self.ca_certificate)
        )
        ctx.providers.sync.set_connection(org.entry.guid, connection, self.bind_password)
        return _answer(ctx, org.dn, org.entry.guid) if ctx.outputs_read else None


@procedure(
    NAMESPACE, "RemoveSyncConnection", requires=Role.ORG_CREATOR, scope="organization", right="DS_WRITE_PROP"
)
class RemoveSyncConnection:
    """Forget the organization's connection and its password (its rules stay)."""

    organization: Annotated[DN, Xml("organization", "LDAP path of the business organization")]

    def run(self, ctx: Ctx) -> None:
        org = business_org(ctx.providers, self.organization)
        if not ctx.providers.sync.remove_connection(org.entry.guid):
            raise NotFound(f"{org.dn.ldap_path} has no sync connection", dn=str(org.dn))


@procedure(NAMESPACE, "SetSyncRules", requires=Role.ORG_CREATOR, scope="organization", right="DS_WRITE_PROP")
class SetSyncRules:
    """Set the organization's sync rules; what is not given stays as it is."""

    organization: Annotated[DN, Xml("organization", "LDAP path of the business organization")]
    inclusion_domains: Annotated[
        tuple[str, ...] | None,
        Xml("inclusionDomains", "the new-hire rule's SMTP domains (the org's)", item="domain"),
    ] = None
    mailbox_rule: Annotated[str | None, Xml("mailboxRule", "default | explicit | none")] = None
    mailbox_condition: Annotated[
        str | None, Xml("mailboxCondition", "the explicit rule, e.g. extensionAttribute1=createMSOmailbox")
    ] = None
    new_hire: Annotated[
        bool | None, Xml("newHire", "new users with mail in an inclusion domain get a mailbox")
    ] = None
    deprovisioning_condition: Annotated[
        str | None, Xml("deprovisioningCondition", "e.g. extensionAttribute1=removeMSOmailbox; none: no rule")
    ] = None
    ocs_entitlement: Annotated[bool | None, Xml("ocsEntitlement", "SIP-enable provisioned users")] = None
    retention_days: Annotated[int | None, Xml("retentionDays", "a disconnected mailbox is kept (30)")] = None
    im_threshold_days: Annotated[int | None, Xml("imThresholdDays", "an IM profile is kept (1)")] = None
    deletion_threshold: Annotated[int | None, Xml("deletionThreshold", "a run deleting more stops (500)")] = (
        None
    )
    reconnection_anchor: Annotated[
        str | None, Xml("reconnectionAnchor", "the source attribute reconnection matches by (mail)")
    ] = None

    def run(self, ctx: Ctx) -> SyncConfiguration | None:
        providers = ctx.providers
        org = business_org(providers, self.organization)
        rules = providers.sync.config(org.entry.guid).rules
        if self.inclusion_domains is not None:
            own = {d.domain.lower() for d in providers.plans.domains(org.entry.guid)}
            domains = tuple(dict.fromkeys(d.strip().lower() for d in self.inclusion_domains))
            for domain in domains:
                if domain not in own:
                    raise InvalidArgument(
                        f"'inclusionDomains': '{domain[:80]}' is not an SMTP domain of {org.dn.ldap_path}",
                        argument="inclusionDomains",
                    )
            rules = replace(rules, inclusion_domains=domains)
        if self.mailbox_rule is not None:
            if self.mailbox_rule not in MAILBOX_RULES:
                raise InvalidArgument(
                    f"'mailboxRule': '{self.mailbox_rule[:80]}' is not one of {', '.join(MAILBOX_RULES)}",
                    argument="mailboxRule",
                )
            rules = replace(rules, mailbox_rule=self.mailbox_rule)
        if self.mailbox_condition is not None:
            text = (
                str(Condition.parse(self.mailbox_condition, "mailboxCondition"))
                if self.mailbox_condition
                else ""
            )
            rules = replace(rules, mailbox_condition=text)
        if rules.mailbox_rule == EXPLICIT and not rules.mailbox_condition:
            raise InvalidArgument(
                "the explicit mailbox rule needs 'mailboxCondition'", argument="mailboxCondition"
            )
        if self.deprovisioning_condition is not None:
            text = self.deprovisioning_condition
            text = "" if text.lower() == "none" else str(Condition.parse(text, "deprovisioningCondition"))
            rules = replace(rules, deprovision_condition=text)
        if self.new_hire is not None:
            rules = replace(rules, new_hire=self.new_hire)
        if self.ocs_entitlement is not None:
            rules = replace(rules, ocs=self.ocs_entitlement)
        if self.retention_days is not None:
            rules = replace(rules, retention_days=_within(self.retention_days, "retentionDays", 1, MAX_DAYS))
        if self.im_threshold_days is not None:
            rules = replace(
                rules, im_threshold_days=_within(self.im_threshold_days, "imThresholdDays", 0, MAX_DAYS)
            )
        if self.deletion_threshold is not None:
            rules = replace(
                rules, deletion_threshold=_within(self.deletion_threshold, "deletionThreshold", 0, 10_000_000)
            )
        if self.reconnection_anchor is not None:
            rules = replace(rules, anchor=attribute_name(self.reconnection_anchor, "reconnectionAnchor"))
        providers.sync.set_rules(org.entry.guid, rules)
        return _answer(ctx, org.dn, org.entry.guid) if ctx.outputs_read else None


def _within(value: int, argument: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise InvalidArgument(
            f"'{argument}' must be between {low} and {high}, not {value}", argument=argument
        )
    return value


@procedure(
    NAMESPACE,
    "GetSyncConfiguration",
    requires=Role.USER_CREATOR,
    scope="organization",
    kind="read",
    right="DS_READ_PROP",
)
class GetSyncConfiguration:
    """The organization's sync connection (never its password) and rules."""

    organization: Annotated[DN, Xml("organization", "LDAP path of the business organization")]

    def run(self, ctx: Ctx) -> SyncConfiguration:
        org = business_org(ctx.providers, self.organization)
        return _answer(ctx, org.dn, org.entry.guid)


PROCEDURES = (SetSyncConnection, RemoveSyncConnection, SetSyncRules, GetSyncConfiguration)
