"""Managed Active Directory on a directory server (OpenLDAP and the Samba DC): a user's lifecycle where a mail server or a
portal sees it.  A UPN rename moves the entry (modrdn) with its identity and mail, the new
password binds to the server, a disabled user cannot sign in through OpenMPS, a deleted one is
gone from the server."""

from __future__ import annotations

from ldap3 import SUBTREE
from test_ldap_deployment import (  # noqa: F401  (the fixtures)
    ALPINE,
    Hosted,
    bind_names,
    can_bind,
    deployment,
    he,
    hosted,
)

from openmps.app import Deployment
from openmps.errors import NotAuthenticated
from openmps.types import DN
from support import create_user, make_alpineskihouse, ok, request_xml

MAD = "Managed Active Directory"
NEW = "N3w-passw0rd!"


def found(hosted: Hosted, ldap_filter: str) -> list[dict[str, object]]:  # noqa: F811
    admin = hosted.admin()
    try:
        admin.search(hosted.suffix, ldap_filter, SUBTREE, attributes=["objectGUID", "sAMAccountName", "mail"])
        return [e for e in admin.response if e.get("type") == "searchResEntry"]
    finally:
        admin.unbind()


def test_a_users_lifecycle_on_the_server(deployment: Deployment, hosted: Hosted) -> None:  # noqa: F811
    make_alpineskihouse(deployment, exchange=True)
    create_user(deployment, ALPINE, "ann@alpineskihouse.com")
    path = DN.from_path(ALPINE).child("CN", "ann@alpineskihouse.com").ldap_path
    (before,) = found(hosted, "(userPrincipalName=ann@alpineskihouse.com)")
    renamed = ok(
        deployment.submit(
            request_xml(
                MAD, "ModifyUser", path=path, userPrincipalName="anna@alpineskihouse.com", title="Chef"
            )
        )
    )
    new_path = renamed.find("data/user").get("path")
    assert found(hosted, "(userPrincipalName=ann@alpineskihouse.com)") == []
    (after,) = found(hosted, "(userPrincipalName=anna@alpineskihouse.com)")
    assert str(after["dn"]).lower().startswith("cn=anna@alpineskihouse.com,")
    assert after["attributes"]["objectGUID"] == before["attributes"]["objectGUID"]  # type: ignore[index]
    assert after["attributes"]["sAMAccountName"] == before["attributes"]["sAMAccountName"]  # type: ignore[index]
    ok(deployment.submit(request_xml(MAD, "ChangeUserPassword", path=new_path, newPassword=NEW)))
    for name, url in bind_names(hosted, "anna@alpineskihouse.com"):
        assert can_bind(hosted, name, url, NEW), (name, url)
    assert deployment.authenticator.authenticate("anna@alpineskihouse.com", NEW)
    ok(deployment.submit(request_xml(MAD, "DisableUser", path=new_path)))
    try:
        deployment.authenticator.authenticate("anna@alpineskihouse.com", NEW)
        raise AssertionError("a disabled user signed in")
    except NotAuthenticated:
        pass
    ok(deployment.submit(he("DeleteBusinessUser", path=new_path)))
    assert found(hosted, "(userPrincipalName=anna@alpineskihouse.com)") == []
