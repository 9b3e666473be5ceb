#!/usr/bin/env python3
"""Inkscape glue for Extensions ▸ Sketchtool: selection -> temporary SVG in document coordinates ->
the user's `sketchtool` command (recorded by `sketchtool inkscape install`) -> new groups in the document.

Runs under Inkscape's own Python with inkex 1.2 to 1.4; all drawing logic lives in sketchtool. Silent on
success (anything on stderr makes Inkscape pop up a dialog); failures are `inkex.AbortExtension` messages.
"""

import warnings

warnings.filterwarnings("ignore")  # before importing inkex: a library warning on stderr would open a dialog

import copy  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import inkex  # noqa: E402
from inkex import AbortExtension, Group, Transform  # noqa: E402
from inkex.units import convert_unit  # noqa: E402
from lxml import etree  # noqa: E402

ENV_FILE = Path(__file__).with_name("sketchtool_env.json")
DRAWABLE = (inkex.PathElement, inkex.Rectangle, inkex.Circle, inkex.Ellipse, inkex.Line, inkex.Polyline,
            inkex.Polygon, inkex.Use)
SVG_NS = "{http://www.w3.org/2000/svg}"
STROKE_KEYS = ("stroke", "stroke-opacity", "stroke-linecap", "stroke-linejoin", "opacity")
NOT_INHERITED = ("display", "clip-path", "mask", "filter", "opacity")  # the parent's own, not its children's
MAX_CLONE_DEPTH = 8


