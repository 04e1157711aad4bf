"""What a source object becomes in the organization, declared as data (seed 004's defaults).

Users with a ``mail`` value become logon-disabled business users with a mailbox (the default
mailbox rule: ``mail`` present); users without one are not provisioned, and the run says why.
Contacts become contacts, distribution groups distribution lists.  Which source attributes flow
to which argument of the creating procedure is the table ``FLOW``, not code.
"""

from __future__ import annotations

from dataclasses import dataclass

from openmps.sync.source import CONTACT, GROUP, USER, SourceObject

SECURITY_ENABLED = 0x80000000  # groupType: a security group (else a distribution group)

# source attribute -> argument of the creating procedure, per kind
FLOW: dict[str, dict[str, str]] = {
    USER: {"displayName": "displayName", "givenName": "givenName", "sn": "sn", "initials": "initials"},
    CONTACT: {"displayName": "displayName"},
    GROUP: {"displayName": "displayName", "description": "description"},
}


@dataclass(frozen=True)
class Verdict:
    """In scope (``why`` empty) or not, and why not."""

    why: str = ""

    @property
    def provisioned(self) -> bool:
        return not self.why


def judge(obj: SourceObject) -> Verdict:
    if obj.kind == USER:
        if not obj.first("mail"):
            return Verdict("a user without mail is not provisioned (no identity-only objects)")
        return Verdict()
    if obj.kind == CONTACT:
        if not obj.first("mail"):
            return Verdict("a contact without mail has nothing to forward to")
        return Verdict()
    if obj.kind == GROUP:
        group_type = int(obj.first("groupType") or "0") & 0xFFFFFFFF
        if group_type & SECURITY_ENABLED:
            return Verdict("security groups are not synced yet")
        return Verdict()
    return Verdict(f"objects of kind {obj.kind} are not synced")


def flowed(obj: SourceObject) -> dict[str, str]:
    """The procedure arguments the source's attributes give, by ``FLOW``."""
    return {arg: value for attr, arg in FLOW.get(obj.kind, {}).items() if (value := obj.first(attr))}
