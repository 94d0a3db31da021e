"""A small Language Server Protocol client over JSON-RPC on a subprocess's stdio, for the tests:
it sends requests and notifications and waits, with a timeout, for the messages it expects."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time

TIMEOUT = 30.0


class Client:
    def __init__(self, command: list[str] | None = None):
        self.proc = subprocess.Popen(command or [sys.executable, "-m", "archdsl", "lsp"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.inbox: queue.Queue = queue.Queue()
        self.kept: list[dict] = []  # messages read while waiting for another
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            self._read_messages()
        except (ValueError, OSError):  # the stream was closed under the reader: the session is over
            self.inbox.put(None)

    def _read_messages(self) -> None:
        stream = self.proc.stdout
        while True:
            length = None
            while True:
                header = stream.readline()
                if not header:
                    self.inbox.put(None)
                    return
                header = header.decode("ascii").strip()
                if not header:
                    break
                name, _, value = header.partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            self.inbox.put(json.loads(stream.read(length)))

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        self.proc.stdin.write(f"Content-Length: {len(body)}\r\n\r\n".encode("ascii") + body)
        self.proc.stdin.flush()

    def notify(self, method: str, params: dict | None = None) -> None:
        self.send({"method": method, "params": params or {}})

    def request(self, method: str, params: dict | None = None):
        """Send a request and wait for its response; the result, or AssertionError on an error response."""
        self.next_id += 1
        number = self.next_id
        self.send({"id": number, "method": method, "params": params or {}})
        reply = self.wait(lambda m: m.get("id") == number and "method" not in m)
        assert "error" not in reply, reply["error"]
        return reply.get("result")

    def wait(self, wanted, timeout: float = TIMEOUT) -> dict:
        """The first message (already read, or read within `timeout` seconds) for which `wanted` holds."""
        for message in self.kept:
            if wanted(message):
                self.kept.remove(message)
                return message
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no such message within {timeout} s; kept: {self.kept}")
            try:
                message = self.inbox.get(timeout=left)
            except queue.Empty:
                continue
            if message is None:
                raise EOFError("the server closed its output: " + self.proc.stderr.read().decode(errors="replace"))
            if "method" in message and "id" in message:  # a request from the server: answer it plainly
                self.send({"id": message["id"], "result": None})
                continue
            if wanted(message):
                return message
            self.kept.append(message)

    def diagnostics(self, uri: str, version: int | None = None) -> list[dict]:
        """The next diagnostics published for `uri` (for `version`, where given)."""
        message = self.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                            and m["params"]["uri"] == uri
                            and (version is None or m["params"].get("version") == version))
        return message["params"]["diagnostics"]

    def close(self) -> int:
        """Shut the server down as a client does; its exit status."""
        try:
            assert self.request("shutdown") is None
            self.notify("exit")
            return self.proc.wait(timeout=TIMEOUT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                stream.close()
