"""Model bundles: a written bundle verifies, loads and runs; every kind of tampering the manifest
guards against (changed, missing, escaping or mis-described files, external data leaving the
folder, bad manifests) is refused naming the file; the CLI reports it with its exit codes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import set_external_data

from reelpoet.export.bundle_writer import write_bundle
from reelpoet.sdk import cli
from reelpoet.sdk.bundle import (
    FORMAT_VERSION,
    Manifest,
    TensorSpec,
    load_bundle,
    read_manifest,
    verify_bundle,
)
from reelpoet.sdk.bundle_location import BUNDLE_ENV_VAR
from reelpoet.sdk.errors import (
    BundleError,
    BundleIntegrityError,
    BundleManifestError,
)
from reelpoet.sdk.token_layout import TokenLayout

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = np.arange(4, dtype=np.float32)


def _weights(external: str | None = None) -> TensorProto:
    tensor = numpy_helper.from_array(WEIGHTS, "w")
    if external is not None:
        set_external_data(tensor, location=external, offset=0, length=WEIGHTS.nbytes)
        tensor.ClearField("raw_data")
        tensor.data_location = TensorProto.EXTERNAL
    return tensor


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    # IR 8 / opset 17: old enough for any onnxruntime the runtime supports
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, path)
    return path


def _add_graph(path: Path, external: str | None = None) -> Path:
    """y = x + w, x: (batch, 4) float32; w inline or in an external-data file."""
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])],
        "add",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        initializer=[_weights(external)],
    )
    return _save(graph, path)


def _nested_graph(path: Path, external: str) -> Path:
    """The external tensor sits in a Constant inside an If's branch: a subgraph of an attribute."""
    branch = helper.make_graph(
        [helper.make_node("Constant", [], ["c"], value=_weights(external))],
        "branch",
        [],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [4])],
    )
    graph = helper.make_graph(
        [helper.make_node("If", ["cond"], ["y"], then_branch=branch, else_branch=branch)],
        "nested",
        [helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
    )
    return _save(graph, path)


@pytest.fixture
def sources(tmp_path) -> dict[str, Path]:
    src = tmp_path / "src"
    src.mkdir()
    (src / "tokenizer.json").write_text(json.dumps({"model": "tiny"}))
    return {
        "models/add.onnx": _add_graph(src / "add.onnx"),
        "text_tokenizer.json": src / "tokenizer.json",
    }


MODELS = {
    "adder": {
        "file": "models/add.onnx",
        "kind": "video_encoder",
        "version": "1",
        "config": {"image_size": 64, "codebook_bits": 12},
    }
}
PROVENANCE = {"video_tokenizer": {"run": "runs/vt", "steps": 1200, "hours": 3.5}, "cpu": "2"}


def _write(out: Path, sources: dict, models: dict = MODELS, **kwargs):
    return write_bundle(
        out, sources, models, TokenLayout(), PROVENANCE, bundle_name="tiny", **kwargs
    )


@pytest.fixture
def bundle_dir(tmp_path, sources) -> Path:
    return _write(tmp_path / "bundle", sources).root


def _edit_manifest(root: Path, edit) -> None:
    """Change manifest.json the way a careful attacker would: keep it self-consistent (sizes,
    bundle_id), so only the check under test can notice."""
    path = root / "manifest.json"
    data = json.loads(path.read_text())
    edit(data)
    data["sizes"]["total_bytes"] = sum(entry["bytes"] for entry in data["files"].values())
    data["bundle_id"] = Manifest.from_dict(data).with_name("tiny").bundle_id
    path.write_text(json.dumps(data))


def _list_file(root: Path, relative: str, content: Path) -> None:
    data = content.read_bytes()
    entry = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    _edit_manifest(root, lambda data: data["files"].update({relative: entry}))


def _problems(root: Path, deep: bool = False) -> tuple[str, ...]:
    return verify_bundle(root, deep=deep).problems


# -- a good bundle ----------------------------------------------------------------------------
def test_a_written_bundle_verifies_loads_and_runs(bundle_dir):
    report = verify_bundle(bundle_dir, deep=True)
    assert report.ok and report.warnings == () and report.files_checked == 2
    bundle = load_bundle(bundle_dir, deep=True)
    manifest = bundle.manifest
    assert manifest.name == "tiny" and manifest.bundle_id.startswith("tiny-")
    assert bundle.token_layout == TokenLayout()
    assert manifest.models["adder"].inputs == (TensorSpec("x", "float32", (None, 4)),)
    assert manifest.provenance == PROVENANCE
    assert manifest.total_bytes == sum((bundle_dir / f).stat().st_size for f in manifest.files)
    (y,) = bundle.session("adder", threads=1).run(None, {"x": np.ones((2, 4), np.float32)})
    np.testing.assert_array_equal(y, np.ones((2, 4)) + WEIGHTS)
    assert bundle.file("text_tokenizer.json").read_text() == '{"model": "tiny"}'


def test_the_id_names_the_content_not_the_time(tmp_path, sources):
    a = _write(tmp_path / "a", sources).manifest
    b = _write(tmp_path / "b", sources, created=datetime(2020, 1, 1, tzinfo=timezone.utc))
    assert b.manifest.created == "2020-01-01T00:00:00+00:00" != a.created
    assert a.bundle_id == b.manifest.bundle_id
    c = _write(tmp_path / "c", sources, {"adder": {**MODELS["adder"], "version": "2"}}).manifest
    assert c.bundle_id != a.bundle_id


def test_the_manifest_round_trips(bundle_dir):
    data = json.loads((bundle_dir / "manifest.json").read_text())
    assert Manifest.from_dict(data).to_dict() == data
    assert data["format"] == "reelpoet-bundle" and data["format_version"] == FORMAT_VERSION


# -- tampered files ---------------------------------------------------------------------------
def test_a_flipped_byte_is_refused_naming_the_file(bundle_dir):
    path = bundle_dir / "models" / "add.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    (problem,) = _problems(bundle_dir)
    assert problem.startswith("models/add.onnx: sha256")
    with pytest.raises(BundleIntegrityError, match=r"models/add\.onnx") as refused:
        load_bundle(bundle_dir)
    assert refused.value.problems == (problem,)


def test_a_truncated_file_is_refused_by_its_size(bundle_dir):
    path = bundle_dir / "text_tokenizer.json"
    path.write_bytes(path.read_bytes()[:-1])
    (problem,) = _problems(bundle_dir)
    assert problem.startswith("text_tokenizer.json: is ") and "bytes" in problem


def test_a_missing_file_is_refused(bundle_dir):
    (bundle_dir / "text_tokenizer.json").unlink()
    assert _problems(bundle_dir) == ("text_tokenizer.json: is missing",)


def test_an_unlisted_file_is_a_warning_not_a_problem(bundle_dir, caplog):
    (bundle_dir / "notes.txt").write_text("mine")
    report = verify_bundle(bundle_dir)
    assert report.ok
    assert report.warnings == ("notes.txt: not listed in the manifest (ignored)",)
    load_bundle(bundle_dir)
    assert "notes.txt" in caplog.text


def test_an_edited_manifest_is_refused_by_its_id(bundle_dir):
    path = bundle_dir / "manifest.json"
    data = json.loads(path.read_text())
    data["models"]["adder"]["version"] = "9"
    path.write_text(json.dumps(data))
    (problem,) = _problems(bundle_dir)
    assert problem.startswith("manifest.json: bundle_id") and "edited" in problem


# -- paths that leave the folder --------------------------------------------------------------
@pytest.mark.parametrize(
    ("relative", "reason"),
    [
        ("../outside.bin", "'..'"),
        ("models/../../outside.bin", "'..'"),
        ("/etc/hostname", "absolute"),
    ],
)
def test_a_listed_path_outside_the_folder_is_refused(tmp_path, bundle_dir, relative, reason):
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"secret")
    _list_file(bundle_dir, relative, outside)
    (problem,) = _problems(bundle_dir)
    assert problem.startswith(f"{relative}: ") and reason in problem


