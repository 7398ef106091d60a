"""Start-up time: imports and the quick commands, the working tree against a git commit, side by side in one run.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/startup.py [--base 0f1be01] [--runs 5] [--store S]

Each case runs ``--runs`` times in a fresh process with the source tree on ``PYTHONPATH``, the base commit (checked
out into a temporary git worktree, removed afterwards) and the working tree taking turns, so that both see the same
load on the machine. Cases: ``import seiscreen.workflow.flows`` (what ``seiscreen run`` imports), ``import
seiscreen.cli``, ``seiscreen --help``, ``seiscreen results --store S`` and ``seiscreen status --store S``. The store
is ``--store``, else the EMT demo campaign (workflows/emt-demo.yaml: one surface, seconds) run into a temporary
folder by the working tree. Prints the median wall and CPU (user + system) seconds of each and the ratio base /
working tree; CPU seconds do not grow with other load on the machine, wall seconds do. Target: ``results`` and
``status`` under 1 s wall.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMAND = "import sys; from seiscreen.cli import main; sys.argv[0] = 'seiscreen'; main()"  # as the console script


def cases(store: Path) -> dict[str, list[str]]:
    """What is timed: a name and the Python arguments of one fresh process."""
    return {
        "import seiscreen.workflow.flows": ["-c", "import seiscreen.workflow.flows"],
        "import seiscreen.cli": ["-c", "import seiscreen.cli"],
        "seiscreen --help": ["-c", COMMAND, "--help"],
        "seiscreen results": ["-c", COMMAND, "results", "--store", str(store)],
        "seiscreen status": ["-c", COMMAND, "status", "--store", str(store)],
    }


def timed(args: list[str], source: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one process running ``python args`` with ``source`` (a src folder) importable."""
    env = {**os.environ, "PYTHONPATH": str(source), "OMP_NUM_THREADS": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"{args} failed with {source}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def demo_store(folder: Path) -> Path:
    """The EMT demo campaign run into ``folder/store`` by the working tree."""
    store = folder / "store"
    timed(["-c", COMMAND, "run", str(REPO / "workflows" / "emt-demo.yaml"), "--store", str(store)], REPO / "src")
    return store


def compare(trees: dict[str, Path], store: Path, runs: int) -> None:
    """Print the median wall and CPU seconds of every case for every tree, and the ratio first tree / last."""
    names = list(trees)
    print(f"{'case':34s}" + "".join(f"{name + ' wall':>16s}{name + ' CPU':>15s}" for name in names)
          + f"{'ratio wall':>12s}{'ratio CPU':>11s}")
    for case, args in cases(store).items():
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
        for _ in range(runs):
            for name in names:  # taking turns: both trees see the same load
                samples[name].append(timed(args, trees[name] / "src"))
        medians = {name: (statistics.median(s[0] for s in samples[name]),
                          statistics.median(s[1] for s in samples[name])) for name in names}
        first, last = medians[names[0]], medians[names[-1]]
        print(f"{case:34s}" + "".join(f"{medians[n][0]:15.2f}s{medians[n][1]:14.2f}s" for n in names)
              + f"{first[0] / last[0]:11.1f}x{first[1] / last[1]:10.1f}x", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="0f1be01", help="the git commit to compare against")
    parser.add_argument("--runs", type=int, default=5, help="processes per case and tree (the median is shown)")
    parser.add_argument("--store", type=Path, help="the store that results and status read (default: the EMT demo)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="seiscreen-startup-") as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(base), args.base],
                       check=True, capture_output=True)
        try:
            store = args.store.absolute() if args.store else demo_store(Path(tmp))
            print(f"base {args.base} against the working tree, median of {args.runs} runs, store {store}; "
                  f"load average {os.getloadavg()[0]:.1f}")
            compare({"base": base, "tree": REPO}, store, args.runs)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base)], check=False,
                           capture_output=True)


if __name__ == "__main__":
    main()
