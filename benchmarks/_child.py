"""Child-process entry point: ``python -m benchmarks._child module:function '<json kwargs>'``.

Prints one ``RESULT {...}`` line: the function's figures plus this process's peak RSS."""

from __future__ import annotations

import importlib
import json
import resource
import sys


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM belongs to the address space exec created, whereas
    getrusage's ru_maxrss survives exec and may report the forking parent's size."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    func_path, kwargs = sys.argv[1], json.loads(sys.argv[2])
    kwargs.pop("env", None)  # environment variables were applied by the parent
    import torch

    torch.set_num_threads(int(kwargs.pop("torch_threads", 1)))
    module, _, name = func_path.partition(":")
    func = getattr(importlib.import_module(f"benchmarks.{module}"), name)
    result = func(**kwargs)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
