"""/workspace/tfs/fine_tuning.py of KAITO's base image, here: kaito.tune on the pod's paths."""

import sys

from kaito.tune.base_image import fine_tuning

if __name__ == "__main__":
    sys.exit(fine_tuning())
