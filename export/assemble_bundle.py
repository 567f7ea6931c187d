"""Assemble a runtime bundle from trained networks: export the tokenizers and the LM to ONNX,
take the exported text encoder, and write one verified bundle folder (`write_bundle`).

    python -m reelpoet.export.assemble_bundle --out bundles/candidate \
        --video runs/shipped/video_tokenizer --audio runs/shipped/audio_tokenizer \
        --lm runs/lm/checkpoint --text-encoder out/text_encoder [--lm-int8]

`--text-encoder` is the folder `python -m reelpoet.export.text_encoder_onnx` wrote. The token
layout written into the manifest is built from the tokenizers' own sizes, and the LM must have
been trained on that layout (its vocabulary and text slots are checked).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from torch import nn

from reelpoet.export.audio_tokenizer_onnx import export_audio_tokenizer
from reelpoet.export.bundle_writer import write_bundle
from reelpoet.export.fp16_weights import store_weights_as_fp16
from reelpoet.export.lm_onnx import export_lm, quantize_lm
from reelpoet.export.video_tokenizer_onnx import export_video_tokenizer
from reelpoet.models.tokenizer_layout import FPS, layout_for
from reelpoet.models.trained import load_audio_tokenizer, load_lm, load_video_tokenizer
from reelpoet.sdk import text_encoder as text_files
from reelpoet.sdk.bundle import Bundle


def assemble_bundle(
    out_dir: Path,
    video: nn.Module,
    audio: nn.Module,
    lm: nn.Module,
    text_encoder_dir: Path,
    provenance: dict,
    name: str = "reelpoet",
    lm_int8: bool = False,
    overwrite: bool = False,
) -> Bundle:
    layout = layout_for(video, audio)
    if (lm.cfg.vocab_size, lm.cfg.text_slots) != (layout.vocab_size, layout.text_slots):
        raise ValueError(
            f"the LM was trained for vocabulary {lm.cfg.vocab_size} / {lm.cfg.text_slots} text "
            f"slots; these tokenizers make {layout.vocab_size} / {layout.text_slots}"
        )
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        video_paths = export_video_tokenizer(video, work)
        audio_paths = export_audio_tokenizer(audio, work)
        lm_paths = export_lm(lm, work)
        # Tokenizer weights ship float16-stored (computed in float32; see fp16_weights): half
        # the bytes, which the 48 MB default bundle needs.
        tokenizer_graphs = {
            f"{kind}_{part}.onnx": store_weights_as_fp16(
                paths[part], work / f"{kind}_{part}.fp16.onnx"
            )
            for kind, paths in (("video", video_paths), ("audio", audio_paths))
            for part in ("encoder", "decoder")
        }
        lm_graph = lm_paths["lm"]
        if lm_int8:
            lm_graph = quantize_lm(lm_graph, work / "lm_int8.onnx")
        video_config = {**json.loads(video_paths["config"].read_text()), "fps": FPS}
        audio_config = json.loads(audio_paths["config"].read_text())
        text_config = json.loads((text_encoder_dir / text_files.CONFIG_FILE).read_text())
        text_config["tokenizer"] = text_files.TOKENIZER_FILE
        files = {
            **tokenizer_graphs,
            "lm.onnx": lm_graph,
            "text_encoder.onnx": text_encoder_dir / text_files.QUANTIZED_FILE,
            text_files.TOKENIZER_FILE: text_encoder_dir / text_files.TOKENIZER_FILE,
        }
        configs = {
            "video_encoder": video_config,
            "video_decoder": video_config,
            "audio_encoder": audio_config,
            "audio_decoder": audio_config,
            "lm": json.loads(lm_paths["config"].read_text()),
            "text_encoder": text_config,
        }
        models = {
            role: {"file": f"{role}.onnx", "kind": role, "version": "1", "config": config}
            for role, config in configs.items()
        }
        return write_bundle(
            out_dir, files, models, layout, provenance, bundle_name=name, overwrite=overwrite
        )


def training_record(state_file: Path) -> dict:
    """What a run's state.json says about how the model was trained: configs, steps, seconds.
    The optimizer's state (learning rates, parameter indices) says nothing a user needs."""
    state = json.loads(state_file.read_text())
    return {key: value for key, value in state.items() if key != "optimizer"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--video", type=Path, required=True)
    parser.add_argument("--audio", type=Path, required=True)
    parser.add_argument("--lm", type=Path, required=True)
    parser.add_argument("--text-encoder", type=Path, required=True)
    parser.add_argument("--name", default="reelpoet")
    parser.add_argument("--lm-int8", action="store_true")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    provenance = {
        role: training_record(path / "state.json")
        for role, path in (
            ("video_tokenizer", args.video),
            ("audio_tokenizer", args.audio),
            ("lm", args.lm),
        )
    }
    bundle = assemble_bundle(
        args.out,
        load_video_tokenizer(args.video),
        load_audio_tokenizer(args.audio),
        load_lm(args.lm),
        args.text_encoder,
        provenance,
        args.name,
        args.lm_int8,
        args.overwrite,
    )
    print(f"{bundle.manifest.bundle_id}: {bundle.manifest.total_bytes / 1e6:.2f} MB at {args.out}")


if __name__ == "__main__":
    main()
