"""Generate ``docs/api/`` and ``docs/errors.md`` from the procedure registry and the error classes.

``python -m openmps.cli.docgen`` writes them; ``--check`` fails when the committed files differ,
so a procedure's signature cannot change without the change showing in review
(``docs/api/signatures.txt``).
"""

from __future__ import annotations

import re
import sys
from itertools import groupby
from pathlib import Path

from lxml import etree
from lxml.builder import ElementMaker

from openmps.app import registry
from openmps.engine.declaration import ArgSpec, ProcedureSpec, model_fields
from openmps.engine.results import Field, element_of, result_fields
from openmps.errors import all_error_classes

ROOT = Path(__file__).resolve().parents[3]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _arg_line(a: ArgSpec) -> str:
    notes = []
    if a.kind == "secret":
        notes.append("secret: never logged, masked in responses")
    if a.xml.not_yet:
        notes.append(f"not yet supported: {a.xml.not_yet}")
    text = "; ".join([a.xml.doc, *notes]) if a.xml.doc else "; ".join(notes)
    return f"| `{a.xml.name}` | {a.type_name} | {'yes' if a.required else 'no'} | {text} |"


def _models(specs: tuple[ArgSpec, ...]) -> list[type]:
    """The structured types of ``specs`` and of their fields, each once, outermost first."""
    found: list[type] = []
    for a in specs:
        if a.model is not None and a.model not in found:
            found.append(a.model)
            found += [m for m in _models(model_fields(a.model)) if m not in found]
    return found


def _field_line(a: ArgSpec) -> str:
    where = f"`{a.xml.name}`" if a.xml.name[:1] in ("@", ".") else f"`<{a.xml.name}>`"
    return f"| {where} | {a.type_name} | {'yes' if a.required else 'no'} | {a.xml.doc} |"


def _model_section(model: type) -> list[str]:
    doc = " ".join((model.__doc__ or "").split())
    return [
        f"`{model.__name__}`" + (f": {doc}" if doc else ""),
        "",
        "| field | type | required | notes |",
        "|---|---|---|---|",
        *(_field_line(a) for a in model_fields(model)),
        "",
    ]


def _procedure(spec: ProcedureSpec) -> list[str]:
    lines = [
        f"## {spec.name}",
        "",
        spec.doc,
        "",
        *(
            ["- **OpenMPS extension**: MPS documents no such procedure; OpenMPS adds it in MPS's style"]
            if spec.extension
            else []
        ),
        f"- access: {spec.access}, {spec.kind}",
        f"- role: {spec.requires.name} ({spec.requires.value})"
        + (f" on `{spec.scope}`" if spec.scope else ""),
        *([f"- DACL right on `{spec.scope}`: {spec.right}"] if spec.right else []),
        "",
        "| argument | type | required | notes |",
        "|---|---|---|---|",
        *(_arg_line(a) for a in spec.args),
        "",
    ]
    for model in _models(spec.args):
        lines += _model_section(model)
    lines += _result(spec.result)
    return lines


def _result(result: type | None) -> list[str]:
    """What the procedure answers: its result type, then each type of it once, outermost first."""
    if result is None:
        return ["Result: none (the response echoes the request).", ""]
    lines = [f"Result: `{result.__name__}`" + _where(result), ""]
    seen: list[type] = []
    pending = [result]
    while pending:
        model = pending.pop(0)
        if model in seen:
            continue
        seen.append(model)
        fields = result_fields(model)
        doc = " ".join((model.__doc__ or "").split())
        lines += [
            f"`{model.__name__}`" + (f": {doc}" if doc else ""),
            "",
            "| field | as | type | notes |",
            "|---|---|---|---|",
            *(_result_line(f) for f in fields),
            "",
        ]
        pending += [f.model for f in fields if f.model is not None]
        # a list whose items name their own elements holds subclasses of its declared type
        for f in fields:
            if f.model is not None and f.xml.item is None:
                pending += f.model.__subclasses__()
    return lines


def _where(model: type) -> str:
    tag = element_of(model)
    return f", answered as `<{tag}>`" if tag else ", its fields answered in `<executeData>`"


def _result_line(f: Field) -> str:
    name = f.xml.name
    if name.startswith("@"):
        where = f"`{name}`"
    elif name == ".":
        where = f"`<{f.xml.item}>` each" if f.xml.item else ("its fields" if f.model else "text")
    else:
        where = f"`<{name}>`" + (f" of `<{f.xml.item}>`" if f.xml.item else "")
    return f"| `{f.attr}` | {where} | {_result_type(f)} | {f.doc} |"


def _result_type(f: Field) -> str:
    if f.model is not None:
        return f"[{f.model.__name__}]" if f.kind == "models" else f.model.__name__
    return {"list": "[str]", "pairs": "name → text", "secret": "secret (masked)"}.get(f.kind, f.kind)


def _signature(spec: ProcedureSpec) -> str:
    args = " ".join(f"{a.xml.name}:{a.signature}{'!' if a.required else ''}" for a in spec.args)
    right = f" {spec.right}" if spec.right else ""
    right += " extension" if spec.extension else ""
    answer = spec.result.__name__ if spec.result is not None else "none"
    head = f"{spec.namespace}::{spec.name} [{spec.access} {spec.kind} {spec.requires.name}{right}]"
    return f"{head} {args} -> {answer}"


XS = "http://www.w3.org/2001/XMLSchema"
x = ElementMaker(namespace=XS, nsmap={"xs": XS})
# true/false/yes/no/1/0 in any case, or empty (an element that is present is a flag that is set)
BOOL_PATTERN = "([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[Yy][Ee][Ss]|[Nn][Oo]|1|0)?"
SIMPLE = {
    "str": "xs:string",
    "secret": "xs:string",
    "dn": "xs:string",
    "upn": "xs:string",
    "int": "xs:integer",
}


