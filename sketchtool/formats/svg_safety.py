"""Safe loading of SVG bytes into an XML tree, before any SVG interpretation: file and gzip size limits, entity
and external-reference refusal (defusedxml plus an expansion budget), and `<use>`/nesting/size limits counted
over the expanded tree. Every refusal is a SketchtoolError whose `reason` is a key of REASONS. A `<use>` of
another document or of a missing id is dropped, as browsers skip it; nothing outside the file is ever opened."""

from __future__ import annotations

import os
import re
import zlib
from xml.etree import ElementTree as ET

from sketchtool.errors import SketchtoolError
from sketchtool.fileio import check_regular_file

__all__ = ["REASONS", "read_limited_bytes", "parse_svg_xml", "drop_unresolved_uses", "check_structure", "local_name",
           "one_line", "SVG_NS", "DEFAULT_MAX_BYTES"]

# reason code -> what it means; every SketchtoolError raised by the SVG reader carries one of these
REASONS = {
    "unreadable": "the file could not be opened or read",
    "too-large": "file, path data, element count, nesting, parsing work or point count over the limits",
    "gzip-bomb": ".svgz that decompresses past the byte limit",
    "bad-gzip": "corrupt or truncated gzip data",
    "malformed-xml": "not well-formed XML (truncated, mismatched tags, unknown encoding, ...)",
    "not-svg": "well-formed or binary content that is not an <svg> document",
    "entity": "entity or attribute-list declarations that could expand, read files or reach the network",
    "use-loop": "a <use> that (indirectly) references itself",
    "bad-coordinates": "NaN, infinite or absurdly large coordinates",
    "invalid-svg": "path data, transforms or lengths that cannot be interpreted",
    "empty": "nothing visible is drawn",
}
DEFAULT_MAX_BYTES = 16 * 2**20  # after gzip decompression too
MAX_ELEMENTS = 200_000  # elements after <use> expansion
MAX_PARSE_WORK = 10**8  # attribute and style-sheet characters svgelements reads, <use> expanded (~7 s at most)
MAX_DEPTH = 200  # svgelements recurses once per level
MAX_ENTITY_VALUE = 256  # simple internal entities (Adobe Illustrator's namespace names) are allowed up to this
MAX_ENTITY_EXPANSION = 2**20  # bytes all entity references and declared attribute defaults may add
MAX_DEFAULTED_ELEMENTS = 100  # elements given attribute defaults by <!ATTLIST> (KanjiVG: 1)
MAX_LISTED_USES = 10  # unresolved <use> references named one by one in a file's warnings

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_ENTITY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")


def read_limited_bytes(source: str | os.PathLike | bytes, name: str, max_bytes: int) -> bytes:
    """The file's (or given) bytes, gunzipped if they are gzip data; never more than `max_bytes` in memory."""
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        check_regular_file(source, name)
        try:
            with open(source, "rb") as f:
                data = f.read(max_bytes + 1)
        except OSError as e:
            raise SketchtoolError(f"{name}: cannot read the file ({e.strerror or e})", reason="unreadable") from None
    if len(data) > max_bytes:
        raise SketchtoolError(f"{name}: file larger than {max_bytes} bytes; split or simplify it", reason="too-large")
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(data, name, max_bytes)
    return data


