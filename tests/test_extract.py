"""Extraction from HTML, PDF and text files: the article, its metadata, nothing else."""

from __future__ import annotations

import pytest

from index.errors import ArticleTooShort, InvalidInput
from index.extract import decode_text, extract_file, extract_html, extract_pdf
from index.service import Service

BODY = " ".join(
    f"<p>Paragraph {i}: the harbour authority said the new ferry terminal will open in spring, "
    f"with {i + 2} berths and a waiting hall for four hundred passengers.</p>"
    for i in range(6)
)
PAGE = f"""<!doctype html><html lang="en"><head>
<title>Ferry terminal to open in spring | Harbour News</title>
<meta property="og:title" content="Ferry terminal to open in spring">
<meta name="author" content="Maria Lopez">
<meta property="og:site_name" content="Harbour News">
<meta property="article:published_time" content="2024-03-05T10:00:00Z">
<link rel="canonical" href="https://harbour.example/news/ferry-terminal">
</head><body>
<nav><a href="/">Home</a> <a href="/sport">Sport</a> <a href="/weather">Weather</a></nav>
<div class="ad">Buy cheap flights now! Limited offer!</div>
<article><h1>Ferry terminal to open in spring</h1>{BODY}</article>
<section class="comments"><p>Comment: first! Totally agree with this article.</p></section>
<footer>Copyright 2024 Harbour News. Subscribe to our newsletter.</footer>
</body></html>"""


def test_html_main_text_and_metadata() -> None:
    doc = extract_html(PAGE.encode(), "https://harbour.example/news/ferry-terminal?utm=x")
    assert doc.title == "Ferry terminal to open in spring"
    assert doc.author == "Maria Lopez"
    assert doc.site == "Harbour News"
    assert doc.published == "2024-03-05"
    assert doc.canonical_url == "https://harbour.example/news/ferry-terminal"
    assert doc.language == "en"
    assert "Paragraph 5: the harbour authority" in doc.text
    assert doc.text.count("\n\n") == 5  # one paragraph a block
    for junk in ("Home", "cheap flights", "first!", "Subscribe", "Ferry terminal to open"):
        assert junk not in doc.text


def make_pdf(lines: list[str], title: str) -> bytes:
    """A minimal, valid one-page PDF with text lines and an Info title."""
    content = (
        "BT /F1 12 Tf 72 720 Td 14 TL "
        + " ".join("(" + line.replace("(", "\\(").replace(")", "\\)") + ") '" for line in lines)
        + " ET"
    )
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Title ({title}) /Author (Sam Reed) >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n"
    ).encode()
    return out


def test_pdf_text_and_metadata() -> None:
    pdf = make_pdf(
        ["The bridge will close for repairs in May.", "Traffic moves to the ferry."], "Bridge works"
    )
    doc = extract_pdf(pdf)
    assert doc.title == "Bridge works"
    assert doc.author == "Sam Reed"
    assert "The bridge will close for repairs in May." in doc.text
    assert extract_file("works.PDF", pdf).title == "Bridge works"


def test_broken_pdf_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not a readable PDF"):
        extract_pdf(b"%PDF-1.4 this is not really a pdf")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("Café au lait, naïve façade.".encode("cp1252"), "Café au lait, naïve façade."),
        ("\ufeffBOM text".encode(), "BOM text"),
        ("Grüße aus Köln".encode("utf-16"), "Grüße aus Köln"),  # with its BOM
        ("Grüße aus Köln".encode("utf-16-be"), None),  # no BOM: NULs, so binary
        ("Grüße".encode("utf-32"), "Grüße"),
    ],
)
def test_text_encodings(data: bytes, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(InvalidInput, match="binary"):
            decode_text(data, "x.txt")
    else:
        assert decode_text(data, "x.txt") == expected


def test_longer_legacy_text_is_detected() -> None:
    russian = "Мэр города объявил, что новый мост откроется весной. " * 60
    assert decode_text(russian.encode("cp1251"), "x.txt") == russian


def test_declared_charset_wins() -> None:
    assert decode_text("Señor".encode("iso-8859-1"), "page", "iso-8859-1") == "Señor"


def test_unknown_file_types_are_refused() -> None:
    with pytest.raises(InvalidInput, match=r"\.docx"):
        extract_file("notes.docx", b"PK\x03\x04")


def test_html_file_and_short_page_refusal(service: Service) -> None:
    result = service.add_file("g", "ferry.html", PAGE.encode())
    stored = service.get_article("g", result.article_id)
    assert stored.title == "Ferry terminal to open in spring"
    assert stored.site == "Harbour News"
    assert stored.canonical_url == "https://harbour.example/news/ferry-terminal"
    wall = "<html><body><p>Please accept cookies to continue reading.</p></body></html>"
    with pytest.raises(ArticleTooShort, match=r"only \d+ words"):
        service.add_file("g", "wall.html", wall.encode())
    assert len(service.list_articles("g")) == 1


def test_non_english_page_is_accepted_with_a_warning(service: Service) -> None:
    german = " ".join(
        f"<p>Der Hafen von Hamburg hat im Jahr {2000 + i} mehr Container umgeschlagen als je "
        "zuvor, sagte die Behörde am Montag in einer Mitteilung an die Presse.</p>"
        for i in range(6)
    )
    result = service.add_file(
        "g", "hafen.html", f"<html><body><article>{german}</article></body></html>".encode()
    )
    assert result.status == "added"
    assert any("'de'" in w for w in result.warnings)


def test_text_files_keep_one_sentence_articles(service: Service) -> None:
    result = service.add_file("g", "note.txt", b"The library reopens on Monday.")
    assert result.sentences == 1


def test_a_byte_order_mark_on_bytes_that_do_not_follow_it_is_refused() -> None:
    with pytest.raises(InvalidInput, match="starts as utf-16 text but is not"):
        decode_text(b"\xff\xfeA", "odd.txt")
