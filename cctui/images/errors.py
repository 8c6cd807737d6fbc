"""The one error type of the image package.

It does not derive from the library's own error base so that this package stays
independent of the VM engine; the public API re-exports or wraps it.
"""


class ImageError(Exception):
    """An image argument could not be turned into a root filesystem.

    The message names the problem (corrupt tarball, missing config, unknown media
    type, path escape, digest mismatch, not an image, ...) and, once it leaves
    ``resolve_image``, the image argument it is about.
    """
