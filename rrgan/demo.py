"""rrgan in the browser: a web page (Gradio) that removes reflections from your photos.

``rrgan-demo`` serves it on this machine; the module-level ``app`` lets this file run as a Hugging
Face Space's ``app.py`` as it is. Building the page loads no model (the first photo does), so the
page is up in seconds. Photos are read by rrgan's own reader and go through the model as in
``rrgan-remove`` (the same working size and tiles), so a download is the file ``rrgan-remove``
writes for that photo.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from rrgan.startup import quiet_start, verbose_requested

quiet_start(verbose_requested())  # before TensorFlow's import below, also when this file is a Space's app.py

import cv2  # noqa: E402
import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402

from rrgan import EXAMPLE_PHOTO, WORKING_PIXELS  # noqa: E402
from rrgan.data.images import DEFAULT_MAX_PIXELS, READABLE, decode_bytes  # noqa: E402
from rrgan.errors import RRGANError  # noqa: E402
from rrgan.export import OVERLAP, TILE  # noqa: E402
from rrgan.inference import ModelFunction, load_model, output_names, remove_reflections  # noqa: E402
from rrgan.tiling import check_tiles  # noqa: E402
from rrgan.visualize import brighten, overlay, save_image  # noqa: E402
from rrgan.working_size import check_working_pixels  # noqa: E402

PREVIEW_SIDE = 1600  # pixels on the long side of what the page shows; downloads are full size


class Remover:
    """The model behind the page and how it runs; the model is loaded once, by the first photo, and
    used by one photo at a time (Gradio's queue), so memory stays that of one photo's tiles."""

    def __init__(self, model: str | Path | None = None, precision: str = "auto", tile: int = TILE,
                 overlap: int = OVERLAP, max_pixels: int = DEFAULT_MAX_PIXELS, working_pixels: int = WORKING_PIXELS):
        check_tiles(tile, overlap)  # a wrong --tile stops rrgan-demo at the start, not at the first photo
        check_working_pixels(working_pixels)
        self.model_path, self.precision = model, precision
        self.tile, self.overlap, self.max_pixels, self.working_pixels = tile, overlap, max_pixels, working_pixels
        self._model: ModelFunction | None = None
        self._lock = threading.Lock()
        self._downloads = tempfile.TemporaryDirectory(prefix="rrgan-demo-")  # removed when the server stops

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def model(self) -> ModelFunction:
        with self._lock:
            if self._model is None:
                self._model = load_model(self.model_path, self.precision)
            return self._model

    def download_path(self, name: str) -> Path:
        """A fresh folder for each photo, so that two uploads of the same name keep both results."""
        return Path(tempfile.mkdtemp(dir=self._downloads.name)) / output_names(Path(name))["transmission"]


@dataclass(frozen=True)
class Result:
    """What the page shows of one photo (previews, at most ``PREVIEW_SIDE``) and its download."""

    name: str
    photo: np.ndarray
    clean: np.ndarray
    reflection: np.ndarray
    overlay: np.ndarray
    download: str


def preview(image: np.ndarray) -> np.ndarray:
    """The image at most ``PREVIEW_SIDE`` pixels long: a 24 MP photo would take seconds to encode and send."""
    scale = PREVIEW_SIDE / max(image.shape[:2])
    if scale >= 1:
        return image
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def remove_photo(remover: Remover, path: str | Path, name: str, progress=None) -> Result:
    """One uploaded photo through the model; an unreadable or oversized file is an RRGANError naming it.
    ``progress(done, total)`` is told of each tile."""
    photo = decode_bytes(Path(path).read_bytes(), name, remover.max_pixels)
    outputs = remove_reflections(remover.model(), photo, remover.tile, remover.overlap, progress,
                                 remover.working_pixels)
    download = save_image(remover.download_path(name), outputs["transmission"])
    small_photo = preview(photo)
    return Result(name=name, photo=small_photo, clean=preview(outputs["transmission"]),
                  reflection=brighten(preview(outputs["reflection"])),
                  overlay=overlay(small_photo, preview(outputs["map"])), download=str(download))


def _shown(result: Result) -> tuple:
    return (result.photo, result.clean), result.reflection, result.overlay


def remove_photos(remover: Remover, files: list[str] | None, progress: gr.Progress) -> tuple:
    """The page's one action: every photo through the model, the first one shown. Files that cannot be
    read are named in a warning (in an error when no photo could be read), never with a traceback."""
    if not files:
        raise gr.Error(f"Add one or more photos first ({READABLE}).", print_exception=False)
    results, skipped = [], []
    for index, path in enumerate(files):
        name = Path(path).name
        label = f"{name} ({index + 1} of {len(files)})" if len(files) > 1 else name
        progress((0, 1), desc=label if remover.loaded else f"{label}: loading the model")

        def tiles(done, total, label=label):
            progress((done, total), desc=f"{label}: tiles", unit="tiles")

        try:
            results.append(remove_photo(remover, path, name, tiles))
        except RRGANError as err:
            skipped.append(str(err))
    if not results:
        raise gr.Error("\n".join(skipped), duration=None, title="No photo could be read", print_exception=False)
    if skipped:
        gr.Warning("Skipped: " + "; ".join(skipped))
    picker = gr.Radio(choices=[(r.name, i) for i, r in enumerate(results)], value=0, visible=len(results) > 1)
    return ([r.download for r in results], picker, *_shown(results[0]), results)


def build_app(remover: Remover | None = None) -> gr.Blocks:
    """The page. ``remover`` (default: the shipped model) loads its model on the first photo."""
    remover = remover or Remover()

    def remove(files, progress=gr.Progress()):  # noqa: B008 (how Gradio asks for a progress bar)
        return remove_photos(remover, files, progress)

    def show(results, index):
        return _shown(results[index])

    with gr.Blocks(title="rrgan: remove reflections", analytics_enabled=False, delete_cache=(3600, 3600)) as page:
        large = (f"the model sees large ones at {remover.working_pixels / 1e6:g} megapixels and its correction is "
                 "applied at full size" if remover.working_pixels else "large ones go through the model in tiles")
        gr.Markdown("## rrgan: remove reflections from photos taken through glass\n"
                    f"Add one or more photos ({READABLE}; any size: {large}). "
                    "Each comes back full size, in its own format, below the photos.")
        results = gr.State([])
        # Made before the layout (render=False) so that the example, which fills them, can sit beside the upload.
        downloads = gr.File(label="Clean photos (full size, as uploaded)", file_count="multiple", interactive=False,
                            elem_id="downloads", render=False)
        picker = gr.Radio(label="Photo shown", visible=False, elem_id="picker", render=False)
        slider = gr.ImageSlider(label="Before / after (drag the line)", interactive=False, elem_id="slider",
                                render=False)
        reflection = gr.Image(label="Reflection layer: what was taken out (brightened)", format="png",
                              interactive=False, elem_id="reflection", render=False)
        attention = gr.Image(label="Reflection map over the photo (blue: none, red: sure)", format="png",
                             interactive=False, elem_id="map", render=False)
        outputs = [downloads, picker, slider, reflection, attention, results]
        with gr.Row():
            with gr.Column(scale=1):
                photos = gr.File(label="Photos", file_count="multiple", elem_id="photos")
                run = gr.Button("Remove reflections", variant="primary", elem_id="run")
                run.click(remove, [photos], outputs, api_name="remove")  # before the example's, which takes the name
                gr.Examples([[[str(EXAMPLE_PHOTO)]]], inputs=[photos], outputs=outputs, fn=remove, run_on_click=True,
                            cache_examples=False, label="Example photo (click to run it)", elem_id="example")
                downloads.render()
            with gr.Column(scale=2):
                picker.render()
                slider.render()
                with gr.Row():
                    reflection.render()
                    attention.render()
        picker.input(show, [results, picker], [slider, reflection, attention], api_visibility="private")
    return page


app = build_app()  # what a Hugging Face Space runs when this file is its app.py

if __name__ == "__main__":
    app.launch()
