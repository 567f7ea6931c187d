"""The `reelpoet` command line.

Subcommands grow with the project; each is a small function that parses nothing itself and
calls the public API. Errors of ours print one plain line (no traceback) and exit with code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from reelpoet.sdk import __version__
from reelpoet.sdk.bundle_location import BUNDLE_ENV_VAR, locate_bundle
from reelpoet.sdk.errors import BundleNotInstalledError, ReelpoetError

EXIT_USER_ERROR = 2
EXIT_NO_BUNDLE = 3  # distinct, so setup.sh can tell "installed, no models yet" from a failure


def _cmd_demo(args: argparse.Namespace) -> int:
    """The main job: generate a clip from a prompt and extend a sample clip (needs a bundle)."""
    bundle = locate_bundle(args.bundle)
    # The generation engine arrives with the export/runtime issue; until then a bundle folder is
    # found but cannot be run, and we say so rather than pretend.
    raise ReelpoetError(
        f"Found a bundle at {bundle}, but this reelpoet has no generation engine yet."
    )


def _cmd_probe(args: argparse.Namespace) -> int:
    from reelpoet.sdk.media import probe  # PyAV loads only for commands that read media

    info = probe(args.path)
    print(f"{info.path}: {info.duration_s:.3f} s")
    if info.video is not None:
        v = info.video
        rate = f"{float(v.fps):.3f} fps"
        print(f"  video: {v.codec} {v.width}x{v.height} @ {rate}, {v.frame_count} frames")
    if info.audio is not None:
        a = info.audio
        print(f"  audio: {a.codec} {a.sample_rate} Hz, {a.channels} channel(s)")
    return 0


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reelpoet",
        description="reelpoet: generate and extend video clips with a VideoPoet-style model.",
    )
    parser.add_argument("--version", action="version", version=f"reelpoet {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="the main job: a clip from a prompt, and a real sample clip extended"
    )
    demo.add_argument("--out", type=Path, default=Path("reelpoet-demo"), help="output folder")
    demo.add_argument(
        "--bundle", type=Path, help=f"model bundle folder (default: ${BUNDLE_ENV_VAR} or embedded)"
    )
    demo.set_defaults(run=_cmd_demo)

    probe = commands.add_parser("probe", help="show the streams, size, rate and length of a file")
    probe.add_argument("path", type=Path)
    probe.set_defaults(run=_cmd_probe)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    try:
        return args.run(args)
    except BundleNotInstalledError as exc:
        print(f"reelpoet {args.command}: {exc}", file=sys.stderr)
        return EXIT_NO_BUNDLE
    except ReelpoetError as exc:
        print(f"reelpoet {args.command}: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
