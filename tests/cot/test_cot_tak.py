"""Against real TAK software from PyPI: the taky server and a pytak client.

taky 0.10 and pytak 7 live in their own environment (.venv-tak, made by `make tak-env`;
taky pins old Flask and is no dependency of WarnLink). The test starts taky on loopback
(TLS off: its plain CoT port; TLS on: client certificate required, the listener on its
plain monitor port), connects the pytak listener (tak_listener.py), streams our events
through CotStreamer, and checks what the listener got after taky parsed and
re-serialised them. It skips, saying why, only when that environment cannot be built.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cot_support import estimate, impact_point

from cli_support import exercise
from warnlink.cot.events import CotEvent, CotOptions, alert_events, estimate_events
from warnlink.cot.stream import CotStreamer, TakServer, tls_context
from warnlink.exchange import pki

ROOT = Path(__file__).resolve().parents[2]
TAK_PACKAGES = ["taky==0.10", "pytak==7.6.1"]  # keep in step with the Makefile's tak-env
LISTENER = Path(__file__).with_name("tak_listener.py")


def _tak_venv() -> Path:
    return Path(os.environ.get("WARNLINK_TAK_VENV", ROOT / ".venv-tak"))


def _usable(venv: Path) -> bool:
    py = venv / "bin" / "python"
    return (
        (venv / "bin" / "taky").exists()
        and py.exists()
        and subprocess.run(
            [str(py), "-c", "import taky, pytak"], capture_output=True, check=False, timeout=60
        ).returncode
        == 0
    )


@pytest.fixture(scope="module")
def tak_venv() -> Path:
    """The TAK environment, built here (under a lock, for parallel workers) if missing."""
    venv = _tak_venv()
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / ".venv-tak.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _usable(venv):
            return venv
        steps = [
            [sys.executable, "-m", "venv", "--clear", str(venv)],
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *TAK_PACKAGES],
        ]
        for cmd in steps:
            try:
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                pytest.skip(f"cannot build the TAK test environment ({' '.join(cmd)}): {exc}")
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
                pytest.skip(
                    f"cannot build the TAK test environment {venv} ({' '.join(cmd[-2:])}): "
                    + " | ".join(tail)
                )
        if not _usable(venv):
            pytest.skip(f"{venv} was built but cannot import taky and pytak")
        return venv


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[str], timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(
                f"taky exited with {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}"
            )
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"taky did not listen on {port} within {timeout} s")


@dataclass
class Taky:
    """A running taky: where our streamer sends, and the plain port the listener reads."""

    server: TakServer
    listen_port: int


def _pki(root: Path) -> tuple[Path, Path, Path, Path, Path]:
    """CA, server certificate and key, client certificate and key (the project's PKI)."""
    pki.init_ca(root, name="TAK test CA")
    pki.issue_hub(root, ["localhost", "127.0.0.1"])
    pki.issue_party(root, "KR")
    party = pki.party_dir(root, "KR")
    return (
        root / "ca.crt",
        root / "hub" / "hub.crt",
        root / "hub" / "hub.key",
        party / "tls.crt",
        party / "tls.key",
    )


@pytest.fixture(params=["tcp", "tls"])
def taky_server(request: pytest.FixtureRequest, tak_venv: Path, tmp_path: Path) -> Iterator[Taky]:
    """taky on free loopback ports with its state in tmp_path.

    tcp: TLS disabled, one plain CoT port for the streamer and the listener.
    tls: TLS with a client certificate required on the CoT port (the streamer), and
    taky's plain monitor port for the listener (it gets every event routed).
    """
    port = _free_port()
    root = tmp_path / "taky"
    root.mkdir()
    conf = [
        "[taky]",
        "bind_ip=127.0.0.1",
        f"root_dir={root}",
        "[cot_server]",
        f"port={port}",
        "[dp_server]",
        f"upload_path={root / 'dp-user'}",
        "[ssl]",
    ]
    server = TakServer("127.0.0.1", port)
    listen_port = port
    if request.param == "tcp":
        conf.append("enabled=false")
    else:
        ca, cert, key, client_cert, client_key = _pki(tmp_path / "pki")
        listen_port = _free_port()
        conf += [
            "enabled=true",
            "client_cert_required=true",
            f"ca={ca}",
            f"cert={cert}",
            f"key={key}",
            f"cert_db={root / 'cert-db.txt'}",
        ]
        conf.insert(conf.index("[dp_server]"), f"mon_ip=127.0.0.1\nmon_port={listen_port}")
        server = TakServer("127.0.0.1", port, tls_context(ca, client_cert, client_key))
    path = root / "taky.conf"
    path.write_text("\n".join(conf) + "\n")
    proc = subprocess.Popen(
        [str(tak_venv / "bin" / "taky"), "-c", str(path), "-l", "info"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_port(port, proc)
        _wait_port(listen_port, proc)
        yield Taky(server, listen_port)
    finally:
        proc.terminate()
        try:
            log = proc.communicate(timeout=10)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            log = proc.communicate(timeout=10)[0]
    if request.param == "tls":  # the streamer really came in over TLS with its certificate
        assert "New ssl cot client" in log, log[-2000:]


class Listener:
    """The pytak client process; its JSON lines arrive on a queue from a reader thread."""

    def __init__(self, python: Path, port: int) -> None:
        self.proc = subprocess.Popen(
            [str(python), str(LISTENER), f"tcp://127.0.0.1:{port}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                self.lines.put(json.loads(line))

    def next(self, timeout: float) -> dict[str, Any] | None:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> str:
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
        return err or ""


def _send(server: TakServer, events: list[CotEvent]) -> None:
    async def run() -> None:
        streamer = CotStreamer(server)
        streamer.start()
        streamer.send_all(events)
        assert await streamer.flush(20.0), "streamer did not get the events out"
        await asyncio.sleep(0.5)  # let taky read them before the connection closes
        await streamer.close()

    asyncio.run(run())


def test_taky_relays_our_track_ellipse_launch_and_alert_to_a_pytak_client(
    tak_venv: Path, taky_server: Taky
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    epoch = now - timedelta(seconds=100)  # the estimate's t = 100 s is now: nothing stale
    est = estimate(
        t=100.0,
        track="T42",
        lat=40.1,
        lon=128.3,
        impact=impact_point(400.0, 39.25, 139.75),
        launch=impact_point(5.0, 39.0, 125.5),
    )
    area = [(39.0, 139.5), (39.0, 140.0), (39.5, 140.0), (39.5, 139.5)]
    events = estimate_events(est, epoch, CotOptions(party="KR")) + alert_events(
        "A1", "Missile alert: take shelter", [area], now, now + timedelta(minutes=10)
    )
    expected = {ev.uid: ev for ev in events}
    assert len(expected) == 5

    listener = Listener(tak_venv / "bin" / "python", taky_server.listen_port)
    got: dict[str, dict[str, Any]] = {}
    try:
        ready = listener.next(60.0)
        assert ready is not None and "ready" in ready, "pytak listener did not connect"
        time.sleep(1.0)  # taky accepts the listener in its select loop before we connect
        for _attempt in range(3):
            _send(taky_server.server, events)
            end = time.monotonic() + 15.0
            while set(expected) - set(got) and time.monotonic() < end:
                line = listener.next(0.5)
                if line is not None and line.get("uid") in expected:
                    got[line["uid"]] = line
            if not set(expected) - set(got):
                break
    finally:
        err = listener.close()
    assert set(got) == set(expected), f"missing {set(expected) - set(got)}; listener: {err[-2000:]}"

    for uid, ev in expected.items():
        line = got[uid]
        assert line["type"] == ev.type
        ours = ev.element.find("point")
        assert ours is not None
        assert line["lat"] == pytest.approx(float(ours.get("lat", "nan")), abs=1e-6)
        assert line["lon"] == pytest.approx(float(ours.get("lon", "nan")), abs=1e-6)
    track = got["warnlink.KR.T42"]
    assert track["type"] == "a-h-A-W-M-S-S" and track["how"] == "m-f"
    assert track["lat"] == pytest.approx(40.1, abs=1e-6)
    assert track["lon"] == pytest.approx(128.3, abs=1e-6)
    # the detail survives taky's parse and re-serialisation
    ellipse = ET.fromstring(got["warnlink.KR.T42.impact"]["xml"]).find("detail/shape/ellipse")
    assert ellipse is not None
    assert float(ellipse.get("major", "nan")) == pytest.approx(
        2 * est.impact.ellipse.semi_major_m if est.impact else 0.0, abs=0.1
    )
    polygon = ET.fromstring(got["warnlink.alert.A1.area.0"]["xml"])
    assert polygon.get("type") == "u-d-f"
    pts = [lk.get("point") for lk in polygon.iter("link")]
    assert len(pts) == 5 and pts[0] == pts[-1]
    marker = ET.fromstring(got["warnlink.alert.A1"]["xml"])
    assert marker.get("type") == "b-a-o-c"
    assert marker.findtext("detail/emergency") == "Missile alert: take shelter"


@pytest.mark.timeout(600)
@pytest.mark.parametrize("taky_server", ["tcp"], indirect=True)
def test_an_exercise_streams_every_partys_picture_and_warnings_to_a_tak_client(
    tak_venv: Path, taky_server: Taky, tmp_path: Path
) -> None:
    """`warnlink exercise --tak`: a TAK client on a real TAK server sees each party's fused
    tracks, impact ellipses and public-warning alarms while the exercise runs."""
    listener = Listener(tak_venv / "bin" / "python", taky_server.listen_port)
    try:
        ready = listener.next(60.0)
        assert ready is not None and "ready" in ready, "pytak listener did not connect"
        time.sleep(1.0)
        scenario = Path(__file__).resolve().parents[1] / "exercise" / "srbm-short.toml"
        exercise(scenario, "10", tmp_path / "ex", "--tak", f"127.0.0.1:{taky_server.server.port}")
        time.sleep(2.0)
        got: list[dict[str, Any]] = []
        while (line := listener.next(0.5)) is not None:
            got.append(line)
    finally:
        listener.close()
    kinds = {(ev["uid"].split(".")[1], ev["type"]) for ev in got if "uid" in ev}
    for party in ("KR", "US", "JP"):
        assert (party, "a-h-A-W-M-S-S") in kinds, f"no fused track of {party}"
    assert any(t == "u-d-c-e" for _, t in kinds), "no impact ellipse"
    alarms = {ev["type"] for ev in got if ev.get("uid", "").startswith("warnlink.alert.")}
    assert "b-a-o-c" in alarms and "u-d-f" in alarms  # warned areas and the alarm
    assert "b-a-o-can" in alarms  # lifted once the SRBM's impact was known to be at sea
