"""What each endpoint of `sketchtool serve` does, as plain functions over parsed JSON: check every field against
`Limits` (types, finite coordinates, counts), call the same library functions as the CLI, and return JSON-ready
results. A bad request raises `ApiError` (an HTTP status and one line); the app turns it into a JSON reply."""

from __future__ import annotations

import base64
import io
import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sketchtool.errors import SketchtoolError
from sketchtool.serve.catalog import Catalog, ServedModel

__all__ = ["Limits", "ApiError", "EXPORTS", "PAPERS", "parse_json", "read_polylines", "describe_server",
           "CompletionJob", "read_completion", "run_completions", "complete", "generate", "interpolate", "vectorize",
           "vectorize_methods", "export"]

SEED_MAX = 2**63 - 1
PAPERS = ("A6", "A5", "A4", "A3", "Letter", "Legal")
EXPORTS = {  # format -> (suffix, media type); the page offers exactly these
    "svg": (".svg", "image/svg+xml"),
    "png": (".png", "image/png"),
    "gcode": (".gcode", "text/plain; charset=utf-8"),
    "npz": (".npz", "application/octet-stream"),
}
EXPORT_MARGIN = 10.0  # px around the drawing in SVG/PNG downloads
EXPORT_PNG_SIDE = 4096  # px: larger drawings are scaled down to fit (a 10,000 px one took 7 s and 790 MB)


