"""How a moderator signs in to /admin: a form POST of the admin token, a session cookie that
expires, and a limit on wrong tokens per client address.

The token never travels in a URL: URLs end up in access logs, proxy logs and browser history.
The form on /admin posts to /admin/login; the right token sets the `reelbot_admin` cookie to
"<expiry>.<HMAC of the expiry under the token>" (HttpOnly, SameSite=Strict, Secure on an https
gallery, Max-Age and Expires SESSION_S), so the cookie is not the token, the server refuses it
after its expiry whatever the browser keeps, and changing the token ends every session. A form
posted from another site is refused by its Origin; SameSite=Strict keeps the cookie off requests
that other sites start. Scripts send `Authorization: Bearer <token>` instead. Wrong tokens, by
form or by header, count against the client's address (an IPv6 client's /64, which one host
usually has whole): MAX_FAILURES a minute, then 429. Signing out also ends the session on the
server, so a copy of the cookie taken earlier dies with it.

Credentials are compared as the bytes that came in: a header or cookie that is not UTF-8 is a
wrong token, never a 500.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from email.utils import formatdate
from urllib.parse import urlsplit

from aiohttp import hdrs, web

from gallery.webkit import PUBLIC_URL, PageError, render

log = logging.getLogger(__name__)

COOKIE = "reelbot_admin"
# A moderator's working day: long enough not to ask again mid-shift, short enough that a cookie
# left in a shared browser or copied off a machine is dead by the next day.
SESSION_S = 12 * 3600
MAX_FAILURES = 5
FAILURE_WINDOW_S = 60.0
# Addresses remembered at once; past this the one that failed longest ago is forgotten, so a
# flood of addresses costs bounded memory.
MAX_TRACKED = 10_000
NO_STORE = "no-store"
_EXPIRY = re.compile(r"[0-9]{1,12}")


class Failures:
    """Wrong tokens per client address over the last FAILURE_WINDOW_S (a sliding window)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, address: str) -> deque[float]:
        seen = self._seen.get(address, deque())
        while seen and seen[0] <= self.clock() - FAILURE_WINDOW_S:
            seen.popleft()
        return seen

    def retry_after(self, address: str) -> int | None:
        """Seconds until `address` may try again, or None when it may now."""
        seen = self._recent(address)
        if len(seen) < MAX_FAILURES:
            return None
        return max(1, math.ceil(seen[0] + FAILURE_WINDOW_S - self.clock()))

    def record(self, address: str) -> None:
        seen = self._recent(address)
        seen.append(self.clock())
        self._seen[address] = seen
        self._seen.move_to_end(address)
        while len(self._seen) > MAX_TRACKED:
            self._seen.popitem(last=False)

    def forgive(self, address: str) -> None:
        self._seen.pop(address, None)


def _bytes(text: str) -> bytes:
    """`text` as bytes, whatever it holds: aiohttp hands over header bytes that are not UTF-8
    as lone surrogates, which a plain `encode()` refuses."""
    return text.encode("utf-8", "surrogatepass")


class AdminGate:
    """The admin token, the sessions it signs and the wrong guesses seen; one per app."""

    def __init__(self, token: str, *, clock: Callable[[], float] = time.time) -> None:
        self._token = _bytes(token)
        self.clock = clock  # wall time: a session's expiry is a moment, not a duration
        self.failures = Failures()
        # Sessions signed out before their expiry: value -> expiry. Only a valid session gets
        # in (it takes the token to make one), and each leaves once it would have expired.
        self._ended: dict[str, int] = {}

    def is_token(self, given: str) -> bool:
        return hmac.compare_digest(_bytes(given), self._token)

    def _mac(self, expiry: str) -> str:
        message = b"reelbot admin session " + expiry.encode()
        return hmac.new(self._token, message, hashlib.sha256).hexdigest()

    def new_session(self) -> str:
        expiry = str(int(self.clock()) + SESSION_S)
        return f"{expiry}.{self._mac(expiry)}"

    def is_session(self, value: str) -> bool:
        expiry, _, mac = value.partition(".")
        if not _EXPIRY.fullmatch(expiry) or int(expiry) <= self.clock() or value in self._ended:
            return False
        return hmac.compare_digest(_bytes(mac), self._mac(expiry).encode())

    def end_session(self, value: str) -> None:
        """Refuse `value` from now on (signing out), not only when it expires."""
        if not self.is_session(value):
            return
        now = self.clock()
        self._ended = {ended: at for ended, at in self._ended.items() if at > now}
        self._ended[value] = int(value.partition(".")[0])


