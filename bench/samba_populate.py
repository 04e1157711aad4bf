"""Add the benchmark's forest straight into a Samba DC's sam.ldb, through Samba's own module stack
(objectGUID, SID, USNs as over LDAP), in transactions of 1,000 objects, without LDAP's round
trips and per-add transaction.  Samba's Python bindings import only under the system's Python:

    /usr/bin/python3 bench/samba_populate.py DC_DIR SCOPE USERS CONTACTS GROUPS

It is what ``samba-tool ... -H sam.ldb`` does on a DC, beside the running samba.  The objects are
bench_sync_samba.populate's, name for name.
"""

from __future__ import annotations

import sys
import time

from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB

PER_TRANSACTION = 1000


def main() -> None:
    folder, scope = sys.argv[1], sys.argv[2]
    users, contacts, groups = (int(a) for a in sys.argv[3:6])
    lp = LoadParm()
    lp.load(f"{folder}/etc/smb.conf")
    db = SamDB(url=f"{folder}/private/sam.ldb", lp=lp, session_info=system_session())
    objects: list[dict[str, object]] = [{"dn": scope, "objectClass": "organizationalUnit"}]
    objects += [
        {
            "dn": f"CN=s{u},{scope}",
            "objectClass": "user",
            "sAMAccountName": f"s{u}",
            "mail": f"s{u}@bench.example",
            "displayName": f"Sync User {u}",
        }
        for u in range(users)
    ]
    objects += [
        {"dn": f"CN=c{c},{scope}", "objectClass": "contact", "mail": f"c{c}@partner.example"}
        for c in range(contacts)
    ]
    objects += [
        {
            "dn": f"CN=g{g},{scope}",
            "objectClass": "group",
            "sAMAccountName": f"g{g}",
            "groupType": "8",
            "member": [f"CN=s{m},{scope}" for m in range(g * 10, g * 10 + 10) if m < users],
        }
        for g in range(groups)
    ]
    started = time.perf_counter()
    for start in range(0, len(objects), PER_TRANSACTION):
        db.transaction_start()
        try:
            for item in objects[start : start + PER_TRANSACTION]:
                db.add({k: v for k, v in item.items() if v != []})
        except BaseException:
            db.transaction_cancel()
            raise
        db.transaction_commit()
    print(f"{len(objects) / (time.perf_counter() - started):.0f}")


if __name__ == "__main__":
    main()
