"""Arguments every namespace declares the same way."""

from __future__ import annotations

from typing import Annotated

from openmps.engine.declaration import Xml

# Every MPS procedure accepts a domain-controller hint; OpenMPS has one directory.
PreferredDC = Annotated[
    str | None, Xml("preferredDomainController", "accepted for MPS compatibility; OpenMPS has one directory")
]
