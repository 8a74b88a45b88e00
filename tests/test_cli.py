import subprocess
import sys

from skrt._cli import main


def test_demo_prints_alpha_loo_and_ten_points(capsys):
    assert main(["demo", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "alpha_" in out and "leave-one-out RMSE" in out
    lines = out.splitlines()
    ranked = lines[lines.index("  rank  row  score") + 1 :]
    assert len(ranked) == 10
    scores = [float(line.split()[-1]) for line in ranked]
    assert scores == sorted(scores, reverse=True)


def test_python_dash_m():
    out = subprocess.run(
        [sys.executable, "-m", "skrt", "demo", "--top", "3"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "3 most curious" in out.stdout
