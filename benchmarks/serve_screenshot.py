"""The README's picture of the `sketchtool serve` page: start the server, draw a start in headless chromium
with the mouse, ask for endings, generate a few sheep, and save a screenshot.

    python benchmarks/serve_screenshot.py --out docs/images/serve-page.png [--seed 3]

Needs Debian's chromium and chromium-driver and selenium (the test extra).
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/images/serve-page.png")
    parser.add_argument("--seed", default="3")
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "sketchtool", "serve", "--port", str(port)],
                              stdout=subprocess.PIPE, text=True)
    url = re.search(r"http://\S+", server.stdout.readline()).group(0)
    options = Options()
    options.binary_location = shutil.which("chromium")
    with tempfile.TemporaryDirectory() as profile:
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                    "--hide-scrollbars", f"--user-data-dir={profile}"):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
        try:
            driver.get(url)
            wait = WebDriverWait(driver, 60)
            wait.until(lambda d: d.execute_script("return window.sketchtool.state.model !== null"))
            driver.find_element(By.ID, "auto").click()
            driver.find_element(By.ID, "seed").send_keys(args.seed)
            canvas = driver.find_element(By.ID, "canvas")
            # a woolly back: a bumpy arc from left to right, drawn with the mouse
            actions = ActionChains(driver, duration=5).move_to_element_with_offset(canvas, -120, 20).click_and_hold()
            for dx, dy in [(10, -30), (25, -15), (25, 5), (25, -15), (25, 5), (25, -10), (25, 10), (15, 30)]:
                actions.move_by_offset(dx, dy)
            actions.release().perform()
            driver.find_element(By.ID, "complete").click()
            wait.until(lambda d: d.execute_script("return window.sketchtool.state.proposals.length > 0"))
            driver.find_element(By.ID, "generate").click()
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#generated canvas"))
            time.sleep(0.5)
            driver.save_screenshot(args.out)
        finally:
            driver.quit()
            server.send_signal(signal.SIGTERM)
            server.wait(30)
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
