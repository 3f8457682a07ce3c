"""Synthetic trade files in Bitmex's format (one gzip CSV per day), served over HTTP to containers."""

from __future__ import annotations

import csv
import gzip
import io
import random
import threading
import uuid
from datetime import datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COLUMNS = ["timestamp", "symbol", "side", "size", "price", "tickDirection", "trdMatchID", "grossValue",
           "homeNotional", "foreignNotional"]


def write_day(folder: Path, day: str, rows: int, seed: int) -> int:
    """Write ``<day>.csv.gz``; return the XBTUSD volume (sum of ``size``) it holds."""
    rng = random.Random(seed)
    start = datetime.strptime(day, "%Y%m%d")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    volume = 0
    for index in range(rows):
        symbol = rng.choice(["XBTUSD", "XBTUSD", "ETHUSD", "XRPUSD"])
        size = rng.randint(1, 5000)
        price = round(rng.uniform(20000, 40000), 1)
        if symbol == "XBTUSD":
            volume += size
        stamp = (start + timedelta(seconds=index * 7)).strftime("%Y-%m-%dD%H:%M:%S.%f")[:-3]
        writer.writerow([stamp, symbol, rng.choice(["Buy", "Sell"]), size, price, "PlusTick", str(uuid.UUID(int=rng.getrandbits(128))),
                         size * 100, round(size / price, 8), size])
    (folder / f"{day}.csv.gz").write_bytes(gzip.compress(buffer.getvalue().encode()))
    return volume


def make_days(folder: Path, days: list[str], rows: int = 2000) -> dict[str, int]:
    folder.mkdir(parents=True, exist_ok=True)
    return {day: write_day(folder, day, rows, seed=int(day)) for day in days}


class TradeServer:
    """An HTTP server of a folder, on the Docker bridge's address of this host (not on the network)."""

    def __init__(self, folder: Path, address: str) -> None:
        handler = partial(_QuietHandler, directory=str(folder))
        self.httpd = ThreadingHTTPServer((address, 0), handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "TradeServer":
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass
