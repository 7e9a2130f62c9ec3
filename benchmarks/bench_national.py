"""The national benchmark (issue 19): whole `zhengai run`s of a generated province, cold and nightly.

Usage:
    python benchmarks/bench_national.py [--schools 1550] [--years 2024] [--years 2022-2024] [--nightlies 3] [--work DIR]
    python benchmarks/bench_national.py --demo-cold --old-commit SHA [--repeat 3]

National mode: each `--years` is one province (`zhengai synth --schools N --years Y --seed S
--defects`), generated once into `--work` and reused while its `bench.json` says the same size and
seed (generating 1,550 colleges takes minutes). Three runs of `zhengai run --as-of <Y_last>-12-01`
are measured on one data home whose inbox is hard links to the generated one:

- `full`: the cold run, on a fresh home;
- `nothing changed`: the nightly run again, the inbox as it was;
- `one table changed`: the nightly after one college re-exported one table with changed content
  (`pipelines.demo.reexport`; the inbox file is replaced, never the generated copy), `--nightlies`
  times (3 by default), each after another college's re-export; the target is judged on their median,
  since one run is one sample and two runs of the same code differ by seconds on a shared machine.

Targets: full run of 1,550 × 1 within 10 minutes and 4 GB; `one table changed` within 10% of the full
run's time, `nothing changed` within 5%.

Demo-cold mode: the demo's cold run (`zhengai run --as-of 2024-12-01` on a fresh home with the demo
inbox, 47 × 3, seed 2026, defects, mixed layouts) of this checkout against an old commit, taken in
turn (old, new, new, old, …) so that a busy spell of the shared machine hits both; medians are
reported. The old commit is unpacked with `git archive` into `--work` (no worktree is registered in
the repository) and gets its own `.venv` with `make install`; both are reused.

Each run is a child process measured two ways, because neither alone answers "peak memory of every
process" (the run forks an ingest fork server and its workers):
- `os.wait4` on the run gives the kernel's exact rusage of the run and every descendant it reaped:
  CPU time (user + system) and `ru_maxrss`, the high-water mark of the largest single process;
- a sampler reads /proc every 0.2 s for the run's process tree: each process's peak RSS and the
  peak of their sum (what the machine must hold at once, the figure the 4 GB target is about),
  at the cost of missing a spike shorter than the interval.
Per-step times are read from the run's own progress lines (`[ n/N] step  12.3 s`); `outside steps`
is the wall time no step accounts for (start-up, imports, the run's set-up, the summary).

Figures on a shared machine vary run to run; CPU time is the steadier one. Results are printed as
tables and written as JSON: each province's as soon as its runs end, to `<work>/bench_national-<schools>x<years>.json`
(e.g. `bench_national-1550x2024.json`, `bench_national-1550x2022-2024.json`: a run of one size never overwrites
another's), the demo's cold run to `<work>/bench_national-demo-cold.json`; `--json PATH` writes everything the
invocation measured to PATH instead.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STEP_LINE = re.compile(r"^\s+\[\s*\d+(?:/\d+)?\]\s+(\S+)\s+([\d.]+) s\b")
SAMPLE_SECONDS = 0.2
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
ONE_CHANGED = "one table changed"
TARGETS = {ONE_CHANGED: 0.10, "nothing changed": 0.05}
DEMO = {"schools": 47, "years": "2022-2024", "seed": 2026, "layouts": "mixed"}


@dataclass
class RunFigures:
    label: str
    exit_code: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    largest_process_mb: float = 0.0  # ru_maxrss of wait4: exact, one process
    tree_peak_mb: float = 0.0  # sampled: the sum over the run's live processes at their fullest
    processes: list[dict] = field(default_factory=list)  # sampled peak per process
    steps: dict[str, float] = field(default_factory=dict)
    outside_steps_s: float = 0.0


class TreeSampler(threading.Thread):
    """Peak RSS of every process under `root` (and of their sum), read from /proc every SAMPLE_SECONDS."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.peaks: dict[int, tuple[float, str]] = {}
        self.tree_peak_kb = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            total = 0
            for pid in descendants(self.root):
                kb = rss_kb(pid)
                total += kb
                if kb > self.peaks.get(pid, (0, ""))[0]:
                    self.peaks[pid] = (kb, command_of(pid))
            self.tree_peak_kb = max(self.tree_peak_kb, total)
            self.stopped.wait(SAMPLE_SECONDS)


