"""What differs by server, kept small.  OpenLDAP: OpenMPS writes objectGUID and objectSid itself
(as the SQL store assigns them), lists the auxiliary class that carries AD's attributes on
organizational units and the domain root, and writes ``sn`` where core.schema's ``person`` demands
it (AD's does not).  Samba AD assigns the identities itself (read back after the add)."""

from __future__ import annotations

from dataclasses import dataclass

HIDDEN_CLASSES = frozenset({"openmpscontainer"})
PERSON_CLASSES = frozenset({"person", "organizationalperson", "user", "contact", "inetorgperson"})
CONTAINER_CLASSES = frozenset({"organizationalunit", "domain"})


@dataclass(frozen=True)
class Flavour:
    name: str
    assigns_identity: bool  # the server assigns objectGUID/objectSid (AD)

    def adapted(self, attrs: dict[str, list[str]], rdn_value: str) -> dict[str, list[str]]:
        """``attrs`` (lower-cased keys) as this server's schema takes them."""
        if self.assigns_identity:
            return attrs
        classes = {v.lower() for v in attrs.get("objectclass", [])}
        if classes & CONTAINER_CLASSES and "openmpscontainer" not in classes and "domaindns" not in classes:
            attrs["objectclass"] = [*attrs["objectclass"], "openmpsContainer"]
        if classes & PERSON_CLASSES and "sn" not in attrs:
            attrs["sn"] = [rdn_value]
        return attrs

    def shown(self, classes: tuple[str, ...]) -> tuple[str, ...]:
        """An entry's objectClass values as OpenMPS shows them: without the auxiliary class
        :meth:`adapted` adds (AD has no such class)."""
        return tuple(c for c in classes if c.lower() not in HIDDEN_CLASSES)


OPENLDAP = Flavour("openldap", assigns_identity=False)
SAMBA = Flavour("samba", assigns_identity=True)
