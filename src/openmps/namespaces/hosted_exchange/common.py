"""What the Hosted Exchange procedures share: the namespace name."""

from __future__ import annotations

NAMESPACE = "Hosted Exchange"
