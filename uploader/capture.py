"""Live capture from an Azure Kinect through pykinect_azure (device + body tracker).

A *frame source* yields ``(timestamp_us, [(body_id, array[32, 8]), ...])`` per capture, the arrays
being pykinect_azure's ``body.numpy()`` rows: x, y, z (mm, depth camera space), qw, qx, qy, qz,
confidence. :class:`KinectSource` is the device; :class:`uploader.simulate.SimulatedSource` streams
the synthetic generator the same way.

pykinect_azure calls ``sys.exit(1)`` when a native library is missing: :func:`load_sdk` checks for
the libraries first and turns that into :class:`DeviceError` with what to install (gaitcore's
``azure_mkv.load_sdk`` does the checking, so import and capture say the same thing).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .errors import DeviceError

Frame = tuple[int, list[tuple[int, np.ndarray]]]

INSTALL_HELP = (
    "Capture needs the Azure Kinect Sensor SDK 1.4.x (libk4a, libk4arecord) and the Azure Kinect Body "
    "Tracking SDK 1.1.x (libk4abt) from Microsoft (learn.microsoft.com/azure/kinect-dk: 'Download the Sensor "
    "SDK', 'Download the Body Tracking SDK'), and the Python package: "
    "pip install --no-deps pykinect_azure==0.0.4 opencv-python-headless. "
    "Without a camera you can still run `gait-upload record --simulate` or import existing recordings."
)


def load_sdk() -> Any:
    """The initialised ``pykinect_azure`` module, or DeviceError naming what is missing."""
    from gaitcore.errors import SDKNotInstalledError
    from gaitcore.importers import azure_mkv

    try:
        return azure_mkv.load_sdk()
    except SDKNotInstalledError as exc:
        reason = str(exc).split(";")[0].split(". Install")[0]
        raise DeviceError(f"the Azure Kinect SDK is not available ({reason})", INSTALL_HELP) from None


def list_devices(pykinect: Any | None = None) -> list[dict]:
    """Connected Azure Kinect devices: [{index, serial}]."""
    pykinect = pykinect or load_sdk()
    try:
        count = int(pykinect.Device.device_get_installed_count())
    except SystemExit:
        raise DeviceError("the Azure Kinect SDK could not count the devices", INSTALL_HELP) from None
    devices = []
    for index in range(count):
        serial = ""
        try:
            dev = pykinect.Device(index)
            serial = str(dev.get_serialnum())
            dev.close()
        except (SystemExit, Exception):  # noqa: BLE001 - in use by another program: still listed
            serial = "(in use)"
        devices.append({"index": index, "serial": serial})
    return devices


def body_frame_to_bodies(body_frame: Any) -> list[tuple[int, np.ndarray]]:
    """The bodies of one pykinect_azure body-tracking ``Frame`` (the test seam: real ``Body`` objects)."""
    from gaitcore.importers.azure_mkv import body_to_array

    return [body_to_array(b) for b in body_frame.get_bodies()]


class KinectSource:
    """The Azure Kinect: depth NFOV unbinned at 30 fps, colour off, body tracker on the depth stream."""

    sensor = "azure_kinect"

    def __init__(self, device_index: int = 0, pykinect: Any | None = None) -> None:
        self.device_index = device_index
        self._pykinect = pykinect
        self.device = None
        self.tracker = None

    def open(self) -> None:
        pk = self._pykinect = self._pykinect or load_sdk()
        config = pk.default_configuration
        config.depth_mode = pk.K4A_DEPTH_MODE_NFOV_UNBINNED
        config.color_resolution = pk.K4A_COLOR_RESOLUTION_OFF
        config.camera_fps = pk.K4A_FRAMES_PER_SECOND_30
        try:
            self.device = pk.start_device(device_index=self.device_index, config=config)
            self.tracker = pk.start_body_tracker()
        except SystemExit:
            self.close()
            raise DeviceError(f"could not open Azure Kinect device {self.device_index}",
                              "check the USB 3 and power cables, close other programs using the camera, and run "
                              "gait-upload devices") from None

    def describe(self) -> dict:
        return {"device_index": self.device_index}

    def stream(self, task: str, duration_s: float) -> Iterator[Frame]:
        """Body frames until the caller stops iterating (the recorder stops after ``duration_s``)."""
        if self.device is None:
            self.open()
        while True:
            try:
                capture = self.device.update()
                body_frame = self.tracker.update(capture=capture)
                ts = int(body_frame.get_device_timestamp_usec())
                bodies = body_frame_to_bodies(body_frame)
            except SystemExit:
                raise DeviceError("the Azure Kinect stopped delivering frames",
                                  "check the cables and run the recording again") from None
            yield ts, bodies

    def close(self) -> None:
        for obj, meth in ((self.tracker, "destroy"), (self.device, "close")):
            if obj is not None:
                try:
                    getattr(obj, meth)()
                except (SystemExit, Exception):  # noqa: BLE001 - closing is best effort
                    pass
        self.tracker = self.device = None
