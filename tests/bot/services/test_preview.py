"""Link previews against real local servers: parsing, limits, and refusal of private addresses (SSRF).

The "public" site listens on 127.0.0.2, which the fetcher is told to allow; the "private" one on
127.0.0.1, which it must never reach. No test sends anything beyond the loopback interface: other
private addresses are refused before any connection is attempted.
"""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from ipaddress import ip_address, ip_network

import pytest
from aiohttp import web

from bot.services.preview import Preview, PreviewFetcher, UnsafeURL, validate_url
from bot.services.preview.urls import AddressPolicy

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PUBLIC_HOST = "127.0.0.2"
PRIVATE_HOST = "127.0.0.1"


@dataclass
class Server:
    base: str
    port: int
    requests: list[str] = field(default_factory=list)


@asynccontextmanager
async def serve(routes: dict[str, Handler], *, host: str) -> AsyncIterator[Server]:
    """Serve `routes` on `host` (random port), recording every request that reaches the server."""
    requests: list[str] = []

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        requests.append(request.path_qs)
        return await handler(request)

    app = web.Application(middlewares=[record])
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    # handler_cancellation: a handler still sleeping or streaming stops when the fetcher hangs up.
    runner = web.AppRunner(app, shutdown_timeout=0.5, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield Server(base=f"http://{host}:{port}", port=port, requests=requests)
    finally:
        await runner.cleanup()


def html(body: str, *, status: int = 200) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(text=body, content_type="text/html", status=status)

    return handler


def redirect(location: str | Callable[[web.Request], str], *, status: int = 302) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        target = location if isinstance(location, str) else location(request)
        return web.Response(status=status, headers={"Location": target})

    return handler


OG_PAGE = """<!doctype html><html><head>
<title>Fallback title</title>
<meta property="og:title" content="Tom &amp; Jerry&#39;s &quot;Show&quot;">
<meta property="og:description" content="  A   cat,
    a mouse &amp;
  a chase.  ">
<meta property="og:image" content="../img/cover.png?size=large">
<meta property="og:site_name" content="Cartoons &lt;Daily&gt;">
<meta name="description" content="Not this one">
</head><body><p>Hello</p></body></html>"""

PLAIN_PAGE = """<html><head><title>
   Quarterly   results &ndash; ACME
</title><meta name="description" content="Revenue is up &#8212; again."></head><body></body></html>"""


@pytest.fixture
async def private() -> AsyncIterator[Server]:
    async with serve({"/{tail:.*}": html("<title>internal secrets</title>")}, host=PRIVATE_HOST) as server:
        yield server


@pytest.fixture
async def fetcher() -> AsyncIterator[PreviewFetcher]:
    async with PreviewFetcher(timeout=3.0, allowed_networks=[ip_network(f"{PUBLIC_HOST}/32")]) as fetcher:
        yield fetcher


# Parsing


async def test_reads_open_graph_tags(fetcher: PreviewFetcher) -> None:
    async with serve({"/news/post": html(OG_PAGE)}, host=PUBLIC_HOST) as site:
        preview = await fetcher.fetch(f"{site.base}/news/post")

    assert preview == Preview(
        url=f"{site.base}/news/post",
        final_url=f"{site.base}/news/post",
        title='Tom & Jerry\'s "Show"',
        description="A cat, a mouse & a chase.",
        image_url=f"{site.base}/img/cover.png?size=large",
        site_name="Cartoons <Daily>",
        error=None,
    )
    assert preview.ok


async def test_falls_back_to_title_and_meta_description(fetcher: PreviewFetcher) -> None:
    async with serve({"/": html(PLAIN_PAGE)}, host=PUBLIC_HOST) as site:
        preview = await fetcher.fetch(site.base)

    assert preview.title == "Quarterly results – ACME"
    assert preview.description == "Revenue is up — again."
    assert preview.image_url is None
    assert preview.site_name is None
    assert preview.error is None


async def test_uses_twitter_tags_when_open_graph_is_missing(fetcher: PreviewFetcher) -> None:
    page = """<head><title>Page</title>
    <meta name="twitter:title" content="Card title">
    <meta name="twitter:description" content="Card description">
    <meta property="og:image" content="javascript:alert(1)">
    <meta name="twitter:image" content="//cdn.example.com/card.jpg"></head>"""
    async with serve({"/": html(page)}, host=PUBLIC_HOST) as site:
        preview = await fetcher.fetch(site.base)

    assert preview.title == "Card title"
    assert preview.description == "Card description"
    # The javascript: image is skipped; the protocol-relative one takes the page's scheme.
    assert preview.image_url == "http://cdn.example.com/card.jpg"


async def test_trims_long_title_and_description(fetcher: PreviewFetcher) -> None:
    page = f"<title>{'word ' * 200}</title><meta name=description content='{'x' * 5000}'>"
    async with serve({"/": html(page)}, host=PUBLIC_HOST) as site:
        preview = await fetcher.fetch(site.base)

    assert preview.title is not None
    assert len(preview.title) <= 300
    assert preview.title.endswith("word…")
    assert preview.description == "x" * 999 + "…"


async def test_decodes_with_the_declared_charset(fetcher: PreviewFetcher) -> None:
    body = '<meta charset="windows-1252"><title>Café “crème”</title>'.encode("windows-1252")

    async def latin(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, headers={"Content-Type": "text/html"})

    async def header_wins(request: web.Request) -> web.StreamResponse:
        # The header's charset beats a wrong <meta charset>.
        page = '<meta charset="utf-8"><title>Ünïcode</title>'.encode("iso-8859-1")
        return web.Response(body=page, headers={"Content-Type": "text/html; charset=ISO-8859-1"})

    async with serve({"/latin": latin, "/header": header_wins}, host=PUBLIC_HOST) as site:
        latin_preview = await fetcher.fetch(f"{site.base}/latin")
        header_preview = await fetcher.fetch(f"{site.base}/header")

    assert latin_preview.title == "Café “crème”"
    assert header_preview.title == "Ünïcode"


async def test_reads_a_gzipped_page(fetcher: PreviewFetcher) -> None:
    async def gzipped(request: web.Request) -> web.StreamResponse:
        body = gzip.compress(b"<title>Compressed</title>" + b" " * 10_000)
        return web.Response(body=body, headers={"Content-Type": "text/html", "Content-Encoding": "gzip"})

    async with serve({"/": gzipped}, host=PUBLIC_HOST) as site:
        preview = await fetcher.fetch(site.base)

    assert preview.title == "Compressed"
    assert preview.error is None


# Refusing private addresses


async def test_refuses_a_page_on_a_private_address(private: Server) -> None:
    # No allowed_networks here: nothing on loopback may be fetched.
    async with PreviewFetcher(timeout=3.0) as strict:
        preview = await strict.fetch(f"{private.base}/admin")

    assert preview == Preview(url=f"{private.base}/admin", error="private_address")
    assert private.requests == []


async def test_allowed_networks_do_not_open_other_addresses(fetcher: PreviewFetcher, private: Server) -> None:
    preview = await fetcher.fetch(f"{private.base}/admin")

    assert preview.error == "private_address"
    assert private.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://172.16.5.4:8080/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",  # multicast: is_global is True for it on Python 3.11
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fc00::1]/",
        "http://[fe80::1]/",
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 for 169.254.169.254
        "http://[2002:a9fe:a9fe::1]/",  # 6to4 for 169.254.169.254
    ],
)
async def test_refuses_literal_private_addresses_before_connecting(url: str) -> None:
    async with PreviewFetcher(timeout=5.0) as strict:
        started = time.monotonic()
        preview = await strict.fetch(url)
        elapsed = time.monotonic() - started

    # "private_address" only comes from a refusal before connecting; a connection attempt to these
    # (unroutable here) addresses would end in "timeout" or "unreachable" instead.
    assert preview.error == "private_address"
    assert elapsed < 1.0


