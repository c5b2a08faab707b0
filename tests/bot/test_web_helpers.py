"""Small pure helpers of the web layer and the services: visitor address, X's weighted length."""

from __future__ import annotations

import logging
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from hypothesis import given
from hypothesis import strategies as st

from bot.services.links import destination_url, visitor_address, visitor_key
from bot.services.posts import PostError, check_captions, x_length
from bot.web import AccessLogger, client_address


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("81.2.69.160", None, "81.2.69.160"),
        (
            "81.2.69.160",
            "198.51.100.1",
            "81.2.69.160",
        ),  # a client on the internet cannot claim another address
        ("10.0.0.5", "198.51.100.1", "198.51.100.1"),  # behind our load balancer
        ("127.0.0.1", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # only the hop the proxy added
        ("10.0.0.5", "", "10.0.0.5"),
    ],
)
def test_client_address_trusts_only_the_proxy_hop(remote: str, forwarded: str | None, expected: str) -> None:
    assert client_address(remote, forwarded) == expected


@pytest.mark.parametrize(
    ("address", "visitor"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),  # same home, same visitor
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("fe80::1%eth0", "fe80::/64"),
        (None, "-"),
        ("not an address", "not an address"),
    ],
)
def test_a_visitor_is_an_ipv4_address_or_an_ipv6_slash_64(address: str | None, visitor: str) -> None:
    assert visitor_address(address) == visitor


@given(st.one_of(st.none(), st.text(), st.ip_addresses().map(str)))
def test_any_address_gives_a_fixed_size_keyed_hash(address: str | None) -> None:
    key = visitor_key(b"secret", address=address)
    assert len(key) == 32
    assert int(key, 16) >= 0
    assert key != visitor_key(b"another secret", address=address)


def test_x_counts_emoji_and_cjk_as_two() -> None:
    assert x_length("hello") == 5 + 1 + 23
    assert x_length("日本") == 4 + 1 + 23
    assert x_length("🎉") == 2 + 1 + 23
    check_captions(["a" * 256], ["x"])
    with pytest.raises(PostError) as refused:
        check_captions(["🎉" * 130], ["x"])
    assert refused.value.params == {"limit": 256, "length": 260}
    check_captions(["🎉" * 130], ["linkedin"])


def test_destination_keeps_the_existing_query_and_other_utm_tags() -> None:
    url = destination_url(
        "https://example.com/a?ref=blog&utm_content=hero&utm_source=old", network="x", post_id=7
    )
    assert url == (
        "https://example.com/a?ref=blog&utm_content=hero&utm_source=x&utm_medium=employee_advocacy"
        "&utm_campaign=relais-7"
    )


def test_access_log_leaves_out_query_strings(caplog: pytest.LogCaptureFixture) -> None:
    """Connect tokens, OAuth codes and states travel in query strings: they never reach the log."""
    caplog.set_level(logging.INFO, logger="relais.access")
    request = make_mocked_request("GET", "/oauth/x/callback?state=S3CRET-STATE&code=S3CRET-CODE")
    AccessLogger(logging.getLogger("relais.access"), "").log(request, web.Response(status=200), 0.012)
    assert "GET /oauth/x/callback 200" in caplog.text
    assert "S3CRET" not in caplog.text


def test_access_log_leaves_out_the_client_s_address(caplog: pytest.LogCaptureFixture) -> None:
    """A tracked link's visitor's address is personal data: it is never written, logs included."""
    caplog.set_level(logging.INFO, logger="relais.access")
    transport = mock.Mock()
    transport.get_extra_info.return_value = ("203.0.113.7", 51234)
    request = make_mocked_request("GET", "/r/c0de", transport=transport)
    assert request.remote == "203.0.113.7"
    AccessLogger(logging.getLogger("relais.access"), "").log(request, web.Response(status=302), 0.004)
    assert "GET /r/c0de 302" in caplog.text
    assert "203.0.113.7" not in caplog.text