def _gunzip(data: bytes, name: str, max_bytes: int) -> bytes:
    """Decompress in bounded chunks, so a gzip bomb costs at most `max_bytes` of memory."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error as e:
        raise SketchtoolError(f"{name}: corrupt gzip data ({one_line(e)}); re-export the .svgz",
                              reason="bad-gzip") from None
    if len(out) > max_bytes:
        raise SketchtoolError(f"{name}: decompresses to more than {max_bytes} bytes (gzip bomb?)", reason="gzip-bomb")
    if not inflater.eof:
        raise SketchtoolError(f"{name}: truncated gzip data; re-export the .svgz", reason="bad-gzip")
    return out


def parse_svg_xml(data: bytes, name: str) -> ET.Element:
    """Parse with defusedxml: external, parameter and nested entities are refused; simple ones and the default
    values of attribute-list declarations, which expat copies into every element they name, are budgeted."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import DefusedXMLParser

    class _Parser(DefusedXMLParser):
        expansion = 0

        def defused_entity_decl(self, entity, is_parameter, value, base, sysid, pubid, notation):
            self.expansion += _entity_cost(data, entity, is_parameter, value, name)
            if self.expansion > MAX_ENTITY_EXPANSION:
                raise SketchtoolError(f"{name}: entity references would expand past {MAX_ENTITY_EXPANSION} "
                                      "bytes (entity bomb?)", reason="entity")

    defaults: dict[str, int] = {}  # element name -> its start tags in the raw bytes

    def budget_attribute_default(element, attribute, kind, default, required):
        """expat copies a declared default into every element it names (KanjiVG declares short ones): counted,
        like entities, as its length times the elements that may take it (100 KB on every <g/>: gigabytes).
        Each element's tags are counted once, and only so many elements may get defaults: every count reads the
        whole file."""
        if not default:
            return
        if element not in defaults:
            if len(defaults) >= MAX_DEFAULTED_ELEMENTS:
                raise SketchtoolError(f"{name}: attribute defaults declared for more than {MAX_DEFAULTED_ELEMENTS} "
                                      "elements; SVG files do not need them", reason="entity")
            defaults[element] = data.count(b"<" + element.encode())
        parser.expansion += len(default) * defaults[element]
        if parser.expansion > MAX_ENTITY_EXPANSION:
            raise SketchtoolError(f"{name}: attribute defaults (<!ATTLIST {element} {attribute}>) and entities "
                                  f"would add more than {MAX_ENTITY_EXPANSION} bytes (a bomb?)", reason="entity")

    parser = _Parser(target=ET.TreeBuilder())
    parser.parser.AttlistDeclHandler = budget_attribute_default
    try:
        parser.feed(data)
        root = parser.close()
    except DefusedXmlException as e:
        raise SketchtoolError(f"{name}: refused entity or external reference ({type(e).__name__}); "
                              "SVG files must not declare entities", reason="entity") from None
    except (ET.ParseError, LookupError) as e:  # LookupError: an unknown encoding in the XML declaration
        if not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
            raise SketchtoolError(f"{name}: not an SVG file (no XML markup)", reason="not-svg") from None
        raise SketchtoolError(f"{name}: malformed XML ({one_line(e)}); fix or re-export the file",
                              reason="malformed-xml") from None
    if root.tag not in ("svg", f"{{{SVG_NS}}}svg"):
        raise SketchtoolError(f"{name}: root element is <{local_name(root.tag)}>, not <svg>", reason="not-svg")
    return root


def _entity_cost(data: bytes, entity: str, is_parameter: bool, value: str | None, name: str) -> int:
    """Bytes a simple internal entity adds to the document: its length times the references to it. Called at
    the declaration, before any reference is expanded; the references are counted in the raw bytes, so only
    ASCII names in an ASCII-compatible encoding qualify."""
    simple = (not is_parameter and value is not None and len(value) <= MAX_ENTITY_VALUE
              and "&" not in value and "%" not in value and _ENTITY_NAME.match(entity)
              and not data.startswith((b"\xff\xfe", b"\xfe\xff")) and b"\x00" not in data[:4])
    if not simple:
        raise SketchtoolError(f"{name}: entity {entity!r} is external, parametric, nested or too long; "
                              "SVG files must not need it", reason="entity")
    return data.count(b"&" + entity.encode() + b";") * len(value.encode())


def one_line(error: BaseException) -> str:
    """An exception's text fit for a one-line error message."""
    return " ".join(str(error).split())[:200]


