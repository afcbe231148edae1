"""Turn what the engine receives (protobuf structs) into plain, masked, deterministic JSON values."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format

SIG = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
MASK = "[secret]"


def struct_to_plain(struct: Any, *, reveal: bool = False) -> Any:
    """A protobuf Struct as plain JSON values, secrets masked unless `reveal`."""
    return plain(json_format.MessageToDict(struct), reveal=reveal)


def plain(value: Any, *, reveal: bool = False) -> Any:
    if isinstance(value, dict):
        sig = value.get(SIG)
        if sig == SECRET_SIG:
            return plain(value.get("value"), reveal=True) if reveal else MASK
        if sig == ASSET_SIG:
            return {"$asset": {k: plain(v, reveal=reveal) for k, v in sorted(value.items()) if k != SIG}}
        if sig == ARCHIVE_SIG:
            return {"$archive": {k: plain(v, reveal=reveal) for k, v in sorted(value.items()) if k != SIG}}
        if sig == RESOURCE_SIG:
            return {"$ref": value.get("urn")}
        return {key: plain(value[key], reveal=reveal) for key in sorted(value)}
    if isinstance(value, list):
        return [plain(item, reveal=reveal) for item in value]
    if value == UNKNOWN:
        return "[unknown]"
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
