"""The training run: base model + LoRA (QLoRA on a GPU), a plain causal-LM loop, the adapter saved.

    load tokenizer and model (ModelConfig; QuantizationConfig through bitsandbytes when load_in_4bit/8bit)
    -> wrap in peft's LoRA (LoraConfig; target_modules from the config, else $DEFAULT_TARGET_MODULES, else
       peft's default for the architecture) -> tokenize the texts (max_length) -> AdamW over the adapter's
       weights for max_steps, or num_train_epochs x steps per epoch, with linear warm-up
    -> save_pretrained(output_dir): adapter_config.json + adapter_model.safetensors, then
       fine_tuning_completed.txt (the marker KAITO's pusher waits for)

Why a loop of its own rather than trl's SFTTrainer (what KAITO's trainer uses): the same result for a
LoRA run (loss on every token of the text, padding masked), two libraries fewer in the image, and a loop
this file shows whole. Device: CUDA when torch sees a GPU, else CPU. QLoRA needs CUDA and bitsandbytes;
on CPU it is refused with a sentence before any weight is loaded, while LoRA runs on CPU as well.

torch, transformers and peft are imported inside `train` so that the rest of kaito.tune (config, data,
progress) stays importable without them.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kaito.tune.config import TuneConfig
from kaito.tune.data import find_dataset, read_rows, row_texts, split_rows
from kaito.tune.progress import Progress

__all__ = ["COMPLETION_MARKER", "FAILURE_MARKER", "TrainResult", "TuneError", "check_quantization", "train"]

log = logging.getLogger("kaito.tune")

COMPLETION_MARKER = "fine_tuning_completed.txt"
FAILURE_MARKER = "fine_tuning_failed.txt"


class TuneError(RuntimeError):
    """Training cannot go on; the message says why in a sentence the user can act on."""


@dataclass(frozen=True)
class TrainResult:
    """What a finished run did."""

    output_dir: Path
    steps: int
    train_rows: int
    eval_rows: int
    final_loss: float
    eval_loss: float | None
    seconds: float
    device: str


def check_quantization(config: TuneConfig, *, cuda: bool) -> None:
    """Refuse QLoRA where it cannot run: bitsandbytes' 4/8-bit kernels need an NVIDIA GPU."""
    if not config.quantized:
        return
    key = "load_in_4bit" if config.quantization.get("load_in_4bit") else "load_in_8bit"
    if not cuda:
        raise TuneError(
            f"QuantizationConfig.{key} is true (the qlora method), which needs an NVIDIA GPU with "
            "bitsandbytes, and this machine has no GPU torch can use; use the lora method "
            f"(QuantizationConfig.{key}: false) to train on CPU"
        )
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise TuneError(
            f"QuantizationConfig.{key} is true (the qlora method) but bitsandbytes is not installed; "
            "install bitsandbytes, or use the lora method"
        ) from None


def _dtype(torch: Any, value: Any) -> Any:
    if value in (None, "auto"):
        return value
    resolved = getattr(torch, str(value), None)
    if not isinstance(resolved, torch.dtype):
        raise TuneError(
            f"ModelConfig.torch_dtype is {value!r}; write one of bfloat16, float16, float32 or auto"
        )
    return resolved


def _chat_renderer(tokenizer: Any) -> Any:
    def render(messages: list[Any]) -> str:
        if getattr(tokenizer, "chat_template", None):
            return str(tokenizer.apply_chat_template(messages, tokenize=False))
        return "\n".join(f"{m.get('role', 'user')}: {m.get('content', '')}" for m in messages)

    return render


def _load_chat_template(value: str) -> str:
    if "{" in value or "\n" in value:
        return value
    try:
        return Path(value).read_text(encoding="utf-8")
    except OSError as error:
        raise TuneError(f"ModelConfig.chat_template {value!r} cannot be read: {error.strerror}") from None


def _lora_config(peft: Any, raw: dict[str, Any]) -> Any:
    arguments = dict(raw)
    arguments.setdefault("task_type", "CAUSAL_LM")
    if "target_modules" not in arguments and os.environ.get("DEFAULT_TARGET_MODULES"):
        arguments["target_modules"] = [m.strip() for m in os.environ["DEFAULT_TARGET_MODULES"].split(",")]
    if isinstance(arguments.get("target_modules"), str) and "," in arguments["target_modules"]:
        arguments["target_modules"] = [m.strip() for m in arguments["target_modules"].split(",")]
    try:
        return peft.LoraConfig(**arguments)
    except (TypeError, ValueError) as error:
        raise TuneError(f"LoraConfig {raw!r} is not accepted by peft.LoraConfig: {error}") from None


