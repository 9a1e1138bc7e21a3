#!/usr/bin/env python3
"""Latency and issue model of the SFNN kernel (kernels/sfnn.cu) on an H200, from its sm_90 SASS.

The method, its assumptions and their sources are in docs/gpu-model.md. In short:
  1. `examples/kernel_model_inputs.rs` compiles the kernel with NVRTC exactly as the CUDA executor
     does (plus a -lineinfo twin for source attribution; the instructions must be identical) and
     samples one paper generation's wirings;
  2. nvdisasm (the `nvidia-cuda-nvdisasm` wheel) disassembles both cubins with the control codes
     (stall cycles, scoreboards) and the inlined source lines;
  3. the SASS loops are matched to the kernel's source loops and given trip counts (synapses per
     thread, in-edges per node, ...); every warp's instruction stream per SFNN step is replayed
     through an in-order issue model driven by the compiler's own stall counts and a table of
     variable latencies; barriers synchronise the warps;
  4. blocks are placed on the H200's SMs as occupancy allows and one generation is simulated:
     time = max(latency bound with barriers, issue bound of the co-resident warps).

Prints a table and writes kernels/model-estimate.json (the estimate per message width and
population size, with the SHA-256 of the kernel sources it was computed from; tests/kernel_model.rs
checks that hash against the tree, `sfnn bench --executor cuda` prints the estimate).

Usage (Python 3.11, stdlib only; the inputs need cargo and NVRTC, the disassembly nvdisasm):
  python3 scripts/kernel-model.py                      # builds the inputs, writes the JSON
  python3 scripts/kernel-model.py --inputs DIR         # inputs already written there
  python3 scripts/kernel-model.py --check              # print only, write nothing
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KERNELS = ROOT / "kernels"
ESTIMATE = KERNELS / "model-estimate.json"

# ---------------------------------------------------------------------------------------------
# The machine (docs/gpu-model.md, "Machine"): NVIDIA H200 SXM, GH100, compute capability 9.0.
GPU = "NVIDIA H200 (sm_90, 132 SMs, 1.98 GHz boost)"
SMS = 132
CLOCK_HZ = 1.98e9
SCHEDULERS = 4  # SM sub-partitions; each issues one warp instruction per cycle
REGISTERS_PER_SM = 65536
REGISTER_UNIT = 256  # registers are allocated per warp in units of 256
SHARED_PER_SM = 228 * 1024
SHARED_RESERVED_PER_BLOCK = 1024
MAX_BLOCKS_PER_SM = 32
MAX_WARPS_PER_SM = 64
# Throughputs per SM per cycle (CUDA C++ Programming Guide, "Arithmetic Instructions", cc 9.0),
# as cycles one warp instruction occupies its sub-partition's pipe.
PIPE_CYCLES = {"mufu": 32 / (16 / SCHEDULERS), "fp64": 32 / (64 / SCHEDULERS), "conv": 32 / (16 / SCHEDULERS)}
# Shared-memory bandwidth: 128 bytes per cycle per SM, i.e. one 32-lane 4-byte access.
SHARED_ACCESSES_PER_CYCLE = 1.0

# Latencies (cycles) of the variable-latency instructions, which signal a scoreboard instead of
# a fixed stall (docs/gpu-model.md, "Latencies"). Fixed-latency instructions need no table: the
# compiler's stall counts already wait for them.
LATENCY = {
    "LDS": 30, "LD": 34, "LDG": 35, "LDG_COLD": 450, "LDC": 12, "ULDC": 12, "S2R": 22, "S2UR": 22,
    "MUFU": 18, "conv": 14, "fp64": 10, "SHFL": 24, "VOTE": 6, "BAR": 0, "other": 20,
}
READ_RELEASE = 4  # cycles until a store's (or load's) source registers may be overwritten
BARRIER_CYCLES = {"BAR.SYNC": 24, "BAR.RED": 34}  # from the last warp's arrival to release

ENV_IDS = {
    "CARTPOLE": "CartPole-v1", "ACROBOT": "Acrobot-v1", "MOUNTAIN_CAR": "MountainCar-v0",
    "PENDULUM": "Pendulum-v1", "MOUNTAIN_CAR_CONTINUOUS": "MountainCarContinuous-v0",
}
ENV_FUNCTION_PREFIX = [  # envs.cuh functions private to one environment
    ("mountain_car_continuous", "MountainCarContinuous-v0"), ("mountain_car", "MountainCar-v0"),
    ("cartpole", "CartPole-v1"), ("acrobot", "Acrobot-v1"), ("pendulum", "Pendulum-v1"),
    ("angle_normalize", "Pendulum-v1"),
]
POPSIZES = [128, 1024, 8192]


def fail(message: str) -> None:
    sys.exit(f"kernel-model: {message}")


# ---------------------------------------------------------------------------------------------
# Sources and their hash (the same bytes as src/exec/kernel_model.rs::sources_sha256).

def kernel_source_names() -> list[str]:
    """The kernel sources in the order src/exec/cuda/nvrtc.rs embeds them."""
    text = (ROOT / "src/exec/cuda/nvrtc.rs").read_text()
    names = re.findall(r'\(\s*"([^"]+)"\s*,\s*include_str!\("\.\./\.\./\.\./kernels/([^"]+)"\)', text)
    if not names or any(a != b for a, b in names):
        fail("cannot read the kernel source list (SOURCES) from src/exec/cuda/nvrtc.rs")
    return [a for a, _ in names]


def sources_sha256(names: list[str]) -> str:
    h = hashlib.sha256()
    for name in names:
        data = (KERNELS / name).read_bytes()
        h.update(name.encode() + b"\0" + struct.pack("<Q", len(data)) + data)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# Inputs: cubins, ptxas logs and the paper generation's wirings.

def nvrtc_lib_dir() -> str | None:
    if os.environ.get("NVRTC_LIB_DIR"):
        return os.environ["NVRTC_LIB_DIR"]
    wheel = Path.home() / ".cache/sfnn-cuda-wheels/nvidia/cu13/lib"
    return str(wheel) if (wheel / "libnvrtc.so.13").exists() else None


def build_inputs(directory: Path) -> None:
    env = dict(os.environ)
    lib = nvrtc_lib_dir()
    if lib:
        env["NVRTC_LIB_DIR"] = lib
    command = ["cargo", "run", "--quiet", "--features", "cuda", "--example", "kernel_model_inputs",
               "--", str(directory)]
    print("$", " ".join(command), file=sys.stderr)
    if subprocess.run(command, cwd=ROOT, env=env).returncode != 0:
        fail("building the inputs failed (needs cargo and libnvrtc 13: set NVRTC_LIB_DIR)")


def find_tool(name: str, explicit: str | None) -> str:
    candidates = [Path(explicit) / name] if explicit else []
    for base in (".cache/sfnn-cuda-tools", ".cache/sfnn-cuda-wheels"):
        candidates.append(Path.home() / base / "nvidia/cu13/bin" / name)
    candidates += [Path("/usr/local/cuda/bin") / name]
    for c in candidates:
        if c.exists():
            return str(c)
    found = shutil.which(name)
    if found:
        return found
    fail(f"no {name}: pip install --target ~/.cache/sfnn-cuda-tools nvidia-cuda-nvdisasm "
         "nvidia-cuda-cuobjdump (or pass --tools DIR)")
    raise AssertionError


# ---------------------------------------------------------------------------------------------
# SASS.

@dataclass
class Instr:
    addr: int
    text: str  # without the predicate
    pred: str
    op: str  # opcode with modifiers, e.g. LDG.E.CONSTANT
    base: str  # opcode without modifiers
    operands: list[str]
    stall: int
    wbar: int  # scoreboard set on completion (7: none)
    rbar: int  # scoreboard set when the sources are read (7: none)
    wait: int  # mask of scoreboards waited on before issue
    chain: list[tuple[str, int]]  # (file, line), innermost first
    cold: bool = False  # slow-path blocks (CALL to a *slowpath routine)
    kernel_line: int = 0  # outermost sfnn.cu line
    env: str | None = None  # the environment whose code this is, if private to one
    thread0: bool = False  # inside `if (tid == 0)` or `if (env_stepper)`: warp 0 only
    warp0: bool = False  # inside `if (env_warp)`: warp 0 only
    workers: bool = False  # inside its `else`: every warp but 0


INSTR_RE = re.compile(r"^\s*/\*([0-9a-f]{4,})\*/\s+(@!?U?P[T0-9]+\s+)?([A-Z0-9_.]+)\s*(.*?)\s*;\s*(?:/\*\s*(0x[0-9a-f]+)\s*\*/)?")
HEX_RE = re.compile(r"^\s*/\*\s*(0x[0-9a-f]+)\s*\*/\s*$")
LINE_RE = re.compile(r'"([^"]+)", line (\d+)')
LABEL_RE = re.compile(r"^\s*(\.L_x_\d+):")
SECTION_RE = re.compile(r"^\s*\.section\s+\.text\.(\w+)")
# The entry point modelled: the one whose synapse states live in shared memory (every paper-size
# network); sfnn_lifetimes_global, for networks too large for it, is the same code on global
# memory.
KERNEL = "sfnn_lifetimes"


def disassemble(nvdisasm: str, cubin: Path, line_info: bool) -> list[str]:
    args = [nvdisasm, "-c", "-hex"] + (["-gi"] if line_info else []) + [str(cubin)]
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"nvdisasm failed on {cubin}: {out.stderr.strip()}")
    return out.stdout.splitlines()


def parse_sass(lines: list[str]) -> tuple[list[Instr], dict[str, int]]:
    instrs: list[Instr] = []
    labels: dict[str, int] = {}
    pending_labels: list[str] = []
    chain: list[tuple[str, int]] = []
    annotated = False
    function = None
    for raw in lines:
        m = SECTION_RE.match(raw)
        if m:
            function = m.group(1)
            continue
        if function != KERNEL:
            continue
        if raw.lstrip().startswith("//##"):
            # -gi prints the inlining chain one level per line ("line A inlined at line B",
            # "line B inlined at line C", ..., then the outermost line alone): join them.
            found = [(Path(f).name, int(n)) for f, n in LINE_RE.findall(raw)]
            chain = chain + [x for x in found if x not in chain] if annotated else found
            annotated = True
            continue
        annotated = False
        m = LABEL_RE.match(raw)
        if m:
            pending_labels.append(m.group(1))
            continue
        m = INSTR_RE.match(raw)
        if m:
            addr = int(m.group(1), 16)
            for label in pending_labels:
                labels[label] = addr
            pending_labels = []
            op = m.group(3)
            operands = [o.strip() for o in m.group(4).split(",")] if m.group(4) else []
            instrs.append(Instr(addr, f"{op} {m.group(4)}".strip(), (m.group(2) or "").strip(), op,
                                op.split(".")[0], operands, 1, 7, 7, 0, list(chain)))
            continue
        m = HEX_RE.match(raw)
        if m and instrs:
            ctrl = int(m.group(1), 16) >> 41
            i = instrs[-1]
            i.stall, i.wbar, i.rbar, i.wait = ctrl & 15, (ctrl >> 5) & 7, (ctrl >> 8) & 7, (ctrl >> 11) & 63
    return instrs, labels


def branch_target(i: Instr, labels: dict[str, int]) -> int | None:
    m = re.search(r"(\.L_x_\d+)", i.text)
    return labels.get(m.group(1)) if m and i.base in ("BRA", "BRX") else None


COLLECTIVE = {"WARPSYNC.COLLECTIVE", "ENDCOLLECTIVE"}


def mark_cold_blocks(instrs: list[Instr], labels: dict[str, int]) -> None:
    """Basic blocks that call a slow-path routine (IEEE division and reciprocal on denormal or
    huge operands) or that re-converge a diverged warp for __syncwarp (WARPSYNC.COLLECTIVE …
    ENDCOLLECTIVE, reached by BRA.DIV only when the named lanes are not converged; the node
    loop's lanes always are) are taken almost never: they are left out of the timed stream."""
    starts = set(labels.values())
    block: list[Instr] = []

    def close() -> None:
        if any(b.base == "CALL" and "slowpath" in b.text or b.op in COLLECTIVE for b in block):
            for b in block:
                b.cold = True
        block.clear()

    for i in instrs:
        if i.addr in starts:
            close()
        block.append(i)
        if i.base in ("BRA", "BRX", "EXIT", "RET", "CALL"):
            close()
    close()
    # What only cold code reaches is cold too (the convergence point and the branch back that
    # end a slow path): a block entered by falling through from cold code or from nothing, whose
    # label only cold instructions name.
    referrers: dict[int, list[Instr]] = {}
    for i in instrs:
        for name in re.findall(r"\(?(\.L_x_\d+)\)?", i.text):
            if name in labels:
                referrers.setdefault(labels[name], []).append(i)
    changed = True
    while changed:
        changed = False
        for k, i in enumerate(instrs):
            if i.cold or k == 0 or i.addr not in starts:
                continue
            before = instrs[k - 1]
            falls_in = not before.cold and not (before.base in ("BRA", "EXIT") and not before.pred)
            if falls_in or not all(r.cold for r in referrers.get(i.addr, [])):
                continue
            n = k
            while n < len(instrs) and (n == k or instrs[n].addr not in starts):
                instrs[n].cold = True
                changed = True
                if instrs[n].base in ("BRA", "BRX", "EXIT", "RET", "CALL"):
                    break
                n += 1


# ---------------------------------------------------------------------------------------------
# The kernel source: its loops, thread-0 blocks and environment-private code.

@dataclass
class SourceLoop:
    first: int  # line of the `for`
    last: int  # last line of its body
    header: str
    kind: str = "unknown"
    children: list["SourceLoop"] = field(default_factory=list)


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.S)
    return re.sub(r"//[^\n]*", lambda m: " " * len(m.group(0)), text)