def test_a_symlink_out_of_the_folder_is_refused_even_with_the_right_checksum(tmp_path, bundle_dir):
    inside = bundle_dir / "text_tokenizer.json"
    outside = tmp_path / "elsewhere.json"
    shutil.copyfile(inside, outside)
    inside.unlink()
    inside.symlink_to(outside)
    (problem,) = _problems(bundle_dir)
    assert problem.startswith("text_tokenizer.json: resolves to") and "outside" in problem


def test_a_symlink_inside_the_folder_is_allowed(bundle_dir):
    (bundle_dir / "copy.json").write_bytes((bundle_dir / "text_tokenizer.json").read_bytes())
    (bundle_dir / "text_tokenizer.json").unlink()
    (bundle_dir / "text_tokenizer.json").symlink_to("copy.json")
    report = verify_bundle(bundle_dir)
    assert report.ok and report.warnings == ("copy.json: not listed in the manifest (ignored)",)


# -- ONNX external data -----------------------------------------------------------------------
def test_external_data_written_by_onnx_beside_the_graph_is_accepted(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    model = onnx.load(_add_graph(src / "inline.onnx"))
    onnx.save_model(
        model,
        src / "add.onnx",
        save_as_external_data=True,
        location="add.onnx.data",  # the name torch's exporter uses
        size_threshold=0,
    )
    files = {"models/add.onnx": src / "add.onnx", "models/add.onnx.data": src / "add.onnx.data"}
    bundle = _write(tmp_path / "bundle", files)
    assert verify_bundle(bundle.root, deep=True).ok
    (y,) = bundle.session("adder", threads=1).run(None, {"x": np.zeros((1, 4), np.float32)})
    np.testing.assert_array_equal(y[0], WEIGHTS)
    (bundle.root / "models" / "add.onnx.data").write_bytes(np.ones(4, np.float32).tobytes())
    (problem,) = verify_bundle(bundle.root).problems  # the weights are checksummed too
    assert problem.startswith("models/add.onnx.data: sha256")


def _swap_graph(root: Path, graph: Path) -> None:
    """Replace the bundle's graph and re-record its checksum: a consistent, hostile bundle."""
    shutil.copyfile(graph, root / "models" / "add.onnx")
    _list_file(root, "models/add.onnx", graph)


@pytest.mark.parametrize("make", [_add_graph, _nested_graph], ids=["initializer", "subgraph"])
def test_external_data_leaving_the_folder_is_refused(tmp_path, bundle_dir, make):
    (tmp_path / "secret.bin").write_bytes(WEIGHTS.tobytes())
    (bundle_dir / "secret.bin").write_bytes(WEIGHTS.tobytes())  # what "../secret.bin" would be
    _swap_graph(bundle_dir, make(tmp_path / "evil.onnx", external="../secret.bin"))
    problems = verify_bundle(bundle_dir, deep=True).problems
    assert problems == (
        "models/add.onnx: external data '../secret.bin' climbs out of the bundle folder with '..'",
    )
    with pytest.raises(BundleIntegrityError, match=r"secret\.bin"):
        load_bundle(bundle_dir)


def test_a_listed_graph_that_is_not_onnx_is_refused(tmp_path, bundle_dir):
    (tmp_path / "junk.onnx").write_bytes(b"not onnx at all")
    _swap_graph(bundle_dir, tmp_path / "junk.onnx")
    (problem,) = _problems(bundle_dir)
    assert problem.startswith("models/add.onnx: is not a readable ONNX model")


def test_external_data_that_is_not_listed_is_refused(tmp_path, bundle_dir):
    (bundle_dir / "models" / "add.weights").write_bytes(WEIGHTS.tobytes())
    _swap_graph(bundle_dir, _add_graph(tmp_path / "g.onnx", external="add.weights"))
    (problem,) = _problems(bundle_dir)
    assert problem.startswith("models/add.onnx: external data 'add.weights'")
    assert "not a file the manifest lists" in problem


def test_the_writer_refuses_external_data_outside_and_leaves_nothing(tmp_path):
    (tmp_path / "secret.bin").write_bytes(WEIGHTS.tobytes())
    src = tmp_path / "src"
    src.mkdir()
    files = {"models/add.onnx": _add_graph(src / "add.onnx", external="../secret.bin")}
    with pytest.raises(BundleIntegrityError, match=r"\.\./secret\.bin"):
        _write(tmp_path / "bundle", files)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.bin", "src"]


# -- graphs against the manifest --------------------------------------------------------------
def test_declared_inputs_that_differ_from_the_graph_are_refused_deeply(bundle_dir):
    def rename_input(data):
        data["models"]["adder"]["inputs"][0]["name"] = "pixels"

    _edit_manifest(bundle_dir, rename_input)
    assert _problems(bundle_dir) == ()  # the files are untouched: only loading the graph tells
    (problem,) = _problems(bundle_dir, deep=True)
    assert problem.startswith("models/add.onnx: model 'adder' has inputs (x float32 [?, 4])")
    assert "the manifest says (pixels float32 [?, 4])" in problem
    with pytest.raises(BundleIntegrityError, match="pixels"):
        load_bundle(bundle_dir).session("adder", threads=1)


def test_a_wrong_output_type_is_refused(tmp_path, sources):
    model = {**MODELS["adder"], "inputs": [{"name": "x", "type": "float32", "shape": [None, 4]}]}
    model["outputs"] = [{"name": "y", "type": "int64", "shape": [None, 4]}]
    with pytest.raises(BundleIntegrityError, match="outputs"):
        _write(tmp_path / "bundle", sources, {"adder": model})
    assert not (tmp_path / "bundle").exists()


# -- bad manifests ----------------------------------------------------------------------------
def _rewrite(root: Path, edit) -> None:
    path = root / "manifest.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def test_bad_json_is_a_manifest_error(bundle_dir):
    (bundle_dir / "manifest.json").write_text('{"format": "reelpoet-bundle",')
    with pytest.raises(BundleManifestError, match="cannot read"):
        verify_bundle(bundle_dir)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda d: d.update(format_version=2), "upgrade reelpoet"),
        (lambda d: d.update(format_version=0), "version 0 is not supported"),
        (lambda d: d.update(format_version=True), "must be an integer"),
        (lambda d: d.update(format="something-else"), "not a reelpoet bundle manifest"),
        (lambda d: d.pop("files"), "has no 'files'"),
        (lambda d: d.update(extra=1), "unknown keys"),
        (lambda d: d["models"]["adder"].update(file="nowhere.onnx"), "not listed in files"),
        (lambda d: d["sizes"].update(total_bytes=1), "add up to"),
        (lambda d: d.update(created="yesterday"), "ISO 8601"),
        (lambda d: d["token_layout"].update(vocab_size=7), "token_layout"),
    ],
)
def test_a_malformed_manifest_is_refused(bundle_dir, edit, match):
    _rewrite(bundle_dir, edit)
    with pytest.raises(BundleManifestError, match=match):
        read_manifest(bundle_dir)


