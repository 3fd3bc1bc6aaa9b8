"""Documents to article text and metadata: HTML (trafilatura), PDF (pypdf), plain text.

Invariants: the text returned has one paragraph per block, separated by a blank line, ready
for ``index.text.clean``; the page's own headline is not part of the text (it is the title);
nothing here touches the network.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
from dataclasses import dataclass
from pathlib import PurePath

from index.errors import InvalidInput

log = logging.getLogger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
FILE_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".text", ".html", ".htm", ".pdf"})
_WORDS = re.compile(r"\w+")
# Byte-order marks that name an encoding outright (UTF-32's before UTF-16's: they overlap).
_UNICODE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# C0 control bytes that text does not hold (tab, line breaks, form feed, escape and the DOS
# end-of-file mark are allowed): random or binary data has about one in eleven bytes.
_CONTROL_BYTES = re.compile(rb"[\x01-\x08\x0e-\x19\x1c-\x1f]")


@dataclass(frozen=True, slots=True)
class Extracted:
    """An article's text and what is known about it."""

    text: str
    title: str | None = None
    author: str | None = None
    published: str | None = None
    site: str | None = None
    canonical_url: str | None = None
    language: str | None = None

    @property
    def words(self) -> int:
        """Number of words in the text."""
        return len(_WORDS.findall(self.text))


def decode_text(data: bytes, name: str, charset: str | None = None) -> str:
    """Decode text bytes: the declared charset, else UTF-8, else the detected encoding.

    Raises:
        InvalidInput: The bytes are binary or in no recognisable encoding.
    """
    for bom, codec in _UNICODE_BOMS:  # Windows Notepad's "Unicode" is UTF-16 with a BOM
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                raise InvalidInput(f"{name} starts as {codec} text but is not") from None
    sample = data[:4096]
    if b"\x00" in sample or len(_CONTROL_BYTES.findall(sample)) > max(1, len(sample) // 100):
        raise InvalidInput(f"{name} is binary, not text")
    if charset:
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            log.info("%s does not decode as its declared %s; detecting", name, charset)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if len(data) < 2000:
        # too little text for statistics to be reliable: the commonest legacy encoding of
        # English text (every byte decodes in Latin-1 where Windows-1252 has gaps)
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            return data.decode("latin-1")
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise InvalidInput(f"{name} is not text in any encoding citebot recognises")
    return str(best)


def _language(text: str) -> str | None:
    import py3langid

    if len(text) < 40:
        return None
    language, _ = py3langid.classify(text[:5000])
    return str(language)


def extract_html(
    data: bytes | str, url: str | None = None, charset: str | None = None
) -> Extracted:
    """The main text of an HTML page (no navigation, ads or comments) and its metadata."""
    import trafilatura

    page = decode_text(data, url or "the page", charset) if isinstance(data, bytes) else data
    document = trafilatura.bare_extraction(
        page,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
    )
    if document is None or isinstance(document, dict) or not document.text:
        return Extracted(text="")
    paragraphs = [p.strip() for p in document.text.split("\n") if p.strip()]
    title = (document.title or "").strip() or None
    if title and paragraphs and " ".join(paragraphs[0].split()) == " ".join(title.split()):
        paragraphs = paragraphs[1:]  # the headline is the title, not a sentence to quote
    text = "\n\n".join(paragraphs)
    return Extracted(
        text=text,
        title=title,
        author=(document.author or "").strip() or None,
        published=document.date or None,
        site=(document.sitename or document.hostname or "").strip() or None,
        canonical_url=document.url or None,
        language=_language(text),
    )


def extract_pdf(data: bytes, name: str = "the PDF") -> Extracted:
    """The text of a PDF, page by page, with its title and author when it declares them."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        meta = reader.metadata  # read lazily: a broken entry fails here, not below
        title = (meta.title if meta else None) or None
        author = (meta.author if meta else None) or None
    except Exception as error:  # a damaged PDF can fail anywhere in pypdf, in any way
        raise InvalidInput(f"{name} is not a readable PDF ({error})") from None
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    return Extracted(
        text=text,
        title=str(title).strip() or None if title else None,
        author=str(author).strip() or None if author else None,
        language=_language(text),
    )


def extract_document(
    data: bytes, content_type: str, url: str | None = None, charset: str | None = None
) -> Extracted:
    """Dispatch on the media type: HTML, PDF or plain text."""
    if content_type in HTML_TYPES:
        return extract_html(data, url, charset)
    if content_type == "application/pdf":
        return extract_pdf(data, url or "the PDF")
    if content_type == "text/plain":
        text = decode_text(data, url or "the page", charset)
        return Extracted(text=text, language=_language(text))
    raise InvalidInput(f"citebot cannot read {content_type} documents")


def extract_file(name: str, data: bytes) -> Extracted:
    """A file's article by its suffix: .txt/.md as text, .html/.htm, .pdf.

    Raises:
        InvalidInput: Another file type, or unreadable content.
    """
    suffix = PurePath(name).suffix.lower()
    if suffix not in FILE_SUFFIXES:
        raise InvalidInput(
            f"{name}: citebot reads .txt, .md, .html and .pdf files "
            f"(got {suffix or 'no extension'})"
        )
    if suffix in {".html", ".htm"}:
        return extract_html(decode_text(data, name), None)
    if suffix == ".pdf":
        return extract_pdf(data, name)
    text = decode_text(data, name)
    return Extracted(text=text, language=_language(text))
