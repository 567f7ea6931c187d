"""Export the pretrained text encoder (all-MiniLM-L6-v2) to ONNX, fp32 and int8.

    python -m reelpoet.export.text_encoder_onnx --out DIR [--measure]

writes into DIR:
- text_encoder.onnx        fp32 graph (input_ids, attention_mask) -> last_hidden_state, the
                           reference (about 91 MB, so it stays out of the 48 MB bundle);
- text_encoder.int8.onnx   the same graph with int8 weights (embedding tables by Gather, matrices
                           by MatMulNBits, computed in float), the one the bundle ships (23.4 MB);
- text_tokenizer.json      the model's word-piece tokenizer, copied unchanged;
- text_encoder.json        max tokens, width, model name, licence, sha256 of the source weights.

`--measure` then compares torch, fp32 ONNX and int8 ONNX on `EVAL_PROMPTS` and `PARAPHRASES`
and prints the table in docs/text_encoder.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch

from reelpoet.models.text_encoder import (
    PACKAGE_TOKENIZER_FILE,
    TokenEmbedder,
    encode_prompts,
    load_text_encoder,
    package_model_dir,
    source_spec,
)
from reelpoet.sdk.atomic_file import atomic_output
from reelpoet.sdk.text_encoder import (
    CONFIG_FILE,
    MODEL_FILE,
    QUANTIZED_FILE,
    TOKENIZER_FILE,
    TextEncoder,
)

MAX_BATCH = 4096
# The graph takes any length BERT has positions for; the runtime pads to MAX_TOKENS (48), so
# raising that limit needs no new export.
MAX_GRAPH_TOKENS = 512


def _export_fp32(model: TokenEmbedder, path: Path) -> None:
    batch = torch.export.Dim("batch", max=MAX_BATCH)
    tokens = torch.export.Dim("tokens", min=2, max=MAX_GRAPH_TOKENS)  # [CLS] + [SEP] at least
    # Example sizes must not be 0 or 1: torch.export would specialise the graph to them.
    ids = torch.randint(1000, 2000, (2, 8))
    mask = torch.ones(2, 8, dtype=torch.long)
    with atomic_output(path) as temp:
        torch.onnx.export(
            model.eval(),
            (ids, mask),
            temp,
            dynamo=True,
            external_data=False,
            opset_version=21,  # MatMulNBits' int8 weights want 21; 20 would be bumped unchecked
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_shapes=({0: batch, 1: tokens}, {0: batch, 1: tokens}),
            verbose=False,
        )


def _quantize_tables(source: Path, path: Path) -> None:
    """int8 embedding tables (word, position, type), read by Gather: the word table is half the
    parameters. One scale per table; measured alone, token cosine to fp32 0.9993."""
    from onnxruntime.quantization import quantize_dynamic

    quantize_dynamic(source, path, op_types_to_quantize=["Gather"])


def _matmul_nbits_quantizer() -> type:
    """onnxruntime's MatMulNBitsQuantizer, imported without its side effects on logging: the
    module calls logging.basicConfig(level=INFO) on import and logs every node it visits."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger(MatMulNBitsQuantizer.__module__).setLevel(logging.WARNING)
    return MatMulNBitsQuantizer


def _weight_only_int8(source: Path, path: Path) -> None:
    """int8 tables, and int8 weights with one scale per 128 inputs for every MatMul, computed in
    float (onnxruntime's MatMulNBits): activations are never rounded, so the result does not
    depend on the CPU's int8 instructions."""
    quantizer_class = _matmul_nbits_quantizer()
    with tempfile.TemporaryDirectory() as scratch:
        tables = Path(scratch) / "tables.onnx"
        _quantize_tables(source, tables)
        quantizer = quantizer_class(
            str(tables), bits=8, block_size=128, is_symmetric=True, op_types_to_quantize=("MatMul",)
        )
        quantizer.process()
        onnx.save(quantizer.model.model, path)


