"""Exchange test fixtures: a throwaway PKI, and the hub and nodes as real processes."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from warnlink.exchange import frames, pki, signing, tls
from warnlink.exchange.envelope import Envelope, Kind
from warnlink.exchange.frames import FrameReader, FrameType, Mode, Reason
from warnlink.exchange.node_store import NodeStore

PARTIES = ("JP", "KR", "US")


def wait_for(predicate: object, timeout: float, what: str, poll: float = 0.05) -> None:
    """Poll until `predicate()` is true, or fail saying what did not happen."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Proc:
    """A warnlink command running as its own process, its stderr (JSON logs) in a file."""

    def __init__(
        self, args: list[str], log: Path, ready: Path | None = None,
        preexec: Callable[[], None] | None = None,
    ) -> None:  # fmt: skip
        self.args = args
        self.preexec = preexec
        self.log = log
        self.ready = ready
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        if self.ready is not None and self.ready.exists():
            self.ready.unlink()
        with self.log.open("ab") as err:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "warnlink.cli", *self.args],
                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
                preexec_fn=self.preexec,
            )  # fmt: skip
        if self.ready is not None:
            ready = self.ready
            wait_for(ready.exists, 30, f"{self.args[0]} to be ready ({self.log})")
        return self

    def kill9(self) -> None:
        assert self.popen is not None
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def events(self) -> list[dict[str, object]]:
        out = []
        for line in self.log.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out


class Federation:
    """A PKI for JP, KR and US, a hub process and node processes, all under one tmp dir."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pki = root / "pki"
        pki.init_ca(self.pki)
        pki.issue_hub(self.pki)
        for party in PARTIES:
            pki.issue_party(self.pki, party)
        self.port = 0
        self.hub: Proc | None = None
        self.nodes: dict[str, Proc] = {}
        self.procs: list[Proc] = []

    def start_hub(self, *extra: str, preexec: Callable[[], None] | None = None) -> Proc:
        """Start the hub on a fixed free port, so that a restart comes back on it."""
        if not self.port:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
        ready = self.root / "hub.ready"
        hub = Proc(
            ["hub", "--pki", str(self.pki), "--data", str(self.root / "hub"), "--port",
             str(self.port), "--metrics-port", "0", "--ready-file", str(ready), *extra],
            self.root / "hub.log", ready, preexec,
        ).start()  # fmt: skip
        info = json.loads(ready.read_text())
        self.metrics_port = info["metrics_port"]
        self.hub = hub
        self.procs.append(hub)
        return hub

    def node_dir(self, party: str) -> Path:
        return self.root / f"node-{party}"

    def store(self, party: str) -> NodeStore:
        """The party node's own database (outbox and inbox), opened beside the node."""
        return NodeStore(self.node_dir(party) / "node.db")

    def publish(
        self, party: str, items: Sequence[tuple[Kind, Sequence[str], bytes]]
    ) -> list[Envelope]:
        """Publish as the party's application does: signed into its outbox."""
        store = self.store(party)
        try:
            return store.publish(signing.Signer.load(self.pki, party), items)
        finally:
            store.close()

    def start_node(self, party: str, port: int | None = None) -> Proc:
        ready = self.root / f"node-{party}.ready"
        node = Proc(
            ["node", "run", "--pki", str(self.pki), "--party", party, "--hub",
             f"127.0.0.1:{port or self.port}", "--data", str(self.node_dir(party)),
             "--ready-file", str(ready)],
            self.root / f"node-{party}.log", ready,
        ).start()  # fmt: skip
        self.nodes[party] = node
        self.procs.append(node)
        return node

    def close(self) -> None:
        for proc in self.procs:
            proc.stop()


@pytest.fixture
def federation(tmp_path: Path) -> Iterator[Federation]:
    fed = Federation(tmp_path)
    try:
        yield fed
    finally:
        fed.close()


class RawClient:
    """A party's TLS connection driven frame by frame (the hostile side of these tests)."""

    def __init__(self, fed: Federation, party: str) -> None:
        self.fed = fed
        self.party = party

    async def __aenter__(self) -> RawClient:
        ctx = tls.client_context(self.fed.pki, self.party)
        self.reader, self.writer = await asyncio.open_connection(
            "127.0.0.1", self.fed.port, ssl=ctx, server_hostname="localhost"
        )
        self.frames = FrameReader(self.reader, idle_s=10, frame_s=10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.writer.transport.abort()

    async def hello(self) -> None:
        cert = signing.Signer.load(self.fed.pki, self.party).certificate_der
        self.writer.write(frames.hello(Mode.NODE, (0, 0, 0), cert))
        batch = await self.frames.frames()
        assert batch[0][0] == FrameType.WELCOME

    async def publish(self, raw: bytes) -> tuple[FrameType, bytes]:
        """Send one envelope and return the hub's answer to it (ACK, REJECT or ERROR)."""
        self.writer.write(frames.frame(FrameType.PUBLISH, raw))
        while True:
            for ftype, body in await self.frames.frames():
                if ftype in (FrameType.ACK, FrameType.REJECT, FrameType.ERROR):
                    return ftype, body

    async def closed_with_error(self) -> Reason:
        """Read until the hub closes; the ERROR frame's reason."""
        reason = None
        try:
            while batch := await self.frames.frames():
                for ftype, body in batch:
                    if ftype == FrameType.ERROR:
                        reason = Reason(body[0])
        except (ConnectionError, frames.ProtocolError, ssl.SSLError):
            pass
        assert reason is not None, "the hub closed without saying why"
        return reason
