"""A checksummed file Proxmox downloads onto a node's storage (here: LXC appliance templates)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_proxmoxve as proxmoxve

from components import catalog

IMAGE_TYPE = "homelab:proxmox:Image"


@dataclass(frozen=True)
class ImageArgs:
    node_name: str
    datastore_id: str
    image: catalog.Image
    content_type: Literal["vztmpl", "import", "iso"] = "vztmpl"


class Image(pulumi.ComponentResource):
    """The download, verified against the catalog's checksum; `file_id` is `<datastore>:<type>/<file>`."""

    file_id: pulumi.Output[str]

    def __init__(self, name: str, args: ImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(IMAGE_TYPE, name, None, opts)
        self.file = proxmoxve.download.File(
            f"{name}-file",
            node_name=args.node_name,
            datastore_id=args.datastore_id,
            content_type=args.content_type,
            url=args.image.url,
            file_name=args.image.file_name,
            checksum=args.image.checksum,
            checksum_algorithm=args.image.checksum_algorithm,
            upload_timeout=1800,
            # `url` forces a new download (bpg fwprovider/nodes/resource_download_file.go:
            # RequiresReplace), but the file is pinned by name and checksum: a new source of the
            # same file (a release moved to an archive) must not replace what uses it.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["url"]),
        )
        self.file_id = self.file.id
        self.register_outputs({"file_id": self.file_id})