def _dynamic_int8(source: Path, path: Path) -> None:
    """onnxruntime's dynamic quantization: int8 weights (one scale per output channel) and
    activations rounded to uint8 per call, multiplied in integers (MatMulInteger)."""
    from onnxruntime.quantization import quantize_dynamic

    quantize_dynamic(source, path, per_channel=True)


# How to make the int8 graph, by name; measured in docs/text_encoder.md. At the same size,
# "weight_only" keeps token cosine 0.999 to torch and a prompt's embedding independent of its
# batch; "dynamic" is 2-3x faster on a CPU but falls to 0.986, and rounding activations per batch
# lets one prompt's embedding move with the others (cosine 0.98 measured).
QUANTIZERS: dict[str, Callable[[Path, Path], None]] = {
    "weight_only": _weight_only_int8,
    "dynamic": _dynamic_int8,
}
DEFAULT_QUANTIZER = "weight_only"


def quantize_int8(source: Path, path: Path, quantizer: str = DEFAULT_QUANTIZER) -> None:
    """Write an int8 copy of the fp32 graph `source` to `path`, atomically."""
    if quantizer not in QUANTIZERS:
        raise ValueError(f"unknown quantizer {quantizer!r}; choose one of {sorted(QUANTIZERS)}")
    with atomic_output(path) as temp:
        QUANTIZERS[quantizer](source, temp)


def _write_config(path: Path) -> None:
    with atomic_output(path) as temp:
        temp.write_text(json.dumps(source_spec().to_dict(), indent=1))


def _copy_tokenizer(source: Path, path: Path) -> None:
    with atomic_output(path) as temp:
        shutil.copyfile(source, temp)


def export_text_encoder(
    out_dir: Path, model: TokenEmbedder | None = None, quantizer: str = DEFAULT_QUANTIZER
) -> dict[str, Path]:
    """Write both graphs, the tokenizer and the config into `out_dir`; return paths by role.

    `model` defaults to the pinned package weights (loading them checks their sha256)."""
    model = model or load_text_encoder()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "model": out_dir / MODEL_FILE,
        "quantized": out_dir / QUANTIZED_FILE,
        "tokenizer": out_dir / TOKENIZER_FILE,
        "config": out_dir / CONFIG_FILE,
    }
    _export_fp32(model, paths["model"])
    quantize_int8(paths["model"], paths["quantized"], quantizer)
    _copy_tokenizer(package_model_dir() / PACKAGE_TOKENIZER_FILE, paths["tokenizer"])
    _write_config(paths["config"])
    return paths


# --- measurement: how much the export and the int8 weights change the embeddings ----------------

