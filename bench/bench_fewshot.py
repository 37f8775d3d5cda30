"""Speed and memory of the library path on each shared category; prints one JSON object per line.

Each category runs in its own process so peak RSS is that category's alone.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from goldenshot.data import discover_categories


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--out", type=Path, default=Path("out/bench"))
    parser.add_argument("--shots", type=int, default=8)
    parser.add_argument("--max-images", type=int, default=100)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for category in discover_categories(args.data):
        out = args.out / f"{category.name}.json"
        cmd = [sys.executable, "-m", "goldenshot", "bench", str(category), "--shots", str(args.shots),
               "--max-images", str(args.max_images), "--json", str(out)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        print(json.dumps(json.loads(out.read_text())))


if __name__ == "__main__":
    main()
