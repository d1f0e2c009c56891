"""A lean HTTP/1.1 client for one API server: keep-alive connections over asyncio protocols.

Why not aiohttp's client: a controller's requests are small JSON round trips to one origin, and aiohttp's
general machinery (sessions, connectors, traces, cookie jars, payload writers, stream readers, multidict
headers, yarl URLs) was about a third of a busy controller's CPU. This client does only what the API
server needs:

* one `ConnectionPool` per origin (scheme, host, port), at most `limit` connections open; a connection is
  reused only after its response was read to the end and neither side asked to close it;
* a request is written as one buffer (request line, headers, `Content-Length`, body);
* a response is parsed from the protocol's own buffer — status line and headers, then a body delimited by
  `Content-Length`, chunked transfer encoding, or the end of the connection — and read whole (`read()`)
  or line by line as it arrives (`iter_lines()`, for watches);
* TLS through the caller's `ssl.SSLContext`; no proxies, redirects, compression or HTTP/2 (the transport
  falls back to aiohttp when a proxy is configured).

Deadlines: every request carries an absolute loop-time deadline (or None) that bounds connecting,
writing, and reading the head and body — for a watch, the whole stream. A missed deadline, a refused
connection or a connection lost mid-answer raises `TransportError`; a request on a reused keep-alive
connection that the server had already closed (nothing came back at all) is sent once more on a fresh
connection when its method is idempotent. A response abandoned before its end (`close()`, a broken
watch) closes its connection instead of returning it to the pool.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Iterator, Mapping

from kaito.ctrl.errors import TransportError

__all__ = ["ConnectionPool", "Headers", "Response"]

_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_HIGH_WATER = 4 * 2**20
"""Bytes buffered from the server before reading from the socket pauses (a fast watch, a slow reader)."""
_MAX_HEAD = 256 * 1024
"""The longest status line plus headers accepted; anything longer is not an API server speaking."""


class Headers(Mapping[str, str]):
    """Response headers, looked up without regard to case (the last of repeated names wins)."""

    __slots__ = ("_items",)

    def __init__(self, items: dict[str, str]) -> None:
        self._items = items  # keys lower-cased

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


class _Connection(asyncio.Protocol):
    """One socket: bytes received wait in `buffer`; one reader at a time waits on `_waiter`."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.closed = False
        self.error: BaseException | None = None
        self.received_any = False
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._paused = False

    # ---- protocol callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.received_any = True
        if len(self.buffer) > _HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.error = exc
        self._wake()
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def pause_writing(self) -> None:
        self._drain = self.loop.create_future()

    def resume_writing(self) -> None:
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        self._drain = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ---- used by the client
    @property
    def usable(self) -> bool:
        return not self.closed and self.transport is not None and not self.transport.is_closing()

    async def write(self, data: bytes, deadline: float | None) -> None:
        assert self.transport is not None
        self.transport.write(data)
        if self._drain is not None:
            await _until(self.loop, self._drain, deadline)

    async def wait_for_data(self, deadline: float | None) -> None:
        """Return once more bytes arrived or the connection ended; TimeoutError at the deadline."""
        if self.closed:
            raise self._lost()
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        waiter = self._waiter = self.loop.create_future()
        try:
            await _until(self.loop, waiter, deadline)
        finally:
            self._waiter = None

    def take(self, n: int) -> bytes:
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        if self._paused and len(self.buffer) < _HIGH_WATER // 2 and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data

    def _lost(self) -> ConnectionError:
        return ConnectionResetError(f"the server closed the connection ({self.error or 'end of stream'})")

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        self._wake()


async def _until(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[None], deadline: float | None
) -> None:
    """Await `future`; TimeoutError once loop time passes `deadline` (None: no deadline)."""
    if deadline is None:
        await future
        return
    handle = loop.call_at(deadline, _expire, future)
    try:
        await future
    finally:
        handle.cancel()


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


