"""kaito.tune: the trainer a tuning Job runs, with KAITO's contract, for CPU and GPU.

It reads KAITO's training_config.yaml (ModelConfig, QuantizationConfig, LoraConfig, TrainingArguments,
DataCollator, DatasetConfig), the data from URLs or a mounted directory (parquet, JSON, JSON Lines), trains a
LoRA adapter with transformers + peft (QLoRA through bitsandbytes where a GPU is present; refused on CPU with
a sentence), and writes a PEFT adapter directory plus KAITO's completion marker. Progress goes to the log and
to Prometheus-style gauges (a text file, and /metrics when asked).

Modules, one job each:

* config    training_config.yaml into typed sections (pure)
* data      find, download and read the data; rows into texts; the train/eval split (pure but for I/O)
* progress  log lines and gauges (text file, tiny /metrics server)
* train     the run itself (imports torch, transformers and peft when called)
* cli       `python -m kaito.tune`

It imports nothing else of kaito-py (an import contract says so): it runs in the trainer's own environment,
where the operator's dependencies are not installed.
"""

from kaito.tune.config import *  # noqa: F403
from kaito.tune.config import __all__ as _config_all
from kaito.tune.data import *  # noqa: F403
from kaito.tune.data import __all__ as _data_all
from kaito.tune.progress import *  # noqa: F403
from kaito.tune.progress import __all__ as _progress_all
from kaito.tune.train import *  # noqa: F403
from kaito.tune.train import __all__ as _train_all

__all__ = sorted({*_config_all, *_data_all, *_progress_all, *_train_all})
