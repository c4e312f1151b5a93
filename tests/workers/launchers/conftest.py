"""A real HTTP server speaking the Kubernetes API for the launcher tests: kmock's ``KubernetesEmulator``
(objects kept in memory, list / watch / create / patch / delete over HTTP), run on a loopback port in a
background thread so the official (synchronous) ``kubernetes`` client talks to it as to a cluster.

The emulator has no controllers: no Job controller makes pods and no garbage collector deletes them.
The tests play the controller's part through the same API (create the pods a Job would get, write the
statuses a kubelet would report), which is exactly what the launcher reads."""

from __future__ import annotations

import asyncio
import threading

import pytest

kmock = pytest.importorskip("kmock")
k8s_client = pytest.importorskip("kubernetes.client")


class Emulator:
    def __init__(self):
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kmock", daemon=True)
        self.url = ""
        self.handler = None

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop

        async def main():
            self._stop = loop.create_future()
            async with kmock.KubernetesEmulator() as k, kmock.Server(k) as server:
                for res in ("v1/pods", "v1/services", "batch/v1/jobs"):
                    k.resources[res] = {}  # listable before the first object exists, as in a cluster
                self.handler, self.url = k, f"http://{server.host}:{server.port}"
                self._ready.set()
                await self._stop

        loop.run_until_complete(main())
        loop.close()

    def start(self) -> Emulator:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the kmock emulator did not start in 30 s")
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set_result, None)
        self._thread.join(10)

    def requests(self) -> list:
        return list(self.handler)

    def api_client(self):
        cfg = k8s_client.Configuration()
        cfg.host = self.url
        return k8s_client.ApiClient(cfg)


@pytest.fixture
def k8s():
    emu = Emulator().start()
    yield emu
    emu.stop()
