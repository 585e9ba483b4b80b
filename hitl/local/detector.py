"""SSD MobileNet v2 COCO on LiteRT: image bytes in, labelled boxes (normalized to the displayed image) out."""

from __future__ import annotations

import io
import re
import threading
from pathlib import Path
from typing import NamedTuple

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from PIL import Image, ImageOps, UnidentifiedImageError

from hitl.local.model_store import ModelFiles

DEFAULT_MIN_SCORE = 0.3
DEFAULT_THREADS = 2
IMAGE_FORMATS = ("JPEG", "PNG")
# TFLite_Detection_PostProcess's outputs, in the op's order: boxes, classes, scores, count.
_POSTPROCESS_OUTPUTS = tuple(f"TFLite_Detection_PostProcess{suffix}" for suffix in ("", ":1", ":2", ":3"))
_LABEL_LINE = re.compile(r"^(\d+)\s+(\S.*)$")


class ImageDecodeError(ValueError):
    """The bytes are not a JPEG or PNG image that can be decoded."""


class ModelLoadError(RuntimeError):
    """The model file is not the SSD detector this module expects."""


class Detection(NamedTuple):
    """One object: its label, score (0..1) and box corners normalized to the displayed image."""

    label: str
    score: float
    xmin: float
    ymin: float
    xmax: float
    ymax: float


def read_labels(path: Path) -> dict[int, str]:
    """Class index -> name, from lines `<index>  <name>` (COCO's ids keep their gaps) or plain names."""
    labels = {}
    for position, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        text = line.strip()
        if not text:
            continue
        numbered = _LABEL_LINE.match(text)
        if numbered:
            labels[int(numbered.group(1))] = numbered.group(2).strip()
        else:
            labels[position] = text
    return labels


def decode_image(image_bytes: bytes, at_least: int | None = None) -> Image.Image:
    """An RGB image as it is displayed: EXIF orientation applied, alpha dropped.

    With `at_least`, a large JPEG is decoded at a reduced scale (still at least that many
    pixels each way), which is many times faster than decoding every pixel and resizing.
    """
    try:
        with Image.open(io.BytesIO(image_bytes), formats=IMAGE_FORMATS) as image:
            if at_least is not None:
                image.draft("RGB", (at_least, at_least))
            upright = ImageOps.exif_transpose(image)
            return upright.convert("RGB")
    except UnidentifiedImageError:
        raise ImageDecodeError("not a JPEG or PNG image") from None
    except Image.DecompressionBombError as err:
        raise ImageDecodeError(f"image too large to decode: {err}") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageDecodeError(f"the image cannot be decoded: {err}") from None


class SsdDetector:
    """The model, loaded once; `detect` may be called from many threads (inference is serialised)."""

    def __init__(
        self,
        files: ModelFiles,
        *,
        min_score: float = DEFAULT_MIN_SCORE,
        num_threads: int = DEFAULT_THREADS,
    ) -> None:
        if not 0.0 <= min_score <= 1.0:
            raise ValueError(f"min_score must lie in 0..1, got {min_score}")
        self.min_score = min_score
        self.labels = read_labels(files.labels_path)
        self._interpreter = Interpreter(model_path=str(files.model_path), num_threads=num_threads)
        self._interpreter.allocate_tensors()
        (model_input,) = self._interpreter.get_input_details()
        _, height, width, channels = model_input["shape"]
        if channels != 3 or model_input["dtype"] is not np.uint8:
            raise ModelLoadError(f"{files.model_path}: expected a uint8 RGB input, got {model_input}")
        self._input_index = model_input["index"]
        self._input_size = (int(width), int(height))
        outputs = {detail["name"]: detail for detail in self._interpreter.get_output_details()}
        missing = [name for name in _POSTPROCESS_OUTPUTS if name not in outputs]
        if missing:
            raise ModelLoadError(f"{files.model_path}: no SSD post-processing outputs {missing}")
        boxes, classes, scores, count = (outputs[name] for name in _POSTPROCESS_OUTPUTS)
        if boxes["shape"][-1] != 4 or classes["shape"][-1] != scores["shape"][-1]:
            raise ModelLoadError(f"{files.model_path}: unexpected output shapes")
        self._output_indices = tuple(detail["index"] for detail in (boxes, classes, scores, count))
        self._lock = threading.Lock()

    def detect(self, image_bytes: bytes) -> list[Detection]:
        """Objects scoring at least `min_score`, best first; raises ImageDecodeError for bad bytes."""
        image = decode_image(image_bytes, at_least=max(self._input_size))
        pixels = np.asarray(image.resize(self._input_size, Image.Resampling.BILINEAR), dtype=np.uint8)
        with self._lock:
            self._interpreter.set_tensor(self._input_index, pixels[np.newaxis])
            self._interpreter.invoke()
            boxes, classes, scores, count = (
                self._interpreter.get_tensor(index)[0] for index in self._output_indices
            )
        detections = []
        for i in range(int(count)):
            score = float(scores[i])
            if score < self.min_score:
                continue
            ymin, xmin, ymax, xmax = (float(v) for v in np.clip(boxes[i], 0.0, 1.0))
            if xmax <= xmin or ymax <= ymin:
                continue
            index = int(classes[i])
            label = self.labels.get(index, f"class {index}")
            detections.append(Detection(label, score, xmin, ymin, xmax, ymax))
        return sorted(detections, key=lambda detection: detection.score, reverse=True)