def local_name(tag: str) -> str:
    """"{namespace}name" -> "name" (comments and processing instructions have no name)."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def drop_unresolved_uses(root: ET.Element) -> list[str]:
    """Remove every `<use>` whose href is not "#id" of an element of this file (another file, http:, file:, a
    missing id): a browser skips it and draws the rest. Returns one warning per distinct href (at most
    MAX_LISTED_USES, then a count). A `<use>` of a dropped `<use>` stays; svgelements draws nothing for it."""
    ids = {el.get("id") for el in root.iter() if el.get("id") is not None}
    parent_of = {id(child): parent for parent in root.iter() for child in parent}
    unresolved = [el for el in root.iter() if local_name(el.tag) == "use" and _local_id(el) not in ids]
    gone = {id(use) for use in unresolved}
    for parent in {id(parent_of[key]): parent_of[key] for key in gone}.values():
        parent[:] = [child for child in parent if id(child) not in gone]  # one rebuild per parent: not quadratic
    dropped: dict[str, int] = {}
    for use in unresolved:  # document order
        dropped[_href(use)] = dropped.get(_href(use), 0) + 1
    warnings = [f"<use> of {one_line(href) or 'nothing'!r} not drawn: not an element of this file"
                + (f" ({count} times)" if count > 1 else "") for href, count in list(dropped.items())[:MAX_LISTED_USES]]
    if len(dropped) > MAX_LISTED_USES:
        warnings.append(f"{len(dropped) - MAX_LISTED_USES} more unresolved <use> references not drawn")
    return warnings


def check_structure(root: ET.Element, name: str, max_points: int) -> None:
    """Refuse `<use>` loops, deep nesting and explosions before svgelements (which recurses per level and expands
    every `<use>`) sees the document. Counted over the tree with `<use>` expanded: elements, path data characters,
    and parsing work (attribute text, plus the whole style sheet, which svgelements re-reads for every element).
    A `<use>` without a target in the tree (see `drop_unresolved_uses`) counts nothing."""
    ids = {el.get("id"): el for el in root.iter() if el.get("id") is not None}
    style_chars = sum(len(el.text or "") for el in root.iter() if local_name(el.tag) == "style")
    totals: dict[int, tuple[int, int, int]] = {}  # id(element) -> (elements, path characters, work)
    visiting: set[int] = set()

    def expanded(el: ET.Element, depth: int) -> tuple[int, int, int]:
        key = id(el)
        if key in totals:
            return totals[key]
        if key in visiting:
            raise SketchtoolError(f"{name}: <use> references loop back to id {el.get('id')!r}", reason="use-loop")
        if depth > MAX_DEPTH:
            raise SketchtoolError(f"{name}: elements nested deeper than {MAX_DEPTH}", reason="too-large")
        visiting.add(key)
        parts = [expanded(child, depth + 1) for child in el]
        if local_name(el.tag) == "use" and _local_id(el) in ids:
            parts.append(expanded(ids[_local_id(el)], depth + 1))
        visiting.discard(key)
        path = len(el.get("d", "")) + len(el.get("points", ""))
        own = (1, path, sum(map(len, el.attrib.values())) + style_chars)
        total = tuple(sum(column) for column in zip(own, *parts))
        for value, limit, what in zip(total, (MAX_ELEMENTS, 5 * max_points, MAX_PARSE_WORK),
                                      ("elements", "characters of path data", "characters to parse")):
            if value > limit:
                raise SketchtoolError(f"{name}: more than {limit} {what} once <use> is expanded; split or "
                                      "simplify the file", reason="too-large")
        totals[key] = total
        return total

    expanded(root, 0)


def _href(use: ET.Element) -> str:
    return use.get("href", use.get(XLINK_HREF, "")).strip()  # svgelements prefers href, like SVG 2


def _local_id(use: ET.Element) -> str | None:
    """The id a `<use>` points at in this file ("#id"); None for another document or no href."""
    href = _href(use)
    return href[1:] if href.startswith("#") else None