def test_duplicate_keys_are_refused(bundle_dir):
    text = (bundle_dir / "manifest.json").read_text()
    (bundle_dir / "manifest.json").write_text(
        text.replace('"provenance":', '"created": 1, "provenance":')
    )
    with pytest.raises(BundleManifestError, match="duplicate"):
        read_manifest(bundle_dir)


# -- the writer -------------------------------------------------------------------------------
def test_the_writer_replaces_a_bundle_only_when_asked(tmp_path, sources, bundle_dir):
    before = (bundle_dir / "manifest.json").read_text()
    with pytest.raises(BundleError, match="overwrite=True"):
        _write(bundle_dir, sources)
    assert (bundle_dir / "manifest.json").read_text() == before
    new = {"adder": {**MODELS["adder"], "version": "2"}}
    bundle = _write(bundle_dir, sources, new, overwrite=True)
    assert bundle.manifest.models["adder"].version == "2" and verify_bundle(bundle_dir).ok
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "src"]  # no temp left


def test_a_failed_swap_puts_the_old_bundle_back(tmp_path, sources, bundle_dir, monkeypatch):
    before = (bundle_dir / "manifest.json").read_text()
    renames, real_rename = [], os.rename

    def rename(src, dst):
        renames.append((src, dst))
        if len(renames) == 2:  # old bundle moved aside; moving the new one in fails
            raise OSError("disk gone")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(BundleError, match="disk gone"):
        _write(bundle_dir, sources, {"adder": {**MODELS["adder"], "version": "2"}}, overwrite=True)
    assert (bundle_dir / "manifest.json").read_text() == before and len(renames) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "src"]


