"""Managed Active Directory on an OpenLDAP server: a user's lifecycle where a mail server or a
portal sees it.  A UPN rename moves the entry (modrdn) with its identity and mail, the new
password binds to the server, a disabled user cannot sign in through OpenMPS, a deleted one is
gone from the server."""

from __future__ import annotations

from ldap3 import SUBTREE
from test_ldap_deployment import ALPINE, SUFFIX, connect, deployment, he  # noqa: F401  (the fixture)

from openmps.app import Deployment
from openmps.errors import NotAuthenticated
from openmps.types import DN
from support import DirectoryServer, create_user, make_alpineskihouse, ok, request_xml

MAD = "Managed Active Directory"
NEW = "N3w-passw0rd!"


def found(server: DirectoryServer, ldap_filter: str) -> list[dict[str, object]]:
    admin = connect(server, server.bind_dn, server.password)
    admin.bind()
    try:
        admin.search(SUFFIX, ldap_filter, SUBTREE, attributes=["objectGUID", "sAMAccountName", "mail"])
        return list(admin.response)
    finally:
        admin.unbind()


def test_a_users_lifecycle_on_the_server(deployment: Deployment, openldap_fabrikam: DirectoryServer) -> None:  # noqa: F811
    make_alpineskihouse(deployment, exchange=True)
    create_user(deployment, ALPINE, "ann@alpineskihouse.com")
    path = DN.from_path(ALPINE).child("CN", "ann@alpineskihouse.com").ldap_path
    (before,) = found(openldap_fabrikam, "(userPrincipalName=ann@alpineskihouse.com)")
    renamed = ok(
        deployment.submit(
            request_xml(
                MAD, "ModifyUser", path=path, userPrincipalName="anna@alpineskihouse.com", title="Chef"
            )
        )
    )
    new_path = renamed.find("data/user").get("path")
    assert found(openldap_fabrikam, "(userPrincipalName=ann@alpineskihouse.com)") == []
    (after,) = found(openldap_fabrikam, "(userPrincipalName=anna@alpineskihouse.com)")
    assert str(after["dn"]).lower().startswith("cn=anna@alpineskihouse.com,")
    assert after["attributes"]["objectGUID"] == before["attributes"]["objectGUID"]  # type: ignore[index]
    assert after["attributes"]["sAMAccountName"] == before["attributes"]["sAMAccountName"]  # type: ignore[index]
    ok(deployment.submit(request_xml(MAD, "ChangeUserPassword", path=new_path, newPassword=NEW)))
    user = connect(openldap_fabrikam, str(after["dn"]), NEW)
    try:
        assert user.bind()
    finally:
        user.unbind()
    assert deployment.authenticator.authenticate("anna@alpineskihouse.com", NEW)
    ok(deployment.submit(request_xml(MAD, "DisableUser", path=new_path)))
    try:
        deployment.authenticator.authenticate("anna@alpineskihouse.com", NEW)
        raise AssertionError("a disabled user signed in")
    except NotAuthenticated:
        pass
    ok(deployment.submit(he("DeleteBusinessUser", path=new_path)))
    assert found(openldap_fabrikam, "(userPrincipalName=anna@alpineskihouse.com)") == []