class Response:
    """One answer: `status` and `headers` are read; the body is read whole or as lines, once."""

    def __init__(
        self,
        pool: ConnectionPool,
        conn: _Connection,
        status: int,
        headers: Headers,
        keep_alive: bool,
        deadline: float | None,
        what: str,
        no_body: bool,
    ) -> None:
        self.status = status
        self.headers = headers
        self._pool = pool
        self._conn: _Connection | None = conn
        self._keep_alive = keep_alive
        self._deadline = deadline
        self._what = what
        self._chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        length = headers.get("content-length")
        self._remaining: int | None = 0 if no_body else None
        if length and not self._chunked and not no_body:
            if not length.isdigit():
                raise ConnectionError(f"the answer's Content-Length is not a number: {length[:40]!r}")
            self._remaining = int(length)
        if self._remaining == 0 and not self._chunked:
            self._finish()

    async def read(self) -> bytes:
        """The whole body (decoded from chunks); the connection goes back to the pool."""
        conn = self._conn
        if conn is None:
            return b""
        remaining = self._remaining
        if remaining is not None and not self._chunked and len(conn.buffer) >= remaining:
            data = conn.take(remaining)  # the usual case: the whole answer came in one read
            self._remaining = 0
            self._finish()
            return data
        return b"".join([piece async for piece in self._pieces()])

    async def iter_lines(self) -> AsyncIterator[bytes]:
        """The body's non-empty lines, stripped, as they arrive."""
        parts: list[bytes] = []  # the line being received, in pieces
        async for piece in self._pieces():
            if b"\n" not in piece:
                parts.append(piece)
                continue
            parts.append(piece)
            *lines, last = b"".join(parts).split(b"\n")
            parts = [last] if last else []
            for line in lines:
                line = line.strip()
                if line:
                    yield line
        tail = b"".join(parts).strip()
        if tail:
            yield tail

    def close(self) -> None:
        """Stop reading; an answer not read to its end closes its connection."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.abort()
            self._pool.release(conn, reuse=False)

    def _finish(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool.release(conn, reuse=self._keep_alive and not conn.buffer)

    async def _pieces(self) -> AsyncIterator[bytes]:
        try:
            if self._chunked:
                async for piece in self._chunks():
                    yield piece
            else:
                async for piece in self._plain():
                    yield piece
        except (OSError, TimeoutError) as exc:
            self.close()
            if isinstance(exc, TimeoutError):
                raise TransportError(f"{self._what}: the answer did not end before the deadline") from None
            raise TransportError(f"{self._what}: reading the answer failed: {exc!r}") from exc
        finally:
            if self._conn is not None and self._remaining != 0:
                self.close()  # the reader gave up early (a watch closed by its consumer)

    async def _plain(self) -> AsyncIterator[bytes]:
        while self._conn is not None:
            conn = self._conn
            remaining = self._remaining
            if conn.buffer:
                n = len(conn.buffer) if remaining is None else min(remaining, len(conn.buffer))
                piece = conn.take(n)
                if remaining is not None:
                    self._remaining = remaining - n
                if self._remaining == 0:
                    self._finish()
                yield piece
                continue
            if conn.closed:
                if remaining is None:  # delimited by the end of the connection
                    self._remaining = 0
                    self._keep_alive = False
                    self._finish()
                    return
                raise conn._lost()
            await conn.wait_for_data(self._deadline)

    async def _chunks(self) -> AsyncIterator[bytes]:
        while self._conn is not None:
            conn = self._conn
            end = conn.buffer.find(b"\r\n")
            if end < 0:
                await self._more(conn)
                continue
            size_text = bytes(conn.buffer[:end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ConnectionError(f"bad chunk size {size_text[:40]!r}") from None
            if size == 0:  # the last chunk, then trailers (usually none) up to an empty line
                trailer_end = conn.buffer.find(b"\r\n\r\n", end)
                if trailer_end < 0:
                    await self._more(conn)
                    continue
                conn.take(trailer_end + 4)
                self._remaining = 0
                self._finish()
                return
            need = end + 2 + size + 2
            if len(conn.buffer) < need:
                await self._more(conn)
                continue
            data = conn.take(need)
            yield data[end + 2 : end + 2 + size]

    async def _more(self, conn: _Connection) -> None:
        if conn.closed:
            raise conn._lost()
        await conn.wait_for_data(self._deadline)


class ConnectionPool:
    """Keep-alive connections to one origin; `request()` sends one request and returns its Response."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        limit: int = 100,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1 connection, got {limit}")
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.server_hostname = server_hostname
        self.limit = limit
        default_port = 443 if ssl_context is not None else 80
        bracketed = f"[{host}]" if ":" in host else host
        self._host_header = bracketed if port == default_port else f"{bracketed}:{port}"
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(limit)
        self._open: set[_Connection] = set()
        self.connections_made = 0

    async def request(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes | None,
        deadline: float | None,
    ) -> Response:
        """Send `method target` and read the answer's head; the body is left to the Response."""
        what = f"{method} {target.split('?', 1)[0]}"
        lines = [f"{method} {target} HTTP/1.1\r\nHost: {self._host_header}\r\n"]
        lines.extend(f"{name}: {value}\r\n" for name, value in headers.items())
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}\r\n")
        lines.append("\r\n")
        head = "".join(lines).encode("latin-1")
        data = head + body if body else head
        try:
            for attempt in (1, 2):
                conn, reused = await self._acquire(deadline)
                try:
                    await conn.write(data, deadline)
                    return await self._read_head(conn, method, deadline, what)
                except ConnectionError:
                    self.release(conn, reuse=False)
                    conn.abort()
                    if attempt == 1 and reused and not conn.received_any and method in _IDEMPOTENT:
                        continue  # the server had closed this idle connection: try a fresh one
                    raise
                except BaseException:
                    self.release(conn, reuse=False)
                    conn.abort()
                    raise
        except TimeoutError:
            raise TransportError(f"{what} got no answer before its deadline") from None
        except (OSError, ssl.SSLError) as exc:
            raise TransportError(f"{what} got no answer: {exc!r}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _acquire(self, deadline: float | None) -> tuple[_Connection, bool]:
        loop = asyncio.get_running_loop()
        if self._slots.locked():
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
        else:
            await self._slots.acquire()  # returns at once: a slot is free
        try:
            while self._idle:
                conn = self._idle.pop()
                if conn.usable:
                    conn.received_any = False
                    return conn, True
                self._open.discard(conn)
            async with asyncio.timeout_at(deadline):
                _, protocol = await loop.create_connection(
                    lambda: _Connection(loop),
                    self.host,
                    self.port,
                    ssl=self.ssl_context,
                    server_hostname=self.server_hostname if self.ssl_context is not None else None,
                )
        except BaseException:
            self._slots.release()
            raise
        self.connections_made += 1
        self._open.add(protocol)
        return protocol, False

    def release(self, conn: _Connection, *, reuse: bool) -> None:
        """Hand a connection back: kept idle for the next request, or closed and forgotten."""
        if conn not in self._open:
            return
        if reuse and conn.usable:
            self._idle.append(conn)
        else:
            self._open.discard(conn)
            if conn.transport is not None and not conn.transport.is_closing():
                conn.transport.close()
        self._slots.release()

    async def _read_head(self, conn: _Connection, method: str, deadline: float | None, what: str) -> Response:
        while True:
            end = conn.buffer.find(b"\r\n\r\n")
            while end < 0:
                if len(conn.buffer) > _MAX_HEAD:
                    raise ConnectionError(f"the answer's head is longer than {_MAX_HEAD} bytes")
                if conn.closed:
                    raise conn._lost()
                await conn.wait_for_data(deadline)
                end = conn.buffer.find(b"\r\n\r\n")
            head = conn.take(end + 4).decode("latin-1")
            status_line, _, rest = head.partition("\r\n")
            version, _, status_text = status_line.partition(" ")
            try:
                status = int(status_text[:3])
            except ValueError:
                raise ConnectionError(f"not an HTTP status line: {status_line[:80]!r}") from None
            if not version.startswith("HTTP/1."):
                raise ConnectionError(f"not an HTTP/1.x answer: {status_line[:80]!r}")
            if 100 <= status < 200 and status != 101:
                continue  # an interim answer (100 Continue): the real one follows
            items: dict[str, str] = {}
            for line in rest.split("\r\n"):
                name, sep, value = line.partition(":")
                if sep:
                    items[name.strip().lower()] = value.strip()
            headers = Headers(items)
            connection = items.get("connection", "").lower()
            keep_alive = connection != "close" and (version != "HTTP/1.0" or connection == "keep-alive")
            no_body = method == "HEAD" or status in (204, 304)
            return Response(self, conn, status, headers, keep_alive, deadline, what, no_body)

    async def close(self) -> None:
        """Close every connection, idle or in use."""
        for conn in list(self._open):
            if conn.transport is not None:
                conn.transport.close()
            conn.closed = True
            conn._wake()
        self._open.clear()
        self._idle.clear()
