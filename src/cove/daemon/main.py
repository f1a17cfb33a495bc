"""coved: load the configuration, open the stores, reconcile, serve until signalled.

Stopping coved (SIGTERM, SIGINT) closes the listeners and leaves every container
running under its monitor; the next coved picks them up in ``reconcile``.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import ssl
import sys
import threading
import time
from typing import cast

from cove.errors import CoveError

log = logging.getLogger("cove.daemon")


def _setup_logging(level: str) -> None:
    name = {"warn": "WARNING", "fatal": "CRITICAL"}.get(level, level.upper())
    logging.basicConfig(stream=sys.stderr, level=getattr(logging, name, logging.INFO),
                        format="time=%(asctime)s level=%(levelname)s msg=%(message)s")


def _lock_pidfile(path: str) -> int:
    os.makedirs(os.path.dirname(path), mode=0o711, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise CoveError(
            f"another coved is running with this exec-root ({path} is locked)") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _tls_context(cfg: object) -> ssl.SSLContext:
    from cove.daemon.config import DaemonConfig
    assert isinstance(cfg, DaemonConfig)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    assert cfg.tls_cert and cfg.tls_key
    ctx.load_cert_chain(cfg.tls_cert, cfg.tls_key)
    if cfg.tls_verify:
        assert cfg.tls_ca
        ctx.load_verify_locations(cfg.tls_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def _raise_open_files_limit() -> None:
    """Up to the hard limit: each container on a user network holds two resolver sockets,
    each forwarded query one more, each exit watch a pidfd."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as e:
            log.warning("cannot raise the open files limit to %d: %s", hard, e)


def main(argv: list[str] | None = None) -> int:
    from cove.daemon import config as config_mod
    try:
        cfg = config_mod.load(sys.argv[1:] if argv is None else argv)
    except CoveError as e:
        sys.stderr.write(f"coved: {e}\n")
        return 1
    _setup_logging(cfg.log_level)
    try:
        return serve(cfg)
    except CoveError as e:
        log.error("%s", e)
        return 1


def build(cfg: object) -> tuple[object, object]:
    """The context and router for ``cfg`` (tests use it to serve in-process)."""
    from cove.api.handlers import containers as container_handlers
    from cove.api.handlers import system as system_handlers
    from cove.api.router import Router
    from cove.daemon.config import DaemonConfig
    from cove.daemon.context import DaemonContext
    from cove.engine.containers.service import ContainerService, EngineConfig
    from cove.engine.containers.specs import SpecBuilder
    from cove.engine.events import EventLog
    from cove.engine.images import ThreadLocalImages
    from cove.engine.networks.service import NetworkService
    from cove.engine.units import parse_bytes
    from cove.engine.volumes import VolumeService
    from cove.images.service import ImageService

    assert isinstance(cfg, DaemonConfig)
    os.makedirs(cfg.root, mode=0o711, exist_ok=True)
    os.makedirs(cfg.exec_root, mode=0o711, exist_ok=True)
    shared = ThreadLocalImages(os.path.join(cfg.root, "image"), certs_dir=cfg.certs_dir,
                               snapshotter=cfg.snapshotter)
    # Typed as the service it stands for: every attribute is the calling thread's own.
    images = cast(ImageService, shared)
    events = EventLog()
    engine_cfg = EngineConfig(
        root=cfg.root, exec_root=cfg.exec_root, default_runtime=cfg.default_runtime,
        runtimes=cfg.runtimes, log_max_size=parse_bytes(cfg.log_opts.get("max-size", "10m")),
        log_max_file=int(cfg.log_opts.get("max-file", "3")), init_path=cfg.init_path)
    containers = ContainerService(engine_cfg, images, SpecBuilder(cfg.cgroup_parent), events)
    volumes = VolumeService(
        cfg.root, users=lambda: [(c.id, c.mounts) for c in containers.store.all()],
        notify=lambda action, name, attrs: events.emit("volume", action, name, attrs))
    containers.volumes = volumes
    containers.networks = cast("NetworkService", _networks(cfg, containers, events))
    ctx = DaemonContext(cfg, images, containers, events, time.time())
    ctx.services["volumes"] = volumes
    router = Router()
    system_handlers.register(router, ctx)
    container_handlers.register(router, ctx)
    _register_optional(router, ctx)
    return ctx, router


def _networks(cfg: object, containers: object, events: object) -> object:
    from cove.daemon.config import DaemonConfig, network_config
    from cove.engine.containers.service import ContainerService
    from cove.engine.events import EventLog
    from cove.engine.networks.service import NetworkService
    from cove.errors import NotFound
    assert isinstance(cfg, DaemonConfig) and isinstance(containers, ContainerService)
    assert isinstance(events, EventLog)
    networks = NetworkService(cfg.root, cfg.exec_root, network_config(cfg), events)

    def by_ref(ref: str) -> object:
        try:
            return containers.get(ref)
        except NotFound:
            return None

    networks.containers = containers.store.all
    networks.container = by_ref  # type: ignore[assignment]
    networks.save_container = containers.store.save
    networks.start()
    return networks


def _register_optional(router: object, ctx: object) -> None:
    """Handler modules that other parts of the engine add (images, exec, archive...)."""
    import importlib
    for name in ("prune", "images", "image_commit", "exec", "archive", "container_extras",
                 "volumes", "networks", "swarm"):
        try:
            module = importlib.import_module(f"cove.api.handlers.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"cove.api.handlers.{name}":
                raise
            continue
        module.register(router, ctx)


def serve(cfg: object) -> int:
    from cove.api.server import Server
    from cove.daemon.config import DaemonConfig
    assert isinstance(cfg, DaemonConfig)
    pid_fd = _lock_pidfile(cfg.pidfile)
    _raise_open_files_limit()
    ctx, router = build(cfg)
    from cove.api.router import Router
    from cove.daemon.context import DaemonContext
    assert isinstance(ctx, DaemonContext) and isinstance(router, Router)
    ctx.containers.reconcile()
    server = Server(router)
    for host in cfg.hosts:
        if host.startswith("unix://"):
            server.listen_unix(host[len("unix://"):], cfg.group)
        else:
            hostport = host[len("tcp://"):]
            name, _, port = hostport.rpartition(":")
            if not cfg.tls_verify:
                log.warning("listening on %s WITHOUT TLS: anyone who can reach it controls "
                            "this host as root", host)
            server.listen_tls(name or "127.0.0.1", int(port or 2376),
                              _tls_context(cfg) if cfg.tls_cert else None)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    server.start()
    log.info("coved %s serving on %s (root %s)", os.getpid(), ", ".join(cfg.hosts), cfg.root)
    while not stop.wait(1.0):
        pass
    log.info("shutting down; containers keep running")
    server.stop()
    ctx.containers.close()
    if ctx.containers.networks is not None:
        ctx.containers.networks.close()
    ctx.images.close()
    for host in cfg.hosts:
        if host.startswith("unix://"):
            try:
                os.unlink(host[len("unix://"):])
            except FileNotFoundError:
                pass
    os.close(pid_fd)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
