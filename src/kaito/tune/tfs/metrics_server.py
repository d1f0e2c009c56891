"""/workspace/tfs/metrics_server.py of KAITO's base image, here: no GPU metrics on CPU (see base_image)."""

import sys

from kaito.tune.base_image import metrics_server

if __name__ == "__main__":
    sys.exit(metrics_server())
