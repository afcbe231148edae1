"""A cloud-init snippet uploaded to a node's snippets storage (over SSH, by the provider)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_proxmoxve as proxmoxve

SNIPPET_TYPE = "homelab:proxmox:Snippet"


@dataclass(frozen=True)
class SnippetArgs:
    node_name: str
    datastore_id: str
    file_name: str
    content: pulumi.Input[str]


class Snippet(pulumi.ComponentResource):
    """`file_id` (`<datastore>:snippets/<file>`) stays the same when the content changes, so the
    VMs that use it are not replaced (a changed `*_file_id` replaces a VM, bpg#2901)."""

    file_id: pulumi.Output[str]

    def __init__(self, name: str, args: SnippetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(SNIPPET_TYPE, name, None, opts)
        self.file = proxmoxve.FileLegacy(
            f"{name}-file",
            node_name=args.node_name,
            datastore_id=args.datastore_id,
            content_type="snippets",
            source_raw={"data": args.content, "file_name": args.file_name},
            opts=pulumi.ResourceOptions(
                parent=self,
                # Same path before and after: a create-before-delete replacement would upload the
                # new file and then delete it with the old one.
                delete_before_replace=True,
            ),
        )
        self.file_id = self.file.id
        self.register_outputs({"file_id": self.file_id})