def parent_pids() -> dict[int, int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            # the command name in brackets may hold spaces: fields follow the last ')'
            parents[int(entry)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    return parents


def descendants(root: int) -> list[int]:
    parents = parent_pids()
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def rss_kb(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB
    except (OSError, IndexError, ValueError):
        return 0


def command_of(pid: int) -> str:
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    return " ".join(
        Path(w.decode(errors="replace")).name if i == 0 else w.decode(errors="replace") for i, w in enumerate(words[:4])
    )


def measure_run(label: str, zhengai: Path, home: Path, as_of: str, log: Path) -> RunFigures:
    """One `zhengai run` in `home`, its output kept in `log`; figures as the module docstring says."""
    figures = RunFigures(label)
    env = {**os.environ, "ZHENGAI_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    started = time.perf_counter()
    with open(log, "w", encoding="utf-8") as out:
        process = subprocess.Popen(
            [str(zhengai), "run", "--as-of", as_of],
            # in its own checkout: the ingest's fork server imports `pipelines` from the working folder
            # first, and an old commit's run started here took this checkout's package: its workers broke
            # (BrokenProcessPool) and it read every college in process, a slower old run than the real one
            cwd=zhengai.parents[2],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            text=True,
        )
        sampler = TreeSampler(process.pid)
        sampler.start()
        for line in process.stdout:
            out.write(line)
            out.flush()  # so that a long run can be followed in its log
            match = STEP_LINE.match(line)
            if match:
                figures.steps[match.group(1)] = float(match.group(2))
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    figures.wall_s = time.perf_counter() - started
    sampler.stopped.set()
    sampler.join()
    figures.exit_code = process.returncode
    figures.cpu_s = usage.ru_utime + usage.ru_stime
    figures.largest_process_mb = usage.ru_maxrss / 1024
    figures.tree_peak_mb = sampler.tree_peak_kb / 1024
    figures.processes = [
        {"pid": pid, "command": command, "peak_mb": round(kb / 1024, 1)}
        for pid, (kb, command) in sorted(sampler.peaks.items(), key=lambda item: -item[1][0])
    ]
    figures.outside_steps_s = figures.wall_s - sum(figures.steps.values())
    if figures.exit_code != 0:
        print(f"  {label}: zhengai run exited {figures.exit_code}, see {log}", flush=True)
    return figures


def years_of(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def generated_province(work: Path, schools: int, years: str, seed: int, layouts: str = "v2") -> Path:
    """`work/province-…/` holding `inbox/` and `registry.csv`, generated unless already there."""
    folder = work / f"province-{schools}x{years}-seed{seed}-{layouts}"
    wanted = {"schools": schools, "years": years, "seed": seed, "layouts": layouts, "defects": True}
    stamp = folder / "bench.json"
    if stamp.is_file() and json.loads(stamp.read_text()) == wanted:
        print(f"reusing the generated province in {folder}", flush=True)
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    command = [str(ROOT / ".venv" / "bin" / "zhengai"), "synth", "--out", str(folder / "inbox"), "--schools"]
    command += [str(schools), "--years", years, "--seed", str(seed), "--defects", "--layouts", layouts]
    command += ["--registry", str(folder / "registry.csv")]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "ZHENGAI_HOME": str(folder)})
    print(f"generated {schools} colleges × {years} in {time.perf_counter() - started:.0f} s into {folder}", flush=True)
    stamp.write_text(json.dumps(wanted))
    return folder


def fresh_home(province: Path, home: Path) -> Path:
    """A data home of its own: the registry copied, the inbox hard links to the generated files."""
    shutil.rmtree(home, ignore_errors=True)
    (home / "registry").mkdir(parents=True)
    # copy2 keeps the registry's mtime: a file written within 2 s of the listing makes a run record no input
    # fingerprint (pipelines/runinputs.py), and the "nothing changed" run would then not be skipped
    shutil.copy2(province / "registry.csv", home / "registry" / "schools.csv")
    shutil.copytree(province / "inbox", home / "inbox", copy_function=os.link)
    return home


def bench_province(args: argparse.Namespace, years: str) -> dict:
    from pipelines.demo.reexport import reexport_one_table

    province = generated_province(args.work, args.schools, years, args.seed)
    label = f"{args.schools}x{years}"
    home = fresh_home(province, args.work / f"home-{label}")
    as_of = f"{years_of(years)[-1]}-12-01"
    zhengai = ROOT / ".venv" / "bin" / "zhengai"
    runs = [measure_run("full", zhengai, home, as_of, args.work / f"{label}-full.log")]
    runs.append(measure_run("nothing changed", zhengai, home, as_of, args.work / f"{label}-nothing.log"))
    changed = []
    for sample in range(args.nightlies):  # each nightly after another college re-exported its table
        changed.append(reexport_one_table(home / "inbox", seed=args.seed + sample, nth=sample))
        print(f"re-exported {changed[-1].relative_to(home / 'inbox')} with changed content", flush=True)
        log = args.work / f"{label}-one-{sample + 1}.log"
        runs.append(measure_run(ONE_CHANGED, zhengai, home, as_of, log))
    report_runs(f"{args.schools} colleges × {years}", runs)
    return {
        "province": label,
        "as_of": as_of,
        "changed_files": [str(path) for path in changed],
        "one_table_changed": one_changed_summary(runs),
        "runs": [asdict(r) for r in runs],
    }


def one_changed_summary(runs: list[RunFigures]) -> dict:
    """The median of the one-college nightlies (one run is one sample: on a shared machine two runs of
    the same code differ by seconds) and its ratio to the full run's wall time."""
    samples = [run.wall_s for run in runs if run.label == ONE_CHANGED]
    median = statistics.median(samples) if samples else 0.0
    full = runs[0].wall_s
    return {"samples_s": samples, "median_s": median, "ratio": median / full if full else 0.0}


def report_runs(title: str, runs: list[RunFigures]) -> None:
    full = runs[0]
    print(f"\n{title} (shared machine: wall times vary, CPU time is steadier)")
    print(
        f"  {'run':<20}{'wall s':>9}{'cpu s':>9}{'÷ full':>8}{'target':>8}{'tree MB':>9}{'largest MB':>11}{'outside steps s':>16}"
    )
    for run in runs:
        ratio = run.wall_s / full.wall_s if full.wall_s else 0.0
        target = f"≤{TARGETS[run.label]:.2f}" if run.label in TARGETS else ""
        print(
            f"  {run.label:<20}{run.wall_s:9.1f}{run.cpu_s:9.1f}{ratio:8.3f}{target:>8}"
            f"{run.tree_peak_mb:9.0f}{run.largest_process_mb:11.0f}{run.outside_steps_s:16.1f}"
            + ("" if run.exit_code == 0 else f"   FAILED ({run.exit_code})")
        )
    summary = one_changed_summary(runs)
    if summary["samples_s"]:
        print(
            f"  {ONE_CHANGED}, median of {len(summary['samples_s'])}: {summary['median_s']:.1f} s = "
            f"{summary['ratio']:.3f} of the full run (target ≤{TARGETS[ONE_CHANGED]:.2f})"
        )
    print(f"  slowest steps (s): {'':<36}" + "".join(f"{run.label[:14]:>16}" for run in runs))
    for step in sorted(full.steps, key=lambda key: -full.steps[key])[:12]:
        print(f"    {step:<52}" + "".join(f"{run.steps.get(step, float('nan')):16.1f}" for run in runs))
    print(f"  processes of the full run (sampled peaks): {len(full.processes)}")
    for process in full.processes[:6]:
        print(f"    {process['peak_mb']:8.0f} MB  {process['command'][:90]}")


def old_checkout(work: Path, commit: str) -> Path:
    """The old commit's files unpacked into `work/old-<sha>` with its own `.venv` (`make install`)."""
    sha = subprocess.run(["git", "rev-parse", commit], cwd=ROOT, check=True, capture_output=True, text=True)
    folder = work / f"old-{sha.stdout.strip()[:12]}"
    if not (folder / ".venv" / ".installed").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        archive = subprocess.Popen(["git", "archive", sha.stdout.strip()], cwd=ROOT, stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", str(folder)], stdin=archive.stdout, check=True)
        archive.wait()
        subprocess.run(["make", "install"], cwd=folder, check=True, stdout=subprocess.DEVNULL)
    return folder


def bench_demo_cold(args: argparse.Namespace) -> dict:
    province = generated_province(args.work, DEMO["schools"], DEMO["years"], DEMO["seed"], DEMO["layouts"])
    old = old_checkout(args.work, args.old_commit)
    checkouts = {"old": old / ".venv" / "bin" / "zhengai", "new": ROOT / ".venv" / "bin" / "zhengai"}
    runs: dict[str, list[RunFigures]] = {"old": [], "new": []}
    for attempt in range(args.repeat):
        order = ("old", "new") if attempt % 2 == 0 else ("new", "old")
        for which in order:
            home = fresh_home(province, args.work / f"demo-home-{which}")
            log = args.work / f"demo-{which}-{attempt}.log"
            runs[which].append(measure_run(which, checkouts[which], home, "2024-12-01", log))
            print(f"  {which} #{attempt + 1}: {runs[which][-1].wall_s:.1f} s wall, {runs[which][-1].cpu_s:.1f} s cpu")
    medians = {which: median_figures(figures) for which, figures in runs.items()}
    print(f"\ndemo cold run, medians of {args.repeat} (old = {args.old_commit}); target: new ≤ 0.5 × old")
    print(f"  {'':<6}{'wall s':>9}{'cpu s':>9}{'outside steps s':>16}{'tree MB':>9}{'largest MB':>11}")
    for which, figures in medians.items():
        print(
            f"  {which:<6}{figures['wall_s']:9.1f}{figures['cpu_s']:9.1f}{figures['outside_steps_s']:16.1f}"
            f"{figures['tree_peak_mb']:9.0f}{figures['largest_process_mb']:11.0f}"
        )
    ratio = {key: medians["new"][key] / medians["old"][key] for key in ("wall_s", "cpu_s") if medians["old"][key]}
    print(f"  new ÷ old: wall {ratio.get('wall_s', 0):.2f}, cpu {ratio.get('cpu_s', 0):.2f}")
    # by the new run's steps: an old commit may print no step lines (its steps are then nan)
    steps = sorted(medians["new"]["steps"], key=lambda key: -medians["new"]["steps"][key])[:12]
    print(f"  slowest steps, median s: {'old':>30}{'new':>8}")
    for step in steps:
        print(
            f"    {step:<44}{medians['old']['steps'].get(step, float('nan')):8.1f}{medians['new']['steps'][step]:8.1f}"
        )
    return {
        "old_commit": args.old_commit,
        "medians": medians,
        "ratio": ratio,
        "runs": {k: [asdict(r) for r in v] for k, v in runs.items()},
    }


def median_figures(runs: list[RunFigures]) -> dict:
    keys = ("wall_s", "cpu_s", "outside_steps_s", "tree_peak_mb", "largest_process_mb")
    figures = {key: statistics.median(getattr(run, key) for run in runs) for key in keys}
    steps = {step for run in runs for step in run.steps}
    figures["steps"] = {step: statistics.median(run.steps.get(step, 0.0) for run in runs) for step in steps}
    return figures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=1550)
    parser.add_argument("--years", action="append", help="collection years of one province (repeat for more)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "zhengai-bench-national")
    parser.add_argument(
        "--json",
        type=Path,
        help="one file for every figure of this invocation (default: <work>/bench_national-<schools>x<years>.json "
        "for each province, <work>/bench_national-demo-cold.json for --demo-cold)",
    )
    parser.add_argument("--demo-cold", action="store_true", help="the demo's cold run against --old-commit")
    parser.add_argument("--old-commit", default="main", help="commit to compare with (--demo-cold)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each commit (--demo-cold)")
    parser.add_argument(
        "--nightlies", type=int, default=3, help="one-table-changed nightlies, each after another college's re-export"
    )
    args, _ = parser.parse_known_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    if args.demo_cold:
        result = bench_demo_cold(args)
        write_figures(result, args.json or args.work / "bench_national-demo-cold.json")
        return 0
    provinces = []
    for years in args.years or ["2024"]:
        provinces.append(bench_province(args, years))
        if not args.json:
            write_figures({"provinces": provinces[-1:]}, args.work / f"bench_national-{provinces[-1]['province']}.json")
    if args.json:
        write_figures({"provinces": provinces}, args.json)
    return 0


def write_figures(result: dict, path: Path) -> None:
    path.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"\nfigures written to {path}", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
