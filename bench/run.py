"""Run every benchmark (bench/bench_*.py), print its figures and save them as JSON.

Each module has `run() -> dict`: figures with their in-run baseline, so that ratios
(not bare times, which depend on a shared, noisy machine) can be compared across runs.
Usage: python bench/run.py [NAME ...]
"""

from __future__ import annotations

import importlib.util
import json
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine() -> dict[str, object]:
    import os

    return {
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }


def main(names: list[str]) -> int:
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    modules = sorted(HERE.glob("bench_*.py"))
    if names:
        modules = [m for m in modules if m.stem.removeprefix("bench_") in names]
    for path in modules:
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec and spec.loader
        mod = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = mod  # so worker processes can pickle its functions
        spec.loader.exec_module(mod)
        print(f"== {path.stem}", flush=True)
        figures = mod.run()
        result = {"benchmark": path.stem, "machine": machine(), "figures": figures}
        (out_dir / f"{path.stem}.json").write_text(json.dumps(result, indent=2) + "\n")
        for key, value in figures.items():
            print(f"  {key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