def statement_end(code: str, pos: int) -> int:
    """The index of the last character of the statement starting at or after `pos`."""
    while code[pos].isspace():
        pos += 1
    if code[pos] == "{":
        depth = 0
        for k in range(pos, len(code)):
            depth += {"{": 1, "}": -1}.get(code[k], 0)
            if depth == 0:
                return k
    m = re.match(r"(for|if|while)\s*\(", code[pos:])
    if m:
        close = matching_paren(code, pos + m.end() - 1)
        end = statement_end(code, close + 1)
        rest = re.match(r"\s*else\b", code[end + 1:])
        return statement_end(code, end + 1 + rest.end()) if m.group(1) == "if" and rest else end
    depth = 0
    for k in range(pos, len(code)):
        depth += {"(": 1, ")": -1, "{": 1, "}": -1}.get(code[k], 0)
        if code[k] == ";" and depth == 0:
            return k
    return len(code) - 1


def matching_paren(code: str, open_pos: int) -> int:
    depth = 0
    for k in range(open_pos, len(code)):
        depth += {"(": 1, ")": -1}.get(code[k], 0)
        if depth == 0:
            return k
    return len(code) - 1


def classify(header: str) -> str:
    """What a loop of the kernel iterates over, from its header (docs/gpu-model.md, "Trip
    counts"). A loop the model does not know is reported and counted once."""
    h = " ".join(header.split())
    rules = [
        (r"\bhorizon\b", "step"),
        (r"\bepisodes\b", "episode"),
        (r"\blifetimes\b", "lifetime"),
        (r"\bedge_slot\b", "setup_lists"),
        (r"in_off|in_g|incoming", "in_edge"),
        (r"\bedges\s*\*\s*D\b.*\bthreads\b", "setup_edge_states"),
        (r"\bedges\s*\*\s*D\b", "digest"),
        (r"\bedges\b.*\b(threads|workers)\b", "synapse"),
        (r"\bj\s*<\s*inputs\b", "input_nodes"),
        (r"\b3\s*\*\s*width\b", "setup_activations"),
        (r"\bprefix_count\b", "gate_pre"),
        (r"\bpost_rows\b", "gate_post"),
        (r"\bty\s*<\s*types\b", "post_types"),
        (r"\bnode_slots\b", "node_channel"),
        (r"\bwidth\b.*\bthreads\b", "node_channel"),
        (r"\bparam_count\b", "setup_params"),
        (r"\bnodes\b.*\bthreads\b", "setup_types"),
        (r"\bs\s*<\s*3\b", "propagation"),
        (r"\boutputs\b", "readout"),
    ]
    for pattern, kind in rules:
        if re.search(pattern, h):
            return kind
    return "unknown"


