"""Speed benchmarks against the peers and the raw environment (issue 9).

One command measures everything and writes ``benchmarks/RESULTS.md`` (and the raw figures in
``benchmarks/RESULTS.json``)::

    python -m benchmarks.run                  # the full measurement, 3 rounds
    python -m benchmarks.run --quick          # small budgets, to check the harness
    python -m benchmarks.run --only ppo,trpo  # some comparisons
    python -m benchmarks.run --before REV     # also: this tree's agents vs revision REV's

Comparisons (module per comparison; each states its exact settings in its docstring):

0. ``hotpath`` (only with ``--before REV``): our agents in this tree vs at git revision REV,
   same runs as in 1 and 5 (`benchmarks.hotpath`).

1. ``ppo``: our PPO vs Stable-Baselines3 PPO, HalfCheetah-v5, identical hyperparameters,
   1 env and 8 envs, env steps/s end to end (`benchmarks.ppo_sb3`).
1b. ``process``: the same comparison as whole processes, start-up, run directory and all,
   as a user meets them (`benchmarks.ppo_process`; its one-off import costs are timed).
2. ``trpo``: our TRPO vs sb3-contrib TRPO, identical settings (`benchmarks.trpo_sb3`).
3. ``rollout``: ``agent.collect_rollout`` vs a raw SyncVectorEnv with random actions
   (`benchmarks.rollout`).
4. ``bonus``: steps/s with each bonus over steps/s with ``none`` (`benchmarks.bonus_cost`).
5. ``atari``: PPO with the Nature CNN vs SB3's CnnPolicy on Venture (`benchmarks.atari`).
6. ``matrix``: ``explore-bench matrix --workers 2`` vs ``--workers 1`` on 4 cells
   (`benchmarks.matrix_scaling`).
7. ``memory``: peak RSS of a MuJoCo and an Atari run (`benchmarks.memory`).
8. ``atari-env``: ale-py's native Atari vector env vs the gymnasium stack, 8 envs
   (`benchmarks.atari_env`).
9. ``emi-trpo``: TRPO + EMI (``emi-mujoco``), one 50k-step iteration on SparseHalfCheetah:
   the bonus's share of wall-clock, fast diversity kernel vs the dense one (`benchmarks.emi_trpo`).
10. ``gpu``: PPO + RND on cuda vs on cpu, Montezuma, and the bonus's share of wall-clock
   (`benchmarks.gpu`; skipped without a CUDA device).
11. ``report``: the report's vectorised bootstrap vs rliable's loop, and ``explore-bench
   report`` on results/evidence with charts on 2 worker processes vs in place
   (`benchmarks.report`).
12. ``minigrid``: PPO on DoorKey8x8 on the envpool backend vs the minigrid package, for
   ``none`` and every grid bonus, and against envpool's raw rate; the package path's view
   from the encoded grid vs the package's ``gen_obs`` on MultiRoomN6S5 (`benchmarks.minigrid`).

Method: every measurement runs in a fresh Python process (same import, thread and allocator
state; one torch/BLAS thread unless stated), its cwd a temp dir. In each round A and B run
back to back, A first in odd rounds and B first in even ones, so drifting machine load hits
both sides alike; a comparison reports the median over rounds of the per-round ratio A/B,
with its min and max. One-off import costs are paid before the timed span on both sides.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks._harness import ROOT, PairResult, fmt_met, fmt_ratio, run_measure, run_pairs
from explore_bench.store.io import write_text

COMPARISONS = {
    "ppo": "ppo_sb3",
    "process": "ppo_process",
    "trpo": "trpo_sb3",
    "rollout": "rollout",
    "bonus": "bonus_cost",
    "atari": "atari",
    "matrix": "matrix_scaling",
    "atari-env": "atari_env",
    "emi-trpo": "emi_trpo",
    "gpu": "gpu",
    "report": "report",
    "minigrid": "minigrid",
}
ORDER = ("hotpath", *COMPARISONS, "memory", "learning")
PACKAGES = (
    "explore-bench", "torch", "numpy", "gymnasium", "mujoco", "ale-py",
    "stable-baselines3", "sb3-contrib", "pyinstrument", "minigrid", "envpool",
)  # fmt: skip
HERE = Path(__file__).resolve().parent


def machine_facts() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(ln.split()[1])
            for ln in Path("/proc/meminfo").read_text().splitlines()
            if ln.startswith("MemTotal:")
        )
    except (OSError, StopIteration):
        mem_kb = 0
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 2**20, 1),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "host": platform.node(),
    }


def versions() -> dict[str, str]:
    out = {}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def git_revision() -> str:
    proc = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    rev = proc.stdout.strip() or "no commit"
    dirty = subprocess.run(
        ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return rev + (" (uncommitted changes)" if dirty else "")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def log(msg: str) -> None:
    print(msg, flush=True)


def run_all(names: list[str], rounds: int, quick: bool, before: str = "") -> dict[str, Any]:
    sections: dict[str, Any] = {}
    for name in names:
        start, load_before = time.perf_counter(), load()
        log(f"[{name}] load {load_before}")
        if name == "hotpath":
            from benchmarks import hotpath

            with hotpath.export(before) as src:
                sections[name] = {
                    "results": run_pairs(hotpath.pairs(quick, before, src), rounds, log),
                    "doc": hotpath.__doc__,
                }
        elif name == "memory":
            from benchmarks import memory

            sections[name] = {
                "rows": [
                    (key, m, limit, run_measure(m)) for key, m, limit in memory.measures(quick)
                ],
                "doc": memory.__doc__,
            }
        elif name == "learning":
            from benchmarks import learning

            result = learning.measure(quick, log)
            sections[name] = {"learning": result, "results": [], "doc": learning.__doc__}
        else:
            module = importlib.import_module(f"benchmarks.{COMPARISONS[name]}")
            pairs = module.pairs(quick)
            results = run_pairs(pairs, rounds, log) if pairs else []
            sections[name] = {"results": results, "doc": module.__doc__}
            skip = getattr(module, "skip_reason", lambda: None)()
            if skip:  # shown in RESULTS.md rather than silently left out
                log(f"[{name}] skipped: {skip}")
                sections[name]["extra"] = ["", f"Skipped: {skip}."]
            if hasattr(module, "extra") and results:  # a module's own table after its pairs
                sections[name]["extra"] = module.extra(quick, results)
        sections[name]["load"] = (load_before, load())
        sections[name]["seconds"] = time.perf_counter() - start
    return sections


def _sps(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def render(sections: dict[str, Any], meta: dict[str, Any]) -> str:
    out = [
        "# Speed benchmarks (issue 9)",
        "",
        f"Written by `{meta['command']}` on {meta['date']} (UTC), rounds: {meta['rounds']}"
        f"{', QUICK budgets (not the real measurement)' if meta['quick'] else ''}; "
        f"total {meta['minutes']:.1f} min. Git revision: {meta['git']}.",
        "",
        "Each figure is environment steps per second. A and B alternate within every round, "
        "each measurement in a fresh process with one torch thread; a comparison is the median "
        "of the per-round ratios A/B, with the min and max in brackets. The machine is shared: "
        "compare the ratios, not the absolute figures (load averages are listed per "
        "comparison). Targets are judged on the wall-clock ratio; the same ratio on CPU time "
        "(steps per CPU-second of the measuring process, blind to time spent waiting for a "
        "core that other processes hold) is shown beside it as a check against load noise.",
        "",
        "## Targets",
        "",
        "| comparison | A / B | median ratio (min-max) | same on CPU time | target | met? |",
        "|---|---|---|---|---|---|",
    ]
    for name in ORDER:
        sec = sections.get(name)
        if sec is None or name == "memory":
            continue
        for res in sec["results"]:
            p = res.pair
            out.append(
                f"| {p.title} | {p.a.label} / {p.b.label} | {fmt_ratio(res)} | "
                f"{fmt_ratio(res, cpu=True)} | {p.target_text} | {fmt_met(res.met)} |"
            )
    if "memory" in sections:
        for key, m, limit, r in sections["memory"]["rows"]:
            gb = r["peak_rss_mb"] / 1024
            met = None if limit is None else gb <= limit
            target = f"<= {limit:.0f} GB" if limit else "none (reported)"
            out.append(
                f"| peak RSS, {key} run ({m.label}) | - | {r['peak_rss_mb']:,.0f} MB | - | "
                f"{target} | {fmt_met(met)} |"
            )
    if "learning" in sections:
        from benchmarks import learning

        res = sections["learning"]["learning"]
        out.append(
            f"| {learning.title(res)} | ours - SB3 | {learning.fmt_diff(res)} | - | "
            f"the difference's 95% interval contains 0 | {fmt_met(res['met'])} |"
        )
    out += ["", "## Machine and packages", ""]
    m = meta["machine"]
    out.append(
        f"- CPU: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM; {m['platform']}; "
        f"Python {m['python']}"
    )
    out.append(f"- load average (1, 5, 15 min) at start: {meta['load_start']}; at end: "
               f"{meta['load_end']}")  # fmt: skip
    out.append("- packages: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()))
    out.append("- threads: OMP/MKL/OPENBLAS_NUM_THREADS=1 and torch.set_num_threads(1) per process")
    for name in ORDER:
        sec = sections.get(name)
        if sec is None:
            continue
        doc = (sec["doc"] or "").strip()
        out += ["", f"## {name}", "", doc, ""]
        before = f" --before {meta['before']}" if name == "hotpath" else ""
        out.append(
            f"Command: `python -m benchmarks.run --only {name} --rounds {meta['rounds']}"
            f"{' --quick' if meta['quick'] else ''}{before}`; load average before/after: "
            f"{sec['load'][0]} / {sec['load'][1]}; {sec['seconds'] / 60:.1f} min."
        )
        if name == "learning":
            from benchmarks import learning

            out += learning.table(sec["learning"])
            continue
        if name == "memory":
            out += ["", "| run | peak RSS | steps/s |", "|---|---|---|"]
            for key, meas, _, r in sec["rows"]:
                out.append(
                    f"| {key}: {meas.label} | {r['peak_rss_mb']:,.0f} MB | {_sps(r['sps'])} |"
                )
            continue
        for res in sec["results"]:
            out += _pair_table(res)
        out += sec.get("extra", [])
    out.append("")
    return "\n".join(out)


def _pair_table(res: PairResult) -> list[str]:
    p = res.pair
    lines = [
        "",
        f"**{p.title}** - A = {p.a.label}, B = {p.b.label}: {fmt_ratio(res)}; "
        f"target {p.target_text}: {fmt_met(res.met)}",
        "",
        "| round | A steps/s | B steps/s | A/B | A/B on CPU time | A: rollout / bonus / update "
        "of total s |",
        "|---|---|---|---|---|---|",
    ]
    for i, (a, b) in enumerate(zip(res.a, res.b, strict=True)):
        split = (
            f"{a['rollout_s']:.2f} / {a['bonus_s']:.2f} / {a['update_s']:.2f} of {a['wall_s']:.2f}"
            if "rollout_s" in a
            else f"wall {a['wall_s']:.2f} s"
        )
        cpu = f"{a['sps_cpu'] / b['sps_cpu']:.2f}" if "sps_cpu" in a and "sps_cpu" in b else "-"
        lines.append(
            f"| {i + 1} | {_sps(a['sps'])} | {_sps(b['sps'])} | {a['sps'] / b['sps']:.2f} | "
            f"{cpu} | {split} |"
        )
    return lines


def _to_json(sections: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {"meta": meta, "comparisons": {}}
    for name, sec in sections.items():
        if name == "learning":
            data["comparisons"][name] = sec["learning"]
            continue
        if name == "memory":
            data["comparisons"][name] = [
                {"run": key, "label": m.label, "limit_gb": lim, **r}
                for key, m, lim, r in sec["rows"]
            ]
            continue
        data["comparisons"][name] = [
            {
                "key": r.pair.key,
                "title": r.pair.title,
                "a": {"label": r.pair.a.label, "kwargs": dict(r.pair.a.kwargs), "runs": r.a},
                "b": {"label": r.pair.b.label, "kwargs": dict(r.pair.b.kwargs), "runs": r.b},
                "ratios": r.ratios,
                "ratios_cpu": r.ratios_cpu,
                "median_ratio": r.median,
                "target": r.pair.target,
                "met": r.met,
            }
            for r in sec["results"]
        ]
        if "extra" in sec:
            data["comparisons"][f"{name}_extra"] = sec["extra"]
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="A/B rounds per comparison")
    parser.add_argument("--quick", action="store_true", help="small budgets (harness check)")
    parser.add_argument("--only", default="", help=f"comma list of: {', '.join(ORDER)}")
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"))
    parser.add_argument(
        "--before",
        default="",
        metavar="REV",
        help="also compare this tree's agents with those of git revision REV (hotpath)",
    )
    args = parser.parse_args(argv)
    default = [n for n in ORDER if n != "hotpath" or args.before]
    names = [n.strip() for n in args.only.split(",") if n.strip()] or default
    if "hotpath" in names and not args.before:
        parser.error("hotpath needs --before REV")
    unknown = sorted(set(names) - set(ORDER))
    if unknown:
        parser.error(f"unknown comparisons {unknown}; valid: {', '.join(ORDER)}")
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    start, load_start = time.perf_counter(), load()
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    sections = run_all([n for n in ORDER if n in names], args.rounds, args.quick, args.before)
    meta = {
        "command": "python -m benchmarks.run " + shlex.join(sys.argv[1:] if argv is None else argv),
        "date": date,
        "rounds": args.rounds,
        "quick": args.quick,
        "before": args.before,
        "minutes": (time.perf_counter() - start) / 60,
        "git": git_revision(),
        "machine": machine_facts(),
        "versions": versions(),
        "load_start": load_start,
        "load_end": load(),
    }
    out = Path(args.out)
    write_text(out, render(sections, meta))
    write_text(
        out.with_suffix(".json"), json.dumps(_to_json(sections, meta), indent=1, default=str) + "\n"
    )
    log(f"wrote {out} and {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
