"""``python -m serving`` -- build archives, run TorchServe, manage model versions.

    python -m serving archive  --checkpoint C.pt --run-dir var/serve
    python -m serving start    --run-dir var/serve [--port 8380] [--workers 1] [--no-token-auth]
    python -m serving status   --run-dir var/serve
    python -m serving register --run-dir var/serve --checkpoint C.pt [--default] [--batch-size 8]
    python -m serving default  --run-dir var/serve --version V
    python -m serving rollback --run-dir var/serve [--version V]
    python -m serving stop     --run-dir var/serve
    python -m serving sync     --run-dir var/serve --pointer URL [--interval 10] [--once]
    python -m serving sync-check --run-dir var/serve [--live]

``sync`` keeps this TorchServe serving the served set a pointer in object storage names (``serving.sync``:
the sidecar of each TorchServe pod in Kubernetes); ``sync-check`` exits 0 when it does (its probes).

Ports: inference ``--port``, management ``--port + 1``, metrics ``--port + 2``, gRPC ``+ 3`` / ``+ 4``. Token authorisation is on
unless ``--no-token-auth`` (tests): TorchServe writes its keys to ``<run-dir>/key_file.json``; point
``GAIT_TORCHSERVE_TOKEN_FILE`` at it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .config import ServeConfig
from .server import state_file


def _config(args) -> ServeConfig:
    return ServeConfig(run_dir=Path(args.run_dir).resolve(), host=args.host, inference_port=args.port,
                       management_port=args.port + 1, metrics_port=args.port + 2,
                       grpc_inference_port=args.port + 3, grpc_management_port=args.port + 4, workers=args.workers,
                       batch_size=args.batch_size, max_batch_delay_ms=args.max_batch_delay,
                       token_auth=not args.no_token_auth)


def _mgmt(cfg: ServeConfig):
    from .management import ManagementClient

    return ManagementClient(cfg.management_url, token_file=str(cfg.key_file) if cfg.token_auth else None,
                            history_file=Path(cfg.run_dir) / "defaults.json", state_file=state_file(cfg.run_dir))


def _sync(cfg: ServeConfig, args, p) -> int:
    import logging

    from .management import ManagementClient
    from .sync import Syncer

    if not args.pointer:
        p.error("sync needs --pointer")
    logging.basicConfig(level=os.environ.get("GAIT_LOG_LEVEL", "INFO").upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    m = ManagementClient(args.management_url or cfg.management_url,
                         token_file=str(cfg.key_file) if cfg.token_auth else None)
    s = Syncer(args.pointer, m, cfg.run_dir, model_name=args.model_name, batch_size=args.batch_size,
               max_batch_delay_ms=args.max_batch_delay, workers=args.workers)
    if args.once:
        report = s.run_once()
        print(json.dumps(report))
        return 0 if not report["errors"] else 1
    import signal
    import threading

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    s.loop(args.interval, stop)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m serving", description=__doc__.split("\n")[0])
    p.add_argument("command", choices=("archive", "start", "stop", "status", "register", "default", "rollback", "sync",
                                       "sync-check"))
    p.add_argument("--run-dir", default="var/serve")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8380)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-batch-delay", type=int, default=20, help="ms")
    p.add_argument("--no-token-auth", action="store_true", help="tests only")
    p.add_argument("--checkpoint", default=None, help="GaitMAE checkpoint (default: the shipped one)")
    p.add_argument("--model-name", default="gaitmae")
    p.add_argument("--version", default=None)
    p.add_argument("--default", action="store_true", help="register: also make it the default version")
    p.add_argument("--pointer", default=None, help="sync: the served set (URL or storage key)")
    p.add_argument("--management-url", default=None, help="sync: default http://HOST:(--port + 1)")
    p.add_argument("--interval", type=float, default=10.0, help="sync: seconds between passes")
    p.add_argument("--once", action="store_true", help="sync: one pass, print its report")
    p.add_argument("--live", action="store_true", help="sync-check: only that the loop is alive")
    args = p.parse_args(argv)
    cfg = _config(args)

    if args.command == "archive":
        from .archive import build_archive

        path, version = build_archive(args.checkpoint, cfg.model_store, args.model_name)
        print(json.dumps({"archive": str(path), "version": version}))
    elif args.command == "start":
        from .server import start

        proc = start(cfg)
        print(json.dumps({"pid": proc.pid, "inference_url": cfg.inference_url, "management_url": cfg.management_url}))
    elif args.command == "stop":
        from .server import stop

        print(json.dumps({"stopped": stop(cfg.run_dir)}))
    elif args.command == "status":
        from .server import status

        st = status(cfg)
        print(json.dumps(st, indent=1))
        return 0 if st["healthy"] else 1
    elif args.command == "register":
        from .archive import build_archive

        path, version = build_archive(args.checkpoint, cfg.model_store, args.model_name)
        m = _mgmt(cfg)
        m.register(path.name, model_name=args.model_name, batch_size=args.batch_size,
                   max_batch_delay_ms=args.max_batch_delay, workers=args.workers, version=version)
        if args.default:
            m.set_default(args.model_name, version)
        print(json.dumps({"registered": version, "default": m.default_version(args.model_name)}))
    elif args.command == "default":
        if not args.version:
            p.error("default needs --version")
        m = _mgmt(cfg)
        m.set_default(args.model_name, args.version)
        print(json.dumps({"default": m.default_version(args.model_name)}))
    elif args.command == "sync":
        return _sync(cfg, args, p)
    elif args.command == "sync-check":
        from .sync import check

        ok, why = check(cfg.run_dir, live_only=args.live)
        print(why)
        return 0 if ok else 1
    elif args.command == "rollback":
        m = _mgmt(cfg)
        print(json.dumps({"default": m.rollback(args.model_name, args.version)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
