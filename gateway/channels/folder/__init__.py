"""The watched-folder channel (``[[folders]]``): :class:`FolderChannel`, :class:`Watcher`."""

from gateway.channels.folder.channel import FolderChannel
from gateway.channels.folder.claims import Claim, Watcher, is_temporary

__all__ = ["Claim", "FolderChannel", "Watcher", "is_temporary"]
