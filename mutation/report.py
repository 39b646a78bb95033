"""Write mutation/REPORT.md from mutmut's results in mutants/ and the equivalents in mutation/equivalent.toml.

Run by ``nox -s mutation`` after ``mutmut run``; by hand: ``python mutation/report.py [--seconds N]``
from the repository root (it needs mutmut importable to show each survivor's diff).

Score of a module = caught / (mutants - equivalent - not yet run), where caught = killed by a
test, timed out, or caught by the type checker. A mutant no test reaches ("no tests") counts as
surviving: nothing would notice it.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
EQUIVALENT = ROOT / "mutation" / "equivalent.toml"
ELSEWHERE = ROOT / "mutation" / "elsewhere.toml"
SAMPLE = ROOT / "mutation" / "sample.toml"
REPORT = ROOT / "mutation" / "REPORT.md"

#: mutmut's exit codes (mutmut/stats.py: status_by_exit_code), folded into what the report counts.
STATUS = {
    1: "killed",
    3: "killed",
    37: "killed",  # caught by the type checker
    36: "timeout",
    24: "timeout",
    -24: "timeout",
    152: "timeout",
    255: "timeout",
    0: "survived",
    5: "no tests",
    33: "no tests",
    34: "skipped",
    None: "not run",
    2: "not run",  # interrupted
    -11: "crashed",
    -9: "crashed",
}
CAUGHT = {"killed", "timeout", "crashed"}
FOCUS = "xpnn/io/"  # the loaders of files users are handed (hostile files) and the data path: target 95 %


def load_equivalents() -> dict[str, dict[str, str]]:
    """``{mutant name: {"line": text the mutated line contains, "reason": why}}``."""
    if not EQUIVALENT.is_file():
        return {}
    data = tomllib.loads(EQUIVALENT.read_text(encoding="utf-8"))
    return {e["mutant"]: e for e in data.get("equivalent", [])}


def load_elsewhere() -> list[dict[str, str]]:
    """``[{"pattern": fnmatch pattern of mutant names, "reason": where that code is tested}]``."""
    if not ELSEWHERE.is_file():
        return []
    return tomllib.loads(ELSEWHERE.read_text(encoding="utf-8")).get("elsewhere", [])


def load_drawn() -> set[str]:
    """The mutants that mutation/sample.py drew at random from those not yet run."""
    if not SAMPLE.is_file():
        return set()
    return {n for d in tomllib.loads(SAMPLE.read_text(encoding="utf-8")).get("draw", []) for n in d["drawn"]}


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson interval of a proportion k / n."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


class Estimate:
    """A score where not every mutant ran: what ran exactly, plus the random draw's kill rate
    extended to the mutants not run (their number scaled by the draw's share of non-equivalents)."""

    def __init__(self) -> None:
        self.caught = self.total = self.variance = 0.0
        self.exact = True
        self.unknown = False

    def add(self, c: Counter[str]) -> None:
        caught = sum(c[s] for s in CAUGHT)
        judged = caught + c["survived"] + c["no tests"]
        unrun = c["not run"] + c["skipped"]
        self.caught += caught
        self.total += judged
        if not unrun:
            return
        self.exact = False
        d_caught = sum(c[f"drawn {s}"] for s in CAUGHT)
        # A drawn mutant that has not run yet counts as surviving: the estimate errs low, not high
        # (mutmut runs the cheapest first, so the ones left are those whose tests take longest).
        d_judged = (
            d_caught + c["drawn survived"] + c["drawn no tests"] + c["drawn not run"] + c["drawn skipped"]
        )
        if not d_judged or d_judged == c["drawn not run"] + c["drawn skipped"]:
            self.unknown = True  # not sampled, or no drawn mutant ran: nothing says how the rest would fare
            return
        p = d_caught / d_judged
        u = unrun * d_judged / (d_judged + c["drawn equivalent"])
        self.caught += p * u
        self.total += u
        lo, hi = wilson(d_caught, d_judged)  # not p(1-p)/n: that says 0 when every drawn mutant died
        self.variance += (u * (hi - lo) / (2 * 1.96)) ** 2

    def __str__(self) -> str:
        if not self.total:
            return "-"
        if self.unknown:
            return "(not sampled or draw not run)"
        est = 100.0 * self.caught / self.total
        if self.exact:
            return f"{est:.1f} %"
        half = 196.0 * math.sqrt(self.variance) / self.total
        return f"{est:.1f} % ± {half:.1f}"


def diff_of(name: str, module_path: Path) -> str:
    """The mutated lines of ``name`` (``+`` lines of mutmut's diff), or '' if mutmut is not importable."""
    try:
        from mutmut.mutation.diff_apply import get_diff_for_mutant
    except ImportError:
        return ""
    try:
        diff = get_diff_for_mutant(name, path=module_path)
    except Exception as e:  # an old mutants/ tree: say so rather than fail the report
        return f"(no diff: {type(e).__name__})"
    plus = [
        line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")
    ]
    return " / ".join(plus)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, help="wall time of the mutmut run that preceded this report")
    parser.add_argument("--command", default="nox -s mutation", help="the command that produced the results")
    args = parser.parse_args()

    metas = sorted((MUTANTS / "xpnn").rglob("*.py.meta"))
    if not metas:
        print("no results in mutants/: run `nox -s mutation` (or `mutmut run`) first", file=sys.stderr)
        return 1
    equivalents = load_equivalents()
    elsewhere = load_elsewhere()
    elsewhere_counts: Counter[str] = Counter()  # pattern -> mutants
    drawn = load_drawn()
    import os

    os.chdir(ROOT)  # mutmut's helpers resolve paths from the project root

    rows = []
    survivors: list[tuple[str, str, str]] = []  # (module, name, diff)
    marked: list[tuple[str, str, str, str]] = []  # (module, name, diff, reason)
    stale: list[tuple[str, str]] = []
    seen_equivalents = set()
    for meta in metas:
        module = meta.relative_to(MUTANTS).as_posix().removesuffix(".meta")
        data = json.loads(meta.read_text(encoding="utf-8"))
        counts: Counter[str] = Counter()
        for name, code in sorted(data["exit_code_by_key"].items(), key=lambda kv: _natural(kv[0])):
            status = STATUS.get(code, "crashed")
            scope = next((e for e in elsewhere if fnmatch.fnmatchcase(name, e["pattern"])), None)
            if scope is not None:
                elsewhere_counts[scope["pattern"]] += 1
                counts["elsewhere"] += 1
                continue
            if status in ("survived", "no tests") or name in equivalents:
                diff = diff_of(name, Path(module))
                if name in equivalents:
                    seen_equivalents.add(name)
                    entry = equivalents[name]
                    if entry.get("line", "") not in diff:
                        stale.append(
                            (name, f"expected a mutated line containing {entry.get('line')!r}, got {diff!r}")
                        )
                    elif status in CAUGHT:
                        stale.append((name, "marked equivalent but a test catches it: remove the entry"))
                    else:
                        counts["equivalent"] += 1
                        counts["drawn equivalent"] += name in drawn
                        marked.append((module, name, diff, entry["reason"]))
                        continue
                if status in ("survived", "no tests"):
                    survivors.append((module, f"{name} ({status})" if status == "no tests" else name, diff))
            counts[status] += 1
            counts[f"drawn {status}"] += name in drawn
        rows.append((module, counts, len(data["exit_code_by_key"])))
    stale += [(name, "no such mutant in this run") for name in equivalents if name not in seen_equivalents]

    def score(c: Counter[str]) -> tuple[int, int]:
        caught = sum(c[s] for s in CAUGHT)
        judged = caught + c["survived"] + c["no tests"]
        return caught, judged

    def pct(caught: int, judged: int) -> str:
        return f"{100.0 * caught / judged:.1f} %" if judged else "-"

    out = [
        "# Mutation testing report",
        "",
        f"Generated by `mutation/report.py` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC from mutmut's"
        f" results in `mutants/` (`{args.command}`; tests on NumPy and array-api-strict). How to run it and"
        " what the columns mean: CONTRIBUTING.md, section *Mutation testing*.",
        "",
        "Score = caught / (mutants - equivalent - elsewhere - not run); caught = killed + timeout; a mutant"
        " that no test reaches (*no tests*) counts as surviving. *Estimate*: where not every mutant ran,"
        " the score of what ran plus the kill rate of a random draw of the rest (mutation/sample.py,"
        " the draws in mutation/sample.toml) extended to the mutants not run, with a 95 % interval; a drawn"
        " mutant that has not run counts as surviving there.",
        "",
        "| module | mutants | killed | timeout | survived | no tests | equivalent | elsewhere | not run"
        " | drawn (ran) | score of what ran | estimate over all |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    overall: Counter[str] = Counter()
    focus: Counter[str] = Counter()
    est_all, est_focus = Estimate(), Estimate()
    n_all = 0
    for module, c, n in rows:
        overall.update(c)
        est_all.add(c)
        n_all += n
        if module.startswith(FOCUS):
            focus.update(c)
            est_focus.add(c)
        est = Estimate()
        est.add(c)
        ran_drawn = sum(
            v for k, v in c.items() if k.startswith("drawn ") and k not in ("drawn not run", "drawn skipped")
        )
        out.append(
            f"| `{module}` | {n} | {c['killed']} | {c['timeout']} | {c['survived']} | {c['no tests']}"
            f" | {c['equivalent']} | {c['elsewhere']} | {c['not run'] + c['skipped']} | {ran_drawn}"
            f" | {pct(*score(c))} | {est} |"
        )
    ran_drawn = sum(
        v
        for k, v in overall.items()
        if k.startswith("drawn ") and k not in ("drawn not run", "drawn skipped")
    )
    out.append(
        f"| **all** | {n_all} | {overall['killed']} | {overall['timeout']} | {overall['survived']}"
        f" | {overall['no tests']} | {overall['equivalent']} | {overall['elsewhere']}"
        f" | {overall['not run'] + overall['skipped']} | {ran_drawn}"
        f" | **{pct(*score(overall))}** | **{est_all}** |"
    )
    out += [
        "",
        f"Targets: >= 90 % over `xpnn/` (score of what ran {pct(*score(overall))}, estimate {est_all}); >= 95 % in"
        f" `{FOCUS}` together ({pct(*score(focus))}, estimate {est_focus})."
        f" Mutants that ran: {n_all - overall['not run'] - overall['skipped'] - overall['elsewhere']:,}"
        f" of {n_all:,}.",
        "",
        (f"Wall time of the last run: {args.seconds / 60:.1f} min." if args.seconds else ""),
        "",
        f"## Surviving mutants ({len(survivors)})",
        "",
        "Each one is a change to the code that no test notices. Kill it with a test (in the module's test"
        " file), or, if it cannot change behaviour, add it to `mutation/equivalent.toml` with the reason.",
        "",
    ]
    out += [f"- `{name}`: `{diff}`" for _, name, diff in survivors] or ["None."]
    out += ["", f"## Elsewhere ({overall['elsewhere']}, from `mutation/elsewhere.toml`)", ""]
    out += [
        "Code that only runs on a backend or device this run does not use; its tests run in other sessions.",
        "",
    ]
    out += [
        f"- `{e['pattern']}`: {elsewhere_counts[e['pattern']]} mutants -- {e['reason']}" for e in elsewhere
    ]
    out += ["", f"## Marked equivalent ({len(marked)}, from `mutation/equivalent.toml`)", ""]
    out += [f"- `{name}`: `{diff}` -- {reason}" for _, name, diff, reason in marked] or ["None."]
    if stale:
        out += ["", f"## Stale entries in `mutation/equivalent.toml` ({len(stale)})", ""]
        out += [f"- `{name}`: {why}" for name, why in stale]
    REPORT.write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"wrote {REPORT.relative_to(ROOT)}: score {pct(*score(overall))} of what ran, estimate {est_all}")
    return 0


def _natural(name: str) -> tuple[str, int]:
    head, _, number = name.rpartition("_")
    return (head, int(number)) if number.isdigit() else (name, 0)


if __name__ == "__main__":
    sys.exit(main())