@pytest.mark.parametrize(
    "host",
    [
        "localhost",  # resolved via /etc/hosts
        "127.1",  # inet_aton shorthand for 127.0.0.1, which ipaddress does not parse: only resolution sees it
        "2130706433",  # 127.0.0.1 as one decimal number
    ],
)
async def test_refuses_host_names_that_resolve_to_private_addresses(private: Server, host: str) -> None:
    async with PreviewFetcher(timeout=3.0) as strict:
        preview = await strict.fetch(f"http://{host}:{private.port}/")

    assert preview.error == "private_address"
    assert private.requests == []


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{port}/",
        "http://localhost:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
    ],
)
async def test_refuses_a_redirect_to_a_private_address(
    fetcher: PreviewFetcher, private: Server, target: str
) -> None:
    location = target.format(port=private.port)
    async with serve({"/go": redirect(location)}, host=PUBLIC_HOST) as site:
        preview = await fetcher.fetch(f"{site.base}/go")

    assert preview.error == "private_address"
    assert site.requests == ["/go"]
    assert private.requests == []


async def test_refuses_a_redirect_to_another_scheme(fetcher: PreviewFetcher) -> None:
    async with serve({"/go": redirect("ftp://files.example.com/report.pdf")}, host=PUBLIC_HOST) as site:
        preview = await fetcher.fetch(f"{site.base}/go")

    assert preview.error == "bad_scheme"
    assert preview.final_url == f"{site.base}/go"


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses_are_allowed(address: str) -> None:
    # The refusals above must not come from refusing everything. (Checked on the policy itself, so that
    # no test sends traffic to a public address.)
    assert AddressPolicy().allows(ip_address(address))
    assert not AddressPolicy().allows(ip_address("127.0.0.2"))
    assert AddressPolicy((ip_network("127.0.0.2/32"),)).allows(ip_address("127.0.0.2"))


