"""Hardened request parsing: hostile documents are refused early, well-formed ones parse."""

from __future__ import annotations

import pytest
from lxml import etree

from openmps.engine.xmlsafe import XmlLimits, parse_document
from openmps.errors import MalformedRequest, RequestRejected, RequestTooLarge
from support import peak_memory_growth

XXE = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>"""
EXTERNAL_DTD = b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://evil.example/r.dtd"><r/>'


def test_plain_document_parses() -> None:
    root = parse_document(b"<request><data><a x='1'>t</a></data><!-- c --><?pi x?></request>")
    assert root.tag == "request"
    assert etree.tostring(root) == b'<request><data><a x="1">t</a></data></request>'


def test_str_input_parses_even_with_an_encoding_declaration() -> None:
    root = parse_document("<?xml version='1.0' encoding='UTF-8'?><r>\u00e9</r>")
    assert root.text == "\u00e9"


@pytest.mark.parametrize("document", [XXE, BILLION_LAUGHS, EXTERNAL_DTD], ids=["xxe", "laughs", "dtd"])
def test_dtds_are_rejected(document: bytes) -> None:
    with pytest.raises(RequestRejected, match="DTDs and entity declarations are not allowed"):
        parse_document(document)


def test_lowercase_or_utf16_doctype_is_rejected_too() -> None:
    with pytest.raises(RequestRejected, match="DTD"):
        parse_document(b"<!doctype r><r/>")
    with pytest.raises(RequestRejected, match="DTD"):
        parse_document(XXE.decode().replace('"1.0"?>', '"1.0" encoding="UTF-16"?>').encode("utf-16"))


def test_undeclared_entity_is_malformed_with_libxml2_message() -> None:
    with pytest.raises(MalformedRequest, match=r"Entity 'x' not defined \(line 1, column \d+\)"):
        parse_document(b"<r><a>&x;</a></r>")


def test_too_large_body_names_size_and_limit() -> None:
    limit = 10 * 1024 * 1024
    body = b"<r>" + b"a" * (limit + 1 - 7) + b"</r>"
    assert len(body) == limit + 1
    with pytest.raises(RequestTooLarge, match=f"{limit + 1} bytes.*{limit} bytes") as caught:
        parse_document(body)
    assert caught.value.fields == {"size": limit + 1, "limit": limit}


def test_size_of_str_is_counted_in_utf8_bytes() -> None:
    with pytest.raises(RequestTooLarge):
        parse_document("<r>" + "\u00e9" * 6 + "</r>", XmlLimits(max_bytes=16))


def test_depth_64_is_accepted_and_65_rejected() -> None:
    assert parse_document(b"<a>" * 64 + b"</a>" * 64) is not None
    with pytest.raises(RequestRejected, match="max_depth"):
        parse_document(b"<a>" * 65 + b"</a>" * 65)


def test_very_deep_document_is_rejected_by_our_limit_not_libxml2() -> None:
    with pytest.raises(RequestRejected, match="max_depth"):
        parse_document(b"<a>" * 5000 + b"</a>" * 5000)


def test_depth_counts_siblings_correctly() -> None:
    wide = b"<r>" + b"<a><b><c/></b></a>" * 100 + b"</r>"
    assert len(parse_document(wide, XmlLimits(max_depth=4))) == 100
    with pytest.raises(RequestRejected, match="max_depth"):
        parse_document(wide, XmlLimits(max_depth=3))


def test_too_many_elements() -> None:
    body = b"<r>" + b"<e/>" * 10 + b"</r>"
    assert len(parse_document(body, XmlLimits(max_elements=11))) == 10
    with pytest.raises(RequestRejected, match="max_elements"):
        parse_document(body, XmlLimits(max_elements=10))


def test_element_count_stops_streaming_early() -> None:
    body = b"<r>" + b"<e/>" * 600_000 + b"</r>"
    with pytest.raises(RequestRejected, match="more than 500000 elements"):
        parse_document(body)


def test_too_many_attributes() -> None:
    attrs = " ".join(f'a{i}="x"' for i in range(65))
    with pytest.raises(RequestRejected, match="max_attributes_per_element"):
        parse_document(f"<r {attrs}/>".encode())
    assert parse_document(f"<r {attrs.rsplit(' ', 1)[0]}/>".encode()).tag == "r"


def test_nul_byte_is_malformed() -> None:
    with pytest.raises(MalformedRequest, match=r"Char 0x0 out of allowed range.*line 1, column 4") as caught:
        parse_document(b"<r>\x00</r>")
    assert "Traceback" not in caught.value.description


@pytest.mark.parametrize("body", [b"hello", b"", b"<a><b></a>", b"<a/><b/>", "<a>\x00</a>"])
def test_non_xml_is_malformed(body: bytes | str) -> None:
    with pytest.raises(MalformedRequest, match="not well-formed XML"):
        parse_document(body)


def test_lone_surrogate_in_str_is_malformed() -> None:
    with pytest.raises(MalformedRequest, match="not valid Unicode"):
        parse_document("<a>\ud800</a>")


def test_utf16_with_bom_is_accepted() -> None:
    body = '<?xml version="1.0" encoding="UTF-16"?><request><data>\u00e9t\u00e9</data></request>'
    root = parse_document(body.encode("utf-16"))
    assert root.findtext("data") == "\u00e9t\u00e9"


@pytest.mark.parametrize(
    ("elements", "refusal"),
    [(2_750_000, "RequestTooLarge"), ((10 * 1024 * 1024 - 7) // 4, "RequestRejected")],
    ids=["10.5-MB", "just-under-10-MB"],
)
def test_a_document_of_millions_of_elements_is_refused_before_it_is_built(
    elements: int, refusal: str
) -> None:
    """Built whole, millions of <e/> take over 600 MB (about 230 bytes each); the size limit refuses
    a body over 10 MB before parsing, and the element count stops one under it at 500,000."""
    growth = peak_memory_growth(
        f"""
        from openmps.engine.xmlsafe import parse_document
        from openmps.errors import {refusal}
        body = b"<r>" + b"<e/>" * {elements} + b"</r>"
        """,
        f"""
        try:
            parse_document(body)
        except {refusal}:
            pass
        else:
            raise AssertionError("parsed")
        """,
    )
    assert growth < 150, f"the peak grew by {growth:.0f} MB"
