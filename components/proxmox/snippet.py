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


def snippet_file_id(datastore_id: str, file_name: str) -> str:
    """The id bpg gives a snippet: `<datastore>:snippets/<file>` (proxmoxtf/resource/file.go)."""
    return f"{datastore_id}:snippets/{file_name}"


class Snippet(pulumi.ComponentResource):
    """`file_id` (`<datastore>:snippets/<file>`) is a plain value known before the file exists.

    A content change replaces the file (`source_raw` is ForceNew in bpg's proxmoxtf/resource/file.go);
    if a VM took the file's `id` output, that id would be unknown during preview and
    `initialization.*_file_id` (ForceNew in proxmoxtf/resource/vm/vm.go) would plan a replacement of
    every VM using it (an error for protected VMs). Consumers take `file_id` and `depends_on=[file]`.
    """

    file_id: str

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
        self.file_id = snippet_file_id(args.datastore_id, args.file_name)
        self.register_outputs({"file_id": self.file_id})
