"""Accounts as AD keeps them: the userAccountControl flags procedures set."""

from __future__ import annotations

NORMAL_ACCOUNT = 0x200
ACCOUNT_DISABLED = 0x2