@dataclass
class Source:
    loops: list[SourceLoop]  # every loop of the kernel function, outermost first
    thread0: list[tuple[int, int]]  # line spans of `if (tid == 0)` and `if (env_stepper)` blocks
    warp0: list[tuple[int, int]]  # line spans of `if (env_warp)` blocks (warp 0 only)
    workers: list[tuple[int, int]]  # line spans of their `else` blocks (every warp but 0)
    kernel: tuple[int, int]
    comments: dict[int, str]  # line -> comment text


def parse_kernel_source(path: Path) -> Source:
    text = path.read_text()
    code = strip_comments(text)
    line_of = lambda pos: code.count("\n", 0, pos) + 1  # noqa: E731
    m = re.search(r"\bvoid\s+run_lifetime\s*\(", code)
    if not m:
        fail(f"{path}: no run_lifetime function (the body of both entry points)")
    body_open = code.index("{", matching_paren(code, m.end() - 1))
    body_close = statement_end(code, body_open)
    loops = []
    for f in re.finditer(r"\bfor\s*\(", code[body_open:body_close]):
        start = body_open + f.start()
        close = matching_paren(code, body_open + f.end() - 1)
        end = statement_end(code, close + 1)
        header = code[start:close + 1]
        loops.append(SourceLoop(line_of(start), line_of(end), header, classify(header)))
    thread0 = []
    for f in re.finditer(r"\bif\s*\(\s*(tid\s*==\s*0|env_stepper)\s*\)", code[body_open:body_close]):
        start = body_open + f.start()
        end = statement_end(code, body_open + f.end())
        thread0.append((line_of(start), line_of(end)))
    warp0, workers = [], []
    for f in re.finditer(r"\bif\s*\(\s*env_warp\s*\)", code[body_open:body_close]):
        start = body_open + f.start()
        end = statement_end(code, body_open + f.end())
        warp0.append((line_of(start), line_of(end)))
        rest = re.match(r"\s*else\b", code[end + 1:])
        if rest:
            workers.append((line_of(end + 1 + rest.start()), line_of(statement_end(code, end + 1 + rest.end()))))
    comments = {n + 1: l.split("//", 1)[1].strip() for n, l in enumerate(text.splitlines()) if "//" in l}
    return Source(loops, thread0, warp0, workers, (line_of(body_open), line_of(body_close)), comments)


def env_line_owners(path: Path) -> dict[int, str]:
    """envs.cuh lines private to one environment: its own functions and its `case`s."""
    owners: dict[int, str] = {}
    code = strip_comments(path.read_text())
    line_of = lambda pos: code.count("\n", 0, pos) + 1  # noqa: E731
    for m in re.finditer(r"SFNN_FN\s+[\w:<>]+\s+(\w+)\s*\(", code):
        name = m.group(1)
        env = next((e for prefix, e in ENV_FUNCTION_PREFIX if name.startswith(prefix)), None)
        if env:
            end = statement_end(code, code.index("{", matching_paren(code, m.end() - 1)))
            for line in range(line_of(m.start()), line_of(end) + 1):
                owners[line] = env
    lines = code.splitlines()
    current = None
    for n, line in enumerate(lines, 1):
        case = re.search(r"\bcase\s+([A-Z_]+)\s*:", line)
        if case:
            current = ENV_IDS.get(case.group(1))
        elif re.search(r"\bdefault\s*:|^\s*}", line):
            current = None
        if current and n not in owners:
            owners[n] = current
    return owners


def attribute(instrs: list[Instr], source: Source, owners: dict[int, str]) -> None:
    for i in instrs:
        kernel_lines = [n for f, n in i.chain if f == "sfnn.cu" and source.kernel[0] <= n <= source.kernel[1]]
        i.kernel_line = kernel_lines[-1] if kernel_lines else 0
        i.thread0 = any(a <= i.kernel_line <= b for a, b in source.thread0)
        i.warp0 = any(a <= i.kernel_line <= b for a, b in source.warp0)
        i.workers = any(a <= i.kernel_line <= b for a, b in source.workers)
        i.env = next((owners[n] for f, n in i.chain if f == "envs.cuh" and n in owners), None)


# ---------------------------------------------------------------------------------------------
# Loops in the SASS, matched to the source loops.

