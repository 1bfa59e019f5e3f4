"""C2PA: a manifest signed with the operator's key, saying the clip is AI-made and by whom.

Optional (`c2pa-python`): a worker signs only when the operator configures a certificate and key;
`reelbot verify` reports a manifest as absent, valid or not, and who signed it.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from worker.provenance import ClipProvenance, MissingDependency, optional_import

_AI_GENERATED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def sign_c2pa(path: Path, provenance: ClipProvenance, *, cert_file: Path, key_file: Path) -> None:
    """Embed a C2PA manifest signed with the operator's ES256 key, replacing `path` in one step.

    `cert_file` holds the signing certificate then its chain (PEM), `key_file` the private key.
    """
    c2pa = optional_import("c2pa", "c2pa-python")
    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(
            alg="es256",
            sign_cert=Path(cert_file).read_bytes(),
            private_key=Path(key_file).read_bytes(),
            ta_url=None,
        )
    )
    manifest = {
        "claim_generator_info": [{"name": "reelbot", "version": provenance.reelbot_version}],
        "title": provenance.prompt[:250],
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": _AI_GENERATED,
                            "softwareAgent": {
                                "name": "reelbot",
                                "version": provenance.reelbot_version,
                            },
                            "parameters": {"reelbot": asdict(provenance)},
                        }
                    ]
                },
            }
        ],
    }
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with (
            c2pa.Builder(manifest) as builder,
            open(path, "rb") as src,
            open(tmp_name, "wb") as dst,
        ):
            builder.sign(signer, "video/mp4", src, dst)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    finally:
        signer.close()


def read_c2pa(path: Path) -> dict[str, Any]:
    """What C2PA says: present, valid (integrity and signature; None when not present), its
    validation state (`Trusted` needs the signer on the reader's trust list), and failures."""
    try:
        c2pa = optional_import("c2pa", "c2pa-python")
    except MissingDependency as exc:
        return {"present": None, "valid": None, "error": str(exc)}
    try:
        reader = c2pa.Reader.try_create(str(path))
    except c2pa.C2paError as exc:
        return {"present": True, "valid": False, "error": str(exc)}
    if reader is None:
        return {"present": False, "valid": None}
    with reader:
        state = reader.get_validation_state()
        results = reader.get_validation_results() or {}
        manifest = reader.get_active_manifest() or {}
    failures = [item.get("code") for item in results.get("activeManifest", {}).get("failure", [])]
    signature = manifest.get("signature_info") or {}
    return {
        "present": True,
        "valid": state in ("Valid", "Trusted"),
        "state": state,
        "trusted": state == "Trusted",
        "signer": signature.get("common_name"),
        "issuer": signature.get("issuer"),
        "failures": failures,
    }