# Redirects


def _next_hop(request: web.Request) -> str:
    return f"/hop/{int(request.match_info['n']) + 1}"


async def test_follows_redirects_up_to_the_limit(fetcher: PreviewFetcher) -> None:
    routes = {
        "/hop/{n:[0-2]}": redirect(_next_hop, status=301),
        "/hop/3": html("<title>Arrived</title>"),
    }
    async with serve(routes, host=PUBLIC_HOST) as site:
        preview = await fetcher.fetch(f"{site.base}/hop/0")

    assert preview.error is None
    assert preview.title == "Arrived"
    assert preview.url == f"{site.base}/hop/0"
    assert preview.final_url == f"{site.base}/hop/3"
    assert site.requests == ["/hop/0", "/hop/1", "/hop/2", "/hop/3"]


async def test_stops_after_too_many_redirects(fetcher: PreviewFetcher) -> None:
    async with serve({"/hop/{n}": redirect(_next_hop)}, host=PUBLIC_HOST) as site:
        preview = await fetcher.fetch(f"{site.base}/hop/0")

    assert preview.error == "too_many_redirects"
    assert preview.title is None
    assert site.requests == ["/hop/0", "/hop/1", "/hop/2", "/hop/3"]


# Limits and failures


async def test_stops_reading_a_huge_body_at_max_bytes(fetcher: PreviewFetcher) -> None:
    total = 64 * 1024 * 1024
    chunk = b" " * 65536
    progress = {"sent": 0, "finished": False}

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        response.content_length = total
        await response.prepare(request)
        head = b"<html><head><title>Big page</title></head><body>"
        await response.write(head)
        progress["sent"] = len(head)
        while progress["sent"] < total:
            await response.write(chunk)
            progress["sent"] += len(chunk)
        progress["finished"] = True
        return response

    async with serve({"/": huge}, host=PUBLIC_HOST) as site:
        started = time.monotonic()
        preview = await asyncio.wait_for(fetcher.fetch(site.base), 10)  # fail, rather than hang, if unbounded
        elapsed = time.monotonic() - started
        await asyncio.sleep(0.2)  # let the server notice the hang-up

    assert preview.title == "Big page"
    assert preview.error is None
    assert elapsed < 2.0
    assert not progress["finished"]
    assert progress["sent"] < total // 2  # only what socket buffers took before the fetcher hung up


