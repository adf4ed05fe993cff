"""The recording proxy (mitmproxy, imported only when a proxy starts)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patchbay.mocks.recorder._exchange import exchange_from_flow
from patchbay.mocks.recorder._recorder import Recorder
from patchbay.runtime.errors import ConfigError

if TYPE_CHECKING:
    from mitmproxy import http
    from mitmproxy.tools.dump import DumpMaster


class RecorderAddon:
    """A mitmproxy addon: each finished flow goes through :meth:`Recorder.record`."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def response(self, flow: http.HTTPFlow) -> None:
        ex = exchange_from_flow(flow)
        if ex is not None:
            self.recorder.record(ex)

    def error(self, flow: http.HTTPFlow) -> None:
        msg = flow.error.msg if flow.error else "unknown error"
        with self.recorder._lock:
            self.recorder.report.skipped.append(
                f"{flow.request.method} {flow.request.pretty_url}: {msg}"
            )


@dataclass
class RunningProxy:
    """A mitmproxy instance serving on a loopback port from a background thread."""

    host: str
    port: int
    confdir: Path
    _master: DumpMaster
    _thread: threading.Thread
    errors: list[BaseException]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ca_cert(self) -> Path:
        """The CA clients must trust (``verify=`` / ``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE``)."""
        return self.confdir / "mitmproxy-ca-cert.pem"

    def stop(self, timeout: float = 10.0) -> None:
        self._master.shutdown()
        self._thread.join(timeout)

    def __enter__(self) -> RunningProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_proxy(
    recorder: Recorder,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    confdir: Path | None = None,
    upstream_ca: Path | None = None,
    insecure: bool = False,
    timeout: float = 15.0,
    reverse_to: str | None = None,
) -> RunningProxy:
    """Run mitmproxy (``DumpMaster``: mitmdump without its console output) with a
    :class:`RecorderAddon`. ``port=0`` picks a free port. ``upstream_ca`` is the CA the proxy
    trusts for the vendor side (a self-signed stand-in); ``insecure`` skips that check.
    ``reverse_to`` (an origin, ``http://127.0.0.1:8765``) runs it as a reverse proxy in front
    of that server: a client is pointed at the proxy's URL as its base address instead of
    being configured to use a proxy (what an SDK that only takes a base URL needs); the
    recorder then sees the proxy's own host, so list it among its stand-ins."""
    import asyncio

    from mitmproxy import options
    from mitmproxy.tools.dump import DumpMaster

    confdir = (confdir or Path("~/.mitmproxy")).expanduser()
    confdir.mkdir(parents=True, exist_ok=True)
    ready = threading.Event()
    state: dict[str, Any] = {}
    errors: list[BaseException] = []

    class _Ready:
        def running(self) -> None:
            ready.set()

    def serve() -> None:
        async def main() -> None:
            opts = options.Options(
                listen_host=host,
                listen_port=port,
                confdir=str(confdir),
                ssl_insecure=insecure,
            )
            if upstream_ca is not None:
                opts.update(ssl_verify_upstream_trusted_ca=str(upstream_ca))
            master = DumpMaster(opts, with_termlog=False, with_dumper=False)
            if reverse_to is not None:  # (keep_host_header exists once the addons are loaded)
                # The client's Host reaches the server, so the absolute URLs it answers with
                # (next links, resource urls) point back through the proxy.
                opts.update(mode=[f"reverse:{reverse_to}"], keep_host_header=True)
            master.addons.add(RecorderAddon(recorder), _Ready())
            state["master"] = master
            await master.run()

        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced to the caller, not lost in the thread
            errors.append(exc)
        finally:
            ready.set()

    thread = threading.Thread(target=serve, name="patchbay-mitmproxy", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    if not ready.wait(timeout) or errors or "master" not in state:
        raise ConfigError(f"mitmproxy did not start on {host}:{port}: {errors or 'timeout'}")
    master: DumpMaster = state["master"]
    addrs = master.addons.get("proxyserver").listen_addrs()
    while not addrs and time.monotonic() < deadline:
        time.sleep(0.05)
        addrs = master.addons.get("proxyserver").listen_addrs()
    if not addrs:
        master.shutdown()
        raise ConfigError(f"mitmproxy is not listening on {host}:{port}")
    return RunningProxy(host, int(addrs[0][1]), confdir, master, thread, errors)