@dataclass
class SassLoop:
    start: int  # index of the first instruction
    end: int  # index of the back-edge branch
    source: SourceLoop | None
    children: list["SassLoop"] = field(default_factory=list)
    parent: "SassLoop | None" = None
    skip: bool = False  # a sibling copy (version or remainder) of the loop that is timed
    unroll: int = 1  # source iterations per pass

    @property
    def kind(self) -> str:
        return self.source.kind if self.source else "unknown"

    def has_barrier(self, instrs: list[Instr]) -> bool:
        return any(instrs[k].base == "BAR" for k in range(self.start, self.end + 1))


def find_loops(instrs: list[Instr], labels: dict[str, int], source: Source) -> list[SassLoop]:
    """Back edges (a branch to a lower address) delimit the SASS loops. Each is matched to the
    kernel loop whose `for` line its back edge carries, else to the innermost kernel loop holding
    that line; a loop matched to the same kernel loop as one around it is a loop of an inlined
    function (the environments' angle wrapping) and runs about once. ptxas may unroll a loop
    (`unroll`, with the remainder as straight code next to it) or version it (copies for
    different invariant conditions, e.g. the first propagation's clamps): of sibling SASS loops
    of one kernel loop only the smallest is timed, with the full trip count."""
    index = {i.addr: k for k, i in enumerate(instrs)}
    loops = []
    for k, i in enumerate(instrs):
        target = branch_target(i, labels)
        # A branch to itself is the trap ptxas puts after the function's last instruction.
        if target is not None and target < i.addr and not i.cold:
            loops.append(SassLoop(index[target], k, None))
    # Merge back edges to the same head (a `continue`): one loop from the head to the last edge.
    merged: dict[int, SassLoop] = {}
    for loop in loops:
        if loop.start not in merged or merged[loop.start].end < loop.end:
            merged[loop.start] = loop
    loops = sorted(merged.values(), key=lambda l: (l.start, -l.end))
    # Nesting by containment.
    for loop in loops:
        parents = [p for p in loops if p is not loop and p.start <= loop.start and loop.end <= p.end]
        if parents:
            loop.parent = min(parents, key=lambda p: p.end - p.start)
            loop.parent.children.append(loop)
    for loop in loops:  # outermost first (sorted by start, longest first)
        line = instrs[loop.end].kernel_line
        headed = [s for s in source.loops if s.first == line]
        holding = [s for s in source.loops if s.first <= line <= s.last]
        pick = min(headed or holding, key=lambda s: s.last - s.first, default=None)
        ancestors = []
        p = loop.parent
        while p:
            ancestors.append(p.source)
            p = p.parent
        if pick is not None and not headed and pick in ancestors:
            loop.source = SourceLoop(line, line, "(inlined)", "inlined")
        else:
            loop.source = pick
    # Siblings of one kernel loop: time the smallest.
    groups: dict[tuple, list[SassLoop]] = {}
    for loop in loops:
        if loop.source is not None and loop.kind != "inlined":
            groups.setdefault((id(loop.parent), id(loop.source)), []).append(loop)
    for group in groups.values():
        keep = min(group, key=lambda l: l.end - l.start)
        for l in group:
            l.skip = l is not keep
    for loop in loops:
        loop.unroll = unroll_factor(instrs, loop)
    return loops


def unroll_factor(instrs: list[Instr], loop: SassLoop) -> int:
    """How many source iterations one pass of a SASS loop runs: the greatest common divisor of
    the counts of each (opcode, source line) among its arithmetic and memory instructions (an
    unrolled body repeats each of them the same number of times)."""
    if loop.source is None or loop.kind in ("inlined", "unknown"):
        return 1
    inner = set()
    for ch in loop.children:
        inner.update(range(ch.start, ch.end + 1))
    counts: dict[tuple, int] = {}
    for k in range(loop.start, loop.end + 1):
        i = instrs[k]
        if k in inner or i.cold or i.kernel_line == loop.source.first:
            continue
        if op_class(i) in ("fp32", "shared", "global", "mufu") and i.base not in ("LDC", "ULDC"):
            counts[(i.base, i.kernel_line)] = counts.get((i.base, i.kernel_line), 0) + 1
    return math.gcd(*counts.values()) if counts else 1


# ---------------------------------------------------------------------------------------------
# Classes of instructions (for the table and the pipe limits).

def op_class(i: Instr) -> str:
    b = i.base
    if b in ("FADD", "FMUL", "FFMA", "FMNMX", "FSEL", "FSETP", "FSWZADD", "FCHK", "HFMA2", "HADD2", "HMUL2"):
        return "fp32"
    if b == "MUFU":
        return "mufu"
    if b in ("DADD", "DMUL", "DFMA", "DSETP"):
        return "fp64"
    if b in ("F2I", "I2F", "F2F", "FRND", "I2FP", "F2IP"):
        return "conv"
    if b in ("LDS", "STS", "LD", "ST", "ATOMS"):
        return "shared"
    if b in ("LDG", "STG", "LDC", "ULDC", "ATOMG", "RED"):
        return "global"
    if b in ("BRA", "BRX", "BSSY", "BSYNC", "CALL", "RET", "EXIT", "WARPSYNC", "BAR", "YIELD"):
        return "control"
    return "int"


def latency(i: Instr, cold_memory: bool) -> int:
    b = i.base
    if b == "LDG":
        return LATENCY["LDG_COLD" if cold_memory else "LDG"]
    if b in LATENCY:
        return LATENCY[b]
    c = op_class(i)
    return LATENCY.get(c, LATENCY["other"])


# ---------------------------------------------------------------------------------------------
# The in-order issue model of one warp.

@dataclass
class Cost:
    cycles: float = 0.0
    counts: dict[str, float] = field(default_factory=dict)

    def add_counts(self, other: dict[str, float], times: float = 1.0) -> None:
        for k, v in other.items():
            self.counts[k] = self.counts.get(k, 0.0) + v * times


def simulate(stream: list, cold_memory: bool = False) -> float:
    """Cycles from the first issue until every result of `stream` is available. Items are
    Instr or a float (a nested loop's cycles, run after everything before it completed)."""
    t = 0.0  # the earliest cycle the next instruction may issue
    release = [0.0] * 6
    pipe_free = {"mufu": 0.0, "fp64": 0.0, "conv": 0.0}
    for item in stream:
        if not isinstance(item, Instr):
            t = max([t] + release) + item
            release = [t] * 6
            continue
        ready = max([t] + [release[b] for b in range(6) if item.wait >> b & 1])
        c = op_class(item)
        if c in pipe_free:
            ready = max(ready, pipe_free[c])
            pipe_free[c] = ready + PIPE_CYCLES[c]
        if item.wbar < 6:
            release[item.wbar] = ready + latency(item, cold_memory)
        if item.rbar < 6:
            release[item.rbar] = max(release[item.rbar], ready + READ_RELEASE)
        t = ready + max(item.stall, 1)
    return max([t] + release)


@dataclass
class Lifetime:
    env: str
    edges: int
    in_degree: list[int]


@dataclass
class Context:
    instrs: list[Instr]
    loops: list[SassLoop]
    by_start: dict[int, list[SassLoop]]
    threads: int
    width: int
    d: int
    types: int
    outputs: dict[str, int]
    inputs: dict[str, int]  # observation sizes: the input nodes
    warnings: set[str]