def test_the_writer_never_replaces_a_folder_that_is_not_a_bundle(tmp_path, sources):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "cat.jpg").write_bytes(b"meow")
    with pytest.raises(BundleError, match="not a bundle folder"):
        _write(folder, sources, overwrite=True)
    assert [p.name for p in folder.iterdir()] == ["cat.jpg"]


@pytest.mark.parametrize("relative", ["../x.json", "/abs.json", "a//b.json", "manifest.json"])
def test_the_writer_refuses_bad_paths(tmp_path, sources, relative):
    with pytest.raises(BundleError, match="bundle path"):
        _write(tmp_path / "bundle", {**sources, relative: sources["text_tokenizer.json"]})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_the_writer_refuses_non_json_config(tmp_path, sources):
    model = {**MODELS["adder"], "config": {"path": Path("x")}}
    with pytest.raises(BundleError, match="plain JSON"):
        _write(tmp_path / "bundle", sources, {"adder": model})


# -- the command line -------------------------------------------------------------------------
def test_cli_verify_says_ok(bundle_dir, capsys):
    assert cli.main(["bundle", "verify", str(bundle_dir), "--deep"]) == 0
    assert "OK" in capsys.readouterr().out


def test_cli_verify_prints_one_line_per_problem(bundle_dir, capsys):
    (bundle_dir / "text_tokenizer.json").unlink()
    (bundle_dir / "models" / "add.onnx").write_bytes(b"not onnx")
    assert cli.main(["bundle", "verify", str(bundle_dir)]) == cli.EXIT_BAD_BUNDLE
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("reelpoet bundle verify: models/add.onnx: is 8 bytes")
    assert lines[1] == "reelpoet bundle verify: text_tokenizer.json: is missing"