def _any_attribute() -> etree._Element:
    return x.anyAttribute(processContents="skip")  # do-not-log and the like


def _xsd_model(model: type) -> etree._Element:
    """A structured value's fields: child elements in any order, attributes, its own text."""
    fields = model_fields(model)
    children = []
    repeated = False  # items standing in the element itself: any number, so a choice, not an all
    for f in fields:
        if f.kind == "models" and f.xml.name == "." and f.model is not None:
            children.append(x.element(_xsd_model(f.model), name=f.xml.item))
            repeated = True
            continue
        if f.xml.name[:1] in ("@", "."):
            continue
        child = x.element(name=f.xml.name, minOccurs="1" if f.required else "0")
        if f.xml.doc:
            child.append(x.annotation(x.documentation(f.xml.doc)))
        child.append(_xsd_type(f))
        children.append(child)
    attributes = [
        x.attribute(name=f.xml.name[1:], type="xs:string", use="required" if f.required else "optional")
        for f in fields
        if f.xml.name.startswith("@")
    ]
    mixed = {"mixed": "true"} if any(f.xml.name == "." and f.kind != "models" for f in fields) else {}
    group = x.choice(*children, minOccurs="0", maxOccurs="unbounded") if repeated else x.all(*children)
    return x.complexType(group, *attributes, _any_attribute(), **mixed)


def _xsd_type(a: ArgSpec) -> etree._Element:
    if a.model is not None:
        if a.kind == "model":
            return _xsd_model(a.model)
        item = x.element(_xsd_model(a.model), name=a.xml.item, minOccurs="0", maxOccurs="unbounded")
        return x.complexType(x.sequence(item))
    if a.kind == "node":
        anything = x.any(processContents="skip", minOccurs="0", maxOccurs="unbounded")
        return x.complexType(x.sequence(anything), _any_attribute(), mixed="true")
    if a.kind == "list":
        item = x.element(name=a.xml.item or "item", type="xs:string", minOccurs="0", maxOccurs="unbounded")
        return x.complexType(x.sequence(item))
    if a.kind == "properties":
        value = x.element(name="value", type="xs:string", minOccurs="0", maxOccurs="unbounded")
        prop = x.complexType(
            x.sequence(value),
            x.attribute(name="name", type="xs:string", use="required"),
            x.attribute(name="mode", type="xs:string"),
            mixed="true",
        )
        return x.complexType(
            x.sequence(x.element(prop, name="property", minOccurs="0", maxOccurs="unbounded"))
        )
    base = "bool" if a.kind == "bool" else SIMPLE.get(a.kind, "xs:string")
    return x.complexType(x.simpleContent(x.extension(_any_attribute(), base=base)))


def xsd(spec: ProcedureSpec) -> str:
    """An XML Schema of the procedure's ``<executeData>``, derived from its declaration."""
    arguments = []
    for a in spec.args:
        element = x.element(name=a.xml.name, minOccurs="1" if a.required else "0")
        if a.xml.doc:
            element.append(x.annotation(x.documentation(a.xml.doc)))
        element.append(_xsd_type(a))
        arguments.append(element)
    schema = x.schema(
        etree.Comment(f" {spec.namespace}::{spec.name}: generated from its declaration, do not edit "),
        x.simpleType(x.restriction(x.pattern(value=BOOL_PATTERN), base="xs:string"), name="bool"),
        x.element(x.complexType(x.all(*arguments), _any_attribute()), name="executeData"),
        elementFormDefault="unqualified",
    )
    return etree.tostring(schema, pretty_print=True, xml_declaration=True, encoding="utf-8").decode()


def render() -> dict[Path, str]:
    files: dict[Path, str] = {}
    specs = list(registry())
    index = [
        "# API reference",
        "",
        "Generated by `python -m openmps.cli.docgen` from the procedure declarations.",
        "",
    ]
    for namespace, group in groupby(specs, key=lambda s: s.namespace):
        group_list = list(group)
        name = f"{_slug(namespace)}.md"
        index.append(f"- [{namespace}]({name}): " + ", ".join(s.name for s in group_list))
        body = [f"# {namespace}", ""]
        for spec in group_list:
            body += _procedure(spec)
        files[ROOT / "docs" / "api" / name] = "\n".join(body).rstrip() + "\n"
        for spec in group_list:
            files[ROOT / "docs" / "api" / "schemas" / _slug(namespace) / f"{spec.name}.xsd"] = xsd(spec)
    files[ROOT / "docs" / "api" / "README.md"] = "\n".join(index) + "\n"
    files[ROOT / "docs" / "api" / "signatures.txt"] = "\n".join(_signature(s) for s in specs) + "\n"
    errors = [
        "# Error codes",
        "",
        'Every error answers `<errorContext code="…" description="…">` with an `<errorSource>` stack;',
        "over HTTP the status code tells the class. Generated from `openmps.errors`.",
        "",
        "| class | code | HTTP | meaning |",
        "|---|---|---|---|",
    ]
    for cls in all_error_classes():
        doc = (cls.__doc__ or cls.title).strip().splitlines()[0]
        errors.append(f"| `{cls.__name__}` | `0x{cls.code:08X}` | {cls.http_status} | {doc} |")
    files[ROOT / "docs" / "errors.md"] = "\n".join(errors) + "\n"
    return files


def main(argv: list[str]) -> int:
    files = render()
    if "--check" in argv:
        stale = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)} (run: python -m openmps.cli.docgen)", file=sys.stderr)
        return 1 if stale else 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
