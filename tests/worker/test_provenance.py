"""Every clip says where it came from: MP4 tags, a watermark that outlives a re-encode, C2PA."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import av
import numpy as np
import pytest

from core.spec import RenderJob, RenderSpec
from tests.harness.provenance import GID
from tests.harness.video import gradient_scene, psnr, reencode, top_level_boxes
from worker.backends import load_backend
from worker.backends.tiny import CAPABILITIES
from worker.c2pa_manifest import read_c2pa, sign_c2pa
from worker.encode import encode_mp4, encode_to_fit
from worker.provenance import ProvenanceError, clip_provenance, clip_url
from worker.settings import WorkerConfig
from worker.verify import verify_clip
from worker.watermark import (
    WatermarkReading,
    embed_watermark,
    payload_bits,
    prefix_from_bits,
    read_watermark,
)


@pytest.fixture(scope="module")
def rendered() -> tuple[RenderJob, np.ndarray, float]:
    width, height = CAPABILITIES.snap_size(16, 9)
    spec = RenderSpec(
        prompt="a red fox running through snow at sunset",
        aspect_ratio="16:9",
        width=width,
        height=height,
        num_frames=48,
        steps=CAPABILITIES.default_steps,
        seed=1234,
    )
    clip = load_backend("tiny", device="cpu").render(spec, lambda step, total: None)
    return RenderJob(generation_id=GID, spec=spec), clip.frames, clip.fps


@pytest.fixture(scope="module")
def produced(rendered, tmp_path_factory) -> Path:
    """The worker's path: watermark the rendered frames, then encode them with their tags."""
    job, frames, fps = rendered
    config = WorkerConfig(public_url="https://clips.example/")
    started = time.perf_counter()
    marked = embed_watermark(frames, GID)
    print(f"watermark embed: {time.perf_counter() - started:.3f} s for {len(frames)} frames")
    path = tmp_path_factory.mktemp("clips") / "clip.mp4"
    tags = clip_provenance(job, config).tags()
    encode_mp4(marked, fps, path, fps=24, num_frames=48, metadata=tags)
    return path


def bit_error_rate(path: Path) -> float:
    reading = read_watermark(path)
    assert reading is not None
    return float(np.mean(reading.bits != payload_bits(GID)))


def test_payload_carries_the_id_prefix_and_a_check() -> None:
    bits = payload_bits(GID)
    assert bits.shape == (80,) and prefix_from_bits(bits) == GID[:16]
    flipped = bits.copy()
    flipped[3] ^= 1
    assert prefix_from_bits(flipped) is None
    assert prefix_from_bits(np.zeros(80, np.int8)) is None


def test_a_produced_clip_verifies_with_its_tags_and_watermark(produced: Path) -> None:
    report = verify_clip(produced)

    assert report["ours"] is True
    assert report["generation_id"] == GID
    assert (
        report["url"]
        == clip_url("https://clips.example", GID)
        == f"https://clips.example/clips/{GID}"
    )
    meta = report["metadata"]
    assert meta["prompt"] == "a red fox running through snow at sunset" and meta["seed"] == 1234
    assert meta["backend"] == "tiny" and meta["reelbot_version"]
    assert report["watermark"]["generation_id_prefix"] == GID[:16]
    assert report["c2pa"]["present"] is False
    assert bit_error_rate(produced) == 0.0
    # the tags live in the index, which still precedes the media data
    boxes = top_level_boxes(produced)
    assert boxes.index("moov") < boxes.index("mdat")
    with av.open(str(produced)) as container:
        assert container.metadata["title"] == meta["prompt"]


@pytest.mark.parametrize("share", [2, 4, 10])
def test_the_watermark_survives_a_lossy_reencode_without_tags(
    produced: Path, tmp_path: Path, share: int
) -> None:
    copy = tmp_path / "copy.mp4"
    bit_rate = produced.stat().st_size * 8 // 2 // share  # the clip is 2 s long
    reencode(produced, copy, bit_rate)

    report = verify_clip(copy, lookup={GID[:16]: GID}.get, public_url="https://g.example")

    print(f"1/{share} of the bit rate: bit error rate {bit_error_rate(copy):.3f}")
    assert copy.stat().st_size < produced.stat().st_size / share * 1.3
    assert report["metadata"] is None
    assert report["ours"] is True
    assert report["watermark"]["generation_id_prefix"] == GID[:16]
    assert report["generation_id"] == GID
    assert report["url"] == f"https://g.example/clips/{GID}"