ADMIN_GATE = web.AppKey("admin_gate", AdminGate)


def gate_of(request: web.Request) -> AdminGate:
    """The app's gate; 404 when no admin token is configured, as if /admin did not exist."""
    gate = request.app.get(ADMIN_GATE)
    if gate is None:
        raise PageError(404, "Nothing here.")
    return gate


def client_key(remote: str | None) -> str:
    """Whom wrong tokens count against: the address, or for IPv6 its /64 (a single host
    commonly has a whole /64 and could otherwise try from a new address every time)."""
    try:
        address = ipaddress.ip_address(remote or "")
    except ValueError:
        return remote or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _address(request: web.Request) -> str:
    return client_key(request.remote)


def refuse_if_locked(request: web.Request, gate: AdminGate) -> None:
    wait = gate.failures.retry_after(_address(request))
    if wait is not None:
        raise PageError(
            429,
            f"Too many wrong admin tokens from your address: try again in {wait} s.",
            headers={hdrs.RETRY_AFTER: str(wait)},
        )


def count_failure(request: web.Request, gate: AdminGate) -> None:
    gate.failures.record(_address(request))
    log.warning("admin sign-in with a wrong token from %s", request.remote)


def _same_site(request: web.Request) -> bool:
    """Whether a POST came from this gallery's own pages (the CSRF check).

    Browsers send Origin with every form POST; it must be this gallery, as configured
    (REELBOT_PUBLIC_URL) or as reached (the Host header). A request with no Origin is not a
    browser's cross-site form (a script with the token gains nothing from forging one)."""
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        return request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")
    public = urlsplit(request.app[PUBLIC_URL])
    ours = {f"{public.scheme}://{public.netloc}", f"{request.scheme}://{request.host}"}
    return origin in ours


def signin_form(request: web.Request, status: int = 401, message: str = "") -> web.Response:
    response = render(request, "signin.html", status=status, message=message)
    response.headers[hdrs.CACHE_CONTROL] = NO_STORE
    if status == 401:
        response.headers[hdrs.WWW_AUTHENTICATE] = 'Bearer realm="reelbot admin"'
    return response


def _refuse_other_sites(request: web.Request) -> None:
    if not _same_site(request):
        raise PageError(
            403,
            "That form was sent from another site, so it was refused. Open /admin on this "
            "gallery and sign in there.",
        )


UNREADABLE = (
    "The sign-in form that reached the gallery could not be read (its encoding was broken). "
    "Type the token again and sign in with the form below."
)


async def login(request: web.Request) -> web.Response:
    """POST /admin/login: the form's token in, the session cookie out, back to /admin."""
    gate = gate_of(request)
    _refuse_other_sites(request)
    refuse_if_locked(request, gate)
    try:
        form = await request.post()
    except (ValueError, LookupError, RuntimeError, web.RequestPayloadError):
        # Bytes that are not the charset's, an unknown charset, a multipart body without its
        # boundary or with an unknown transfer encoding (RuntimeError), a body that does not
        # decompress: not a guess at the token, not counted.
        return signin_form(request, 400, UNREADABLE)
    # Again: guesses sent at once all passed the first check while their bodies were on the
    # way. Nothing awaits between this check and `count_failure`, so it holds.
    refuse_if_locked(request, gate)
    given = form.get("token")
    if not isinstance(given, str) or not gate.is_token(given):
        count_failure(request, gate)
        return signin_form(request, 403, "That admin token is not right.")
    gate.failures.forgive(_address(request))
    response = web.Response(status=303, headers={hdrs.LOCATION: "/admin"})
    response.set_cookie(
        COOKIE,
        gate.new_session(),
        path="/admin",
        max_age=SESSION_S,
        expires=formatdate(gate.clock() + SESSION_S, usegmt=True),
        httponly=True,
        samesite="Strict",
        secure=request.app[PUBLIC_URL].startswith("https://"),
    )
    response.headers[hdrs.CACHE_CONTROL] = NO_STORE
    return response


async def logout(request: web.Request) -> web.Response:
    """POST /admin/logout: the session ends (on the server too) and its cookie goes; the
    sign-in form again."""
    gate = gate_of(request)
    _refuse_other_sites(request)
    gate.end_session(request.cookies.get(COOKIE, ""))
    response = web.Response(status=303, headers={hdrs.LOCATION: "/admin"})
    response.del_cookie(COOKIE, path="/admin")
    response.headers[hdrs.CACHE_CONTROL] = NO_STORE
    return response