def lanes_of(warp: int) -> range:
    return range(32 * warp, 32 * warp + 32)


def synapse_trips(ctx: Context, life: Lifetime, warp: int) -> int:
    # Warp 0 steps the environment meanwhile; worker thread tid ≥ 32 walks edges tid - 32,
    # tid - 32 + (threads - 32), ...
    if warp == 0:
        return 0
    T = ctx.threads
    return max(max(0, math.ceil((life.edges - (tid - 32)) / (T - 32))) for tid in lanes_of(warp))


def warp_nodes(ctx: Context, warp: int, k: int) -> list[int]:
    """Nodes warp `warp` serves on its k-th node·channel pass (sfnn.cu: lane l of worker warp w
    takes node (w - 1)·(32 // D) + l // D, then + node_slots per pass, channel l % D; warp 0
    serves none)."""
    if warp == 0:
        return []
    per_warp = 32 // ctx.d
    slots = (ctx.threads // 32 - 1) * per_warp
    nodes = ctx.width // ctx.d
    return [j for g in range(per_warp) if (j := (warp - 1) * per_warp + g + k * slots) < nodes]


def node_channel_trips(ctx: Context, warp: int) -> int:
    k = 0
    while warp_nodes(ctx, warp, k):
        k += 1
    return k


def in_edge_trips(ctx: Context, life: Lifetime, warp: int, k: int) -> int:
    return max((life.in_degree[j] for j in warp_nodes(ctx, warp, k)), default=0)


def gate_pre_trips(ctx: Context, life: Lifetime, warp: int, outer: dict) -> int:
    """The input gates' pre parts, once per step (first propagation), on the worker warps that
    serve no node when there are such (sfnn.cu gate_pre_first), else on every worker."""
    if outer.get("propagation", 0) != 0:
        return 0
    warps = ctx.threads // 32
    node_warps = math.ceil(len(life.in_degree) / (32 // ctx.d))
    first = (1 + node_warps) * 32 if 1 + node_warps < warps else 32
    if 32 * warp + 31 < first:
        return 0
    n = len(life.in_degree) * 3 * ctx.d
    return max(max(0, math.ceil((n - (tid - first)) / (ctx.threads - first))) for tid in lanes_of(warp))


def input_node_trips(ctx: Context, life: Lifetime, warp: int) -> int:
    """The first propagation's input nodes, on warp 0: 32 // D of them per pass."""
    return math.ceil(ctx.inputs[life.env] / (32 // ctx.d)) if warp == 0 else 0


def trips(loop: SassLoop, ctx: Context, life: Lifetime, warp: int, outer: dict) -> int:
    kind = loop.kind
    T, E, D = ctx.threads, life.edges, ctx.d
    per_thread = lambda n: max(0, max(math.ceil((n - tid) / T) for tid in lanes_of(warp)))  # noqa: E731
    table = {
        "synapse": lambda: synapse_trips(ctx, life, warp),
        "node_channel": lambda: node_channel_trips(ctx, warp),
        "in_edge": lambda: in_edge_trips(ctx, life, warp, outer.get("node_channel", 0)),
        "propagation": lambda: 3,
        "inlined": lambda: 1,
        "readout": lambda: max(0, ctx.outputs[life.env] - 1) if warp == 0 else 0,
        "setup_edge_states": lambda: per_thread(E * D),
        "setup_activations": lambda: per_thread(3 * ctx.width),
        "setup_params": lambda: per_thread(ctx.outputs["__params__"]),
        "setup_types": lambda: per_thread(len(life.in_degree)),
        "gate_pre": lambda: gate_pre_trips(ctx, life, warp, outer),
        "input_nodes": lambda: input_node_trips(ctx, life, warp),
        # The post parts of node j's synapses, per type, in the last propagation only.
        "post_types": lambda: ctx.types if outer.get("propagation", 2) == 2 else 0,
        "setup_lists": lambda: per_thread(E),
        "gate_post": lambda: per_thread(ctx.types * len(life.in_degree)),
        "digest": lambda: E * D if warp == 0 else 0,
    }
    if kind in table:
        return table[kind]()
    ctx.warnings.add(f"loop at {ctx.instrs[loop.start].addr:#x} ({kind}, source line "
                     f"{loop.source.first if loop.source else '?'}): trip count unknown, counted once")
    return 1


def runs(i: Instr, life: Lifetime, warp: int) -> bool:
    return (not i.cold and (warp == 0 or not (i.thread0 or i.warp0)) and (warp != 0 or not i.workers)
            and (i.env is None or i.env == life.env))


def expand(ctx: Context, lo: int, hi: int, life: Lifetime, warp: int, outer: dict,
           cold_memory: bool, skip: SassLoop | None = None) -> tuple[list, Cost]:
    """The stream warp `warp` issues for instructions lo..hi: nested loops without barriers
    become their cycle counts; loops with barriers are unrolled; BARs stay as markers."""
    stream: list = []
    cost = Cost()
    k = lo
    while k <= hi:
        nested = [l for l in ctx.by_start.get(k, []) if l.end <= hi and l is not skip and (lo, hi) != (l.start, l.end)]
        if nested:
            loop = max(nested, key=lambda l: l.end)
            if loop.skip:
                k = loop.end + 1
                continue
            n = trips(loop, ctx, life, warp, outer) // loop.unroll
            if loop.has_barrier(ctx.instrs):
                for it in range(n):
                    s, c = expand(ctx, loop.start, loop.end, life, warp, {**outer, loop.kind: it}, cold_memory, skip=loop)
                    stream += s
                    cost.add_counts(c.counts)
            else:
                c = loop_cost(ctx, loop, n, life, warp, outer, cold_memory)
                stream.append(c.cycles)
                cost.add_counts(c.counts)
            k = loop.end + 1
            continue
        i = ctx.instrs[k]
        if runs(i, life, warp):
            stream.append(i)
            cost.add_counts({op_class(i): 1, "total": 1, **({"bar": 1} if i.base == "BAR" else {})})
        k += 1
    return stream, cost


def loop_cost(ctx: Context, loop: SassLoop, n: int, life: Lifetime, warp: int, outer: dict,
              cold_memory: bool) -> Cost:
    """n iterations: the first costs a full pass, each further one the steady-state increment
    (two passes minus one), which lets independent work of consecutive iterations overlap."""
    total = Cost()
    if n <= 0:
        return total
    if any(ch.kind == "in_edge" for ch in loop.children) or loop.children:
        # Inner trip counts differ per iteration (in-edges of each node): iterate.
        for it in range(n):
            s, c = expand(ctx, loop.start, loop.end, life, warp, {**outer, loop.kind: it}, cold_memory, skip=loop)
            total.cycles += simulate(s, cold_memory)
            total.add_counts(c.counts)
        return total
    s, c = expand(ctx, loop.start, loop.end, life, warp, outer, cold_memory, skip=loop)
    one, two = simulate(s, cold_memory), simulate(s + s, cold_memory)
    total.cycles = one + (n - 1) * (two - one)
    total.add_counts(c.counts, n)
    return total


def barrier_cycles(i: Instr) -> int:
    return BARRIER_CYCLES["BAR.RED" if ".RED" in i.op else "BAR.SYNC"]


def barrier_id(i: Instr) -> int:
    """`BAR.SYNC 0x1, R…` waits at named barrier 1 (the workers'); __syncthreads is 0."""
    m = re.match(r"\s*(0x[0-9a-f]+|\d+)", i.operands[0]) if i.operands else None
    return int(m.group(1), 0) if m else 0


def phased(ctx: Context, lo: int, hi: int, life: Lifetime, skip: SassLoop | None,
           cold_memory: bool, repeat: int = 1) -> tuple[float, list[Cost]]:
    """Block time of lo..hi: every warp runs its stream up to its next barrier, and a barrier
    releases its participants (barrier 0: every warp; a named one: the warps that use it) at
    the last one's arrival plus the barrier's own cycles. With barriers that every warp passes
    this is, per barrier-delimited phase, the slowest warp plus the barrier. `repeat` runs the
    streams that many times back to back (consecutive steps, whose warps may overlap across
    the step boundary); the costs are one pass's."""
    warps = ctx.threads // 32
    costs = []
    segments: list[list[tuple[float, Instr | None]]] = []
    for w in range(warps):
        s, c = expand(ctx, lo, hi, life, w, {}, cold_memory, skip=skip)
        costs.append(c)
        cur: list = []
        mine = []
        for item in s * repeat:
            if isinstance(item, Instr) and item.base == "BAR":
                mine.append((simulate(cur, cold_memory), item))
                cur = []
            else:
                cur.append(item)
        mine.append((simulate(cur, cold_memory), None))
        segments.append(mine)
    users: dict[int, set[int]] = {}
    for w, mine in enumerate(segments):
        for _, bar in mine:
            if bar is not None:
                users.setdefault(barrier_id(bar), set()).add(w)
    if set(users.get(0, set())) not in (set(), set(range(warps))):
        fail("some warps skip barrier 0 (__syncthreads): the model cannot align them")
    clock = [0.0] * warps
    at = [0] * warps  # index of the segment each warp runs next
    phase = 0
    while True:
        waiting: dict[int, dict[int, float]] = {}
        for w in range(warps):
            if at[w] < len(segments[w]):
                cycles, bar = segments[w][at[w]]
                if bar is not None:
                    waiting.setdefault(barrier_id(bar), {})[w] = clock[w] + cycles
        ready = [b for b, arrived in waiting.items() if set(arrived) == users[b]]
        if not ready:
            break
        for b in ready:
            arrived = waiting[b]
            bar = segments[next(iter(arrived))][at[next(iter(arrived))]][1]
            release = max(arrived.values()) + barrier_cycles(bar)
            if os.environ.get("SFNN_MODEL_PHASES") == str(ctx.d):
                print(f"  {life.env} phase {phase} (barrier {b}): " + " ".join(
                    f"{arrived[w] - clock[w]:.0f}" if w in arrived else "-" for w in range(warps)),
                    file=sys.stderr)
            phase += 1
            for w in arrived:
                clock[w] = release
                at[w] += 1
    if any(at[w] != len(segments[w]) - 1 for w in range(warps)):
        fail("warps wait at barriers the others never reach: the model cannot align them")
    return max(clock[w] + segments[w][-1][0] for w in range(warps)), costs


# ---------------------------------------------------------------------------------------------
# Occupancy and the generation.

def blocks_per_sm(registers: int, threads: int, shared: int) -> tuple[int, str]:
    warps = threads // 32
    regs_per_warp = math.ceil(registers * 32 / REGISTER_UNIT) * REGISTER_UNIT
    limits = {
        "registers": REGISTERS_PER_SM // (regs_per_warp * warps),
        "shared memory": SHARED_PER_SM // (shared + SHARED_RESERVED_PER_BLOCK),
        "warps": MAX_WARPS_PER_SM // warps,
        "blocks": MAX_BLOCKS_PER_SM,
    }
    name = min(limits, key=lambda k: limits[k])
    return limits[name], name


@dataclass
class BlockModel:
    env: str
    steps: int
    step_latency: float  # cycles per step, one block alone
    warp_issue: list[dict[str, float]]  # per warp: instruction counts per step
    overhead: float  # per lifetime, outside the steps


def step_cycles(resident: list[BlockModel], mode: str) -> list[float]:
    """Cycles per step of each resident block of one SM: its own latency, or the issue time
    that all resident warps need (the busiest sub-partition: the resident blocks' warps take the
    SM's warp slots in order and slot s issues on sub-partition s mod 4, so with 4 warps per
    block warp w of every block shares one; MUFU, FP64 and conversion pipes; the SM's
    shared-memory accesses), or the larger."""
    per_sub: list[dict[str, float]] = [{} for _ in range(SCHEDULERS)]
    slot = 0
    for b in resident:
        for warp in b.warp_issue:
            c = per_sub[slot % SCHEDULERS]
            for k, v in warp.items():
                c[k] = c.get(k, 0.0) + v
            slot += 1
    issue = 0.0
    for c in per_sub:
        issue = max(issue, c.get("total", 0.0), *(PIPE_CYCLES[p] * c.get(p, 0.0) for p in PIPE_CYCLES))
    shared = sum(w.get("shared", 0.0) for b in resident for w in b.warp_issue)
    issue = max(issue, shared / SHARED_ACCESSES_PER_CYCLE)
    return [{"latency": b.step_latency, "issue": issue}.get(mode, max(b.step_latency, issue)) for b in resident]


def launch_order(blocks: list[BlockModel]) -> list[BlockModel]:
    """The executor's launch order (src/exec/cuda/pack.rs launch_order): the longest lifetimes
    first, in request order among equals."""
    return sorted(blocks, key=lambda b: -b.steps)


def generation_cycles(blocks: list[BlockModel], per_sm: int, mode: str) -> float:
    """One launch: blocks in launch order fill the SMs' `per_sm` slots breadth first (block i
    to SM i mod 132 while slots last), later blocks take the first slot that frees. Each
    resident block advances at its step time under its current co-residents (`step_cycles`)."""
    import heapq

    queue = iter(range(len(blocks)))
    # Per SM: the time its state refers to, and [block, steps left, overhead cycles left].
    state: list[tuple[float, list[list]]] = [(0.0, []) for _ in range(SMS)]
    for _ in range(per_sm):
        for sm in range(SMS):
            b = next(queue, None)
            if b is not None:
                state[sm][1].append([b, float(blocks[b].steps), blocks[b].overhead])

    def next_event(sm: int) -> float:
        t, res = state[sm]
        steps = step_cycles([blocks[r[0]] for r in res], mode)
        return t + min(r[2] + r[1] * c for r, c in zip(res, steps))

    heap = [(next_event(sm), sm) for sm in range(SMS) if state[sm][1]]
    heapq.heapify(heap)
    end = 0.0
    while heap:
        t_event, sm = heapq.heappop(heap)
        t, res = state[sm]
        steps = step_cycles([blocks[r[0]] for r in res], mode)
        dt = t_event - t
        for r, c in zip(res, steps):
            spent = min(dt, r[2])
            r[2] -= spent
            r[1] -= (dt - spent) / c
        res = [r for r in res if r[1] > 1e-6 or r[2] > 1e-6]
        while len(res) < per_sm:
            b = next(queue, None)
            if b is None:
                break
            res.append([b, float(blocks[b].steps), blocks[b].overhead])
        state[sm] = (t_event, res)
        end = max(end, t_event)
        if res:
            heapq.heappush(heap, (next_event(sm), sm))
    return end


# ---------------------------------------------------------------------------------------------

def model_width(d: int, inputs: Path, paper: dict, nvdisasm: str, source: Source,
                owners: dict[int, str]) -> dict:
    plain = inputs / f"sm_90_d{d}.cubin"
    lined = inputs / f"sm_90_d{d}.lineinfo.cubin"
    a, _ = parse_sass(disassemble(nvdisasm, plain, False))
    instrs, labels = parse_sass(disassemble(nvdisasm, lined, True))
    if [(i.addr, i.pred, i.text) for i in a] != [(i.addr, i.pred, i.text) for i in instrs]:
        fail(f"d={d}: the -lineinfo cubin's instructions differ from the executor's")
    mark_cold_blocks(instrs, labels)
    attribute(instrs, source, owners)
    loops = find_loops(instrs, labels, source)
    by_start: dict[int, list[SassLoop]] = {}
    for l in loops:
        by_start.setdefault(l.start, []).append(l)
    step_loops = [l for l in loops if l.kind == "step"]
    if len(step_loops) != 1:
        fail(f"d={d}: expected one SASS loop over the horizon (the step loop), found {len(step_loops)}")
    step = step_loops[0]
    w = paper["widths"][str(d)]
    nodes = paper["nodes"]
    outputs = {e["name"]: e["outputs"] for e in paper["envs"]}
    outputs["__params__"] = w["param_count"]
    obs_dims = {e["name"]: e["obs_dim"] for e in paper["envs"]}
    ctx = Context(instrs, loops, by_start, paper["threads_per_block"], nodes * d, d,
                  paper["node_types"], outputs, obs_dims, set())

    lifetimes = [Lifetime(l["env"], l["edges"], l["in_degree"]) for l in paper["lifetimes"]]
    steps_of = {e["name"]: e["steps_per_lifetime"] for e in paper["envs"]}
    rule = sorted(range(len(lifetimes)), key=lambda k: -steps_of[lifetimes[k].env])
    if paper.get("launch_order") != rule:
        fail("the executor's launch order (paper.json) is not launch_order()'s rule: update the script")
    # One representative lifetime per environment (median synapse count) for the tables.
    typical = {}
    for env in steps_of:
        ls = sorted((l for l in lifetimes if l.env == env), key=lambda l: l.edges)
        typical[env] = ls[len(ls) // 2]

    # Per-lifetime block models; identical wirings share a cache key.
    cache: dict[tuple, BlockModel] = {}
    episode = next((l for l in loops if l.kind == "episode"), None)
    blocks = []
    outside_cache: dict[tuple, float] = {}
    warps = ctx.threads // 32
    k_max = math.ceil(ctx.width / ctx.threads)

    def signature(life: Lifetime) -> tuple:
        """What a lifetime's step time depends on: per warp, its synapses and in-edge loops."""
        return (life.env,
                tuple(synapse_trips(ctx, life, w) for w in range(warps)),
                tuple(in_edge_trips(ctx, life, w, k) for w in range(warps) for k in range(k_max)))

    for life in lifetimes:
        key = signature(life)
        if key not in cache:
            # Steady state: two steps minus one. Warp 0 steps the environment while the workers
            # update the synapses and begin the next step, across the loop's back edge.
            one, costs = phased(ctx, step.start, step.end, life, skip=step, cold_memory=False)
            two, _ = phased(ctx, step.start, step.end, life, skip=step, cold_memory=False, repeat=2)
            latency_cycles = two - one
            cache[key] = BlockModel(life.env, steps_of[life.env], latency_cycles,
                                    [c.counts for c in costs], 0.0)
        okey = (life.env, life.edges)
        if okey not in outside_cache:
            # Outside the episode loop: loads, digest (cold memory for the first loads).
            outside = 0.0
            if episode:
                before, _ = phased(ctx, 0, episode.start - 1, life, None, True) if episode.start > 0 else (0.0, [])
                # Up to the last EXIT: the slow-path subroutines follow it.
                last = max(k for k, i in enumerate(instrs) if i.base == "EXIT")
                after, _ = phased(ctx, episode.end + 1, last, life, None, True)
                outside = before + after
            outside_cache[okey] = outside
        base = cache[key]
        blocks.append(BlockModel(base.env, base.steps, base.step_latency, base.warp_issue,
                                 outside_cache[okey]))

    shared = w["shared_bytes_with_states"]
    log = (inputs / f"sm_90_d{d}.ptxas.log").read_text()
    # The log reports each entry point in turn: keep the modelled one's part.
    part = re.search(rf"Compiling entry function '{KERNEL}'.*?(?=Compiling entry function|\Z)", log, re.S)
    if not part:
        fail(f"d={d}: ptxas log has no entry function {KERNEL}")
    log = part.group(0)
    used = re.search(r"Used (\d+) registers", log)
    spills = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", log)
    if not used:
        fail(f"d={d}: no register count in the ptxas log")
    registers = int(used.group(1))
    if spills and (int(spills.group(1)) or int(spills.group(2))):
        ctx.warnings.add(f"ptxas spills registers: {spills.group(0)} (local memory is not modelled)")
    per_sm, limiter = blocks_per_sm(registers, ctx.threads, shared)

    # Tables: static counts per region, per-step figures per environment.
    regions = region_table(ctx, step, typical)
    per_env = {}
    for env, life in typical.items():
        b = cache[signature(life)]
        per_env[env] = {
            "synapses": life.edges,
            "steps_per_lifetime": b.steps,
            "step_latency_cycles": round(b.step_latency, 1),
            "warp_instructions_per_step": [round(c.get("total", 0.0)) for c in b.warp_issue],
            "mufu_per_step": round(sum(c.get("mufu", 0.0) for c in b.warp_issue)),
            "barriers_per_step": round(max(w.get("bar", 0.0) for w in b.warp_issue)),
            "lifetime_overhead_cycles": round(b.overhead),
        }

    estimates = []
    for popsize in POPSIZES:
        reps = popsize // paper["popsize"]
        gen_blocks = [b for _ in range(max(1, reps)) for b in blocks][: popsize * len(steps_of)]
        gen_blocks = launch_order(gen_blocks)
        both, lat, issue = (generation_cycles(gen_blocks, per_sm, m) for m in ("both", "latency", "issue"))
        estimates.append({
            "msg_dims": d, "popsize": popsize, "envs": list(steps_of),
            "ms": round(both / CLOCK_HZ * 1e3, 2),
            "latency_bound_ms": round(lat / CLOCK_HZ * 1e3, 2),
            "issue_bound_ms": round(issue / CLOCK_HZ * 1e3, 2),
        })
    return {
        "msg_dims": d,
        "registers": registers,
        "shared_bytes_per_block": shared,
        "blocks_per_sm": per_sm,
        "occupancy_limited_by": limiter,
        "sass_instructions": len(instrs),
        "barriers_in_step_loop": sum(1 for k in range(step.start, step.end + 1) if instrs[k].base == "BAR"),
        "regions": regions,
        "per_env": per_env,
        "generations": estimates,
        "warnings": sorted(ctx.warnings),
    }


def label_of(ctx: Context, loop: SassLoop | None, source: Source | None = None) -> str:
    names = {
        "synapse": "synapse update (per synapse)", "in_edge": "message aggregate (per in-edge)",
        "node_channel": "neurons + clamps (per node·channel)", "propagation": "propagation (×3 per step)",
        "readout": "readout (per output)", "step": "step loop (rest)",
        "post_types": "input gates' post parts (per node·channel and type, last propagation)",
        "gate_pre": "input gates' pre parts (per node·gate, first propagation)",
    }
    if loop and loop.kind == "node_channel":
        has_messages = any(ch.kind == "in_edge" for ch in loop.children)
        return "messages + clamps + neuron (per node·channel)" if has_messages else "neurons (per node·channel)"
    return names.get(loop.kind, loop.kind) if loop else "straight"


def region_table(ctx: Context, step: SassLoop, typical: dict[str, Lifetime]) -> list[dict]:
    """Static instruction counts of each loop body inside the step loop (nested loops excluded)
    and of the thread-0 code per environment."""
    rows = []

    def own(loop: SassLoop) -> list[Instr]:
        inner = set()
        for ch in loop.children:
            inner.update(range(ch.start, ch.end + 1))
        return [ctx.instrs[k] for k in range(loop.start, loop.end + 1) if k not in inner and not ctx.instrs[k].cold]

    def counts(items: list[Instr]) -> dict:
        c: dict[str, int] = {}
        for i in items:
            c[op_class(i)] = c.get(op_class(i), 0) + 1
        c["total"] = len(items)
        return c

    def walk(loop: SassLoop) -> None:
        mine = own(loop)
        # Loops entirely on thread 0 (the readout) are shown; elsewhere thread 0's code is
        # in the per-environment rows below.
        items = mine if mine and all(i.thread0 for i in mine) else [i for i in mine if not i.thread0]
        life = next(iter(typical.values()))
        body = [i for i in items if i.env is None]
        s = simulate(body)
        rows.append({"region": label_of(ctx, loop), "kind": loop.kind, "unroll": loop.unroll,
                     "source_line": loop.source.first if loop.source else None,
                     "barriers": sum(1 for i in items if i.base == "BAR"), "latency_one_pass": round(s),
                     **counts(body)})
        for ch in sorted(loop.children, key=lambda l: l.start):
            if not ch.skip:
                walk(ch)
        del life

    walk(step)
    rows = [r for r in rows if r["kind"] != "inlined"]
    for env, life in typical.items():
        t0 = [ctx.instrs[k] for k in range(step.start, step.end + 1)
              if ctx.instrs[k].thread0 and runs(ctx.instrs[k], life, 0)]
        rows.append({"region": f"warp 0: readout + {env} step", "kind": "thread0", "source_line": None,
                     "barriers": 0, "latency_one_pass": round(simulate(t0)), **counts(t0)})
    return rows


def print_report(result: dict) -> None:
    d = result["msg_dims"]
    print(f"\n== d = {d}: {result['sass_instructions']} SASS instructions, {result['registers']} registers, "
          f"{result['shared_bytes_per_block']} B shared per block -> {result['blocks_per_sm']} blocks per SM "
          f"(limited by {result['occupancy_limited_by']}); {result['barriers_in_step_loop']} barrier "
          f"instructions in the step loop")
    cols = ["total", "fp32", "mufu", "shared", "global", "int", "conv", "fp64", "control"]
    print(f"{'region (static, one pass)':44} " + " ".join(f"{c:>7}" for c in cols) + f" {'cycles':>7}")
    for r in result["regions"]:
        print(f"{r['region'][:44]:44} " + " ".join(f"{r.get(c, 0):>7}" for c in cols) + f" {r['latency_one_pass']:>7}")
    print(f"\n{'per step, typical lifetime':28} {'synapses':>8} {'latency':>8} {'warp instr':>22} {'MUFU':>6} {'bars':>5}")
    for env, e in result["per_env"].items():
        print(f"{env:28} {e['synapses']:>8} {e['step_latency_cycles']:>8.0f} "
              f"{'/'.join(str(x) for x in e['warp_instructions_per_step']):>22} {e['mufu_per_step']:>6} {e['barriers_per_step']:>5}")
    print(f"\n{'generation':24} {'model ms':>9} {'latency-bound':>14} {'issue-bound':>12}")
    for g in result["generations"]:
        print(f"popsize {g['popsize']:<5} × {len(g['envs'])} envs  {g['ms']:>9.2f} {g['latency_bound_ms']:>14.2f} {g['issue_bound_ms']:>12.2f}")
    for w in result["warnings"]:
        print(f"WARNING: {w}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", type=Path, help="folder written by examples/kernel_model_inputs.rs")
    parser.add_argument("--tools", help="folder holding nvdisasm")
    parser.add_argument("--widths", default="1,4,16")
    parser.add_argument("--check", action="store_true", help="print only; do not write the JSON")
    args = parser.parse_args()

    names = kernel_source_names()
    digest = sources_sha256(names)
    inputs = args.inputs or ROOT / "target/kernel-model"
    if args.inputs is None:
        build_inputs(inputs)
    paper = json.loads((inputs / "paper.json").read_text())
    nvdisasm = find_tool("nvdisasm", args.tools)
    source = parse_kernel_source(KERNELS / "sfnn.cu")
    owners = env_line_owners(KERNELS / "envs.cuh")
    results = []
    for d in [int(x) for x in args.widths.split(",")]:
        result = model_width(d, inputs, paper, nvdisasm, source, owners)
        print_report(result)
        results.append(result)
    if sources_sha256(names) != digest:
        fail("the kernel sources changed while the model ran")
    out = {
        "about": "scripts/kernel-model.py: SASS latency/issue model of kernels/sfnn.cu (docs/gpu-model.md)",
        "command": "python3 scripts/kernel-model.py",
        "gpu": GPU,
        "sources": names,
        "sources_sha256": digest,
        "generations": [g for r in results for g in r["generations"]],
        "widths": [{k: v for k, v in r.items() if k != "generations"} for r in results],
    }
    if not args.check:
        ESTIMATE.write_text(json.dumps(out, indent=1) + "\n")
        print(f"\nwrote {ESTIMATE.relative_to(ROOT)} (kernel sources sha256 {digest[:12]}…)")


if __name__ == "__main__":
    main()
