"""Genome files as SFNN Lab writes them: JSON (layout + flat values) and safetensors (one named
tensor per leaf, sizes and provenance in ``__metadata__``).

Safetensors is read and written here directly (an 8-byte header length, a JSON header, raw
little-endian data), so NumPy is the only dependency. Files without a ``model`` entry (e.g. the
tensors re-saved with ``safetensors.numpy.save_file``) get their sizes from the tensor shapes.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional

import numpy as np

FORMAT = "sfnn-genome"
VERSION = 1

#: Leaf names in the flat (``ravel_pytree``) order.
TENSOR_NAMES = (
    "node_cells.out.weight",
    "edge_cells.weight_ih",
    "edge_cells.weight_hh",
    "edge_cells.bias",
    "edge_cells.bias_n",
    "learning_rate",
)


@dataclass(frozen=True)
class ModelConfig:
    """The sizes that shape a genome: N nodes, message width d, T node types."""

    nodes: int = 32
    msg_dims: int = 4
    node_types: int = 3

    def shapes(self) -> Dict[str, tuple]:
        t, d = self.node_types, self.msg_dims
        return {
            "node_cells.out.weight": (t, d, d),
            "edge_cells.weight_ih": (t, 3 * d, 2 * d + 1),
            "edge_cells.weight_hh": (t, 3 * d, d),
            "edge_cells.bias": (t, 3 * d),
            "edge_cells.bias_n": (t, d),
            "learning_rate": (1,),
        }

    def param_count(self) -> int:
        return sum(int(np.prod(s)) for s in self.shapes().values())


@dataclass
class Genome:
    """A genome: its model sizes, its tensors by name (float32), and what the file said about it.

    ``topology`` and ``spec`` are the job's wiring probabilities and spec where the file carries
    them (``None`` otherwise); ``metadata`` holds the remaining provenance strings.
    """

    model: ModelConfig
    tensors: Dict[str, np.ndarray]
    fitness: Optional[float] = None
    topology: Optional[dict] = None
    spec: Optional[dict] = None
    metadata: Dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_flat(cls, values, model: ModelConfig = ModelConfig(), **kwargs) -> "Genome":
        """Splits a flat vector in the reference's order into named tensors."""
        values = np.asarray(values, dtype=np.float32).ravel()
        if values.size != model.param_count():
            raise ValueError(
                f"{values.size} values, a model of {model} needs {model.param_count()}"
            )
        tensors, offset = {}, 0
        for name, shape in model.shapes().items():
            size = int(np.prod(shape))
            tensors[name] = values[offset : offset + size].reshape(shape).copy()
            offset += size
        return cls(model, tensors, **kwargs)

    def flat(self) -> np.ndarray:
        """The flat vector in the reference's order (what CMA-ES searches)."""
        return np.concatenate([self.tensors[n].ravel() for n in TENSOR_NAMES]).astype(np.float32)


def infer_model(shapes: Dict[str, tuple], nodes: int = 32) -> ModelConfig:
    """The model sizes from the tensor shapes (N is not in the shapes: it defaults to 32)."""
    name = "node_cells.out.weight"
    if name not in shapes:
        raise ValueError(f"missing tensor {name} (shape [node_types, msg_dims, msg_dims])")
    shape = tuple(shapes[name])
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ValueError(f"tensor {name} should have shape [node_types, d, d], is {list(shape)}")
    model = ModelConfig(nodes=nodes, msg_dims=shape[1], node_types=shape[0])
    check_shapes(shapes, model)
    return model


def check_shapes(shapes: Dict[str, tuple], model: ModelConfig) -> None:
    for name, expected in model.shapes().items():
        if name not in shapes:
            raise ValueError(f"missing tensor {name} (shape {list(expected)})")
        if tuple(shapes[name]) != expected:
            raise ValueError(
                f"tensor {name} should have shape {list(expected)}, is {list(shapes[name])}"
            )


def _model_from(obj) -> ModelConfig:
    obj = json.loads(obj) if isinstance(obj, str) else dict(obj)
    return ModelConfig(**{k: int(v) for k, v in obj.items()})


