"""kaito.serve: the program inside the inference pod (KAITO ships its own in its images, so do we).

    python3 -m kaito.serve vllm --kaito-config-file /mnt/config/inference_config.yaml \\
        --kaito-adapters-dir /mnt/adapter --model /workspace/vllm/weights --served-model-name NAME ...
    python3 -m kaito.serve transformers --kaito-config-file ... --model DIR --served-model-name NAME ...

- `vllm`: vLLM's OpenAI server, built in-process through vLLM's own app-building entry points, plus
  KAITO's prompt API `POST /chat` on the same engine; adapters found in the adapter directory are served
  as LoRA modules; the ConfigMap's `vllm:` flags are merged over the command line.
- `transformers`: a Hugging Face model (transformers + torch) with `/chat`, `/v1/chat/completions`
  (plain and streamed), `/v1/models`, `/health` and `/metrics`.

It depends on no other part of kaito-py (an import contract says so), so an image needs only this
package. The request and answer shapes are pure modules (`prompt`, `openai`, `flags`) that import without
torch, vLLM or FastAPI; the servers import those only when started. `tiny_model` writes a small
random-weight chat model for machines with no network (`kaito up --serve`, the end-to-end tests).
"""

from kaito.serve.flags import adapter_modules, flag_value, merge_flags, read_config
from kaito.serve.main import RUNTIMES, main, server_argv
from kaito.serve.openai import (
    DEFAULT_MAX_TOKENS,
    ChatCompletionRequest,
    FinishReason,
    chat_chunk,
    chat_completion,
    models_list,
    parse_chat_request,
    sse_event,
)
from kaito.serve.prompt import (
    PROMPT_REQUIRED,
    GenerateKwargs,
    Message,
    PromptError,
    PromptRequest,
    generation_budget,
    hf_generate_kwargs,
    parse_prompt_request,
    prompt_result,
    prompt_text,
    vllm_sampling,
)

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "PROMPT_REQUIRED",
    "RUNTIMES",
    "ChatCompletionRequest",
    "FinishReason",
    "GenerateKwargs",
    "Message",
    "PromptError",
    "PromptRequest",
    "adapter_modules",
    "chat_chunk",
    "chat_completion",
    "flag_value",
    "generation_budget",
    "hf_generate_kwargs",
    "main",
    "merge_flags",
    "models_list",
    "parse_chat_request",
    "parse_prompt_request",
    "prompt_result",
    "prompt_text",
    "read_config",
    "server_argv",
    "sse_event",
    "vllm_sampling",
]
