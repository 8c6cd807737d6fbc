"""Images: an image argument on disk -> an unpacked root filesystem and its config.

Accepted: an OCI image layout (directory or tarball), a ``docker save`` tarball
(legacy, or Docker 25+ with an OCI layout inside), or a plain root-filesystem
directory used in place.  ``host`` is the caller's business.
"""

from .config import ImageConfig, entrypoint_argv
from .errors import ImageError
from .resolve import Image, resolve_image

__all__ = ["Image", "ImageConfig", "ImageError", "entrypoint_argv", "resolve_image"]