# Varied prompts: world-style captions, synonyms and other word orders, typos, other languages and
# scripts (mostly [UNK] for this English vocabulary), emoji, edge cases, over-long text.
EVAL_PROMPTS: tuple[str, ...] = (
    "a red circle moves to the left over a photo of a cat, camera pans right",
    "A photograph of gravel. A black circle stays still. The camera tilts down.",
    "white star sliding up, medium yellow triangle sitting still over a photo of grass",
    "white block moving out of view to the right against a teal backdrop",
    "A checkerboard. A white circle leaves off the bottom. The camera holds still.",
    "the camera zooms out over a picture of gravel while a yellow star bounces off the edges",
    "A smooth teal and navy gradient. An orange triangle leaves to the left.",
    "a small purple box sits still while the camera pans left",
    "a green ball bounces up and down between the edges",
    "two blue squares drift diagonally up and right over a brick wall",
    "a large pink star ricochets around the frame, the camera zooms in",
    "an orange dot enters from the top and glides toward the bottom left",
    "a grey triangle travels rightward across a photo of a forest",
    "the camera tilts up over a sandy beach while nothing moves",
    "a yellow disc rests in place on a plain black background",
    "three circles, red, green and blue, bounce from side to side",
    "a navy square slides down and to the right, camera holds still",
    "a white star comes in from the left side and leaves off the right",
    "a photo of clouds; a brown block moves upward; the camera zooms out",
    "a cyan ball bounces back and forth over a striped background",
    "a crimson circle drifts to the left above a picture of a tabby cat as the camera pans right",
    "a scarlet disc travels leftward over a cat photo while the view moves right",
    "camera pans right over a photo of a cat while a red circle moves left",
    "to the left moves a red circle, over a cat photo, with the camera panning right",
    "a red ball rolls left; in the background a cat; the camera sweeps to the right",
    "a blue circle moves to the left over a photo of a cat, camera pans right",
    "a red circle moves to the right over a photo of a cat, camera pans left",
    "a red square moves to the left over a photo of a dog, camera pans right",
    "a big box stays put",
    "a large square does not move",
    "a huge block remains motionless",
    "the dot is bouncing",
    "a bouncing dot",
    "a rd circel moovs to teh left ovr a foto of a kat",
    "yelow triangel bounsing up adn down",
    "the camra zoms in on a purpel star",
    "a grean box slids rigth",
    "blue sqaure, camrea pans leftt",
    "un cercle rouge se déplace vers la gauche sur une photo de chat",
    "ein roter Kreis bewegt sich nach links über ein Foto einer Katze",
    "un círculo rojo se mueve a la izquierda sobre una foto de un gato",
    "un cerchio rosso si muove verso sinistra sopra una foto di un gatto",
    "um círculo vermelho move-se para a esquerda sobre uma foto de um gato",
    "een rode cirkel beweegt naar links over een foto van een kat",
    "красный круг движется влево над фотографией кошки",
    "赤い円が猫の写真の上を左に動く",
    "一个红色的圆圈在猫的照片上向左移动",
    "빨간 원이 고양이 사진 위에서 왼쪽으로 움직인다",
    "دائرة حمراء تتحرك إلى اليسار فوق صورة قطة",
    "एक लाल वृत्त बिल्ली की तस्वीर के ऊपर बाईं ओर चलता है",
    "κόκκινος κύκλος κινείται αριστερά",
    "czerwone koło porusza się w lewo nad zdjęciem kota",
    "kırmızı bir daire bir kedi fotoğrafının üzerinde sola hareket ediyor",
    "🔴 ➡️ 🐱 📷",
    "a red circle 🔴 moves left over a cat 🐱",
    "café crème, naïve façade, jalapeño, Zürich",
    "A RED CIRCLE MOVES TO THE LEFT",
    "a red circle moves to the left!!!",
    "a red circle... moves (slowly) to the left?",
    "3 red circles move 25 pixels to the left in 2.5 seconds",
    "frame 17 of 17, 8 fps, 64x64",
    "#ff0000 circle, rgb(0, 0, 255) square",
    "",
    "   ",
    "\t\n",
    "a",
    "cat",
    "sunset",
    "zoom",
    "a quiet night",
    "fireworks over a city skyline at night",
    "waves crashing on rocks in slow motion",
    "a timelapse of clouds rolling over mountains",
    "a dog runs across a snowy field",
    "close-up of raindrops on a window",
    "a hand-drawn cartoon of a bouncing ball",
    "an old black and white film of a train arriving",
    "drone shot flying over a green forest",
    "a person walks down a busy street holding an umbrella",
    "a cup of coffee steaming on a wooden table",
    "the sound of a bell ringing three times",
    "a low hum that rises in pitch, then a sharp click",
    "piano music with a soft drum beat",
    "silence",
    "in the style of a watercolour painting",
    "make it look like an oil painting with thick brush strokes",
    "pixel art, 8-bit, retro video game",
    "neon colours, cyberpunk, rainy night",
    "continue the clip for two more seconds",
    "fill in the missing region with grass",
    "extend the picture to the left and right",
    "add music that matches the motion",
    "a red circle moves to the left over a photo of a cat, camera pans right, then a blue "
    "square enters from the top, bounces twice off the bottom edge and leaves to the right "
    "while the camera slowly zooms out over the whole scene",
    "A smooth teal and navy gradient. An orange triangle leaves to the left. A white disc comes in "
    "from the top. A small purple box sits still. The camera pans left.",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "the the the the the the the the the the the the the the the the the the the the the the the",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "1234567890 0987654321",
    "<html><body>red circle</body></html>",
    "red\u200bcircle with a zero-width space and a soft\u00adhyphen",
)

