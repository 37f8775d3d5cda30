import json

from pathlib import Path

import pytest
import torch

from goldenshot.fingerprint import Fingerprint, FingerprintError, FingerprintMeta, GoldenStats, Source
from goldenshot.settings import MapSettings, PreprocessSettings, ScoringSettings


def _fingerprint(rows: int = 64) -> Fingerprint:
    meta = FingerprintMeta(
        created_at="2026-01-01T00:00:00+00:00", backbone="mobilenet_v2", weights_sha256="ab" * 32,
        taps=("features.6", "features.13"), feature_dim=16, preprocess=PreprocessSettings(),
        scoring=ScoringSettings(), maps=MapSettings(), threshold=2.0, pixel_threshold=1.5,
        threshold_source="leave-one-out", golden=GoldenStats(scores=[1.0, 1.5], mean=1.25, std=0.25, max=1.5),
        sources=[Source(name="a.png", sha256="cd" * 32)], coreset_rows=rows, patches_seen=rows * 4, seed=0,
    )
    bank = torch.randn(rows, 16, generator=torch.Generator().manual_seed(0)).half().float()
    return Fingerprint(bank, meta)


def test_round_trip_keeps_bank_and_metadata(tmp_path):
    fp = _fingerprint()
    size = fp.save(tmp_path / "fp.safetensors")
    loaded = Fingerprint.load(tmp_path / "fp.safetensors")
    assert size == (tmp_path / "fp.safetensors").stat().st_size
    assert torch.equal(loaded.bank, fp.bank)
    assert loaded.meta == fp.meta
    assert [p.name for p in tmp_path.iterdir()] == ["fp.safetensors"]  # no temp files left


def test_file_is_not_pickle_and_header_is_json(tmp_path):
    _fingerprint().save(tmp_path / "fp")
    raw = (tmp_path / "fp").read_bytes()
    header = json.loads(raw[8 : 8 + int.from_bytes(raw[:8], "little")])
    assert json.loads(header["__metadata__"]["goldenshot"])["backbone"] == "mobilenet_v2"
    assert not raw.startswith(b"\x80")  # pickle protocol marker


def test_damaged_truncated_and_missing_files_are_clear_errors(tmp_path):
    path = tmp_path / "fp"
    _fingerprint().save(path)
    raw = bytearray(path.read_bytes())
    edited = bytes(raw).replace(b'\\"threshold\\":2.0', b'\\"threshold\\":9.0')  # someone edits the header
    assert edited != bytes(raw)
    (tmp_path / "edited").write_bytes(edited)
    with pytest.raises(FingerprintError, match="damaged"):
        Fingerprint.load(tmp_path / "edited")
    raw[-10] ^= 0xFF  # one flipped bit in the bank
    (tmp_path / "flipped").write_bytes(bytes(raw))
    with pytest.raises(FingerprintError, match="damaged"):
        Fingerprint.load(tmp_path / "flipped")
    (tmp_path / "short").write_bytes(bytes(raw[: len(raw) // 2]))
    with pytest.raises(FingerprintError, match="not a readable fingerprint"):
        Fingerprint.load(tmp_path / "short")
    (tmp_path / "junk").write_bytes(b"hello world, not a tensor file")
    with pytest.raises(FingerprintError):
        Fingerprint.load(tmp_path / "junk")
    with pytest.raises(FingerprintError, match="no such"):
        Fingerprint.load(tmp_path / "nope")


def test_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "fp"
    _fingerprint(64).save(path)
    before = path.read_bytes()

    def boom(self, data):  # half the bytes reach the disk, then it is full
        with open(self, "wb") as handle:
            handle.write(data[: len(data) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_bytes", boom)
    with pytest.raises(OSError):
        _fingerprint(32).save(path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["fp"]


def test_other_backbone_is_refused_and_threshold_override_moves_pixel_threshold():
    fp = _fingerprint()
    taps = ("features.6", "features.13")
    fp.check_extractor("mobilenet_v2", "ab" * 32, taps, 16)
    with pytest.raises(FingerprintError, match="efficientnet_lite0"):
        fp.check_extractor("efficientnet_lite0", "ab" * 32, taps, 16)
    with pytest.raises(FingerprintError):
        fp.check_extractor("mobilenet_v2", "00" * 32, taps, 16)
    with pytest.raises(FingerprintError, match="taps"):
        fp.check_extractor("mobilenet_v2", "ab" * 32, ("features.6", "features.10"), 16)
    with pytest.raises(FingerprintError, match="16-d"):
        fp.check_extractor("mobilenet_v2", "ab" * 32, taps, 48)
    with pytest.raises(ValueError, match="finite"):
        fp.with_threshold(float("nan"))
    user = fp.with_threshold(4.0)
    assert user.meta.threshold == 4.0 and user.meta.pixel_threshold == pytest.approx(3.0)
    assert user.meta.threshold_source == "user" and fp.meta.threshold == 2.0


def test_bytes_round_trip_and_damage_is_caught():
    fp = _fingerprint(64)
    data = fp.dumps()
    back = Fingerprint.loads(data, "store/v1")
    assert torch.equal(back.bank, fp.bank) and back.meta == fp.meta and back.sha256 == fp.sha256
    damaged = bytearray(data)
    damaged[-3] ^= 0xFF
    with pytest.raises(FingerprintError, match="store/v1: fingerprint is damaged"):
        Fingerprint.loads(bytes(damaged), "store/v1")
    with pytest.raises(FingerprintError, match="not a readable fingerprint"):
        Fingerprint.loads(data[: len(data) // 2], "store/v1")
