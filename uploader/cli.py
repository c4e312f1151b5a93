"""``gait-upload``: the clinic's uploader client (capture, import, on-disk queue, resumable upload)."""

from __future__ import annotations

import click


@click.group(help="Record or import gait sessions and upload them to the gait platform.")
@click.version_option(package_name="gait-platform", prog_name="gait-upload")
def main() -> None:
    pass
