"""How much of the documented MPS API OpenMPS answers: ``python -m openmps.cli.coverage``.

``docs/api/documented.txt`` lists the procedures the reference documents (``Namespace::Procedure
§section``); the registry is what this release answers.  The report gives answered/documented per
namespace, the namespaces OpenMPS has apart from those it has none of, and what is missing.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from openmps.app import registry
from openmps.engine.declaration import Registry
from openmps.errors import UnknownProcedure

DOCUMENTED = Path(__file__).resolve().parents[3] / "docs" / "api" / "documented.txt"
_LINE = re.compile(r"(?P<namespace>[^:#\s][^:#]*?)::(?P<name>[A-Za-z0-9_]+)\s+(?P<section>§[0-9.]+)")


@dataclass(frozen=True)
class Documented:
    namespace: str
    name: str
    section: str  # where the reference names it, e.g. §2.4


@dataclass(frozen=True)
class NamespaceCoverage:
    namespace: str
    answered: tuple[Documented, ...]
    missing: tuple[Documented, ...]

    @property
    def documented(self) -> int:
        return len(self.answered) + len(self.missing)


def parse(lines: Iterable[str]) -> list[Documented]:
    """The documented procedures of ``lines``; blank lines and ``#`` comments are skipped, and any
    other line that is not ``Namespace::Procedure §section`` is an error naming it."""
    found: list[Documented] = []
    seen: set[tuple[str, str]] = set()
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        match = _LINE.fullmatch(text)
        if match is None:
            raise ValueError(f"line {number}: {text!r} is not 'Namespace::Procedure §section'")
        item = Documented(match["namespace"], match["name"], match["section"])
        key = (item.namespace.casefold(), item.name.casefold())
        if key in seen:
            raise ValueError(f"line {number}: {item.namespace}::{item.name} is listed twice")
        seen.add(key)
        found.append(item)
    return found


def answers(procedures: Registry, item: Documented) -> bool:
    """Whether a client calling ``item`` gets a procedure (private ones are no API)."""
    try:
        return procedures.get(item.namespace, item.name).access == "public"
    except UnknownProcedure:
        return False


def coverage(documented: list[Documented], procedures: Registry) -> list[NamespaceCoverage]:
    by_namespace: dict[str, list[Documented]] = {}
    for item in documented:
        by_namespace.setdefault(item.namespace, []).append(item)
    return [
        NamespaceCoverage(
            namespace,
            tuple(i for i in items if answers(procedures, i)),
            tuple(i for i in items if not answers(procedures, i)),
        )
        for namespace, items in by_namespace.items()
    ]


def report(rows: list[NamespaceCoverage]) -> str:
    has = [r for r in rows if r.answered]
    lacks = [r for r in rows if not r.answered]
    width = max(len(r.namespace) for r in rows)
    lines = []
    for title, group in (("namespaces OpenMPS answers", has), ("namespaces it does not", lacks)):
        answered = sum(len(r.answered) for r in group)
        lines.append(f"{title}: {answered}/{sum(r.documented for r in group)}")
        for r in group:
            missing = ", ".join(i.name for i in r.missing)
            tail = f"  missing: {missing}" if missing else ""
            lines.append(f"  {r.namespace:<{width}}  {len(r.answered):>3}/{r.documented:<3}{tail}".rstrip())
    total = sum(len(r.answered) for r in rows)
    lines.append(f"all documented: {total}/{sum(r.documented for r in rows)}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else DOCUMENTED
    try:
        documented = parse(path.read_text(encoding="utf-8").splitlines())
    except (OSError, ValueError) as error:
        print(f"{path}: {error}", file=sys.stderr)
        return 2
    sys.stdout.write(report(coverage(documented, registry())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