async def test_times_out_on_a_slow_server() -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(30)
        return web.Response(text="<title>Too late</title>", content_type="text/html")

    async with (
        serve({"/": slow}, host=PUBLIC_HOST) as site,
        PreviewFetcher(timeout=0.5, allowed_networks=[ip_network(f"{PUBLIC_HOST}/32")]) as fetcher,
    ):
        started = time.monotonic()
        preview = await asyncio.wait_for(fetcher.fetch(site.base), 5)  # fail, rather than hang, if unbounded
        elapsed = time.monotonic() - started

    assert preview.error == "timeout"
    assert preview.title is None
    assert 0.4 < elapsed < 1.5


async def test_times_out_on_a_body_that_trickles_in() -> None:
    # Each byte arrives well within the read timeout: only the cap on the whole fetch stops this.
    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        while True:
            await response.write(b" ")
            await asyncio.sleep(0.1)

    async with (
        serve({"/": trickle}, host=PUBLIC_HOST) as site,
        PreviewFetcher(timeout=0.5, allowed_networks=[ip_network(f"{PUBLIC_HOST}/32")]) as fetcher,
    ):
        started = time.monotonic()
        preview = await asyncio.wait_for(fetcher.fetch(site.base), 5)  # fail, rather than hang, if unbounded
        elapsed = time.monotonic() - started

    assert preview.error == "timeout"
    assert elapsed < 1.5


async def test_reports_an_http_error_status(fetcher: PreviewFetcher) -> None:
    async with serve({"/gone": html("<title>Not found</title>", status=404)}, host=PUBLIC_HOST) as site:
        preview = await fetcher.fetch(f"{site.base}/gone")

    assert preview == Preview(url=f"{site.base}/gone", final_url=f"{site.base}/gone", error="http_status")


async def test_does_not_parse_non_html(fetcher: PreviewFetcher) -> None:
    async def png(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"\x89PNG\r\n\x1a\n<title>no</title>", content_type="image/png")

    async with serve({"/logo.png": png}, host=PUBLIC_HOST) as site:
        preview = await fetcher.fetch(f"{site.base}/logo.png")

    assert preview.error == "not_html"
    assert preview.title is None


async def test_reports_a_closed_port_as_unreachable(fetcher: PreviewFetcher) -> None:
    async with serve({}, host=PUBLIC_HOST) as site:
        url = f"{site.base}/"
    # The server is gone: nothing listens on its port any more.

    preview = await fetcher.fetch(url)

    assert preview == Preview(url=url, error="unreachable")


async def test_fetch_refuses_bad_input_without_raising(fetcher: PreviewFetcher) -> None:
    assert (await fetcher.fetch("javascript:alert(1)")).error == "bad_scheme"
    assert (await fetcher.fetch("not a url")).error == "invalid_url"


# validate_url


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://example.com/a?b=1", "https://example.com/a?b=1"),
        ("  HTTPS://Example.COM/Path  ", "https://example.com/Path"),
        ("<https://example.com>", "https://example.com/"),
        ("<https://example.com/x?a=1&amp;b=2|example.com/x>", "https://example.com/x?a=1&b=2"),
        ("http://example.com:80/", "http://example.com/"),
        ("https://example.com:8443/", "https://example.com:8443/"),
        ("https://bücher.example/", "https://xn--bcher-kva.example/"),
    ],
)
def test_validate_url_normalises(raw: str, expected: str) -> None:
    assert validate_url(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("javascript:alert(1)", "bad_scheme"),
        ("mailto:someone@example.com", "bad_scheme"),
        ("ftp://example.com/file", "bad_scheme"),
        ("example.com/page", "bad_scheme"),
        ("<mailto:someone@example.com|someone@example.com>", "bad_scheme"),
        ("http:///path-only", "invalid_url"),
        ("not a url", "invalid_url"),
        ("https://user:secret@example.com/", "invalid_url"),
        ("https://user@example.com/", "invalid_url"),
        ("", "invalid_url"),
        ("https://example.com/" + "a" * 2048, "invalid_url"),
    ],
)
def test_validate_url_refuses(raw: str, code: str) -> None:
    with pytest.raises(UnsafeURL) as refused:
        validate_url(raw)
    assert refused.value.code == code
    assert str(refused.value)
