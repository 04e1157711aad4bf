"""Matrix rows of issue 16's procedures beyond Managed Active Directory (MPF Config, Error
Provider, the rest of the documented namespaces), kept apart so parallel work merges cleanly;
test_matrix.py adds them to its CASES and calls ``prepare`` on its world."""

from __future__ import annotations

from openmps.app import Deployment
from support import request_xml

EVERYONE = ("ok",) * 8


def mpf(namespace: str, procedure: str, /, **args: object) -> str:
    return request_xml(namespace, procedure, **args)


# SetError always fails with its code: inside a <try> the request succeeds for whoever may call it.
SET_ERROR_CAUGHT = (
    '<request><procedure><try><execute namespace="Error Provider" procedure="SetError"><executeData>'
    "<hr>0x80131509</hr></executeData></execute></try><catch/></procedure></request>"
)
TRANSLATE = '<executeData><errorMessageContext code="0x80070005"/>'

CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "GetNamespaces": (mpf("MPF Config", "GetNamespaces"), EVERYONE),
    "GetProcedures": (mpf("MPF Config", "GetProcedures", namespace="Hosted Exchange"), EVERYONE),
    "SetError": (SET_ERROR_CAUGHT, EVERYONE),
    "TranslateProvisioningError": (
        mpf("Error Provider", "TranslateProvisioningError").replace("<executeData>", TRANSLATE),
        EVERYONE,
    ),
    "TranslateUserError": (
        mpf("Error Provider", "TranslateUserError").replace("<executeData>", TRANSLATE),
        EVERYONE,
    ),
    "ReportEvent": (mpf("Error Provider", "ReportEvent", message="matrix"), EVERYONE),
}


def prepare(d: Deployment) -> None:
    """What these rows need in the matrix's world beyond what test_matrix.py builds."""
