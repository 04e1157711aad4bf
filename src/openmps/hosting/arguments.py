"""Arguments every namespace declares the same way."""

from __future__ import annotations

from typing import Annotated

from openmps.engine.declaration import Xml

# Every MPS procedure accepts a domain-controller hint; OpenMPS has one directory.
PreferredDC = Annotated[
    str | None, Xml("preferredDomainController", "accepted for MPS compatibility; OpenMPS has one directory")
]

# A user's names, as every procedure that makes or edits one takes them (one declaration each).
DisplayName = Annotated[str | None, Xml("displayName")]
GivenName = Annotated[str | None, Xml("givenName")]
MiddleName = Annotated[str | None, Xml("middleName")]
Surname = Annotated[str | None, Xml("sn", "surname")]
Initials = Annotated[str | None, Xml("initials")]
Description = Annotated[str | None, Xml("description")]
