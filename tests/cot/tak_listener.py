"""A TAK client built on pytak that prints each CoT event it receives as one JSON line.

Run by test_cot_tak.py with the TAK test environment's Python (.venv-tak, see the
Makefile's tak-env), not the project's: pytak is no dependency of WarnLink.
Usage: python tak_listener.py tcp://127.0.0.1:PORT
"""

import asyncio
import json
import sys
import xml.etree.ElementTree as ET
from configparser import ConfigParser

import pytak


class Printer(pytak.QueueWorker):
    """Takes what pytak's RX worker read off the socket and prints uid, type and point."""

    async def handle_data(self, data):
        start = data.find(b"<event")
        if start < 0:
            return
        doc = ET.fromstring(data[start:])
        point = doc.find("point")
        out = {
            "uid": doc.get("uid"),
            "type": doc.get("type"),
            "how": doc.get("how"),
            "time": doc.get("time"),
            "stale": doc.get("stale"),
            "lat": float(point.get("lat")) if point is not None else None,
            "lon": float(point.get("lon")) if point is not None else None,
            "xml": data[start:].decode("utf-8"),
        }
        print(json.dumps(out), flush=True)


async def main(url):
    config = ConfigParser()
    config["listener"] = {"COT_URL": url, "PYTAK_NO_HELLO": "1"}
    section = config["listener"]
    tool = pytak.CLITool(section)
    await tool.setup()  # connects
    tool.add_tasks({Printer(tool.rx_queue, section)})
    print(json.dumps({"ready": True}), flush=True)
    await tool.run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
