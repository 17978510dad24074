"""`make bench`: run the benchmarks and write BENCHMARKS.md (machine and date included).

Each module in BENCHMARKS is a benchmark with ``TITLE`` and ``run() -> str`` (a Markdown
section). `python -m bench NAME …` runs only the named ones and keeps the other sections.
"""

import os
import platform
import re
import sys
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path

import django

from luna_site import embedded

BENCHMARKS = ["rls_overhead", "pipeline", "chapters", "chapter_playthroughs", "lore", "marketplace", "fork_api", "scale_data", "sync", "structured", "state_extraction", "secrets", "routing_cost", "prefix_stability", "budgets"]
OUTPUT = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                     if line.startswith("MemTotal"))
    return (f"{cpu}, {os.cpu_count()} cores, {memory_kb / 1024 / 1024:.0f} GiB, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}")


def existing_sections() -> dict[str, str]:
    if not OUTPUT.exists():
        return {}
    parts = re.split(r"(?m)^## ", OUTPUT.read_text())[1:]
    return {part.split("\n", 1)[0].strip(): "## " + part.rstrip() + "\n" for part in parts}


def main(names: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "luna_site.checkout_settings")
    django.setup()
    embedded.start_services()
    sections = existing_sections()
    for name in names or BENCHMARKS:
        module = import_module(f"bench.{name}")
        print(f"running {name} …", flush=True)
        body = module.run()
        stamp = f"_{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}_"
        sections[module.TITLE] = f"## {module.TITLE}\n\n{stamp}\n\n{body.strip()}\n"
        print(body)
    OUTPUT.write_text("# Benchmarks\n\nWritten by `make bench` (`python -m bench [NAME …]`); each section says "
                      "when and on what machine it ran.\n\n" + "\n".join(sections.values()))
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
