"""The `reelpoet` command line.

Subcommands grow with the project; each is a small function that parses nothing itself and
calls the public API. Errors of ours print one plain line (no traceback) and exit with code 2;
a bundle that is there but unusable (bad manifest, changed files) exits with code 4.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from reelpoet.sdk import __version__
from reelpoet.sdk.bundle import Manifest, ModelEntry, read_manifest, verify_bundle
from reelpoet.sdk.bundle_location import BUNDLE_ENV_VAR, locate_bundle
from reelpoet.sdk.errors import (
    BundleIntegrityError,
    BundleManifestError,
    BundleNotInstalledError,
    InvalidRequestError,
    ReelpoetError,
)

EXIT_USER_ERROR = 2
EXIT_NO_BUNDLE = 3  # distinct: no bundle (a broken install or a wrong path), not bad input
EXIT_BAD_BUNDLE = 4  # a bundle is there but must not be used: reinstall or re-export it


SAMPLE_CLIP = Path(__file__).parent / "samples" / "big_buck_bunny_1s.webm"
DEMO_PROMPT = "a red ball bounces around over a striped background, the camera pans left"


class _Progress:
    """One line on stderr, rewritten in place: `label  37% (119/320)`; silent when not a tty."""

    def __init__(self, label: str) -> None:
        self.label, self.shown = label, -1
        self.live = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        percent = 100 * done // max(total, 1)
        if self.live and percent != self.shown:
            self.shown = percent
            end = "\n" if done >= total else ""
            print(f"\r{self.label}  {percent:3d}% ({done}/{total})", end=end, file=sys.stderr)


def _cmd_demo(args: argparse.Namespace) -> int:
    """The main job: generate a clip from a prompt and extend a real sample clip, writing the
    media and an .otio timeline that holds them."""
    import shutil

    from reelpoet.sdk.client import Client
    from reelpoet.sdk.demo_timeline import write_demo_timeline

    client = Client.local(args.bundle, threads=args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    generated = client.text_to_video(
        args.prompt, seconds=2.125, seed=args.seed, progress=_Progress("text to video")
    )
    generated_path = generated.save(args.out / "generated.mp4")
    sample_path = args.out / SAMPLE_CLIP.name
    shutil.copyfile(SAMPLE_CLIP, sample_path)  # the timeline points at files beside it
    extension = client.extend(
        sample_path, seconds=2.125, seed=args.seed, progress=_Progress("extend sample clip")
    )
    extension_path = extension.save(args.out / "sample_extended.mp4")
    timeline = write_demo_timeline(
        args.out / "demo.otio", sample_path, extension, extension_path, generated, generated_path
    )
    print(f"wrote {generated_path} ({generated.duration_s:.3f} s from: {args.prompt!r})")
    print(f"wrote {extension_path} ({extension.duration_s:.3f} s after {sample_path.name})")
    print(f"wrote {timeline} (the sample, its extension, then the generated clip)")
    return 0


def _sampling_options(args: argparse.Namespace) -> dict:
    names = ("seed", "temperature", "top_k", "top_p", "guidance_scale")
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _client(args: argparse.Namespace):
    """A server's client with --remote, else the local bundle's."""
    from reelpoet.sdk.client import Client

    if args.remote:
        from reelpoet.sdk.server.config import read_tokens

        token = next(iter(read_tokens(args.token)), None)  # --token, else $REELPOET_TOKEN
        return Client.remote(args.remote, token=token)
    return Client.local(args.bundle, threads=args.threads)


def _cmd_task(args: argparse.Namespace) -> int:
    """One generation task: read the inputs, run it with a progress line, save the result."""
    if getattr(args, "timeline", None) is not None:
        return _cmd_timeline_task(args)
    if "source" in args and (args.source is None or getattr(args, "clip", None)):
        raise InvalidRequestError("give a media file, or --timeline FILE --clip NAME")
    if args.output.exists() and not args.overwrite:
        raise InvalidRequestError(f"{args.output} exists; pass --overwrite to replace it")
    client = _client(args)
    options = {**_sampling_options(args), "progress": _Progress(args.command)}
    task = args.command
    if task == "text-to-video":
        result = client.text_to_video(args.prompt, seconds=args.seconds, **options)
    elif task == "text-to-image":
        result = client.text_to_image(args.prompt, **options)
    elif task == "image-to-video":
        result = client.image_to_video(args.source, args.prompt, **options)
    elif task == "extend":
        result = client.extend(args.source, args.seconds, args.prompt, head=args.head, **options)
    elif task == "inpaint":
        mask = tuple(args.box) if args.box else args.mask
        result = client.inpaint(args.source, mask, args.prompt, **options)
    elif task == "outpaint":
        result = client.outpaint(args.source, args.aspect, args.prompt, **options)
    elif task == "stylize":
        result = client.stylize(args.source, args.prompt, **options)
    elif task == "score":
        result = client.score(args.source, args.prompt, **options)
    else:  # text-to-audio
        result = client.text_to_audio(args.prompt, **options)
    path = result.save(args.output)
    taken = result.metadata["seconds_taken"]
    print(f"wrote {path} ({result.duration_s:.3f} s, seed {result.metadata['seed']}, {taken} s)")
    return 0


# Tasks that also run on a clip of a timeline (--timeline FILE --clip NAME).
TIMELINE_TASKS = ("extend", "inpaint", "outpaint", "stylize", "score")
TIMELINE_EPILOG = (
    "on a timeline: --timeline FILE --clip NAME instead of a media file runs the task on that\n"
    "clip (the first clip of that name) and writes a NEW timeline to -o (.otio or .otioz) with\n"
    "the result placed, as the editor panel places it; the input timeline is never written.\n"
    "The result's media go to <output stem>_media/ beside it. For example:\n"
    "  reelpoet extend --timeline cut.otio --clip Clip-001 --seconds 2 -o cut_extended.otio"
)


def _cmd_timeline_task(args: argparse.Namespace) -> int:
    """A task on a clip of a timeline, placed on a new timeline (reelpoet.editor_plugin's model
    layer: OpenTimelineIO, no Qt; imported here so other commands never load it)."""
    from reelpoet.editor_plugin import timeline_commands

    if args.source is not None:
        raise InvalidRequestError("give a media file or --timeline, not both")
    if not args.clip:
        raise InvalidRequestError("--timeline needs --clip NAME: the clip to work on")
    unused = [f"--{k.replace('_', '-')}" for k in _sampling_options(args) if k != "seed"]
    if unused:  # the model layer samples as the panel does: only the seed is an option there
        raise InvalidRequestError(f"{', '.join(unused)}: not available with --timeline")
    options = {"task": args.command, "prompt": args.prompt, "seed": args.seed or 0}
    if args.command == "extend":
        options.update(seconds=args.seconds, head=args.head, new_track=args.new_track)
    elif args.command == "inpaint":
        options.update(box=tuple(args.box) if args.box else None, mask=_mask_picture(args.mask))
    elif args.command == "outpaint":
        options["aspect"] = args.aspect
    outcome = timeline_commands.run_on_timeline(
        args.timeline,
        args.clip,
        args.output,
        _client(args),
        overwrite=args.overwrite,
        progress=_Progress(f"{args.command} {args.clip}"),
        **options,
    )
    print(timeline_commands.describe(outcome))
    return 0


def _mask_picture(path: Path | None):
    """A mask picture or video as bool masks (white: regenerate), or None."""
    if path is None:
        return None
    from reelpoet.sdk.client import read_mask_file

    return read_mask_file(path)


def _add_task_commands(commands: argparse._SubParsersAction) -> None:
    """A subcommand per task; every one takes -o OUTPUT and the sampling options."""
    tasks = {
        "text-to-video": ("a clip from a prompt (extended clip by clip past 2.125 s)", "prompt"),
        "text-to-image": ("a picture from a prompt", "prompt"),
        "image-to-video": ("a clip that starts from a picture", "source"),
        "extend": ("new footage after (or before) a clip, at its rate and size", "source"),
        "inpaint": ("regenerate a rectangle of a clip; the rest stays untouched", "source"),
        "outpaint": ("widen a clip to an aspect ratio with generated margins", "source"),
        "stylize": ("a clip's shapes and motion in the style a prompt describes", "source"),
        "score": ("a soundtrack for a clip (video-to-audio)", "source"),
        "text-to-audio": ("sound from a prompt", "prompt"),
    }
    for name, (summary, first) in tasks.items():
        on_timeline = name in TIMELINE_TASKS
        task = commands.add_parser(
            name,
            help=summary,
            description=summary,
            epilog=TIMELINE_EPILOG if on_timeline else None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if first == "prompt":
            task.add_argument("prompt", help="what to generate, in English")
        elif on_timeline:
            task.add_argument(
                "source", type=Path, nargs="?", help="a media file (or use --timeline/--clip)"
            )
            task.add_argument("--prompt", default="", help="optional text to steer the result")
            task.add_argument(
                "--timeline", type=Path, help="work on a clip of this timeline (.otio, .edl, ...)"
            )
            task.add_argument("--clip", help="with --timeline: the name of the clip")
        else:
            task.add_argument("source", type=Path, help="a media file (video, or a picture)")
            task.add_argument("--prompt", default="", help="optional text to steer the result")
        if name in ("text-to-video", "extend"):
            task.add_argument("--seconds", type=float, default=2.125, help="length to generate")
        if name == "extend":
            task.add_argument("--head", action="store_true", help="extend before the start")
            task.add_argument(
                "--new-track",
                action="store_true",
                help="with --timeline: put the extension on a track above, not inserted",
            )
        if name == "inpaint":
            region = task.add_mutually_exclusive_group(required=True)
            region.add_argument(
                "--box",
                type=int,
                nargs=4,
                metavar=("X0", "Y0", "X1", "Y1"),
                help="the rectangle to regenerate, in source pixels",
            )
            region.add_argument(
                "--mask",
                type=Path,
                help="a picture (or a video, a mask a frame) the clip's size: white is "
                "regenerated, the rest kept",
            )
        if name == "outpaint":
            task.add_argument("--aspect", type=float, required=True, help="width/height, e.g. 1.78")
        audio = name in ("score", "text-to-audio")
        task.add_argument(
            "-o",
            "--output",
            type=Path,
            required=True,
            help=(
                "where to write: .wav" if audio else "where to write: .mp4 (H.264) or .mov (ProRes)"
            )
            + ("; with --timeline, the new .otio timeline" if on_timeline else ""),
        )
        task.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
        task.add_argument("--seed", type=int, help="same seed, same result (default 0)")
        task.add_argument("--temperature", type=float, help="sampling temperature (default 0.9)")
        task.add_argument(
            "--top-k", type=int, help="sample from the k likeliest codes (default 256)"
        )
        task.add_argument("--top-p", type=float, help="nucleus sampling mass (default 1: off)")
        task.add_argument(
            "--guidance-scale", type=float, help="classifier-free guidance (default 3; 1: off)"
        )
        task.add_argument(
            "--bundle", type=Path, help=f"bundle folder (default: ${BUNDLE_ENV_VAR} or embedded)"
        )
        task.add_argument("--threads", type=int, help="CPU threads (default: up to 4)")
        task.add_argument(
            "--remote", metavar="URL", help="run on a `reelpoet serve` server instead of here"
        )
        task.add_argument("--token", help="the server's token (default: $REELPOET_TOKEN)")
        task.set_defaults(run=_cmd_task)


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


def _size(count: int) -> str:
    return f"{count:,} bytes" if count < 1_000_000 else f"{count / 1e6:.1f} MB"


def _flatten(data: object, prefix: str = "") -> list[str]:
    """Nested provenance as `key.sub: value` lines."""
    if isinstance(data, dict) and data:
        return [line for k, v in data.items() for line in _flatten(v, f"{prefix}{k}.")]
    return [f"{prefix[:-1]}: {data if isinstance(data, str) else json.dumps(data)}"]


def _model_lines(manifest: Manifest, name: str, model: ModelEntry) -> list[str]:
    inputs = ", ".join(map(str, model.inputs))
    outputs = ", ".join(map(str, model.outputs))
    size = _size(manifest.files[model.file].bytes)
    return [
        f"  {name}: {model.kind} v{model.version}, {model.file} ({size})",
        f"    {inputs} -> {outputs}",
    ]


def _cmd_bundle_info(args: argparse.Namespace) -> int:
    """What a bundle holds, from its manifest alone (fast; `verify` checks the files)."""
    root = locate_bundle(args.path)
    manifest = read_manifest(root)
    layout = manifest.token_layout
    print(f"bundle {manifest.bundle_id} at {root}")
    print(f"  created {manifest.created}, format version {manifest.format_version}")
    print(f"  {len(manifest.files)} files, {_size(manifest.total_bytes)}")
    print(
        f"token layout v{layout.version}: vocabulary {layout.vocab_size} ({layout.video_codes} "
        f"video codes, {layout.audio_levels} x {layout.audio_codes} audio codes, "
        f"{len(layout.special_tokens)} special), {layout.text_slots} text slots"
    )
    print(f"models ({len(manifest.models)}):")
    for name, model in sorted(manifest.models.items()):
        print("\n".join(_model_lines(manifest, name, model)))
    print("provenance:")
    for line in _flatten(manifest.provenance) if manifest.provenance else ["(none recorded)"]:
        print(f"  {line}")
    return 0


def _cmd_bundle_verify(args: argparse.Namespace) -> int:
    report = verify_bundle(args.path, deep=args.deep)
    for line in report.warnings:
        print(f"reelpoet bundle verify: warning: {line}", file=sys.stderr)
    for line in report.problems:
        print(f"reelpoet bundle verify: {line}", file=sys.stderr)
    if report.problems:
        return EXIT_BAD_BUNDLE
    done = f"{report.root}: OK, {report.files_checked} files match the manifest"
    if args.deep:
        print(f"{done}, and every graph loads with the inputs and outputs it records")
    else:
        print(f"{done} (--deep also loads the graphs)")
    return 0


def _add_bundle_commands(commands: argparse._SubParsersAction) -> None:
    bundle = commands.add_parser("bundle", help="inspect or verify a model bundle")
    actions = bundle.add_subparsers(dest="action", required=True, metavar="ACTION")
    where = f"bundle folder (default: ${BUNDLE_ENV_VAR} or the embedded one)"
    info = actions.add_parser("info", help="show a bundle's id, models, sizes and provenance")
    info.add_argument("path", type=Path, nargs="?", help=where)
    info.set_defaults(run=_cmd_bundle_info)
    verify = actions.add_parser(
        "verify", help=f"check every file's size and sha256; exit {EXIT_BAD_BUNDLE} if any differ"
    )
    verify.add_argument("path", type=Path, nargs="?", help=where)
    verify.add_argument(
        "--deep", action="store_true", help="also load each graph and check its inputs/outputs"
    )
    verify.set_defaults(run=_cmd_bundle_verify)


def _cmd_serve(args: argparse.Namespace) -> int:
    """Run the job API until Ctrl-C (or SIGTERM)."""
    import logging

    try:
        from reelpoet.sdk.server.app import serve
    except ImportError as exc:
        raise InvalidRequestError(
            f"the server needs its extra: pip install 'reelpoet[server]' ({exc})"
        ) from exc
    from reelpoet.sdk.server.config import ServerConfig, read_tokens

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    config = ServerConfig(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        tokens=() if args.no_auth else read_tokens(args.token, args.token_file),
        auth=not args.no_auth,
        max_upload_bytes=round(args.max_upload_mb * 1024**2),
        queue_size=args.queue_size,
        workers=args.workers,
        per_token_jobs=args.per_token_jobs,
        keep_results_hours=args.keep_results_hours,
        bundle=args.bundle,
        threads=args.threads,
    )
    serve(config)
    return 0


def _add_serve_command(commands: argparse._SubParsersAction) -> None:
    from reelpoet.sdk.server.config import TOKEN_ENV_VAR

    serve = commands.add_parser(
        "serve",
        help="run the inference server (the job API that Client.remote talks to)",
        description=(
            "Serve the job API over HTTP: submit a task with its media, follow its progress,\n"
            "download the result (Client.remote does all of it). Clients send\n"
            "'Authorization: Bearer TOKEN'; without --no-auth a token is required. Jobs and\n"
            "results are kept under --data-dir and survive a restart. See docs/server.md."
        ),
        epilog=(
            "examples:\n"
            "  reelpoet serve --no-auth                      # this machine only, no token\n"
            f"  {TOKEN_ENV_VAR}=$(openssl rand -hex 24) reelpoet serve --host 0.0.0.0\n"
            "  reelpoet serve --host 0.0.0.0 --token-file tokens.txt --workers 2 --threads 2"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)"
    )
    serve.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    serve.add_argument(
        "--data-dir",
        type=Path,
        default=Path("reelpoet-server"),
        help="where jobs and results are kept (default ./reelpoet-server)",
    )
    serve.add_argument(
        "--token",
        help=f"the token clients send (shows in `ps`: prefer --token-file or ${TOKEN_ENV_VAR})",
    )
    serve.add_argument(
        "--token-file", type=Path, help="a file of tokens, one per line (one per client)"
    )
    serve.add_argument(
        "--no-auth",
        action="store_true",
        help="accept requests without a token (refused unless --host is a loopback address)",
    )
    serve.add_argument(
        "--max-upload-mb", type=float, default=256, help="largest request body (default 256)"
    )
    serve.add_argument(
        "--queue-size", type=int, default=16, help="jobs that may wait before 429 (default 16)"
    )
    serve.add_argument("--workers", type=int, default=1, help="jobs run at once (default 1)")
    serve.add_argument(
        "--per-token-jobs",
        type=int,
        default=8,
        help="unfinished jobs one token may have before 429 (default 8)",
    )
    serve.add_argument(
        "--keep-results-hours",
        type=float,
        default=168,
        help="delete a job's result this long after it finished; 0 keeps results (default 168)",
    )
    serve.add_argument(
        "--bundle", type=Path, help=f"bundle folder (default: ${BUNDLE_ENV_VAR} or embedded)"
    )
    serve.add_argument("--threads", type=int, help="CPU threads per model (default: up to 4)")
    serve.set_defaults(run=_cmd_serve)


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
    demo.add_argument("--prompt", default=DEMO_PROMPT, help="what to generate")
    demo.add_argument("--seed", type=int, default=0, help="same seed, same result")
    demo.add_argument("--threads", type=int, help="CPU threads (default: up to 4)")
    demo.add_argument(
        "--bundle", type=Path, help=f"model bundle folder (default: ${BUNDLE_ENV_VAR} or embedded)"
    )
    demo.set_defaults(run=_cmd_demo)

    probe = commands.add_parser("probe", help="show the streams, size, rate and length of a file")
    probe.add_argument("path", type=Path)
    probe.set_defaults(run=_cmd_probe)
    _add_bundle_commands(commands)
    _add_task_commands(commands)
    _add_serve_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    command = " ".join(filter(None, (args.command, getattr(args, "action", None))))
    try:
        return args.run(args)
    except BundleNotInstalledError as exc:
        print(f"reelpoet {command}: {exc}", file=sys.stderr)
        return EXIT_NO_BUNDLE
    except (BundleManifestError, BundleIntegrityError) as exc:
        print(f"reelpoet {command}: {exc}", file=sys.stderr)
        return EXIT_BAD_BUNDLE
    except ReelpoetError as exc:
        print(f"reelpoet {command}: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
