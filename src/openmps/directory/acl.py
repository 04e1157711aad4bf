"""DACLs: SDDL parsing and rendering, MPS/ADSI names, and Active Directory style access checks.

Every directory entry stores only the ``D:`` part of its security descriptor, as SDDL, e.g.
``D:P(A;CI;RPLCLO;;;S-1-5-21-1-2-3-1107)(OA;CIIO;GA;;bf967aba-0de6-11d0-a285-00aa003049e2;S-1-5-11)``.
Inherited ACEs are never stamped onto children: :func:`check_access` computes them from the
ancestors' DACLs on every check, so moving an entry or editing an ancestor takes effect at once.

Evaluation rules of :func:`check_access` (``chain`` is the target first, then each ancestor up to
the root, each with its DACL and its lower-cased objectClass names):

1. The effective ACE list of the target (level 0) is its own explicit ACEs except the
   INHERIT_ONLY ones; then, unless the target's DACL is protected, for each ancestor at level
   d = 1, 2, … (stopping after an ancestor whose DACL is protected): that ancestor's ACEs carrying
   CONTAINER_INHERIT or OBJECT_INHERIT (every AD object may inherit, so either flag reaches all
   descendants), minus those with NO_PROPAGATE_INHERIT when d > 1, minus those whose
   ``inherited_object_type`` is not the schemaIDGUID of one of the *target's* objectClasses.
2. ACEs with an ``object_type`` (property sets, extended rights, child classes) grant and deny
   nothing in this generic check; they are skipped.
3. Canonical order: explicit deny, explicit allow, then the inherited ACEs nearest ancestor first,
   deny before allow within each level.
4. Generic rights are mapped to the specific DS rights (in ``desired`` too).  Walking that list, a
   deny ACE whose trustee is in the token and whose rights meet the rights still needed denies;
   an allow ACE whose trustee is in the token removes its rights from those needed; access is
   granted as soon as nothing is needed, denied at the end of the list otherwise.
5. An empty chain, or an empty ``desired``, is denied (fail closed, as Windows' AccessCheck does).

The token is the caller's SIDs: the user's, its groups' (transitively) and the well-known SIDs the
caller has (Everyone, Authenticated Users, SELF when the caller is the target itself, …).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntFlag
from types import MappingProxyType
from uuid import UUID

from openmps.errors import InvalidArgument

__all__ = [
    "AUTHENTICATED_USERS",
    "CLASS_GUIDS",
    "EVERYONE",
    "SELF",
    "SYSTEM",
    "Ace",
    "AceFlag",
    "Dacl",
    "Right",
    "check_access",
    "effective_aces",
    "inheritance_from_name",
    "inheritance_name",
    "map_generic",
    "normalize_sid",
    "parse_sddl",
    "right_from_name",
    "right_names",
    "to_sddl",
]

EVERYONE = "S-1-1-0"
AUTHENTICATED_USERS = "S-1-5-11"
SELF = "S-1-5-10"
SYSTEM = "S-1-5-18"


class Right(IntFlag):
    """ADS_RIGHTS_ENUM: the access mask bits of a directory ACE."""

    DS_CREATE_CHILD = 0x1
    DS_DELETE_CHILD = 0x2
    ACTRL_DS_LIST = 0x4
    DS_SELF = 0x8
    DS_READ_PROP = 0x10
    DS_WRITE_PROP = 0x20
    DS_DELETE_TREE = 0x40
    DS_LIST_OBJECT = 0x80
    DS_CONTROL_ACCESS = 0x100
    DELETE = 0x10000
    READ_CONTROL = 0x20000
    WRITE_DAC = 0x40000
    WRITE_OWNER = 0x80000
    GENERIC_ALL = 0x10000000
    GENERIC_EXECUTE = 0x20000000
    GENERIC_WRITE = 0x40000000
    GENERIC_READ = 0x80000000


class AceFlag(IntFlag):
    """The inheritance flags of an ACE."""

    OBJECT_INHERIT = 0x1
    CONTAINER_INHERIT = 0x2
    NO_PROPAGATE_INHERIT = 0x4
    INHERIT_ONLY = 0x8
    INHERITED = 0x10


_MASK_LIMIT = 0xFFFFFFFF
_ALL_FLAGS = 0x1F
_NO_FLAGS = AceFlag(0)
_INHERITABLE = AceFlag.OBJECT_INHERIT | AceFlag.CONTAINER_INHERIT

# SDDL right codes, in rendering order (ascending bits, as the spec lists them).
_RIGHT_CODES: tuple[tuple[str, Right], ...] = (
    ("CC", Right.DS_CREATE_CHILD),
    ("DC", Right.DS_DELETE_CHILD),
    ("LC", Right.ACTRL_DS_LIST),
    ("SW", Right.DS_SELF),
    ("RP", Right.DS_READ_PROP),
    ("WP", Right.DS_WRITE_PROP),
    ("DT", Right.DS_DELETE_TREE),
    ("LO", Right.DS_LIST_OBJECT),
    ("CR", Right.DS_CONTROL_ACCESS),
    ("SD", Right.DELETE),
    ("RC", Right.READ_CONTROL),
    ("WD", Right.WRITE_DAC),
    ("WO", Right.WRITE_OWNER),
    ("GA", Right.GENERIC_ALL),
    ("GX", Right.GENERIC_EXECUTE),
    ("GW", Right.GENERIC_WRITE),
    ("GR", Right.GENERIC_READ),
)
_CODE_TO_RIGHT: dict[str, Right] = dict(_RIGHT_CODES)
_KNOWN_RIGHTS = sum(int(right) for _, right in _RIGHT_CODES)  # distinct bits: the sum is the union

_FLAG_CODES: tuple[tuple[str, AceFlag], ...] = (
    ("OI", AceFlag.OBJECT_INHERIT),
    ("CI", AceFlag.CONTAINER_INHERIT),
    ("NP", AceFlag.NO_PROPAGATE_INHERIT),
    ("IO", AceFlag.INHERIT_ONLY),
    ("ID", AceFlag.INHERITED),
)
_CODE_TO_FLAG: dict[str, AceFlag] = dict(_FLAG_CODES)

# The order MPS lists permissions in its responses (the Hosted Exchange samples' order).
_NAME_ORDER: tuple[Right, ...] = (
    Right.GENERIC_ALL,
    Right.GENERIC_READ,
    Right.GENERIC_WRITE,
    Right.GENERIC_EXECUTE,
    Right.READ_CONTROL,
    Right.ACTRL_DS_LIST,
    Right.DS_READ_PROP,
    Right.DS_LIST_OBJECT,
    Right.DS_WRITE_PROP,
    Right.WRITE_DAC,
    Right.WRITE_OWNER,
    Right.DS_SELF,
    Right.DS_CONTROL_ACCESS,
    Right.DS_CREATE_CHILD,
    Right.DS_DELETE_CHILD,
    Right.DS_DELETE_TREE,
    Right.DELETE,
)
_NAME_PREFIX = "ADS_RIGHT_"
_NAME_TO_RIGHT: dict[str, Right] = {_NAME_PREFIX + str(r.name): r for r in _NAME_ORDER}

_INHERITANCE_NAMES: dict[AceFlag, str] = {
    AceFlag(0): "NO_INHERITANCE",
    AceFlag.CONTAINER_INHERIT | AceFlag.OBJECT_INHERIT: "SUB_CONTAINERS_AND_OBJECTS_INHERIT",
    AceFlag.CONTAINER_INHERIT: "SUB_CONTAINERS_ONLY_INHERIT",
    AceFlag.OBJECT_INHERIT: "SUB_OBJECTS_ONLY_INHERIT",
}
_NAME_TO_INHERITANCE: dict[str, AceFlag] = {v: k for k, v in _INHERITANCE_NAMES.items()}

_SPECIFIC_ALL = Right(_KNOWN_RIGHTS) & ~(
    Right.GENERIC_ALL | Right.GENERIC_EXECUTE | Right.GENERIC_WRITE | Right.GENERIC_READ
)
_GENERIC_MAPPING: tuple[tuple[Right, Right], ...] = (
    (
        Right.GENERIC_READ,
        Right.READ_CONTROL | Right.ACTRL_DS_LIST | Right.DS_READ_PROP | Right.DS_LIST_OBJECT,
    ),
    (Right.GENERIC_WRITE, Right.READ_CONTROL | Right.DS_SELF | Right.DS_WRITE_PROP),
    (Right.GENERIC_EXECUTE, Right.READ_CONTROL | Right.ACTRL_DS_LIST),
    (Right.GENERIC_ALL, _SPECIFIC_ALL),
)

# SDDL SID aliases that do not depend on the domain.
_SID_ALIASES: dict[str, str] = {
    "WD": EVERYONE,
    "CO": "S-1-3-0",
    "AN": "S-1-5-7",
    "ED": "S-1-5-9",
    "PS": SELF,
    "AU": AUTHENTICATED_USERS,
    "SY": SYSTEM,
    "BA": "S-1-5-32-544",
    "BU": "S-1-5-32-545",
}
_SID_RE = re.compile(r"S-1-[0-9]+(?:-[0-9]+)*")
_HEX_RE = re.compile(r"0[xX]0*[0-9a-fA-F]{1,8}")
_GUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DECIMAL_RE = re.compile(r"[0-9]{1,4}")

CLASS_GUIDS: Mapping[str, UUID] = MappingProxyType(
    {
        "user": UUID("bf967aba-0de6-11d0-a285-00aa003049e2"),
        "group": UUID("bf967a9c-0de6-11d0-a285-00aa003049e2"),
        "organizationalunit": UUID("bf967aa5-0de6-11d0-a285-00aa003049e2"),
        "container": UUID("bf967a8b-0de6-11d0-a285-00aa003049e2"),
        "contact": UUID("5cb41ed0-0e4c-11d0-a286-00aa003049e2"),
        "computer": UUID("bf967a86-0de6-11d0-a285-00aa003049e2"),
        "domaindns": UUID("19195a5b-6da0-11d0-afd3-00c04fd930c9"),
    }
)


# --- names ----------------------------------------------------------------------------------------


def right_names(rights: Right) -> list[str]:
    """The ADSI names of ``rights`` in a stable order, for ``<permission>`` elements.

    Generic rights are named, not expanded, so a GENERIC_ALL ACE reads as MPS shows it.  Bits
    without a name (which SDDL hex masks may carry) come last as one ``0x…`` hex string, so nothing
    is silently dropped.
    """
    value = int(rights)
    names = [_NAME_PREFIX + str(r.name) for r in _NAME_ORDER if value & r]
    rest = value & ~_KNOWN_RIGHTS
    if rest:
        names.append(f"0x{rest:08x}")
    return names


def right_from_name(name: str) -> Right:
    """The right named ``name`` (``ADS_RIGHT_…``, or a ``0x…`` hex mask as :func:`right_names` gives)."""
    text = name.strip()
    right = _NAME_TO_RIGHT.get(text)
    if right is not None:
        return right
    if _HEX_RE.fullmatch(text):
        return Right(int(text, 16))
    raise InvalidArgument(f"Unknown permission {name!r}", permission=name)


def inheritance_name(flags: AceFlag) -> str:
    """The MPS ``<inheritance>`` value of ``flags``; unnamed combinations as a decimal string.

    The INHERITED bit is ignored: inheritance is computed, never recorded on an ACE.
    """
    value = AceFlag(int(flags) & ~AceFlag.INHERITED)
    return _INHERITANCE_NAMES.get(value, str(int(value)))


def inheritance_from_name(text: str) -> AceFlag:
    """The flags an MPS ``<inheritance>`` value stands for (a name or a decimal 0-15)."""
    stripped = text.strip()
    flags = _NAME_TO_INHERITANCE.get(stripped)
    if flags is not None:
        return flags
    if _DECIMAL_RE.fullmatch(stripped) and int(stripped) <= 0xF:
        return AceFlag(int(stripped))
    raise InvalidArgument(f"Unknown inheritance {text!r}", inheritance=text)


def normalize_sid(text: str) -> str:
    """``text`` as a full SID string, resolving the SDDL aliases (AU, WD, PS, SY, BA, …)."""
    sid = _SID_ALIASES.get(text, text)
    if not _SID_RE.fullmatch(sid):
        raise InvalidArgument(f"Not a SID: {text!r}", sid=text)
    return sid


def map_generic(rights: Right) -> Right:
    """``rights`` with every GENERIC_* bit replaced by the specific DS rights it stands for."""
    result = Right(int(rights))
    for generic, specific in _GENERIC_MAPPING:
        if result & generic:
            result = (result & ~generic) | specific
    return result


# --- ACEs and DACLs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ace:
    """One access control entry; ``trustee`` is always a full SID string."""

    allow: bool
    rights: Right
    trustee: str
    flags: AceFlag = _NO_FLAGS
    object_type: UUID | None = None
    inherited_object_type: UUID | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.rights, int) or not 0 <= int(self.rights) <= _MASK_LIMIT:
            raise InvalidArgument(f"Invalid access mask {self.rights!r}", rights=self.rights)
        if not isinstance(self.flags, int) or not 0 <= int(self.flags) <= _ALL_FLAGS:
            raise InvalidArgument(f"Invalid ACE flags {self.flags!r}", flags=self.flags)
        for name in ("object_type", "inherited_object_type"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, UUID):
                raise InvalidArgument(f"Invalid {name} {value!r}: not a UUID", **{name: value})
        if not isinstance(self.trustee, str) or not _SID_RE.fullmatch(self.trustee):
            raise InvalidArgument(f"Invalid trustee {self.trustee!r}: not a SID", trustee=self.trustee)
        object.__setattr__(self, "allow", bool(self.allow))
        object.__setattr__(self, "rights", Right(int(self.rights)))
        object.__setattr__(self, "flags", AceFlag(int(self.flags)))

    @classmethod
    def grant(
        cls,
        trustee: str,
        rights: Right,
        *,
        flags: AceFlag = _NO_FLAGS,
        object_type: UUID | None = None,
        inherited_object_type: UUID | None = None,
    ) -> Ace:
        """An allow ACE; ``trustee`` may be an SDDL alias."""
        return cls(True, rights, normalize_sid(trustee), flags, object_type, inherited_object_type)

    @classmethod
    def deny(
        cls,
        trustee: str,
        rights: Right,
        *,
        flags: AceFlag = _NO_FLAGS,
        object_type: UUID | None = None,
        inherited_object_type: UUID | None = None,
    ) -> Ace:
        """A deny ACE; ``trustee`` may be an SDDL alias."""
        return cls(False, rights, normalize_sid(trustee), flags, object_type, inherited_object_type)

    @property
    def inheritable(self) -> bool:
        """Whether descendants inherit this ACE (it carries CONTAINER_INHERIT or OBJECT_INHERIT)."""
        return bool(self.flags & _INHERITABLE)


@dataclass(frozen=True)
class Dacl:
    """An ordered list of ACEs; ``protected`` blocks inheritance from the ancestors."""

    aces: tuple[Ace, ...] = ()
    protected: bool = False

    def __post_init__(self) -> None:
        aces = tuple(self.aces)
        for ace in aces:
            if not isinstance(ace, Ace):
                raise InvalidArgument(f"Not an ACE: {ace!r}")
        object.__setattr__(self, "aces", aces)
        object.__setattr__(self, "protected", bool(self.protected))

    def with_ace(self, ace: Ace) -> Dacl:
        """This DACL with ``ace`` appended, unchanged if an equal ACE is already there (idempotent)."""
        if ace in self.aces:
            return self
        return Dacl((*self.aces, ace), self.protected)

    def without(self, predicate: Callable[[Ace], bool]) -> Dacl:
        """This DACL without the ACEs ``predicate`` holds for."""
        return Dacl(tuple(a for a in self.aces if not predicate(a)), self.protected)


# --- SDDL -----------------------------------------------------------------------------------------


def _split_codes(text: str, field: str, sddl: str) -> list[str]:
    if len(text) % 2:
        raise InvalidArgument(f"Malformed {field} {text!r} in SDDL {sddl!r}", sddl=sddl)
    return [text[i : i + 2] for i in range(0, len(text), 2)]


def _parse_rights(text: str, sddl: str) -> Right:
    if _HEX_RE.fullmatch(text):
        return Right(int(text, 16))
    if not text:
        raise InvalidArgument(f"Missing rights in SDDL {sddl!r}", sddl=sddl)
    value = 0
    for code in _split_codes(text, "rights", sddl):
        right = _CODE_TO_RIGHT.get(code)
        if right is None:
            raise InvalidArgument(f"Unknown right {code!r} in SDDL {sddl!r}", sddl=sddl, right=code)
        value |= right
    return Right(value)


def _parse_flags(text: str, sddl: str) -> AceFlag:
    value = 0
    for code in _split_codes(text, "ACE flags", sddl):
        flag = _CODE_TO_FLAG.get(code)
        if flag is None:
            raise InvalidArgument(f"Unknown ACE flag {code!r} in SDDL {sddl!r}", sddl=sddl, flag=code)
        value |= flag
    return AceFlag(value)


def _parse_guid(text: str, sddl: str) -> UUID | None:
    if not text:
        return None
    if not _GUID_RE.fullmatch(text):
        raise InvalidArgument(f"Malformed GUID {text!r} in SDDL {sddl!r}", sddl=sddl, guid=text)
    return UUID(text)


def _parse_ace(body: str, sddl: str) -> Ace:
    parts = body.split(";")
    if len(parts) != 6:
        raise InvalidArgument(f"Malformed ACE ({body}) in SDDL {sddl!r}", sddl=sddl, ace=body)
    kind, flags, rights, object_guid, inherit_guid, sid = parts
    if kind not in ("A", "D", "OA", "OD"):
        raise InvalidArgument(f"Unsupported ACE type {kind!r} in SDDL {sddl!r}", sddl=sddl, ace=body)
    object_type = _parse_guid(object_guid, sddl)
    inherited_object_type = _parse_guid(inherit_guid, sddl)
    if len(kind) == 1 and (object_type or inherited_object_type):
        raise InvalidArgument(f"GUIDs in a non-object ACE ({body}) in SDDL {sddl!r}", sddl=sddl, ace=body)
    try:
        trustee = normalize_sid(sid)
    except InvalidArgument:
        raise InvalidArgument(f"Invalid SID {sid!r} in SDDL {sddl!r}", sddl=sddl, sid=sid) from None
    return Ace(
        allow=kind.endswith("A"),
        rights=_parse_rights(rights, sddl),
        trustee=trustee,
        flags=_parse_flags(flags, sddl),
        object_type=object_type,
        inherited_object_type=inherited_object_type,
    )


def parse_sddl(text: str) -> Dacl:
    """Parse a ``D:`` SDDL string (``""`` is the empty DACL); anything else is InvalidArgument.

    Accepts the DACL flags P, AI and AR (only P is kept), ACE types A, D, OA and OD, rights as
    codes or a hex mask, and the domain-independent SID aliases.  Owner, group and SACL parts,
    conditional ACEs and audit ACEs are rejected: a stored DACL is only ever a ``D:`` part.
    """
    if not isinstance(text, str):
        raise InvalidArgument(f"SDDL must be a string, not {text!r}", sddl=text)
    if text == "":
        return Dacl()
    if not text.startswith("D:"):
        raise InvalidArgument(f"Not a DACL in SDDL {text!r}: it must start with 'D:'", sddl=text)
    pos = 2
    end = text.find("(", pos)
    head = text[pos:] if end < 0 else text[pos:end]
    protected = False
    i = 0
    while i < len(head):
        if head.startswith("P", i):
            protected = True
            i += 1
        elif head.startswith(("AI", "AR"), i):
            i += 2
        else:
            raise InvalidArgument(f"Unknown DACL flags {head!r} in SDDL {text!r}", sddl=text)
    pos += len(head)
    aces: list[Ace] = []
    while pos < len(text):
        if text[pos] != "(":
            raise InvalidArgument(f"Unexpected {text[pos:]!r} in SDDL {text!r}", sddl=text)
        close = text.find(")", pos)
        if close < 0:
            raise InvalidArgument(f"Unterminated ACE {text[pos:]!r} in SDDL {text!r}", sddl=text)
        body = text[pos + 1 : close]
        if "(" in body:
            raise InvalidArgument(f"Malformed ACE {text[pos:close]!r} in SDDL {text!r}", sddl=text)
        aces.append(_parse_ace(body, text))
        pos = close + 1
    return Dacl(tuple(aces), protected)


def _render_rights(rights: Right) -> str:
    value = int(rights)
    if value == 0 or value & ~_KNOWN_RIGHTS:
        return f"0x{value:x}"
    return "".join(code for code, right in _RIGHT_CODES if value & right)


def _render_ace(ace: Ace) -> str:
    is_object = ace.object_type is not None or ace.inherited_object_type is not None
    kind = ("O" if is_object else "") + ("A" if ace.allow else "D")
    flags = "".join(code for code, flag in _FLAG_CODES if ace.flags & flag)
    object_guid = str(ace.object_type) if ace.object_type else ""
    inherit_guid = str(ace.inherited_object_type) if ace.inherited_object_type else ""
    return f"({kind};{flags};{_render_rights(ace.rights)};{object_guid};{inherit_guid};{ace.trustee})"


def to_sddl(dacl: Dacl) -> str:
    """The canonical SDDL of ``dacl``, so equal DACLs store as equal strings."""
    return "D:" + ("P" if dacl.protected else "") + "".join(_render_ace(a) for a in dacl.aces)


# --- evaluation -----------------------------------------------------------------------------------


def _ordered(aces: list[tuple[Ace, int]]) -> list[tuple[Ace, int]]:
    # Explicit ACEs are level 0, so sorting by (level, allow) gives the canonical order; sorted()
    # is stable, keeping each DACL's own order within a group.
    return sorted(aces, key=lambda item: (item[1], item[0].allow))


def effective_aces(chain: Sequence[tuple[Dacl, frozenset[str]]]) -> list[tuple[Ace, int]]:
    """The ACEs that apply to ``chain[0]``, with their level (0 explicit), in canonical order.

    Rules 1 and 3 of the module docstring; ACEs with an object_type are kept (they apply, but only
    to the property set or right they name).
    """
    if not chain:
        return []
    target_dacl, target_classes = chain[0]
    class_guids = {CLASS_GUIDS[c.lower()] for c in target_classes if c.lower() in CLASS_GUIDS}
    result = [(a, 0) for a in target_dacl.aces if not a.flags & AceFlag.INHERIT_ONLY]
    if not target_dacl.protected:
        for level, (dacl, _classes) in enumerate(chain[1:], start=1):
            for ace in dacl.aces:
                if not ace.inheritable:
                    continue
                if level > 1 and ace.flags & AceFlag.NO_PROPAGATE_INHERIT:
                    continue
                if ace.inherited_object_type is not None and ace.inherited_object_type not in class_guids:
                    continue
                result.append((ace, level))
            if dacl.protected:
                break
    return _ordered(result)


def check_access(
    *,
    token: frozenset[str],
    chain: Sequence[tuple[Dacl, frozenset[str]]],
    desired: Right,
) -> bool:
    """Whether a caller with the SIDs ``token`` has every right in ``desired`` on ``chain[0]``.

    Follows the rules in the module docstring, which are those of Active Directory for the generic
    (non-object) part of a DACL.
    """
    needed = map_generic(desired)
    if not chain or not needed:
        return False
    for ace, _level in effective_aces(chain):
        if ace.object_type is not None or ace.trustee not in token:
            continue
        rights = map_generic(ace.rights)
        if not ace.allow:
            if rights & needed:
                return False
            continue
        needed &= ~rights
        if not needed:
            return True
    return False