# (caption, paraphrase) pairs of different scenes: each caption's nearest paraphrase should be
# its own. Several pairs differ only in colour, shape or direction, the facts the LM needs.
PARAPHRASES: tuple[tuple[str, str], ...] = (
    ("a red circle moves to the left", "a crimson disc slides leftward"),
    ("a blue square moves to the right", "a navy box travels rightward"),
    ("a yellow star bounces up and down", "a golden star hops vertically between the edges"),
    ("a green triangle stays still", "a green triangle does not move"),
    ("the camera zooms in on a photo of a cat", "closing in on a picture of a kitten"),
    ("the camera pans left over a beach", "the view sweeps leftward across the sand and sea"),
    ("fireworks over a city at night", "colourful explosions in the night sky above buildings"),
    ("a dog runs through snow", "a puppy dashes across a snowy field"),
    ("waves crash on rocks", "the sea breaks against the rocky shore"),
    ("a cup of coffee on a table", "a mug of hot coffee sits on a desk"),
    ("clouds move quickly over mountains", "a timelapse of clouds racing past peaks"),
    ("a train arrives at a station", "a locomotive pulls into the platform"),
    ("a person walks in the rain with an umbrella", "someone strolls through a downpour"),
    ("a bell rings three times", "three chimes of a bell"),
    ("piano music with soft drums", "a gentle piano tune over a quiet beat"),
    ("a watercolour painting of a garden", "a garden painted in watercolours"),
    ("pixel art of a castle", "an 8-bit retro castle"),
    ("an orange ball enters from the top", "an orange sphere comes in from above"),
    ("a white block leaves off the bottom", "a white cube exits through the lower edge"),
    ("a purple dot drifts diagonally up and right", "a violet spot floats toward the top right"),
    ("a black and white film of a street", "old monochrome footage of a road"),
    ("a drone flies over a forest", "an aerial shot above the trees"),
    ("a checkerboard background with nothing moving", "a static chequered pattern"),
    ("raindrops on a window", "water droplets on glass"),
)


