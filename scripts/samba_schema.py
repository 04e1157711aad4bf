"""What of OpenMPS's schema extension a live Samba DC lacks, as LDIF for ldapmodify (scripts/samba-dc.sh).

    samba_schema.py EXTENSION SCHEMADN URL BIND_DN PASSWORD_FILE

Reads the extension (schema/samba-extension.ldif) and the DC's schema entries it names (ldapsearch),
and prints only what is missing: an attribute or class not there is added whole; a class that is
there gains the mayContain values it lacks; an auxiliaryClass value is added where it is missing.
What is there is left alone (AD forbids changing most of a schema entry once made).  A
schemaUpdateNow follows each part that wrote anything, so the class sees its new attributes.
Prints nothing when the DC holds it all: a DC provisioned by an older checkout is brought up to
date at its next start, a current one is not touched.  Standard library only (the system Python).
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from dataclasses import dataclass, field


@dataclass
class Record:
    dn: str
    changetype: str
    lines: list[tuple[str, str]] = field(default_factory=list)  # (attribute, value) as written

    def values(self, name: str) -> list[str]:
        return [v for a, v in self.lines if a.lower() == name.lower()]


def parse_ldif(text: str) -> list[Record]:
    """The extension's records: unfolded, comments dropped, values as written ("::" kept raw)."""
    records: list[Record] = []
    for block in text.replace("\n ", "").split("\n\n"):
        lines = [line for line in block.splitlines() if line and not line.startswith("#")]
        if not lines or not lines[0].startswith("dn:"):
            continue
        dn = lines[0][3:].strip()
        changetype = "add"
        record = Record(dn, changetype)
        for line in lines[1:]:
            if line == "-":
                continue
            name, _, value = line.partition(":")
            if name == "changetype":
                record.changetype = value.strip()
                continue
            record.lines.append((name, value))
        records.append(record)
    return records


def server_entries(
    url: str, bind_dn: str, password_file: str, base: str, names: list[str]
) -> dict[str, Record]:
    """The schema entries ``names`` (their cn) under ``base``, by lower-cased DN."""
    # the extension's names hold no filter specials; a filter by name, as AD caps a search's size
    wanted = "(|" + "".join(f"(cn={name})" for name in names) + ")"
    found = subprocess.run(  # noqa: S603 (our own arguments)
        [  # noqa: S607 (ldap-utils on the PATH, as samba-dc.sh's own calls)
            "ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H", url, "-D", bind_dn, "-y", password_file,
            "-b", base, "-s", "one", wanted,
            "cn", "mayContain", "auxiliaryClass",
        ],
        capture_output=True, text=True, check=False,
        env={**os.environ, "LDAPTLS_REQCERT": "never"},
    )  # fmt: skip
    if found.returncode != 0:
        sys.exit(f"samba_schema.py: ldapsearch of {base} failed: {found.stderr.strip()}")
    entries: dict[str, Record] = {}
    for record in parse_ldif(found.stdout):
        dn = record.dn
        if dn.startswith(":"):  # dn:: base64
            dn = base64.b64decode(dn[1:].strip()).decode()
        entries[dn.lower()] = Record(dn, "entry", [(a, v.strip()) for a, v in record.lines])
    return entries


def missing(extension: list[Record], present: dict[str, Record]) -> list[str]:
    """The LDIF blocks that bring the DC up to the extension (none when nothing lacks)."""
    out: list[str] = []
    wrote = False
    for record in extension:
        have = present.get(record.dn.lower())
        if record.dn == "":  # the rootDSE's schemaUpdateNow: only after a part that wrote
            if wrote:
                out.append("dn:\nchangetype: modify\nadd: schemaUpdateNow\nschemaUpdateNow: 1\n-\n")
            wrote = False
            continue
        if record.changetype == "add":
            if have is None:
                body = "".join(f"{a}:{v}\n" for a, v in record.lines)
                out.append(f"dn: {record.dn}\nchangetype: add\n{body}")
                wrote = True
                continue
            held = {v.lower() for v in have.values("mayContain")}
            lacking = [v.strip() for v in record.values("mayContain") if v.strip().lower() not in held]
            if lacking:
                values = "".join(f"mayContain: {v}\n" for v in lacking)
                out.append(f"dn: {record.dn}\nchangetype: modify\nadd: mayContain\n{values}-\n")
                wrote = True
            continue
        if record.changetype == "modify":
            wanted = [v.strip() for v in record.values("auxiliaryClass")]
            if have is None:
                sys.exit(f"samba_schema.py: the DC has no {record.dn} to give an auxiliary class")
            held = {v.lower() for v in have.values("auxiliaryClass")}
            lacking = [v for v in wanted if v.lower() not in held]
            if lacking:
                values = "".join(f"auxiliaryClass: {v}\n" for v in lacking)
                out.append(f"dn: {record.dn}\nchangetype: modify\nadd: auxiliaryClass\n{values}-\n")
                wrote = True
            continue
        sys.exit(f"samba_schema.py: {record.dn}: changetype {record.changetype} is not one this applies")
    return out


def main(argv: list[str]) -> None:
    if len(argv) != 6:
        sys.exit("usage: samba_schema.py EXTENSION SCHEMADN URL BIND_DN PASSWORD_FILE")
    extension_file, schema_dn, url, bind_dn, password_file = argv[1:]
    with open(extension_file, encoding="utf-8") as f:
        extension = parse_ldif(f.read().replace("${SCHEMADN}", schema_dn))
    names = sorted({r.dn.split(",", 1)[0].partition("=")[2] for r in extension if r.dn})
    present = server_entries(url, bind_dn, password_file, schema_dn, names)
    sys.stdout.write("\n".join(missing(extension, present)))


if __name__ == "__main__":
    main(sys.argv)
