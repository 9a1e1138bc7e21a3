#!/usr/bin/env python3
"""Checks the Docker images' build contexts and the compose file without a Docker daemon.

For each docker/Dockerfile*: assembles exactly what the build stage COPYs (less .dockerignore) in
a temporary folder and runs the stage's cargo command there as `cargo check` (so a manifest entry
whose file is not copied, a missing build.rs or an include_str! of an uncopied file fails here as
it would in `docker build`); checks that every other stage's COPY source is in the context.
For docker/compose.yaml: each service built from a Dockerfile there must exist, and its command's
subcommand, flags and environment variables (and the image's ENV) must be ones `sfnn` accepts.

    scripts/check-docker-context.py [--sfnn target/debug/sfnn]    # CI runs it after cargo test

CARGO_TARGET_DIR defaults to the repository's target/, so the dependencies that clippy checked
are reused and only the crate itself is checked again.
"""

import argparse
import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# Image variables read by the container runtime or the dynamic loader, not by sfnn.
RUNTIME_ENV = {"NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES", "LD_LIBRARY_PATH", "PATH"}


def instructions(dockerfile: Path):
    """(keyword, arguments) per instruction, continuation lines joined, comments dropped."""
    text, pending = [], ""
    for line in dockerfile.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        text.append(pending + stripped)
        pending = ""
    for line in text:
        keyword, _, rest = line.partition(" ")
        yield keyword.upper(), rest.strip()


def stages(dockerfile: Path):
    """The stages in order: dicts with name, args (ARG defaults), workdir, copies, runs, env."""
    result, args = [], {}
    for keyword, rest in instructions(dockerfile):
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            result.append({"name": name, "args": {}, "workdir": "/", "copies": [], "runs": [], "env": {}})
        elif keyword == "ARG":
            key, _, default = rest.partition("=")
            (result[-1]["args"] if result else args)[key] = default.strip('"')
        elif keyword == "WORKDIR":
            result[-1]["workdir"] = rest
        elif keyword == "COPY":
            words = shlex.split(rest)
            if any(w.startswith("--from") for w in words):
                continue
            words = [w for w in words if not w.startswith("--")]
            result[-1]["copies"].append((words[:-1], words[-1]))
        elif keyword == "RUN":
            result[-1]["runs"].append(rest)
        elif keyword == "ENV":
            for word in shlex.split(rest):
                key, _, value = word.partition("=")
                result[-1]["env"][key] = value
    return result


def ignored(relative: str, patterns) -> bool:
    for pattern in patterns:
        if pattern.startswith("**/"):
            if any(fnmatch.fnmatch(part, pattern[3:]) for part in relative.split("/")):
                return True
        elif relative == pattern or relative.startswith(pattern + "/") or fnmatch.fnmatch(relative, pattern):
            return True
    return False


def copy_into(context: Path, sources, destination: str, patterns):
    """Copies what one COPY names from the repository into `context` (the stage's WORKDIR), as
    Docker does: into a folder destination (`./`, `dir/`) by name, else onto the destination;
    a folder's contents less what .dockerignore leaves out. Refuses a source the context lacks."""
    if destination.startswith("/"):
        raise SystemExit(f"COPY to {destination}: only destinations under WORKDIR are checked")
    into_folder = destination.endswith("/") or len(sources) > 1
    for source in sources:
        path = ROOT / source
        if not path.exists() or ignored(source.rstrip("/"), patterns):
            raise SystemExit(f"COPY {source}: not in the build context")
        target = context / destination / path.name if into_folder and path.is_file() else context / destination
        if path.is_dir():
            for file in path.rglob("*"):
                if file.is_file() and not ignored(file.relative_to(ROOT).as_posix(), patterns):
                    out = target / file.relative_to(path)
                    out.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(file, out)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


