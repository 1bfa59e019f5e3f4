"""Worker tests run with the Hugging Face hub switched off: nothing may be downloaded, ever.

Set at import, before any test module imports diffusers or transformers; subprocesses inherit it.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
