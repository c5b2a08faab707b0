"""The rule that keeps sign-in from being an open redirect, checked by properties (hypothesis): whatever
`next` a link carries, the browser is only ever sent to a path of this site."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from bot.services.web_sessions import DEFAULT_NEXT, safe_next

SITE = "https://relais.example.test/login/slack/callback"
# What browsers read specially at the start of a URL.
TRICKY = st.sampled_from(["/", "//", "\\", "/\\", "\\/", ":", "http:", "https:", "javascript:", "\t", "\n",
                          " ", "%2f", "@", "?", "#", ".", "evil.example"])  # fmt: skip


@given(st.lists(TRICKY | st.text(max_size=8), max_size=8).map("".join) | st.text())
def test_next_is_always_a_path_of_this_site(value: str) -> None:
    chosen = safe_next(value)
    target = urlsplit(urljoin(SITE, chosen))
    assert (target.scheme, target.netloc) == ("https", "relais.example.test")
    assert chosen.startswith("/")
    assert not chosen.startswith("//")
    assert "\\" not in chosen
    assert chosen in (value, DEFAULT_NEXT)


@given(st.lists(st.text(alphabet="abcdefghij-_0123456789", min_size=1, max_size=10), max_size=5))
def test_a_plain_local_path_is_kept(segments: list[str]) -> None:
    path = "/" + "/".join(segments)
    assert safe_next(path) == path
    assert safe_next(path + "?weeks=12&network=x") == path + "?weeks=12&network=x"
