"""The real SSD MobileNet v2 COCO detector on scikit-image's photos."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from hitl.local.detector import Detection, ImageDecodeError, SsdDetector, decode_image, read_labels
from hitl.local.model_store import DEFAULT_CACHE_DIR, ModelFiles, fetch_model
from hitl.local.sample_photos import SAMPLE_PHOTOS, skimage_data_dir
from hitl_core.config import PipelineConfig

PROJECT_CACHE = Path(__file__).resolve().parents[2] / DEFAULT_CACHE_DIR
EXIF_ORIENTATION = 0x0112


@pytest.fixture(scope="module")
def model_files() -> ModelFiles:
    return fetch_model(PROJECT_CACHE)


@pytest.fixture(scope="module")
def detector(model_files: ModelFiles) -> SsdDetector:
    return SsdDetector(model_files)


def _photo(name: str) -> bytes:
    return (skimage_data_dir() / name).read_bytes()


def _encoded(image: Image.Image, image_format: str = "JPEG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def _iou(a: Detection, b: Detection) -> float:
    width = max(0.0, min(a.xmax, b.xmax) - max(a.xmin, b.xmin))
    height = max(0.0, min(a.ymax, b.ymax) - max(a.ymin, b.ymin))
    inter = width * height
    area = (a.xmax - a.xmin) * (a.ymax - a.ymin) + (b.xmax - b.xmin) * (b.ymax - b.ymin)
    return inter / (area - inter)


def _best(detections: list[Detection], label: str) -> Detection:
    return max((d for d in detections if d.label == label), key=lambda d: d.score)


def test_labels_keep_coco_ids_and_match_the_configured_class_list(
    model_files: ModelFiles, pipeline_config: PipelineConfig
) -> None:
    labels = read_labels(model_files.labels_path)

    assert (labels[0], labels[16], labels[89]) == ("person", "cat", "toothbrush")
    assert 11 not in labels and 25 not in labels
    assert list(labels.values()) == pipeline_config.labels


def test_a_plain_label_list_counts_from_zero(tmp_path: Path) -> None:
    path = tmp_path / "labels.txt"
    path.write_text("background\n\ncat\nteddy bear\n")

    assert read_labels(path) == {0: "background", 2: "cat", 3: "teddy bear"}


def test_the_cat_is_found_with_high_confidence(detector: SsdDetector) -> None:
    detections = detector.detect(_photo("chelsea.png"))

    assert detections[0].label == "cat"
    assert detections[0].score > 0.8


def test_the_coffee_cup_is_found_and_results_are_best_first(detector: SsdDetector) -> None:
    detections = detector.detect(_photo("coffee.png"))

    assert _best(detections, "cup").score > 0.8
    scores = [d.score for d in detections]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("photo", [p.file_name for p in SAMPLE_PHOTOS])
def test_boxes_lie_inside_the_image_and_scores_meet_the_threshold(detector: SsdDetector, photo: str) -> None:
    for d in detector.detect(_photo(photo)):
        assert 0.0 <= d.xmin < d.xmax <= 1.0
        assert 0.0 <= d.ymin < d.ymax <= 1.0
        assert detector.min_score <= d.score <= 1.0


def test_the_minimum_score_filters_detections(model_files: ModelFiles, detector: SsdDetector) -> None:
    strict = SsdDetector(model_files, min_score=0.9)

    everything = detector.detect(_photo("coffee.png"))
    confident = strict.detect(_photo("coffee.png"))

    assert [d.label for d in confident] == ["cup"]
    assert len(everything) > len(confident)
    with pytest.raises(ValueError, match="min_score"):
        SsdDetector(model_files, min_score=1.5)


def test_exif_orientation_is_honoured_so_boxes_match_the_displayed_image(detector: SsdDetector) -> None:
    upright = Image.open(io.BytesIO(_photo("coffee.png"))).convert("RGB")
    stored_sideways = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6  # "rotate 90 degrees clockwise to display"

    reference = _best(detector.detect(_encoded(upright, quality=95)), "cup")
    tagged = _best(detector.detect(_encoded(stored_sideways, quality=95, exif=exif)), "cup")
    untagged = _best(detector.detect(_encoded(stored_sideways, quality=95)), "cup")

    assert _iou(tagged, reference) > 0.95
    assert _iou(untagged, reference) < 0.6, "without the tag the same pixels give a different box"


def test_a_large_jpeg_is_decoded_at_a_reduced_scale_with_the_same_result(detector: SsdDetector) -> None:
    coffee = Image.open(io.BytesIO(_photo("coffee.png"))).convert("RGB")
    large = _encoded(coffee.resize((2400, 1600), Image.Resampling.BICUBIC), quality=95)

    reduced = decode_image(large, at_least=300)

    assert reduced.size == (600, 400), "JPEG's 1/4 scale is the smallest keeping 300 pixels each way"
    assert decode_image(large).size == (2400, 1600)
    cup = _best(detector.detect(large), "cup")
    assert _iou(cup, _best(detector.detect(_photo("coffee.png")), "cup")) > 0.9


def test_greyscale_and_transparent_pngs_are_read_as_rgb(detector: SsdDetector) -> None:
    cat = Image.open(io.BytesIO(_photo("chelsea.png")))

    grey = detector.detect(_photo("camera.png"))
    rgba = detector.detect(_encoded(cat.convert("RGBA"), "PNG"))

    assert grey[0].label == "person"
    assert rgba[0].label == "cat"


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b"", "not a JPEG or PNG image"),
        (b"plain text, not pixels", "not a JPEG or PNG image"),
        (_encoded(Image.new("RGB", (8, 8)), "GIF"), "not a JPEG or PNG image"),
        (_encoded(Image.new("RGB", (64, 64), "red"), "PNG")[:-40], "cannot be decoded"),
    ],
    ids=["empty", "text", "gif", "truncated-png"],
)
def test_bytes_that_are_not_a_jpeg_or_png_are_refused(
    detector: SsdDetector, payload: bytes, problem: str
) -> None:
    with pytest.raises(ImageDecodeError, match=problem):
        detector.detect(payload)


def test_concurrent_calls_give_the_same_answers_as_sequential_ones(detector: SsdDetector) -> None:
    photos = [_photo(p.file_name) for p in SAMPLE_PHOTOS] * 3
    sequential = [detector.detect(photo) for photo in photos]

    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(detector.detect, photos))

    assert concurrent == sequential