class Sketchtool(inkex.EffectExtension):
    """One class for the three menu entries; each .inx passes its hidden `--verb`."""

    multi_inx = True

    def add_arguments(self, pars):
        pars.add_argument("--verb", default="complete", choices=["complete", "generate", "interpolate"])
        pars.add_argument("--model", default="", help="embedded model name or checkpoint path; empty: default")
        pars.add_argument("--variants", type=int, default=3)
        pars.add_argument("--placement", default="side", choices=["side", "overlay"])
        pars.add_argument("--count", type=int, default=12)
        pars.add_argument("--cols", type=int, default=4)
        pars.add_argument("--cell_size", type=float, default=30.0)
        pars.add_argument("--cell_unit", default="mm", choices=["mm", "cm", "in", "px", "pt"])
        pars.add_argument("--position", default="view", choices=["view", "page"])
        pars.add_argument("--steps", type=int, default=6)
        pars.add_argument("--temperature", type=float, default=0.4)
        pars.add_argument("--seed", type=int, default=1)

    def effect(self):
        with tempfile.TemporaryDirectory(prefix="sketchtool-inkscape-") as tmp:
            getattr(self, "_" + self.options.verb)(Path(tmp))

    # --- the three verbs -------------------------------------------------------------------------

    def _complete(self, tmp):
        elements, parent, anchor = self._drawing_elements()
        given = tmp / "given.svg"
        given.write_bytes(self._document_with(elements))
        out = self._sketchtool(tmp, ["complete", str(given), "--n", str(self.options.variants),
                                     "--placement", self.options.placement])
        variants = [g for g in out.iter(SVG_NS + "g") if "sketchtool-variant" in (g.get("class") or "").split()]
        if not variants:
            raise AbortExtension("sketchtool complete returned no drawing; try another seed or temperature")
        style = self._stroke_style(elements, scale=1.0)
        result = self._new_group("Sketchtool completion", -parent.composed_transform())
        for variant in variants:
            if Transform(variant.get("transform")) == Transform():  # drawn over the original, which stays
                for path in list(variant.iter(SVG_NS + "path")):
                    if "given" in (path.get("class") or "").split():
                        path.getparent().remove(path)
            result.append(self._adopt(variant, style))
        self._insert(result, parent, anchor)

    def _generate(self, tmp):
        layer = self.svg.get_current_layer()
        count, cols = max(1, self.options.count), max(1, self.options.cols)
        out = self._sketchtool(tmp, ["generate", "--n", str(count), "--cols", str(cols)])
        drawings = _drawings(out, "generate")
        x0, y0, width, height = _viewbox(out)
        cell = self.svg.unittouu(f"{self.options.cell_size}{self.options.cell_unit}")
        scale = min(cols, count) * cell / width  # the grid's cells are square, `cols` of them across
        origin = self._grid_origin((width * scale, height * scale))
        placement = Transform(translate=origin) @ Transform(scale=scale) @ Transform(translate=(-x0, -y0))
        result = self._new_group("Sketchtool sketches", -layer.composed_transform() @ placement)
        for drawing in drawings:
            result.append(self._adopt(drawing, None))
        self._insert(result, layer, None)

    def _interpolate(self, tmp):
        chosen = [el for el in self.svg.selection.values() if _is_drawable(el)]
        if len(chosen) != 2:
            raise AbortExtension(f"Select exactly two drawings (paths or groups of paths) to interpolate between; "
                                 f"the selection holds {len(chosen)}")
        boxes = [_document_bbox(el) for el in chosen]
        cell = max(max(box.width, box.height) for box in boxes)  # each drawing of the row about as large
        if not cell > 0:  # a row of zero height: a division by zero (a traceback dialog) drawing it
            raise AbortExtension("Both drawings are single points, so the row has no size; select drawings with "
                                 "visible lines")
        ends = []
        for name, element in zip(("a.svg", "b.svg"), chosen):
            (tmp / name).write_bytes(self._document_with([element]))
            ends.append(str(tmp / name))
        steps = max(2, self.options.steps)
        out = self._sketchtool(tmp, ["interpolate", *ends, "--steps", str(steps), "--cols", str(steps)])
        drawings = _drawings(out, "interpolate")
        x0, y0, _, height = _viewbox(out)
        scale = cell / height  # the row is one cell high
        origin = (min(b.left for b in boxes), max(b.bottom for b in boxes) + 0.1 * cell)  # just under the pair
        placement = Transform(translate=origin) @ Transform(scale=scale) @ Transform(translate=(-x0, -y0))
        parent, anchor = chosen[-1].getparent(), chosen[-1]
        result = self._new_group("Sketchtool interpolation", -parent.composed_transform() @ placement)
        style = self._stroke_style(chosen, scale=scale)
        for drawing in drawings:
            result.append(self._adopt(drawing, style))
        self._insert(result, parent, anchor)

    # --- Inkscape glue ---------------------------------------------------------------------------

    def _drawing_elements(self):
        """(drawable elements, parent to insert into, element to insert after): the selection, or with
        nothing selected every drawable child of the current layer."""
        if len(self.svg.selection):
            elements = [el for el in self.svg.selection.rendering_order().values() if _is_drawable(el)]
            if not elements:
                raise AbortExtension("The selection holds nothing drawable (text and images cannot be completed); "
                                     "select paths or shapes")
            return elements, elements[-1].getparent(), elements[-1]
        layer = self.svg.get_current_layer()
        elements = [el for el in layer if _is_drawable(el)]
        if not elements:
            name = layer.get("inkscape:label") or layer.get("id") or "the document"
            raise AbortExtension(f"Nothing is selected and the current layer ({name}) holds no paths or shapes; "
                                 "select the lines to complete")
        return elements, layer, None

    def _document_with(self, elements):
        """A standalone SVG with the document's size, viewBox, defs and CSS holding copies of `elements`,
        each in a group carrying its parent's transform to the root and inherited style, so that the
        library reads them in document coordinates exactly as they are drawn here."""
        root = self.svg.makeelement(self.svg.tag, dict(self.svg.attrib), nsmap=self.svg.nsmap)
        for child in self.svg:
            if child.tag in (SVG_NS + "defs", SVG_NS + "style"):
                root.append(copy.deepcopy(child))
        for element in elements:
            parent = element.getparent()
            wrapper = Group()
            wrapper.transform = parent.composed_transform()
            inherited = parent.specified_style()
            for key in NOT_INHERITED:
                inherited.pop(key, None)
            wrapper.set("style", str(inherited))
            wrapper.append(copy.deepcopy(element))
            self._replace_clones(wrapper)
            root.append(wrapper)
        return etree.tostring(root)

    def _replace_clones(self, wrapper):
        """Turn each `<use>` into a group holding a copy of what it shows (its target may lie anywhere in
        this document, which the temporary one does not hold); nested clones up to a few levels."""
        for _ in range(MAX_CLONE_DEPTH):
            uses = [node for node in wrapper.iter() if isinstance(node, inkex.Use)]
            for use in uses:
                target = self.svg.getElementById((use.get("xlink:href") or use.get("href") or "").lstrip("#"))
                shown = Group()
                offset = (_length(use.get("x") or "0", 0.0), _length(use.get("y") or "0", 0.0))
                shown.transform = use.transform @ Transform(translate=offset)
                for key in ("style", "class"):
                    if use.get(key):
                        shown.set(key, use.get(key))
                if target is not None:
                    shown.append(copy.deepcopy(target))
                use.getparent().replace(use, shown)
            if not uses:
                return

    def _stroke_style(self, elements, scale):
        """The first stroked shape's stroke (colour, width in document units / `scale`, caps), so that
        what is inserted looks like the user's own lines; a thin black line when nothing is stroked."""
        for element in elements:
            for shape in [element, *element.iterdescendants()]:
                if not isinstance(shape, DRAWABLE):
                    continue
                style = shape.specified_style()
                if style.get("stroke") in (None, "none"):
                    continue
                matrix = shape.composed_transform().matrix
                magnification = abs(matrix[0][0] * matrix[1][1] - matrix[0][1] * matrix[1][0]) ** 0.5
                width = _length(style.get("stroke-width") or "1") * magnification / scale
                picked = {key: style.get(key) for key in STROKE_KEYS if style.get(key) is not None}
                return inkex.Style({**picked, "stroke-width": f"{width:.6g}", "fill": "none"})
        width = self.svg.unittouu("1px") / scale
        return inkex.Style({"stroke": "#000000", "stroke-width": f"{width:.6g}", "fill": "none",
                            "stroke-linecap": "round", "stroke-linejoin": "round"})

    def _grid_origin(self, size):
        """Top-left corner of a grid of `size` (document units): centred on the view when Inkscape
        recorded one, else at the page's top-left corner."""
        view = self.svg.namedview
        if self.options.position == "view" and view.get("inkscape:cx") and view.get("inkscape:cy"):
            centre = view.center
            return centre.x - size[0] / 2, centre.y - size[1] / 2
        x0, y0 = self.svg.get_viewbox()[:2]
        return x0, y0

    def _sketchtool(self, tmp, args):
        """Run `sketchtool ARGS --out result.svg` (model/temperature/seed appended) and parse its SVG."""
        out = tmp / "result.svg"
        args = [*args, "--out", str(out), "--temperature", str(self.options.temperature),
                "--seed", str(self.options.seed)]
        if self.options.model.strip():
            args += ["--model", _model_path(self.options.model.strip(), self.document_path())]
        command = _sketchtool_command()
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "SKETCHTOOL_DEBUG")}
        env["PYTHONWARNINGS"] = "ignore"
        try:
            done = subprocess.run(command + args, check=False, capture_output=True, text=True, env=env, cwd=str(tmp),
                                  stdin=subprocess.DEVNULL, creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
        except OSError as e:
            raise AbortExtension(f"Cannot start sketchtool ({command[0]}: {e.strerror}); "
                                 "run `sketchtool inkscape install` again from its environment")
        if done.returncode != 0 or not out.is_file():
            message = _failure_message(done.stderr, command[0])  # without the temporary folder's paths
            for name, shown in (("given.svg", "the selection"), ("result.svg", "the result")):
                message = message.replace(str(tmp / name), shown)
            raise AbortExtension(message)
        return inkex.load_svg(str(out)).getroot()

    def _new_group(self, label, transform):
        group = Group()
        group.set("id", self.svg.get_unique_id("sketchtool"))
        group.set("inkscape:label", label)
        group.transform = transform
        return group

    def _adopt(self, element, style):
        """A copy of an element of sketchtool's output with fresh ids and, if given, the user's stroke style."""
        twin = copy.deepcopy(element)
        for node in twin.iter():
            if node.get("id"):
                node.set("id", self.svg.get_unique_id("sketchtool"))
            if style is not None and node.tag == SVG_NS + "path":
                for key in ("stroke", "stroke-width", "fill", "style"):
                    node.attrib.pop(key, None)
                node.set("style", str(style))
        return twin

    @staticmethod
    def _insert(group, parent, anchor):
        if anchor is not None:
            anchor.addnext(group)
        else:
            parent.append(group)


def _drawings(out, command):
    """The drawing groups of sketchtool's output; none (every drawing empty) is a message, not an empty group."""
    drawings = [g for g in out.iter(SVG_NS + "g") if (g.get("id") or "").startswith("drawing-")]
    if not drawings:
        raise AbortExtension(f"sketchtool {command} returned no drawing; try another seed or temperature")
    return drawings


def _is_drawable(element):
    return isinstance(element, DRAWABLE) or (
        isinstance(element, Group) and any(isinstance(d, DRAWABLE) for d in element.iterdescendants()))


def _document_bbox(element):
    parent = element.getparent()
    box = element.bounding_box(parent.composed_transform() if parent is not None else None)
    if box is None:
        raise AbortExtension(f"{element.get('id')} has no size; select drawings with visible lines")
    return box


def _viewbox(root):
    values = [float(v) for v in (root.get("viewBox") or "").replace(",", " ").split()]
    if len(values) != 4 or values[2] <= 0 or values[3] <= 0:
        raise AbortExtension("sketchtool returned an SVG without a usable viewBox; update sketchtool")
    return values


def _length(value, fallback=1.0):
    """A length (stroke width, x, y) in the user units of the element it applies to (CSS px = user unit)."""
    try:
        return float(convert_unit(value, "px"))
    except (TypeError, ValueError):
        return fallback


def _sketchtool_command():
    """The argv prefix that starts the user's sketchtool, as recorded at install time."""
    try:
        command = json.loads(ENV_FILE.read_text(encoding="utf-8"))["command"]
        if not (isinstance(command, list) and command and all(isinstance(part, str) for part in command)):
            raise TypeError("command is not a list of words")  # a hand-edited file: an IndexError traceback
    except (OSError, ValueError, KeyError, TypeError):
        raise AbortExtension("The Sketchtool extension is not set up: run `sketchtool inkscape install` in the "
                             "Python environment where sketchtool is installed, then restart Inkscape")
    if not Path(command[0]).is_file():
        raise AbortExtension(f"The Python that runs sketchtool ({command[0]}) no longer exists; run "
                             "`sketchtool inkscape install` again from sketchtool's environment")
    return list(command)


def _model_path(model, document):
    """A run or checkpoint named by a relative path, made absolute: sketchtool runs in a temporary folder. The
    path is looked for from Inkscape's working folder, then from the open document's; an embedded name (or a
    path found nowhere) goes as it is."""
    for base in (os.getcwd(), os.path.dirname(document or "")):
        candidate = os.path.join(base, model)
        if base and (os.path.isfile(candidate) or any(os.path.isfile(os.path.join(candidate, name))
                                                      for name in ("best.pt", "latest.pt"))):
            return os.path.abspath(candidate)
    return model


def _failure_message(stderr, python):
    lines = [line.strip() for line in (stderr or "").splitlines() if line.strip()]
    if any("No module named sketchtool" in line for line in lines):
        return (f"sketchtool is not installed for {python}; run `sketchtool inkscape install` again from the "
                "environment where it is installed")
    last = lines[-1] if lines else "sketchtool failed without a message"
    if "images are written as" in last or "draws images" in last:
        return "sketchtool: this model draws images; the extension needs one that draws strokes (sheep, kanji or " \
               "a Sketch-RNN run)"
    return "sketchtool: " + last.removeprefix("Error: ")


if __name__ == "__main__":
    Sketchtool().run()