def train(
    config: TuneConfig,
    *,
    data_dir: Path,
    output_dir: Path | None = None,
    model_path: str | None = None,
    metrics_file: Path | None = None,
    metrics_port: int | None = None,
) -> TrainResult:
    """Train a LoRA adapter as `config` says and write it to output_dir (the config's, unless given)."""
    import peft
    import torch
    import transformers
    from peft import get_peft_model, prepare_model_for_kbit_training

    started = time.monotonic()
    cuda = torch.cuda.is_available()
    check_quantization(config, cuda=cuda)
    settings = config.training
    out = output_dir or Path(settings.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    source = model_path or config.model_path
    model_options = config.model
    common = {
        "local_files_only": bool(model_options.get("local_files_only", False)),
        "trust_remote_code": bool(model_options.get("trust_remote_code", False)),
    }
    if model_options.get("revision"):
        common["revision"] = model_options["revision"]
    torch.manual_seed(settings.seed)

    path, fmt = find_dataset(config.dataset, data_dir)
    rows = read_rows(path, fmt)
    log.info("dataset %s (%s): %d rows", path, fmt, len(rows))

    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(source, **common)
    except OSError as error:
        raise TuneError(
            f"cannot load the tokenizer from {source} (ModelConfig.pretrained_model_name_or_path): {error}"
        ) from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if model_options.get("chat_template"):
        tokenizer.chat_template = _load_chat_template(str(model_options["chat_template"]))
    texts = row_texts(rows, config.dataset, _chat_renderer(tokenizer))
    train_texts, eval_texts = split_rows(texts, config.dataset)

    load: dict[str, Any] = {**common, "dtype": _dtype(torch, model_options.get("torch_dtype"))}
    if config.quantized:
        load["quantization_config"] = transformers.BitsAndBytesConfig(**config.quantization)
    if cuda and model_options.get("device_map"):
        load["device_map"] = model_options["device_map"]
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(source, **load)
    except OSError as error:
        raise TuneError(
            f"cannot load the model from {source} (ModelConfig.pretrained_model_name_or_path): {error}"
        ) from None
    if config.quantized:
        model = prepare_model_for_kbit_training(model)
    model = get_peft_model(model, _lora_config(peft, config.lora))
    model.config.use_cache = False
    device = torch.device("cuda" if cuda else "cpu")
    if not cuda or "device_map" not in load:
        model.to(device)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    log.info("model %s on %s: %d of %d parameters trainable (LoRA)", source, device, trainable, total)
    for key in config.ignored_keys():
        log.info("config key %s is not used by this trainer", key)

    limit = settings.max_length
    positions = getattr(model.config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        limit = min(limit, positions)

    def encode(batch: list[str]) -> dict[str, Any]:
        encoded = tokenizer(batch, truncation=True, max_length=limit, padding=True, return_tensors="pt")
        labels = encoded["input_ids"].clone()
        labels[encoded["attention_mask"] == 0] = -100
        encoded["labels"] = labels
        return {k: v.to(device) for k, v in encoded.items()}

    batch_size = settings.per_device_train_batch_size
    accumulation = settings.gradient_accumulation_steps
    batches_per_epoch = math.ceil(len(train_texts) / batch_size)
    steps_per_epoch = max(1, math.ceil(batches_per_epoch / accumulation))
    planned = (
        settings.max_steps
        if settings.max_steps > 0
        else math.ceil(settings.num_train_epochs * steps_per_epoch)
    )
    if planned < 1:
        raise TuneError("TrainingArguments gives no steps to take; set max_steps or num_train_epochs above 0")
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    warmup = settings.warmup_steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) if warmup else 1.0
    )
    progress = Progress(planned, metrics_file=metrics_file)
    if metrics_port is not None:
        bound = progress.serve("0.0.0.0", metrics_port)
        log.info("serving training metrics on :%d/metrics", bound)
    log.info(
        "training: %d rows (%d held out), batch %d x %d accumulation, %d steps",
        len(train_texts),
        len(eval_texts),
        batch_size,
        accumulation,
        planned,
    )
    generator = torch.Generator().manual_seed(settings.seed)
    model.train()
    step, loss_value, micro = 0, float("nan"), 0
    try:
        while step < planned:
            order = torch.randperm(len(train_texts), generator=generator).tolist()
            for start in range(0, len(order), batch_size):
                batch = [train_texts[i] for i in order[start : start + batch_size]]
                loss = model(**encode(batch)).loss / accumulation
                loss.backward()
                micro += 1
                loss_value = float(loss.detach()) * accumulation
                if micro % accumulation:
                    continue
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                step += 1
                epoch = micro / batches_per_epoch
                last = step == planned
                progress.step(
                    step,
                    epoch,
                    loss_value,
                    scheduler.get_last_lr()[0],
                    log_it=last or step % settings.logging_steps == 0,
                )
                if last:
                    break
        eval_loss = None
        if eval_texts:
            model.eval()
            with torch.no_grad():
                losses = [
                    float(model(**encode(eval_texts[i : i + batch_size])).loss)
                    for i in range(0, len(eval_texts), batch_size)
                ]
            eval_loss = sum(losses) / len(losses)
            log.info("eval loss %.4f on %d held-out rows", eval_loss, len(eval_texts))
        model.save_pretrained(str(out))
        stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H-%M-%S")
        (out / COMPLETION_MARKER).write_text(f"Fine-Tuning completed at {stamp}\n", encoding="utf-8")
        progress.done()
    finally:
        progress.close()
    seconds = time.monotonic() - started
    summary = {
        "steps": step,
        "final_loss": round(loss_value, 6),
        "seconds": round(seconds, 2),
        "device": str(device),
    }
    log.info("fine-tuning completed: adapter in %s %s", out, json.dumps(summary))
    return TrainResult(
        output_dir=out,
        steps=step,
        train_rows=len(train_texts),
        eval_rows=len(eval_texts),
        final_loss=loss_value,
        eval_loss=eval_loss,
        seconds=seconds,
        device=str(device),
    )
