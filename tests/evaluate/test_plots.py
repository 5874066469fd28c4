"""The plots' figures, checked by their axes and artists rather than their pixels."""

from __future__ import annotations

import itertools

from matplotlib.collections import LineCollection

from convzoo.evaluate import plots

LAYERS = [("layers.0", "filter.conv", 1), ("layers.1", "pool.max", 2), ("layers.2", "act.relu", 2)]


def equivariance_rows(zero: bool = True) -> list[dict]:
    rows = []
    for path, block, stride in LAYERS:
        for s in (1, 2):
            multiple = s % stride == 0
            error = 0.0 if multiple and zero else 0.3 * s
            rows.append(
                {
                    "path": path,
                    "block": block,
                    "stride": stride,
                    "shift": s,
                    "multiple": multiple,
                    "error": error,
                }
            )
    return rows


def error_bar_tops(ax) -> list[float]:
    tops = []
    for collection in ax.collections:
        if isinstance(collection, LineCollection):
            tops += [float(segment[:, 1].max()) for segment in collection.get_segments()]
    return tops


def test_shift_consistency_bars_start_at_zero_and_stay_below_100():
    rows = [{"label": "a", "mean": 0.99, "std": 0.05}, {"label": "b", "mean": 0.4, "std": 0.5}]
    ax = plots.shares_figure(rows, "Shift consistency", "consistent predictions (%)").axes[0]
    assert ax.get_ylim() == (0.0, 100.0)
    tops = error_bar_tops(ax)
    assert tops and max(tops) <= 100.0
    lows = [float(s[:, 1].min()) for c in ax.collections for s in c.get_segments()]
    assert min(lows) >= 0.0


def test_accuracy_error_bars_are_clipped_to_100():
    rows = [{"label": "near", "params": 1000, "accuracy": 0.99, "std": 0.04}]
    ax = plots.accuracy_vs_params_figure(rows).axes[0]
    assert max(error_bar_tops(ax)) == 100.0
    assert ax.get_xscale() == "log"


def test_accuracy_labels_do_not_overlap():
    rows = [
        {"label": f"configuration {i}", "params": 200_000 + 100 * i, "accuracy": 0.87, "std": 0.001}
        for i in range(6)
    ]
    figure = plots.accuracy_vs_params_figure(rows)
    renderer = figure.canvas.get_renderer()
    figure.draw_without_rendering()
    boxes = [t.get_window_extent(renderer) for t in figure.axes[0].texts]
    assert len(boxes) == 6
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), (a, b)


def test_the_scale_axis_is_logarithmic_with_readable_ticks():
    curve = {"scales": [0.5, 1.0, 2.0], "accuracy": [0.5, 0.9, 0.4], "std": [0.1, 0.0, 0.2]}
    figure = plots.scale_curves_figure({"net": curve})
    figure.draw_without_rendering()
    ax = figure.axes[0]
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.5", "1", "2"]


def test_seed_spread_is_a_band_inside_0_and_100():
    curve = {"shifts": [0, 1], "accuracy": [0.98, 0.02], "std": [0.1, 0.1]}
    ax = plots.shift_curves_figure({"net": curve}).axes[0]
    (band,) = [c for c in ax.collections if not isinstance(c, LineCollection)]
    y = band.get_paths()[0].vertices[:, 1]
    assert y.min() == 0.0 and y.max() == 100.0


def test_equivariance_charts_have_their_own_titles():
    plain = plots.equivariance_figure(equivariance_rows(), title="equivariance: net")
    permuted = plots.equivariance_figure(equivariance_rows(), title="equivariance: net (permuted)")
    assert plain.axes[0].get_title() != permuted.axes[0].get_title()


def test_zero_equivariance_errors_are_marked_and_written():
    ax = plots.equivariance_figure(equivariance_rows()).axes[0]
    zero_bars = [p for p in ax.patches if p.get_height() == 0.0]
    assert zero_bars
    marks = {(round(x, 6), y) for line in ax.lines for x, y in line.get_xydata()}
    texts = {(round(t.xy[0], 6), t.get_text()) for t in ax.texts}
    for bar in zero_bars:
        middle = round(bar.get_x() + bar.get_width() / 2, 6)
        written = {text for x, text in texts if x == middle}
        assert written in ({"0"}, {plots.NOT_MEASURED}), written
        if written == {"0"}:
            assert (middle, 0.0) in marks


def test_every_measured_layer_is_on_the_chart_and_left_out_ones_are_named():
    left_out = [{"path": "layers.3", "block": "head.linear", "reason": "no spatial axis"}]
    figure = plots.equivariance_figure(equivariance_rows(), left_out=left_out, samples=64)
    figure.draw_without_rendering()
    ax = figure.axes[0]
    ticks = [t.get_text().splitlines()[0] for t in ax.get_xticklabels()]
    assert ticks == [path for path, _, _ in LAYERS]
    assert "layers.3 head.linear (no spatial axis)" in ax.get_xlabel().replace("\n", " ")
    assert "64 test samples" in ax.get_xlabel()


def test_results_that_did_not_record_left_out_layers_say_so():
    ax = plots.equivariance_figure(equivariance_rows(), left_out=None).axes[0]
    assert "not recorded" in ax.get_xlabel()
