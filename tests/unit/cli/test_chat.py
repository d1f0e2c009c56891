"""`kaito chat`: the request it sends, how it reads a stream, and what it says when it cannot ask."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaito.cli import main
from kaito.cli.chat import chat_body, proxy_path, sse_delta


def test_it_asks_through_the_service_proxy_on_port_http() -> None:
    assert proxy_path("team", "workspace-phi-3-mini", "/v1/chat/completions") == (
        "/api/v1/namespaces/team/services/workspace-phi-3-mini:http/proxy/v1/chat/completions"
    )


def test_the_request_is_an_openai_chat_completion() -> None:
    history = [{"role": "user", "content": "hello"}]
    assert chat_body("phi", history, max_tokens=8, temperature=0.5, stream=True) == {
        "model": "phi",
        "messages": history,
        "max_tokens": 8,
        "temperature": 0.5,
        "stream": True,
    }


@pytest.mark.parametrize(
    ("line", "text"),
    [
        (b'data: {"choices":[{"delta":{"content":"Hel"}}]}', "Hel"),
        (b'data: {"choices":[{"delta":{"role":"assistant","content":""}}]}', None),
        (b'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}', None),
        (b"data: [DONE]", None),
        (b": keep-alive", None),
        (b"", None),
    ],
)
def test_only_content_deltas_are_printed(line: bytes, text: str | None) -> None:
    assert sse_delta(line) == text


def test_a_bad_token_budget_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "ws", "hi", "--max-tokens", "0"]) == 2
    assert "--max-tokens is 0; give 1 or more" in capsys.readouterr().err


def test_an_unreachable_cluster_is_said_in_a_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {}}]\n"
    )
    assert main(["chat", "ws", "hi", "--kubeconfig", str(kubeconfig)]) == 1
    assert "error: cannot reach the cluster" in capsys.readouterr().err
