"""Headless Chromium driven over the DevTools protocol (CDP), for the demo page's test.

Standard library plus Debian's python3-websockets only. Chromium runs in its own process
group with a fresh profile; `close()` ends the whole group and removes the profile.
Every wait has a deadline.
"""

import asyncio
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

import websockets

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-quic",
)


def chromium_binary():
    """Debian's chromium (or $CHROMIUM), or None when it is not installed."""
    return shutil.which(os.environ.get("CHROMIUM", "chromium"))


class CdpError(Exception):
    pass


class Chromium:
    """A headless Chromium process with a DevTools endpoint on a free local port."""

    def __init__(self, binary, start_timeout=20.0):
        self.profile = tempfile.TemporaryDirectory(prefix="ferry-chromium-",
                                                   ignore_cleanup_errors=True)
        self.log_path = os.path.join(self.profile.name, "chromium.log")
        args = [binary, *CHROMIUM_FLAGS, "--user-data-dir=" + self.profile.name,
                "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
                "about:blank"]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self.port = self._wait_for_devtools(start_timeout)
        except BaseException:
            self.close()
            raise

    def _wait_for_devtools(self, timeout):
        """Chromium writes its DevTools port into the profile once it listens."""
        path = os.path.join(self.profile.name, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}: {self.log()}")
            try:
                with open(path) as f:
                    port = f.readline().strip()
                if port:
                    return int(port)
            except FileNotFoundError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"chromium did not open DevTools within {timeout}s: {self.log()}")

    def page_websocket_url(self, timeout=10.0):
        """The DevTools WebSocket URL of the first page (tab)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            url = f"http://127.0.0.1:{self.port}/json/list"
            with urllib.request.urlopen(url, timeout=5) as r:
                targets = json.load(r)
            for t in targets:
                if t.get("type") == "page" and "webSocketDebuggerUrl" in t:
                    return t["webSocketDebuggerUrl"]
            time.sleep(0.05)
        raise RuntimeError("chromium has no page target")

    def log(self, tail=3000):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-tail:]
        except FileNotFoundError:
            return ""

    def close(self):
        """Ends Chromium and every process it started (they share its process group)."""
        try:
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            # Whatever is left of the group (a helper outliving the browser) is killed,
            # and we wait until it is gone.
            self._signal_group(signal.SIGKILL)
            self.proc.wait(timeout=5)
            deadline = time.monotonic() + 5
            while self._signal_group(0) and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            self.profile.cleanup()

    def _signal_group(self, sig):
        """Sends `sig` to the group; False when no process of it is left."""
        try:
            os.killpg(self.proc.pid, sig)
            return True
        except ProcessLookupError:
            return False


class Page:
    """One tab over CDP: sequential commands, events ignored."""

    def __init__(self, ws):
        self.ws = ws
        self.last_id = 0

    @classmethod
    async def connect(cls, url):
        ws = await websockets.connect(url, max_size=None, open_timeout=10)
        return cls(ws)

    async def close(self):
        await self.ws.close()

    async def call(self, method, **params):
        self.last_id += 1
        call_id = self.last_id
        await self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(await self.ws.recv())
            if message.get("id") == call_id:
                if "error" in message:
                    raise CdpError(f"{method}: {message['error']}")
                return message.get("result", {})

    async def evaluate(self, expression):
        """The value of a JavaScript expression in the page (promises are awaited)."""
        result = await self.call("Runtime.evaluate", expression=expression,
                                 returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise CdpError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def navigate(self, url):
        result = await self.call("Page.navigate", url=url)
        if result.get("errorText"):
            raise CdpError(f"navigating to {url}: {result['errorText']}")

    async def wait_for(self, expression, timeout, what):
        """Polls until `expression` is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            await asyncio.sleep(0.05)

    async def type_text(self, selector, text):
        """Focuses the element and types `text` into it as keyboard input would."""
        await self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        await self.call("Input.insertText", text=text)

    async def press_enter(self):
        for kind in ("keyDown", "keyUp"):
            await self.call("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter",
                            windowsVirtualKeyCode=13, nativeVirtualKeyCode=13,
                            **({"text": "\r"} if kind == "keyDown" else {}))

    async def click(self, selector):
        """A real left click at the centre of the element (it must be visible)."""
        box = await self.evaluate(
            f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
            ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2, "
            "r.width * r.height]; })()")
        x, y, area = box
        if area <= 0:
            raise AssertionError(f"{selector} is not visible")
        for kind in ("mousePressed", "mouseReleased"):
            await self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left",
                            clickCount=1)