def cargo_command(run: str, args) -> list:
    """The stage's `cargo build ...` as `cargo check ...` (ARGs substituted, `--release` and
    the commands chained after it dropped)."""
    command = run.split("&&")[0]
    command = re.sub(r"--mount=\S+", "", command)
    for key, value in args.items():
        command = command.replace(f'"${key}"', shlex.quote(value)).replace(f"${key}", value)
    words = shlex.split(command)
    words = words[words.index("cargo"):]
    words[1] = "check"
    return [w for w in words if w != "--release"]


def check_dockerfile(dockerfile: Path, patterns) -> None:
    all_stages = stages(dockerfile)
    build = next(s for s in all_stages if any("cargo build" in r for r in s["runs"]))
    with tempfile.TemporaryDirectory(prefix="docker-context-") as tmp:
        context = Path(tmp)
        for sources, destination in build["copies"]:
            copy_into(context, sources, destination, patterns)
        run = next(r for r in build["runs"] if "cargo build" in r)
        command = cargo_command(run, build["args"])
        env = dict(os.environ, CARGO_TARGET_DIR=os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target")))
        print(f"{dockerfile.relative_to(ROOT)}: {' '.join(command)} in the build stage's context", flush=True)
        done = subprocess.run(command, cwd=context, env=env)
        if done.returncode != 0:
            raise SystemExit(f"{dockerfile.relative_to(ROOT)}: the build stage's cargo command fails")
    for stage in all_stages:
        if stage is build:
            continue
        for sources, _ in stage["copies"]:
            for source in sources:
                if not (ROOT / source).exists() or ignored(source.rstrip("/"), patterns):
                    raise SystemExit(f"{dockerfile.relative_to(ROOT)}: COPY {source}: not in the context")


def help_text(sfnn: str, subcommand: str) -> str:
    done = subprocess.run([sfnn, subcommand, "--help"], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"sfnn {subcommand} --help: {done.stderr.strip()}")
    return done.stdout


def read_by_code(variable: str) -> bool:
    """Whether src/ reads `variable` with std::env (`var("NAME")` or `var_os("NAME")`)."""
    pattern = re.compile(rf'var(_os)?\(\s*"{re.escape(variable)}"')
    return any(pattern.search(f.read_text()) for f in (ROOT / "src").rglob("*.rs"))


def check_compose(sfnn: str) -> None:
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    for name, service in compose["services"].items():
        build = service.get("build")
        if not build:
            continue
        dockerfile = (ROOT / "docker" / build["context"] / build["dockerfile"]).resolve()
        if not dockerfile.exists():
            raise SystemExit(f"compose service {name}: no {build['dockerfile']}")
        image_env = stages(dockerfile)[-1]["env"]
        command = service.get("command") or []
        subcommand = command[0] if command else "serve"
        text = help_text(sfnn, subcommand)
        for word in command[1:]:
            if word.startswith("--") and not re.search(rf"(^|\s){re.escape(word)}[\s=,]", text):
                raise SystemExit(f"compose service {name}: `sfnn {subcommand}` has no flag {word}")
        reads = lambda variable, help: re.search(rf"\[env: {re.escape(variable)}[=\]]", help)
        for variable in service.get("environment") or {}:
            if not reads(variable, text):
                raise SystemExit(f"compose service {name}: `sfnn {subcommand}` reads no {variable}")
        # The image's own ENV serves whichever command a container runs, or the code reads it
        # itself (the CUDA loader's NVRTC_LIB_DIR).
        either = help_text(sfnn, "serve") + help_text(sfnn, "worker")
        for variable in image_env:
            if variable not in RUNTIME_ENV and not reads(variable, either) and not read_by_code(variable):
                raise SystemExit(f"{build['dockerfile']}: ENV {variable} is read by no sfnn command")
        print(f"compose service {name}: sfnn {subcommand} takes its flags and environment")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sfnn", default=str(ROOT / "target" / "debug" / "sfnn"))
    args = parser.parse_args()
    patterns = [
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for dockerfile in sorted((ROOT / "docker").glob("Dockerfile*")):
        check_dockerfile(dockerfile, patterns)
    check_compose(args.sfnn)
    print("docker contexts and compose file: ok")


if __name__ == "__main__":
    sys.exit(main())