def test_cli_verify_of_a_bad_manifest_and_of_no_bundle(tmp_path, bundle_dir, capsys):
    (bundle_dir / "manifest.json").write_text("{")
    assert cli.main(["bundle", "verify", str(bundle_dir)]) == cli.EXIT_BAD_BUNDLE
    assert len(capsys.readouterr().err.splitlines()) == 1
    assert cli.main(["bundle", "verify", str(tmp_path / "none")]) == cli.EXIT_NO_BUNDLE


def test_cli_uses_the_located_bundle_when_no_path_is_given(bundle_dir, monkeypatch, capsys):
    monkeypatch.setenv(BUNDLE_ENV_VAR, str(bundle_dir))
    assert cli.main(["bundle", "info"]) == 0
    out = capsys.readouterr().out
    layout = TokenLayout()
    assert "bundle tiny-" in out and f"vocabulary {layout.vocab_size}" in out
    assert "adder: video_encoder v1, models/add.onnx" in out
    assert "x float32 [?, 4] -> y float32 [?, 4]" in out
    assert "video_tokenizer.steps: 1200" in out and "cpu: 2" in out


def test_cli_verify_exit_code_from_a_fresh_process(bundle_dir):
    command = [sys.executable, "-m", "reelpoet.sdk.cli", "bundle", "verify", str(bundle_dir)]
    assert subprocess.run(command, capture_output=True, cwd=REPO).returncode == 0
    (bundle_dir / "text_tokenizer.json").write_text("changed")
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert done.returncode == cli.EXIT_BAD_BUNDLE
    assert "text_tokenizer.json" in done.stderr and "Traceback" not in done.stderr


# --- the shipped default bundle ----------------------------------------------------------------


def test_the_default_bundle_ships_verified_trained_and_within_its_size(monkeypatch):
    monkeypatch.delenv(BUNDLE_ENV_VAR, raising=False)
    report = verify_bundle(deep=True)  # no path, no $REELPOET_BUNDLE: the embedded default
    assert report.ok, report.problems
    manifest = read_manifest(report.root)
    assert manifest.total_bytes <= 48_000_000
    # trained weights, not an export of fresh networks: every model records its training steps
    for role in ("video_tokenizer", "audio_tokenizer", "lm"):
        assert manifest.provenance[role]["step"] > 0, role


def test_provenance_keeps_training_facts_and_drops_optimizer_state(tmp_path):
    from reelpoet.export.assemble_bundle import training_record

    state = {"step": 12, "seconds": 3.5, "train_config": {"lr": 1e-3}, "optimizer": {"p": [1]}}
    (tmp_path / "state.json").write_text(json.dumps(state))
    record = training_record(tmp_path / "state.json")
    assert record == {"step": 12, "seconds": 3.5, "train_config": {"lr": 1e-3}}
