"""The feature types and sample plans a new deployment starts with, so the seed documents run.

The MPS documents name BaseMail, GoldMail and PlatinumMailPlus without publishing their features
(reference §6 gap); these are ours, documented in docs/plans.md. GoldMail matches seed 003's
sample output (20,000 KB, POP/IMAP/HTTP on, msExchMailboxFolderSet 108303).
"""

from __future__ import annotations

from openmps.plans.interface import MAIL, MAILBOX_PLAN, PROPERTIES, SIP, SIP_PLAN, FeatureType, PlanCatalogue

FEATURE_TYPES = (
    FeatureType("MailboxSize", "mailbox size in KB", "size", MAIL, "int"),
    FeatureType("DisablePOP", "1 turns POP3 off", "disablePOP", MAIL, "bool"),
    FeatureType("DisableIMAP", "1 turns IMAP4 off", "disableIMAP", MAIL, "bool"),
    FeatureType("DisableHTTP", "1 turns Outlook Web Access off", "disableHTTP", MAIL, "bool"),
    FeatureType("MailboxFolderSet", "OWA folder set", "msExchMailboxFolderSet", PROPERTIES, "int"),
    FeatureType(
        "ShowInAddressLists",
        "1: full Outlook, the org's own address lists",
        "showInAddressLists",
        MAIL,
        "bool",
    ),
)

SAMPLE_PLANS = (
    (
        "ConsumerMail",
        "HeConsumer",
        "5 MB consumer mailbox, POP3 and web access",
        {
            "MailboxSize": "5000",
            "DisablePOP": "0",
            "DisableIMAP": "1",
            "DisableHTTP": "0",
            "MailboxFolderSet": "108303",
        },
    ),
    (
        "BaseMail",
        "HeBusiness",
        "10 MB mailbox, POP3 and web access",
        {
            "MailboxSize": "10000",
            "DisablePOP": "0",
            "DisableIMAP": "1",
            "DisableHTTP": "0",
            "MailboxFolderSet": "108303",
        },
    ),
    (
        "GoldMail",
        "HeBusiness",
        "20 MB mailbox, POP3, IMAP4 and web access",
        {
            "MailboxSize": "20000",
            "DisablePOP": "0",
            "DisableIMAP": "0",
            "DisableHTTP": "0",
            "MailboxFolderSet": "108303",
        },
    ),
    (
        "PlatinumMailPlus",
        "HeBusiness",
        "50 MB mailbox, every protocol, full Outlook with the organization's address lists",
        {
            "MailboxSize": "50000",
            "DisablePOP": "0",
            "DisableIMAP": "0",
            "DisableHTTP": "0",
            "MailboxFolderSet": "108303",
            "ShowInAddressLists": "1",
        },
    ),
)


# Office Communications Server: a plan's features are the options CreateSipUser takes.
SIP_FEATURE_TYPES = (
    FeatureType("SipEnhancedPresence", "enhanced presence", "enabledForEnhancedPresence", SIP, "bool"),
    FeatureType("SipFederation", "IM with federated partners", "enabledForFederation", SIP, "bool"),
    FeatureType("SipInternetAccess", "remote (internet) access", "enabledForInternetAccess", SIP, "bool"),
    FeatureType("SipPublicIM", "public IM networks", "publicNetworkEnabled", SIP, "bool"),
    FeatureType(
        "SipAnonymousMeetings",
        "meetings with anonymous participants",
        "allowOrganizeMeetingWithAnonymousParticipants",
        SIP,
        "bool",
    ),
    FeatureType("SipMeetingPolicy", "meeting policy name", "meetingPolicy", SIP, "string"),
)
SAMPLE_SIP_PLANS = (
    (
        "BasicIM",
        "OcsBusiness",
        "IM and enhanced presence inside the organization",
        {"SipEnhancedPresence": "1"},
    ),
    (
        "FederatedIM",
        "OcsBusiness",
        "IM and presence, federation, public IM and remote access",
        {"SipEnhancedPresence": "1", "SipFederation": "1", "SipInternetAccess": "1", "SipPublicIM": "1"},
    ),
)


def seed(catalogue: PlanCatalogue) -> None:
    """Every sample feature type and plan (``openmps init``)."""
    seed_mail(catalogue)
    seed_sip(catalogue)


def seed_mail(catalogue: PlanCatalogue) -> None:
    """The mailbox feature types and sample plans (Hosted Exchange's InitializeCustomerPlanDatabase)."""
    _seed(catalogue, FEATURE_TYPES, MAILBOX_PLAN, SAMPLE_PLANS)


def seed_sip(catalogue: PlanCatalogue) -> None:
    """The IM feature types and sample plans (Hosted OCS's Initialize, for older deployments)."""
    _seed(catalogue, SIP_FEATURE_TYPES, SIP_PLAN, SAMPLE_SIP_PLANS)


def _seed(
    catalogue: PlanCatalogue,
    features: tuple[FeatureType, ...],
    plan_type: str,
    plans: tuple[tuple[str, str, str, dict[str, str]], ...],
) -> None:
    """Add what is missing of ``features`` and ``plans``; what is there already stays (idempotent)."""
    known = {f.name.casefold() for f in catalogue.feature_types()}
    for feature in features:
        if feature.name.casefold() not in known:
            catalogue.add_feature_type(feature)
    existing = {p.name.casefold() for p in catalogue.plans()}
    for name, category, description, values in plans:
        if name.casefold() not in existing:
            catalogue.add_plan(
                name=name,
                plan_type=plan_type,
                category=category,
                description=description,
                features=list(values.items()),
            )
