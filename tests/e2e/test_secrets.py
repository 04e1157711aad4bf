"""A secret argument is masked in ``executeData`` as soon as the procedure has bound it, not only by
the element-name sweep of the response: an ``<after>`` transform that copies it under another name
carries out the mask, never the value."""

from __future__ import annotations

from lxml import etree

from openmps.types import DN
from support import World, he, ok, org_path

ASH = org_path("WH", "alpineskihouse")
XSL = 'xmlns:xsl="http://www.w3.org/1999/XSL/Transform"'
SECRET = "Copied-Passw0rd-canary"


def create_user_copying(element: str) -> str:
    """CreateBusinessUser whose ``<after>`` copies the text of ``element`` into ``<copied>``."""
    request = he(
        "CreateBusinessUser",
        container=ASH,
        userPrincipalName="carol@alpineskihouse.com",
        isAdmin=False,
        newPassword=SECRET,
    )
    after = (
        f'<after source="executeData" destination="data" mode="merge" {XSL}>'
        '<xsl:template match="/executeData">'
        f'<out><copied><xsl:value-of select="{element}"/>|<xsl:value-of select="{element}/@do-not-log"/>'
        "</copied></out></xsl:template></after>"
    )
    document = request.replace('<after source="executeData" destination="data" mode="merge"/>', after)
    assert after in document
    return document


def test_a_password_copied_under_another_name_by_an_after_transform_is_masked(world: World) -> None:
    response = ok(world.submit(create_user_copying("newPassword"), "customer_admin"))
    text = etree.tostring(response, encoding="unicode")
    assert SECRET not in text, text
    # what the transform read was the masked element: no text, and its marker
    assert response.findtext("data/copied") == "|1"


def test_an_element_the_client_marked_is_masked_once_bound_too(world: World) -> None:
    document = create_user_copying("displayName").replace(
        "<isAdmin>", '<displayName do-not-log="1">Marked-Canary</displayName><isAdmin>'
    )
    response = ok(world.submit(document, "customer_admin"))
    assert "Marked-Canary" not in etree.tostring(response, encoding="unicode")
    assert response.findtext("data/copied") == "|1"
    # the procedure bound the value before it was masked
    with world.deployment.transaction() as providers:
        user = providers.directory.get(DN.from_path(ASH).child("CN", "carol@alpineskihouse.com"))
    assert user.first("displayName") == "Marked-Canary"
