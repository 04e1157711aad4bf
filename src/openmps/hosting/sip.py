"""What a SIP user is in the directory: its ``msRTCSIP-*`` attributes and the options a caller may give.

Managed OCS writes them; Hosted OCS applies plans of them and calls Managed OCS through the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from openmps.engine.declaration import Xml
from openmps.engine.results import flag
from openmps.hosting.arguments import PreferredDC
from openmps.types import DN

ENABLED = "msRTCSIP-UserEnabled"
FEDERATION = "msRTCSIP-FederationEnabled"
INTERNET = "msRTCSIP-InternetAccessEnabled"
OPTIONS = "msRTCSIP-OptionFlags"
POLICY = "msRTCSIP-UserPolicy"
INSTANCE = "msRTCSIP-InstanceId"
# msRTCSIP-OptionFlags bits, as OCS 2007 defines them
PUBLIC_IM, ANONYMOUS_MEETINGS, ENHANCED_PRESENCE = 0x1, 0x40, 0x100


class SipOptionArgs:
    """A SIP user's options as arguments (Managed and Hosted OCS); None: not given."""

    preferred_dc: PreferredDC = None
    enhanced_presence: Annotated[bool | None, Xml("enabledForEnhancedPresence", "enhanced presence")] = None
    federation: Annotated[bool | None, Xml("enabledForFederation", "IM with federated partners")] = None
    internet_access: Annotated[bool | None, Xml("enabledForInternetAccess", "remote (internet) access")] = (
        None
    )
    public_network: Annotated[bool | None, Xml("publicNetworkEnabled", "public IM networks")] = None
    anonymous_meetings: Annotated[
        bool | None,
        Xml("allowOrganizeMeetingWithAnonymousParticipants", "meetings with anonymous participants"),
    ] = None
    meeting_policy: Annotated[str | None, Xml("meetingPolicy", "name of the meeting policy")] = None

    def given(self) -> dict[str, object]:
        """The options given, by their MPS names."""
        values = {
            "enabledForEnhancedPresence": self.enhanced_presence,
            "enabledForFederation": self.federation,
            "enabledForInternetAccess": self.internet_access,
            "publicNetworkEnabled": self.public_network,
            "allowOrganizeMeetingWithAnonymousParticipants": self.anonymous_meetings,
            "meetingPolicy": self.meeting_policy,
        }
        return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True)
class SipUser:
    """A SIP user as Managed OCS answers it (Create/Set/GetSipUserProperties); Hosted OCS adds the
    user's IM plan."""

    XML_ELEMENT: ClassVar[str] = "sipUser"
    path: Annotated[DN, Xml("@path")]
    primary_uri: Annotated[str, Xml("primaryURI")]
    enabled: Annotated[bool, Xml("enabled", show=flag)]
    enhanced_presence: Annotated[bool, Xml("enabledForEnhancedPresence", show=flag)]
    federation: Annotated[bool, Xml("enabledForFederation", show=flag)]
    internet_access: Annotated[bool, Xml("enabledForInternetAccess", show=flag)]
    public_network: Annotated[bool, Xml("publicNetworkEnabled", show=flag)]
    anonymous_meetings: Annotated[bool, Xml("allowOrganizeMeetingWithAnonymousParticipants", show=flag)]
    meeting_policy: Annotated[str, Xml("meetingPolicy")]
    home_server: Annotated[str, Xml("homeServerDN", "the pool's DN")]
    instance_id: Annotated[str, Xml("instanceID")]
    target_server_if_moving: Annotated[str, Xml("targetServerDNIfMoving")] = ""
    plan_name: Annotated[str | None, Xml("planName", "Hosted OCS: the user's IM plan")] = None


@dataclass(frozen=True)
class SipDomain:
    """A SIP domain of an organization (CreateSipDomain with its path; GetSipDomains)."""

    XML_ELEMENT: ClassVar[str] = "sipDomain"
    name: Annotated[str, Xml("@name")]
    owner: Annotated[str, Xml("@owner", "Tenant: the organization's own; Parent: its reseller's")]
    path: Annotated[DN | None, Xml("@path")] = None