@dataclass(frozen=True)
class Agreement:
    """How close one encoder's output is to a reference's on the same prompts."""

    token_cos_mean: float  # cosine of token embeddings, over every real token of every prompt
    token_cos_min: float
    sentence_cos_mean: float  # cosine of mean-pooled sentence embeddings, over prompts
    sentence_cos_min: float
    max_abs_diff: float  # over real tokens


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    dot = (a * b).sum(-1)
    return dot / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def mean_pool(embeddings: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(B, T, D), (B, T) -> (B, D): the sentence embedding all-MiniLM-L6-v2 is trained for."""
    weights = mask[..., None].astype(np.float32)
    return (embeddings * weights).sum(1) / weights.sum(1)


def agreement(reference: np.ndarray, other: np.ndarray, mask: np.ndarray) -> Agreement:
    tokens = _cosine(reference[mask], other[mask])
    sentences = _cosine(mean_pool(reference, mask), mean_pool(other, mask))
    diff = np.abs(reference[mask] - other[mask]).max()
    return Agreement(
        float(tokens.mean()),
        float(tokens.min()),
        float(sentences.mean()),
        float(sentences.min()),
        float(diff),
    )


# prompts -> (embeddings (B, MAX_TOKENS, 384), mask (B, MAX_TOKENS)) as numpy, from any backend
Encode = Callable[[list[str]], tuple[np.ndarray, np.ndarray]]


def retrieval(encode: Encode, pairs: tuple[tuple[str, str], ...] = PARAPHRASES) -> np.ndarray:
    """For each caption, the index of the paraphrase nearest to it (mean-pooled cosine)."""
    captions = mean_pool(*encode([c for c, _ in pairs]))
    paraphrases = mean_pool(*encode([p for _, p in pairs]))
    similarity = _cosine(captions[:, None, :], paraphrases[None, :, :])  # (N, N)
    return similarity.argmax(1)


def torch_encode(model: TokenEmbedder) -> Encode:
    def run(prompts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        embeddings, mask = encode_prompts(model, prompts)
        return embeddings.numpy(), mask.numpy()

    return run


def _ms_per_batch(encoder: TextEncoder, size: int, repeats: int = 20) -> float:
    """Median wall time of `encode` on `size` prompts: the median shrugs off other processes."""
    prompts = list(EVAL_PROMPTS[:size])
    encoder.encode(prompts)  # first run allocates
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        encoder.encode(prompts)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1000


def _row(name: str, path: Path, tokenizer: Path, reference: tuple, threads: int) -> str:
    ref, mask = reference
    encoder = TextEncoder(path, tokenizer, threads)
    a = agreement(ref, encoder.encode(list(EVAL_PROMPTS)).embeddings, mask)
    hits = (retrieval(encoder.encode) == np.arange(len(PARAPHRASES))).sum()
    return (
        f"| {name} | {path.stat().st_size / 1e6:.1f} | {a.token_cos_mean:.5f} / "
        f"{a.token_cos_min:.5f} | {a.sentence_cos_mean:.5f} / {a.sentence_cos_min:.5f} | "
        f"{a.max_abs_diff:.2g} | {hits}/{len(PARAPHRASES)} | "
        f"{_ms_per_batch(encoder, 1):.1f} / {_ms_per_batch(encoder, 16):.1f} |"
    )


def measure(
    paths: dict[str, Path], shipped: str = DEFAULT_QUANTIZER, threads: int = 2
) -> list[str]:
    """Markdown table rows: torch vs fp32 ONNX vs every int8 recipe, on EVAL_PROMPTS (agreement,
    speed) and PARAPHRASES (retrieval). `paths` are export_text_encoder's, made with `shipped`."""
    torch_model = torch_encode(load_text_encoder())
    reference = torch_model(list(EVAL_PROMPTS))
    torch_hits = (retrieval(torch_model) == np.arange(len(PARAPHRASES))).sum()
    tokenizer = paths["tokenizer"]
    rows = [
        "| graph | MB | token cos mean / min | sentence cos mean / min | max abs diff "
        "| retrieval top-1 | ms, batch 1 / 16 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| torch | - | 1 / 1 | 1 / 1 | 0 | {torch_hits}/{len(PARAPHRASES)} | - |",
        _row("fp32", paths["model"], tokenizer, reference, threads),
        _row(f"int8 {shipped}, shipped", paths["quantized"], tokenizer, reference, threads),
    ]
    with tempfile.TemporaryDirectory() as scratch:
        for name in sorted(set(QUANTIZERS) - {shipped}):
            path = Path(scratch) / f"{name}.onnx"
            quantize_int8(paths["model"], path, name)
            rows.append(_row(f"int8 {name}", path, tokenizer, reference, threads))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description="Export all-MiniLM-L6-v2 to ONNX (fp32, int8).")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--measure", action="store_true", help="compare torch, fp32 and int8")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads to time")
    parser.add_argument("--quantizer", choices=sorted(QUANTIZERS), default=DEFAULT_QUANTIZER)
    args = parser.parse_args()
    start = time.perf_counter()
    paths = export_text_encoder(args.out, quantizer=args.quantizer)
    print(f"exported in {time.perf_counter() - start:.1f} s")
    for role, path in paths.items():
        print(f"{role}: {path} ({path.stat().st_size / 1e6:.2f} MB)")
    if args.measure:
        print("\n".join(measure(paths, args.quantizer, args.threads)))


if __name__ == "__main__":
    main()
