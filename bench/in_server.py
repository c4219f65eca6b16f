"""What the harness runs in the server's environment: ``python -m bench.<module> --spec JSON --out FILE``.

The module (``bench.seed``, ``bench.connect_steps``) runs with the code under
test on its path and the server's database and Redis; it reads its spec as
JSON and writes its answer as JSON to a file the harness reads back.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any


def main(run: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Parse ``--spec`` and ``--out``, set Django up, and write what ``run(spec)`` answers to ``--out``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    spec = json.loads(args.spec)

    sys.path.insert(0, os.getcwd())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    result = run(spec)
    with open(args.out, "w") as f:
        json.dump(result, f)
