"""The VM layer: accelerator choice, kernel, initramfs, the QEMU process and QMP."""
