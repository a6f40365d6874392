"""The demo's live camera: ffmpeg's test pattern as live HLS, served over local HTTP.

ffmpeg (Debian) encodes in real time (`-re`) 2-second segments into a directory, keeping a sliding
window of 6 and deleting older segments, as a camera's HLS origin does; a threaded HTTP server
serves that directory. `headwater video` follows it like any camera.
"""

from __future__ import annotations

import functools
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from headwater.demo.processes import Processes, Service

SEGMENT_S = 2
WINDOW = 6


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class Camera:
    """A live HLS stream at `url` until `stop()`."""

    def __init__(self, processes: Processes, directory: Path) -> None:
        if shutil.which("ffmpeg") is None:
            raise RuntimeError("ffmpeg is not installed: run `make setup` (apt-get install ffmpeg)")
        directory.mkdir(parents=True, exist_ok=True)
        self.ffmpeg: Service = processes.start(
            "camera-ffmpeg",
            ["ffmpeg", "-loglevel", "error", "-re",
             "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=15",
             "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
             "-g", str(15 * SEGMENT_S), "-pix_fmt", "yuv420p", "-b:v", "300k",
             "-f", "hls", "-hls_time", str(SEGMENT_S), "-hls_list_size", str(WINDOW),
             "-hls_flags", "delete_segments+temp_file+program_date_time",
             "-hls_segment_filename", str(directory / "seg%d.ts"),
             str(directory / "live.m3u8")],
        )  # fmt: skip
        handler = functools.partial(_Quiet, directory=str(directory))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="camera-http", daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/live.m3u8"
        self.playlist = directory / "live.m3u8"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
