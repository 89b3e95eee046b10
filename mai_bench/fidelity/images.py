"""Read and write the images fidelity works on: PNG (8- or 16-bit), JPEG and TIFF.

imagecodecs decodes them: Pillow would cut a 16-bit colour PNG down to 8 bits without a word.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mai_bench.errors import UsageError

_CODECS = {  # leading bytes -> (format name, imagecodecs decoder name)
    b"\x89PNG\r\n\x1a\n": ("PNG", "png_decode"),
    b"\xff\xd8\xff": ("JPEG", "jpeg8_decode"),
    b"II*\x00": ("TIFF", "tiff_decode"),
    b"MM\x00*": ("TIFF", "tiff_decode"),
}
_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def read_image(path: str | Path) -> np.ndarray:
    """Decode a PNG, JPEG or TIFF file to its stored integers: [H, W] or [H, W, C], uint8 or uint16."""
    import imagecodecs

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"image not found: {path}", "check the path") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a folder, not an image", "pass a PNG, JPEG or TIFF file") from None
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}", "check the file's permissions") from None
    codec = next((c for magic, c in _CODECS.items() if data.startswith(magic)), None)
    if codec is None:
        raise UsageError(f"{path} is not a PNG, JPEG or TIFF image (it starts with {data[:8]!r})",
                         "pass a PNG, JPEG or TIFF file")
    kind, decoder = codec
    try:
        image = getattr(imagecodecs, decoder)(data)
    except Exception as error:  # each codec has its own error class; all mean "this file does not decode"
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UsageError(f"cannot decode {path} as {kind}: {reason}", "check that the file is complete") from None
    if image.dtype not in _SCALE:
        raise UsageError(f"{path} holds {image.dtype} samples; only 8- and 16-bit images are supported",
                         "save the image as 8- or 16-bit PNG")
    return image


def to_unit(image: np.ndarray) -> np.ndarray:
    """Integers to float32 in [0, 1], dividing by the dtype's maximum (255 or 65535)."""
    return image.astype(np.float32) / np.float32(_SCALE[image.dtype])


EVAL_HINT = "to score a model on RAW inputs, use `mai-bench eval MODEL --data DIR` (RAW/RGB pairs)"


def not_rgb(path: str | Path, image: np.ndarray, role: str = "") -> UsageError | None:
    """Why `image` is not an RGB image, said for what it most likely is, or None when it is RGB. One 16-bit
    channel is a sensor's Bayer mosaic (the challenge's RAW files); four channels are RGBA or packed Bayer."""
    if image.ndim == 3 and image.shape[2] == 3:
        return None
    channels = 1 if image.ndim == 2 else image.shape[2]
    bits = image.dtype.itemsize * 8
    name = f"{role} {path}" if role else str(path)
    if channels == 1:
        kind = "RAW/Bayer sensor data (a mosaic, one sample per pixel)" if bits == 16 else "a grayscale image"
        return UsageError(f"{name} has 1 channel ({bits}-bit): it looks like {kind}, not RGB; PSNR and SSIM "
                          "compare a model's RGB output with its RGB target",
                          f"pass the RGB output and the RGB target; {EVAL_HINT}")
    if channels == 4:
        return UsageError(f"{name} has 4 channels: RGBA, or packed Bayer RAW (R, G, G, B), not RGB; PSNR and "
                          "SSIM compare a model's RGB output with its RGB target",
                          f"save an RGBA image as RGB (drop the alpha channel); {EVAL_HINT}")
    return UsageError(f"{name} has {channels} channels; an RGB image has 3",
                      "save the image as RGB (3 channels)")


def read_rgb(path: str | Path) -> np.ndarray:
    """An RGB image as float32 [H, W, 3] in [0, 1], scaled by its bit depth."""
    image = read_image(path)
    problem = not_rgb(path, image)
    if problem is not None:
        raise problem
    return to_unit(image)


def write_png(path: Path, image: np.ndarray) -> None:
    """Write uint8 or uint16 [H, W] or [H, W, 3] as a lossless PNG."""
    import imagecodecs

    if image.dtype not in _SCALE:
        raise ValueError(f"PNG samples must be uint8 or uint16, got {image.dtype}")
    path.write_bytes(imagecodecs.png_encode(np.ascontiguousarray(image)))