def test_the_upload_fitted_copy_carries_the_watermark(rendered, tmp_path: Path) -> None:
    _, frames, fps = rendered
    marked = embed_watermark(frames, GID)
    full = encode_mp4(marked, fps, tmp_path / "full.mp4", fps=24, num_frames=48)
    small = encode_to_fit(
        marked, fps, tmp_path / "small.mp4", fps=24, num_frames=48, max_bytes=full.size_bytes // 6
    )
    assert small is not None

    report = verify_clip(small.path)

    print(f"upload-fitted copy (1/6 size): bit error rate {bit_error_rate(small.path):.3f}")
    assert report["watermark"]["generation_id_prefix"] == GID[:16]


@pytest.mark.parametrize("scene", ["model", "gradient"])
def test_half_the_bit_rate_costs_no_bit(rendered, tmp_path: Path, scene: str) -> None:
    """The tiny model's noise-like frames, and smooth content, where the mark is weakest."""
    frames = rendered[1] if scene == "model" else gradient_scene()
    marked = encode_mp4(
        embed_watermark(frames, GID), 8.0, tmp_path / "m.mp4", fps=24, num_frames=48
    )
    copy = tmp_path / "copy.mp4"
    reencode(marked.path, copy, marked.size_bytes * 8 // 2 // 2)

    assert bit_error_rate(copy) == 0.0
    assert verify_clip(copy)["watermark"]["generation_id_prefix"] == GID[:16]


def test_the_mark_is_faint_and_draws_no_block_edges(rendered) -> None:
    gradient = gradient_scene()
    noise = np.random.default_rng(5).integers(0, 256, gradient.shape, dtype=np.uint8)
    started = time.perf_counter()
    marked = embed_watermark(gradient, GID)
    took = time.perf_counter() - started
    smooth_db, noise_db = psnr(marked, gradient), psnr(embed_watermark(noise, GID), noise)
    print(f"embed {took * 1000:.1f} ms; PSNR gradient {smooth_db:.1f} dB, noise {noise_db:.1f} dB")

    assert smooth_db >= 42 and noise_db >= 38
    # the change fades to nothing at every block edge: no 16x16 tiles
    change = np.abs(marked.astype(np.int16) - gradient).max(axis=-1)
    on_edges = np.zeros(change.shape[1:], bool)
    on_edges[::16], on_edges[:, ::16], on_edges[15::16], on_edges[:, 15::16] = (
        True,
        True,
        True,
        True,
    )
    assert change[:, on_edges].mean() < change[:, ~on_edges].mean() / 4
    assert took < 0.2  # numpy over whole arrays (Python loops per block took 0.4 s)


def test_clips_we_did_not_make_are_not_ours(rendered, tmp_path: Path) -> None:
    _, frames, fps = rendered
    yy, xx = np.mgrid[0:288, 0:512]
    gradient = np.stack(
        [np.stack([(xx / 2 + t * 4) % 256, (yy + t) % 256, xx * 0 + 128], -1) for t in range(17)]
    ).astype(np.uint8)
    for name, picture in [("model.mp4", frames), ("gradient.mp4", gradient)]:
        path = encode_mp4(picture, fps, tmp_path / name, fps=24, num_frames=48).path
        report = verify_clip(path)
        assert report["ours"] is False, name
        assert report["watermark"] is None and report["metadata"] is None


def test_a_file_that_is_no_video_is_refused_by_name(produced: Path, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 4)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(produced.read_bytes()[:2000])
    for path in (garbage, truncated, tmp_path / "missing.mp4"):
        with pytest.raises(ProvenanceError, match=path.name):
            verify_clip(path)


def signing_chain(tmp_path: Path) -> tuple[Path, Path]:
    """A throwaway root CA and an ES256 signing certificate with C2PA's key usages."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, common),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "reelbot tests"),
            ]
        )

    def usage(**on: bool) -> x509.KeyUsage:
        fields = "digital_signature content_commitment key_encipherment data_encipherment"
        fields += " key_agreement key_cert_sign crl_sign encipher_only decipher_only"
        return x509.KeyUsage(**{f: on.get(f, False) for f in fields.split()})

    def certificate(subject, issuer, key, signing_key, ca: bool):  # type: ignore[no-untyped-def]
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        )
        if ca:
            builder = builder.add_extension(usage(key_cert_sign=True, crl_sign=True), True)
        else:
            builder = builder.add_extension(usage(digital_signature=True), True)
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False
            )
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()), False
            )
        return builder.sign(signing_key, hashes.SHA256())

    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root = certificate(name("test root"), name("test root"), root_key, root_key, ca=True)
    leaf = certificate(name("reelbot signer"), root.subject, key, root_key, ca=False)
    pem = serialization.Encoding.PEM
    cert_file, key_file = tmp_path / "chain.pem", tmp_path / "key.pem"
    cert_file.write_bytes(leaf.public_bytes(pem) + root.public_bytes(pem))
    key_file.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def test_a_signed_clip_has_an_intact_c2pa_manifest(
    rendered, produced: Path, tmp_path: Path
) -> None:
    job, _, _ = rendered
    clip = tmp_path / "signed.mp4"
    clip.write_bytes(produced.read_bytes())
    cert_file, key_file = signing_chain(tmp_path)

    started = time.perf_counter()
    sign_c2pa(clip, clip_provenance(job, WorkerConfig()), cert_file=cert_file, key_file=key_file)
    print(f"C2PA signing: {time.perf_counter() - started:.3f} s")
    report = verify_clip(clip)

    c2pa = report["c2pa"]
    # Intact and correctly signed; our throwaway root is on no trust list, and c2pa says so.
    assert c2pa["present"] is True and c2pa["valid"] is True
    assert c2pa["state"] == "Valid" and c2pa["trusted"] is False
    assert c2pa["failures"] == ["signingCredential.untrusted"]
    assert c2pa["signer"] == "reelbot signer"
    assert report["generation_id"] == GID
    assert report["watermark"]["generation_id_prefix"] == GID[:16]

    tampered = tmp_path / "tampered.mp4"
    data = bytearray(clip.read_bytes())
    data[-5000] ^= 0xFF  # a byte of picture data
    tampered.write_bytes(bytes(data))
    assert read_c2pa(tampered)["valid"] is False


def test_a_failed_check_is_repaired_only_from_the_votes_least_sure_of_themselves() -> None:
    rng = np.random.default_rng(1)
    bits = payload_bits(GID)
    strength = rng.uniform(0.4, 0.8, bits.shape)
    agreement = np.where(bits == 0, strength, -strength)
    assert WatermarkReading(bits, 0.6, 48, agreement).generation_id_prefix == GID[:16]

    # A lossy copy flips the two bits it was least sure of: repaired.
    wrong = bits.copy()
    soft = agreement.copy()
    for i in (10, 57):
        wrong[i] ^= 1
        soft[i] = -0.02 * np.sign(agreement[i])
    assert prefix_from_bits(wrong) is None
    assert WatermarkReading(wrong, 0.5, 48, soft).generation_id_prefix == GID[:16]

    # A bit read wrong with conviction is not guessed at: the reading stays unknown.
    soft[10] = -0.9 * np.sign(agreement[10])
    assert WatermarkReading(wrong, 0.5, 48, soft).generation_id_prefix is None


def test_random_readings_almost_never_pass_the_repaired_check() -> None:
    rng = np.random.default_rng(2)
    passed = sum(
        WatermarkReading(
            rng.integers(0, 2, 80).astype(np.int8), 0.1, 48, rng.uniform(-1, 1, 80)
        ).generation_id_prefix
        is not None
        for _ in range(3000)
    )
    assert passed <= 5  # 22 candidates per reading: about 1 in 3,000 by chance
