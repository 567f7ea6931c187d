"""Build a synthetic speech corpus with espeak-ng (Debian package `espeak-ng`) for the audio
tokenizer: sentences in many voices, accents, speeds and pitches, as 16 kHz mono WAVs.

    python -m reelpoet.models.train.speech_corpus --out runs/audio_corpus/speech --utterances 800

writes OUT/train/NNNNN.wav, OUT/heldout/NNNNN.wav and OUT/manifest.json (voice, speed, pitch and
text of each file). Held-out utterances use voice variants that training never hears, so the
evaluation measures unseen speakers. The texts are the world's captions (the sentences the LM will
speak about) and sentences of the licence texts every Debian system has in
/usr/share/common-licenses (plain English prose). The same --seed builds the same corpus.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from reelpoet.models.train.tokenizer_clips import FIRST_TRAINING_SEED
from reelpoet.models.world import WorldConfig, make_sample
from reelpoet.sdk.atomic_file import atomic_output
from reelpoet.sdk.media import read_audio, write_wav

SAMPLE_RATE = 16000
LICENCE_DIR = Path("/usr/share/common-licenses")
# English text read with other languages' rules gives accents and phonemes English lacks.
LANGUAGES = ("en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029", "de", "fr", "es", "it",
             "pt", "nl", "pl", "sv", "hi")  # fmt: skip
HELD_OUT_EVERY = 10  # utterance i is held out when i % 10 == 0
HELD_OUT_VARIANT_EVERY = 6  # and speaks with a variant training never uses


def espeak_binary() -> str:
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise SystemExit("espeak-ng is not installed: apt-get install espeak-ng")
    return binary


def voice_variants(binary: str) -> list[str]:
    """The installed voice variants (m1, f3, klatt, whisper, Alex, ...), sorted."""
    listing = subprocess.run(
        [binary, "--voices=variant"], capture_output=True, text=True, check=True
    ).stdout
    # The last column is the variant's file, "!v/NAME"; names with spaces cannot be passed to -v.
    found = (re.search(r"!v/(\S+)$", line.rstrip()) for line in listing.splitlines())
    return sorted({m.group(1) for m in found if m})


def licence_sentences(folder: Path = LICENCE_DIR) -> list[str]:
    """Sentences of 5 to 30 words from the licence texts, whitespace normalised."""
    text = " ".join(p.read_text(errors="ignore") for p in sorted(folder.glob("*")) if p.is_file())
    pieces = re.split(r"(?<=[.!?;:])\s+", re.sub(r"\s+", " ", text))
    return sorted({s for s in pieces if 5 <= len(s.split()) <= 30 and s[0].isalpha()})


def _text(rng: np.random.Generator, sentences: list[str]) -> str:
    if not sentences or rng.uniform() < 0.4:  # a world caption (cheap: 30 ms a sample)
        return make_sample(int(rng.integers(FIRST_TRAINING_SEED, 2**62)), WorldConfig()).caption
    return sentences[int(rng.integers(len(sentences)))]


def _speak(binary: str, voice: str, speed: int, pitch: int, text: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "speech.wav"
        command = [binary, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(path)]
        subprocess.run([*command, "--", text], check=True, capture_output=True)
        samples, _ = read_audio(path, sample_rate=SAMPLE_RATE, channels=1)
    return samples[:, 0]


def build(out: Path, utterances: int, seed: int) -> list[dict]:
    binary = espeak_binary()
    variants = voice_variants(binary)
    held_variants = variants[::HELD_OUT_VARIANT_EVERY]
    train_variants = [v for v in variants if v not in held_variants]
    sentences = licence_sentences() if LICENCE_DIR.is_dir() else []
    rng = np.random.default_rng(seed)
    entries = []
    for i in range(utterances):
        split = "heldout" if i % HELD_OUT_EVERY == 0 else "train"
        pool = held_variants if split == "heldout" else train_variants
        voice = f"{LANGUAGES[rng.integers(len(LANGUAGES))]}+{pool[rng.integers(len(pool))]}"
        speed, pitch = int(rng.integers(110, 231)), int(rng.integers(15, 86))  # wpm, 0..99
        text = _text(rng, sentences)
        samples = _speak(binary, voice, speed, pitch, text)
        path = out / split / f"{i:05d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_wav(path, samples * 10 ** (rng.uniform(-12, 0) / 20), SAMPLE_RATE)  # varied level
        entries.append(
            {
                "file": str(path.relative_to(out)),
                "split": split,
                "voice": voice,
                "speed": speed,
                "pitch": pitch,
                "seconds": round(len(samples) / SAMPLE_RATE, 3),
                "text": text,
            }
        )
    with atomic_output(out / "manifest.json") as temp:
        temp.write_text(json.dumps({"seed": seed, "utterances": entries}, indent=1))
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(description="Synthesize the espeak-ng speech corpus.")
    parser.add_argument("--out", type=Path, default=Path("runs/audio_corpus/speech"))
    parser.add_argument("--utterances", type=int, default=800)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    entries = build(args.out, args.utterances, args.seed)
    for split in ("train", "heldout"):
        chosen = [e["seconds"] for e in entries if e["split"] == split]
        print(f"{split}: {len(chosen)} utterances, {sum(chosen) / 60:.1f} minutes")


if __name__ == "__main__":
    main()
