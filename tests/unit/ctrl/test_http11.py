"""The lean HTTP/1.1 client against a loopback server that answers with exactly the bytes a test scripts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from kaito.ctrl.errors import TransportError
from kaito.ctrl.http11 import ConnectionPool, Headers

Answer = Callable[[bytes, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Server:
    """Reads each request (head and Content-Length body) and lets `answer` write the reply."""

    answer: Answer
    port: int = 0
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                self.requests.append(head + body)
                await self.answer(head + body, writer)
                if writer.is_closing():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


Serve = Callable[[Answer], Awaitable[tuple["Server", ConnectionPool]]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[asyncio.Server] = []
    pools: list[ConnectionPool] = []

    async def start(answer: Answer) -> tuple[Server, ConnectionPool]:
        server = Server(answer)
        listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        servers.append(listening)
        server.port = listening.sockets[0].getsockname()[1]
        pool = ConnectionPool("127.0.0.1", server.port)
        pools.append(pool)
        return server, pool

    yield start
    for pool in pools:
        await pool.close()
    for listening in servers:
        listening.close()


def fixed(status: int, body: bytes, *extra: str) -> Answer:
    async def answer(_: bytes, writer: asyncio.StreamWriter) -> None:
        head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n" + "".join(f"{h}\r\n" for h in extra)
        writer.write(head.encode() + b"\r\n" + body)
        await writer.drain()

    return answer


async def test_a_request_is_written_as_http11_and_its_answer_read_whole(serve: Serve) -> None:
    server, pool = await serve(fixed(201, b'{"ok":true}', "Content-Type: application/json"))
    response = await pool.request("POST", "/api/v1/x?a=b", {"Accept": "application/json"}, b'{"n":1}', None)
    assert (response.status, response.headers["content-type"], response.headers["Content-Type"]) == (
        201,
        "application/json",
        "application/json",
    )
    assert await response.read() == b'{"ok":true}'
    sent = server.requests[0]
    assert sent.startswith(b"POST /api/v1/x?a=b HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.port}\r\n".encode() in sent
    assert b"Accept: application/json\r\n" in sent and b"Content-Length: 7\r\n" in sent
    assert sent.endswith(b'\r\n\r\n{"n":1}')


async def test_a_keep_alive_connection_is_reused_and_a_closing_one_is_not(serve: Serve) -> None:
    server, pool = await serve(fixed(200, b"a"))
    for _ in range(3):
        assert await (await pool.request("GET", "/", {}, None, None)).read() == b"a"
    assert (server.connections, pool.connections_made) == (1, 1)

    closing, closing_pool = await serve(fixed(200, b"b", "Connection: close"))
    for _ in range(2):
        assert await (await closing_pool.request("GET", "/", {}, None, None)).read() == b"b"
    assert closing_pool.connections_made == closing.connections == 2


@pytest.mark.parametrize(
    ("head", "body_parts", "expected"),
    [
        ("Transfer-Encoding: chunked", [b"5\r\nhello\r\n", b"1;ext=1\r\n!\r\n0\r\n\r\n"], b"hello!"),
        ("Transfer-Encoding: chunked", [b"3\r\nab", b"c\r\n0\r\nX-Trailer: 1\r\n\r\n"], b"abc"),
        ("Content-Length: 6", [b"par", b"tly"], b"partly"),
        ("Connection: close", [b"until ", b"the end"], b"until the end"),
    ],
)
async def test_bodies_by_length_chunks_or_the_end_of_the_connection(
    serve: Serve, head: str, body_parts: list[bytes], expected: bytes
) -> None:
    async def answer(_: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(f"HTTP/1.1 200 OK\r\n{head}\r\n\r\n".encode())
        for part in body_parts:
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(0.01)
        if "close" in head:
            writer.close()

    _, pool = await serve(answer)
    assert await (await pool.request("GET", "/", {}, None, None)).read() == expected
    if "close" not in head:  # the connection was left ready for the next request
        assert await (await pool.request("GET", "/", {}, None, None)).read() == expected
        assert pool.connections_made == 1


async def test_lines_of_a_chunked_stream_arrive_as_they_are_sent(serve: Serve) -> None:
    sent_second = asyncio.Event()
    release = asyncio.Event()

    async def answer(_: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (b'{"a":1}\n{"b"', b":2}\n\n"):
            writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        await writer.drain()
        sent_second.set()
        await release.wait()
        writer.write(b"4\r\nlast\r\n0\r\n\r\n")
        await writer.drain()

    _, pool = await serve(answer)
    lines = (await pool.request("GET", "/watch", {}, None, None)).iter_lines()
    assert [await anext(lines), await anext(lines)] == [b'{"a":1}', b'{"b":2}']
    release.set()
    assert [line async for line in lines] == [b"last"]


async def test_closing_a_stream_midway_closes_its_connection(serve: Serve) -> None:
    async def answer(_: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nline1\n\r\n")
        await writer.drain()

    server, pool = await serve(answer)
    response = await pool.request("GET", "/watch", {}, None, None)
    lines = response.iter_lines()
    assert await anext(lines) == b"line1"
    response.close()
    with pytest.raises((StopAsyncIteration, TransportError)):
        await anext(lines)
    await (await pool.request("GET", "/watch", {}, None, None)).iter_lines().__anext__()
    assert pool.connections_made == server.connections == 2, "the half-read connection was not reused"


async def test_a_missed_deadline_is_a_transport_error(serve: Serve) -> None:
    async def never(_: bytes, writer: asyncio.StreamWriter) -> None:
        await asyncio.Event().wait()

    _, pool = await serve(never)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TransportError, match="GET /slow got no answer before its deadline"):
        await pool.request("GET", "/slow?x=1", {}, None, loop.time() + 0.2)
    assert 0.2 <= loop.time() - started < 5


async def test_a_body_that_stops_before_the_deadline_ends_is_a_transport_error(serve: Serve) -> None:
    async def half(_: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await writer.drain()

    _, pool = await serve(half)
    loop = asyncio.get_running_loop()
    response = await pool.request("GET", "/half", {}, None, loop.time() + 0.2)
    with pytest.raises(TransportError, match="did not end before the deadline"):
        await response.read()


@pytest.mark.parametrize(("method", "retried"), [("GET", True), ("PUT", True), ("POST", False)])
async def test_a_kept_connection_the_server_drops_unanswered_is_replaced_for_idempotent_methods(
    serve: Serve, method: str, retried: bool
) -> None:
    answered: dict[int, int] = {}

    async def first_only(_: bytes, writer: asyncio.StreamWriter) -> None:
        # each connection answers its first request, then hangs up on the next without a word
        if answered.setdefault(id(writer), 0):
            writer.transport.abort()
            return
        answered[id(writer)] += 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    server, pool = await serve(first_only)
    assert await (await pool.request(method, "/", {}, b"{}", None)).read() == b"ok"
    if retried:
        assert await (await pool.request(method, "/", {}, b"{}", None)).read() == b"ok"
        assert server.connections == 2
    else:
        with pytest.raises(TransportError, match=f"{method} / got no answer"):
            await pool.request(method, "/", {}, b"{}", None)


async def test_an_answer_that_is_not_http_is_a_transport_error(serve: Serve) -> None:
    async def garbage(_: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")
        await writer.drain()

    _, pool = await serve(garbage)
    with pytest.raises(TransportError, match="not an HTTP status line"):
        await pool.request("GET", "/", {}, None, None)


async def test_a_refused_connection_is_a_transport_error() -> None:
    listening = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    listening.close()
    await listening.wait_closed()
    pool = ConnectionPool("127.0.0.1", port)
    with pytest.raises(TransportError, match="GET /api got no answer"):
        await pool.request("GET", "/api", {}, None, None)


async def test_at_most_limit_connections_are_open(serve: Serve) -> None:
    gate = asyncio.Event()

    async def slow(_: bytes, writer: asyncio.StreamWriter) -> None:
        await gate.wait()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")
        await writer.drain()

    server, _ = await serve(slow)
    pool = ConnectionPool("127.0.0.1", server.port, limit=2)

    async def one() -> bytes:
        return await (await pool.request("GET", "/", {}, None, None)).read()

    tasks = [asyncio.create_task(one()) for _ in range(5)]
    for _ in range(100):
        if len(server.requests) >= 2:
            break
        await asyncio.sleep(0.01)
    assert server.connections == 2
    gate.set()
    assert await asyncio.gather(*tasks) == [b"x"] * 5
    assert pool.connections_made == 2
    await pool.close()
    with pytest.raises(ValueError, match="limit must be at least 1"):
        ConnectionPool("127.0.0.1", server.port, limit=0)


def test_headers_are_looked_up_without_regard_to_case() -> None:
    headers = Headers({"retry-after": "3"})
    assert (headers["Retry-After"], headers.get("RETRY-AFTER"), dict(headers)) == (
        "3",
        "3",
        {"retry-after": "3"},
    )