def _json_or_none(text):
    return None if text is None else json.loads(text)


def read_safetensors(data: bytes):
    """Tensors (float32 copies) and the ``__metadata__`` strings of a safetensors file."""
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length].decode("utf-8"))
    metadata = header.pop("__metadata__", None) or {}
    base = 8 + length
    tensors = {}
    for name, info in header.items():
        if info["dtype"] not in ("F32", "F64", "F16"):
            raise ValueError(f"tensor {name} is {info['dtype']}, expected F32")
        dtype = {"F32": "<f4", "F64": "<f8", "F16": "<f2"}[info["dtype"]]
        start, end = info["data_offsets"]
        array = np.frombuffer(data[base + start : base + end], dtype=dtype)
        tensors[name] = array.reshape(info["shape"]).astype(np.float32)
    return tensors, metadata


def write_safetensors(tensors: Dict[str, np.ndarray], metadata: Optional[Dict[str, str]] = None) -> bytes:
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name, array in tensors.items():
        blob = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def genome_from_json(obj: dict) -> Genome:
    """The JSON genome format, or just ``{"model": ..., "values": [...]}``."""
    model = _model_from(obj.get("model", {}))
    return Genome.from_flat(
        obj["values"],
        model,
        fitness=obj.get("fitness"),
        topology=obj.get("topology"),
        spec=obj.get("spec"),
        metadata=dict(obj.get("metadata") or {}),
    )


def genome_from_safetensors(data: bytes) -> Genome:
    tensors, meta = read_safetensors(data)
    meta = dict(meta)
    if "model" in meta:
        model = _model_from(meta.pop("model"))
        check_shapes({k: v.shape for k, v in tensors.items()}, model)
    else:
        model = infer_model({k: v.shape for k, v in tensors.items()})
    fitness = meta.pop("fitness", None)
    for key in ("format", "version"):
        meta.pop(key, None)
    return Genome(
        model,
        {n: tensors[n] for n in TENSOR_NAMES},
        fitness=None if fitness is None else float(fitness),
        topology=_json_or_none(meta.pop("topology", None)),
        spec=_json_or_none(meta.pop("spec", None)),
        metadata=meta,
    )


def genome_from_bytes(data: bytes) -> Genome:
    """A genome file's content, JSON or safetensors (told apart by content), as a genome."""
    if data.lstrip()[:1] == b"{":
        return genome_from_json(json.loads(data))
    return genome_from_safetensors(data)


def load_genome(path) -> Genome:
    """Reads a ``.json`` or ``.safetensors`` genome file (told apart by content)."""
    return genome_from_bytes(Path(path).read_bytes())


def genome_to_bytes(genome: Genome, format: str = "safetensors") -> bytes:
    """The genome as a file's content, ``json`` or ``safetensors``, that SFNN Lab reads back."""
    model = genome.model.__dict__
    if format == "json":
        obj = {"format": FORMAT, "version": VERSION, "model": model, "values": genome.flat().tolist()}
        for key in ("fitness", "topology", "spec"):
            if getattr(genome, key) is not None:
                obj[key] = getattr(genome, key)
        obj["metadata"] = genome.metadata
        return json.dumps(obj).encode("utf-8")
    if format != "safetensors":
        raise ValueError(f"format must be json or safetensors, got {format!r}")
    meta = dict(genome.metadata, format=FORMAT, version=str(VERSION), model=json.dumps(model))
    if genome.fitness is not None:
        meta["fitness"] = repr(float(genome.fitness))
    for key in ("topology", "spec"):
        if getattr(genome, key) is not None:
            meta[key] = json.dumps(getattr(genome, key))
    return write_safetensors({n: genome.tensors[n] for n in TENSOR_NAMES}, meta)


def save_genome(genome: Genome, path) -> None:
    """Writes JSON (``.json``) or safetensors (anything else) that SFNN Lab reads back."""
    path = Path(path)
    path.write_bytes(genome_to_bytes(genome, "json" if path.suffix == ".json" else "safetensors"))
