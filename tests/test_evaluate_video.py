"""`explore-bench evaluate --video` writes playable videos (MuJoCo, Atari and MiniGrid)."""

from __future__ import annotations

import pytest
from _extras import need

from explore_bench import api, cli


def _video_frames(path):
    """(container brand, frame count) of an MP4 file, read back with OpenCV."""
    import cv2  # opencv-python-headless: a dependency of the package itself

    head = path.read_bytes()[:12]
    capture = cv2.VideoCapture(str(path))
    frames = 0
    while capture.read()[0]:
        frames += 1
    capture.release()
    return head[4:8], frames


def _trained(tmp_path, task, **overrides):
    return api.run(
        task=task,
        steps=128,
        seed=0,
        out=tmp_path / "runs",
        num_envs=1,
        eval_episodes=0,
        agent__num_steps=128,
        **overrides,
    ).directory


@pytest.mark.parametrize(
    "task, flags",
    [
        ("InvertedPendulum-v5", []),
        ("explore_bench/Breakout-modern-v0", ["--stochastic"]),
        ("explore_bench/DoorKey8x8-v0", ["--stochastic"]),
    ],
)
def test_evaluate_video_writes_playable_files(tmp_path, task, flags, capsys):
    need("moviepy", "video")
    run_dir = _trained(tmp_path, task)
    videos = tmp_path / "videos"
    argv = ["evaluate", str(run_dir), "--episodes", "2", "--video", str(videos), *flags]
    assert cli.main(argv) == 0
    files = sorted(videos.glob("*.mp4"))
    assert len(files) == 2
    for path in files:
        brand, frames = _video_frames(path)
        assert brand == b"ftyp"
        assert frames > 1
    if task.startswith("InvertedPendulum"):
        # v5 rewards 1 per step except the terminating one (reward = not terminated): an
        # episode of score s has s + 1 steps, and RecordVideo adds the reset frame
        scores = api.load(run_dir).evaluate(2, video=tmp_path / "again").scores
        for path, score in zip(sorted((tmp_path / "again").glob("*.mp4")), scores, strict=True):
            assert _video_frames(path)[1] == int(score) + 2
    assert "raw score over 2 episodes" in capsys.readouterr().out


def test_video_every_records_during_training(tmp_path):
    need("moviepy", "video")
    run_dir = _trained(tmp_path, "InvertedPendulum-v5", video_every=64)
    assert len(list((run_dir / "videos").glob("step128*.mp4"))) == 1


def test_a_task_that_cannot_render_is_refused(tmp_path):
    run_dir = _trained(tmp_path, "explore_bench/DeepSea20-v0")
    with pytest.raises(ValueError, match="cannot render"):
        api.load(run_dir).evaluate(1, video=tmp_path / "v")


def test_the_command_refuses_a_task_without_frames_in_one_line(tmp_path, capsys):
    run_dir = _trained(tmp_path, "explore_bench/DeepSea20-v0")
    capsys.readouterr()
    videos = tmp_path / "videos"
    assert cli.main(["evaluate", str(run_dir), "--episodes", "1", "--video", str(videos)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("explore-bench: error: task 'explore_bench/DeepSea20-v0'")
    assert "cannot render" in captured.err
    assert not videos.exists()
    with pytest.raises(ValueError, match="cannot render"):
        api.load(run_dir).evaluate(1, video=videos)
    assert not videos.exists()
