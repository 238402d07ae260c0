"""The end-of-training report and the detection of stuck output units."""

from purenet import report


def test_confusion_matrix_counts_true_against_predicted():
    m = report.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 3)
    assert m == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    text = report.format_report([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 3)
    assert "0:  50.0%" in text and "1: 100.0%" in text and "2:  66.7%" in text
    assert text.splitlines()[-1].split() == ["2", "1", "0", "2"]


def test_a_unit_stuck_near_zero_is_reported_with_its_numbers():
    # unit 2 never rises above 0.003 for any input, even for its own class
    outputs = [[0.9, 0.1, 0.001], [0.2, 0.7, 0.003], [0.6, 0.3, 0.002], [0.4, 0.5, 0.0005]]
    labels = [0, 1, 2, 2]
    units = report.output_units(outputs, labels)
    assert units[2]["predicted"] == 0 and units[2]["samples"] == 2
    assert abs(units[2]["max"] - 0.003) < 1e-12
    lines = report.dead_unit_lines(units)
    assert len(lines) == 1
    assert lines[0].startswith("output 2 is saturated near 0: 0.0005 <= a <= 0.003")
    assert "for all 4 inputs" in lines[0] and "argmax for 0 inputs, 2 are digit 2" in lines[0]


def test_a_unit_never_predicted_but_still_moving_is_named_differently():
    outputs = [[0.9, 0.3], [0.8, 0.4], [0.7, 0.45]]        # unit 1: σ′ up to 0.2475
    lines = report.dead_unit_lines(report.output_units(outputs, [0, 1, 1]))
    assert lines == ["digit 1 is never predicted (2 test samples; its output reaches at most a = 0.45)"]


def test_healthy_units_are_not_reported():
    outputs = [[0.9, 0.1], [0.2, 0.8], [0.55, 0.5]]
    assert report.dead_unit_lines(report.output_units(outputs, [0, 1, 0])) == []
