"""Proxmox VE components: cloud-image templates, cloned VMs with cloud-init, LXC containers."""

from .hardware import NetworkArgs
from .image import Image, ImageArgs
from .lxc import Lxc, LxcArgs
from .snippet import Snippet, SnippetArgs
from .template import Template, TemplateArgs
from .vm import Vm, VmArgs

__all__ = ["Image", "ImageArgs", "Lxc", "LxcArgs", "NetworkArgs", "Snippet", "SnippetArgs",
           "Template", "TemplateArgs", "Vm", "VmArgs"]