@dataclass(frozen=True)
class Limits:
    """Caps on one request, so no request can hold the server for long or fill its memory; the page reads
    them from /api/models and never sends more."""

    max_body: int = 1_000_000         # bytes of one request body
    max_strokes: int = 1000           # strokes in one drawing
    max_points: int = 20_000          # points in one drawing, all strokes together
    max_coordinate: float = 1e6       # |x|, |y| in the page's pixels
    max_complete: int = 8             # continuations per request
    max_generate: int = 36            # drawings per generate request
    max_steps: int = 12               # drawings per interpolation
    max_temperature: float = 2.0
    concurrency: int = 2              # inference calls running at once; later ones wait
    batch_drawings: int = 64          # waiting completions decoded together, in endings (one batch step is
                                      # about as fast for 60 rows as for 3: what keeps 20 clients fast)
    queue_timeout: float = 30.0       # seconds a request waits for its turn before a 503
    body_timeout: float = 30.0        # seconds for a request body to arrive in full before a 408
    max_picture: int = 8_000_000      # bytes of an uploaded picture (/api/vectorize)
    max_picture_pixels: int = 16_000_000  # its pixels, read from its header before it is decoded
    max_trace_size: int = 512         # canvas side the skeleton tracer may be asked to trace on
    max_agent_strokes: int = 32       # strokes the agent may be asked to draw (its recurrent steps)
    max_refine: int = 60              # refinement steps per picture: about 0.1 s each on one CPU core

    @property
    def max_picture_base64(self) -> int:
        """Characters of the largest picture in base64 (4 per 3 bytes)."""
        return -(-self.max_picture // 3) * 4

    @property
    def max_picture_body(self) -> int:
        """Bytes of a /api/vectorize body: the picture in base64 and a few fields."""
        return self.max_picture_base64 + 4096


class ApiError(Exception):
    """A request the server refuses: `status` (400, 404, 413, 422, ...) and one line for the page."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def parse_json(body: bytes) -> dict[str, Any]:
    """A request body -> a JSON object; NaN/Infinity literals, bad UTF-8, deep nesting and non-objects are 400s."""
    def refuse_constant(name: str):
        raise ValueError(f"{name} is not a number JSON allows")

    try:
        payload = json.loads(body.decode("utf-8"), parse_constant=refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ApiError(400, f"the request body is not valid JSON ({str(e)[:80]})") from None
    if not isinstance(payload, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return payload


def describe_server(catalog: Catalog, limits: Limits) -> dict[str, Any]:
    """/api/models: the models, the default, limits, and the choices the download panel offers."""
    from sketchtool.profiles import builtin_profiles

    return {"models": [m.describe() for m in catalog.models.values()], "default": catalog.default,
            "limits": asdict(limits), "profiles": list(builtin_profiles()), "papers": list(PAPERS),
            "exports": list(EXPORTS), "vectorize": {"methods": vectorize_methods(catalog),
                                                    "models": [m.id for m in _vectorizers(catalog)]}}


def vectorize_methods(catalog: Catalog) -> list[str]:
    """The methods /api/vectorize can use here: the skeleton tracer where scikit-image is installed, the agent
    where a served model can vectorize (the embedded vectorizer or a strokenet-agent run)."""
    import importlib.util

    return ([m for m in ("skeleton",) if importlib.util.find_spec("skimage") is not None]
            + (["agent"] if _vectorizers(catalog) else []))


# --- field readers -------------------------------------------------------------------------------------------
def read_polylines(value: Any, limits: Limits, what: str = "strokes") -> list[np.ndarray]:
    """[[[x, y], ...], ...] -> (k, 2) float64 polylines, checked element by element (a type error names the
    place) against the stroke, point and coordinate caps; an empty stroke is dropped."""
    if not isinstance(value, list):
        raise ApiError(400, f"{what}: expected a list of strokes, each a list of [x, y] points")
    if len(value) > limits.max_strokes:
        raise ApiError(413, f"{what}: {len(value)} strokes, more than {limits.max_strokes}")
    total = sum(len(s) for s in value if isinstance(s, list))
    if total > limits.max_points:
        raise ApiError(413, f"{what}: {total} points, more than {limits.max_points}")
    polylines = []
    for i, stroke in enumerate(value):
        if not isinstance(stroke, list):
            raise ApiError(400, f"{what}[{i}]: expected a list of [x, y] points")
        for j, point in enumerate(stroke):
            if not isinstance(point, list) or len(point) != 2 or not all(_is_number(c) for c in point):
                raise ApiError(400, f"{what}[{i}][{j}]: expected [x, y], two numbers")
            if not all(abs(c) <= limits.max_coordinate for c in point):  # false for NaN; exact for huge ints
                raise ApiError(400, f"{what}[{i}][{j}]: coordinates must be finite and within "
                                    f"±{limits.max_coordinate:g}")
        if stroke:
            polylines.append(np.asarray(stroke, dtype=np.float64).reshape(-1, 2))
    return polylines


def _is_number(value: Any) -> bool:
    """An int or float from the JSON (True and False are ints to Python, not numbers to a request)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _integer(payload: dict, key: str, default: int, low: int, high: int) -> int:
    value = payload.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ApiError(400, f"{key}: expected a whole number from {low} to {high}")
    if not low <= value <= high:
        raise ApiError(413 if value > high else 400, f"{key} {value}: must be from {low} to {high}")
    return value


def _length(payload: dict, key: str, default: float, limits: Limits) -> float:
    value = payload.get(key, default)
    if not _is_number(value) or not 1 <= value <= limits.max_coordinate:  # false for NaN
        raise ApiError(400, f"{key}: expected a number of page pixels from 1 to {limits.max_coordinate:g}")
    return float(value)


def _choice(payload: dict, key: str, default: str, choices) -> str:
    value = payload.get(key, default)
    if not isinstance(value, str) or value not in choices:
        raise ApiError(400, f"{key}: expected one of {', '.join(choices)}")
    return value


def _model(catalog: Catalog, payload: dict, capability: str) -> ServedModel:
    model_id = payload.get("model", catalog.default)
    if not isinstance(model_id, str):
        raise ApiError(400, "model: expected a model id (a string) from /api/models")
    try:
        served = catalog.get(model_id)
    except KeyError:
        raise ApiError(404, f"model {model_id[:60]!r}: not served here; pick one from /api/models") from None
    if not served.can(capability):
        raise ApiError(422, f"model {served.id!r} cannot {capability} here")
    return served


def _options(payload: dict, served: ServedModel, limits: Limits):
    from sketchtool.sampling import DEFAULT_TEMPERATURE, SampleOptions

    temperature = payload.get("temperature", DEFAULT_TEMPERATURE)
    if not _is_number(temperature) or not (0 < temperature <= limits.max_temperature):
        raise ApiError(400, f"temperature: expected a number > 0 and <= {limits.max_temperature:g}")
    seed = payload.get("seed")
    if seed is not None:
        seed = _integer(payload, "seed", 0, 0, SEED_MAX)
    z_temperature = payload.get("z_temperature")
    if z_temperature is not None:
        if served.model.default_z_temperature is None:
            raise ApiError(400, f"z_temperature: model {served.id!r} draws no random latents")
        if not _is_number(z_temperature) or not (0 <= z_temperature <= limits.max_temperature):
            raise ApiError(400, f"z_temperature: expected a number from 0 to {limits.max_temperature:g}")
        z_temperature = float(z_temperature)
    class_name = payload.get("class")
    if class_name is not None and (not isinstance(class_name, str) or class_name not in served.info.class_names):
        raise ApiError(400, f"class: not a class of model {served.id!r}")
    return SampleOptions(temperature=float(temperature), seed=seed, class_name=class_name,
                         z_temperature=z_temperature, precision="fp32")


def _rounded(polylines) -> list[list[list[float]]]:
    """Polylines as JSON lists, to 1/100 of a unit (finer than any screen shows)."""
    return [np.round(np.asarray(p, dtype=np.float64), 2).tolist() for p in polylines]


# --- endpoints (run in a worker thread: they may take a second) ----------------------------------------------
@dataclass
class CompletionJob:
    """One checked completion request, waiting to be decoded, alone or with others of the same `key`."""

    served: ServedModel
    polylines: list[np.ndarray]
    n: int
    options: Any  # SampleOptions

    @property
    def key(self) -> tuple:
        """Requests that may share one batch: same model, count and sampling settings (each keeps its own seed)."""
        return (self.served.id, self.n, self.options.temperature, self.options.z_temperature, self.options.class_name)


def read_completion(catalog: Catalog, payload: dict, limits: Limits) -> CompletionJob:
    """{"model", "strokes" (page px), "n", "temperature", "z_temperature", "seed", "class"} -> a checked
    `CompletionJob`."""
    served = _model(catalog, payload, "complete")
    polylines = read_polylines(payload.get("strokes"), limits)
    n = _integer(payload, "n", 3, 1, limits.max_complete)
    options = _options(payload, served, limits)
    if not polylines:
        raise ApiError(422, "nothing drawn yet: draw a stroke first")
    return CompletionJob(served, polylines, n, options)


def run_completions(jobs: list[CompletionJob]) -> list[dict[str, Any]]:
    """The endings of jobs sharing one key, decoded in one batch through `complete_polylines_many` (the
    function behind the CLI's and the Inkscape extension's completions), each in its page's coordinates and
    from its own seed: a job gives exactly what `complete_polylines` gives it alone, whatever it is batched with."""
    from sketchtool.prepare import complete_polylines_many

    first = jobs[0]
    results = complete_polylines_many([job.polylines for job in jobs], first.served.model, first.served.info,
                                      first.n, first.options, names=["the drawing"] * len(jobs),
                                      seeds=[job.options.seed for job in jobs])
    return [{"model": job.served.id, "given": _rounded(r.given), "endings": [_rounded(e) for e in r.endings]}
            for job, r in zip(jobs, results)]


def complete(catalog: Catalog, payload: dict, limits: Limits) -> dict[str, Any]:
    """One completion request, decoded alone."""
    return run_completions([read_completion(catalog, payload, limits)])[0]


def generate(catalog: Catalog, payload: dict, limits: Limits) -> dict[str, Any]:
    """{"model", "n", "temperature", "z_temperature", "seed", "class"} -> new drawings (polylines in dataset units,
    the page fits each into its cell) or, for an image model, PNG data URLs."""
    from sketchtool.sampling import generate as sample

    served = _model(catalog, payload, "generate")
    n = _integer(payload, "n", 9, 1, limits.max_generate)
    options = _options(payload, served, limits)
    out = sample(served.model, served.info, n, options)
    if served.model.output_kind == "images":
        return {"model": served.id, "images": [_png_data_url(image) for image in out.images]}
    return {"model": served.id, "drawings": [_rounded(_polylines(d)) for d in out]}


def interpolate(catalog: Catalog, payload: dict, limits: Limits) -> dict[str, Any]:
    """{"model", "a", "b" (drawings in page px), "steps", ...} -> `steps` drawings from A to B, read as the
    model's training data was built (`prepare_polylines`), decoded from latents between theirs."""
    from sketchtool.prepare import model_reading_options, prepare_polylines
    from sketchtool.sampling import interpolate as morph

    served = _model(catalog, payload, "encode")
    a = read_polylines(payload.get("a"), limits, "a")
    b = read_polylines(payload.get("b"), limits, "b")
    steps = _integer(payload, "steps", 6, 2, limits.max_steps)
    if payload.get("z_temperature") is not None:  # as `_options` reads it: null is no value
        raise ApiError(400, "z_temperature: interpolation decodes the latents of A and B; it draws no random ones")
    options = _options(payload, served, limits)
    reading = {k: v for k, v in model_reading_options(served.model, served.info).items() if k != "tolerance"}
    drawings = [prepare_polylines(p, **reading, name=name).stroke3 for p, name in ((a, "drawing A"), (b, "drawing B"))]
    row = morph(served.model, served.info, drawings, steps, options)[0]
    return {"model": served.id, "drawings": [_rounded(_polylines(d)) for d in row]}


def vectorize(catalog: Catalog, payload: dict, limits: Limits) -> dict[str, Any]:
    """{"picture" (a PNG or JPEG, base64 or a data URL), "method", "model", "size" (the tracer's), "strokes" and
    "refine" (the agent's), "width", "height"} -> its strokes as `sketchtool vectorize` finds them
    (`decode_picture`, `vectorize`), fitted with their aspect kept into the page's `width` x `height` canvas
    (default 640 x 480) with a margin, in drawing order."""
    from sketchtool.vectorize import METHODS, decode_picture, vectorize as trace

    method = _choice(payload, "method", "skeleton", METHODS)
    width, height = (_length(payload, key, default, limits) for key, default in (("width", 640), ("height", 480)))
    for key, owner, why in (("size", "skeleton", "the agent draws on its own canvas"),
                            ("strokes", "agent", "the skeleton tracer draws the strokes a picture needs"),
                            ("refine", "agent", "refining fits an agent's strokes")):
        if payload.get(key) is not None and method != owner:
            raise ApiError(400, f"{key}: {why}; {key} is for the {'skeleton tracer' if owner == 'skeleton' else owner}")
    size = _integer(payload, "size", 128, 8, limits.max_trace_size) if payload.get("size") is not None else None
    strokes = (_integer(payload, "strokes", 1, 1, limits.max_agent_strokes)
               if payload.get("strokes") is not None else None)
    refine = _integer(payload, "refine", 0, 0, limits.max_refine) if payload.get("refine") is not None else 0
    served = _vectorizer(catalog, payload) if method == "agent" else None
    if method not in vectorize_methods(catalog):  # the skeleton tracer without scikit-image
        raise ApiError(422, f"method {method}: not available on this server (pip install 'sketchtool[vectorize]')")
    data = _picture_bytes(payload.get("picture"), limits)
    try:
        ink = decode_picture(data, name="the picture", max_pixels=limits.max_picture_pixels)
    except SketchtoolError as e:
        raise ApiError({"unsafe": 413, "corrupt": 400}.get(e.reason, 422), str(e)) from None
    [result] = trace([ink], method=method, model=served.model if served else None, size=size, strokes=strokes,
                     refine=refine)
    polylines = [p for p in result.polylines if len(p)]
    points = sum(len(p) for p in polylines)
    if not polylines:
        raise ApiError(422, "the picture: no strokes found in it; nothing to put on the canvas")
    if len(polylines) > limits.max_strokes or points > limits.max_points:
        raise ApiError(422, f"the picture traced to {len(polylines):,} strokes and {points:,} points, more than a "
                            f"drawing may hold ({limits.max_strokes:,} strokes, {limits.max_points:,} points); "
                            "give a simpler picture, or use sketchtool vectorize")
    return {"method": method, "model": served.id if served else None, "picture": list(result.size),
            "strokes": _rounded(_fit_into(polylines, width, height))}


def export(payload: dict, limits: Limits) -> tuple[bytes, str, str]:
    """{"strokes" (page px), "format", "profile", "paper"} -> (file bytes, media type, file name), written by
    the same writers as the CLI (G-code: the chosen built-in profile, fitted onto the chosen paper)."""
    from sketchtool.formats import OutputOptions, write_drawings, write_page
    from sketchtool.layout import Page, PageStroke
    from sketchtool.profiles import builtin_profiles
    from sketchtool.strokes import polylines_bounds, polylines_to_stroke3

    fmt = _choice(payload, "format", "svg", tuple(EXPORTS))
    profile = _choice(payload, "profile", "grbl-servo", tuple(builtin_profiles()))
    paper = _choice(payload, "paper", "A4", PAPERS)
    polylines = read_polylines(payload.get("strokes"), limits)
    if not polylines:
        raise ApiError(422, "nothing drawn yet: there is nothing to download")
    suffix, media = EXPORTS[fmt]
    x0, y0, x1, y1 = polylines_bounds(polylines)
    shifted = [p - [x0 - EXPORT_MARGIN, y0 - EXPORT_MARGIN] for p in polylines]
    with tempfile.TemporaryDirectory(prefix="sketchtool-serve-") as tmp:
        path = Path(tmp) / f"drawing{suffix}"
        if fmt == "npz":
            write_drawings(path, [polylines_to_stroke3(polylines)])
        else:
            page = Page(width=x1 - x0 + 2 * EXPORT_MARGIN, height=y1 - y0 + 2 * EXPORT_MARGIN,
                        strokes=[PageStroke(p, 0, i) for i, p in enumerate(shifted)])
            side = max(page.width, page.height)
            png_width = round(page.width * EXPORT_PNG_SIDE / side) if fmt == "png" and side > EXPORT_PNG_SIDE else None
            write_page(path, page, OutputOptions(profile=profile, paper=paper, stroke_width=2.0, png_width=png_width))
        return path.read_bytes(), media, path.name


# --- helpers -------------------------------------------------------------------------------------------------
FIT_MARGIN = 0.08  # of the canvas's smaller side, around a vectorized picture's strokes


def _fit_into(polylines: list[np.ndarray], width: float, height: float) -> list[np.ndarray]:
    """Polylines scaled (aspect kept) and moved so that their bounds fill `width` x `height` less the margin,
    centred; a drawing without extent (a dot) goes to the centre."""
    from sketchtool.strokes import polylines_bounds

    x0, y0, x1, y1 = polylines_bounds(polylines)
    margin = FIT_MARGIN * min(width, height)
    room = np.array([width - 2 * margin, height - 2 * margin])
    extent = np.array([x1 - x0, y1 - y0])
    scales = [r / e for r, e in zip(room, extent) if e > 0]
    scale = min(scales) if scales else 1.0
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    return [(p - centre) * scale + [width / 2, height / 2] for p in polylines]


def _picture_bytes(value: Any, limits: Limits) -> bytes:
    """The "picture" field (base64, or a data URL of it) -> its bytes, refused past `limits.max_picture` before
    it is decoded."""
    if not isinstance(value, str) or not value:
        raise ApiError(400, "picture: expected a PNG or JPEG picture as base64 or a data: URL")
    if value.startswith("data:"):
        header, _, value = value.partition(",")
        if not header.endswith(";base64"):
            raise ApiError(400, "picture: expected a base64 data: URL")
    if len(value) > limits.max_picture_base64:
        raise ApiError(413, f"picture: larger than {limits.max_picture:,} bytes")
    try:
        data = base64.b64decode(value, validate=True)
    except ValueError:  # binascii.Error
        raise ApiError(400, "picture: not valid base64") from None
    if not data:
        raise ApiError(400, "picture: empty")
    if len(data) > limits.max_picture:
        raise ApiError(413, f"picture: larger than {limits.max_picture:,} bytes")
    return data


def _vectorizers(catalog: Catalog) -> list[ServedModel]:
    return [m for m in catalog.models.values() if m.can("vectorize")]


def _vectorizer(catalog: Catalog, payload: dict) -> ServedModel:
    """The agent a request names ("model"), or the first served one (the embedded vectorizer, when installed)."""
    if payload.get("model") is not None:
        return _model(catalog, payload, "vectorize")
    agents = _vectorizers(catalog)
    if not agents:
        raise ApiError(422, "method agent: no model served here can vectorize; use skeleton, or start the server "
                            "with a strokenet-agent run (--runs)")
    return agents[0]


def _polylines(stroke3: np.ndarray) -> list[np.ndarray]:
    from sketchtool.strokes import stroke3_to_polylines

    return stroke3_to_polylines(stroke3)


def _png_data_url(image: np.ndarray) -> str:
    """One (H, W) image in [0, 1] -> a PNG data URL, dark ink on white as the PNG grid writer draws it."""
    from PIL import Image

    pixels = np.round((1.0 - np.clip(np.asarray(image, dtype=np.float32), 0, 1)) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def refusal(error: SketchtoolError) -> ApiError:
    """A library refusal (a drawing too long for the model, ...) as a 422 with its one line."""
    text = str(error).splitlines()[0] if str(error) else "the request could not be done"
    return ApiError(422, text)
