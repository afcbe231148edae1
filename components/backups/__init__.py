"""Backups: Proxmox vzdump over a resource pool, application data to the off-cluster store."""

from .apps import AppBackups, AppBackupsArgs, GrafanaSource, InfluxSource
from .proxmox import Guest, ProxmoxBackup, ProxmoxBackupArgs

__all__ = ["AppBackups", "AppBackupsArgs", "GrafanaSource", "Guest", "InfluxSource", "ProxmoxBackup",
           "ProxmoxBackupArgs"]
