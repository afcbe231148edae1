"""k3s clusters over SSH: see components/k3s/cluster.py."""

from components.k3s.cluster import TYPE, Cluster, ClusterArgs, K3sNode

__all__ = ["TYPE", "Cluster", "ClusterArgs", "K3sNode"]
