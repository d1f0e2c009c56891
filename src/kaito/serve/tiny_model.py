"""Write a tiny random-weight Llama chat model (tokenizer + LlamaForCausalLM, ~3 MB) to a directory.

    python -m kaito.serve.tiny_model OUT_DIR [MAX_POSITIONS]

It stands in for a preset's weights where there is no network (`kaito up --serve`, the end-to-end tests).
Run with a python that has torch, transformers and tokenizers (the serving venv). The tokenizer is a
byte-level BPE trained on a few sentences (vocab 512) with a chat template; the model has 2 layers, hidden
256, 4 heads, 2 KV heads, MAX_POSITIONS positions (default 512; raise it to a preset's context) and
random weights: its output is gibberish, every protocol path of the server that loads it is real.
Deterministic (fixed seed).
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["CHAT_TEMPLATE", "write_tiny_model"]

CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Kubernetes runs containers on nodes; an operator reconciles custom resources.",
    "vLLM serves large language models with paged attention and continuous batching.",
    "Hello! How can I help you today? Say hello to the cluster.",
    "user assistant system: answer briefly and politely.",
]


def write_tiny_model(out: Path, max_positions: int = 512) -> None:
    """Generate the model and tokenizer into `out` (deterministic: fixed seed)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(0)
    specials = ["<unk>", "<s>", "</s>", "<|user|>", "<|assistant|>", "<|system|>"]
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator(CORPUS * 20, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="</s>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=256,
        intermediate_size=512,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        torch_dtype="bfloat16",
    )
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python -m kaito.serve.tiny_model OUT_DIR [MAX_POSITIONS]")
    write_tiny_model(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) == 3 else 512)
