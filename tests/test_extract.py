import codecs

import pytest

from detector.errors import InputError
from detector.extract import html_to_page, text_to_page
from detector.source.page import decode_html, looks_binary

CASES = [
    ("<p>One.</p><p>Two.</p>", [("One.", "paragraph"), ("Two.", "paragraph")]),
    ("<ul><li>Autism</li><li>MS <b>and</b> ALS</li></ul>", [("Autism", "list_item"), ("MS and ALS", "list_item")]),
    ("<div>lead <i>x</i><p>inner</p>tail</div>", [("lead x", "text"), ("inner", "paragraph"), ("tail", "text")]),
    ("<h2>Cure  your\nknees</h2>", [("Cure your knees", "heading")]),
    ("<p>a<br>b</p>", [("a", "paragraph"), ("b", "paragraph")]),
    ("<script>var x='FDA approved';</script><p>kept</p><style>p{}</style>", [("kept", "paragraph")]),
    ("<table><tr><td>Knee</td><td>$5,000</td></tr></table>", [("Knee", "table_cell"), ("$5,000", "table_cell")]),
    ("<nav><a>Home</a> <a>FAQ</a></nav>", [("Home FAQ", "nav")]),
    ("<p>Tom &amp; Jerry &lt;3</p>", [("Tom & Jerry <3", "paragraph")]),
]


@pytest.mark.parametrize(("html", "expected"), CASES)
def test_blocks(html, expected):
    page = html_to_page(f"<html><body>{html}</body></html>", "t")
    assert [(b.text, b.role) for b in page.blocks] == expected


def test_title_first_and_head_junk_dropped():
    page = html_to_page("<html><head><title>Stem Cells</title><meta name=x></head><body><p>Hi there</p></body>", "t")
    assert page.title == "Stem Cells"
    assert page.blocks[0].role == "title"


def test_nul_bytes_and_deep_nesting_do_not_break():
    html = "<div>" * 5000 + "deep\x00 text" + "</div>" * 5000
    page = html_to_page(html, "t")
    assert page.blocks[-1].text == "deep text"


def test_oversized_html_is_refused():
    from detector.settings import ExtractSettings

    with pytest.raises(InputError, match="over the"):
        html_to_page("<p>x</p>" * 100, "big.html", ExtractSettings(max_html_bytes=50))


@pytest.mark.parametrize(
    ("data", "declared", "how"),
    [
        (codecs.BOM_UTF8 + "é".encode(), None, "bom:utf-8"),
        ("é".encode("latin-1"), "latin-1", "header:latin-1"),
        (b'<meta charset="windows-1252"><p>\xe9</p>', None, "meta:windows-1252"),
        ("é".encode(), None, "default:utf-8"),
        (b"\xe9t\xe9", None, "fallback:cp1252"),
        ("é".encode(), "no-such-charset", "default:utf-8"),
    ],
)
def test_decode_order(data, declared, how):
    text, used = decode_html(data, declared)
    assert used == how
    assert "é" in text


def test_binary_detection():
    assert looks_binary(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    assert not looks_binary(b"Stem cells regrow cartilage.")
    assert not looks_binary(codecs.BOM_UTF16_LE + "hi".encode("utf-16-le"))


def test_text_lines_become_blocks():
    page = text_to_page("Heading\n\nFirst line.\nSecond line.\n", "t")
    assert [b.text for b in page.blocks] == ["Heading", "First line.", "Second line."]
