"""An organization's sync configuration as procedures and the runner see it (typed, validated).

Rules are data: a mailbox rule (``default``: every provisioned user with mail gets a mailbox;
``explicit``: only a user whose attribute holds a value; ``none``), the new-hire rule, the explicit
deprovisioning condition, OCS entitlement, the retention periods, the deletion threshold and the
reconnection anchor.  :class:`Condition` is the one ``ATTR=VALUE`` test all of them use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Protocol

from openmps.errors import InvalidArgument
from openmps.types import Secret

DEFAULT, EXPLICIT, NONE = "default", "explicit", "none"
MAILBOX_RULES = (DEFAULT, EXPLICIT, NONE)
_ATTRIBUTE = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,63}")


PENDING_SHOWN = 100  # the failing objects a status lists, oldest first (the total counted apart)


@dataclass(frozen=True)
class Condition:
    """``ATTR=VALUE``: a source object's attribute holds the value (case-insensitive)."""

    attribute: str
    value: str

    @classmethod
    def parse(cls, text: str, argument: str) -> Condition:
        name, equals, value = text.partition("=")
        name, value = name.strip(), value.strip()
        if not equals or not _ATTRIBUTE.fullmatch(name) or not value:
            raise InvalidArgument(
                f"'{argument}': '{text[:80]}' is not ATTRIBUTE=VALUE"
                " (e.g. extensionAttribute1=createMSOmailbox)",
                argument=argument,
            )
        return cls(name, value)

    def holds(self, values: Callable[[str], list[str]]) -> bool:
        return any(v.casefold() == self.value.casefold() for v in values(self.attribute))

    def __str__(self) -> str:
        return f"{self.attribute}={self.value}"


def attribute_name(text: str, argument: str) -> str:
    if not _ATTRIBUTE.fullmatch(text):
        raise InvalidArgument(f"'{argument}': '{text[:80]}' is not an attribute name", argument=argument)
    return text


@dataclass(frozen=True)
class SyncRules:
    """What a source object becomes; seed 004's defaults where nothing was configured."""

    inclusion_domains: tuple[str, ...] = ()  # the new-hire rule's SMTP domains (the org's own)
    mailbox_rule: str = DEFAULT
    mailbox_condition: str = ""  # the explicit rule's ATTR=VALUE
    new_hire: bool = False
    deprovision_condition: str = ""  # ATTR=VALUE: the mailbox goes, the identity stays
    ocs: bool = False  # provisioned users are SIP-enabled through Managed OCS
    retention_days: int = 30  # a disconnected mailbox is kept this long
    im_threshold_days: int = 1  # a disconnected user's IM profile is kept this long
    deletion_threshold: int = 500  # a run deleting or disconnecting more stops before writing
    anchor: str = "mail"  # the source attribute a new object is matched to a disconnected one by

    def explicit(self) -> Condition | None:
        return Condition.parse(self.mailbox_condition, "mailboxCondition") if self.mailbox_condition else None

    def deprovisioning(self) -> Condition | None:
        if not self.deprovision_condition:
            return None
        return Condition.parse(self.deprovision_condition, "deprovisioningCondition")

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> SyncRules:
        values = json.loads(text)
        values["inclusion_domains"] = tuple(values.get("inclusion_domains", ()))
        return cls(**values)


@dataclass(frozen=True)
class Connection:
    """Where the organization's forest is read: an LDAP URL, a bind account, the OUs in scope."""

    url: str
    bind_dn: str
    start_tls: bool = False
    include_ous: tuple[str, ...] = ()
    exclude_ous: tuple[str, ...] = ()
    ca_certificate: str = ""  # PEM: the authority the source's certificate is checked against


@dataclass(frozen=True)
class SyncConfig:
    connection: Connection | None = None
    rules: SyncRules = field(default_factory=SyncRules)


@dataclass(frozen=True)
class Hold:
    """A litigation hold on a user's mailbox."""

    user_guid: str
    since: datetime
    reason: str


ACTIVE, DISCONNECTED, PURGED = "active", "disconnected", "purged"  # the lifecycle of a synced object
PENDING = "pending"  # written before its creation is tried: a run that dies is resumed without duplicates


@dataclass(frozen=True)
class Link:
    """A source object (by objectGUID) and the managed object it became: the connector space."""

    source_guid: str
    kind: str  # user | contact | group
    source_dn: str
    managed_dn: str
    state: str
    digest: str
    retain_until: datetime | None = None  # disconnected: the mailbox is kept until then
    anchor: str | None = None  # the reconnection anchor's value, folded
    im_until: datetime | None = None  # disconnected: the IM profile is kept until then
    services: frozenset[str] = frozenset()  # a user's: mailbox, im


@dataclass(frozen=True)
class PendingObject:
    """A source object whose last run failed (by objectGUID): the next runs read it again, by its
    objectGUID alone, until it succeeds, leaves scope or is deleted at the source."""

    source_guid: str
    source_dn: str
    code: int
    reason: str
    first_seen: datetime
    last_seen: datetime
    attempts: int  # the runs that tried it and failed, one after the other


@dataclass(frozen=True)
class RunRetention:
    """Which run records are kept: the last ``runs`` of each organization and every run of the last
    ``days`` (both at least), and always its last successful run; the rest is pruned after each run."""

    runs: int = 100
    days: int = 7


@dataclass(frozen=True)
class RunRecord:
    run_id: int
    started: datetime
    finished: datetime
    preview: bool
    outcome: str  # completed | errors | stopped
    report: str  # JSON: counts per action, errors per object


class SyncConfigStore(Protocol):
    def config(self, org: str) -> SyncConfig: ...
    def set_connection(self, org: str, connection: Connection, password: Secret) -> None: ...
    def remove_connection(self, org: str) -> bool: ...
    def connected(self) -> list[str]:
        """The organizations (objectGUIDs) that have a stored connection with its password."""
        ...

    def password(self, org: str) -> Secret | None:
        """The bind password in clear, for the runner alone (never answered by a procedure)."""
        ...

    def set_rules(self, org: str, rules: SyncRules) -> None: ...
    def holds(self, org: str) -> dict[str, Hold]: ...
    def hold(self, org: str, user_guid: str, reason: str) -> None: ...
    def release(self, user_guid: str) -> bool: ...
    def runs(self, org: str, *, limit: int = 10) -> list[RunRecord]: ...
    def pending(self, org: str, *, limit: int | None = None) -> dict[str, PendingObject]:
        """The organization's source objects whose last run failed, by objectGUID, oldest first
        (only the first ``limit``, if given)."""
        ...

    def pending_count(self, org: str) -> int:
        """How many of the organization's source objects failed in their last run."""
        ...

    def links(self, org: str, state: str | None = None) -> dict[str, Link]:
        """The organization's connector space, by source objectGUID (only the links in ``state``,
        if given)."""
        ...
