"""Run every benchmark section and rewrite docs/benchmarks.md.

Each module in SECTIONS has `run() -> str` returning a Markdown section. Pass section
names to run only some: `python -m bench indexing`; the others keep their last text.
"""

from __future__ import annotations

import importlib
import re
import sys
import time
import traceback

from bench.common import ROOT, machine
from index.runtime import configure_process

SECTIONS = ["indexing", "runtime", "retrieval", "scale", "ray", "answering", "coldstart", "baseline", "llamaindex"]
# Run only when named (`python -m bench runtime_choice`); the document keeps their last text.
ON_DEMAND = ["runtime_choice"]
DOC = ROOT / "docs" / "benchmarks.md"
_MARK = re.compile(r"<!-- section:(\w+) -->\n(.*?)<!-- /section -->\n", re.S)


def main(argv: list[str]) -> int:
    wanted = argv or SECTIONS
    unknown = [s for s in wanted if s not in SECTIONS + ON_DEMAND]
    if unknown:
        print(f"unknown section(s) {unknown}; choose from {SECTIONS + ON_DEMAND}", file=sys.stderr)
        return 2
    old = dict(_MARK.findall(DOC.read_text("utf-8"))) if DOC.exists() else {}
    texts, failed, minutes = {}, [], {}
    started = time.perf_counter()
    for name in SECTIONS + ON_DEMAND:
        if name in wanted:
            t0 = time.perf_counter()
            print(f"== {name}", flush=True)
            # Each section starts as batch work (all cores) and switches to serving where it times queries.
            configure_process(serving=False)
            try:
                texts[name] = importlib.import_module(f"bench.{name}").run().rstrip() + "\n"
            except Exception as exc:  # noqa: BLE001 - one broken section must not throw away the others' hour of work
                traceback.print_exc()
                failed.append(name)
                texts[name] = f"_failed in this run: {type(exc).__name__}: {exc}_\n"
            minutes[name] = (time.perf_counter() - t0) / 60
            print(f"   {minutes[name] * 60:.0f} s", flush=True)
        else:
            texts[name] = old.get(name, "_not run yet_\n")
    body = "".join(f"<!-- section:{n} -->\n{texts[n]}<!-- /section -->\n\n" for n in SECTIONS + ON_DEMAND)
    took = ", ".join(f"{n} {m:.1f}" for n, m in minutes.items())
    DOC.write_text(
        "# Benchmarks\n\nWritten by `make bench` (`python -m bench`); numbers are medians from one run "
        "on a noisy 2-core machine.\n\n" + machine() + f"\n- This run: {sum(minutes.values()):.1f} minutes "
        f"({took})\n\n" + body,
        "utf-8",
    )
    print(f"wrote {DOC} in {(time.perf_counter() - started) / 60:.1f} min; failed: {failed or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
