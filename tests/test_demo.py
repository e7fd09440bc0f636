"""rrgan-demo as a user meets it: the page in a real browser (system Chromium through Selenium), the
same app through gradio_client, and its answers to files it cannot take. What it gives must be what
``rrgan-remove --save transmission reflection map`` writes for the same photo.

``RRGAN_DEMO_SCREENSHOT=docs/demo.png python -m pytest tests/test_demo.py -k browser`` also writes the
README's screenshot of the page.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import random_image, random_networks, write_image
from PIL import Image

gr = pytest.importorskip("gradio")
gradio_client = pytest.importorskip("gradio_client")

from rrgan import EXAMPLE_PHOTO  # noqa: E402
from rrgan.cli import demo_main, remove_main  # noqa: E402
from rrgan.data.images import read_rgb  # noqa: E402

SCREENSHOT = "RRGAN_DEMO_SCREENSHOT"
SCREENSHOT_WIDTH = 1000  # pixels
PAGE_TIMEOUT = 300  # seconds: the machine may be busy training


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``rrgan-demo`` started as a user starts it, on a free loopback port: its address."""
    command = shutil.which("rrgan-demo", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    assert command, "rrgan-demo is not installed: pip install -e '.[test]'"
    log_path = tmp_path_factory.mktemp("demo") / "rrgan-demo.log"
    port = free_port()
    with open(log_path, "w") as log:
        process = subprocess.Popen([command, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + PAGE_TIMEOUT
    try:
        while True:
            assert process.poll() is None, f"rrgan-demo exited:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"rrgan-demo did not answer:\n{log_path.read_text()}"
            try:
                with urllib.request.urlopen(url, timeout=5) as page:
                    if page.status == 200:
                        break
            except OSError:
                time.sleep(1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def expected(tmp_path_factory):
    """What rrgan-remove writes for the example photo: the clean photo, the reflection layer, the map."""
    output = tmp_path_factory.mktemp("removed")
    assert remove_main([str(EXAMPLE_PHOTO), "-o", str(output), "--save", "transmission", "reflection", "map",
                        "--quiet"]) == 0
    return {"transmission": read_rgb(output / "window.jpg"), "reflection": read_rgb(output / "window_reflection.png"),
            "map": np.asarray(Image.open(output / "window_map.png"))}


def assert_same_photo(actual: np.ndarray, wanted: np.ndarray) -> None:
    """Same pixels, or within 1 level where a JPEG encoder rounds otherwise."""
    assert actual.shape == wanted.shape
    assert np.abs(actual.astype(int) - wanted.astype(int)).max() <= 1


def write_text(path: Path) -> Path:
    path.write_text("not a photo\n")
    return path


def start_chromium(downloads: Path):
    """Headless system Chromium with its chromedriver, downloading into ``downloads``; a skip that says
    why where none can be started (CI installs both)."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.common.exceptions import WebDriverException

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        pytest.skip("no Chromium and chromedriver here (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1150"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    try:
        return webdriver.Chrome(service=webdriver.ChromeService(driver), options=options)
    except WebDriverException as err:
        pytest.skip(f"Chromium did not start: {err.msg}")


def upload(browser, path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, PAGE_TIMEOUT)
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#photos input[type=file]"))[0].send_keys(str(path))
    wait.until(lambda b: path.stem in b.find_element(By.CSS_SELECTOR, "#photos").text)
    browser.find_element(By.CSS_SELECTOR, "#run").click()


def save_screenshot(browser, path: Path) -> Path:
    """The page as shown, narrowed and in 256 colours so that the README's copy stays small."""
    browser.save_screenshot(str(path))
    image = Image.open(path).convert("RGB")
    image = image.resize((SCREENSHOT_WIDTH, round(image.height * SCREENSHOT_WIDTH / image.width)), Image.LANCZOS)
    image.quantize(256).save(path, optimize=True)
    return path


def test_page_in_a_browser(server, expected, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    downloads = tmp_path / "downloads"
    browser = start_chromium(downloads)
    wait = WebDriverWait(browser, PAGE_TIMEOUT)
    try:
        browser.get(server)
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#example button"))[0].click()  # one click away
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#downloads a[download='window.jpg']"))

        browser.get(server)
        upload(browser, EXAMPLE_PHOTO)
        link = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#downloads a[download='window.jpg']"))[0]
        link.click()
        download = downloads / "window.jpg"
        wait.until(lambda _: download.is_file() and not list(downloads.glob("*.crdownload")))
        assert_same_photo(read_rgb(download), expected["transmission"])
        for view in ("#slider img", "#reflection img", "#map img"):  # each shown, loaded
            wait.until(lambda b, view=view: b.execute_script(
                "const image = document.querySelector(arguments[0]); return image && image.complete && "
                "image.naturalWidth > 0", view))
        screenshot = save_screenshot(browser, tmp_path / "demo.png")
        assert screenshot.stat().st_size > 10_000
        if os.environ.get(SCREENSHOT):
            shutil.copyfile(screenshot, os.environ[SCREENSHOT])

        browser.get(server)
        text = write_text(tmp_path / "notes.txt")
        upload(browser, text)
        wait.until(lambda b: "notes.txt: not an image rrgan can read" in b.find_element(By.TAG_NAME, "body").text)
        assert "Traceback" not in browser.find_element(By.TAG_NAME, "body").text
    finally:
        browser.quit()


def test_the_same_app_through_gradio_client(server, expected, tmp_path):
    """Two photos in one call: the example, and a PNG stored on its side with an EXIF rotation (rrgan's
    reader turns it upright; its download stays a PNG). The first one's layers are what the page shows."""
    from rrgan.visualize import brighten, overlay

    photo = read_rgb(EXAMPLE_PHOTO)
    sideways = Image.fromarray(np.rot90(photo).copy())
    exif = sideways.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    sideways.save(tmp_path / "sideways.png", exif=exif)
    client = gradio_client.Client(server, verbose=False, download_files=str(tmp_path / "client"))
    downloads, _, (before, after), reflection, attention = client.predict(
        [gradio_client.handle_file(EXAMPLE_PHOTO), gradio_client.handle_file(tmp_path / "sideways.png")],
        api_name="/remove")
    assert [Path(d).name for d in downloads] == ["window.jpg", "sideways.png"]
    assert_same_photo(read_rgb(downloads[0]), expected["transmission"])
    assert read_rgb(downloads[1]).shape == photo.shape  # upright
    assert read_rgb(before).shape == read_rgb(after).shape == photo.shape
    np.testing.assert_array_equal(read_rgb(reflection), brighten(expected["reflection"]))
    np.testing.assert_array_equal(read_rgb(attention), overlay(photo, expected["map"]))

    with pytest.raises(gradio_client.exceptions.AppError, match="notes.txt: not an image rrgan can read"):
        client.predict([gradio_client.handle_file(write_text(tmp_path / "notes.txt"))], api_name="/remove")


def test_oversized_and_missing_photos_are_messages(tmp_path):
    from rrgan.demo import Remover, remove_photos

    big = write_image(tmp_path / "big.png", np.zeros((1500, 2000, 3), np.uint8))
    remover = Remover(max_pixels=2_000_000)  # the model is never loaded: the header is read first
    with pytest.raises(gr.Error, match=r"big.png: 2000x1500 is 3 megapixels, over the limit of 2 \(raise it with "
                                       r"--max-megapixels\)"):
        remove_photos(remover, [str(big)], gr.Progress())
    with pytest.raises(gr.Error, match="Add one or more photos"):
        remove_photos(remover, [], gr.Progress())
    assert not remover.loaded


def test_tiles_feed_the_progress_bar(tmp_path):
    from rrgan.config import preset
    from rrgan.demo import Remover, remove_photos
    from rrgan.export import save_weights

    weights = save_weights(random_networks(seed=2), preset("tiny"), tmp_path / "weights")
    photo = write_image(tmp_path / "photo.png", random_image(0, 100, 150))
    calls = []
    remover = Remover(weights, precision="float32", tile=64, overlap=16)  # 2 x 3 tiles of 64 pixels
    downloads, *_ = remove_photos(remover, [str(photo)], lambda value, desc, unit="steps": calls.append((value, desc)))
    tiles = [((done, 6), "photo.png: tiles") for done in range(1, 7)]
    assert calls == [((0, 1), "photo.png: loading the model"), *tiles]
    assert [Path(d).name for d in downloads] == ["photo.png"] and read_rgb(downloads[0]).shape == (100, 150, 3)


def test_without_gradio_the_command_says_what_to_install(monkeypatch, capsys):
    import rrgan

    monkeypatch.setitem(sys.modules, "gradio", None)
    monkeypatch.delitem(sys.modules, "rrgan.demo", raising=False)
    monkeypatch.delattr(rrgan, "demo", raising=False)
    assert demo_main([]) == 2
    assert capsys.readouterr().err == 'rrgan-demo: error: the web page needs Gradio: pip install "rrgan[demo]"\n'
